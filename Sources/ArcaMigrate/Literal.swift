/// A string literal in source text, found around a secret: where it starts and ends (offsets in Unicode
/// scalars, quotes and prefix included), its quote and prefix, and whether it interpolates code.
struct Literal: Equatable {
    var start: Int          // first scalar of the prefix (or the opening quote)
    var contentStart: Int   // first scalar after the opening quote
    var contentEnd: Int     // the closing quote
    var end: Int            // one past the closing quote
    var quote: String
    var prefix: String

    /// Finds the literal holding scalars `secret` (`lo..<hi`) in `text`, or nil when the secret is not inside
    /// one (a bare value in a config file or an unquoted shell word).
    static func around(_ lo: Int, _ hi: Int, in text: [Unicode.Scalar], language: any LanguageSupport) -> Literal? {
        let quotes = language.quotes
        // Opening quote: the nearest unescaped quote to the left (on the same line unless a multi-line quote).
        var i = lo - 1
        var open: Int?
        while i >= 0, lo - i < 65_536 {
            let c = text[i]
            if quotes.contains(c) && !escaped(text, i) {
                open = i
                break
            }
            i -= 1
        }
        guard var openAt = open else { return nil }
        let q = text[openAt]
        // Triple quotes (Python, Kotlin, Swift, Java text blocks).
        var quote = String(q)
        if q == "\"" || q == "'", openAt >= 2, text[openAt - 1] == q, text[openAt - 2] == q {
            openAt -= 2
            quote = String(repeating: String(q), count: 3)
        }
        // Closing quote at or after the secret's end.
        var j = hi
        var close: Int?
        let qs = Array(quote.unicodeScalars)
        while j < text.count, j - hi < 65_536 {
            if text[j] == q && !escaped(text, j), j + qs.count <= text.count, Array(text[j..<(j + qs.count)]) == qs {
                close = j
                break
            }
            j += 1
        }
        guard let closeAt = close else { return nil }
        // The secret must not itself contain the quote (then the guess is wrong), and only triple quotes and
        // backticks run across lines (a quote found on another line belongs to another literal).
        if text[lo..<hi].contains(q) { return nil }
        if !language.multiline(quote: quote), text[openAt..<closeAt].contains("\n") { return nil }
        // Prefix letters glued to the quote: f"…", r'…', b"…", @"…", $"…".
        var p = openAt
        while p > 0, let prev = Optional(text[p - 1]), prev.properties.isAlphabetic || prev == "@" || prev == "$",
              openAt - p < 3 {
            p -= 1
        }
        if p > 0, text[p - 1].properties.isAlphabetic || text[p - 1] == "_" || text[p - 1].properties.numericType != nil {
            p = openAt  // part of an identifier, not a prefix
        }
        let prefix = String(String.UnicodeScalarView(text[p..<openAt]))
        return Literal(start: p, contentStart: openAt + qs.count, contentEnd: closeAt, end: closeAt + qs.count,
                       quote: quote, prefix: prefix)
    }

    static func escaped(_ text: [Unicode.Scalar], _ i: Int) -> Bool {
        var n = 0, k = i - 1
        while k >= 0, text[k] == "\\" { n += 1; k -= 1 }
        return n % 2 == 1
    }

    /// Whether the literal's content interpolates code in `language` (then only the secret is replaced).
    func interpolates(_ text: [Unicode.Scalar], language: any LanguageSupport) -> Bool {
        language.interpolates(body: String(String.UnicodeScalarView(text[contentStart..<contentEnd])), quote: quote, prefix: prefix)
    }
}

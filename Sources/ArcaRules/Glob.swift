import ArcaRegex

/// A gitignore-style glob compiled to a PCRE2 pattern over a `/`-separated relative path.
///
/// `*` and `?` stay within one path segment, `**` spans segments, `[…]` is a class. A pattern without a `/`
/// (other than a trailing one) matches the last segment at any depth; with one, it is anchored at the root.
public struct Glob: Sendable, CustomStringConvertible {
    /// The glob as written.
    public let source: String
    /// Whether the glob only matches directories (written with a trailing `/`).
    public let directoryOnly: Bool
    let regex: Regex

    public var description: String { source }

    /// Compiles `pattern`. Throws when the glob is empty or its class is unterminated.
    public init(_ pattern: String) throws(RuleError) {
        source = pattern
        var p = Substring(pattern)
        directoryOnly = p.hasSuffix("/")
        if directoryOnly { p = p.dropLast() }
        if p.isEmpty { throw RuleError(message: "empty glob '\(pattern)'") }
        let anchored = p.dropLast().contains("/") || p.first == "/"
        if p.first == "/" { p = p.dropFirst() }
        var out = anchored ? "^" : "(?:^|/)"
        var chars = Array(p)
        var i = 0
        while i < chars.count {
            let c = chars[i]
            switch c {
            case "*":
                if i + 1 < chars.count, chars[i + 1] == "*" {
                    let atSegmentStart = i == 0 || chars[i - 1] == "/"
                    let atSegmentEnd = i + 2 == chars.count || chars[i + 2] == "/"
                    if atSegmentStart && atSegmentEnd {
                        if i + 2 == chars.count { out += ".*" } else { out += "(?:.*/)?"; i += 1 }
                        i += 2
                        continue
                    }
                    out += "[^/]*"
                    i += 2
                    continue
                }
                out += "[^/]*"
            case "?": out += "[^/]"
            case "[":
                guard let close = chars[(i + 1)...].firstIndex(of: "]") else {
                    throw RuleError(message: "unterminated [ in glob '\(pattern)'")
                }
                var cls = String(chars[(i + 1)..<close])
                if cls.hasPrefix("!") { cls = "^" + cls.dropFirst() }
                out += "[" + cls.filter { $0 != "/" } + "]"
                i = close
            case "\\":
                if i + 1 < chars.count { i += 1; out += Glob.escape(chars[i]) }
            default: out += Glob.escape(c)
            }
            i += 1
        }
        out += "(?:/.*)?$"
        chars.removeAll()
        do { regex = try Regex(out) } catch {
            throw RuleError(message: "invalid glob '\(pattern)': \(error)")
        }
    }

    static func escape(_ c: Character) -> String {
        "\\^$.|?*+()[]{}".contains(c) ? "\\\(c)" : String(c)
    }

    /// Whether `path` (relative, `/`-separated) or one of its parent directories matches.
    public func matches(_ path: String, matcher: Matcher) -> Bool {
        regex.matches(path, matcher: matcher)
    }
}

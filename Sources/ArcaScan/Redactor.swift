import ArcaRules

/// The one redaction point: knows every secret a scan found — the values of secret findings and the values that
/// env-usage findings saw assigned to credential-named variables — and masks each occurrence of any of them in
/// any string, whatever produced it (a context line, a commit summary, a warning, a whole rendered report).
///
/// Reports, the summary, warnings and the pre-commit hook's message all go through it unless `--no-redact`.
public struct Redactor: Sendable {
    /// The secrets, longest first, as bytes.
    let secrets: [[UInt8]]
    /// Secrets by their first and by their last three bytes: the search looks up every position's three bytes
    /// (after the bit set below), and a context cut at 200 bytes can end with the start of a secret (or begin
    /// with its end), which no whole-value search finds.
    let heads: [UInt32: [Int]]
    let tails: [UInt32: [Int]]
    /// One bit per three-byte prefix that starts some secret (2 MiB): most positions of a text are passed over
    /// with one load, so the search stays linear and small however many secrets a scan found (a dense
    /// automaton over thousands of them took tens of MiB and a tenth of a scan's time to build).
    let headBits: [UInt64]

    /// Secrets shorter than this are masked where their finding shows them, not in every other string: a
    /// three-letter value would otherwise mask unrelated words everywhere.
    public static let minimumLength = 4

    /// A redactor that masks nothing (`--no-redact`).
    public static let none = Redactor(values: [])

    /// A redactor for every secret in `findings`, and for `values` besides.
    public init(findings: [Finding], values extra: [String] = []) {
        var values = extra
        for f in findings {
            if f.kind.holdsSecret { values.append(f.secret) }
            if let v = f.definedValue { values.append(v) }
            if let v = f.encodedValue { values.append(v) }
        }
        self.init(values: values)
    }

    /// A redactor for these values.
    public init(values: [String]) {
        var seen = Set<String>()
        var list: [[UInt8]] = []
        for v in values where v.utf8.count >= Redactor.minimumLength && seen.insert(v).inserted {
            list.append(Array(v.utf8))
            // The value's own encodings (a comment holding its base64 or hex copy) reveal it as surely.
            if v.utf8.count >= 8 {
                for e in Redactor.encodings(Array(v.utf8)) where seen.insert(e).inserted { list.append(Array(e.utf8)) }
            }
            // A multi-line secret (a PEM block) is shown line by line in some places: mask each long line too.
            if v.contains("\n") {
                for line in v.split(separator: "\n") where line.utf8.count >= 16 && seen.insert(String(line)).inserted {
                    list.append(Array(line.utf8))
                }
            }
        }
        list.sort { $0.count > $1.count }
        secrets = list
        var heads: [UInt32: [Int]] = [:], tails: [UInt32: [Int]] = [:]
        var bits = [UInt64](repeating: 0, count: list.isEmpty ? 0 : (1 << 24) / 64)
        for (i, v) in list.enumerated() {
            let head = Redactor.key(v[0..<3])
            heads[head, default: []].append(i)
            tails[Redactor.key(v[(v.count - 3)...]), default: []].append(i)
            bits[Int(head >> 6)] |= 1 << UInt64(head & 63)
        }
        self.heads = heads
        self.tails = tails
        headBits = bits
    }

    /// Base64 (standard and URL-safe, without padding) and hex (lower and upper case) of `v`.
    static func encodings(_ v: [UInt8]) -> [String] {
        let table = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
        var b64: [UInt8] = []
        var i = 0
        while i < v.count {
            let n = min(3, v.count - i)
            let chunk = UInt32(v[i]) << 16 | (n > 1 ? UInt32(v[i + 1]) << 8 : 0) | (n > 2 ? UInt32(v[i + 2]) : 0)
            for k in 0..<(n + 1) { b64.append(table[Int(chunk >> UInt32(18 - 6 * k) & 63)]) }
            i += 3
        }
        let std = String(decoding: b64, as: UTF8.self)
        let url = String(decoding: b64.map { $0 == 0x2b ? 0x2d : $0 == 0x2f ? 0x5f : $0 }, as: UTF8.self)
        let lower = Finding.hex(v)
        return [std, url, lower, lower.uppercased()]
    }

    /// `text` with every stretch of at least 8 bytes that is part of one of `secrets` masked: next to its own
    /// finding, the rest of a value (a comment holding its tail, `old: T2mXk9…`) would complete the prefix the
    /// report shows.
    static func maskFragments(_ text: String, of secrets: [String]) -> String {
        let width = 8
        var grams = Set<UInt64>()
        for secret in secrets {
            let b = Array(secret.utf8)
            guard b.count >= width else { continue }
            for p in 0...(b.count - width) { grams.insert(b[p..<(p + width)].reduce(0) { $0 << 8 | UInt64($1) }) }
        }
        let t = Array(text.utf8)
        guard !grams.isEmpty, t.count >= width else { return text }
        var masked = [Bool](repeating: false, count: t.count)
        var any = false
        for p in 0...(t.count - width) where grams.contains(t[p..<(p + width)].reduce(0) { $0 << 8 | UInt64($1) }) {
            for j in p..<(p + width) { masked[j] = true }
            any = true
        }
        guard any else { return text }
        var out: [UInt8] = []
        var p = 0
        while p < t.count {
            if masked[p] {
                while p < t.count && masked[p] { p += 1 }
                out += Array("*****".utf8)
            } else {
                out.append(t[p])
                p += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func key(_ b: ArraySlice<UInt8>) -> UInt32 {
        let i = b.startIndex
        return UInt32(b[i]) << 16 | UInt32(b[i + 1]) << 8 | UInt32(b[i + 2])
    }

    static let ellipsis = Array("…".utf8)

    /// `text` that was cut (a trailing `…`) with a secret's beginning at its end masked.
    func maskCutEnd(_ text: String) -> String {
        var b = Array(text.utf8)
        guard b.count > 3 + Redactor.ellipsis.count, b.suffix(Redactor.ellipsis.count).elementsEqual(Redactor.ellipsis) else { return text }
        b.removeLast(Redactor.ellipsis.count)
        for p in 0...(b.count - 3) {
            guard let candidates = heads[Redactor.key(b[p..<(p + 3)])] else { continue }
            let partial = b[p...]
            if let i = candidates.first(where: { secrets[$0].count > partial.count && secrets[$0].starts(with: partial) }) {
                return String(decoding: b[..<p], as: UTF8.self) + Finding.redact(String(decoding: secrets[i], as: UTF8.self)) + "…"
            }
        }
        return text
    }

    /// `text` that was cut (a leading `…`) with a secret's end at its start masked.
    func maskCutStart(_ text: String) -> String {
        var b = Array(text.utf8)
        guard b.count > 3 + Redactor.ellipsis.count, b.prefix(Redactor.ellipsis.count).elementsEqual(Redactor.ellipsis) else { return text }
        b.removeFirst(Redactor.ellipsis.count)
        for p in stride(from: b.count, through: 3, by: -1) {
            guard let candidates = tails[Redactor.key(b[(p - 3)..<p])] else { continue }
            let partial = b[..<p]
            if candidates.contains(where: { secrets[$0].count > partial.count && secrets[$0].suffix(partial.count).elementsEqual(partial) }) {
                return "…*****" + String(decoding: b[p...], as: UTF8.self)
            }
        }
        return text
    }

    /// Whether there is anything to mask.
    public var isEmpty: Bool { secrets.isEmpty }

    /// `text` with every occurrence of every known secret replaced by its redacted form
    /// (``Finding/redact(_:)``). Overlapping occurrences are masked as one stretch.
    public func callAsFunction(_ text: String) -> String {
        guard !secrets.isEmpty, !text.isEmpty else { return text }
        var bytes = Array(text.utf8)
        guard let spans = spans(in: &bytes) else { return text }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var pos = 0
        for (range, index) in spans {
            out += bytes[pos..<range.lowerBound]
            out += Array(Finding.redact(String(decoding: secrets[index], as: UTF8.self)).utf8)
            pos = range.upperBound
        }
        out += bytes[pos...]
        return String(decoding: out, as: UTF8.self)
    }

    /// `f` with every string a report may show masked: the context around it, its commit's summary and author.
    /// The secret itself stays (reports show it through ``Finding/displaySecret(reveal:)``).
    public func mask(_ f: Finding) -> Finding {
        guard !isEmpty else { return f }
        var f = f
        f.contextBefore = maskCutStart(self(f.contextBefore))
        f.contextAfter = maskCutEnd(self(f.contextAfter))
        if f.kind.holdsSecret {
            let own = [f.secret] + f.otherSecretsOnLine
            f.contextBefore = Redactor.maskFragments(f.contextBefore, of: own)
            f.contextAfter = Redactor.maskFragments(f.contextAfter, of: own)
        }
        if let v = f.definedValue, !v.isEmpty {
            // Short values the global pass leaves alone are still masked next to their own finding.
            f.contextAfter = f.contextAfter.replacing(v, with: Finding.redact(v))
        }
        if var c = f.commit {
            c.summary = self(c.summary)
            c.author = self(c.author)
            c.email = self(c.email)
            f.commit = c
        }
        if f.kind == .envUsage, let v = f.variable { f.variable = self(v) }
        return f
    }

    /// Whether `text` holds any known secret.
    public func leaks(_ text: String) -> Bool {
        guard !secrets.isEmpty else { return false }
        var bytes = Array(text.utf8)
        return spans(in: &bytes) != nil
    }

    /// Non-overlapping (range, secret index) pairs in order, or nil when there are none; each hit is
    /// confirmed byte for byte.
    private func spans(in bytes: inout [UInt8]) -> [(Range<Int>, Int)]? {
        var hits: [(Range<Int>, Int)] = []
        bytes.withUnsafeBytes { buf in
            guard buf.count >= Redactor.minimumLength else { return }
            headBits.withUnsafeBufferPointer { bits in
                var key = UInt32(buf[0]) << 8 | UInt32(buf[1])
                for p in 0...(buf.count - 3) {
                    key = (key << 8 | UInt32(buf[p + 2])) & 0xFF_FFFF
                    guard bits[Int(key >> 6)] & (1 << UInt64(key & 63)) != 0, let candidates = heads[key] else { continue }
                    for index in candidates {
                        let secret = secrets[index]
                        guard p + secret.count <= buf.count else { continue }
                        var same = true
                        for j in 3..<secret.count where buf[p + j] != secret[j] { same = false; break }
                        if same { hits.append((p..<(p + secret.count), index)) }
                    }
                }
            }
        }
        guard !hits.isEmpty else { return nil }
        // Longest first among those starting at the same place; then drop hits inside an earlier kept one,
        // and merge partial overlaps into the earlier span.
        hits.sort { $0.0.lowerBound != $1.0.lowerBound ? $0.0.lowerBound < $1.0.lowerBound : $0.0.count > $1.0.count }
        var kept: [(Range<Int>, Int)] = []
        for h in hits {
            if let last = kept.last, h.0.lowerBound < last.0.upperBound {
                if h.0.upperBound > last.0.upperBound {
                    kept[kept.count - 1] = (last.0.lowerBound..<h.0.upperBound, last.1)
                }
                continue
            }
            kept.append(h)
        }
        return kept
    }
}

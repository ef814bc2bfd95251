import ArcaRegex
import ArcaRules

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Which env-usage findings to report.
public enum EnvUsageMode: String, Sendable, CaseIterable {
    /// None at all.
    case none
    /// Only variables whose names look like credentials (the default).
    case credentials
    /// Every variable read or defined.
    case all
}

/// Knobs of the detection pipeline.
public struct DetectOptions: Sendable {
    /// Findings below this confidence are dropped (a token whose checksum fails is `low`).
    public var minConfidence: Confidence = .medium
    public var envUsage: EnvUsageMode = .credentials
    /// Generic rules ignore lines longer than this: minified code and one-line data blobs.
    public var genericMaxLineLength = 1000

    public init() {}
}

/// Per-task scratch state: the PCRE2 matcher and reusable buffers. One per worker; never shared.
public final class DetectorScratch {
    let matcher: Matcher
    var regions: [[Range<Int>]]
    var touched: [Int] = []
    var pathState: [Int8]

    /// Creates scratch state sized for `rules`.
    public init(rules: RuleSet, limits: MatchLimits = .standard) {
        matcher = Matcher(limits: limits)
        regions = Array(repeating: [], count: rules.rules.count)
        pathState = Array(repeating: 0, count: rules.rules.count)
    }

    /// How many matches hit the PCRE2 limits (a sign of a costly rule on odd input).
    public internal(set) var limitHits = 0
}

/// The detection pipeline over one buffer: keyword automaton → candidate rules on the lines around the hits →
/// PCRE2 → secret group → entropy, checksum and allowlists → findings. Stateless and shareable; per-task state
/// lives in ``DetectorScratch``.
public struct Detector: Sendable {
    public let rules: RuleSet
    public let options: DetectOptions

    public init(rules: RuleSet, options: DetectOptions = DetectOptions()) {
        self.rules = rules
        self.options = options
    }

    /// Assignments in a shell script (`NAME=…`, `export`/`local`/`readonly`/`declare NAME=…`, `read NAME`,
    /// `for NAME in`) whose value does not read the same name: each name with the offset where its first such
    /// assignment ends. A `$NAME` after that offset reads the script's own variable, not the environment.
    static func shellAssignments(_ buf: UnsafeRawBufferPointer, scratch: DetectorScratch) -> [String: Int] {
        var out: [String: Int] = [:]
        var limitHit = false
        scratch.matcher.allMatches(shellAssignment, in: buf, from: 0, to: buf.count, limitHit: &limitHit) { m in
            guard let r = m[group: 1] ?? m[group: 2] ?? m[group: 3] ?? m[group: 4] ?? m[group: 5] else { return }
            let name = String(decoding: buf[r], as: UTF8.self)
            guard out[name] == nil else { return }
            // `TOKEN="${TOKEN:-…}"` reads the environment's TOKEN before it assigns it.
            if m[group: 1] != nil {
                let rhs = String(decoding: buf[m.whole.upperBound..<shellWordEnd(buf, from: m.whole.upperBound)], as: UTF8.self)
                if rhs.contains("$" + name) || rhs.contains("${" + name) { return }
            }
            out[name] = m.whole.upperBound
        }
        return out
    }

    /// Stretches of a shell script where `$NAME` is not expanded: comments, single-quoted and `$'…'` strings,
    /// an escaped `\$`, and the bodies of here-documents whose delimiter is quoted (`<<'EOF'`). A small lexer,
    /// not a parser: `$(…)` nesting is not followed.
    static func shellQuietRanges(_ buf: UnsafeRawBufferPointer) -> [Range<Int>] {
        var out: [Range<Int>] = []
        let n = buf.count
        var i = 0
        var inDouble = false
        var pending: [(delimiter: [UInt8], quoted: Bool, dash: Bool)] = []
        func wordStart(_ i: Int) -> Bool { i == 0 || [0x20, 0x09, 0x0a, 0x3b, 0x26, 0x7c, 0x28].contains(buf[i - 1]) }
        while i < n {
            let c = buf[i]
            if c == 0x5c {  // backslash: the next byte is literal (`\$NAME` names nothing)
                if i + 1 < n && buf[i + 1] == 0x24 {
                    var j = i + 2
                    while j < n && (buf[j] == 0x7b || buf[j] == 0x5f || (buf[j] | 0x20 >= 0x61 && buf[j] | 0x20 <= 0x7a)
                                    || (buf[j] >= 0x30 && buf[j] <= 0x39)) { j += 1 }
                    out.append(i..<j)
                }
                i += 2
                continue
            }
            if inDouble {
                if c == 0x22 { inDouble = false }
                i += 1
                continue
            }
            if c == 0x0a && !pending.isEmpty {
                // Here-document bodies start on the next line, one after the other.
                i += 1
                for doc in pending {
                    let start = i
                    while i < n {
                        var lineEnd = i
                        while lineEnd < n && buf[lineEnd] != 0x0a { lineEnd += 1 }
                        var from = i
                        if doc.dash { while from < lineEnd && buf[from] == 0x09 { from += 1 } }
                        let line = Array(buf[from..<lineEnd])
                        i = min(lineEnd + 1, n)
                        if line == doc.delimiter || (line.last == 0x0d && Array(line.dropLast()) == doc.delimiter) {
                            if doc.quoted { out.append(start..<from) }
                            break
                        }
                        if i >= n, doc.quoted { out.append(start..<n) }
                    }
                }
                pending.removeAll()
                continue
            }
            switch c {
            case 0x27:  // '…' (and $'…')
                var j = i + 1
                let ansi = i > 0 && buf[i - 1] == 0x24
                while j < n && buf[j] != 0x27 { j += ansi && buf[j] == 0x5c ? 2 : 1 }
                out.append(i..<min(j + 1, n))
                i = j + 1
            case 0x22:
                inDouble = true
                i += 1
            case 0x23 where wordStart(i):  // a comment, to the end of the line
                var j = i
                while j < n && buf[j] != 0x0a { j += 1 }
                out.append(i..<j)
                i = j
            case 0x3c where i + 2 < n && buf[i + 1] == 0x3c && buf[i + 2] != 0x3c:  // <<, <<- (not <<<)
                var j = i + 2
                let dash = j < n && buf[j] == 0x2d
                if dash { j += 1 }
                while j < n && (buf[j] == 0x20 || buf[j] == 0x09) { j += 1 }
                var quoted = false
                var word: [UInt8] = []
                while j < n, ![0x20, 0x09, 0x0a, 0x3b, 0x26, 0x7c, 0x3e, 0x3c, 0x29].contains(buf[j]) {
                    if buf[j] == 0x27 || buf[j] == 0x22 || buf[j] == 0x5c { quoted = true } else { word.append(buf[j]) }
                    j += 1
                }
                if !word.isEmpty { pending.append((word, quoted, dash)) }
                i = j
            default:
                i += 1
            }
        }
        return out
    }

    /// Where the shell word starting at `from` ends: at unquoted white space, `;`, `&`, `|` or a line end, with
    /// quotes, `$(…)` and backquotes kept whole.
    static func shellWordEnd(_ buf: UnsafeRawBufferPointer, from: Int) -> Int {
        var i = from, depth = 0
        var quote: UInt8 = 0
        while i < buf.count && i - from < 4096 {
            let c = buf[i]
            if c == 0x0a { break }
            if quote != 0 {
                if c == 0x5c && quote == 0x22 { i += 2; continue }
                if c == quote { quote = 0 }
            } else if c == 0x5c {
                i += 2
                continue
            } else if c == 0x22 || c == 0x27 || c == 0x60 {
                quote = c
            } else if c == 0x24 && i + 1 < buf.count && buf[i + 1] == 0x28 {
                depth += 1
                i += 2
                continue
            } else if c == 0x29 && depth > 0 {
                depth -= 1
            } else if depth == 0 && (c == 0x20 || c == 0x09 || c == 0x3b || c == 0x26 || c == 0x7c) {
                break
            }
            i += 1
        }
        return min(i, buf.count)
    }

    static let shellAssignment = try! Regex(
        #"(?m)(?:^|[;&|{(][ \t]{0,4}|\bthen[ \t]{1,4}|\bdo[ \t]{1,4}|\belse[ \t]{1,4})[ \t]{0,16}(?:(?:export|local|readonly|typeset|declare(?:[ \t]{1,4}-[A-Za-z]{1,8}){0,4})[ \t]{1,4})?([A-Za-z_][A-Za-z0-9_]{0,100})\+?=|\bread[ \t]{1,4}(?:(?:-[rsea]{1,4}|-[A-Za-z]{0,4}[ptnNdui][ \t]{1,4}(?:"[^"\n]{0,80}"|'[^'\n]{0,80}'|[^ \t\n"';-][^ \t\n;]{0,40}))[ \t]{1,4}){0,6}([A-Za-z_][A-Za-z0-9_]{0,100})\b|\bfor[ \t]{1,4}([A-Za-z_][A-Za-z0-9_]{0,100})[ \t]{1,4}in\b|\bprintf[ \t]{1,4}-v[ \t]{1,4}([A-Za-z_][A-Za-z0-9_]{0,100})\b|(?:^|[;&|{(][ \t]{0,4})[ \t]{0,16}(?:local|declare|typeset|readonly)(?:[ \t]{1,4}-[A-Za-z]{1,8}){0,4}[ \t]{1,4}([A-Za-z_][A-Za-z0-9_]{0,100})(?=[ \t]{0,8}(?:;|\r?$))"#)

    /// Names that look like credentials (for env-usage findings).
    static let credentialName = try! Regex(
        #"(?i)(?:pass(?:word|wd|phrase)?|pwd|secret|token|api[_-]?key|apikey|access[_-]?key|private[_-]?key|"#
            + #"client[_-]?secret|credential|auth(?!or)|(?:^|_)key(?:$|_|s$)|dsn|conn(?:ection)?[_-]?str|"#
            + #"database[_-]?url|db[_-]?url|signing|webhook|cookie[_-]?secret|session[_-]?secret|jwt|(?:^|_)pat(?:$|_))"#)

    /// Whether an environment variable name looks like it holds a credential: a credential word
    /// (`PASSWORD`, `TOKEN`, `API_KEY` …) that is the name's last part, or followed only by qualifiers
    /// (`_PROD`, `_2`, `_BASE64`, `_KEY` …). `JWT_FUZZ_DEEP`, `TOKEN_EXPIRY`, `API_TOKEN_URL`, `AUTH_DOMAIN`
    /// and `DB_PASSWORD_FILE` name something else: a setting, a location, a file.
    public static func looksLikeCredential(_ name: String, matcher: Matcher? = nil) -> Bool {
        // The shell's own variables: `$PWD` is the working directory, not a password.
        if shellVariables.contains(name) { return false }
        let bytes = Array(name.utf8)
        var lastWord: Range<Int>? = nil
        var limitHit = false
        let find = { (m: Matcher) in
            bytes.withUnsafeBytes { buf in
                m.allMatches(credentialName, in: buf, from: 0, to: buf.count, limitHit: &limitHit) { lastWord = $0.whole }
            }
        }
        if let matcher { find(matcher) } else { find(Matcher()) }
        guard let word = lastWord else { return false }
        var rest = String(decoding: bytes[word.upperBound...], as: UTF8.self)
        // A plural (`…_CREDENTIALS`, `…_TOKENS`) is still the credential word.
        if let s = rest.first, s == "s" || s == "S", rest.count == 1 || "_-.".contains(rest[rest.index(after: rest.startIndex)]) {
            rest.removeFirst()
        }
        let matched = String(decoding: bytes[word], as: UTF8.self).lowercased()
        return credentialQualifiers(rest, allowURL: matched.contains("webhook") || matched.contains("dsn"))
    }

    /// Whether what follows a credential word in a name only qualifies it (an environment, a number, an
    /// encoding), split at `_`, `-`, `.` and lower-to-upper case changes.
    static func credentialQualifiers(_ rest: String, allowURL: Bool) -> Bool {
        var parts: [String] = []
        var current = ""
        var previousLower = false
        for ch in rest {
            if ch == "_" || ch == "-" || ch == "." {
                if !current.isEmpty { parts.append(current) }
                current = ""
                previousLower = false
                continue
            }
            if ch.isUppercase && previousLower && !current.isEmpty {
                parts.append(current)
                current = ""
            }
            current.append(ch)
            previousLower = ch.isLowercase || ch.isNumber
        }
        if !current.isEmpty { parts.append(current) }
        return parts.allSatisfy { part in
            let p = part.uppercased()
            if p.allSatisfy(\.isNumber) { return true }
            if p.first == "V", p.count > 1, p.dropFirst().allSatisfy(\.isNumber) { return true }
            if allowURL && (p == "URL" || p == "URI") { return true }
            return credentialQualifierWords.contains(p)
        }
    }

    static let credentialQualifierWords: Set<String> = [
        "PROD", "PRODUCTION", "PRD", "DEV", "DEVELOPMENT", "STAGING", "STAGE", "STG", "TEST", "TESTING", "QA", "UAT",
        "LIVE", "SANDBOX", "LOCAL", "CI", "PRIMARY", "SECONDARY", "OLD", "NEW", "NEXT", "PREV", "PREVIOUS", "CURRENT",
        "BASE", "VALUE", "B64", "BASE64", "HEX", "RAW", "ENC", "ENCODED", "ENCRYPTED", "JSON", "PEM", "DER", "KEY", "KEYS",
        "SECRET", "TOKEN", "PRIVATE", "ADMIN", "ROOT", "MASTER", "READ", "WRITE", "RO", "RW",
        "ACCESS", "REFRESH", "BEARER", "SIGNING", "HASH", "SALT", "PASS", "PASSWORD", "PWD", "DATA", "STRING", "STR",
    ]

    static let shellVariables: Set<String> = ["PWD", "OLDPWD", "SSH_AUTH_SOCK", "XAUTHORITY", "KRB5CCNAME"]

    /// Whether the global allowlist excludes `path` (lockfiles, vendored and minified code).
    public func isPathAllowlisted(_ path: String, matcher: Matcher) -> Bool {
        rules.global.paths.contains { $0.matches(path, matcher: matcher) }
            || (!rules.global.projectPaths.isEmpty
                && rules.global.projectPaths.contains { $0.matches(rules.global.projectPrefix + path, matcher: matcher) })
    }

    /// Scans `buf` (the content of `path`, relative to the scan root) and returns its findings in file order.
    public func detect(_ buf: UnsafeRawBufferPointer, path: String, scratch: DetectorScratch) -> [Finding] {
        guard buf.count > 0 else { return [] }
        let ruleList = rules.rules
        // Work on locals moved out of the scratch object: class properties in the hot loop would pay for
        // dynamic exclusivity checks and retains on every keyword hit.
        var regions: [[Range<Int>]] = []
        var touched: [Int] = []
        swap(&regions, &scratch.regions)
        swap(&touched, &scratch.touched)
        defer {
            swap(&regions, &scratch.regions)
            swap(&touched, &scratch.touched)
        }
        for i in touched { regions[i].removeAll(keepingCapacity: true) }
        touched.removeAll(keepingCapacity: true)
        for i in 0..<scratch.pathState.count { scratch.pathState[i] = 0 }

        // 1. Keyword pass: collect, per rule, the line regions around each hit.
        let base = buf.baseAddress!.assumingMemoryBound(to: UInt8.self)
        let n = buf.count
        rules.keywordLengths.withUnsafeBufferPointer { lengths in
        rules.keywordRuleStart.withUnsafeBufferPointer { ruleStart in
        rules.keywordRules.withUnsafeBufferPointer { ruleIndex in
        rules.automaton.scan(buf) { kw, end in
            let start = end - Int(lengths[kw])
            for j in Int(ruleStart[kw])..<Int(ruleStart[kw + 1]) {
                let ri = Int(ruleIndex[j])
                let rule = ruleList[ri]
                if rule.anchoredPattern != nil {
                    // One attempt at the start of the identifier that holds the keyword.
                    let from = Detector.identifierStart(base, start)
                    if regions[ri].last?.lowerBound == from { continue }
                    if regions[ri].isEmpty { touched.append(ri) }
                    let window = Detector.contextWindow * (rule.linesAfter + 1)
                    regions[ri].append(from..<Detector.lineEnd(base, n, end, forward: rule.linesAfter, within: window))
                    continue
                }
                if let last = regions[ri].last, start < last.upperBound { continue }
                let lo = Detector.lineStart(base, start, back: rule.linesBefore)
                let hi = Detector.lineEnd(base, n, end, forward: rule.linesAfter)
                if regions[ri].isEmpty { touched.append(ri) }
                if let last = regions[ri].last, lo <= last.upperBound {
                    regions[ri][regions[ri].count - 1] = last.lowerBound..<max(hi, last.upperBound)
                } else {
                    regions[ri].append(lo..<hi)
                }
            }
        }
        }
        }
        }
        for ri in rules.pathOnlyRules {
            if regions[ri].isEmpty { touched.append(ri) }
            regions[ri] = [0..<n]
        }
        if touched.isEmpty { return [] }

        // 2. Candidate rules on their regions.
        var candidates: [Candidate] = []
        for ri in touched {
            let rule = ruleList[ri]
            guard applies(rule, ri, path: path, scratch: scratch) else { continue }
            if let anchored = rule.anchoredPattern {
                for region in regions[ri] {
                    switch scratch.matcher.match(anchored, in: buf, from: region.lowerBound, to: region.upperBound) {
                    case .match(let m):
                        guard let sr = m[group: rule.secretGroup], !sr.isEmpty else { continue }
                        if let f = candidate(rule, match: m, secret: sr, buf: buf, path: path, scratch: scratch) {
                            candidates.append(Candidate(offset: sr.lowerBound, end: sr.upperBound, finding: f,
                                                        specificity: Detector.specificity(rule, f)))
                        }
                    case .limitExceeded: scratch.limitHits += 1
                    case .noMatch, .error: break
                    }
                }
                continue
            }
            for region in regions[ri] {
                var limitHit = false
                scratch.matcher.allMatches(rule.pattern, in: buf, from: region.lowerBound, to: region.upperBound,
                                           limitHit: &limitHit) { m in
                    guard let sr = m[group: rule.secretGroup], !sr.isEmpty else { return }
                    if let f = candidate(rule, match: m, secret: sr, buf: buf, path: path, scratch: scratch) {
                        candidates.append(Candidate(offset: sr.lowerBound, end: sr.upperBound, finding: f,
                                                    specificity: Detector.specificity(rule, f)))
                    }
                }
                if limitHit { scratch.limitHits += 1 }
            }
        }
        if candidates.isEmpty { return [] }

        // 3. Overlaps: keep the most specific finding for each stretch of text.
        candidates.sort { $0.offset != $1.offset ? $0.offset < $1.offset : $0.end > $1.end }
        var kept: [Candidate] = []
        for c in candidates {
            if let j = kept.lastIndex(where: { $0.finding.kind == c.finding.kind && $0.end > c.offset && $0.offset < c.end }) {
                if c.specificity > kept[j].specificity
                    || (c.specificity == kept[j].specificity && c.end - c.offset > kept[j].end - kept[j].offset) {
                    kept[j] = c
                }
                continue
            }
            kept.append(c)
        }
        // Low-confidence candidates took part in the overlap resolution (a token whose checksum fails must not
        // come back through a generic rule); now they go.
        kept.removeAll { $0.finding.kind.holdsSecret && $0.finding.confidence < options.minConfidence }
        kept.sort { $0.offset < $1.offset }
        // A shell variable the script assigns itself is not read from the environment after that assignment;
        // a `$NAME` in a comment, in single quotes, escaped, or in a quoted here-document is not expanded.
        if kept.contains(where: { $0.finding.kind == .envUsage && $0.finding.language == "shell" }) {
            let assigned = Detector.shellAssignments(buf, scratch: scratch)
            let quiet = Detector.shellQuietRanges(buf)
            kept.removeAll { c in
                guard c.finding.kind == .envUsage, c.finding.language == "shell" else { return false }
                if let at = assigned[c.finding.secret], at < c.offset { return true }
                return quiet.contains { $0.contains(c.offset) }
            }
        }

        // 4. Line and column numbers, counted once through the buffer (columns from the previous finding on the
        //    same line, so many findings on one huge line stay linear).
        var line = 1, lineStartOffset = 0, pos = 0
        var lastLine = 0, lastOffset = 0, lastColumn = 0
        var out: [Finding] = []
        out.reserveCapacity(kept.count)
        for (i, var c) in kept.enumerated() {
            (line, lineStartOffset, pos) = Detector.advance(base, from: pos, to: c.offset, line: line, lineStart: lineStartOffset)
            c.finding.line = line
            c.finding.byteOffset = c.offset
            c.finding.column = line == lastLine
                ? lastColumn + Detector.scalarCount(base, lastOffset, c.offset)
                : Detector.scalarCount(base, lineStartOffset, c.offset) + 1
            (lastLine, lastOffset, lastColumn) = (line, c.offset, c.finding.column)
            var endLine = line, endLineStart = lineStartOffset, p2 = pos
            (endLine, endLineStart, p2) = Detector.advance(base, from: p2, to: c.end, line: endLine, lineStart: endLineStart)
            c.finding.endLine = endLine
            c.finding.endColumn = endLine == line
                ? c.finding.column + Detector.scalarCount(base, c.offset, c.end)
                : Detector.scalarCount(base, endLineStart, c.end) + 1
            if c.finding.kind.holdsSecret {
                // Other secrets within the context kept around this one, on the same line.
                let lo = c.offset - Detector.contextBytes, hi = c.end + Detector.contextBytes
                var others: [String] = []
                var j = i - 1
                while j >= 0 && kept[j].offset >= lo - Detector.contextWindow {
                    let o = kept[j]
                    if o.finding.kind.holdsSecret && o.end > lo && o.offset >= lineStartOffset { others.append(o.finding.secret) }
                    j -= 1
                }
                j = i + 1
                while j < kept.count && kept[j].offset < hi {
                    let o = kept[j]
                    let gap = min(c.end, o.offset)..<max(c.end, o.offset)
                    if o.finding.kind.holdsSecret && memchr(base + gap.lowerBound, 0x0a, gap.count) == nil {
                        others.append(o.finding.secret)
                    }
                    j += 1
                }
                c.finding.otherSecretsOnLine = others
            }
            out.append(c.finding)
        }
        return out
    }

    func applies(_ rule: Rule, _ ri: Int, path: String, scratch: DetectorScratch) -> Bool {
        if scratch.pathState[ri] != 0 { return scratch.pathState[ri] == 1 }
        var ok = rule.paths.isEmpty || rule.paths.contains { $0.matches(path, matcher: scratch.matcher) }
        if ok && !rule.allowlist.paths.isEmpty {
            ok = !rule.allowlist.paths.contains { $0.matches(path, matcher: scratch.matcher) }
        }
        scratch.pathState[ri] = ok ? 1 : 2
        return ok
    }

    // swiftlint:disable:next function_body_length
    func candidate(_ rule: Rule, match m: MatchRanges, secret sr: Range<Int>, buf: UnsafeRawBufferPointer,
                   path: String, scratch: DetectorScratch) -> Finding? {
        let base = buf.baseAddress!.assumingMemoryBound(to: UInt8.self)
        let ls = Detector.lineStart(base, sr.lowerBound, back: 0, within: Detector.contextWindow)
        let le = Detector.lineEnd(base, buf.count, sr.lowerBound, forward: 0, within: Detector.contextWindow)
        if rule.generic && le - ls > options.genericMaxLineLength { return nil }
        let lineBytes = UnsafeRawBufferPointer(rebasing: buf[ls..<le])
        if let ignored = Detector.inlineIgnore(lineBytes), ignored.isEmpty || ignored == rule.id { return nil }
        let secretBytes = UnsafeRawBufferPointer(rebasing: buf[sr])
        var secret = String(decoding: secretBytes, as: UTF8.self)
        var variable: String?
        if let ng = rule.nameGroup, ng != rule.secretGroup, let r = m[group: ng] {
            variable = String(decoding: buf[r], as: UTF8.self)
        }
        var finding = Finding(
            kind: rule.kind, ruleID: rule.id, ruleDescription: rule.description, provider: rule.provider,
            severity: rule.severity, confidence: rule.confidence, path: path, line: 0, column: 0, endLine: 0,
            endColumn: 0, secret: secret, variable: variable, language: rule.language, credentialName: nil,
            entropy: 0, checksum: nil, contextBefore: "", contextAfter: "", fingerprint: "")
        // Context strings are made only for candidates that survive the filters.
        func withContext(_ f: inout Finding) {
            let from = max(ls, sr.lowerBound - Detector.contextBytes)
            f.contextBefore = (from > ls ? "…" : "") + String(decoding: buf[from..<sr.lowerBound], as: UTF8.self)
            if sr.upperBound <= le {
                let to = min(le, sr.upperBound + Detector.contextBytes)
                f.contextAfter = String(decoding: buf[sr.upperBound..<to], as: UTF8.self) + (to < le ? "…" : "")
            } else {
                f.contextAfter = ""
            }
        }

        if rule.kind == .envUsage {
            // Terraform reads input variable `x` from the environment as `TF_VAR_x`.
            if rule.language == "terraform" {
                secret = "TF_VAR_" + secret
                finding.secret = secret
            }
            let credential = Detector.looksLikeCredential(secret, matcher: scratch.matcher)
            switch options.envUsage {
            case .none: return nil
            case .credentials where !credential: return nil
            default: break
            }
            finding.credentialName = credential
            finding.variable = secret
            if credential { finding.definedValue = Detector.assignedValue(base, buf.count, after: sr.upperBound) }
            finding.fingerprint = Finding.fingerprint(rule: rule.id, path: path, secret: secret)
            withContext(&finding)
            return finding
        }

        let entropy = Entropy.shannon(secretBytes)
        // A value too regular for the rule (entropy, character classes) does not vanish either: it is kept at
        // low confidence, like a placeholder.
        let irregular = entropy < rule.minEntropy
            || (rule.minCharClasses > 0 && Entropy.characterClasses(secretBytes) < rule.minCharClasses)
        // Unless low confidence is asked for, such a candidate would only be dropped at the end: drop it now
        // (a checksum can still make it a token).
        if irregular && options.minConfidence > .low && rule.checksum == nil { return nil }
        if rule.allowlist.values.contains(secret) { return nil }
        if !rule.allowlist.stopwords.isEmpty || (rule.generic && !rules.global.genericStopwords.isEmpty) {
            // Byte search on the lower-cased secret: String.contains would go through Foundation here.
            let lower = secretBytes.map { $0 >= 0x41 && $0 <= 0x5a ? $0 | 0x20 : $0 }
            let hit: (String) -> Bool = { word in
                lower.withUnsafeBytes { Detector.find(Array(word.utf8), in: $0) != nil }
            }
            if rule.allowlist.stopwords.contains(where: hit) { return nil }
            if rule.generic && rules.global.genericStopwords.contains(where: hit) { return nil }
        }
        // The project's own allowlist (.arca.yaml) drops a secret outright: the team said so.
        if !rules.global.projectStopwords.isEmpty {
            let lower = secretBytes.map { $0 >= 0x41 && $0 <= 0x5a ? $0 | 0x20 : $0 }
            if rules.global.projectStopwords.contains(where: { word in
                lower.withUnsafeBytes { Detector.find(Array(word.utf8), in: $0) != nil }
            }) { return nil }
        }
        if rules.global.projectRegexes.contains(where: { Detector.found($0, in: secretBytes, scratch.matcher) }) {
            return nil
        }
        if !rule.allowlist.regexes.isEmpty {
            let target: UnsafeRawBufferPointer
            switch rule.allowlist.regexTarget {
            case .secret: target = secretBytes
            case .match: target = UnsafeRawBufferPointer(rebasing: buf[m.whole])
            case .line: target = lineBytes
            }
            if rule.allowlist.regexes.contains(where: { Detector.found($0, in: target, scratch.matcher) }) { return nil }
        }
        if !rule.keyMaterial {
            // A placeholder or a hash/media line does not vanish: it is kept at low confidence, which the default
            // `--min-confidence medium` hides and `--min-confidence low` shows.
            if rules.global.secretRegexes.contains(where: { Detector.found($0, in: secretBytes, scratch.matcher) })
                || rules.global.lineRegexes.contains(where: { Detector.found($0, in: lineBytes, scratch.matcher) }) {
                finding.confidence = .low
            }
        }
        if irregular { finding.confidence = .low }
        if let kind = rule.checksum {
            let verdict = Checksum.verify(secret, kind: kind)
            finding.checksum = verdict
            // A valid checksum outweighs a placeholder-looking word inside the token (`…Fake…`, `…XXXX…`): the odds
            // of one by chance are one in 62⁶.
            if verdict == .valid { finding.confidence = .high }
            if verdict == .invalid { finding.confidence = .low }
        }
        finding.entropy = entropy
        finding.fingerprint = Finding.fingerprint(rule: rule.id, path: path, secret: secret)
        withContext(&finding)
        return finding
    }

    /// The value assigned right after a variable name ending at `pos`: `NAME=value`, `NAME: value`,
    /// `- "NAME=value"`, or a manifest's `value: …` on the next line. Nil for none, or for a reference
    /// (`${X}`, `$X`) that holds no value.
    static func assignedValue(_ base: UnsafePointer<UInt8>, _ n: Int, after pos: Int) -> String? {
        let end = lineEnd(base, n, pos, forward: 0, within: contextWindow)
        var i = pos
        func skipBlanks() { while i < end && (base[i] == 0x20 || base[i] == 0x09) { i += 1 } }
        if i < end && (base[i] == 0x22 || base[i] == 0x27) { i += 1 }
        skipBlanks()
        if i >= end || base[i] == 0x0d {
            // A manifest's `- name: X` followed by `value: …` on the next line.
            guard end < n else { return nil }
            let nextEnd = lineEnd(base, n, end + 1, forward: 0, within: contextWindow)
            let line = String(decoding: UnsafeBufferPointer(start: base + end + 1, count: nextEnd - end - 1), as: UTF8.self)
            let trimmed = line.drop { $0 == " " || $0 == "\t" }
            guard trimmed.hasPrefix("value:") else { return nil }
            return cleanValue(trimmed.dropFirst("value:".count))
        }
        guard base[i] == UInt8(ascii: "=") || base[i] == UInt8(ascii: ":") else { return nil }
        i += 1
        return cleanValue(String(decoding: UnsafeBufferPointer(start: base + i, count: end - i), as: UTF8.self)[...])
    }

    static func cleanValue(_ raw: Substring) -> String? {
        var v = raw.drop { $0 == " " || $0 == "\t" }
        while let last = v.last, last == " " || last == "\t" || last == "\r" { v = v.dropLast() }
        if let first = v.first, first == "\"" || first == "'", v.count >= 2, v.last == first {
            v = v.dropFirst().dropLast()
        } else if let last = v.last, last == "\"" || last == "'" {
            v = v.dropLast()  // `- "NAME=value"`: the quote opened before the name
        }
        // `${OTHER:-value}` (and `-`, `:=`, `=`): the default is a value the file defines.
        if v.hasPrefix("${"), v.hasSuffix("}"), let op = v.firstIndex(where: { $0 == "-" || $0 == "=" }) {
            let inner = v[v.index(after: op)..<v.index(before: v.endIndex)]
            return inner.isEmpty || inner.hasPrefix("$") ? nil : String(inner)
        }
        guard !v.isEmpty, !v.hasPrefix("$") else { return nil }
        return String(v)
    }

    static func found(_ re: Regex, in bytes: UnsafeRawBufferPointer, _ matcher: Matcher) -> Bool {
        if case .match = matcher.match(re, in: bytes, from: 0, to: bytes.count) { return true }
        return false
    }

    struct Candidate {
        var offset: Int
        var end: Int
        var finding: Finding
        var specificity: Int
    }

    /// Ranks overlapping findings: a provider rule beats a generic one, a valid checksum beats none, higher
    /// confidence beats lower, and a rule scoped to certain paths beats one that applies everywhere.
    static func specificity(_ rule: Rule, _ f: Finding) -> Int {
        var s = rule.generic ? 0 : 100
        if f.checksum == .valid { s += 50 }
        s += 10 * (Confidence.allCases.firstIndex(of: f.confidence) ?? 0)
        if !rule.paths.isEmpty { s += 5 }
        return s
    }

    static let ignoreMarker = Array("arca:ignore".utf8)

    /// The rule id named by an `arca:ignore` marker on the line ("" for all rules), or nil when there is none.
    static func inlineIgnore(_ line: UnsafeRawBufferPointer) -> String? {
        guard line.count >= ignoreMarker.count else { return nil }
        guard let at = Detector.find(ignoreMarker, in: line) else { return nil }
        var i = at + ignoreMarker.count
        guard i < line.count, line[i] == UInt8(ascii: ":") || line[i] == UInt8(ascii: "=") else { return "" }
        i += 1
        var id: [UInt8] = []
        while i < line.count {
            let b = line[i]
            let ok = (b >= 0x61 && b <= 0x7a) || (b >= 0x30 && b <= 0x39) || b == UInt8(ascii: "-")
            if !ok { break }
            id.append(b)
            i += 1
        }
        return String(decoding: id, as: UTF8.self)
    }

    /// Offset of the first occurrence of `needle` in `hay`.
    static func find(_ needle: [UInt8], in hay: UnsafeRawBufferPointer) -> Int? {
        guard needle.count <= hay.count, let first = needle.first else { return nil }
        var i = 0
        let last = hay.count - needle.count
        while i <= last {
            guard let hit = memchr(hay.baseAddress! + i, Int32(first), last - i + 1) else { return nil }
            let at = hay.baseAddress!.distance(to: UnsafeRawPointer(hit))
            if memcmp(hay.baseAddress! + at, needle, needle.count) == 0 { return at }
            i = at + 1
        }
        return nil
    }

    /// Offset where the identifier (letters, digits, `_`, `.`, `-`) ending at or spanning `pos` starts, looking
    /// back at most 48 bytes.
    @inline(__always)
    static func identifierStart(_ base: UnsafePointer<UInt8>, _ pos: Int) -> Int {
        var p = pos
        let limit = max(0, pos - 48)
        while p > limit {
            let b = base[p - 1]
            let ident = (b >= 0x61 && b <= 0x7a) || (b >= 0x41 && b <= 0x5a) || (b >= 0x30 && b <= 0x39)
                || b == 0x5f || b == 0x2e || b == 0x2d
            if !ident { break }
            p -= 1
        }
        return p
    }

    /// Offset of the start of the line holding `pos`, moved back `back` further lines, looking back at most
    /// `within` bytes (a minified file's one line can be megabytes long: unbounded walks per hit are quadratic).
    @inline(__always)
    static func lineStart(_ base: UnsafePointer<UInt8>, _ pos: Int, back: Int, within: Int = Int.max) -> Int {
        let floor = within == Int.max ? 0 : max(0, pos - within)
        var p = pos
        var remaining = back
        while true {
            var nl = p - 1
            while nl >= floor && base[nl] != 0x0a { nl -= 1 }
            if nl < floor { return floor }
            if remaining == 0 { return nl + 1 }
            remaining -= 1
            p = nl
        }
    }

    /// Offset of the newline ending the line holding `pos` (or the buffer end), moved on `forward` lines, looking
    /// at most `within` bytes ahead.
    @inline(__always)
    static func lineEnd(_ base: UnsafePointer<UInt8>, _ n: Int, _ pos: Int, forward: Int, within: Int = Int.max) -> Int {
        let ceiling = within == Int.max ? n : min(n, pos + within)
        var p = pos
        var remaining = forward
        while true {
            guard p < ceiling, let hit = memchr(base + p, 0x0a, ceiling - p) else { return ceiling }
            let nl = base.distance(to: hit.assumingMemoryBound(to: UInt8.self))
            if remaining == 0 { return nl }
            remaining -= 1
            p = nl + 1
        }
    }

    /// How far from a match the detector looks for its line's ends (context, `arca:ignore`, line length).
    static let contextWindow = 4096
    /// Context kept on each side of a secret in findings.
    static let contextBytes = 200

    /// Moves from `from` to `to`, counting newlines; returns the line number, the offset of its start, and `to`.
    static func advance(_ base: UnsafePointer<UInt8>, from: Int, to: Int, line: Int, lineStart: Int)
        -> (Int, Int, Int) {
        var line = line, ls = lineStart, p = from
        while p < to, let hit = memchr(base + p, 0x0a, to - p) {
            let nl = base.distance(to: hit.assumingMemoryBound(to: UInt8.self))
            line += 1
            ls = nl + 1
            p = nl + 1
        }
        return (line, ls, max(p, to))
    }

    /// Unicode scalars in `base[from..<to]` (UTF-8 lead bytes; invalid bytes count one each).
    static func scalarCount(_ base: UnsafePointer<UInt8>, _ from: Int, _ to: Int) -> Int {
        var n = 0
        var i = from
        while i < to {
            if base[i] & 0xC0 != 0x80 { n += 1 }
            i += 1
        }
        return n
    }
}

import ArcaRegex
import Yams

/// Reads rule files (YAML) into validated ``Rule`` values and a ``GlobalAllowlist``.
///
/// The format is documented in `docs/rules.md`. Unknown fields are errors, so a typo never silently disables a
/// check; every error names the file, the line, the rule and the field.
public enum RuleLoader {
    static let ruleFields: Set<String> = [
        "id", "description", "provider", "kind", "severity", "confidence", "keywords", "pattern", "secret-group",
        "entropy", "min-char-classes", "checksum", "paths", "lines-after", "lines-before", "generic", "language",
        "allowlist", "examples", "example-path", "anchor", "key-material",
    ]
    static let allowlistFields: Set<String> = ["values", "regexes", "regex-target", "paths", "stopwords"]
    static let globalFields: Set<String> = ["paths", "secret-regexes", "line-regexes", "generic-stopwords"]
    static let idPattern = try! Regex("^[a-z0-9][a-z0-9-]{1,63}$")

    /// Parses one YAML document holding `rules:` and/or `global-allowlist:`.
    /// With `requireExamples` false (the built-in pack loaded for scanning, stripped of its examples), rules
    /// without examples are accepted.
    public static func parse(_ text: String, file: String, requireExamples: Bool = true)
        throws(RuleError) -> (rules: [Rule], global: GlobalAllowlist?) {
        let root: Node?
        // The basic resolver tags every scalar as a string: Yams' default resolver runs NSRegularExpression over each
        // scalar, which made loading the pack cost ~40 ms at every start. Numbers and booleans are parsed below.
        do { root = try Yams.compose(yaml: text, .basic) } catch {
            throw RuleError(file: file, message: "not valid YAML: \(error)")
        }
        guard let root else {
            throw RuleError(file: file, message: "expected a mapping with 'rules:' and/or 'global-allowlist:'")
        }
        var budget = RuleValue.nodeBudget
        guard let value = RuleValue.bounded(root, budget: &budget) else {
            throw RuleError(file: file, message: "too large: its YAML expands to more than \(RuleValue.nodeBudget) nodes (aliases?)")
        }
        return try load(value, file: file, requireExamples: requireExamples)
    }

    /// Validates and compiles an already parsed rule file (YAML, or the embedded JSON copy of the pack).
    public static func load(_ root: RuleValue, file: String, requireExamples: Bool = true)
        throws(RuleError) -> (rules: [Rule], global: GlobalAllowlist?) {
        guard let top = root.mapping else {
            throw RuleError(file: file, message: "expected a mapping with 'rules:' and/or 'global-allowlist:'")
        }
        var rules: [Rule] = []
        var global: GlobalAllowlist?
        let matcher = Matcher()  // one per file: a matcher per rule would allocate a JIT stack per rule
        for (k, v) in top {
            guard let key = k.string else { continue }
            switch key {
            case "rules":
                guard let seq = v.sequence else {
                    throw RuleError(file: file, line: line(v), field: "rules", message: "expected a list of rules")
                }
                for node in seq {
                    rules.append(try parseRule(node, file: file, matcher: matcher, requireExamples: requireExamples))
                }
            case "global-allowlist":
                global = try parseGlobal(v, file: file)
            default:
                throw RuleError(file: file, line: line(k), field: key,
                                message: "unknown top-level field (expected 'rules' or 'global-allowlist')")
            }
        }
        return (rules, global)
    }

    static func line(_ n: RuleValue) -> Int? { n.line }

    static func parseRule(_ node: RuleValue, file: String, matcher: Matcher, requireExamples: Bool = true)
        throws(RuleError) -> Rule {
        guard let map = node.mapping else {
            throw RuleError(file: file, line: line(node), message: "a rule must be a mapping")
        }
        var fields: [String: RuleValue] = [:]
        let idNode = map["id"]
        let id = idNode?.string
        func fail(_ field: String?, _ message: String, at n: RuleValue? = nil) -> RuleError {
            RuleError(file: file, line: line(n ?? node), ruleID: id, field: field, message: message)
        }
        for (k, v) in map {
            guard let key = k.string else { throw fail(nil, "field names must be strings", at: k) }
            guard ruleFields.contains(key) else {
                throw fail(key, "unknown field (known: \(ruleFields.sorted().joined(separator: ", ")))", at: k)
            }
            fields[key] = v
        }
        func string(_ f: String, required: Bool = true) throws(RuleError) -> String? {
            guard let n = fields[f] else {
                if required { throw fail(f, "missing") }
                return nil
            }
            guard n.scalar != nil, let s = n.string else { throw fail(f, "expected a string", at: n) }
            return s
        }
        func strings(_ f: String, in m: [String: RuleValue]? = nil) throws(RuleError) -> [String] {
            guard let n = (m ?? fields)[f] else { return [] }
            guard let seq = n.sequence else { throw fail(f, "expected a list of strings", at: n) }
            var out: [String] = []
            for item in seq {
                guard item.scalar != nil, let s = item.string else { throw fail(f, "expected a list of strings", at: item) }
                out.append(s)
            }
            return out
        }
        func int(_ f: String, default d: Int) throws(RuleError) -> Int {
            guard let n = fields[f] else { return d }
            guard let v = n.string.flatMap({ Int($0) }), v >= 0 else { throw fail(f, "expected a non-negative integer", at: n) }
            return v
        }

        guard let id else { throw fail("id", "missing") }
        guard idPattern.matches(id, matcher: matcher) else {
            throw fail("id", "must be 2-64 lower-case letters, digits and dashes", at: idNode)
        }
        let description = try string("description")!
        let provider = try string("provider", required: false) ?? "Generic"
        let kindText = try string("kind", required: false) ?? "secret"
        guard let kind = FindingKind(rawValue: kindText) else {
            throw fail("kind", "must be 'secret', 'password-hash' or 'env-usage'", at: fields["kind"])
        }
        let sevText = try string("severity", required: false) ?? (kind.holdsSecret ? "high" : "info")
        guard let severity = Severity(rawValue: sevText) else {
            throw fail("severity", "must be one of \(Severity.allCases.map(\.rawValue).joined(separator: ", "))",
                       at: fields["severity"])
        }
        let confText = try string("confidence", required: false) ?? "high"
        guard let confidence = Confidence(rawValue: confText) else {
            throw fail("confidence", "must be low, medium or high", at: fields["confidence"])
        }
        let patternText = try string("pattern")!
        let pattern: Regex
        do { pattern = try Regex(patternText) } catch {
            throw fail("pattern", "does not compile: \(error)", at: fields["pattern"])
        }
        let groupName = try string("secret-group", required: false) ?? (kind.holdsSecret ? "secret" : "name")
        guard let secretGroup = pattern.groupNumber(named: groupName) else {
            throw fail("pattern", "needs a named group (?<\(groupName)>…)", at: fields["pattern"])
        }
        let nameGroup = pattern.groupNumber(named: "name")
        var anchored: Regex?
        if let a = try string("anchor", required: false) {
            guard a == "identifier" else { throw fail("anchor", "the only anchor is 'identifier'", at: fields["anchor"]) }
            do { anchored = try Regex("\\G(?:" + patternText + ")") } catch {
                throw fail("pattern", "does not compile anchored: \(error)", at: fields["pattern"])
            }
        }
        var entropy = 0.0
        if let n = fields["entropy"] {
            guard let v = n.string.flatMap({ Double($0) }), v >= 0, v <= 8 else { throw fail("entropy", "expected a number from 0 to 8", at: n) }
            entropy = v
        }
        var checksum: ChecksumKind?
        if let c = try string("checksum", required: false) {
            guard let k = ChecksumKind(rawValue: c) else {
                throw fail("checksum", "unknown validator '\(c)' (known: \(ChecksumKind.allCases.map(\.rawValue)))",
                           at: fields["checksum"])
            }
            checksum = k
        }
        var generic = false
        if let n = fields["generic"] {
            guard let b = n.string.flatMap({ ["true": true, "false": false][$0] }) else { throw fail("generic", "expected true or false", at: n) }
            generic = b
        }
        var keyMaterial = false
        if let n = fields["key-material"] {
            guard let b = n.string.flatMap({ ["true": true, "false": false][$0] }) else { throw fail("key-material", "expected true or false", at: n) }
            keyMaterial = b
        }
        let keywords = try strings("keywords").map { $0.lowercased() }
        var paths: [Glob] = []
        for p in try strings("paths") {
            do { paths.append(try Glob(p)) } catch { throw fail("paths", error.message, at: fields["paths"]) }
        }
        if keywords.isEmpty && paths.isEmpty {
            throw fail("keywords", "a rule needs keywords (the prefilter), or paths that scope it to a few files")
        }
        if let short = keywords.first(where: { $0.utf8.count < 3 }) {
            throw fail("keywords", "keyword '\(short)' is shorter than 3 bytes and would match nearly every line")
        }
        var allowlist = RuleAllowlist()
        if let a = fields["allowlist"] {
            guard let am = a.mapping else { throw fail("allowlist", "expected a mapping", at: a) }
            var sub: [String: RuleValue] = [:]
            for (k, v) in am {
                guard let key = k.string, allowlistFields.contains(key) else {
                    throw fail("allowlist.\(k.string ?? "?")", "unknown field (known: \(allowlistFields.sorted()))", at: k)
                }
                sub[key] = v
            }
            allowlist.values = Set(try strings("values", in: sub))
            for r in try strings("regexes", in: sub) {
                do { allowlist.regexes.append(try Regex(r)) } catch {
                    throw fail("allowlist.regexes", "'\(r)' does not compile: \(error)", at: sub["regexes"])
                }
            }
            if let t = sub["regex-target"] {
                guard let s = t.string, let target = RuleAllowlist.RegexTarget(rawValue: s) else {
                    throw fail("allowlist.regex-target", "must be secret, match or line", at: t)
                }
                allowlist.regexTarget = target
            }
            for p in try strings("paths", in: sub) {
                do { allowlist.paths.append(try Glob(p)) } catch {
                    throw fail("allowlist.paths", error.message, at: sub["paths"])
                }
            }
            allowlist.stopwords = try strings("stopwords", in: sub).map { $0.lowercased() }
        }
        var positives: [String] = [], negatives: [String] = []
        let ex: [(RuleValue, RuleValue)]
        if let m = fields["examples"]?.mapping {
            ex = m.map { ($0.key, $0.value) }
        } else if !requireExamples {
            ex = []
        } else {
            throw fail("examples", "missing: a rule needs 'examples: {positive: [...], negative: [...]}'")
        }
        for (k, _) in ex where !["positive", "negative"].contains(k.string ?? "") {
            throw fail("examples.\(k.string ?? "?")", "unknown field (expected positive, negative)", at: k)
        }
        var exFields: [String: RuleValue] = [:]
        for (k, v) in ex { exFields[k.string!] = v }
        positives = try strings("positive", in: exFields)
        negatives = try strings("negative", in: exFields)
        if requireExamples {
            guard positives.count >= 2 else { throw fail("examples.positive", "needs at least two positive examples") }
            guard negatives.count >= 1 else { throw fail("examples.negative", "needs at least one negative example") }
        }
        let examplePath = try string("example-path", required: false)
        let language = try string("language", required: false)
        if kind == .envUsage && language == nil {
            throw fail("language", "env-usage rules name the language they read")
        }
        return Rule(
            id: id, description: description, provider: provider, kind: kind, severity: severity,
            confidence: confidence, keywords: keywords, pattern: pattern, anchoredPattern: anchored, secretGroup: secretGroup,
            nameGroup: nameGroup, minEntropy: entropy, minCharClasses: try int("min-char-classes", default: 0),
            checksum: checksum, paths: paths, linesAfter: try int("lines-after", default: 0),
            linesBefore: try int("lines-before", default: 0), generic: generic, keyMaterial: keyMaterial, language: language,
            allowlist: allowlist, positiveExamples: positives, negativeExamples: negatives, examplePath: examplePath, source: file)
    }

    static func parseGlobal(_ node: RuleValue, file: String) throws(RuleError) -> GlobalAllowlist {
        guard let map = node.mapping else {
            throw RuleError(file: file, line: line(node), field: "global-allowlist", message: "expected a mapping")
        }
        var g = GlobalAllowlist()
        for (k, v) in map {
            let key = k.string ?? "?"
            let field = "global-allowlist.\(key)"
            guard globalFields.contains(key) else {
                throw RuleError(file: file, line: line(k), field: field,
                                message: "unknown field (known: \(globalFields.sorted().joined(separator: ", ")))")
            }
            guard let seq = v.sequence else {
                throw RuleError(file: file, line: line(v), field: field, message: "expected a list of strings")
            }
            for item in seq {
                guard let s = item.string else {
                    throw RuleError(file: file, line: line(item), field: field, message: "expected a string")
                }
                do {
                    switch key {
                    case "paths": g.paths.append(try Glob(s))
                    case "secret-regexes": g.secretRegexes.append(try Regex(s))
                    case "line-regexes": g.lineRegexes.append(try Regex(s))
                    default: g.genericStopwords.append(s.lowercased())
                    }
                } catch let e as RegexError {
                    throw RuleError(file: file, line: line(item), field: field, message: "'\(s)' does not compile: \(e)")
                } catch let e as RuleError {
                    throw RuleError(file: file, line: line(item), field: field, message: e.message)
                } catch {
                    throw RuleError(file: file, line: line(item), field: field, message: "\(error)")
                }
            }
        }
        return g
    }
}

/// Exceptions that apply to every rule: lockfiles, vendored and minified code, placeholders, integrity hashes.
public struct GlobalAllowlist: Sendable {
    /// Files never scanned.
    public var paths: [Glob] = []
    /// A secret matching one of these (placeholders such as `EXAMPLE`, `xxxx`, `${VAR}`) is not reported.
    public var secretRegexes: [Regex] = []
    /// A candidate on a line matching one of these (integrity hashes, data URIs) is not reported.
    public var lineRegexes: [Regex] = []
    /// Case-insensitive substrings that disqualify a secret found by a generic rule.
    public var genericStopwords: [String] = []
    /// A project's `.arca.yaml` allowlist: files never scanned (globs over the path from the repository root,
    /// which is `projectPrefix` + the scan's own relative path), and secrets dropped outright — matching a regex,
    /// or containing a stopword (lower-cased, any rule).
    public var projectPaths: [Glob] = []
    public var projectPrefix = ""
    public var projectRegexes: [Regex] = []
    public var projectStopwords: [String] = []

    public init() {}

    mutating func merge(_ other: GlobalAllowlist) {
        paths += other.paths
        secretRegexes += other.secretRegexes
        lineRegexes += other.lineRegexes
        genericStopwords += other.genericStopwords
        projectPaths += other.projectPaths
        projectRegexes += other.projectRegexes
        projectStopwords += other.projectStopwords
        if !other.projectPrefix.isEmpty { projectPrefix = other.projectPrefix }
    }
}

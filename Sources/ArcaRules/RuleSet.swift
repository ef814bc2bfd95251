import ArcaRegex

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Every rule in force, compiled once and shared by all scanning tasks: the rules, the global allowlist, and the
/// keyword automaton that maps keyword hits back to rules.
public struct RuleSet: Sendable {
    public let rules: [Rule]
    public let global: GlobalAllowlist
    public let automaton: KeywordAutomaton
    /// keyword index → indices of rules that carry that keyword.
    public let rulesForKeyword: [[Int]]
    /// The same map flattened for the hot loop: rules of keyword k are
    /// `keywordRules[keywordRuleStart[k]..<keywordRuleStart[k + 1]]`.
    public let keywordRuleStart: [Int32]
    public let keywordRules: [Int32]
    /// Byte length of each keyword.
    public let keywordLengths: [Int32]
    /// Rules with no keywords: they run on whole files that match their paths.
    public let pathOnlyRules: [Int]

    /// Builds a rule set; throws when two rules share an id.
    public init(rules: [Rule], global: GlobalAllowlist) throws(RuleError) {
        var seen: [String: String] = [:]
        for r in rules {
            if let other = seen[r.id] {
                throw RuleError(file: r.source, ruleID: r.id, field: "id", message: "duplicate id (also in \(other))")
            }
            seen[r.id] = r.source
        }
        self.rules = rules
        self.global = global
        var keywordIndex: [String: Int] = [:]
        var keywords: [String] = []
        var map: [[Int]] = []
        var pathOnly: [Int] = []
        for (i, r) in rules.enumerated() {
            if r.keywords.isEmpty { pathOnly.append(i) }
            for k in Set(r.keywords) {
                if let idx = keywordIndex[k] {
                    map[idx].append(i)
                } else {
                    keywordIndex[k] = keywords.count
                    keywords.append(k)
                    map.append([i])
                }
            }
        }
        self.automaton = KeywordAutomaton(keywords: keywords)
        self.rulesForKeyword = map
        var starts: [Int32] = [0]
        var flat: [Int32] = []
        for list in map {
            flat += list.map(Int32.init)
            starts.append(Int32(flat.count))
        }
        self.keywordRuleStart = starts
        self.keywordRules = flat
        self.keywordLengths = keywords.map { Int32($0.utf8.count) }
        self.pathOnlyRules = pathOnly
    }

    /// The built-in pack compiled into the binary (kept equal to `rules/` by a test).
    public static func builtin(withExamples: Bool = true) throws(RuleError) -> RuleSet {
        try load(builtin: true, extraDirectories: [], withExamples: withExamples)
    }

    /// Loads the built-in pack (unless `builtin` is false) plus every `*.yaml`/`*.yml` file in `extraDirectories`.
    /// Without `withExamples`, the built-in pack is loaded from its example-free copy (faster start-up; custom
    /// rules are always loaded whole and must carry their examples).
    public static func load(builtin: Bool = true, extraDirectories: [String], withExamples: Bool = true)
        throws(RuleError) -> RuleSet {
        var rules: [Rule] = []
        var global = GlobalAllowlist()
        if builtin {
            for (name, text) in withExamples ? EmbeddedRules.files : EmbeddedRules.scanJSON {
                let parsed: (rules: [Rule], global: GlobalAllowlist?)
                if withExamples {
                    parsed = try RuleLoader.parse(text, file: "rules/" + name)
                } else {
                    guard let root = RuleJSON.parse(text) else {
                        throw RuleError(file: "rules/" + name, message: "the embedded copy is damaged: run scripts/embed-rules.py")
                    }
                    parsed = try RuleLoader.load(root, file: "rules/" + name, requireExamples: false)
                }
                rules += parsed.rules
                if let g = parsed.global { global.merge(g) }
            }
        }
        for dir in extraDirectories {
            for file in try yamlFiles(in: dir) {
                guard let text = readText(file) else {
                    throw RuleError(file: file, message: "cannot be read")
                }
                let parsed = try RuleLoader.parse(text, file: file)
                rules += parsed.rules
                if let g = parsed.global { global.merge(g) }
            }
        }
        return try RuleSet(rules: rules, global: global)
    }

    /// This rule set with a project's allowlist added; `prefix` is the scanned path relative to the project's
    /// root (`src/` when `src` is scanned), so the config's path globs match from the root.
    public func applying(_ config: ProjectConfig, prefix: String) throws(RuleError) -> RuleSet {
        var g = global
        g.projectPaths += config.allowPaths + config.ruleFileGlobs
        g.projectPrefix = prefix
        g.projectRegexes += config.allowRegexes
        g.projectStopwords += config.stopwords
        return try RuleSet(rules: rules, global: g)
    }

    /// The `*.yaml` and `*.yml` files directly inside `dir` (or `dir` itself when it is a file), sorted.
    public static func yamlFiles(in dir: String) throws(RuleError) -> [String] {
        var st = stat()
        guard stat(dir, &st) == 0 else { throw RuleError(file: dir, message: "rules path does not exist") }
        if (st.st_mode & S_IFMT) != S_IFDIR { return [dir] }
        guard let d = opendir(dir) else { throw RuleError(file: dir, message: "cannot open rules directory") }
        defer { closedir(d) }
        var out: [String] = []
        while let e = readdir(d) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name.hasSuffix(".yaml") || name.hasSuffix(".yml") { out.append(dir + "/" + name) }
        }
        if out.isEmpty { throw RuleError(file: dir, message: "no *.yaml rule files in this directory") }
        return out.sorted()
    }

    /// The text of a file (bytes decoded as UTF-8, invalid sequences replaced), or nil when it cannot be read.
    public static func readTextFile(_ path: String) -> String? { readText(path) }

    static func readText(_ path: String) -> String? {
        guard let f = fopen(path, "rb") else { return nil }
        defer { fclose(f) }
        var data: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = fread(&buf, 1, buf.count, f)
            if n <= 0 { break }
            data += buf[0..<n]
        }
        return String(decoding: data, as: UTF8.self)
    }
}

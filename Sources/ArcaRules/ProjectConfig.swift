import ArcaRegex
import Yams

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A project's `.arca.yaml` at its repository root: extra rules, an allowlist and the scan settings a team wants
/// in every scan, hook and migration. Command-line options override it. Every key is checked: an unknown key, a
/// wrong type or a value out of range is an error naming the file and the line, never a silent default.
///
/// ```yaml
/// rules: [security/arca-rules]          # directories or files of *.yaml rules, relative to this file
/// allowlist:
///   paths: ["fixtures/**", "*.snap"]    # gitignore-style globs, relative to the repository root
///   regexes: ["^EXAMPLE-"]              # a secret matching one is not reported
///   stopwords: [dummy]                  # nor one containing one of these words (any case)
///   fingerprints: [0123456789abcdef0123456789abcdef]
/// min-confidence: medium                # low, medium, high
/// fail-on: high                         # info, low, medium, high, critical
/// env-usage: none                       # none, credentials, all
/// max-file-size: 20                     # MiB
/// decode: true
/// archives: true
/// archive-depth: 3
/// archive-max-bytes: 256                # MiB
/// archive-max-members: 10000
/// archive-max-ratio: 100
/// ```
public struct ProjectConfig: Sendable {
    public static let fileName = ".arca.yaml"
    public static let keys: [String] = [
        "rules", "allowlist", "min-confidence", "fail-on", "env-usage", "max-file-size", "decode", "archives",
        "archive-depth", "archive-max-bytes", "archive-max-members", "archive-max-ratio",
    ]
    public static let allowlistKeys: [String] = ["paths", "regexes", "stopwords", "fingerprints"]

    /// The file, and the directory it is in (the repository root).
    public var file: String
    public var directory: String
    /// Rule directories or files, resolved against `directory`.
    public var ruleDirectories: [String] = []
    public var allowPaths: [Glob] = []
    /// The project's own rule files (from `rules`), which are never scanned: their examples are fake secrets.
    public var ruleFileGlobs: [Glob] = []
    public var allowRegexes: [Regex] = []
    /// Lower-cased.
    public var stopwords: [String] = []
    public var fingerprints: Set<String> = []
    public var minConfidence: Confidence?
    public var failOn: Severity?
    /// `none`, `credentials` or `all`.
    public var envUsage: String?
    public var maxFileSizeMiB: Int?
    public var decode: Bool?
    public var archives: Bool?
    public var archiveDepth: Int?
    public var archiveMaxBytesMiB: Int?
    public var archiveMaxMembers: Int?
    public var archiveMaxRatio: Int?

    public init(file: String, directory: String) {
        self.file = file
        self.directory = directory
    }

    /// The `.arca.yaml` that governs `path` (a directory or a file): the one at the root of the repository that
    /// holds it (a linked worktree's root counts: its `.git` is a file), or, outside a repository, the one in
    /// `path` itself. Nil when there is none.
    public static func locate(from path: String) -> String? {
        let candidate = (repositoryRoot(of: path) ?? directory(of: path)) + "/" + fileName
        return access(candidate, F_OK) == 0 ? candidate : nil
    }

    /// The work tree holding `path` (a directory or a file): the nearest directory upwards with a `.git` entry
    /// (a directory, or a linked worktree's file), as an absolute path; nil outside a repository.
    public static func repositoryRoot(of path: String) -> String? {
        var dir = directory(of: path)
        while true {
            if access(dir + "/.git", F_OK) == 0 { return dir }
            if dir == "/" || dir.isEmpty { return nil }
            dir = parent(dir)
        }
    }

    /// `path` as an absolute directory: itself, or the directory of a file.
    static func directory(of path: String) -> String {
        let abs = absolute(path)
        var st = stat()
        return stat(abs, &st) == 0 && (st.st_mode & S_IFMT) != S_IFDIR ? parent(abs) : abs
    }

    /// Reads and checks `file`.
    public static func load(_ file: String) throws(RuleError) -> ProjectConfig {
        var st = stat()
        guard stat(file, &st) == 0 else { throw RuleError(file: file, message: "does not exist") }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw RuleError(file: file, message: "is not a regular file") }
        guard st.st_size <= 1 << 20 else { throw RuleError(file: file, message: "is larger than 1 MiB: not a config file") }
        guard let text = RuleSet.readText(file) else { throw RuleError(file: file, message: "cannot be read") }
        return try parse(text, file: file)
    }

    /// Parses the text of a config file called `file` (its directory anchors the relative rule paths).
    public static func parse(_ text: String, file: String) throws(RuleError) -> ProjectConfig {
        var config = ProjectConfig(file: file, directory: parent(absolute(file)))
        let root: Node?
        do { root = try Yams.compose(yaml: text, .basic) } catch {
            if case YamlError.duplicatedKeysInMapping(let keys, _) = error, let key = keys.first {
                throw RuleError(file: file, line: secondLine(of: key, in: text), field: key, message: "given twice")
            }
            throw RuleError(file: file, line: yamlLine(error), message: "not valid YAML: \(error)")
        }
        guard let root else { return config }  // an empty (or comments-only) file: no settings
        var budget = RuleValue.nodeBudget
        guard let top = RuleValue.bounded(root, budget: &budget) else {
            throw RuleError(file: file, message: "too large: its YAML expands to more than \(RuleValue.nodeBudget) nodes (aliases?)")
        }
        guard let map = top.mapping else {
            throw RuleError(file: file, line: top.line, message: "expected a mapping of settings (\(keys.joined(separator: ", ")))")
        }
        func fail(_ key: String, _ message: String, _ node: RuleValue?) -> RuleError {
            RuleError(file: file, line: node?.line, field: key, message: message)
        }
        /// A list of strings (or one string), each with its node, so an error names the item's own line.
        func items(_ key: String, _ node: RuleValue) throws(RuleError) -> [(String, RuleValue)] {
            if let s = node.string, !s.isEmpty { return [(s, node)] }
            guard let seq = node.sequence else { throw fail(key, "expected a list of strings", node) }
            var out: [(String, RuleValue)] = []
            for item in seq {
                guard let s = item.string else { throw fail(key, "expected a list of strings", item) }
                out.append((s, item))
            }
            return out
        }
        func int(_ key: String, _ node: RuleValue, min: Int) throws(RuleError) -> Int {
            guard let s = node.string, let v = Int(s) else { throw fail(key, "expected a whole number", node) }
            guard v >= min else { throw fail(key, "must be at least \(min)", node) }
            return v
        }
        func bool(_ key: String, _ node: RuleValue) throws(RuleError) -> Bool {
            switch node.string?.lowercased() {
            case "true", "yes", "on": return true
            case "false", "no", "off": return false
            default: throw fail(key, "expected true or false", node)
            }
        }
        func choice(_ key: String, _ node: RuleValue, _ allowed: [String]) throws(RuleError) -> String {
            guard let s = node.string, allowed.contains(s) else {
                throw fail(key, "expected one of \(allowed.joined(separator: ", "))", node)
            }
            return s
        }
        var seen = Set<String>()
        for (k, v) in map {
            guard let key = k.string else { throw fail("?", "setting names must be strings", k) }
            guard keys.contains(key) else {
                throw fail(key, "unknown setting (known: \(keys.joined(separator: ", ")))", k)
            }
            guard seen.insert(key).inserted else { throw fail(key, "given twice", k) }
            switch key {
            case "rules":
                for (r, _) in try items(key, v) {
                    config.ruleDirectories.append(r.hasPrefix("/") ? r : config.directory + "/" + r)
                    // The rule files' examples are fake secrets by design: the files are not scanned.
                    if !r.hasPrefix("/"), !r.contains("*"), !r.contains("["), !r.contains("?") {
                        let rel = normalized("/" + r)
                        let globs = r.hasSuffix(".yaml") || r.hasSuffix(".yml") ? [rel] : [rel + "/*.yaml", rel + "/*.yml"]
                        for g in globs { if let glob = try? Glob(g) { config.ruleFileGlobs.append(glob) } }
                    }
                }
            case "allowlist":
                guard let sub = v.mapping else { throw fail(key, "expected a mapping (\(allowlistKeys.joined(separator: ", ")))", v) }
                var seenSub = Set<String>()
                for (sk, sv) in sub {
                    guard let name = sk.string, allowlistKeys.contains(name) else {
                        throw fail("allowlist.\(sk.string ?? "?")", "unknown setting (known: \(allowlistKeys.joined(separator: ", ")))", sk)
                    }
                    guard seenSub.insert(name).inserted else { throw fail("allowlist.\(name)", "given twice", sk) }
                    let field = "allowlist.\(name)"
                    switch name {
                    case "paths":
                        for (p, n) in try items(field, sv) {
                            do { config.allowPaths.append(try Glob(p)) } catch { throw fail(field, error.message, n) }
                        }
                    case "regexes":
                        for (r, n) in try items(field, sv) {
                            do { config.allowRegexes.append(try Regex(r)) } catch {
                                throw fail(field, "'\(r)' does not compile: \(error)", n)
                            }
                        }
                    case "stopwords":
                        for (w, n) in try items(field, sv) {
                            if w.isEmpty { throw fail(field, "a stopword must not be empty", n) }
                            config.stopwords.append(w.lowercased())
                        }
                    default:
                        for (f, n) in try items(field, sv) {
                            guard f.count == 32, f.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }) else {
                                throw fail(field, "'\(f)' is not a fingerprint (32 lower-case hex digits, as reports print them)", n)
                            }
                            config.fingerprints.insert(f)
                        }
                    }
                }
            case "min-confidence":
                config.minConfidence = Confidence(rawValue: try choice(key, v, Confidence.allCases.map(\.rawValue)))
            case "fail-on":
                config.failOn = Severity(rawValue: try choice(key, v, Severity.allCases.map(\.rawValue)))
            case "env-usage":
                config.envUsage = try choice(key, v, ["none", "credentials", "all"])
            case "max-file-size": config.maxFileSizeMiB = try int(key, v, min: 1)
            case "decode": config.decode = try bool(key, v)
            case "archives": config.archives = try bool(key, v)
            case "archive-depth": config.archiveDepth = try int(key, v, min: 0)
            case "archive-max-bytes": config.archiveMaxBytesMiB = try int(key, v, min: 1)
            case "archive-max-members": config.archiveMaxMembers = try int(key, v, min: 1)
            default: config.archiveMaxRatio = try int(key, v, min: 1)
            }
        }
        return config
    }

    /// The line (1-based) of the second `key:` in `text` (a duplicate Yams reports at the first).
    static func secondLine(of key: String, in text: String) -> Int? {
        var count = 0
        for (i, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let t = line.drop(while: { $0 == " " || $0 == "\t" || $0 == "-" })
            if t.hasPrefix(key + ":") || t.hasPrefix("\"\(key)\":") || t.hasPrefix("'\(key)':") {
                count += 1
                if count == 2 { return i + 1 }
            }
        }
        return nil
    }

    /// The line (1-based) a Yams error points at, when it says.
    static func yamlLine(_ error: Error) -> Int? {
        if let e = error as? YamlError {
            switch e {
            case .scanner(_, _, let mark, _), .parser(_, _, let mark, _), .composer(_, _, let mark, _):
                return mark.line
            default: return nil
            }
        }
        return nil
    }

    public static func absolutePath(_ path: String) -> String { absolute(path) }
    public static func parentPath(_ path: String) -> String { parent(path) }

    static func absolute(_ path: String) -> String {
        if let p = realpath(path, nil) {
            defer { free(p) }
            return String(cString: p)
        }
        if path.hasPrefix("/") { return normalized(path) }
        var buf = [CChar](repeating: 0, count: Int(PATH_MAX))
        guard getcwd(&buf, buf.count) != nil else { return path }
        let cwd = String(decoding: buf.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return normalized(cwd + "/" + path)
    }

    static func normalized(_ path: String) -> String {
        var parts: [Substring] = []
        for p in path.split(separator: "/") {
            if p == "." || p.isEmpty { continue }
            if p == ".." { _ = parts.popLast(); continue }
            parts.append(p)
        }
        return "/" + parts.joined(separator: "/")
    }

    static func parent(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }
}

import ArcaScan
import Foundation

/// What `arca migrate` will do: which secrets go into the vault under which names, and the new text of every
/// file that uses them. Built from scan findings and the files' text; nothing is written here.
public struct Plan: Sendable {
    /// Masks every value the scan behind this plan found, migrated or not (a skipped secret can stand on a
    /// diff's context line), and the plan's own values: what the plan's output goes through.
    public var redactor = Redactor.none
    public struct Secret: Sendable {
        public var name: String
        /// The value (never printed; stored in the vault, compared on read-back).
        public var value: String
        public var rules: [String]
        public var uses: [Use]
    }

    public struct Use: Sendable, Equatable {
        public var path: String
        public var line: Int
        public var rule: String
    }

    /// One changed file: its text before and after, and how to rebuild the old text without storing secrets.
    public struct File: Sendable {
        public var path: String
        public var language: String
        public var old: String
        public var new: String
        /// SHA-256 (hex) of the file's bytes when the plan was made: `apply` refuses to replace a file whose bytes
        /// differ by then (an edit made while it asked or stored), so no edit is ever overwritten.
        public var oldSHA256: String
        /// The reverse edits: ranges of `new` (scalar offsets) and the old text there, secrets as references.
        public var reverse: [Reverse]
    }

    public struct Reverse: Sendable, Codable, Equatable {
        public var start: Int
        public var end: Int
        public var parts: [Part]
    }

    /// Old text is literal text and references to vault secrets, so the rollback record holds no secret.
    public enum Part: Sendable, Codable, Equatable {
        case text(String)
        case secret(name: String)
    }

    public struct Skip: Sendable {
        public var path: String
        public var line: Int
        public var reason: String
    }

    public var secrets: [Secret]
    public var files: [File]
    /// Helper files to add (path → content), one per language and folder, never overwriting one.
    public var helpers: [(path: String, content: String)]
    public var skipped: [Skip]
    /// How to start the program afterwards, per configuration file that needs it (`arca run …`, `kubectl …`).
    public var start: [String] = []

    public var isEmpty: Bool { files.isEmpty }
}

/// Builds a plan.
public struct Planner: Sendable {
    public var root: String
    /// Names already in the vault with their values (nil: not readable) — a name holding another value is not reused.
    public var existing: [String: String]

    /// With `--only PATH`: other uses of a value are looked for only under these paths.
    public var paths: [String]?
    public var style: HelperStyle
    /// The project: its root and the files the scan read (the only files other uses are looked for in).
    public var project: Project

    public init(root: String, existing: [String: String] = [:], paths: [String]? = nil, style: HelperStyle = .arca, files: [String]? = nil) {
        self.root = root
        self.existing = existing
        self.paths = paths
        self.style = style
        self.project = Project(root: root, files: files ?? Self.listFiles(root))
    }

    /// Every regular file under `root` (for callers without a scan's file list: tests).
    static func listFiles(_ root: String) -> [String] {
        var out: [String] = []
        guard let walker = FileManager.default.enumerator(atPath: root) else { return [] }
        for case let rel as String in walker {
            if (rel as NSString).lastPathComponent == ".git" { walker.skipDescendants(); continue }
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: root + "/" + rel, isDirectory: &isDir), !isDir.boolValue { out.append(rel) }
        }
        return out.sorted()
    }

    func inScope(_ path: String) -> Bool {
        guard let paths else { return true }
        return paths.contains { Self.path(path, isUnder: $0) }
    }

    /// `path` is `folder` or lies below it (`--only PATH`).
    public static func path(_ path: String, isUnder folder: String) -> Bool {
        path == folder || path.hasPrefix(folder.hasSuffix("/") ? folder : folder + "/")
    }

    struct Site {
        var path: String
        var line: Int
        var rule: String
        var value: String
        var nameHint: String
        var lo: Int
        var hi: Int
        /// Found by value, not by a rule: never names the secret.
        var extra = false
        /// An environment read (`--env`): this expression becomes the lookup.
        var envRead: (Int, Int)? = nil
    }

    /// `env`: with `migrate --env`, the values of the variables that credential reads name (from .env files
    /// and the environment); those reads become lookups too.
    public func plan(_ findings: [Finding], env: [String: String]? = nil) -> Plan {
        var skipped: [Plan.Skip] = []
        var sites: [Site] = []
        var texts: [String: (String, [Unicode.Scalar], any LanguageSupport)] = [:]
        // A password hash is not a credential a program reads: there is nothing to look up, only a password to
        // change (and the hash to remove).
        for f in findings where f.kind == .passwordHash {
            skipped.append(.init(path: f.path, line: f.line, reason: "a password hash, not a credential a program reads: remove it and change the password"))
        }
        let wanted = findings.filter { $0.kind == .secret || (env != nil && $0.kind == .envUsage && $0.credentialName == true) }
        // A member of an archive is not a file migrate can rewrite: the archive is rebuilt from its sources.
        for f in wanted where f.archive != nil {
            skipped.append(.init(path: f.path, line: f.line, reason: "inside the archive \(f.archive!): migrate the files it is built from, then rebuild it"))
        }
        let byFile = Dictionary(grouping: wanted.filter { $0.archive == nil }, by: \.path)
        for path in byFile.keys.sorted() {
            let full = root == "." ? path : root + "/" + path
            guard let data = FileManager.default.contents(atPath: full), let text = String(data: data, encoding: .utf8) else {
                skipped.append(.init(path: path, line: 0, reason: "not readable as UTF-8 text"))
                continue
            }
            // The text must give back exactly these bytes (a byte-order mark would not), or a rollback loses some.
            guard text.utf8.elementsEqual(data) else {
                skipped.append(.init(path: path, line: 0, reason: "its bytes do not round-trip through UTF-8 text (a byte-order mark?)"))
                continue
            }
            let firstLine = String(text.prefix { $0 != "\n" })
            guard let language = Languages.of(path: path, firstLine: firstLine) else {
                for f in byFile[path]! {
                    skipped.append(.init(path: path, line: f.line, reason: "no rewriter for this kind of file (\(path.split(separator: ".").last.map(String.init) ?? "no extension"))"))
                }
                continue
            }
            if let why = language.unsupported(path, text: text, project: project) {
                for f in byFile[path]! { skipped.append(.init(path: path, line: f.line, reason: why)) }
                continue
            }
            let scalars = Array(text.unicodeScalars)
            texts[path] = (text, scalars, language)
            let lineStarts = Self.lineStarts(scalars)
            for f in byFile[path]! {
                guard f.line >= 1, f.line <= lineStarts.count else { continue }
                // The scan's byte offset, as a scalar offset (line and column where a finding has none).
                var lo = lineStarts[f.line - 1] + f.column - 1
                if let at = f.byteOffset, at >= 0, at <= data.count, f.kind != .envUsage,
                   data.dropFirst(at).starts(with: Array(f.secret.utf8)) {
                    lo = data.prefix(at).reduce(0) { $1 & 0xC0 == 0x80 ? $0 : $0 + 1 }
                }
                if f.kind == .envUsage {
                    // In configuration a variable is defined, not read: its value is a secret finding of its own.
                    if language.id.isConfig {
                        // `${NAME}` in configuration is a read the runtime resolves from the environment: it stays,
                        // and the environment gives it a vault reference (`arca run`).
                        if f.ruleID == "env-config-interpolation" {
                            skipped.append(.init(path: path, line: f.line, reason: "${\(f.secret)} is resolved from the environment at run time: keep it, and give \(f.secret) as a vault reference in the environment (arca run)"))
                        }
                        continue
                    }
                    let lineEnd = f.line < lineStarts.count ? lineStarts[f.line] - 1 : scalars.count
                    let line = String(String.UnicodeScalarView(scalars[lineStarts[f.line - 1]..<max(lineStarts[f.line - 1], lineEnd)]))
                    guard let range = EnvReads.expression(f.secret, language: language, line: line, lineStart: lineStarts[f.line - 1], at: lo) else {
                        skipped.append(.init(path: path, line: f.line, reason: "this read of \(f.secret) has no vault form yet (a default value or an unusual form)"))
                        continue
                    }
                    guard let value = env?[f.secret], !value.isEmpty else {
                        skipped.append(.init(path: path, line: f.line, reason: "no value for \(f.secret): give --env-file or set it in the environment"))
                        continue
                    }
                    sites.append(Site(path: path, line: f.line, rule: f.ruleID, value: value, nameHint: f.secret, lo: range.0, hi: range.1,
                                      envRead: range))
                    continue
                }
                let secret = Array(f.secret.unicodeScalars)
                let hi = lo + secret.count
                guard hi <= scalars.count, Array(scalars[lo..<hi]) == secret else {
                    skipped.append(.init(path: path, line: f.line, reason: "the file changed since the scan"))
                    continue
                }
                var hint = f.variable ?? Self.assignedName(scalars, before: lo) ?? f.ruleID
                if language.id == .yaml, let parents = Self.yamlParents(scalars, lineStarts, line: f.line - 1), !parents.isEmpty {
                    hint = (parents + [hint]).joined(separator: "-")
                }
                sites.append(Site(path: path, line: f.line, rule: f.ruleID, value: f.secret, nameHint: hint, lo: lo, hi: hi))
            }
        }
        // The same value elsewhere (in a literal the rules did not flag, or another file) is a use too.
        sites += otherUses(of: Set(sites.filter { $0.envRead == nil }.map(\.value)), known: sites, texts: &texts)
        // One vault secret per value; the literal holding a secret can widen it (a connection string).
        var resolved: [(Site, Literal?)] = []
        for site in sites {
            let (_, scalars, language) = texts[site.path]!
            if site.envRead != nil {
                resolved.append((site, nil))
                continue
            }
            let literal = Literal.around(site.lo, site.hi, in: scalars, language: language)
            if literal == nil {
                if language.id.isConfig, let (lo, hi) = Self.bareConfigValue(scalars, site.lo, site.hi) {
                    var s = site
                    (s.lo, s.hi) = (lo, hi)
                    s.value = String(String.UnicodeScalarView(scalars[lo..<hi]))
                    resolved.append((s, nil))
                } else if language.id == .shell, Self.bareShellWord(scalars, site.lo, site.hi) {
                    resolved.append((site, nil))
                } else {
                    skipped.append(.init(path: site.path, line: site.line, reason: "not inside a string literal (a comment or documentation?)"))
                }
                continue
            }
            var s = site
            if let l = literal, !l.interpolates(scalars, language: language) {
                s.value = String(String.UnicodeScalarView(scalars[l.contentStart..<l.contentEnd]))
                s.lo = l.contentStart
                s.hi = l.contentEnd
            }
            resolved.append((s, literal))
        }
        // Names: from the variable the value was assigned to, unique per value.
        var nameOf: [String: String] = [:]
        var taken: [String: String] = existing
        var secrets: [String: Plan.Secret] = [:]
        for (site, _) in resolved.sorted(by: { ($0.0.extra ? 1 : 0, $0.0.path, $0.0.line) < ($1.0.extra ? 1 : 0, $1.0.path, $1.0.line) }) {
            if nameOf[site.value] == nil {
                var base = Naming.secretName(site.nameHint, fallback: site.rule)
                // `key`, `token`, `secret` alone say less than the rule that found a provider's token.
                if Naming.vague.contains(base), !site.rule.hasPrefix("generic-"), !site.rule.hasPrefix("env-") {
                    base = Naming.secretName(site.rule, fallback: site.rule)
                }
                var name = base, n = 2
                while let other = taken[name], other != site.value {
                    name = String(base.prefix(120)) + "-\(n)"
                    n += 1
                }
                nameOf[site.value] = name
                taken[name] = site.value
            }
            let name = nameOf[site.value]!
            var entry = secrets[name] ?? Plan.Secret(name: name, value: site.value, rules: [], uses: [])
            if !entry.rules.contains(site.rule) { entry.rules.append(site.rule) }
            let use = Plan.Use(path: site.path, line: site.line, rule: site.rule)
            if !entry.uses.contains(use) { entry.uses.append(use) }
            secrets[name] = entry
        }
        // Edits per file, applied from the end.
        var files: [Plan.File] = []
        var helpers: [(String, String)] = []
        var start: [String] = []
        var companionLines: [String: [String]] = [:]
        for path in Set(resolved.map(\.0.path)).sorted() {
            let (text, scalars, language) = texts[path]!
            var edits: [Edit] = []
            for (site, literal) in resolved where site.path == path {
                let name = nameOf[site.value]!
                let edit: (Int, Int, String)
                if let l = literal {
                    if l.interpolates(scalars, language: language) {
                        if let inside = language.interpolated(quote: l.quote, prefix: l.prefix, name: name) {
                            edit = (site.lo, site.hi, inside)
                        } else {
                            let close = l.quote, open = l.prefix + l.quote
                            edit = (site.lo, site.hi, close + language.concat + language.lookup(name, quote: l.quote) + language.concat + open)
                        }
                    } else {
                        edit = (l.start, l.end, language.lookup(name, quote: l.quote))
                    }
                } else if site.envRead != nil {
                    edit = (site.lo, site.hi, language.envReplacement(name))
                } else {
                    edit = (site.lo, site.hi, language.lookup(name, quote: language.id.isConfig ? "" : "\""))
                }
                if edits.contains(where: { $0.lo < edit.1 && edit.0 < $0.hi }) { continue }  // one edit per literal
                var old = String(String.UnicodeScalarView(scalars[edit.0..<edit.1]))
                var parts: [Plan.Part] = []
                let secretText = site.envRead == nil ? site.value : "\u{0}never\u{0}"
                while let r = old.range(of: secretText) {
                    if r.lowerBound > old.startIndex { parts.append(.text(String(old[..<r.lowerBound]))) }
                    parts.append(.secret(name: name))
                    old = String(old[r.upperBound...])
                }
                if !old.isEmpty { parts.append(.text(old)) }
                edits.append(Edit(lo: edit.0, hi: edit.1, with: edit.2, old: parts))
            }
            // Go, C# and Kotlin constants cannot call functions: `const` becomes `var` / `static readonly` / `val`.
            edits += Self.constantFixes(language, scalars, edits.map { ($0.lo, $0.hi) })
            edits = language.adjust(edits, scalars: scalars, file: path, style: style, project: project)
            let (companions, starts) = language.companions(for: path, edits: edits, scalars: scalars, project: project)
            for c in companions { companionLines[c.path, default: []] += c.content.split(separator: "\n").map(String.init) }
            start += starts
            if let importLine = language.importLine(file: path, text: text), !text.contains(importLine) {
                let at = language.importOffset(scalars)
                // The helper comes before a lookup hoisted to the same line.
                if let i = edits.firstIndex(where: { $0.lo == at && $0.hi == at }) {
                    edits[i].with = importLine + "\n" + edits[i].with
                } else {
                    edits.append(Edit(lo: at, hi: at, with: importLine + "\n", old: []))
                }
            }
            // From the end; at one offset, a replacement before an insertion (so the insertion stays whole).
            edits.sort { ($0.lo, $0.hi) > ($1.lo, $1.hi) }
            var out = scalars
            var reverse: [Plan.Reverse] = []
            var shift = 0
            for e in edits.reversed() {
                // Apply in ascending order to compute positions in the new text.
                let newLo = e.lo + shift
                let inserted = Array(e.with.unicodeScalars)
                reverse.append(Plan.Reverse(start: newLo, end: newLo + inserted.count, parts: e.old))
                shift += inserted.count - (e.hi - e.lo)
            }
            for e in edits { out.replaceSubrange(e.lo..<e.hi, with: Array(e.with.unicodeScalars)) }
            let new = String(String.UnicodeScalarView(out))
            files.append(Plan.File(path: path, language: language.id.rawValue, old: text, new: new,
                                   oldSHA256: Migration.sha256(text), reverse: reverse))
            for extra in language.extraHelpers(for: path, text: text, style: style, project: project) where !helpers.contains(where: { $0.0 == extra.path }) {
                helpers.append((extra.path, extra.content))
            }
            if let helper = language.helper(for: path, text: text, style: style, project: project), !helpers.contains(where: { $0.0 == helper.path }) {
                helpers.append((helper.path, helper.content))
                if style == .azureSDK, EmbeddedHelpers.files["azure-sdk/" + language.helperFile] == nil {
                    skipped.append(.init(path: helper.path, line: 0, reason: "no official Azure SDK for \(language.id.rawValue): the standard-library helper is used"))
                }
            }
        }
        // Companion files (Compose's references): new ones are helpers; one a previous migration wrote gets the
        // missing lines appended, as an edit of its own that the rollback undoes.
        for (path, lines) in companionLines.sorted(by: { $0.key < $1.key }) {
            if let data = FileManager.default.contents(atPath: project.path(path)), let text = String(data: data, encoding: .utf8) {
                let missing = lines.filter { !text.split(separator: "\n").map(String.init).contains($0) }
                guard !missing.isEmpty else { continue }
                let add = (text.hasSuffix("\n") || text.isEmpty ? "" : "\n") + missing.joined(separator: "\n") + "\n"
                let count = text.unicodeScalars.count
                files.append(Plan.File(path: path, language: LanguageID.dotenv.rawValue, old: text, new: text + add,
                                       oldSHA256: Migration.sha256(text), reverse: [Plan.Reverse(start: count, end: count + add.unicodeScalars.count, parts: [])]))
            } else {
                helpers.append((path, ConfigFormat.referencesHeader + lines.joined(separator: "\n") + "\n"))
            }
        }
        let ordered = secrets.values.sorted { $0.name < $1.name }
        return Plan(secrets: ordered, files: files, helpers: helpers.map { (path: $0.0, content: $0.1) }, skipped: skipped, start: start)
    }

    /// Occurrences of `values` not among `known`: in the files already read, and in the other files the scan read
    /// (its list: .gitignore and the allowlist applied), up to 1 MiB each, each read once.
    func otherUses(of values: Set<String>, known: [Site], texts: inout [String: (String, [Unicode.Scalar], any LanguageSupport)]) -> [Site] {
        guard !values.isEmpty else { return [] }
        var paths = Set(texts.keys)
        for rel in project.files where Languages.of(path: rel) != nil || !rel.contains(".") {
            if !Self.helperNames.contains((rel as NSString).lastPathComponent) { paths.insert(rel) }
        }
        var out: [Site] = []
        let taken = Set(known.map { "\($0.path):\($0.lo)" })
        for path in paths.sorted() where inScope(path) {
            if texts[path] == nil {
                let full = root + "/" + path
                guard let attrs = try? FileManager.default.attributesOfItem(atPath: full), (attrs[.size] as? Int ?? 0) <= 1 << 20,
                      let data = FileManager.default.contents(atPath: full), let text = String(data: data, encoding: .utf8),
                      text.utf8.elementsEqual(data), values.contains(where: { text.contains($0) }),
                      let language = Languages.of(path: path, firstLine: String(text.prefix { $0 != "\n" })),
                      language.unsupported(path, text: text, project: project) == nil else { continue }
                texts[path] = (text, Array(text.unicodeScalars), language)
            }
            let (_, scalars, _) = texts[path]!
            let starts = Self.lineStarts(scalars)
            for value in values {
                let v = Array(value.unicodeScalars)
                guard let first = v.first, v.count <= scalars.count else { continue }
                var i = 0
                while i + v.count <= scalars.count {
                    if scalars[i] == first, Array(scalars[i..<(i + v.count)]) == v {
                        if !taken.contains("\(path):\(i)") {
                            let line = (starts.lastIndex { $0 <= i } ?? 0) + 1
                            let rule = known.first { $0.value == value }?.rule ?? "same-value"
                            out.append(Site(path: path, line: line, rule: rule, value: value, nameHint: rule, lo: i, hi: i + v.count, extra: true))
                        }
                        i += v.count
                    } else {
                        i += 1
                    }
                }
            }
        }
        return out
    }

    /// The helper files `migrate` adds: never themselves migrated.
    public static let helperNames: Set<String> = Languages.helperNames

    static func lineStarts(_ s: [Unicode.Scalar]) -> [Int] {
        var starts = [0]
        for (i, c) in s.enumerated() where c == "\n" { starts.append(i + 1) }
        return starts
    }

    /// `NAME =`, `NAME:`, `"NAME":`, `NAME :=`, `NAME =>` right before `lo` on its line.
    static func assignedName(_ s: [Unicode.Scalar], before lo: Int) -> String? {
        var start = lo
        while start > 0, s[start - 1] != "\n" { start -= 1 }
        let line = String(String.UnicodeScalarView(s[start..<lo]))
        // A typed declaration names its variable, not its type: `val apiToken: String = "…"` (Kotlin, Swift,
        // TypeScript), `var apiKey string = "…"` (Go).
        let typed = #"(?:^|[\s(,])([A-Za-z_][A-Za-z0-9_]*)\s*:\s*[A-Za-z_][A-Za-z0-9_.<>?\[\]]*\s*=\s*[A-Za-z@$]{0,2}["'`]*[^"'`=]*$"#
        let goTyped = #"\b(?:var|const)\s+([A-Za-z_][A-Za-z0-9_]*)\s+[A-Za-z_][A-Za-z0-9_.\[\]]*\s*=\s*["'`]*[^"'`=]*$"#
        for p in [typed, goTyped] {
            if let m = try? NSRegularExpression(pattern: p).firstMatch(in: line, range: NSRange(line.startIndex..., in: line)),
               let r = Range(m.range(at: 1), in: line) {
                return String(line[r])
            }
        }
        let pattern = #"([A-Za-z_][A-Za-z0-9_.\-]*)["']?\s*(?::=|=>|\+=|=|:)\s*[A-Za-z@$]{0,2}["'`]*[^"'`=]*$"#
        guard let r = line.range(of: pattern, options: .regularExpression) else { return nil }
        let m = String(line[r])
        let name = m.prefix { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "." || $0 == "-" }
        return name.isEmpty ? nil : String(name)
    }

    /// The keys above a YAML line (by indentation), nearest last: `database` for `database:\n  password: x`.
    static func yamlParents(_ s: [Unicode.Scalar], _ starts: [Int], line: Int) -> [String]? {
        func indentAndKey(_ i: Int) -> (Int, String?) {
            let end = i + 1 < starts.count ? starts[i + 1] - 1 : s.count
            let text = String(String.UnicodeScalarView(s[starts[i]..<max(starts[i], end)]))
            let indent = text.prefix { $0 == " " || $0 == "-" }.count
            let body = text.dropFirst(indent)
            guard !body.isEmpty, !body.hasPrefix("#"), let colon = body.firstIndex(of: ":") else { return (indent, nil) }
            return (indent, String(body[..<colon]).trimmingCharacters(in: CharacterSet(charactersIn: "\"' ")))
        }
        var (indent, _) = indentAndKey(line)
        var out: [String] = []
        var i = line - 1
        while i >= 0, indent > 0 {
            let (d, key) = indentAndKey(i)
            // Keys that only say where variables live (Compose's environment, Kubernetes' env) name nothing.
            if let key, d < indent, !key.isEmpty, ["environment", "env", "services", "spec", "containers", "template", "data", "stringData"].contains(key) {
                indent = d
            } else if let key, d < indent, !key.isEmpty {
                // Kubernetes/compose env lists name their variable: `- name: X` is not a parent.
                out.insert(key, at: 0)
                indent = d
            }
            i -= 1
        }
        return out.count > 2 ? Array(out.suffix(2)) : out
    }

    /// A configuration value without quotes: from after `=` or `:` to the end of the line (less a trailing
    /// ` # comment`), when the secret lies inside it.
    static func bareConfigValue(_ s: [Unicode.Scalar], _ lo: Int, _ hi: Int) -> (Int, Int)? {
        var start = lo
        while start > 0, s[start - 1] != "\n", s[start - 1] != "=", !(s[start - 1] == " " && start >= 2 && s[start - 2] == ":") { start -= 1 }
        guard start > 0, s[start - 1] != "\n" || start == lo else { return nil }
        var end = hi
        while end < s.count, s[end] != "\n", !(s[end] == " " && end + 1 < s.count && s[end + 1] == "#") { end += 1 }
        while end > hi, s[end - 1] == " " || s[end - 1] == "\t" || s[end - 1] == "\r" { end -= 1 }
        while start < lo, s[start] == " " || s[start] == "\t" { start += 1 }
        return (start, end)
    }

    static func bareShellWord(_ s: [Unicode.Scalar], _ lo: Int, _ hi: Int) -> Bool {
        (lo == 0 || s[lo - 1] == "=" || s[lo - 1] == " ") && (hi == s.count || s[hi] == "\n" || s[hi] == " " || s[hi] == ";")
    }

    /// `const X = "…"` (Go), `const string X = "…"` (C#), `const val X = "…"` (Kotlin) on the edited lines.
    static func constantFixes(_ language: any LanguageSupport, _ s: [Unicode.Scalar], _ edits: [(Int, Int)]) -> [Edit] {
        guard let (keyword, replacement) = language.constant else { return [] }
        var out: [Edit] = []
        var seen = Set<Int>()
        for (lo, _) in edits {
            var start = lo
            while start > 0, s[start - 1] != "\n" { start -= 1 }
            let line = String(String.UnicodeScalarView(s[start..<lo]))
            guard let r = line.range(of: keyword), !seen.contains(start) else { continue }
            let offset = start + line.unicodeScalars.distance(from: line.unicodeScalars.startIndex, to: r.lowerBound.samePosition(in: line.unicodeScalars)!)
            var kwEnd = offset + keyword.unicodeScalars.count
            // C#: `private const string` keeps its modifiers; `static readonly` replaces `const`.
            if language.id == .csharp { kwEnd = offset + "const ".count }
            out.append(Edit(lo: offset, hi: kwEnd, with: replacement, old: [.text(String(String.UnicodeScalarView(s[offset..<kwEnd])))]))
            seen.insert(start)
        }
        return out
    }
}

/// Vault names from the variable a secret was assigned to: `DB_PASSWORD` → `db-password`,
/// `stripeApiKey` → `stripe-api-key`; valid for the vault (`^[0-9a-zA-Z-]{1,127}$`).
public enum Naming {
    static let vague: Set<String> = ["key", "token", "secret", "password", "pass", "pwd", "value", "auth", "credential",
                                     "credentials", "api-key", "apikey", "s", "k", "v"]

    public static func secretName(_ hint: String, fallback: String) -> String {
        var out = ""
        var previousLower = false
        for c in hint.unicodeScalars {
            if CharacterSet.uppercaseLetters.contains(c) {
                if previousLower { out += "-" }
                out += String(c).lowercased()
                previousLower = false
            } else if CharacterSet.alphanumerics.contains(c), c.isASCII {
                out.unicodeScalars.append(c)
                previousLower = CharacterSet.lowercaseLetters.contains(c) || CharacterSet.decimalDigits.contains(c)
            } else {
                out += "-"
                previousLower = false
            }
        }
        let parts = out.split(separator: "-").filter { !$0.isEmpty }
        var name = parts.joined(separator: "-")
        // Leading `self`/`this`/`config` and such add nothing.
        for noise in ["self-", "this-", "os-environ-", "process-env-", "env-"] where name.hasPrefix(noise) {
            name = String(name.dropFirst(noise.count))
        }
        if name.isEmpty || name.count < 2 { return fallback == hint ? "secret" : secretName(fallback, fallback: fallback) }
        return String(name.prefix(127))
    }
}

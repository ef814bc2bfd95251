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

    public init(root: String, existing: [String: String] = [:], paths: [String]? = nil, style: HelperStyle = .arca) {
        self.root = root
        self.existing = existing
        self.paths = paths
        self.style = style
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
        var texts: [String: (String, [Unicode.Scalar], Language)] = [:]
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
            guard let language = Language.of(path: path, firstLine: firstLine) else {
                for f in byFile[path]! {
                    skipped.append(.init(path: path, line: f.line, reason: "no rewriter for this kind of file (\(path.split(separator: ".").last.map(String.init) ?? "no extension"))"))
                }
                continue
            }
            let scalars = Array(text.unicodeScalars)
            texts[path] = (text, scalars, language)
            let lineStarts = Self.lineStarts(scalars)
            for f in byFile[path]! {
                guard f.line >= 1, f.line <= lineStarts.count else { continue }
                let lo = lineStarts[f.line - 1] + f.column - 1
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
                    guard let range = EnvReads.expression(f.secret, language: language.id, line: line, lineStart: lineStarts[f.line - 1], at: lo) else {
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
            let literal = Literal.around(site.lo, site.hi, in: scalars, language: language.id)
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
            if let l = literal, !l.interpolates(scalars, language: language.id) {
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
        for path in Set(resolved.map(\.0.path)).sorted() {
            let (text, scalars, language) = texts[path]!
            var edits: [(lo: Int, hi: Int, with: String, old: [Plan.Part])] = []
            for (site, literal) in resolved where site.path == path {
                let name = nameOf[site.value]!
                let edit: (Int, Int, String)
                if let l = literal {
                    if l.interpolates(scalars, language: language.id) {
                        if let inside = language.interpolated(l.quote, l.prefix, name) {
                            edit = (site.lo, site.hi, inside)
                        } else {
                            let close = l.quote, open = l.prefix + l.quote
                            edit = (site.lo, site.hi, close + language.concat + language.lookup(name, l.quote) + language.concat + open)
                        }
                    } else {
                        edit = (l.start, l.end, language.lookup(name, l.quote))
                    }
                } else if site.envRead != nil {
                    edit = (site.lo, site.hi, EnvReads.replacement(language, name: name))
                } else {
                    edit = (site.lo, site.hi, language.lookup(name, language.id.isConfig ? "" : "\""))
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
                edits.append((edit.0, edit.1, edit.2, parts))
            }
            // Go and C# constants cannot call functions: `const` becomes `var` / `static readonly`.
            edits += Self.constantFixes(language, scalars, edits.map { ($0.lo, $0.hi) })
            if language.id == .shell { edits = Self.shellStops(scalars, edits) }
            if let importLine = language.importLine?(path, text), !text.contains(importLine) {
                let at = Self.importOffset(language, scalars)
                // The helper comes before a lookup hoisted to the same line.
                if let i = edits.firstIndex(where: { $0.lo == at && $0.hi == at }) {
                    edits[i].with = importLine + "\n" + edits[i].with
                } else {
                    edits.append((at, at, importLine + "\n", []))
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
            let folder = path.contains("/") ? String(path[..<path.lastIndex(of: "/")!]) + "/" : ""
            let helperPath = folder + language.helperFile
            if !language.helperFile.isEmpty, !helpers.contains(where: { $0.0 == helperPath }) {
                helpers.append((helperPath, Helpers.source(for: language, file: path, text: text, style: style)))
                if !Helpers.has(style, language) {
                    skipped.append(.init(path: helperPath, line: 0, reason: "no official Azure SDK for \(language.id.rawValue): the standard-library helper is used"))
                }
            }
        }
        let ordered = secrets.values.sorted { $0.name < $1.name }
        return Plan(secrets: ordered, files: files, helpers: helpers.map { (path: $0.0, content: $0.1) }, skipped: skipped)
    }

    /// Occurrences of `values` not among `known`: in the files already read, and in the other source files
    /// under the root (up to 1 MiB each; `.git`, dependency and build folders skipped).
    func otherUses(of values: Set<String>, known: [Site], texts: inout [String: (String, [Unicode.Scalar], Language)]) -> [Site] {
        guard !values.isEmpty else { return [] }
        let skipDirs: Set<String> = [".git", "node_modules", ".build", "build", "dist", "vendor", "target", ".venv", "venv", "__pycache__"]
        var paths = Set(texts.keys)
        if let walker = FileManager.default.enumerator(atPath: root) {
            for case let rel as String in walker {
                let name = (rel as NSString).lastPathComponent
                if skipDirs.contains(name) { walker.skipDescendants(); continue }
                if Language.of(path: rel) != nil, !Self.helperNames.contains(name) { paths.insert(rel) }
            }
        }
        var out: [Site] = []
        let taken = Set(known.map { "\($0.path):\($0.lo)" })
        for path in paths.sorted() where inScope(path) {
            if texts[path] == nil {
                let full = root + "/" + path
                guard let attrs = try? FileManager.default.attributesOfItem(atPath: full), (attrs[.size] as? Int ?? 0) <= 1 << 20,
                      let data = FileManager.default.contents(atPath: full), let text = String(data: data, encoding: .utf8),
                      text.utf8.elementsEqual(data), values.contains(where: { text.contains($0) }),
                      let language = Language.of(path: path, firstLine: String(text.prefix { $0 != "\n" })) else { continue }
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
    public static let helperNames: Set<String> = Set(Language.all.map(\.helperFile))

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
            if let key, d < indent, !key.isEmpty {
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

    /// Shell: a failed lookup must stop the script. A command substitution's status is lost in `export`,
    /// `readonly`, `local`, in an argument and in a string, and even a plain assignment only stops a script under
    /// `set -e`; so `export X="$(arca_secret x)"` becomes `X="$(arca_secret x)" || exit 1; export X`, `local X=…`
    /// becomes `local X; X=… || exit 1`, a plain assignment gets `|| exit 1`, and a lookup anywhere else is
    /// hoisted to a line of its own before the command (`_arca_x="$(arca_secret x)" || exit 1`) and read from
    /// that variable. Valid in sh, bash and zsh, with or without `set -u`.
    static func shellStops(_ s: [Unicode.Scalar], _ edits: [(lo: Int, hi: Int, with: String, old: [Plan.Part])])
        -> [(lo: Int, hi: Int, with: String, old: [Plan.Part])] {
        var out = edits
        var added: [(lo: Int, hi: Int, with: String, old: [Plan.Part])] = []
        var hoisted: [Int: [String]] = [:]  // line start → assignments to put before it
        func lineBounds(_ i: Int) -> (Int, Int) {
            var a = i, b = i
            while a > 0, s[a - 1] != "\n" { a -= 1 }
            while b < s.count, s[b] != "\n" { b += 1 }
            return (a, b)
        }
        func text(_ a: Int, _ b: Int) -> String { String(String.UnicodeScalarView(s[a..<b])) }
        let lookup = #/\$\(arca_secret ([0-9A-Za-z-]+)\)/#
        let heredocs = Self.shellHeredocBodies(s)
        for (k, e) in edits.enumerated() where e.with.contains("$(arca_secret ") {
            let (start, end) = lineBounds(e.lo)
            let before = text(start, e.lo), after = text(e.hi, end)
            let restIsEmpty = after.trimmingCharacters(in: .whitespaces).isEmpty || after.trimmingCharacters(in: .whitespaces).hasPrefix("#")
            let oneLookup = e.with.matches(of: lookup).count == 1 && !before.contains("$(") && !before.contains("`")
            let inHeredoc = heredocs.contains { $0.contains(start) }
            if !inHeredoc, restIsEmpty, oneLookup,
               let m = before.wholeMatch(of: #/(?<indent>[ \t]*)(?<keyword>(?:export|readonly|local|declare|typeset)(?:[ \t]+-[A-Za-z]+)*[ \t]+)?(?<name>[A-Za-z_][A-Za-z0-9_]*)=/#),
               !(m.output.keyword ?? "").split(separator: " ").dropFirst().contains(where: { $0.hasPrefix("-") && $0.contains("r") }) {
                let name = String(m.output.name)
                let stop = e.hi
                let keyword = m.output.keyword.map(String.init) ?? ""
                let keywordStart = start + m.output.indent.unicodeScalars.count
                if keyword.hasPrefix("export") || keyword.hasPrefix("readonly") {
                    // The status survives only without the builtin: assign, stop on failure, then mark the name.
                    added.append((keywordStart, keywordStart + keyword.unicodeScalars.count, "", [.text(keyword)]))
                    added.append((stop, stop, " || exit 1; \(keyword.trimmingCharacters(in: .whitespaces)) \(name)", []))
                } else if !keyword.isEmpty {
                    let nameStart = keywordStart + keyword.unicodeScalars.count
                    added.append((nameStart, nameStart, "\(name); ", []))
                    added.append((stop, stop, " || exit 1", []))
                } else {
                    added.append((stop, stop, " || exit 1", []))
                }
                continue
            }
            // Anywhere else: the lookup moves to a line of its own before the command that uses it.
            guard let commandStart = Self.shellCommandStart(s, line: start, heredocs: heredocs), e.lo > commandStart else { continue }
            let indent = text(commandStart, lineBounds(commandStart).1).prefix { $0 == " " || $0 == "\t" }
            var with = e.with
            for m in e.with.matches(of: lookup) {
                let secret = String(m.output.1)
                let variable = "_arca_" + secret.replacingOccurrences(of: "-", with: "_")
                with = with.replacingOccurrences(of: String(m.output.0), with: "${\(variable)}")
                let line = "\(indent)\(variable)=\"$(arca_secret \(secret))\" || exit 1\n"
                if !(hoisted[commandStart] ?? []).contains(line) { hoisted[commandStart, default: []].append(line) }
            }
            // Inside a here-document's body quotes are text: a bare word made into "$(…)" would print them.
            if heredocs.contains(where: { $0.contains(e.lo) }), s[e.lo] != "\"", with.count >= 2,
               with.hasPrefix("\""), with.hasSuffix("\""), !with.dropFirst().dropLast().contains("\"") {
                with = String(with.dropFirst().dropLast())
            }
            out[k].with = with
        }
        for (at, lines) in hoisted { added.append((at, at, lines.joined(), [])) }
        return out + added
    }

    /// The offset where the command holding `line` starts: earlier lines that end in `\`, `|`, `&&` or `||`
    /// continue into it, and a heredoc body belongs to the line that opened it. Nil where a line of its own
    /// cannot go before it (a `case` pattern such as `prod) …`).
    static func shellCommandStart(_ s: [Unicode.Scalar], line: Int, heredocs: [Range<Int>]) -> Int? {
        func lineStart(_ i: Int) -> Int {
            var a = i
            while a > 0, s[a - 1] != "\n" { a -= 1 }
            return a
        }
        var start = line
        if let body = heredocs.first(where: { $0.contains(start) }) { start = lineStart(body.lowerBound - 1) }
        while start > 0 {
            let previousStart = lineStart(start - 1)
            let previous = String(String.UnicodeScalarView(s[previousStart..<(start - 1)])).trimmingCharacters(in: .whitespaces)
            guard previous.hasSuffix("\\") || previous.hasSuffix("|") || previous.hasSuffix("&&") else { break }
            start = previousStart
        }
        var end = start
        while end < s.count, s[end] != "\n" { end += 1 }
        let first = String(String.UnicodeScalarView(s[start..<end])).trimmingCharacters(in: .whitespaces)
        return first.firstMatch(of: #/^[^\s()"'=]+\)/#) != nil ? nil : start
    }

    /// The scalar ranges of heredoc bodies (`<<EOF` … `EOF`, `<<-EOF` with tabs), so nothing is inserted there.
    static func shellHeredocBodies(_ s: [Unicode.Scalar]) -> [Range<Int>] {
        let text = String(String.UnicodeScalarView(s))
        var out: [Range<Int>] = []
        var offset = 0
        var waiting: [(String, Bool)] = []
        var bodyStart = 0
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let count = line.unicodeScalars.count
            if let (delimiter, tabs) = waiting.first {
                let t = tabs ? String(line.drop { $0 == "\t" }) : String(line)
                if t == delimiter {
                    out.append(bodyStart..<offset)
                    waiting.removeFirst()
                    bodyStart = offset + count + 1
                }
            } else {
                for m in line.matches(of: #/<<(-?)[ \t]*["']?([A-Za-z_][A-Za-z0-9_]*)["']?/#) {
                    waiting.append((String(m.output.2), !m.output.1.isEmpty))
                }
                bodyStart = offset + count + 1
            }
            offset += count + 1
        }
        return out
    }

    /// `const X = "…"` (Go), `const string X = "…"` (C#), `const val X = "…"` (Kotlin) on the edited lines.
    static func constantFixes(_ language: Language, _ s: [Unicode.Scalar], _ edits: [(Int, Int)]) -> [(lo: Int, hi: Int, with: String, old: [Plan.Part])] {
        let (keyword, replacement): (String, String)
        switch language.id {
        case .go: (keyword, replacement) = ("const ", "var ")
        case .csharp: (keyword, replacement) = ("const ", "static readonly ")
        case .kotlin: (keyword, replacement) = ("const val ", "val ")
        default: return []
        }
        var out: [(Int, Int, String, [Plan.Part])] = []
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
            out.append((offset, kwEnd, replacement, [.text(keyword)]))
            seen.insert(start)
        }
        return out
    }

    /// Where an import goes: after a shebang, encoding line, module docstring, `from __future__`, `<?php`,
    /// `"use strict"`, or leading comments; at the top otherwise.
    static func importOffset(_ language: Language, _ s: [Unicode.Scalar]) -> Int {
        let starts = lineStarts(s)
        var line = 0
        func text(_ i: Int) -> String {
            let end = i + 1 < starts.count ? starts[i + 1] - 1 : s.count
            return String(String.UnicodeScalarView(s[starts[i]..<max(starts[i], end)]))
        }
        var docstringSeen = false
        while line < starts.count {
            let t = text(line).trimmingCharacters(in: .whitespaces)
            let keep: Bool
            switch language.id {
            case .python:
                if !docstringSeen, let q = ["\"\"\"", "'''"].first(where: { t.hasPrefix($0) || t.hasPrefix("r" + $0) }) {
                    // The module docstring: skip to its closing quotes.
                    docstringSeen = true
                    var rest = String(t.dropFirst(t.hasPrefix("r") ? 4 : 3))
                    while !rest.contains(q), line + 1 < starts.count {
                        line += 1
                        rest = text(line)
                    }
                    keep = true
                } else {
                    keep = t.hasPrefix("#") || t.hasPrefix("from __future__") || (t.isEmpty && !docstringSeen)
                }
            case .shell: keep = line == 0 && t.hasPrefix("#!") || (t.hasPrefix("set -") && line < 3)
            case .javascript, .typescript: keep = t.hasPrefix("#!") || t == "\"use strict\";" || t == "'use strict';" || t.hasPrefix("//")
            case .php: keep = t.hasPrefix("<?php") || t.hasPrefix("declare(")
            case .ruby: keep = t.hasPrefix("#")
            default: keep = false
            }
            guard keep else { break }
            line += 1
        }
        return line < starts.count ? starts[line] : s.count
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

import Foundation

/// The helper file `migrate` adds beside rewritten code: standard library only, it signs in with the
/// application's Azure variables, reads the secret through the vault's API and caches it.
public enum HelperStyle: String, Sendable, CaseIterable {
    /// Standard library only, against Arca's server (or any Key Vault API) with the AZURE_* variables.
    case arca
    /// The official Azure SDK where one exists (Python, JavaScript/TypeScript, Java, Kotlin, C#, Go), so the code
    /// works against Azure Key Vault itself; other languages keep the standard-library helper.
    case azureSDK = "azure-sdk"
}

/// The languages and configuration formats `migrate` rewrites.
public enum LanguageID: String, Sendable, CaseIterable {
    case python, javascript, typescript, go, java, kotlin, csharp, ruby, php, swift, shell
    /// Configuration: values become references that `arca run` resolves (no helper, no import).
    case dotenv, yaml, json, properties

    public var isConfig: Bool { [.dotenv, .yaml, .json, .properties].contains(self) }
}

/// Everything `migrate` knows about one language, in one file under `Languages/`: its literal syntax, the
/// lookup expression, the import line and where it goes, where the helper is placed, how it reads the
/// environment, and how a rewritten file is checked. Adding a language is adding one file and listing it in
/// ``Languages/all``.
public protocol LanguageSupport: Sendable {
    var id: LanguageID { get }
    /// File name extensions, lower case, without the dot.
    var extensions: [String] { get }
    /// The helper file `migrate` adds (empty: none).
    var helperFile: String { get }
    /// Joins a literal and an expression (for interpolating literals the lookup cannot sit inside).
    var concat: String { get }
    /// The quote characters that open literals.
    var quotes: Set<Unicode.Scalar> { get }
    /// The lookup expression for secret `name`; `quote` is the quote of the literal it replaces, reused where the
    /// language allows (then the lookup is valid wherever that literal was, nested f-strings included).
    func lookup(_ name: String, quote: String) -> String
    /// The lookup inside an interpolating literal opened with `quote` (nil: that literal kind does not interpolate).
    func interpolated(quote: String, prefix: String, name: String) -> String?
    /// Whether a literal with this body interpolates code (then only the secret in it is replaced).
    func interpolates(body: String, quote: String, prefix: String) -> Bool
    /// Whether a literal opened with this quote may run across lines.
    func multiline(quote: String) -> Bool
    /// The line that brings the helper in, inserted once per file (nil: nothing to import).
    func importLine(file: String, text: String) -> String?
    /// Where the import line goes (a scalar offset).
    func importOffset(_ s: [Unicode.Scalar]) -> Int
    /// Reads of a credential from the environment, with `NAME` for the variable (regular expressions).
    var envReads: [String] { get }
    /// The lookup in place of an environment read.
    func envReplacement(_ name: String) -> String
    /// A constant declaration that cannot hold a call, and what replaces it (`const ` → `var `).
    var constant: (keyword: String, replacement: String)? { get }
    /// The helper for the rewritten `file` (nil: none), given its text and the project.
    func helper(for file: String, text: String, style: HelperStyle, project: Project) -> Helper?
    /// More copies of the helper the file needs (where the file is loaded from elsewhere).
    func extraHelpers(for file: String, text: String, style: HelperStyle, project: Project) -> [Helper]
    /// Extra edits a rewrite of this file needs (shell: stop on a failed lookup; Java single-file programs: the
    /// helper inside the file).
    func adjust(_ edits: [Edit], scalars: [Unicode.Scalar], file: String, style: HelperStyle, project: Project) -> [Edit]
    /// Checks the rewritten files of this language: a syntax check, and an import or a compile with the
    /// project's layout where the toolchain is here. `deep` is false for the quick check made before the files
    /// change (then only what the language's loader or compiler says counts).
    func check(_ files: [Plan.File], project: Project, style: HelperStyle) -> [Verifier.Check]
    /// Why a file of this kind is not rewritten at all (nil: it is).
    func unsupported(_ file: String, text: String, project: Project) -> String?
    /// Files a rewrite needs beside the file (the references Compose is started with) and how to start the
    /// program afterwards.
    func companions(for file: String, edits: [Edit], scalars: [Unicode.Scalar], project: Project) -> (files: [Helper], start: [String])
}

/// A helper to add: its path from the project root and its text.
public struct Helper: Sendable, Equatable {
    public var path: String
    public var content: String
}

/// One replacement in a file: scalar range `lo..<hi` becomes `with`; `old` rebuilds the replaced text without
/// holding a secret (for the rollback record).
public struct Edit: Sendable {
    public var lo: Int
    public var hi: Int
    public var with: String
    public var old: [Plan.Part]
}

extension LanguageSupport {
    public var concat: String { " + " }
    public var quotes: Set<Unicode.Scalar> { ["\"", "'", "`"] }
    public func interpolated(quote: String, prefix: String, name: String) -> String? { nil }
    public func interpolates(body: String, quote: String, prefix: String) -> Bool { false }
    public func multiline(quote: String) -> Bool { quote.count == 3 }
    public func importLine(file: String, text: String) -> String? { nil }
    public func importOffset(_ s: [Unicode.Scalar]) -> Int { Languages.offsetAfterLeading(s) { _, _ in false } }
    public var envReads: [String] { [] }
    public func envReplacement(_ name: String) -> String { lookup(name, quote: "\"") }
    public var constant: (keyword: String, replacement: String)? { nil }
    public func helper(for file: String, text: String, style: HelperStyle, project: Project) -> Helper? {
        helperFile.isEmpty ? nil : Helper(path: Languages.folder(of: file) + helperFile, content: Languages.helperSource(helperFile, style: style))
    }
    public func adjust(_ edits: [Edit], scalars: [Unicode.Scalar], file: String, style: HelperStyle, project: Project) -> [Edit] { edits }
    public func extraHelpers(for file: String, text: String, style: HelperStyle, project: Project) -> [Helper] { [] }
    public func check(_ files: [Plan.File], project: Project, style: HelperStyle) -> [Verifier.Check] {
        files.map { Verifier.Check(path: $0.path, tool: nil, passed: true, output: "") }
    }

    public func unsupported(_ file: String, text: String, project: Project) -> String? { nil }
    public func companions(for file: String, edits: [Edit], scalars: [Unicode.Scalar], project: Project) -> (files: [Helper], start: [String]) { ([], []) }

    /// `"name"` or `'name'` after the literal's quote.
    func quoted(_ name: String, _ quote: String = "\"") -> String { quote == "'" ? "'\(name)'" : "\"\(name)\"" }
}

/// The project being migrated: its root, the files the scan read, and the one process runner.
public struct Project: Sendable {
    public var root: String
    /// Relative paths of the files the scan read (.gitignore and the allowlist applied).
    public var files: [String]
    public var runner: ProcessRunner

    public init(root: String, files: [String], runner: ProcessRunner = ProcessRunner()) {
        (self.root, self.files, self.runner) = (root, files, runner)
    }

    public func path(_ rel: String) -> String { root + "/" + rel }
    public func exists(_ rel: String) -> Bool { FileManager.default.fileExists(atPath: path(rel)) }

    /// The nearest folder at or above `rel`'s folder (within the root) holding one of `names`.
    public func nearest(_ names: [String], above rel: String) -> String? {
        var folder = Languages.folder(of: rel)
        while true {
            if names.contains(where: { exists(folder + $0) }) { return folder }
            guard !folder.isEmpty else { return nil }
            folder = Languages.folder(of: String(folder.dropLast()))
        }
    }

    /// The project's files with one of these extensions, under `folder` (relative, "" or ending in `/`).
    public func files(withExtensions exts: [String], under folder: String = "", recursive: Bool = true) -> [String] {
        files.filter { f in
            f.hasPrefix(folder) && exts.contains(((f as NSString).pathExtension).lowercased())
                && (recursive || !f.dropFirst(folder.count).contains("/"))
        }
    }
}

/// The registry: every language `migrate` knows, by file name.
public enum Languages {
    public static let all: [any LanguageSupport] = [
        Python(), JavaScript(id: .javascript), JavaScript(id: .typescript), Go(), Java(), Kotlin(), CSharp(), Ruby(), PHP(),
        SwiftLanguage(), Shell(),
        ConfigFormat(id: .dotenv), ConfigFormat(id: .yaml), ConfigFormat(id: .json), ConfigFormat(id: .properties),
    ]

    public static func named(_ id: LanguageID) -> any LanguageSupport { all.first { $0.id == id }! }

    /// By file name (extension, or a shell shebang).
    public static func of(path: String, firstLine: String = "") -> (any LanguageSupport)? {
        let name = path.split(separator: "/").last.map(String.init) ?? path
        let ext = name.contains(".") ? String(name.split(separator: ".").last!).lowercased() : ""
        if let l = all.first(where: { $0.extensions.contains(ext) }), !ext.isEmpty { return l }
        if name == ".env" || name.hasPrefix(".env.") || ext == "env" { return named(.dotenv) }
        if ext.isEmpty, firstLine.hasPrefix("#!"), ["sh", "bash", "zsh", "ksh", "dash"].contains(where: { firstLine.hasSuffix("/" + $0) || firstLine.hasSuffix(" " + $0) }) {
            return named(.shell)
        }
        return nil
    }

    /// The helper files `migrate` adds: never themselves migrated.
    public static let helperNames: Set<String> = Set(all.map(\.helperFile).filter { !$0.isEmpty } + [ConfigFormat.referencesFile])

    /// What a configuration value becomes: a reference in Azure App Service's Key Vault form.
    public static func reference(_ name: String) -> String { "@Microsoft.KeyVault(SecretName=\(name))" }

    /// `a/b/` for `a/b/c.py`, "" at the root.
    public static func folder(of path: String) -> String {
        path.contains("/") ? String(path[..<path.lastIndex(of: "/")!]) + "/" : ""
    }

    static func helperSource(_ file: String, style: HelperStyle) -> String {
        let key = style == .azureSDK && EmbeddedHelpers.files["azure-sdk/" + file] != nil ? "azure-sdk/" + file : file
        return (EmbeddedHelpers.files[key] ?? "") + "\n"
    }

    static func lineStarts(_ s: [Unicode.Scalar]) -> [Int] {
        var starts = [0]
        for (i, c) in s.enumerated() where c == "\n" { starts.append(i + 1) }
        return starts
    }

    /// The offset after the leading lines `keep(line, index)` accepts (shebangs, encoding lines, `<?php`…).
    static func offsetAfterLeading(_ s: [Unicode.Scalar], _ keep: (String, Int) -> Bool) -> Int {
        let starts = lineStarts(s)
        var line = 0
        while line < starts.count {
            let end = line + 1 < starts.count ? starts[line + 1] - 1 : s.count
            let t = String(String.UnicodeScalarView(s[starts[line]..<max(starts[line], end)])).trimmingCharacters(in: .whitespaces)
            guard keep(t, line) else { break }
            line += 1
        }
        return line < starts.count ? starts[line] : s.count
    }

    /// The first match of `pattern`'s first word after the keyword (`package x.y` → `x.y`).
    static func declared(_ pattern: String, in text: String) -> String? {
        guard let r = text.range(of: pattern, options: .regularExpression) else { return nil }
        return String(text[r]).split(whereSeparator: { $0 == " " || $0 == ";" || $0 == "{" || $0 == "\t" }).dropFirst().first.map(String.init)
    }
}

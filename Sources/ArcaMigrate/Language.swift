/// A language `migrate` rewrites: how a vault lookup is written, how the helper is brought in, and which
/// string literals interpolate.
public struct Language: Sendable, Equatable {
    public enum ID: String, Sendable, CaseIterable {
        case python, javascript, typescript, go, java, kotlin, csharp, ruby, php, swift, shell
        /// Configuration: values become references that `arca run` resolves (no helper, no import).
        case dotenv, yaml, json, properties

        public var isConfig: Bool { [.dotenv, .yaml, .json, .properties].contains(self) }
    }

    /// What a configuration value becomes: a reference in Azure App Service's Key Vault form.
    public static func reference(_ name: String) -> String { "@Microsoft.KeyVault(SecretName=\(name))" }

    public var id: ID
    /// The lookup expression for secret `name`; `quote` is the quote of the literal it replaces, reused where
    /// the language allows (then the lookup is valid wherever that literal was, nested f-strings included).
    public var lookup: @Sendable (_ name: String, _ quote: String) -> String
    /// The lookup inside an interpolating literal opened with `quote` (nil: that literal kind does not interpolate).
    public var interpolated: @Sendable (_ quote: String, _ prefix: String, _ name: String) -> String?
    /// Joins a literal and an expression (for interpolating literals the lookup cannot sit inside).
    public var concat: String = " + "
    /// The helper file `migrate` adds beside the file (once per folder).
    public var helperFile: String
    /// The line that brings the helper in, inserted once per file (nil: nothing to import).
    public var importLine: (@Sendable (_ file: String, _ text: String) -> String?)?

    public static func == (a: Language, b: Language) -> Bool { a.id == b.id }

    /// By file name (extension, or a shell shebang).
    public static func of(path: String, firstLine: String = "") -> Language? {
        let name = path.split(separator: "/").last.map(String.init) ?? path
        let ext = name.contains(".") ? String(name.split(separator: ".").last!).lowercased() : ""
        switch ext {
        case "py": return python
        case "js", "cjs", "mjs", "jsx": return javascript
        case "ts", "tsx", "mts", "cts": return typescript
        case "go": return go
        case "java": return java
        case "kt", "kts": return kotlin
        case "cs": return csharp
        case "rb": return ruby
        case "php": return php
        case "swift": return swift
        case "sh", "bash", "zsh", "ksh": return shell
        case "yml", "yaml": return yaml
        case "json": return json
        case "properties", "ini", "cfg", "conf", "toml": return properties
        case _ where name == ".env" || name.hasPrefix(".env.") || ext == "env": return dotenv
        default:
            if ext.isEmpty, firstLine.hasPrefix("#!"), ["sh", "bash", "zsh", "ksh", "dash"].contains(where: { firstLine.hasSuffix("/" + $0) || firstLine.hasSuffix(" " + $0) }) {
                return shell
            }
            return nil
        }
    }

    public static let all: [Language] = [python, javascript, typescript, go, java, kotlin, csharp, ruby, php, swift, shell]
    public static let configs: [Language] = [dotenv, yaml, json, properties]

    static func quoted(_ name: String, _ quote: String = "\"") -> String { quote == "'" ? "'\(name)'" : "\"\(name)\"" }

    public static let python = Language(
        id: .python, lookup: { "arca_secret(\(quoted($0, $1)))" },
        interpolated: { quote, prefix, name in
            prefix.lowercased().contains("f") ? "{arca_secret(\(quote.hasPrefix("'") ? "\"\(name)\"" : "'\(name)'"))}" : nil
        },
        helperFile: "arca_vault.py",
        importLine: { _, _ in "from arca_vault import secret as arca_secret" })

    public static let javascript = node(.javascript, declaration: "const arcaSecret")
    public static let typescript = node(.typescript, declaration: "const arcaSecret: (name: string) => string")

    /// JavaScript and TypeScript: the same lookup; TypeScript types the imported function.
    static func node(_ id: ID, declaration: String) -> Language {
        Language(
            id: id, lookup: { "arcaSecret(\(quoted($0, $1)))" },
            interpolated: { quote, _, name in quote == "`" ? "${arcaSecret(\"\(name)\")}" : nil },
            helperFile: "arca-vault.cjs",
            importLine: { file, text in
                isESModule(file, text)
                    ? "import { createRequire as arcaRequire } from \"node:module\"; \(declaration) = arcaRequire(import.meta.url)(\"./arca-vault.cjs\").secret;"
                    : "\(declaration) = require(\"./arca-vault.cjs\").secret;"
            })
    }

    public static let go = Language(
        id: .go, lookup: { name, _ in "arcaSecret(\(quoted(name)))" }, interpolated: { _, _, _ in nil },
        helperFile: "arca_vault.go", importLine: nil)

    public static let java = Language(
        id: .java, lookup: { name, _ in "ArcaVault.secret(\(quoted(name)))" }, interpolated: { _, _, _ in nil },
        helperFile: "ArcaVault.java", importLine: nil)

    public static let kotlin = Language(
        id: .kotlin, lookup: { name, _ in "ArcaVault.secret(\(quoted(name)))" },
        interpolated: { quote, _, name in quote.hasPrefix("\"") ? "${ArcaVault.secret(\"\(name)\")}" : nil },
        helperFile: "ArcaVault.kt", importLine: nil)

    public static let csharp = Language(
        id: .csharp, lookup: { name, _ in "ArcaVault.Secret(\(quoted(name)))" },
        interpolated: { _, prefix, name in prefix.contains("$") ? "{ArcaVault.Secret(\"\(name)\")}" : nil },
        helperFile: "ArcaVault.cs", importLine: nil)

    public static let ruby = Language(
        id: .ruby, lookup: { "ArcaVault.secret(\(quoted($0, $1)))" },
        interpolated: { quote, _, name in quote == "\"" ? "#{ArcaVault.secret(\"\(name)\")}" : nil },
        helperFile: "arca_vault.rb",
        importLine: { _, _ in "require_relative \"arca_vault\"" })

    public static let php = Language(
        id: .php, lookup: { "arca_secret(\(quoted($0, $1)))" },
        interpolated: { _, _, _ in nil }, concat: " . ",
        helperFile: "arca_vault.php",
        importLine: { _, _ in "require_once __DIR__ . \"/arca_vault.php\";" })

    public static let swift = Language(
        id: .swift, lookup: { name, _ in "ArcaVault.secret(\(quoted(name)))" },
        interpolated: { quote, _, name in quote.hasPrefix("\"") ? "\\(ArcaVault.secret(\"\(name)\"))" : nil },
        helperFile: "ArcaVault.swift", importLine: nil)

    public static let shell = Language(
        id: .shell, lookup: { name, _ in "\"$(arca_secret \(name))\"" },
        interpolated: { quote, _, name in quote == "\"" ? "$(arca_secret \(name))" : nil },
        helperFile: "arca-vault.sh",
        importLine: { _, _ in ". \"$(dirname \"$0\")/arca-vault.sh\"" })

    public static let dotenv = config(.dotenv, bareQuoted: false)
    public static let yaml = config(.yaml, bareQuoted: true)
    public static let json = config(.json, bareQuoted: true)
    public static let properties = config(.properties, bareQuoted: false)

    /// A configuration format: the literal keeps its quotes; a bare value is quoted where the format needs it
    /// (YAML: `@` cannot start a plain scalar).
    static func config(_ id: ID, bareQuoted: Bool) -> Language {
        Language(id: id, lookup: { name, quote in
            quote.isEmpty ? (bareQuoted ? "\"\(reference(name))\"" : reference(name)) : quote + reference(name) + quote
        }, interpolated: { _, _, _ in nil }, helperFile: "", importLine: nil)
    }

    static func isESModule(_ file: String, _ text: String) -> Bool {
        if file.hasSuffix(".mjs") || file.hasSuffix(".mts") { return true }
        if file.hasSuffix(".cjs") || file.hasSuffix(".cts") { return false }
        return text.split(separator: "\n").contains { $0.hasPrefix("import ") || $0.hasPrefix("export ") }
    }
}

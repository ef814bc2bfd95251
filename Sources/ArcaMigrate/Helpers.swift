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

enum Helpers {
    /// Whether `style` has its own helper for `language`.
    static func has(_ style: HelperStyle, _ language: Language) -> Bool {
        style == .arca || EmbeddedHelpers.files["azure-sdk/" + language.helperFile] != nil
    }

    static func source(for language: Language, file: String, text: String, style: HelperStyle = .arca) -> String {
        let key = style == .azureSDK && has(style, language) ? "azure-sdk/" + language.helperFile : language.helperFile
        var body = (EmbeddedHelpers.files[key] ?? "") + "\n"
        func declared(_ pattern: String) -> String? {
            guard let r = text.range(of: pattern, options: .regularExpression) else { return nil }
            let line = String(text[r])
            return line.split(whereSeparator: { $0 == " " || $0 == ";" || $0 == "{" }).dropFirst().first.map(String.init)
        }
        switch language.id {
        case .go:
            body = body.replacingOccurrences(of: "{{PACKAGE}}", with: declared(#"(?m)^package\s+\w+"#) ?? "main")
        case .java:
            if let p = declared(#"(?m)^package\s+[\w.]+\s*;"#) { body = "package \(p);\n\n" + body }
        case .kotlin:
            body = body.replacingOccurrences(of: "{{PACKAGE}}", with: declared(#"(?m)^package\s+[\w.]+"#).map { "package \($0)\n" } ?? "")
        case .csharp:
            body = body.replacingOccurrences(of: "{{NAMESPACE}}", with: declared(#"(?m)^namespace\s+[\w.]+"#).map { "namespace \($0);\n" } ?? "")
        default:
            break
        }
        return body
    }
}

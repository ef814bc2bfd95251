import Foundation

/// The helper file `migrate` adds beside rewritten code: standard library only, it signs in with the
/// application's Azure variables, reads the secret through the vault's API and caches it.
enum Helpers {
    static func source(for language: Language, file: String, text: String) -> String {
        var body = (EmbeddedHelpers.files[language.helperFile] ?? "") + "\n"
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

import Foundation

/// Kotlin: `ArcaVault.secret("name")` from `ArcaVault.kt` in the same package; `const val` becomes `val`.
struct Kotlin: LanguageSupport {
    let id = LanguageID.kotlin
    let extensions = ["kt", "kts"]
    let helperFile = "ArcaVault.kt"
    var quotes: Set<Unicode.Scalar> { ["\"", "'"] }

    func lookup(_ name: String, quote: String) -> String { "ArcaVault.secret(\(quoted(name)))" }
    func interpolated(quote: String, prefix: String, name: String) -> String? { quote.hasPrefix("\"") ? "${ArcaVault.secret(\"\(name)\")}" : nil }
    func interpolates(body: String, quote: String, prefix: String) -> Bool { quote.hasPrefix("\"") && body.contains("$") }
    var envReads: [String] { [#"(?:java\.lang\.)?System\.getenv\(\s*"NAME"\s*\)"#] }
    var constant: (keyword: String, replacement: String)? { ("const val ", "val ") }

    func helper(for file: String, text: String, style: HelperStyle, project: Project) -> Helper? {
        let body = Languages.helperSource(helperFile, style: style).replacingOccurrences(
            of: "{{PACKAGE}}", with: Languages.declared(#"(?m)^package\s+[\w.]+"#, in: text).map { "package \($0)\n" } ?? "")
        return Helper(path: Languages.folder(of: file) + helperFile, content: body)
    }

    /// kotlinc over every Kotlin file of the project (one compilation: packages see each other).
    func check(_ files: [Plan.File], project: Project, style: HelperStyle) -> [Verifier.Check] {
        if style == .azureSDK { return files.map { Verifier.Check(path: $0.path, tool: nil, passed: true, output: "") } }
        let out = project.scratchFolder("kotlinc")
        defer { try? FileManager.default.removeItem(atPath: out) }
        var sources = project.files(withExtensions: ["kt"]).map(project.path)
        for f in files where !sources.contains(project.path(f.path)) { sources.append(project.path(f.path)) }
        for helper in Set(files.map { Languages.folder(of: $0.path) + helperFile }) where project.exists(helper) && !sources.contains(project.path(helper)) {
            sources.append(project.path(helper))
        }
        return project.check(files.map(\.path), "kotlinc", ["-nowarn", "-d", out] + sources, shown: "kotlinc", timeout: 600)
    }
}

import Foundation

/// C#: `ArcaVault.Secret("name")` from `ArcaVault.cs` in the same namespace; `const` becomes `static readonly`.
struct CSharp: LanguageSupport {
    let id = LanguageID.csharp
    let extensions = ["cs"]
    let helperFile = "ArcaVault.cs"
    var quotes: Set<Unicode.Scalar> { ["\"", "'"] }

    func lookup(_ name: String, quote: String) -> String { "ArcaVault.Secret(\(quoted(name)))" }
    func interpolated(quote: String, prefix: String, name: String) -> String? { prefix.contains("$") ? "{ArcaVault.Secret(\"\(name)\")}" : nil }
    func interpolates(body: String, quote: String, prefix: String) -> Bool { prefix.contains("$") && body.contains("{") }
    var envReads: [String] { [#"(?:System\.)?Environment\.GetEnvironmentVariable\(\s*"NAME"\s*\)"#] }
    var constant: (keyword: String, replacement: String)? { ("const ", "static readonly ") }

    func helper(for file: String, text: String, style: HelperStyle, project: Project) -> Helper? {
        let namespace = Languages.declared(#"(?m)^namespace\s+[\w.]+"#, in: text)
        var body = Languages.helperSource(helperFile, style: style)
        if let namespace, !body.contains("{{NAMESPACE}}") {
            body = "namespace \(namespace);\n" + body
        }
        // A block namespace wraps the class (C# 7 compilers such as mono's have no file-scoped namespaces).
        if body.contains("{{NAMESPACE}}") {
            if let namespace {
                body = body.replacingOccurrences(of: "{{NAMESPACE}}", with: "namespace \(namespace)\n{") + "}\n"
            } else {
                body = body.replacingOccurrences(of: "{{NAMESPACE}}\n", with: "")
            }
        }
        return Helper(path: Languages.folder(of: file) + helperFile, content: body)
    }

    /// The project's C# files compiled together (mcs, or csc where installed) as a library.
    func check(_ files: [Plan.File], project: Project, style: HelperStyle) -> [Verifier.Check] {
        if style == .azureSDK { return files.map { Verifier.Check(path: $0.path, tool: nil, passed: true, output: "") } }
        let compiler = ["csc", "mcs"].first { project.runner.which($0) != nil } ?? "mcs"
        let out = project.scratchFolder("cs")
        defer { try? FileManager.default.removeItem(atPath: out) }
        var sources = project.files(withExtensions: ["cs"]).map(project.path)
        for helper in Set(files.map { Languages.folder(of: $0.path) + helperFile }) where project.exists(helper) && !sources.contains(project.path(helper)) {
            sources.append(project.path(helper))
        }
        for f in files where !sources.contains(project.path(f.path)) { sources.append(project.path(f.path)) }
        return project.check(files.map(\.path), compiler, ["-nologo", "-target:library", "-r:System.Net.Http.dll", "-out:\(out)/check.dll"] + sources,
                             shown: compiler, timeout: 300)
    }
}

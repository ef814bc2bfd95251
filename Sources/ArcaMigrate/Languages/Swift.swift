import Foundation

/// Swift: `ArcaVault.secret("name")` from `ArcaVault.swift` compiled with the target.
struct SwiftLanguage: LanguageSupport {
    let id = LanguageID.swift
    let extensions = ["swift"]
    let helperFile = "ArcaVault.swift"
    var quotes: Set<Unicode.Scalar> { ["\""] }

    func lookup(_ name: String, quote: String) -> String { "ArcaVault.secret(\(quoted(name)))" }
    func interpolated(quote: String, prefix: String, name: String) -> String? { quote.hasPrefix("\"") ? "\\(ArcaVault.secret(\"\(name)\"))" : nil }
    func interpolates(body: String, quote: String, prefix: String) -> Bool { quote.hasPrefix("\"") && body.contains("\\(") }
    var envReads: [String] { [#"ProcessInfo\.processInfo\.environment\[\s*"NAME"\s*\]"#] }
    /// `environment[…]` is optional: the lookup stays optional.
    func envReplacement(_ name: String) -> String { "Optional(\(lookup(name, quote: "\"")))" }

    /// One helper per module: a SwiftPM target (`Sources/NAME/…`) gets it at the target's root, anything else
    /// beside the file.
    func helper(for file: String, text: String, style: HelperStyle, project: Project) -> Helper? {
        Helper(path: Self.moduleFolder(file) + helperFile, content: Languages.helperSource(helperFile, style: style))
    }

    static func moduleFolder(_ file: String) -> String {
        let parts = file.split(separator: "/").map(String.init)
        if let i = parts.firstIndex(where: { $0 == "Sources" || $0 == "Tests" }), i + 2 < parts.count {
            return parts[...(i + 1)].joined(separator: "/") + "/"
        }
        return Languages.folder(of: file)
    }

    /// swiftc -typecheck of the module's files (the target's folder, or the file's folder) with the helper.
    func check(_ files: [Plan.File], project: Project, style: HelperStyle) -> [Verifier.Check] {
        Dictionary(grouping: files) { Self.moduleFolder($0.path) }.flatMap { folder, mine -> [Verifier.Check] in
            var sources = project.files(withExtensions: ["swift"], under: folder, recursive: folder.hasPrefix("Sources/") || folder.contains("/Sources/")).map(project.path)
            for f in mine + [] where !sources.contains(project.path(f.path)) { sources.append(project.path(f.path)) }
            if project.exists(folder + helperFile), !sources.contains(project.path(folder + helperFile)) { sources.append(project.path(folder + helperFile)) }
            let main = sources.contains { $0.hasSuffix("/main.swift") } ? [] : ["-parse-as-library"]
            let cache = project.scratchFolder("swiftc")
            defer { try? FileManager.default.removeItem(atPath: cache) }
            return project.check(mine.map(\.path), "swiftc", ["-typecheck", "-module-cache-path", cache] + main + sources, shown: "swiftc -typecheck", timeout: 600)
        }
    }
}

import Foundation

/// Go: `arcaSecret("name")` from `arca_vault.go` in the same package; `const` becomes `var`.
struct Go: LanguageSupport {
    let id = LanguageID.go
    let extensions = ["go"]
    let helperFile = "arca_vault.go"

    func lookup(_ name: String, quote: String) -> String { "arcaSecret(\(quoted(name)))" }
    func multiline(quote: String) -> Bool { quote == "`" }
    var envReads: [String] { [#"os\.Getenv\(\s*"NAME"\s*\)"#] }
    var constant: (keyword: String, replacement: String)? { ("const ", "var ") }

    func helper(for file: String, text: String, style: HelperStyle, project: Project) -> Helper? {
        let body = Languages.helperSource(helperFile, style: style).replacingOccurrences(
            of: "{{PACKAGE}}", with: Languages.declared(#"(?m)^package\s+\w+"#, in: text) ?? "main")
        return Helper(path: Languages.folder(of: file) + helperFile, content: body)
    }

    /// gofmt -e per file; in a module (go.mod), `go build ./...` of the whole module, offline.
    func check(_ files: [Plan.File], project: Project, style: HelperStyle) -> [Verifier.Check] {
        let syntax = files.flatMap { project.check([$0.path], "gofmt", ["-e", "-l", project.path($0.path)], shown: "gofmt -e") }
        if style == .azureSDK { return syntax }
        var out = syntax
        let modules = Dictionary(grouping: files.filter { f in syntax.contains { $0.path == f.path && $0.passed } }) { project.nearest(["go.mod"], above: $0.path) }
        for (module, mine) in modules {
            guard let module else { continue }
            let scratch = project.scratchFolder("go")
            defer { try? FileManager.default.removeItem(atPath: scratch) }
            let build = project.check(mine.map(\.path), "go", ["build", "-buildvcs=false", "-o", scratch + "/", "./..."],
                                      cwd: project.path(module.isEmpty ? "." : String(module.dropLast())),
                                      environment: ["GOFLAGS": "-mod=mod", "GOPROXY": "off", "GOCACHE": scratch + "/cache", "GOPATH": scratch + "/path"],
                                      shown: "go build ./...", timeout: 600)
            for c in build { if let i = out.firstIndex(where: { $0.path == c.path }) { out[i] = c } }
        }
        return out
    }
}

import Foundation

/// JavaScript and TypeScript: `arcaSecret("name")` from `arca-vault.cjs` beside the file (`require`, or
/// `createRequire` in an ES module); TypeScript types the imported function.
struct JavaScript: LanguageSupport {
    let id: LanguageID
    var extensions: [String] { id == .typescript ? ["ts", "tsx", "mts", "cts"] : ["js", "cjs", "mjs", "jsx"] }
    let helperFile = "arca-vault.cjs"

    func lookup(_ name: String, quote: String) -> String { "arcaSecret(\(quoted(name, quote)))" }
    func interpolated(quote: String, prefix: String, name: String) -> String? { quote == "`" ? "${arcaSecret(\"\(name)\")}" : nil }
    func interpolates(body: String, quote: String, prefix: String) -> Bool { quote == "`" && body.contains("${") }
    func multiline(quote: String) -> Bool { quote == "`" }

    func importLine(file: String, text: String) -> String? {
        let declaration = id == .typescript ? "const arcaSecret: (name: string) => string" : "const arcaSecret"
        return Self.isESModule(file, text)
            ? "import { createRequire as arcaRequire } from \"node:module\"; \(declaration) = arcaRequire(import.meta.url)(\"./arca-vault.cjs\").secret;"
            : "\(declaration) = require(\"./arca-vault.cjs\").secret;"
    }

    func importOffset(_ s: [Unicode.Scalar]) -> Int {
        Languages.offsetAfterLeading(s) { t, _ in t.hasPrefix("#!") || t == "\"use strict\";" || t == "'use strict';" || t.hasPrefix("//") }
    }

    var envReads: [String] { [#"process\.env\.NAME\b"#, #"process\.env\[\s*(["'`])NAME\1\s*\]"#] }

    static func isESModule(_ file: String, _ text: String) -> Bool {
        if file.hasSuffix(".mjs") || file.hasSuffix(".mts") { return true }
        if file.hasSuffix(".cjs") || file.hasSuffix(".cts") { return false }
        return text.split(separator: "\n").contains { $0.hasPrefix("import ") || $0.hasPrefix("export ") }
    }

    /// `node --check`, then loading the module (`require`, or `import()` for an ES module) with the helper
    /// answered by a stand-in once Node has resolved it: a helper Node cannot find fails. TypeScript is not
    /// compiled here (the project's own tsc does that).
    func check(_ files: [Plan.File], project: Project, style: HelperStyle) -> [Verifier.Check] {
        guard id == .javascript else { return files.map { Verifier.Check(path: $0.path, tool: nil, passed: true, output: "") } }
        return files.flatMap { file -> [Verifier.Check] in
            let syntax = project.check([file.path], "node", ["--check", project.path(file.path)], shown: "node --check")
            guard syntax.allSatisfy(\.passed), syntax.first?.tool != nil else { return syntax }
            let loaded = project.check([file.path], "node", ["-e", Self.loader, project.path(file.path)],
                                       cwd: project.path(Languages.folder(of: file.path)), shown: "node (load)", timeout: 60)
            return Project.combine([syntax, loaded])
        }
    }

    static let loader = """
        const Module = require("module"); const path = require("path"); const url = require("url");
        const load = Module._load;
        Module._load = function (request, parent, isMain) {
          if (path.basename(request) === "arca-vault.cjs") {
            Module._resolveFilename(request, parent, isMain);
            return { secret: (name) => "arca-check-" + name };
          }
          return load.apply(this, arguments);
        };
        const file = process.argv[1];
        if (file.endsWith(".mjs")) {
          import(url.pathToFileURL(file).href).catch((e) => { console.error(e); process.exit(1); });
        } else {
          try { require(file); } catch (e) {
            if (e && e.code === "ERR_REQUIRE_ESM") {
              import(url.pathToFileURL(file).href).catch((e2) => { console.error(e2); process.exit(1); });
            } else { console.error(e); process.exit(1); }
          }
        }
        """
}

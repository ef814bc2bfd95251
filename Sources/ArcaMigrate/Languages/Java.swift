import Foundation

/// Java: `ArcaVault.secret("name")` from `ArcaVault.java` in the same package, or — for a single-file program
/// (`java Main.java`, no build file, no other source beside it) — the helper class inside the file itself,
/// where that launch mode sees it.
struct Java: LanguageSupport {
    let id = LanguageID.java
    let extensions = ["java"]
    let helperFile = "ArcaVault.java"
    var quotes: Set<Unicode.Scalar> { ["\"", "'"] }

    func lookup(_ name: String, quote: String) -> String { "ArcaVault.secret(\(quoted(name)))" }
    var envReads: [String] { [#"(?:java\.lang\.)?System\.getenv\(\s*"NAME"\s*\)"#] }

    static func isSingleFile(_ file: String, text: String, project: Project) -> Bool {
        text.contains("static void main(")
            && project.nearest(["pom.xml", "build.gradle", "build.gradle.kts", "build.xml"], above: file) == nil
            && project.files(withExtensions: ["java"], under: Languages.folder(of: file), recursive: false).filter { $0 != file && !$0.hasSuffix("/ArcaVault.java") && $0 != "ArcaVault.java" }.isEmpty
    }

    func helper(for file: String, text: String, style: HelperStyle, project: Project) -> Helper? {
        if Self.isSingleFile(file, text: text, project: project) { return nil }
        var body = Languages.helperSource(helperFile, style: style)
        if let p = Languages.declared(#"(?m)^package\s+[\w.]+\s*;"#, in: text) { body = "package \(p);\n\n" + body }
        return Helper(path: Languages.folder(of: file) + helperFile, content: body)
    }

    /// A single-file program gets the helper's imports after its own and the helper class (not public) at its end.
    func adjust(_ edits: [Edit], scalars: [Unicode.Scalar], file: String, style: HelperStyle, project: Project) -> [Edit] {
        let text = String(String.UnicodeScalarView(scalars))
        guard Self.isSingleFile(file, text: text, project: project), !text.contains("final class ArcaVault") else { return edits }
        let helper = Languages.helperSource(helperFile, style: style)
        let lines = helper.split(separator: "\n", omittingEmptySubsequences: false)
        let imports = lines.filter { $0.hasPrefix("import ") }.map(String.init).filter { !text.contains($0) }
        guard let classStart = lines.firstIndex(where: { $0.hasPrefix("public final class ArcaVault") || $0.hasPrefix("final class ArcaVault") }) else { return edits }
        let body = "final class ArcaVault" + lines[classStart].dropFirst(lines[classStart].hasPrefix("public ") ? "public final class ArcaVault".count : "final class ArcaVault".count)
            + "\n" + lines[(classStart + 1)...].joined(separator: "\n")
        var out = edits
        // Imports go after the last import of the file (or the package line, or at the top).
        let starts = Languages.lineStarts(scalars)
        var at = 0
        for (i, start) in starts.enumerated() {
            let end = i + 1 < starts.count ? starts[i + 1] : scalars.count
            let line = String(String.UnicodeScalarView(scalars[start..<end]))
            if line.hasPrefix("import ") || line.hasPrefix("package ") { at = end }
        }
        if !imports.isEmpty { out.append(Edit(lo: at, hi: at, with: imports.joined(separator: "\n") + "\n", old: [])) }
        let tail = scalars.last == "\n" ? "" : "\n"
        out.append(Edit(lo: scalars.count, hi: scalars.count, with: tail + "\n// The vault lookup helper added by `arca migrate` (a single-file program sees no other file).\n" + body, old: []))
        return out
    }

    /// javac with the file's source root on the source path (its package layout), the helper beside it.
    func check(_ files: [Plan.File], project: Project, style: HelperStyle) -> [Verifier.Check] {
        // Compiling against the Azure SDK needs the project's build (its packages).
        if style == .azureSDK { return files.map { Verifier.Check(path: $0.path, tool: nil, passed: true, output: "") } }
        return files.flatMap { file -> [Verifier.Check] in
            let out = project.scratchFolder("javac")
            defer { try? FileManager.default.removeItem(atPath: out) }
            let path = project.path(file.path)
            let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? file.new
            return project.check([file.path], "javac", ["-d", out, "-sourcepath", Self.sourceRoot((path as NSString).deletingLastPathComponent, text), "-implicit:class", "-nowarn", path],
                                 shown: "javac")
        }
    }

    /// The folder a Java file's package starts from (its folder minus the package path).
    static func sourceRoot(_ dir: String, _ text: String) -> String {
        guard let r = text.range(of: #"(?m)^package\s+[\w.]+\s*;"#, options: .regularExpression) else { return dir }
        let pkg = text[r].dropFirst("package".count).trimmingCharacters(in: CharacterSet(charactersIn: " \t;"))
        let suffix = "/" + pkg.replacingOccurrences(of: ".", with: "/")
        return dir.hasSuffix(suffix) ? String(dir.dropLast(suffix.count)) : dir
    }
}

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

/// Ruby: `ArcaVault.secret("name")` with `require_relative "arca_vault"`.
struct Ruby: LanguageSupport {
    let id = LanguageID.ruby
    let extensions = ["rb"]
    let helperFile = "arca_vault.rb"
    var quotes: Set<Unicode.Scalar> { ["\"", "'"] }

    func lookup(_ name: String, quote: String) -> String { "ArcaVault.secret(\(quoted(name, quote)))" }
    func interpolated(quote: String, prefix: String, name: String) -> String? { quote == "\"" ? "#{ArcaVault.secret(\"\(name)\")}" : nil }
    func interpolates(body: String, quote: String, prefix: String) -> Bool { quote == "\"" && body.contains("#{") }
    func importLine(file: String, text: String) -> String? { "require_relative \"arca_vault\"" }
    func importOffset(_ s: [Unicode.Scalar]) -> Int { Languages.offsetAfterLeading(s) { t, _ in t.hasPrefix("#") } }
    var envReads: [String] {
        let q = #"(["'])NAME\1"#
        return [#"ENV\[\s*"# + q + #"\s*\]"#, #"ENV\.fetch\(\s*"# + q + #"\s*(?:,[^()\n]*)?\)"#]
    }

    /// `ruby -c`, then loading the file with the helper answered by a stand-in (once `require_relative` has
    /// found it).
    func check(_ files: [Plan.File], project: Project, style: HelperStyle) -> [Verifier.Check] {
        files.flatMap { file -> [Verifier.Check] in
            let syntax = project.check([file.path], "ruby", ["-c", project.path(file.path)], shown: "ruby -c")
            guard syntax.allSatisfy(\.passed), syntax.first?.tool != nil else { return syntax }
            let script = """
                module ArcaVault; def self.secret(name); "arca-check-#{name}"; end; end
                module Kernel
                  alias_method :arca_check_require_relative, :require_relative
                  def require_relative(path)
                    if File.basename(path, ".rb") == "arca_vault"
                      base = File.dirname(caller_locations(1, 1)[0].absolute_path)
                      full = File.expand_path(path.end_with?(".rb") ? path : path + ".rb", base)
                      raise LoadError, "cannot load such file -- #{full}" unless File.exist?(full)
                      return true
                    end
                    arca_check_require_relative(File.expand_path(path, File.dirname(caller_locations(1, 1)[0].absolute_path)))
                  end
                end
                load ARGV[0]
                """
            let loaded = project.check([file.path], "ruby", ["-e", script, project.path(file.path)],
                                       cwd: project.path(Languages.folder(of: file.path)), shown: "ruby (load)", timeout: 60)
            return Project.combine([syntax, loaded])
        }
    }
}

/// PHP: `arca_secret("name")` with `require_once __DIR__ . "/arca_vault.php";` (concatenation in strings).
struct PHP: LanguageSupport {
    let id = LanguageID.php
    let extensions = ["php"]
    let helperFile = "arca_vault.php"
    var concat: String { " . " }
    var quotes: Set<Unicode.Scalar> { ["\"", "'"] }

    func lookup(_ name: String, quote: String) -> String { "arca_secret(\(quoted(name, quote)))" }
    func interpolates(body: String, quote: String, prefix: String) -> Bool { quote == "\"" && body.contains("$") }
    func importLine(file: String, text: String) -> String? { "require_once __DIR__ . \"/arca_vault.php\";" }
    /// After `<?php`, `declare(strict_types=1);` and a `namespace X;` line (each must come first), over the blank
    /// and comment lines between them.
    func importOffset(_ s: [Unicode.Scalar]) -> Int {
        let starts = Languages.lineStarts(s)
        var after = 0
        for (i, start) in starts.enumerated() {
            let end = i + 1 < starts.count ? starts[i + 1] : s.count
            let t = String(String.UnicodeScalarView(s[start..<end])).trimmingCharacters(in: .whitespacesAndNewlines)
            if t.hasPrefix("<?php") || t.hasPrefix("declare(") || (t.hasPrefix("namespace ") && t.hasSuffix(";")) {
                after = end
            } else if !(t.isEmpty || t.hasPrefix("//") || t.hasPrefix("#") || t.hasPrefix("/*") || t.hasPrefix("*")) {
                break
            }
        }
        return after
    }
    var envReads: [String] {
        let q = #"(["'])NAME\1"#
        return [#"getenv\(\s*"# + q + #"\s*\)"#, #"\$_ENV\[\s*"# + q + #"\s*\]"#, #"\$_SERVER\[\s*"# + q + #"\s*\]"#]
    }

    func check(_ files: [Plan.File], project: Project, style: HelperStyle) -> [Verifier.Check] {
        files.flatMap { project.check([$0.path], "php", ["-l", project.path($0.path)], shown: "php -l") }
    }
}

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

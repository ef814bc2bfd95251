import ArcaRules
import ArcaScan
import Foundation
import Testing
@testable import ArcaMigrate

/// Golden files for the languages whose toolchains this machine lacks (Go, Kotlin, C#, Ruby, PHP) and for
/// TypeScript: each `golden/<case>/input` tree is scanned and planned (with `--env` values), and every
/// rewritten file must equal `golden/<case>/expected/<file>`; `helpers.txt` lists the helpers added and
/// `secrets.txt` the vault names. `ARCA_UPDATE_GOLDEN=1` rewrites the expectations (review the diff).
@Suite struct GoldenTests {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("golden")
    static let env = ["GITHUB_TOKEN": "gho_16C7e42F292c6912E7710c838347Ae178B4a", "API_TOKEN": "tok_9fK2mQ7xL4pR8vW3zN6s"]

    static func plan(_ root: String) throws -> Plan {
        var options = ScanOptions()
        options.detect.envUsage = .credentials
        let findings = try Scanner(rules: try RuleSet.load(builtin: true, extraDirectories: []), options: options).scan(root: root).findings
        return Planner(root: root).plan(findings, env: env)
    }

    @Test(arguments: ["go", "kotlin", "csharp", "ruby", "php", "typescript"])
    func rewrite(_ name: String) throws {
        let input = Self.folder.appendingPathComponent("\(name)/input").path
        let expected = Self.folder.appendingPathComponent("\(name)/expected").path
        let plan = try Self.plan(input)
        let update = ProcessInfo.processInfo.environment["ARCA_UPDATE_GOLDEN"] == "1"
        var outputs: [String: String] = [:]
        for f in plan.files { outputs[f.path] = f.new }
        outputs["helpers.txt"] = plan.helpers.map(\.path).joined(separator: "\n") + "\n"
        outputs["secrets.txt"] = plan.secrets.map { "\($0.name) \($0.uses.map { "\($0.path):\($0.line)" }.joined(separator: " "))" }.joined(separator: "\n") + "\n"
        for (file, text) in outputs {
            let path = expected + "/" + file
            if update {
                try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                try text.write(toFile: path, atomically: true, encoding: .utf8)
            }
            let golden = try String(contentsOfFile: path, encoding: .utf8)
            #expect(text == golden, "\(name)/\(file) differs from its golden file")
        }
        // No migrated value is left in any rewritten file; every helper is the language's.
        for f in plan.files {
            for s in plan.secrets { #expect(!f.new.contains(s.value), "\(f.path) still holds \(s.name)") }
        }
        #expect(!plan.secrets.isEmpty && plan.skipped.isEmpty, "\(plan.skipped.map(\.reason))")
    }

    @Test func goHelperTakesThePackageOfTheFile() throws {
        let plan = try Self.plan(Self.folder.appendingPathComponent("go/input").path)
        let helper = try #require(plan.helpers.first { $0.path == "arca_vault.go" })
        #expect(helper.content.contains("\npackage main\n"))
        let kt = try Self.plan(Self.folder.appendingPathComponent("kotlin/input").path)
        #expect(try #require(kt.helpers.first).content.contains("package com.acme.billing\n"))
        let cs = try Self.plan(Self.folder.appendingPathComponent("csharp/input").path)
        #expect(try #require(cs.helpers.first).content.contains("namespace Acme.Billing\n{\n"))
    }
}

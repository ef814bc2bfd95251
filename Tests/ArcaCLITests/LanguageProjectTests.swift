import Foundation
import Testing

/// `arca migrate` end to end, one small multi-file, multi-package project per language (Tests/ArcaCLITests/
/// Projects: Python packages run with `-m`, Node with an ES module, a Java package layout and a single-file
/// `java Main.java`, Kotlin, a Go module, Ruby, PHP, C# under mono, a Swift module, bash sourcing a library and
/// POSIX sh with `set -u`): each is built and run, migrated into `serve --dev`, run again as an application holding
/// only the roles the report names — the output must be the same — then rolled back byte for byte. A language whose
/// toolchain is missing is skipped, named (scripts/test.sh installs them all; with CI set a missing one fails).
@Suite(.serialized) struct LanguageProjectTests {
    static let values: [String: String] = [
        "DB_PASSWORD": "Tr0ub4dor&3xQ9z",
        "STRIPE_KEY": CLITests.stripeKey,
        "SMTP_PASSWORD": "mV8#qL2pX9wK4n",
        // The GitHub rule checks the token's CRC32: a valid fake one.
        "API_TOKEN": "ghp_" + "Fz3Kq8Wm2Xr7Tp4Lv9Nb6Hc1Jd5Gs04IixIl",
    ]

    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Projects")
    static let projects = ["python", "node", "java", "java-single", "kotlin", "go", "ruby", "php", "csharp", "swift", "shell"]

    struct Spec: Decodable {
        var tool: String
        var build: [[String]]
        var run: [String]
        var placeholders: [String]
        var timeout: Double?
        /// How this runtime is told to trust the vault's CA besides ARCA_CA_CERT ({CA}: the PEM file), run with
        /// HOME set to a folder of the test's own (Mono: `cert-sync --user`, since it cannot read EC certificates).
        var trust: [String]?
    }

    /// A copy of the fixture with the placeholders filled in, committed to a fresh repository.
    static func project(_ name: String) throws -> String {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("arca-lang-\(name)-\(UUID().uuidString)").path
        try FileManager.default.copyItem(atPath: fixtures.appendingPathComponent(name).path, toPath: root)
        let walker = FileManager.default.enumerator(atPath: root)!
        for case let rel as String in walker {
            let path = root + "/" + rel
            guard var text = try? String(contentsOfFile: path, encoding: .utf8), text.contains("{{") else { continue }
            for (k, v) in values { text = text.replacingOccurrences(of: "{{\(k)}}", with: v) }
            try text.write(toFile: path, atomically: false, encoding: .utf8)
        }
        try ".build-out/\n".write(toFile: root + "/.gitignore", atomically: true, encoding: .utf8)
        try MigrateTests.git(["init", "-q", "-b", "main"], root)
        try MigrateTests.git(["add", "-A"], root)
        try MigrateTests.git(["-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-qm", "project with credentials"], root)
        return root
    }

    /// Builds (into .build-out, fresh) and runs the project; its standard output.
    static func run(_ spec: Spec, _ root: String, env: [String: String]) throws -> String {
        try? FileManager.default.removeItem(atPath: root + "/.build-out")
        for step in spec.build {
            let r = try CLITests.run("/usr/bin/env", step, cwd: root, env: env)
            #expect(r.status == 0, "\(step): \(r.out)\(r.err)")
        }
        let r = try CLITests.run("/usr/bin/env", spec.run, cwd: root, env: env)
        #expect(r.status == 0, "\(spec.run): \(r.out)\(r.err)")
        return r.out
    }

    @Test(arguments: projects) func theMigratedProgramPrintsWhatItPrintedBefore(_ name: String) throws {
        let spec = try JSONDecoder().decode(Spec.self, from: Data(contentsOf: Self.fixtures.appendingPathComponent(name + ".json")))
        guard (try? CLITests.run("/usr/bin/env", ["sh", "-c", "command -v \(spec.tool)"]).status) == 0 else {
            if ProcessInfo.processInfo.environment["CI"].map({ !$0.isEmpty && $0 != "false" }) ?? false {
                Issue.record("\(name): \(spec.tool) is not installed (scripts/test.sh installs it)")
            } else {
                print("skipped \(name): \(spec.tool) is not installed (scripts/test.sh installs it)")
            }
            return
        }
        let root = try Self.project(name)
        let before = try Self.run(spec, root, env: [:])
        #expect(!before.isEmpty)
        for v in Self.values.values { #expect(!before.contains(v)) }

        let server = try VaultServerTests.Server()
        defer { server.kill() }
        let ca = server.dir + "/v/dev-ca.pem"
        let remote = server.remoteArgs
        let admin = server.adminEnv
        let report = root + "/../\(name)-migrate.json"
        let applied = try CLITests.arca(["migrate", root, "--apply", "--yes", "--no-history", "--report", report] + remote, env: admin)
        #expect(applied.status == 0, "\(applied.out)\(applied.err)")
        guard applied.status == 0 else { return }
        let r = try MigrateTests.json(report)
        let secrets = try #require(r["secrets"] as? [[String: Any]])
        #expect(Set(secrets.compactMap { $0["name"] as? String }).count == Set(spec.placeholders).count, "\(secrets.map { $0["name"] ?? "" })")
        // Every check ran with a toolchain and passed (the import, load or compile with the project's layout).
        let checks = try #require(r["checks"] as? [[String: Any]])
        #expect(checks.allSatisfy { $0["passed"] as? Bool == true && !($0["tool"] is NSNull) }, "\(checks)")
        let tracked = try MigrateTests.git(["ls-files"], root)
        for v in Self.values.values {
            let hit = try CLITests.run("/usr/bin/git", ["-C", root, "grep", "-lF", v, "--", "."])
            #expect(hit.out.isEmpty, "\(v.prefix(4))… left in \(hit.out)")
        }
        #expect(!tracked.isEmpty)

        let app = try VaultCLITests.json(try CLITests.arca(["vault", "app", "create", "\(name)-runner", "--output", "json"] + remote, env: admin).out)
        for s in secrets {
            let assign = try CLITests.arca(["vault", "role", "assign", "--role", s["role"] as! String, "--assignee", "\(name)-runner",
                                            "--scope", s["scope"] as! String] + remote, env: admin)
            #expect(assign.status == 0, "\(assign.err)")
        }
        var runtime = ["ARCA_VAULT_URL": server.url, "ARCA_CA_CERT": ca, "AZURE_TENANT_ID": admin["AZURE_TENANT_ID"]!,
                       "AZURE_CLIENT_ID": app["clientId"] as! String, "AZURE_CLIENT_SECRET": app["clientSecret"] as! String]
        if let trust = spec.trust {
            let home = server.dir + "/home"
            try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
            runtime["HOME"] = home
            let r = try CLITests.run("/usr/bin/env", trust.map { $0 == "{CA}" ? ca : $0 }, env: ["HOME": home])
            #expect(r.status == 0, "\(trust): \(r.out)\(r.err)")
        }
        #expect(try Self.run(spec, root, env: runtime) == before)

        // Rolled back (the vault taken from the migration's record): every file as committed, helpers gone.
        try? FileManager.default.removeItem(atPath: root + "/.build-out")
        let back = try CLITests.arca(["migrate", root, "--rollback"], env: admin)
        #expect(back.status == 0, "\(back.out)\(back.err)")
        #expect(try MigrateTests.git(["status", "--porcelain", "--untracked-files=all"], root).isEmpty)
    }
}

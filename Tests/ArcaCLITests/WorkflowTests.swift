import Foundation
import Testing

/// Arca in a team's workflow, on real git repositories: what a range or a staged change is blamed for, the
/// project config, the reports CI systems read, exit codes, progress and the version.
@Suite struct RangeAndRenameTests {
    static let key = CLITests.stripeKey
    static let slack = "xoxb-263594206564-2692305932455-Jb2Kq9LmN4pR7sT1vW3xY5zA"

    /// main holds an old secret; `pr` branches off it.
    static func repoWithOldSecret() throws -> Repo {
        let repo = try Repo()
        try repo.write("app.py", "import os\nSTRIPE = \"\(key)\"\n")
        try repo.git("add", ".")
        try repo.git("commit", "-qm", "old secret")
        try repo.git("checkout", "-qb", "pr")
        return repo
    }

    static func scanRange(_ repo: Repo, _ range: String, _ extra: [String] = []) throws -> (status: Int32, out: String, err: String) {
        try CLITests.arca(["scan", "--git", "--range", range, repo.path, "--format", "json"] + extra)
    }

    @Test func commentsAboveAnOldSecretAreNotBlamed() throws {
        let repo = try Self.repoWithOldSecret()
        try repo.write("app.py", "# a comment\n# another\nimport os\nSTRIPE = \"\(Self.key)\"\n")
        try repo.git("commit", "-qam", "comments")
        for range in ["main..HEAD", "main...HEAD", "main...pr"] {
            let r = try Self.scanRange(repo, range)
            #expect(r.status == 0, "\(range): \(r.out)\(r.err)")
            #expect(r.out.contains("\"alreadyInBase\": 1"), "\(range): counted, not silent")
            #expect(r.err.contains("already in the base"))
        }
        // Asked for, the moved secret is reported.
        #expect(try Self.scanRange(repo, "main...HEAD", ["--report-moved"]).status == 1)
    }

    @Test func renameThenReformatIsNotBlamed() throws {
        let repo = try Self.repoWithOldSecret()
        try repo.git("mv", "app.py", "service.py")
        try repo.git("commit", "-qm", "rename")
        try repo.write("service.py", "import os\n\nSTRIPE   =   \"\(Self.key)\"   # reformatted\n")
        try repo.git("commit", "-qam", "reformat")
        #expect(try Self.scanRange(repo, "main..pr").status == 0)
        // A new secret in the same range is reported, and attributed to its commit.
        try repo.write("bot.py", "TOKEN = \"\(Self.slack)\"\n")
        try repo.git("add", "bot.py")
        try repo.git("commit", "-qm", "bot token")
        let r = try Self.scanRange(repo, "main...pr")
        #expect(r.status == 1)
        let doc = try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as! [String: Any]
        let findings = doc["findings"] as! [[String: Any]]
        #expect(findings.count == 1 && findings[0]["path"] as? String == "bot.py")
        #expect((findings[0]["commit"] as? [String: Any])?["summary"] as? String == "bot token")
    }

    @Test func mergingMainIntoTheBranchBlamesNothingOfMain() throws {
        let repo = try Self.repoWithOldSecret()
        try repo.write("pr.txt", "work\n")
        try repo.git("add", ".")
        try repo.git("commit", "-qm", "pr work")
        try repo.git("checkout", "-q", "main")
        try repo.write("main.py", "SLACK = \"\(Self.slack)\"\n")
        try repo.git("add", ".")
        try repo.git("commit", "-qm", "main adds a secret")
        try repo.git("checkout", "-q", "pr")
        try repo.git("merge", "-q", "--no-edit", "main")
        #expect(try Self.scanRange(repo, "main...pr").status == 0)
        #expect(try Self.scanRange(repo, "main..pr").status == 0)
    }

    @Test func pureMoveIsNotBlockedByTheHook() throws {
        let repo = try Self.repoWithOldSecret()
        #expect(try CLITests.arca(["hook", "install", repo.path]).status == 0)
        try repo.git("mv", "app.py", "moved.py")
        let moved = try repo.sh(["git", "commit", "-qm", "move"])
        #expect(moved.status == 0, "\(moved.out)\(moved.err)")
        // A copy of the old value into a new file: not blocked by default, reported with --report-moved.
        try repo.write("deploy/other.py", "X = \"\(Self.key)\"\n")
        try repo.git("add", ".")
        #expect(try CLITests.arca(["scan", "--staged", repo.path]).status == 0)
        #expect(try CLITests.arca(["scan", "--staged", repo.path, "--report-moved"]).status == 1)
        // A new value is blocked.
        try repo.write("deploy/new.py", "T = \"\(Self.slack)\"\n")
        try repo.git("add", ".")
        let blocked = try repo.sh(["git", "commit", "-qm", "new"])
        #expect(blocked.status != 0 && (blocked.out + blocked.err).contains("deploy/new.py"))
    }

    @Test func partialScansListNoStaleBaselineEntries() throws {
        let repo = try Self.repoWithOldSecret()
        #expect(try CLITests.arca(["baseline", "create", "--git", repo.path, "-o", repo.path + "/.arca-baseline"]).status == 0)
        try repo.write("app.py", "import os\n")  // the baselined secret is gone from the tree
        try repo.git("commit", "-qam", "remove")
        try repo.write("x.txt", "x\n")
        try repo.git("add", "x.txt")
        let staged = try CLITests.arca(["scan", "--staged", repo.path, "--format", "json"])
        #expect(staged.out.contains("\"staleBaseline\": []"), "\(staged.out)")
        let range = try Self.scanRange(repo, "main..pr")
        #expect(range.out.contains("\"staleBaseline\": []"), "\(range.out)")
        let full = try CLITests.arca(["scan", repo.path, "--format", "json"])
        #expect(!full.out.contains("\"staleBaseline\": []"), "a full scan lists the stale entry")
    }

    @Test func envUsageNeverFailsOrEntersTheHookMessageOrSARIFUnlessAsked() throws {
        let repo = try Repo()
        try repo.write("README.md", "x\n")
        try repo.git("add", ".")
        try repo.git("commit", "-qm", "init")
        try repo.write("db.py", "import os\npw = os.environ['DB_PASSWORD']\n")
        try repo.git("add", ".")
        let hook = try CLITests.arca(["scan", "--staged", repo.path])
        #expect(hook.status == 0 && !hook.out.contains("DB_PASSWORD") && !hook.err.contains("DB_PASSWORD"))
        let asked = try CLITests.arca(["scan", "--staged", repo.path, "--env-usage", "credentials"])
        #expect(asked.status == 0 && asked.out.contains("DB_PASSWORD"))
        let sarif = try CLITests.arca(["scan", repo.path, "--format", "sarif"])
        #expect(sarif.status == 0 && !sarif.out.contains("DB_PASSWORD"))
        let sarifAsked = try CLITests.arca(["scan", repo.path, "--format", "sarif", "--env-usage", "credentials"])
        #expect(sarifAsked.status == 0 && sarifAsked.out.contains("DB_PASSWORD"))
        #expect(try CLITests.arca(["scan", repo.path]).out.contains("DB_PASSWORD"), "text reports keep them")
    }

    @Test func shallowCloneWithoutTheBaseSaysToFetchMore() throws {
        let repo = try Self.repoWithOldSecret()
        for i in 1...3 {
            try repo.write("f\(i).txt", "\(i)\n")
            try repo.git("add", ".")
            try repo.git("commit", "-qm", "c\(i)")
        }
        let base = try repo.git("rev-parse", "main").out.trimmingCharacters(in: .whitespacesAndNewlines)
        let clone = try CLITests.tree([:]) + "/clone"
        try repo.git("clone", "-q", "--depth", "1", "--branch", "pr", "file://" + repo.path, clone)
        let r = try CLITests.arca(["scan", "--git", "--range", base + "...HEAD", clone])
        #expect(r.status == 2, "\(r.out)\(r.err)")
        #expect(r.err.contains("shallow clone") && r.err.contains("fetch-depth: 0"), "\(r.err)")
        // Deepened far enough, the range scans.
        try Repo(path: clone).git("fetch", "-q", "--deepen=5")
        let deep = try CLITests.arca(["scan", "--git", "--range", base + "...HEAD", clone])
        #expect(deep.status == 0, "\(deep.out)\(deep.err)")
    }

    @Test func malformedRangesAreUsageErrors() throws {
        let repo = try Self.repoWithOldSecret()
        for bad in ["main", "main....HEAD", "..HEAD", "nosuch..HEAD"] {
            #expect(try Self.scanRange(repo, bad).status == 2, "\(bad)")
        }
    }
}

@Suite struct ProjectConfigTests {
    static let teamRule = """
        rules:
          - id: acme-internal-token
            description: ACME internal token
            provider: ACME
            severity: high
            keywords: [acme_]
            pattern: '\\b(?<secret>acme_[a-z0-9]{24})\\b'
            entropy: 3.0
            examples:
              positive: ['t = "acme_q1w2e3r4t5y6u7i8o9p0a1s2"', 'ACME=acme_z9x8c7v6b5n4m3l2k1j0h9g8']
              negative: ['t = "acme_short"', 't = "acme_"']

        """

    static func repoWithConfig(_ config: String) throws -> Repo {
        let repo = try Repo()
        try repo.write(".arca.yaml", config)
        try repo.write("security/rules/acme.yaml", teamRule)
        try repo.write("README.md", "x\n")
        try repo.git("add", ".")
        try repo.git("commit", "-qm", "init")
        return repo
    }

    @Test func theHookHonoursTheProjectsOwnRules() throws {
        let repo = try Self.repoWithConfig("rules: [security/rules]\n")
        #expect(try CLITests.arca(["hook", "install", repo.path]).status == 0)
        try repo.write("svc/client.py", "client.connect(\"acme_q7w8e9r0t1y2u3i4o5p6a7s8\")\n")
        try repo.git("add", ".")
        let blocked = try repo.sh(["git", "commit", "-qm", "team token"])
        #expect(!(blocked.out + blocked.err).contains("security/rules"), "the rule file's own examples are not findings")
        #expect(blocked.status != 0 && (blocked.out + blocked.err).contains("acme-internal-token"), "\(blocked.out)\(blocked.err)")
        // Found from a subdirectory, and from a linked worktree.
        #expect(try CLITests.arca(["scan", repo.path + "/svc"]).status == 1)
        try repo.git("commit", "-qm", "x", "--no-verify")
        let wt = try CLITests.tree([:]) + "/wt"
        try repo.git("worktree", "add", "-q", wt)
        #expect(try CLITests.arca(["scan", wt + "/svc"]).status == 1)
        #expect(try CLITests.arca(["scan", wt + "/svc", "--no-config"]).status == 0)
        #expect(try CLITests.arca(["scan", "--git", wt]).status == 1)
    }

    @Test func allowlistAndSettingsApplyAndTheCommandLineWins() throws {
        let key = CLITests.stripeKey
        let repo = try Self.repoWithConfig("""
            allowlist:
              paths: ["fixtures/**"]
              regexes: ['^sk_live_51Hq2vKj4Lm8Np0']
              stopwords: [notreal]
            fail-on: critical
            max-file-size: 1

            """)
        try repo.write("fixtures/a.py", "K = \"xoxb-263594206564-2692305932455-Jb2Kq9LmN4pR7sT1vW3xY5zA\"\n")
        try repo.write("src/b.py", "K = \"\(key)\"\n")
        try repo.write("src/c.py", "password = \"Notreal-Kq8!vR2mZp\"\n")
        #expect(try CLITests.arca(["scan", repo.path]).status == 0)
        #expect(try CLITests.arca(["scan", repo.path + "/src"]).status == 0)
        #expect(try CLITests.arca(["scan", repo.path + "/fixtures"]).status == 0, "globs match from the repository root")
        #expect(try CLITests.arca(["scan", repo.path, "--no-config"]).status == 1)
        // fail-on critical from the config; --fail-on on the command line overrides it.
        try repo.write("src/d.yml", "password: Kq8!vR2mZp-h7\n")
        #expect(try CLITests.arca(["scan", repo.path + "/src"]).status == 0)
        #expect(try CLITests.arca(["scan", repo.path + "/src", "--fail-on", "low"]).status == 1)
        // max-file-size 1 MiB from the config.
        try repo.write("big.txt", String(repeating: "a", count: 1_200_000))
        let big = try CLITests.arca(["scan", repo.path, "--format", "json"])
        #expect(big.out.contains("big.txt") && big.out.contains("too large"))
        #expect(!(try CLITests.arca(["scan", repo.path, "--format", "json", "--max-file-size", "5"]).out.contains("too large")))
    }

    @Test func fingerprintsInTheAllowlistAreDroppedAndCounted() throws {
        let repo = try Self.repoWithConfig("")
        try repo.write("a.py", "K = \"\(CLITests.stripeKey)\"\n")
        let first = try CLITests.arca(["scan", repo.path, "--format", "json"])
        let fp = try #require(first.out.firstMatch(of: /"fingerprint": "([0-9a-f]{32})"/)?.1)
        try repo.write(".arca.yaml", "allowlist:\n  fingerprints: [\(fp)]\n")
        let r = try CLITests.arca(["scan", repo.path, "--format", "json"])
        #expect(r.status == 0 && r.out.contains("\"allowlisted\": 1"))
    }

    @Test func configCheckNamesTheLineAndUnknownKeysAreErrors() throws {
        let cases: [(String, String)] = [
            ("min-confidence: medium\nfail_on: high\n", ".arca.yaml:2"),
            ("allowlist:\n  path: [x]\n", ".arca.yaml:2"),
            ("min-confidence: sure\n", ".arca.yaml:1"),
            ("max-file-size: -3\n", ".arca.yaml:1"),
            ("allowlist:\n  regexes: ['(unclosed']\n", ".arca.yaml:2"),
            ("allowlist:\n  fingerprints: [abc]\n", ".arca.yaml:2"),
            ("rules: [no/such/dir]\n", "no/such/dir"),
            ("key: [unclosed\n", ".arca.yaml"),
            ("- a list\n", ".arca.yaml:1"),
        ]
        for (text, where_) in cases {
            let repo = try Self.repoWithConfig(text)
            let check = try CLITests.arca(["config", "check", repo.path])
            #expect(check.status == 2 && check.err.contains(where_), "\(text): \(check.err)")
            // Every scan refuses it too: never a silent fallback to defaults.
            let scan = try CLITests.arca(["scan", repo.path])
            #expect(scan.status == 2 && scan.err.contains("invalid"), "\(text): \(scan.err)")
            let staged = try CLITests.arca(["scan", "--staged", repo.path])
            #expect(staged.status == 2, "\(text): \(staged.status) \(staged.err)")
        }
        let good = try Self.repoWithConfig("rules: [security/rules]\nenv-usage: none\n")
        let ok = try CLITests.arca(["config", "check", good.path])
        #expect(ok.status == 0 && ok.out.contains("1 extra rule"), "\(ok.err)")
        let none = try Repo()
        #expect(try CLITests.arca(["config", "check", none.path]).status == 2)
    }

    @Test func migrateHonoursTheConfig() throws {
        let repo = try Self.repoWithConfig("rules: [security/rules]\nallowlist:\n  paths: [legacy/]\n")
        try repo.write("svc/client.py", "client.connect(\"acme_q7w8e9r0t1y2u3i4o5p6a7s8\")\n")
        try repo.write("legacy/old.py", "K = \"\(CLITests.stripeKey)\"\n")
        try repo.git("add", ".")
        try repo.git("commit", "-qm", "code", "--no-verify")
        let plan = try CLITests.arca(["migrate", repo.path])
        #expect(plan.status == 0, "\(plan.err)")
        #expect(plan.out.contains("svc/client.py") && !plan.out.contains("legacy/old.py"), "\(plan.out)")
        // The team's rule files hold fake secrets in their examples: never findings, never migrated.
        #expect(!plan.out.contains("security/rules"), "\(plan.out)")
    }
}

@Suite struct CIReportTests {
    static var python: String { CLITests.repoRoot.appendingPathComponent(".build/test-venv/bin/python").path }

    static func validate(_ doc: String, schema: String) throws -> (status: Int32, out: String, err: String) {
        let dir = try CLITests.tree(["doc.json": doc, "schema.json": schema])
        let check = """
        import json, sys, jsonschema
        jsonschema.validate(json.load(open(sys.argv[1])), json.load(open(sys.argv[2])))
        print("valid")
        """
        return try CLITests.run(python, ["-c", check, dir + "/doc.json", dir + "/schema.json"])
    }

    @Test func sarifURIsAreRelativeToTheRepositoryRoot() throws {
        let repo = try Repo()
        try repo.write("src/legacy.py", "K = \"\(CLITests.stripeKey)\"\nJ = \"\(CLITests.stripeKey)\"\n")
        try repo.write("my config.py", "K = \"\(CLITests.stripeKey)\"\n")
        for (target, uri) in [("src", "src/legacy.py"), ("my config.py", "my%20config.py"), (".", "src/legacy.py"),
                              ("src/legacy.py", "src/legacy.py")] {
            let r = try CLITests.arca(["scan", repo.path + "/" + target, "--format", "sarif"])
            let doc = try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as! [String: Any]
            let run = (doc["runs"] as! [[String: Any]])[0]
            let results = run["results"] as! [[String: Any]]
            let uris = results.map { (((($0["locations"] as! [[String: Any]])[0]["physicalLocation"] as! [String: Any])["artifactLocation"] as! [String: Any])["uri"] as! String) }
            #expect(uris.contains(uri), "\(target): \(uris)")
            let base = ((run["originalUriBaseIds"] as! [String: Any])["%SRCROOT%"] as! [String: Any])["uri"] as! String
            #expect(base.hasSuffix(URL(fileURLWithPath: repo.path).resolvingSymlinksInPath().lastPathComponent + "/"), "\(base)")
            let fps = results.map { ($0["partialFingerprints"] as! [String: String]).values.first! }
            #expect(Set(fps).count == fps.count, "\(target): every occurrence has its own fingerprint")
        }
    }

    /// The required fields of GitLab's secret-detection report schema (security-report-schemas, 15.x), written
    /// out here from its published definition.
    static let gitlabSchema = """
    {"type": "object", "required": ["version", "vulnerabilities", "scan"],
     "properties": {
      "version": {"type": "string", "pattern": "^[0-9]+\\\\.[0-9]+\\\\.[0-9]+$"},
      "scan": {"type": "object", "required": ["analyzer", "scanner", "start_time", "end_time", "status", "type"],
        "properties": {
          "analyzer": {"$ref": "#/$defs/tool"}, "scanner": {"$ref": "#/$defs/tool"},
          "type": {"const": "secret_detection"},
          "start_time": {"type": "string", "pattern": "^\\\\d{4}-\\\\d{2}-\\\\d{2}T\\\\d{2}:\\\\d{2}:\\\\d{2}$"},
          "end_time": {"type": "string", "pattern": "^\\\\d{4}-\\\\d{2}-\\\\d{2}T\\\\d{2}:\\\\d{2}:\\\\d{2}$"},
          "status": {"enum": ["success", "failure"]}}},
      "vulnerabilities": {"type": "array", "items": {"type": "object",
        "required": ["id", "identifiers", "location"],
        "properties": {
          "id": {"type": "string", "minLength": 1},
          "name": {"type": "string", "maxLength": 255},
          "description": {"type": "string", "maxLength": 1048576},
          "severity": {"enum": ["Info", "Unknown", "Low", "Medium", "High", "Critical"]},
          "identifiers": {"type": "array", "minItems": 1, "items": {"type": "object", "required": ["type", "name", "value"],
            "properties": {"type": {"type": "string", "minLength": 1}, "name": {"type": "string", "minLength": 1},
                           "value": {"type": "string", "minLength": 1}}}},
          "location": {"type": "object", "required": ["commit"], "properties": {
            "file": {"type": "string", "minLength": 1}, "start_line": {"type": "integer"}, "end_line": {"type": "integer"},
            "commit": {"type": "object", "required": ["sha"], "properties": {"sha": {"type": "string", "minLength": 1}}}}}}}}},
     "$defs": {"tool": {"type": "object", "required": ["id", "name", "version", "vendor"],
        "properties": {"id": {"type": "string", "minLength": 1}, "name": {"type": "string", "minLength": 1},
                       "version": {"type": "string", "minLength": 1},
                       "vendor": {"type": "object", "required": ["name"]}}}}}
    """

    @Test func gitlabReportHasTheSchemasRequiredFieldsAndNoSecret() throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.python), "run scripts/test.sh: it installs jsonschema")
        let repo = try Repo()
        try repo.write("a.py", "K = \"\(CLITests.stripeKey)\"\nK2 = \"\(CLITests.stripeKey)\"\nimport os\npw = os.environ['DB_PASSWORD']\n")
        try repo.git("add", ".")
        try repo.git("commit", "-qm", "leak")
        for args in [["scan", repo.path], ["scan", "--git", repo.path]] {
            let r = try CLITests.arca(args + ["--format", "gitlab"])
            #expect(r.status == 1)
            #expect(!r.out.contains(CLITests.stripeKey) && !r.out.contains("DB_PASSWORD"))
            let v = try Self.validate(r.out, schema: Self.gitlabSchema)
            #expect(v.status == 0, "\(v.out)\(v.err)")
            let doc = try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as! [String: Any]
            let vulns = doc["vulnerabilities"] as! [[String: Any]]
            // A history scan reports a secret once per file and commit; a tree scan each occurrence.
            let expected = args.contains("--git") ? 1 : 2
            #expect(vulns.count == expected && Set(vulns.map { $0["id"] as! String }).count == expected)
        }
    }

    @Test func jsonReportValidatesAgainstItsPublishedSchema() throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.python), "run scripts/test.sh: it installs jsonschema")
        let schema = try String(contentsOf: CLITests.repoRoot.appendingPathComponent("docs/report-schema.json"), encoding: .utf8)
        let repo = try Repo()
        try repo.write("a.py", "K = \"\(CLITests.stripeKey)\"\nimport os\npw = os.environ['DB_PASSWORD']\n")
        try repo.write("b.bin", "\u{0}\u{1}binary")
        try repo.git("add", ".")
        try repo.git("commit", "-qm", "leak")
        for args in [["scan", repo.path], ["scan", "--git", repo.path], ["scan", repo.path, "--no-redact"]] {
            let r = try CLITests.arca(args + ["--format", "json"])
            #expect(r.out.contains("\"schemaVersion\": \"1.0\""))
            let v = try Self.validate(r.out, schema: schema)
            #expect(v.status == 0, "\(args): \(v.out)\(v.err)")
        }
    }

    @Test func exitCodeAndReportOnly() throws {
        let dirty = try CLITests.tree(["a.py": "k = \"\(CLITests.stripeKey)\"\n"])
        #expect(try CLITests.arca(["scan", dirty, "--exit-code", "42"]).status == 42)
        #expect(try CLITests.arca(["scan", dirty, "--exit-code", "0"]).status == 0)
        let only = try CLITests.arca(["scan", dirty, "--report-only"])
        #expect(only.status == 0 && only.out.contains("stripe-live-secret-key"))
        #expect(try CLITests.arca(["scan", dirty, "--exit-code", "3"]).status == 2)
        #expect(try CLITests.arca(["scan", dirty + "/missing", "--report-only"]).status == 2, "errors keep their codes")
        let clean = try CLITests.tree(["a.py": "x = 1\n"])
        #expect(try CLITests.arca(["scan", clean, "--exit-code", "42"]).status == 0)
    }

    @Test func versionAndCompletions() throws {
        for args in [["version"], ["-V"], ["--version"]] {
            let r = try CLITests.arca(args)
            #expect(r.status == 0 && r.out.contains("0.2.0"), "\(args)")
        }
        for shell in ["bash", "zsh", "fish"] {
            let r = try CLITests.arca(["completions", shell])
            #expect(r.status == 0 && r.out.contains("scan"), "\(shell)")
        }
        #expect(try CLITests.arca(["completions", "tcsh"]).status == 2)
        let changelog = try String(contentsOf: CLITests.repoRoot.appendingPathComponent("CHANGELOG.md"), encoding: .utf8)
        #expect(changelog.contains("## 0.2.0"), "the CHANGELOG names the version the binary reports")
    }

    /// Progress on a terminal only: `script` gives the scan a pseudo-terminal.
    @Test func progressOnlyOnATerminal() throws {
        let dir = try CLITests.tree(Dictionary(uniqueKeysWithValues: (0..<300).map { ("f\($0).txt", String(repeating: "x = \($0)\n", count: 200)) }))
        let script = "/usr/bin/script"
        try #require(FileManager.default.isExecutableFile(atPath: script))
        let cmd = "\(CLITests.binary) scan \(dir) --threads 1"
        let tty = try CLITests.run(script, ["-qec", cmd, "/dev/null"], env: ["ARCA_PROGRESS_AFTER_MS": "0", "CI": ""])
        #expect(tty.out.contains("files,") && tty.out.contains("MB/s"), "\(tty.out)")
        let ci = try CLITests.run(script, ["-qec", cmd, "/dev/null"], env: ["ARCA_PROGRESS_AFTER_MS": "0", "CI": "true"])
        #expect(!ci.out.contains("MB/s"))
        let quiet = try CLITests.run(script, ["-qec", cmd + " -q", "/dev/null"], env: ["ARCA_PROGRESS_AFTER_MS": "0", "CI": ""])
        #expect(!quiet.out.contains("MB/s"))
        let pipe = try CLITests.arca(["scan", dir], env: ["ARCA_PROGRESS_AFTER_MS": "0", "CI": ""])
        #expect(!pipe.err.contains("MB/s"))
    }
}

/// What the cold pass found: each reproduction, as it was reported.
@Suite struct WorkflowOutsiderTests {
    static let key = CLITests.stripeKey

    static func branchRepo(_ base: [String: String]) throws -> Repo {
        let repo = try Repo()
        try repo.write("README.md", "x\n")
        for (p, t) in base { try repo.write(p, t) }
        try repo.git("add", ".")
        try repo.git("commit", "-qm", "base")
        try repo.git("branch", "base")
        try repo.git("checkout", "-qb", "f")
        return repo
    }

    static func commit(_ repo: Repo, _ files: [String: String], _ message: String) throws {
        for (p, t) in files { try repo.write(p, t) }
        try repo.git("add", ".")
        try repo.git("commit", "-qm", message, "--no-verify")
    }

    /// A value that only appears as text in the base (no rule found it there), or a prefix of an old key, is no
    /// alibi for a new secret.
    @Test func aValueTheBaseHoldsOnlyAsTextIsStillNew() throws {
        let password = "Tr0ub4dor-Xq7Zk2"
        let repo = try Self.branchRepo(["notes.txt": "release codename \(password)\n", "old.py": "K = \"\(Self.key)\"\n"])
        try Self.commit(repo, ["db.yml": "db:\n  password: \"\(password)\"\n", "k.py": "K = \"\(Self.key.prefix(60))\"\n"], "adds")
        let r = try CLITests.arca(["scan", "--git", "--range", "base..f", repo.path, "--format", "json"])
        #expect(r.status == 1 && r.out.contains("\"alreadyInBase\": 0"), "\(r.out)")
        #expect(r.out.contains("db.yml") && r.out.contains("k.py"))
        // The hook the same (HEAD holds the password only as text).
        try repo.git("checkout", "-q", "-b", "g", "base")
        try repo.write("staged.yml", "db:\n  password: \"\(password)\"\n")
        try repo.git("add", "staged.yml")
        #expect(try CLITests.arca(["scan", "--staged", repo.path]).status == 1)
    }

    @Test func aRangeScansBigAndBinaryFilesItAdds() throws {
        let repo = try Self.branchRepo([:])
        let big = "K = \"\(Self.key)\"\n" + String(repeating: String(repeating: "y", count: 99) + "\n", count: 110_000)
        try Self.commit(repo, ["data.py": big], "big")
        let r = try CLITests.arca(["scan", "--git", "--range", "base..f", repo.path, "--format", "sarif"])
        #expect(r.status == 1 && r.out.contains("data.py"), "\(r.err)")
        try Self.commit(repo, ["blob.bin": "\u{0}\u{1}\u{2}K=sk_live_51Zq2vKj4Lm8Np0Rs3Tu6Vw9Xy1Za4Bc7De0Fg3Hi6Jk9Lm2No5Pq8Rs1Tu4Vw7\u{0}"], "binary")
        let b = try CLITests.arca(["scan", "--git", "--range", "f~1..f", repo.path, "--format", "json"])
        #expect(b.status == 1 && b.out.contains("blob.bin"), "\(b.out)")
    }

    @Test func historyNamesAllowlistedPathsAndARangeChangingTheConfigIsFlagged() throws {
        let repo = try Self.branchRepo([:])
        try Self.commit(repo, [".arca.yaml": "allowlist:\n  paths: [leak.py]\n", "leak.py": "K = \"\(Self.key)\"\n"], "sneaky")
        let r = try CLITests.arca(["scan", "--git", "--range", "base..f", repo.path, "--format", "sarif"])
        #expect(r.status == 0)
        #expect(r.err.contains("change .arca.yaml"), "\(r.err)")
        #expect(r.out.contains("change .arca.yaml"), "the warning reaches code scanning")
        let j = try CLITests.arca(["scan", "--git", repo.path, "--format", "json"])
        #expect(j.out.contains("\"path\": \"leak.py\""), "\(j.out)")
    }

    @Test func theHookSaysBlockedOnlyWhenItBlocks() throws {
        let repo = try Self.branchRepo([".arca.yaml": "fail-on: critical\n"])
        try repo.write("p.yml", "db:\n  password: \"Kq8!vR2mZp-h7w\"\n")
        try repo.git("add", "p.yml")
        let r = try CLITests.arca(["scan", "--staged", repo.path])
        #expect(r.status == 0 && !r.out.contains("Commit blocked") && r.out.contains("not blocked"), "\(r.out)")
        let only = try CLITests.arca(["scan", "--staged", repo.path, "--fail-on", "low", "--report-only"])
        #expect(only.status == 0 && !only.out.contains("Commit blocked"))
        #expect(try CLITests.arca(["scan", "--staged", repo.path, "--fail-on", "low"]).out.contains("Commit blocked"))
    }

    @Test func concludingAConflictedMergeOfTheBaseIsNotBlocked() throws {
        let repo = try Repo()
        try repo.write("c.txt", "l1\n")
        try repo.git("add", ".")
        try repo.git("commit", "-qm", "i")
        #expect(try CLITests.arca(["hook", "install", repo.path]).status == 0)
        try repo.git("checkout", "-qb", "feat")
        try Self.commit(repo, ["c.txt": "feat\n"], "feat")
        try repo.git("checkout", "-q", "main")
        try Self.commit(repo, ["c.txt": "main\n", "m.py": "K = '\(Self.key)'\n"], "m")
        try repo.git("checkout", "-q", "feat")
        _ = try repo.git("merge", "main")  // conflicts
        try repo.write("c.txt", "ok\n")
        try repo.git("add", "c.txt")
        let done = try repo.sh(["git", "commit", "--no-edit"])
        #expect(done.status == 0, "\(done.out)\(done.err)")
    }

    @Test func aSecretAddedThenMovedInTheRangeIsReportedOnceAtItsCommit() throws {
        let repo = try Self.branchRepo([:])
        try Self.commit(repo, ["k.py": "K = '\(Self.key)'\n"], "adds secret")
        try repo.git("mv", "k.py", "moved.py")
        try repo.git("commit", "-qm", "rename")
        try Self.commit(repo, ["moved.py": "# c\nK = '\(Self.key)'\n"], "comment above")
        let r = try CLITests.arca(["scan", "--git", "--range", "base..f", repo.path, "--format", "json"])
        let doc = try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as! [String: Any]
        let findings = doc["findings"] as! [[String: Any]]
        #expect(findings.count == 1, "\(r.out)")
        #expect((findings.first?["commit"] as? [String: Any])?["summary"] as? String == "adds secret")
    }

    @Test func fingerprintsDoNotDependOnTheScannedDirectory() throws {
        let repo = try Self.branchRepo(["src/lib/k.py": "K = '\(Self.key)'\n"])
        let fp = { (args: [String]) throws -> String? in
            try CLITests.arca(args + ["--format", "json"]).out.firstMatch(of: /"fingerprint": "([0-9a-f]{32})"/).map { String($0.1) }
        }
        let root = try fp(["scan", repo.path])
        let sub = try fp(["scan", repo.path + "/src/lib"])
        let file = try fp(["scan", repo.path + "/src/lib/k.py"])
        let history = try fp(["scan", "--git", repo.path])
        #expect(root != nil && root == sub && root == file && root == history)
        #expect(try CLITests.arca(["baseline", "create", repo.path, "-o", repo.path + "/.arca-baseline"]).status == 0)
        #expect(try CLITests.arca(["scan", repo.path + "/src/lib"]).status == 0, "the root's baseline serves a subdirectory")
    }

    @Test func configFilesThatAreNotConfigFilesAreErrors() throws {
        let repo = try Repo()
        try FileManager.default.createDirectory(atPath: repo.path + "/.arca.yaml", withIntermediateDirectories: true)
        #expect(try CLITests.arca(["config", "check", repo.path]).status == 2)
        #expect(try CLITests.arca(["scan", repo.path]).status == 2)
        try FileManager.default.removeItem(atPath: repo.path + "/.arca.yaml")
        var bomb = "x0: &x0 [a,a,a,a,a,a,a,a,a,a]\n"
        for i in 1...7 { bomb += "x\(i): &x\(i) [" + Array(repeating: "*x\(i - 1)", count: 10).joined(separator: ",") + "]\n" }
        try repo.write(".arca.yaml", bomb + "allowlist:\n  stopwords: *x7\n")
        let b = try CLITests.arca(["scan", repo.path])
        #expect(b.status == 2 && b.err.contains("expands"), "\(b.err)")
        try repo.write(".arca.yaml", "fail-on: high\nfail-on: low\n")
        #expect(try CLITests.arca(["config", "check", repo.path]).err.contains(".arca.yaml:2"))
        try repo.write(".arca.yaml", "allowlist:\n  regexes:\n    - ok1\n    - ok2\n    - '(bad'\n")
        #expect(try CLITests.arca(["config", "check", repo.path]).err.contains(".arca.yaml:5"))
    }

    @Test func migrateTakesConfigOptionsAndGitlabCarriesNoRemovedFields() throws {
        let repo = try Self.branchRepo(["legacy/old.py": "K = \"\(Self.key)\"\n", "cfg.yaml": "allowlist:\n  paths: [legacy/]\n"])
        let with = try CLITests.arca(["migrate", repo.path, "--config", repo.path + "/cfg.yaml"])
        #expect(with.status == 0 && with.out.contains("Nothing to migrate"), "\(with.out)\(with.err)")
        let without = try CLITests.arca(["migrate", repo.path, "--no-config"])
        #expect(without.out.contains("legacy/old.py"))
        let g = try CLITests.arca(["scan", repo.path, "--format", "gitlab"]).out
        for removed in ["\"cve\"", "\"category\"", "\"confidence\"", "\"scanner\": {\"id\""] { #expect(!g.contains(removed), "\(removed)") }
    }
}

/// The hook's cache of what HEAD's blobs hold: never a value in it, damage ignored, same answers cached or not.
@Suite struct BlobKeyCacheTests {
    @Test func cachedAndUncachedAnswersAgreeAndTheCacheHoldsNoSecret() throws {
        let key = CLITests.stripeKey
        let repo = try RangeAndRenameTests.repoWithOldSecret()
        let cache = repo.path + "/.git/arca-blob-keys"
        try repo.write("copy.py", "C = \"\(key)\"\n")
        try repo.write("new.py", "N = \"\(RangeAndRenameTests.slack)\"\n")
        try repo.git("add", ".")
        for round in 0..<3 {
            if round == 2 { try "arca-blob-keys 1 garbage\nzz\n".write(toFile: cache, atomically: true, encoding: .utf8) }
            let r = try CLITests.arca(["scan", "--staged", repo.path, "--format", "json"])
            #expect(r.status == 1, "round \(round)")
            #expect(r.out.contains("new.py") && !r.out.contains("copy.py"), "round \(round): \(r.out)")
            #expect(r.out.contains("\"alreadyInBase\": 1"))
        }
        let text = try String(contentsOfFile: cache, encoding: .utf8)
        #expect(!text.contains(key) && !text.contains(String(key.prefix(12))))
        let mode = try FileManager.default.attributesOfItem(atPath: cache)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        // Other rules, other stamp: the cache is rebuilt, not trusted.
        let rules = try CLITests.tree(["r.yaml": ProjectConfigTests.teamRule])
        #expect(try CLITests.arca(["scan", "--staged", repo.path, "--rules", rules]).status == 1)
    }
}

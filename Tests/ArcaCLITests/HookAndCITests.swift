import Foundation
import Testing
#if canImport(FoundationXML)
import FoundationXML
#endif

/// A repository built with real git commands.
struct Repo {
    let path: String

    init(path: String) { self.path = path }

    init() throws {
        path = try CLITests.tree([:])
        try git("init", "-q", "-b", "main")
        try git("config", "user.email", "dev@acme.test")
        try git("config", "user.name", "Dev One")
    }

    @discardableResult
    func git(_ args: String...) throws -> (status: Int32, out: String, err: String) {
        try sh(["git"] + args)
    }

    @discardableResult
    func sh(_ argv: [String], env: [String: String] = [:]) throws -> (status: Int32, out: String, err: String) {
        // The hook and the CI lines call `arca` by name: put the built binary first on PATH.
        let searchPath = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        let bin = URL(fileURLWithPath: CLITests.binary).deletingLastPathComponent().path
        return try CLITests.run("/usr/bin/env", argv, cwd: self.path, env: ["PATH": bin + ":" + searchPath].merging(env) { $1 })
    }

    func write(_ rel: String, _ text: String) throws {
        let url = URL(fileURLWithPath: path).appendingPathComponent(rel)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try text.write(to: url, atomically: true, encoding: .utf8)
    }
}

@Suite struct HookTests {
    static let slack = "xoxb-263594206564-2692305932455-Jb2Kq9LmN4pR7sT1vW3xY5zA"

    @Test func realCommitIsBlockedThenAcceptedAfterIgnoreOrBaseline() throws {
        let repo = try Repo()
        try repo.write("README.md", "hi\n")
        try repo.git("add", "README.md")
        #expect(try repo.git("commit", "-qm", "init").status == 0)
        // An existing hook is kept and keeps working.
        try repo.write(".git/hooks/pre-commit", "#!/bin/sh\ntouch \"$(git rev-parse --git-dir)/previous-ran\"\n")
        chmod(repo.path + "/.git/hooks/pre-commit", 0o755)
        let install = try CLITests.arca(["hook", "install", repo.path])
        #expect(install.status == 0 && install.err.contains("pre-commit.arca-previous"))

        try repo.write("app.py", "STRIPE = \"\(CLITests.stripeKey)\"\n")
        try repo.git("add", "app.py")
        let blocked = try repo.git("commit", "-qm", "leak")
        #expect(blocked.status != 0)
        let text = blocked.out + blocked.err
        #expect(text.contains("Commit blocked") && text.contains("app.py") && text.contains("stripe-live-secret-key"))
        #expect(text.contains("arca migrate") && text.contains("arca:ignore") && text.contains("arca baseline create"))
        #expect(!text.contains(CLITests.stripeKey), "the secret is redacted")
        #expect(FileManager.default.fileExists(atPath: repo.path + "/.git/previous-ran"))
        #expect(try repo.git("log", "--oneline").out.split(separator: "\n").count == 1)

        // A false positive marked inline goes through.
        try repo.write("app.py", "STRIPE = \"\(CLITests.stripeKey)\"  # arca:ignore\n")
        try repo.git("add", "app.py")
        #expect(try repo.git("commit", "-qm", "ignored").status == 0)

        // A baselined secret goes through; a new one is still blocked.
        try repo.write("bot.py", "TOKEN = \"\(Self.slack)\"\n")
        try repo.git("add", "bot.py")
        #expect(try repo.git("commit", "-qm", "bot").status != 0)
        #expect(try CLITests.arca(["baseline", "create", repo.path, "-o", repo.path + "/.arca-baseline"]).status == 0)
        try repo.git("add", ".arca-baseline")
        let accepted = try repo.sh(["git", "commit", "-qm", "bot, baselined"])
        #expect(accepted.status == 0, "\(accepted.out)\(accepted.err)")
        try repo.write("more.py", "K = \"sk_live_51Zq2vKj4Lm8Np0Rs3Tu6Vw9Xy1Za4Bc7De0Fg3Hi6Jk9Lm2No5Pq8Rs1Tu4Vw7\"\n")
        try repo.git("add", "more.py")
        #expect(try repo.git("commit", "-qm", "new leak").status != 0)
        // Unstaged secrets do not block.
        try repo.git("reset", "-q", "more.py")
        try repo.write("notes.txt", "ok\n")
        try repo.git("add", "notes.txt")
        #expect(try repo.git("commit", "-qm", "notes").status == 0)
    }

    /// The repository's .pre-commit-hooks.yaml, used through the pre-commit framework (installed by
    /// scripts/test.sh), blocks a staged secret and lets a clean change through.
    @Test func preCommitFrameworkRunsTheHook() throws {
        let tool = CLITests.repoRoot.appendingPathComponent(".build/test-venv/bin/pre-commit").path
        try #require(FileManager.default.isExecutableFile(atPath: tool), "run scripts/test.sh: it installs pre-commit")
        let head = try Repo(path: CLITests.repoRoot.path).git("rev-parse", "HEAD").out
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let repo = try Repo()
        try repo.write(".pre-commit-config.yaml", """
            repos:
              - repo: \(CLITests.repoRoot.path)
                rev: \(head)
                hooks:
                  - id: arca
            """)
        try repo.write("app.py", "STRIPE = \"\(CLITests.stripeKey)\"\n")
        try repo.git("add", ".")
        let env = ["PRE_COMMIT_HOME": try CLITests.tree([:])]
        let blocked = try repo.sh([tool, "run"], env: env)
        #expect(blocked.status != 0, "\(blocked.out)\(blocked.err)")
        #expect(blocked.out.contains("stripe-live-secret-key") && !blocked.out.contains(CLITests.stripeKey))
        try repo.write("app.py", "STRIPE = os.environ['STRIPE_KEY']\n")
        try repo.git("add", ".")
        let clean = try repo.sh([tool, "run"], env: env)
        #expect(clean.status == 0, "\(clean.out)\(clean.err)")
    }

    @Test func installIsIdempotentAndForceReplaces() throws {
        let repo = try Repo()
        try repo.write(".git/hooks/pre-commit", "#!/bin/sh\nexit 0\n")
        #expect(try CLITests.arca(["hook", "install", repo.path, "--force"]).err.contains("replaced"))
        #expect(!FileManager.default.fileExists(atPath: repo.path + "/.git/hooks/pre-commit.arca-previous"))
        #expect(try CLITests.arca(["hook", "install", repo.path]).err.contains("updated"))
        let hook = try String(contentsOfFile: repo.path + "/.git/hooks/pre-commit", encoding: .utf8)
        #expect(hook.contains("scan --staged"))
        let notRepo = try CLITests.tree(["a": "b"])
        #expect(try CLITests.arca(["hook", "install", notRepo]).status == 2)
    }

    @Test func gitModesExitCodes() throws {
        let notRepo = try CLITests.tree(["a.py": "x = 1\n"])
        let r = try CLITests.arca(["scan", "--git", notRepo])
        #expect(r.status == 2 && r.err.contains("not a git repository"))
        #expect(try CLITests.arca(["scan", "--staged", notRepo]).status == 2)
        #expect(try CLITests.arca(["scan", "--git", "--staged", notRepo]).status == 2)
        #expect(try CLITests.arca(["scan", "--range", "a..b", notRepo]).status == 2, "--range needs --git")
        let repo = try Repo()
        try repo.write("a.py", "x = 1\n")
        try repo.git("add", ".")
        try repo.git("commit", "-qm", "one")
        #expect(try CLITests.arca(["scan", "--git", repo.path]).status == 0)
        #expect(try CLITests.arca(["scan", "--git", repo.path, "--range", "nosuch..HEAD"]).status == 2)
    }
}

/// Runs the `arca scan` lines of the CI jobs in docs/ci.md, as written, against a real repository.
@Suite struct CITests {
    static func ciLines() throws -> [String] {
        let doc = try String(contentsOf: CLITests.repoRoot.appendingPathComponent("docs/ci.md"), encoding: .utf8)
        return doc.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { $0.hasPrefix("arca scan --git") || $0.hasPrefix("- arca scan --git") }
            .map { $0.hasPrefix("- ") ? String($0.dropFirst(2)) : $0 }
    }

    /// origin/main with an old leak; a feature branch that moves it and adds a new one (or not).
    static func pullRequest(leak: Bool) throws -> Repo {
        let origin = try Repo()
        try origin.write("old.py", "K = \"\(CLITests.stripeKey)\"\n")
        try origin.git("add", ".")
        try origin.git("commit", "-qm", "old leak on main")
        let repo = Repo(path: try CLITests.tree([:]))
        try repo.sh(["git", "clone", "-q", origin.path, "."])
        try repo.git("config", "user.email", "dev@acme.test")
        try repo.git("config", "user.name", "Dev One")
        try repo.git("checkout", "-q", "-b", "feature")
        try repo.git("mv", "old.py", "legacy.py")
        try repo.git("commit", "-qm", "move")
        try repo.write("new.py", leak ? "T = \"\(HookTests.slack)\"\n" : "x = 1\n")
        try repo.git("add", ".")
        try repo.git("commit", "-qm", "feature work")
        return repo
    }

    @Test func workflowsInTheDocsRunForReal() throws {
        let lines = try Self.ciLines()
        #expect(lines.count == 2, "one scan line for GitHub, one for GitLab: \(lines)")
        let env = ["GITHUB_BASE_REF": "main", "CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "main"]
        for line in lines {
            let dirty = try Self.pullRequest(leak: true)
            let r = try dirty.sh(["sh", "-c", line], env: env)
            #expect(r.status == 1, "\(line): \(r.err)")
            let clean = try Self.pullRequest(leak: false)
            #expect(try clean.sh(["sh", "-c", line], env: env).status == 0, "the moved old leak is not the PR's")
            if line.contains("sarif") {
                let doc = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dirty.path + "/arca.sarif"))) as! [String: Any]
                let results = ((doc["runs"] as! [[String: Any]])[0]["results"] as! [[String: Any]])
                #expect(results.count == 1)
                let props = results[0]["properties"] as! [String: String]
                #expect(props["commitSha"]?.count == 40 && props["author"] == "Dev One")
            }
            if line.contains("--format gitlab") {
                let doc = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dirty.path + "/gl-secret-detection-report.json"))) as! [String: Any]
                #expect((doc["vulnerabilities"] as! [[String: Any]]).count == 1)
                #expect((doc["scan"] as! [String: Any])["type"] as? String == "secret_detection")
            }
            if line.contains("junit") {
                let data = try Data(contentsOf: URL(fileURLWithPath: dirty.path + "/arca-junit.xml"))
                let parser = XMLParser(data: data)
                #expect(parser.parse())
                #expect(String(decoding: data, as: UTF8.self).contains("failures=\"1\""))
            }
        }
    }
}

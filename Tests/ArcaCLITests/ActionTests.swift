import Foundation
import Testing

/// Runs the GitHub Action's scripts as the action does: scripts/action-scan.sh with the variables GitHub sets
/// (an event name, a payload file, GITHUB_OUTPUT) on real repositories, shallow clones over file:// included,
/// and scripts/install.sh on a local tarball of the built binary. No network: clones and fetches are file://.
@Suite struct ActionScriptTests {
    static let scanScript = CLITests.repoRoot.appendingPathComponent("scripts/action-scan.sh").path
    static let installScript = CLITests.repoRoot.appendingPathComponent("scripts/install.sh").path
    static let zeros = String(repeating: "0", count: 40)

    struct ScanRun {
        let status: Int32
        let out: String
        let err: String
        let outputs: [String: String]
        let sarifPath: String

        /// The SARIF report's results (fails the test when there is no valid report).
        func results() throws -> [[String: Any]] {
            let data = try Data(contentsOf: URL(fileURLWithPath: sarifPath))
            let doc = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
            let runs = try #require(doc["runs"] as? [[String: Any]])
            return try #require(runs.first?["results"] as? [[String: Any]])
        }
    }

    /// Runs action-scan.sh in `repo` for `event` with `payload` as $GITHUB_EVENT_PATH. Every variable the script
    /// reads is set, so a real CI environment around the tests changes nothing.
    static func scan(_ repo: Repo, event: String, payload: [String: Any]?, env: [String: String] = [:]) throws -> ScanRun {
        let dir = try CLITests.tree([:])
        let eventPath = dir + "/event.json"
        if let payload { try JSONSerialization.data(withJSONObject: payload).write(to: URL(fileURLWithPath: eventPath)) }
        let output = dir + "/github_output"
        FileManager.default.createFile(atPath: output, contents: nil)
        let sarif = dir + "/arca.sarif"
        let base = [
            "GITHUB_EVENT_NAME": event, "GITHUB_EVENT_PATH": eventPath, "GITHUB_OUTPUT": output,
            "GITHUB_ACTIONS": "false", "ARCA": CLITests.binary, "ARCA_SARIF": sarif, "ARCA_SCAN_PATH": ".",
            "ARCA_SCAN_ARGS": "", "ARCA_ACTION_EXIT": "0", "ARCA_REMOTE": "origin", "ARCA_DEEPEN": "",
        ]
        let r = try CLITests.run("/bin/bash", [scanScript], cwd: repo.path, env: base.merging(env) { $1 })
        var outputs: [String: String] = [:]
        for line in try String(contentsOfFile: output, encoding: .utf8).split(separator: "\n") {
            guard let eq = line.firstIndex(of: "=") else { continue }
            outputs[String(line[..<eq])] = String(line[line.index(after: eq)...])
        }
        return ScanRun(status: r.status, out: r.out, err: r.err, outputs: outputs, sarifPath: sarif)
    }

    static func head(_ repo: Repo, _ rev: String = "HEAD") throws -> String {
        try repo.git("rev-parse", rev).out.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static func commit(_ repo: Repo, _ files: [String: String], _ message: String) throws {
        for (path, text) in files { try repo.write(path, text) }
        try repo.git("add", ".")
        let r = try repo.git("commit", "-qm", message)
        try #require(r.status == 0, "git commit: \(r.err)")
    }

    static func pullRequest(base: String, head: String) -> [String: Any] {
        ["action": "synchronize", "pull_request": ["base": ["sha": base, "ref": "main"], "head": ["sha": head, "ref": "feature"]]]
    }

    /// main with a few commits, then a feature branch: `feature` holds the files of its commits.
    static func repository(main: [[String: String]], feature: [[String: String]]) throws -> (repo: Repo, base: String, head: String) {
        let repo = try Repo()
        for (i, files) in main.enumerated() { try commit(repo, files, "main \(i)") }
        let base = try head(repo)
        try repo.git("checkout", "-q", "-b", "feature")
        for (i, files) in feature.enumerated() { try commit(repo, files, "feature \(i)") }
        return (repo, base, try head(repo))
    }

    // (a) A pull request that adds a key: SARIF with the finding, exit-code 1, the text report redacted.
    @Test func pullRequestAddingAKeyIsReported() throws {
        let (repo, base, tip) = try Self.repository(
            main: [["README.md": "hello\n"], ["main.py": "print('hi')\n"]],
            feature: [["app.py": "import os\n"], ["app.py": "import os\nSTRIPE = \"\(CLITests.stripeKey)\"\n"]])
        let run = try Self.scan(repo, event: "pull_request", payload: Self.pullRequest(base: base, head: tip))
        #expect(run.status == 0, "the script exits 0 when the scan ran: \(run.err)")
        #expect(run.outputs["exit-code"] == "1", "\(run.outputs) \(run.err)")
        #expect(run.outputs["sarif"] == run.sarifPath)
        let results = try run.results()
        #expect(results.count == 1)
        #expect(results.first?["ruleId"] as? String == "stripe-live-secret-key")
        #expect(run.out.contains("stripe-live-secret-key") && run.out.contains("app.py"), "the text report")
        #expect(run.out.contains("arca exit code: 1"))
        #expect(!(run.out + run.err).contains(CLITests.stripeKey), "redacted")
        #expect(run.err.contains("\(base)...\(tip)"), "the range it scanned: \(run.err)")

        // pull_request_target reads the same fields; ARCA_ACTION_EXIT=1 passes arca's code through.
        let target = try Self.scan(repo, event: "pull_request_target", payload: Self.pullRequest(base: base, head: tip),
                                   env: ["ARCA_ACTION_EXIT": "1"])
        #expect(target.status == 1 && target.outputs["exit-code"] == "1", "\(target.err)")
        // Extra arguments reach arca scan: --fail-on critical still fails on a critical Stripe key, and an
        // unknown option is arca's exit 2, reported through exit-code, with the script itself exiting 0.
        let args = try Self.scan(repo, event: "pull_request", payload: Self.pullRequest(base: base, head: tip),
                                 env: ["ARCA_SCAN_ARGS": "--fail-on critical --min-confidence 'high'"])
        #expect(args.outputs["exit-code"] == "1", "\(args.err)")
        let bad = try Self.scan(repo, event: "pull_request", payload: Self.pullRequest(base: base, head: tip),
                                env: ["ARCA_SCAN_ARGS": "--no-such-option"])
        #expect(bad.status == 0 && bad.outputs["exit-code"] == "2", "\(bad.err)")
    }

    // (b) A pull request that only adds comment lines above a secret main already holds: nothing new.
    @Test func pullRequestTouchingAnOldSecretIsClean() throws {
        let old = "STRIPE = \"\(CLITests.stripeKey)\"\n"
        let (repo, base, tip) = try Self.repository(
            main: [["settings.py": old], ["README.md": "hello\n"]],
            feature: [["settings.py": "# Settings.\n# TODO: read this from the vault.\n" + old]])
        let run = try Self.scan(repo, event: "pull_request", payload: Self.pullRequest(base: base, head: tip))
        #expect(run.status == 0, "\(run.err)")
        #expect(run.outputs["exit-code"] == "0", "the PR adds no secret: \(run.out) \(run.err)")
        #expect(try run.results().isEmpty)
    }

    /// args that would change the report's format or file are refused (they would corrupt the SARIF upload).
    @Test func argsCannotSetTheFormatOrOutput() throws {
        let (repo, base, tip) = try Self.repository(main: [["README.md": "hello\n"]], feature: [["a.txt": "x\n"]])
        for args in ["--format json", "-o x.sarif", "--fail-on high --format=text", "--output y"] {
            let run = try Self.scan(repo, event: "pull_request", payload: Self.pullRequest(base: base, head: tip),
                                    env: ["ARCA_SCAN_ARGS": args])
            #expect(run.status == 4 && run.err.contains("must not set the format"), "\(args): \(run.err)")
        }
    }

    /// origin: main with `mainCommits` commits, a feature branch from main~2 with a leak and more commits, and
    /// main moving on after it; the clone holds `feature` at depth 1.
    static func shallowPullRequest() throws -> (origin: Repo, clone: Repo, base: String, head: String) {
        let origin = try Repo()
        for i in 0..<6 { try commit(origin, ["main.py": (0...i).map { "step\($0) = \($0)\n" }.joined()], "main \(i)") }
        try origin.git("checkout", "-q", "-b", "feature", "HEAD~2")
        try commit(origin, ["app.py": "KEY = \"\(CLITests.stripeKey)\"\n"], "leak")
        for i in 0..<4 { try commit(origin, ["notes.txt": String(repeating: "note\n", count: i + 1)], "feature \(i)") }
        let tip = try head(origin)
        try origin.git("checkout", "-q", "main")
        for i in 0..<3 { try commit(origin, ["later.py": "x = \(i)\n"], "main later \(i)") }
        let base = try head(origin)
        let clone = Repo(path: try CLITests.tree([:]))
        let c = try clone.sh(["git", "clone", "-q", "--depth", "1", "--branch", "feature", "file://" + origin.path, "."])
        try #require(c.status == 0, "clone: \(c.err)")
        try #require(try clone.git("rev-parse", "--is-shallow-repository").out.hasPrefix("true"))
        try #require(try clone.git("cat-file", "-e", base + "^{commit}").status != 0, "the clone lacks the base")
        return (origin, clone, base, tip)
    }

    // (c) A shallow clone is deepened until the merge base is there; with the tries spent or the origin gone,
    // the script fails (4) and says to set fetch-depth: 0.
    @Test func shallowCloneIsDeepenedOrFailsWithTheFetchDepthHint() throws {
        let (_, clone, base, tip) = try Self.shallowPullRequest()
        let run = try Self.scan(clone, event: "pull_request", payload: Self.pullRequest(base: base, head: tip))
        #expect(run.status == 0, "\(run.err)")
        #expect(run.err.contains("--deepen="), "\(run.err)")
        #expect(run.outputs["exit-code"] == "1", "\(run.outputs) \(run.err)")
        #expect(try run.results().count == 1, "the feature's leak, once")
        #expect(try clone.git("merge-base", base, tip).status == 0)

        // Step by step: one commit at a time reaches the merge base too (the feature is 5 commits deep).
        let (_, stepwise, base2, tip2) = try Self.shallowPullRequest()
        let steps = try Self.scan(stepwise, event: "pull_request", payload: Self.pullRequest(base: base2, head: tip2),
                                  env: ["ARCA_DEEPEN": Array(repeating: "1", count: 12).joined(separator: " ")])
        #expect(steps.outputs["exit-code"] == "1", "\(steps.err)")

        // Bounded: one step of one commit is not enough.
        let (_, bounded, base3, tip3) = try Self.shallowPullRequest()
        let spent = try Self.scan(bounded, event: "pull_request", payload: Self.pullRequest(base: base3, head: tip3),
                                  env: ["ARCA_DEEPEN": "1"])
        #expect(spent.status == 4, "\(spent.err)")
        #expect(spent.err.contains("fetch-depth: 0"), "\(spent.err)")
        #expect(spent.outputs["exit-code"] == nil && !FileManager.default.fileExists(atPath: spent.sarifPath))

        // The origin is gone.
        let (origin, orphan, base4, tip4) = try Self.shallowPullRequest()
        try FileManager.default.removeItem(atPath: origin.path)
        let gone = try Self.scan(orphan, event: "pull_request", payload: Self.pullRequest(base: base4, head: tip4))
        #expect(gone.status == 4, "\(gone.err)")
        #expect(gone.err.contains("fetch-depth: 0"), "\(gone.err)")
    }

    // (d) push events: before...after; a new branch (before all zeros) by its pushed commits; a deletion.
    @Test func pushEvents() throws {
        let repo = try Repo()
        try Self.commit(repo, ["settings.py": "STRIPE = \"\(CLITests.stripeKey)\"\n"], "old leak")
        let before = try Self.head(repo)
        try Self.commit(repo, ["README.md": "hello\n"], "docs")
        try Self.commit(repo, ["settings.py": "# moved to the vault soon\nSTRIPE = \"\(CLITests.stripeKey)\"\n"], "comment")
        let clean = try Self.head(repo)
        let push: (String, String, Int) -> [String: Any] = { before, after, count in
            ["ref": "refs/heads/main", "before": before, "after": after,
             "commits": (0..<count).map { ["id": String($0)] }]
        }
        let quiet = try Self.scan(repo, event: "push", payload: push(before, clean, 2))
        #expect(quiet.status == 0 && quiet.outputs["exit-code"] == "0", "the old secret is not this push's: \(quiet.out) \(quiet.err)")

        try Self.commit(repo, ["bot.py": "TOKEN = \"\(HookTests.slack)\"\n"], "new leak")
        let dirty = try Self.head(repo)
        let loud = try Self.scan(repo, event: "push", payload: push(clean, dirty, 1))
        #expect(loud.outputs["exit-code"] == "1", "\(loud.err)")
        #expect(try loud.results().count == 1)
        #expect(loud.err.contains("\(clean)...\(dirty)"))

        // A new branch: its two commits, not the old secret of the commit it starts from.
        try repo.git("checkout", "-q", "-b", "topic")
        try Self.commit(repo, ["a.py": "a = 1\n"], "topic 1")
        try Self.commit(repo, ["b.py": "b = 2\n"], "topic 2")
        let topic = try Self.head(repo)
        let fresh = try Self.scan(repo, event: "push", payload: push(Self.zeros, topic, 2))
        #expect(fresh.outputs["exit-code"] == "0", "\(fresh.out) \(fresh.err)")
        #expect(fresh.err.contains("new branch"), "\(fresh.err)")
        try Self.commit(repo, ["c.py": "K = \"sk_live_51Zq2vKj4Lm8Np0Rs3Tu6Vw9Xy1Za4Bc7De0Fg3Hi6Jk9Lm2No5Pq8Rs1Tu4Vw7\"\n"], "topic 3")
        let leaky = try Self.scan(repo, event: "push", payload: push(Self.zeros, try Self.head(repo), 3))
        #expect(leaky.outputs["exit-code"] == "1", "\(leaky.err)")
        #expect(try leaky.results().count == 1, "only the branch's own leak")

        // A deleted branch: nothing to scan, clean.
        let deleted = try Self.scan(repo, event: "push", payload: push(topic, Self.zeros, 0))
        #expect(deleted.status == 0 && deleted.outputs["exit-code"] == "0" && deleted.outputs["sarif"] == nil)
    }

    // Other events scan the whole history; a missing or malformed payload is the script's own failure (4).
    @Test func otherEventsScanTheWholeHistoryAndBadPayloadsFail() throws {
        let repo = try Repo()
        try Self.commit(repo, ["settings.py": "STRIPE = \"\(CLITests.stripeKey)\"\n"], "old leak")
        try Self.commit(repo, ["settings.py": "STRIPE = os.environ['STRIPE']\n"], "fixed")
        for event in ["workflow_dispatch", "schedule", ""] {
            let run = try Self.scan(repo, event: event, payload: nil)
            #expect(run.status == 0 && run.outputs["exit-code"] == "1", "history-only secrets count: \(event) \(run.err)")
        }
        let missing = try Self.scan(repo, event: "pull_request", payload: nil)
        #expect(missing.status == 4 && missing.err.contains("payload"), "\(missing.err)")
        let malformed = try Self.scan(repo, event: "pull_request", payload: Self.pullRequest(base: "--upload-pack=x", head: "HEAD"))
        #expect(malformed.status == 4 && malformed.err.contains("not a commit id"), "\(malformed.err)")
        // A payload that is not JSON: one error line, no follow-up about a missing commit id.
        let dir = try CLITests.tree(["ev.json": "{bad"])
        let garbled = try CLITests.run("/bin/bash", [Self.scanScript], cwd: repo.path, env: [
            "GITHUB_EVENT_NAME": "pull_request", "GITHUB_EVENT_PATH": dir + "/ev.json", "GITHUB_OUTPUT": "",
            "GITHUB_ACTIONS": "false", "ARCA": CLITests.binary, "ARCA_SCAN_ARGS": ""])
        #expect(garbled.status == 4 && garbled.err.contains("not JSON") && !garbled.err.contains("commit id"), "\(garbled.err)")
        let notRepo = Repo(path: try CLITests.tree(["a.py": "x = 1\n"]))
        #expect(try Self.scan(notRepo, event: "workflow_dispatch", payload: nil).status == 4)
    }

    /// A release-shaped tarball (arca-V-linux-ARCH/arca and README.md) of the built binary, and its .sha256.
    static func tarball() throws -> (path: String, dir: String) {
        let dir = try CLITests.tree(["arca-0.0.0-linux-test/README.md": "Arca\n"])
        try FileManager.default.copyItem(atPath: CLITests.binary, toPath: dir + "/arca-0.0.0-linux-test/arca")
        let tgz = dir + "/arca-0.0.0-linux-test.tar.gz"
        let tar = try CLITests.run("/usr/bin/env", ["tar", "-I", "gzip -1", "-cf", tgz, "-C", dir, "arca-0.0.0-linux-test"])
        try #require(tar.status == 0, "tar: \(tar.err)")
        let sum = try CLITests.run("/usr/bin/env", ["sha256sum", "arca-0.0.0-linux-test.tar.gz"], cwd: dir)
        try sum.out.write(toFile: tgz + ".sha256", atomically: true, encoding: .utf8)
        return (tgz, dir)
    }

    @Test func installRefusesAnArchiveOfAnotherVersion() throws {
        let (tgz, _) = try Self.tarball()
        let prefix = try CLITests.tree([:])
        let r = try CLITests.run("/bin/bash", [Self.installScript, "--version", "9.9.9", "--archive", tgz, "--prefix", prefix,
                                               "--no-deps"], env: ["GITHUB_PATH": "", "GITHUB_OUTPUT": ""])
        #expect(r.status != 0 && r.err.contains("holds arca-0.0.0"), "\(r.err)")
        #expect(!FileManager.default.fileExists(atPath: prefix + "/bin/arca"))
    }

    @Test func installFromALocalTarball() throws {
        let (tgz, dir) = try Self.tarball()
        let env = ["GITHUB_PATH": "", "GITHUB_OUTPUT": ""]
        // The libraries are all here: no apt-get, with or without --no-deps.
        for flags in [["--no-deps"], []] {
            let prefix = try CLITests.tree([:]) + "/prefix with space"
            let r = try CLITests.run("/bin/bash", [Self.installScript, "--archive", tgz, "--prefix", prefix] + flags, env: env)
            #expect(r.status == 0, "\(r.err)")
            #expect(FileManager.default.isExecutableFile(atPath: prefix + "/bin/arca"))
            #expect(r.out.contains("installed: \(prefix)/bin/arca"), "\(r.out)")
            #expect(r.err.contains("checksum verified"), "\(r.err)")
            #expect(!r.err.contains("installing "), "nothing to install: \(r.err)")
            let version = try CLITests.run(prefix + "/bin/arca", ["--version"])
            #expect(version.status == 0 && r.out.contains(version.out.trimmingCharacters(in: .whitespacesAndNewlines)))
        }
        // A file:// URL, its .sha256 fetched next to it; GitHub's files receive the bin directory and the path.
        let prefix = try CLITests.tree([:])
        let ghPath = prefix + "/github_path", ghOutput = prefix + "/github_output"
        let url = try CLITests.run("/bin/bash", [Self.installScript, "--archive", "file://" + tgz, "--prefix", prefix, "--no-deps"],
                                   env: ["GITHUB_PATH": ghPath, "GITHUB_OUTPUT": ghOutput])
        #expect(url.status == 0 && url.err.contains("checksum verified"), "\(url.err)")
        #expect(try String(contentsOfFile: ghPath, encoding: .utf8) == prefix + "/bin\n")
        #expect(try String(contentsOfFile: ghOutput, encoding: .utf8) == "path=\(prefix)/bin/arca\n")

        // A wrong checksum installs nothing.
        let bad = dir + "/bad.tar.gz"
        try FileManager.default.copyItem(atPath: tgz, toPath: bad)
        try (String(repeating: "0", count: 64) + "  bad.tar.gz\n").write(toFile: bad + ".sha256", atomically: true, encoding: .utf8)
        let badPrefix = try CLITests.tree([:])
        let refused = try CLITests.run("/bin/bash", [Self.installScript, "--archive", bad, "--prefix", badPrefix, "--no-deps"], env: env)
        #expect(refused.status == 1 && refused.err.contains("checksum mismatch"), "\(refused.err)")
        #expect(!FileManager.default.fileExists(atPath: badPrefix + "/bin/arca"))
        // Without a .sha256 a local archive installs with a warning; a missing one fails; bad usage is 2.
        try FileManager.default.removeItem(atPath: bad + ".sha256")
        let unverified = try CLITests.run("/bin/bash", [Self.installScript, "--archive", bad, "--prefix", badPrefix, "--no-deps"], env: env)
        #expect(unverified.status == 0 && unverified.err.contains("not verified"), "\(unverified.err)")
        #expect(try CLITests.run("/bin/bash", [Self.installScript, "--archive", dir + "/none.tar.gz", "--no-deps"], env: env).status == 1)
        #expect(try CLITests.run("/bin/bash", [Self.installScript, "--bogus"], env: env).status == 2)
        #expect(try CLITests.run("/bin/bash", [Self.installScript, "--from-source", "--archive", tgz], env: env).status == 2)
    }

    /// A binary whose library is missing is refused before it is installed, naming the soname and the Debian
    /// package (from the tarball's DEBIAN-PACKAGES) — here with --no-deps, so apt-get is never run. The binary is
    /// a small C program linked with the toolchain's clang against a library that is then left out.
    @Test func installNamesAMissingLibrary() throws {
        let dir = try CLITests.tree([
            "lib.c": "int arca_fake(void) { return 0; }\n",
            "main.c": "int arca_fake(void);\nint main(void) { return arca_fake(); }\n",
            "arca-9.9.9-linux-test/DEBIAN-PACKAGES": "# test\nlibarcafake7 libarcafake.so.7\n",
        ])
        let lib = try CLITests.run("/usr/bin/env", ["clang", "-shared", "-fPIC", "-o", "libarcafake.so.7",
                                                    "-Wl,-soname,libarcafake.so.7", "lib.c"], cwd: dir)
        try #require(lib.status == 0, "clang: \(lib.err)")
        let exe = try CLITests.run("/usr/bin/env", ["clang", "-o", "arca-9.9.9-linux-test/arca", "main.c", "-L.",
                                                    "-l:libarcafake.so.7"], cwd: dir)
        try #require(exe.status == 0, "clang: \(exe.err)")
        #expect(try CLITests.run("/usr/bin/env", ["tar", "-czf", "a.tar.gz", "arca-9.9.9-linux-test"], cwd: dir).status == 0)
        let prefix = dir + "/prefix"
        let r = try CLITests.run("/bin/bash", [Self.installScript, "--archive", dir + "/a.tar.gz", "--prefix", prefix, "--no-deps"],
                                 env: ["GITHUB_PATH": "", "GITHUB_OUTPUT": ""])
        #expect(r.status == 1, "\(r.err)")
        #expect(r.err.contains("libarcafake.so.7") && r.err.contains("libarcafake7"), "\(r.err)")
        #expect(!FileManager.default.fileExists(atPath: prefix + "/bin/arca"))
    }

    /// action.yml: its version default is Arca.version, and the steps call the scripts that exist.
    @Test func actionManifestMatchesTheSource() throws {
        let action = try String(contentsOf: CLITests.repoRoot.appendingPathComponent("action.yml"), encoding: .utf8)
        let main = try String(contentsOf: CLITests.repoRoot.appendingPathComponent("Sources/arca/main.swift"), encoding: .utf8)
        let version = try #require(main.firstMatch(of: #/static let version = "([^"]+)"/#)?.output.1)
        let lines = action.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let start = try #require(lines.firstIndex(of: "  version:"), "inputs.version")
        let defaultLine = try #require(lines[start...].first { $0.hasPrefix("    default:") })
        #expect(defaultLine == "    default: \"\(version)\"", "the action installs the release it is tagged with")
        for script in ["scripts/install.sh", "scripts/action-scan.sh"] {
            #expect(action.contains("\"$GITHUB_ACTION_PATH/\(script)\""))
            #expect(FileManager.default.fileExists(atPath: CLITests.repoRoot.appendingPathComponent(script).path))
        }
        #expect(action.contains("github/codeql-action/upload-sarif@v3"))
        #expect(action.contains("if: always() && inputs.upload-sarif == 'true'"))
    }
}

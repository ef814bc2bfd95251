import Foundation
import Testing
@testable import ArcaRules
@testable import ArcaScan

/// A real git repository built with the git command line.
final class GitRepoFixture {
    let tree = TempTree()
    var path: String { tree.path }

    init() throws {
        try git("init", "-q", "-b", "main")
        try git("config", "user.email", "dev@acme.test")
        try git("config", "user.name", "Dev One")
        try git("config", "commit.gpgsign", "false")
    }

    @discardableResult
    func git(_ args: String..., env: [String: String] = [:]) throws -> String {
        let r = try Fixtures.run("/usr/bin/env", ["git"] + args, cwd: path, env: env)
        guard r.status == 0 else { throw ScanError(message: "git \(args.joined(separator: " ")): \(r.err)") }
        return r.out.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Writes files and commits them as `author`; returns the commit id.
    @discardableResult
    func commit(_ message: String, files: [String: String] = [:], remove: [String] = [],
                author: (String, String) = ("Dev One", "dev@acme.test")) throws -> String {
        for (rel, text) in files { tree.write(rel, text) }
        for rel in remove { try git("rm", "-q", rel) }
        try git("add", "-A")
        try git("commit", "-q", "--allow-empty", "-m", message, "--author", "\(author.0) <\(author.1)>")
        return try git("rev-parse", "HEAD")
    }
}

@Suite struct GitHistoryTests {
    let scanner = Scanner(rules: Fixtures.rules)

    @Test func secretRemovedLaterIsFoundOnlyInHistoryWithItsCommitAndAuthor() throws {
        let repo = try GitRepoFixture()
        try repo.commit("init", files: ["README.md": "hello\n"])
        let added = try repo.commit("add config", files: ["config.py": "KEY = \"\(Fixtures.stripeKey)\"\n"],
                                    author: ("Mallory Leak", "mallory@acme.test"))
        try repo.commit("remove key", files: ["config.py": "KEY = os.environ['STRIPE_KEY']\n"])
        let r = try scanner.scanHistory(repository: repo.path)
        let f = r.findings.filter { $0.kind == .secret }
        #expect(f.count == 1)
        #expect(f.first?.ruleID == "stripe-live-secret-key" && f.first?.path == "config.py")
        #expect(f.first?.commit?.id == added)
        #expect(f.first?.commit?.author == "Mallory Leak" && f.first?.commit?.email == "mallory@acme.test")
        #expect(f.first?.presentAtHead == false)
        #expect(r.commitsScanned == 3)
        // The working tree is clean: a directory scan finds nothing.
        #expect(try Fixtures.scan(repo.tree).findings.filter { $0.kind == .secret }.isEmpty)
    }

    @Test func sideBranchesMergesRenamesAndTags() throws {
        let repo = try GitRepoFixture()
        try repo.commit("init", files: ["a.py": "x = 1\n"])
        try repo.git("checkout", "-q", "-b", "feature")
        let onBranch = try repo.commit("slack", files: ["bot.py": "T = \"\(Fixtures.slackToken)\"\n"])
        try repo.git("checkout", "-q", "main")
        try repo.commit("main work", files: ["b.py": "y = 2\n"])
        try repo.git("merge", "-q", "--no-edit", "feature")
        try repo.git("mv", "bot.py", "chat_bot.py")
        try repo.commit("rename")
        // A commit reachable only from a tag.
        try repo.git("checkout", "-q", "--detach")
        let tagged = try repo.commit("tagged only", files: ["t.py": "GITHUB_TOKEN = \"\(Fixtures.githubToken())\"\n"])
        try repo.git("tag", "v-secret")
        try repo.git("checkout", "-q", "main")

        let f = try scanner.scanHistory(repository: repo.path).findings.filter { $0.kind == .secret }
        let slack = f.filter { $0.ruleID == "slack-bot-token" }
        #expect(slack.count == 1, "the rename does not report the same blob again")
        #expect(slack.first?.commit?.id == onBranch && slack.first?.path == "bot.py")
        #expect(slack.first?.presentAtHead == true, "renamed, but still at HEAD")
        let gh = f.filter { $0.ruleID == "github-pat-classic" }
        #expect(gh.first?.commit?.id == tagged && gh.first?.presentAtHead == false)

        // Only the feature branch.
        let onlyFeature = try scanner.scanHistory(repository: repo.path, selection: HistorySelection(branch: "feature"))
        #expect(onlyFeature.findings.filter { $0.kind == .secret }.map(\.ruleID) == ["slack-bot-token"])
    }

    @Test func rangeAndSinceCommitSeeOnlyNewCommits() throws {
        let repo = try GitRepoFixture()
        try repo.commit("old leak", files: ["old.py": "K = \"\(Fixtures.stripeKey)\"\n"])
        let base = try repo.commit("base", files: ["x.py": "x = 1\n"])
        try repo.git("mv", "old.py", "moved.py")
        try repo.commit("move the old file")
        let new = try repo.commit("new leak", files: ["new.py": "T = \"\(Fixtures.slackToken)\"\n"])
        for selection in [HistorySelection(range: "\(base)..HEAD"), HistorySelection(sinceCommit: base)] {
            let r = try scanner.scanHistory(repository: repo.path, selection: selection)
            let f = r.findings.filter { $0.kind == .secret }
            #expect(f.map(\.ruleID) == ["slack-bot-token"], "the moved old leak is not new")
            #expect(f.first?.commit?.id == new)
            #expect(r.commitsScanned == 2)
        }
        let last = try scanner.scanHistory(repository: repo.path, selection: HistorySelection(maxCount: 1))
        #expect(last.commitsScanned == 1)
        #expect(throws: ScanError.self) {
            try scanner.scanHistory(repository: repo.path, selection: HistorySelection(range: "nope..HEAD"))
        }
        #expect(throws: ScanError.self) {
            try scanner.scanHistory(repository: repo.path, selection: HistorySelection(range: "HEAD"))
        }
    }

    @Test func bareAndShallowClones() throws {
        let repo = try GitRepoFixture()
        try repo.commit("leak", files: ["a.py": "K = \"\(Fixtures.stripeKey)\"\n"])
        try repo.commit("fix", files: ["a.py": "K = None\n"])
        try repo.commit("more", files: ["b.py": "T = \"\(Fixtures.slackToken)\"\n"])
        let bare = TempTree()
        try Fixtures.run("/usr/bin/env", ["git", "clone", "-q", "--bare", repo.path, bare.path + "/r.git"])
        let inBare = try scanner.scanHistory(repository: bare.path + "/r.git").findings.filter { $0.kind == .secret }
        #expect(Set(inBare.map(\.ruleID)) == ["stripe-live-secret-key", "slack-bot-token"])
        let shallow = TempTree()
        try Fixtures.run("/usr/bin/env", ["git", "clone", "-q", "--depth", "1", "file://" + repo.path, shallow.path + "/s"])
        let inShallow = try scanner.scanHistory(repository: shallow.path + "/s").findings.filter { $0.kind == .secret }
        #expect(inShallow.map(\.ruleID) == ["slack-bot-token"], "a shallow clone holds only its last commit")
    }

    @Test func historyFingerprintsMatchDirectoryScans() throws {
        let repo = try GitRepoFixture()
        try repo.commit("leak", files: ["src/k.py": "K = \"\(Fixtures.stripeKey)\"\n"])
        let history = try scanner.scanHistory(repository: repo.path).findings.filter { $0.kind == .secret }
        let dir = try Fixtures.scan(repo.tree).findings.filter { $0.kind == .secret }
        #expect(history.map(\.fingerprint) == dir.map(\.fingerprint) && !dir.isEmpty)
    }

    @Test func missingAndCorruptRepositoriesAreErrors() throws {
        let plain = TempTree()
        plain.write("a.txt", "x")
        #expect { try scanner.scanHistory(repository: plain.path) } throws: { "\($0)".contains("not a git repository") }
        let repo = try GitRepoFixture()
        try repo.commit("one", files: ["a.py": "x = 1\n"])
        // Corrupt every loose object.
        let objects = repo.tree.root.appendingPathComponent(".git/objects")
        for case let url as URL in FileManager.default.enumerator(at: objects, includingPropertiesForKeys: nil)!
        where url.lastPathComponent.count == 38 {
            try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: url.path)
            try Data("garbage".utf8).write(to: url)
        }
        #expect(throws: ScanError.self) { try scanner.scanHistory(repository: repo.path) }
    }
}

@Suite struct GitStagedTests {
    let scanner = Scanner(rules: Fixtures.rules)

    @Test func onlyStagedAddedLinesAreReported() throws {
        let repo = try GitRepoFixture()
        try repo.commit("init", files: ["old.py": "K = \"\(Fixtures.stripeKey)\"\nx = 1\n"])
        // Staged: a new line in a file whose old line already holds a secret, and a new file.
        repo.tree.write("old.py", "K = \"\(Fixtures.stripeKey)\"\nx = 1\nT = \"\(Fixtures.slackToken)\"\n")
        repo.tree.write("new.py", "GITHUB_TOKEN = \"\(Fixtures.githubToken())\"\n")
        try repo.git("add", "old.py", "new.py")
        // In the working tree but not staged.
        repo.tree.write("unstaged.py", "K2 = \"sk_live_51Zq2vKj4Lm8Np0Rs3Tu6Vw9Xy1Za4Bc7De0Fg3Hi6Jk9Lm2No5Pq8Rs1Tu4Vw7\"\n")
        // Staged, then changed again in the working tree: the index blob is what counts.
        repo.tree.write("later.py", "ok = 1\n")
        try repo.git("add", "later.py")
        repo.tree.write("later.py", "K3 = \"sk_live_51Yq2vKj4Lm8Np0Rs3Tu6Vw9Xy1Za4Bc7De0Fg3Hi6Jk9Lm2No5Pq8Rs1Tu4Vw7\"\n")
        let f = try scanner.scanStaged(repository: repo.path).findings.filter { $0.kind == .secret }
        #expect(f.map { "\($0.path):\($0.line):\($0.ruleID)" }.sorted()
                == ["new.py:1:github-pat-classic", "old.py:3:slack-bot-token"])
    }

    /// The hook reads git's own diff; without git it falls back to libgit2's. Both must agree.
    @Test func gitAndLibgit2StagedDiffsAgree() throws {
        let repo = try GitRepoFixture()
        try repo.commit("init", files: ["a.py": (1...30).map { "line \($0)" }.joined(separator: "\n") + "\n",
                                        "gone.py": "x\n", "b.bin": "\u{0}\u{1}binary\n", "mode.sh": "echo hi\n"])
        var lines = (1...30).map { "line \($0)" }
        lines.insert("added top", at: 0)
        lines[10] = "changed eleven"
        lines.append(contentsOf: ["added end 1", "added end 2"])
        repo.tree.write("a.py", lines.joined(separator: "\n") + "\n")
        repo.tree.write("new dir/naïve file.py", "one\ntwo\n")
        repo.tree.write("b.bin", "\u{0}\u{2}binary changed\n")
        try repo.git("rm", "-q", "gone.py")
        try repo.git("add", "-A")
        try repo.git("update-index", "--chmod=+x", "mode.sh")
        let git = try GitRepository(path: repo.path)
        let viaLibgit2 = try git.stagedChanges()
        let output = try #require(Scanner.stagedDiffFromGit(git))
        let viaGit = GitRepository.parseStagedDiff(output)
        func summary(_ f: [StagedFile]) -> [String] { f.map { "\($0.path) \($0.blob) \($0.addedLines.sorted())" }.sorted() }
        #expect(summary(viaGit) == summary(viaLibgit2))
        #expect(viaGit.first { $0.path == "a.py" }?.addedLines.sorted() == [1, 11, 32, 33])
        #expect(viaGit.contains { $0.path == "new dir/naïve file.py" && $0.addedLines == [1, 2] })
        #expect(!viaGit.contains { $0.path == "gone.py" || $0.path == "mode.sh" })
        #expect(viaGit.first { $0.path == "b.bin" }?.binary == true, "git cannot diff it: scanned whole, gated as binary")
        #expect(viaLibgit2.first { $0.path == "b.bin" }?.binary == true)
    }

    /// Staged and history blobs go through the same gate as files: UTF-16 with a byte-order mark is decoded.
    @Test func utf16BlobsAreScannedInStagedAndHistory() throws {
        let repo = try GitRepoFixture()
        var utf16 = Data([0xff, 0xfe])
        utf16.append("K = \"\(Fixtures.stripeKey)\"\n".data(using: .utf16LittleEndian)!)
        repo.tree.write("win.txt", utf16)
        try repo.git("add", "win.txt")
        #expect(try scanner.scanStaged(repository: repo.path).findings.map(\.ruleID) == ["stripe-live-secret-key"])
        try repo.git("commit", "-qm", "utf16")
        #expect(try scanner.scanHistory(repository: repo.path).findings.map(\.ruleID) == ["stripe-live-secret-key"])
        // A staged binary with a secret inside is scanned as raw bytes (nothing staged goes through unscanned);
        // history scans keep skipping binary blobs.
        var binary = Data([0x00, 0x01, 0x02])
        // (a value HEAD does not already hold: the hook reports only new ones)
        binary.append(Data("K = \"\(Fixtures.stripeKey.dropLast(3))Zz9\"\n".utf8))
        repo.tree.write("blob.bin", binary)
        try repo.git("add", "blob.bin")
        let r = try scanner.scanStaged(repository: repo.path)
        #expect(r.findings.map(\.path).contains("blob.bin") && r.skipped.isEmpty)
    }

    @Test func firstCommitInAnEmptyRepository() throws {
        let repo = try GitRepoFixture()
        repo.tree.write("a.py", "K = \"\(Fixtures.stripeKey)\"\n")
        try repo.git("add", "a.py")
        #expect(try scanner.scanStaged(repository: repo.path).findings.map(\.ruleID) == ["stripe-live-secret-key"])
    }

    @Test func notARepository() {
        let t = TempTree()
        #expect(throws: ScanError.self) { try scanner.scanStaged(repository: t.path) }
    }
}

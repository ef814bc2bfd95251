import Foundation
import Testing
@testable import ArcaReport
@testable import ArcaRules
@testable import ArcaScan

@Suite struct ScannerTests {
    @Test func honoursGitignoreArcaignoreNegationAndNoIgnore() throws {
        let t = TempTree()
        let secret = "k = \"\(Fixtures.stripeKey)\"\n"
        t.write(".gitignore", "build/\n*.log\n!keep.log\n")
        t.write("sub/.arcaignore", "fixtures/\n")
        t.write("app.py", secret)
        t.write("build/out.py", secret)
        t.write("x.log", secret)
        t.write("keep.log", secret)
        t.write("sub/fixtures/f.py", secret)
        t.write("sub/real.py", secret)
        t.write(".git/config", secret)
        t.write("node_modules/pkg/index.js", secret)
        let paths = Set(try Fixtures.scan(t).findings.map(\.path))
        #expect(paths == ["app.py", "keep.log", "sub/real.py"])
        let skipped = try Fixtures.scan(t).skipped
        #expect(Set(skipped.map(\.path)).isSuperset(of: ["build/", "x.log", "sub/fixtures/", "node_modules/"]),
                "every path left out is recorded with its reason: \(skipped)")
        let all = Set(try Fixtures.scan(t) { $0.useIgnoreFiles = false }.findings.map(\.path))
        #expect(all == ["app.py", "build/out.py", "x.log", "keep.log", "sub/fixtures/f.py", "sub/real.py", "node_modules/pkg/index.js"],
                "--no-ignore scans the global allowlist's folders too; .git stays out")
    }

    /// In a repository the index decides: a tracked file is scanned even where .gitignore excludes it (a real
    /// repository had 417 tracked, ignored test-vector files silently dropped).
    @Test func trackedFilesAreScannedWhateverGitignoreSays() throws {
        let repo = try GitRepoFixture()
        repo.tree.write(".gitignore", "vectors/\n*.secret\n")
        repo.tree.write("vectors/aws.txt", "aws_secret_access_key = 9kQ2vR7mXp4LbN8sT1wY6zC3fH5jD0gE2uA4iO7q\nAKIAQ3EGTJ5KZ7RVXW2N\n")
        repo.tree.write("keys.secret", "k = \"\(Fixtures.stripeKey)\"\n")
        repo.tree.write("untracked.secret", "k = \"\(Fixtures.stripeKey)\"\n")
        try repo.git("add", ".gitignore")
        try repo.git("add", "-f", "vectors/aws.txt", "keys.secret")
        let r = try Fixtures.scan(repo.tree)
        let paths = Set(r.findings.map(\.path))
        #expect(paths.contains("vectors/aws.txt") && paths.contains("keys.secret") && !paths.contains("untracked.secret"))
        #expect(r.skipped.contains { $0.path == "untracked.secret" && $0.reason.hasPrefix("ignored") })
    }

    @Test func binaryLargeAndOddEncodingsAreHandled() throws {
        let t = TempTree()
        var bin = Data("k = \"\(Fixtures.stripeKey)\"".utf8)
        bin.insert(0, at: 3)
        t.write("blob.bin", bin)
        t.write("big.txt", String(repeating: "x", count: 2 * 1024 * 1024) + "\nk = \"\(Fixtures.stripeKey)\"\n")
        var latin = Data([0xff, 0xfe, 0xc3, 0x28, 0x0a])  // invalid UTF-8 before the secret, no BOM pair
        latin[0] = 0xe9
        latin.append(Data("k = \"\(Fixtures.stripeKey)\"\n".utf8))
        t.write("latin1.py", latin)
        var utf16 = Data([0xff, 0xfe])
        utf16.append("k = \"\(Fixtures.stripeKey)\"\n".data(using: .utf16LittleEndian)!)
        t.write("utf16.txt", utf16)
        let r = try Fixtures.scan(t) { $0.maxFileSize = 1024 * 1024 }
        #expect(Set(r.findings.map(\.path)) == ["latin1.py", "utf16.txt"])
        #expect(r.skipped.contains { $0.path == "blob.bin" && $0.reason == "binary" })
        #expect(r.skipped.contains { $0.path == "big.txt" && $0.reason.hasPrefix("too large") })
        #expect(r.findings.first { $0.path == "latin1.py" }?.line == 2)
    }

    @Test func symlinkLoopsAndBrokenLinksAreWarnedAndSkipped() throws {
        let t = TempTree()
        t.write("a/ok.py", "k = \"\(Fixtures.stripeKey)\"\n")
        try FileManager.default.createSymbolicLink(atPath: t.path + "/a/loop", withDestinationPath: t.path + "/a")
        try FileManager.default.createSymbolicLink(atPath: t.path + "/a/dangling", withDestinationPath: t.path + "/nope")
        let followed = try Fixtures.scan(t) { $0.followSymlinks = true }
        #expect(followed.findings.map(\.path) == ["a/ok.py"])
        #expect(followed.warnings.contains { $0.contains("a/loop") && $0.contains("loop") })
        #expect(followed.warnings.contains { $0.contains("a/dangling") })
        let plain = try Fixtures.scan(t)
        #expect(plain.findings.map(\.path) == ["a/ok.py"] && plain.warnings.isEmpty)
    }

    @Test func missingRootIsAnError() {
        #expect(throws: ScanError.self) {
            try Scanner(rules: Fixtures.rules).scan(root: "/nonexistent/arca/path")
        }
    }

    @Test func singleFileRoot() throws {
        let t = TempTree()
        let url = t.write("one.py", "k = \"\(Fixtures.stripeKey)\"\n")
        let r = try Scanner(rules: Fixtures.rules).scan(root: url.path)
        #expect(r.findings.map(\.path) == ["one.py"] && r.filesScanned == 1)
    }

    @Test func garbageTreeNeverCrashes() throws {
        let t = TempTree()
        var rng = SystemRandomNumberGenerator()
        for i in 0..<40 {
            let bytes = (0..<Int.random(in: 0...20_000, using: &rng)).map { _ in UInt8.random(in: 1...255, using: &rng) }
            t.write("g/\(i).txt", Data(bytes))
        }
        let r = try Fixtures.scan(t)
        #expect(r.filesScanned == 40)
    }

    /// Accuracy on a generated corpus: planted secrets in a dozen languages, hard negatives, env reads.
    @Test func recallAndPrecisionOnGeneratedCorpus() throws {
        let t = TempTree()
        let gen = try Fixtures.run("/usr/bin/env", ["python3", Fixtures.repoRoot.path + "/scripts/gen-corpus.py",
                                                    "--out", t.path, "--seed", "42", "--size-mb", "3"])
        #expect(gen.status == 0, "\(gen.err)")
        let labels = try JSONSerialization.jsonObject(with: Data(contentsOf: t.root.appendingPathComponent("labels.json"))) as! [String: Any]
        let planted = Set((labels["secrets"] as! [[String: Any]]).map { "\($0["path"]!):\($0["line"]!)" })
        let envs = Set((labels["env"] as! [[String: Any]]).map { "\($0["path"]!):\($0["line"]!)" })
        #expect(planted.count > 100)
        let r = try Fixtures.scan(t)
        let found = Set(r.findings.filter { $0.kind == .secret }.map { "\($0.path):\($0.line)" })
        let foundEnv = Set(r.findings.filter { $0.kind == .envUsage }.map { "\($0.path):\($0.line)" })
        let recall = Double(found.intersection(planted).count) / Double(planted.count)
        let precision = Double(found.intersection(planted).count) / Double(max(1, found.count))
        #expect(recall >= 0.95, "recall \(recall); missed \(planted.subtracting(found).sorted().prefix(5))")
        #expect(precision >= 0.98, "precision \(precision); false \(found.subtracting(planted).sorted().prefix(5))")
        #expect(envs.isSubset(of: foundEnv), "env reads missed: \(envs.subtracting(foundEnv).sorted().prefix(5))")
        #expect(r.findings.allSatisfy { $0.path != "web/package-lock.json" && !$0.path.hasPrefix("web/dist/") },
                "lockfile and minified bundles are not findings")
    }
}

@Suite struct BaselineTests {
    func findings() throws -> (TempTree, [Finding]) {
        let t = TempTree()
        t.write("a.py", "k = \"\(Fixtures.stripeKey)\"\n")
        t.write("b/c.js", "const t = \"\(Fixtures.slackToken)\";\n")
        return (t, try Fixtures.scan(t).findings)
    }

    @Test func roundTripSortedWithoutSecretsOrLines() throws {
        let (_, f) = try findings()
        let text = Baseline(findings: f).serialized()
        #expect(!text.contains(Fixtures.stripeKey) && !text.contains(Fixtures.slackToken))
        #expect(!text.contains("sk_live") && !text.contains(":1"))
        let lines = text.split(separator: "\n").filter { !$0.hasPrefix("#") }
        #expect(lines.count == 2)
        #expect(lines.map { $0.split(separator: " ")[2] } == ["a.py", "b/c.js"])
        let parsed = try Baseline.parse(text, file: "b")
        #expect(parsed.serialized() == text, "stable: reading and writing changes nothing")
        let (kept, suppressed, stale) = parsed.apply(to: f)
        #expect(kept.isEmpty && suppressed == 2 && stale.isEmpty)
    }

    @Test func reportsOnlyNewFindingsAndStaleEntries() throws {
        let (t, f) = try findings()
        let baseline = Baseline(findings: f)
        // Move the secret down (same fingerprint), remove the Slack one, add a new one.
        t.write("a.py", "\n\n# moved\nk = \"\(Fixtures.stripeKey)\"\n")
        t.write("b/c.js", "// gone\n")
        t.write("new.py", "GITHUB_TOKEN = \"\(Fixtures.githubToken())\"\n")
        let (kept, suppressed, stale) = baseline.apply(to: try Fixtures.scan(t).findings)
        #expect(kept.map(\.path) == ["new.py"] && suppressed == 1)
        #expect(stale.map(\.path) == ["b/c.js"])
    }

    @Test(arguments: [
        ("", "empty"), ("hello\n", "not an arca baseline"), ("# arca baseline v9\n", "newer"),
        ("# arca baseline v1\nnothex rule path\n", "32 lower-case hex"), ("# arca baseline v1\nabc\n", "FINGERPRINT RULE PATH"),
    ])
    func malformedBaselinesAreClearErrors(_ text: String, _ message: String) {
        #expect {
            try Baseline.parse(text, file: "x.baseline")
        } throws: { error in
            "\(error)".contains(message) && "\(error)".hasPrefix("x.baseline")
        }
    }
}

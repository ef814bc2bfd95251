import Foundation
import PropertyBased
import Testing

/// The promises docs/ci.md and the README make, each from an outside reproduction that broke it first: no secret
/// in any output unless --no-redact, a hook that never lets a staged file through unscanned, and errors that
/// never end as a clean exit.
@Suite struct PromiseTests {
    /// A GitHub classic token with a valid checksum (CRC32 of the body, base62, six characters).
    static let githubToken = "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"

    static func hookedRepo() throws -> Repo {
        let repo = try Repo()
        try repo.write("README.md", "hi\n")
        try repo.git("add", ".")
        try repo.git("commit", "-qm", "init")
        #expect(try CLITests.arca(["hook", "install", repo.path]).status == 0)
        return repo
    }

    // MARK: 1. No secret in any output

    /// Reproduction: the `env-dotenv` finding's context line printed the token that the `github-pat-classic`
    /// finding on the same line redacted; also Dockerfile `ENV`, compose `environment:`, `--git`, the hook.
    @Test func envUsageContextNeverShowsTheValue() throws {
        let repo = try Repo()
        try repo.write(".env", "GITHUB_TOKEN=\(Self.githubToken)\nDB_PASSWORD=Hunter2-but-longer\n")
        try repo.write("Dockerfile", "FROM python:3.12\nENV GITHUB_TOKEN=\(Self.githubToken)\n")
        try repo.write("docker-compose.yml", "services:\n  app:\n    environment:\n      - GITHUB_TOKEN=\(Self.githubToken)\n")
        try repo.git("add", ".")
        try repo.git("commit", "-qm", "config", "--no-verify")
        var runs: [(Int32, String, String)] = []
        for format in ["text", "json", "sarif", "junit"] {
            runs.append(try CLITests.arca(["scan", repo.path, "--format", format, "--color", "always"]))
            runs.append(try CLITests.arca(["scan", "--git", repo.path, "--format", format]))
        }
        for (status, out, err) in runs {
            #expect(status == 1)
            #expect(!out.contains(Self.githubToken) && !err.contains(Self.githubToken), "\(out)")
            #expect(!out.contains("Hunter2-but-longer") && !err.contains("Hunter2-but-longer"))
        }
        let text = try CLITests.arca(["scan", repo.path, "--color", "never"]).out
        #expect(text.contains("env-dotenv") && text.contains("GITHUB_TOKEN=ghp_*****"), "\(text)")
        // The hook's block message (what CI logs show).
        let hooked = try Self.hookedRepo()
        try hooked.write(".env", "GITHUB_TOKEN=\(Self.githubToken)\n")
        try hooked.git("add", ".env")
        let blocked = try hooked.git("commit", "-qm", "leak")
        #expect(blocked.status != 0 && (blocked.out + blocked.err).contains("Commit blocked"))
        #expect(!(blocked.out + blocked.err).contains(Self.githubToken))
        // Asked for, it is shown.
        #expect(try CLITests.arca(["scan", repo.path, "--no-redact"]).out.contains(Self.githubToken))
    }

    /// The invariant through the real binary: random secrets (random bodies in known token shapes, random
    /// passwords) planted in every kind of file, every format to stdout and to a file, the history scan, a
    /// baseline, and the hook; no secret byte string appears in stdout, stderr or any file written.
    @Test func noSecretInAnyOutputOfTheBinary() async throws {
        let alnum = Gen.letterOrNumber.string(of: 36...36)
        await propertyCheck(count: 6, input: alnum, Gen.letterOrNumber.string(of: 14...20)) { body, pw in
            let stripe = "sk_live_51" + body + "Aa9"
            let slack = "xoxb-263594206564-2692305932455-" + String(body.prefix(24))
            let password = "Pw-" + pw + "-9!"
            let secrets = [stripe, slack, password]
            let repo = try Repo()
            let files = [
                ".env": "STRIPE_KEY=\(stripe)\nDB_PASSWORD=\(password)\n",
                "Dockerfile": "FROM x\nENV SLACK_TOKEN=\(slack)\n",
                "docker-compose.yml": "services:\n  a:\n    environment:\n      - DB_PASSWORD=\(password)\n",
                "k8s/app.yaml": "env:\n  - name: DB_PASSWORD\n    value: \"\(password)\"\n",
                "app.py": "import os\nSTRIPE = \"\(stripe)\"\npw = os.environ.get(\"DB_PASSWORD\")\n",
                "web/app.js": "const slack = '\(slack)';\n",
                "run.sh": "export DB_PASSWORD='\(password)'\n",
                "conf/db.yml": "password: \"\(password)\"\n",
            ]
            for (path, text) in files { try repo.write(path, text) }
            try repo.git("add", ".")
            try repo.git("commit", "-qm", "add \(stripe)", "--no-verify")
            let outDir = try CLITests.tree([:])
            var seen: [String] = []
            for format in ["text", "json", "sarif", "junit"] {
                let a = try CLITests.arca(["scan", repo.path, "--format", format, "--env-usage", "all"])
                let b = try CLITests.arca(["scan", "--git", repo.path, "--format", format, "-o", outDir + "/r.\(format)"])
                seen += [a.out, a.err, b.out, b.err, (try? String(contentsOfFile: outDir + "/r.\(format)", encoding: .utf8)) ?? ""]
                #expect(a.status == 1 && b.status == 1)
            }
            let base = try CLITests.arca(["baseline", "create", repo.path, "-o", outDir + "/baseline"])
            seen += [base.out, base.err, (try? String(contentsOfFile: outDir + "/baseline", encoding: .utf8)) ?? ""]
            #expect(try CLITests.arca(["hook", "install", repo.path]).status == 0)
            // New values (the hook reports only values HEAD does not already hold).
            let stripe2 = "sk_live_51" + String(body.reversed()) + "Bb8"
            let password2 = "Qx-" + String(pw.reversed()) + "-7?"
            try repo.write("new.py", "K = \"\(stripe2)\"\nP = \"\(password2)\"  # password\n")
            try repo.git("add", "new.py")
            let hook = try repo.git("commit", "-qm", "leak")
            #expect(hook.status != 0)
            seen += [hook.out, hook.err]
            for text in seen {
                for s in secrets + [stripe2, password2] { #expect(!text.contains(s), "a planted secret leaked: \(text.prefix(400))") }
            }
        }
    }

    /// Outsider pass: a context cut at 200 bytes ended with the start of a secret and the next finding's began
    /// with its end (text, JUnit, the hook), so the pieces made the whole; a long `.env` value shown by the
    /// env-usage finding; a `${X:-default}` default; a secret in a path written into the baseline.
    @Test func cutContextsDefaultsAndPathsNeverCarryASecret() throws {
        let t2 = "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"
        let dir = try CLITests.tree([
            "rep.js": "k1=\"\(Self.githubToken)\";" + String(repeating: "x", count: 165) + ";k2=\"\(Self.githubToken)\";" + String(repeating: "y", count: 400) + "\n",
            "two.js": "k1=\"\(Self.githubToken)\";" + String(repeating: "x", count: 160) + ";k2=\"\(t2)\";" + String(repeating: "y", count: 400) + "\n",
            ".env": "SESSION_SECRET=" + String(repeating: "Qk9xZ3Bv", count: 30) + "\nJWT_SECRET=${OTHER:-Bv5Ny8Hg3Kw7Zs1D}\n",
            "d_\(t2)/f.py": "k = '\(t2)'\n",
        ])
        for format in ["text", "junit", "json", "sarif"] {
            let r = try CLITests.arca(["scan", dir, "--format", format, "--env-usage", "all"])
            for s in [Self.githubToken, t2, "Bv5Ny8Hg3Kw7Zs1D"] {
                for piece in [String(s.prefix(15)), String(s.suffix(20))] {
                    #expect(!r.out.contains(piece) && !r.err.contains(piece), "\(format): a piece of a secret")
                }
            }
            #expect(!r.out.contains(String(repeating: "Qk9xZ3Bv", count: 3)), "\(format): the long .env value")
        }
        #expect(try CLITests.arca(["baseline", "create", dir, "-o", dir + "/.arca-baseline"]).status == 0)
        #expect(!(try String(contentsOfFile: dir + "/.arca-baseline", encoding: .utf8)).contains(t2))
        #expect(try CLITests.arca(["scan", dir]).status == 0, "the masked path still matches its fingerprint")
    }

    /// Outsider pass: `arca scan … | true` died of SIGPIPE (exit 141, nothing said) instead of exit 3.
    @Test func aClosedPipeIsExitThree() throws {
        var env = ""
        for i in 0..<3000 { env += "DB_PASSWORD_\(i)=Zq\(i)vT3mW9kLp2xRbQ7nY4\n" }
        let tree = try CLITests.tree([".env": env])
        let r = try CLITests.run("/bin/bash", ["-c", "\"$0\" scan \"$1\" | true; echo \"${PIPESTATUS[0]}\"", CLITests.binary, tree])
        #expect(r.out.trimmingCharacters(in: .whitespacesAndNewlines) == "3", "\(r.out) \(r.err)")
    }

    /// Outsider pass: a report or baseline that could not be written (`/dev/full`) ended 0, and `-o /dev/full`
    /// replaced the device with a regular file.
    @Test func anUnwritableReportIsExitThreeAndDevicesAreNeverReplaced() throws {
        let clean = try CLITests.tree(["a.txt": "hi\n"])
        let r = try CLITests.arca(["scan", clean, "--format", "json", "-o", "/dev/full"])
        #expect(r.status == 3 && r.err.contains("/dev/full"))
        var st = stat()
        #expect(stat("/dev/full", &st) == 0 && (st.st_mode & S_IFMT) == S_IFCHR, "the device is still a device")
        #expect(try CLITests.run("/bin/sh", ["-c", "'\(CLITests.binary)' scan '\(clean)' --format json > /dev/full"]).status == 3)
        #expect(try CLITests.arca(["baseline", "create", clean, "-o", "/dev/full"]).status == 3)
    }

    /// migrate's diff redacted only the values it moves: a secret it skips (in a comment, which is never
    /// rewritten) stood in full on the diff's context line.
    @Test func migratePlanRedactsEverySecretTheScanFound() throws {
        let slack = "xoxb-263594206564-2692305932455-Jb2Kq9LmN4pR7sT1vW3xY5zA"
        let root = try CLITests.tree(["app.py": "STRIPE = \"\(CLITests.stripeKey)\"\n# old bot token: \(slack)\nprint(len(STRIPE))\n"])
        let vaultDir = try CLITests.tree([:]) + "/v"
        let r = try CLITests.arca(["migrate", root, "--vault-dir", vaultDir])
        #expect(r.status == 0 && r.out.contains("app.py"), "\(r.out)\(r.err)")
        for s in [CLITests.stripeKey, slack] { #expect(!r.out.contains(s) && !r.err.contains(s)) }
    }

    // MARK: 2. The hook never lets a staged file through unscanned

    /// Reproduction: a staged file over 10 MiB was skipped and the commit passed.
    @Test func hookScansTheAddedLinesOfBigFiles() throws {
        let repo = try Self.hookedRepo()
        let filler = String(repeating: "lorem ipsum dolor sit amet, consectetur adipiscing elit\n", count: 200_000)
        try repo.write("data/big.txt", filler + "token = \"\(CLITests.stripeKey)\"\n")
        try repo.git("add", "data/big.txt")
        let blocked = try repo.git("commit", "-qm", "big")
        #expect(blocked.status != 0 && (blocked.out + blocked.err).contains("stripe-live-secret-key"),
                "\(blocked.out)\(blocked.err)")
        // An existing big file that gains a secret line: only the added lines are scanned, at their own numbers.
        try repo.write("data/big.txt", filler)
        try repo.git("add", "data/big.txt")
        #expect(try repo.git("commit", "-qm", "big, clean").status == 0)
        try repo.write("data/big.txt", filler + "x\n" + "token = \"\(CLITests.stripeKey)\"\n")
        try repo.git("add", "data/big.txt")
        let json = try CLITests.arca(["scan", "--staged", repo.path, "--format", "json"])
        #expect(json.status == 1 && json.out.contains("\"line\": 200002"), "\(json.out)")
    }

    /// Reproduction: a text file starting with a NUL byte and holding a token was skipped as binary and passed,
    /// and the terminal said only "1 skipped".
    @Test func hookScansBinaryStagedContentAndFailsClosedOnWhatItCannotScan() throws {
        let repo = try Self.hookedRepo()
        try repo.write("notes.txt", "\u{0}token = \"\(CLITests.stripeKey)\"\n")
        try repo.git("add", "notes.txt")
        let blocked = try repo.git("commit", "-qm", "nul")
        #expect(blocked.status != 0 && (blocked.out + blocked.err).contains("stripe-live-secret-key"))
        try repo.git("reset", "-q", "notes.txt")
        // A binary over the size limit cannot be scanned: named, and the commit is blocked (exit 3)…
        var bytes = [UInt8](repeating: 0, count: 2 * 1024 * 1024)
        bytes[100] = 1
        try Data(bytes).write(to: URL(fileURLWithPath: repo.path + "/model.bin"))
        try repo.git("add", "model.bin")
        let staged = try CLITests.arca(["scan", "--staged", repo.path, "--max-file-size", "1"])
        #expect(staged.status == 3 && staged.err.contains("model.bin") && staged.err.contains("commit blocked"),
                "\(staged.err)")
        // …even with -q; unless that kind of skip is allowed knowingly.
        #expect(try CLITests.arca(["scan", "--staged", repo.path, "--max-file-size", "1", "-q"]).err.contains("model.bin"))
        #expect(try CLITests.arca(["scan", "--staged", repo.path, "--max-file-size", "1", "--allow-skip", "too-large"]).status == 0)
        #expect(try CLITests.arca(["hook", "install", repo.path, "--allow-skip", "nonsense"]).status == 2)
        // A tree scan names what it skipped (except binary files, which it counts).
        let tree = try CLITests.tree(["big.txt": String(repeating: "a\n", count: 600_000), "x.bin": "\u{0}\u{1}"])
        let scan = try CLITests.arca(["scan", tree, "--max-file-size", "1"])
        #expect(scan.status == 0 && scan.err.contains("skipped big.txt: too large") && scan.err.contains("1 binary file"))
    }

    /// Reproduction: zip, jar, tar.gz and gz members were skipped as "binary" and a credential committed inside
    /// a release tarball passed the hook. Members are scanned; an archive that cannot be read blocks by name.
    @Test func hookOpensStagedArchivesAndBlocksOnOnesItCannotRead() throws {
        let repo = try Self.hookedRepo()
        let script = """
        import tarfile, io, zipfile
        data = b'STRIPE_KEY = "\(CLITests.stripeKey)"\\n'
        with tarfile.open('release.tar.gz', 'w:gz') as t:
            info = tarfile.TarInfo('release/config.py'); info.size = len(data); t.addfile(info, io.BytesIO(data))
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, 'w') as z: z.writestr('a.txt', 'hello')
        open('broken.zip', 'wb').write(buf.getvalue()[:40])
        """
        let made = try CLITests.run("/usr/bin/env", ["python3", "-c", script], cwd: repo.path)
        #expect(made.status == 0, "\(made.err)")
        try repo.git("add", "release.tar.gz")
        let blocked = try repo.git("commit", "-qm", "release")
        #expect(blocked.status != 0 && (blocked.out + blocked.err).contains("release.tar.gz!release/config.py"),
                "\(blocked.out)\(blocked.err)")
        #expect(!(blocked.out + blocked.err).contains(CLITests.stripeKey))
        try repo.git("reset", "-q", "release.tar.gz")
        try repo.git("add", "broken.zip")
        let broken = try CLITests.arca(["scan", "--staged", repo.path])
        #expect(broken.status == 3 && broken.err.contains("broken.zip") && broken.err.contains("archive"), "\(broken.err)")
        #expect(try CLITests.arca(["scan", "--staged", repo.path, "--allow-skip", "archive"]).status == 0)
    }

    /// Reproduction: `arca hook install` in a linked worktree wrote into `.git/worktrees/<name>/hooks`, which git
    /// never runs, so a secret was committed.
    @Test func hookInstalledFromALinkedWorktreeBlocksItsCommits() throws {
        let repo = try Repo()
        try repo.write("README.md", "hi\n")
        try repo.git("add", ".")
        try repo.git("commit", "-qm", "init")
        let wt = try CLITests.tree([:]) + "/wt"
        #expect(try repo.git("worktree", "add", "-q", wt, "-b", "feature").status == 0)
        let install = try CLITests.arca(["hook", "install", wt])
        #expect(install.status == 0 && install.err.contains(repo.path + "/.git/hooks/pre-commit"), "\(install.err)")
        let linked = Repo(path: wt)
        try linked.write("app.py", "STRIPE = \"\(CLITests.stripeKey)\"\n")
        try linked.git("add", "app.py")
        let blocked = try linked.git("commit", "-qm", "leak")
        #expect(blocked.status != 0 && (blocked.out + blocked.err).contains("Commit blocked"))
        #expect(try linked.git("log", "--oneline").out.split(separator: "\n").count == 1)
    }

    /// Outsider pass: a staged symbolic link (its blob is the target) passed unscanned and unnamed; files the
    /// configuration excludes passed unnamed; `core.hooksPath` starting with `~` installed where git never looks.
    @Test func linksAreScannedIgnoredFilesNamedAndHooksPathExpanded() throws {
        let repo = try Self.hookedRepo()
        #expect(symlink(Self.githubToken, repo.path + "/lnk") == 0)
        try repo.git("add", "lnk")
        let blocked = try repo.git("commit", "-qm", "link")
        #expect(blocked.status != 0 && (blocked.out + blocked.err).contains("github-pat-classic"), "\(blocked.err)")
        try repo.git("rm", "-q", "--cached", "lnk")
        try repo.write("vendor/x.py", "t = 1\n")
        try repo.git("add", "vendor/x.py")
        let named = try CLITests.arca(["scan", "--staged", repo.path])
        #expect(named.status == 0 && named.err.contains("skipped vendor/x.py: never scanned"), "\(named.err)")
        let home = try CLITests.tree([:])
        let other = try Repo()
        try other.git("config", "core.hooksPath", "~/hk")
        let install = try CLITests.run(CLITests.binary, ["hook", "install", other.path], env: ["HOME": home])
        #expect(install.status == 0 && install.err.contains(home + "/hk/pre-commit"), "\(install.err)")
    }

    // MARK: 3. Errors are never "clean"

    /// Reproduction: a repository whose only secret's blob object is deleted: `arca scan --git` warned and
    /// exited 0 with `skipped: []`; with `-q`, nothing at all.
    @Test func aMissingGitObjectIsARuntimeError() throws {
        let repo = try Repo()
        try repo.write("app.py", "STRIPE = \"\(CLITests.stripeKey)\"\n")
        try repo.git("add", ".")
        try repo.git("commit", "-qm", "leak", "--no-verify")
        let blob = try repo.git("rev-parse", "HEAD:app.py").out.trimmingCharacters(in: .whitespacesAndNewlines)
        let object = repo.path + "/.git/objects/\(blob.prefix(2))/\(blob.dropFirst(2))"
        try FileManager.default.removeItem(atPath: object)
        let r = try CLITests.arca(["scan", "--git", repo.path])
        #expect(r.status == 3 && r.err.contains(blob) && r.err.contains("app.py"), "\(r.status) \(r.err)")
        let quiet = try CLITests.arca(["scan", "--git", repo.path, "-q"])
        #expect(quiet.status == 3 && quiet.err.contains(blob))
        let json = try CLITests.arca(["scan", "--git", repo.path, "--format", "json"])
        let doc = try JSONSerialization.jsonObject(with: Data(json.out.utf8)) as! [String: Any]
        #expect(json.status == 3 && (doc["errors"] as? [String])?.first?.contains(blob) == true)
        let sarif = try CLITests.arca(["scan", "--git", repo.path, "--format", "sarif"])
        #expect(sarif.out.contains("\"executionSuccessful\": false"))
        // A baseline of an incomplete scan is refused.
        #expect(try CLITests.arca(["baseline", "create", "--git", repo.path, "-o", repo.path + "/b"]).status == 3)
        // A missing tree: the history walk itself fails, exit 3 (not 2: the usage was fine).
        let tree = try repo.git("rev-parse", "HEAD^{tree}").out.trimmingCharacters(in: .whitespacesAndNewlines)
        try FileManager.default.removeItem(atPath: repo.path + "/.git/objects/\(tree.prefix(2))/\(tree.dropFirst(2))")
        let walk = try CLITests.arca(["scan", "--git", repo.path])
        #expect(walk.status == 3 && walk.err.contains(tree), "\(walk.err)")
        // The staged scan too.
        let staged = try CLITests.arca(["scan", "--staged", repo.path])
        #expect(staged.status == 3, "an index against a missing HEAD tree is a runtime error: \(staged.err)")
        #expect(try CLITests.arca(["scan", "--git", repo.path, "--range", "nosuch..HEAD"]).status == 2)
        // A branch that points at an object the repository does not have: damaged, exit 3 (outsider pass).
        let broken = try Repo()
        try broken.write("a.py", "x = 1\n")
        try broken.git("add", ".")
        try broken.git("commit", "-qm", "one", "--no-verify")
        try "1234567890abcdef1234567890abcdef12345678\n".write(toFile: broken.path + "/.git/refs/heads/main", atomically: true, encoding: .utf8)
        let ref = try CLITests.arca(["scan", "--git", broken.path])
        #expect(ref.status == 3, "\(ref.err)")
    }
}

/// Outsider pass on migrate: a file of the user's with a helper's name, an edited helper at rollback, a
/// second name left beside a file saved atomically while migrate copied, a read-only client secret.
@Suite struct MigrateOutsiderTests {
    static let stripe = "sk_live_51HxQ2bKa8Zr3Tq9Lm4Np7Wv2Ys6Cd1Ef0Gh"

    static func repo(_ files: [String: String]) throws -> String {
        let root = try CLITests.tree(files)
        for args in [["init", "-q"], ["config", "user.email", "a@b"], ["config", "user.name", "a"], ["add", "-A"], ["commit", "-qm", "i", "--no-verify"]] {
            _ = try CLITests.run("/usr/bin/git", args, cwd: root)
        }
        return root
    }

    @Test func aUsersFileWithAHelpersNameIsRefused() throws {
        let root = try Self.repo(["app.py": "STRIPE_KEY = \"\(Self.stripe)\"\nprint(len(STRIPE_KEY))\n",
                                  "arca_vault.py": "def secret(n):\n    return 'MINE'\n"])
        let vaultDir = try CLITests.tree([:]) + "/v"
        #expect(try CLITests.arca(["vault", "init", "--seal", "key-file", "--vault-dir", vaultDir]).status == 0)
        let r = try CLITests.arca(["migrate", root, "--apply", "--yes", "--vault-dir", vaultDir])
        #expect(r.status == 2 && r.err.contains("arca_vault.py exists and is not Arca's lookup helper"), "\(r.err)")
        #expect(try String(contentsOfFile: root + "/app.py", encoding: .utf8).contains(Self.stripe), "nothing was written")
    }

    @Test func aRollbackNeverRemovesAnEditedHelper() throws {
        let root = try Self.repo(["app.py": "STRIPE_KEY = \"\(Self.stripe)\"\nprint(len(STRIPE_KEY))\n"])
        let vaultDir = try CLITests.tree([:]) + "/v"
        #expect(try CLITests.arca(["vault", "init", "--seal", "key-file", "--vault-dir", vaultDir]).status == 0)
        let applied = try CLITests.arca(["migrate", root, "--apply", "--yes", "--vault-dir", vaultDir])
        #expect(applied.status == 0, "\(applied.err)")
        let helper = root + "/arca_vault.py"
        try (try String(contentsOfFile: helper, encoding: .utf8) + "# my local fix\n").write(toFile: helper, atomically: true, encoding: .utf8)
        let back = try CLITests.arca(["migrate", root, "--rollback", "--vault-dir", vaultDir])
        #expect(back.status == 3 && back.err.contains("arca_vault.py changed since the migration"), "\(back.err)")
        #expect(FileManager.default.fileExists(atPath: helper))
    }

    @Test func aFileSavedAtomicallyWhileCopyingLeavesNoSecondName() throws {
        var files: [String: String] = [:]
        for i in 1...6 { files["pkg/mod\(i).py"] = "STRIPE_KEY = \"\(Self.stripe)\"\nprint(len(STRIPE_KEY))\n" }
        let root = try Self.repo(files)
        let vaultDir = try CLITests.tree([:]) + "/v"
        #expect(try CLITests.arca(["vault", "init", "--seal", "key-file", "--vault-dir", vaultDir]).status == 0)
        let pause = try CLITests.tree([:]) + "/pause"
        let p = Process()
        p.executableURL = URL(fileURLWithPath: CLITests.binary)
        p.arguments = ["migrate", root, "--apply", "--yes", "--vault-dir", vaultDir]
        p.environment = ProcessInfo.processInfo.environment.merging(["ARCA_TEST_PAUSE": "copy#3", "ARCA_TEST_PAUSE_FILE": pause]) { $1 }
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        let deadline = Date().addingTimeInterval(60)
        while !FileManager.default.fileExists(atPath: pause) && Date() < deadline { usleep(50_000) }
        // mod4 is next; mod1…mod3 have their second names: save mod2 the way editors do (write aside, rename).
        let target = root + "/pkg/mod2.py"
        try (try String(contentsOfFile: target, encoding: .utf8) + "# EDIT\n").write(toFile: root + "/pkg/.tmp", atomically: false, encoding: .utf8)
        #expect(rename(root + "/pkg/.tmp", target) == 0)
        try FileManager.default.removeItem(atPath: pause)
        p.waitUntilExit()
        #expect(p.terminationStatus == 3)
        let left = try FileManager.default.contentsOfDirectory(atPath: root + "/pkg").filter { $0.contains(".arca-") }
        #expect(left.isEmpty, "\(left)")
        #expect(try String(contentsOfFile: target, encoding: .utf8).hasSuffix("# EDIT\n"), "the edit is kept")
    }

    @Test func aReadOnlyClientSecretStopsTheShellLookup() throws {
        let helper = CLITests.repoRoot.appendingPathComponent("Sources/ArcaMigrate/helpers/arca-vault.sh").path
        let script = "readonly AZURE_CLIENT_SECRET=s3cr3t-value-123; export AZURE_CLIENT_SECRET; . '\(helper)'; x=$(arca_secret k) || { echo stopped; exit 1; }; echo ran-on"
        let r = try CLITests.run("/bin/bash", ["-c", script], env: ["ARCA_VAULT_URL": "https://127.0.0.1:9", "AZURE_TENANT_ID": "t", "AZURE_CLIENT_ID": "c"])
        #expect(r.out.contains("stopped") && !r.out.contains("ran-on") && r.err.contains("read-only"), "\(r.out)\(r.err)")
    }
}

import Foundation
import Testing

/// `arca migrate` never loses a byte: an edit made while it asks or stores refuses the whole migration, a file
/// that cannot be replaced (immutable, a full disk) leaves every file untouched, a kill at any step ends with
/// every file old or every file new once `--recover` has run, and a dry run writes nothing.
@Suite(.serialized) struct MigrateSafetyTests {
    static let files = [".env", "billing.py", "web/server.js", "java/Main.java", "swift/main.swift", "deploy.sh"]

    static func vault() throws -> String {
        let dir = VaultCLITests.dir() + "/v"
        #expect(try CLITests.arca(["vault", "init", "--seal", "key-file", "--vault-dir", dir]).status == 0)
        return dir
    }

    static func read(_ path: String) throws -> String { try String(contentsOfFile: path, encoding: .utf8) }

    /// Every file under `root` (the state folder included) with its bytes: what "writes nothing" compares.
    static func snapshot(_ root: String) -> [String: Data] {
        var out: [String: Data] = [:]
        guard let walker = FileManager.default.enumerator(atPath: root) else { return out }
        for case let rel as String in walker {
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: root + "/" + rel, isDirectory: &isDir), !isDir.boolValue,
               !rel.hasPrefix(".git/objects"), !rel.hasPrefix(".git/logs") {
                out[rel] = FileManager.default.contents(atPath: root + "/" + rel) ?? Data()
            }
        }
        return out
    }

    static func leftovers(_ root: String) throws -> String {
        try CLITests.run("/usr/bin/find", [root, "-name", "*.arca-new", "-o", "-name", "*.arca-old"]).out
    }

    /// Starts `arca ARGS` paused at `step` (ARCA_TEST_PAUSE); returns once it is there, or nil if it never got there.
    static func startPaused(_ args: [String], at step: String, marker: String, exchanges: Bool = true) throws -> Process? {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: CLITests.binary)
        p.arguments = args
        var env = ["ARCA_TEST_PAUSE": step, "ARCA_TEST_PAUSE_FILE": marker]
        if !exchanges { env["ARCA_TEST_NO_EXCHANGE"] = "1" }
        p.environment = ProcessInfo.processInfo.environment.merging(env) { $1 }
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        let deadline = Date().addingTimeInterval(90)
        while !FileManager.default.fileExists(atPath: marker), p.isRunning, Date() < deadline { usleep(5_000) }
        guard FileManager.default.fileExists(atPath: marker) else {
            p.terminate()
            p.waitUntilExit()
            return nil
        }
        return p
    }

    /// Everything is as it was: same bytes in every file, no copies, no helpers, nothing for git to see.
    static func expectUntouched(_ root: String, _ originals: [(String, String)], except edited: String? = nil) throws {
        for (rel, text) in originals where rel != edited {
            #expect(try read(root + "/" + rel) == text, "\(rel) was changed")
        }
        let left = try leftovers(root)
        #expect(left.isEmpty, "copies left: \(left)")
        let status = try MigrateTests.git(["status", "--porcelain", "--untracked-files=all"], root)
        let expected = edited.map { " M \($0)\n" } ?? ""
        #expect(status == expected, "git sees: \(status)")
    }

    // MARK: Edits made while migrate waits

    /// Reproduction: a line appended while `migrate --apply` waits at its confirmation prompt (a real terminal)
    /// used to be overwritten, and `--rollback` then restored the text from before the edit.
    @Test func anEditDuringThePromptRefusesTheMigration() throws {
        let root = try MigrateTests.project()
        let vaultDir = try Self.vault()
        let originals = try Self.files.map { ($0, try Self.read(root + "/" + $0)) }
        let driver = try CLITests.tree(["drive.py": """
            import os, pty, select, sys, time
            arca, root, vault, target = sys.argv[1:5]
            pid, fd = pty.fork()
            if pid == 0:
                os.execv(arca, [arca, "migrate", root, "--apply", "--no-history", "--vault-dir", vault])
            out = b""
            deadline = time.time() + 120
            while b"[y/N]" not in out and time.time() < deadline:
                if select.select([fd], [], [], 1)[0]:
                    try:
                        out += os.read(fd, 4096)
                    except OSError:
                        break
            with open(target, "a") as f:
                f.write("# appended while migrate asked\\n")
            os.write(fd, b"y\\n")
            while True:
                try:
                    chunk = os.read(fd, 4096)
                except OSError:
                    break
                if not chunk:
                    break
                out += chunk
            _, status = os.waitpid(pid, 0)
            sys.stdout.write(out.decode(errors="replace"))
            sys.exit(os.waitstatus_to_exitcode(status))

            """])
        let r = try CLITests.run("/usr/bin/env", ["python3", driver + "/drive.py", CLITests.binary, root, vaultDir, root + "/billing.py"])
        #expect(r.out.contains("[y/N]"), "never asked: \(r.out)")
        #expect(r.status == 3 && r.out.contains("billing.py") && r.out.contains("changed"), "\(r.status): \(r.out)")
        let billing = try Self.read(root + "/billing.py")
        #expect(billing == originals[1].1 + "# appended while migrate asked\n")
        try Self.expectUntouched(root, originals, except: "billing.py")
        #expect(!r.out.contains(MigrateTests.dbPassword) && !r.out.contains(MigrateTests.stripe))
        // Nothing to roll back: the migration never happened.
        #expect(try CLITests.arca(["migrate", root, "--rollback", "--vault-dir", vaultDir]).status == 3)
        #expect(try Self.read(root + "/billing.py") == billing)
    }

    /// Reproduction: a line appended while `migrate --apply --yes` stores the secrets of a 300-file project
    /// used to be overwritten.
    @Test func anEditWhileStoringRefusesTheMigration() throws {
        var files: [String: String] = [:]
        for i in 0..<300 {
            let value = "Qz7!" + String(UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(18))
            files[String(format: "svc/mod%03d.py", i)] = "DB_PASSWORD_\(i) = \"\(value)\"\nprint(len(DB_PASSWORD_\(i)))\n"
        }
        let root = try CLITests.tree(files)
        try MigrateTests.git(["init", "-q", "-b", "main"], root)
        try MigrateTests.git(["add", "-A"], root)
        try MigrateTests.git(["-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-qm", "many"], root)
        let vaultDir = try Self.vault()
        let originals = files.keys.sorted().map { ($0, files[$0]!) }
        let marker = root + "/../pause-\(UUID().uuidString)"
        let p = try #require(try Self.startPaused(["migrate", root, "--apply", "--yes", "--no-history", "--vault-dir", vaultDir],
                                                  at: "storing", marker: marker))
        let edited = "svc/mod150.py"
        let handle = try #require(FileHandle(forWritingAtPath: root + "/" + edited))
        handle.seekToEndOfFile()
        handle.write(Data("print('appended while migrate stored')\n".utf8))
        try handle.close()
        try FileManager.default.removeItem(atPath: marker)
        p.waitUntilExit()
        #expect(p.terminationStatus == 3)
        #expect(try Self.read(root + "/" + edited) == files[edited]! + "print('appended while migrate stored')\n")
        try Self.expectUntouched(root, originals, except: edited)
    }

    // MARK: Files that cannot be replaced

    static let chattrWorks: Bool = {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("arca-chattr-\(UUID().uuidString)").path
        _ = FileManager.default.createFile(atPath: dir, contents: Data())
        defer { _ = try? CLITests.run("/usr/bin/chattr", ["-i", dir]); try? FileManager.default.removeItem(atPath: dir) }
        return (try? CLITests.run("/usr/bin/chattr", ["+i", dir]).status) == 0
    }()

    /// Reproduction: with one target immutable, `.env` used to be rewritten and the others not, `.arca-new`
    /// copies were left behind and the exit code was 3.
    /// The same for an immutable folder holding a target (no copy can be made beside the file).
    @Test(.enabled(if: chattrWorks, "chattr +i is not supported here (needs root and a file system with inode flags)"),
          arguments: ["deploy.sh", "web"])
    func anImmutableFileLeavesEveryFileUntouched(_ immutable: String) throws {
        let root = try MigrateTests.project()
        let vaultDir = try Self.vault()
        let originals = try Self.files.map { ($0, try Self.read(root + "/" + $0)) }
        #expect(try CLITests.run("/usr/bin/chattr", ["+i", root + "/" + immutable]).status == 0)
        defer { _ = try? CLITests.run("/usr/bin/chattr", ["-i", root + "/" + immutable]) }
        let r = try CLITests.arca(["migrate", root, "--apply", "--yes", "--no-history", "--vault-dir", vaultDir])
        #expect(r.status == 3 && r.err.contains(immutable) && r.err.contains(immutable == "web" ? "not permitted" : "immutable"),
                "\(r.status): \(r.err)")
        try Self.expectUntouched(root, originals)
    }

    /// Two migrations of one tree never interleave: while one waits at its prompt, a second (and a dry run) is
    /// refused and writes nothing; the first then finishes.
    @Test func aSecondMigrationWaitsItsTurn() throws {
        let root = try MigrateTests.project()
        let vaultDir = try Self.vault()
        let marker = root + "/../pause-\(UUID().uuidString)"
        let p = try #require(try Self.startPaused(["migrate", root, "--apply", "--yes", "--no-history", "--vault-dir", vaultDir],
                                                  at: "confirm", marker: marker))
        let before = Self.snapshot(root)
        let second = try CLITests.arca(["migrate", root, "--apply", "--yes", "--no-history", "--vault-dir", vaultDir])
        #expect(second.status == 2 && second.err.contains("another arca migrate"), "\(second.err)")
        let dry = try CLITests.arca(["migrate", root, "--vault-dir", vaultDir])
        #expect(dry.status == 2 && dry.err.contains("another arca migrate"), "\(dry.err)")
        #expect(Self.snapshot(root) == before)
        try FileManager.default.removeItem(atPath: marker)
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
        #expect(try CLITests.arca(["migrate", root, "--rollback", "--vault-dir", vaultDir]).status == 0)
    }

    /// A file's owner and mode survive the migration and the rollback (root can tell).
    @Test(.enabled(if: getuid() == 0, "only root can give a file to another owner"))
    func ownerAndModeAreKept() throws {
        let root = try MigrateTests.project()
        let vaultDir = try Self.vault()
        #expect(chown(root + "/deploy.sh", 65534, 65534) == 0 && chmod(root + "/deploy.sh", 0o750) == 0)
        func owner() -> (uid_t, gid_t, mode_t) {
            var st = stat()
            _ = stat(root + "/deploy.sh", &st)
            return (st.st_uid, st.st_gid, st.st_mode & 0o7777)
        }
        #expect(try CLITests.arca(["migrate", root, "--apply", "--yes", "--force", "--no-history", "--vault-dir", vaultDir]).status == 0)
        #expect(owner() == (65534, 65534, 0o750))
        #expect(try CLITests.arca(["migrate", root, "--rollback", "--vault-dir", vaultDir]).status == 0)
        #expect(owner() == (65534, 65534, 0o750))
    }

    // MARK: Edits after the commit point

    /// An append to a file after the check and the record, before its swap: the displaced file is not the one
    /// checked, so it is swapped back and every file is put back; the edit stays.
    /// With renameat2's exchange and with plain renames (the old file, with the append, is put back from its
    /// second name).
    @Test(arguments: [true, false])
    func anEditAfterTheCommitPointPutsEveryFileBack(_ exchanges: Bool) throws {
        let root = try MigrateTests.project()
        let vaultDir = try Self.vault()
        let originals = try Self.files.map { ($0, try Self.read(root + "/" + $0)) }
        let marker = root + "/../pause-\(UUID().uuidString)"
        let p = try #require(try Self.startPaused(["migrate", root, "--apply", "--yes", "--no-history", "--vault-dir", vaultDir],
                                                  at: "prepared", marker: marker, exchanges: exchanges))
        let handle = try #require(FileHandle(forWritingAtPath: root + "/billing.py"))
        handle.seekToEndOfFile()
        handle.write(Data("# appended after the check\n".utf8))
        try handle.close()
        try FileManager.default.removeItem(atPath: marker)
        p.waitUntilExit()
        #expect(p.terminationStatus == 3)
        #expect(try Self.read(root + "/billing.py") == originals[1].1 + "# appended after the check\n")
        try Self.expectUntouched(root, originals, except: "billing.py")
        #expect(try CLITests.arca(["migrate", root, "--vault-dir", vaultDir]).status == 0, "the dry run sees no interrupted migration")
    }

    /// An editor's atomic save (a new file renamed over the old) between two swaps: it is swapped back, kept,
    /// and every other file is put back.
    @Test func anAtomicSaveBetweenSwapsIsKept() throws {
        let root = try MigrateTests.project()
        let vaultDir = try Self.vault()
        let originals = try Self.files.map { ($0, try Self.read(root + "/" + $0)) }
        let marker = root + "/../pause-\(UUID().uuidString)"
        // Swapped in path order: .env, billing.py, deploy.sh, …: pause after the second, replace the third.
        let p = try #require(try Self.startPaused(["migrate", root, "--apply", "--yes", "--no-history", "--vault-dir", vaultDir],
                                                  at: "swap#2", marker: marker))
        let saved = originals[5].1 + "echo saved by an editor\n"
        try saved.write(toFile: root + "/deploy.sh", atomically: true, encoding: .utf8)
        try FileManager.default.removeItem(atPath: marker)
        p.waitUntilExit()
        #expect(p.terminationStatus == 3)
        #expect(try Self.read(root + "/deploy.sh") == saved)
        try Self.expectUntouched(root, originals, except: "deploy.sh")
    }

    static let tmpfsWorks: Bool = {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("arca-mount-\(UUID().uuidString)").path
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        guard (try? CLITests.run("/bin/mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", dir]).status) == 0 else { return false }
        _ = try? CLITests.run("/bin/umount", [dir])
        return true
    }()

    /// A full disk (a small tmpfs) while the new texts are written: every file untouched, no copy left.
    @Test(.enabled(if: tmpfsWorks, "mounting a tmpfs needs root with CAP_SYS_ADMIN"))
    func aFullDiskLeavesEveryFileUntouched() throws {
        let mount = FileManager.default.temporaryDirectory.appendingPathComponent("arca-full-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: mount, withIntermediateDirectories: true)
        #expect(try CLITests.run("/bin/mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", mount]).status == 0)
        defer { _ = try? CLITests.run("/bin/umount", [mount]) }
        let padding = String(repeating: "// padding to make the new text need more room than is left\n", count: 2_000)
        let originals = [
            ("billing.py", "DB_PASSWORD = \"\(MigrateTests.dbPassword)\"\nprint(len(DB_PASSWORD))\n"),
            ("web/big.js", "const stripeKey = \"\(MigrateTests.stripe)\";\n" + padding + "console.log(stripeKey.length);\n"),
        ]
        for (rel, text) in originals {
            try FileManager.default.createDirectory(atPath: ((mount + "/" + rel) as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try text.write(toFile: mount + "/" + rel, atomically: false, encoding: .utf8)
        }
        // Fill the disk but for 48 KiB: the state folder and the small copy fit, the big copy does not.
        var fs = statvfs()
        #expect(statvfs(mount, &fs) == 0)
        let free = Int(fs.f_bavail) * Int(fs.f_frsize)
        _ = FileManager.default.createFile(atPath: mount + "/filler", contents: Data(count: max(0, free - 48 * 1024)))
        let vaultDir = try Self.vault()
        let r = try CLITests.arca(["migrate", mount, "--apply", "--yes", "--no-history", "--vault-dir", vaultDir])
        #expect(r.status == 3 && r.err.contains("No space left"), "\(r.status): \(r.err)")
        for (rel, text) in originals { #expect(try Self.read(mount + "/" + rel) == text, "\(rel) changed") }
        #expect(try Self.leftovers(mount).isEmpty)
        for helper in ["arca_vault.py", "web/arca-vault.cjs"] { #expect(!FileManager.default.fileExists(atPath: mount + "/" + helper)) }
        // With room again, the same migration goes through.
        try FileManager.default.removeItem(atPath: mount + "/filler")
        let again = try CLITests.arca(["migrate", mount, "--apply", "--yes", "--no-history", "--vault-dir", vaultDir])
        #expect(again.status == 0, "\(again.err)")
    }

    // MARK: Killed at every step

    /// The steps `migrate --apply` passes, in order; a kill at one before `prepared` (the commit point) ends
    /// with every file old, at `prepared` or after with every file new.
    static let steps = ["confirm", "storing", "stored", "pending", "copy#1", "copy#4", "checked", "prepared",
                        "swap#1", "swap#3", "swapped", "applied"]

    /// Each step with renameat2's exchange, and the swap steps again with plain renames (file systems without it).
    static let kills = steps.map { ($0, true) } + ["prepared", "swap#1", "swap#3", "swapped"].map { ($0, false) }

    @Test(arguments: kills)
    func killedAtEveryStepEndsAllOldOrAllNew(_ step: String, _ exchanges: Bool) throws {
        let root = try MigrateTests.project()
        let vaultDir = try Self.vault()
        let originals = try Self.files.map { ($0, try Self.read(root + "/" + $0)) }
        let marker = root + "/../pause-\(UUID().uuidString)"
        let p = try #require(try Self.startPaused(["migrate", root, "--apply", "--yes", "--no-history", "--vault-dir", vaultDir],
                                                  at: step, marker: marker, exchanges: exchanges), "never reached \(step)")
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        try? FileManager.default.removeItem(atPath: marker)

        // A dry run writes nothing: it names the interrupted migration and the command that finishes it.
        let before = Self.snapshot(root)
        let dry = try CLITests.arca(["migrate", root, "--vault-dir", vaultDir])
        #expect(Self.snapshot(root) == before, "the dry run wrote")
        let pendingState = FileManager.default.fileExists(atPath: root + "/.git/arca-migrate/pending")
        if pendingState {
            #expect(dry.status == 2 && dry.err.contains("--recover") && dry.err.contains("nothing was written"), "\(dry.status) \(dry.err)")
        }
        let recovered = try CLITests.arca(["migrate", root, "--recover", "--vault-dir", vaultDir])
        #expect(recovered.status == 0, "\(recovered.err)")

        let now = try Self.files.map { try Self.read(root + "/" + $0) }
        let unchanged = zip(originals, now).filter { $0.0.1 == $0.1 }.count
        let committed = Self.steps.firstIndex(of: step)! >= Self.steps.firstIndex(of: "prepared")!
        #expect(unchanged == (committed ? 0 : originals.count), "\(unchanged) of \(originals.count) files unchanged")
        #expect(try Self.leftovers(root).isEmpty)
        if committed {
            for name in ["db-password", "stripe-key", "api-password"] {
                let got = try CLITests.arca(["vault", "secret", "get", name, "--vault-dir", vaultDir])
                #expect(got.status == 0 && !got.out.isEmpty, "\(name) lost")
            }
            #expect(try CLITests.arca(["migrate", root, "--rollback", "--vault-dir", vaultDir]).status == 0)
        }
        try Self.expectUntouched(root, originals)
    }

    /// A rollback killed half-way is finished by `--recover`: every file old again, the helpers gone.
    @Test(arguments: ["rolling-back", "swap#2"])
    func aRollbackKilledHalfWayIsFinished(_ step: String) throws {
        let root = try MigrateTests.project()
        let vaultDir = try Self.vault()
        let originals = try Self.files.map { ($0, try Self.read(root + "/" + $0)) }
        let applied = try CLITests.arca(["migrate", root, "--apply", "--yes", "--no-history", "--vault-dir", vaultDir])
        #expect(applied.status == 0, "\(applied.err)")
        let marker = root + "/../pause-\(UUID().uuidString)"
        let p = try #require(try Self.startPaused(["migrate", root, "--rollback", "--vault-dir", vaultDir], at: step, marker: marker))
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        try? FileManager.default.removeItem(atPath: marker)
        let dry = try CLITests.arca(["migrate", root, "--vault-dir", vaultDir])
        #expect(dry.status == 2 && dry.err.contains("rollback was interrupted"), "\(dry.err)")
        #expect(try CLITests.arca(["migrate", root, "--recover", "--vault-dir", vaultDir]).status == 0)
        try Self.expectUntouched(root, originals)
    }

    /// An edit made after the migration is never rolled over without --force.
    @Test func aRollbackKeepsAnEditMadeAfterTheMigration() throws {
        let root = try MigrateTests.project()
        let vaultDir = try Self.vault()
        #expect(try CLITests.arca(["migrate", root, "--apply", "--yes", "--no-history", "--vault-dir", vaultDir]).status == 0)
        let edited = try Self.read(root + "/billing.py") + "# later\n"
        try edited.write(toFile: root + "/billing.py", atomically: false, encoding: .utf8)
        let r = try CLITests.arca(["migrate", root, "--rollback", "--vault-dir", vaultDir])
        #expect(r.status == 3 && r.err.contains("billing.py"))
        #expect(try Self.read(root + "/billing.py") == edited)
        #expect(try Self.leftovers(root).isEmpty)
    }
}

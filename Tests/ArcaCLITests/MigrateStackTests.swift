import Foundation
import Testing

/// Issue 14, "rollback and re-runs as a user expects": migrations stack and are listed, `--rollback` reads from
/// the vault its record names, the record never lands in a work tree (a monorepo subfolder too), a soft-deleted
/// name is not reused, an unreachable vault is its own exit code with one line and the `--ca-cert` hint, `arca
/// run` honours the vault a reference names, and what migrate leaves behind is listed.
@Suite(.serialized) struct MigrateStackTests {
    static let first = "Tr0ub4dor&3xQ9z"
    static let second = "mV8#qL2pX9wK4n"

    static func repo(_ files: [String: String]) throws -> String {
        let root = try CLITests.tree(files)
        try MigrateTests.git(["init", "-q", "-b", "main"], root)
        try commit(root, "start")
        return root
    }

    static func commit(_ root: String, _ message: String) throws {
        try MigrateTests.git(["add", "-A"], root)
        try MigrateTests.git(["-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-qm", message], root)
    }

    static func keyFileVault() throws -> String {
        let dir = VaultCLITests.dir() + "/v"
        #expect(try CLITests.arca(["vault", "init", "--seal", "key-file", "--vault-dir", dir]).status == 0)
        return dir
    }

    @Test func migrationsStackAndEachRollsBackFromTheVaultItsRecordNames() throws {
        let root = try Self.repo(["billing.py": "DB_PASSWORD = \"\(Self.first)\"\nprint(len(DB_PASSWORD))\n",
                                  "README.md": "The database password is \(Self.first) (change it).\n"])
        let vault = try Self.keyFileVault()
        let one = try CLITests.arca(["migrate", root, "--apply", "--yes", "--no-history", "--vault-dir", vault])
        #expect(one.status == 0, "\(one.err)")
        // What migrate cannot rewrite is listed, not silently left.
        #expect(one.out.contains("Remaining, not rewritten") && one.out.contains("README.md:1"), "\(one.out)")
        try Self.commit(root, "migrated once")
        try "SMTP_PASSWORD = \"\(Self.second)\"\nprint(len(SMTP_PASSWORD))\n".write(toFile: root + "/mailer.py", atomically: true, encoding: .utf8)
        try Self.commit(root, "a new secret")
        let two = try CLITests.arca(["migrate", root, "--apply", "--yes", "--no-history", "--vault-dir", vault])
        #expect(two.status == 0, "\(two.err)")
        let list = try CLITests.arca(["migrate", root, "--list"])
        #expect(list.status == 0)
        let ids = list.out.split(separator: "\n").filter { $0.contains("  applied  ") }.compactMap { $0.split(separator: " ").first.map(String.init) }
        #expect(ids.count == 2, "\(list.out)")
        guard ids.count == 2 else { return }
        // The first one, by its id's first characters, while the second stays; no --vault-dir: the record says.
        let away = ["ARCA_VAULT_DIR": VaultCLITests.dir() + "/elsewhere"]
        let back1 = try CLITests.arca(["migrate", root, "--rollback", String(ids[0].prefix(8))], env: away)
        #expect(back1.status == 0, "\(back1.err)")
        #expect(try String(contentsOfFile: root + "/billing.py", encoding: .utf8).contains(Self.first))
        #expect(!(try String(contentsOfFile: root + "/mailer.py", encoding: .utf8)).contains(Self.second))
        #expect(FileManager.default.fileExists(atPath: root + "/arca_vault.py"), "mailer.py still needs the helper")
        // Then the last applied one; the helper goes once nothing uses it.
        let back2 = try CLITests.arca(["migrate", root, "--rollback"], env: away)
        #expect(back2.status == 0, "\(back2.err)")
        #expect(try MigrateTests.git(["diff", "--stat", "HEAD~1"], root).contains("billing.py"))
        #expect(try String(contentsOfFile: root + "/mailer.py", encoding: .utf8).contains(Self.second))
        #expect(!FileManager.default.fileExists(atPath: root + "/arca_vault.py"))
        #expect(try CLITests.arca(["migrate", root, "--rollback", "ffffffff"], env: away).status == 3)
    }

    @Test func aSubfolderProjectKeepsItsRecordInTheGitDir() throws {
        let repo = try Self.repo(["services/billing/app.py": "DB_PASSWORD = \"\(Self.first)\"\n", "README.md": "monorepo\n"])
        let vault = try Self.keyFileVault()
        let r = try CLITests.arca(["migrate", repo + "/services/billing", "--apply", "--yes", "--no-history", "--vault-dir", vault])
        #expect(r.status == 0, "\(r.err)")
        let status = try MigrateTests.git(["status", "--porcelain", "--untracked-files=all", "--ignored"], repo)
        #expect(!status.contains("arca-migrate"), "\(status)")
        #expect(FileManager.default.fileExists(atPath: repo + "/.git/arca-migrate/projects/services%2Fbilling/latest"))
        let back = try CLITests.arca(["migrate", repo + "/services/billing", "--rollback"])
        #expect(back.status == 0, "\(back.err)")
        #expect(try MigrateTests.git(["status", "--porcelain", "--untracked-files=all"], repo).isEmpty)
    }

    @Test func aSoftDeletedNameIsNotReused() throws {
        let root = try Self.repo(["app.py": "DB_PASSWORD = \"\(Self.first)\"\n"])
        let vault = try Self.keyFileVault()
        #expect(try CLITests.arca(["vault", "secret", "set", "db-password", "--vault-dir", vault], stdin: "old-value-1").status == 0)
        #expect(try CLITests.arca(["vault", "secret", "delete", "db-password", "--vault-dir", vault]).status == 0)
        let dry = try CLITests.arca(["migrate", root, "--vault-dir", vault])
        #expect(dry.status == 0 && dry.out.contains("db-password-2"), "\(dry.out)\(dry.err)")
        let applied = try CLITests.arca(["migrate", root, "--apply", "--yes", "--no-history", "--vault-dir", vault])
        #expect(applied.status == 0, "\(applied.err)")
        #expect(try String(contentsOfFile: root + "/app.py", encoding: .utf8).contains("db-password-2"))
    }

    @Test func anUnreachableVaultIsExitEightWithOneLineAndTheHint() throws {
        let root = try Self.repo(["app.py": "DB_PASSWORD = \"\(Self.first)\"\n"])
        let creds = ["AZURE_TENANT_ID": "t", "AZURE_CLIENT_ID": "c", "AZURE_CLIENT_SECRET": "s", "ARCA_CA_CERT": ""]
        let dry = try CLITests.arca(["migrate", root, "--vault", "https://127.0.0.1:1"], env: creds)
        #expect(dry.status == 0 && dry.out.contains("could not be asked") && dry.out.contains("may change"), "\(dry.out)\(dry.err)")
        let applied = try CLITests.arca(["migrate", root, "--apply", "--yes", "--vault", "https://127.0.0.1:1"], env: creds)
        #expect(applied.status == 8 && applied.err.contains("cannot reach"), "\(applied.status) \(applied.err)")
        #expect(applied.err.split(separator: "\n").count == 1, "\(applied.err)")
        // A server whose CA is not given: the TLS cause and the hint.
        let server = try VaultServerTests.Server()
        defer { server.kill() }
        let untrusted = try CLITests.arca(["vault", "secret", "list", "--vault", server.url], env: creds)
        #expect(untrusted.status == 8 && untrusted.err.contains("--ca-cert"), "\(untrusted.status) \(untrusted.err)")
        #expect(try MigrateTests.git(["status", "--porcelain"], root).isEmpty)
    }

    @Test func runHonoursTheVaultAReferenceNames() throws {
        let help = try CLITests.arca(["run", "--help"])
        #expect(help.status == 0 && help.out.contains("OVERVIEW"), "\(help.err)")
        let vault = try Self.keyFileVault()
        #expect(try CLITests.arca(["vault", "secret", "set", "db-password", "--vault-dir", vault], stdin: "v4lue").status == 0)
        let other = try CLITests.arca(["run", "--vault-dir", vault, "--", "/bin/sh", "-c", "printf %s \"$X\""],
                                      env: ["X": "@Microsoft.KeyVault(SecretUri=https://other.example.net/secrets/db-password)"])
        #expect(other.status == 2 && other.err.contains("other.example.net") && other.out.isEmpty, "\(other.status) \(other.err)")
        let named = try CLITests.arca(["run", "--vault-dir", vault, "--", "/bin/sh", "-c", "printf %s \"$X\""],
                                      env: ["X": "@Microsoft.KeyVault(VaultName=prod;SecretName=db-password)"])
        #expect(named.status == 2 && named.out.isEmpty, "\(named.status) \(named.err)")
        let plain = try CLITests.arca(["run", "--vault-dir", vault, "--", "/bin/sh", "-c", "printf %s \"$X\""],
                                      env: ["X": "@Microsoft.KeyVault(SecretName=db-password)"])
        #expect(plain.status == 0 && plain.out == "v4lue", "\(plain.err)")
    }

    @Test func arcasOwnHelpersAreNotCredentialReads() throws {
        let root = try Self.repo(["app.py": "DB_PASSWORD = \"\(Self.first)\"\n"])
        let vault = try Self.keyFileVault()
        #expect(try CLITests.arca(["migrate", root, "--apply", "--yes", "--no-history", "--vault-dir", vault]).status == 0)
        let scan = try CLITests.arca(["scan", root, "--env-usage", "credentials", "--format", "json"])
        let findings = try #require(try VaultCLITests.json(scan.out)["findings"] as? [[String: Any]])
        #expect(!findings.contains { ($0["path"] as? String) == "arca_vault.py" }, "\(findings.map { $0["path"] ?? "" })")
        // A file of the user's with the helper's name and no marker is still scanned.
        try FileManager.default.createDirectory(atPath: root + "/sub", withIntermediateDirectories: true)
        try "import os\ntoken = os.environ[\"GITHUB_TOKEN\"]\n".write(toFile: root + "/sub/arca_vault.py", atomically: true, encoding: .utf8)
        let again = try VaultCLITests.json(try CLITests.arca(["scan", root, "--env-usage", "credentials", "--format", "json"]).out)
        #expect((again["findings"] as? [[String: Any]] ?? []).contains { ($0["path"] as? String) == "sub/arca_vault.py" })
    }
}

import Crypto
import Foundation
import Testing
@testable import ArcaServer
@testable import ArcaVault

/// The audit trail through the server, whoever calls: requests that never sign in cannot break the chain or
/// grow the trail fast, and a trail of any size exports and verifies remotely. Loopback only.
@Suite(.serialized) struct VaultAuditTrailTests {
    typealias Server = VaultServerTests.Server

    static func adminEnv(_ server: Server) -> [String: String] {
        ["AZURE_TENANT_ID": server.dev["tenantId"] as! String, "AZURE_CLIENT_ID": server.dev["clientId"] as! String,
         "AZURE_CLIENT_SECRET": server.dev["clientSecret"] as! String]
    }

    static func remote(_ server: Server) -> [String] { ["--vault", server.url, "--ca-cert", server.dir + "/v/dev-ca.pem"] }

    /// Bytes of every file in the vault's folder.
    static func folderBytes(_ dir: String) -> Int {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        return names.reduce(0) { sum, n in
            sum + (((try? FileManager.default.attributesOfItem(atPath: dir + "/" + n))?[.size] as? Int) ?? 0)
        }
    }

    /// The records of an export, as JSON objects (so a field this test does not know still shows).
    static func exportRecords(_ text: String) -> [[String: Any]] {
        text.split(separator: "\n").compactMap { line in
            (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
        }.filter { $0["type"] as? String == "record" }
    }

    /// Reproduction (a): one unauthenticated `GET /secrets/x%00y` (401) made `audit verify` report an altered
    /// record from then on, because SQLite kept the text only up to the NUL that the hash covered.
    @Test func unauthenticatedNulNameKeepsTheTrailIntact() throws {
        let server = try Server()
        #expect(server.curl(["-o", "/dev/null", "\(server.url)/secrets/x%00y?api-version=7.5"]).status == "401")
        #expect(server.curl(["-o", "/dev/null", "-H", "Authorization: Bearer a.b%00c.d", "\(server.url)/secrets/x%00y%FF"]).status == "401")
        let verify = try CLITests.arca(["vault", "audit", "verify"] + server.vaultArgs)
        #expect(verify.status == 0, "\(verify.out)\(verify.err)")
        let remote = try CLITests.arca(["vault", "audit", "verify", "--key", server.dev["auditPublicKey"] as! String]
                                       + Self.remote(server), env: Self.adminEnv(server))
        #expect(remote.status == 0, "\(remote.out)\(remote.err)")
    }

    /// Reproduction (b): each bad token wrote one fsynced record (3,467 in 5 s, a 60,000-character name stored
    /// whole). 10,000 unauthenticated requests from one client (curl, 127.0.0.2 → 127.0.0.1, a bounded list)
    /// now add at most a few KiB to the vault's folder, and the trail still counts every one of them.
    @Test func tenThousandBadRequestsAddAFewKiB() throws {
        let server = try Server()
        let folder = server.dir + "/v"
        let vault = try Vault(directory: folder)
        // The folder's size with the WAL folded into the file: what the trail keeps, not how SQLite stages it.
        let measure = { () throws -> Int in
            try (vault.store.backend as! SQLiteBackend).pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)") }
            return Self.folderBytes(folder)
        }
        let recordsBefore = try vault.store.read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM audit") ?? 0 }
        let before = try measure()
        let total = 10_000
        let port = URL(string: server.url)!.port!
        var config = "silent\nheader = \"Authorization: Bearer bad.token.value\"\n"
        for i in 0..<total {
            let name = i % 1000 == 0 ? String(repeating: "n", count: 60_000) : "probe-\(i % 7)"
            config += "url = \"https://127.0.0.1:\(port)/secrets/\(name)?api-version=7.5\"\noutput = \"/dev/null\"\n"
        }
        try config.write(toFile: server.dir + "/flood.curl", atomically: true, encoding: .utf8)
        let started = Date()
        let flood = try CLITests.run("/usr/bin/curl", ["--cacert", folder + "/dev-ca.pem", "--interface", "127.0.0.2", "--parallel",
                                                       "--parallel-max", "8", "-w", "%{http_code}\n", "-K", server.dir + "/flood.curl"])
        let statuses = flood.out.split(separator: "\n")
        #expect(statuses.count == total && statuses.allSatisfy { $0 == "401" }, "\(Set(statuses)) \(flood.err.prefix(200))")
        let seconds = Date().timeIntervalSince(started)
        // A graceful stop writes the interval's aggregate; the counts add up to every request.
        server.stop()
        let grown = try measure() - before
        #expect(grown <= 16 * 1024, "the vault folder grew \(grown) bytes for \(total) requests in \(Int(seconds)) s")
        let records = try vault.store.read { try AuditLog.all($0).0 }
        #expect(records.count - recordsBefore <= 4, "\(records.count - recordsBefore) records for \(total) requests")
        let flooded = records.filter { $0.source == "127.0.0.2" }
        #expect(flooded.map(\.count).reduce(0, +) == total, "\(flooded.map(\.count))")
        #expect(flooded.allSatisfy { $0.result == "Unauthorized" && ($0.secretName ?? "").utf8.count <= AuditField.maxBytes })
        #expect(try CLITests.arca(["vault", "audit", "verify"] + server.vaultArgs).status == 0)
    }

    /// A trail over 8 MiB exports and verifies through the server (it used to fail with NIOTooManyBytesError),
    /// and every export is written with mode 0600.
    @Test func remoteExportAndVerifyPastEightMiB() throws {
        let dir = VaultCLITests.dir()
        do {
            // Records through the real append path, many per transaction (a trail of months, written in seconds).
            let vault = try Vault(directory: dir + "/v", create: true)
            _ = try vault.initialize(.keyFile(path: dir + "/v/dev-master.key"), caller: .localOperator(user: "t"), source: "embedded")
            let key = try #require(vault.currentKeyring?.auditKey)
            // Long allowed fields (caller, name and source near their caps): about 1.3 KiB of export each.
            let caller = "application " + String(repeating: "c", count: 490)
            for batch in 0..<7 {
                try vault.store.write { db in
                    for i in 0..<1000 {
                        try AuditLog.append(db, caller: caller, operation: "SecretGet",
                                            secretName: "secret-\(batch)-\(i)-" + String(repeating: "s", count: 110),
                                            secretVersion: String(repeating: "0", count: 32), result: "OK",
                                            source: "via-proxy " + String(repeating: "p", count: 110), key: key)
                    }
                }
            }
        }
        let server = try Server(dir: dir)
        let env = Self.adminEnv(server), remote = Self.remote(server)
        let keyHex = server.dev["auditPublicKey"] as! String
        let verify = try CLITests.arca(["vault", "audit", "verify", "--key", keyHex] + remote, env: env)
        #expect(verify.status == 0, "\(verify.out)\(verify.err)")
        #expect(verify.out.contains("intact"))
        let file = dir + "/trail.jsonl"
        let export = try CLITests.arca(["vault", "audit", "export", "-o", file] + remote, env: env)
        #expect(export.status == 0, "\(export.err)")
        let attributes = try FileManager.default.attributesOfItem(atPath: file)
        #expect((attributes[.size] as? Int ?? 0) > 8 << 20)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        let offline = try CLITests.arca(["vault", "audit", "verify", file, "--key", keyHex])
        #expect(offline.status == 0, "\(offline.out)\(offline.err)")
    }

    /// `audit export -o` and `backup -o` write 0600, also over an existing world-readable file, and a backup
    /// opens as the vault it copies.
    @Test func exportsAndBackupsAreOwnerOnly() throws {
        let d = VaultCLITests.dir()
        let v = ["--vault-dir", d + "/v"]
        #expect(try CLITests.arca(["vault", "init", "--seal", "key-file", "--key-file", d + "/k"] + v).status == 0)
        #expect(try CLITests.arca(["vault", "secret", "set", "kept"] + v, stdin: "value-1").status == 0)
        let mode = { (path: String) in (try? FileManager.default.attributesOfItem(atPath: path))?[.posixPermissions] as? Int }
        let file = d + "/trail.jsonl"
        #expect(try CLITests.arca(["vault", "audit", "export", "-o", file] + v).status == 0)
        #expect(mode(file) == 0o600)
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: file)
        #expect(try CLITests.arca(["vault", "audit", "export", "-o", file] + v).status == 0)
        #expect(mode(file) == 0o600)
        try FileManager.default.createDirectory(atPath: d + "/copy", withIntermediateDirectories: true)
        let copy = d + "/copy/vault.db"
        _ = FileManager.default.createFile(atPath: copy, contents: Data("old".utf8), attributes: [.posixPermissions: 0o644])
        let backup = try CLITests.arca(["vault", "backup", "-o", copy] + v)
        #expect(backup.status == 0, "\(backup.err)")
        #expect(mode(copy) == 0o600)
        #expect(try CLITests.arca(["vault", "secret", "get", "kept", "--vault-dir", d + "/copy", "--key-file", d + "/k"]).out == "value-1")
        #expect(try CLITests.arca(["vault", "audit", "search", "--operation", "VaultBackup"] + v).out.contains("OK"))
        #expect(try CLITests.arca(["vault", "backup", "-o", d + "/no/such/dir/x.db"] + v).status == 3)
    }
}

extension VaultAuditTrailTests {
    /// Text output cannot drive the terminal: a NUL or an escape sequence in a record is shown escaped.
    @Test func textOutputShowsControlCharactersEscaped() throws {
        let d = VaultCLITests.dir()
        let v = ["--vault-dir", d + "/v"]
        #expect(try CLITests.arca(["vault", "init", "--seal", "key-file", "--key-file", d + "/k"] + v).status == 0)
        do {
            let vault = try Vault(directory: d + "/v")
            try vault.auditAttempt(operation: "SecretGet", claimedCaller: "evil\u{1b}[2J\u{0}", result: "Unauthorized", source: "192.0.2.1")
        }
        let tail = try CLITests.arca(["vault", "audit", "tail"] + v)
        #expect(tail.status == 0)
        #expect(!tail.out.contains("\u{1b}") && !tail.out.contains("\u{0}"))
        #expect(tail.out.contains("evil\\u{1b}[2J\\u{0}"), "\(tail.out)")
    }
}

extension VaultServerTests.Server {
    /// SIGTERM, and wait: the server's graceful stop.
    func stop() {
        guard let p = current else { return }
        Foundation.kill(p.processIdentifier, SIGTERM)
        p.waitUntilExit()
        current = nil
    }
}

import Foundation
import GRDB
import Testing
@testable import ArcaServer
@testable import ArcaVault

/// What an outsider found wrong with the vault's promises (docs/vault.md, "Guarantees"): a trail stripped of
/// its checkpoints or removed, a damaged file, `-o -`, secrets typed into identity fields, the documented
/// flags. Every test runs the binary on a folder of its own; servers listen on loopback only.
@Suite(.serialized) struct VaultDamageTests {
    typealias Server = VaultServerTests.Server

    /// A key-file vault with two secrets; returns its folder arguments, key file and audit public key.
    static func vault() throws -> (dir: String, v: [String], key: String, publicKey: String) {
        let d = VaultCLITests.dir()
        let v = ["--vault-dir", d + "/v"]
        let initialised = try CLITests.arca(["vault", "init", "--seal", "key-file", "--key-file", d + "/k", "--output", "json"] + v)
        #expect(initialised.status == 0, "\(initialised.err)")
        let obj = try JSONSerialization.jsonObject(with: Data(initialised.out.utf8)) as? [String: Any]
        let publicKey = try #require(obj?["auditPublicKey"] as? String)
        for name in ["one", "two"] {
            #expect(try CLITests.arca(["vault", "secret", "set", name, "--key-file", d + "/k"] + v, stdin: "value").status == 0)
        }
        return (d, v, d + "/k", publicKey)
    }

    static func sql(_ dir: String, _ statements: String) throws {
        let q = try DatabaseQueue(path: dir + "/v/vault.db")
        try q.writeWithoutTransaction { db in try db.execute(sql: statements) }
    }

    /// F1: removing the checkpoints (from an export or the file), or every record, no longer verifies.
    @Test func strippedOrEmptyTrailsAreNotIntact() throws {
        let (d, v, key, publicKey) = try Self.vault()
        let file = d + "/trail.jsonl"
        #expect(try CLITests.arca(["vault", "audit", "export", "-o", file, "--key-file", key] + v).status == 0)
        #expect(try CLITests.arca(["vault", "audit", "verify", file, "--key", publicKey]).status == 0)
        let text = try String(contentsOfFile: file, encoding: .utf8)
        let stripped = text.split(separator: "\n").filter { !$0.contains(#""type":"checkpoint""#) }.joined(separator: "\n") + "\n"
        try stripped.write(toFile: d + "/stripped.jsonl", atomically: true, encoding: .utf8)
        let s = try CLITests.arca(["vault", "audit", "verify", d + "/stripped.jsonl", "--key", publicKey])
        #expect(s.status == 1 && s.out.contains("not covered by a signed checkpoint"), "\(s.out)\(s.err)")
        try AuditExport.header().write(toFile: d + "/header.jsonl", atomically: true, encoding: .utf8)
        let h = try CLITests.arca(["vault", "audit", "verify", d + "/header.jsonl", "--key", publicKey])
        #expect(h.status == 1 && h.out.contains("no records"), "\(h.out)\(h.err)")
        try Self.sql(d, "DELETE FROM audit_checkpoints")
        let c = try CLITests.arca(["vault", "audit", "verify"] + v)
        #expect(c.status == 1 && c.out.contains("not covered"), "\(c.out)\(c.err)")
    }

    /// F2: a vault whose audit tables were dropped, or emptied, serves nothing (exit 3) and starts no new trail.
    @Test(arguments: ["DROP TABLE audit; DROP TABLE audit_checkpoints", "DELETE FROM audit; DELETE FROM audit_checkpoints"])
    func aVaultWithoutItsTrailRefusesToServe(_ damage: String) throws {
        let (d, v, key, _) = try Self.vault()
        try Self.sql(d, damage)
        let get = try CLITests.arca(["vault", "secret", "get", "one", "--key-file", key] + v)
        #expect(get.status == 3 && get.out.isEmpty && get.err.contains("audit trail"), "\(get.status) \(get.err)")
        #expect(!get.err.contains("value"))
        let status = try CLITests.arca(["vault", "status", "--key-file", key] + v)
        #expect(status.status == 3, "\(status.out)\(status.err)")
        let q = try DatabaseQueue(path: d + "/v/vault.db")
        let tables = try q.read { try String.fetchAll($0, sql: "SELECT name FROM sqlite_master WHERE type = 'table'") }
        if damage.hasPrefix("DROP") { #expect(!tables.contains("audit"), "no new trail was started") } else {
            #expect(try q.read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM audit") } == 0)
        }
    }

    /// F7: a zero-length file, a corrupted seal configuration and overwritten pages are exit 3, and a read
    /// does not write into the damaged file.
    @Test func damagedVaultFilesAreStorageFailures() throws {
        let (d, v, key, _) = try Self.vault()
        let db = d + "/v/vault.db"
        // Corrupted seal configuration.
        try Self.sql(d, "UPDATE meta SET value = X'7b6e6f74' WHERE key = 'seal-config'")
        let g = try CLITests.arca(["vault", "secret", "get", "one"] + v)
        #expect(g.status == 3 && g.err.contains("damaged"), "\(g.status) \(g.err)")
        // Overwritten pages (every page after the first two).
        let (d2, v2, key2, _) = try Self.vault()
        _ = try CLITests.arca(["vault", "status", "--key-file", key2] + v2)
        let db2 = d2 + "/v/vault.db"
        let h = try FileHandle(forUpdating: URL(fileURLWithPath: db2))
        let size = try h.seekToEnd()
        #expect(size > 8192)
        try h.seek(toOffset: 8192)
        try h.write(contentsOf: Data(repeating: 0x5a, count: Int(size) - 8192))
        try h.close()
        for cmd in [["vault", "audit", "verify"], ["vault", "status"], ["vault", "secret", "list", "--key-file", key2],
                    ["vault", "secret", "get", "one", "--key-file", key2]] {
            let r = try CLITests.arca(cmd + v2)
            #expect(r.status == 3, "\(cmd): \(r.status) \(r.out)\(r.err)")
        }
        // A zero-length file: refused, and left empty.
        try Data().write(to: URL(fileURLWithPath: db))
        for suffix in ["-wal", "-shm"] { try? FileManager.default.removeItem(atPath: db + suffix) }
        let st = try CLITests.arca(["vault", "status", "--key-file", key] + v)
        #expect(st.status == 3 && st.err.contains("empty"), "\(st.status) \(st.out)\(st.err)")
        #expect((try FileManager.default.attributesOfItem(atPath: db)[.size] as? Int) == 0)
    }

    /// F4: `-o -` is standard output for an export and refused for a backup; never a crash, never a file `-`.
    @Test func dashIsStandardOutput() throws {
        let (d, v, key, publicKey) = try Self.vault()
        let export = try CLITests.arca(["vault", "audit", "export", "-o", "-", "--key-file", key] + v, cwd: d)
        #expect(export.status == 0 && export.out.hasPrefix(#"{"format":"arca-audit-export""#), "\(export.err)")
        try export.out.write(toFile: d + "/out.jsonl", atomically: true, encoding: .utf8)
        #expect(try CLITests.arca(["vault", "audit", "verify", d + "/out.jsonl", "--key", publicKey]).status == 0)
        let backup = try CLITests.arca(["vault", "backup", "-o", "-"] + v, cwd: d)
        #expect(backup.status == 2, "\(backup.status) \(backup.err)")
        // A relative name without a folder works too (it used to trap in Foundation's path code).
        let relative = try CLITests.arca(["vault", "audit", "export", "-o", "rel.jsonl", "--key-file", key] + v, cwd: d)
        #expect(relative.status == 0, "\(relative.err)")
        #expect(!FileManager.default.fileExists(atPath: d + "/-"))
        #expect(FileManager.default.fileExists(atPath: d + "/rel.jsonl"))
    }

    /// The twin of the scan's `-o /dev/full`: an export or backup onto a device was renamed over it, replacing
    /// the device with a regular file. A twin of /dev/full made for the test (never the real one).
    @Test func exportsAndBackupsNeverReplaceADevice() throws {
        let (d, v, key, _) = try Self.vault()
        let device = d + "/full"
        #expect(mknod(device, S_IFCHR | 0o644, dev_t((1 << 8) | 7)) == 0, "root makes a character device")
        let export = try CLITests.arca(["vault", "audit", "export", "-o", device, "--key-file", key] + v)
        let backup = try CLITests.arca(["vault", "backup", "-o", device] + v)
        #expect(export.status == 2 && export.err.contains("not a regular file"), "\(export.status) \(export.err)")
        #expect(backup.status == 2 && backup.err.contains("not a regular file"), "\(backup.status) \(backup.err)")
        var st = stat()
        #expect(stat(device, &st) == 0 && (st.st_mode & S_IFMT) == S_IFCHR, "the device is still a device")
    }

    /// F6: `secret update --disable` and `--enable`, as documented.
    @Test func updateTakesEnableAndDisable() throws {
        let (_, v, key, _) = try Self.vault()
        #expect(try CLITests.arca(["vault", "secret", "update", "one", "--disable", "--key-file", key] + v).status == 0)
        #expect(try CLITests.arca(["vault", "secret", "get", "one", "--key-file", key] + v).status == 5)
        #expect(try CLITests.arca(["vault", "secret", "update", "one", "--enable", "--key-file", key] + v).status == 0)
        #expect(try CLITests.arca(["vault", "secret", "get", "one", "--key-file", key] + v).out == "value")
    }

    /// F3 and F5 through the server: a client secret typed as the client id, and a forged token's `oid`, are
    /// not written to the trail; aggregated names are decoded once, escaped once, and listed as JSON.
    @Test func claimedIdentitiesAndNamesAreBoundedAndEscapedOnce() throws {
        let server = try Server()
        let secret = server.dev["clientSecret"] as! String, clientId = server.dev["clientId"] as! String
        let tokenURL = "\(server.url)/\(server.dev["tenantId"]!)/oauth2/v2.0/token"
        for _ in 0..<3 {
            let r = server.curl(["-X", "POST", tokenURL, "-d", "grant_type=client_credentials",
                                 "--data-urlencode", "client_id=\(secret)", "--data-urlencode", "client_secret=\(clientId)",
                                 "--data-urlencode", "scope=\(server.dev["resource"]!)/.default"])
            #expect(r.status == "401" || r.status == "400")
        }
        let forgedOid = "arca~" + String(repeating: "Q", count: 43)
        let payload = Data(#"{"oid":"\#(forgedOid)"}"#.utf8).base64EncodedString()
            .replacingOccurrences(of: "=", with: "").replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
        for path in ["x%00y", "a%FFb", "c,d", "e", "f", "g", "h", "i", "j", "k"] {
            _ = server.curl(["-o", "/dev/null", "-H", "Authorization: Bearer eyJhbGciOiJub25lIn0.\(payload).sig",
                             "\(server.url)/secrets/\(path)?api-version=7.5"])
        }
        server.stop()
        let vault = try Vault(directory: server.dir + "/v")
        let records = try vault.store.read { try AuditLog.all($0).0 }
        let trail = records.map { "\($0.caller) \($0.secretName ?? "")" }.joined(separator: "\n")
        #expect(!trail.contains(secret), "a client secret reached the trail")
        #expect(!trail.contains(forgedOid), "an unverified oid was stored as given")
        let names = records.filter { $0.count > 1 && $0.operation.contains("SecretGet") }.compactMap(\.secretName)
        let list = try #require(names.first, "\(trail)")
        let decoded = try JSONDecoder().decode([String].self, from: Data(list.utf8))
        // Decoded once (NUL, a byte that is not UTF-8), escaped once.
        #expect(decoded.contains("x%00y") && decoded.contains("a%EF%BF%BDb"), "\(decoded)")
        #expect(!list.contains("%2525") && !list.contains("%25FF") && !list.contains("%20%E2%80%A6"), "\(list)")
        #expect(decoded.contains("c,d") && decoded.last == "…", "\(decoded)")
        #expect(try CLITests.arca(["vault", "audit", "verify"] + server.vaultArgs).status == 0)
    }

    /// `app list` shows a name's control characters escaped, as `audit tail` does.
    @Test func principalListShowsControlCharactersEscaped() throws {
        let (_, v, key, _) = try Self.vault()
        let created = try CLITests.arca(["vault", "app", "create", "evil\u{1b}[2Japp", "--key-file", key] + v)
        #expect(created.status == 0, "\(created.err)")
        let list = try CLITests.arca(["vault", "app", "list"] + v)
        #expect(list.status == 0 && !list.out.contains("\u{1b}") && list.out.contains("evil\\u{1b}[2Japp"), "\(list.out)")
    }
}

/// Issue 15: a damaged keyring is named as damaged (exit 3, "damaged"), never taken for a wrong credential (5).
@Suite(.serialized) struct KeyringDamageTests {
    @Test func aFlippedKeyringByteIsDamageNotAWrongPassphrase() throws {
        let d = VaultCLITests.dir()
        let v = ["--vault-dir", d + "/v"]
        let env = ["ARCA_VAULT_PASSPHRASE": "correct horse battery staple"]
        #expect(try CLITests.arca(["vault", "init"] + v, env: env).status == 0)
        #expect(try CLITests.arca(["vault", "secret", "set", "one"] + v, stdin: "value", env: env).status == 0)
        // An intact vault with a wrong passphrase: 5.
        #expect(try CLITests.arca(["vault", "secret", "get", "one"] + v, env: ["ARCA_VAULT_PASSPHRASE": "wrong"]).status == 5)
        // One byte of the sealed keyring's ciphertext flipped.
        let q = try DatabaseQueue(path: d + "/v/vault.db")
        try q.write { db in
            var bytes = try #require(try Data.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'keyring'"))
            bytes[bytes.count - 20] ^= 0x01
            try db.execute(sql: "UPDATE meta SET value = ? WHERE key = 'keyring'", arguments: [bytes])
        }
        let r = try CLITests.arca(["vault", "secret", "get", "one"] + v, env: env)
        #expect(r.status == 3 && r.err.contains("keyring is damaged") && !r.out.contains("value"), "\(r.status) \(r.err)")
        let wrong = try CLITests.arca(["vault", "secret", "get", "one"] + v, env: ["ARCA_VAULT_PASSPHRASE": "wrong"])
        #expect(wrong.status == 3, "a damaged keyring is damaged whatever the passphrase: \(wrong.status) \(wrong.err)")
    }
}

/// Issue 15, the cold pass: a changed byte anywhere in the sealed keyring — its scrypt cost among them — or in
/// its checksum is damage (exit 3, "damaged", the backup named), found before scrypt runs: never a crash, never
/// minutes of scrypt, never exit 0 from `status`.
@Suite(.serialized) struct KeyringByteTests {
    @Test func everyChangedKeyringByteIsDamageBeforeScryptRuns() throws {
        let d = VaultCLITests.dir()
        let env = ["ARCA_VAULT_PASSPHRASE": "correct horse battery"]
        #expect(try CLITests.arca(["vault", "init", "--vault-dir", d + "/v"], env: env).status == 0)
        let q = try DatabaseQueue(path: d + "/v/vault.db")
        let original = try q.read { try Data.fetchOne($0, sql: "SELECT value FROM meta WHERE key = 'keyring'")! }
        let sum = try q.read { try Data.fetchOne($0, sql: "SELECT value FROM meta WHERE key = 'keyring-sha256'")! }
        let positions = Array(Set([0, 5, 6, 20, 39, 40, 44, original.count / 2, original.count - 1]))
        var cases: [(String, Data, Data)] = positions.map { i in
            var k = original
            k[i] ^= 0x3f
            return ("keyring byte \(i)", k, sum)
        }
        cases.append(("checksum zeroed", original, Data(count: 32)))
        cases.append(("checksum cut", original, sum.prefix(31)))
        for (what, keyring, checksum) in cases {
            try q.write { db in
                try db.execute(sql: "UPDATE meta SET value = ? WHERE key = 'keyring'", arguments: [keyring])
                try db.execute(sql: "UPDATE meta SET value = ? WHERE key = 'keyring-sha256'", arguments: [checksum])
            }
            let started = Date()
            for command in [["vault", "secret", "list"], ["vault", "status"], ["vault", "rekey"]] {
                let r = try CLITests.arca(command + ["--vault-dir", d + "/v"], env: env)
                #expect(r.status == 3 && r.err.contains("damaged") && r.err.contains("backup"), "\(what), \(command): \(r.status) \(r.err.prefix(300))")
            }
            #expect(Date().timeIntervalSince(started) < 10, "\(what): no scrypt with a changed cost")
        }
        try q.write { db in
            try db.execute(sql: "UPDATE meta SET value = ? WHERE key = 'keyring'", arguments: [original])
            try db.execute(sql: "UPDATE meta SET value = ? WHERE key = 'keyring-sha256'", arguments: [sum])
        }
        #expect(try CLITests.arca(["vault", "secret", "list", "--vault-dir", d + "/v"], env: env).status == 0)
    }
}

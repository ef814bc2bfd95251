import Foundation
import Testing

/// `arca vault …` through the real binary: seals, secrets, exit codes, the audit trail, durability.
@Suite struct VaultCLITests {
    static func dir() -> String {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("arca-vault-cli-\(UUID().uuidString)").path
        try? FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        return d
    }

    static func json(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    @Test func passphraseVaultSecretsAndExitCodes() throws {
        let d = Self.dir()
        let vault = ["--vault-dir", d + "/v"]
        let env = ["ARCA_VAULT_PASSPHRASE": "a long passphrase for tests"]
        let initialised = try CLITests.arca(["vault", "init", "--output", "json"] + vault, env: env)
        #expect(initialised.status == 0, "\(initialised.err)")
        let info = try Self.json(initialised.out)
        #expect((info["auditPublicKey"] as? String)?.count == 64 && info["shares"] == nil)
        #expect(try CLITests.arca(["vault", "init"] + vault, env: env).status == 7, "a second init is a conflict")

        // Values come from stdin or a file, never the command line.
        #expect(try CLITests.arca(["vault", "secret", "set", "db-password", "--tag", "env=dev"] + vault, stdin: "hunter2\n", env: env).status == 0)
        _ = FileManager.default.createFile(atPath: d + "/value", contents: Data("line one\nline two\n".utf8))
        #expect(try CLITests.arca(["vault", "secret", "set", "Multi-Line", "--value-file", d + "/value", "--content-type", "text/plain"] + vault, env: env).status == 0)
        #expect(try CLITests.arca(["vault", "secret", "get", "db-password"] + vault, env: env).out == "hunter2")
        #expect(try CLITests.arca(["vault", "secret", "get", "multi-line"] + vault, env: env).out == "line one\nline two")
        let got = try Self.json(try CLITests.arca(["vault", "secret", "get", "db-password", "--output", "json"] + vault, env: env).out)
        #expect(got["value"] as? String == "hunter2" && (got["tags"] as? [String: String]) == ["env": "dev"])
        let list = try CLITests.arca(["vault", "secret", "list", "--output", "json"] + vault, env: env)
        #expect(!list.out.contains("hunter2"), "lists never carry values")
        #expect(((try Self.json(list.out))["value"] as? [Any])?.count == 2)

        // Exit codes: 2 bad input, 4 not found, 5 wrong passphrase, 6 sealed, 7 conflict.
        #expect(try CLITests.arca(["vault", "secret", "set", "bad_name"] + vault, stdin: "x", env: env).status == 2)
        #expect(try CLITests.arca(["vault", "secret", "get", "missing"] + vault, env: env).status == 4)
        let wrong = try CLITests.arca(["vault", "secret", "get", "db-password"] + vault, env: ["ARCA_VAULT_PASSPHRASE": "wrong"])
        #expect(wrong.status == 5 && !wrong.out.contains("hunter2"))
        #expect(try CLITests.arca(["vault", "secret", "get", "db-password"] + vault, env: ["ARCA_VAULT_PASSPHRASE": ""]).status == 6)
        #expect(try CLITests.arca(["vault", "secret", "delete", "db-password"] + vault, env: env).status == 0)
        #expect(try CLITests.arca(["vault", "secret", "set", "db-password"] + vault, stdin: "x", env: env).status == 7)
        #expect(try CLITests.arca(["vault", "secret", "list", "--deleted"] + vault, env: env).out.contains("db-password"))
        #expect(try CLITests.arca(["vault", "secret", "recover", "db-password"] + vault, env: env).status == 0)
        #expect(try CLITests.arca(["vault", "secret", "get", "db-password"] + vault, env: env).out == "hunter2")
        #expect(try CLITests.arca(["vault", "secret", "purge", "db-password"] + vault, env: env).status == 4, "only deleted secrets are purged")

        // Operator seal: refused until `unseal`, even with the passphrase.
        #expect(try CLITests.arca(["vault", "seal"] + vault).status == 0)
        #expect(try CLITests.arca(["vault", "secret", "get", "db-password"] + vault, env: env).status == 6)
        _ = FileManager.default.createFile(atPath: d + "/pass", contents: Data("a long passphrase for tests\n".utf8))
        #expect(try CLITests.arca(["vault", "unseal", "--passphrase-file", d + "/pass"] + vault).status == 0)
        #expect(try CLITests.arca(["vault", "secret", "get", "db-password"] + vault, env: env).status == 0)

        // The trail holds every step, the failed sign-in included, and no value.
        let trail = try CLITests.arca(["vault", "audit", "search", "--operation", "VaultUnseal", "--output", "json"] + vault, env: env)
        #expect(trail.out.contains("Unauthorized") && trail.out.contains("\"OK\""))
        let export = try CLITests.arca(["vault", "audit", "export"] + vault, env: env)
        #expect(!export.out.contains("hunter2") && !export.out.contains("a long passphrase"))
        let status = try Self.json(try CLITests.arca(["vault", "status", "--output", "json"] + vault).out)
        #expect(status["secrets"] as? Int == 2 && status["seal"] as? String == "passphrase")
    }

    @Test func auditExportVerifiesOnlyWithTheKeyGivenAndNamesTampering() throws {
        let d = Self.dir()
        let vault = ["--vault-dir", d + "/v", "--key-file", d + "/master.key"]
        let info = try Self.json(try CLITests.arca(["vault", "init", "--seal", "key-file", "--output", "json"] + vault).out)
        let key = try #require(info["auditPublicKey"] as? String)
        for i in 0..<4 { #expect(try CLITests.arca(["vault", "secret", "set", "s\(i)"] + vault, stdin: "v\(i)").status == 0) }
        #expect(try CLITests.arca(["vault", "rekey"] + vault).status == 0)
        #expect(try CLITests.arca(["vault", "secret", "get", "s2"] + vault).out == "v2")
        #expect(try CLITests.arca(["vault", "audit", "export", "-o", d + "/trail.jsonl"] + vault).status == 0)
        #expect(try CLITests.arca(["vault", "audit", "verify", d + "/trail.jsonl", "--key", key]).status == 0)
        #expect(try CLITests.arca(["vault", "audit", "verify", d + "/trail.jsonl"]).status == 2, "the key is never taken from the export")
        let otherKey = String(repeating: "ab", count: 32)
        #expect(try CLITests.arca(["vault", "audit", "verify", d + "/trail.jsonl", "--key", otherKey]).status != 0)

        // Alter one record's caller in the export: named, exit 1.
        let text = try String(contentsOfFile: d + "/trail.jsonl", encoding: .utf8)
        var lines = text.split(separator: "\n").map(String.init)
        lines[3] = lines[3].replacingOccurrences(of: "local:", with: "intruder:")
        try lines.joined(separator: "\n").write(toFile: d + "/altered.jsonl", atomically: true, encoding: .utf8)
        let altered = try CLITests.arca(["vault", "audit", "verify", d + "/altered.jsonl", "--key", key])
        #expect(altered.status == 1 && altered.out.contains("record 3 was altered"))
        // Delete one: named.
        var deleted = text.split(separator: "\n").map(String.init)
        deleted.remove(at: 4)
        try deleted.joined(separator: "\n").write(toFile: d + "/deleted.jsonl", atomically: true, encoding: .utf8)
        let gap = try CLITests.arca(["vault", "audit", "verify", d + "/deleted.jsonl", "--key", key])
        #expect(gap.status == 1 && gap.out.contains("deleted"))
        // Garbage is a clear error, not a crash.
        _ = FileManager.default.createFile(atPath: d + "/garbage", contents: Data([0xff, 0x00, 0x41]))
        let garbage = try CLITests.arca(["vault", "audit", "verify", d + "/garbage", "--key", key])
        #expect(garbage.status == 2 && garbage.err.contains("line 1"))
        #expect(try CLITests.arca(["vault", "audit", "verify", "--key", key] + vault).status == 0)
    }

    @Test func shamirSharesArePrintedOnceAndOpenTheVault() throws {
        let d = Self.dir()
        let vault = ["--vault-dir", d + "/v"]
        let info = try Self.json(try CLITests.arca(["vault", "init", "--seal", "shamir", "--shares", "5", "--threshold", "3", "--output", "json"] + vault).out)
        let shares = try #require(info["shares"] as? [String])
        #expect(shares.count == 5 && info["threshold"] as? Int == 3)
        let db = try Data(contentsOf: URL(fileURLWithPath: d + "/v/vault.db"))
        for s in shares { #expect(db.range(of: Data(s.utf8)) == nil, "shares are never stored") }
        #expect(try CLITests.arca(["vault", "secret", "set", "k"] + vault, stdin: "v", env: ["ARCA_VAULT_SHARES": shares[0...2].joined(separator: ",")]).status == 0)
        #expect(try CLITests.arca(["vault", "secret", "get", "k"] + vault, env: ["ARCA_VAULT_SHARES": shares[0...1].joined(separator: ",")]).status == 5)
        try shares[2...4].joined(separator: "\n").write(toFile: d + "/shares", atomically: true, encoding: .utf8)
        #expect(try CLITests.arca(["vault", "secret", "get", "k", "--share-file", d + "/shares"] + vault).out == "v")
    }

    @Test func aVaultIsNeverMadeInsideARepository() throws {
        let d = Self.dir()
        try FileManager.default.createDirectory(atPath: d + "/repo/.git", withIntermediateDirectories: true)
        let r = try CLITests.arca(["vault", "init", "--seal", "key-file", "--vault-dir", d + "/repo/vault"])
        #expect(r.status == 2 && r.err.contains("inside the git repository"))
        #expect(!FileManager.default.fileExists(atPath: d + "/repo/vault"))
    }

    @Test func hsmSealedVaultOpensWithoutAPerson() throws {
        let d = Self.dir()
        let script = CLITests.repoRoot.appendingPathComponent("scripts/softhsm-token.sh").path
        let token = try CLITests.run("/bin/bash", [script, d + "/hsm"])
        let module = token.out.trimmingCharacters(in: .whitespacesAndNewlines)
        guard token.status == 0 else {
            #expect(ProcessInfo.processInfo.environment["CI"] == nil, "SoftHSM2 is missing: the test command installs it")
            return
        }
        let env = ["SOFTHSM2_CONF": d + "/hsm/softhsm2.conf"]
        let vault = ["--vault-dir", d + "/v"]
        let initialised = try CLITests.arca(["vault", "init", "--seal", "pkcs11", "--pkcs11-module", module, "--pkcs11-token-label", "arca-test",
                                             "--pkcs11-pin-file", d + "/hsm/pin", "--output", "json"] + vault, env: env)
        #expect(initialised.status == 0, "\(initialised.err)")
        // No passphrase, no prompt: the token unwraps the master key.
        #expect(try CLITests.arca(["vault", "secret", "set", "hsm-secret"] + vault, stdin: "v", env: env).status == 0)
        #expect(try CLITests.arca(["vault", "secret", "get", "hsm-secret"] + vault, env: env).out == "v")
        _ = FileManager.default.createFile(atPath: d + "/badpin", contents: Data("0000".utf8))
        #expect(try CLITests.arca(["vault", "secret", "get", "hsm-secret", "--pkcs11-pin-file", d + "/badpin"] + vault, env: env).status == 5)
    }

    /// SIGKILL under write load: every version the process acknowledged is readable afterwards and the chain
    /// is intact. (The separate fsync check is StorageTests.durabilityAndSchemaVersion: synchronous = FULL.)
    @Test func killedUnderWriteLoadLosesNothingAcknowledged() throws {
        let d = Self.dir()
        let vault = ["--vault-dir", d + "/v", "--key-file", d + "/master.key"]
        #expect(try CLITests.arca(["vault", "init", "--seal", "key-file"] + vault).status == 0)
        var acknowledged: [(String, String, String)] = []
        // Two writers at once (two processes on one file), killed together.
        let writers = (0..<2).map { _ -> (Process, Pipe) in
            let p = Process()
            p.executableURL = URL(fileURLWithPath: CLITests.binary)
            p.arguments = ["vault", "debug-write-load"] + vault
            let out = Pipe()
            p.standardOutput = out
            p.standardError = FileHandle.nullDevice
            return (p, out)
        }
        for (p, _) in writers { try p.run() }
        // Read until both have acknowledged a good number of writes, then kill them mid-stream.
        var buffers = [Data(), Data()]
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            for (i, (_, out)) in writers.enumerated() { buffers[i].append(out.fileHandleForReading.availableData) }
            let counts = buffers.map { $0.split(separator: 0x0a).count }
            if counts.allSatisfy({ $0 >= 40 }) { break }
        }
        for (p, _) in writers { kill(p.processIdentifier, SIGKILL) }
        for (i, (p, out)) in writers.enumerated() {
            p.waitUntilExit()
            #expect(p.terminationReason == .uncaughtSignal)
            buffers[i].append(out.fileHandleForReading.readDataToEndOfFile())
            for line in String(decoding: buffers[i], as: UTF8.self).split(separator: "\n") {
                let f = line.split(separator: " ").map(String.init)
                if f.count == 3 { acknowledged.append((f[0], f[1], f[2])) }
            }
        }
        #expect(acknowledged.count >= 80)
        // Every acknowledged version exists; a sample of them is read back value for value.
        for name in Set(acknowledged.map(\.0)) {
            let listed = try CLITests.arca(["vault", "secret", "versions", name] + vault)
            for (n, version, _) in acknowledged where n == name {
                #expect(listed.out.contains(version), "acknowledged \(name)/\(version) missing")
            }
        }
        for (name, version, value) in acknowledged.shuffled().prefix(60) {
            let r = try CLITests.arca(["vault", "secret", "get", name, "--version", version] + vault)
            #expect(r.status == 0 && r.out == value, "acknowledged \(name)/\(version) lost: \(r.err)")
        }
        let verify = try CLITests.arca(["vault", "audit", "verify"] + vault)
        #expect(verify.status == 0, "\(verify.out)")
    }
}

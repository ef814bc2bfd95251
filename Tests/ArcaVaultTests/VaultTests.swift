import Crypto
import Foundation
import Testing
@testable import ArcaVault

@Suite struct SecretSemanticsTests {
    @Test func versionsAttributesAndCaseInsensitiveNames() async throws {
        let (_, c, _) = try TestVault.make()
        let v1 = try await c.setSecret("Db-Password", value: "one", options: SecretOptions(contentType: "text/plain", tags: ["env": "dev"]))
        let v2 = try await c.setSecret("db-password", value: "two", options: SecretOptions(enabled: true, notBefore: 100, expires: 4_000_000_000))
        #expect(v1.properties.version.count == 32 && v1.properties.version != v2.properties.version)
        #expect(v1.properties.version.allSatisfy { $0.isHexDigit && !$0.isUppercase })
        let latest = try await c.getSecret("DB-PASSWORD", version: nil)
        #expect(latest.value == "two" && latest.properties.version == v2.properties.version)
        #expect(latest.properties.name == "Db-Password", "the name keeps the case it was created with")
        #expect(latest.properties.attributes.notBefore == 100 && latest.properties.attributes.expires == 4_000_000_000)
        let first = try await c.getSecret("db-password", version: v1.properties.version)
        #expect(first.value == "one" && first.properties.contentType == "text/plain" && first.properties.tags == ["env": "dev"])
        #expect(try await c.allVersions("db-password").map(\.version) == [v1.properties.version, v2.properties.version])
        // nbf/exp are advisory, as in Azure Key Vault: an expired secret is still readable.
        _ = try await c.setSecret("expired", value: "old", options: SecretOptions(expires: 10))
        #expect(try await c.getSecret("expired", version: nil).value == "old")
    }

    @Test func badInputIsRefusedWithAzureErrors() async throws {
        let (_, c, _) = try TestVault.make()
        for bad in ["bad_name", "", String(repeating: "a", count: 128), "a/b", "ünicode"] {
            do {
                _ = try await c.setSecret(bad, value: "v", options: .init())
                Issue.record("\(bad) accepted")
            } catch let e as VaultError {
                #expect(e.httpStatus == 400 && e.code == "BadParameter")
            }
        }
        _ = try await c.setSecret(String(repeating: "a", count: 127), value: "ok", options: .init())
        _ = try await c.setSecret("max", value: String(repeating: "x", count: 25 * 1024), options: .init())
        await #expect(throws: VaultError.badParameter("the value is 25601 bytes; the limit is 25600 (25 KiB)")) {
            try await c.setSecret("big", value: String(repeating: "x", count: 25 * 1024 + 1), options: .init())
        }
        let tooManyTags = Dictionary(uniqueKeysWithValues: (0..<16).map { ("t\($0)", "v") })
        await #expect(throws: VaultError.self) { try await c.setSecret("tags", value: "v", options: SecretOptions(tags: tooManyTags)) }
        await #expect(throws: VaultError.self) { try await c.setSecret("dates", value: "v", options: SecretOptions(notBefore: 10, expires: 5)) }
        do {
            _ = try await c.getSecret("missing", version: nil)
            Issue.record("found a missing secret")
        } catch let e as VaultError {
            #expect(e.httpStatus == 404 && e.code == "SecretNotFound")
        }
        await #expect(throws: VaultError.self) { try await c.getSecret("max", version: "not-a-version") }
        await #expect(throws: VaultError.self) { try await c.listSecrets(maxResults: 26, skipToken: nil) }
        await #expect(throws: VaultError.self) { try await c.listSecrets(maxResults: 5, skipToken: "%%%") }
    }

    @Test func disabledSecretsAreListedButNotRead() async throws {
        let (_, c, _) = try TestVault.make()
        let b = try await c.setSecret("api-key", value: "k1", options: .init())
        let updated = try await c.updateSecret("api-key", version: nil, options: SecretOptions(contentType: "token", tags: ["o": "p"], enabled: false))
        #expect(updated.value == nil && updated.properties.version == b.properties.version)
        #expect(updated.properties.attributes.enabled == false && updated.properties.tags == ["o": "p"])
        do {
            _ = try await c.getSecret("api-key", version: nil)
            Issue.record("a disabled secret was read")
        } catch let e as VaultError {
            #expect(e.httpStatus == 403 && e.innerCode == "SecretDisabled")
        }
        #expect(try await c.allSecrets().map(\.name) == ["api-key"])
        _ = try await c.updateSecret("api-key", version: b.properties.version, options: SecretOptions(enabled: true))
        #expect(try await c.getSecret("api-key", version: nil).value == "k1")
    }

    @Test func listsPageThroughEverything() async throws {
        let (_, c, _) = try TestVault.make()
        for i in 0..<53 { _ = try await c.setSecret(String(format: "s-%03d", i), value: "v\(i)", options: .init()) }
        for _ in 0..<30 { _ = try await c.setSecret("many", value: "x", options: .init()) }
        var names: [String] = []
        var token: String?
        var pages = 0
        repeat {
            let page = try await c.listSecrets(maxResults: 10, skipToken: token)
            #expect(page.items.count <= 10)
            names += page.items.map(\.name)
            token = page.nextToken
            pages += 1
        } while token != nil
        #expect(pages == 6 && names.count == 54 && names == names.sorted())
        let first = try await c.listVersions("many", maxResults: 25, skipToken: nil)
        #expect(first.items.count == 25 && first.nextToken != nil)
        let rest = try await c.listVersions("many", maxResults: 25, skipToken: first.nextToken)
        #expect(rest.items.count == 5 && rest.nextToken == nil)
        #expect(Set((first.items + rest.items).map(\.version)).count == 30)
    }

    @Test func softDeleteRecoverAndPurge() async throws {
        let (_, c, _) = try TestVault.make(retentionDays: 7)
        let set = try await c.setSecret("db-password", value: "hunter2", options: .init())
        _ = try await c.setSecret("db-password", value: "hunter3", options: .init())
        let deleted = try await c.deleteSecret("DB-password")
        #expect(deleted.scheduledPurgeDate - deleted.deletedDate == 7 * 86_400)
        #expect(deleted.properties.attributes.recoverableDays == 7)
        #expect(deleted.properties.attributes.recoveryLevel == "CustomizedRecoverable+Purgeable")
        await #expect(throws: VaultError.self) { try await c.getSecret("db-password", version: nil) }
        #expect(try await c.allSecrets().isEmpty)
        #expect(try await c.allDeletedSecrets().map(\.properties.name) == ["db-password"])
        #expect(try await c.getDeletedSecret("db-password").deletedDate == deleted.deletedDate)
        do {
            _ = try await c.setSecret("db-password", value: "again", options: .init())
            Issue.record("a deleted name was reused")
        } catch let e as VaultError {
            #expect(e.httpStatus == 409 && e.innerCode == "ObjectIsDeletedButRecoverable")
        }
        // Recover brings every version back.
        let recovered = try await c.recoverSecret("db-password")
        #expect(recovered.value == nil)
        #expect(try await c.getSecret("db-password", version: set.properties.version).value == "hunter2")
        #expect(try await c.getSecret("db-password", version: nil).value == "hunter3")
        // Purge only a deleted secret; then the name is free and the old versions are gone.
        await #expect(throws: VaultError.self) { try await c.purgeSecret("db-password") }
        _ = try await c.deleteSecret("db-password")
        try await c.purgeSecret("db-password")
        await #expect(throws: VaultError.self) { try await c.getDeletedSecret("db-password") }
        _ = try await c.setSecret("db-password", value: "fresh", options: .init())
        #expect(try await c.allVersions("db-password").count == 1)
    }

    @Test func retentionPurgesExpiredDeletions() async throws {
        let (vault, c, _) = try TestVault.make(retentionDays: 7)
        _ = try await c.setSecret("old", value: "v", options: .init())
        _ = try await c.deleteSecret("old")
        // Move the scheduled purge into the past; the next operation sweeps it and audits it.
        try vault.store.tamper(sql: "UPDATE secrets SET purge_at = 1 WHERE name_key = 'old'")
        vault.noPurgeBefore.set(0)  // made due behind the vault's back: once its minute is over
        #expect(try await c.allDeletedSecrets().isEmpty)
        let purges = try await c.auditRecords(AuditQuery(operation: "SecretPurge"))
        #expect(purges.count == 1 && purges[0].caller.contains("arca-retention") && purges[0].secretName == "old")
    }

    /// An operation that fails because a purge came due (a recover of the purged secret, a read of it) is
    /// recorded after the purge: the purge is kept whatever the operation's outcome (the outsider's trail showed
    /// `SecretRecover NotFound` before the `SecretPurge` that caused it).
    @Test func aPurgeThatCameDueIsRecordedBeforeTheOperationItFails() async throws {
        let (vault, c, _) = try TestVault.make(retentionDays: 7)
        for name in ["r6", "r8"] {
            _ = try await c.setSecret(name, value: "v", options: .init())
            _ = try await c.deleteSecret(name)
        }
        try vault.store.tamper(sql: "UPDATE secrets SET purge_at = 1")
        vault.noPurgeBefore.set(0)  // made due behind the vault's back: once its minute is over
        await #expect(throws: VaultError.self) { try await c.recoverSecret("r6") }
        let trail = try await c.auditRecords(AuditQuery()).filter { $0.operation != "AuditRead" }
            .map { "\($0.operation) \($0.secretName ?? "") \($0.result)" }
        #expect(Array(trail.suffix(3)) == ["SecretPurge r6 OK", "SecretPurge r8 OK", "SecretRecover r6 NotFound"], "\(trail.suffix(4))")
        await #expect(throws: VaultError.self) { try await c.getDeletedSecret("r8") }
    }

    /// A secret read, or a write, checks retention at most once a minute, and never past the earliest scheduled
    /// purge: a deletion (by this or any process) is due 7 days on at the soonest. A purge made due behind its
    /// back (the clock, a restored file) is swept once the minute is over.
    @Test func secretReadsSweepDueDeletionsWithinAMinute() async throws {
        let (vault, c, _) = try TestVault.make(retentionDays: 7)
        _ = try await c.setSecret("kept", value: "v", options: .init())
        _ = try await c.setSecret("old", value: "v", options: .init())
        #expect(try await c.getSecret("kept", version: nil).value == "v")
        let now = Vault.unixNow()
        #expect(vault.noPurgeBefore.get() <= now + 60)
        _ = try await c.deleteSecret("old")
        #expect(try await c.getSecret("kept", version: nil).value == "v")
        #expect(vault.noPurgeBefore.get() <= now + 60 && vault.noPurgeBefore.get() < now + 7 * 86_400)
        try vault.store.tamper(sql: "UPDATE secrets SET purge_at = 1 WHERE name_key = 'old'")
        vault.noPurgeBefore.set(now - 1)  // the minute is over
        #expect(try await c.getSecret("kept", version: nil).value == "v")
        let purges = try await c.auditRecords(AuditQuery(operation: "SecretPurge"))
        #expect(purges.count == 1 && purges.first?.secretName == "old", "the read's path swept the due purge")
        // Writes check on the same terms.
        _ = try await c.setSecret("older", value: "v", options: .init())
        _ = try await c.deleteSecret("older")
        #expect(vault.noPurgeBefore.get() <= Vault.unixNow() + 60)
        try vault.store.tamper(sql: "UPDATE secrets SET purge_at = 1 WHERE name_key = 'older'")
        vault.noPurgeBefore.set(Vault.unixNow() - 1)
        _ = try await c.setSecret("kept", value: "w", options: .init())
        let swept = try await c.auditRecords(AuditQuery(operation: "SecretPurge")).map(\.secretName)
        #expect(swept == ["old", "older"], "the write's path swept the due purge")
    }
}

@Suite struct AuditTrailTests {
    @Test func everyOperationIsRecordedWithoutValues() async throws {
        let (vault, c, _) = try TestVault.make()
        let value = TestVault.marker()
        let b = try await c.setSecret("db-password", value: value, options: .init())
        _ = try await c.getSecret("db-password", version: nil)
        _ = try? await c.getSecret("missing", version: nil)
        _ = try await c.allSecrets()
        let records = try await c.auditRecords(AuditQuery())
        #expect(records.map(\.operation) == ["VaultInitialize", "SecretSet", "SecretGet", "SecretGet", "SecretList"])
        #expect(records.map(\.result) == ["OK", "OK", "OK", "NotFound", "OK"])
        #expect(records[1].secretName == "db-password" && records[1].secretVersion == b.properties.version)
        #expect(records.allSatisfy { $0.caller.contains("local:tester") && $0.source == "test" })
        let export = try await c.auditExport()
        #expect(!export.contains(value))
        #expect(try vault.verifyAudit(publicKey: nil).problem == nil)
        // Searching filters, tail takes the latest.
        #expect(try await c.auditRecords(AuditQuery(secretName: "DB-PASSWORD")).count == 2)
        #expect(try await c.auditRecords(AuditQuery(limit: 2)).map(\.operation) == ["AuditRead", "AuditRead"])
    }

    @Test func deniedCallsAreRecordedAndLearnNothing() async throws {
        struct OnlyOne: Authorizer {
            func allows(_ caller: Principal, _ operation: VaultOperation) -> Bool {
                caller.kind == .localOperator || operation == .secretGet("visible")
            }
        }
        let dir = TestVault.tempDir()
        let vault = try Vault(directory: dir, authorization: .custom(OnlyOne()), create: true)
        _ = try vault.initialize(.keyFile(path: dir + "/k"), caller: TestVault.op, source: "test")
        let admin = EmbeddedVaultClient(vault: vault, caller: TestVault.op)
        _ = try await admin.setSecret("visible", value: "v", options: .init())
        _ = try await admin.setSecret("hidden", value: "h", options: .init())
        let app = EmbeddedVaultClient(vault: vault, caller: Principal(objectId: "app-1", displayName: "app", kind: .application),
                                      source: "10.0.0.7")
        #expect(try await app.getSecret("visible", version: nil).value == "v")
        // An existing and a missing secret get the same answer: 403 before any lookup.
        for name in ["hidden", "does-not-exist"] {
            do {
                _ = try await app.getSecret(name, version: nil)
                Issue.record("read \(name)")
            } catch let e as VaultError {
                #expect(e.httpStatus == 403 && e.innerCode == "ForbiddenByRbac")
                #expect(e.description.contains("getSecret/action"))
            }
        }
        await #expect(throws: VaultError.self) { try await app.listSecrets(maxResults: nil, skipToken: nil) }
        let denied = try await admin.auditRecords(AuditQuery(caller: "app-1", result: "Forbidden"))
        #expect(denied.map(\.secretName) == ["hidden", "does-not-exist", nil])
        #expect(denied.allSatisfy { $0.source == "10.0.0.7" })
    }

    @Test func anOperationFailsWhenItsRecordCannotBeWritten() async throws {
        let (vault, c, _) = try TestVault.make()
        _ = try await c.setSecret("before", value: "v", options: .init())
        try vault.store.tamper(sql: "CREATE TRIGGER no_audit BEFORE INSERT ON audit BEGIN SELECT RAISE(ABORT, 'disk full'); END")
        do {
            _ = try await c.setSecret("after", value: "v", options: .init())
            Issue.record("a change was made without its audit record")
        } catch let e as VaultError {
            guard case .auditUnavailable = e else { Issue.record("unexpected \(e)"); return }
        }
        await #expect(throws: VaultError.self) { try await c.getSecret("before", version: nil) }
        try vault.store.tamper(sql: "DROP TRIGGER no_audit")
        await #expect(throws: VaultError.self) { try await c.getSecret("after", version: nil) }
        #expect(try await c.getSecret("before", version: nil).value == "v")
    }

    @Test func tamperingWithTheStoredTrailIsNamed() async throws {
        let cases: [(String, (Vault) throws -> Void, (AuditChain.Problem) -> Bool)] = [
            ("altered", { try $0.store.tamper(sql: "UPDATE audit SET result = 'Forbidden' WHERE seq = 3") },
             { if case .altered(3) = $0 { return true }; return false }),
            ("deleted", { try $0.store.tamper(sql: "DELETE FROM audit WHERE seq = 4") },
             { if case .deleted(after: 3) = $0 { return true }; return false }),
            ("tail deleted", { try $0.store.tamper(sql: "DELETE FROM audit WHERE seq >= 5") },
             { if case .deleted = $0 { return true }; return false }),
        ]
        for (what, tamper, expected) in cases {
            let (vault, c, _) = try TestVault.make()
            for i in 0..<5 { _ = try await c.setSecret("s\(i)", value: "v", options: .init()) }
            #expect(try vault.verifyAudit(publicKey: nil).problem == nil)
            try tamper(vault)
            let problem = try #require(try vault.verifyAudit(publicKey: nil).problem, "\(what) not caught")
            #expect(expected(problem), "\(what): \(problem)")
        }
        // A forged trail re-signed with another key fails against the real public key.
        let (vault, c, _) = try TestVault.make()
        _ = try await c.setSecret("s", value: "v", options: .init())
        let realHex = try #require(vault.auditPublicKey)
        let real = try #require(AuditExport.publicKey(hex: realHex))
        let (records, _) = try AuditExport.read(try await c.auditExport())
        let forger = Curve25519.Signing.PrivateKey()
        let forged = try AuditChain.checkpoint(records.last!, key: forger)
        #expect(AuditChain.verify(records, checkpoints: [forged], publicKey: real) == .badCheckpoint(sequence: forged.sequence))
    }

    @Test func exportsVerifyOnlyWithTheKeyFromOutside() async throws {
        let (vault, c, _) = try TestVault.make()
        for i in 0..<6 { _ = try await c.setSecret("s\(i)", value: "v", options: .init()) }
        let text = try await c.auditExport()
        let keyHex = try #require(vault.auditPublicKey)
        #expect(!text.contains(keyHex), "the export carries no key")
        let key = try #require(AuditExport.publicKey(hex: keyHex))
        let (records, checkpoints) = try AuditExport.read(text)
        #expect(AuditChain.verify(records, checkpoints: checkpoints, publicKey: key, requireFullCoverage: true) == nil)
        #expect(AuditChain.verify(records, checkpoints: checkpoints, publicKey: Curve25519.Signing.PrivateKey().publicKey) != nil)
        // Reordering two lines of the export is named.
        var lines = text.split(separator: "\n").map(String.init)
        lines.swapAt(3, 4)
        let (reordered, cps) = try AuditExport.read(lines.joined(separator: "\n"))
        if case .reordered = AuditChain.verify(reordered, checkpoints: cps, publicKey: key) {} else {
            Issue.record("reordering not named")
        }
        // Malformed exports are errors with a line number, never a crash.
        #expect(throws: AuditExport.Failure.self) { try AuditExport.read("not json\n") }
        #expect(throws: AuditExport.Failure.self) { try AuditExport.read("{\"type\":\"header\",\"format\":\"arca-audit-export\",\"version\":99}\n") }
        #expect(throws: AuditExport.Failure.self) { try AuditExport.read(lines[0] + "\n{\"type\":\"record\",\"seq\":1}\n") }
    }
}

@Suite struct VaultSealTests {
    @Test func passphraseSealUnsealAndOperatorSeal() async throws {
        let dir = TestVault.tempDir()
        let fast = MasterKey.ScryptParameters(logN: 10, r: 8, p: 1)
        let first = try Vault(directory: dir, create: true)
        let result = try first.initialize(.passphrase("correct horse", scrypt: fast), caller: TestVault.op, source: "t")
        #expect(result.seal == "passphrase" && result.auditPublicKey.count == 64 && result.shares.isEmpty)
        _ = try await EmbeddedVaultClient(vault: first, caller: TestVault.op).setSecret("a", value: "1", options: .init())

        // A second process: sealed until the credential is given.
        let vault = try Vault(directory: dir)
        let c = EmbeddedVaultClient(vault: vault, caller: TestVault.op)
        await #expect(throws: VaultError.self) { try await c.getSecret("a", version: nil) }
        do {
            try vault.unseal(.passphrase("wrong horse"), caller: TestVault.op, source: "t", explicit: false)
            Issue.record("a wrong passphrase unsealed")
        } catch let e as VaultError {
            #expect(e.httpStatus == 401)
        }
        #expect(throws: VaultError.self) { try vault.unseal(.keyFile([]), caller: TestVault.op, source: "t", explicit: false) }
        try vault.unseal(.passphrase("correct horse"), caller: TestVault.op, source: "t", explicit: false)
        #expect(try await c.getSecret("a", version: nil).value == "1")

        // An operator seal holds across processes until an explicit unseal.
        try vault.seal(caller: TestVault.op, source: "t")
        await #expect(throws: VaultError.self) { try await c.getSecret("a", version: nil) }
        let third = try Vault(directory: dir)
        #expect(throws: VaultError.self) {
            try third.unseal(.passphrase("correct horse"), caller: TestVault.op, source: "t", explicit: false)
        }
        try third.unseal(.passphrase("correct horse"), caller: TestVault.op, source: "t", explicit: true)
        let thirdClient = EmbeddedVaultClient(vault: third, caller: TestVault.op)
        #expect(try await thirdClient.getSecret("a", version: nil).value == "1")
        let unseals = try await thirdClient.auditRecords(AuditQuery(operation: "VaultUnseal"))
        #expect(unseals.map(\.result) == ["Unauthorized", "BadRequest", "ServiceUnavailable", "OK"])
        #expect(try third.verifyAudit(publicKey: nil).problem == nil)
        #expect(throws: VaultError.self) {
            try first.initialize(.passphrase("again", scrypt: fast), caller: TestVault.op, source: "t")
        }
    }

    @Test func shamirSharesOpenWithAnyThreshold() async throws {
        let dir = TestVault.tempDir()
        let v = try Vault(directory: dir, create: true)
        let r = try v.initialize(.shamir(shares: 5, threshold: 3), caller: TestVault.op, source: "t")
        #expect(r.shares.count == 5 && r.threshold == 3 && Set(r.shares).count == 5)
        _ = try await EmbeddedVaultClient(vault: v, caller: TestVault.op).setSecret("a", value: "1", options: .init())
        for pick in [[0, 1, 2], [4, 2, 0], [1, 3, 4, 0]] {
            let again = try Vault(directory: dir)
            try again.unseal(.shares(pick.map { r.shares[$0] }), caller: TestVault.op, source: "t", explicit: false)
            #expect(try await EmbeddedVaultClient(vault: again, caller: TestVault.op).getSecret("a", version: nil).value == "1")
        }
        let again = try Vault(directory: dir)
        #expect(throws: VaultError.self) {
            try again.unseal(.shares([r.shares[0], r.shares[1]]), caller: TestVault.op, source: "t", explicit: false)
        }
        var forged = Array(r.shares[2])
        forged[10] = forged[10] == "0" ? "1" : "0"
        #expect(throws: VaultError.self) {
            try again.unseal(.shares([r.shares[0], r.shares[1], String(forged)]), caller: TestVault.op, source: "t", explicit: false)
        }
    }

    @Test func keyFileSealAndRekey() async throws {
        let (vault, c, keyFile) = try TestVault.make()
        let old = try await c.setSecret("a", value: "first", options: .init())
        _ = try await c.setSecret("b", value: "second", options: .init())
        let before = try #require(vault.currentKeyring).barrier
        let (term, count) = try vault.rekey(caller: TestVault.op, source: "t")
        #expect(term == 2 && count == 2)
        #expect(try #require(vault.currentKeyring).barrier.keys.keys.sorted() == [2], "old keys are dropped after re-encryption")
        #expect(try await c.getSecret("a", version: old.properties.version).value == "first")
        // The file is re-sealed under the same key file; the old keyring's keys no longer open anything.
        let reopened = try Vault(directory: vault.directory)
        try reopened.unseal(.keyFile(Array(try String(contentsOfFile: keyFile, encoding: .utf8).utf8)), caller: TestVault.op,
                            source: "t", explicit: false)
        #expect(try await EmbeddedVaultClient(vault: reopened, caller: TestVault.op).getSecret("b", version: nil).value == "second")
        let envelope = try reopened.store.read { db in
            try Data.fetchOne(db, sql: "SELECT envelope FROM secret_versions WHERE name_key = 'a'")
        }
        let stored = try #require(envelope)
        #expect(throws: Barrier.Failure.self) { try before.open(Array(stored), path: "secrets/a/\(old.properties.version)") }
        #expect(try reopened.verifyAudit(publicKey: nil).problem == nil)
        // The key file is never overwritten by a second init.
        let other = try Vault(directory: TestVault.tempDir(), create: true)
        #expect(throws: VaultError.self) { try other.initialize(.keyFile(path: keyFile), caller: TestVault.op, source: "t") }
    }
}

@Suite struct GroupCommitTests {
    /// Concurrent operations share transactions; a failing one in the same group neither breaks the others nor
    /// escapes the trail, and every answer is backed by a committed record.
    @Test func concurrentOperationsCommitTogetherAndFailAlone() async throws {
        let (vault, c, _) = try TestVault.make()
        let results = try await withThrowingTaskGroup(of: (Int, String?).self) { group in
            for i in 0..<64 {
                group.addTask {
                    let name = i % 8 == 0 ? "bad_name_\(i)" : "s-\(i)"
                    do {
                        return (i, try await c.setSecret(name, value: "v\(i)", options: .init()).properties.version)
                    } catch is VaultError {
                        return (i, nil)
                    }
                }
            }
            var out: [Int: String?] = [:]
            for try await (i, v) in group { out[i] = v }
            return out
        }
        #expect(results.values.filter { $0 == nil }.count == 8)
        for (i, version) in results {
            guard let version else { continue }
            #expect(try await c.getSecret("s-\(i)", version: version).value == "v\(i)")
        }
        let sets = try await c.auditRecords(AuditQuery(operation: "SecretSet"))
        #expect(sets.filter { $0.result == "OK" }.count == 56 && sets.filter { $0.result == "BadRequest" }.count == 8)
        #expect(try vault.verifyAudit(publicKey: nil).problem == nil)
    }

    /// One thread per call, as wide as the callers: group commit then batches as many as wait at once.
    struct ThreadPerCall: BlockingExecutor {
        func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
            try await withCheckedThrowingContinuation { continuation in
                Thread { continuation.resume(with: Result { try work() }) }.start()
            }
        }
    }

    /// Reads (answered from a snapshot, only their record committed), failed reads and writes, all at once on
    /// a wide executor, many rounds: every call is answered (no lost wake-up, no caller left asleep), commits
    /// are shared, every answer has exactly its record in the trail, and the chain verifies.
    @Test func mixedReadsAndWritesOnWideExecutorAreEachAnsweredAndAudited() async throws {
        let (vault, op, _) = try TestVault.make()
        let c = EmbeddedVaultClient(vault: vault, caller: op.caller, source: "test", executor: ThreadPerCall())
        _ = try await c.setSecret("shared", value: "v0", options: .init())
        let largest = Locked(0)
        vault.observeCommits { size, _ in largest.update { $0 = max($0, size) } }
        var gets = 0, missing = 0, sets = 0
        for round in 0..<6 {
            let outcomes = try await withThrowingTaskGroup(of: String.self) { group in
                for i in 0..<48 {
                    group.addTask {
                        switch i % 3 {
                        case 0:
                            let v = try await c.getSecret("shared", version: nil).value
                            return v?.hasPrefix("v") == true ? "get" : "wrong"
                        case 1:
                            do { _ = try await c.getSecret("absent-\(round)-\(i)", version: nil); return "wrong" } catch VaultError.notFound { return "missing" }
                        default:
                            _ = try await c.setSecret("w-\(round)-\(i)", value: "x", options: .init())
                            return "set"
                        }
                    }
                }
                var out: [String] = []
                for try await o in group { out.append(o) }
                return out
            }
            #expect(!outcomes.contains("wrong"))
            gets += outcomes.filter { $0 == "get" }.count
            missing += outcomes.filter { $0 == "missing" }.count
            sets += outcomes.filter { $0 == "set" }.count
        }
        #expect(gets == 96 && missing == 96 && sets == 96)
        #expect(largest.get() > 1, "concurrent callers shared a commit")
        let records = try await c.auditRecords(AuditQuery(operation: "SecretGet"))
        #expect(records.filter { $0.result == "OK" }.count == gets)
        #expect(records.filter { $0.result == "NotFound" }.count == missing)
        #expect(try vault.verifyAudit(publicKey: nil).problem == nil)
    }
}

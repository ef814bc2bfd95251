import Crypto
import Foundation
import GRDB
import Testing
@testable import ArcaVault

/// What the audit trail promises whoever the caller is (docs/vault.md, "Guarantees"): the bytes hashed are
/// the bytes stored, every field is bounded, invalid names never reach a lookup, and a caller that cannot
/// sign in cannot grow the trail faster than a fixed small rate.
@Suite struct AuditGuaranteeTests {
    /// Fields with NUL (SQLite text stops at the first NUL when it is bound as a C string), control
    /// characters, text decoded from invalid UTF-8 and long runs: every record still verifies, and reads back
    /// exactly as it was hashed.
    @Test func recordsWithAnyCharactersVerify() async throws {
        let (vault, _, _) = try TestVault.make()
        let invalidUTF8 = String(decoding: [0x78, 0xff, 0xfe, 0xc3, 0x28, 0x79], as: UTF8.self)
        let awkward = ["x\u{0}y", "\u{0}", "tab\there\u{1b}[31m", invalidUTF8, "é\u{301}😀", String(repeating: "n", count: 2048)]
        for s in awkward {
            try vault.auditAttempt(operation: "SecretGet", claimedCaller: s, secretName: s, result: "Unauthorized", source: s)
        }
        let problem = try vault.verifyAudit(publicKey: nil).problem
        #expect(problem == nil, "\(problem.map(String.init(describing:)) ?? "")")
        let stored = try vault.store.read { try AuditLog.all($0).0 }
        for r in stored { #expect(r.computedHash() == r.hash, "record \(r.sequence) does not hash to what was stored") }
        // The NUL is kept, not cut: what was hashed is what is read back.
        #expect(stored.contains { $0.caller == "x\u{0}y" })
    }

    /// Bytes that are not UTF-8, written into the file by someone with access to it, are named as an
    /// alteration of that record (never a crash, never a different record).
    @Test func invalidUTF8InTheFileIsAnAlteration() async throws {
        let (vault, c, _) = try TestVault.make()
        _ = try await c.setSecret("one", value: "v", options: .init())
        _ = try await c.setSecret("two", value: "v", options: .init())
        try vault.store.tamper(sql: "UPDATE audit SET caller = ? WHERE seq = 2", arguments: [Data([0x61, 0xff, 0x00, 0x62])])
        #expect(try vault.verifyAudit(publicKey: nil).problem == .altered(sequence: 2))
    }

    /// A 64 KiB name is not stored whole: it is refused before any lookup with Azure's 400 BadParameter, and
    /// audited in a bounded form that says it was cut.
    @Test func hugeAndInvalidNamesAreRefusedAndAuditedBounded() async throws {
        let (vault, c, _) = try TestVault.make()
        let huge = String(repeating: "a", count: 64 * 1024)
        for name in [huge, "x\u{0}y", "bad_name", String(repeating: "é", count: 30_000)] {
            do {
                _ = try await c.getSecret(name, version: nil)
                Issue.record("an invalid name was looked up")
            } catch let e as VaultError {
                #expect(e.httpStatus == 400 && e.code == "BadParameter")
                #expect(e.description.utf8.count < 1024, "the message is bounded")
            }
        }
        let records = try vault.store.read { try AuditLog.all($0).0 }
        let refused = records.filter { $0.result == "BadRequest" }
        #expect(refused.count == 4)
        for r in records {
            for field in [r.caller, r.operation, r.secretName ?? "", r.secretVersion ?? "", r.result, r.source, r.time] {
                #expect(field.utf8.count <= AuditField.maxBytes, "a field of \(field.utf8.count) bytes")
            }
        }
        #expect(refused[0].secretName?.contains("truncated") == true && refused[0].secretName?.contains("65536") == true)
        #expect(refused[1].secretName?.contains("\u{0}") == false, "an invalid name is audited printable")
        #expect(try vault.verifyAudit(publicKey: nil).problem == nil)
    }

    /// Even a caller with no right to the secret gets 400 for a name Azure would reject: the name is checked
    /// before the authoriser is asked.
    @Test func invalidNamesAreRefusedBeforeAuthorisation() async throws {
        struct Nobody: Authorizer {
            func allows(_ caller: Principal, _ operation: VaultOperation) -> Bool { caller.kind == .localOperator }
        }
        let dir = TestVault.tempDir()
        let vault = try Vault(directory: dir, authorization: .custom(Nobody()), create: true)
        _ = try vault.initialize(.keyFile(path: dir + "/k"), caller: TestVault.op, source: "test")
        let app = EmbeddedVaultClient(vault: vault, caller: Principal(objectId: "app-1", displayName: "app", kind: .application))
        do {
            _ = try await app.getSecret(String(repeating: "z", count: 60_000), version: nil)
            Issue.record("looked up")
        } catch let e as VaultError {
            #expect(e.httpStatus == 400, "\(e.code)")
        }
    }

    /// Unauthenticated attempts from one source within an interval become one immediate record and then one
    /// record with a count: 1,000 attempts add two records, and the counts add up to 1,000.
    @Test func failedAttemptsAreAggregatedPerSource() async throws {
        let (vault, _, _) = try TestVault.make()
        let before = try vault.store.read { try AuditLog.all($0).0.count }
        for i in 0..<1000 {
            try vault.auditAttempt(operation: "SecretGet", claimedCaller: "unverified:attacker-\(i % 3)",
                                   secretName: "probe-\(i % 5)", result: "Unauthorized", source: "192.0.2.7")
        }
        let during = try vault.store.read { try AuditLog.all($0).0.count }
        #expect(during - before <= 1, "\(during - before) records for 1,000 attempts")
        try vault.flushFailedAttempts(force: true)
        let records = try vault.store.read { try AuditLog.all($0).0 }.filter { $0.source == "192.0.2.7" }
        #expect(records.count == 2)
        #expect(records.map(\.count).reduce(0, +) == 1000)
        #expect(records.last?.caller.contains("attacker-1") == true)
        // Searches find an aggregate by any operation, name or result it lists.
        let c = EmbeddedVaultClient(vault: vault, caller: TestVault.op)
        let probed = try await c.auditRecords(AuditQuery(secretName: "probe-3", result: "Unauthorized"))
        #expect(probed.map(\.count) == [999])
        #expect(try await c.auditRecords(AuditQuery(operation: "SecretGet", result: "Unauthorized")).count == 2)
        #expect(try vault.verifyAudit(publicKey: nil).problem == nil)
    }

    /// Many sources cannot multiply the rate without bound: past a fixed number of sources per interval, the
    /// rest share one aggregate record.
    @Test func manySourcesShareABoundedNumberOfRecords() async throws {
        let (vault, _, _) = try TestVault.make()
        let before = try vault.store.read { try AuditLog.all($0).0.count }
        for i in 0..<500 {
            try vault.auditAttempt(operation: "Authentication", claimedCaller: "anonymous", result: "Unauthorized",
                                   source: "198.51.100.\(i % 250)-\(i)")
        }
        try vault.flushFailedAttempts(force: true)
        let records = try vault.store.read { try AuditLog.all($0).0 }.dropFirst(before)
        #expect(records.count <= 2 * FailedAttempts.maxSources + 2, "\(records.count) records")
        #expect(records.map(\.count).reduce(0, +) == 500)
        #expect(try vault.verifyAudit(publicKey: nil).problem == nil)
    }

    /// The aggregate of an interval is written once the interval has passed, on the next attempt or flush.
    @Test func aggregatesAreWrittenWhenTheirIntervalEnds() async throws {
        let (vault, _, _) = try TestVault.make()
        let clock = Locked(Date(timeIntervalSince1970: 1_900_000_000))
        vault.failedAttempts.clock = { clock.get() }
        for _ in 0..<10 {
            try vault.auditAttempt(operation: "SecretList", claimedCaller: "anonymous", result: "Unauthorized", source: "203.0.113.9")
        }
        let count = { try vault.store.read { try AuditLog.all($0).0 }.filter { $0.source == "203.0.113.9" } }
        #expect(try count().map(\.count) == [1])
        try vault.flushFailedAttempts()
        #expect(try count().map(\.count) == [1], "not yet due")
        clock.update { $0 = $0.addingTimeInterval(FailedAttempts.interval + 1) }
        try vault.flushFailedAttempts()
        #expect(try count().map(\.count) == [1, 9])
        // A new interval starts with an immediate record again.
        try vault.auditAttempt(operation: "SecretList", claimedCaller: "anonymous", result: "Unauthorized", source: "203.0.113.9")
        #expect(try count().map(\.count) == [1, 9, 1])
    }

    /// Records with counts survive an export and verify with the key from outside.
    @Test func aggregatedRecordsExportAndVerify() async throws {
        let (vault, c, _) = try TestVault.make()
        for _ in 0..<5 {
            try vault.auditAttempt(operation: "SecretGet", claimedCaller: "anonymous", secretName: "x\u{0}y",
                                   result: "Unauthorized", source: "192.0.2.1")
        }
        try vault.flushFailedAttempts(force: true)
        let text = try await c.auditExport()
        let (records, checkpoints) = try AuditExport.read(text)
        #expect(records.map(\.count).contains(4))
        let hex = try #require(vault.auditPublicKey)
        let key = try #require(AuditExport.publicKey(hex: hex))
        #expect(AuditChain.verify(records, checkpoints: checkpoints, publicKey: key) == nil)
    }

    /// Field caps: a field over the cap is cut at a character boundary and ends with a marker naming its
    /// original size; a field within the cap is kept as it is.
    @Test(arguments: [0, 1, 200, AuditField.maxBytes, AuditField.maxBytes + 1, 70_000])
    func fieldCaps(length: Int) {
        let s = String(repeating: "ü", count: length)  // two bytes each: cuts must not split one
        let capped = AuditField.capped(s, max: AuditField.maxBytes)
        #expect(capped.utf8.count <= AuditField.maxBytes)
        if s.utf8.count <= AuditField.maxBytes {
            #expect(capped == s)
        } else {
            #expect(capped.hasSuffix("[truncated, \(s.utf8.count) bytes]"))
            #expect(capped.hasPrefix("üü"))
        }
    }

    /// Known answers for both encodings, built here independently of `AuditRecord.canonical()`: format 1 (kept
    /// so older trails verify) and format 2, which tells an absent name from a NUL one and covers the count.
    @Test func bothRecordEncodingsAreKnown() {
        func be(_ v: UInt64, _ bytes: Int) -> [UInt8] { (0..<bytes).map { UInt8(v >> (8 * UInt64(bytes - 1 - $0)) & 0xff) } }
        func field(_ b: [UInt8]) -> [UInt8] { be(UInt64(b.count), 4) + b }
        let prev = [UInt8](repeating: 7, count: 32)
        var v1 = Array("arca-audit-v1".utf8) + field(be(9, 8))
        for s in ["t", "c", "SecretGet", "\u{0}", "v", "OK", "s"] { v1 += field(Array(s.utf8)) }
        v1 += field(prev)
        let one = AuditRecord(sequence: 9, time: "t", caller: "c", operation: "SecretGet", secretName: nil, secretVersion: "v",
                              result: "OK", source: "s", format: 1, previousHash: prev)
        #expect(one.hash == Array(SHA256.hash(data: v1)))
        var v2 = Array("arca-audit-v2".utf8) + field(be(9, 8))
        for s in ["t", "c", "SecretGet"] { v2 += field(Array(s.utf8)) }
        v2 += field([0]) + field([1] + Array("v".utf8))
        for s in ["OK", "s"] { v2 += field(Array(s.utf8)) }
        v2 += field(be(3, 8)) + field(prev)
        let two = AuditRecord(sequence: 9, time: "t", caller: "c", operation: "SecretGet", secretName: nil, secretVersion: "v",
                              result: "OK", source: "s", count: 3, format: 2, previousHash: prev)
        #expect(two.hash == Array(SHA256.hash(data: v2)))
        // Format 1 could not tell nil from "\0"; format 2 can. A count on a format-1 record never verifies.
        let nul1 = AuditRecord(sequence: 9, time: "t", caller: "c", operation: "SecretGet", secretName: "\u{0}",
                               secretVersion: "v", result: "OK", source: "s", format: 1, previousHash: prev)
        #expect(nul1.hash == one.hash)
        let nul2 = AuditRecord(sequence: 9, time: "t", caller: "c", operation: "SecretGet", secretName: "\u{0}",
                               secretVersion: "v", result: "OK", source: "s", count: 3, format: 2, previousHash: prev)
        #expect(nul2.hash != two.hash)
        var counted = one
        counted.count = 2
        #expect(counted.computedHash() != one.hash)
    }

    /// A schema-1 file (text columns, no count or format) is upgraded when opened: its format-1 records still
    /// verify, and new records chain on after them.
    @Test func aSchemaOneFileUpgradesAndItsTrailStillVerifies() async throws {
        let (vault, c, keyFile) = try TestVault.make()
        _ = try await c.setSecret("s", value: "v", options: .init())
        let key = try #require(vault.currentKeyring?.auditKey)
        var chain: [AuditRecord] = []
        for r in try vault.store.read({ try AuditLog.all($0).0 }) {
            chain.append(AuditRecord(sequence: r.sequence, time: r.time, caller: r.caller, operation: r.operation,
                                     secretName: r.secretName, secretVersion: r.secretVersion, result: r.result, source: r.source,
                                     format: 1, previousHash: chain.last?.hash ?? AuditChain.genesis))
        }
        try vault.store.tamper(sql: """
            DELETE FROM audit; DELETE FROM audit_checkpoints;
            ALTER TABLE audit DROP COLUMN count; ALTER TABLE audit DROP COLUMN format;
            UPDATE meta SET value = '1' WHERE key = 'schema'
            """)
        for r in chain {
            try vault.store.tamper(sql: """
                INSERT INTO audit (seq, time, caller, operation, secret_name, secret_version, result, source, prev_hash, hash)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [Int64(r.sequence), r.time, r.caller, r.operation, r.secretName, r.secretVersion, r.result,
                                 r.source, Data(r.previousHash), Data(r.hash)])
            let cp = try AuditChain.checkpoint(r, key: key)
            try vault.store.tamper(sql: "INSERT INTO audit_checkpoints (seq, hash, signature) VALUES (?, ?, ?)",
                                   arguments: [Int64(cp.sequence), Data(cp.hash), Data(cp.signature)])
        }
        let reopened = try Vault(directory: vault.directory)
        #expect(try reopened.store.meta("schema") == Array("2".utf8))
        #expect(try reopened.verifyAudit(publicKey: key.publicKey).problem == nil)
        try reopened.unseal(.keyFile(Array(try String(contentsOfFile: keyFile, encoding: .utf8).utf8)), caller: TestVault.op,
                            source: "test", explicit: false)
        _ = try await EmbeddedVaultClient(vault: reopened, caller: TestVault.op).getSecret("s", version: nil)
        let records = try reopened.store.read { try AuditLog.all($0).0 }
        #expect(records.map(\.format) == Array(repeating: 1, count: chain.count) + [2])
        #expect(try reopened.verifyAudit(publicKey: nil).problem == nil)
    }

    /// The audit record never holds a value, whatever the name or caller.
    @Test func noValueInAnyRecord() async throws {
        let (vault, c, _) = try TestVault.make()
        let value = TestVault.marker()
        _ = try await c.setSecret("db-password", value: value, options: .init())
        _ = try? await c.setSecret(String(repeating: "q", count: 300), value: value, options: .init())
        let text = try await c.auditExport()
        #expect(!text.contains(value))
        let raw = try Data(contentsOf: URL(fileURLWithPath: vault.directory + "/" + Vault.fileName))
        #expect(raw.range(of: Data(value.utf8)) == nil)
    }

    /// Removing the signed checkpoints (or the records) leaves nothing a forger has to sign: the trail is intact
    /// only when it starts with `VaultInitialize` at 1 and the newest valid checkpoint signs its last record.
    @Test func strippedCheckpointsDoNotVerify() async throws {
        let (vault, c, _) = try TestVault.make()
        for i in 0..<4 { _ = try await c.setSecret("s\(i)", value: "v", options: .init()) }
        let hex = try #require(vault.auditPublicKey)
        let key = try #require(AuditExport.publicKey(hex: hex))
        let text = try await c.auditExport()
        let (records, checkpoints) = try AuditExport.read(text)
        #expect(AuditChain.verify(records, checkpoints: checkpoints, publicKey: key) == nil)
        // An export with every checkpoint line removed.
        let stripped = text.split(separator: "\n").filter { !$0.contains(#""type":"checkpoint""#) }.joined(separator: "\n")
        let (sr, sc) = try AuditExport.read(stripped)
        #expect(sc.isEmpty && !sr.isEmpty)
        #expect(AuditChain.verify(sr, checkpoints: sc, publicKey: key) == .uncheckpointed(from: 1))
        // Only the first checkpoint kept: everything after it is unsigned.
        #expect(AuditChain.verify(records, checkpoints: [checkpoints[0]], publicKey: key) == .uncheckpointed(from: 2))
        // A header-only export, an empty trail.
        let (hr, hc) = try AuditExport.read(AuditExport.header())
        #expect(AuditChain.verify(hr, checkpoints: hc, publicKey: key) == .empty)
        // A trail whose first records were cut and the rest renumbered and relinked.
        var relinked: [AuditRecord] = []
        for r in records.dropFirst() {
            relinked.append(AuditChain.next(after: relinked.last, time: r.time, caller: r.caller, operation: r.operation,
                                            secretName: r.secretName, result: r.result, source: r.source))
        }
        #expect(AuditChain.verify(relinked, checkpoints: [], publicKey: key) == .notInitialization(sequence: 1))
        // In the vault: the checkpoints deleted.
        try vault.store.tamper(sql: "DELETE FROM audit_checkpoints")
        #expect(try vault.verifyAudit(publicKey: nil).problem == .uncheckpointed(from: 1))
        // Another vault's records and checkpoints copied in: signed by another key.
        let (other, oc, _) = try TestVault.make()
        _ = try await oc.setSecret("x", value: "v", options: .init())
        let (otherRecords, otherCheckpoints) = try AuditExport.read(try await oc.auditExport())
        try vault.store.tamper(sql: "DELETE FROM audit")
        #expect(try vault.verifyAudit(publicKey: nil).problem == .empty)
        for r in otherRecords {
            try vault.store.tamper(sql: """
                INSERT INTO audit (seq, time, caller, operation, secret_name, secret_version, result, source, count, format,
                                   prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [Int64(r.sequence), Data(r.time.utf8), Data(r.caller.utf8), Data(r.operation.utf8),
                                 r.secretName.map { Data($0.utf8) }, r.secretVersion.map { Data($0.utf8) },
                                 Data(r.result.utf8), Data(r.source.utf8), Int64(r.count), Int64(r.format),
                                 Data(r.previousHash), Data(r.hash)])
        }
        #expect(try vault.verifyAudit(publicKey: nil).problem == .uncheckpointed(from: 1))
        for cp in otherCheckpoints {
            try vault.store.tamper(sql: "INSERT INTO audit_checkpoints (seq, hash, signature) VALUES (?, ?, ?)",
                                   arguments: [Int64(cp.sequence), Data(cp.hash), Data(cp.signature)])
        }
        if case .badCheckpoint = try vault.verifyAudit(publicKey: nil).problem {} else { Issue.record("another vault's signatures accepted") }
        _ = other
    }
}

import Crypto
import Foundation
import GRDB
import Testing
@testable import ArcaVault

@Suite struct StorageTests {
    /// The database and its -wal and -shm files hold no value or key, in the clear, hex or base64.
    @Test func filesHoldNoPlaintext() async throws {
        let (vault, client, keyFile) = try TestVault.make()
        var needles: [String] = []
        for i in 0..<20 {
            let m = TestVault.marker()
            _ = try await client.setSecret("secret-\(i)", value: m, options: SecretOptions(tags: ["n": "\(i)"]))
            needles += [m, Hex.encode(Array(m.utf8)), Data(m.utf8).base64EncodedString()]
        }
        let ring = try #require(vault.currentKeyring)
        let master = try MasterKey.fromKeyFile(Array(try String(contentsOfFile: keyFile, encoding: .utf8).utf8))
        var keys = Array(ring.barrier.keys.values) + [master, SymmetricKey(data: ring.auditKey.rawRepresentation)]
        keys.append(SymmetricKey(data: Array(try String(contentsOfFile: keyFile, encoding: .utf8).utf8).prefix(32)))
        for key in keys {
            let bytes = key.withUnsafeBytes { Array($0) }
            needles += [Hex.encode(bytes), Data(bytes).base64EncodedString()]
        }
        let path = vault.directory + "/" + Vault.fileName
        var files = 0
        for suffix in ["", "-wal", "-shm"] {
            guard let data = FileManager.default.contents(atPath: path + suffix) else { continue }
            files += 1
            let text = String(decoding: data, as: UTF8.self)
            for n in needles { #expect(!text.contains(n), "\(suffix) holds a secret or key") }
            for key in keys {
                #expect(data.range(of: key.withUnsafeBytes { Data($0) }) == nil, "\(suffix) holds raw key bytes")
            }
        }
        #expect(files >= 2, "the WAL file was checked too")
    }

    @Test func movedOrAlteredRowsDoNotDecrypt() async throws {
        let (vault, client, _) = try TestVault.make()
        let a = try await client.setSecret("alpha", value: "alpha-value", options: .init())
        _ = try await client.setSecret("beta", value: "beta-value", options: .init())
        // Move alpha's envelope onto beta's row, as an attacker with the file could.
        try vault.store.tamper(sql: """
            UPDATE secret_versions SET envelope = (SELECT envelope FROM secret_versions WHERE name_key = 'alpha')
            WHERE name_key = 'beta'
            """)
        await #expect(throws: VaultError.self) { try await client.getSecret("beta", version: nil) }
        // Flip one ciphertext bit of alpha.
        try vault.store.tamper(sql: """
            UPDATE secret_versions SET envelope = substr(envelope, 1, 30) || x'00' || substr(envelope, 32) WHERE name_key = 'alpha'
            """)
        do {
            _ = try await client.getSecret("alpha", version: a.properties.version)
            Issue.record("an altered envelope decrypted")
        } catch let e as VaultError {
            #expect(e.description.contains("does not decrypt"))
        }
        // Both failures are in the trail.
        let failures = try await client.auditRecords(AuditQuery(operation: "SecretGet", result: "InternalServerError"))
        #expect(failures.count == 2)
    }

    @Test func durabilityAndSchemaVersion() throws {
        let dir = TestVault.tempDir()
        let path = dir + "/vault.db"
        let store = try VaultStore(path: path)
        #expect(try store.backend.isDurable(), "synchronous = FULL on the writer (GRDB resets it to NORMAL)")
        try store.tamper(sql: "UPDATE meta SET value = '9' WHERE key = 'schema'")
        #expect(throws: VaultStore.Failure.newerSchema(9)) { try VaultStore(path: path) }
        do {
            _ = try Vault(directory: dir)
            Issue.record("a newer schema opened")
        } catch let e as VaultError {
            #expect(e.description.contains("newer than this arca understands"))
        }
    }
}

/// Issue 15: a page SQLite finds malformed while the vault is open is a damaged vault (the CLI's exit 3 with
/// "damaged"), not a passing database error; other database errors keep their message.
@Suite struct DamagedPageTests {
    @Test func malformedPagesInUseAreDamage() throws {
        for code in [ResultCodeProbe.corrupt, ResultCodeProbe.notADatabase] {
            let f = SQLiteBackend.failure(code)
            guard case .damaged = f else { Issue.record("\(f)"); continue }
            #expect(f.description.contains("damaged") && f.description.contains("backup"))
        }
        guard case .database = SQLiteBackend.failure(ResultCodeProbe.busy) else { Issue.record("busy is not damage"); return }
    }

    @Test func aValueWhoseRowWasOverwrittenIsAStorageFailureNotAValue() async throws {
        let (vault, client, _) = try TestVault.make()
        _ = try await client.setSecret("kept", value: "kept-value", options: .init())
        try vault.store.tamper(sql: "UPDATE secret_versions SET envelope = randomblob(64)")
        await #expect(throws: VaultError.self) { _ = try await client.getSecret("kept", version: nil) }
        do { _ = try await client.getSecret("kept", version: nil) } catch let e as VaultError {
            #expect(e.httpStatus == 500 && e.description.contains("does not decrypt"), "\(e)")
        }
    }
}

enum ResultCodeProbe {
    static let corrupt = DatabaseError(resultCode: .SQLITE_CORRUPT, message: "database disk image is malformed")
    static let notADatabase = DatabaseError(resultCode: .SQLITE_NOTADB, message: "file is not a database")
    static let busy = DatabaseError(resultCode: .SQLITE_BUSY, message: "database is locked")
}

/// The SQLite connection binds and reads through SQLite's C API (not GRDB's rows): every value comes back as it
/// was bound, whatever its kind, and SQLite's errors are still the storage's named failures.
@Suite struct SQLiteStatementTests {
    // Seeded (CryptoCoreTests' SplitMix64), so a failure names its seed and repeats.
    static func randomValue(_ g: inout SplitMix64) -> SQLValue {
        switch Int.random(in: 0..<6, using: &g) {
        case 0: return .null
        case 1: return .integer([Int64.min, Int64.max, 0, -1].randomElement(using: &g)!)
        case 2: return .integer(Int64.random(in: .min ... .max, using: &g))
        case 3:
            // Text of any scalars, an embedded NUL, or nothing at all.
            let pool: [Unicode.Scalar] = ["a", "Z", "\0", "é", "中", "🔑", " ", "'", "\n", "\u{FFFD}"]
            return .text(String(String.UnicodeScalarView((0..<Int.random(in: 0...40, using: &g)).map { _ in pool.randomElement(using: &g)! })))
        default:
            return .blob((0..<Int.random(in: 0...300, using: &g)).map { _ in UInt8.random(in: 0...255, using: &g) })
        }
    }

    @Test func everyValueReadsBackAsItWasBound() throws {
        let backend = try SQLiteBackend(path: TestVault.tempDir() + "/values.db")
        try backend.write { db in try db.execute(sql: "CREATE TABLE t (id INTEGER PRIMARY KEY, a, b, c)") }
        for seed in UInt64(1)...UInt64(40) {
            var g = SplitMix64(state: seed)
            var rows: [[SQLValue]] = []
            try backend.write { db in
                try db.execute(sql: "DELETE FROM t")
                for id in 0..<25 {
                    let row = [Self.randomValue(&g), Self.randomValue(&g), Self.randomValue(&g)]
                    rows.append(row)
                    try db.execute(sql: "INSERT INTO t (id, a, b, c) VALUES (?, ?, ?, ?)", arguments: [id as any SQLArgument] + row.map { $0 as any SQLArgument })
                }
            }
            let read = try backend.read { db in try SQLRow.fetchAll(db, sql: "SELECT a, b, c FROM t WHERE id >= ? ORDER BY id", arguments: [0]) }
            #expect(read.map(\.values) == rows, "seed \(seed)")
            #expect(read.allSatisfy { $0.names == ["a", "b", "c"] })
            // A statement run again with other arguments starts from them (the cached statement is reset).
            let one = try backend.read { db in try SQLRow.fetchAll(db, sql: "SELECT a, b, c FROM t WHERE id >= ? ORDER BY id", arguments: [24]) }
            #expect(one.map(\.values) == [rows[24]], "seed \(seed)")
        }
    }

    /// A REAL the core never writes (a hand's or a damaged file's) reads as its integer part, or NULL when no
    /// Int64 holds it: never a trap in a server.
    @Test func aRealValueNeverTraps() throws {
        let backend = try SQLiteBackend(path: TestVault.tempDir() + "/reals.db")
        try backend.write { db in
            try db.execute(sql: "CREATE TABLE r (id INTEGER PRIMARY KEY, v)")
            try db.execute(sql: "INSERT INTO r (id, v) VALUES (1, 2.9), (2, -7.5), (3, 1e300), (4, -1e300), (5, 9.3e18)")
        }
        let rows = try backend.read { db in try SQLRow.fetchAll(db, sql: "SELECT v FROM r WHERE id > ? ORDER BY id", arguments: [0]) }
        #expect(rows.map { $0.value("v") } == [.integer(2), .integer(-7), .null, .null, .null])
    }

    @Test func sqliteErrorsAreStorageFailuresAndTheStatementStaysUsable() throws {
        let backend = try SQLiteBackend(path: TestVault.tempDir() + "/errors.db")
        try backend.write { db in try db.execute(sql: "CREATE TABLE u (k TEXT PRIMARY KEY NOT NULL)") }
        let insert = "INSERT INTO u (k) VALUES (?)"
        try backend.write { db in try db.execute(sql: insert, arguments: ["one"]) }
        do {
            try backend.write { db in try db.execute(sql: insert, arguments: ["one"]) }
            Issue.record("a duplicate key was stored")
        } catch let e as VaultStore.Failure {
            guard case .database(let message) = e else { Issue.record("\(e)"); return }
            #expect(message.contains("UNIQUE"), "\(message)")
        }
        do {
            try backend.write { db in try db.execute(sql: insert, arguments: [SQLValue.null]) }
            Issue.record("a NULL key was stored")
        } catch is VaultStore.Failure {}
        // A statement given fewer arguments than it has parameters is refused, never run with the missing one NULL.
        do {
            _ = try backend.read { db in try String.fetchAll(db, sql: "SELECT k FROM u WHERE k = ? OR k = ?", arguments: ["one"]) }
            Issue.record("a statement ran with an argument missing")
        } catch is VaultStore.Failure {}
        try backend.write { db in try db.execute(sql: insert, arguments: ["two"]) }
        let keys = try backend.read { db in try String.fetchAll(db, sql: "SELECT k FROM u WHERE k <> ? ORDER BY k", arguments: [""]) }
        #expect(keys == ["one", "two"])
    }
}

/// A request's deadline (``RequestDeadline``) in the group commit: a caller still queued when it passes leaves
/// the queue unrun and is told the storage is unavailable; the batch in flight, and the callers after, are not
/// disturbed (the lead is handed on as before).
@Suite struct GroupCommitDeadlineTests {
    /// A thread of its own (Dispatch's pool on two cores starts a block only when a thread is free).
    func spawn(_ group: DispatchGroup, _ body: @escaping @Sendable () -> Void) {
        group.enter()
        Thread { body(); group.leave() }.start()
    }

    @Test func aQueuedJobPastItsDeadlineLeavesUnrunAndTheQueueGoesOn() throws {
        let store = try VaultStore(path: TestVault.tempDir() + "/v.db")
        let ran = Locked<[String]>([])
        let leaderIn = DispatchSemaphore(value: 0)
        let group = DispatchGroup()
        spawn(group) {
            try? store.grouped { _ in
                leaderIn.signal()
                usleep(1_200_000)
                ran.update { $0.append("leader") }
            }
        }
        leaderIn.wait()
        let outcome = Locked<[String: String]>([:])
        spawn(group) {
            let t0 = Date()
            do {
                try RequestDeadline.run(by: .now() + 0.3) { try store.grouped { _ in ran.update { $0.append("late") } } }
                outcome.update { $0["late"] = "answered" }
            } catch {
                outcome.update { $0["late"] = "\(error) after \(Date().timeIntervalSince(t0))" }
            }
        }
        usleep(100_000)
        spawn(group) {
            do {
                try store.grouped { _ in ran.update { $0.append("patient") } }
                outcome.update { $0["patient"] = "answered" }
            } catch { outcome.update { $0["patient"] = "\(error)" } }
        }
        #expect(group.wait(timeout: .now() + 10) == .success, "nobody is left waiting")
        let late = outcome.get()["late"] ?? ""
        #expect(late.contains("deadline passed") && late.contains("unavailable"), "\(late)")
        if let after = late.split(separator: " ").last.flatMap({ Double($0) }) { #expect(after < 1.0, "told at its deadline, not after the batch") }
        #expect(outcome.get()["patient"] == "answered")
        #expect(ran.get() == ["leader", "patient"], "the late job never ran")
        try store.grouped { _ in ran.update { $0.append("after") } }
        #expect(ran.get().last == "after")
    }

    /// A job handed the lead or taken into a batch before its deadline still runs: others wait on it.
    @Test func aJobTakenBeforeItsDeadlineRunsWhateverItsDeadline() throws {
        let store = try VaultStore(path: TestVault.tempDir() + "/v.db")
        let ran = Locked<Int>(0)
        let group = DispatchGroup()
        for i in 0..<24 {
            spawn(group) {
                // Deadlines around the batches' own length: some leave, the rest run, the queue never stalls.
                let deadline: DispatchTime? = i % 3 == 0 ? nil : .now() + Double(i % 5) * 0.01
                try? RequestDeadline.run(by: deadline) {
                    try store.grouped { _ in
                        usleep(20_000)
                        ran.update { $0 += 1 }
                    }
                }
            }
        }
        #expect(group.wait(timeout: .now() + 20) == .success, "the lead is always handed on")
        #expect(ran.get() >= 8, "every job without a deadline ran")
        try store.grouped { _ in ran.update { $0 += 1 } }
    }
}

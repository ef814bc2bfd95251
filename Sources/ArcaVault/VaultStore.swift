import Crypto
import Foundation
import GRDB

/// The vault's storage: one SQLite file (WAL). It holds envelopes the ``Barrier`` made, the sealed keyring,
/// secret metadata and the audit trail: never a plaintext value or key. Every commit is on disk before it
/// returns (`synchronous = FULL`, set again on the writer after the pool opens: GRDB's pool resets it to
/// NORMAL). Writes are immediate transactions, so several processes can share one vault file.
public final class VaultStore: Sendable {
    /// Schema version this build writes; a newer file is refused. 2 added the audit record's `count` and
    /// `format` (an older arca would misread records with a count, so it is told the file is newer).
    public static let schemaVersion = 2

    public enum Failure: Error, Equatable, Sendable, CustomStringConvertible {
        case newerSchema(Int)
        case database(String)
        /// The file is not a whole vault: it fails SQLite's check, or an initialised vault has lost its trail.
        case damaged(String)

        public var description: String {
            switch self {
            case .newerSchema(let v):
                return "the vault file's schema \(v) is newer than this arca understands (\(VaultStore.schemaVersion)); use a newer arca"
            case .database(let m): return "vault database: \(m)"
            case .damaged(let m): return "the vault file is damaged: \(m); restore it from a backup (`arca vault backup`)"
            }
        }
    }

    let pool: DatabasePool
    public let path: String

    /// Opens (creating if needed) the vault file at `path`.
    public init(path: String) throws {
        self.path = path
        var config = Configuration()
        config.journalMode = .wal
        config.busyMode = .timeout(30)
        do {
            pool = try DatabasePool(path: path, configuration: config)
            try pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
            try pool.writeWithoutTransaction { db in
                try db.inTransaction(.immediate) {
                    // Checked before anything is written, so a damaged file is refused, never "repaired".
                    try VaultStore.checkIntact(db)
                    try db.execute(sql: VaultStore.schema)
                    let stored = try Int.fetchOne(db, sql: "SELECT CAST(value AS TEXT) FROM meta WHERE key = 'schema'")
                    if let stored, stored > VaultStore.schemaVersion { throw Failure.newerSchema(stored) }
                    if stored == nil || stored! < VaultStore.schemaVersion {
                        try VaultStore.upgrade(db)
                        try db.execute(sql: "INSERT OR REPLACE INTO meta (key, value) VALUES ('schema', ?)",
                                       arguments: [String(VaultStore.schemaVersion)])
                    }
                    return .commit
                }
            }
        } catch let e as Failure {
            throw e
        } catch let e as DatabaseError where [.SQLITE_CORRUPT, .SQLITE_NOTADB].contains(e.resultCode) {
            throw Failure.damaged("SQLite cannot read it (\(e.resultCode))")
        } catch {
            throw Failure.database("\(error)")
        }
        for suffix in ["", "-wal", "-shm"] { chmod(path + suffix, 0o600) }
    }

    /// A database error as the vault names it: pages SQLite finds malformed while the vault is in use (a disk
    /// or a hand that overwrote the file under a running server) are ``Failure/damaged``, not a passing error.
    static func failure(_ e: DatabaseError) -> Failure {
        if [.SQLITE_CORRUPT, .SQLITE_NOTADB].contains(e.resultCode) {
            return .damaged("SQLite found a malformed page while reading it (\(e.resultCode))")
        }
        return .database(e.message ?? "\(e)")
    }

    static let schema = """
        CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY NOT NULL, value BLOB NOT NULL);
        CREATE TABLE IF NOT EXISTS secrets (
            name_key TEXT PRIMARY KEY NOT NULL, name TEXT NOT NULL,
            deleted INTEGER, purge_at INTEGER, deleted_by TEXT);
        CREATE INDEX IF NOT EXISTS secrets_purge ON secrets (purge_at) WHERE purge_at IS NOT NULL;
        CREATE TABLE IF NOT EXISTS secret_versions (
            name_key TEXT NOT NULL, version TEXT NOT NULL, seq INTEGER NOT NULL,
            envelope BLOB NOT NULL, content_type TEXT, tags TEXT NOT NULL DEFAULT '{}',
            enabled INTEGER NOT NULL DEFAULT 1, nbf INTEGER, exp INTEGER,
            created INTEGER NOT NULL, updated INTEGER NOT NULL,
            PRIMARY KEY (name_key, version));
        CREATE UNIQUE INDEX IF NOT EXISTS secret_versions_order ON secret_versions (name_key, seq);
        CREATE TABLE IF NOT EXISTS audit (
            seq INTEGER PRIMARY KEY, time BLOB NOT NULL, caller BLOB NOT NULL, operation BLOB NOT NULL,
            secret_name BLOB, secret_version BLOB, result BLOB NOT NULL, source BLOB NOT NULL,
            prev_hash BLOB NOT NULL, hash BLOB NOT NULL,
            count INTEGER NOT NULL DEFAULT 1, format INTEGER NOT NULL DEFAULT 1);
        CREATE TABLE IF NOT EXISTS audit_checkpoints (
            seq INTEGER PRIMARY KEY, hash BLOB NOT NULL, signature BLOB NOT NULL);
        CREATE TABLE IF NOT EXISTS principals (
            object_id TEXT PRIMARY KEY NOT NULL, kind TEXT NOT NULL, name TEXT NOT NULL COLLATE NOCASE UNIQUE,
            client_id TEXT UNIQUE, secret_hash BLOB, password_hash BLOB,
            enabled INTEGER NOT NULL DEFAULT 1, created INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS app_certificates (
            object_id TEXT NOT NULL, thumbprint_sha1 TEXT NOT NULL, thumbprint_sha256 TEXT NOT NULL, der BLOB NOT NULL,
            PRIMARY KEY (object_id, thumbprint_sha256));
        CREATE TABLE IF NOT EXISTS role_definitions (
            id TEXT PRIMARY KEY NOT NULL, name TEXT NOT NULL COLLATE NOCASE UNIQUE,
            data_actions TEXT NOT NULL, not_data_actions TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS role_assignments (
            id TEXT PRIMARY KEY NOT NULL, role_id TEXT NOT NULL, principal_id TEXT NOT NULL, scope TEXT NOT NULL,
            created INTEGER NOT NULL);
        CREATE INDEX IF NOT EXISTS role_assignments_principal ON role_assignments (principal_id);
        """

    /// Refuses a file that fails SQLite's `quick_check` (overwritten pages), and an initialised vault (its
    /// keyring is stored) whose audit tables are gone or empty: the trail starts with `VaultInitialize` in the
    /// same transaction as the keyring, so a missing trail was removed, and a new one must not be started in
    /// its place.
    static func checkIntact(_ db: Database) throws {
        let check = try String.fetchAll(db, sql: "PRAGMA quick_check(1)")
        guard check == ["ok"] else { throw Failure.damaged("it fails SQLite's integrity check") }
        let tables = Set(try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table'"))
        guard tables.contains("meta"),
              try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM meta WHERE key = 'keyring')") == true else { return }
        guard tables.contains("audit"), tables.contains("audit_checkpoints") else {
            throw Failure.damaged("its audit trail is missing (the audit tables were removed)")
        }
        guard try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM audit)") == true else {
            throw Failure.damaged("its audit trail is empty (an initialised vault's trail starts with VaultInitialize)")
        }
    }

    /// Brings a schema-1 file up to date: the audit table gains `count` and `format` (existing records keep
    /// 1 and 1, so they verify as they were written). Text columns written by schema 1 are read as bytes.
    static func upgrade(_ db: Database) throws {
        let columns = try Row.fetchAll(db, sql: "PRAGMA table_info(audit)").map { $0["name"] as String }
        if !columns.contains("count") {
            try db.execute(sql: "ALTER TABLE audit ADD COLUMN count INTEGER NOT NULL DEFAULT 1")
        }
        if !columns.contains("format") {
            try db.execute(sql: "ALTER TABLE audit ADD COLUMN format INTEGER NOT NULL DEFAULT 1")
        }
    }

    /// Runs `body` in one immediate transaction: everything it writes commits together (and is fsynced) or
    /// not at all.
    func write<T>(_ body: (Database) throws -> T) throws -> T {
        do {
            return try pool.writeWithoutTransaction { db in
                var result: T?
                try db.inTransaction(.immediate) {
                    result = try body(db)
                    return .commit
                }
                return result!
            }
        } catch let e as DatabaseError {
            throw VaultStore.failure(e)
        }
    }

    /// Group commit: runs `work` inside a savepoint of a transaction shared with whatever other callers are
    /// waiting at the same moment, and returns once that transaction is committed (one fsync for the whole
    /// group). `work` reports its own outcome; a throw from it rolls back only its savepoint. If the commit
    /// fails, every caller in the group gets the error, so nobody answers for a change that is not on disk.
    /// With `checkpoint`, the batch ends with a checkpoint of its last audit record signed by that key, in the
    /// same transaction.
    func grouped(checkpoint: Curve25519.Signing.PrivateKey? = nil, _ work: (Database) throws -> Void) throws {
        try withoutActuallyEscaping(work) { escapable in
            try committer.submit(escapable, checkpoint: checkpoint, pool: pool)
        }
    }

    let committer = GroupCommitter()

    /// The directory as a serving process last read it (see ``VaultDirectory/grants(objectId:)``).
    let directoryCache = DirectoryCache()

    /// A read-only snapshot.
    func read<T>(_ body: (Database) throws -> T) throws -> T {
        do {
            return try pool.read(body)
        } catch let e as DatabaseError {
            throw VaultStore.failure(e)
        }
    }

    /// A consistent copy of the whole file into `path` (an empty file; the caller syncs it).
    func vacuum(into path: String) throws {
        do {
            try pool.writeWithoutTransaction { db in try db.execute(sql: "VACUUM INTO ?", arguments: [path]) }
        } catch let e as DatabaseError {
            throw VaultStore.failure(e)
        }
    }

    /// The durability setting of the writer (for the test that guards the GRDB pitfall).
    func writerSynchronous() throws -> Int {
        try pool.writeWithoutTransaction { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") ?? -1 }
    }

    static func setMeta(_ db: Database, _ key: String, _ value: [UInt8]) throws {
        try db.execute(sql: "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", arguments: [key, Data(value)])
    }

    static func meta(_ db: Database, _ key: String) throws -> [UInt8]? {
        try Data.fetchOne(db, sql: "SELECT value FROM meta WHERE key = ?", arguments: [key]).map { Array($0) }
    }

    public func meta(_ key: String) throws -> [UInt8]? { try read { try VaultStore.meta($0, key) } }

    /// For tests of the barrier: change a stored row as an attacker with file access could.
    func tamper(sql: String, arguments: StatementArguments = []) throws {
        try write { db in try db.execute(sql: sql, arguments: arguments) }
    }
}

/// Leader/follower group commit: the first caller to find no leader runs everyone queued so far in one
/// immediate transaction; the others wait for their job to be marked done.
final class GroupCommitter: @unchecked Sendable {
    final class Job {
        let work: (Database) throws -> Void
        let checkpoint: Curve25519.Signing.PrivateKey?
        var done = false
        var failure: (any Error)?
        init(_ work: @escaping (Database) throws -> Void, checkpoint: Curve25519.Signing.PrivateKey?) {
            self.work = work
            self.checkpoint = checkpoint
        }
    }

    /// Told each batch's size and how long its transaction took (the server's metrics); nil by default.
    let observer = Locked<(@Sendable (Int, Duration) -> Void)?>(nil)

    private let condition = NSCondition()
    private var pending: [Job] = []
    private var leading = false

    func submit(_ work: @escaping (Database) throws -> Void, checkpoint: Curve25519.Signing.PrivateKey?, pool: DatabasePool) throws {
        let job = Job(work, checkpoint: checkpoint)
        condition.lock()
        pending.append(job)
        while !job.done {
            if leading {
                condition.wait()
                continue
            }
            leading = true
            let batch = pending
            pending = []
            condition.unlock()
            let started = ContinuousClock.now
            let failure = GroupCommitter.run(batch, pool: pool)
            observer.get()?(batch.count, ContinuousClock.now - started)
            condition.lock()
            for j in batch {
                j.done = true
                if j.failure == nil { j.failure = failure }
            }
            leading = false
            condition.broadcast()
        }
        condition.unlock()
        if let f = job.failure { throw f }
    }

    /// One transaction for the batch; each job in a savepoint. Returns the commit's failure, if any.
    static func run(_ batch: [Job], pool: DatabasePool) -> (any Error)? {
        do {
            try pool.writeWithoutTransaction { db in
                try db.inTransaction(.immediate) {
                    for job in batch {
                        do {
                            try db.inSavepoint {
                                try job.work(db)
                                return .commit
                            }
                        } catch {
                            job.failure = error
                        }
                    }
                    // A failure here fails the whole batch: no answer leaves for a record left unsigned.
                    if let key = batch.last(where: { $0.checkpoint != nil })?.checkpoint {
                        try AuditLog.checkpointLast(db, key: key)
                    }
                    return .commit
                }
            }
            return nil
        } catch let e as DatabaseError {
            return VaultStore.failure(e)
        } catch {
            return error
        }
    }
}

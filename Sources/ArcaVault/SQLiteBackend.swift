import Foundation
import GRDB
import GRDBSQLite

/// The embedded storage: one SQLite file (WAL). Every commit is on disk before it returns (`synchronous =
/// FULL`, set again on the writer after the pool opens: GRDB's pool resets it to NORMAL). Writes are immediate
/// transactions, so several processes can share one vault file.
public final class SQLiteBackend: StorageBackend {
    let pool: DatabasePool
    public let location: String

    /// Opens (creating if needed) the vault file at `path`.
    public init(path: String) throws {
        location = path
        var config = Configuration()
        config.journalMode = .wal
        config.busyMode = .timeout(30)
        typealias Failure = VaultStore.Failure
        do {
            pool = try DatabasePool(path: path, configuration: config)
            try pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
            try pool.writeWithoutTransaction { db in
                try db.inTransaction(.immediate) {
                    // Checked before anything is written, so a damaged file is refused, never "repaired".
                    try SQLiteBackend.checkIntact(db)
                    try db.execute(sql: SQLiteBackend.schema)
                    let stored = try Int.fetchOne(db, sql: "SELECT CAST(value AS TEXT) FROM meta WHERE key = 'schema'")
                    if let stored, stored > VaultStore.schemaVersion { throw Failure.newerSchema(stored) }
                    if stored == nil || stored! < VaultStore.schemaVersion {
                        try SQLiteBackend.upgrade(db)
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
    /// or a hand that overwrote the file under a running server) are ``VaultStore/Failure/damaged``, not a
    /// passing error.
    static func failure(_ e: DatabaseError) -> VaultStore.Failure {
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
        guard check == ["ok"] else { throw VaultStore.Failure.damaged("it fails SQLite's integrity check") }
        let tables = Set(try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table'"))
        guard tables.contains("meta"),
              try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM meta WHERE key = 'keyring')") == true else { return }
        guard tables.contains("audit"), tables.contains("audit_checkpoints") else {
            throw VaultStore.Failure.damaged("its audit trail is missing (the audit tables were removed)")
        }
        guard try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM audit)") == true else {
            throw VaultStore.Failure.damaged("its audit trail is empty (an initialised vault's trail starts with VaultInitialize)")
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

    public func write<T>(_ body: (any SQLConnection) throws -> T) throws -> T {
        do {
            return try pool.writeWithoutTransaction { db in
                var result: T?
                try db.inTransaction(.immediate) {
                    result = try body(SQLiteConnection(db))
                    return .commit
                }
                return result!
            }
        } catch let e as DatabaseError {
            throw SQLiteBackend.failure(e)
        }
    }

    public func read<T>(_ body: (any SQLConnection) throws -> T) throws -> T {
        do {
            return try pool.read { db in try body(SQLiteConnection(db)) }
        } catch let e as DatabaseError {
            throw SQLiteBackend.failure(e)
        }
    }

    public func copy(into path: String) throws {
        do {
            try pool.writeWithoutTransaction { db in try db.execute(sql: "VACUUM INTO ?", arguments: [path]) }
        } catch let e as DatabaseError {
            throw SQLiteBackend.failure(e)
        }
    }

    /// `synchronous = FULL` on the writer (GRDB's pool resets it to NORMAL).
    public func isDurable() throws -> Bool {
        try pool.writeWithoutTransaction { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") ?? -1 } == 2
    }
}

/// A GRDB connection inside one of ``SQLiteBackend``'s transactions. GRDB opens, configures and closes the
/// connections and runs the transactions and savepoints; the core's statements (a fixed set, prepared once
/// each through GRDB's statement cache) are bound, stepped and read through SQLite's C API, which costs a
/// read a few microseconds a statement where GRDB's rows and arguments cost about twenty (measured on this
/// vault's hot path: every request runs several). GRDB never runs these cached statements itself.
final class SQLiteConnection: SQLConnection {
    let db: Database
    init(_ db: Database) { self.db = db }

    /// SQLite copies bound text and blobs (`SQLITE_TRANSIENT`).
    static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

    /// The cached statement for `sql`, reset, with `arguments` bound.
    func prepared(_ sql: String, _ arguments: [any SQLArgument]) throws -> OpaquePointer {
        let s = try db.cachedStatement(sql: sql).sqliteStatement
        sqlite3_reset(s)
        // Every parameter is bound on every run (as GRDB checked): none keeps a value from the last one.
        guard Int(sqlite3_bind_parameter_count(s)) == arguments.count else {
            throw DatabaseError(resultCode: .SQLITE_MISUSE, message: "wrong number of statement arguments: \(arguments.count)", sql: sql)
        }
        for (i, argument) in arguments.enumerated() {
            let index = Int32(i + 1)
            let rc: Int32
            switch argument.sqlValue {
            case .null: rc = sqlite3_bind_null(s, index)
            case .integer(let v): rc = sqlite3_bind_int64(s, index, v)
            case .text(let v): rc = sqlite3_bind_text(s, index, v, Int32(v.utf8.count), Self.transient)  // (all of it, a NUL too)
            case .blob(let v):
                rc = v.withUnsafeBytes { sqlite3_bind_blob(s, index, $0.baseAddress ?? UnsafeRawPointer(bitPattern: 1), Int32($0.count), Self.transient) }
            }
            guard rc == SQLITE_OK else { throw failure(rc, sql) }
        }
        return s
    }

    func failure(_ rc: Int32, _ sql: String) -> DatabaseError {
        let message = db.sqliteConnection.flatMap { sqlite3_errmsg($0) }.map { String(cString: $0) }
        return DatabaseError(resultCode: ResultCode(rawValue: rc), message: message, sql: sql)
    }

    func execute(sql: String, arguments: [any SQLArgument]) throws {
        // (Without arguments: possibly several statements, as a test's tampering runs.)
        if arguments.isEmpty { return try db.execute(sql: sql) }
        let s = try prepared(sql, arguments)
        defer { sqlite3_reset(s) }
        while true {
            let rc = sqlite3_step(s)
            if rc == SQLITE_DONE { return }
            guard rc == SQLITE_ROW else { throw failure(rc, sql) }
        }
    }

    func query(sql: String, arguments: [any SQLArgument]) throws -> [SQLRow] {
        let s = try prepared(sql, arguments)
        defer { sqlite3_reset(s) }
        let count = sqlite3_column_count(s)
        var names: [String]?
        var rows: [SQLRow] = []
        while true {
            let rc = sqlite3_step(s)
            if rc == SQLITE_DONE { return rows }
            guard rc == SQLITE_ROW else { throw failure(rc, sql) }
            let columns = names ?? (0..<count).map { sqlite3_column_name(s, $0).map { String(cString: $0) } ?? "" }
            names = columns
            var values: [SQLValue] = []
            values.reserveCapacity(Int(count))
            for i in 0..<count {
                switch sqlite3_column_type(s, i) {
                case SQLITE_INTEGER: values.append(.integer(sqlite3_column_int64(s, i)))
                case SQLITE_FLOAT:
                    // The core writes no REAL; one put there by a hand or a damaged file reads as its integer part,
                    // and one no Int64 holds as NULL (never a trap).
                    let d = sqlite3_column_double(s, i)
                    values.append(d.isFinite && abs(d) < 9.2e18 ? .integer(Int64(d)) : .null)
                case SQLITE_TEXT:
                    let n = Int(sqlite3_column_bytes(s, i))
                    let text = sqlite3_column_text(s, i).map { String(decoding: UnsafeBufferPointer(start: $0, count: n), as: UTF8.self) } ?? ""
                    values.append(.text(text))
                case SQLITE_BLOB:
                    let n = Int(sqlite3_column_bytes(s, i))
                    let bytes = sqlite3_column_blob(s, i).map { Array(UnsafeRawBufferPointer(start: $0, count: n)) } ?? []
                    values.append(.blob(bytes))
                default: values.append(.null)
                }
            }
            rows.append(SQLRow(names: columns, values: values))
        }
    }

    var changesCount: Int { db.changesCount }

    let memo = TransactionMemo()

    func inSavepointReturning<T>(_ body: () throws -> T) throws -> T {
        var value: T?
        do {
            try db.inSavepoint {
                value = try body()
                return .commit
            }
        } catch {
            memo.forget()
            throw error
        }
        return value!
    }
}

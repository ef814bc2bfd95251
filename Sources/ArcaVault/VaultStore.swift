import Foundation
import GRDB

/// The vault's storage: one SQLite file (WAL). It holds only envelopes the ``Barrier`` made, the sealed
/// keyring and metadata: never a plaintext value or key. Every commit is on disk before it returns
/// (`synchronous = FULL`, set again on the writer after the pool opens: GRDB's pool resets it to NORMAL).
public final class VaultStore: Sendable {
    /// Schema version this build writes; a newer file is refused.
    public static let schemaVersion = 1

    public enum Failure: Error, Equatable, Sendable, CustomStringConvertible {
        case newerSchema(Int)
        case database(String)

        public var description: String {
            switch self {
            case .newerSchema(let v): return "the vault file's schema \(v) is newer than this arca understands (\(VaultStore.schemaVersion))"
            case .database(let m): return "vault database: \(m)"
            }
        }
    }

    /// One stored version of a secret.
    public struct StoredVersion: Sendable, Equatable {
        public var name: String
        public var version: String
        public var envelope: [UInt8]
        public var created: Int64
    }

    let pool: DatabasePool

    /// Opens (creating if needed) the vault file at `path`.
    public init(path: String) throws {
        var config = Configuration()
        config.journalMode = .wal
        do {
            pool = try DatabasePool(path: path, configuration: config)
            try pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
            try pool.write { db in
                try db.execute(sql: """
                    CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY NOT NULL, value BLOB NOT NULL);
                    CREATE TABLE IF NOT EXISTS secret_versions (
                        name_key TEXT NOT NULL, name TEXT NOT NULL, version TEXT NOT NULL,
                        envelope BLOB NOT NULL, created INTEGER NOT NULL, seq INTEGER NOT NULL,
                        PRIMARY KEY (name_key, version));
                    CREATE INDEX IF NOT EXISTS secret_versions_latest ON secret_versions (name_key, seq);
                    """)
                let stored = try Int.fetchOne(db, sql: "SELECT CAST(value AS TEXT) FROM meta WHERE key = 'schema'")
                if let stored, stored > VaultStore.schemaVersion { throw Failure.newerSchema(stored) }
                if stored == nil {
                    try db.execute(sql: "INSERT INTO meta (key, value) VALUES ('schema', ?)",
                                   arguments: [String(VaultStore.schemaVersion)])
                }
            }
        } catch let e as Failure {
            throw e
        } catch {
            throw Failure.database("\(error)")
        }
    }

    /// The durability setting of the writer (for the test that guards the GRDB pitfall).
    func writerSynchronous() throws -> Int {
        try pool.writeWithoutTransaction { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") ?? -1 }
    }

    public func setMeta(_ key: String, _ value: [UInt8]) throws {
        try pool.write { db in
            try db.execute(sql: "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", arguments: [key, Data(value)])
        }
    }

    public func meta(_ key: String) throws -> [UInt8]? {
        try pool.read { db in try Data.fetchOne(db, sql: "SELECT value FROM meta WHERE key = ?", arguments: [key]) }
            .map { Array($0) }
    }

    /// Stores a new version (names are compared case-insensitively, as Azure Key Vault does).
    public func putVersion(name: String, version: String, envelope: [UInt8], created: Int64) throws {
        try pool.write { db in
            let seq = (try Int64.fetchOne(db, sql: "SELECT MAX(seq) FROM secret_versions WHERE name_key = ?",
                                          arguments: [name.lowercased()]) ?? 0) + 1
            try db.execute(sql: """
                INSERT INTO secret_versions (name_key, name, version, envelope, created, seq) VALUES (?, ?, ?, ?, ?, ?)
                """, arguments: [name.lowercased(), name, version, Data(envelope), created, seq])
        }
    }

    /// A version of a secret, or its latest when `version` is nil.
    public func version(name: String, version: String? = nil) throws -> StoredVersion? {
        try pool.read { db in
            let row: Row?
            if let version {
                row = try Row.fetchOne(db, sql: """
                    SELECT name, version, envelope, created FROM secret_versions WHERE name_key = ? AND version = ?
                    """, arguments: [name.lowercased(), version])
            } else {
                row = try Row.fetchOne(db, sql: """
                    SELECT name, version, envelope, created FROM secret_versions WHERE name_key = ? ORDER BY seq DESC LIMIT 1
                    """, arguments: [name.lowercased()])
            }
            return row.map {
                StoredVersion(name: $0["name"], version: $0["version"], envelope: Array($0["envelope"] as Data),
                              created: $0["created"])
            }
        }
    }

    /// Every version of a secret, oldest first.
    public func versions(name: String) throws -> [StoredVersion] {
        try pool.read { db in
            try Row.fetchAll(db, sql: """
                SELECT name, version, envelope, created FROM secret_versions WHERE name_key = ? ORDER BY seq
                """, arguments: [name.lowercased()]).map {
                StoredVersion(name: $0["name"], version: $0["version"], envelope: Array($0["envelope"] as Data),
                              created: $0["created"])
            }
        }
    }

    /// For tests of the barrier: overwrite a stored envelope as an attacker with file access could.
    func overwriteEnvelope(name: String, version: String, with envelope: [UInt8]) throws {
        try pool.write { db in
            try db.execute(sql: "UPDATE secret_versions SET envelope = ? WHERE name_key = ? AND version = ?",
                           arguments: [Data(envelope), name.lowercased(), version])
        }
    }
}

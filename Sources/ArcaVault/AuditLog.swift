import Crypto
import Foundation

/// The two statements that append to the trail, as engines may recognise them (``StorageBackend/appendOnly(_:)``).
public enum AuditSQL {
    /// A record; its arguments in this order: seq, time, caller, operation, secret_name (or NULL),
    /// secret_version (or NULL), result, source, count, format, prev_hash, hash (text fields as BLOBs).
    public static let record = """
        INSERT INTO audit (seq, time, caller, operation, secret_name, secret_version, result, source, count, format,
                           prev_hash, hash)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        """
    /// A checkpoint (or its replacement): seq, hash, signature.
    public static let checkpoint = """
        INSERT INTO audit_checkpoints (seq, hash, signature) VALUES (?, ?, ?)
        ON CONFLICT (seq) DO UPDATE SET hash = excluded.hash, signature = excluded.signature
        """
}

/// The audit trail as stored in the vault file: records appended in the same transaction as the change they
/// describe, each followed by a checkpoint signed with the keyring's checkpoint key when the vault is unsealed
/// (records written while it is sealed are covered by the next checkpoint, which signs the chain up to it).
enum AuditLog {
    /// A text field as stored: the exact bytes that were hashed (a BLOB; older files may hold TEXT, read the same).
    static func text(_ row: SQLRow, _ column: String) -> String {
        String(decoding: (row[column] as Data?) ?? Data(), as: UTF8.self)
    }

    static func optionalText(_ row: SQLRow, _ column: String) -> String? {
        (row[column] as Data?).map { String(decoding: $0, as: UTF8.self) }
    }

    static func record(_ row: SQLRow) -> AuditRecord {
        var r = AuditRecord(sequence: UInt64(row["seq"] as Int64), time: text(row, "time"), caller: text(row, "caller"),
                            operation: text(row, "operation"), secretName: optionalText(row, "secret_name"),
                            secretVersion: optionalText(row, "secret_version"), result: text(row, "result"),
                            source: text(row, "source"), count: Int(row["count"] as Int64? ?? 1),
                            format: Int(row["format"] as Int64? ?? 1), previousHash: Array(row["prev_hash"] as Data))
        r.hash = Array(row["hash"] as Data)  // as stored: verification recomputes it
        return r
    }

    /// What the next record chains on: the last record's number and hash (two columns, not the whole row:
    /// this runs for every record appended).
    struct Head {
        var sequence: UInt64
        var hash: [UInt8]
    }

    static func head(_ db: any SQLConnection) throws -> Head? {
        if let known = db.memo.auditHead { return known }
        return try SQLRow.fetchOne(db, sql: "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").map {
            Head(sequence: UInt64($0["seq"] as Int64), hash: Array($0["hash"] as Data))
        }
    }

    static let timeStyle = Date.ISO8601FormatStyle(includingFractionalSeconds: true)

    static func now() -> String { Date().formatted(timeStyle) }

    /// Appends a record (and a checkpoint when `key` is given) inside the caller's transaction. Text is bound
    /// as BLOBs of its UTF-8 bytes: SQLite would cut text bound as a C string at its first NUL, and the hash
    /// covers every byte.
    @discardableResult
    static func append(_ db: any SQLConnection, caller: String, operation: String, secretName: String?, secretVersion: String?,
                       result: String, source: String, count: Int = 1, nameIsList: Bool = false,
                       key: Curve25519.Signing.PrivateKey?) throws -> AuditRecord {
        let last = try head(db)
        // Only `init` starts a trail. A trail that is gone (its rows deleted while a server runs) is not
        // started again at 1: that would hide the removal, so the operation fails instead.
        if last == nil, operation != AuditChain.initialization {
            guard try VaultStore.meta(db, "keyring") != nil else {
                throw VaultError.notInitialized("no vault is initialised here: create one with `arca vault init`")
            }
            throw TrailMissing()
        }
        let r = AuditChain.next(afterHead: last.map { ($0.sequence, $0.hash) }, time: now(),
                                caller: caller, operation: operation,
                                secretName: secretName, secretVersion: secretVersion, result: result, source: source,
                                count: count, nameIsList: nameIsList)
        let blob = { (s: String) in Data(s.utf8) }
        try db.execute(sql: AuditSQL.record, arguments: [Int64(r.sequence), blob(r.time), blob(r.caller), blob(r.operation), r.secretName.map(blob),
                                     r.secretVersion.map(blob), blob(r.result), blob(r.source), Int64(r.count),
                                     Int64(r.format), Data(r.previousHash), Data(r.hash)])
        db.memo.auditHead = Head(sequence: r.sequence, hash: r.hash)
        if let key {
            try store(try AuditChain.checkpoint(r, key: key), db)
        }
        return r
    }

    /// Signs the trail's last record (a group commit's one checkpoint for its whole batch).
    static func checkpointLast(_ db: any SQLConnection, key: Curve25519.Signing.PrivateKey) throws {
        guard let last = try head(db) else { return }
        try store(try AuditChain.checkpoint(sequence: last.sequence, hash: last.hash, key: key), db)
    }

    /// Writes (or replaces) the checkpoint of its record.
    static func store(_ c: AuditCheckpoint, _ db: any SQLConnection) throws {
        try db.execute(sql: AuditSQL.checkpoint, arguments: [Int64(c.sequence), Data(c.hash), Data(c.signature)])
    }

    /// The trail has no record to chain on.
    struct TrailMissing: Error, CustomStringConvertible {
        var description: String { "the vault's audit trail is missing or empty (damaged); restore the vault from a backup" }
    }

    static func checkpoint(_ row: SQLRow) -> AuditCheckpoint {
        AuditCheckpoint(sequence: UInt64(row["seq"] as Int64), hash: Array(row["hash"] as Data),
                        signature: Array(row["signature"] as Data))
    }

    /// One page of the trail: records after `after` up to `until` (default: the end of the trail now, counting
    /// checkpoints, so a checkpoint past the last record is still exported), at most `limit`, and the
    /// checkpoints the page covers. `next` is where the following page starts, nil after the last.
    static func page(_ db: any SQLConnection, after: UInt64, until: UInt64?, limit: Int) throws -> AuditPage {
        let end = try until ?? UInt64(max(Int64.fetchOne(db, sql: "SELECT MAX(seq) FROM audit") ?? 0,
                                          Int64.fetchOne(db, sql: "SELECT MAX(seq) FROM audit_checkpoints") ?? 0))
        let records = try SQLRow.fetchAll(db, sql: "SELECT * FROM audit WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ?",
                                       arguments: [Int64(after), Int64(end), limit]).map(record)
        let next: UInt64? = records.count == limit ? records.last.map(\.sequence).flatMap { $0 < end ? $0 : nil } : nil
        let checkpoints = try SQLRow.fetchAll(db, sql: "SELECT * FROM audit_checkpoints WHERE seq > ? AND seq <= ? ORDER BY seq",
                                           arguments: [Int64(after), Int64(next ?? end)]).map(checkpoint)
        return AuditPage(records: records, checkpoints: checkpoints, until: end, next: next)
    }

    static func all(_ db: any SQLConnection) throws -> ([AuditRecord], [AuditCheckpoint]) {
        // By `seq` (in SQLite the rowid itself, so the stored order); the verifier checks the chain across it.
        let records = try SQLRow.fetchAll(db, sql: "SELECT * FROM audit ORDER BY seq").map(record)
        let checkpoints = try SQLRow.fetchAll(db, sql: "SELECT * FROM audit_checkpoints ORDER BY seq").map(checkpoint)
        return (records, checkpoints)
    }
}

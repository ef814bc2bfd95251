import Crypto
import Foundation
import GRDB

/// The audit trail as stored in the vault file: records appended in the same transaction as the change they
/// describe, each followed by a checkpoint signed with the keyring's checkpoint key when the vault is unsealed
/// (records written while it is sealed are covered by the next checkpoint, which signs the chain up to it).
enum AuditLog {
    static func record(_ row: Row) -> AuditRecord {
        var r = AuditRecord(sequence: UInt64(row["seq"] as Int64), time: row["time"], caller: row["caller"],
                            operation: row["operation"], secretName: row["secret_name"],
                            secretVersion: row["secret_version"], result: row["result"], source: row["source"],
                            previousHash: Array(row["prev_hash"] as Data))
        r.hash = Array(row["hash"] as Data)  // as stored: verification recomputes it
        return r
    }

    static func last(_ db: Database) throws -> AuditRecord? {
        try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM audit ORDER BY seq DESC LIMIT 1")).map(record)
    }

    static let timeStyle = Date.ISO8601FormatStyle(includingFractionalSeconds: true)

    static func now() -> String { Date().formatted(timeStyle) }

    /// Appends a record (and a checkpoint when `key` is given) inside the caller's transaction.
    @discardableResult
    static func append(_ db: Database, caller: String, operation: String, secretName: String?, secretVersion: String?,
                       result: String, source: String, key: Curve25519.Signing.PrivateKey?) throws -> AuditRecord {
        let r = AuditChain.next(after: try last(db), time: now(), caller: caller, operation: operation,
                                secretName: secretName, secretVersion: secretVersion, result: result, source: source)
        try db.cachedStatement(sql: """
            INSERT INTO audit (seq, time, caller, operation, secret_name, secret_version, result, source, prev_hash, hash)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """).execute(arguments: [Int64(r.sequence), r.time, r.caller, r.operation, r.secretName, r.secretVersion, r.result,
                             r.source, Data(r.previousHash), Data(r.hash)])
        if let key {
            let c = try AuditChain.checkpoint(r, key: key)
            try db.cachedStatement(sql: "INSERT OR REPLACE INTO audit_checkpoints (seq, hash, signature) VALUES (?, ?, ?)")
                .execute(arguments: [Int64(c.sequence), Data(c.hash), Data(c.signature)])
        }
        return r
    }

    static func all(_ db: Database) throws -> ([AuditRecord], [AuditCheckpoint]) {
        // Stored order (rowid), not sorted by sequence, so reordering is seen by the verifier.
        let records = try Row.fetchAll(db, sql: "SELECT * FROM audit ORDER BY rowid").map(record)
        let checkpoints = try Row.fetchAll(db, sql: "SELECT * FROM audit_checkpoints ORDER BY seq").map {
            AuditCheckpoint(sequence: UInt64($0["seq"] as Int64), hash: Array($0["hash"] as Data),
                            signature: Array($0["signature"] as Data))
        }
        return (records, checkpoints)
    }
}

/// The checkpoint key's public half (what `--key` takes).
public typealias AuditPublicKey = Curve25519.Signing.PublicKey

/// Which audit records to return.
public struct AuditQuery: Sendable, Equatable {
    public var caller: String?
    public var operation: String?
    public var secretName: String?
    public var result: String?
    /// ISO 8601 bounds (inclusive), compared as text (every stored time is UTC with the same shape).
    public var since: String?
    public var until: String?
    /// The most recent `limit` matches (all when nil), oldest first.
    public var limit: Int?

    public init(caller: String? = nil, operation: String? = nil, secretName: String? = nil, result: String? = nil,
                since: String? = nil, until: String? = nil, limit: Int? = nil) {
        self.caller = caller
        self.operation = operation
        self.secretName = secretName
        self.result = result
        self.since = since
        self.until = until
        self.limit = limit
    }

    func matches(_ r: AuditRecord) -> Bool {
        if let c = caller, !r.caller.localizedCaseInsensitiveContains(c) { return false }
        if let o = operation, r.operation.caseInsensitiveCompare(o) != .orderedSame { return false }
        if let n = secretName, r.secretName?.caseInsensitiveCompare(n) != .orderedSame { return false }
        if let x = result, r.result.caseInsensitiveCompare(x) != .orderedSame { return false }
        if let s = since, r.time < s { return false }
        if let u = until, r.time > u { return false }
        return true
    }
}

/// The export format: JSON Lines, a header line then every record and checkpoint in stored order. It holds no
/// key: verifying it takes the checkpoint key's public half from the user.
public enum AuditExport {
    public static let format = "arca-audit-export"
    public static let version = 1

    struct Line: Codable {
        var type: String
        var format: String?
        var version: Int?
        var seq: UInt64?
        var time: String?
        var caller: String?
        var operation: String?
        var secretName: String?
        var secretVersion: String?
        var result: String?
        var source: String?
        var previousHash: String?
        var hash: String?
        var signature: String?
    }

    public struct Failure: Error, Equatable, Sendable, CustomStringConvertible {
        public var line: Int
        public var reason: String
        public var description: String { "audit export, line \(line): \(reason)" }
    }

    static func encoder() -> JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return e
    }

    public static func jsonLine(_ r: AuditRecord) -> String {
        let line = Line(type: "record", seq: r.sequence, time: r.time, caller: r.caller, operation: r.operation,
                        secretName: r.secretName, secretVersion: r.secretVersion, result: r.result, source: r.source,
                        previousHash: Hex.encode(r.previousHash), hash: Hex.encode(r.hash))
        return String(decoding: (try? encoder().encode(line)) ?? Data(), as: UTF8.self)
    }

    public static func write(_ records: [AuditRecord], _ checkpoints: [AuditCheckpoint]) -> String {
        let e = encoder()
        var out = String(decoding: try! e.encode(Line(type: "header", format: format, version: version)), as: UTF8.self) + "\n"
        for r in records { out += jsonLine(r) + "\n" }
        for c in checkpoints {
            let line = Line(type: "checkpoint", seq: c.sequence, hash: Hex.encode(c.hash), signature: Hex.encode(c.signature))
            out += String(decoding: try! e.encode(line), as: UTF8.self) + "\n"
        }
        return out
    }

    public static func read(_ text: String) throws -> ([AuditRecord], [AuditCheckpoint]) {
        var records: [AuditRecord] = []
        var checkpoints: [AuditCheckpoint] = []
        let decoder = JSONDecoder()
        var sawHeader = false
        for (i, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let n = i + 1
            if raw.trimmingCharacters(in: .whitespaces).isEmpty { continue }
            guard let line = try? decoder.decode(Line.self, from: Data(raw.utf8)) else {
                throw Failure(line: n, reason: "not a JSON object of the export format")
            }
            switch line.type {
            case "header":
                guard line.format == format else { throw Failure(line: n, reason: "not an Arca audit export") }
                guard let v = line.version, v <= version else {
                    throw Failure(line: n, reason: "export version \(line.version ?? -1) is newer than this arca understands (\(version))")
                }
                sawHeader = true
            case "record":
                guard sawHeader else { throw Failure(line: n, reason: "no header line before the first record") }
                guard let seq = line.seq, let time = line.time, let caller = line.caller, let op = line.operation,
                      let result = line.result, let source = line.source, let prev = line.previousHash.flatMap(Hex.decode),
                      let hash = line.hash.flatMap(Hex.decode) else {
                    throw Failure(line: n, reason: "a record needs seq, time, caller, operation, result, source, previousHash and hash")
                }
                var r = AuditRecord(sequence: seq, time: time, caller: caller, operation: op, secretName: line.secretName,
                                    secretVersion: line.secretVersion, result: result, source: source, previousHash: prev)
                r.hash = hash
                records.append(r)
            case "checkpoint":
                guard let seq = line.seq, let hash = line.hash.flatMap(Hex.decode),
                      let sig = line.signature.flatMap(Hex.decode) else {
                    throw Failure(line: n, reason: "a checkpoint needs seq, hash and signature")
                }
                checkpoints.append(AuditCheckpoint(sequence: seq, hash: hash, signature: sig))
            default:
                throw Failure(line: n, reason: "unknown line type '\(line.type.prefix(40))'")
            }
        }
        guard sawHeader else { throw Failure(line: 1, reason: "not an Arca audit export (no header line)") }
        return (records, checkpoints)
    }

    /// Parses a public key given as 64 hex digits.
    public static func publicKey(hex: String) -> Curve25519.Signing.PublicKey? {
        guard let bytes = Hex.decode(hex.trimmingWhitespace()), bytes.count == 32 else { return nil }
        return try? Curve25519.Signing.PublicKey(rawRepresentation: bytes)
    }
}

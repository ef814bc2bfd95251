import Crypto
import Foundation


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

    package func matches(_ r: AuditRecord) -> Bool {
        // An aggregate of failed attempts lists its operations, names and results separated by commas: it
        // matches any one of them.
        func listed(_ field: String?, _ wanted: String) -> Bool {
            guard let field else { return false }
            if field.caseInsensitiveCompare(wanted) == .orderedSame { return true }
            if field.hasPrefix("["), r.count > 1 || AggregateNames.names(inList: field).count > 0 {
                // An aggregate's names: a JSON array of their trail forms.
                let form = AuditField.secretName(wanted)
                return AggregateNames.names(inList: field).contains { $0.caseInsensitiveCompare(form) == .orderedSame }
            }
            if r.count == 1 { return false }
            return field.split(separator: ",").contains {
                $0.trimmingCharacters(in: .whitespaces).caseInsensitiveCompare(wanted) == .orderedSame
            }
        }
        if let c = caller, !r.caller.localizedCaseInsensitiveContains(c) { return false }
        if let o = operation, !listed(r.operation, o) { return false }
        if let n = secretName, !listed(r.secretName, n) { return false }
        if let x = result, !listed(r.result, x) { return false }
        if let s = since, r.time < s { return false }
        if let u = until, r.time > u { return false }
        return true
    }
}

/// One page of the trail (`audit export` and `audit verify` read a trail of any size page by page).
public struct AuditPage: Sendable {
    public var records: [AuditRecord]
    public var checkpoints: [AuditCheckpoint]
    /// The last sequence number the export covers, fixed by its first page (later records, such as the export's
    /// own `AuditRead`s, belong to the next export).
    public var until: UInt64
    /// The last sequence number of this page when another follows; nil on the last page.
    public var next: UInt64?

    public init(records: [AuditRecord], checkpoints: [AuditCheckpoint], until: UInt64, next: UInt64?) {
        self.records = records
        self.checkpoints = checkpoints
        self.until = until
        self.next = next
    }

    /// Records per page. Every field is bounded, so even 1,000 records of nothing but escaped control
    /// characters (about 6 KiB of JSON each) stay below the 8 MiB one answer may carry.
    public static let defaultLimit = 1000
    public static let limitRange = 1...1000
}

/// The export format: JSON Lines, a header line then every record and checkpoint in stored order. It holds no
/// key: verifying it takes the checkpoint key's public half from the user.
public enum AuditExport {
    public static let format = "arca-audit-export"
    /// 2 added `count` and `format` to records (absent: 1). Version 1 exports still read.
    public static let version = 2

    package struct Line: Codable {
        package var type: String
        package var format: String?
        package var version: Int?
        package var seq: UInt64?
        package var time: String?
        package var caller: String?
        package var operation: String?
        package var secretName: String?
        package var secretVersion: String?
        package var result: String?
        package var source: String?
        package var count: Int?
        package var recordFormat: Int?
        package var previousHash: String?
        package var hash: String?
        package var signature: String?
    }

    public struct Failure: Error, Equatable, Sendable, CustomStringConvertible {
        public var line: Int
        public var reason: String
        public var description: String { "audit export, line \(line): \(reason)" }
    }

    package static func encoder() -> JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return e
    }

    public static func jsonLine(_ r: AuditRecord) -> String {
        let line = Line(type: "record", seq: r.sequence, time: r.time, caller: r.caller, operation: r.operation,
                        secretName: r.secretName, secretVersion: r.secretVersion, result: r.result, source: r.source,
                        count: r.count == 1 ? nil : r.count, recordFormat: r.format == 1 ? nil : r.format,
                        previousHash: Hex.encode(r.previousHash), hash: Hex.encode(r.hash))
        return String(decoding: (try? encoder().encode(line)) ?? Data(), as: UTF8.self)
    }

    /// The first line of every export.
    public static func header() -> String {
        String(decoding: try! encoder().encode(Line(type: "header", format: format, version: version)), as: UTF8.self) + "\n"
    }

    /// Record lines, then checkpoint lines (no header): one page of an export, or all of it.
    public static func lines(_ records: [AuditRecord], _ checkpoints: [AuditCheckpoint]) -> String {
        let e = encoder()
        var out = ""
        for r in records { out += jsonLine(r) + "\n" }
        for c in checkpoints {
            let line = Line(type: "checkpoint", seq: c.sequence, hash: Hex.encode(c.hash), signature: Hex.encode(c.signature))
            out += String(decoding: try! e.encode(line), as: UTF8.self) + "\n"
        }
        return out
    }

    public static func write(_ records: [AuditRecord], _ checkpoints: [AuditCheckpoint]) -> String {
        header() + lines(records, checkpoints)
    }

    public static func read(_ text: String) throws -> ([AuditRecord], [AuditCheckpoint]) {
        try parse(text, requireHeader: true)
    }

    /// The records and checkpoints of `text`; a page (`requireHeader: false`) has no header line.
    public static func parse(_ text: String, requireHeader: Bool) throws -> ([AuditRecord], [AuditCheckpoint]) {
        var records: [AuditRecord] = []
        var checkpoints: [AuditCheckpoint] = []
        let decoder = JSONDecoder()
        var sawHeader = !requireHeader
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
                                    secretVersion: line.secretVersion, result: result, source: source,
                                    count: line.count ?? 1, format: line.recordFormat ?? 1, previousHash: prev)
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

/// An aggregate audit record (failed attempts folded into one) lists its secret names as a JSON array, cut
/// with ``moreMarker`` when there were more.
package enum AggregateNames {
    package static let moreMarker = "…"

    package static func names(inList list: String) -> [String] {
        ((try? JSONDecoder().decode([String].self, from: Data(list.utf8))) ?? []).filter { $0 != moreMarker }
    }
}

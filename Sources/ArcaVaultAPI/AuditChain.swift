import Crypto

/// One audit record. Never holds a secret value, token or password: only who did what to which secret.
public struct AuditRecord: Sendable, Equatable {
    public var sequence: UInt64
    /// ISO 8601, UTC.
    public var time: String
    /// The caller's identity (object id or "local-operator").
    public var caller: String
    /// Azure Key Vault's operation names: `SecretGet`, `SecretSet`, `SecretList`, … and `Authentication`.
    public var operation: String
    public var secretName: String?
    public var secretVersion: String?
    /// `allowed`, `denied` or `failed`.
    public var result: String
    /// Where the request came from (address, or "embedded").
    public var source: String
    /// How many attempts the record stands for: 1, or more for an aggregate of failed sign-ins and
    /// unauthenticated requests from one source in one interval.
    public var count: Int
    /// The encoding the hash covers: 1 (the first, kept so older trails verify) or 2 (every record written now).
    public var format: Int
    /// Hash of the previous record (32 zero bytes for the first).
    public var previousHash: [UInt8]
    /// SHA-256 over the encoding of every field above.
    public var hash: [UInt8]

    public init(sequence: UInt64, time: String, caller: String, operation: String, secretName: String?,
                secretVersion: String?, result: String, source: String, count: Int = 1, format: Int = AuditRecord.currentFormat,
                previousHash: [UInt8]) {
        self.sequence = sequence
        self.time = time
        self.caller = caller
        self.operation = operation
        self.secretName = secretName
        self.secretVersion = secretVersion
        self.result = result
        self.source = source
        self.count = count
        self.format = format
        self.previousHash = previousHash
        self.hash = []
        self.hash = computedHash()
    }

    /// The encoding new records are hashed with.
    public static let currentFormat = 2

    /// Length-prefixed fields, so no two different records encode alike. The hash covers exactly these bytes,
    /// and the store keeps exactly the same bytes (BLOBs, so a NUL or any other character is kept whole).
    ///
    /// Format 1 wrote an absent name or version as a single NUL, which a NUL-only value would have matched; it
    /// is kept only to verify older trails (and cannot carry a count). Format 2 marks absence with its own
    /// byte and covers the count.
    package func canonical() -> [UInt8] {
        var out = Array((format == 2 ? "arca-audit-v2" : format == 1 && count == 1 ? "arca-audit-v1" : "arca-audit-invalid").utf8)
        func field(_ bytes: [UInt8]) {
            out += BigEndian.bytes(UInt32(bytes.count))
            out += bytes
        }
        field((0..<8).map { UInt8(sequence >> (56 - 8 * UInt64($0)) & 0xff) })
        if format == 2 {
            for s in [time, caller, operation] { field(Array(s.utf8)) }
            for s in [secretName, secretVersion] {
                if let s { field([1] + Array(s.utf8)) } else { field([0]) }
            }
            for s in [result, source] { field(Array(s.utf8)) }
            field((0..<8).map { UInt8(UInt64(count) >> (56 - 8 * UInt64($0)) & 0xff) })
        } else {
            for s in [time, caller, operation, secretName ?? "\u{0}", secretVersion ?? "\u{0}", result, source] {
                field(Array(s.utf8))
            }
        }
        field(previousHash)
        return out
    }

    package func computedHash() -> [UInt8] { Array(SHA256.hash(data: canonical())) }
}

/// A signature over the chain up to a record: made with the checkpoint key (kept in the keyring), checked with
/// its public half, which is printed at `init` and kept outside the trail.
public struct AuditCheckpoint: Sendable, Equatable {
    public var sequence: UInt64
    public var hash: [UInt8]
    public var signature: [UInt8]

    package init(sequence: UInt64, hash: [UInt8], signature: [UInt8]) {
        (self.sequence, self.hash, self.signature) = (sequence, hash, signature)
    }

    package static func message(_ sequence: UInt64, _ hash: [UInt8]) -> [UInt8] {
        Array("arca-checkpoint-v1".utf8) + (0..<8).map { UInt8(sequence >> (56 - 8 * UInt64($0)) & 0xff) } + hash
    }
}

/// Appending to and verifying the audit chain.
public enum AuditChain {
    /// The first thing wrong with a trail.
    public enum Problem: Error, Equatable, Sendable, CustomStringConvertible {
        /// The record at this position does not hash to what it claims: altered.
        case altered(sequence: UInt64)
        /// A sequence number is missing before this record: deleted.
        case deleted(after: UInt64)
        /// Sequence numbers go backwards here: reordered.
        case reordered(sequence: UInt64)
        /// The record does not link to the one before it: inserted (or the one before was replaced).
        case inserted(sequence: UInt64)
        /// A checkpoint's signature does not verify, or it signs a hash the trail does not have.
        case badCheckpoint(sequence: UInt64)
        /// Records after the newest checkpoint are not covered by a signature: they may have been appended by
        /// anyone holding the file (or written while the vault was sealed, until the next operation signs them).
        case uncheckpointed(from: UInt64)
        /// The trail holds no record at all: an initialised vault's trail always starts with `VaultInitialize`.
        case empty
        /// The first record is not the vault's `VaultInitialize`: the start of the trail was cut or replaced.
        case notInitialization(sequence: UInt64)

        public var description: String {
            switch self {
            case .altered(let s): return "record \(s) was altered"
            case .deleted(let s): return "records after \(s) were deleted"
            case .reordered(let s): return "record \(s) is out of order"
            case .inserted(let s): return "record \(s) was inserted or its predecessor replaced"
            case .badCheckpoint(let s): return "checkpoint at record \(s) does not verify"
            case .uncheckpointed(let s):
                return "records from \(s) on are not covered by a signed checkpoint (the checkpoints were removed, or "
                    + "they were written while the vault was sealed: the next operation on the unsealed vault signs them)"
            case .empty: return "the trail holds no records (an initialised vault's trail starts with VaultInitialize)"
            case .notInitialization(let s): return "record \(s) should be the vault's VaultInitialize: the start of the trail was cut or replaced"
            }
        }
    }

    public static let genesis = [UInt8](repeating: 0, count: 32)

    /// The next record after `last` (nil for the first), every field bounded (``AuditField``): a secret name
    /// Azure would reject is kept in its printable form, any field over its cap is cut and says so.
    public static func next(after last: AuditRecord?, time: String, caller: String, operation: String,
                            secretName: String? = nil, secretVersion: String? = nil, result: String,
                            source: String, count: Int = 1, nameIsList: Bool = false) -> AuditRecord {
        next(afterHead: last.map { ($0.sequence, $0.hash) }, time: time, caller: caller, operation: operation,
             secretName: secretName, secretVersion: secretVersion, result: result, source: source, count: count,
             nameIsList: nameIsList)
    }

    /// The record after the trail's head (its last record's sequence and hash; nil for the first record).
    public static func next(afterHead head: (sequence: UInt64, hash: [UInt8])?, time: String, caller: String, operation: String,
                            secretName: String? = nil, secretVersion: String? = nil, result: String,
                            source: String, count: Int = 1, nameIsList: Bool = false) -> AuditRecord {
        next(afterSequence: head?.sequence ?? 0, hash: head?.hash ?? genesis, time: time, caller: caller, operation: operation,
             secretName: secretName, secretVersion: secretVersion, result: result, source: source, count: count,
             nameIsList: nameIsList)
    }

    /// The record after the one numbered `sequence` whose hash is `hash` (0 and ``genesis`` for the first).
    public static func next(afterSequence sequence: UInt64, hash: [UInt8], time: String, caller: String, operation: String,
                            secretName: String? = nil, secretVersion: String? = nil, result: String,
                            source: String, count: Int = 1, nameIsList: Bool = false) -> AuditRecord {
        AuditRecord(sequence: sequence + 1, time: AuditField.capped(time, max: AuditField.timeBytes),
                    caller: AuditField.capped(caller, max: AuditField.maxBytes),
                    operation: AuditField.capped(operation, max: AuditField.operationBytes),
                    // An aggregate's list is built of names already in their trail form: escaped once, not twice.
                    secretName: secretName.map { nameIsList ? AuditField.capped($0, max: AuditField.nameListBytes) : AuditField.secretName($0) },
                    secretVersion: secretVersion.map { AuditField.capped($0, max: AuditField.versionBytes) },
                    result: AuditField.capped(result, max: AuditField.resultBytes),
                    source: AuditField.capped(source, max: AuditField.sourceBytes), count: max(1, count),
                    previousHash: hash)
    }

    /// Signs the chain up to `record`.
    public static func checkpoint(_ record: AuditRecord, key: Curve25519.Signing.PrivateKey) throws -> AuditCheckpoint {
        try checkpoint(sequence: record.sequence, hash: record.hash, key: key)
    }

    /// Signs the chain up to the record numbered `sequence` whose hash is `hash`.
    public static func checkpoint(sequence: UInt64, hash: [UInt8], key: Curve25519.Signing.PrivateKey) throws -> AuditCheckpoint {
        let sig = try key.signature(for: AuditCheckpoint.message(sequence, hash))
        return AuditCheckpoint(sequence: sequence, hash: hash, signature: Array(sig))
    }

    /// The operation every trail starts with.
    public static let initialization = "VaultInitialize"

    /// Checks `records` (in stored order) and `checkpoints` against `publicKey`; returns the first problem, or
    /// nil when the trail is intact. Intact means: the records start at sequence 1 with `VaultInitialize`, chain
    /// without a gap, and every record up to the last is covered by a checkpoint signed by `publicKey` (the
    /// newest checkpoint signs the last record). Without those rules, removing the checkpoints, or the whole
    /// trail, would leave nothing to verify and still read as intact. `requireFullCoverage: false` only
    /// checks the chain and the checkpoints present (for tests of the chain itself).
    public static func verify(_ records: [AuditRecord], checkpoints: [AuditCheckpoint],
                              publicKey: Curve25519.Signing.PublicKey, requireFullCoverage: Bool = true) -> Problem? {
        if requireFullCoverage {
            guard let first = records.first else { return .empty }
            if first.sequence == 1, first.computedHash() == first.hash, first.operation != initialization {
                return .notInitialization(sequence: 1)
            }
        }
        var previous: AuditRecord?
        let present = Set(records.map(\.sequence))
        for r in records {
            if r.computedHash() != r.hash { return .altered(sequence: r.sequence) }
            let expected = (previous?.sequence ?? 0) + 1
            if r.sequence < expected { return .reordered(sequence: r.sequence) }
            if r.sequence > expected {
                // The missing record may stand later in the trail: then this one was moved ahead of it.
                return present.contains(expected) ? .reordered(sequence: r.sequence) : .deleted(after: expected - 1)
            }
            if r.previousHash != (previous?.hash ?? genesis) { return .inserted(sequence: r.sequence) }
            previous = r
        }
        let bySequence = Dictionary(records.map { ($0.sequence, $0.hash) }, uniquingKeysWith: { a, _ in a })
        var lastCovered: UInt64 = 0
        for c in checkpoints {
            guard publicKey.isValidSignature(c.signature, for: AuditCheckpoint.message(c.sequence, c.hash)),
                  bySequence[c.sequence] == c.hash || (c.sequence > (records.last?.sequence ?? 0)) else {
                return .badCheckpoint(sequence: c.sequence)
            }
            if c.sequence > (records.last?.sequence ?? 0) {
                // Signed records that the trail no longer holds: the tail was deleted.
                return .deleted(after: records.last?.sequence ?? 0)
            }
            lastCovered = max(lastCovered, c.sequence)
        }
        if requireFullCoverage, let last = records.last, last.sequence > lastCovered {
            // Say where signed coverage ends, so a cut tail of checkpoints is told from a sealed-time tail.
            return .uncheckpointed(from: lastCovered + 1)
        }
        return nil
    }
}

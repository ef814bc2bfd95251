import Crypto
import Foundation

/// What the master key protects: the barrier's keys by term and the audit trail's checkpoint signing key.
/// Only ever stored sealed (``SealedKeyring``).
public struct Keyring: Sendable {
    public var barrier: Barrier
    /// Signs the audit chain's checkpoints; its public half is printed at `init` and kept outside the trail.
    public var auditKey: Curve25519.Signing.PrivateKey

    public init(barrier: Barrier, auditKey: Curve25519.Signing.PrivateKey) {
        self.barrier = barrier
        self.auditKey = auditKey
    }

    /// A fresh keyring: one barrier key at term 1 and a new checkpoint key.
    public static func generate() -> Keyring { Keyring(barrier: .generate(), auditKey: .init()) }

    /// The checkpoint key's public half, as 64 hex digits (what `init` prints as `auditPublicKey`).
    public var auditPublicKeyHex: String { Hex.encode(Array(auditKey.publicKey.rawRepresentation)) }

    /// Payload version 1: version (1) ‖ key count (2) ‖ (term (4) ‖ key (32))… ‖ checkpoint key (32).
    func serialized() -> [UInt8] {
        var out: [UInt8] = [1, UInt8(barrier.keys.count >> 8), UInt8(barrier.keys.count & 0xff)]
        for term in barrier.keys.keys.sorted() {
            out += Barrier.bigEndian(term)
            barrier.keys[term]!.withUnsafeBytes { out += Array($0) }
        }
        out += Array(auditKey.rawRepresentation)
        return out
    }

    init?(serialized b: [UInt8]) {
        guard b.count >= 3, b[0] == 1 else { return nil }
        let n = Int(b[1]) << 8 | Int(b[2])
        guard n > 0, b.count == 3 + n * 36 + 32 else { return nil }
        var keys: [UInt32: SymmetricKey] = [:]
        for i in 0..<n {
            let at = 3 + i * 36
            let term = b[at..<(at + 4)].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
            keys[term] = SymmetricKey(data: Array(b[(at + 4)..<(at + 36)]))
        }
        guard let audit = try? Curve25519.Signing.PrivateKey(rawRepresentation: b[(3 + n * 36)...]) else { return nil }
        self.init(barrier: Barrier(keys: keys), auditKey: audit)
    }
}


import Crypto

/// The encryption barrier between the vault and its storage: every stored entry is AES-256-GCM under a
/// keyring term, with its storage path as additional authenticated data, so a row moved to another path or
/// altered fails to decrypt.
///
/// Envelope (version 1): `"ARCA"` ‖ version (1 byte) ‖ term (4 bytes, big-endian) ‖ nonce (12) ‖ ciphertext ‖
/// tag (16). A newer version is refused, never misread.
public struct Barrier: Sendable {
    public static let magic: [UInt8] = Array("ARCA".utf8)
    public static let version: UInt8 = 1

    public enum Failure: Error, Equatable, Sendable, CustomStringConvertible {
        case notAnEnvelope
        case newerFormat(UInt8)
        case unknownTerm(UInt32)
        case authenticationFailed

        public var description: String {
            switch self {
            case .notAnEnvelope: return "not an Arca envelope"
            case .newerFormat(let v): return "envelope format \(v) is newer than this arca understands (\(Barrier.version))"
            case .unknownTerm(let t): return "no key for keyring term \(t)"
            case .authenticationFailed: return "the entry does not authenticate (altered, or stored under another path)"
            }
        }
    }

    /// The keyring: keys by term; new entries use the highest term.
    public let keys: [UInt32: SymmetricKey]
    public var activeTerm: UInt32 { keys.keys.max() ?? 0 }

    public init(keys: [UInt32: SymmetricKey]) { self.keys = keys }

    /// A keyring with one fresh 256-bit key at term 1.
    public static func generate() -> Barrier { Barrier(keys: [1: SymmetricKey(size: .bits256)]) }

    /// A keyring with a fresh key added at the next term (rotation: old entries stay readable).
    public func rotated() -> Barrier {
        var k = keys
        k[activeTerm + 1] = SymmetricKey(size: .bits256)
        return Barrier(keys: k)
    }

    /// Encrypts `plaintext` for storage at `path`.
    public func seal(_ plaintext: [UInt8], path: String) throws -> [UInt8] {
        let term = activeTerm
        guard let key = keys[term] else { throw Failure.unknownTerm(term) }
        let header = Barrier.magic + [Barrier.version] + Barrier.bigEndian(term)
        let box = try AES.GCM.seal(plaintext, using: key, authenticating: header + Array(path.utf8))
        return header + Array(box.nonce) + Array(box.ciphertext) + Array(box.tag)
    }

    /// Decrypts an envelope stored at `path`.
    public func open(_ envelope: [UInt8], path: String) throws -> [UInt8] {
        guard envelope.count >= 9 + 12 + 16, Array(envelope.prefix(4)) == Barrier.magic else {
            throw Failure.notAnEnvelope
        }
        guard envelope[4] == Barrier.version else { throw Failure.newerFormat(envelope[4]) }
        let term = envelope[5..<9].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        guard let key = keys[term] else { throw Failure.unknownTerm(term) }
        do {
            let box = try AES.GCM.SealedBox(nonce: AES.GCM.Nonce(data: envelope[9..<21]),
                                            ciphertext: envelope[21..<(envelope.count - 16)],
                                            tag: envelope[(envelope.count - 16)...])
            return Array(try AES.GCM.open(box, using: key, authenticating: Array(envelope[0..<9]) + Array(path.utf8)))
        } catch {
            throw Failure.authenticationFailed
        }
    }

    static func bigEndian(_ v: UInt32) -> [UInt8] { BigEndian.bytes(v) }
}

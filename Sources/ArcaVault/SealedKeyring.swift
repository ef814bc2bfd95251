import Crypto
import CryptoExtras

/// How the master key that seals the keyring is obtained.
public enum SealKind: UInt8, Sendable, CaseIterable {
    /// scrypt of an operator's passphrase.
    case passphrase = 1
    /// 32 random bytes kept in a file outside the vault.
    case keyFile = 2
    /// Rebuilt from a threshold of Shamir shares handed to different people.
    case shamir = 3
    /// Random, wrapped by a non-extractable AES key inside a PKCS#11 token (the wrapped key is kept in the
    /// keyring's seal data), so the vault opens without a person.
    case pkcs11 = 4

    public var name: String {
        switch self {
        case .passphrase: return "passphrase"
        case .keyFile: return "key-file"
        case .shamir: return "shamir"
        case .pkcs11: return "pkcs11"
        }
    }
}

/// Makes and checks master keys. A master key never reaches the vault file.
public enum MasterKey {
    public enum Failure: Error, Equatable, Sendable, CustomStringConvertible {
        case emptyPassphrase
        case badKeyFile(String)
        case shares(String)

        public var description: String {
            switch self {
            case .emptyPassphrase: return "the passphrase is empty"
            case .badKeyFile(let why): return "unusable key file: \(why)"
            case .shares(let why): return "cannot rebuild the master key from the shares: \(why)"
            }
        }
    }

    /// scrypt parameters, stored beside the salt so they can be raised later.
    public struct ScryptParameters: Sendable, Equatable {
        public var logN: UInt8
        public var r: UInt32
        public var p: UInt32
        /// N = 2^15, r = 8, p = 1: ~90 ms on this project's machines (stack notes), the OWASP minimum.
        public static let standard = ScryptParameters(logN: 15, r: 8, p: 1)

        /// Within what Arca writes and raises to (N up to 2^22, r up to 32, p up to 16): anything else in a
        /// stored keyring is damage, refused before scrypt runs.
        public var isPlausible: Bool { (10...22).contains(logN) && (1...32).contains(r) && (1...16).contains(p) }

        public init(logN: UInt8, r: UInt32, p: UInt32) {
            self.logN = logN
            self.r = r
            self.p = p
        }
    }

    /// The master key for `passphrase` (UTF-8) with `salt`.
    public static func fromPassphrase(_ passphrase: String, salt: [UInt8], parameters: ScryptParameters)
        throws -> SymmetricKey {
        guard !passphrase.isEmpty else { throw Failure.emptyPassphrase }
        return try KDF.Scrypt.deriveKey(from: Array(passphrase.utf8), salt: salt, outputByteCount: 32,
                                        rounds: 1 << Int(parameters.logN), blockSize: Int(parameters.r),
                                        parallelism: Int(parameters.p))
    }

    /// A new key file's content: 32 random bytes as 64 hex digits and a newline.
    public static func newKeyFile() -> String {
        SymmetricKey(size: .bits256).withUnsafeBytes { Hex.encode(Array($0)) } + "\n"
    }

    /// The master key in a key file (64 hex digits, surrounding white space ignored).
    public static func fromKeyFile(_ content: [UInt8]) throws(Failure) -> SymmetricKey {
        let text = String(decoding: content, as: UTF8.self).trimmingWhitespace()
        guard text.utf8.count == 64, let bytes = Hex.decode(text) else {
            throw .badKeyFile("expected 64 hexadecimal digits (arca vault init --seal key-file writes one)")
        }
        return SymmetricKey(data: bytes)
    }

    /// A new master key and its shares.
    public static func newShares(count: Int, threshold: Int) throws(Failure) -> (SymmetricKey, [Shamir.Share]) {
        let key = SymmetricKey(size: .bits256)
        do {
            let shares = try key.withUnsafeBytes { raw throws(Shamir.Failure) in
                try Shamir.split(Array(raw), count: count, threshold: threshold)
            }
            return (key, shares)
        } catch {
            throw .shares("\(error)")
        }
    }

    /// The master key rebuilt from shares.
    public static func fromShares(_ shares: [Shamir.Share], threshold: Int) throws(Failure) -> SymmetricKey {
        do {
            let bytes = try Shamir.combine(shares, threshold: threshold)
            guard bytes.count == 32 else { throw Failure.shares("shares of the wrong length") }
            return SymmetricKey(data: bytes)
        } catch let e as Failure {
            throw e
        } catch {
            throw .shares("\(error)")
        }
    }
}

/// The ``Keyring`` encrypted under the master key: what the vault stores.
///
/// Format (version 1): `"ARKR"` ‖ version ‖ kind ‖ seal data length (1) ‖ seal data ‖ logN (1) ‖ r (4) ‖ p (4) ‖
/// threshold (1) ‖ share count (1) ‖ nonce (12) ‖ ciphertext ‖ tag (16). The seal data is the scrypt salt for
/// a passphrase, or the token-wrapped master key for PKCS#11. Everything before the nonce is authenticated,
/// so the parameters cannot be swapped. A newer version is refused, never misread.
public struct SealedKeyring: Sendable, Equatable {
    public static let magic: [UInt8] = Array("ARKR".utf8)
    public static let version: UInt8 = 1

    public enum Failure: Error, Equatable, Sendable, CustomStringConvertible {
        case notAKeyring
        case newerFormat(UInt8)
        case wrongKey
        case damaged

        public var description: String {
            switch self {
            case .notAKeyring: return "not an Arca keyring"
            case .newerFormat(let v): return "keyring format \(v) is newer than this arca understands (\(SealedKeyring.version))"
            case .wrongKey: return "the master key does not open the keyring (wrong passphrase, key file or shares)"
            case .damaged: return "the keyring is damaged"
            }
        }
    }

    public var kind: SealKind
    public var salt: [UInt8]
    public var scrypt: MasterKey.ScryptParameters
    public var threshold: UInt8
    public var shareCount: UInt8
    var box: [UInt8]  // nonce ‖ ciphertext ‖ tag

    /// Seals the keyring under `master`.
    public static func seal(_ keyring: Keyring, master: SymmetricKey, kind: SealKind, salt: [UInt8] = [],
                            scrypt: MasterKey.ScryptParameters = .standard, threshold: Int = 0,
                            shareCount: Int = 0) throws -> SealedKeyring {
        var k = SealedKeyring(kind: kind, salt: salt, scrypt: scrypt, threshold: UInt8(threshold),
                              shareCount: UInt8(shareCount), box: [])
        let sealed = try AES.GCM.seal(keyring.serialized(), using: master, authenticating: k.header)
        k.box = Array(sealed.nonce) + Array(sealed.ciphertext) + Array(sealed.tag)
        return k
    }

    /// The keyring, if `master` is the right key.
    public func unseal(master: SymmetricKey) throws -> Keyring {
        guard box.count >= 28 else { throw Failure.damaged }
        let opened: [UInt8]
        do {
            let sealed = try AES.GCM.SealedBox(nonce: AES.GCM.Nonce(data: box[0..<12]), ciphertext: box[12..<(box.count - 16)],
                                               tag: box[(box.count - 16)...])
            opened = Array(try AES.GCM.open(sealed, using: master, authenticating: header))
        } catch {
            throw Failure.wrongKey
        }
        guard let keyring = Keyring(serialized: opened) else { throw Failure.damaged }
        return keyring
    }

    var header: [UInt8] {
        SealedKeyring.magic + [SealedKeyring.version, kind.rawValue, UInt8(salt.count)] + salt + [scrypt.logN]
            + Barrier.bigEndian(scrypt.r) + Barrier.bigEndian(scrypt.p) + [threshold, shareCount]
    }

    /// The stored form.
    public var bytes: [UInt8] { header + box }

    /// Parses the stored form.
    public init(bytes: [UInt8]) throws {
        guard bytes.count >= 7, Array(bytes.prefix(4)) == SealedKeyring.magic else { throw Failure.notAKeyring }
        guard bytes[4] == SealedKeyring.version else { throw Failure.newerFormat(bytes[4]) }
        guard let kind = SealKind(rawValue: bytes[5]) else { throw Failure.damaged }
        let saltCount = Int(bytes[6])
        let fixed = 7 + saltCount + 1 + 4 + 4 + 2
        guard bytes.count >= fixed + 28 else { throw Failure.damaged }
        let salt = Array(bytes[7..<(7 + saltCount)])
        var i = 7 + saltCount
        let logN = bytes[i]
        let r = bytes[(i + 1)..<(i + 5)].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        let p = bytes[(i + 5)..<(i + 9)].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        i += 9
        self.init(kind: kind, salt: salt, scrypt: .init(logN: logN, r: r, p: p), threshold: bytes[i],
                  shareCount: bytes[i + 1], box: Array(bytes[(i + 2)...]))
    }

    init(kind: SealKind, salt: [UInt8], scrypt: MasterKey.ScryptParameters, threshold: UInt8, shareCount: UInt8,
         box: [UInt8]) {
        self.kind = kind
        self.salt = salt
        self.scrypt = scrypt
        self.threshold = threshold
        self.shareCount = shareCount
        self.box = box
    }
}


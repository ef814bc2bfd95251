import Crypto

/// Versioned secrets over a ``VaultStore``, encrypted by an unsealed ``Barrier``. Each value is sealed with its
/// storage path (`secrets/<name>/<version>`, name lower-cased) as additional data, so an envelope copied to
/// another name or version does not decrypt.
public struct SecretStore: Sendable {
    public static let maxValueBytes = 25 * 1024

    public enum Failure: Error, Equatable, Sendable, CustomStringConvertible {
        case badName(String)
        case tooLarge(Int)
        case notFound(String)

        public var description: String {
            switch self {
            case .badName(let n): return "'\(n)' is not a valid secret name (1-127 letters, digits and dashes)"
            case .tooLarge(let n): return "the value is \(n) bytes; the limit is \(SecretStore.maxValueBytes)"
            case .notFound(let n): return "no secret '\(n)'"
            }
        }
    }

    public let store: VaultStore
    public let barrier: Barrier

    public init(store: VaultStore, barrier: Barrier) {
        self.store = store
        self.barrier = barrier
    }

    /// Whether `name` matches Azure Key Vault's `^[0-9a-zA-Z-]{1,127}$`.
    public static func isValidName(_ name: String) -> Bool {
        let u = name.utf8
        return (1...127).contains(u.count) && u.allSatisfy {
            ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5a) || ($0 >= 0x61 && $0 <= 0x7a) || $0 == 0x2d
        }
    }

    static func path(_ name: String, _ version: String) -> String { "secrets/\(name.lowercased())/\(version)" }

    /// Stores `value` as a new version; returns the version id (32 hex digits, as Azure Key Vault's).
    @discardableResult
    public func set(name: String, value: [UInt8], now: Int64) throws -> String {
        guard SecretStore.isValidName(name) else { throw Failure.badName(name) }
        guard value.count <= SecretStore.maxValueBytes else { throw Failure.tooLarge(value.count) }
        let version = SymmetricKey(size: .bits128).withUnsafeBytes { Hex.encode(Array($0)) }
        let envelope = try barrier.seal(value, path: SecretStore.path(name, version))
        try store.putVersion(name: name, version: version, envelope: envelope, created: now)
        return version
    }

    /// The value of a version (the latest when nil) and its version id.
    public func get(name: String, version: String? = nil) throws -> (value: [UInt8], version: String) {
        guard let v = try store.version(name: name, version: version) else { throw Failure.notFound(name) }
        return (try barrier.open(v.envelope, path: SecretStore.path(name, v.version)), v.version)
    }
}

import Foundation

/// The operator's side of a vault — state, seal, unseal, rekey, people, applications, roles — for the vault
/// in this process or one behind a server (`arca vault … --vault URL`). Every call is authorised and audited
/// by the vault; people and applications are named by object id, client id or name.
public protocol VaultAdministration: Sendable {
    func status() async throws -> VaultStatus
    func seal() async throws
    func unseal(_ credential: VaultCredential) async throws
    func rekey() async throws -> (term: UInt32, reencrypted: Int)
    /// The tenant id applications sign in with (`AZURE_TENANT_ID`).
    func tenantId() async throws -> String

    func principals() async throws -> [DirectoryEntry]
    func createUser(name: String, password: String) async throws -> DirectoryEntry
    /// A new application and its client secret (shown once).
    func createApp(name: String) async throws -> (DirectoryEntry, String)
    func resetAppSecret(_ key: String) async throws -> (DirectoryEntry, String)
    func addAppCertificate(_ key: String, der: [UInt8]) async throws -> (DirectoryEntry, AppCertificate)
    func setPrincipalEnabled(_ key: String, enabled: Bool) async throws -> DirectoryEntry
    func removePrincipal(_ key: String) async throws -> DirectoryEntry

    func roles() async throws -> [RoleDefinition]
    func createRole(name: String, dataActions: [String], notDataActions: [String]) async throws -> RoleDefinition
    /// Gives `role` (name or id) to `assignee` at `scope`.
    func assignRole(_ role: String, to assignee: String, scope: String) async throws -> RoleAssignment
    func assignments() async throws -> [RoleAssignment]
    func removeAssignment(_ id: String) async throws
}


/// How an operator unseals a vault.
public enum VaultCredential: Sendable {
    case passphrase(String)
    case keyFile([UInt8])
    /// Shares as printed by `init` (hex).
    case shares([String])
    case pkcs11(pin: [UInt8])
}

/// A vault's state as `arca vault status` shows it.
public struct VaultStatus: Sendable {
    public var directory: String
    public var initialized: Bool
    public var seal: String?
    /// Sealed by an operator (`arca vault seal`) until someone unseals it.
    public var operatorSealed: Bool
    public var unsealed: Bool
    public var secrets: Int
    public var deletedSecrets: Int
    public var versions: Int
    public var auditRecords: Int
    public var auditPublicKey: String?
    public var retentionDays: Int
    public var schemaVersion: Int
    public var keyringTerms: [UInt32]?

    public init(directory: String, initialized: Bool, seal: String?, operatorSealed: Bool, unsealed: Bool, secrets: Int,
                deletedSecrets: Int, versions: Int, auditRecords: Int, auditPublicKey: String?, retentionDays: Int,
                schemaVersion: Int, keyringTerms: [UInt32]? = nil) {
        (self.directory, self.initialized, self.seal, self.operatorSealed, self.unsealed) = (directory, initialized, seal, operatorSealed, unsealed)
        (self.secrets, self.deletedSecrets, self.versions, self.auditRecords) = (secrets, deletedSecrets, versions, auditRecords)
        (self.auditPublicKey, self.retentionDays, self.schemaVersion, self.keyringTerms) = (auditPublicKey, retentionDays, schemaVersion, keyringTerms)
    }
}

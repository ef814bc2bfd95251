/// Who is calling: a person, an application or the local operator of an embedded vault.
public struct Principal: Sendable, Hashable {
    public enum Kind: String, Sendable {
        case localOperator = "operator"
        case user
        case application
        /// Arca itself (retention purges).
        case system
    }

    /// The object id roles are assigned to.
    public var objectId: String
    public var displayName: String
    public var kind: Kind

    public init(objectId: String, displayName: String, kind: Kind) {
        self.objectId = objectId
        self.displayName = displayName
        self.kind = kind
    }

    /// The person running an embedded vault command on this machine.
    public static func localOperator(user: String) -> Principal {
        Principal(objectId: "local-operator", displayName: "local:\(user)", kind: .localOperator)
    }

    public static let retention = Principal(objectId: "arca-retention", displayName: "arca retention", kind: .system)

    /// How the audit trail names the caller.
    public var auditName: String { objectId == displayName ? objectId : "\(displayName) (\(objectId))" }
}

/// Everything the vault does, with Azure Key Vault's audit operation names and RBAC data actions.
public enum VaultOperation: Sendable, Equatable {
    case secretSet(String)
    case secretGet(String)
    case secretUpdate(String)
    case secretList
    case secretListVersions(String)
    case secretDelete(String)
    case secretGetDeleted(String)
    case secretListDeleted
    case secretRecover(String)
    case secretPurge(String)
    /// Azure's secret backup: every version in an opaque blob only a vault holding the same keyring restores.
    case secretBackup(String)
    /// Restoring a backup blob: the name is the one the blob carries (nil before the blob is read).
    case secretRestore(String?)
    case auditRead
    case vaultInitialize
    case vaultUnseal
    case vaultSeal
    case vaultRekey
    case vaultStatus
    /// A consistent copy of the vault file (`arca vault backup`).
    case vaultBackup
    /// Changes to people, applications, roles and assignments (the audit name says which).
    case directoryWrite(String)
    /// Reading people, applications, roles and assignments.
    case directoryRead

    /// The `operationName` Azure Key Vault's audit log uses (Arca's own for the vault's life cycle).
    public var auditName: String {
        switch self {
        case .secretSet: return "SecretSet"
        case .secretGet: return "SecretGet"
        case .secretUpdate: return "SecretUpdate"
        case .secretList: return "SecretList"
        case .secretListVersions: return "SecretListVersions"
        case .secretDelete: return "SecretDelete"
        case .secretGetDeleted: return "SecretGetDeleted"
        case .secretListDeleted: return "SecretListDeleted"
        case .secretRecover: return "SecretRecover"
        case .secretPurge: return "SecretPurge"
        case .secretBackup: return "SecretBackup"
        case .secretRestore: return "SecretRestore"
        case .auditRead: return "AuditRead"
        case .vaultInitialize: return "VaultInitialize"
        case .vaultUnseal: return "VaultUnseal"
        case .vaultSeal: return "VaultSeal"
        case .vaultRekey: return "VaultRekey"
        case .vaultStatus: return "VaultGet"
        case .vaultBackup: return "VaultBackup"
        case .directoryWrite(let name): return name
        case .directoryRead: return "DirectoryRead"
        }
    }

    /// The RBAC data action it needs (Azure's names for secrets; Arca's own for audit and operations).
    public var dataAction: String {
        let s = "Microsoft.KeyVault/vaults/secrets/"
        switch self {
        case .secretGet: return s + "getSecret/action"
        case .secretList, .secretListVersions, .secretGetDeleted, .secretListDeleted: return s + "readMetadata/action"
        case .secretSet: return s + "setSecret/action"
        case .secretUpdate: return s + "update/action"
        case .secretDelete: return s + "delete"
        case .secretRecover: return s + "recover/action"
        case .secretPurge: return s + "purge/action"
        case .secretBackup: return s + "backup/action"
        case .secretRestore: return s + "restore/action"
        case .auditRead: return "Arca/vault/audit/read"
        case .vaultStatus: return "Arca/vault/status/read"
        case .vaultInitialize, .vaultUnseal, .vaultSeal, .vaultRekey, .vaultBackup: return "Arca/vault/operate/action"
        case .directoryWrite: return "Arca/vault/directory/write"
        case .directoryRead: return "Arca/vault/directory/read"
        }
    }

    /// The secret it touches, if one.
    /// Reads of secrets: they change nothing but the trail, so the vault reads them from a snapshot and
    /// commits only their audit record.
    public var isSecretRead: Bool {
        switch self {
        case .secretGet, .secretList, .secretListVersions, .secretGetDeleted, .secretListDeleted, .secretBackup: return true
        default: return false
        }
    }

    public var secretName: String? {
        switch self {
        case .secretSet(let n), .secretGet(let n), .secretUpdate(let n), .secretListVersions(let n),
             .secretDelete(let n), .secretGetDeleted(let n), .secretRecover(let n), .secretPurge(let n),
             .secretBackup(let n):
            return n
        case .secretRestore(let n): return n
        default: return nil
        }
    }

    /// The RBAC scope it acts on: `/secrets/NAME` for one secret, `/` for the vault.
    public var scope: String { secretName.map { "/secrets/\($0.lowercased())" } ?? "/" }
}

/// What went wrong, with the HTTP status and Azure Key Vault error code a server answers with.
public enum VaultError: Error, Equatable, Sendable, CustomStringConvertible {
    case badParameter(String)
    case unauthorized(String)
    case forbidden(String, inner: String)
    case notFound(String)
    case conflict(String, inner: String)
    /// The vault is sealed (or its credential was not given).
    case sealed(String)
    case notInitialized(String)
    case alreadyInitialized(String)
    /// The audit trail could not be written, so the operation did not happen.
    case auditUnavailable(String)
    case storage(String)
    /// The vault's storage cannot be reached for now (its database server restarting): nothing was done, and
    /// the same request may be sent again (503 with `Retry-After`).
    case unavailable(String)
    /// A server could not be reached (connection refused, DNS, TLS): a client-side failure, never an answer.
    case unreachable(String)

    public var description: String {
        switch self {
        case .badParameter(let m), .unauthorized(let m), .notFound(let m), .sealed(let m), .notInitialized(let m),
             .alreadyInitialized(let m), .storage(let m), .unavailable(let m), .unreachable(let m):
            return m
        case .forbidden(let m, _), .conflict(let m, _): return m
        case .auditUnavailable(let m): return "the audit trail cannot be written, so nothing was done: \(m)"
        }
    }

    public var httpStatus: Int {
        switch self {
        case .badParameter: return 400
        case .unauthorized: return 401
        case .forbidden: return 403
        case .notFound: return 404
        case .conflict, .alreadyInitialized: return 409
        case .sealed, .notInitialized, .unavailable: return 503
        case .auditUnavailable, .storage: return 500
        case .unreachable: return 502
        }
    }

    public var code: String {
        switch self {
        case .badParameter: return "BadParameter"
        case .unauthorized: return "Unauthorized"
        case .forbidden: return "Forbidden"
        case .notFound: return "SecretNotFound"
        case .conflict: return "Conflict"
        case .sealed: return "VaultSealed"
        case .notInitialized: return "VaultNotInitialized"
        case .alreadyInitialized: return "Conflict"
        case .auditUnavailable: return "AuditUnavailable"
        case .storage: return "InternalError"
        case .unavailable: return "ServiceUnavailable"
        case .unreachable: return "ServiceUnreachable"
        }
    }

    public var innerCode: String? {
        switch self {
        case .forbidden(_, let i), .conflict(_, let i): return i
        default: return nil
        }
    }

    /// The audit trail's `result` for this failure (HTTP status text, as Azure's `resultSignature`).
    public var auditResult: String {
        switch self {
        case .badParameter: return "BadRequest"
        case .unauthorized: return "Unauthorized"
        case .forbidden: return "Forbidden"
        case .notFound: return "NotFound"
        case .conflict, .alreadyInitialized: return "Conflict"
        case .sealed, .notInitialized, .unavailable: return "ServiceUnavailable"
        case .auditUnavailable, .storage: return "InternalServerError"
        case .unreachable: return "BadGateway"
        }
    }
}

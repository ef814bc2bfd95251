import Foundation

/// A role: Azure Key Vault's built-in ones, or a custom one, as data actions (with `*` wildcards) minus
/// `notDataActions`.
public struct RoleDefinition: Sendable, Equatable {
    public var id: String
    public var name: String
    public var dataActions: [String]
    public var notDataActions: [String]
    public var builtIn: Bool

    public init(id: String, name: String, dataActions: [String], notDataActions: [String], builtIn: Bool = false) {
        (self.id, self.name, self.dataActions, self.notDataActions, self.builtIn) = (id, name, dataActions, notDataActions, builtIn)
    }

    /// Azure's built-in roles for secrets, with their role definition ids; the Administrator also holds
    /// Arca's own vault actions (audit, seal, rekey).
    public static let builtIns: [RoleDefinition] = [
        RoleDefinition(id: "00482a5a-887f-4fb3-b363-3b7fe8e74483", name: "Key Vault Administrator",
                       dataActions: ["Microsoft.KeyVault/vaults/*", "Arca/vault/*"], notDataActions: [], builtIn: true),
        RoleDefinition(id: "b86a8fe4-44ce-4948-aee5-eccb2c155cd7", name: "Key Vault Secrets Officer",
                       dataActions: ["Microsoft.KeyVault/vaults/secrets/*"], notDataActions: [], builtIn: true),
        RoleDefinition(id: "4633458b-17de-408a-b874-0445c86b69e6", name: "Key Vault Secrets User",
                       dataActions: ["Microsoft.KeyVault/vaults/secrets/getSecret/action",
                                     "Microsoft.KeyVault/vaults/secrets/readMetadata/action"],
                       notDataActions: [], builtIn: true),
        RoleDefinition(id: "21090545-7ca7-4776-b22c-e363652d74d2", name: "Key Vault Reader",
                       dataActions: ["Microsoft.KeyVault/vaults/*/read",
                                     "Microsoft.KeyVault/vaults/secrets/readMetadata/action"],
                       notDataActions: [], builtIn: true),
    ]

    /// Whether the role grants `action` (Azure's matching: case-insensitive, `*` matches any run of characters).
    public func permits(_ action: String) -> Bool {
        dataActions.contains { RoleDefinition.matches($0, action) }
            && !notDataActions.contains { RoleDefinition.matches($0, action) }
    }

    package static func matches(_ pattern: String, _ action: String) -> Bool {
        let p = Array(pattern.lowercased().utf8), a = Array(action.lowercased().utf8)
        // Glob with `*` only, iterative with backtracking to the last star.
        var i = 0, j = 0, star = -1, mark = 0
        while j < a.count {
            if i < p.count, p[i] == a[j] {
                i += 1
                j += 1
            } else if i < p.count, p[i] == 0x2a {
                star = i
                mark = j
                i += 1
            } else if star >= 0 {
                i = star + 1
                mark += 1
                j = mark
            } else {
                return false
            }
        }
        while i < p.count, p[i] == 0x2a { i += 1 }
        return i == p.count
    }
}

/// A role given to a principal at a scope: `/` (the vault), `/secrets/NAME` or `/secrets/PREFIX*`.
public struct RoleAssignment: Sendable, Equatable {
    public var id: String
    public var roleId: String
    public var principalId: String
    public var scope: String

    public init(id: String, roleId: String, principalId: String, scope: String) {
        (self.id, self.roleId, self.principalId, self.scope) = (id, roleId, principalId, scope)
    }

    /// Whether the assignment's scope covers an operation's scope (`/` or `/secrets/name`).
    public func covers(_ operationScope: String) -> Bool {
        if scope == "/" { return true }
        let s = scope.lowercased(), o = operationScope.lowercased()
        if s.hasSuffix("*") { return o.hasPrefix(String(s.dropLast())) && o != "/" }
        return s == o
    }

    /// Checks and normalises a scope as given on the command line.
    public static func normalise(scope: String) throws -> String {
        if scope == "/" { return "/" }
        let prefix = "/secrets/"
        guard scope.lowercased().hasPrefix(prefix) else {
            throw VaultError.badParameter("a scope is /, /secrets/NAME or /secrets/PREFIX* (got '\(scope)')")
        }
        var name = String(scope.dropFirst(prefix.count))
        let wildcard = name.hasSuffix("*")
        if wildcard { name.removeLast() }
        guard (wildcard && name.isEmpty) || SecretName.isValid(name) else {
            throw VaultError.badParameter("'\(scope)' names no valid secret or prefix")
        }
        return prefix + name.lowercased() + (wildcard ? "*" : "")
    }
}

/// A person or an application known to the vault.
public struct DirectoryEntry: Sendable, Equatable {
    public var objectId: String
    public var kind: Principal.Kind
    public var name: String
    /// Applications only: what they sign in with.
    public var clientId: String?
    public var enabled: Bool
    public var created: Int64

    public init(objectId: String, kind: Principal.Kind, name: String, clientId: String?, enabled: Bool, created: Int64 = 0) {
        (self.objectId, self.kind, self.name, self.clientId, self.enabled, self.created) = (objectId, kind, name, clientId, enabled, created)
    }

    public var principal: Principal { Principal(objectId: objectId, displayName: name, kind: kind) }
}

/// A certificate registered for an application's certificate sign-in (public part only).
public struct AppCertificate: Sendable, Equatable {
    public var objectId: String
    /// base64url SHA-1 and SHA-256 of the DER, as `x5t` and `x5t#S256` carry them.
    public var thumbprintSHA1: String
    public var thumbprintSHA256: String
    public var der: [UInt8]

    public init(objectId: String, thumbprintSHA1: String, thumbprintSHA256: String, der: [UInt8] = []) {
        (self.objectId, self.thumbprintSHA1, self.thumbprintSHA256, self.der) = (objectId, thumbprintSHA1, thumbprintSHA256, der)
    }
}


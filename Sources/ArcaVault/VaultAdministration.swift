import Foundation

extension EmbeddedVaultClient: VaultAdministration {
    public func status() async throws -> Vault.Status {
        try await offload { [vault, caller, source] in try vault.status(caller: caller, source: source) }
    }

    public func seal() async throws {
        try await offload { [vault, caller, source] in try vault.seal(caller: caller, source: source) }
    }

    public func unseal(_ credential: Vault.Credential) async throws {
        try await offload { [vault, caller, source] in try vault.unseal(credential, caller: caller, source: source, explicit: true) }
    }

    public func rekey() async throws -> (term: UInt32, reencrypted: Int) {
        try await offload { [vault, caller, source] in try vault.rekey(caller: caller, source: source) }
    }

    public func tenantId() async throws -> String {
        try await offload { [vault] in
            String(decoding: try vault.sealedValue("tenant-id") { Array(UUID().uuidString.lowercased().utf8) }, as: UTF8.self)
        }
    }

    /// The entry named by object id, client id or name, or a not-found error.
    /// Looked up as a directory read, so a caller without rights learns nothing about who exists.
    func entry(_ key: String) throws -> DirectoryEntry {
        guard let e = try vault.readDirectory(as: caller, from: source, { try $0.find(key) }) else { throw VaultError.notFound("no user or application '\(key)'") }
        return e
    }

    public func principals() async throws -> [DirectoryEntry] {
        try await offload { [vault, caller, source] in try vault.readDirectory(as: caller, from: source) { try $0.entries() } }
    }

    public func createUser(name: String, password: String) async throws -> DirectoryEntry {
        try await offload { [vault, caller, source] in try vault.createUser(name: name, password: password, caller: caller, source: source) }
    }

    public func createApp(name: String) async throws -> (DirectoryEntry, String) {
        try await offload { [vault, caller, source] in try vault.createApp(name: name, caller: caller, source: source) }
    }

    public func resetAppSecret(_ key: String) async throws -> (DirectoryEntry, String) {
        try await offload { [self] in
            let e = try entry(key)
            return (e, try vault.resetAppSecret(objectId: e.objectId, caller: caller, source: source))
        }
    }

    public func addAppCertificate(_ key: String, der: [UInt8]) async throws -> (DirectoryEntry, AppCertificate) {
        try await offload { [self] in
            let e = try entry(key)
            return (e, try vault.addAppCertificate(objectId: e.objectId, der: der, caller: caller, source: source))
        }
    }

    public func setPrincipalEnabled(_ key: String, enabled: Bool) async throws -> DirectoryEntry {
        try await offload { [self] in
            var e = try entry(key)
            try vault.setPrincipalEnabled(objectId: e.objectId, enabled: enabled, caller: caller, source: source)
            e.enabled = enabled
            return e
        }
    }

    public func removePrincipal(_ key: String) async throws -> DirectoryEntry {
        try await offload { [self] in
            let e = try entry(key)
            try vault.removePrincipal(objectId: e.objectId, caller: caller, source: source)
            return e
        }
    }

    public func roles() async throws -> [RoleDefinition] {
        try await offload { [vault, caller, source] in try vault.readDirectory(as: caller, from: source) { try $0.roles() } }
    }

    public func createRole(name: String, dataActions: [String], notDataActions: [String]) async throws -> RoleDefinition {
        try await offload { [vault, caller, source] in
            try vault.createRole(name: name, dataActions: dataActions, notDataActions: notDataActions, caller: caller, source: source)
        }
    }

    public func assignRole(_ role: String, to assignee: String, scope: String) async throws -> RoleAssignment {
        try await offload { [self] in
            guard let r = try vault.principals.role(role) else {
                throw VaultError.notFound("no role '\(role)' (see `arca vault role list`)")
            }
            let e = try entry(assignee)
            return try vault.assignRole(roleId: r.id, principalId: e.objectId, scope: scope, caller: caller, source: source)
        }
    }

    public func assignments() async throws -> [RoleAssignment] {
        try await offload { [vault, caller, source] in try vault.readDirectory(as: caller, from: source) { try $0.assignments() } }
    }

    public func removeAssignment(_ id: String) async throws {
        try await offload { [vault, caller, source] in try vault.removeAssignment(id: id, caller: caller, source: source) }
    }
}

import Crypto
import Foundation

/// People, applications, their credentials, roles and assignments, kept in the vault file.
///
/// Passwords are hashed with scrypt (slow: people choose them); client secrets are 256-bit random strings, so
/// a salted SHA-256 is enough and keeps the token endpoint fast.
public struct VaultDirectory: Sendable {
    let store: VaultStore
    let cache: DirectoryCache

    init(store: VaultStore) {
        self.store = store
        cache = store.directoryCache
    }

    /// Marks the directory changed (inside the writing transaction): every process serving this file drops
    /// what it cached of the directory at its next lookup.
    static func changed(_ db: any SQLConnection) throws {
        try VaultStore.setMeta(db, generationKey, Array(SymmetricKey(size: .bits128).withUnsafeBytes { Array($0) }))
    }

    static func generation(_ db: any SQLConnection) throws -> Data? {
        try VaultStore.meta(db, generationKey).map { Data($0) }
    }

    /// The `meta` key ``changed(_:)`` rewrites.
    static let generationKey = "directory-generation"

    static let passwordScrypt = MasterKey.ScryptParameters.standard

    static func newId() -> String { UUID().uuidString.lowercased() }

    static func entry(_ row: SQLRow) -> DirectoryEntry {
        DirectoryEntry(objectId: row["object_id"], kind: Principal.Kind(rawValue: row["kind"]) ?? .user, name: row["name"],
                       clientId: row["client_id"], enabled: (row["enabled"] as Int64) != 0, created: row["created"])
    }

    // MARK: Reading (the server's sign-in and authorisation paths)

    /// The sign-in path's lookup: from the cache while the directory has not changed (one row read to know).
    public func entry(objectId: String) throws -> DirectoryEntry? {
        try grants(objectId: objectId).0
    }

    /// By object id, client id or name.
    public func find(_ key: String) throws -> DirectoryEntry? {
        try store.read { db in
            try SQLRow.fetchOne(db, sql: """
                SELECT * FROM principals WHERE object_id = ? OR client_id = ? OR lower(name) = lower(?)
                """, arguments: [key.lowercased(), key.lowercased(), key]).map(Self.entry)
        }
    }

    public func entries() throws -> [DirectoryEntry] {
        try store.read { db in try SQLRow.fetchAll(db, sql: "SELECT * FROM principals ORDER BY kind, name").map(Self.entry) }
    }

    /// The application whose client id and secret these are, or nil.
    public func authenticateApp(clientId: String, secret: String) throws -> DirectoryEntry? {
        let row = try store.read { db in
            try SQLRow.fetchOne(db, sql: "SELECT * FROM principals WHERE client_id = ? AND kind = 'application'",
                             arguments: [clientId.lowercased()])
        }
        guard let row, let stored: Data = row["secret_hash"], stored.count == 48 else { return nil }
        let salt = Array(stored.prefix(16)), hash = Array(stored.dropFirst(16))
        let candidate = Array(SHA256.hash(data: salt + Array(secret.utf8)))
        guard Self.constantTimeEqual(candidate, hash) else { return nil }
        return Self.entry(row)
    }

    /// The person with this name and password, or nil.
    public func authenticateUser(name: String, password: String) throws -> DirectoryEntry? {
        let row = try store.read { db in
            try SQLRow.fetchOne(db, sql: "SELECT * FROM principals WHERE lower(name) = lower(?) AND kind = 'user'", arguments: [name])
        }
        guard let row, let stored: Data = row["password_hash"], stored.count == 48, !password.isEmpty else { return nil }
        let salt = Array(stored.prefix(16)), hash = Array(stored.dropFirst(16))
        let candidate = try MasterKey.fromPassphrase(password, salt: salt, parameters: Self.passwordScrypt).withUnsafeBytes { Array($0) }
        guard Self.constantTimeEqual(candidate, hash) else { return nil }
        return Self.entry(row)
    }

    /// The principal, its assignments and every role, read in one snapshot (the authorisation path).
    /// The principal, its assignments and every role, in one snapshot; cached by object id until the
    /// directory's generation (``changed(_:)``) moves, so a disable or an unassign counts at the next request.
    func grants(objectId: String) throws -> DirectoryCache.Grants {
        try store.read { db in try grants(objectId: objectId, in: db) }
    }

    /// ``grants(objectId:)`` in a snapshot the caller holds.
    func grants(objectId: String, in db: any SQLConnection) throws -> DirectoryCache.Grants {
        let generation = try Self.generation(db)
        if let hit = cache.lookup(objectId.lowercased(), generation: generation) { return hit }
        let fresh = try Self.readGrants(db, objectId: objectId)
        cache.store(objectId.lowercased(), fresh, generation: generation)
        return fresh
    }

    /// The server's sign-in path without a read: the entry as last read, if it was enabled then. Every operation
    /// checks its caller again against the directory it reads (a caller disabled since is ``UnknownCaller``), so
    /// this is only ever a head start; nil (not cached, or cached as disabled or unknown) means read it:
    /// ``entry(objectId:)``.
    public func cachedEnabledEntry(objectId: String) -> DirectoryEntry? {
        guard let entry = cache.latest(objectId.lowercased())?.0, entry.enabled else { return nil }
        return entry
    }

    static func readGrants(_ db: any SQLConnection, objectId: String) throws -> DirectoryCache.Grants {
        let entry = try SQLRow.fetchOne(db, sql: "SELECT * FROM principals WHERE object_id = ?", arguments: [objectId.lowercased()]).map(Self.entry)
        let assignments = try SQLRow.fetchAll(db, sql: "SELECT * FROM role_assignments WHERE principal_id = ?", arguments: [objectId.lowercased()]).map {
            RoleAssignment(id: $0["id"], roleId: $0["role_id"], principalId: $0["principal_id"], scope: $0["scope"])
        }
        return (entry, assignments, RoleDefinition.builtIns + (try Self.customRoles(db)))
    }
}

/// What a serving process keeps of the directory between requests, valid for one directory generation.
final class DirectoryCache: @unchecked Sendable {
    typealias Grants = (DirectoryEntry?, [RoleAssignment], [RoleDefinition])
    static let capacity = 1024
    private let lock = NSLock()
    private var generation: Data??
    private var grants: [String: Grants] = [:]

    func lookup(_ objectId: String, generation g: Data?) -> Grants? {
        lock.withLock {
            guard generation == .some(g) else { return nil }
            return grants[objectId]
        }
    }

    /// What is cached for `objectId` and the generation it was read at, if it was read at the latest
    /// generation this cache saw: a decision to check against the directory at commit (``Authorizer/cachedDecision(_:_:)``).
    func current(_ objectId: String) -> (Grants, Data?)? {
        lock.withLock {
            guard case .some(let g) = generation, let hit = grants[objectId] else { return nil }
            return (hit, g)
        }
    }

    /// Whatever is cached for `objectId`, of any generation.
    func latest(_ objectId: String) -> Grants? {
        lock.withLock { grants[objectId] }
    }

    func store(_ objectId: String, _ value: Grants, generation g: Data?) {
        lock.withLock {
            if generation != .some(g) || grants.count >= Self.capacity {
                grants.removeAll(keepingCapacity: true)
                generation = .some(g)
            }
            grants[objectId] = value
        }
    }
}

extension VaultDirectory {

    static func customRoles(_ db: any SQLConnection) throws -> [RoleDefinition] {
        try SQLRow.fetchAll(db, sql: "SELECT * FROM role_definitions ORDER BY name").map { row -> RoleDefinition in
            let decode = { (s: String) in (try? JSONDecoder().decode([String].self, from: Data(s.utf8))) ?? [] }
            return RoleDefinition(id: row["id"], name: row["name"], dataActions: decode(row["data_actions"]),
                                  notDataActions: decode(row["not_data_actions"]), builtIn: false)
        }
    }

    public func certificates(objectId: String) throws -> [AppCertificate] {
        try store.read { db in
            try SQLRow.fetchAll(db, sql: "SELECT * FROM app_certificates WHERE object_id = ?", arguments: [objectId]).map {
                AppCertificate(objectId: $0["object_id"], thumbprintSHA1: $0["thumbprint_sha1"],
                               thumbprintSHA256: $0["thumbprint_sha256"], der: Array($0["der"] as Data))
            }
        }
    }

    public func roles() throws -> [RoleDefinition] {
        RoleDefinition.builtIns + (try store.read { try Self.customRoles($0) })
    }

    /// A role by id or name (case-insensitive).
    public func role(_ key: String) throws -> RoleDefinition? {
        try roles().first { $0.id.caseInsensitiveCompare(key) == .orderedSame || $0.name.caseInsensitiveCompare(key) == .orderedSame }
    }

    public func assignments(principalId: String? = nil) throws -> [RoleAssignment] {
        try store.read { db in
            let rows: [SQLRow]
            if let principalId {
                rows = try SQLRow.fetchAll(db, sql: "SELECT * FROM role_assignments WHERE principal_id = ?", arguments: [principalId])
            } else {
                rows = try SQLRow.fetchAll(db, sql: "SELECT * FROM role_assignments ORDER BY principal_id, scope")
            }
            return rows.map { RoleAssignment(id: $0["id"], roleId: $0["role_id"], principalId: $0["principal_id"], scope: $0["scope"]) }
        }
    }

    // MARK: Changing (operator commands on the vault file; audited by the Vault)

    func addUser(_ db: any SQLConnection, name: String, password: String) throws -> DirectoryEntry {
        guard !name.isEmpty, name.count <= 256 else { throw VaultError.badParameter("a user name is 1-256 characters") }
        guard password.count >= 12 else { throw VaultError.badParameter("a password has at least 12 characters") }
        try uniqueName(db, name)
        let salt = Array(SymmetricKey(size: .bits128).withUnsafeBytes { Array($0) })
        let hash = try MasterKey.fromPassphrase(password, salt: salt, parameters: Self.passwordScrypt).withUnsafeBytes { Array($0) }
        let e = DirectoryEntry(objectId: Self.newId(), kind: .user, name: name, clientId: nil, enabled: true, created: Vault.unixNow())
        try db.execute(sql: """
            INSERT INTO principals (object_id, kind, name, password_hash, enabled, created) VALUES (?, 'user', ?, ?, 1, ?)
            """, arguments: [e.objectId, name, Data(salt + hash), e.created])
        return e
    }

    /// A new application and its client secret (shown once).
    func addApp(_ db: any SQLConnection, name: String) throws -> (DirectoryEntry, String) {
        guard !name.isEmpty, name.count <= 256 else { throw VaultError.badParameter("an application name is 1-256 characters") }
        try uniqueName(db, name)
        let e = DirectoryEntry(objectId: Self.newId(), kind: .application, name: name, clientId: Self.newId(), enabled: true,
                               created: Vault.unixNow())
        let secret = Self.newClientSecret()
        try db.execute(sql: """
            INSERT INTO principals (object_id, kind, name, client_id, secret_hash, enabled, created) VALUES (?, 'application', ?, ?, ?, 1, ?)
            """, arguments: [e.objectId, name, e.clientId, Data(Self.secretHash(secret)), e.created])
        return (e, secret)
    }

    func resetSecret(_ db: any SQLConnection, objectId: String) throws -> String {
        let secret = Self.newClientSecret()
        try db.execute(sql: "UPDATE principals SET secret_hash = ? WHERE object_id = ? AND kind = 'application'",
                       arguments: [Data(Self.secretHash(secret)), objectId])
        guard db.changesCount == 1 else { throw VaultError.notFound("no application \(objectId)") }
        return secret
    }

    func addCertificate(_ db: any SQLConnection, objectId: String, der: [UInt8]) throws -> AppCertificate {
        let cert = AppCertificate(objectId: objectId, thumbprintSHA1: Base64URL.encode(Array(Insecure.SHA1.hash(data: der))),
                                  thumbprintSHA256: Base64URL.encode(Array(SHA256.hash(data: der))), der: der)
        try db.execute(sql: """
            INSERT OR REPLACE INTO app_certificates (object_id, thumbprint_sha1, thumbprint_sha256, der) VALUES (?, ?, ?, ?)
            """, arguments: [objectId, cert.thumbprintSHA1, cert.thumbprintSHA256, Data(der)])
        return cert
    }

    func setEnabled(_ db: any SQLConnection, objectId: String, enabled: Bool) throws {
        try db.execute(sql: "UPDATE principals SET enabled = ? WHERE object_id = ?", arguments: [enabled ? 1 : 0, objectId])
        guard db.changesCount == 1 else { throw VaultError.notFound("no principal \(objectId)") }
    }

    func remove(_ db: any SQLConnection, objectId: String) throws {
        try db.execute(sql: "DELETE FROM principals WHERE object_id = ?", arguments: [objectId])
        guard db.changesCount == 1 else { throw VaultError.notFound("no principal \(objectId)") }
        try db.execute(sql: "DELETE FROM app_certificates WHERE object_id = ?", arguments: [objectId])
        try db.execute(sql: "DELETE FROM role_assignments WHERE principal_id = ?", arguments: [objectId])
    }

    func addRole(_ db: any SQLConnection, name: String, dataActions: [String], notDataActions: [String]) throws -> RoleDefinition {
        guard !name.isEmpty, !dataActions.isEmpty else { throw VaultError.badParameter("a role needs a name and at least one data action") }
        if try role(name) != nil { throw VaultError.conflict("a role named '\(name)' exists", inner: "RoleExists") }
        let r = RoleDefinition(id: Self.newId(), name: name, dataActions: dataActions, notDataActions: notDataActions, builtIn: false)
        let enc = { (a: [String]) in String(decoding: try! JSONEncoder().encode(a), as: UTF8.self) }
        try db.execute(sql: "INSERT INTO role_definitions (id, name, data_actions, not_data_actions) VALUES (?, ?, ?, ?)",
                       arguments: [r.id, name, enc(dataActions), enc(notDataActions)])
        return r
    }

    func assign(_ db: any SQLConnection, roleId: String, principalId: String, scope: String) throws -> RoleAssignment {
        let a = RoleAssignment(id: Self.newId(), roleId: roleId, principalId: principalId, scope: try RoleAssignment.normalise(scope: scope))
        try db.execute(sql: "INSERT INTO role_assignments (id, role_id, principal_id, scope, created) VALUES (?, ?, ?, ?, ?)",
                       arguments: [a.id, a.roleId, a.principalId, a.scope, Vault.unixNow()])
        return a
    }

    func unassign(_ db: any SQLConnection, id: String) throws {
        try db.execute(sql: "DELETE FROM role_assignments WHERE id = ?", arguments: [id])
        guard db.changesCount == 1 else { throw VaultError.notFound("no role assignment \(id)") }
    }

    func uniqueName(_ db: any SQLConnection, _ name: String) throws {
        if try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM principals WHERE lower(name) = lower(?)", arguments: [name]) ?? 0 > 0 {
            throw VaultError.conflict("a user or application named '\(name)' exists", inner: "PrincipalExists")
        }
    }

    static func newClientSecret() -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
        var rng = SystemRandomNumberGenerator()
        return "arca~" + String((0..<43).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &rng)] })
    }

    static func secretHash(_ secret: String) -> [UInt8] {
        let salt = Array(SymmetricKey(size: .bits128).withUnsafeBytes { Array($0) })
        return salt + Array(SHA256.hash(data: salt + Array(secret.utf8)))
    }

    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var d: UInt8 = 0
        for i in a.indices { d |= a[i] ^ b[i] }
        return d == 0
    }
}

/// Role-based access for the server: deny by default; a caller may act when one of its assignments covers the
/// operation's scope with a role that grants the operation's data action. Disabled or removed principals get
/// nothing. The local operator (the vault file's owner, embedded mode) and Arca's own retention may do all.
public struct RBACAuthorizer: Authorizer {
    let directory: VaultDirectory

    public init(store: VaultStore) { directory = VaultDirectory(store: store) }

    public func allows(_ caller: Principal, _ operation: VaultOperation) throws -> Bool {
        if caller.isTrusted { return true }
        // One read for the principal, its assignments and the custom roles.
        return try Self.decide(directory.grants(objectId: caller.objectId), operation)
    }

    public func allows(_ caller: Principal, _ operation: VaultOperation, in db: any SQLConnection) throws -> Bool {
        if caller.isTrusted { return true }
        return try Self.decide(directory.grants(objectId: caller.objectId, in: db), operation)
    }

    public func cachedDecision(_ caller: Principal, _ operation: VaultOperation) -> (allowed: Bool, generation: Data?)? {
        guard !caller.isTrusted, let (grants, generation) = directory.cache.current(caller.objectId.lowercased()),
              let allowed = try? Self.decide(grants, operation) else { return nil }
        return (allowed, generation)
    }

    /// A caller gone or disabled is ``UnknownCaller`` (the server's sign-in may have used a cached entry).
    static func decide(_ grants: DirectoryCache.Grants, _ operation: VaultOperation) throws -> Bool {
        let (found, assignments, roles) = grants
        guard let entry = found, entry.enabled else { throw UnknownCaller() }
        let byId = Dictionary(roles.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        return assignments.contains { a in
            a.covers(operation.scope) && (byId[a.roleId]?.permits(operation.dataAction) ?? false)
        }
    }
}

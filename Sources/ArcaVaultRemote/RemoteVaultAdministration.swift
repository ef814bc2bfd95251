import ArcaVaultAPI
import Foundation
import NIOHTTP1

/// The operator's commands against a server's `/arca/` routes (see `AdminRoute`).
extension RemoteVaultClient: VaultAdministration {
    func object(_ method: HTTPMethod, _ path: String, json: [String: Any]? = nil) async throws -> [String: Any] {
        guard let o = try await call(method, path, json: json).json else { throw VaultError.storage("the vault server's answer is not JSON") }
        return o
    }

    func values(_ path: String) async throws -> [[String: Any]] {
        try Self.page(try await call(.GET, path))
    }

    /// `/arca/principals/KEY…`, the key escaped as one path segment.
    static func principalPath(_ key: String, _ rest: String = "") -> String {
        "/arca/principals/" + (key.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._"))) ?? key) + rest
    }

    public func status() async throws -> VaultStatus {
        VaultStatus(json: try await object(.GET, "/arca/status"))
    }

    public func seal() async throws {
        _ = try await call(.POST, "/arca/seal", json: [:])
    }

    public func unseal(_ credential: VaultCredential) async throws {
        let body: [String: Any]
        switch credential {
        case .passphrase(let p): body = ["passphrase": p]
        case .keyFile(let k): body = ["keyFile": String(decoding: k, as: UTF8.self)]
        case .shares(let s): body = ["shares": s]
        case .pkcs11(let pin): body = ["pin": String(decoding: pin, as: UTF8.self)]
        }
        _ = try await call(.POST, "/arca/unseal", json: body)
    }

    public func rekey() async throws -> (term: UInt32, reencrypted: Int) {
        let o = try await object(.POST, "/arca/rekey", json: [:])
        return ((o["term"] as? NSNumber)?.uint32Value ?? 0, (o["reencrypted"] as? NSNumber)?.intValue ?? 0)
    }

    public func tenantId() async throws -> String { credentials.tenantId }

    public func principals() async throws -> [DirectoryEntry] {
        try await values("/arca/principals").map(DirectoryEntry.init(json:))
    }

    public func createUser(name: String, password: String) async throws -> DirectoryEntry {
        try DirectoryEntry(json: try await object(.POST, "/arca/principals", json: ["kind": "user", "name": name, "password": password]))
    }

    public func createApp(name: String) async throws -> (DirectoryEntry, String) {
        let o = try await object(.POST, "/arca/principals", json: ["kind": "application", "name": name])
        return (try DirectoryEntry(json: o), o["clientSecret"] as? String ?? "")
    }

    public func resetAppSecret(_ key: String) async throws -> (DirectoryEntry, String) {
        let o = try await object(.POST, Self.principalPath(key, "/secret"), json: [:])
        return (try DirectoryEntry(json: o), o["clientSecret"] as? String ?? "")
    }

    public func addAppCertificate(_ key: String, der: [UInt8]) async throws -> (DirectoryEntry, AppCertificate) {
        let o = try await object(.POST, Self.principalPath(key, "/certificates"), json: ["certificate": Data(der).base64EncodedString()])
        let entry = try DirectoryEntry(json: o)
        let c = o["certificate"] as? [String: Any] ?? [:]
        return (entry, AppCertificate(objectId: entry.objectId, thumbprintSHA1: c["x5t"] as? String ?? "",
                                      thumbprintSHA256: c["x5t#S256"] as? String ?? ""))
    }

    public func setPrincipalEnabled(_ key: String, enabled: Bool) async throws -> DirectoryEntry {
        try DirectoryEntry(json: try await object(.PATCH, Self.principalPath(key), json: ["enabled": enabled]))
    }

    public func removePrincipal(_ key: String) async throws -> DirectoryEntry {
        try DirectoryEntry(json: try await object(.DELETE, Self.principalPath(key)))
    }

    public func roles() async throws -> [RoleDefinition] {
        try await values("/arca/roles").map(RoleDefinition.init(json:))
    }

    public func createRole(name: String, dataActions: [String], notDataActions: [String]) async throws -> RoleDefinition {
        RoleDefinition(json: try await object(.POST, "/arca/roles",
                                              json: ["name": name, "dataActions": dataActions, "notDataActions": notDataActions]))
    }

    public func assignRole(_ role: String, to assignee: String, scope: String) async throws -> RoleAssignment {
        RoleAssignment(json: try await object(.POST, "/arca/roleassignments", json: ["role": role, "assignee": assignee, "scope": scope]))
    }

    public func assignments() async throws -> [RoleAssignment] {
        try await values("/arca/roleassignments").map(RoleAssignment.init(json:))
    }

    public func removeAssignment(_ id: String) async throws {
        _ = try await call(.DELETE, "/arca/roleassignments/" + id)
    }
}

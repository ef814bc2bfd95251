import ArcaJSON
import Foundation

// MARK: - Shapes (the server's answers and the CLI's `--output json`)

extension VaultStatus {
    public var json: JSONValue {
        .object([
            ("vaultDir", .string(directory)), ("initialized", .bool(initialized)), ("seal", seal.map(JSONValue.string) ?? .null),
            ("sealed", .bool(operatorSealed)), ("serving", .bool(unsealed)),
            ("secrets", .int(secrets)), ("deletedSecrets", .int(deletedSecrets)), ("versions", .int(versions)),
            ("auditRecords", .int(auditRecords)), ("auditPublicKey", auditPublicKey.map(JSONValue.string) ?? .null),
            ("retentionDays", .int(retentionDays)), ("schemaVersion", .int(schemaVersion)),
        ])
    }

    package init(json o: [String: Any]) {
        let int = { (k: String) in (o[k] as? NSNumber)?.intValue ?? 0 }
        self.init(directory: o["vaultDir"] as? String ?? "", initialized: o["initialized"] as? Bool ?? false,
                  seal: o["seal"] as? String, operatorSealed: o["sealed"] as? Bool ?? false,
                  unsealed: o["serving"] as? Bool ?? !(o["sealed"] as? Bool ?? true), secrets: int("secrets"), deletedSecrets: int("deletedSecrets"),
                  versions: int("versions"), auditRecords: int("auditRecords"), auditPublicKey: o["auditPublicKey"] as? String,
                  retentionDays: int("retentionDays"), schemaVersion: int("schemaVersion"))
    }
}

extension DirectoryEntry {
    public var json: JSONValue { json(adding: []) }

    public func json(adding extra: [(String, JSONValue)]) -> JSONValue {
        .object([("objectId", .string(objectId)), ("kind", .string(kind.rawValue)), ("name", .string(name)),
                 ("clientId", clientId.map(JSONValue.string) ?? .null), ("enabled", .bool(enabled))] + extra)
    }

    package init(json o: [String: Any]) throws {
        guard let id = o["objectId"] as? String else { throw VaultError.storage("an answer without an objectId") }
        self.init(objectId: id, kind: Principal.Kind(rawValue: o["kind"] as? String ?? "") ?? .user, name: o["name"] as? String ?? "",
                  clientId: o["clientId"] as? String, enabled: o["enabled"] as? Bool ?? true)
    }
}

extension RoleDefinition {
    public var json: JSONValue {
        .object([("id", .string(id)), ("name", .string(name)), ("builtIn", .bool(builtIn)),
                 ("dataActions", .array(dataActions.map(JSONValue.string))),
                 ("notDataActions", .array(notDataActions.map(JSONValue.string)))])
    }

    package init(json o: [String: Any]) {
        self.init(id: o["id"] as? String ?? "", name: o["name"] as? String ?? "", dataActions: o["dataActions"] as? [String] ?? [],
                  notDataActions: o["notDataActions"] as? [String] ?? [], builtIn: o["builtIn"] as? Bool ?? false)
    }
}

extension RoleAssignment {
    public var json: JSONValue {
        .object([("id", .string(id)), ("roleId", .string(roleId)), ("principalId", .string(principalId)), ("scope", .string(scope))])
    }

    package init(json o: [String: Any]) {
        self.init(id: o["id"] as? String ?? "", roleId: o["roleId"] as? String ?? "", principalId: o["principalId"] as? String ?? "",
                  scope: o["scope"] as? String ?? "")
    }
}

extension AppCertificate {
    public var json: JSONValue { .object([("x5t", .string(thumbprintSHA1)), ("x5t#S256", .string(thumbprintSHA256))]) }
}

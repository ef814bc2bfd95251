import Foundation
import Testing
@testable import ArcaVault

/// Every built-in role × every secret action × every scope kind, through the vault's entry point with an
/// application principal. The expected outcomes are written out below, not computed by the code under test.
@Suite struct RBACMatrixTests {
    static let operations = ["set", "get", "update", "list", "versions", "delete", "getDeleted", "listDeleted", "recover", "purge"]
    static let secrets = ["db-password", "db-user", "other"]

    /// role @ scope → the (operation:secret) pairs allowed; every other pair must be 403 ForbiddenByRbac.
    /// `list` and `listDeleted` act on the vault (scope /), so they appear with secret "-".
    static let expected: [String: Set<String>] = [
        "Key Vault Administrator @ /": [
            "set:db-password", "set:db-user", "set:other", "get:db-password", "get:db-user", "get:other",
            "update:db-password", "update:db-user", "update:other", "list:-", "versions:db-password", "versions:db-user",
            "versions:other", "delete:db-password", "delete:db-user", "delete:other", "getDeleted:db-password",
            "getDeleted:db-user", "getDeleted:other", "listDeleted:-", "recover:db-password", "recover:db-user",
            "recover:other", "purge:db-password", "purge:db-user", "purge:other",
        ],
        "Key Vault Administrator @ /secrets/db-*": [
            "set:db-password", "set:db-user", "get:db-password", "get:db-user", "update:db-password", "update:db-user",
            "versions:db-password", "versions:db-user", "delete:db-password", "delete:db-user", "getDeleted:db-password",
            "getDeleted:db-user", "recover:db-password", "recover:db-user", "purge:db-password", "purge:db-user",
        ],
        "Key Vault Administrator @ /secrets/db-password": [
            "set:db-password", "get:db-password", "update:db-password", "versions:db-password", "delete:db-password",
            "getDeleted:db-password", "recover:db-password", "purge:db-password",
        ],
        "Key Vault Secrets Officer @ /": [
            "set:db-password", "set:db-user", "set:other", "get:db-password", "get:db-user", "get:other",
            "update:db-password", "update:db-user", "update:other", "list:-", "versions:db-password", "versions:db-user",
            "versions:other", "delete:db-password", "delete:db-user", "delete:other", "getDeleted:db-password",
            "getDeleted:db-user", "getDeleted:other", "listDeleted:-", "recover:db-password", "recover:db-user",
            "recover:other", "purge:db-password", "purge:db-user", "purge:other",
        ],
        "Key Vault Secrets Officer @ /secrets/db-*": [
            "set:db-password", "set:db-user", "get:db-password", "get:db-user", "update:db-password", "update:db-user",
            "versions:db-password", "versions:db-user", "delete:db-password", "delete:db-user", "getDeleted:db-password",
            "getDeleted:db-user", "recover:db-password", "recover:db-user", "purge:db-password", "purge:db-user",
        ],
        "Key Vault Secrets Officer @ /secrets/db-password": [
            "set:db-password", "get:db-password", "update:db-password", "versions:db-password", "delete:db-password",
            "getDeleted:db-password", "recover:db-password", "purge:db-password",
        ],
        "Key Vault Secrets User @ /": [
            "get:db-password", "get:db-user", "get:other", "list:-", "versions:db-password", "versions:db-user",
            "versions:other", "getDeleted:db-password", "getDeleted:db-user", "getDeleted:other", "listDeleted:-",
        ],
        "Key Vault Secrets User @ /secrets/db-*": [
            "get:db-password", "get:db-user", "versions:db-password", "versions:db-user", "getDeleted:db-password",
            "getDeleted:db-user",
        ],
        "Key Vault Secrets User @ /secrets/db-password": ["get:db-password", "versions:db-password", "getDeleted:db-password"],
        "Key Vault Reader @ /": [
            "list:-", "versions:db-password", "versions:db-user", "versions:other", "getDeleted:db-password",
            "getDeleted:db-user", "getDeleted:other", "listDeleted:-",
        ],
        "Key Vault Reader @ /secrets/db-*": ["versions:db-password", "versions:db-user", "getDeleted:db-password", "getDeleted:db-user"],
        "Key Vault Reader @ /secrets/db-password": ["versions:db-password", "getDeleted:db-password"],
        "No assignment @ /": [],
    ]

    static func call(_ c: EmbeddedVaultClient, _ op: String, _ name: String) async throws {
        switch op {
        case "set": _ = try await c.setSecret(name, value: "v", options: .init())
        case "get": _ = try await c.getSecret(name, version: nil)
        case "update": _ = try await c.updateSecret(name, version: nil, options: SecretOptions(tags: ["t": "1"]))
        case "list": _ = try await c.listSecrets(maxResults: nil, skipToken: nil)
        case "versions": _ = try await c.listVersions(name, maxResults: nil, skipToken: nil)
        case "delete": _ = try await c.deleteSecret(name)
        case "getDeleted": _ = try await c.getDeletedSecret(name)
        case "listDeleted": _ = try await c.listDeletedSecrets(maxResults: nil, skipToken: nil)
        case "recover": _ = try await c.recoverSecret(name)
        case "purge": try await c.purgeSecret(name)
        default: Issue.record("unknown operation \(op)")
        }
    }

    @Test(arguments: Array(expected.keys).sorted())
    func roleAtScope(_ key: String) async throws {
        let parts = key.components(separatedBy: " @ ")
        let (roleName, scope) = (parts[0], parts[1])
        let dir = TestVault.tempDir()
        let vault = try Vault(directory: dir, authorization: .rbac, create: true)
        _ = try vault.initialize(.keyFile(path: dir + "/k"), caller: TestVault.op, source: "t")
        let (app, _) = try vault.createApp(name: "app", caller: TestVault.op, source: "t")
        if let role = try vault.principals.role(roleName) {
            _ = try vault.assignRole(roleId: role.id, principalId: app.objectId, scope: scope, caller: TestVault.op, source: "t")
        }
        let owner = EmbeddedVaultClient(vault: vault, caller: TestVault.op)
        let client = EmbeddedVaultClient(vault: vault, caller: app.principal, source: "10.1.2.3")
        let allowed = Self.expected[key]!
        for op in Self.operations {
            for name in (op == "list" || op == "listDeleted") ? ["-"] : Self.secrets {
                // A fresh state per call, so an allowed call can run: the secret exists, deleted where needed.
                for s in Self.secrets {
                    if (try? await owner.getSecret(s, version: nil)) == nil {
                        if (try? await owner.getDeletedSecret(s)) != nil { _ = try await owner.recoverSecret(s) } else {
                            _ = try await owner.setSecret(s, value: "v", options: .init())
                        }
                    }
                }
                if ["getDeleted", "recover", "purge"].contains(op), name != "-" { _ = try await owner.deleteSecret(name) }
                var denied = false
                do {
                    try await Self.call(client, op, name)
                } catch let e as VaultError {
                    if e.innerCode == "ForbiddenByRbac" { denied = true } else {
                        Issue.record("\(key): \(op) \(name) failed for another reason: \(e)")
                    }
                }
                #expect(denied == !allowed.contains("\(op):\(name)"), "\(key): \(op) on \(name) should be \(allowed.contains("\(op):\(name)") ? "allowed" : "denied")")
            }
        }
        // Every denial is in the trail with the application's identity and address.
        let denials = try await owner.auditRecords(AuditQuery(caller: app.objectId, result: "Forbidden"))
        let expectedDenials = Self.operations.reduce(0) { n, op in
            n + ((op == "list" || op == "listDeleted") ? ["-"] : Self.secrets).filter { !allowed.contains("\(op):\($0)") }.count
        }
        #expect(denials.count == expectedDenials && denials.allSatisfy { $0.source == "10.1.2.3" })
    }

    @Test func disabledOrRemovedPrincipalsLoseAccessAndScopesAreChecked() async throws {
        let dir = TestVault.tempDir()
        let vault = try Vault(directory: dir, authorization: .rbac, create: true)
        _ = try vault.initialize(.keyFile(path: dir + "/k"), caller: TestVault.op, source: "t")
        let (app, secret) = try vault.createApp(name: "app", caller: TestVault.op, source: "t")
        #expect(try vault.principals.authenticateApp(clientId: app.clientId!, secret: secret)?.objectId == app.objectId)
        #expect(try vault.principals.authenticateApp(clientId: app.clientId!, secret: secret + "x") == nil)
        _ = try vault.assignRole(roleId: RoleDefinition.builtIns[2].id, principalId: app.objectId, scope: "/", caller: TestVault.op, source: "t")
        _ = try await EmbeddedVaultClient(vault: vault, caller: TestVault.op).setSecret("a", value: "1", options: .init())
        let c = EmbeddedVaultClient(vault: vault, caller: app.principal)
        #expect(try await c.getSecret("a", version: nil).value == "1")
        // A caller disabled or removed after it signed in is UnknownCaller (the server's 401), on the snapshot
        // read path (getSecret) and on the write path (setSecret) alike.
        try vault.setPrincipalEnabled(objectId: app.objectId, enabled: false, caller: TestVault.op, source: "t")
        await #expect(throws: UnknownCaller.self) { try await c.getSecret("a", version: nil) }
        await #expect(throws: UnknownCaller.self) { try await c.setSecret("a", value: "2", options: .init()) }
        try vault.setPrincipalEnabled(objectId: app.objectId, enabled: true, caller: TestVault.op, source: "t")
        #expect(try await c.getSecret("a", version: nil).value == "1")
        try vault.removePrincipal(objectId: app.objectId, caller: TestVault.op, source: "t")
        await #expect(throws: UnknownCaller.self) { try await c.getSecret("a", version: nil) }
        for bad in ["secrets/x", "/keys/x", "/secrets/bad_name", "/secrets/*x"] {
            #expect(throws: VaultError.self) { try RoleAssignment.normalise(scope: bad) }
        }
        #expect(try RoleAssignment.normalise(scope: "/secrets/DB-*") == "/secrets/db-*")
        // Custom roles: data actions with wildcards, minus notDataActions.
        let role = try vault.createRole(name: "reader-no-deleted", dataActions: ["Microsoft.KeyVault/vaults/secrets/*"],
                                        notDataActions: ["Microsoft.KeyVault/vaults/secrets/setSecret/action"], caller: TestVault.op, source: "t")
        #expect(role.permits("Microsoft.KeyVault/vaults/secrets/getSecret/action"))
        #expect(!role.permits("Microsoft.KeyVault/vaults/secrets/setSecret/action"))
        #expect(!RoleDefinition.builtIns[3].permits("Arca/vault/audit/read"))
        #expect(RoleDefinition.builtIns[0].permits("Arca/vault/audit/read"))
    }
}

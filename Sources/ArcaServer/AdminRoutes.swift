import ArcaJSON
import ArcaVault
import Foundation
import Hummingbird
import NIOCore

/// Arca's operator routes under `/arca/`: state, seal, unseal, rekey, people, applications, roles and
/// assignments — what `arca vault … --vault URL` calls. Authenticated like the secrets routes and authorised
/// by the vault (`Arca/vault/*` data actions, held by Key Vault Administrator).
enum AdminRoute {
    case status, seal, unseal, rekey
    case principals, createPrincipal, resetSecret(String), addCertificate(String), setEnabled(String), removePrincipal(String)
    case roles, createRole, assignments, assign, unassign(String)

    init?(method: HTTPRequest.Method, segments: [String]) {
        guard segments.first == "arca", segments.count >= 2 else { return nil }
        let s = Array(segments.dropFirst())
        switch (method, s.count, s[0]) {
        case (.get, 1, "status"): self = .status
        case (.post, 1, "seal"): self = .seal
        case (.post, 1, "unseal"): self = .unseal
        case (.post, 1, "rekey"): self = .rekey
        case (.get, 1, "principals"): self = .principals
        case (.post, 1, "principals"): self = .createPrincipal
        case (.post, 3, "principals") where s[2] == "secret": self = .resetSecret(s[1])
        case (.post, 3, "principals") where s[2] == "certificates": self = .addCertificate(s[1])
        case (.patch, 2, "principals"): self = .setEnabled(s[1])
        case (.delete, 2, "principals"): self = .removePrincipal(s[1])
        case (.get, 1, "roles"): self = .roles
        case (.post, 1, "roles"): self = .createRole
        case (.get, 1, "roleassignments"): self = .assignments
        case (.post, 1, "roleassignments"): self = .assign
        case (.delete, 2, "roleassignments"): self = .unassign(s[1])
        default: return nil
        }
    }

    /// Its metrics label (names replaced by placeholders).
    var template: String {
        switch self {
        case .status: return "/arca/status"
        case .seal: return "/arca/seal"
        case .unseal: return "/arca/unseal"
        case .rekey: return "/arca/rekey"
        case .principals, .createPrincipal: return "/arca/principals"
        case .resetSecret: return "/arca/principals/{id}/secret"
        case .addCertificate: return "/arca/principals/{id}/certificates"
        case .setEnabled, .removePrincipal: return "/arca/principals/{id}"
        case .roles, .createRole: return "/arca/roles"
        case .assignments, .assign: return "/arca/roleassignments"
        case .unassign: return "/arca/roleassignments/{id}"
        }
    }

    var operation: VaultOperation {
        switch self {
        case .status: return .vaultStatus
        case .seal: return .vaultSeal
        case .unseal: return .vaultUnseal
        case .rekey: return .vaultRekey
        case .principals, .roles, .assignments: return .directoryRead
        case .createPrincipal: return .directoryWrite("PrincipalCreate")
        case .resetSecret: return .directoryWrite("ApplicationSecretReset")
        case .addCertificate: return .directoryWrite("ApplicationCertificateAdd")
        case .setEnabled: return .directoryWrite("PrincipalUpdate")
        case .removePrincipal: return .directoryWrite("PrincipalDelete")
        case .createRole: return .directoryWrite("RoleDefinitionCreate")
        case .assign: return .directoryWrite("RoleAssignmentCreate")
        case .unassign: return .directoryWrite("RoleAssignmentDelete")
        }
    }
}

extension VaultServer {
    func handleAdmin(_ route: AdminRoute, body: [UInt8], admin: some VaultAdministration) async throws -> Response {
        func string(_ o: [String: Any], _ key: String) throws -> String {
            guard let v = o[key] as? String, !v.isEmpty else { throw BadRequest(message: "The request must carry a string '\(key)'.") }
            return v
        }
        switch route {
        case .status:
            return Self.json(try await admin.status().json)
        case .seal:
            try await admin.seal()
            return Self.json(.object([("sealed", .bool(true))]))
        case .unseal:
            try await admin.unseal(try Self.credential(Self.object(body)))
            return Self.json(.object([("sealed", .bool(false))]))
        case .rekey:
            let (term, n) = try await admin.rekey()
            return Self.json(.object([("term", .int(Int(term))), ("reencrypted", .int(n))]))
        case .principals:
            return Self.json(.object([("value", .array(try await admin.principals().map(\.json)))]))
        case .createPrincipal:
            let o = try Self.object(body)
            let name = try string(o, "name")
            switch o["kind"] as? String {
            case "user":
                return Self.json(try await admin.createUser(name: name, password: try string(o, "password")).json)
            case "application":
                let (e, secret) = try await admin.createApp(name: name)
                return Self.json(e.json(adding: [("clientSecret", .string(secret))]))
            default:
                throw BadRequest(message: "kind must be 'user' or 'application'")
            }
        case .resetSecret(let key):
            let (e, secret) = try await admin.resetAppSecret(key)
            return Self.json(e.json(adding: [("clientSecret", .string(secret))]))
        case .addCertificate(let key):
            guard let der = Data(base64Encoded: try string(try Self.object(body), "certificate")) else {
                throw BadRequest(message: "certificate must be the certificate's DER in base64")
            }
            let (e, c) = try await admin.addAppCertificate(key, der: Array(der))
            return Self.json(e.json(adding: [("certificate", c.json)]))
        case .setEnabled(let key):
            guard let enabled = try Self.object(body)["enabled"] as? Bool else { throw BadRequest(message: "enabled must be true or false") }
            return Self.json(try await admin.setPrincipalEnabled(key, enabled: enabled).json)
        case .removePrincipal(let key):
            return Self.json(try await admin.removePrincipal(key).json)
        case .roles:
            return Self.json(.object([("value", .array(try await admin.roles().map(\.json)))]))
        case .createRole:
            let o = try Self.object(body)
            let r = try await admin.createRole(name: try string(o, "name"), dataActions: o["dataActions"] as? [String] ?? [],
                                               notDataActions: o["notDataActions"] as? [String] ?? [])
            return Self.json(r.json)
        case .assignments:
            return Self.json(.object([("value", .array(try await admin.assignments().map(\.json)))]))
        case .assign:
            let o = try Self.object(body)
            let a = try await admin.assignRole(try string(o, "role"), to: try string(o, "assignee"), scope: o["scope"] as? String ?? "/")
            return Self.json(a.json)
        case .unassign(let id):
            try await admin.removeAssignment(id)
            return Response(status: .noContent)
        }
    }

    /// The unseal credential from `{"passphrase"}`, `{"keyFile"}` (the file's text), `{"shares": […]}` or `{"pin"}`.
    static func credential(_ o: [String: Any]) throws -> Vault.Credential {
        if let p = o["passphrase"] as? String { return .passphrase(p) }
        if let k = o["keyFile"] as? String { return .keyFile(Array(k.utf8)) }
        if let s = o["shares"] as? [String] { return .shares(s) }
        if let pin = o["pin"] as? String { return .pkcs11(pin: Array(pin.utf8)) }
        throw BadRequest(message: "give passphrase, keyFile, shares or pin")
    }
}


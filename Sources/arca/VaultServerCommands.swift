import ArcaJSON
import ArcaReport
import ArcaServer
import ArcaVault
import ArgumentParser
import Foundation

struct VaultServe: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve the vault over HTTPS with Azure Key Vault's secrets API and Arca's own OAuth2 authority.")
    @OptionGroup var vault: VaultOptions
    @Option(help: "Address and port to listen on.") var listen: String = "127.0.0.1:8443"
    @Option(name: .customLong("tls-cert"), help: "Server certificate chain (PEM).") var tlsCert: String?
    @Option(name: .customLong("tls-key"), help: "Server private key (PEM).") var tlsKey: String?
    @Option(name: .customLong("vault-url"), help: "The URL clients use (default https://localhost:PORT).") var vaultURL: String?
    @Option(help: "The token audience and challenge resource (default: the vault URL).") var resource: String?
    @Option(name: .customLong("max-in-flight"), help: "Key Vault requests served at once; more get 429 Throttled with Retry-After (default 512).") var maxInFlight: Int = 512
    @Flag(name: .customLong("no-metrics"), help: "Do not serve GET /metrics (Prometheus; no token needed, no names in it).") var noMetrics = false
    @Option(name: .customLong("rate-limit"), help: "Key Vault requests per 10-second window, as Azure throttles (default: none); more get 429 with Retry-After.") var rateLimit: Int?
    @Flag(help: "Development: initialise and unseal the vault if needed, make a local CA and server certificate, an administrator application, and write dev.json into the vault's folder.")
    var dev = false

    func run() throws {
        let parts = listen.split(separator: ":")
        guard parts.count == 2, let port = Int(parts[1]), (0...65535).contains(port) else {
            throw CLIError(code: Exit.usage, message: "arca: --listen takes HOST:PORT")
        }
        let host = String(parts[0])
        let dir = vault.directory
        // A node on a database makes its folder (0700) on first start, to record the storage there.
        let v = try vault.openVault(authorization: .rbac, create: dev || vault.storageAddress() != nil)
        if v.storageIsDurable == false {
            IO.write(fd: 2, "arca: warning: \(v.storageLocation) runs with fsync off: an answered write or audit record can be lost if PostgreSQL's machine crashes\n")
        }
        if dev, !v.isInitialized {
            _ = try vaultCall { try v.initialize(.keyFile(path: dir + "/dev-master.key"), caller: vault.caller, source: "embedded") }
            try vault.recordInitialized(v)
        } else {
            try vaultCall { try v.unseal(try vault.credential(for: v), caller: vault.caller, source: "embedded", explicit: false) }
        }
        var cert = tlsCert, key = tlsKey
        var caCert: String?
        if dev, cert == nil || key == nil {
            let files = try DevCA.ensure(in: dir)
            (cert, key, caCert) = (files.serverCert, files.serverKey, files.caCert)
        }
        guard let cert, let key else {
            throw CLIError(code: Exit.usage, message: "arca: give --tls-cert and --tls-key (or --dev for a local CA): the server speaks HTTPS only")
        }
        var options = ServerOptions(host: host, port: port, tlsCert: cert, tlsKey: key, vaultURL: vaultURL, resource: resource)
        guard maxInFlight >= 1, (rateLimit ?? 1) >= 1 else { throw CLIError(code: Exit.usage, message: "arca: --max-in-flight and --rate-limit take a number of 1 or more") }
        options.maxInFlight = maxInFlight
        options.ratePer10s = rateLimit
        options.metrics = !noMetrics
        let serverOptions = options
        let caller = vault.caller
        let devMode = dev
        let ca = caCert
        try blocking {
            let server = try await VaultServer(vault: v, options: serverOptions)
            if devMode {
                try DevSetup.writeDevJSON(server: server, caCert: ca, caller: caller)
            }
            try await server.run {
                IO.write(fd: 2, "arca: vault served at \(server.vaultURL) (tenant \(server.tenantId))\n")
            }
        }
    }
}

/// `dev.json` for `serve --dev`: everything a test or an application needs to sign in.
enum DevSetup {
    static func writeDevJSON(server: VaultServer, caCert: String?, caller: Principal) throws {
        let v = server.vault
        let name = "arca-dev-admin"
        let entry: DirectoryEntry, secret: String
        let path = v.directory + "/dev.json"
        let previous = FileManager.default.contents(atPath: path).flatMap { try? JSONSerialization.jsonObject(with: $0) as? [String: Any] }
        let existing = try v.principals.find(name)
        if let existing, let id = previous?["clientId"] as? String, let known = previous?["clientSecret"] as? String,
           try v.principals.authenticateApp(clientId: id, secret: known)?.objectId == existing.objectId {
            // Another node of the same vault (same folder) already made it: keep its secret, so both nodes'
            // clients keep signing in.
            entry = existing
            secret = known
        } else if let existing {
            entry = existing
            secret = try v.resetAppSecret(objectId: existing.objectId, caller: caller, source: "embedded")
        } else {
            (entry, secret) = try v.createApp(name: name, caller: caller, source: "embedded")
            _ = try v.assignRole(roleId: RoleDefinition.builtIns[0].id, principalId: entry.objectId, scope: "/", caller: caller,
                                 source: "embedded")
        }
        let json: JSONValue = .object([
            ("vaultUrl", .string(server.vaultURL)), ("authority", .string(server.authority)),
            ("tenantId", .string(server.tenantId)), ("resource", .string(server.resource)),
            ("clientId", .string(entry.clientId ?? "")), ("clientSecret", .string(secret)),
            ("objectId", .string(entry.objectId)),
            ("caCert", caCert.map { .string(URL(fileURLWithPath: $0).standardizedFileURL.path) } ?? .null),
            ("auditPublicKey", v.auditPublicKey.map(JSONValue.string) ?? .null),
        ])
        guard FileManager.default.createFile(atPath: path + ".tmp", contents: Data(json.serialized(pretty: true).utf8),
                                             attributes: [.posixPermissions: 0o600]),
              rename(path + ".tmp", path) == 0 else {
            throw CLIError(code: Exit.runtime, message: "arca: cannot write \(path)")
        }
    }
}

// MARK: - People, applications, roles

struct UserCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "user", abstract: "People who sign in with a password.",
                                                    subcommands: [UserCreate.self, PrincipalList.self, PrincipalDisable.self,
                                                                  PrincipalEnable.self, PrincipalDelete.self])
}

struct AppCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "app", abstract: "Applications that sign in with a client secret or a certificate.",
                                                    subcommands: [AppCreate.self, AppCertAdd.self, AppSecretReset.self, PrincipalList.self,
                                                                  PrincipalDisable.self, PrincipalEnable.self, PrincipalDelete.self])
}

struct UserCreate: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "create", abstract: "Add a person (password from --password-file or a prompt).")
    @OptionGroup var vault: VaultOptions
    @Argument var name: String
    @Option(name: .customLong("password-file")) var passwordFile: String?

    func run() throws {
        let password: String
        if let f = passwordFile {
            guard let t = IO.readFile(f) else { throw CLIError(code: Exit.usage, message: "arca: cannot read \(f)") }
            password = t.trimmingCharacters(in: .newlines)
        } else {
            guard isatty(0) != 0 else { throw CLIError(code: Exit.usage, message: "arca: give --password-file") }
            password = Prompt.secret("Password for \(name): ")
        }
        let e = try vault.withVault(unseal: true) { [name] in try await $0.createUser(name: name, password: password) }
        if vault.output == .json { VaultJSON.print(e.json) } else {
            IO.write(fd: 1, "Created user \(e.name), object id \(e.objectId).\n")
        }
    }
}

struct AppCreate: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "create", abstract: "Add an application; prints its client id and, once, its client secret.")
    @OptionGroup var vault: VaultOptions
    @Argument var name: String

    func run() throws {
        let (e, secret, tenant) = try vault.withVault(unseal: true) { [name] admin in
            let (e, secret) = try await admin.createApp(name: name)
            return (e, secret, try await admin.tenantId())
        }
        if vault.output == .json {
            VaultJSON.print(e.json(adding: [("clientSecret", .string(secret)), ("tenantId", .string(tenant))]))
        } else {
            IO.write(fd: 1, """
                Created application \(e.name).
                  object id:     \(e.objectId)   (give roles to this: arca vault role assign --assignee)
                  client id:     \(e.clientId ?? "")   (AZURE_CLIENT_ID)
                  tenant id:     \(tenant)   (AZURE_TENANT_ID)
                  client secret: \(secret)   (AZURE_CLIENT_SECRET; shown once, stored only as a hash)

                """)
        }
    }
}

struct AppSecretReset: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "reset-secret", abstract: "Replace an application's client secret (the old one stops working).")
    @OptionGroup var vault: VaultOptions
    @Argument var app: String

    func run() throws {
        let (e, secret) = try vault.withVault(unseal: true) { [app] in try await $0.resetAppSecret(app) }
        if vault.output == .json { VaultJSON.print(e.json(adding: [("clientSecret", .string(secret))])) } else {
            IO.write(fd: 1, "New client secret for \(e.name): \(secret)\n")
        }
    }
}

struct AppCertAdd: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "cert-add", abstract: "Register a certificate (PEM) for an application's certificate sign-in.")
    @OptionGroup var vault: VaultOptions
    @Argument var app: String
    @Option(help: "The certificate, PEM (a private key in the same file is ignored).") var cert: String

    func run() throws {
        guard let text = IO.readFile(cert), let begin = text.range(of: "-----BEGIN CERTIFICATE-----"),
              let end = text.range(of: "-----END CERTIFICATE-----", range: begin.upperBound..<text.endIndex),
              let der = Data(base64Encoded: String(text[begin.upperBound..<end.lowerBound]), options: .ignoreUnknownCharacters) else {
            throw CLIError(code: Exit.usage, message: "arca: \(cert) holds no PEM certificate")
        }
        let (e, c) = try vault.withVault(unseal: true) { [app] in try await $0.addAppCertificate(app, der: Array(der)) }
        if vault.output == .json { VaultJSON.print(c.json) } else {
            IO.write(fd: 1, "Registered the certificate for \(e.name) (x5t \(c.thumbprintSHA1)).\n")
        }
    }
}

struct PrincipalList: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List people and applications.")
    @OptionGroup var vault: VaultOptions

    func run() throws {
        let entries = try vault.withVault(unseal: false) { try await $0.principals() }
        if vault.output == .json {
            VaultJSON.print(.array(entries.map(\.json)))
            return
        }
        // Names are chosen by whoever created the principal: shown escaped, as the audit tail shows records.
        let f = VaultOptions.terminalSafe
        IO.write(fd: 1, entries.map { "\($0.kind.rawValue)  \(f($0.name))  \(f($0.objectId))\($0.clientId.map { "  client \(f($0))" } ?? "")\($0.enabled ? "" : "  (disabled)")\n" }.joined())
    }
}

/// A change to one user or application, named by object id, client id or name.
protocol PrincipalChange: ParsableCommand {
    var vault: VaultOptions { get }
    var principal: String { get }
    static func change(_ admin: any VaultAdministration, _ key: String) async throws -> DirectoryEntry
}

extension PrincipalChange {
    func run() throws {
        let e = try vault.withVault(unseal: true) { [principal] in try await Self.change($0, principal) }
        if vault.output == .json { VaultJSON.print(e.json) }
    }
}

struct PrincipalDisable: PrincipalChange {
    static let configuration = CommandConfiguration(commandName: "disable", abstract: "Stop a user or application signing in (its tokens stop working).")
    @OptionGroup var vault: VaultOptions
    @Argument var principal: String
    static func change(_ admin: any VaultAdministration, _ key: String) async throws -> DirectoryEntry {
        try await admin.setPrincipalEnabled(key, enabled: false)
    }
}

struct PrincipalEnable: PrincipalChange {
    static let configuration = CommandConfiguration(commandName: "enable", abstract: "Let a disabled user or application sign in again.")
    @OptionGroup var vault: VaultOptions
    @Argument var principal: String
    static func change(_ admin: any VaultAdministration, _ key: String) async throws -> DirectoryEntry {
        try await admin.setPrincipalEnabled(key, enabled: true)
    }
}

struct PrincipalDelete: PrincipalChange {
    static let configuration = CommandConfiguration(commandName: "delete", abstract: "Remove a user or application with its certificates and role assignments.")
    @OptionGroup var vault: VaultOptions
    @Argument var principal: String
    static func change(_ admin: any VaultAdministration, _ key: String) async throws -> DirectoryEntry {
        try await admin.removePrincipal(key)
    }
}

struct RoleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "role", abstract: "Roles and role assignments (deny by default).",
                                                    subcommands: [RoleList.self, RoleCreate.self, RoleAssign.self, RoleAssignments.self, RoleUnassign.self])
}

struct RoleList: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "Built-in and custom roles with their data actions.")
    @OptionGroup var vault: VaultOptions
    func run() throws {
        let roles = try vault.withVault(unseal: false) { try await $0.roles() }
        if vault.output == .json {
            VaultJSON.print(.array(roles.map(\.json)))
            return
        }
        IO.write(fd: 1, roles.map { "\($0.name)  \($0.id)\n    " + $0.dataActions.joined(separator: "\n    ") + "\n" }.joined())
    }
}

struct RoleCreate: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "create", abstract: "A custom role from data actions (`*` wildcards).")
    @OptionGroup var vault: VaultOptions
    @Option var name: String
    @Option(name: .customLong("data-action")) var dataActions: [String] = []
    @Option(name: .customLong("not-data-action")) var notDataActions: [String] = []
    func run() throws {
        let r = try vault.withVault(unseal: true) { [name, dataActions, notDataActions] in
            try await $0.createRole(name: name, dataActions: dataActions, notDataActions: notDataActions)
        }
        if vault.output == .json { VaultJSON.print(r.json) } else {
            IO.write(fd: 1, "Created role \(r.name) (\(r.id)).\n")
        }
    }
}

struct RoleAssign: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "assign", abstract: "Give a role at a scope: /, /secrets/NAME or /secrets/PREFIX*.")
    @OptionGroup var vault: VaultOptions
    @Option(help: "Role name or id, e.g. \"Key Vault Secrets User\".") var role: String
    @Option(help: "Object id (or client id, or name) of the user or application.") var assignee: String
    @Option(help: "/, /secrets/NAME or /secrets/PREFIX*.") var scope: String = "/"
    func run() throws {
        let a = try vault.withVault(unseal: true) { [role, assignee, scope] in try await $0.assignRole(role, to: assignee, scope: scope) }
        if vault.output == .json { VaultJSON.print(a.json) } else {
            IO.write(fd: 1, "Assigned \(role) to \(assignee) at \(a.scope) (assignment \(a.id)).\n")
        }
    }
}

struct RoleAssignments: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "assignments", abstract: "List role assignments.")
    @OptionGroup var vault: VaultOptions
    func run() throws {
        let (list, roles) = try vault.withVault(unseal: false) { admin in (try await admin.assignments(), try await admin.roles()) }
        let names = Dictionary(roles.map { ($0.id, $0.name) }, uniquingKeysWith: { a, _ in a })
        if vault.output == .json {
            VaultJSON.print(.array(list.map { a in
                guard case .object(let fields) = a.json else { return a.json }
                return .object(fields + [("role", .string(names[a.roleId] ?? a.roleId))])
            }))
            return
        }
        IO.write(fd: 1, list.map { "\($0.id)  \(names[$0.roleId] ?? $0.roleId)  \($0.principalId)  \($0.scope)\n" }.joined())
    }
}

struct RoleUnassign: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "unassign", abstract: "Remove a role assignment by id.")
    @OptionGroup var vault: VaultOptions
    @Argument var id: String
    func run() throws {
        try vault.withVault(unseal: true) { [id] in try await $0.removeAssignment(id) }
    }
}

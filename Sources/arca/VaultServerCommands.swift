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
    @Flag(help: "Development: initialise and unseal the vault if needed, make a local CA and server certificate, an administrator application, and write dev.json into the vault's folder.")
    var dev = false

    func run() throws {
        let parts = listen.split(separator: ":")
        guard parts.count == 2, let port = Int(parts[1]), (0...65535).contains(port) else {
            throw CLIError(code: Exit.usage, message: "arca: --listen takes HOST:PORT")
        }
        let host = String(parts[0])
        let dir = vault.directory
        let v = try vaultCall { try Vault(directory: dir, authorization: .rbac, create: dev) }
        if dev, !v.isInitialized {
            _ = try vaultCall { try v.initialize(.keyFile(path: dir + "/dev-master.key"), caller: vault.caller, source: "embedded") }
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
        let options = ServerOptions(host: host, port: port, tlsCert: cert, tlsKey: key, vaultURL: vaultURL, resource: resource)
        let caller = vault.caller
        let devMode = dev
        let ca = caCert
        try blocking {
            let server = try await VaultServer(vault: v, options: options)
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
        if let existing = try v.principals.find(name) {
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
        let path = v.directory + "/dev.json"
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

extension VaultOptions {
    /// The vault unsealed for a directory change, and the entry named by `key` (object id, client id or name).
    func principal(_ key: String, in v: Vault) throws -> DirectoryEntry {
        guard let e = try vaultCall({ try v.principals.find(key) }) else {
            throw CLIError(code: VaultExit.notFound, message: "arca: no user or application '\(key)'")
        }
        return e
    }

    func tenantId(_ v: Vault) -> String? {
        (try? v.sealedValue("tenant-id") { Array(UUID().uuidString.lowercased().utf8) }).map { String(decoding: $0, as: UTF8.self) }
    }
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
        let v = try vault.open()
        let e = try vaultCall { try v.createUser(name: name, password: password, caller: vault.caller, source: "embedded") }
        if vault.output == .json {
            VaultJSON.print(.object([("objectId", .string(e.objectId)), ("name", .string(e.name))]))
        } else {
            IO.write(fd: 1, "Created user \(e.name), object id \(e.objectId).\n")
        }
    }
}

struct AppCreate: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "create", abstract: "Add an application; prints its client id and, once, its client secret.")
    @OptionGroup var vault: VaultOptions
    @Argument var name: String

    func run() throws {
        let v = try vault.open()
        let (e, secret) = try vaultCall { try v.createApp(name: name, caller: vault.caller, source: "embedded") }
        let tenant = vault.tenantId(v)
        if vault.output == .json {
            VaultJSON.print(.object([("objectId", .string(e.objectId)), ("clientId", .string(e.clientId ?? "")),
                                     ("clientSecret", .string(secret)), ("tenantId", tenant.map(JSONValue.string) ?? .null)]))
        } else {
            IO.write(fd: 1, """
                Created application \(e.name).
                  object id:     \(e.objectId)   (give roles to this: arca vault role assign --assignee)
                  client id:     \(e.clientId ?? "")   (AZURE_CLIENT_ID)
                  tenant id:     \(tenant ?? "-")   (AZURE_TENANT_ID)
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
        let v = try vault.open()
        let e = try vault.principal(app, in: v)
        let secret = try vaultCall { try v.resetAppSecret(objectId: e.objectId, caller: vault.caller, source: "embedded") }
        if vault.output == .json { VaultJSON.print(.object([("clientId", .string(e.clientId ?? "")), ("clientSecret", .string(secret))])) } else {
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
        let v = try vault.open()
        let e = try vault.principal(app, in: v)
        let c = try vaultCall { try v.addAppCertificate(objectId: e.objectId, der: Array(der), caller: vault.caller, source: "embedded") }
        if vault.output == .json { VaultJSON.print(.object([("x5t", .string(c.thumbprintSHA1)), ("x5t#S256", .string(c.thumbprintSHA256))])) } else {
            IO.write(fd: 1, "Registered the certificate for \(e.name) (x5t \(c.thumbprintSHA1)).\n")
        }
    }
}

struct PrincipalList: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List people and applications.")
    @OptionGroup var vault: VaultOptions

    func run() throws {
        let v = try vaultCall { try Vault(directory: vault.directory) }
        let entries = try vaultCall { try v.principals.entries() }
        if vault.output == .json {
            VaultJSON.print(.array(entries.map {
                .object([("objectId", .string($0.objectId)), ("kind", .string($0.kind.rawValue)), ("name", .string($0.name)),
                         ("clientId", $0.clientId.map(JSONValue.string) ?? .null), ("enabled", .bool($0.enabled))])
            }))
            return
        }
        IO.write(fd: 1, entries.map { "\($0.kind.rawValue)  \($0.name)  \($0.objectId)\($0.clientId.map { "  client \($0)" } ?? "")\($0.enabled ? "" : "  (disabled)")\n" }.joined())
    }
}

/// A change to one user or application, named by object id, client id or name.
protocol PrincipalChange: ParsableCommand {
    var vault: VaultOptions { get }
    var principal: String { get }
    func change(_ v: Vault, _ entry: DirectoryEntry) throws
}

extension PrincipalChange {
    func run() throws {
        let v = try vault.open()
        let entry = try vault.principal(principal, in: v)
        try vaultCall { try change(v, entry) }
    }
}

struct PrincipalDisable: PrincipalChange {
    static let configuration = CommandConfiguration(commandName: "disable", abstract: "Stop a user or application signing in (its tokens stop working).")
    @OptionGroup var vault: VaultOptions
    @Argument var principal: String
    func change(_ v: Vault, _ e: DirectoryEntry) throws {
        try v.setPrincipalEnabled(objectId: e.objectId, enabled: false, caller: vault.caller, source: "embedded")
    }
}

struct PrincipalEnable: PrincipalChange {
    static let configuration = CommandConfiguration(commandName: "enable", abstract: "Let a disabled user or application sign in again.")
    @OptionGroup var vault: VaultOptions
    @Argument var principal: String
    func change(_ v: Vault, _ e: DirectoryEntry) throws {
        try v.setPrincipalEnabled(objectId: e.objectId, enabled: true, caller: vault.caller, source: "embedded")
    }
}

struct PrincipalDelete: PrincipalChange {
    static let configuration = CommandConfiguration(commandName: "delete", abstract: "Remove a user or application with its certificates and role assignments.")
    @OptionGroup var vault: VaultOptions
    @Argument var principal: String
    func change(_ v: Vault, _ e: DirectoryEntry) throws {
        try v.removePrincipal(objectId: e.objectId, caller: vault.caller, source: "embedded")
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
        let v = try vaultCall { try Vault(directory: vault.directory) }
        let roles = try vaultCall { try v.principals.roles() }
        if vault.output == .json {
            VaultJSON.print(.array(roles.map {
                .object([("id", .string($0.id)), ("name", .string($0.name)), ("builtIn", .bool($0.builtIn)),
                         ("dataActions", .array($0.dataActions.map(JSONValue.string))),
                         ("notDataActions", .array($0.notDataActions.map(JSONValue.string)))])
            }))
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
        let v = try vault.open()
        let r = try vaultCall { try v.createRole(name: name, dataActions: dataActions, notDataActions: notDataActions, caller: vault.caller, source: "embedded") }
        if vault.output == .json { VaultJSON.print(.object([("id", .string(r.id)), ("name", .string(r.name))])) } else {
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
        let v = try vault.open()
        guard let r = try vaultCall({ try v.principals.role(role) }) else {
            throw CLIError(code: VaultExit.notFound, message: "arca: no role '\(role)' (see `arca vault role list`)")
        }
        let e = try vault.principal(assignee, in: v)
        let a = try vaultCall { try v.assignRole(roleId: r.id, principalId: e.objectId, scope: scope, caller: vault.caller, source: "embedded") }
        if vault.output == .json {
            VaultJSON.print(.object([("id", .string(a.id)), ("role", .string(r.name)), ("principalId", .string(a.principalId)), ("scope", .string(a.scope))]))
        } else {
            IO.write(fd: 1, "Assigned \(r.name) to \(e.name) at \(a.scope) (assignment \(a.id)).\n")
        }
    }
}

struct RoleAssignments: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "assignments", abstract: "List role assignments.")
    @OptionGroup var vault: VaultOptions
    func run() throws {
        let v = try vaultCall { try Vault(directory: vault.directory) }
        let list = try vaultCall { try v.principals.assignments() }
        let roles = Dictionary(try vaultCall { try v.principals.roles() }.map { ($0.id, $0.name) }, uniquingKeysWith: { a, _ in a })
        if vault.output == .json {
            VaultJSON.print(.array(list.map {
                .object([("id", .string($0.id)), ("role", .string(roles[$0.roleId] ?? $0.roleId)), ("principalId", .string($0.principalId)), ("scope", .string($0.scope))])
            }))
            return
        }
        IO.write(fd: 1, list.map { "\($0.id)  \(roles[$0.roleId] ?? $0.roleId)  \($0.principalId)  \($0.scope)\n" }.joined())
    }
}

struct RoleUnassign: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "unassign", abstract: "Remove a role assignment by id.")
    @OptionGroup var vault: VaultOptions
    @Argument var id: String
    func run() throws {
        let v = try vault.open()
        try vaultCall { try v.removeAssignment(id: id, caller: vault.caller, source: "embedded") }
    }
}

import ArcaJSON
import ArcaReport
import ArcaServer
import ArcaVault
import ArcaVaultRemote
import ArgumentParser
import Dispatch
import Foundation

/// Exit codes of `arca vault …` (documented in docs/vault.md).
enum VaultExit {
    static let problem: Int32 = 1  // audit verify found tampering
    static let notFound: Int32 = 4
    static let denied: Int32 = 5  // wrong credential, or not allowed
    static let sealed: Int32 = 6  // sealed or not initialised
    static let conflict: Int32 = 7
    static let unreachable: Int32 = 8  // a server that cannot be reached (connection, DNS, TLS)

    static func error(_ e: VaultError) -> CLIError {
        let code: Int32
        if case .unreachable = e { return CLIError(code: unreachable, message: "arca: \(e.description)") }
        if case .unavailable = e { return CLIError(code: Exit.runtime, message: "arca: \(e.description)") }
        switch e.httpStatus {
        case 400: code = Exit.usage
        case 401, 403: code = denied
        case 404: code = notFound
        case 409: code = conflict
        case 503: code = sealed
        default: code = Exit.runtime
        }
        return CLIError(code: code, message: "arca: \(e.description)")
    }
}

enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case text, json
}

/// Options every `arca vault` command takes.
struct VaultOptions: ParsableArguments {
    @Option(name: .customLong("vault-dir"), help: "The vault's folder (default: $ARCA_VAULT_DIR, else ~/.local/share/arca/vault).")
    var vaultDir: String?

    @Option(name: .customLong("output"), help: "text or json.")
    var output: OutputFormat = .text

    @Option(name: .customLong("passphrase-file"), help: "Read the passphrase from this file (else $ARCA_VAULT_PASSPHRASE, else a prompt).")
    var passphraseFile: String?

    @Option(name: .customLong("key-file"), help: "The master key file (key-file seal; default: the file named at init).")
    var keyFile: String?

    @Option(name: .customLong("share-file"), help: "Shamir shares, one per line (else $ARCA_VAULT_SHARES, comma-separated, else prompts).")
    var shareFile: String?

    @Option(name: .customLong("pkcs11-pin-file"), help: "The token PIN (PKCS#11 seal; default: the file named at init).")
    var pkcs11PinFile: String?

    @Option(name: .customLong("vault"), help: "A vault server's URL (https://…): sign in with AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET.")
    var remoteURL: String?

    @Option(name: .customLong("ca-cert"), help: "Trust this CA (PEM) for the server (else $ARCA_CA_CERT).")
    var caCert: String?

    @Option(name: .customLong("storage"), help: "Keep the vault's data in PostgreSQL: postgres://USER@HOST:PORT/DATABASE (password in $PGPASSWORD), shared by several servers (default: $ARCA_VAULT_STORAGE, else what the folder recorded, else the folder's vault.db).")
    var storage: String?

    var directory: String { vaultDir ?? Vault.defaultDirectory() }

    var caller: Principal {
        let user = getpwuid(getuid()).flatMap { String(validatingCString: $0.pointee.pw_name) } ?? String(getuid())
        return .localOperator(user: user)
    }

    /// Runs `body` with the vault's client: the server named by `--vault`, else the embedded vault (unsealed).
    func withClient<T: Sendable>(_ body: @escaping @Sendable (any VaultClient) async throws -> T) throws -> T {
        try withVault(unseal: true, body)
    }

    /// Runs `body` with the vault — the server named by `--vault` (signed in as the application in AZURE_*),
    /// else the embedded vault, unsealed first when `unseal` is set (reading state needs no credential).
    func withVault<T: Sendable>(unseal: Bool,
                                _ body: @escaping @Sendable (any VaultClient & VaultAdministration) async throws -> T) throws -> T {
        guard let url = remoteURL else {
            let v = unseal ? try open() : try openVault()
            let client = EmbeddedVaultClient(vault: v, caller: caller, source: "embedded")
            return try blocking { try await body(client) }
        }
        let env = ProcessInfo.processInfo.environment
        let remote = try vaultCall {
            try RemoteVaultClient(vaultURL: url, credentials: try RemoteVaultClient.Credentials.fromEnvironment(),
                                  caCert: caCert ?? env["ARCA_CA_CERT"].flatMap { $0.isEmpty ? nil : $0 })
        }
        return try blocking {
            do {
                let r = try await body(remote)
                await remote.shutdown()
                return r
            } catch {
                await remote.shutdown()
                throw error
            }
        }
    }

    /// Only `init` and `serve` act on the folder alone: a served vault is already initialised.
    func requireLocal(_ what: String) throws {
        if remoteURL != nil {
            throw CLIError(code: Exit.usage, message: "arca: `arca vault \(what)` works on the vault's folder (run it where the vault lives), not through --vault")
        }
    }

    /// Opens the vault and unseals it with whatever credential its seal needs.
    /// The vault is unsealed once per process: a command that calls it several times (`migrate`) asks for the
    /// passphrase or shares once.
    func open(explicitUnseal: Bool = false) throws -> Vault {
        try requireLocal("this command")
        if !explicitUnseal, let open = OpenVaults.shared.get(directory) { return open }
        let vault = try openVault()
        try vaultCall {
            try vault.unseal(try credential(for: vault), caller: caller, source: "embedded", explicit: explicitUnseal)
        }
        OpenVaults.shared.set(directory, vault)
        return vault
    }

    func credential(for vault: Vault) throws -> Vault.Credential {
        guard let config = try vaultCall({ try vault.sealConfig() }) else {
            throw VaultExit.error(.notInitialized("no vault in \(directory): create one with `arca vault init`"))
        }
        return try credential(kind: config.kind, config: config)
    }

    /// What opens a vault sealed with `kind`; `config` (the local vault's) supplies default file paths.
    func credential(kind: String, config: Vault.SealConfig?) throws -> Vault.Credential {
        switch kind {
        case "passphrase":
            return .passphrase(try passphrase(confirm: false))
        case "key-file":
            guard let path = keyFile ?? config?.keyFile else { throw CLIError(code: Exit.usage, message: "arca: give --key-file") }
            guard let content = IO.readFile(path) else {
                throw CLIError(code: VaultExit.sealed, message: "arca: cannot read the key file \(path)")
            }
            return .keyFile(Array(content.utf8))
        case "shamir":
            return .shares(try shares(threshold: config?.threshold ?? 2))
        case "pkcs11":
            guard let path = pkcs11PinFile ?? config?.pkcs11?.pinFile, let pin = IO.readFile(path) else {
                throw CLIError(code: VaultExit.sealed, message: "arca: cannot read the PKCS#11 PIN file (--pkcs11-pin-file)")
            }
            return .pkcs11(pin: Array(pin.trimmingCharacters(in: .newlines).utf8))
        default:
            throw CLIError(code: Exit.runtime, message: "arca: unknown seal '\(kind)'")
        }
    }

    func passphrase(confirm: Bool) throws -> String {
        if let f = passphraseFile {
            guard let text = IO.readFile(f) else { throw CLIError(code: Exit.usage, message: "arca: cannot read \(f)") }
            return text.trimmingCharacters(in: .newlines)
        }
        if let env = ProcessInfo.processInfo.environment["ARCA_VAULT_PASSPHRASE"], !env.isEmpty { return env }
        guard isatty(0) != 0 else {
            throw CLIError(code: VaultExit.sealed, message: "arca: the vault needs its passphrase: set ARCA_VAULT_PASSPHRASE or give --passphrase-file")
        }
        let first = Prompt.secret("Vault passphrase: ")
        if confirm, Prompt.secret("Again: ") != first {
            throw CLIError(code: Exit.usage, message: "arca: the passphrases differ")
        }
        return first
    }

    func shares(threshold: Int) throws -> [String] {
        if let f = shareFile {
            guard let text = IO.readFile(f) else { throw CLIError(code: Exit.usage, message: "arca: cannot read \(f)") }
            return text.split(whereSeparator: \.isNewline).map(String.init).filter { !$0.isEmpty }
        }
        if let env = ProcessInfo.processInfo.environment["ARCA_VAULT_SHARES"], !env.isEmpty {
            return env.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        }
        guard isatty(0) != 0 else {
            throw CLIError(code: VaultExit.sealed, message: "arca: the vault needs \(threshold) shares: give --share-file or ARCA_VAULT_SHARES")
        }
        return (1...threshold).map { Prompt.secret("Share \($0) of \(threshold): ") }
    }
}

/// Reading a secret from the terminal without echo.
enum Prompt {
    static func secret(_ label: String) -> String {
        IO.write(fd: 2, label)
        var old = termios()
        tcgetattr(0, &old)
        var quiet = old
        quiet.c_lflag &= ~tcflag_t(ECHO)
        tcsetattr(0, TCSANOW, &quiet)
        defer {
            tcsetattr(0, TCSANOW, &old)
            IO.write(fd: 2, "\n")
        }
        return readLine(strippingNewline: true) ?? ""
    }
}

/// Runs a vault call, turning its errors into exit codes and messages.
func vaultCall<T>(_ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let e as VaultError {
        throw VaultExit.error(e)
    }
}

/// The vaults this process has unsealed, by folder.
final class OpenVaults: @unchecked Sendable {
    static let shared = OpenVaults()
    private let lock = NSLock()
    private var vaults: [String: Vault] = [:]
    func get(_ directory: String) -> Vault? { lock.withLock { vaults[directory] } }
    func set(_ directory: String, _ vault: Vault) { lock.withLock { vaults[directory] = vault } }
}

/// Waits for an async call from the synchronous command (the embedded client does no real waiting).
final class ResultBox<T>: @unchecked Sendable {
    var result: Result<T, any Error>?
}

func blocking<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
    let box = ResultBox<T>()
    let done = DispatchSemaphore(value: 0)
    Task {
        do { box.result = .success(try await body()) } catch { box.result = .failure(error) }
        done.signal()
    }
    done.wait()
    return try vaultCall { try box.result!.get() }
}

/// JSON output (stable key order).
enum VaultJSON {
    static func properties(_ p: SecretProperties, value: String? = nil) -> JSONValue {
        var o: [(String, JSONValue)] = [("name", .string(p.name)), ("version", .string(p.version))]
        if let value { o.append(("value", .string(value))) }
        if let c = p.contentType { o.append(("contentType", .string(c))) }
        o.append(("tags", .object(p.tags.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) })))
        o.append(("attributes", p.attributes.json))
        return .object(o)
    }

    static func deleted(_ d: DeletedSecret) -> JSONValue {
        guard case .object(var o) = properties(d.properties) else { return .null }
        o += [("deletedDate", .int(Int(d.deletedDate))), ("scheduledPurgeDate", .int(Int(d.scheduledPurgeDate)))]
        return .object(o)
    }

    static func print(_ v: JSONValue) { IO.write(fd: 1, v.serialized(pretty: true) + "\n") }
}

/// Dates given as Unix seconds or ISO 8601 (`2027-01-31` or `2027-01-31T12:00:00Z`).
func parseTime(_ text: String) throws -> Int64 {
    if let n = Int64(text) { return n }
    if let d = try? Date(text, strategy: .iso8601) { return Int64(d.timeIntervalSince1970) }
    if let d = try? Date(text + "T00:00:00Z", strategy: .iso8601) { return Int64(d.timeIntervalSince1970) }
    throw CLIError(code: Exit.usage, message: "arca: '\(text)' is not a time (Unix seconds or ISO 8601)")
}

func formatTime(_ t: Int64) -> String {
    Date(timeIntervalSince1970: TimeInterval(t)).formatted(Date.ISO8601FormatStyle())
}

struct VaultCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vault",
        abstract: "The bundled vault: sealed, encrypted, audited storage for secrets.",
        subcommands: [VaultInit.self, VaultUnseal.self, VaultSeal.self, VaultStatus.self, VaultRekey.self,
                      SecretCommand.self, AuditCommand.self, VaultServe.self, UserCommand.self, AppCommand.self,
                      RoleCommand.self, VaultBackup.self, VaultWriteLoad.self])
}

/// `arca vault backup -o FILE`: a consistent copy of the vault file, mode 0600, as sealed as the original.
struct VaultBackup: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup", abstract: "Write a consistent copy of the vault file (mode 0600; as sealed as the original).")
    @OptionGroup var vault: VaultOptions
    @Option(name: [.customShort("o"), .customLong("output-file")], help: "The copy to write.") var file: String

    func run() throws {
        guard vault.remoteURL == nil else {
            throw CLIError(code: Exit.usage, message: "arca: backup acts on the vault's folder (run it where the vault file is)")
        }
        guard file != "-", !file.isEmpty else {
            // A vault file is binary and must land whole and 0600: never on a terminal or a pipe.
            throw CLIError(code: Exit.usage, message: "arca: backup writes a file (-o PATH), not standard output")
        }
        let v = try vault.openVault()
        try vaultCall { try v.backup(to: file, caller: vault.caller, source: "embedded") }
        if vault.output == .json { VaultJSON.print(.object([("backup", .string(file))])) } else {
            IO.write(fd: 1, "Backed up \(vault.directory)/\(Vault.fileName) to \(file).\n")
        }
    }
}

/// For the durability test: writes versions as fast as it can and prints each one after its commit returned
/// (`NAME VERSION VALUE`), until killed.
struct VaultWriteLoad: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "debug-write-load", shouldDisplay: false)
    @OptionGroup var vault: VaultOptions
    @Option var count: Int = 1_000_000

    func run() throws {
        for i in 0..<count {
            let name = "load-\(i % 7)", value = "value-\(i)"
            let b = try vault.withClient { client in try await client.setSecret(name, value: value, options: .init()) }
            IO.write(fd: 1, "\(name) \(b.properties.version) \(value)\n")
        }
    }
}

enum SealChoice: String, ExpressibleByArgument, CaseIterable {
    case passphrase
    case keyFile = "key-file"
    case shamir
    case pkcs11
}

struct VaultInit: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init", abstract: "Create a vault and seal its keyring.")

    @OptionGroup var vault: VaultOptions

    @Option(help: "passphrase, key-file, shamir or pkcs11.")
    var seal: SealChoice = .passphrase

    @Option(help: "Shamir: how many shares to print.")
    var shares: Int = 5

    @Option(help: "Shamir: how many shares open the vault.")
    var threshold: Int = 3

    @Option(name: .customLong("pkcs11-module"), help: "PKCS#11: the module (e.g. /usr/lib/softhsm/libsofthsm2.so).")
    var pkcs11Module: String?

    @Option(name: .customLong("pkcs11-token-label"), help: "PKCS#11: the token's label.")
    var pkcs11TokenLabel: String?

    @Option(name: .customLong("pkcs11-key-label"), help: "PKCS#11: the wrapping key's label (made if missing).")
    var pkcs11KeyLabel: String = "arca-vault-wrap"

    @Option(name: .customLong("retention-days"), help: "Days a deleted secret stays recoverable (7-90).")
    var retentionDays: Int = 90

    @Flag(name: .customLong("allow-in-repository"), help: "Allow a vault folder inside a git work tree.")
    var allowInRepository = false

    func run() throws {
        if let url = vault.remoteURL {
            // A served vault is initialised before it is served (or by `serve --dev`): answer as a second init would.
            let status = try vault.withVault(unseal: false) { try await $0.status() }
            throw VaultExit.error(.alreadyInitialized("the vault at \(url) is already initialised (seal: \(status.seal ?? "-"))"))
        }
        let dir = vault.directory
        if !allowInRepository, let repo = Vault.enclosingRepository(of: dir) {
            throw CLIError(code: Exit.usage, message: "arca: \(dir) is inside the git repository \(repo); a vault never belongs in a repository (choose --vault-dir elsewhere, or --allow-in-repository)")
        }
        let setup: Vault.SealSetup
        switch seal {
        case .passphrase:
            setup = .passphrase(try vault.passphrase(confirm: true))
        case .keyFile:
            setup = .keyFile(path: vault.keyFile ?? (dir + "/master.key"))
        case .shamir:
            setup = .shamir(shares: shares, threshold: threshold)
        case .pkcs11:
            guard let module = pkcs11Module, let label = pkcs11TokenLabel, let pinFile = vault.pkcs11PinFile else {
                throw CLIError(code: Exit.usage, message: "arca: --seal pkcs11 needs --pkcs11-module, --pkcs11-token-label and --pkcs11-pin-file")
            }
            guard let pin = IO.readFile(pinFile) else { throw CLIError(code: Exit.usage, message: "arca: cannot read \(pinFile)") }
            let absolutePin = URL(fileURLWithPath: pinFile).standardizedFileURL.path
            setup = .pkcs11(.init(module: module, tokenLabel: label, pinFile: absolutePin, keyLabel: pkcs11KeyLabel),
                            pin: Array(pin.trimmingCharacters(in: .newlines).utf8))
        }
        if seal == .keyFile, vault.keyFile == nil {
            IO.write(fd: 2, "arca: note: the key file is written beside the vault; move it elsewhere (and give --key-file) for real protection\n")
        }
        let v = try vault.openVault(create: true)
        let r = try vaultCall { try v.initialize(setup, retentionDays: retentionDays, caller: vault.caller, source: "embedded") }
        try vault.recordInitialized(v)
        if vault.output == .json {
            var o: [(String, JSONValue)] = [("vaultDir", .string(dir)), ("seal", .string(r.seal))]
            if !r.shares.isEmpty {
                o += [("shares", .array(r.shares.map(JSONValue.string))), ("threshold", .int(r.threshold ?? 0))]
            }
            if let k = r.keyFile { o.append(("keyFile", .string(k))) }
            o.append(("auditPublicKey", .string(r.auditPublicKey)))
            VaultJSON.print(.object(o))
            return
        }
        var text = "Initialised the vault in \(dir) (seal: \(r.seal)).\n"
        if let k = r.keyFile { text += "Master key file: \(k) (keep it away from the vault and from any repository).\n" }
        if !r.shares.isEmpty {
            text += "\nUnseal shares: any \(r.threshold ?? 0) of these \(r.shares.count) open the vault. They are shown once and\n"
            text += "stored nowhere: hand each to a different person.\n\n"
            for (i, s) in r.shares.enumerated() { text += "  share \(i + 1): \(s)\n" }
            text += "\n"
        }
        text += "Audit public key: \(r.auditPublicKey)\n"
        text += "Keep it outside the vault: `arca vault audit verify --key` checks exports against it.\n"
        IO.write(fd: 1, text)
    }
}

struct VaultUnseal: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "unseal", abstract: "Check the credential opens the vault and lift an operator's seal (on a server: open its keyring again).")
    @OptionGroup var vault: VaultOptions

    func run() throws {
        let credential: Vault.Credential
        if vault.remoteURL != nil {
            let status = try vault.withVault(unseal: false) { try await $0.status() }
            credential = try vault.credential(kind: status.seal ?? "", config: nil)
        } else {
            credential = try vault.credential(for: try vault.openVault())
        }
        try vault.withVault(unseal: false) { try await $0.unseal(credential) }
        if vault.output == .json { VaultJSON.print(.object([("sealed", .bool(false))])) } else {
            IO.write(fd: 1, "The vault \(vault.remoteURL ?? "in " + vault.directory) is unsealed.\n")
        }
    }
}

struct VaultSeal: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "seal", abstract: "Seal the vault: nothing is served until `arca vault unseal`.")
    @OptionGroup var vault: VaultOptions

    func run() throws {
        try vault.withVault(unseal: false) { try await $0.seal() }
        if vault.output == .json { VaultJSON.print(.object([("sealed", .bool(true))])) } else {
            IO.write(fd: 1, "The vault \(vault.remoteURL ?? "in " + vault.directory) is sealed; `arca vault unseal` opens it again.\n")
        }
    }
}

struct VaultStatus: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "Show the vault's state.")
    @OptionGroup var vault: VaultOptions

    func run() throws {
        let s = try vault.withVault(unseal: false) { try await $0.status() }
        if vault.output == .json {
            VaultJSON.print(s.json)
            return
        }
        IO.write(fd: 1, """
            Vault:           \(vault.remoteURL ?? s.directory)
            Seal:            \(s.seal ?? "-")\(s.operatorSealed ? " (sealed by an operator)" : "")\(vault.remoteURL == nil ? "" : "\nServing:         " + (s.unsealed ? "yes" : "no, the server is sealed (`arca vault unseal --vault URL`)"))
            Secrets:         \(s.secrets) (\(s.deletedSecrets) deleted, \(s.versions) versions)
            Audit records:   \(s.auditRecords)
            Audit key:       \(s.auditPublicKey ?? "-")
            Retention:       \(s.retentionDays) days

            """)
    }
}

struct VaultRekey: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rekey", abstract: "Rotate the keyring: a new key, every value re-encrypted under it.")
    @OptionGroup var vault: VaultOptions

    func run() throws {
        let (term, n) = try vault.withVault(unseal: true) { try await $0.rekey() }
        if vault.output == .json {
            VaultJSON.print(.object([("term", .int(Int(term))), ("reencrypted", .int(n))]))
        } else {
            IO.write(fd: 1, "Keyring rotated to term \(term); \(n) stored values re-encrypted.\n")
        }
    }
}

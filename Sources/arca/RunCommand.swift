import ArcaMigrate
import ArcaVault
import ArgumentParser
import Foundation

/// `arca run -- COMMAND`: the command starts with every Key Vault reference in its environment (and in the
/// given .env files) replaced by the secret from the vault. Values live only in the child's environment.
struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a command with the vault references in its environment resolved.",
        discussion: """
            Variables whose value is a Key Vault reference — @Microsoft.KeyVault(SecretName=NAME), with VaultName= and
            SecretVersion= if you like, or @Microsoft.KeyVault(SecretUri=https://vault/secrets/NAME[/VERSION]) — get the
            secret's value. .env files named with --env-file are read first (the environment wins, as with dotenv).
            The command's exit code is arca's; a secret that cannot be read stops before the command starts.
            """)

    @Option(name: .customLong("env-file"), help: "Load these .env files (repeatable; later files win).") var envFiles: [String] = []
    @OptionGroup var vault: VaultOptions
    @Argument(parsing: .captureForPassthrough, help: "The command and its arguments (after --).") var command: [String] = []

    func run() throws {
        var args = command
        // `arca run --help` (before any `--`) is a question for arca, not a command to run.
        if let first = args.first, ["--help", "-h", "help"].contains(first) { throw CleanExit.helpRequest(self) }
        if args.first == "--" { args.removeFirst() }
        guard let program = args.first else { throw CLIError(code: Exit.usage, message: "arca: give the command to run after --") }
        var environment: [String: String] = [:]
        for f in envFiles {
            guard let text = IO.readFile(f) else { throw CLIError(code: Exit.usage, message: "arca: cannot read \(f)") }
            environment.merge(EnvReads.parseDotenv(text)) { _, later in later }
        }
        environment.merge(ProcessInfo.processInfo.environment) { _, process in process }
        let references = environment.compactMapValues { KeyVaultReference.parseReference($0) }
        if !references.isEmpty {
            // Like the lookup helpers: ARCA_VAULT_URL names the server when --vault is not given.
            var vault = self.vault
            if vault.remoteURL == nil, vault.vaultDir == nil, let url = environment["ARCA_VAULT_URL"], !url.isEmpty { vault.remoteURL = url }
            // A reference that names a vault is read from that vault: the configured one when it is the same, the
            // one it names when none is configured, and never another one.
            for (variable, ref) in references.sorted(by: { $0.key < $1.key }) {
                guard let wanted = ref.vault else { continue }
                // Never a host only the reference names: a committed .env could then collect the application's
                // credentials (AZURE_CLIENT_SECRET goes to that host's token endpoint).
                if let configured = vault.remoteURL {
                    if !Self.sameVault(configured, wanted) {
                        throw CLIError(code: Exit.usage, message: "arca: \(variable) refers to the vault \(wanted), not \(configured); nothing was run (give --vault for the vault it names)")
                    }
                } else {
                    throw CLIError(code: Exit.usage, message: "arca: \(variable) refers to the vault \(wanted), not \(vault.remoteURL ?? "the embedded vault in " + vault.directory); nothing was run (give --vault for the vault it names)")
                }
            }
            let resolved = try vault.withClient { client in
                var out: [String: String] = [:]
                for (variable, ref) in references {
                    guard let value = try await client.getSecret(ref.name, version: ref.version).value else {
                        throw VaultError.notFound("the vault holds no value for \(ref.name) (\(variable))")
                    }
                    out[variable] = value
                }
                return out
            }
            environment.merge(resolved) { _, secret in secret }
        }
        // The child's environment is this process's, replaced: then exec (the command keeps arca's pid).
        clearenv()
        for (k, v) in environment { setenv(k, v, 1) }
        let argv = args.map { strdup($0) } + [nil]
        execvp(program, argv)
        throw CLIError(code: errno == ENOENT ? 127 : 126, message: "arca: cannot run \(program): \(String(cString: strerror(errno)))")
    }

    /// `https://host:port` and a VaultName (`name` is `name.vault.azure.net`, or the first label of the host).
    static func sameVault(_ configured: String, _ wanted: String) -> Bool {
        guard let c = URL(string: configured), let host = c.host?.lowercased() else { return false }
        if wanted.contains("://") {
            guard let w = URL(string: wanted), let wantedHost = w.host?.lowercased() else { return false }
            return wantedHost == host && (w.port ?? 443) == (c.port ?? 443)
        }
        let name = wanted.lowercased()
        return host == name || host.hasPrefix(name + ".")
    }
}

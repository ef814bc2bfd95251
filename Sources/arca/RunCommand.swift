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
        if args.first == "--" { args.removeFirst() }
        guard let program = args.first else { throw CLIError(code: Exit.usage, message: "arca: give the command to run after --") }
        var environment: [String: String] = [:]
        for f in envFiles {
            guard let text = IO.readFile(f) else { throw CLIError(code: Exit.usage, message: "arca: cannot read \(f)") }
            environment.merge(EnvReads.parseDotenv(text)) { _, later in later }
        }
        environment.merge(ProcessInfo.processInfo.environment) { _, process in process }
        let references = environment.compactMapValues { KeyVaultReference.parse($0) }
        if !references.isEmpty {
            // Like the lookup helpers: ARCA_VAULT_URL names the server when --vault is not given.
            var vault = self.vault
            if vault.remoteURL == nil, vault.vaultDir == nil, let url = environment["ARCA_VAULT_URL"], !url.isEmpty { vault.remoteURL = url }
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
}

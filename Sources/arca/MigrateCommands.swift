import ArcaJSON
import ArcaMigrate
import ArcaReport
import ArcaRules
import ArcaScan
import ArcaVault
import ArgumentParser
import Foundation

extension HelperStyle: ExpressibleByArgument {}

/// `arca migrate`: found secrets into the vault, code rewritten to look them up (dry run by default).
struct Migrate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Move found secrets into the vault and rewrite the code to look them up (a dry run unless --apply).",
        discussion: """
            Plans from a fresh scan of PATH (or the findings named in --from REPORT.json), prints the secrets with the
            names they get and the diff it would apply. With --apply: stores each secret in the vault and reads it back,
            then rewrites the files (all or none), rescans them, checks each still parses, and keeps a rollback record
            (no secret in it) for `arca migrate --rollback`.
            Exit codes: 0 done (or nothing to do), 2 bad usage or a dirty tree, 3 a step failed (nothing was left half-done),
            4-8 as `arca vault` (8: the vault server cannot be reached).
            """)

    @Argument(help: "The project to migrate.") var path: String = "."
    @Option(help: "Migrate only the findings of an earlier `arca scan --format json` report (matched by fingerprint).") var from: String?
    @Flag(help: "Write: store the secrets, rewrite the files.") var apply = false
    @Flag(help: "Do not ask for confirmation.") var yes = false
    @Option(help: "Only findings of this rule id, or under this path (repeatable).") var only: [String] = []
    @Flag(help: "Migrate even with uncommitted changes in the files it would rewrite.") var force = false
    @Flag(help: "Restore the files of the last migration (or migration ID) exactly, the secrets read back from the vault it stored them in.") var rollback = false
    @Flag(help: "Finish an interrupted migration or rollback (forward if every new text is complete, else back) and stop.") var recover = false
    @Flag(help: "Show secrets in full in the diff.") var noRedact = false
    @Flag(help: "Do not scan git history for the commits that still hold the migrated values.") var noHistory = false
    @Option(help: "Write the migration report (JSON, no secret values) to this file.") var report: String?
    @Flag(help: "Also turn reads of credentials from the environment into vault lookups (values from --env-file, then the environment).") var env = false
    @Option(name: .customLong("env-file"), help: "A .env file holding the values of the variables --env migrates (repeatable).") var envFiles: [String] = []
    @Option(help: "Lookup helpers: arca (standard library, any Key Vault API) or azure-sdk (the official Azure SDK where one exists).") var style: HelperStyle = .arca
    @OptionGroup var rules: RuleOptions
    @Option(help: ArgumentHelp("The project config (default: .arca.yaml at the repository root).", valueName: "FILE")) var config: String?
    @Flag(help: "Do not read .arca.yaml.") var noConfig = false
    @Option(help: "Migrate only findings at or above this confidence (low, medium, high; default medium, or the config's).") var minConfidence: Confidence?
    @OptionGroup var vault: VaultOptions

    /// Test hook (documented in docs/migrate.md): with ARCA_TEST_PAUSE=STEP (or STEP#N for its N-th time) and
    /// ARCA_TEST_PAUSE_FILE=PATH, `migrate` creates PATH when it reaches that step and waits (at most two
    /// minutes) until the file is removed, so a test can edit a file or kill the process at exactly that point.
    static func testPause(_ step: String) {
        let env = ProcessInfo.processInfo.environment
        guard let wanted = env["ARCA_TEST_PAUSE"], let file = env["ARCA_TEST_PAUSE_FILE"], !file.isEmpty else { return }
        let parts = wanted.split(separator: "#")
        guard parts.first.map(String.init) == step else { return }
        PauseCount.seen[step, default: 0] += 1
        guard PauseCount.seen[step] == (parts.count > 1 ? Int(parts[1]) ?? 1 : 1) else { return }
        _ = FileManager.default.createFile(atPath: file, contents: Data(step.utf8))
        let deadline = Date().addingTimeInterval(120)
        while FileManager.default.fileExists(atPath: file), Date() < deadline { usleep(5_000) }
    }

    @Flag(help: "List the migrations recorded for PATH (newest last) and stop.") var list = false
    @Argument(help: ArgumentHelp("With --rollback: the migration to undo (an id from --list, or its first characters; default the last).", valueName: "ID"))
    var record: String?

    func run() throws {
        var path = self.path
        var record = self.record
        var isDir: ObjCBool = false
        // `arca migrate --rollback ID`: the one argument is the record, the project the current folder.
        if rollback, record == nil, !(FileManager.default.fileExists(atPath: path, isDirectory: &isDir) && isDir.boolValue) {
            (record, path) = (path, ".")
        }
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue else {
            throw CLIError(code: Exit.usage, message: "arca: \(path) is not a folder")
        }
        if record != nil, !rollback { throw CLIError(code: Exit.usage, message: "arca: a migration id is given only with --rollback") }
        let root = IO.absolutePath(path)
        var migration = Migration(root: root)
        migration.pause = { Self.testPause($0) }
        migration.exchanges = ProcessInfo.processInfo.environment["ARCA_TEST_NO_EXCHANGE"] == nil
        if list {
            let text = try migrateCall { try Migrator(project: Project(root: root, files: []), migration: migration, settings: .init()).list() }
            IO.write(fd: 1, text)
            return
        }
        guard apply || rollback || recover else {
            // A dry run writes nothing, not even to finish an interrupted migration: it says how to.
            if migration.isBusy() {
                throw CLIError(code: Exit.usage, message: "arca: another arca migrate is working on \(path); nothing was written")
            }
            if let left = try migrateCall({ try migration.interrupted() }) {
                throw CLIError(code: Exit.usage, message: "arca: \(left) in \(migration.stateDirectory); nothing was written.\n"
                               + "Finish it with `arca migrate \(Self.shellQuoted(path)) --recover` (forward if every new text is complete, else back), then plan again.")
            }
            return try plan(root, path, migration)
        }
        try migrateCall { try migration.lock() }
        if let note = try migrateCall({ try migration.recover() }) { IO.write(fd: 2, "arca: \(note)\n") }
        if recover { return }
        if rollback { return try runRollback(migration, id: record) }
        try plan(root, path, migration)
    }

    static func shellQuoted(_ s: String) -> String {
        s.allSatisfy { $0.isLetter || $0.isNumber || "/._-".contains($0) } ? s : "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    /// Plans from a scan and, with --apply, stores, rewrites, verifies and reports (the work is the Migrator's).
    func plan(_ root: String, _ path: String, _ migration: Migration) throws {
        // The project's .arca.yaml decides as it does for scans: its rules, allowlist and limits.
        var flags = try ScanFlags.parse([root])
        flags.rules = rules
        flags.config = config
        flags.noConfig = noConfig
        flags.minConfidence = minConfidence
        flags.envUsage = env ? .credentials : EnvUsageMode.none
        let prepared = try flags.prepare()
        let ruleSet = prepared.ruleSet
        let scanner = ArcaScan.Scanner(rules: ruleSet, options: prepared.options)
        let scan = try flags.run(prepared)
        var settings = Migrator.Settings()
        settings.style = style
        settings.only = only
        settings.env = env ? try environmentValues() : nil
        settings.fingerprints = try from.map(Self.fingerprints)
        settings.noRedact = noRedact
        let migrator = Migrator(project: Project(root: root, files: scan.files), migration: migration, settings: settings)
        let vault = self.vault
        // A dry run unseals an embedded vault too (the names it already holds decide the plan's).
        let unseal = true
        let ruleIDs = Set(ruleSet.rules.map(\.id))
        let (plan, view) = try migrateCall {
            try migrator.plan(scan: scan, ruleIDs: ruleIDs) { names in
                do { return try vault.withVault(unseal: unseal) { await Migrator.view(of: names, in: $0) } } catch {
                    return Migrator.VaultView(problem: "\(error)".replacingOccurrences(of: "arca: ", with: ""))
                }
            }
        }
        IO.write(fd: 2, migrator.skipLines(plan))
        guard !plan.isEmpty else {
            IO.write(fd: 1, "Nothing to migrate in \(path).\n")
            return
        }
        IO.write(fd: 1, migrator.describe(plan, vaultName: vaultName, view: view))
        guard apply else {
            IO.write(fd: 1, "\nDry run: nothing was written. Run with --apply to store the secrets and rewrite the files.\n")
            return
        }
        let dirty = force ? [] : migrator.dirtyFiles(plan)
        guard dirty.isEmpty else {
            throw CLIError(code: Exit.usage, message: "arca: uncommitted changes in files migrate would rewrite (commit or stash them, or --force):\n"
                           + dirty.map { "  \($0)" }.joined(separator: "\n"))
        }
        if vault.remoteURL == nil {
            let dir = IO.absolutePath(vault.directory)
            if dir == root || dir.hasPrefix(root + "/") {
                throw CLIError(code: Exit.usage, message: "arca: the vault \(dir) is inside the project being migrated; keep it outside (--vault-dir, ARCA_VAULT_DIR) or use a server (--vault URL)")
            }
        }
        Self.testPause("confirm")
        if !yes {
            guard isatty(0) != 0 else { throw CLIError(code: Exit.usage, message: "arca: confirm with --yes (standard input is not a terminal)") }
            IO.write(fd: 2, "Store \(plan.secrets.count) secret(s) in \(vaultName) and rewrite \(plan.files.count) file(s)? [y/N] ")
            guard readLine()?.lowercased().hasPrefix("y") == true else { throw CLIError(code: Exit.usage, message: "arca: nothing done") }
        }
        let location = Migration.VaultLocation(url: vault.remoteURL, directory: vault.remoteURL == nil ? IO.absolutePath(vault.directory) : nil,
                                               caCert: vault.caCert.map(IO.absolutePath))
        let name = vaultName
        let history = !noHistory
        let outcome = try migrateCall {
            try vault.withVault(unseal: true) { client in
                try await migrator.apply(plan, client: client, vaultName: name, location: location, scanner: scanner,
                                         scratch: DetectorScratch(rules: ruleSet), history: history)
            }
        }
        IO.write(fd: 1, migrator.report(plan, outcome, vaultName: vaultName))
        if let report {
            guard IO.writeFile(report, migrator.reportJSON(plan, outcome, vaultName: vaultName).serialized(pretty: true) + "\n") else {
                throw CLIError(code: Exit.runtime, message: "arca: cannot write \(report)")
            }
        }
    }

    /// The values `--env` imports: the .env files (later files win), then this process's environment.
    func environmentValues() throws -> [String: String] {
        var values = ProcessInfo.processInfo.environment
        for f in envFiles {
            guard let text = IO.readFile(f) else { throw CLIError(code: Exit.usage, message: "arca: cannot read \(f)") }
            values.merge(EnvReads.parseDotenv(text)) { _, file in file }
        }
        return values.filter { KeyVaultReference.parse($0.value) == nil }
    }

    var vaultName: String { vault.remoteURL ?? "the vault in \(vault.directory)" }

    /// The fingerprints an earlier JSON report lists, with where it saw each.
    static func fingerprints(report: String) throws -> [String: (path: String, line: Int)] {
        guard let text = IO.readFile(report), let obj = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any],
              let list = obj["findings"] as? [[String: Any]] else {
            throw CLIError(code: Exit.usage, message: "arca: \(report) is not an `arca scan --format json` report")
        }
        var out: [String: (path: String, line: Int)] = [:]
        for f in list {
            guard let fp = f["fingerprint"] as? String else { continue }
            out[fp] = (f["path"] as? String ?? "?", (f["line"] as? NSNumber)?.intValue ?? 0)
        }
        return out
    }

    // MARK: Rollback

    /// Undoes the last applied migration (or `id`), reading the secrets back from the vault its record names
    /// unless --vault or --vault-dir says otherwise.
    func runRollback(_ migration: Migration, id: String?) throws {
        let force = self.force
        var vault = self.vault
        guard let target = try migrateCall({ try migration.toRollBack(id) }) else {
            throw CLIError(code: Exit.runtime, message: id.map { "arca: no applied migration \($0) in \(migration.stateDirectory) (arca migrate --list shows them)" }
                           ?? "arca: no migration to roll back in \(migration.stateDirectory)")
        }
        if vault.remoteURL == nil, vault.vaultDir == nil, let location = target.location {
            vault.remoteURL = location.url
            vault.vaultDir = location.directory
            if vault.caCert == nil { vault.caCert = location.caCert }
        }
        let record = try migrateCall { try vault.withVault(unseal: true) { try await migration.rollback(client: $0, id: id, force: force) } }
        IO.write(fd: 1, "Restored \(record.files.count) file(s) of migration \(record.id)\(record.helpers.isEmpty ? "" : " and removed the helpers it added"). The secrets stay in the vault.\n")
    }
}

/// How often each test-pause step was reached (one thread at a time: `migrate` runs its steps in order).
enum PauseCount {
    nonisolated(unsafe) static var seen: [String: Int] = [:]
}

func migrateCall<T>(_ body: () throws -> T) throws -> T {
    do { return try body() } catch let e as Migrator.Failure {
        throw CLIError(code: e.kind == .usage ? Exit.usage : Exit.runtime, message: e.message)
    } catch let e as Migration.Failure {
        if case .busy = e { throw CLIError(code: Exit.usage, message: "arca: \(e.description)") }
        throw CLIError(code: Exit.runtime, message: "arca: \(e.description)")
    }
}

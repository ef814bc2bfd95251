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
            4-7 as `arca vault`.
            """)

    @Argument(help: "The project to migrate.") var path: String = "."
    @Option(help: "Migrate only the findings of an earlier `arca scan --format json` report (matched by fingerprint).") var from: String?
    @Flag(help: "Write: store the secrets, rewrite the files.") var apply = false
    @Flag(help: "Do not ask for confirmation.") var yes = false
    @Option(help: "Only findings of this rule id, or under this path (repeatable).") var only: [String] = []
    @Flag(help: "Migrate even with uncommitted changes in the files it would rewrite.") var force = false
    @Flag(help: "Restore the files of the last migration exactly (secrets read back from the vault).") var rollback = false
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

    func run() throws {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue else {
            throw CLIError(code: Exit.usage, message: "arca: \(path) is not a folder")
        }
        let root = IO.absolutePath(path)
        var migration = Migration(root: root)
        migration.pause = { Self.testPause($0) }
        migration.exchanges = ProcessInfo.processInfo.environment["ARCA_TEST_NO_EXCHANGE"] == nil
        guard apply || rollback || recover else {
            // A dry run writes nothing, not even to finish an interrupted migration: it says how to.
            if migration.isBusy() {
                throw CLIError(code: Exit.usage, message: "arca: another arca migrate is working on \(path); nothing was written")
            }
            if let left = try migrateCall({ try migration.interrupted() }) {
                throw CLIError(code: Exit.usage, message: "arca: \(left) in \(migration.stateDirectory); nothing was written.\n"
                               + "Finish it with `arca migrate \(Self.shellQuoted(path)) --recover` (forward if every new text is complete, else back), then plan again.")
            }
            return try plan(root, migration)
        }
        try migrateCall { try migration.lock() }
        if let note = try migrateCall({ try migration.recover() }) { IO.write(fd: 2, "arca: \(note)\n") }
        if recover { return }
        if rollback { return try runRollback(migration) }
        try plan(root, migration)
    }

    static func shellQuoted(_ s: String) -> String {
        s.allSatisfy { $0.isLetter || $0.isNumber || "/._-".contains($0) } ? s : "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    /// Plans from a scan and, with --apply, stores, rewrites, verifies and reports.
    func plan(_ root: String, _ migration: Migration) throws {

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
        var findings: [Finding]
        do {
            let result = try flags.run(prepared)
            // A plan from an incomplete scan could leave a secret behind while saying it moved them all.
            if !result.errors.isEmpty {
                let redactor = Redactor(findings: result.findings)
                throw CLIError(code: Exit.runtime, message: redactor("arca: the scan is incomplete, so nothing is planned:\n"
                    + result.errors.map { "  \($0)" }.joined(separator: "\n")))
            }
            findings = result.findings
        }
        let scanned = findings
        findings = findings.filter { ($0.kind != .envUsage || env) && !Planner.helperNames.contains(($0.path as NSString).lastPathComponent) }
        if let from { findings = try Self.select(findings, report: from) }
        let ruleIDs = Set(ruleSet.rules.map(\.id))
        let onlyPaths = only.filter { !ruleIDs.contains($0) }
        if !only.isEmpty {
            findings = findings.filter { f in only.contains { f.ruleID == $0 || Planner.path(f.path, isUnder: $0) } }
        }
        let envValues = env ? try environmentValues() : nil
        var plan = Planner(root: root, paths: onlyPaths.isEmpty ? nil : onlyPaths, style: style).plan(findings, env: envValues)
        plan.redactor = Redactor(findings: scanned, values: plan.secrets.map(\.value))
        for s in plan.skipped { IO.write(fd: 2, redacted("arca: skipped \(s.path)\(s.line > 0 ? ":\(s.line)" : ""): \(s.reason)\n", plan)) }
        guard !plan.isEmpty else {
            IO.write(fd: 1, "Nothing to migrate in \(path).\n")
            return
        }
        // A name the vault already holds with another value gets a suffix.
        let names = plan.secrets.map(\.name)
        let taken: [String: String] = (try? vault.withVault(unseal: apply) { client in
            var out: [String: String] = [:]
            for n in names { if let b = try? await client.getSecret(n, version: nil), let v = b.value { out[n] = v } }
            return out
        }) ?? [:]
        if taken.contains(where: { name, value in plan.secrets.contains { $0.name == name && $0.value != value } }) {
            plan = Planner(root: root, existing: taken, paths: onlyPaths.isEmpty ? nil : onlyPaths, style: style).plan(findings, env: envValues)
            plan.redactor = Redactor(findings: scanned, values: plan.secrets.map(\.value))
        }
        // A file of the user's that has a helper's name would silently be taken for the helper.
        for h in plan.helpers {
            let existing = root + "/" + h.path
            if let data = FileManager.default.contents(atPath: existing),
               !String(decoding: data, as: UTF8.self).contains("arca migrate") {
                throw CLIError(code: Exit.usage, message: "arca: \(h.path) exists and is not Arca's lookup helper; "
                               + "rename it (migrate writes its helper under that name), then plan again; nothing was written")
            }
        }
        printPlan(plan)
        guard apply else {
            IO.write(fd: 1, "\nDry run: nothing was written. Run with --apply to store the secrets and rewrite the files.\n")
            return
        }
        try refuseDirty(root, plan.files.map(\.path))
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
        // Edited while it asked: refuse before storing anything (apply checks again before its commit point).
        try migrateCall { try migration.refuseChanged(plan) }
        // 1. Store and read back, before any file is touched.
        let source = URL(fileURLWithPath: root).lastPathComponent
        let frozen = plan
        let versions = try migrateCall { try vault.withVault(unseal: true) { try await Migration.store(frozen, in: $0, source: source, pause: { Self.testPause($0) }) } }
        Self.testPause("stored")
        // 2. Rewrite (all files or none; a file edited since the plan refuses all).
        let record = try migrateCall { try migration.apply(plan, versions: versions, vault: vaultName) }
        // 3. Verify: rescan, syntax; undo on failure.
        let verifier = Verifier(root: root)
        let left = verifier.leftovers(plan.files.map(\.path), values: Set(plan.secrets.map(\.value)), scanner: scanner,
                                      scratch: DetectorScratch(rules: ruleSet))
        let checks = verifier.syntax(plan.files, style: style)
        let failed = checks.filter { !$0.passed }
        if !left.isEmpty || !failed.isEmpty {
            _ = try migrateCall { try vault.withVault(unseal: true) { try await migration.rollback(client: $0) } }
            var why = left.map { "  \($0): a migrated secret is still there\n" }.joined()
            why += failed.map { "  \($0.path): \($0.tool ?? "") failed:\n\($0.output.split(separator: "\n").prefix(8).map { "    " + $0 }.joined(separator: "\n"))\n" }.joined()
            // A compiler quotes source lines: keep the migrated values out of what it says.
            throw CLIError(code: Exit.runtime, message: "arca: the rewritten files did not pass their checks, so they were restored:\n" + redacted(why, plan))
        }
        let history = noHistory ? [:] : historyCommits(root, plan, scanner: scanner)
        printReport(plan, versions: versions, checks: checks, history: history, record: record)
        if let report { try writeReport(report, plan, versions: versions, checks: checks, history: history, record: record) }
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

    /// The findings whose fingerprints an earlier JSON report lists.
    static func select(_ findings: [Finding], report: String) throws -> [Finding] {
        guard let text = IO.readFile(report), let obj = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any],
              let list = obj["findings"] as? [[String: Any]] else {
            throw CLIError(code: Exit.usage, message: "arca: \(report) is not an `arca scan --format json` report")
        }
        let wanted = Set(list.compactMap { $0["fingerprint"] as? String })
        return findings.filter { wanted.contains($0.fingerprint) }
    }

    func refuseDirty(_ root: String, _ paths: [String]) throws {
        guard !force, IO.gitTopLevel(root) != nil,
              let r = try? Verifier.capture("/usr/bin/env", ["git", "-C", root, "status", "--porcelain", "--"] + paths, errors: false),
              r.status == 0 else { return }
        let dirty = r.output.split(separator: "\n")
        guard dirty.isEmpty else {
            throw CLIError(code: Exit.usage, message: "arca: uncommitted changes in files migrate would rewrite (commit or stash them, or --force):\n"
                           + dirty.map { "  \($0)" }.joined(separator: "\n"))
        }
    }

    // MARK: Output

    /// `text` through the scan's one redaction point: every value the scan found (migrated or skipped) and every
    /// value the plan moves.
    func redacted(_ text: String, _ plan: Plan) -> String {
        noRedact ? text : plan.redactor(text)
    }

    func printPlan(_ plan: Plan) {
        var text = "Secrets to move into \(vaultName):\n"
        for s in plan.secrets {
            text += "  \(s.name)  (\(s.rules.joined(separator: ", ")))\n"
            for u in s.uses { text += "      \(u.path):\(u.line)\n" }
        }
        text += "\n"
        for f in plan.files { text += redacted(UnifiedDiff.make(old: f.old, new: f.new, path: f.path), plan) }
        for h in plan.helpers where !FileManager.default.fileExists(atPath: IO.absolutePath(path) + "/" + h.path) {
            text += "new file: \(h.path) (the vault lookup helper)\n"
        }
        IO.write(fd: 1, text)
    }

    func historyCommits(_ root: String, _ plan: Plan, scanner: ArcaScan.Scanner) -> [String: [CommitInfo]] {
        guard IO.gitTopLevel(root) != nil, let history = try? scanner.scanHistory(repository: root, selection: HistorySelection()) else { return [:] }
        var out: [String: [CommitInfo]] = [:]
        for f in history.findings where f.kind == .secret {
            guard let commit = f.commit, let s = plan.secrets.first(where: { $0.value.contains(f.secret) }) else { continue }
            if !(out[s.name] ?? []).contains(where: { $0.id == commit.id }) { out[s.name, default: []].append(commit) }
        }
        return out
    }

    func printReport(_ plan: Plan, versions: [String: String], checks: [Verifier.Check], history: [String: [CommitInfo]],
                     record: Migration.Record) {
        var t = "\nMigrated \(plan.secrets.count) secret(s) into \(vaultName); \(plan.files.count) file(s) rewritten.\n"
        for s in plan.secrets {
            t += "  \(s.name)  version \(versions[s.name] ?? "?")\n"
            for u in s.uses { t += "      used in \(u.path):\(u.line)\n" }
        }
        if !plan.helpers.isEmpty { t += "Lookup helpers: \(plan.helpers.map(\.path).joined(separator: ", "))\n" }
        t += "Checks: rescan clean; " + checks.map { "\($0.path) \($0.tool == nil ? "not checked (no toolchain here)" : "ok (\($0.tool!.split(separator: " ").first!))")" }.joined(separator: "; ") + "\n"
        t += """

            The application that runs this code needs an identity with Key Vault Secrets User on exactly these secrets:
              arca vault app create APP-NAME
            \(plan.secrets.map { "  arca vault role assign --role \"Key Vault Secrets User\" --assignee APP-NAME --scope /secrets/\($0.name)" }.joined(separator: "\n"))
            and, where it runs: ARCA_VAULT_URL, AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET (ARCA_CA_CERT for a private CA).

            ROTATE these secrets: the old values are still in git history and in every clone.

            """
        for s in plan.secrets {
            let commits = history[s.name] ?? []
            t += commits.isEmpty ? "  \(s.name): not found in committed history (rotate it anyway if it was ever shared)\n"
                : "  \(s.name): in \(commits.count) commit(s): " + commits.prefix(5).map { String($0.id.prefix(12)) }.joined(separator: ", ") + (commits.count > 5 ? ", …" : "") + "\n"
        }
        t += "\nUndo with `arca migrate --rollback` (record \(record.id)).\n"
        IO.write(fd: 1, t)
    }

    func writeReport(_ file: String, _ plan: Plan, versions: [String: String], checks: [Verifier.Check],
                     history: [String: [CommitInfo]], record: Migration.Record) throws {
        let json: JSONValue = .object([
            ("vault", .string(vaultName)), ("record", .string(record.id)),
            ("secrets", .array(plan.secrets.map { s in
                .object([
                    ("name", .string(s.name)), ("version", .string(versions[s.name] ?? "")),
                    ("rules", .array(s.rules.map(JSONValue.string))),
                    ("uses", .array(s.uses.map { .object([("path", .string($0.path)), ("line", .int($0.line)), ("rule", .string($0.rule))]) })),
                    ("role", .string("Key Vault Secrets User")), ("scope", .string("/secrets/\(s.name)")),
                    ("historyCommits", .array((history[s.name] ?? []).map { .string($0.id) })),
                ])
            })),
            ("files", .array(plan.files.map { .string($0.path) })),
            ("helpers", .array(plan.helpers.map { .string($0.path) })),
            ("checks", .array(checks.map { .object([("path", .string($0.path)), ("tool", $0.tool.map(JSONValue.string) ?? .null), ("passed", .bool($0.passed))]) })),
            ("skipped", .array(plan.skipped.map { .object([("path", .string($0.path)), ("line", .int($0.line)), ("reason", .string($0.reason))]) })),
        ])
        guard IO.writeFile(file, json.serialized(pretty: true) + "\n") else { throw CLIError(code: Exit.runtime, message: "arca: cannot write \(file)") }
    }

    // MARK: Rollback

    func runRollback(_ migration: Migration) throws {
        let force = self.force
        let record = try migrateCall { try vault.withVault(unseal: true) { try await migration.rollback(client: $0, force: force) } }
        IO.write(fd: 1, "Restored \(record.files.count) file(s) of migration \(record.id)\(record.helpers.isEmpty ? "" : " and removed \(record.helpers.joined(separator: ", "))"). The secrets stay in the vault.\n")
    }
}

/// How often each test-pause step was reached (one thread at a time: `migrate` runs its steps in order).
enum PauseCount {
    nonisolated(unsafe) static var seen: [String: Int] = [:]
}

func migrateCall<T>(_ body: () throws -> T) throws -> T {
    do { return try body() } catch let e as Migration.Failure {
        if case .busy = e { throw CLIError(code: Exit.usage, message: "arca: \(e.description)") }
        throw CLIError(code: Exit.runtime, message: "arca: \(e.description)")
    }
}

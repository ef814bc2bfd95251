import ArcaJSON
import ArcaScan
import ArcaVaultAPI
import Foundation

/// `arca migrate` as a library: plan → store → apply → verify → report → rollback, on one project. The CLI
/// parses options, runs the scan, hands this the findings and a vault client, and prints what it returns.
public struct Migrator: Sendable {
    /// A refusal or a failure, with what the CLI's exit code should say.
    public struct Failure: Error, CustomStringConvertible {
        public enum Kind: Sendable { case usage, failed }
        public var kind: Kind
        public var message: String
        public var description: String { message }
        public static func usage(_ m: String) -> Failure { Failure(kind: .usage, message: m) }
        public static func failed(_ m: String) -> Failure { Failure(kind: .failed, message: m) }
    }

    public struct Settings: Sendable {
        public var style: HelperStyle = .arca
        /// `--only`: rule ids or paths.
        public var only: [String] = []
        /// `--env`: the values of the variables that credential reads name (nil: environment reads stay).
        public var env: [String: String]? = nil
        /// `--from REPORT`: only these fingerprints (with the path and line the report gave, for the skip line
        /// of one the fresh scan no longer finds).
        public var fingerprints: [String: (path: String, line: Int)]? = nil
        public var noRedact = false
        public init() {}
    }

    /// What the vault says about the planned names before a plan is shown.
    public struct VaultView: Sendable {
        /// Names it holds, with their values (a soft-deleted name holds a value nobody can match: it is not reused).
        public var taken: [String: String] = [:]
        /// Why the vault could not be asked (unreachable, sealed): the names shown may then differ at apply time.
        public var problem: String?
        public init(taken: [String: String] = [:], problem: String? = nil) { (self.taken, self.problem) = (taken, problem) }
    }

    public struct Outcome: Sendable {
        public var record: Migration.Record
        public var versions: [String: String]
        public var checks: [Verifier.Check]
        public var history: [String: [CommitInfo]]
        /// Files outside the rewrite (README, docs, comments) that still hold a migrated value.
        public var remaining: [Plan.Use]
    }

    public let project: Project
    public var migration: Migration
    public var settings: Settings

    public init(project: Project, migration: Migration, settings: Settings) {
        (self.project, self.migration, self.settings) = (project, migration, settings)
    }

    static let deletedMarker = "\u{0}soft-deleted\u{0}"

    // MARK: Plan

    /// The findings `migrate` moves: secrets (and credential reads with `--env`), narrowed by `--from` and
    /// `--only`, never Arca's own helpers.
    public func select(_ findings: [Finding], ruleIDs: Set<String>) -> [Finding] {
        var out = findings.filter { ($0.kind != .envUsage || settings.env != nil) && !Planner.helperNames.contains(($0.path as NSString).lastPathComponent) }
        if let wanted = settings.fingerprints { out = out.filter { wanted[$0.fingerprint] != nil } }
        if !settings.only.isEmpty {
            out = out.filter { f in settings.only.contains { f.ruleID == $0 || Planner.path(f.path, isUnder: $0) } }
        }
        return out
    }

    func planner(existing: [String: String], ruleIDs: Set<String>) -> Planner {
        let paths = settings.only.filter { !ruleIDs.contains($0) }
        return Planner(root: project.root, existing: existing, paths: paths.isEmpty ? nil : paths, style: settings.style, files: project.files)
    }

    /// The plan for `scan` (a complete scan of the project): names the vault already holds with another value,
    /// or holds soft-deleted, are not reused. `vault` answers for the planned names.
    public func plan(scan: ScanResult, ruleIDs: Set<String>, vault: ([String]) -> VaultView) throws -> (Plan, VaultView) {
        // A plan from an incomplete scan could leave a secret behind while saying it moved them all.
        if !scan.errors.isEmpty {
            throw Failure.failed(Redactor(findings: scan.findings)("arca: the scan is incomplete, so nothing is planned:\n"
                + scan.errors.map { "  \($0)" }.joined(separator: "\n")))
        }
        let findings = select(scan.findings, ruleIDs: ruleIDs)
        var plan = planner(existing: [:], ruleIDs: ruleIDs).plan(findings, env: settings.env)
        var view = VaultView()
        if !plan.isEmpty {
            view = vault(plan.secrets.map(\.name))
            if view.taken.contains(where: { name, value in plan.secrets.contains { $0.name == name && $0.value != value } }) {
                plan = planner(existing: view.taken, ruleIDs: ruleIDs).plan(findings, env: settings.env)
            }
        }
        plan.redactor = Redactor(findings: scan.findings, values: plan.secrets.map(\.value))
        // A finding of the report that the fresh scan does not find (its value or file changed since): named.
        if let wanted = settings.fingerprints {
            let found = Set(scan.findings.map(\.fingerprint))
            for (fp, at) in wanted.sorted(by: { ($0.value.path, $0.value.line) < ($1.value.path, $1.value.line) }) where !found.contains(fp) {
                plan.skipped.append(.init(path: at.path, line: at.line, reason: "the report's finding \(fp.prefix(12)) is not found any more (the file changed since the scan): scan again"))
            }
        }
        // A file of the user's that has a helper's name would silently be taken for the helper.
        for h in plan.helpers {
            if let data = FileManager.default.contents(atPath: project.path(h.path)),
               !String(decoding: data, as: UTF8.self).contains("arca migrate") {
                throw Failure.usage("arca: \(h.path) exists and is not Arca's lookup helper; "
                                    + "rename it (migrate writes its helper under that name), then plan again; nothing was written")
            }
        }
        return (plan, view)
    }

    /// The names the vault holds (with values) or holds soft-deleted, for the plan's names.
    public static func view(of names: [String], in client: any VaultClient) async -> VaultView {
        var view = VaultView()
        for n in names {
            do {
                if let value = try await client.getSecret(n, version: nil).value { view.taken[n] = value }
            } catch let e as VaultError {
                if case .notFound = e {
                    if (try? await client.getDeletedSecret(n)) != nil { view.taken[n] = deletedMarker }
                    continue
                }
                view.problem = "\(e)"
                return view
            } catch {
                view.problem = "\(error)"
                return view
            }
        }
        return view
    }

    /// Uncommitted changes in the files the plan rewrites (git status lines), empty outside git.
    public func dirtyFiles(_ plan: Plan) -> [String] {
        guard Migration.gitDirectory(of: project.root) != nil,
              let r = try? project.runner.run("git", ["-C", project.root, "status", "--porcelain", "--"] + plan.files.map(\.path), errors: false),
              r.status == 0 else { return [] }
        return r.output.split(separator: "\n").map(String.init)
    }

    // MARK: Apply

    /// Stores and reads back every secret, rewrites the files (all or none), then verifies them — no migrated
    /// value left, each file imports or compiles as it did before (a check that failed before the rewrite does
    /// not count) — and undoes the rewrite when a check fails.
    public func apply(_ plan: Plan, client: any VaultClient, vaultName: String, location: Migration.VaultLocation?,
                      scanner: ArcaScan.Scanner, scratch: DetectorScratch, history: Bool) async throws -> Outcome {
        try migration.refuseChanged(plan)
        let versions = try await Migration.store(plan, in: client, source: URL(fileURLWithPath: project.root).lastPathComponent, pause: migration.pause)
        migration.pause("stored")
        let verifier = Verifier(project: project)
        // What the toolchains say of the files as they are, before they change.
        let before = verifier.checks(plan.files, style: settings.style)
        let record = try migration.apply(plan, versions: versions, vault: vaultName, location: location)
        let left = verifier.leftovers(plan.files.map(\.path), values: Set(plan.secrets.map(\.value)), scanner: scanner, scratch: scratch,
                                      planned: Dictionary(plan.files.map { ($0.path, $0.new) }, uniquingKeysWith: { a, _ in a }))
        let checks = verifier.checks(plan.files, style: settings.style)
        let failed = Verifier.failures(after: checks, before: before)
        if !left.isEmpty || !failed.isEmpty {
            var undone = try await migration.rollback(client: client, id: record.id)
            // Never applied as far as the user is concerned: listed as abandoned, not rolled back.
            undone.state = "abandoned"
            try? migration.save(undone)
            var why = left.map { "  \($0): a migrated secret is still there\n" }.joined()
            why += failed.map { "  \($0.path): \($0.tool ?? "") failed:\n\($0.output.split(separator: "\n").prefix(8).map { "    " + $0 }.joined(separator: "\n"))\n" }.joined()
            // A compiler quotes source lines: keep the migrated values out of what it says.
            throw Failure.failed("arca: the rewritten files did not pass their checks, so they were restored:\n" + redacted(why, plan))
        }
        let commits = history ? historyCommits(plan, scanner: scanner) : [:]
        return Outcome(record: record, versions: versions, checks: checks, history: commits, remaining: remaining(plan))
    }

    /// Where a migrated value is still written after the rewrite: files with no rewriter (README, docs), skipped
    /// places (comments), anything the scan read.
    func remaining(_ plan: Plan) -> [Plan.Use] {
        var out: [Plan.Use] = []
        for rel in project.files {
            guard let data = FileManager.default.contents(atPath: project.path(rel)), data.count <= 1 << 22 else { continue }
            let text = String(decoding: data, as: UTF8.self)
            for s in plan.secrets where text.contains(s.value) {
                var line = 1
                if let r = text.range(of: s.value) { line = text[..<r.lowerBound].reduce(1) { $1 == "\n" ? $0 + 1 : $0 } }
                out.append(Plan.Use(path: rel, line: line, rule: s.name))
            }
        }
        return out
    }

    func historyCommits(_ plan: Plan, scanner: ArcaScan.Scanner) -> [String: [CommitInfo]] {
        guard Migration.gitDirectory(of: project.root) != nil,
              let history = try? scanner.scanHistory(repository: project.root, selection: HistorySelection()) else { return [:] }
        var out: [String: [CommitInfo]] = [:]
        for f in history.findings where f.kind == .secret {
            guard let commit = f.commit else { continue }
            // A value stored on its own and inside a connection string stored whole: the commit holds both.
            for s in plan.secrets where s.value.contains(f.secret) || f.secret.contains(s.value) {
                if !(out[s.name] ?? []).contains(where: { $0.id == commit.id }) { out[s.name, default: []].append(commit) }
            }
        }
        return out
    }

    // MARK: Rollback and the list

    public func rollback(client: any VaultClient, id: String?, force: Bool) async throws -> Migration.Record {
        try await migration.rollback(client: client, id: id, force: force)
    }

    /// `migrate --list`: every migration of this project, oldest first.
    public func list() throws -> String {
        let records = try migration.records()
        guard !records.isEmpty else { return "No migrations recorded in \(migration.stateDirectory).\n" + projectsLine() }
        var t = "Migrations of \(project.root) (\(migration.stateDirectory)):\n"
        for r in records {
            t += "  \(r.id)  \(r.created)  \(r.state)  \(r.secrets.count) secret(s), \(r.files.count) file(s)  \(r.vault)\n"
        }
        t += "`arca migrate --rollback` undoes the last applied one; `--rollback ID` a named one.\n"
        return t + projectsLine()
    }

    /// Projects in subfolders of this repository that have records of their own.
    func projectsLine() -> String {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: migration.stateDirectory + "/projects")) ?? []).sorted()
        guard !names.isEmpty else { return "" }
        return "Projects in subfolders with migrations of their own (arca migrate SUBFOLDER --list): "
            + names.map { $0.replacingOccurrences(of: "%2F", with: "/") }.joined(separator: ", ") + "\n"
    }

    // MARK: What it says

    /// `text` through the scan's one redaction point: every value the scan found (migrated or skipped) and every
    /// value the plan moves.
    public func redacted(_ text: String, _ plan: Plan) -> String {
        settings.noRedact ? text : plan.redactor(text)
    }

    public func skipLines(_ plan: Plan) -> String {
        plan.skipped.map { redacted("arca: skipped \($0.path)\($0.line > 0 ? ":\($0.line)" : ""): \($0.reason)\n", plan) }.joined()
    }

    public func describe(_ plan: Plan, vaultName: String, view: VaultView) -> String {
        var text = "Secrets to move into \(vaultName):\n"
        for s in plan.secrets {
            text += "  \(s.name)  (\(s.rules.joined(separator: ", ")))\n"
            for u in s.uses { text += "      \(u.path):\(u.line)\n" }
        }
        if let problem = view.problem {
            text += "\nThe vault could not be asked which names it holds (\(problem)): the names above may change when --apply runs.\n"
        }
        text += "\n"
        for f in plan.files { text += redacted(UnifiedDiff.make(old: f.old, new: f.new, path: f.path), plan) }
        for h in plan.helpers where !project.exists(h.path) {
            text += "new file: \(h.path) (\(h.path.hasSuffix(ConfigFormat.referencesFile) ? "the references arca run resolves" : "the vault lookup helper"))\n"
        }
        return text
    }

    public func report(_ plan: Plan, _ o: Outcome, vaultName: String) -> String {
        var t = "\nMigrated \(plan.secrets.count) secret(s) into \(vaultName); \(plan.files.count) file(s) rewritten.\n"
        for s in plan.secrets {
            t += "  \(s.name)  version \(o.versions[s.name] ?? "?")\n"
            for u in s.uses { t += "      used in \(u.path):\(u.line)\n" }
        }
        if !plan.helpers.isEmpty { t += "Lookup helpers: \(plan.helpers.map(\.path).joined(separator: ", "))\n" }
        t += "Checks: rescan clean; " + o.checks.map { "\($0.path) \($0.tool.map { "ok (\($0))" } ?? "not checked (no toolchain here)")" }.joined(separator: "; ") + "\n"
        if !o.remaining.isEmpty {
            t += "\nRemaining, not rewritten (the value is still written here: remove it by hand):\n"
            t += o.remaining.map { "  \($0.path):\($0.line)  (\($0.rule))\n" }.joined()
        }
        t += """

            The application that runs this code needs an identity with Key Vault Secrets User on exactly these secrets:
              arca vault app create APP-NAME
            \(plan.secrets.map { "  arca vault role assign --role \"Key Vault Secrets User\" --assignee APP-NAME --scope /secrets/\($0.name)" }.joined(separator: "\n"))
            and, where it runs: ARCA_VAULT_URL, AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET (ARCA_CA_CERT for a private CA).

            """
        if !plan.start.isEmpty {
            t += "Start the program afterwards:\n" + plan.start.map { "  \($0)\n" }.joined() + "\n"
        }
        t += "ROTATE these secrets: the old values are still in git history and in every clone.\n\n"
        for s in plan.secrets {
            let commits = o.history[s.name] ?? []
            t += commits.isEmpty ? "  \(s.name): not found in committed history (rotate it anyway if it was ever shared)\n"
                : "  \(s.name): in \(commits.count) commit(s): " + commits.prefix(5).map { String($0.id.prefix(12)) }.joined(separator: ", ") + (commits.count > 5 ? ", …" : "") + "\n"
        }
        t += "\nUndo with `arca migrate --rollback` (record \(o.record.id)).\n"
        return t
    }

    public func reportJSON(_ plan: Plan, _ o: Outcome, vaultName: String) -> JSONValue {
        .object([
            ("vault", .string(vaultName)), ("record", .string(o.record.id)),
            ("secrets", .array(plan.secrets.map { s in
                .object([
                    ("name", .string(s.name)), ("version", .string(o.versions[s.name] ?? "")),
                    ("rules", .array(s.rules.map(JSONValue.string))),
                    ("uses", .array(s.uses.map { .object([("path", .string($0.path)), ("line", .int($0.line)), ("rule", .string($0.rule))]) })),
                    ("role", .string("Key Vault Secrets User")), ("scope", .string("/secrets/\(s.name)")),
                    ("historyCommits", .array((o.history[s.name] ?? []).map { .string($0.id) })),
                ])
            })),
            ("files", .array(plan.files.map { .string($0.path) })),
            ("helpers", .array(plan.helpers.map { .string($0.path) })),
            ("checks", .array(o.checks.map { .object([("path", .string($0.path)), ("tool", $0.tool.map(JSONValue.string) ?? .null), ("passed", .bool($0.passed))]) })),
            ("skipped", .array(plan.skipped.map { .object([("path", .string($0.path)), ("line", .int($0.line)), ("reason", .string($0.reason))]) })),
            ("remaining", .array(o.remaining.map { .object([("path", .string($0.path)), ("line", .int($0.line)), ("secret", .string($0.rule))]) })),
            ("start", .array(plan.start.map(JSONValue.string))),
        ])
    }
}

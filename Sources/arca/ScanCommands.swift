import ArcaReport
import ArcaRules
import ArcaScan
import ArgumentParser
import Dispatch

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension Severity: ExpressibleByArgument {}
extension Confidence: ExpressibleByArgument {}
extension ReportFormat: ExpressibleByArgument {}
extension EnvUsageMode: ExpressibleByArgument {}

/// The exit codes Arca documents: 0 clean, 1 leaks, 2 bad usage or configuration, 3 runtime error.
enum Exit {
    static let clean: Int32 = 0
    static let leaks: Int32 = 1
    static let usage: Int32 = 2
    static let runtime: Int32 = 3
}

/// A failure that carries its exit code and a message for standard error.
struct CLIError: Error {
    var code: Int32
    var message: String
}

/// `ARCA_TIMING=1` prints phase times (milliseconds since process start) to standard error.
enum Timing {
    static let enabled = getenv("ARCA_TIMING") != nil

    static func mark(_ what: String) {
        guard enabled else { return }
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        let now = Double(ts.tv_sec) * 1000 + Double(ts.tv_nsec) / 1e6
        // Process start from /proc/self/stat (field 22, in clock ticks since boot).
        let stat = IO.readFile("/proc/self/stat") ?? ""
        let fields = stat.split(separator: ")").last?.split(separator: " ") ?? []
        let ticks = fields.count > 19 ? Double(fields[19]) ?? 0 : 0
        let start = ticks * 1000 / Double(sysconf(Int32(_SC_CLK_TCK)))
        IO.write(fd: 2, "arca timing: \(Int(now - start)) ms \(what)\n")
    }
}

/// Options that select rules.
struct RuleOptions: ParsableArguments {
    @Option(name: .customLong("rules"), help: ArgumentHelp("Add the rules in this directory (or file) of *.yaml.", valueName: "DIR"))
    var ruleDirectories: [String] = []

    @Flag(help: "Use only the rules given with --rules, not the built-in pack.")
    var noBuiltinRules = false

    /// `dirs` without repeats (a directory named on the command line and in `.arca.yaml` is loaded once).
    static func distinct(_ dirs: [String]) -> [String] {
        var seen = Set<String>()
        return dirs.filter { seen.insert(ProjectConfig.absolutePath($0)).inserted }
    }

    /// The rules, with those the project's `.arca.yaml` (found from the current directory) names.
    func load(withExamples: Bool = false) throws -> RuleSet {
        var extra = ruleDirectories
        if let file = ProjectConfig.locate(from: ".") {
            do { extra += try ProjectConfig.load(file).ruleDirectories } catch {
                throw CLIError(code: Exit.usage, message: "arca: invalid config: \(error)")
            }
        }
        do {
            return try RuleSet.load(builtin: !noBuiltinRules, extraDirectories: RuleOptions.distinct(extra),
                                    withExamples: withExamples)
        } catch {
            throw CLIError(code: Exit.usage, message: "arca: invalid rules: \(error)")
        }
    }
}

/// Options shared by every command that scans.
struct ScanFlags: ParsableArguments {
    @Argument(help: "Directory or file to scan ('-' reads standard input); with --git or --staged, the repository.")
    var path: String = "."

    @Flag(help: "Scan git history: every blob reachable from all refs, once, mapped to the commit that added it.")
    var git = false

    @Flag(help: "Scan only what the index adds against HEAD (the pre-commit hook).")
    var staged = false

    @Option(help: "With --git: only this branch or revision.")
    var branch: String?

    @Option(help: "With --git: only commits after this one (on --branch, or HEAD).")
    var sinceCommit: String?

    @Option(help: "With --git: only commits in A..B (for example origin/main..HEAD).")
    var range: String?

    @Option(help: "With --git: at most this many of the newest commits.")
    var maxCount: Int?

    @OptionGroup var rules: RuleOptions

    @Option(help: ArgumentHelp("The project config (default: .arca.yaml at the repository root, found from any subdirectory or worktree).", valueName: "FILE"))
    var config: String?

    @Flag(help: "Do not read .arca.yaml.")
    var noConfig = false

    @Option(help: "Drop findings below this confidence (low, medium, high; default medium).")
    var minConfidence: Confidence?

    @Option(help: "Env-usage findings to report: none, credentials (names that look like credentials) or all. Default: credentials; none with --staged and in SARIF and GitLab reports, unless given here or in .arca.yaml.")
    var envUsage: EnvUsageMode?

    @Option(help: ArgumentHelp("Skip files larger than this many MiB (reported as skipped; default 10).", valueName: "MiB"))
    var maxFileSize: Int?

    @Flag(help: "Do not honour .gitignore and .arcaignore files.")
    var noIgnore = false

    @Flag(help: "Follow symbolic links (loops are detected and skipped).")
    var follow = false

    @Flag(inversion: .prefixedNo, help: "Decode base64, hex and percent-encoded runs to look for secrets inside them (default on).")
    var decode: Bool?

    @Flag(inversion: .prefixedNo, help: "Open archives and compressed files (zip, jar, tar, gz, bz2, xz, 7z …); without, they are binary files (default on).")
    var archives: Bool?

    @Option(help: "Archives inside archives opened at most this deep (default 3).")
    var archiveDepth: Int?

    @Option(help: ArgumentHelp("MiB all members of one archive may expand to; the rest is a named skip (default 256).", valueName: "MiB"))
    var archiveMaxBytes: Int?

    @Option(help: "Members of one archive scanned at most; the rest is a named skip (default 10000).")
    var archiveMaxMembers: Int?

    @Option(help: "Expansion ratio (expanded bytes per archive byte) past which an archive is a zip bomb and skipped (default 100).")
    var archiveMaxRatio: Int?

    @Flag(help: "With --range, --since-commit or --staged: also report a secret whose value the base already holds (a file moved, renamed or reformatted; a value copied from an old file).")
    var reportMoved = false

    @Option(help: "Worker threads (default: one per core).")
    var threads: Int = 0

    @Option(help: ArgumentHelp("With --staged, --range or --since-commit: pass although files of this kind of skip could not be scanned (too-large, binary, archive, unreadable, link, other; repeatable). By default the hook fails closed.", valueName: "KIND"))
    var allowSkip: [String] = []

    func validate() throws {
        guard !(git && staged) else { throw ValidationError("--git and --staged cannot be combined") }
        if !git && (branch != nil || sinceCommit != nil || range != nil || maxCount != nil) {
            throw ValidationError("--branch, --since-commit, --range and --max-count need --git")
        }
        if let maxCount, maxCount <= 0 { throw ValidationError("--max-count must be positive") }
        if range != nil && sinceCommit != nil { throw ValidationError("--range and --since-commit cannot be combined") }
        guard path != "-" || (!git && !staged) else { throw ValidationError("--git and --staged need a repository path") }
        if let maxFileSize, maxFileSize <= 0 { throw ValidationError("--max-file-size must be positive") }
        guard threads >= 0 else { throw ValidationError("--threads must not be negative") }
        if (archiveDepth ?? 0) < 0 || (archiveMaxBytes ?? 1) <= 0 || (archiveMaxMembers ?? 1) <= 0 || (archiveMaxRatio ?? 1) <= 0 {
            throw ValidationError("--archive-depth must not be negative; --archive-max-bytes, --archive-max-members and --archive-max-ratio must be positive")
        }
        if config != nil && noConfig { throw ValidationError("--config and --no-config cannot be combined") }
        for k in allowSkip where !Skipped.kinds.contains(k) {
            throw ValidationError("--allow-skip takes \(Skipped.kinds.joined(separator: ", ")), not '\(k)'")
        }
    }

    /// Whether only part of history (or only the index) is scanned: baseline entries outside it are not stale.
    var partial: Bool { staged || (git && (range != nil || sinceCommit != nil || branch != nil || maxCount != nil)) }

    /// The project config that governs this scan (`--config`, else `.arca.yaml` at the repository root), checked.
    func projectConfig() throws -> ProjectConfig? {
        guard !noConfig else { return nil }
        let file: String
        if let config {
            file = config
        } else if path == "-" {
            guard let found = ProjectConfig.locate(from: ".") else { return nil }
            file = found
        } else {
            guard let found = ProjectConfig.locate(from: path) else { return nil }
            file = found
        }
        do { return try ProjectConfig.load(file) } catch {
            throw CLIError(code: Exit.usage, message: "arca: invalid config: \(error)")
        }
    }

    /// Everything a scan runs with: the config, the rules (with the config's rules and allowlist), the options
    /// (command line over config over defaults).
    struct Prepared {
        var config: ProjectConfig?
        var ruleSet: RuleSet
        var options: ScanOptions
        /// Whether env-usage findings were asked for (on the command line or in the config).
        var envUsageExplicit: Bool
        /// The repository root (or the scanned directory) and the scanned path relative to it: see ``reportRoot()``.
        var root: (root: String, prefix: String)
    }

    /// `defaultEnvUsage` applies when neither the command line nor the config says.
    func prepare(defaultEnvUsage: EnvUsageMode = .credentials) throws -> Prepared {
        let config = try projectConfig()
        let root = reportRoot()
        var ruleSet: RuleSet
        do {
            ruleSet = try RuleSet.load(builtin: !rules.noBuiltinRules,
                                       extraDirectories: RuleOptions.distinct(rules.ruleDirectories + (config?.ruleDirectories ?? [])),
                                       withExamples: false)
            if let config { ruleSet = try ruleSet.applying(config, prefix: root.prefix) }
        } catch {
            throw CLIError(code: Exit.usage, message: "arca: invalid rules: \(error)")
        }
        var o = ScanOptions()
        o.detect.minConfidence = minConfidence ?? config?.minConfidence ?? .medium
        let configEnv = config?.envUsage.flatMap { EnvUsageMode(rawValue: $0) }
        o.detect.envUsage = envUsage ?? configEnv ?? (staged ? .none : defaultEnvUsage)
        o.maxFileSize = (maxFileSize ?? config?.maxFileSizeMiB ?? 10) * 1024 * 1024
        o.useIgnoreFiles = !noIgnore
        o.followSymlinks = follow
        o.decode = decode ?? config?.decode ?? true
        o.archives.enabled = archives ?? config?.archives ?? true
        o.archives.maxDepth = archiveDepth ?? config?.archiveDepth ?? 3
        o.archives.maxBytes = (archiveMaxBytes ?? config?.archiveMaxBytesMiB ?? 256) * 1024 * 1024
        o.archives.maxMembers = archiveMaxMembers ?? config?.archiveMaxMembers ?? 10_000
        o.archives.maxRatio = archiveMaxRatio ?? config?.archiveMaxRatio ?? 100
        o.reportMoved = reportMoved
        o.workers = threads
        return Prepared(config: config, ruleSet: ruleSet, options: o,
                        envUsageExplicit: envUsage != nil || configEnv != nil, root: root)
    }

    /// Runs the scan; errors become exit code 2 (a path that does not exist) or 3. Findings the config's
    /// allowlist names by fingerprint are dropped (and counted).
    func run(_ prepared: Prepared, snapshot: StagedRead? = nil) throws -> ScanResult {
        var result = try scan(prepared, snapshot: snapshot)
        // Fingerprints hash the path from the repository root, whatever directory was scanned: a baseline made at
        // the root serves a scan of a subdirectory, and code scanning sees one alert, not two.
        let prefix = prepared.root.prefix
        if !prefix.isEmpty {
            result.findings = result.findings.map { f in
                var f = f
                f.fingerprint = Finding.fingerprint(rule: f.ruleID, path: prefix + f.path, secret: f.secret)
                return f
            }
        }
        if let fps = prepared.config?.fingerprints, !fps.isEmpty {
            let before = result.findings.count
            result.findings.removeAll { fps.contains($0.fingerprint) }
            result.allowlisted += before - result.findings.count
        }
        return result
    }

    private func scan(_ prepared: Prepared, snapshot: StagedRead?) throws -> ScanResult {
        let ruleSet = prepared.ruleSet
        let scanner = Scanner(rules: ruleSet, options: prepared.options)
        if path == "-" {
            let scratch = DetectorScratch(rules: ruleSet)
            guard let bytes = IO.readAllChecked(fd: 0) else {
                throw CLIError(code: Exit.runtime, message: "arca: cannot read standard input: \(String(cString: strerror(errno)))")
            }
            return scanner.scan(bytes: bytes, path: "<stdin>", scratch: scratch)
        }
        do {
            if git {
                let selection = HistorySelection(branch: branch, sinceCommit: sinceCommit, range: range, maxCount: maxCount)
                return try scanner.scanHistory(repository: path, selection: selection)
            }
            if staged {
                // The index was read (git diff) on the other core while the rules loaded, when the caller started it.
                if let snapshot { return try scanner.scanStaged(try snapshot.wait().get()) }
                return try scanner.scanStaged(repository: path)
            }
            return try scanner.scan(root: path)
        } catch {
            throw CLIError(code: error.runtime ? Exit.runtime : Exit.usage, message: "arca: cannot scan \(error)")
        }
    }

    /// The hook and a change under review (a range, --since-commit) fail closed on what they could not scan:
    /// these skips end the run with exit 3 (unless --allow-skip names their kind).
    func unscanned(_ result: ScanResult) -> [Skipped] {
        let review = git && (range != nil || sinceCommit != nil)
        return staged || review ? result.skipped.filter { $0.kind != "ignored" && !allowSkip.contains($0.kind) } : []
    }

    /// What a finished scan says on standard error besides the report, and the exit code it calls for (nil when
    /// the findings decide). Errors are printed even with `quiet`: an incomplete scan is never silent.
    ///
    /// - errors (an unreadable file, a missing git object): exit 3, whatever was found;
    /// - with `--staged`, a staged file that could not be scanned (unless `--allow-skip` names its kind): exit 3,
    ///   the commit is blocked and the file named;
    /// - other skips are named, except binary files in a tree or history scan, which are counted.
    func finish(_ result: ScanResult, redactor: Redactor, quiet: Bool) -> Int32? {
        var code: Int32?
        for e in result.errors { IO.write(fd: 2, redactor("arca: error: \(e)\n")) }
        if !result.errors.isEmpty {
            IO.write(fd: 2, "arca: the scan is incomplete: \(result.errors.count) error\(result.errors.count == 1 ? "" : "s") (exit 3)\n")
            code = Exit.runtime
        }
        let unscanned = unscanned(result)
        if !unscanned.isEmpty {
            let what = staged ? "staged file" : "file the commits add"
            var msg = staged ? "arca: commit blocked: " : "arca: the change is not wholly scanned: "
            msg += "\(unscanned.count) \(what)\(unscanned.count == 1 ? "" : "s") could not be scanned:\n"
            for k in unscanned { msg += "  \(k.path): \(k.reason)\n" }
            msg += "arca: raise --max-file-size, or let such files through knowingly with --allow-skip KIND "
                + "(\(Set(unscanned.map(\.kind)).sorted().joined(separator: ", ")))\(staged ? " in the hook" : "").\n"
            IO.write(fd: 2, redactor(msg))
            code = Exit.runtime
        }
        if !quiet {
            for w in result.warnings { IO.write(fd: 2, redactor("arca: warning: \(w)\n")) }
            // The hook names every file it did not scan; a tree or history scan names its skips but counts the
            // binary files and the paths the configuration excludes (there can be thousands).
            let counted = staged ? [] : ["binary", "ignored"]
            let named = result.skipped.filter { !counted.contains($0.kind) && !unscanned.contains($0) }
            for k in named.prefix(50) { IO.write(fd: 2, redactor("arca: skipped \(k.path): \(k.reason)\n")) }
            if named.count > 50 { IO.write(fd: 2, "arca: … and \(named.count - 50) more skipped (--format json lists them all)\n") }
            let binary = staged ? 0 : result.skipped.filter { $0.kind == "binary" }.count
            if binary > 0 {
                IO.write(fd: 2, "arca: skipped \(binary) binary file\(binary == 1 ? "" : "s") (--format json lists them)\n")
            }
            let ignored = staged ? 0 : result.skipped.filter { $0.kind == "ignored" }.count
            if ignored > 0 {
                IO.write(fd: 2, "arca: left out \(ignored) path\(ignored == 1 ? "" : "s") that .gitignore, .arcaignore or the "
                    + "global allowlist exclude (tracked files are scanned anyway; --no-ignore scans all; --format json lists them)\n")
            }
        }
        return code
    }

    /// The directory report paths, fingerprints and `.arca.yaml`'s path globs are relative to (the repository
    /// root when the scan is inside one, else the scanned directory) and the prefix that turns a finding's path
    /// into one relative to it (empty for git scans, whose paths are the repository's).
    func reportRoot() -> (root: String, prefix: String) {
        var dir = IO.absolutePath(path)
        if !IO.isDirectory(dir) { dir = ProjectConfig.parentPath(dir) }
        guard let top = IO.gitTopLevel(dir) else { return (dir, "") }
        if git || staged || path == "-" || dir == top || !dir.hasPrefix(top + "/") { return (top, "") }
        return (top, String(dir.dropFirst(top.count + 1)) + "/")
    }

    /// `.arca-baseline` in the scanned directory (or the repository root, `root` from ``reportRoot()``) when present.
    func defaultBaseline(root: String) -> String? {
        guard path != "-" else { return nil }
        var candidates = [path + "/.arca-baseline"]
        if access(root + "/.git", F_OK) == 0 { candidates.append(root + "/.arca-baseline") }
        return candidates.first { access($0, R_OK) == 0 }
    }
}

/// The staged snapshot, read on another thread: it needs no rules, so the hook reads the index (a `git diff`
/// process) while the rules load.
final class StagedRead: @unchecked Sendable {
    private var result: Result<StagedSnapshot, ScanError>?
    private let done = DispatchSemaphore(value: 0)

    init(repository: String) {
        DispatchQueue.global().async { [self] in
            do { result = .success(try StagedSnapshot.read(repository: repository)) } catch let e as ScanError {
                result = .failure(e)
            } catch {
                result = .failure(ScanError(message: "\(error)", runtime: true))
            }
            done.signal()
        }
    }

    func wait() -> Result<StagedSnapshot, ScanError> {
        done.wait()
        done.signal()
        return result!
    }
}

struct Scan: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Find embedded credentials and env-var credential reads in a tree.",
        discussion: """
            Exit codes: 0 nothing at or above --fail-on, 1 leaks found, 2 bad usage or configuration, 3 runtime error.
            Secrets are redacted in every format unless --no-redact is given.
            """)

    @OptionGroup var scan: ScanFlags

    @Option(help: "Report format: text, json, sarif, gitlab or junit.")
    var format: ReportFormat = .text

    @Option(name: [.short, .long], help: "Write the report to this file instead of standard output.")
    var output: String?

    @Flag(help: "Show secrets in full (reports are redacted by default).")
    var noRedact = false

    @Option(help: "Report only findings not in this baseline, and list entries that no longer match (default: .arca-baseline in the scanned directory, when present).")
    var baseline: String?

    @Flag(help: "Do not load .arca-baseline automatically.")
    var noBaseline = false

    @Option(help: "Fail (exit 1, or --exit-code) when a secret at or above this severity is found (info, low, medium, high, critical; default low).")
    var failOn: Severity?

    @Option(help: ArgumentHelp("The exit code when leaks are found (default 1; 0 reports only). Errors keep 2 and 3.", valueName: "N"))
    var exitCode: Int32 = Exit.leaks

    @Flag(help: "Report findings but exit 0 for them (as --exit-code 0); errors still exit 2 or 3.")
    var reportOnly = false

    @Option(help: "Colour: auto, always or never.")
    var color: String = "auto"

    @Flag(name: .shortAndLong, help: "Print no summary or warnings on standard error.")
    var quiet = false

    func validate() throws {
        guard ["auto", "always", "never"].contains(color) else {
            throw ValidationError("--color must be auto, always or never")
        }
        guard (0...125).contains(exitCode), exitCode != Exit.usage, exitCode != Exit.runtime else {
            throw ValidationError("--exit-code takes 0, 1 or 4-125 (2 and 3 mean bad usage and an incomplete scan)")
        }
    }

    func run() throws {
        IO.failOnBrokenPipes()
        Timing.mark("parsed arguments")
        let snapshot = scan.staged ? StagedRead(repository: scan.path) : nil
        // Never leave (an error, a bad baseline) while the index is being read on the other thread.
        defer { _ = snapshot?.wait() }
        // Env-usage findings stay out of the hook's message and of code-scanning reports unless asked for.
        var prepared = try scan.prepare(defaultEnvUsage: format == .sarif || format == .gitlab ? .none : .credentials)
        let ruleSet = prepared.ruleSet
        Timing.mark("rules loaded")
        var base: Baseline?
        if let file = baseline ?? (noBaseline ? nil : scan.defaultBaseline(root: prepared.root.root)) {
            guard let text = IO.readFile(file) else {
                throw CLIError(code: Exit.usage, message: "arca: cannot read baseline \(file)")
            }
            do { base = try Baseline.parse(text, file: file) } catch {
                throw CLIError(code: Exit.usage, message: "arca: invalid baseline: \(error)")
            }
        }
        let line = ProgressLine.wanted(quiet: quiet) && !scan.staged ? ProgressLine() : nil
        prepared.options.progress = line?.progress
        line?.start()
        let result: ScanResult
        do {
            defer { line?.stop() }
            result = try scan.run(prepared, snapshot: snapshot)
        }
        Timing.mark("scanned")
        var findings = result.findings
        var stale: [BaselineEntry] = []
        var suppressed = 0
        if let base { (findings, suppressed, stale) = base.apply(to: findings) }
        // A range or staged scan sees only part of the project: entries outside it are not stale.
        if scan.partial { stale = [] }
        let (reportRoot, prefix) = prepared.root
        var input = ReportInput(
            findings: findings, result: result, root: scan.path, absoluteRoot: reportRoot,
            reveal: noRedact, rules: ruleSet, staleBaseline: stale, suppressedByBaseline: suppressed,
            toolVersion: Arca.version)
        input.pathPrefix = prefix
        input.unscanned = scan.unscanned(result)
        let useColor = color == "always" || (color == "auto" && output == nil && isatty(1) == 1 && getenv("NO_COLOR") == nil)
        let threshold = failOn ?? prepared.config?.failOn ?? .low
        let leaks = findings.contains(where: { $0.kind.holdsSecret && $0.severity >= threshold })
        let leakCode = reportOnly ? Exit.clean : exitCode
        let report = Reporter.render(input, format: format, color: useColor, staged: scan.staged,
                                     failing: leaks && leakCode != Exit.clean)
        if let output {
            guard IO.writeFile(output, report) else {
                throw CLIError(code: Exit.runtime, message: "arca: cannot write \(output): \(String(cString: strerror(errno)))")
            }
        } else if !IO.write(fd: 1, report) {
            throw CLIError(code: Exit.runtime, message: "arca: cannot write the report: \(String(cString: strerror(errno)))")
        }
        let failure = scan.finish(result, redactor: input.redactor, quiet: quiet)
        if !quiet { IO.write(fd: 2, Reporter.summary(input) + "\n") }
        if let failure { throw ExitCode(failure) }
        if leaks && leakCode != Exit.clean { throw ExitCode(leakCode) }
    }
}

struct BaselineCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "baseline", abstract: "Accept the current findings so later scans report only new ones.",
        subcommands: [Create.self])

    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Scan and write every secret finding's fingerprint to a baseline file (no secrets in it).")

        @OptionGroup var scan: ScanFlags

        @Option(name: [.short, .long], help: "Baseline file to write.")
        var output: String = ".arca-baseline"

        func run() throws {
            IO.failOnBrokenPipes()
            let result = try scan.run(try scan.prepare())
            let redactor = Redactor(findings: result.findings)
            // An incomplete scan would write an incomplete baseline: refuse it.
            if let failure = scan.finish(result, redactor: redactor, quiet: false) {
                throw CLIError(code: failure, message: "arca: no baseline written: the scan is incomplete")
            }
            // The baseline file names paths; a path that holds a found secret is written masked (the
            // fingerprint is the key, the path is only for the reader).
            var baseline = Baseline(findings: result.findings)
            baseline.entries = baseline.entries.map {
                BaselineEntry(fingerprint: $0.fingerprint, ruleID: $0.ruleID, path: redactor($0.path))
            }
            guard IO.writeFile(output, baseline.serialized()) else {
                throw CLIError(code: Exit.runtime, message: "arca: cannot write \(output): \(String(cString: strerror(errno)))")
            }
            IO.write(fd: 2, "arca: wrote \(baseline.entries.count) entries to \(output)\n")
        }
    }
}

struct HookCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hook", abstract: "Git hooks.", subcommands: [Install.self])

    struct Install: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Install a pre-commit hook that runs `arca scan --staged` and blocks commits that add secrets.",
            discussion: "An existing pre-commit hook keeps working: it is moved to pre-commit.arca-previous and runs first.")

        @Argument(help: "The repository.")
        var path: String = "."

        @Flag(help: "Replace an existing pre-commit hook instead of chaining it.")
        var force = false

        @Option(help: ArgumentHelp("Let commits through although staged files of this kind could not be scanned (too-large, binary, archive, unreadable, link, other; repeatable). By default the hook fails closed.", valueName: "KIND"))
        var allowSkip: [String] = []

        func validate() throws {
            for k in allowSkip where !Skipped.kinds.contains(k) {
                throw ValidationError("--allow-skip takes \(Skipped.kinds.joined(separator: ", ")), not '\(k)'")
            }
        }

        func run() throws {
            let outcome: GitHooks.Outcome
            do {
                outcome = try GitHooks.install(repository: path, binary: IO.executablePath(), force: force,
                                               allowSkips: allowSkip)
            } catch {
                throw CLIError(code: Exit.usage, message: "arca: \(error)")
            }
            switch outcome {
            case .installed(let p): IO.write(fd: 2, "arca: installed \(p)\n")
            case .updated(let p): IO.write(fd: 2, "arca: updated \(p)\n")
            case .replaced(let p): IO.write(fd: 2, "arca: replaced the existing hook \(p)\n")
            case .chained(let p, let prev):
                IO.write(fd: 2, "arca: installed \(p); the existing hook was kept as \(prev) and runs first\n")
            }
        }
    }
}

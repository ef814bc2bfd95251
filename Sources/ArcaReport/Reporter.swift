import ArcaJSON
import ArcaRules
import ArcaScan

/// Output formats of `arca scan`.
public enum ReportFormat: String, Sendable, CaseIterable {
    case text, json, sarif, junit, gitlab
}

/// Everything a report shows.
public struct ReportInput: Sendable {
    public var findings: [Finding]
    public var result: ScanResult
    /// The scanned root as given, and as an absolute path (for SARIF's base URI).
    public var root: String
    public var absoluteRoot: String
    /// Show secrets in full (`--no-redact`).
    public var reveal: Bool
    public var rules: RuleSet
    /// Baseline entries that matched nothing in this scan.
    public var staleBaseline: [BaselineEntry]
    /// Findings hidden because the baseline lists them.
    public var suppressedByBaseline: Int
    public var toolVersion: String
    /// Prepended to finding paths in SARIF and GitLab reports, so their paths are relative to `absoluteRoot` (the
    /// repository root) when a subdirectory or one file was scanned.
    public var pathPrefix = ""
    /// Files a hook or review scan had to pass over and therefore fails on (exit 3): SARIF marks the run
    /// unsuccessful and GitLab's status `failure`, each named.
    public var unscanned: [Skipped] = []
    /// Warnings of the scan (a shallow clone, a changed .arca.yaml), as SARIF notifications.
    public var warnings: [String] { result.warnings }
    /// Masks every secret this scan found (those the baseline hides too) in any string; `.none` with `reveal`.
    public var redactor: Redactor

    public init(findings: [Finding], result: ScanResult, root: String, absoluteRoot: String, reveal: Bool,
                rules: RuleSet, staleBaseline: [BaselineEntry] = [], suppressedByBaseline: Int = 0,
                toolVersion: String) {
        self.findings = findings
        self.result = result
        self.root = root
        self.absoluteRoot = absoluteRoot
        self.reveal = reveal
        self.rules = rules
        self.staleBaseline = staleBaseline
        self.suppressedByBaseline = suppressedByBaseline
        self.toolVersion = toolVersion
        self.redactor = reveal ? .none : Redactor(findings: result.findings + findings)
    }

    var secretCount: Int { findings.filter { $0.kind == .secret }.count }
    var hashCount: Int { findings.filter { $0.kind == .passwordHash }.count }
    var envCount: Int { findings.filter { $0.kind == .envUsage }.count }
}

/// Renders reports. Every format redacts secrets unless `reveal` is set; none ever prints a secret in a
/// fingerprint, a message or a summary.
public enum Reporter {
    /// The report in `format`.
    ///
    /// Redaction happens twice, through the one ``Redactor`` that knows every secret of the scan: on each
    /// finding's strings before rendering (so no format's escaping can hide a value from the final pass), and on
    /// the rendered report as a whole.
    /// `failing`: whether these findings fail the run (not with `--report-only`, or when all are below `--fail-on`);
    /// the text report's closing words say which.
    public static func render(_ input: ReportInput, format: ReportFormat, color: Bool = false, staged: Bool = false,
                              failing: Bool = true) -> String {
        var shown = input
        if !input.reveal { shown.findings = input.findings.map { input.redactor.mask($0) } }
        let out: String
        switch format {
        case .text: out = TextReport.render(shown, color: color, staged: staged, failing: failing)
        case .json: out = JSONReport.render(shown).serialized() + "\n"
        case .sarif: out = SARIFReport.render(shown).serialized() + "\n"
        case .junit: out = JUnitReport.render(shown)
        case .gitlab: out = GitLabReport.render(shown).serialized() + "\n"
        }
        return input.redactor(out)
    }

    /// One key per finding that tells apart occurrences of one secret in one file (which share a fingerprint):
    /// the fingerprint for the first, `fingerprint:N` for the N-th, in report order (stable across line moves).
    public static func occurrenceKeys(_ findings: [Finding]) -> [String] {
        var seen: [String: Int] = [:]
        return findings.map { f in
            let n = seen[f.fingerprint, default: 0] + 1
            seen[f.fingerprint] = n
            return n == 1 ? f.fingerprint : "\(f.fingerprint):\(n)"
        }
    }

    /// The one-line summary: files, bytes, time, findings.
    public static func summary(_ input: ReportInput) -> String {
        let r = input.result
        var s = "arca: scanned " + (r.commitsScanned > 0 ? "\(r.commitsScanned) commits, " : "")
            + "\(r.filesScanned) \(r.commitsScanned > 0 ? "blobs" : "files") (\(formatBytes(r.bytesScanned))) in "
            + "\(formatSeconds(r.seconds)): \(input.secretCount) secret\(input.secretCount == 1 ? "" : "s")"
        if input.hashCount > 0 { s += ", \(input.hashCount) password hash\(input.hashCount == 1 ? "" : "es")" }
        s += ", \(input.envCount) env-usage"
        if !r.skipped.isEmpty { s += ", \(r.skipped.count) skipped" }
        if input.suppressedByBaseline > 0 { s += ", \(input.suppressedByBaseline) in baseline" }
        if !input.staleBaseline.isEmpty { s += ", \(input.staleBaseline.count) stale baseline entries" }
        if r.alreadyInBase > 0 { s += ", \(r.alreadyInBase) already in the base (moved, not added; --report-moved shows them)" }
        if r.allowlisted > 0 { s += ", \(r.allowlisted) allowlisted by fingerprint in .arca.yaml" }
        return input.redactor(s)
    }

    static func formatBytes(_ n: Int) -> String {
        if n < 1024 { return "\(n) B" }
        if n < 1024 * 1024 { return fixed(Double(n) / 1024, 1) + " KiB" }
        return fixed(Double(n) / 1_048_576, 1) + " MiB"
    }

    static func formatSeconds(_ s: Double) -> String { s < 1 ? "\(Int(s * 1000)) ms" : fixed(s, 2) + " s" }

    static func fixed(_ v: Double, _ digits: Int) -> String {
        var p = 1.0
        for _ in 0..<digits { p *= 10 }
        let scaled = Int((v * p).rounded())
        let whole = scaled / Int(p), frac = abs(scaled % Int(p))
        var f = String(frac)
        while f.count < digits { f = "0" + f }
        return "\(whole).\(f)"
    }
}

/// JSON: `{"findings": [...], "summary": {...}, "errors": [...], "skipped": [...], "staleBaseline": [...]}`.
public enum JSONReport {
    /// The version of the report's shape (docs/report-schema.json): a new field is a minor bump, a changed or
    /// removed one a major bump.
    public static let schemaVersion = "1.0"

    public static func finding(_ f: Finding, reveal: Bool) -> JSONValue {
        var pairs: [(String, JSONValue)] = [
            ("kind", .string(f.kind.rawValue)),
            ("rule", .string(f.ruleID)),
            ("description", .string(f.ruleDescription)),
            ("provider", .string(f.provider)),
            ("severity", .string(f.severity.rawValue)),
            ("confidence", .string(f.confidence.rawValue)),
            ("path", .string(f.path)),
            ("line", .int(f.line)),
            ("column", .int(f.column)),
            ("endLine", .int(f.endLine)),
            ("endColumn", .int(f.endColumn)),
            ("secret", .string(f.displaySecret(reveal: reveal))),
            ("redacted", .bool(!reveal && f.kind.holdsSecret)),
            ("fingerprint", .string(f.fingerprint)),
        ]
        if f.kind.holdsSecret { pairs.append(("entropy", .double(f.entropy))) }
        if let v = f.variable { pairs.append(("variable", .string(v))) }
        if let l = f.language { pairs.append(("language", .string(l))) }
        if let c = f.credentialName { pairs.append(("credential", .bool(c))) }
        if let c = f.checksum { pairs.append(("checksum", .string(c.rawValue))) }
        if let e = f.encoding { pairs.append(("encoding", .string(e))) }
        if let c = f.commit { pairs.append(("commit", commit(c))) }
        if let p = f.presentAtHead { pairs.append(("status", .string(p ? "present" : "history-only"))) }
        return .object(pairs)
    }

    static func commit(_ c: CommitInfo) -> JSONValue {
        .object([("id", .string(c.id)), ("author", .string(c.author)), ("email", .string(c.email)),
                 ("date", .string(c.date)), ("summary", .string(c.summary))])
    }

    public static func render(_ input: ReportInput) -> JSONValue {
        let r = input.result
        return .object([
            ("schemaVersion", .string(schemaVersion)),
            ("version", .string(input.toolVersion)),
            ("findings", .array(input.findings.map { finding($0, reveal: input.reveal) })),
            ("summary", .object([
                ("filesScanned", .int(r.filesScanned)),
                ("commitsScanned", .int(r.commitsScanned)),
                ("bytesScanned", .int(r.bytesScanned)),
                ("seconds", .double(r.seconds)),
                ("secrets", .int(input.secretCount)),
                ("passwordHashes", .int(input.hashCount)),
                ("envUsages", .int(input.envCount)),
                ("skipped", .int(r.skipped.count)),
                ("errors", .int(r.errors.count)),
                ("suppressedByBaseline", .int(input.suppressedByBaseline)),
                ("alreadyInBase", .int(r.alreadyInBase)),
                ("allowlisted", .int(r.allowlisted)),
            ])),
            ("errors", .array(r.errors.map { .string($0) })),
            ("skipped", .array(r.skipped.map { .object([("path", .string($0.path)), ("reason", .string($0.reason))]) })),
            ("staleBaseline", .array(input.staleBaseline.map {
                .object([("fingerprint", .string($0.fingerprint)), ("rule", .string($0.ruleID)), ("path", .string($0.path))])
            })),
        ])
    }
}

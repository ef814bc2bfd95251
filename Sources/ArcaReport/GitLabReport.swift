import ArcaJSON
import ArcaRules
import ArcaScan

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// GitLab's secret-detection report (`artifacts: reports: secret_detection:`), schema 15.2.1: `version`, `scan`
/// (analyzer, scanner, type `secret_detection`, times, status) and one vulnerability per secret finding, with
/// `identifiers` naming the rule, a location (file, lines, the commit that added it — `0000000` outside history
/// scans, as GitLab's own analyzer writes) and no secret (the description shows it redacted, like every report).
/// Env-usage findings are not vulnerabilities and are left out.
public enum GitLabReport {
    public static let schemaVersion = "15.2.1"

    public static func render(_ input: ReportInput, now: Int = Int(time(nil))) -> JSONValue {
        let secrets = input.findings.filter { $0.kind.holdsSecret }
        let keys = Reporter.occurrenceKeys(secrets)
        let vulnerabilities: [JSONValue] = zip(secrets, keys).map { f, key in
            var location: [(String, JSONValue)] = [
                ("file", .string(input.pathPrefix + f.path)),
                ("start_line", .int(f.line)),
                ("end_line", .int(max(f.line, f.endLine))),
            ]
            var commit: [(String, JSONValue)] = [("sha", .string(f.commit?.id ?? "0000000"))]
            if let c = f.commit {
                commit += [("author", .string("\(c.author) <\(c.email)>")), ("date", .string(c.date)),
                           ("message", .string(c.summary))]
            }
            location.append(("commit", .object(commit)))
            var description = "\(f.ruleDescription) (\(f.provider)) found: \(f.displaySecret(reveal: input.reveal))"
            if f.presentAtHead == false { description += "; no longer at HEAD, but still in history" }
            return .object([
                ("id", .string(uuid(Finding.fingerprint(rule: "gitlab-id", path: key, secret: "")))),
                ("name", .string(f.ruleDescription)),
                ("description", .string(description)),
                ("severity", .string(severity(f.severity))),
                ("solution", .string("Move the secret to a vault (arca migrate) and rotate it: git history still holds it.")),
                ("identifiers", .array([.object([
                    ("type", .string("arca_rule_id")),
                    ("name", .string("Arca rule \(f.ruleID)")),
                    ("value", .string(f.ruleID)),
                ])])),
                ("location", .object(location)),
            ])
        }
        let vendor: JSONValue = .object([("name", .string("Arca"))])
        let tool: [(String, JSONValue)] = [
            ("id", .string("arca")), ("name", .string("Arca")), ("version", .string(input.toolVersion)),
            ("vendor", vendor),
        ]
        let end = now
        let start = end - Int(input.result.seconds.rounded(.up))
        var scan: [(String, JSONValue)] = [
            ("analyzer", .object(tool)),
            ("scanner", .object(tool + [("url", .string("https://github.com/arca-security/arca"))])),
            ("type", .string("secret_detection")),
            ("start_time", .string(timestamp(start))),
            ("end_time", .string(timestamp(end))),
            ("status", .string(input.result.errors.isEmpty && input.unscanned.isEmpty ? "success" : "failure")),
        ]
        let messages: [JSONValue] = input.result.errors.map { message("fatal", $0) }
            + input.unscanned.map { message("fatal", "\($0.path) could not be scanned: \($0.reason)") }
            + input.warnings.map { message("warn", $0) }
        if !messages.isEmpty { scan.append(("messages", .array(messages))) }
        return .object([
            ("version", .string(schemaVersion)),
            ("scan", .object(scan)),
            ("vulnerabilities", .array(vulnerabilities)),
        ])
    }

    static func message(_ level: String, _ text: String) -> JSONValue {
        .object([("level", .string(level)), ("value", .string(text))])
    }

    /// GitLab's severities: Info, Low, Medium, High, Critical.
    static func severity(_ s: Severity) -> String { s.rawValue.prefix(1).uppercased() + s.rawValue.dropFirst() }

    /// 32 hex digits as a UUID's 8-4-4-4-12 groups.
    static func uuid(_ hex: String) -> String {
        let h = Array(hex)
        return [h[0..<8], h[8..<12], h[12..<16], h[16..<20], h[20..<32]].map { String($0) }.joined(separator: "-")
    }

    /// `YYYY-MM-DDTHH:MM:SS` in UTC, the schema's pattern.
    static func timestamp(_ seconds: Int) -> String {
        var t = time_t(seconds)
        var tm = tm()
        gmtime_r(&t, &tm)
        func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(tm.tm_year + 1900)-\(two(tm.tm_mon + 1))-\(two(tm.tm_mday))T\(two(tm.tm_hour)):\(two(tm.tm_min)):\(two(tm.tm_sec))"
    }
}

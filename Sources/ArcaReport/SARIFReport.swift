import ArcaJSON
import ArcaRules
import ArcaScan

/// SARIF 2.1.0 as GitHub code scanning accepts it: one `rules` entry per rule that has results, relative and
/// percent-encoded URIs against `%SRCROOT%`, and `partialFingerprints` that carry Arca's fingerprint (never the
/// secret).
public enum SARIFReport {
    public static let fingerprintKey = "arcaFingerprint/v1"

    public static func render(_ input: ReportInput) -> JSONValue {
        var ruleIndex: [String: Int] = [:]
        var ruleEntries: [JSONValue] = []
        let byID = Dictionary(input.rules.rules.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        for f in input.findings where ruleIndex[f.ruleID] == nil {
            ruleIndex[f.ruleID] = ruleEntries.count
            ruleEntries.append(rule(byID[f.ruleID], id: f.ruleID, finding: f))
        }
        let occurrences = Reporter.occurrenceKeys(input.findings)
        let results: [JSONValue] = zip(input.findings, occurrences).map { f, occurrence in
            var commitNote = ""
            if let c = f.commit {
                commitNote = " (added in commit \(c.id.prefix(12)) by \(c.author) on \(c.date)"
                    + (f.presentAtHead == false ? "; no longer at HEAD, but still in history" : "") + ")"
            }
            let message = f.kind.holdsSecret
                ? "\(f.ruleDescription) found: \(f.displaySecret(reveal: input.reveal))\(commitNote)"
                : "Reads \(f.credentialName == true ? "credential " : "")environment variable \(f.secret) (\(f.language ?? "?"))"
            return .object([
                ("ruleId", .string(f.ruleID)),
                ("ruleIndex", .int(ruleIndex[f.ruleID]!)),
                ("level", .string(level(f.severity))),
                ("message", .object([("text", .string(message))])),
                ("locations", .array([.object([("physicalLocation", .object([
                    ("artifactLocation", .object([("uri", .string(uri(input.pathPrefix + f.path))), ("uriBaseId", .string("%SRCROOT%"))])),
                    ("region", .object([
                        ("startLine", .int(f.line)), ("startColumn", .int(f.column)),
                        ("endLine", .int(f.endLine)), ("endColumn", .int(max(f.endColumn, 1))),
                    ])),
                ]))])])),
                // Two occurrences of one secret in one file share Arca's fingerprint; code scanning needs them apart.
                ("partialFingerprints", .object([(fingerprintKey, .string(occurrence))])),
                ("properties", .object(properties(f))),
            ])
        }
        var base = input.absoluteRoot
        if !base.hasSuffix("/") { base += "/" }
        return .object([
            ("$schema", .string("https://json.schemastore.org/sarif-2.1.0.json")),
            ("version", .string("2.1.0")),
            ("runs", .array([.object([
                ("tool", .object([("driver", .object([
                    ("name", .string("arca")),
                    ("informationUri", .string("https://github.com/arca-security/arca")),
                    ("semanticVersion", .string(input.toolVersion)),
                    ("rules", .array(ruleEntries)),
                ]))])),
                ("originalUriBaseIds", .object([("%SRCROOT%", .object([("uri", .string("file://" + uri(base)))]))])),
                ("columnKind", .string("unicodeCodePoints")),
                // An incomplete scan says so: executionSuccessful false, one notification per error.
                // So does a hook or review scan that had to pass over files; warnings and other skips are notes.
                ("invocations", .array([.object([
                    ("executionSuccessful", .bool(input.result.errors.isEmpty && input.unscanned.isEmpty)),
                    ("toolExecutionNotifications", .array(
                        input.result.errors.map { notification("error", $0) }
                        + input.unscanned.map { notification("error", "\($0.path) could not be scanned: \($0.reason)") }
                        + input.warnings.map { notification("warning", $0) }
                        + input.result.skipped.filter { $0.kind != "ignored" && $0.kind != "binary" && !input.unscanned.contains($0) }
                            .prefix(1000).map { notification("note", "skipped \($0.path): \($0.reason)") })),
                ])])),
                ("results", .array(results)),
            ])])),
        ])
    }

    static func notification(_ level: String, _ text: String) -> JSONValue {
        .object([("level", .string(level)), ("message", .object([("text", .string(text))]))])
    }

    static func properties(_ f: Finding) -> [(String, JSONValue)] {
        var p: [(String, JSONValue)] = [
            ("kind", .string(f.kind.rawValue)),
            ("confidence", .string(f.confidence.rawValue)),
            ("severity", .string(f.severity.rawValue)),
        ]
        if let c = f.commit {
            p += [("commitSha", .string(c.id)), ("author", .string(c.author)), ("email", .string(c.email)),
                  ("date", .string(c.date))]
        }
        if let present = f.presentAtHead { p.append(("status", .string(present ? "present" : "history-only"))) }
        return p
    }

    static func rule(_ rule: Rule?, id: String, finding f: Finding) -> JSONValue {
        let description = rule?.description ?? f.ruleDescription
        let severity = rule?.severity ?? f.severity
        let help = f.kind.holdsSecret
            ? "Move the secret to a vault (arca migrate), rotate it (git history still holds it), or mark a false "
                + "positive with an arca:ignore comment or a baseline entry."
            : "This code reads a credential from the environment; arca migrate --env can turn it into a vault lookup."
        return .object([
            ("id", .string(id)),
            ("name", .string(camel(id))),
            ("shortDescription", .object([("text", .string(description))])),
            ("fullDescription", .object([("text", .string(description + " (" + (rule?.provider ?? f.provider) + ")"))])),
            ("help", .object([("text", .string(help))])),
            ("defaultConfiguration", .object([("level", .string(level(severity)))])),
            ("properties", .object([
                ("tags", .array([.string("security"), .string(f.kind.rawValue)])),
                ("precision", .string(precision(rule?.confidence ?? f.confidence))),
                ("security-severity", .string(securitySeverity(severity))),
            ])),
        ])
    }

    static func level(_ s: Severity) -> String {
        switch s {
        case .critical, .high: return "error"
        case .medium: return "warning"
        case .low, .info: return "note"
        }
    }

    static func precision(_ c: Confidence) -> String {
        switch c {
        case .high: return "very-high"
        case .medium: return "high"
        case .low: return "medium"
        }
    }

    static func securitySeverity(_ s: Severity) -> String {
        switch s {
        case .critical: return "9.5"
        case .high: return "8.0"
        case .medium: return "5.5"
        case .low: return "3.0"
        case .info: return "0.0"
        }
    }

    static func camel(_ id: String) -> String {
        id.split(separator: "-").map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined()
    }

    /// Percent-encodes a path for a URI, keeping `/` and RFC 3986's unreserved characters.
    public static func uri(_ path: String) -> String {
        var out = ""
        for b in path.utf8 {
            let c = Character(Unicode.Scalar(b))
            if (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a)
                || "-._~/".contains(c) {
                out.append(c)
            } else {
                let hex = String(b, radix: 16, uppercase: true)
                out += "%" + (hex.count == 1 ? "0" + hex : hex)
            }
        }
        return out
    }
}

import ArcaRules
import ArcaScan

/// Human text: findings grouped by file with the line in context (secret redacted), then the summary.
public enum TextReport {
    public static func render(_ input: ReportInput, color: Bool, staged: Bool = false, failing: Bool = true) -> String {
        func paint(_ s: String, _ code: String) -> String { color ? "\u{1B}[\(code)m\(s)\u{1B}[0m" : s }
        var out = ""
        var currentPath: String?
        for f in input.findings {
            if f.path != currentPath {
                if currentPath != nil { out += "\n" }
                out += paint(f.path, "1;35") + "\n"
                currentPath = f.path
            }
            let sevColor: String
            switch f.severity {
            case .critical, .high: sevColor = "1;31"
            case .medium: sevColor = "33"
            default: sevColor = "36"
            }
            let label = f.kind.holdsSecret ? f.severity.rawValue : "env-usage"
            var head = "  \(f.line):\(f.column)  \(paint(label, sevColor))  \(paint(f.ruleID, "1"))  \(f.ruleDescription)"
            if f.kind.holdsSecret {
                head += "  [\(f.confidence.rawValue) confidence"
                if f.checksum == .valid { head += ", checksum valid" }
                if let e = f.encoding { head += ", \(e)-encoded" }
                head += "]"
            } else {
                head += "  [\(f.language ?? "?"): \(f.secret)\(f.credentialName == true ? ", credential" : "")]"
            }
            out += head + "\n"
            var context = f.displayLine(reveal: input.reveal)
            if context.count > 200 { context = String(context.prefix(200)) + " …" }
            out += "      " + paint(context.trimmingLeadingSpaces(), "2") + "\n"
            if let c = f.commit {
                let where_ = f.presentAtHead == false ? paint("history only", "33") : "still at HEAD"
                out += "      commit \(c.id.prefix(12)) by \(c.author) <\(c.email)> on \(c.date) (\(where_))\n"
            }
            out += "      fingerprint \(f.fingerprint)\n"
        }
        if !input.result.errors.isEmpty {
            out += "\n" + paint("The scan is incomplete:", "1;31") + "\n"
            for e in input.result.errors { out += "  error: \(e)\n" }
        }
        if !input.staleBaseline.isEmpty {
            out += "\nBaseline entries that no longer match anything (remove them with `arca baseline create`):\n"
            for e in input.staleBaseline { out += "  \(e.fingerprint)  \(e.ruleID)  \(e.path)\n" }
        }
        if input.secretCount + input.hashCount > 0 {
            let headline = !failing
                ? (staged ? "Secrets found, but below --fail-on or reported only: the commit is not blocked."
                          : "Secrets found (below --fail-on, or reported only: this run does not fail).")
                : (staged ? "Commit blocked: this change adds secrets." : "Secrets found.")
            out += "\n" + paint(headline, failing ? "1;31" : "1;33") + " Three ways out:\n"
            out += "  1. Move the secret to the vault and look it up at run time: arca migrate (then rotate it if it was\n"
            out += "     ever pushed: git history keeps it).\n"
            out += "  2. A false positive? Add `arca:ignore` (or `arca:ignore:RULE-ID`) in a comment on that line.\n"
            out += "  3. Accept it knowingly: arca baseline create (writes .arca-baseline, which scans load by default).\n"
        }
        return out
    }
}

extension String {
    func trimmingLeadingSpaces() -> String { String(drop(while: { $0 == " " || $0 == "\t" })) }
}

/// JUnit XML: one test case per finding (a failure), or one passing case when the scan is clean.
public enum JUnitReport {
    public static func render(_ input: ReportInput) -> String {
        let failures = input.findings.filter { $0.kind.holdsSecret }
        let envs = input.findings.filter { $0.kind == .envUsage }
        let total = max(1, failures.count + envs.count + input.result.errors.count)
        var out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        out += "<testsuites name=\"arca\" tests=\"\(total)\" failures=\"\(failures.count)\" errors=\"\(input.result.errors.count)\">\n"
        out += "  <testsuite name=\"arca scan\" tests=\"\(total)\" failures=\"\(failures.count)\" errors=\"\(input.result.errors.count)\" "
            + "skipped=\"\(envs.count)\" time=\"\(Reporter.fixed(input.result.seconds, 3))\">\n"
        if input.findings.isEmpty {
            out += "    <testcase classname=\"arca\" name=\"no secrets found\" time=\"0\"/>\n"
        }
        for f in input.findings {
            let name = xml("\(f.ruleID) at \(f.path):\(f.line):\(f.column)")
            out += "    <testcase classname=\"\(xml(f.path))\" name=\"\(name)\" time=\"0\">\n"
            if f.kind.holdsSecret {
                let message = xml("\(f.ruleDescription): \(f.displaySecret(reveal: input.reveal))")
                out += "      <failure type=\"\(f.severity.rawValue)\" message=\"\(message)\">"
                out += xml("\(f.path):\(f.line):\(f.column) \(f.ruleID) fingerprint \(f.fingerprint)\n"
                           + (f.commit.map { "commit \($0.id) by \($0.author) <\($0.email)> on \($0.date)\n" } ?? "")
                           + f.displayLine(reveal: input.reveal))
                out += "</failure>\n"
            } else {
                out += "      <skipped message=\"\(xml("env-usage \(f.secret) (\(f.language ?? "?"))"))\"/>\n"
            }
            out += "    </testcase>\n"
        }
        for e in input.result.errors {
            out += "    <testcase classname=\"arca\" name=\"scan error\" time=\"0\">\n"
            out += "      <error message=\"\(xml(e))\"/>\n    </testcase>\n"
        }
        out += "  </testsuite>\n</testsuites>\n"
        return out
    }

    static func xml(_ s: String) -> String {
        var out = ""
        for u in s.unicodeScalars {
            switch u {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            case "\n", "\t": out.unicodeScalars.append(u)
            case _ where u.value < 0x20 || u == "\u{FFFE}" || u == "\u{FFFF}": out += "?"
            default: out.unicodeScalars.append(u)
            }
        }
        return out
    }
}

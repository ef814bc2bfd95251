/// One accepted finding: its fingerprint, with the rule and path for the reader (the fingerprint is the key).
public struct BaselineEntry: Sendable, Hashable, Comparable {
    public var fingerprint: String
    public var ruleID: String
    public var path: String

    public init(fingerprint: String, ruleID: String, path: String) {
        self.fingerprint = fingerprint
        self.ruleID = ruleID
        self.path = path
    }

    public static func < (a: BaselineEntry, b: BaselineEntry) -> Bool {
        (a.path, a.ruleID, a.fingerprint) < (b.path, b.ruleID, b.fingerprint)
    }
}

/// A malformed baseline file (exit code 2).
public struct BaselineError: Error, CustomStringConvertible, Sendable {
    public var file: String
    public var line: Int?
    public var message: String
    public var description: String { "\(file)\(line.map { ":\($0)" } ?? ""): \(message)" }
}

/// Accepted findings, stored as text that merges cleanly in git: a header, then one entry per line, sorted by
/// path and rule, with no secrets, timestamps or line numbers.
public struct Baseline: Sendable {
    public static let header = "# arca baseline v1"
    public var entries: [BaselineEntry]

    public init(entries: [BaselineEntry]) { self.entries = Array(Set(entries)).sorted() }

    /// A baseline accepting every secret finding in `findings` (env-usage findings are informational).
    public init(findings: [Finding]) {
        self.init(entries: findings.filter { $0.kind.holdsSecret }.map {
            BaselineEntry(fingerprint: $0.fingerprint, ruleID: $0.ruleID, path: $0.path)
        })
    }

    /// The file's text.
    public func serialized() -> String {
        var out = Baseline.header + "\n"
        out += "# One accepted finding per line: fingerprint, rule, path. Created by `arca baseline create`;\n"
        out += "# the fingerprint hashes rule, path and secret, so entries survive edits elsewhere in the file.\n"
        for e in entries { out += "\(e.fingerprint) \(e.ruleID) \(e.path)\n" }
        return out
    }

    /// Parses a baseline file's text; `file` names it in errors.
    public static func parse(_ text: String, file: String) throws(BaselineError) -> Baseline {
        var entries: [BaselineEntry] = []
        var sawHeader = false
        for (i, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.hasSuffix("\r") ? raw.dropLast() : raw
            if line.isEmpty { continue }
            if line.hasPrefix("#") {
                if i == 0 {
                    guard line == Baseline.header else {
                        throw BaselineError(file: file, line: 1, message: line.hasPrefix("# arca baseline v")
                            ? "baseline format '\(line.dropFirst(2))' is newer than this arca understands (v1)"
                            : "not an arca baseline (expected '\(Baseline.header)' on the first line)")
                    }
                    sawHeader = true
                }
                continue
            }
            guard sawHeader else {
                throw BaselineError(file: file, line: 1, message: "not an arca baseline (expected '\(Baseline.header)' on the first line)")
            }
            let parts = line.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: true)
            guard parts.count == 3 else {
                throw BaselineError(file: file, line: i + 1, message: "expected 'FINGERPRINT RULE PATH'")
            }
            let fp = String(parts[0])
            guard fp.utf8.count == 32, fp.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }) else {
                throw BaselineError(file: file, line: i + 1, message: "fingerprint must be 32 lower-case hex digits")
            }
            entries.append(BaselineEntry(fingerprint: fp, ruleID: String(parts[1]), path: String(parts[2])))
        }
        guard sawHeader else {
            throw BaselineError(file: file, line: nil, message: "empty file; not an arca baseline")
        }
        return Baseline(entries: entries)
    }

    /// Splits `findings` into those not in the baseline, how many it hid, and entries that matched nothing.
    public func apply(to findings: [Finding]) -> (kept: [Finding], suppressed: Int, stale: [BaselineEntry]) {
        let known = Set(entries.map(\.fingerprint))
        var seen: Set<String> = []
        var kept: [Finding] = []
        var suppressed = 0
        for f in findings {
            if f.kind.holdsSecret && known.contains(f.fingerprint) {
                suppressed += 1
                seen.insert(f.fingerprint)
            } else {
                kept.append(f)
            }
        }
        return (kept, suppressed, entries.filter { !seen.contains($0.fingerprint) })
    }
}

import ArcaRegex

/// How bad a leak of this kind is. Ordered: `info < low < medium < high < critical`.
public enum Severity: String, Sendable, Codable, CaseIterable, Comparable {
    case info, low, medium, high, critical

    var rank: Int { Severity.allCases.firstIndex(of: self)! }
    public static func < (a: Severity, b: Severity) -> Bool { a.rank < b.rank }
}

/// How sure a match is a real credential. Ordered: `low < medium < high`.
public enum Confidence: String, Sendable, Codable, CaseIterable, Comparable {
    case low, medium, high

    var rank: Int { Confidence.allCases.firstIndex(of: self)! }
    public static func < (a: Confidence, b: Confidence) -> Bool { a.rank < b.rank }
}

/// What a rule finds: an embedded credential, or code/config that reads or defines one through the environment.
public enum FindingKind: String, Sendable, Codable {
    case secret
    case envUsage = "env-usage"
}

/// An offline validator for tokens that embed a checksum.
public enum ChecksumKind: String, Sendable, Codable, CaseIterable {
    /// GitHub and npm style: the last 6 characters are the base62 CRC32 of the token's random part.
    case crc32Base62Last6 = "crc32-base62"
}

/// Per-rule exceptions: a candidate matching any of these is not reported.
public struct RuleAllowlist: Sendable {
    /// Exact secret values to ignore.
    public var values: Set<String> = []
    /// Patterns tested against `regexTarget`.
    public var regexes: [Regex] = []
    /// What `regexes` test: the secret (default), the whole match, or the line.
    public var regexTarget: RegexTarget = .secret
    /// Path globs whose files this rule ignores.
    public var paths: [Glob] = []
    /// Case-insensitive substrings which, in the secret, mark it as not a secret.
    public var stopwords: [String] = []

    public enum RegexTarget: String, Sendable { case secret, match, line }

    public var isEmpty: Bool { values.isEmpty && regexes.isEmpty && paths.isEmpty && stopwords.isEmpty }
}

/// One detection rule, loaded from `rules/*.yaml` and validated.
public struct Rule: Sendable, Identifiable {
    public var id: String
    public var description: String
    public var provider: String
    public var kind: FindingKind
    public var severity: Severity
    public var confidence: Confidence
    /// Lower-cased keywords; a rule runs only on lines where one occurs. Empty only for path-scoped rules.
    public var keywords: [String]
    public var pattern: Regex
    /// Capture group of the secret (kind secret) or the variable name (kind env-usage).
    public var secretGroup: Int
    /// Capture group of the variable name, when the pattern has one.
    public var nameGroup: Int?
    /// Minimum Shannon entropy (bits per byte) of the secret.
    public var minEntropy: Double
    /// Minimum number of character classes (lower, upper, digit, other) in the secret.
    public var minCharClasses: Int
    public var checksum: ChecksumKind?
    /// Only files matching one of these globs are checked (empty: all files).
    public var paths: [Glob]
    /// Extra lines after the keyword's line that a match may span (private keys, multi-line manifests).
    public var linesAfter: Int
    /// Extra lines before the keyword's line that a match may start on.
    public var linesBefore: Int
    /// Heuristic rules (generic assignments, entropy): skipped on minified lines and subject to stricter filters.
    public var generic: Bool
    /// Language for env-usage rules (`python`, `javascript`, …).
    public var language: String?
    public var allowlist: RuleAllowlist
    public var positiveExamples: [String]
    public var negativeExamples: [String]
    /// The path examples are scanned under (for path-scoped rules such as `.env` files); default `example.txt`.
    public var examplePath: String?
    /// File the rule came from, for messages.
    public var source: String
}

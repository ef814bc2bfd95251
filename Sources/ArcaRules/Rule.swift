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
    /// A password hash (bcrypt, sha-crypt, MD5-crypt, yescrypt, argon2 …) in a `user:HASH` record or a SQL
    /// dump: not a live key, but crackable offline, so as sensitive as a secret (redacted, fails a build).
    case passwordHash = "password-hash"
    case envUsage = "env-usage"

    /// Whether the finding's value is sensitive: a secret or a password hash (not an env-usage name).
    public var holdsSecret: Bool { self != .envUsage }
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
public final class Rule: Sendable, Identifiable {
    public let id: String
    public let description: String
    public let provider: String
    public let kind: FindingKind
    public let severity: Severity
    public let confidence: Confidence
    /// Lower-cased keywords; a rule runs only on lines where one occurs. Empty only for path-scoped rules.
    public let keywords: [String]
    public let pattern: Regex
    /// For rules anchored at the identifier holding a keyword: the pattern compiled with a leading `\G`, tried
    /// once at the start of each such identifier instead of at every position of the line.
    public let anchoredPattern: Regex?
    /// Capture group of the secret (kind secret) or the variable name (kind env-usage).
    public let secretGroup: Int
    /// Capture group of the variable name, when the pattern has one.
    public let nameGroup: Int?
    /// Minimum Shannon entropy (bits per byte) of the secret.
    public let minEntropy: Double
    /// Minimum number of character classes (lower, upper, digit, other) in the secret.
    public let minCharClasses: Int
    public let checksum: ChecksumKind?
    /// Only files matching one of these globs are checked (empty: all files).
    public let paths: [Glob]
    /// Extra lines after the keyword's line that a match may span (private keys, multi-line manifests).
    public let linesAfter: Int
    /// Extra lines before the keyword's line that a match may start on.
    public let linesBefore: Int
    /// Heuristic rules (generic assignments, entropy): skipped on minified lines and subject to stricter filters.
    public let generic: Bool
    /// Structured key material (PEM, PuTTY, keystores): the pattern validates the structure, so the global
    /// placeholder and line filters never apply inside it (a `Comment: dummy-key` line is not a placeholder).
    public let keyMaterial: Bool
    /// Language for env-usage rules (`python`, `javascript`, …).
    public let language: String?
    public let allowlist: RuleAllowlist
    public let positiveExamples: [String]
    public let negativeExamples: [String]
    /// The path examples are scanned under (for path-scoped rules such as `.env` files); default `example.txt`.
    public let examplePath: String?
    /// File the rule came from, for messages.
    public let source: String

    /// A rule is immutable once loaded; a class, so the scanner's hot loop shares it instead of copying it.
    public init(
        id: String,
        description: String,
        provider: String,
        kind: FindingKind,
        severity: Severity,
        confidence: Confidence,
        keywords: [String],
        pattern: Regex,
        anchoredPattern: Regex?,
        secretGroup: Int,
        nameGroup: Int?,
        minEntropy: Double,
        minCharClasses: Int,
        checksum: ChecksumKind?,
        paths: [Glob],
        linesAfter: Int,
        linesBefore: Int,
        generic: Bool,
        keyMaterial: Bool = false,
        language: String?,
        allowlist: RuleAllowlist,
        positiveExamples: [String],
        negativeExamples: [String],
        examplePath: String?,
        source: String
    ) {
        self.id = id
        self.description = description
        self.provider = provider
        self.kind = kind
        self.severity = severity
        self.confidence = confidence
        self.keywords = keywords
        self.pattern = pattern
        self.anchoredPattern = anchoredPattern
        self.secretGroup = secretGroup
        self.nameGroup = nameGroup
        self.minEntropy = minEntropy
        self.minCharClasses = minCharClasses
        self.checksum = checksum
        self.paths = paths
        self.linesAfter = linesAfter
        self.linesBefore = linesBefore
        self.generic = generic
        self.keyMaterial = keyMaterial
        self.language = language
        self.allowlist = allowlist
        self.positiveExamples = positiveExamples
        self.negativeExamples = negativeExamples
        self.examplePath = examplePath
        self.source = source
    }
}

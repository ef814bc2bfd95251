import ArcaRules
import Crypto

/// One thing the scanner found: an embedded credential, or a read/definition of a credential through the
/// environment. Holds the secret in memory only; reporters redact it unless asked not to.
public struct Finding: Sendable, Hashable {
    public var kind: FindingKind
    public var ruleID: String
    public var ruleDescription: String
    public var provider: String
    public var severity: Severity
    public var confidence: Confidence
    /// Path relative to the scanned root, `/`-separated.
    public var path: String
    /// 1-based line and column (column in Unicode scalars) where the secret (or variable name) starts.
    public var line: Int
    public var column: Int
    public var endLine: Int
    public var endColumn: Int
    /// The secret (kind secret) or the variable name (kind env-usage). Never print it without redaction.
    public var secret: String
    /// The variable, key or setting the secret was assigned to, when the rule captures it.
    public var variable: String?
    /// The language of an env-usage finding.
    public var language: String?
    /// Whether an env-usage variable name looks like a credential.
    public var credentialName: Bool?
    public var entropy: Double
    public var checksum: Checksum.Verdict?
    /// The text of the line before the secret, and after it when the secret ends on the same line.
    public var contextBefore: String
    public var contextAfter: String
    /// Other secrets found on the same line: redacted in the context too.
    public var otherSecretsOnLine: [String] = []
    /// For history scans: the commit that introduced the secret at `path`.
    public var commit: CommitInfo? = nil
    /// For history scans: whether the secret (same rule and value, at any path) is still in HEAD's tree.
    public var presentAtHead: Bool? = nil
    /// For an env-usage finding that defines a credential-named variable (`.env`, Dockerfile `ENV`, compose
    /// `environment:`, a manifest's `value:`): the value assigned, which is a secret. Never printed; the
    /// ``Redactor`` masks it wherever it appears.
    public var definedValue: String? = nil
    /// For a secret found inside an encoded run (base64, hex, percent-encoding; `base64>base64` for two
    /// layers): the encoding, and the run as it stands in the file — which carries the secret as surely as the
    /// secret itself, so the ``Redactor`` masks it too.
    public var encoding: String? = nil
    public var encodedValue: String? = nil
    /// For a secret inside an archive: the archive's path (the outermost one, as the scan found it). `path`
    /// is then `ARCHIVE!MEMBER` (`deploy.tar.gz!deploy/env.sh`, `a.zip!b.jar!c.properties`).
    public var archive: String? = nil
    /// Where the secret starts in the bytes scanned (a file's own bytes, or its UTF-8 transcoding): what `migrate`
    /// locates it by (nil for findings from decoded runs, whose bytes are not the file's).
    public var byteOffset: Int? = nil
    /// Stable identity: hash of (rule, path, secret). Survives edits elsewhere in the file and line moves.
    public var fingerprint: String

    /// The fingerprint of a secret found by `rule` in `path`: the first 32 hex digits of
    /// SHA-256("arca-fp-v1" ‖ rule ‖ path ‖ SHA-256(secret)). Neither the secret nor an unsalted hash of it
    /// appears in the fingerprint.
    public static func fingerprint(rule: String, path: String, secret: String) -> String {
        let inner = SHA256.hash(data: Array(secret.utf8))
        var h = SHA256()
        h.update(data: Array("arca-fp-v1\u{0}\(rule)\u{0}\(path)\u{0}".utf8))
        h.update(data: Array(inner))
        return Finding.hex(h.finalize().prefix(16))
    }

    /// What a report shows of the line after a secret: only what follows the value's visible end. A rule may
    /// capture less than the whole value (a password with spaces, one with an escaped quote, a user name with
    /// an `@`), so after an opening quote the line resumes at the closing quote, and after an unquoted value
    /// it is not shown at all.
    static func afterValue(_ before: String, _ secret: String, _ after: String) -> String {
        guard !after.isEmpty else { return after }
        guard let q = before.last, q == "\"" || q == "'" || q == "`" else { return "…" }
        // A value cut at `\"` ends in a backslash: the quote after it is escaped.
        var escaped = secret.reversed().prefix { $0 == "\\" }.count % 2 == 1
        var i = after.startIndex
        while i < after.endIndex {
            let c = after[i]
            if c == q && !escaped {
                // A doubled quote is an escaped one (YAML, SQL, INI): the value goes on.
                let next = after.index(after: i)
                if next < after.endIndex && after[next] == q {
                    i = after.index(after: next)
                    continue
                }
                return i == after.startIndex ? after : "…" + after[i...]
            }
            escaped = c == "\\" && !escaped
            i = after.index(after: i)
        }
        return "…"
    }

    /// This finding, found in a member of the archive at `archivePath`: its path under the archive's (and its
    /// fingerprint with it).
    func inside(archive archivePath: String) -> Finding {
        var f = self
        f.path = archivePath + "!" + path
        f.archive = archivePath
        f.fingerprint = Finding.fingerprint(rule: ruleID, path: f.path, secret: secret)
        return f
    }

    /// `bytes` as lower-case hex, two digits each.
    static func hex(_ bytes: some Sequence<UInt8>) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// A short prefix of `secret` and a mask: enough to recognise it, not enough to use it.
    public static func redact(_ secret: String) -> String {
        let chars = Array(secret)
        let shown = chars.count >= 16 ? 4 : (chars.count >= 8 ? 2 : 0)
        return String(chars.prefix(shown)) + "*****"
    }

    /// The secret as reports show it: redacted unless `reveal`; env-usage names are never secret.
    public func displaySecret(reveal: Bool) -> String {
        reveal || kind == .envUsage ? secret : Finding.redact(secret)
    }

    /// The line that holds the finding, with the secret redacted (unless `reveal`). A multi-line secret shows
    /// only its first line.
    public func displayLine(reveal: Bool) -> String {
        var shown = displaySecret(reveal: reveal)
        if let nl = shown.firstIndex(of: "\n") { shown = String(shown[..<nl]) + " …" }
        let afterValue = reveal || !kind.holdsSecret ? contextAfter : Finding.afterValue(contextBefore, secret, contextAfter)
        guard !reveal, !otherSecretsOnLine.isEmpty else { return contextBefore + shown + afterValue }
        var before = contextBefore, after = afterValue
        for other in otherSecretsOnLine where !other.isEmpty {
            before = before.replacing(other, with: Finding.redact(other))
            after = after.replacing(other, with: Finding.redact(other))
        }
        return before + shown + after
    }
}

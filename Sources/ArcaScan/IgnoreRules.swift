import ArcaRegex
import ArcaRules

/// The ignore patterns of one directory (`.gitignore` and `.arcaignore`), chained to its parent's.
///
/// Immutable, shared by the walker's tasks. Deeper files override shallower ones, later lines override earlier
/// ones, and `!pattern` re-includes, as in git.
public final class IgnoreRules: Sendable {
    struct Pattern: Sendable {
        let glob: Glob
        let negated: Bool
    }

    let parent: IgnoreRules?
    /// Directory of the ignore file, relative to the scan root ("" for the root).
    let base: String
    let patterns: [Pattern]

    init(parent: IgnoreRules?, base: String, patterns: [Pattern]) {
        self.parent = parent
        self.base = base
        self.patterns = patterns
    }

    /// An empty chain.
    public static let empty = IgnoreRules(parent: nil, base: "", patterns: [])

    /// Parses gitignore syntax. Lines that do not form a valid glob are skipped (git does the same).
    static func parse(_ text: String) -> [Pattern] {
        var out: [Pattern] = []
        for raw in text.split(whereSeparator: { $0 == "\n" || $0 == "\r" }) {
            var line = Substring(raw)
            while line.last == " " && !line.hasSuffix("\\ ") { line = line.dropLast() }
            if line.isEmpty || line.hasPrefix("#") { continue }
            var negated = false
            if line.hasPrefix("!") { negated = true; line = line.dropFirst() }
            if line.hasPrefix("\\#") || line.hasPrefix("\\!") { line = line.dropFirst() }
            guard let g = try? Glob(String(line)) else { continue }
            out.append(Pattern(glob: g, negated: negated))
        }
        return out
    }

    /// A child chain for directory `base` with the given ignore-file texts, or `self` when they add nothing.
    func adding(base: String, texts: [String]) -> IgnoreRules {
        let patterns = texts.flatMap(IgnoreRules.parse)
        return patterns.isEmpty ? self : IgnoreRules(parent: self, base: base, patterns: patterns)
    }

    /// Whether `path` (relative to the scan root) is ignored.
    public func isIgnored(_ path: String, isDirectory: Bool, matcher: Matcher) -> Bool {
        var node: IgnoreRules? = self
        while let n = node {
            let rel: String
            if n.base.isEmpty {
                rel = path
            } else if path.hasPrefix(n.base + "/") {
                rel = String(path.dropFirst(n.base.count + 1))
            } else {
                node = n.parent
                continue
            }
            for p in n.patterns.reversed() {
                if p.glob.directoryOnly && !isDirectory { continue }
                if p.glob.matches(rel, matcher: matcher) { return !p.negated }
            }
            node = n.parent
        }
        return false
    }
}

import ArcaRegex
import ArcaRules

/// Runs every rule's own examples through the real detection pipeline, lints its pattern, and optionally times it.
public enum RuleTester {
    /// The outcome for one rule.
    public struct Result: Sendable {
        public var ruleID: String
        public var source: String
        public var failures: [String]
        /// Microseconds to match the rule's pattern over the timing corpus (only with timing on).
        public var microseconds: Double?
        public var passed: Bool { failures.isEmpty }
    }

    /// Tests `rules`. With `timing`, each pattern also runs over a corpus made of every example plus a stress text
    /// of keyword-dense lines, and the time is reported.
    public static func run(_ rules: RuleSet, timing: Bool = false) -> [Result] {
        var options = DetectOptions()
        options.envUsage = .credentials
        let detector = Detector(rules: rules, options: options)
        let scratch = DetectorScratch(rules: rules)
        let corpus: [UInt8] = timing ? timingCorpus(rules) : []
        return rules.rules.map { rule in
            var failures = RuleLint.check(rule).map(\.description)
            let path = rule.examplePath ?? "example.txt"
            for (i, example) in rule.positiveExamples.enumerated() {
                let found = findings(detector, example, path, scratch)
                if !found.contains(where: { $0.ruleID == rule.id }) {
                    let others = found.map(\.ruleID)
                    failures.append("positive example \(i + 1) is not found"
                                    + (others.isEmpty ? "" : " (found by \(others.joined(separator: ", ")) instead)"))
                }
            }
            for (i, example) in rule.negativeExamples.enumerated()
            where findings(detector, example, path, scratch).contains(where: { $0.ruleID == rule.id }) {
                failures.append("negative example \(i + 1) is reported")
            }
            var micros: Double?
            if timing {
                let matcher = Matcher()
                let start = Scanner.now()
                corpus.withUnsafeBytes { buf in
                    var hit = false
                    for _ in 0..<3 {
                        matcher.allMatches(rule.pattern, in: buf, from: 0, to: buf.count, limitHit: &hit) { _ in }
                    }
                    if hit { failures.append("the timing corpus drove the pattern into the PCRE2 match limit") }
                }
                micros = (Scanner.now() - start) / 3 * 1e6
            }
            return Result(ruleID: rule.id, source: rule.source, failures: failures, microseconds: micros)
        }
    }

    static func findings(_ d: Detector, _ text: String, _ path: String, _ s: DetectorScratch) -> [Finding] {
        Array(text.utf8).withUnsafeBytes { d.detect($0, path: path, scratch: s) }
    }

    /// Every example, then lines that repeat each keyword with almost-matching tails: the input on which a
    /// careless pattern backtracks.
    static func timingCorpus(_ rules: RuleSet) -> [UInt8] {
        var text = ""
        for r in rules.rules {
            for e in r.positiveExamples + r.negativeExamples { text += e + "\n" }
        }
        let filler = String(repeating: "aA0_-", count: 40)
        for k in rules.automaton.keywords {
            text += "\(k) = \"\(filler)\" \(k)\(filler) \(k):\(filler)=\(filler)\n"
        }
        return Array(text.utf8)
    }
}

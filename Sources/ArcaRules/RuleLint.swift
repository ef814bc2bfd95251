/// Static checks on rule patterns that keep PCRE2's backtracking in check.
public enum RuleLint {
    /// A problem in a pattern.
    public struct Problem: Sendable, Equatable, CustomStringConvertible {
        public var ruleID: String
        public var offset: Int
        public var message: String
        public var description: String { "rule '\(ruleID)': pattern offset \(offset): \(message)" }
    }

    /// Rejects unbounded quantifiers (`*`, `+`, `{n,}`) that are not possessive: every repetition in a rule must
    /// carry an upper bound (`{0,64}`), so the cost of a match is bounded by the pattern, not by the input.
    public static func check(_ rule: Rule) -> [Problem] {
        unboundedQuantifiers(in: rule.pattern.pattern).map {
            Problem(ruleID: rule.id, offset: $0,
                    message: "unbounded quantifier; give it an upper bound such as {0,64} (or make it possessive)")
        }
    }

    /// Offsets of unbounded, non-possessive quantifiers in a PCRE2 pattern (outside classes and escapes).
    public static func unboundedQuantifiers(in pattern: String) -> [Int] {
        let c = Array(pattern.utf8)
        var out: [Int] = []
        var i = 0
        var inClass = false
        while i < c.count {
            let ch = c[i]
            if ch == UInt8(ascii: "\\") {
                // \Q…\E quotes literally.
                if i + 1 < c.count, c[i + 1] == UInt8(ascii: "Q") {
                    var j = i + 2
                    while j + 1 < c.count, !(c[j] == UInt8(ascii: "\\") && c[j + 1] == UInt8(ascii: "E")) { j += 1 }
                    i = j + 2
                    continue
                }
                i += 2
                continue
            }
            if inClass {
                if ch == UInt8(ascii: "]") { inClass = false }
                i += 1
                continue
            }
            switch ch {
            case UInt8(ascii: "["):
                inClass = true
                // A `]` right after `[` or `[^` is literal.
                if i + 1 < c.count, c[i + 1] == UInt8(ascii: "^") { i += 1 }
                if i + 1 < c.count, c[i + 1] == UInt8(ascii: "]") { i += 1 }
            case UInt8(ascii: "*"), UInt8(ascii: "+"):
                let possessive = i + 1 < c.count && c[i + 1] == UInt8(ascii: "+")
                if !possessive { out.append(i) }
                i += possessive ? 1 : 0
            case UInt8(ascii: "{"):
                if let close = c[i...].firstIndex(of: UInt8(ascii: "}")) {
                    let body = String(decoding: c[(i + 1)..<close], as: UTF8.self)
                    let parts = body.split(separator: ",", omittingEmptySubsequences: false)
                    let numeric = !body.isEmpty && parts.count <= 2 && parts.allSatisfy { $0.allSatisfy(\.isNumber) }
                        && !(parts.first?.isEmpty ?? true)
                    let possessive = close + 1 < c.count && c[close + 1] == UInt8(ascii: "+")
                    if numeric && parts.count == 2 && parts[1].isEmpty && !possessive { out.append(i) }
                    // Step over the bound, and over a possessive `+`, which is not a quantifier of its own.
                    if numeric { i = possessive ? close + 1 : close }
                }
            default: break
            }
            i += 1
        }
        return out
    }
}

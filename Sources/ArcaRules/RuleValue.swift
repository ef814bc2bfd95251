import Yams

/// The parsed shape of a rule file: scalars (every value is text; numbers and booleans are parsed by the
/// loader), lists and mappings, each with the line it came from when known. Rule files written by people are
/// YAML (through Yams); the built-in pack is also compiled into the binary as JSON, which a small parser reads
/// far faster than YAML at every start of the pre-commit hook.
public indirect enum RuleValue: Sendable {
    case scalar(String, line: Int?)
    case list([RuleValue], line: Int?)
    case map(RuleMap, line: Int?)

    public var line: Int? {
        switch self {
        case .scalar(_, let l), .list(_, let l), .map(_, let l): return l
        }
    }

    var string: String? { if case .scalar(let s, _) = self { return s } else { return nil } }
    var scalar: String? { string }
    var sequence: [RuleValue]? { if case .list(let items, _) = self { return items } else { return nil } }
    var mapping: RuleMap? { if case .map(let m, _) = self { return m } else { return nil } }

    /// At most this many nodes are converted from one YAML document: aliases can make a small file expand to
    /// billions (the "billion laughs"), which must be an error, not an out-of-memory crash.
    public static let nodeBudget = 200_000

    /// Converts a Yams node, or nil when it expands past `budget` nodes (aliases included, counted each time).
    static func bounded(_ node: Node, budget: inout Int) -> RuleValue? {
        budget -= 1
        guard budget >= 0 else { return nil }
        let line = node.mark.map { $0.line }
        switch node {
        case .scalar(let s): return .scalar(s.string, line: line)
        case .sequence(let seq):
            var items: [RuleValue] = []
            for n in seq {
                guard let v = bounded(n, budget: &budget) else { return nil }
                items.append(v)
            }
            return .list(items, line: line)
        case .mapping(let m):
            var pairs: [(RuleValue, RuleValue)] = []
            for (k, v) in m {
                guard let key = bounded(k, budget: &budget), let value = bounded(v, budget: &budget) else { return nil }
                pairs.append((key, value))
            }
            return .map(RuleMap(pairs: pairs), line: line)
        case .alias: return .scalar("", line: line)
        }
    }
}

/// An ordered mapping of a rule file.
public struct RuleMap: Sequence, Sendable {
    public var pairs: [(key: RuleValue, value: RuleValue)]

    public init(pairs: [(RuleValue, RuleValue)]) { self.pairs = pairs.map { (key: $0.0, value: $0.1) } }

    public func makeIterator() -> IndexingIterator<[(key: RuleValue, value: RuleValue)]> { pairs.makeIterator() }

    public subscript(_ key: String) -> RuleValue? { pairs.first { $0.key.string == key }?.value }
}

/// A minimal JSON reader for the embedded pack: objects, arrays and strings (the embed script writes every
/// value as a string). Not a general JSON parser: numbers, booleans and null are read as their text.
enum RuleJSON {
    struct Failure: Error {}

    static func parse(_ text: String) -> RuleValue? {
        var bytes = Array(text.utf8)
        return bytes.withUnsafeMutableBufferPointer { buf -> RuleValue? in
            var i = 0
            return try? value(buf, &i)
        }
    }

    private static func skip(_ b: UnsafeMutableBufferPointer<UInt8>, _ i: inout Int) {
        while i < b.count, b[i] == 0x20 || b[i] == 0x0a || b[i] == 0x0d || b[i] == 0x09 { i += 1 }
    }

    private static func value(_ b: UnsafeMutableBufferPointer<UInt8>, _ i: inout Int) throws -> RuleValue {
        skip(b, &i)
        guard i < b.count else { throw Failure() }
        switch b[i] {
        case UInt8(ascii: "{"):
            i += 1
            var pairs: [(RuleValue, RuleValue)] = []
            skip(b, &i)
            if i < b.count, b[i] == UInt8(ascii: "}") { i += 1; return .map(RuleMap(pairs: []), line: nil) }
            while true {
                skip(b, &i)
                let k = try string(b, &i)
                skip(b, &i)
                guard i < b.count, b[i] == UInt8(ascii: ":") else { throw Failure() }
                i += 1
                pairs.append((.scalar(k, line: nil), try value(b, &i)))
                skip(b, &i)
                guard i < b.count else { throw Failure() }
                if b[i] == UInt8(ascii: ",") { i += 1; continue }
                guard b[i] == UInt8(ascii: "}") else { throw Failure() }
                i += 1
                return .map(RuleMap(pairs: pairs), line: nil)
            }
        case UInt8(ascii: "["):
            i += 1
            var items: [RuleValue] = []
            skip(b, &i)
            if i < b.count, b[i] == UInt8(ascii: "]") { i += 1; return .list([], line: nil) }
            while true {
                items.append(try value(b, &i))
                skip(b, &i)
                guard i < b.count else { throw Failure() }
                if b[i] == UInt8(ascii: ",") { i += 1; continue }
                guard b[i] == UInt8(ascii: "]") else { throw Failure() }
                i += 1
                return .list(items, line: nil)
            }
        case UInt8(ascii: "\""):
            return .scalar(try string(b, &i), line: nil)
        default:
            let start = i
            while i < b.count, ![UInt8(ascii: ","), UInt8(ascii: "}"), UInt8(ascii: "]")].contains(b[i]) { i += 1 }
            return .scalar(String(decoding: b[start..<i], as: UTF8.self).trimmingSpaces(), line: nil)
        }
    }

    private static func string(_ b: UnsafeMutableBufferPointer<UInt8>, _ i: inout Int) throws -> String {
        guard i < b.count, b[i] == UInt8(ascii: "\"") else { throw Failure() }
        i += 1
        var out: [UInt8] = []
        while i < b.count {
            let c = b[i]
            if c == UInt8(ascii: "\"") { i += 1; return String(decoding: out, as: UTF8.self) }
            if c == UInt8(ascii: "\\") {
                i += 1
                guard i < b.count else { throw Failure() }
                switch b[i] {
                case UInt8(ascii: "n"): out.append(0x0a)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "r"): out.append(0x0d)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0c)
                case UInt8(ascii: "u"):
                    guard i + 4 < b.count, let v = UInt32(String(decoding: b[(i + 1)...(i + 4)], as: UTF8.self), radix: 16)
                    else { throw Failure() }
                    i += 4
                    var scalarValue = v
                    if (0xD800..<0xDC00).contains(v), i + 6 < b.count, b[i + 1] == UInt8(ascii: "\\"),
                       b[i + 2] == UInt8(ascii: "u"),
                       let lo = UInt32(String(decoding: b[(i + 3)...(i + 6)], as: UTF8.self), radix: 16) {
                        scalarValue = 0x10000 + ((v - 0xD800) << 10) + (lo - 0xDC00)
                        i += 6
                    }
                    out += Array(String(Unicode.Scalar(scalarValue).map(Character.init) ?? "\u{FFFD}").utf8)
                default: out.append(b[i])  // \" \\ \/
                }
                i += 1
                continue
            }
            out.append(c)
            i += 1
        }
        throw Failure()
    }
}

extension String {
    func trimmingSpaces() -> String {
        var s = Substring(self)
        while s.first == " " { s = s.dropFirst() }
        while s.last == " " { s = s.dropLast() }
        return String(s)
    }
}

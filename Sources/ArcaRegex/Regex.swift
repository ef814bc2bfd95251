import CPCRE2
import Synchronization

/// A PCRE2 compile or match failure, with PCRE2's own message and, for compile errors, the offset in the pattern.
public struct RegexError: Error, CustomStringConvertible, Sendable, Equatable {
    /// PCRE2's error code (negative for match errors, positive for compile errors).
    public let code: Int32
    /// Offset in the pattern where compilation failed, if any.
    public let offset: Int?
    /// PCRE2's text for `code`.
    public let message: String

    init(code: Int32, offset: Int? = nil) {
        self.code = code
        self.offset = offset
        var buffer = [UInt8](repeating: 0, count: 256)
        let n = buffer.withUnsafeMutableBufferPointer { pcre2_get_error_message_8(code, $0.baseAddress, 256) }
        self.message = n > 0 ? String(decoding: buffer[0..<Int(n)], as: UTF8.self) : "PCRE2 error \(code)"
    }

    public var description: String {
        if let offset { return "\(message) at offset \(offset)" }
        return message
    }
}

/// Compile options for a ``Regex``.
public struct RegexOptions: OptionSet, Sendable, Hashable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// `(?i)` for the whole pattern.
    public static let caseless = RegexOptions(rawValue: PCRE2_CASELESS)
    /// `^` and `$` match at line breaks.
    public static let multiline = RegexOptions(rawValue: PCRE2_MULTILINE)
    /// `.` matches a newline.
    public static let dotAll = RegexOptions(rawValue: PCRE2_DOTALL)
}

/// A compiled PCRE2 pattern in byte mode (no UTF checks: invalid UTF-8 is just bytes), JIT-compiled when possible.
///
/// Immutable after init. PCRE2 allows one compiled pattern to be matched from many threads at once as long as each
/// thread has its own match data and JIT stack (pcre2api, "Multithreading"); ``Matcher`` owns those, so sharing a
/// `Regex` between tasks is safe, which is why it is `@unchecked Sendable`.
public final class Regex: @unchecked Sendable {
    let code: OpaquePointer
    /// The source pattern.
    public let pattern: String
    /// Number of capture groups.
    public let captureCount: Int
    /// JIT compilation happens on first use: a scan of a small change needs only the few rules whose keywords
    /// occur, and JIT-compiling the whole pack at start-up was most of the hook's cost. 0 = not yet, 1 = done.
    private let jitDone = Atomic<UInt8>(0)
    private let jitLock = Mutex<Bool>(false)

    /// Compiles `pattern`. Throws ``RegexError`` with PCRE2's message and offset when the pattern is invalid.
    public init(_ pattern: String, options: RegexOptions = []) throws(RegexError) {
        var errorCode: Int32 = 0
        var errorOffset = 0
        let bytes = Array(pattern.utf8)
        let compiled = bytes.withUnsafeBufferPointer { buf in
            pcre2_compile_8(buf.baseAddress ?? UnsafePointer(bitPattern: 1)!, buf.count, options.rawValue,
                            &errorCode, &errorOffset, nil)
        }
        guard let compiled else { throw RegexError(code: errorCode, offset: errorOffset) }
        self.code = compiled
        self.pattern = pattern
        var count: UInt32 = 0
        pcre2_pattern_info_8(compiled, UInt32(PCRE2_INFO_CAPTURECOUNT), &count)
        self.captureCount = Int(count)
    }

    deinit { pcre2_code_free_8(code) }

    /// JIT-compiles the pattern once; every match calls this first, so no thread matches while another compiles.
    @inline(__always)
    func prepare() {
        if jitDone.load(ordering: .acquiring) == 1 { return }
        jitLock.withLock { compiled in
            if !compiled {
                // Without JIT (unsupported platform or pattern) PCRE2 falls back to its interpreter.
                _ = pcre2_jit_compile_8(code, PCRE2_JIT_COMPLETE)
                compiled = true
                jitDone.store(1, ordering: .releasing)
            }
        }
    }

    /// Whether the JIT compiler accepted the pattern (compiling it now if needed).
    public var isJIT: Bool {
        prepare()
        var size = 0
        pcre2_pattern_info_8(code, UInt32(PCRE2_INFO_JITSIZE), &size)
        return size > 0
    }

    /// The number of the capture group called `name`, or nil.
    public func groupNumber(named name: String) -> Int? {
        let n = Array(name.utf8) + [0]
        let number = n.withUnsafeBufferPointer { pcre2_substring_number_from_name_8(code, $0.baseAddress) }
        return number > 0 ? Int(number) : nil
    }
}

/// Limits applied to every match so that a backtracking pattern cannot run away.
public struct MatchLimits: Sendable, Hashable {
    /// PCRE2's match limit (calls of its internal match function; the JIT honours it too).
    public var matchLimit: UInt32
    /// PCRE2's depth limit (backtracking depth, interpreter only).
    public var depthLimit: UInt32
    /// Largest JIT stack in bytes.
    public var jitStackMax: Int

    /// Limits that no sane secret rule gets near but that stop catastrophic backtracking within milliseconds.
    public static let standard = MatchLimits(matchLimit: 200_000, depthLimit: 5_000, jitStackMax: 512 * 1024)

    public init(matchLimit: UInt32, depthLimit: UInt32, jitStackMax: Int) {
        self.matchLimit = matchLimit
        self.depthLimit = depthLimit
        self.jitStackMax = jitStackMax
    }
}

/// Capture ranges of one match, as byte offsets into the subject.
public struct MatchRanges: Sendable {
    var offsets: [Int]

    /// The whole match.
    public var whole: Range<Int> { offsets[0]..<offsets[1] }

    /// The range of group `n`, or nil when it did not take part.
    public subscript(group n: Int) -> Range<Int>? {
        guard 2 * n + 1 < offsets.count else { return nil }
        let s = offsets[2 * n], e = offsets[2 * n + 1]
        return s < 0 || e < s ? nil : s..<e
    }
}

/// How one match attempt ended.
public enum MatchOutcome: Sendable {
    /// A match.
    case match(MatchRanges)
    /// No match in the range.
    case noMatch
    /// The match or depth limit (or JIT stack) was exhausted: the pattern is too costly on this input.
    case limitExceeded
    /// Any other PCRE2 error.
    case error(RegexError)
}

/// Per-task matching state: match data, match context with limits, and a JIT stack. Not shareable between tasks.
public final class Matcher {
    private let matchData: OpaquePointer
    private let context: OpaquePointer
    private let jitStack: OpaquePointer?
    private static let maxPairs: UInt32 = 32
    private let unset = arca_pcre2_unset()

    /// Creates matching state with `limits`.
    public init(limits: MatchLimits = .standard) {
        matchData = pcre2_match_data_create_8(Matcher.maxPairs, nil)
        context = pcre2_match_context_create_8(nil)
        pcre2_set_match_limit_8(context, limits.matchLimit)
        pcre2_set_depth_limit_8(context, limits.depthLimit)
        jitStack = pcre2_jit_stack_create_8(32 * 1024, max(32 * 1024, limits.jitStackMax), nil)
        if let jitStack { pcre2_jit_stack_assign_8(context, nil, UnsafeMutableRawPointer(jitStack)) }
    }

    deinit {
        pcre2_match_data_free_8(matchData)
        pcre2_match_context_free_8(context)
        if let jitStack { pcre2_jit_stack_free_8(jitStack) }
    }

    /// Matches `regex` against `subject[0..<end]`, starting the search at `start`. Lookbehind may see bytes before
    /// `start`; nothing at or past `end` is read.
    public func match(_ regex: Regex, in subject: UnsafeRawBufferPointer, from start: Int, to end: Int) -> MatchOutcome {
        guard let base = subject.baseAddress, start <= end, end <= subject.count else { return .noMatch }
        regex.prepare()
        let rc = pcre2_match_8(regex.code, base.assumingMemoryBound(to: UInt8.self), end, start, 0, matchData, context)
        if rc == PCRE2_ERROR_NOMATCH { return .noMatch }
        if rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT || rc == PCRE2_ERROR_JIT_STACKLIMIT
            || rc == PCRE2_ERROR_HEAPLIMIT {
            return .limitExceeded
        }
        if rc < 0 { return .error(RegexError(code: rc)) }
        let pairs = rc == 0 ? Int(Matcher.maxPairs) : Int(rc)
        let ovector = pcre2_get_ovector_pointer_8(matchData)!
        var offsets = [Int](repeating: -1, count: 2 * max(pairs, regex.captureCount + 1))
        for i in 0..<(2 * pairs) {
            let v = ovector[i]
            offsets[i] = v == unset ? -1 : v
        }
        return .match(MatchRanges(offsets: offsets))
    }

    /// Every non-overlapping match of `regex` in `subject[start..<end]`; stops early when a limit is hit and
    /// reports it through `limitHit`.
    public func allMatches(
        _ regex: Regex, in subject: UnsafeRawBufferPointer, from start: Int, to end: Int,
        limitHit: inout Bool, _ body: (MatchRanges) -> Void
    ) {
        var position = start
        while position <= end {
            switch match(regex, in: subject, from: position, to: end) {
            case .match(let m):
                body(m)
                let whole = m.whole
                position = whole.upperBound > whole.lowerBound ? whole.upperBound : whole.upperBound + 1
            case .limitExceeded:
                limitHit = true
                return
            case .noMatch, .error:
                return
            }
        }
    }
}

extension Regex {
    /// Convenience for tests and one-off checks: whether `text` contains a match. Allocates matching state
    /// (a JIT stack): in loops, pass a ``Matcher``.
    public func matches(_ text: String, limits: MatchLimits = .standard) -> Bool {
        matches(text, matcher: Matcher(limits: limits))
    }

    /// Whether `text` contains a match, using the caller's matching state.
    public func matches(_ text: String, matcher: Matcher) -> Bool {
        var bytes = Array(text.utf8)
        return bytes.withUnsafeMutableBytes { raw in
            let buf = UnsafeRawBufferPointer(raw)
            if case .match = matcher.match(self, in: buf, from: 0, to: buf.count) { return true }
            return false
        }
    }

    /// Convenience: the text of group `group` in the first match in `text`.
    public func firstMatch(in text: String, group: Int = 0, limits: MatchLimits = .standard) -> String? {
        let matcher = Matcher(limits: limits)
        var bytes = Array(text.utf8)
        return bytes.withUnsafeMutableBytes { raw -> String? in
            let buf = UnsafeRawBufferPointer(raw)
            guard case .match(let m) = matcher.match(self, in: buf, from: 0, to: buf.count),
                  let r = m[group: group] else { return nil }
            return String(decoding: buf[r], as: UTF8.self)
        }
    }
}

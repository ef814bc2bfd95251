import Foundation

/// Failed sign-ins and requests refused before sign-in, counted per source so that a caller who cannot sign in
/// cannot grow the trail faster than a fixed small rate.
///
/// Time runs in intervals of ``interval`` seconds. The first attempt from a source in an interval is recorded at
/// once (an operator sees it immediately); the rest of that interval's attempts from the source are counted in
/// memory and written as one record with their count when the interval ends (on the next attempt after it, on
/// ``Vault/flushFailedAttempts(force:)``, which the server calls every second, or when the server stops). Past
/// ``maxSources`` sources in one interval, further sources share one aggregate. So an interval writes at most
/// `2 × (maxSources + 1)` records, each bounded by ``AuditField``, however many requests arrive.
///
/// A process killed before an interval ends loses that interval's count (not its first record).
final class FailedAttempts: Sendable {
    static let interval: TimeInterval = 60
    static let maxSources = 32
    /// Distinct callers, operations and names an aggregate lists (the count covers the rest).
    static let maxDistinct = 8
    static let otherSources = "(other sources)"

    /// One source's attempts in the current interval, after its first.
    struct Bucket {
        var source: String
        var count = 0
        var callers: [String] = []
        var operations: [String] = []
        var names: [String] = []
        var results: [String] = []
        var more = false

        mutating func add(_ a: Attempt) {
            count += 1
            func note(_ value: String?, _ list: inout [String]) {
                guard let value, !list.contains(value) else { return }
                if list.count < FailedAttempts.maxDistinct { list.append(value) } else { more = true }
            }
            note(AuditField.capped(a.caller, max: AuditField.maxBytes / 2), &callers)
            note(AuditField.capped(a.operation, max: AuditField.operationBytes), &operations)
            note(a.secretName.map(AuditField.secretName), &names)
            note(AuditField.capped(a.result, max: AuditField.resultBytes), &results)
        }

        /// The aggregate record's fields (nil when nothing was counted after the first attempt).
        var summary: Attempt? {
            guard count > 0 else { return nil }
            let etc = more ? ", …" : ""
            return Attempt(operation: operations.joined(separator: ",") + etc, caller: callers.joined(separator: ", ") + etc,
                           secretName: names.isEmpty ? nil : FailedAttempts.nameList(names, more: more),
                           result: results.joined(separator: ","), source: source, count: count, aggregate: true)
        }
    }

    /// An aggregate's secret names: a JSON array of each name's trail form (``AuditField/secretName(_:)``,
    /// escaped once), then `"…"` when more names were seen. A name may hold a comma; an array stays
    /// unambiguous, and a real name never reads as `…` (its trail form is ASCII).
    static func nameList(_ names: [String], more: Bool) -> String {
        let e = JSONEncoder()
        e.outputFormatting = [.withoutEscapingSlashes]
        let items = names + (more ? [moreMarker] : [])
        return String(decoding: (try? e.encode(items)) ?? Data("[]".utf8), as: UTF8.self)
    }

    static let moreMarker = AggregateNames.moreMarker

    /// The names an aggregate's list holds (without the `…` marker).
    static func names(inList list: String) -> [String] { AggregateNames.names(inList: list) }

    struct Attempt {
        var operation: String
        var caller: String
        var secretName: String?
        var result: String
        var source: String
        var count = 1
        /// An interval's aggregate (put back if it cannot be written), not an attempt recorded as it came.
        var aggregate = false
    }

    struct State {
        var started: Date?
        var buckets: [String: Bucket] = [:]
    }

    private let state = Locked(State())
    private let clockBox = Locked<@Sendable () -> Date>({ Date() })

    /// What time it is (tests set a clock of their own).
    var clock: @Sendable () -> Date {
        get { clockBox.get() }
        set { clockBox.set(newValue) }
    }

    /// Counts `attempt`; returns what to write now: the aggregates of an interval that has ended, then the
    /// attempt itself if it is its source's first in this interval.
    func note(_ attempt: Attempt) -> [Attempt] {
        let now = clock()
        return state.update { s in
            var out = Self.close(&s, now: now, force: false)
            if s.started == nil { s.started = now }
            let key = s.buckets[attempt.source] != nil || s.buckets.count < Self.maxSources ? attempt.source : Self.otherSources
            if s.buckets[key] == nil {
                s.buckets[key] = Bucket(source: key)
                out.append(attempt)
            } else {
                s.buckets[key]!.add(attempt)
            }
            return out
        }
    }

    /// The aggregates due now (all of them with `force`), which the caller writes.
    func due(force: Bool) -> [Attempt] {
        let now = clock()
        return state.update { s in Self.close(&s, now: now, force: force) }
    }

    private static func close(_ s: inout State, now: Date, force: Bool) -> [Attempt] {
        guard let started = s.started, force || now.timeIntervalSince(started) >= interval else { return [] }
        let out = s.buckets.values.sorted { $0.source < $1.source }.compactMap(\.summary)
        s = State()
        return out
    }

    /// Puts back aggregates that could not be written, so their counts are not lost.
    func restore(_ attempts: [Attempt]) {
        state.update { s in
            if s.started == nil { s.started = clock() }
            for a in attempts {
                var b = s.buckets[a.source] ?? Bucket(source: a.source)
                b.count += a.count
                if !b.callers.contains(a.caller) { b.callers.append(a.caller) }
                if !b.operations.contains(a.operation) { b.operations.append(a.operation) }
                for n in a.secretName.map(FailedAttempts.names(inList:)) ?? [] where !b.names.contains(n) { b.names.append(n) }
                if !b.results.contains(a.result) { b.results.append(a.result) }
                s.buckets[a.source] = b
            }
        }
    }
}

import Dispatch
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The moment the request a thread is working for must be answered by. The vault's calls are blocking and run
/// on a thread of their own (``BlockingExecutor``), so the deadline travels with the thread, not the task: the
/// server sets it around each request's storage work, and the storage bounds every wait by it (a PostgreSQL
/// statement, a connection, a place in a group commit). Unset (the CLI), each wait keeps its own bound only.
public enum RequestDeadline {
    /// Uptime in nanoseconds, stored as the thread-specific pointer's bits (0: none).
    private static let key: pthread_key_t = {
        var k = pthread_key_t()
        pthread_key_create(&k, nil)
        return k
    }()

    /// Runs `body` with `deadline` as this thread's (nil: none), restoring the one before after it.
    public static func run<T>(by deadline: DispatchTime?, _ body: () throws -> T) rethrows -> T {
        let before = pthread_getspecific(key)
        pthread_setspecific(key, deadline.flatMap { UnsafeRawPointer(bitPattern: UInt($0.uptimeNanoseconds)) })
        defer { pthread_setspecific(key, before) }
        return try body()
    }

    /// This thread's deadline, if any.
    public static var current: DispatchTime? {
        pthread_getspecific(key).map { DispatchTime(uptimeNanoseconds: UInt64(UInt(bitPattern: $0))) }
    }

    /// How long a wait bounded by `limit` (seconds) may last now: `limit`, or less when the deadline comes
    /// first (never below zero). `byDeadline` tells which bound it is.
    public static func bound(_ limit: Double) -> (seconds: Double, byDeadline: Bool) {
        guard let d = current else { return (limit, false) }
        let now = DispatchTime.now().uptimeNanoseconds
        let left = d.uptimeNanoseconds > now ? Double(d.uptimeNanoseconds - now) / 1e9 : 0
        return left < limit ? (left, true) : (limit, false)
    }

    /// The failure of a wait the deadline ended: the storage is told unavailable (503 with `Retry-After`).
    public static func passed(_ during: String) -> VaultStore.Failure {
        .unavailable("the request's deadline passed \(during)")
    }

    /// Whether the deadline has passed.
    public static var isPast: Bool {
        guard let d = current else { return false }
        return DispatchTime.now() >= d
    }
}

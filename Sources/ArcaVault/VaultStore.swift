import Crypto
import Foundation

/// The vault's storage: envelopes the ``Barrier`` made, the sealed keyring, secret metadata, the directory and
/// the audit trail — never a plaintext value or key — on a ``StorageBackend``: one SQLite file (WAL, the
/// default) or a PostgreSQL database several servers share. Every commit is durable before it returns, and
/// writes are serialised across every process on the same storage.
public final class VaultStore: Sendable {
    /// Schema version this build writes; a newer file is refused. 2 added the audit record's `count` and
    /// `format` (an older arca would misread records with a count, so it is told the file is newer).
    public static let schemaVersion = 2

    public enum Failure: Error, Equatable, Sendable, CustomStringConvertible {
        case newerSchema(Int)
        case database(String)
        /// The file is not a whole vault: it fails SQLite's check, or an initialised vault has lost its trail.
        case damaged(String)
        /// The storage cannot be reached now (a database server restarting): nothing was done; try again.
        case unavailable(String)

        public var description: String {
            switch self {
            case .newerSchema(let v):
                return "the vault's schema \(v) is newer than this arca understands (\(VaultStore.schemaVersion)); use a newer arca"
            case .database(let m): return "vault database: \(m)"
            case .damaged(let m): return "the vault's storage is damaged: \(m); restore it from a backup (`arca vault backup` of a vault file, pg_dump of a PostgreSQL database)"
            case .unavailable(let m): return "the vault's storage is unavailable: \(m); nothing was done, try again"
            }
        }

        /// As callers are told.
        public var vaultError: VaultError {
            if case .unavailable = self { return .unavailable(description) }
            return .storage(description)
        }
    }

    let backend: any StorageBackend
    /// The file's path or the database's address (no password).
    public var path: String { backend.location }

    /// Opens (creating if needed) the vault file at `path`.
    public convenience init(path: String) throws {
        self.init(backend: try SQLiteBackend(path: path))
    }

    public init(backend: any StorageBackend) {
        self.backend = backend
    }

    /// Runs `body` in one serialised transaction: everything it writes commits together (durably) or not at
    /// all.
    func write<T>(_ body: (any SQLConnection) throws -> T) throws -> T {
        try backend.write(body)
    }

    /// Group commit: runs `work` inside a savepoint of a transaction shared with whatever other callers are
    /// waiting at the same moment, and returns once that transaction is committed (one sync for the whole
    /// group). `work` reports its own outcome; a throw from it rolls back only its savepoint. If the commit
    /// fails, every caller in the group gets the error, so nobody answers for a change that is not on disk.
    /// With `checkpoint`, the batch ends with a checkpoint of its last audit record signed by that key, in the
    /// same transaction.
    ///
    /// `auditOnly`: `work` only appends audit records (a read's), so a batch of such jobs alone may go to the
    /// storage as one statement (``StorageBackend/appendOnly(_:)``).
    func grouped(checkpoint: Curve25519.Signing.PrivateKey? = nil, auditOnly: Bool = false,
                 _ work: (any SQLConnection) throws -> Void) throws {
        try withoutActuallyEscaping(work) { escapable in
            try committer.submit(escapable, checkpoint: checkpoint, auditOnly: auditOnly, backend: backend)
        }
    }

    let committer = GroupCommitter()

    /// The directory as a serving process last read it (see ``VaultDirectory/grants(objectId:)``).
    let directoryCache = DirectoryCache()

    /// A consistent snapshot.
    func read<T>(_ body: (any SQLConnection) throws -> T) throws -> T {
        try backend.read(body)
    }

    /// A consistent copy of the whole vault into `path` (an empty file; the caller syncs it).
    func vacuum(into path: String) throws {
        try backend.copy(into: path)
    }

    static func setMeta(_ db: any SQLConnection, _ key: String, _ value: [UInt8]) throws {
        try db.execute(sql: "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                       arguments: [key, value])
    }

    static func meta(_ db: any SQLConnection, _ key: String) throws -> [UInt8]? {
        try Data.fetchOne(db, sql: "SELECT value FROM meta WHERE key = ?", arguments: [key]).map { Array($0) }
    }

    public func meta(_ key: String) throws -> [UInt8]? { try read { try VaultStore.meta($0, key) } }

    /// For tests of the barrier: change a stored row as an attacker with file access could.
    func tamper(sql: String, arguments: [any SQLArgument] = []) throws {
        try write { db in try db.execute(sql: sql, arguments: arguments) }
    }
}

/// Leader/follower group commit: the first caller to find no leader runs everyone queued so far in one
/// immediate transaction; the others sleep until their job is done, or until they are handed the lead for the
/// jobs queued meanwhile. Each job has its own semaphore, so a commit wakes exactly the callers it answered
/// (and the next leader first), never every waiting thread.
final class GroupCommitter: @unchecked Sendable {
    final class Job {
        /// Dropped once run: a caller's closure must not outlive its call (``VaultStore/grouped(checkpoint:_:)``
        /// lends it without escaping), and callers return as soon as they are woken.
        var work: ((any SQLConnection) throws -> Void)?
        let checkpoint: Curve25519.Signing.PrivateKey?
        /// `work` only appends audit records (``VaultStore/grouped(checkpoint:auditOnly:_:)``).
        let auditOnly: Bool
        /// Its caller's request deadline (``RequestDeadline``), if any.
        let deadline: DispatchTime?
        let wake = DispatchSemaphore(value: 0)
        var done = false
        /// Chosen by a leader to lead the jobs queued after its batch (it is signalled, and must lead).
        var handed = false
        var failure: (any Error)?
        init(_ work: @escaping (any SQLConnection) throws -> Void, checkpoint: Curve25519.Signing.PrivateKey?,
             auditOnly: Bool = false, deadline: DispatchTime? = RequestDeadline.current) {
            self.work = work
            self.checkpoint = checkpoint
            self.auditOnly = auditOnly
            self.deadline = deadline
        }
    }

    /// Told each batch's size and how long its transaction took (the server's metrics); nil by default.
    let observer = Locked<(@Sendable (Int, Duration) -> Void)?>(nil)

    private let lock = NSLock()
    private var pending: [Job] = []
    private var leading = false

    func submit(_ work: @escaping (any SQLConnection) throws -> Void, checkpoint: Curve25519.Signing.PrivateKey?, auditOnly: Bool,
                backend: any StorageBackend) throws {
        let job = Job(work, checkpoint: checkpoint, auditOnly: auditOnly)
        let leads = lock.withLock { () -> Bool in
            pending.append(job)
            if leading { return false }
            leading = true
            return true
        }
        if !leads { try follow(job) }
        // Woken either with the job done (another leader committed it) or to lead the jobs queued meanwhile.
        if !lock.withLock({ job.done }) { lead(job, backend) }
        if let f = lock.withLock({ job.failure }) { throw f }
    }

    /// Waits to be woken. Past the caller's request deadline (``RequestDeadline``), a job no leader has taken yet
    /// leaves the queue, unrun, and the caller is told the storage is unavailable; one taken into a batch or
    /// handed the lead stays, since others wait on that batch (bounded by the storage's own timeouts).
    private func follow(_ job: Job) throws {
        guard let deadline = job.deadline else { return job.wake.wait() }
        guard job.wake.wait(timeout: deadline) == .timedOut else { return }
        let left = lock.withLock { () -> Bool in
            guard !job.done, !job.handed, let i = pending.firstIndex(where: { $0 === job }) else { return false }
            pending.remove(at: i)
            job.work = nil
            return true
        }
        if left { throw Self.tooLate }
        job.wake.wait()
    }

    /// Commits everything pending (the caller's own job among it), then hands the lead to the first job queued
    /// meanwhile, if any, and wakes the callers answered.
    private func lead(_ own: Job, _ backend: any StorageBackend) {
        let batch = lock.withLock { () -> [Job] in
            defer { pending = [] }
            return pending
        }
        let started = ContinuousClock.now
        // A caller with under a second left is answered now (nothing done): it could not be answered in time, and
        // would cut the batch short for everyone. The batch then runs until its earliest caller's deadline, so no
        // caller waits past its own for a storage that does not answer (a lock another node holds, a server that
        // hangs); callers without a deadline (the CLI) leave it to the storage's own bounds.
        let cutoff = DispatchTime.now() + Self.leastTimeLeft
        var kept: [Job] = []
        for j in batch {
            if let d = j.deadline, d < cutoff { j.failure = Self.tooLate } else { kept.append(j) }
        }
        let failure = kept.isEmpty ? nil : RequestDeadline.run(by: kept.compactMap(\.deadline).min()) {
            GroupCommitter.run(kept, backend: backend)
        }
        if !kept.isEmpty { observer.get()?(kept.count, ContinuousClock.now - started) }
        let next = lock.withLock { () -> Job? in
            for j in batch {
                j.work = nil
                j.done = true
                if j.failure == nil { j.failure = failure }
            }
            if let first = pending.first {
                first.handed = true
                return first
            }
            leading = false
            return nil
        }
        next?.wake.signal()
        for j in batch where j !== own { j.wake.signal() }
    }

    /// A caller with less than this left when its batch forms is not taken into it.
    static let leastTimeLeft = 1.0
    /// A caller's answer when its deadline leaves no time for its commit: nothing of it was done.
    static let tooLate = RequestDeadline.passed("waiting for the commit of the writes before it")

    static func isUnavailable(_ error: any Error) -> Bool {
        switch error {
        case VaultStore.Failure.unavailable: return true
        case VaultError.unavailable: return true
        default: return false
        }
    }

    /// One transaction for the batch; each job in a savepoint. Returns the commit's failure, if any. A batch
    /// of audit-only jobs goes to ``StorageBackend/appendOnly(_:)``, which may run this body twice.
    static func run(_ batch: [Job], backend: any StorageBackend) -> (any Error)? {
        let body = { (db: any SQLConnection) throws in
            for job in batch {
                job.failure = nil
                do {
                    // A batch of one needs no savepoint (two statements fewer, round trips on PostgreSQL): its
                    // failure rolls the whole transaction back, which leaves what rolling back its savepoint
                    // and committing the rest would.
                    if batch.count == 1 {
                        try job.work?(db)
                    } else {
                        try db.inSavepointReturning { try job.work?(db) }
                    }
                } catch {
                    // Storage that cannot be reached fails the batch (its later jobs could only wait on it too);
                    // any other failure is that job's answer, its savepoint rolled back.
                    if GroupCommitter.isUnavailable(error) || error is NeedsWriteTransaction { throw error }
                    job.failure = error
                    if batch.count == 1 { throw AloneFailed() }
                }
            }
            // A failure here fails the whole batch: no answer leaves for a record left unsigned.
            if let key = batch.last(where: { $0.checkpoint != nil })?.checkpoint {
                try AuditLog.checkpointLast(db, key: key)
            }
        }
        do {
            if batch.allSatisfy(\.auditOnly) { try backend.appendOnly(body) } else { try backend.write(body) }
            return nil
        } catch is AloneFailed {
            return nil
        } catch {
            return error
        }
    }

    /// A batch of one's job failed (its failure is its answer): roll the transaction back.
    struct AloneFailed: Error {}
}

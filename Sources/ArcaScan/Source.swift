import Dispatch
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One thing to scan, and where its bytes come from. Every mode is a producer of these: the directory walk
/// (files), the history walk (blobs), the staged scan and standard input (bytes in memory). Nested sources —
/// archive members, decoded runs — are not jobs: the gate (``Scanner/detectText(_:path:scratch:maxSize:scanBinary:largeArchive:)``)
/// opens them where it finds them, so every mode gets them, with their provenance in the path
/// (`a.tar.gz!deploy/env.sh`) and in ``Finding/encoding``.
struct SourceJob: Sendable {
    enum Origin: Sendable {
        /// A file, read whole from the file system.
        case file(absolute: String)
        /// A blob, read from the repository's object database through the worker's own handle.
        case blob(GitOID)
        /// Bytes already in memory.
        case bytes([UInt8])
    }

    var origin: Origin
    /// The path findings and skips are reported under.
    var path: String
    /// The producer's own index for the job (a commit's position in the walk, a staged file's).
    var tag = 0
    /// Scan binary content as raw bytes instead of skipping it (staged blobs: nothing staged goes unscanned).
    var scanBinary = false
    /// A size limit other than `--max-file-size` (the sparse copy of a big staged file has none).
    var maxSize: Int? = nil
    /// Open an archive over the size limit all the same (a staged archive: its diff has no lines to go by).
    var largeArchive = false
}

/// What the pool did with one job that found, skipped or failed something (clean jobs are only counted).
struct SourceOutcome: Sendable {
    var job: SourceJob
    var findings: [Finding] = []
    /// The job's own skip (under its path) and what was skipped inside it (archive members).
    var skipped: [Skipped] = []
    var error: String? = nil
}

/// Everything the pool did.
struct PoolResult: Sendable {
    var outcomes: [SourceOutcome] = []
    var filesScanned = 0
    var bytesScanned = 0
    var limitHits = 0
}

extension ScanResult {
    /// A result holding the pool's counts (what each mode makes of the outcomes is its own).
    init(counts pool: PoolResult) {
        self.init(findings: [])
        filesScanned = pool.filesScanned
        bytesScanned = pool.bytesScanned
        limitHits = pool.limitHits
    }
}

extension Scanner {
    /// The one worker pool: `feed` produces jobs on the calling thread into a bounded queue (so memory stays
    /// flat whatever the size of the tree or the history), one worker per core loads each job's bytes and
    /// passes them through the one gate. `gitDir`: the repository blobs are read from (each worker opens its
    /// own handle: libgit2 wants one per thread). Returns what `feed` threw, after the workers have stopped.
    func runPool<E: Error>(gitDir: String? = nil, capacity: Int = 512,
                           feed: (Channel<SourceJob>) throws(E) -> Void) throws(E) -> PoolResult {
        let queue = Channel<SourceJob>(capacity: capacity)
        let merged = Mutex(PoolResult())
        let workerCount = options.workers > 0 ? options.workers : max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        let group = DispatchGroup()
        for _ in 0..<workerCount {
            DispatchQueue.global().async(group: group) { [self] in
                let local = self.work(queue: queue, gitDir: gitDir)
                merged.withLock { r in
                    r.outcomes += local.outcomes
                    r.filesScanned += local.filesScanned
                    r.bytesScanned += local.bytesScanned
                    r.limitHits += local.limitHits
                }
            }
        }
        var failure: E? = nil
        do { try feed(queue) } catch { failure = error }
        queue.close()
        group.wait()
        if let failure { throw failure }
        return merged.withLock { $0 }
    }

    /// A worker: jobs until the queue closes.
    private func work(queue: Channel<SourceJob>, gitDir: String?) -> PoolResult {
        let scratch = DetectorScratch(rules: detector.rules)
        var local = PoolResult()
        var buffer: [UInt8] = []
        var repo: GitRepository? = nil
        var repoError: String? = nil
        while let job = queue.pop() {
            if case .blob = job.origin, repo == nil {
                guard repoError == nil else { continue }  // named once below; the scan is incomplete (exit 3)
                do { repo = try GitRepository(path: gitDir ?? ".") } catch {
                    repoError = "cannot open \(gitDir ?? "."): \(error)"
                    local.outcomes.append(SourceOutcome(job: job, error: repoError))
                    continue
                }
            }
            let (files, bytes) = (local.filesScanned, local.bytesScanned)
            if let outcome = process(job, scratch: scratch, buffer: &buffer, repo: repo, counts: &local) {
                local.outcomes.append(outcome)
            }
            if let progress = options.progress {
                progress.files.add(local.filesScanned - files, ordering: .relaxed)
                progress.bytes.add(local.bytesScanned - bytes, ordering: .relaxed)
            }
        }
        local.limitHits += scratch.limitHits
        return local
    }

    /// Loads one job's bytes and sends them through the gate. Nil when the job was scanned and found nothing.
    func process(_ job: SourceJob, scratch: DetectorScratch, buffer: inout [UInt8], repo: GitRepository?,
                 counts: inout PoolResult) -> SourceOutcome? {
        func gate(_ buf: UnsafeRawBufferPointer, counts: inout PoolResult) -> SourceOutcome? {
            switch detectText(buf, path: job.path, scratch: scratch, maxSize: job.maxSize, scanBinary: job.scanBinary,
                              largeArchive: job.largeArchive) {
            case .skipped(let reason):
                return SourceOutcome(job: job, skipped: [Skipped(path: job.path, reason: reason)])
            case .scanned(let findings, let nested):
                counts.filesScanned += 1
                counts.bytesScanned += buf.count
                return findings.isEmpty && nested.isEmpty ? nil : SourceOutcome(job: job, findings: findings, skipped: nested)
            }
        }
        switch job.origin {
        case .file(let absolute):
            switch Scanner.read(absolute, maxSize: job.maxSize ?? options.maxFileSize, into: &buffer) {
            case .failure(let reason):
                return SourceOutcome(job: job, skipped: [Skipped(path: job.path, reason: reason)],
                                     error: reason.hasPrefix("unreadable") ? "\(job.path): \(reason)" : nil)
            case .success(let count):
                return buffer.withUnsafeBytes { gate(UnsafeRawBufferPointer(rebasing: $0[0..<count]), counts: &counts) }
            }
        case .blob(let id):
            guard let repo else {
                return SourceOutcome(job: job, error: "\(job.path) (blob \(id)): no repository to read it from")
            }
            do {
                return try repo.withBlob(id) { gate($0, counts: &counts) }
            } catch {
                // A missing or corrupt object: the history could not be scanned whole.
                return SourceOutcome(job: job, error: "\(job.path) (blob \(id)): \(error)")
            }
        case .bytes(let bytes):
            return bytes.withUnsafeBytes { gate($0, counts: &counts) }
        }
    }
}

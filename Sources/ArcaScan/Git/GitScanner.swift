import ArcaRegex
import ArcaRules
import Dispatch
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Which commits a history scan covers.
public struct HistorySelection: Sendable {
    /// Only this branch (or any revision); default: every ref and HEAD.
    public var branch: String?
    /// Only commits after this one (on `branch`, or HEAD).
    public var sinceCommit: String?
    /// `A..B`: commits reachable from B and not from A.
    public var range: String?
    /// At most this many of the newest commits.
    public var maxCount: Int?

    public init(branch: String? = nil, sinceCommit: String? = nil, range: String? = nil, maxCount: Int? = nil) {
        self.branch = branch
        self.sinceCommit = sinceCommit
        self.range = range
        self.maxCount = maxCount
    }

    /// Whether the selection leaves out part of history (and so has boundary trees).
    public var restricted: Bool { range != nil || sinceCommit != nil || branch != nil || maxCount != nil }
}

/// Git sources for the scanner: every blob in history once, or the lines the index adds.
extension Scanner {
    /// Scans history: each distinct blob reachable from the selected commits is scanned once, and every finding
    /// is mapped to the first commit (parents before children) that brought that secret to that path.
    public func scanHistory(repository path: String, selection: HistorySelection = HistorySelection())
        throws(ScanError) -> ScanResult {
        let started = Scanner.now()
        do {
            let repo = try GitRepository(path: path)
            let (commits, bases) = try selectCommits(repo, selection)
            var result = try scanBlobs(repo: repo, commits: commits, bases: bases, restricted: selection.restricted,
                                       failClosed: selection.range != nil || selection.sinceCommit != nil)
            result.seconds = Scanner.now() - started
            return result
        } catch let e as GitError {
            throw ScanError(message: e.message, runtime: !e.usage)
        } catch let e as ScanError {
            throw e
        } catch {
            throw ScanError(message: "\(error)", runtime: true)
        }
    }

    static let fetchMoreHistory = "fetch more history (git fetch --deepen=50, or `fetch-depth: 0` on actions/checkout)"

    /// The commit `name` names; in a shallow clone, a name it cannot resolve says to fetch more history.
    static func resolve(_ name: String, in repo: GitRepository, as what: String) throws(GitError) -> GitOID {
        do { return try repo.resolveCommit(name) } catch {
            var e = error
            if repo.isShallow { e.message += " — this is a shallow clone and \(what) is not in it: " + fetchMoreHistory }
            throw e
        }
    }

    /// The commits a selection covers and, for a range, the merge base of its ends (a boundary tree besides the
    /// range's outside parents).
    func selectCommits(_ repo: GitRepository, _ s: HistorySelection) throws -> (commits: [GitOID], bases: [GitOID]) {
        if let range = s.range {
            // `A..B` and `A...B` (as a pull request compares): the commits on B that A lacks.
            guard let dots = range.firstRange(of: ".."), dots.lowerBound > range.startIndex else {
                throw ScanError(message: "--range takes A..B or A...B (for example origin/main...HEAD), not '\(range)'")
            }
            var rest = range[dots.upperBound...]
            if rest.hasPrefix(".") { rest = rest.dropFirst() }
            guard !rest.hasPrefix(".") else {
                throw ScanError(message: "--range takes A..B or A...B (for example origin/main...HEAD), not '\(range)'")
            }
            let baseName = String(range[..<dots.lowerBound])
            let tipName = rest.isEmpty ? "HEAD" : String(rest)
            let tip = try repo.resolveCommit(tipName)
            let base = try Scanner.resolve(baseName, in: repo, as: "the range's base")
            var bases: [GitOID] = []
            if let mb = repo.mergeBase(base, tip) {
                bases.append(mb)
            } else if repo.isShallow {
                throw ScanError(message: "\(baseName) and \(tipName) have no common ancestor in this shallow clone: "
                    + Scanner.fetchMoreHistory)
            }
            let commits = try repo.commits(includeGlobs: [], includeRevisions: [tip.description],
                                           exclude: [base.description], maxCount: s.maxCount)
            return (commits, bases)
        }
        if let since = s.sinceCommit {
            _ = try Scanner.resolve(since, in: repo, as: "the commit")
            return (try repo.commits(includeGlobs: [], includeRevisions: [s.branch ?? "HEAD"], exclude: [since],
                                     maxCount: s.maxCount), [])
        }
        if let branch = s.branch {
            return (try repo.commits(includeGlobs: [], includeRevisions: [branch], exclude: [], maxCount: s.maxCount), [])
        }
        var tips = try repo.referenceTips()
        if let head = try repo.headCommit() { tips.append(head.description) }
        return (try repo.commits(includeGlobs: [], includeRevisions: tips, exclude: [], maxCount: s.maxCount), [])
    }

    func scanBlobs(repo: GitRepository, commits: [GitOID], bases: [GitOID], restricted: Bool, failClosed: Bool = false)
        throws -> ScanResult {
        let matcher = Matcher()
        // Walk: oldest first; a blob is scanned for the first commit (and path) that adds it.
        var seen = Set<GitOID>()
        var walkError: Error?
        var boundaryTrees: [GitOID] = []
        var missingBoundary = 0
        var configChanged = false
        var excluded: [String: Skipped] = [:]  // allowlisted paths, each named once
        let pool = try runPool(gitDir: repo.gitDir, capacity: 1024) { (queue) throws in
            if restricted {
                // A partial walk starts from commits whose parents it leaves out (and, for a range, from the merge
                // base of its ends): what those trees already hold is not new — not scanned again, and a value
                // found in the range that they hold is moved, not added.
                let inWalk = Set(commits)
                var boundary: [GitOID] = bases
                for id in commits {
                    for p in try repo.commit(id).parents where !inWalk.contains(p) && !boundary.contains(p) {
                        boundary.append(p)
                    }
                }
                for b in boundary {
                    let tree: GitOID
                    do { tree = try repo.commit(b).tree } catch {
                        if repo.isShallow { missingBoundary += 1; continue }  // beyond a shallow clone's graft
                        throw error
                    }
                    if boundaryTrees.contains(tree) { continue }
                    boundaryTrees.append(tree)
                    try repo.allBlobs(tree: tree) { _, blob in seen.insert(blob) }
                }
            }
            var trees: [GitOID: GitOID] = [:]  // commit → tree, for parents (dropped as the walk moves on)
            options.progress?.totalCommits.store(commits.count, ordering: .relaxed)
            for (i, id) in commits.enumerated() {
                options.progress?.commits.store(i + 1, ordering: .relaxed)
                do {
                    let (_, tree, parents) = try repo.commit(id)
                    var parentTree: GitOID?
                    if let p = parents.first {
                        if let t = trees[p] {
                            parentTree = t
                        } else {
                            do { parentTree = try repo.commit(p).tree } catch {
                                if !repo.isShallow { throw error }  // shallow: the parent is not present
                            }
                        }
                    }
                    trees[id] = tree
                    try repo.changedBlobs(tree: tree, old: parentTree) { path, blob in
                        if path == ProjectConfig.fileName { configChanged = true }
                        guard seen.insert(blob).inserted else { return }
                        if detector.isPathAllowlisted(path, matcher: matcher) {
                            if excluded[path] == nil {
                                excluded[path] = Skipped(path: path, reason: Skipped.globalAllowlistReason)
                            }
                            return
                        }
                        if failClosed {
                            // A change under review: nothing it adds goes unscanned (as the hook): binary content as
                            // raw bytes, big files whole up to a bound past which the skip fails the run.
                            queue.push(SourceJob(origin: .blob(blob), path: path, tag: i, scanBinary: true,
                                                 maxSize: max(options.maxFileSize, 256 << 20), largeArchive: true))
                        } else {
                            queue.push(SourceJob(origin: .blob(blob), path: path, tag: i))
                        }
                    }
                    if trees.count > 4096 { trees.removeAll(keepingCapacity: true) }
                } catch {
                    walkError = error
                    break
                }
            }
        }
        if let walkError { throw walkError }

        var result = ScanResult(counts: pool)
        result.skipped = Array(excluded.values)
        if configChanged && restricted {
            result.warnings.append("the scanned commits change \(ProjectConfig.fileName): its rules and allowlist as the "
                + "checkout has them apply to this scan — review that change (or scan with --config holding the base "
                + "branch's copy)")
        }
        if missingBoundary > 0 {
            result.warnings.append("this is a shallow clone: \(missingBoundary) commit\(missingBoundary == 1 ? "" : "s") "
                + "before the scanned ones \(missingBoundary == 1 ? "is" : "are") not in it, so a secret they already held may "
                + "be reported as new: " + Scanner.fetchMoreHistory)
        }
        var found: [(commit: Int, blob: GitOID, finding: Finding)] = []
        for o in pool.outcomes {
            guard case .blob(let blob) = o.job.origin else { continue }
            for f in o.findings { found.append((o.job.tag, blob, f)) }
            result.skipped += o.skipped.map { Skipped(path: "\($0.path)@\(blob)", reason: $0.reason) }
            if let e = o.error { result.errors.append(e) }
        }
        // A secret whose value the boundary trees already hold (at any path) was moved, renamed or reformatted
        // by the range, not added: left out unless --report-moved.
        if restricted && !options.reportMoved && !boundaryTrees.isEmpty {
            let keys = Set(found.filter { $0.finding.kind.holdsSecret }.map { Scanner.key($0.finding) })
            let old = try valuesPresent(repo: repo, trees: boundaryTrees, keys: keys, confirm: true,
                                        errors: &result.errors)
            let before = found.count
            found.removeAll { $0.finding.kind.holdsSecret && old.contains(Scanner.key($0.finding)) }
            result.alreadyInBase = before - found.count
        }
        // One finding per fingerprint: the earliest commit wins. A partial walk is about blame: a secret the range
        // adds and then moves (renamed, edited around) is reported once, at the commit that added its value.
        found.sort { $0.commit < $1.commit }
        var byIdentity: [String: Int] = [:]
        var kept: [(commit: Int, blob: GitOID, finding: Finding)] = []
        for f in found {
            let identity = restricted && f.finding.kind.holdsSecret ? Scanner.key(f.finding) : f.finding.fingerprint
            guard byIdentity[identity] == nil else { continue }
            byIdentity[identity] = kept.count
            kept.append(f)
        }
        // Which secrets are still at HEAD (same rule and value, any path)?
        let present = try secretsAtHead(repo: repo, findings: found.map { ($0.blob, $0.finding) },
                                        checkUnscanned: restricted, scanned: seen, errors: &result.errors)
        var infos: [Int: CommitInfo] = [:]
        for k in kept {
            var f = k.finding
            if infos[k.commit] == nil { infos[k.commit] = try repo.commit(commits[k.commit]).info }
            f.commit = infos[k.commit]
            f.presentAtHead = f.kind.holdsSecret ? present.contains(f.ruleID + "\u{0}" + f.secret) : nil
            result.findings.append(f)
        }
        result.findings.sort(by: Scanner.order)
        result.skipped.sort { $0.path < $1.path }
        result.commitsScanned = commits.count
        return result
    }

    /// A secret's identity across paths and lines: rule ‖ NUL ‖ value.
    static func key(_ f: Finding) -> String { f.ruleID + "\u{0}" + f.secret }

    /// Keys (rule ‖ NUL ‖ secret) of secrets found in blobs that HEAD's tree holds.
    func secretsAtHead(repo: GitRepository, findings: [(GitOID, Finding)], checkUnscanned: Bool,
                       scanned: Set<GitOID>, errors: inout [String]) throws -> Set<String> {
        guard !findings.isEmpty, let head = try repo.headCommit() else { return [] }
        var byBlob: [GitOID: [String]] = [:]
        for (blob, f) in findings where f.kind.holdsSecret { byBlob[blob, default: []].append(Scanner.key(f)) }
        let keys = Set(findings.filter { $0.1.kind.holdsSecret }.map { Scanner.key($0.1) })
        // A restricted walk did not scan every HEAD blob: the others are searched for the found values directly.
        return try valuesPresent(repo: repo, trees: [try repo.commit(head).tree], keys: keys, known: byBlob,
                                         search: checkUnscanned ? { !scanned.contains($0) } : { _ in false },
                                         errors: &errors)
    }

    /// The keys (rule ‖ NUL ‖ value) whose value some blob of `trees` holds, at any path: `known` says what a
    /// blob was found to hold; other blobs (those `search` accepts) are searched for the bytes of each value.
    /// With `confirm`, a blob that holds the bytes counts only if the scan finds that (rule, value) in it — so a
    /// value that merely appears in an old file (a prefix of an old key, a word in a README) is no alibi for a
    /// new secret.
    func valuesPresent(repo: GitRepository, trees: [GitOID], keys: Set<String>,
                       known: [GitOID: [String]] = [:], search: (GitOID) -> Bool = { _ in true },
                       confirm: Bool = false, errors: inout [String]) throws -> Set<String> {
        guard !keys.isEmpty else { return [] }
        let values = keys.map { ($0, Array($0.split(separator: "\u{0}", maxSplits: 1, omittingEmptySubsequences: false)[1].utf8)) }
        let shortest = values.map(\.1.count).min() ?? 0
        var present = Set<String>()
        var visited = Set<GitOID>()
        var jobs: [(path: String, blob: GitOID)] = []
        for tree in trees {
            try repo.allBlobs(tree: tree) { path, blob in
                guard visited.insert(blob).inserted else { return }
                if let k = known[blob] { present.formUnion(k); return }
                if search(blob) { jobs.append((path, blob)) }
            }
        }
        guard !jobs.isEmpty, present.count < keys.count else { return present.intersection(keys) }
        // Reading every blob is what this costs (libgit2 inflates each): both cores, a repository handle each.
        let workers = min(jobs.count, options.workers > 0 ? options.workers : max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))))
        let shared = Mutex((present: present, failures: [String]()))
        let gitDir = repo.gitDir
        let jobList = jobs
        DispatchQueue.concurrentPerform(iterations: workers) { w in
            let handle: GitRepository
            do { handle = try GitRepository(path: gitDir) } catch {
                shared.withLock { $0.failures.append("cannot open \(gitDir): \(error)") }
                return
            }
            let scratch = confirm ? DetectorScratch(rules: detector.rules) : nil
            var i = w
            while i < jobList.count {
                let (path, blob) = jobList[i]
                i += workers
                let wanted = shared.withLock { state in values.filter { !state.present.contains($0.0) } }
                if wanted.isEmpty { break }
                do {
                    let found: [String] = try handle.withBlob(blob) { buf in
                        guard buf.count >= shortest else { return [] }
                        let hits = wanted.filter { Detector.find($0.1, in: buf) != nil }.map(\.0)
                        guard !hits.isEmpty else { return [] }
                        guard let scratch else { return hits }
                        guard case .scanned(let found, _) = detectText(buf, path: path, scratch: scratch, maxSize: .max) else {
                            return []
                        }
                        let there = Set(found.filter { $0.kind.holdsSecret }.map(Scanner.key))
                        return hits.filter(there.contains)
                    }
                    if !found.isEmpty { shared.withLock { $0.present.formUnion(found) } }
                } catch {
                    shared.withLock { $0.failures.append("\(path) (blob \(blob)): \(error)") }
                }
            }
        }
        let state = shared.withLock { $0 }
        errors += state.failures
        return state.present.intersection(keys)
    }

    /// `git diff --cached` (raw records and a zero-context patch) for the index against HEAD, or nil when git
    /// cannot be run. The hook runs under git, and git's cache-tree answers in a few milliseconds on a
    /// 20,000-file index, where libgit2's tree-to-index diff reads the whole index and walks the whole tree.
    static func stagedDiffFromGit(_ repo: GitRepository) -> [UInt8]? {
        guard let workdir = repo.workdir else { return nil }
        var out: [UInt8] = []
        let args = ["git", "-C", workdir, "-c", "core.quotePath=false", "diff", "--cached", "--raw", "-p", "-U0",
                    "-z", "--no-renames", "--no-abbrev", "--diff-filter=AMT", "--no-ext-diff", "--no-color",
                    "--no-textconv", "--ignore-submodules"]
        guard runCapturing(args, into: &out) == 0 else { return nil }
        return out
    }

    /// Runs a program found on PATH, capturing its standard output; returns its exit status or -1.
    static func runCapturing(_ argv: [String], into out: inout [UInt8]) -> Int32 {
        var pipeFDs: [Int32] = [0, 0]
        guard pipe(&pipeFDs) == 0 else { return -1 }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, pipeFDs[1], 1)
        posix_spawn_file_actions_addclose(&actions, pipeFDs[0])
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        // The scan ignores SIGPIPE (a closed reader is exit 3); git gets the default disposition back.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var defaults = sigset_t()
        sigemptyset(&defaults)
        sigaddset(&defaults, SIGPIPE)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF))
        var pid = pid_t()
        let cArgs = argv.map { strdup($0) } + [nil]
        defer { cArgs.forEach { free($0) } }
        let rc = posix_spawnp(&pid, argv[0], &actions, &attributes, cArgs, environ)
        close(pipeFDs[1])
        guard rc == 0 else { close(pipeFDs[0]); return -1 }
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = Glibc.read(pipeFDs[0], &buf, buf.count)
            if n <= 0 { break }
            out += buf[0..<n]
        }
        close(pipeFDs[0])
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return (status & 0x7f) == 0 ? (status >> 8) & 0xff : -1
    }

    /// Scans what the index adds against HEAD: each staged file's blob from the index, reporting only findings on
    /// added lines. This is what the pre-commit hook runs.
    public func scanStaged(repository path: String) throws(ScanError) -> ScanResult {
        try scanStaged(try StagedSnapshot.read(repository: path))
    }

    /// Scans a snapshot of the index taken with ``StagedSnapshot/read(repository:)`` (which needs no rules, so
    /// the CLI takes it while the rules load).
    public func scanStaged(_ snapshot: StagedSnapshot) throws(ScanError) -> ScanResult {
        let started = Scanner.now()
        var excluded: [Skipped] = []
        let matcher = Matcher()
        var ignores = IgnoreRules.empty
        if options.useIgnoreFiles, let text = snapshot.arcaignore {
            ignores = ignores.adding(base: "", texts: [text])
        }
        let files = snapshot.files
        let pool = runPool { queue in
            for (index, file) in files.enumerated() {
                // Excluded by configuration: not scanned, but named, so a commit never carries a file nobody was
                // told about.
                if detector.isPathAllowlisted(file.path, matcher: matcher) {
                    excluded.append(Skipped(path: file.path, reason: Skipped.globalAllowlistReason))
                    continue
                }
                if ignores.isIgnored(file.path, isDirectory: false, matcher: matcher) {
                    excluded.append(Skipped(path: file.path, reason: "ignored by .arcaignore"))
                    continue
                }
                let archive = options.archives.enabled && file.bytes.withUnsafeBytes { Archives.recognises($0) }
                if !file.wholeFile && file.bytes.count > options.maxFileSize && !archive {
                    // Over the size limit: only its added lines count, so they are scanned alone (every other
                    // line emptied, so line numbers stay), whatever the file's size.
                    queue.push(SourceJob(origin: .bytes(StagedSnapshot.addedLinesOnly(file.bytes, file.addedLines)),
                                         path: file.path, tag: index, scanBinary: true, maxSize: .max))
                } else {
                    // Binary content is scanned as raw bytes: nothing staged goes through unscanned. An archive
                    // over the size limit is opened all the same (its members keep the limit): its diff has no
                    // lines to go by.
                    queue.push(SourceJob(origin: .bytes(file.bytes), path: file.path, tag: index, scanBinary: true,
                                         largeArchive: archive))
                }
            }
        }
        var result = ScanResult(counts: pool)
        result.skipped = excluded
        for o in pool.outcomes {
            let file = files[o.job.tag]
            result.skipped += o.skipped
            if let e = o.error { result.errors.append(e) }
            // Lines of an archive's members are not lines of the diff: whatever an archive holds counts.
            for f in o.findings where file.wholeFile || f.archive != nil
                || (f.line...max(f.line, f.endLine)).contains(where: file.addedLines.contains) {
                result.findings.append(f)
            }
        }
        // A value HEAD already holds (at any path) is moved, renamed or reformatted by this change, not added:
        // left out unless --report-moved. Only searched for when the change has findings.
        if !options.reportMoved, result.findings.contains(where: { $0.kind.holdsSecret }) {
            do {
                let repo = try GitRepository(path: snapshot.repository)
                if let head = try repo.headCommit() {
                    let keys = Set(result.findings.filter { $0.kind.holdsSecret }.map { Scanner.key($0) })
                    // A merge being concluded: what the branch merged in holds is not new either.
                    var trees = [try repo.commit(head).tree]
                    if let merging = try? repo.resolveCommit("MERGE_HEAD"), let t = try? repo.commit(merging).tree {
                        trees.append(t)
                    }
                    let old = try valuesPresentCached(repo: repo, trees: trees, keys: keys, errors: &result.errors)
                    let before = result.findings.count
                    result.findings.removeAll { $0.kind.holdsSecret && old.contains(Scanner.key($0)) }
                    result.alreadyInBase = before - result.findings.count
                }
            } catch {
                result.errors.append("cannot compare the staged secrets with HEAD: \(error)")
            }
        }
        result.findings.sort(by: Scanner.order)
        result.skipped.sort { $0.path < $1.path }
        result.seconds = Scanner.now() - started + snapshot.seconds
        return result
    }
}

/// What the index adds against HEAD: staged files with their content (from the index, not the working tree)
/// and the lines the change adds.
public struct StagedSnapshot: Sendable {
    public struct File: Sendable {
        public var path: String
        public var addedLines: Set<Int>
        /// Git could not diff it line by line (it took it for binary): every line counts as added.
        public var wholeFile: Bool
        public var bytes: [UInt8]
    }

    public var files: [File]
    /// The repository path the snapshot was read from.
    public var repository: String
    /// The work tree's `.arcaignore`, if any.
    public var arcaignore: String?
    /// Time it took to read.
    public var seconds: Double

    /// Reads the staged changes of the repository holding `path`.
    public static func read(repository path: String) throws(ScanError) -> StagedSnapshot {
        let started = Scanner.now()
        do {
            let repo = try GitRepository(path: path)
            let changes: [StagedFile]
            if let output = Scanner.stagedDiffFromGit(repo) {
                changes = GitRepository.parseStagedDiff(output)
            } else {
                changes = try repo.stagedChanges()
            }
            var files: [File] = []
            for change in changes {
                let bytes: [UInt8]
                do { bytes = try repo.withBlob(change.blob) { Array($0) } } catch {
                    throw ScanError(message: "cannot read the staged \(change.path) (blob \(change.blob)): \(error)",
                                    runtime: true)
                }
                files.append(File(path: change.path, addedLines: change.addedLines, wholeFile: change.binary,
                                  bytes: bytes))
            }
            let ignore = repo.workdir.flatMap { Scanner.readSmallText($0 + "/.arcaignore") }
            return StagedSnapshot(files: files, repository: path, arcaignore: ignore, seconds: Scanner.now() - started)
        } catch let e as ScanError {
            throw e
        } catch let e as GitError {
            throw ScanError(message: e.message, runtime: !e.usage)
        } catch {
            throw ScanError(message: "\(error)", runtime: true)
        }
    }

    /// `bytes` with every line that is not in `added` emptied (its newline kept), so a scan of the result sees
    /// only the added lines, at their own line numbers.
    static func addedLinesOnly(_ bytes: [UInt8], _ added: Set<Int>) -> [UInt8] {
        var out: [UInt8] = []
        var line = 1
        var start = 0
        bytes.withUnsafeBufferPointer { b in
            while start < b.count {
                var end = start
                while end < b.count && b[end] != 0x0a { end += 1 }
                if added.contains(line) { out += b[start..<end] }
                if end < b.count { out.append(0x0a) }
                line += 1
                start = end + 1
            }
        }
        return out
    }
}
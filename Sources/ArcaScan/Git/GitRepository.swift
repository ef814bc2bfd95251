import CGit2

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A libgit2 failure, with libgit2's own message (read right after the failing call: it is thread-local).
public struct GitError: Error, CustomStringConvertible, Sendable {
    public var message: String
    /// The caller named something that is not there (not a repository, an unknown revision): exit code 2.
    /// Every other libgit2 failure is a runtime error (exit code 3).
    public var usage = false
    public var description: String { message }

    static func last(_ what: String, code: Int32) -> GitError {
        let detail = git_error_last().flatMap { $0.pointee.message.map { String(cString: $0) } } ?? "error \(code)"
        return GitError(message: "\(what): \(detail)")
    }
}

/// A git object id. Hashes and compares the bytes of libgit2's `git_oid`, whatever its size in this build.
public struct GitOID: Hashable, Sendable, CustomStringConvertible {
    var raw: git_oid

    init(_ raw: git_oid) { self.raw = raw }

    public static func == (a: GitOID, b: GitOID) -> Bool {
        withUnsafeBytes(of: a.raw) { x in withUnsafeBytes(of: b.raw) { y in memcmp(x.baseAddress!, y.baseAddress!, x.count) == 0 } }
    }

    public func hash(into h: inout Hasher) { withUnsafeBytes(of: raw) { h.combine(bytes: $0) } }

    /// The full hexadecimal id.
    public var description: String {
        var r = raw
        var buf = [CChar](repeating: 0, count: 2 * MemoryLayout<git_oid>.size + 1)
        git_oid_tostr(&buf, buf.count, &r)
        return String(decoding: buf.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// Who made a commit, when, and what it was.
public struct CommitInfo: Sendable, Hashable {
    public var id: String
    public var author: String
    public var email: String
    /// Author time, ISO 8601 in UTC.
    public var date: String
    public var summary: String
}

/// One libgit2 repository handle. Owns every libgit2 pointer it hands out; nothing above it sees one.
/// Not shareable: libgit2 wants one handle per thread, so each worker opens its own.
final class GitRepository {
    let handle: OpaquePointer
    /// Path of the repository directory (`.git` or the bare repository).
    let gitDir: String
    /// Work tree, or nil for a bare repository.
    let workdir: String?

    private static let initOnce: Void = {
        git_libgit2_init()
        // The scan reads every object it needs once; re-hashing each one on read costs 20–35 %.
        arca_git_set_strict_hash_verification(0)
        // Every blob is read once; a large object cache only grows the peak memory of history scans.
        arca_git_set_cache_max_size(32 * 1024 * 1024)
    }()

    /// Opens the repository holding `path` (searching parent directories, as git does).
    init(path: String) throws(GitError) {
        _ = GitRepository.initOnce
        var repo: OpaquePointer?
        let rc = git_repository_open_ext(&repo, path, 0, nil)
        guard rc == 0, let repo else {
            throw rc == GIT_ENOTFOUND.rawValue
                ? GitError(message: "\(path): not a git repository (or any of its parents)", usage: true)
                : GitError.last("\(path): cannot open repository", code: rc)
        }
        handle = repo
        gitDir = git_repository_path(repo).map { String(cString: $0) } ?? path
        workdir = git_repository_workdir(repo).map { String(cString: $0) }
    }

    deinit { git_repository_free(handle) }

    var isBare: Bool { git_repository_is_bare(handle) == 1 }
    var isShallow: Bool { git_repository_is_shallow(handle) == 1 }

    /// The commit `spec` names (a ref, an abbreviated id, `HEAD~3` …), peeled through tags.
    func resolveCommit(_ spec: String) throws(GitError) -> GitOID {
        var obj: OpaquePointer?
        var rc = git_revparse_single(&obj, handle, spec)
        guard rc == 0, let obj else {
            var e = GitError.last("unknown revision '\(spec)'", code: rc)
            e.usage = rc == GIT_ENOTFOUND.rawValue || rc == GIT_EAMBIGUOUS.rawValue || rc == GIT_EINVALIDSPEC.rawValue
            // A reference that exists but points at a missing object is a damaged repository, not bad usage.
            var ref: OpaquePointer?
            if e.usage, git_reference_dwim(&ref, handle, spec) == 0 {
                git_reference_free(ref)
                e = GitError(message: "'\(spec)' points at an object the repository does not have (damaged or incomplete repository)")
            }
            throw e
        }
        defer { git_object_free(obj) }
        var commit: OpaquePointer?
        rc = git_object_peel(&commit, obj, GIT_OBJECT_COMMIT)
        guard rc == 0, let commit else {
            var e = GitError.last("'\(spec)' is not a commit", code: rc)
            e.usage = true
            throw e
        }
        defer { git_object_free(commit) }
        return GitOID(git_object_id(commit)!.pointee)
    }

    /// The best common ancestor of `a` and `b`, or nil when they share none (or a shallow clone lacks it).
    func mergeBase(_ a: GitOID, _ b: GitOID) -> GitOID? {
        var out = git_oid()
        var one = a.raw, two = b.raw
        return git_merge_base(&out, handle, &one, &two) == 0 ? GitOID(out) : nil
    }

    /// The commit HEAD points to, or nil when HEAD is unborn (a repository with no commits yet).
    func headCommit() throws(GitError) -> GitOID? {
        var ref: OpaquePointer?
        let rc = git_repository_head(&ref, handle)
        if rc == GIT_EUNBORNBRANCH.rawValue || rc == GIT_ENOTFOUND.rawValue { return nil }
        guard rc == 0, let ref else { throw GitError.last("cannot read HEAD", code: rc) }
        git_reference_free(ref)
        return try resolveCommit("HEAD")
    }

    /// The commits every reference points to (tags peeled; refs to other objects skipped).
    func referenceTips() throws(GitError) -> [String] {
        var names = git_strarray()
        let rc = git_reference_list(&names, handle)
        guard rc == 0 else { throw GitError.last("cannot list references", code: rc) }
        defer { git_strarray_dispose(&names) }
        var tips: [String] = []
        for i in 0..<names.count {
            guard let name = names.strings[i].map({ String(cString: $0) }) else { continue }
            if let oid = try? resolveCommit(name) { tips.append(oid.description) }
        }
        return tips
    }

    /// Commits reachable from `include` (ref globs such as `refs/*`, or revisions) and not from `exclude`,
    /// parents before children, at most `maxCount` of the newest.
    func commits(includeGlobs: [String], includeRevisions: [String], exclude: [String], maxCount: Int?)
        throws(GitError) -> [GitOID] {
        if isShallow {
            return try shallowCommits(includeRevisions: includeRevisions, exclude: exclude, maxCount: maxCount)
        }
        var walk: OpaquePointer?
        var rc = git_revwalk_new(&walk, handle)
        guard rc == 0, let walk else { throw GitError.last("cannot walk history", code: rc) }
        defer { git_revwalk_free(walk) }
        git_revwalk_sorting(walk, GIT_SORT_TOPOLOGICAL.rawValue | GIT_SORT_TIME.rawValue)
        var pushed = false
        for glob in includeGlobs {
            rc = git_revwalk_push_glob(walk, glob)
            if rc == 0 { pushed = true } else if rc != GIT_ENOTFOUND.rawValue {
                throw GitError.last("cannot read refs \(glob)", code: rc)
            }
        }
        for rev in includeRevisions {
            var oid = try resolveCommit(rev).raw
            rc = git_revwalk_push(walk, &oid)
            guard rc == 0 else { throw GitError.last("cannot walk from \(rev)", code: rc) }
            pushed = true
        }
        for rev in exclude {
            var oid = try resolveCommit(rev).raw
            rc = git_revwalk_hide(walk, &oid)
            guard rc == 0 else { throw GitError.last("cannot exclude \(rev)", code: rc) }
        }
        guard pushed else { return [] }
        var out: [GitOID] = []
        var oid = git_oid()
        while true {
            rc = git_revwalk_next(&oid, walk)
            if rc == GIT_ITEROVER.rawValue { break }
            guard rc == 0 else { throw GitError.last("history walk failed", code: rc) }
            out.append(GitOID(oid))
            if let maxCount, out.count >= maxCount { break }
        }
        return out.reversed()
    }

    /// libgit2 1.5's revwalk fails on the missing parents of a shallow clone's boundary, so shallow
    /// repositories are walked here: depth-first from the tips, parents that are not in the clone are treated as
    /// absent, and the result is ordered parents before children.
    private func shallowCommits(includeRevisions: [String], exclude: [String], maxCount: Int?) throws(GitError)
        -> [GitOID] {
        var hidden = Set<GitOID>()
        for rev in exclude {
            var stack = [try resolveCommit(rev)]
            while let id = stack.popLast() {
                guard hidden.insert(id).inserted, let parents = try? commit(id).parents else { continue }
                stack += parents
            }
        }
        var order: [GitOID] = []
        var state: [GitOID: Bool] = [:]  // false: on the stack, true: done
        for rev in includeRevisions {
            var stack: [(GitOID, Bool)] = [(try resolveCommit(rev), false)]
            while let (id, expanded) = stack.popLast() {
                if expanded { state[id] = true; order.append(id); continue }
                if state[id] != nil || hidden.contains(id) { continue }
                guard let parents = try? commit(id).parents else { state[id] = true; continue }  // beyond the clone
                state[id] = false
                stack.append((id, true))
                for p in parents where state[p] == nil && !hidden.contains(p) {
                    stack.append((p, false))
                }
            }
        }
        if let maxCount, order.count > maxCount { return Array(order.suffix(maxCount)) }
        return order
    }

    /// The paths the index tracks, relative to the work tree.
    func indexPaths() throws(GitError) -> [String] {
        var index: OpaquePointer?
        let rc = git_repository_index(&index, handle)
        guard rc == 0, let index else { throw GitError.last("cannot read the index", code: rc) }
        defer { git_index_free(index) }
        var out: [String] = []
        let n = git_index_entrycount(index)
        out.reserveCapacity(n)
        for i in 0..<n {
            if let e = git_index_get_byindex(index, i), let p = e.pointee.path { out.append(String(cString: p)) }
        }
        return out
    }

    /// A commit's metadata, tree and parents.
    func commit(_ id: GitOID) throws(GitError) -> (info: CommitInfo, tree: GitOID, parents: [GitOID]) {
        var c: OpaquePointer?
        var oid = id.raw
        let rc = git_commit_lookup(&c, handle, &oid)
        guard rc == 0, let c else { throw GitError.last("cannot read commit \(id)", code: rc) }
        defer { git_commit_free(c) }
        let sig = git_commit_author(c)
        let name = sig.flatMap { $0.pointee.name.map { String(cString: $0) } } ?? ""
        let email = sig.flatMap { $0.pointee.email.map { String(cString: $0) } } ?? ""
        let time = sig.map { Int($0.pointee.when.time) } ?? Int(git_commit_time(c))
        let summary = git_commit_summary(c).map { String(cString: $0) } ?? ""
        var parents: [GitOID] = []
        for i in 0..<git_commit_parentcount(c) {
            if let p = git_commit_parent_id(c, i) { parents.append(GitOID(p.pointee)) }
        }
        let info = CommitInfo(id: id.description, author: name, email: email, date: GitRepository.iso8601(time),
                              summary: summary)
        return (info, GitOID(git_commit_tree_id(c)!.pointee), parents)
    }

    /// Calls `visit(path, blob)` for every file blob in `tree` that is not in `old` with the same id at the same
    /// path. Unchanged subtrees are skipped whole; submodules are not files (links are: their blob is the target).
    func changedBlobs(tree: GitOID, old: GitOID?, prefix: String = "",
                      _ visit: (String, GitOID) -> Void) throws(GitError) {
        if let old, old == tree { return }
        let newTree = try lookupTree(tree)
        defer { git_tree_free(newTree) }
        let oldTree = try old.map { (o: GitOID) throws(GitError) in try lookupTree(o) }
        defer { if let oldTree { git_tree_free(oldTree) } }
        for i in 0..<git_tree_entrycount(newTree) {
            guard let entry = git_tree_entry_byindex(newTree, i) else { continue }
            let name = String(cString: git_tree_entry_name(entry))
            let id = GitOID(git_tree_entry_id(entry).pointee)
            let type = git_tree_entry_type(entry)
            var oldID: GitOID?
            var oldType = GIT_OBJECT_INVALID
            if let oldTree, let oe = git_tree_entry_byname(oldTree, name) {
                oldID = GitOID(git_tree_entry_id(oe).pointee)
                oldType = git_tree_entry_type(oe)
            }
            if oldID == id { continue }
            let path = prefix.isEmpty ? name : prefix + "/" + name
            if type == GIT_OBJECT_TREE {
                try changedBlobs(tree: id, old: oldType == GIT_OBJECT_TREE ? oldID : nil, prefix: path, visit)
            } else if type == GIT_OBJECT_BLOB {
                // A symbolic link's blob is its target, committed content like any other: scanned too.
                visit(path, id)
            }
        }
    }

    /// Every file blob in `tree`, with its path.
    func allBlobs(tree: GitOID, _ visit: (String, GitOID) -> Void) throws(GitError) {
        try changedBlobs(tree: tree, old: nil, visit)
    }

    private func lookupTree(_ id: GitOID) throws(GitError) -> OpaquePointer {
        var t: OpaquePointer?
        var oid = id.raw
        let rc = git_tree_lookup(&t, handle, &oid)
        guard rc == 0, let t else { throw GitError.last("cannot read tree \(id)", code: rc) }
        return t
    }

    /// Calls `body` with the bytes of blob `id` (borrowed from libgit2: valid only inside `body`).
    func withBlob<T>(_ id: GitOID, _ body: (UnsafeRawBufferPointer) -> T) throws(GitError) -> T {
        var b: OpaquePointer?
        var oid = id.raw
        let rc = git_blob_lookup(&b, handle, &oid)
        guard rc == 0, let b else { throw GitError.last("cannot read blob \(id)", code: rc) }
        defer { git_blob_free(b) }
        let size = Int(git_blob_rawsize(b))
        return body(UnsafeRawBufferPointer(start: git_blob_rawcontent(b), count: size))
    }

    /// Staged files from `git diff --cached --raw -p -U0 -z --no-abbrev` output: the raw records
    /// (`:oldmode newmode oldid newid status`, NUL, path, NUL) give each file's new blob id; the patch that
    /// follows gives, per file and in the same order, hunk headers `@@ -a,b +c,d @@` whose `+c,d` are the
    /// added lines. libgit2 is left only the blob reads (its own diff reads the whole index).
    static func parseStagedDiff(_ output: [UInt8]) -> [StagedFile] {
        var files: [StagedFile] = []
        var i = 0
        let n = output.count
        func field() -> String {
            let start = i
            while i < n && output[i] != 0 { i += 1 }
            defer { i += 1 }
            return String(decoding: output[start..<min(i, n)], as: UTF8.self)
        }
        while i < n && output[i] == UInt8(ascii: ":") {
            let meta = field()
            let path = field()
            let parts = meta.split(separator: " ")
            var oid = git_oid()
            // Regular files and symbolic links (the blob is the link's target, committed like any content: scanned
            // whole); not submodules (160000). A placeholder keeps the patch's sections aligned with the records.
            let isLink = parts.count >= 5 && parts[1] == "120000"
            let isFile = parts.count >= 5 && (parts[1].hasPrefix("100") || isLink)
                && git_oid_fromstr(&oid, String(parts[3])) == 0
            files.append(StagedFile(path: isFile ? path : "", blob: GitOID(oid), addedLines: [], binary: isLink))
        }
        // The patch: one "diff --git" section per raw record, in order.
        var section = -1
        var lineStart = i
        while lineStart < n {
            var lineEnd = lineStart
            while lineEnd < n && output[lineEnd] != 0x0a && output[lineEnd] != 0 { lineEnd += 1 }
            let line = output[lineStart..<lineEnd]
            if line.starts(with: Array("diff --git ".utf8)) {
                section += 1
            } else if section >= 0, section < files.count, line.starts(with: Array("Binary files ".utf8)) {
                files[section].binary = true
            } else if section >= 0, section < files.count, line.starts(with: Array("@@ ".utf8)) {
                let text = String(decoding: line, as: UTF8.self)
                if let plus = text.split(separator: " ").first(where: { $0.hasPrefix("+") }) {
                    let nums = plus.dropFirst().split(separator: ",")
                    if let start = nums.first.flatMap({ Int($0) }) {
                        let count = nums.count > 1 ? Int(nums[1]) ?? 1 : 1
                        if count > 0 { for l in start..<(start + count) { files[section].addedLines.insert(l) } }
                    }
                }
            }
            lineStart = lineEnd + 1
        }
        return files.filter { !$0.path.isEmpty && ($0.binary || !$0.addedLines.isEmpty) }
    }

    /// Files the index adds or changes against HEAD, each with the new lines (1-based) the change adds. With
    /// `onlyPaths`, libgit2 compares just those paths (exact match), which spares it the whole-tree walk.
    func stagedChanges(onlyPaths: [String]? = nil) throws(GitError) -> [StagedFile] {
        if let onlyPaths {
            if onlyPaths.isEmpty { return [] }
            var cStrings = onlyPaths.map { strdup($0) }
            defer { cStrings.forEach { free($0) } }
            return try cStrings.withUnsafeMutableBufferPointer { buf throws(GitError) in
                let spec = git_strarray(strings: buf.baseAddress, count: buf.count)
                return try stagedChanges(pathspec: spec)
            }
        }
        return try stagedChanges(pathspec: nil)
    }

    private func stagedChanges(pathspec: git_strarray?) throws(GitError) -> [StagedFile] {
        var index: OpaquePointer?
        var rc = git_repository_index(&index, handle)
        guard rc == 0, let index else { throw GitError.last("cannot read the index", code: rc) }
        defer { git_index_free(index) }
        var headTree: OpaquePointer?
        if let head = try headCommit() {
            let (_, tree, _) = try commit(head)
            headTree = try lookupTree(tree)
        }
        defer { if let headTree { git_tree_free(headTree) } }
        var opts = git_diff_options()
        git_diff_options_init(&opts, UInt32(arca_git_diff_options_version()))
        opts.context_lines = 0
        opts.interhunk_lines = 0
        if let pathspec {
            opts.pathspec = pathspec
            opts.flags |= GIT_DIFF_DISABLE_PATHSPEC_MATCH.rawValue
        }
        var diff: OpaquePointer?
        rc = git_diff_tree_to_index(&diff, handle, headTree, index, &opts)
        guard rc == 0, let diff else { throw GitError.last("cannot compare the index with HEAD", code: rc) }
        defer { git_diff_free(diff) }
        let collector = StagedCollector()
        let payload = Unmanaged.passUnretained(collector).toOpaque()
        rc = git_diff_foreach(diff, { delta, _, payload in
            guard let delta, let payload else { return 0 }
            let c = Unmanaged<StagedCollector>.fromOpaque(payload).takeUnretainedValue()
            c.file(delta.pointee)
            return 0
        }, { delta, _, payload in
            guard let delta, let payload else { return 0 }
            Unmanaged<StagedCollector>.fromOpaque(payload).takeUnretainedValue().binary(delta.pointee)
            return 0
        }, nil, { delta, _, line, payload in
            guard let delta, let line, let payload else { return 0 }
            if line.pointee.origin == CChar(UInt8(ascii: "+")) {
                Unmanaged<StagedCollector>.fromOpaque(payload).takeUnretainedValue()
                    .added(delta.pointee, line: Int(line.pointee.new_lineno), count: max(1, Int(line.pointee.num_lines)))
            }
            return 0
        }, payload)
        guard rc == 0 else { throw GitError.last("cannot diff the index", code: rc) }
        return collector.files.filter { $0.binary || !$0.addedLines.isEmpty }
    }

    static func iso8601(_ seconds: Int) -> String {
        var t = time_t(seconds)
        var tmv = tm()
        gmtime_r(&t, &tmv)
        var buf = [CChar](repeating: 0, count: 32)
        strftime(&buf, buf.count, "%Y-%m-%dT%H:%M:%SZ", &tmv)
        return String(decoding: buf.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// A file the index changes, with the lines it adds.
public struct StagedFile: Sendable {
    public var path: String
    public var blob: GitOID
    public var addedLines: Set<Int>
    /// Git found no text lines to diff (true binary, or text git takes for binary such as UTF-16): the whole
    /// blob is scanned, and the scanner's own gate skips what really is binary.
    public var binary: Bool
}

/// Receives libgit2's diff callbacks (through the payload pointer: C callbacks cannot capture).
private final class StagedCollector {
    var files: [StagedFile] = []
    var byPath: [String: Int] = [:]
    /// For a diff of two blobs given without paths: the path to record.
    let fixedPath: String?

    init(fixedPath: String? = nil) { self.fixedPath = fixedPath }

    func index(_ d: git_diff_delta) -> Int? {
        guard d.status != GIT_DELTA_DELETED, d.new_file.mode != UInt16(GIT_FILEMODE_COMMIT.rawValue) else { return nil }
        guard let path = fixedPath ?? d.new_file.path.map({ String(cString: $0) }) else { return nil }
        if let i = byPath[path] { return i }
        // A symbolic link's blob is its target: scanned whole.
        let isLink = d.new_file.mode == UInt16(GIT_FILEMODE_LINK.rawValue)
        files.append(StagedFile(path: path, blob: GitOID(d.new_file.id), addedLines: [], binary: isLink))
        byPath[path] = files.count - 1
        return files.count - 1
    }

    func file(_ d: git_diff_delta) {
        guard let i = index(d) else { return }
        if d.flags & GIT_DIFF_FLAG_BINARY.rawValue != 0 { files[i].binary = true }
    }

    func binary(_ d: git_diff_delta) {
        guard let i = index(d) else { return }
        files[i].binary = true
    }

    func added(_ d: git_diff_delta, line: Int, count: Int) {
        guard let i = index(d), line > 0 else { return }
        for l in line..<(line + count) { files[i].addedLines.insert(l) }
    }
}

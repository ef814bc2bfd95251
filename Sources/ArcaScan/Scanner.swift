import ArcaRegex
import ArcaRules
import Dispatch
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Options of a directory scan.
public struct ScanOptions: Sendable {
    public var detect = DetectOptions()
    /// Files larger than this are skipped and reported as skipped.
    public var maxFileSize = 10 * 1024 * 1024
    /// Honour `.gitignore`, `.git/info/exclude` and `.arcaignore` (off with `--no-ignore`).
    public var useIgnoreFiles = true
    /// Follow symbolic links (directory loops are detected, warned about and skipped).
    public var followSymlinks = false
    /// Worker threads; 0 means one per core.
    public var workers = 0
    /// Decode base64, hex and percent-encoded runs and scan what they hold (off with `--no-decode`).
    public var decode = true
    /// Open archives and compressed files and scan their members, within these limits.
    public var archives = ArchiveLimits()
    /// Range and staged scans: report a secret whose value the boundary trees (the merge base, or HEAD) already
    /// hold — a file moved, renamed or reformatted, a value copied from an old file (`--report-moved`). By
    /// default only values the change brings are reported.
    public var reportMoved = false
    /// Counters the scan advances as it goes (files and bytes scanned, commits walked), for a progress line.
    public var progress: ScanProgress? = nil

    public init() {}
}

/// What a running scan has done so far; read from another thread for a progress line.
public final class ScanProgress: Sendable {
    public let files = Atomic<Int>(0)
    public let bytes = Atomic<Int>(0)
    public let commits = Atomic<Int>(0)
    public let totalCommits = Atomic<Int>(0)

    public init() {}
}

/// A file or directory the scan passed over, and why.
public struct Skipped: Sendable, Hashable {
    public var path: String
    public var reason: String

    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }

    /// The kind of skip, for `--allow-skip`: `too-large`, `binary`, `unreadable`, `link` or `other`.
    public var kind: String {
        if reason.hasPrefix("too large") { return "too-large" }
        if reason.hasPrefix("binary") { return "binary" }
        if reason.hasPrefix("archive:") { return "archive" }
        if reason.hasPrefix("unreadable") { return "unreadable" }
        if reason.contains("symbolic link") { return "link" }
        if reason.hasPrefix("ignored") || reason.hasPrefix("never scanned") { return "ignored" }
        return "other"
    }

    /// The kinds `--allow-skip` takes. `ignored` (a path the configuration excludes) is named but never blocks.
    public static let kinds = ["too-large", "binary", "archive", "unreadable", "link", "other"]

    /// The reason of a path the global allowlist excludes (lockfiles, vendored and minified code).
    public static let globalAllowlistReason = "never scanned: the global allowlist (lockfiles, vendored and minified code), .arca.yaml's allowlist.paths, or a rule file .arca.yaml's rules name (its examples are fake secrets)"
}

/// What a scan found and what it covered.
public struct ScanResult: Sendable {
    public var findings: [Finding]
    public var filesScanned = 0
    public var bytesScanned = 0
    public var skipped: [Skipped] = []
    /// The files a directory scan read (relative paths, after .gitignore and the allowlist): what `migrate`
    /// looks for other uses of a value in.
    public var files: [String] = []
    public var warnings: [String] = []
    /// What went wrong while scanning (an unreadable file or directory, a missing or corrupt git object, a
    /// failed libgit2 call): the scan is incomplete, so the run ends with exit code 3 whatever it found.
    public var errors: [String] = []
    public var seconds = 0.0
    /// Matches stopped by the PCRE2 match limits.
    public var limitHits = 0
    /// Commits walked (history scans).
    public var commitsScanned = 0
    /// Range and staged scans: secrets left out because the boundary trees (merge base, HEAD) already hold
    /// their value — moved, renamed or reformatted, not added (`--report-moved` reports them).
    public var alreadyInBase = 0
    /// Findings the project config's allowlist names by fingerprint (dropped).
    public var allowlisted = 0
}

/// A scan that could not run at all: bad usage (exit code 2: no such path, not a repository, an unknown
/// revision) or a runtime failure (exit code 3: a corrupt repository, a failed libgit2 call).
public struct ScanError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public var runtime: Bool
    public var description: String { message }

    public init(message: String, runtime: Bool = false) {
        self.message = message
        self.runtime = runtime
    }
}

/// Walks a tree (or reads one file or standard input), filters it, and runs the ``Detector`` on both cores.
public struct Scanner: Sendable {
    public let detector: Detector
    public let options: ScanOptions

    public init(rules: RuleSet, options: ScanOptions = ScanOptions()) {
        self.detector = Detector(rules: rules, options: options.detect)
        self.options = options
    }

    /// Scans `root`, a directory or a file. Paths in findings are relative to `root` (a file's own name when
    /// `root` is a file).
    public func scan(root: String) throws(ScanError) -> ScanResult {
        let started = Scanner.now()
        var st = stat()
        guard stat(root, &st) == 0 else {
            throw ScanError(message: "\(root): \(String(cString: strerror(errno)))")
        }
        let isDir = (st.st_mode & S_IFMT) == S_IFDIR
        var walkResult = ScanResult(findings: [])
        let pool = runPool { queue in
            if isDir {
                walk(root: root, queue: queue, result: &walkResult,
                     tracked: options.useIgnoreFiles ? Scanner.tracked(under: root) : nil)
            } else {
                let name = root.split(separator: "/").last.map(String.init) ?? root
                walkResult.files.append(name)
                queue.push(SourceJob(origin: .file(absolute: root), path: name))
            }
        }
        var result = ScanResult(counts: pool)
        for o in pool.outcomes {
            result.findings += o.findings
            result.skipped += o.skipped
            if let e = o.error { result.errors.append(e) }
        }
        result.skipped += walkResult.skipped
        result.warnings += walkResult.warnings
        result.errors += walkResult.errors
        result.files = walkResult.files.sorted()
        result.findings.sort(by: Scanner.order)
        result.skipped.sort { $0.path < $1.path }
        result.seconds = Scanner.now() - started
        return result
    }

    /// Scans bytes that do not come from the file system (standard input), reported under `path`.
    public func scan(bytes: [UInt8], path: String, scratch: DetectorScratch) -> ScanResult {
        let started = Scanner.now()
        let before = scratch.limitHits
        var counts = PoolResult()
        var buffer: [UInt8] = []
        let outcome = process(SourceJob(origin: .bytes(bytes), path: path), scratch: scratch, buffer: &buffer,
                              repo: nil, counts: &counts)
        counts.limitHits = scratch.limitHits - before
        var result = ScanResult(counts: counts)
        result.findings = outcome?.findings ?? []
        result.skipped = outcome?.skipped ?? []
        result.seconds = Scanner.now() - started
        return result
    }

    /// What ``detectText(_:path:scratch:)`` did with a buffer. `nested`: what was skipped inside it (members
    /// of an archive, with their paths under the archive's).
    enum TextOutcome {
        case scanned([Finding], nested: [Skipped])
        case skipped(String)
    }

    /// The one gate every source (files, standard input, staged blobs, history blobs, archive members) goes
    /// through: the size limit, UTF-16 with a byte-order mark transcoded to UTF-8, key stores by their magic
    /// bytes, archives opened and each member sent through this gate again (`outer.zip!inner/file`), a NUL in
    /// the first 8,000 bytes skipped as binary (scanned raw with `scanBinary`), then the detector and the
    /// decoder of encoded runs.
    func detectText(_ buf: UnsafeRawBufferPointer, path: String, scratch: DetectorScratch,
                    maxSize: Int? = nil, scanBinary: Bool = false, largeArchive: Bool = false) -> TextOutcome {
        detectText(buf, path: path, scratch: scratch, maxSize: maxSize ?? options.maxFileSize, scanBinary: scanBinary,
                   depth: 0, budget: nil, outerLimit: largeArchive ? .max : nil)
    }

    private func detectText(_ buf: UnsafeRawBufferPointer, path: String, scratch: DetectorScratch, maxSize: Int,
                            scanBinary: Bool, depth: Int, budget: Archives.Budget?, outerLimit: Int? = nil) -> TextOutcome {
        if let reason = Scanner.skipReason(buf.count, maxSize: outerLimit ?? maxSize) { return .skipped(reason) }
        // Text with a byte-order mark (UTF-32 first: its little-endian mark starts like UTF-16's), as UTF-8.
        if let decoded = Scanner.decodeUTF32(buf) ?? Scanner.decodeUTF16(buf) {
            return decoded.withUnsafeBytes {
                detectText($0, path: path, scratch: scratch, maxSize: .max, scanBinary: scanBinary, depth: depth,
                           budget: budget)
            }
        }
        if let keystore = Keystores.finding(buf, path: path) { return .scanned([keystore], nested: []) }
        if options.archives.enabled, Archives.recognises(buf) {
            if depth >= options.archives.maxDepth {
                return .skipped("archive: nested deeper than \(options.archives.maxDepth) (see --archive-depth)")
            }
            let budget = budget ?? Archives.Budget(limits: options.archives, compressed: buf.count)
            var findings: [Finding] = [], skipped: [Skipped] = []
            let (own, opened) = Archives.members(buf, name: path, budget: budget, maxMemberSize: maxSize) { name, bytes in
                if options.useIgnoreFiles && detector.isPathAllowlisted(name, matcher: scratch.matcher) {
                    skipped.append(Skipped(path: path + "!" + name, reason: Skipped.globalAllowlistReason))
                    return
                }
                switch detectText(bytes, path: name, scratch: scratch, maxSize: maxSize, scanBinary: scanBinary,
                                  depth: depth + 1, budget: budget) {
                case .skipped(let reason): skipped.append(Skipped(path: path + "!" + name, reason: reason))
                case .scanned(let found, let nested):
                    findings += found.map { $0.inside(archive: path) }
                    skipped += nested.map { Skipped(path: path + "!" + $0.path, reason: $0.reason) }
                }
            }
            if opened {
                skipped += own.map { Skipped(path: $0.path.isEmpty ? path : path + "!" + $0.path, reason: $0.reason) }
                return .scanned(findings, nested: skipped)
            }
        }
        if !scanBinary, let base = buf.baseAddress, memchr(base, 0, min(buf.count, 8000)) != nil {
            return .skipped("binary")
        }
        var found = detector.detect(buf, path: path, scratch: scratch)
        // Arca's own lookup helpers read the application's sign-in variables (AZURE_CLIENT_SECRET…): that is what
        // they are for, not a credential read to migrate.
        if found.contains(where: { $0.kind == .envUsage }), ArcaHelperFiles.isHelper(path: path, buf) {
            found.removeAll { $0.kind == .envUsage }
        }
        if options.decode {
            let decoded = Decoding.findings(buf, path: path, detector: detector, scratch: scratch)
            if !decoded.isEmpty {
                // A decoding that only finds again what the plain scan found (the same value) adds nothing.
                // Nor does one of the same rule inside a plain finding (a URI's percent-encoded password, which
                // the plain scan took whole and a decoding would cut at its `%40`).
                let plain = Set(found.map { $0.ruleID + "\u{0}" + $0.secret })
                let covered = { (d: Finding) in
                    d.encoding == "percent" && found.contains { p in
                        p.ruleID == d.ruleID && p.line <= d.line && d.line <= p.endLine
                            && (p.line < d.line || p.column < d.endColumn) && (d.line < p.endLine || d.column < p.endColumn)
                    }
                }
                found += decoded.filter { !plain.contains($0.ruleID + "\u{0}" + $0.secret) && !covered($0) }
                found.sort { ($0.line, $0.column) < ($1.line, $1.column) }
            }
        }
        return .scanned(found, nested: [])
    }

    static func order(_ a: Finding, _ b: Finding) -> Bool {
        if a.path != b.path { return a.path < b.path }
        if a.line != b.line { return a.line < b.line }
        if a.column != b.column { return a.column < b.column }
        return a.ruleID < b.ruleID
    }

    // MARK: Walking

    struct DirJob {
        var absolute: String
        var relative: String
        var ignores: IgnoreRules
        var ancestors: [DevIno]
        /// An ignored folder entered only for the tracked files it holds: what it holds untracked stays ignored.
        var insideIgnored = false
    }

    struct DevIno: Hashable {
        var dev: UInt64
        var ino: UInt64
    }

    /// What the index of the repository holding `root` tracks, relative to `root`: files, and every folder
    /// that holds one. Nil outside a repository (or when its index cannot be read: the walk then goes by the
    /// ignore files alone).
    static func tracked(under root: String) -> (files: Set<String>, dirs: Set<String>)? {
        guard let repo = try? GitRepository(path: root), let workdir = repo.workdir,
              let paths = try? repo.indexPaths(), !paths.isEmpty,
              let absRoot = realpath(root, nil) else { return nil }
        defer { free(absRoot) }
        var top = workdir.hasSuffix("/") ? String(workdir.dropLast()) : workdir
        if let real = realpath(top, nil) { top = String(cString: real); free(real) }
        let here = String(cString: absRoot)
        guard here == top || here.hasPrefix(top + "/") else { return nil }
        let prefix = here == top ? "" : String(here.dropFirst(top.count + 1)) + "/"
        var files = Set<String>(), dirs = Set<String>()
        for p in paths where prefix.isEmpty || p.hasPrefix(prefix) {
            let rel = String(p.dropFirst(prefix.count))
            files.insert(rel)
            var d = rel[...]
            while let slash = d.lastIndex(of: "/") {
                d = d[..<slash]
                if !dirs.insert(String(d)).inserted { break }
            }
        }
        return (files, dirs)
    }

    /// Walks the tree. In a repository the index decides: a tracked file is scanned even where `.gitignore`
    /// or `.arcaignore` would exclude it. Every path left out is recorded as skipped, with its reason.
    func walk(root: String, queue: Channel<SourceJob>, result: inout ScanResult,
              tracked: (files: Set<String>, dirs: Set<String>)? = nil) {
        let matcher = Matcher()
        var rootIgnores = IgnoreRules.empty
        let trimmedRoot = root.count > 1 && root.hasSuffix("/") ? String(root.dropLast()) : root
        if options.useIgnoreFiles {
            let exclude = Scanner.readSmallText(trimmedRoot + "/.git/info/exclude")
            rootIgnores = rootIgnores.adding(base: "", texts: exclude.map { [$0] } ?? [])
        }
        var rootStat = stat()
        stat(trimmedRoot, &rootStat)
        var stack = [DirJob(absolute: trimmedRoot, relative: "", ignores: rootIgnores,
                            ancestors: [DevIno(dev: UInt64(rootStat.st_dev), ino: UInt64(rootStat.st_ino))])]
        while var job = stack.popLast() {
            if options.useIgnoreFiles {
                let texts = [".gitignore", ".arcaignore"].compactMap { Scanner.readSmallText(job.absolute + "/" + $0) }
                job.ignores = job.ignores.adding(base: job.relative, texts: texts)
            }
            guard let dir = opendir(job.absolute) else {
                let reason = String(cString: strerror(errno))
                result.errors.append("\(job.relative.isEmpty ? "." : job.relative): cannot read directory: \(reason)")
                result.skipped.append(Skipped(path: job.relative.isEmpty ? "." : job.relative,
                                              reason: "unreadable directory: \(reason)"))
                continue
            }
            var subdirs: [DirJob] = []
            while let entry = readdir(dir) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                    String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
                }
                if name == "." || name == ".." || name == ".git" { continue }
                let abs = job.absolute + "/" + name
                let rel = job.relative.isEmpty ? name : job.relative + "/" + name
                var type = entry.pointee.d_type
                var st = stat()
                var unfollowedLink = false
                if type == UInt8(DT_UNKNOWN) || type == UInt8(DT_LNK) {
                    if lstat(abs, &st) != 0 { continue }
                    if (st.st_mode & S_IFMT) == S_IFLNK && !options.followSymlinks {
                        unfollowedLink = true
                    } else if (st.st_mode & S_IFMT) == S_IFLNK {
                        if stat(abs, &st) != 0 {
                            result.warnings.append("\(rel): broken symbolic link, skipped")
                            result.skipped.append(Skipped(path: rel, reason: "broken symbolic link"))
                            continue
                        }
                    }
                    type = unfollowedLink ? UInt8(DT_LNK) : (st.st_mode & S_IFMT) == S_IFDIR ? UInt8(DT_DIR)
                        : ((st.st_mode & S_IFMT) == S_IFREG ? UInt8(DT_REG) : UInt8(DT_UNKNOWN))
                } else if type == UInt8(DT_DIR) {
                    stat(abs, &st)
                }
                let isDir = type == UInt8(DT_DIR)
                var ignoredHere = false
                if options.useIgnoreFiles && (job.insideIgnored || job.ignores.isIgnored(rel, isDirectory: isDir, matcher: matcher)) {
                    let isTracked = isDir ? tracked?.dirs.contains(rel) == true : tracked?.files.contains(rel) == true
                    if !isTracked {
                        result.skipped.append(Skipped(path: isDir ? rel + "/" : rel, reason: "ignored by .gitignore or .arcaignore"))
                        continue
                    }
                    ignoredHere = true
                }
                // Lockfiles, vendored and minified code: never scanned unless --no-ignore, but named.
                if options.useIgnoreFiles && detector.isPathAllowlisted(rel, matcher: matcher) {
                    result.skipped.append(Skipped(path: isDir ? rel + "/" : rel, reason: Skipped.globalAllowlistReason))
                    continue
                }
                // Neither a file nor a folder: named, never silently passed over.
                if unfollowedLink {
                    result.skipped.append(Skipped(path: rel, reason: "symbolic link, not followed (see --follow; its target is scanned where it lies inside the tree)"))
                    continue
                }
                guard isDir || type == UInt8(DT_REG) else {
                    result.skipped.append(Skipped(path: rel, reason: "not a regular file (a FIFO, socket or device)"))
                    continue
                }
                if isDir {
                    let id = DevIno(dev: UInt64(st.st_dev), ino: UInt64(st.st_ino))
                    if job.ancestors.contains(id) {
                        result.warnings.append("\(rel): symbolic link loop, skipped")
                        result.skipped.append(Skipped(path: rel, reason: "symbolic link loop"))
                        continue
                    }
                    subdirs.append(DirJob(absolute: abs, relative: rel, ignores: job.ignores,
                                          ancestors: job.ancestors + [id], insideIgnored: ignoredHere))
                } else {
                    result.files.append(rel)
                    queue.push(SourceJob(origin: .file(absolute: abs), path: rel))
                }
            }
            closedir(dir)
            stack += subdirs.sorted { $0.relative > $1.relative }
        }
    }

    enum ReadOutcome {
        case success(Int)
        case failure(String)
    }

    static func skipReason(_ size: Int, maxSize: Int) -> String? {
        size > maxSize ? "too large (\(size) bytes; limit \(maxSize), see --max-file-size)" : nil
    }

    /// Reads a whole regular file into `buffer` (reused between files).
    static func read(_ path: String, maxSize: Int, into buffer: inout [UInt8]) -> ReadOutcome {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return .failure("unreadable: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { return .failure("unreadable: \(String(cString: strerror(errno)))") }
        let size = Int(st.st_size)
        if let reason = skipReason(size, maxSize: maxSize) { return .failure(reason) }
        if buffer.count < size + 1 { buffer = [UInt8](repeating: 0, count: max(size + 1, 64 * 1024)) }
        var total = 0
        let ok = buffer.withUnsafeMutableBytes { raw -> Bool in
            while total < size {
                let n = Glibc.read(fd, raw.baseAddress! + total, size - total)
                if n < 0 { if errno == EINTR { continue }; return false }
                if n == 0 { break }
                total += n
            }
            return true
        }
        guard ok else { return .failure("unreadable: \(String(cString: strerror(errno)))") }
        return .success(total)
    }

    /// UTF-32 text with a byte-order mark, converted to UTF-8; nil for anything else.
    static func decodeUTF32(_ data: UnsafeRawBufferPointer) -> [UInt8]? {
        guard data.count >= 4 else { return nil }
        let little: Bool
        if data[0] == 0xff && data[1] == 0xfe && data[2] == 0 && data[3] == 0 { little = true }
        else if data[0] == 0 && data[1] == 0 && data[2] == 0xfe && data[3] == 0xff { little = false }
        else { return nil }
        var scalars = String.UnicodeScalarView()
        var i = 4
        while i + 3 < data.count {
            let b = (UInt32(data[i]), UInt32(data[i + 1]), UInt32(data[i + 2]), UInt32(data[i + 3]))
            let v = little ? b.0 | b.1 << 8 | b.2 << 16 | b.3 << 24 : b.3 | b.2 << 8 | b.1 << 16 | b.0 << 24
            scalars.append(Unicode.Scalar(v) ?? "\u{FFFD}")
            i += 4
        }
        return Array(String(scalars).utf8)
    }

    /// UTF-16 text with a byte-order mark, converted to UTF-8; nil for anything else.
    static func decodeUTF16(_ data: UnsafeRawBufferPointer) -> [UInt8]? {
        guard data.count >= 2 else { return nil }
        let little: Bool
        if data[0] == 0xff && data[1] == 0xfe { little = true } else if data[0] == 0xfe && data[1] == 0xff {
            little = false
        } else { return nil }
        var units: [UInt16] = []
        units.reserveCapacity(data.count / 2)
        var i = 2
        while i + 1 < data.count {
            units.append(little ? UInt16(data[i]) | UInt16(data[i + 1]) << 8 : UInt16(data[i]) << 8 | UInt16(data[i + 1]))
            i += 2
        }
        return Array(String(decoding: units, as: UTF16.self).utf8)
    }

    static func readSmallText(_ path: String) -> String? {
        var buffer: [UInt8] = []
        guard case .success(let n) = read(path, maxSize: 1 << 20, into: &buffer) else { return nil }
        return String(decoding: buffer[0..<n], as: UTF8.self)
    }

    static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}

/// The lookup helpers `arca migrate` adds (their names, and the line each carries).
public enum ArcaHelperFiles {
    public static let names: Set<String> = [
        "arca_vault.py", "arca-vault.cjs", "arca_vault.go", "ArcaVault.java", "ArcaVault.kt", "ArcaVault.cs", "arca_vault.rb",
        "arca_vault.php", "ArcaVault.swift", "arca-vault.sh",
    ]

    static func isHelper(path: String, _ buf: UnsafeRawBufferPointer) -> Bool {
        let name = path.split(separator: "/").last.map(String.init) ?? path
        guard names.contains(name) else { return false }
        let marker = Array("added by `arca migrate".utf8)
        let head = Array(buf.prefix(2048))
        guard head.count >= marker.count else { return false }
        return (0...(head.count - marker.count)).contains { i in head[i..<(i + marker.count)].elementsEqual(marker) }
    }
}

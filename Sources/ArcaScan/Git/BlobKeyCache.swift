import ArcaRules
import CGit2
import Crypto

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What the hook already knows of HEAD's blobs: for each blob it has scanned, keyed by the blob's id (content
/// addressed, so an entry never goes stale), the (rule, value) pairs of its secret findings — as HMAC-SHA-256
/// under a random per-repository salt, never the values. A blocked commit must tell a value HEAD already holds
/// (moved, reformatted, copied) from a new one; with the cache that costs a walk of HEAD's tree and a scan of
/// the blobs no earlier commit saw, instead of reading all of HEAD.
///
/// The file is `.git/arca-blob-keys` (0600), text: a header line with the version and the stamp of what decides
/// findings (the rules, the detection options), the salt, then `BLOBID KEY…` lines. Another stamp, a damaged or
/// oversized file: it is ignored and rewritten. It holds entries for the blobs of the trees last looked at.
struct BlobKeyCache {
    static let header = "arca-blob-keys 1"
    static let maxBytes = 64 << 20

    var stamp: String
    var salt: [UInt8]
    var entries: [GitOID: [String]] = [:]

    /// The stamp of a scanner: its version of the rules and the options that change what is found.
    static func stamp(_ scanner: Scanner) -> String {
        var h = SHA256()
        let o = scanner.options
        h.update(data: Array("\(o.detect.minConfidence.rawValue)|\(o.decode)|\(o.archives.enabled)|\(o.archives.maxDepth)|\(o.maxFileSize)\n".utf8))
        for r in scanner.detector.rules.rules {
            h.update(data: Array("\(r.id)\u{0}\(r.pattern.pattern)\u{0}\(r.minEntropy)\u{0}\(r.confidence.rawValue)\n".utf8))
        }
        let g = scanner.detector.rules.global
        let globals = g.paths.map(\.source) + g.secretRegexes.map(\.pattern) + g.lineRegexes.map(\.pattern)
            + g.genericStopwords + g.projectPaths.map(\.source) + [g.projectPrefix] + g.projectRegexes.map(\.pattern)
            + g.projectStopwords
        h.update(data: Array(globals.joined(separator: "\u{0}").utf8))
        return Finding.hex(h.finalize())
    }

    /// The cache at `file` if it was written under `stamp`, else an empty one with a new salt. Parsed byte by
    /// byte: it is read on every blocked commit and holds a line per blob of HEAD.
    static func load(_ file: String, stamp: String) -> BlobKeyCache {
        var fresh = BlobKeyCache(stamp: stamp, salt: (0..<32).map { _ in UInt8.random(in: 0...255) })
        guard let bytes = readSmall(file) else { return fresh }
        return bytes.withUnsafeBufferPointer { b -> BlobKeyCache in
            var i = 0
            func line() -> Range<Int> {
                let start = i
                while i < b.count && b[i] != 0x0a { i += 1 }
                defer { i += 1 }
                return start..<i
            }
            let head = line()
            guard String(decoding: b[head], as: UTF8.self) == header + " " + stamp else { return fresh }
            let saltLine = line()
            guard saltLine.count == 64, let salt = BlobKeyCache.bytes(hex: String(decoding: b[saltLine], as: UTF8.self)[...]) else {
                return fresh
            }
            fresh.salt = salt
            var entries: [GitOID: [String]] = [:]
            entries.reserveCapacity(b.count / 41)
            while i < b.count {
                let l = line()
                if l.isEmpty { continue }
                // BLOBID (40 hex) then " KEY" (32 hex) per key.
                guard l.count >= 40, (l.count - 40) % 33 == 0 else { return BlobKeyCache(stamp: stamp, salt: salt) }
                var oid = git_oid()
                let ok = git_oid_fromstrn(&oid, UnsafeRawPointer(b.baseAddress! + l.lowerBound).assumingMemoryBound(to: CChar.self), 40) == 0
                guard ok else { return BlobKeyCache(stamp: stamp, salt: salt) }
                var keys: [String] = []
                var k = l.lowerBound + 40
                while k < l.upperBound {
                    guard b[k] == 0x20 else { return BlobKeyCache(stamp: stamp, salt: salt) }
                    keys.append(String(decoding: b[(k + 1)..<(k + 33)], as: UTF8.self))
                    k += 33
                }
                entries[GitOID(oid)] = keys
            }
            fresh.entries = entries
            return fresh
        }
    }

    static func readSmall(_ file: String) -> [UInt8]? {
        let fd = open(file, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG, st.st_size <= maxBytes else { return nil }
        let size = Int(st.st_size)
        var out = [UInt8](repeating: 0, count: size)
        var got = 0
        while got < size {
            let n = out.withUnsafeMutableBytes { read(fd, $0.baseAddress! + got, size - got) }
            if n <= 0 { break }
            got += n
        }
        return got == size ? out : nil
    }

    /// The salted hash of a (rule, value) key.
    func hash(_ key: String) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Array(key.utf8), using: SymmetricKey(data: salt))
        return Finding.hex(Array(mac).prefix(16))
    }

    /// Writes the entries for `keep` (the blobs of the trees looked at) to `file`, atomically; a failure only
    /// costs the next run a rescan.
    func save(_ file: String, keep: Set<GitOID>) {
        var out = Self.header + " " + stamp + "\n" + Finding.hex(salt) + "\n"
        for (blob, keys) in entries where keep.contains(blob) {
            out += blob.description
            for k in keys { out += " " + k }
            out += "\n"
        }
        let tmp = file + ".tmp.\(getpid())"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return }
        let bytes = Array(out.utf8)
        var written = 0
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + written, bytes.count - written) }
            if n <= 0 { break }
            written += n
        }
        close(fd)
        if written == bytes.count { rename(tmp, file) } else { unlink(tmp) }
    }

    /// Lower-case hex as bytes (nil for anything else: a damaged file).
    static func bytes(hex: Substring) -> [UInt8]? {
        let digits = Array(hex.utf8)
        guard digits.count % 2 == 0, digits.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }) else {
            return nil
        }
        return Decoding.hex(digits)
    }
}

extension Scanner {
    /// The keys (rule ‖ NUL ‖ value) among `keys` that a secret finding in some blob of `trees` has, through
    /// the repository's blob-key cache: blobs it does not know are scanned (both cores) and remembered.
    func valuesPresentCached(repo: GitRepository, trees: [GitOID], keys: Set<String>, errors: inout [String])
        throws -> Set<String> {
        let file = repo.gitDir.hasSuffix("/") ? repo.gitDir + "arca-blob-keys" : repo.gitDir + "/arca-blob-keys"
        var cache = BlobKeyCache.load(file, stamp: BlobKeyCache.stamp(self))
        var inTrees = Set<GitOID>()
        var unknown: [(path: String, blob: GitOID)] = []
        for tree in trees {
            try repo.allBlobs(tree: tree) { path, blob in
                guard inTrees.insert(blob).inserted else { return }
                if cache.entries[blob] == nil { unknown.append((path, blob)) }
            }
        }
        if !unknown.isEmpty {
            let jobs = unknown
            let pool = runPool(gitDir: repo.gitDir) { queue in
                for (i, j) in jobs.enumerated() { queue.push(SourceJob(origin: .blob(j.blob), path: j.path, tag: i)) }
            }
            var failed = Set<GitOID>()
            var found: [GitOID: [String]] = [:]
            for o in pool.outcomes {
                guard case .blob(let blob) = o.job.origin else { continue }
                if let e = o.error { errors.append(e); failed.insert(blob); continue }
                found[blob, default: []] += o.findings.filter { $0.kind.holdsSecret }.map { cache.hash(Scanner.key($0)) }
            }
            for j in jobs where !failed.contains(j.blob) { cache.entries[j.blob] = found[j.blob] ?? [] }
            cache.save(file, keep: inTrees)
        }
        var known = Set<String>()
        for blob in inTrees { if let k = cache.entries[blob] { known.formUnion(k) } }
        return keys.filter { known.contains(cache.hash($0)) }
    }
}

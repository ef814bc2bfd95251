import ArcaRules
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Small file-descriptor helpers (the CLI stays off Foundation so the hook starts fast).
enum IO {
    /// A reader that goes away (`arca scan | head`) is a failed write, reported as exit 3, not a death by
    /// SIGPIPE (exit 141 with no word said). Only for commands that start no program of their own: an
    /// ignored SIGPIPE is inherited across exec. (The staged scan's `git diff` is started with SIGPIPE reset.)
    static func failOnBrokenPipes() {
        signal(SIGPIPE, SIG_IGN)
    }

    /// Set when a write to standard output failed: the process then ends with exit code 3, whatever the
    /// command, so a report or a value that never arrived is never a success.
    static let standardOutputFailed = Atomic<Bool>(false)

    /// Writes all of `s`; false when a write failed (a full disk, a closed pipe), with `errno` set.
    @discardableResult
    static func write(fd: Int32, _ s: String) -> Bool {
        var bytes = Array(s.utf8)
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeMutableBytes { Glibc.write(fd, $0.baseAddress! + off, $0.count - off) }
            if n < 0 {
                if errno == EINTR { continue }
                if fd == 1 { standardOutputFailed.store(true, ordering: .relaxed) }
                return false
            }
            off += n
        }
        return true
    }

    static func readAll(fd: Int32) -> [UInt8] { readAllChecked(fd: fd) ?? [] }

    /// Everything up to end of file, or nil when a read fails (never a silently truncated prefix).
    static func readAllChecked(fd: Int32) -> [UInt8]? {
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buf.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress!, $0.count) }
            if n < 0 { if errno == EINTR { continue }; return nil }
            if n == 0 { break }
            out += buf[0..<n]
        }
        return out
    }

    static func readFile(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        return readAllChecked(fd: fd).map { String(decoding: $0, as: UTF8.self) }
    }

    /// Writes a regular file atomically: a temporary file in the same directory, then rename. Anything else
    /// that exists at `path` (a device, a pipe, `/dev/stdout`) is written to in place, never replaced. Every
    /// failure — a full disk included — is false, with `errno` set.
    static func writeFile(_ path: String, _ s: String, mode: mode_t = 0o644) -> Bool {
        var st = stat()
        if stat(path, &st) == 0 && (st.st_mode & S_IFMT) != S_IFREG {
            let fd = open(path, O_WRONLY | O_CLOEXEC)
            guard fd >= 0 else { return false }
            let ok = write(fd: fd, s)
            let saved = errno
            close(fd)
            errno = saved
            return ok
        }
        let tmp = path + ".tmp-\(getpid())"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard fd >= 0 else { return false }
        guard write(fd: fd, s), fsync(fd) == 0 else {
            let saved = errno
            close(fd); unlink(tmp)
            errno = saved
            return false
        }
        guard close(fd) == 0 else { unlink(tmp); return false }
        if rename(tmp, path) != 0 { let saved = errno; unlink(tmp); errno = saved; return false }
        return true
    }

    /// This executable's absolute path.
    static func executablePath() -> String {
        var buf = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buf, buf.count - 1)
        guard n > 0 else { return CommandLine.arguments[0] }
        return String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The work tree holding `path`, found by walking up to a `.git` entry.
    static func gitTopLevel(_ path: String) -> String? { ProjectConfig.repositoryRoot(of: path) }

    static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    static func absolutePath(_ path: String) -> String {
        guard let p = realpath(path == "-" ? "." : path, nil) else { return path }
        defer { free(p) }
        return String(cString: p)
    }
}

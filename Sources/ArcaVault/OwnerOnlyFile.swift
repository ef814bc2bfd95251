import Foundation

/// A file only its owner can read (mode 0600 whatever the umask), written in full or not at all: a temporary
/// file beside the target, synced, then renamed over it. Audit exports and backups are written this way: they
/// name callers, secrets and addresses.
public final class OwnerOnlyFile {
    public let path: String
    /// Where the bytes go until ``commit()``.
    let temporary: String
    private var fd: Int32

    /// Starts writing `path` (nothing is visible there until ``commit()``).
    public init(path: String) throws {
        // `-` means standard output to every command that takes a file; a file by that name is never what
        // was meant. The commands send `-` to standard output themselves (or refuse it).
        guard path != "-", !path.isEmpty else {
            throw VaultError.badParameter("'\(path)' is not a file name here (standard output is not a file this command can write)")
        }
        // The copy is renamed over the target: over a device or a pipe (as root, `-o /dev/full`) that would
        // replace it with a regular file. Only a regular file, or nothing, may stand there.
        var st = stat()
        if stat(path, &st) == 0 && (st.st_mode & S_IFMT) != S_IFREG {
            throw VaultError.badParameter("\(path) is not a regular file (a device, a pipe or a folder); nothing was written")
        }
        self.path = path
        temporary = path + ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw VaultError.storage("cannot create \(path): \(String(cString: strerror(errno)))") }
        // The umask can only take bits away, but say 0600 explicitly all the same.
        fchmod(fd, 0o600)
    }

    deinit {
        if fd >= 0 {
            close(fd)
            unlink(temporary)
        }
    }

    public func write(_ text: String) throws {
        var bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeMutableBytes { Foundation.write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 {
                if errno == EINTR { continue }
                throw VaultError.storage("cannot write \(path): \(String(cString: strerror(errno)))")
            }
            offset += n
        }
    }

    /// The folder holding `path`, by its last `/` (Foundation's `deletingLastPathComponent` traps on some
    /// one-component paths on Linux, such as `-`).
    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    /// Syncs the file and puts it in place (replacing whatever was there, with its mode).
    public func commit() throws {
        guard fsync(fd) == 0, close(fd) == 0 else {
            fd = -1
            unlink(temporary)
            throw VaultError.storage("cannot write \(path): \(String(cString: strerror(errno)))")
        }
        fd = -1
        guard rename(temporary, path) == 0 else {
            unlink(temporary)
            throw VaultError.storage("cannot write \(path): \(String(cString: strerror(errno)))")
        }
        let dfd = open(OwnerOnlyFile.directory(of: path), O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dfd >= 0 {
            fsync(dfd)
            close(dfd)
        }
    }
}

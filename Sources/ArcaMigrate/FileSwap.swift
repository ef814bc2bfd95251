import ArcaVaultAPI
import Crypto
import Foundation

/// Replaces a set of files all or nothing, and never over an edit.
///
/// Before the commit point (`prepare`): each new text is written beside its file (`NAME.arca-new`, synced), the
/// old file gets a second name (`NAME.arca-old`, a hard link: an immutable or append-only file refuses one, so
/// that is found before anything changes), and every file is checked against the bytes the plan was made from.
/// After it (`swap`): each new text is exchanged with its file in one step (`renameat2(RENAME_EXCHANGE)`), the
/// displaced file is checked to be the one linked and unchanged, and is swapped back if not. `finish` then goes
/// forward (every file new) or back (every file old, restored from its second name): never a mix. An
/// interrupted swap is finished from what is on disk, by the same rules (`decide`).
struct FileSwap {
    struct Item {
        /// Absolute path.
        var path: String
        /// Relative path, for messages.
        var name: String
        /// SHA-256 of the bytes the file must hold before the swap, and of the text it gets.
        var fromSHA: String
        var toSHA: String
    }

    enum Direction: Sendable { case forward, back }

    static let newSuffix = ".arca-new"
    static let oldSuffix = ".arca-old"

    var items: [Item]
    /// Test hook: called with the name of each step reached.
    var pause: @Sendable (String) -> Void = { _ in }
    /// False: plain renames only, as on a file system without RENAME_EXCHANGE (so the tests cover that path).
    var exchanges = true

    // MARK: Before the commit point

    /// Writes the new texts and the second names and checks every file; throws having removed all it made.
    func prepare(_ texts: [String], modes: [mode_t]) throws {
        do {
            for (i, item) in items.enumerated() {
                var st = stat()
                guard lstat(item.path, &st) == 0, st.st_mode & mode_t(S_IFMT) == mode_t(S_IFREG) else {
                    throw Migration.Failure.io(
                        "\(item.name) is not a regular file (a symbolic link?), so it cannot be replaced whole; "
                            + "nothing was rewritten")
                }
                try Self.writeSynced(item.path + Self.newSuffix, texts[i], mode: modes[i])
                // The new text keeps the file's owner (only root can give it away; elsewhere it is the caller's).
                if chown(item.path + Self.newSuffix, st.st_uid, st.st_gid) == 0 { chmod(item.path + Self.newSuffix, modes[i]) }
                unlink(item.path + Self.oldSuffix)
                guard link(item.path, item.path + Self.oldSuffix) == 0 else {
                    let why = errno == EPERM
                        ? "it is immutable or append-only (see lsattr), or its file system has no hard links"
                        : String(cString: strerror(errno))
                    throw Migration.Failure.io("cannot replace \(item.name): \(why); nothing was rewritten")
                }
                pause("copy")
            }
            try check()
        } catch {
            discard()
            throw error
        }
    }

    /// Every file still holds the bytes the plan was made from, and is the file that got the second name.
    func check() throws {
        for item in items {
            guard Self.sameFile(item.path, item.path + Self.oldSuffix),
                  Self.hash(ofFile: item.path) == item.fromSHA else {
                throw Migration.Failure.changed(
                    "\(item.name) changed after migrate read it (edited while it asked or stored?); "
                        + "nothing was rewritten: run it again")
            }
        }
    }

    /// Removes the copies and second names (before the commit point: the files themselves were never touched).
    /// A second name goes even when the file was replaced meanwhile (an editor's atomic save): it is migrate's
    /// own link to the text from before the edit, which holds the secret, and the edit is at the file's name.
    func discard() {
        for item in items {
            unlink(item.path + Self.newSuffix)
            unlink(item.path + Self.oldSuffix)
        }
    }

    // MARK: After the commit point

    /// Puts every new text in place; throws at the first file that cannot be (or that changed: swapped back).
    /// The caller then finishes backwards.
    func swap() throws {
        for item in items {
            try swapOne(item)
            pause("swap")
        }
        // A write into an old file after it was displaced would be lost with its second name: look again.
        for item in items where Self.hash(ofFile: item.path + Self.oldSuffix) != item.fromSHA {
            throw Migration.Failure.changed(
                "\(item.name) was written to while migrate replaced it; every file was restored")
        }
    }

    func swapOne(_ item: Item) throws {
        let (p, n, o) = (item.path, item.path + Self.newSuffix, item.path + Self.oldSuffix)
        if exchanges, Self.exchange(n, p) {
            // `n` now holds what was at `p`: it must be the file linked and checked before the commit point.
            if Self.sameFile(n, o), Self.hash(ofFile: o) == item.fromSHA {
                unlink(n)
                return
            }
            _ = Self.exchange(n, p)
            throw Migration.Failure.changed("\(item.name) changed while migrate replaced it; every file was restored")
        }
        guard rename(n, p) == 0 else {
            throw Migration.Failure.io(
                "cannot replace \(item.name): \(String(cString: strerror(errno))); every file was restored")
        }
        if Self.hash(ofFile: o) != item.fromSHA {
            rename(o, p)  // the old file, with what was written to it
            throw Migration.Failure.changed("\(item.name) changed while migrate replaced it; every file was restored")
        }
    }

    /// Which way an interrupted swap can go: forward only if every file is new, or old with its complete new
    /// copy beside it, and no old file was written to; else back.
    func decide() -> Direction {
        for item in items {
            let current = Self.hash(ofFile: item.path)
            let old = Self.hash(ofFile: item.path + Self.oldSuffix)
            if current == item.toSHA, old == nil || old == item.fromSHA { continue }
            if current == item.fromSHA, Self.hash(ofFile: item.path + Self.newSuffix) == item.toSHA { continue }
            return .back
        }
        return .forward
    }

    /// Completes the swap in `direction`; returns the files left as they were found because they hold neither
    /// text (changed by someone else: never overwritten).
    @discardableResult
    func finish(_ direction: Direction) throws -> [String] {
        var untouched: [String] = []
        for item in items {
            let (p, n, o) = (item.path, item.path + Self.newSuffix, item.path + Self.oldSuffix)
            // A file displaced by an exchange that was never checked (killed in between) goes back first.
            if let displaced = Self.hash(ofFile: n), displaced != item.toSHA, !Self.sameFile(n, o),
               Self.hash(ofFile: p) == item.toSHA {
                guard rename(n, p) == 0 else { throw Migration.Failure.io("cannot put back \(item.name)") }
                untouched.append(item.name)
                unlink(o)
                continue
            }
            let current = Self.hash(ofFile: p)
            switch direction {
            case .forward:
                if current != item.toSHA {
                    guard Self.hash(ofFile: n) == item.toSHA, current == item.fromSHA || Self.sameFile(p, o) else {
                        untouched.append(item.name)
                        break
                    }
                    guard rename(n, p) == 0 else { throw Migration.Failure.io("cannot finish replacing \(item.name)") }
                }
            case .back:
                if current == item.toSHA, !Self.sameFile(p, o), FileManager.default.fileExists(atPath: o) {
                    guard rename(o, p) == 0 else { throw Migration.Failure.io("cannot restore \(item.name)") }
                } else if current != item.fromSHA, !Self.sameFile(p, o), current != item.toSHA {
                    untouched.append(item.name)
                }
            }
            if Self.hash(ofFile: n) == item.toSHA || Self.sameFile(n, o) { unlink(n) }
            unlink(o)
        }
        Self.syncDirectories(items.map(\.path))
        return untouched
    }

    // MARK: Files

    static func hash(_ bytes: some Sequence<UInt8>) -> String {
        var h = SHA256()
        h.update(data: Array(bytes))
        return Hex.encode(Array(h.finalize()))
    }

    static func hash(ofFile path: String) -> String? {
        FileManager.default.contents(atPath: path).map { hash($0) }
    }

    static func sameFile(_ a: String, _ b: String) -> Bool {
        var x = stat(), y = stat()
        return lstat(a, &x) == 0 && lstat(b, &y) == 0 && x.st_dev == y.st_dev && x.st_ino == y.st_ino
    }

    #if os(Linux)
    private typealias RenameAt2 =
        @convention(c) (Int32, UnsafePointer<CChar>, Int32, UnsafePointer<CChar>, UInt32) -> Int32
    /// glibc's renameat2 (not in the Glibc module's headers without _GNU_SOURCE), looked up once.
    private static let renameat2: RenameAt2? = dlsym(nil, "renameat2").map { unsafeBitCast($0, to: RenameAt2.self) }
    #endif

    /// Swaps two names in one step; false where the system or file system cannot (then plain rename is used).
    static func exchange(_ a: String, _ b: String) -> Bool {
        #if os(Linux)
        guard let renameat2 else { return false }
        return renameat2(-100 /* AT_FDCWD */, a, -100, b, 2 /* RENAME_EXCHANGE */) == 0
        #else
        return false
        #endif
    }

    static func writeSynced(_ path: String, _ text: String, mode: mode_t) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode)
        guard fd >= 0 else { throw Migration.Failure.io("cannot write \(path): \(String(cString: strerror(errno)))") }
        var failure: String?
        let bytes = Array(text.utf8)
        var done = 0
        while done < bytes.count {
            let n = bytes[done...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            guard n > 0 else {
                failure = "cannot write \(path): \(String(cString: strerror(errno)))"
                break
            }
            done += n
        }
        if failure == nil {
            fchmod(fd, mode)
            if fsync(fd) != 0 { failure = "cannot sync \(path): \(String(cString: strerror(errno)))" }
        }
        if close(fd) != 0, failure == nil { failure = "cannot write \(path): \(String(cString: strerror(errno)))" }
        if let failure {
            unlink(path)  // a partial copy is never left behind (a full disk)
            throw Migration.Failure.io(failure)
        }
    }

    static func syncDirectories(_ paths: [String]) {
        for dir in Set(paths.map { ($0 as NSString).deletingLastPathComponent }) {
            let fd = open(dir.isEmpty ? "." : dir, O_RDONLY)
            if fd >= 0 { fsync(fd); close(fd) }
        }
    }
}

import CArchive

/// Limits on what an archive may expand to. An archive over any of them is a skip with its reason (kind
/// `archive`), never an out-of-memory: a zip bomb stops at the first limit it reaches.
public struct ArchiveLimits: Sendable, Hashable {
    /// Open archives at all (off with `--no-archives`: they are then binary files).
    public var enabled = true
    /// Archives inside archives: a member of an archive nested deeper than this is not opened.
    public var maxDepth = 3
    /// Bytes all members of one archive (nested ones included) may expand to.
    public var maxBytes = 256 * 1024 * 1024
    /// Members of one archive (nested ones included).
    public var maxMembers = 10_000
    /// Expanded bytes per compressed byte, checked once more than 1 MiB has been expanded.
    public var maxRatio = 100

    public init() {}
}

/// Archives and compressed files (zip, jar/war/apk, tar, gzip, bzip2, xz, zstd, 7z, rar) read through
/// libarchive from memory. Each regular member is handed to the caller, which scans it like a file — through
/// the one gate, so a member that is itself an archive or holds an encoded secret is handled the same way.
enum Archives {
    /// Whether `buf` starts like an archive or compressed stream libarchive reads.
    static func recognises(_ buf: UnsafeRawBufferPointer) -> Bool {
        func starts(_ magic: [UInt8], at offset: Int = 0) -> Bool {
            guard buf.count >= offset + magic.count else { return false }
            for (i, b) in magic.enumerated() where buf[offset + i] != b { return false }
            return true
        }
        return starts([0x50, 0x4B, 0x03, 0x04])                      // zip, jar, war, apk, docx …
            || starts([0x1F, 0x8B])                                   // gzip
            || starts([0x42, 0x5A, 0x68])                             // bzip2
            || starts([0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00])           // xz
            || starts([0x28, 0xB5, 0x2F, 0xFD])                       // zstd
            || starts([0x37, 0x7A, 0xBC, 0xAF, 0x27, 0x1C])           // 7z
            || starts([0x52, 0x61, 0x72, 0x21, 0x1A, 0x07])           // rar
            || starts(Array("ustar".utf8), at: 257)                   // tar (POSIX and GNU)
    }

    /// What one archive (and the archives inside it) has used of the limits.
    final class Budget {
        let limits: ArchiveLimits
        let compressed: Int
        var bytes = 0
        var members = 0
        init(limits: ArchiveLimits, compressed: Int) {
            self.limits = limits
            self.compressed = max(compressed, 1)
        }
    }

    /// Why an archive's expansion stopped early, if it did.
    static func overLimit(_ budget: Budget) -> String? {
        let l = budget.limits
        if budget.members > l.maxMembers {
            return "archive: more than \(l.maxMembers) members (see --archive-max-members); the rest not scanned"
        }
        if budget.bytes > l.maxBytes {
            return "archive: expands to more than \(l.maxBytes / (1024 * 1024)) MiB (see --archive-max-bytes); the rest not scanned"
        }
        if budget.bytes > 1024 * 1024, budget.bytes / budget.compressed > l.maxRatio {
            return "archive: expands more than \(l.maxRatio) times its size (a zip bomb?; see --archive-max-ratio); the rest not scanned"
        }
        return nil
    }

    /// Reads the archive in `buf` and calls `member` with each regular member's name and bytes. Members over
    /// `maxMemberSize` are skipped unread. Returns what was skipped (relative to the archive) and whether the
    /// archive could be read at all (false: libarchive did not recognise it, so the caller treats it as a file).
    static func members(_ buf: UnsafeRawBufferPointer, name: String, budget: Budget, maxMemberSize: Int,
                        rawOnly: Bool = false,
                        member: (String, UnsafeRawBufferPointer) -> Void) -> (skipped: [Skipped], opened: Bool) {
        guard let a = archive_read_new(), let base = buf.baseAddress else { return ([], false) }
        defer { archive_read_free(a) }
        archive_read_support_filter_all(a)
        if !rawOnly {
            // Archive formats by name, not `format_all`: its mtree reader takes a line of text for a file entry
            // (a one-line `.pgpass.gz` became an empty member named after the password) and can open files on
            // disk that an entry names.
            archive_read_support_format_tar(a)
            archive_read_support_format_zip(a)
            archive_read_support_format_7zip(a)
            archive_read_support_format_rar(a)
            archive_read_support_format_rar5(a)
            archive_read_support_format_cpio(a)
            archive_read_support_format_ar(a)
            archive_read_support_format_iso9660(a)
            archive_read_support_format_xar(a)
            archive_read_support_format_cab(a)
            archive_read_support_format_lha(a)
        }
        // A compressed stream that is not an archive (`x.gz`, `x.xz`): one member, named after the file.
        archive_read_support_format_raw(a)
        guard archive_read_open_memory(a, base, buf.count) == ARCHIVE_OK else {
            return ([Skipped(path: "", reason: "archive: not readable (\(errorString(a)))")], true)
        }
        var skipped: [Skipped] = []
        var data: [UInt8] = []
        var entry: OpaquePointer? = nil
        var index = 0
        var regular = 0
        while true {
            let r = archive_read_next_header(a, &entry)
            if r == ARCHIVE_EOF { break }
            if r == ARCHIVE_RETRY { continue }
            guard r == ARCHIVE_OK || r == ARCHIVE_WARN, let entry else {
                let what = index == 0 ? "not readable" : "damaged after \(index) members"
                skipped.append(Skipped(path: "", reason: "archive: \(what) (\(errorString(a)))"))
                break
            }
            index += 1
            guard arca_archive_entry_is_regular(entry) != 0 else { continue }
            budget.members += 1
            if let reason = overLimit(budget) {
                skipped.append(Skipped(path: "", reason: reason))
                break
            }
            var memberName = archive_entry_pathname(entry).map { String(cString: $0) } ?? "member-\(index)"
            if archive_format(a) == ARCHIVE_FORMAT_RAW { memberName = rawName(name) }
            while memberName.hasPrefix("./") { memberName.removeFirst(2) }
            if archive_entry_is_encrypted(entry) != 0 {
                skipped.append(Skipped(path: memberName, reason: "archive: encrypted member, not scanned"))
                continue
            }
            if archive_entry_size_is_set(entry) != 0, archive_entry_size(entry) > Int64(maxMemberSize) {
                skipped.append(Skipped(path: memberName, reason: Scanner.skipReason(Int(archive_entry_size(entry)), maxSize: maxMemberSize)!))
                continue
            }
            // Read the member in chunks, counting against the budget as it expands.
            var count = 0
            var failure: String? = nil
            while true {
                if data.count < count + 64 * 1024 { data += [UInt8](repeating: 0, count: max(64 * 1024, data.count)) }
                let n = data.withUnsafeMutableBytes { archive_read_data(a, $0.baseAddress! + count, 64 * 1024) }
                if n == 0 { break }
                if n < 0 {
                    failure = "archive: member not readable (\(errorString(a)))"
                    break
                }
                count += n
                budget.bytes += n
                if count > maxMemberSize {
                    failure = Scanner.skipReason(count, maxSize: maxMemberSize)! + " (expanded)"
                    break
                }
                if overLimit(budget) != nil { break }
            }
            if let reason = overLimit(budget) {
                skipped.append(Skipped(path: "", reason: reason))
                break
            }
            if let failure {
                skipped.append(Skipped(path: memberName, reason: failure))
                if failure.hasPrefix("archive:") { break }
                continue
            }
            data.withUnsafeBytes { member(memberName, UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
            regular += 1
        }
        // A compressed one-line text can bid for an archive format that then holds nothing (a `.pgpass.gz`
        // of one line): read it again as the single stream it is.
        if regular == 0 && skipped.isEmpty && !rawOnly && compressed(buf) {
            return members(buf, name: name, budget: budget, maxMemberSize: maxMemberSize, rawOnly: true, member: member)
        }
        return (skipped, true)
    }

    /// Whether `buf` starts like a compressed stream (which may hold an archive or a single file).
    static func compressed(_ buf: UnsafeRawBufferPointer) -> Bool {
        guard buf.count >= 6 else { return false }
        return (buf[0] == 0x1F && buf[1] == 0x8B) || (buf[0] == 0x42 && buf[1] == 0x5A && buf[2] == 0x68)
            || (buf[0] == 0xFD && buf[1] == 0x37 && buf[2] == 0x7A) || (buf[0] == 0x28 && buf[1] == 0xB5 && buf[2] == 0x2F)
    }

    /// The one member of a compressed stream: the file's name without its compression suffix.
    static func rawName(_ name: String) -> String {
        let last = name.split(separator: "/").last.map(String.init) ?? name
        for suffix in [".gz", ".tgz", ".bz2", ".xz", ".zst", ".Z", ".lz", ".lzma"] where last.hasSuffix(suffix) && last.count > suffix.count {
            let stem = String(last.dropLast(suffix.count))
            return suffix == ".tgz" ? stem + ".tar" : stem
        }
        return last + ".data"
    }

    static func errorString(_ a: OpaquePointer) -> String {
        archive_error_string(a).map { String(cString: $0) } ?? "unknown error"
    }
}

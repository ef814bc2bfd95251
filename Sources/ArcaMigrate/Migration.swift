import ArcaRules
import ArcaVaultAPI
import Crypto
import Foundation

/// Carries out a plan safely: every secret stored and read back first, then the files replaced through a
/// journal (all new texts written beside the old ones, a record made, then renames), so a killed migration is
/// finished by the next `arca migrate` and never leaves a mix; a rollback record that holds no secret.
public struct Migration: Sendable {
    public enum Failure: Error, CustomStringConvertible {
        case readBack(String)
        case changed(String)
        case noRecord(String)
        case io(String)
        /// Another `arca migrate` is working on the same tree.
        case busy(String)

        public var description: String {
            switch self {
            case .readBack(let n): return "the vault returned another value for \(n) than was stored; nothing was rewritten"
            case .changed(let m), .noRecord(let m), .io(let m), .busy(let m): return m
            }
        }
    }

    /// The rollback record (JSON in the state folder): paths, hashes of the old and new texts, the reverse edits
    /// with secrets as vault references, helpers added and the secrets' versions. No secret value.
    public struct Record: Codable, Sendable {
        public struct FileEntry: Codable, Sendable {
            public var path: String
            public var newSHA256: String
            /// The bytes the file held when the plan was made (nil in records of earlier versions).
            public var oldSHA256: String?
            public var mode: UInt32
            public var reverse: [Plan.Reverse]
            /// While files are being swapped (state `prepared` or `rolling-back`): the hashes they go from and to.
            public var swapFrom: String?
            public var swapTo: String?
        }

        public var id: String
        public var created: String
        /// prepared (the commit point of a migration), applied, rolling-back (the commit point of a rollback),
        /// rolled-back, abandoned (a migration that failed after its commit point and was put back).
        public var state: String
        public var vault: String
        public var files: [FileEntry]
        public var helpers: [String]
        /// helper path → SHA-256 of the text written, so a rollback never removes a helper edited since (absent
        /// in records of older versions).
        public var helperSHA256: [String: String]?
        /// name → version stored.
        public var secrets: [String: String]
        /// Where the secrets went, so `--rollback` reads them back from there (absent in older records).
        public var location: VaultLocation?
    }

    /// The vault a migration stored into: a server (`url`, with the CA it was trusted with) or a folder.
    public struct VaultLocation: Codable, Sendable, Equatable {
        public var url: String?
        public var directory: String?
        public var caCert: String?

        public init(url: String?, directory: String?, caCert: String?) {
            (self.url, self.directory, self.caCert) = (url, directory, caCert)
        }
    }

    public let root: String
    public let stateDirectory: String
    /// The lock file: one per repository (its git dir), so a migration of the repository and one of a project in
    /// a subfolder never overlap; the state folder's own outside git.
    public let lockPath: String
    /// Test hook: called with the name of each step reached (`arca migrate` pauses there when
    /// ARCA_TEST_PAUSE names it, so a test can edit a file or kill the process at exactly that point).
    public var pause: @Sendable (String) -> Void = { _ in }
    /// False: files are replaced by plain renames only, as on a file system without RENAME_EXCHANGE (a test
    /// hook, ARCA_TEST_NO_EXCHANGE, so that path is tested too).
    public var exchanges = true

    /// The state folder, never in the work tree of a repository (where `git add -A` would commit it): the
    /// repository's git dir `arca-migrate` for its root, `arca-migrate/projects/SUB` for a project in a subfolder
    /// (a monorepo), also in a linked worktree; `.arca-migrate` in the project outside git.
    public init(root: String) {
        self.root = root
        if let (gitDir, relative) = Self.gitDirectory(of: root) {
            stateDirectory = gitDir + "/arca-migrate" + (relative.isEmpty ? "" : "/projects/" + relative.replacingOccurrences(of: "/", with: "%2F"))
            lockPath = gitDir + "/arca-migrate/lock"
        } else {
            stateDirectory = root + "/.arca-migrate"
            lockPath = stateDirectory + "/lock"
        }
    }

    /// The git dir of the repository holding `root` (a `.git` folder, or the `gitdir:` a linked worktree's `.git`
    /// file names) and `root`'s path inside its work tree; the repository is found by the one walk the project
    /// config uses (`ProjectConfig.repositoryRoot`).
    static func gitDirectory(of root: String) -> (String, String)? {
        let folder = URL(fileURLWithPath: root).standardizedFileURL.path
        guard let top = ProjectConfig.repositoryRoot(of: folder) else { return nil }
        let relative = folder == top ? "" : String(folder.dropFirst(top.count + 1))
        let dotGit = top + "/.git"
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dotGit, isDirectory: &isDir) else { return nil }
        if isDir.boolValue { return (dotGit, relative) }
        guard let text = try? String(contentsOfFile: dotGit, encoding: .utf8), text.hasPrefix("gitdir:") else { return nil }
        var dir = text.dropFirst("gitdir:".count).trimmingCharacters(in: .whitespacesAndNewlines)
        if !dir.hasPrefix("/") { dir = top + "/" + dir }
        return (URL(fileURLWithPath: dir).standardizedFileURL.path, relative)
    }

    static let pendingSuffix = FileSwap.newSuffix

    // MARK: One at a time

    /// Takes the state folder's lock for the rest of this process (the kernel drops it however the process ends),
    /// so two `arca migrate` runs never interleave their plans, journals and swaps.
    public func lock() throws {
        try FileManager.default.createDirectory(atPath: stateDirectory, withIntermediateDirectories: true)
        let fd = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw Failure.io("cannot open \(lockPath): \(String(cString: strerror(errno)))") }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            close(fd)
            throw Failure.busy("another arca migrate is working in this repository (\(lockPath)); nothing was done")
        }
        // The descriptor stays open on purpose: it is the lock.
    }

    /// Whether another `arca migrate` holds the lock (nothing is written to find out).
    public func isBusy() -> Bool {
        let fd = open(lockPath, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        return flock(fd, LOCK_SH | LOCK_NB) != 0
    }

    // MARK: Store first

    /// Writes each secret to the vault (unless it already holds that value) and reads it back; returns the
    /// versions. Throws before any file is touched if a value does not come back identical.
    public static func store(_ plan: Plan, in client: any VaultClient, source: String,
                             pause: @Sendable (String) -> Void = { _ in }) async throws -> [String: String] {
        var versions: [String: String] = [:]
        for secret in plan.secrets {
            defer { if versions.count == 1 { pause("storing") } }
            if let current = try? await client.getSecret(secret.name, version: nil), current.value == secret.value {
                versions[secret.name] = current.properties.version
                continue
            }
            var options = SecretOptions()
            options.contentType = "text/plain"
            options.tags = ["arca-migrated-from": String(source.prefix(250))]
            let stored = try await client.setSecret(secret.name, value: secret.value, options: options)
            let back = try await client.getSecret(secret.name, version: stored.properties.version)
            guard back.value == secret.value else { throw Failure.readBack(secret.name) }
            versions[secret.name] = stored.properties.version
        }
        return versions
    }

    // MARK: Apply

    /// Replaces the files: a pending list, new texts beside the old (`NAME.arca-new`, synced), a second name for
    /// each old file and the new helpers (only where none exists); every file checked against the bytes the
    /// plan was made from; then the record (the commit point), then the swaps. Any failure before the record
    /// leaves every file untouched; any failure after it puts every file back.
    public func apply(_ plan: Plan, versions: [String: String], vault: String, location: VaultLocation? = nil) throws -> Record {
        try recover()
        let helpers = plan.helpers.filter { !FileManager.default.fileExists(atPath: root + "/" + $0.path) }
        // What gets a pending copy and which helpers are new, so a migration killed before its record can be
        // undone: `file PATH` / `helper PATH` lines.
        try FileManager.default.createDirectory(atPath: stateDirectory, withIntermediateDirectories: true)
        let id = UUID().uuidString.lowercased()
        let pending = ["record \(id)"] + plan.files.map { "file \($0.path)" } + helpers.map { "helper \($0.path)" }
        try Self.writeSynced(stateDirectory + "/pending", pending.joined(separator: "\n"), mode: 0o600)
        pause("pending")
        var entries: [Record.FileEntry] = []
        var modes: [mode_t] = []
        for file in plan.files {
            var st = stat()
            guard stat(root + "/" + file.path, &st) == 0 else {
                dropPending()
                throw Failure.io("cannot read \(file.path); nothing was rewritten")
            }
            modes.append(mode_t(st.st_mode & 0o7777))
            let newSHA = Self.sha256(file.new)
            entries.append(.init(path: file.path, newSHA256: newSHA, oldSHA256: file.oldSHA256, mode: UInt32(st.st_mode & 0o7777),
                                 reverse: file.reverse, swapFrom: file.oldSHA256, swapTo: newSHA))
        }
        let swap = FileSwap(items: entries.map { FileSwap.Item(path: root + "/" + $0.path, name: $0.path, fromSHA: $0.swapFrom!, toSHA: $0.swapTo!) },
                            pause: pause, exchanges: exchanges)
        do { try swap.prepare(plan.files.map(\.new), modes: modes) } catch {
            dropPending()
            throw error
        }
        var record = Record(id: id, created: Self.timestamp(), state: "prepared",
                            vault: vault, files: entries, helpers: helpers.map(\.path),
                            helperSHA256: Dictionary(helpers.map { ($0.path, Self.sha256($0.content)) }, uniquingKeysWith: { a, _ in a }),
                            secrets: versions, location: location)
        do {
            // Helpers exist before the record, so a rolled-forward migration never refers to a missing one.
            for h in helpers { try Self.writeSynced(root + "/" + h.path, h.content, mode: 0o644) }
            // The record must hold references only: refuse rather than write a value to disk.
            let text = String(decoding: try JSONEncoder().encode(record), as: UTF8.self)
            if plan.secrets.contains(where: { text.contains($0.value) || text.contains(Self.jsonEscaped($0.value)) }) {
                throw Failure.io("the rollback record would hold a secret value; nothing was rewritten")
            }
            // As late as possible before the commit point: an edit made while migrate asked or stored refuses all.
            try swap.check()
            pause("checked")
            try save(record)
        } catch {
            swap.discard()
            dropPending()
            throw error
        }
        pause("prepared")
        do {
            try swap.swap()
            pause("swapped")
            record.state = "applied"
            try save(record)
        } catch {
            // After the commit point: back to every file old, helpers removed, the record abandoned.
            _ = try? swap.finish(.back)
            for h in record.helpers { unlink(root + "/" + h) }
            record.state = "abandoned"
            try? save(record)
            dropPending()
            throw error
        }
        pause("applied")
        try swap.finish(.forward)  // drops the second names of the old files
        try? FileManager.default.removeItem(atPath: stateDirectory + "/pending")
        return record
    }

    /// Whether an interrupted migration or rollback waits to be finished (nothing is written to find out).
    public func interrupted() throws -> String? {
        if let record = try latest(), record.state == "prepared" || record.state == "rolling-back" {
            return "a \(record.state == "prepared" ? "migration" : "rollback") was interrupted half-way (record \(record.id), \(record.files.count) file(s))"
        }
        // A pending list outlives only a migration or rollback killed before it tidied up.
        guard FileManager.default.fileExists(atPath: stateDirectory + "/pending") else { return nil }
        let left = pendingLines().filter { kind, rel in
            kind == "file" ? [FileSwap.newSuffix, FileSwap.oldSuffix].contains { FileManager.default.fileExists(atPath: root + "/" + rel + $0) }
                : kind == "helper" && FileManager.default.fileExists(atPath: root + "/" + rel)
        }
        return "an interrupted migration left its pending list and \(left.count) unfinished file(s)"
    }

    /// Finishes a migration or rollback that was killed. Past its record (the commit point) it goes forward when
    /// every file is new or has its complete new copy beside it, else back (from each old file's second name), so
    /// every file ends old or new, never a mix; before it, the copies and the helpers it added are dropped (the
    /// old texts were never touched). Returns what it did, or nil.
    @discardableResult
    public func recover() throws -> String? {
        if var record = try latest(), record.state == "prepared" || record.state == "rolling-back" {
            let migrating = record.state == "prepared"
            let items = record.files.map { e -> FileSwap.Item in
                let path = root + "/" + e.path
                let to = e.swapTo ?? e.newSHA256
                // A record of an earlier version has no old hash: the file as it is, unless it is already new.
                let from = e.swapFrom ?? e.oldSHA256 ?? FileSwap.hash(ofFile: path).flatMap { $0 == to ? nil : $0 } ?? ""
                return FileSwap.Item(path: path, name: e.path, fromSHA: from, toSHA: to)
            }
            let swap = FileSwap(items: items, pause: pause, exchanges: exchanges)
            let direction = swap.decide()
            let untouched = try swap.finish(direction)
            let helpersGone = migrating == (direction == .back)
            if helpersGone { for h in record.helpers { unlink(root + "/" + h) } }
            switch (migrating, direction) {
            case (true, .forward): record.state = "applied"
            case (true, .back): record.state = "abandoned"
            case (false, .forward): record.state = "rolled-back"
            case (false, .back): record.state = "applied"
            }
            for i in record.files.indices { (record.files[i].swapFrom, record.files[i].swapTo) = (nil, nil) }
            try save(record)
            try? FileManager.default.removeItem(atPath: stateDirectory + "/pending")
            let what = migrating ? "migration" : "rollback"
            var note = direction == .forward
                ? "finished an interrupted \(what) (\(record.files.count) files)"
                : "undid an interrupted \(what): every file is as it was before it (\(record.files.count) files)"
            if !untouched.isEmpty { note += "; left as found, because they changed meanwhile: " + untouched.joined(separator: ", ") }
            return note
        }
        // No swap in progress. A pending list whose record is the latest belongs to an operation that passed its
        // commit point and finished (killed while tidying up), or a rollback that never reached its own: only its spare copies go. Otherwise it died before its commit point: the copies and
        // the helpers it added go, and the files were never touched.
        let lines = pendingLines()
        let owner = lines.first { $0.kind == "record" }.map { String($0.path) }
        let finished = owner != nil && (try? latest())??.id == owner
        var dropped = 0
        for (kind, rel) in lines {
            let path = root + "/" + rel
            if kind == "file" {
                if unlink(path + FileSwap.newSuffix) == 0 { dropped += 1 }
                // The second name of an old file is only a spare while no swap is in progress.
                if FileManager.default.fileExists(atPath: path), unlink(path + FileSwap.oldSuffix) == 0 { dropped += 1 }
            } else if kind == "helper", !finished, unlink(path) == 0 {
                dropped += 1
            }
        }
        try? FileManager.default.removeItem(atPath: stateDirectory + "/pending")
        guard dropped > 0 else { return nil }
        return finished ? "removed \(dropped) spare file(s) of a finished migration"
            : "dropped \(dropped) unfinished file(s) of an interrupted migration; nothing had changed"
    }

    func pendingLines() -> [(kind: Substring, path: Substring)] {
        let text = FileManager.default.contents(atPath: stateDirectory + "/pending").map { String(decoding: $0, as: UTF8.self) } ?? ""
        return text.split(separator: "\n").map { line in (line.prefix { $0 != " " }, line.drop { $0 != " " }.dropFirst()) }
    }

    /// Before a commit point (or after going back from one): the new helpers and the pending list go.
    func dropPending() {
        for (kind, rel) in pendingLines() where kind == "helper" { unlink(root + "/" + rel) }
        try? FileManager.default.removeItem(atPath: stateDirectory + "/pending")
    }

    // MARK: Rollback

    /// Restores the files of the last applied migration exactly, reading the secrets back from the vault; a
    /// file edited since is refused unless `force`. Helpers it added are removed. The files are swapped through
    /// the same journal as a migration (state `rolling-back` is its commit point), so an interrupted rollback is
    /// finished or undone, and a file edited while the secrets were read is refused.
    public func rollback(client: any VaultClient, id: String? = nil, force: Bool = false) async throws -> Record {
        try recover()
        guard var record = try toRollBack(id) else {
            throw Failure.noRecord(id.map { "no applied migration \($0) in \(stateDirectory) (arca migrate --list shows them)" }
                                   ?? "no migration to roll back in \(stateDirectory)")
        }
        let others = try records().filter { $0.state == "applied" && $0.id != record.id }
        // A helper edited since the migration is the user's now: refused like an edited file.
        for (h, sha) in record.helperSHA256 ?? [:] where !force {
            if let current = FileSwap.hash(ofFile: root + "/" + h), current != sha {
                throw Failure.changed("\(h) changed since the migration; nothing was restored (--force restores anyway and removes it, losing those edits)")
            }
        }
        var texts: [String] = []
        var items: [FileSwap.Item] = []
        for e in record.files {
            let path = root + "/" + e.path
            guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8),
                  text.utf8.elementsEqual(data) else {
                throw Failure.changed("\(e.path) is gone or unreadable; nothing was restored")
            }
            let current = Self.sha256(text)
            if current != e.newSHA256 && !force {
                if let later = others.first(where: { o in o.created > record.created && o.files.contains { $0.path == e.path } }) {
                    throw Failure.changed("\(e.path) was rewritten again by migration \(later.id.prefix(8)) (applied later); nothing was restored: roll that one back first (arca migrate --rollback \(later.id.prefix(8)))")
                }
                throw Failure.changed("\(e.path) changed since the migration; nothing was restored (--force restores it anyway, losing those edits)")
            }
            var scalars = Array(text.unicodeScalars)
            for r in e.reverse.sorted(by: { $0.start > $1.start }) {
                var old = ""
                for part in r.parts {
                    switch part {
                    case .text(let t): old += t
                    case .secret(let name):
                        let bundle = try await client.getSecret(name, version: record.secrets[name])
                        guard let v = bundle.value else { throw Failure.changed("the vault gave no value for \(name)") }
                        old += v
                    }
                }
                guard r.end <= scalars.count else { throw Failure.changed("\(e.path) is shorter than the migration left it") }
                scalars.replaceSubrange(r.start..<r.end, with: Array(old.unicodeScalars))
            }
            let restored = String(String.UnicodeScalarView(scalars))
            texts.append(restored)
            items.append(FileSwap.Item(path: path, name: e.path, fromSHA: current, toSHA: Self.sha256(restored)))
        }
        try FileManager.default.createDirectory(atPath: stateDirectory, withIntermediateDirectories: true)
        try Self.writeSynced(stateDirectory + "/pending", (["record \(record.id)"] + record.files.map { "file \($0.path)" }).joined(separator: "\n"),
                             mode: 0o600)
        let swap = FileSwap(items: items, pause: pause, exchanges: exchanges)
        do {
            try swap.prepare(texts, modes: record.files.map { mode_t($0.mode) })
            for (i, item) in items.enumerated() { (record.files[i].swapFrom, record.files[i].swapTo) = (item.fromSHA, item.toSHA) }
            record.state = "rolling-back"
            try save(record)
        } catch {
            swap.discard()
            dropPending()
            throw error
        }
        pause("rolling-back")
        do {
            try swap.swap()
        } catch {
            _ = try? swap.finish(.back)
            record.state = "applied"
            for i in record.files.indices { (record.files[i].swapFrom, record.files[i].swapTo) = (nil, nil) }
            try? save(record)
            dropPending()
            throw error
        }
        // A helper that another applied migration's files in the same folder still use stays; one kept that way
        // by an earlier rollback goes once nothing applied uses its folder (if it is still the text written).
        var candidates = record.helperSHA256 ?? Dictionary(record.helpers.map { ($0, "") }, uniquingKeysWith: { a, _ in a })
        for r in try records() where r.state == "rolled-back" && r.id != record.id {
            for (h, sha) in r.helperSHA256 ?? [:] where FileSwap.hash(ofFile: root + "/" + h) == sha { candidates[h] = sha }
        }
        for h in candidates.keys.sorted() where !others.contains(where: { o in o.files.contains { Languages.folder(of: $0.path) == Languages.folder(of: h) } }) {
            try? FileManager.default.removeItem(atPath: root + "/" + h)
        }
        record.state = "rolled-back"
        for i in record.files.indices { (record.files[i].swapFrom, record.files[i].swapTo) = (nil, nil) }
        try save(record)
        try swap.finish(.forward)
        try? FileManager.default.removeItem(atPath: stateDirectory + "/pending")
        return record
    }

    /// Throws, naming the file, if any file of `plan` no longer holds the bytes the plan was made from (checked
    /// again, as late as possible, before the commit point).
    public func refuseChanged(_ plan: Plan) throws {
        for file in plan.files where FileSwap.hash(ofFile: root + "/" + file.path) != file.oldSHA256 {
            throw Failure.changed("\(file.path) changed after migrate read it (edited while it asked?); nothing was stored or rewritten: run it again")
        }
    }

    // MARK: Records

    func recordPath(_ id: String) -> String { stateDirectory + "/\(id).json" }

    func save(_ record: Record) throws {
        try FileManager.default.createDirectory(atPath: stateDirectory, withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let text = String(decoding: try encoder.encode(record), as: UTF8.self)
        let path = recordPath(record.id)
        try Self.writeSynced(path + ".tmp", text, mode: 0o600)
        guard rename(path + ".tmp", path) == 0 else { throw Failure.io("cannot write \(path)") }
        try Self.writeSynced(stateDirectory + "/latest.tmp", record.id, mode: 0o600)
        guard rename(stateDirectory + "/latest.tmp", stateDirectory + "/latest") == 0 else { throw Failure.io("cannot write the record") }
        Self.syncDirectories([stateDirectory + "/latest"])
    }

    /// Every migration recorded here, oldest first.
    public func records() throws -> [Record] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: stateDirectory)) ?? []
        var out: [Record] = []
        for n in names where n.hasSuffix(".json") {
            guard let data = FileManager.default.contents(atPath: stateDirectory + "/" + n) else { continue }
            do { out.append(try JSONDecoder().decode(Record.self, from: data)) } catch {
                throw Failure.noRecord("the migration record \(stateDirectory)/\(n) is damaged: \(error)")
            }
        }
        return out.sorted { ($0.created, $0.id) < ($1.created, $1.id) }
    }

    /// The migration `--rollback` undoes: the one named (an id or its first characters), else the last applied.
    public func toRollBack(_ id: String?) throws -> Record? {
        let applied = try records().filter { $0.state == "applied" }
        guard let id else { return applied.last }
        let matching = applied.filter { $0.id.hasPrefix(id.lowercased()) }
        return matching.count == 1 ? matching[0] : nil
    }

    public func latest() throws -> Record? {
        guard let id = FileManager.default.contents(atPath: stateDirectory + "/latest").map({ String(decoding: $0, as: UTF8.self) }),
              let data = FileManager.default.contents(atPath: recordPath(id.trimmingCharacters(in: .whitespacesAndNewlines))) else {
            return nil
        }
        do { return try JSONDecoder().decode(Record.self, from: data) } catch {
            throw Failure.noRecord("the migration record \(recordPath(id)) is damaged: \(error)")
        }
    }

    static func jsonEscaped(_ s: String) -> String {
        let data = (try? JSONEncoder().encode([s])) ?? Data()
        return String(String(decoding: data, as: UTF8.self).dropFirst(2).dropLast(2))
    }

    /// Now, to the millisecond (records sort by it: two migrations in one second keep their order).
    static func timestamp() -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.string(from: Date())
    }

    static func sha256(_ text: String) -> String {
        Hex.encode(Array(SHA256.hash(data: Array(text.utf8))))
    }

    static func writeSynced(_ path: String, _ text: String, mode: mode_t) throws {
        try FileSwap.writeSynced(path, text, mode: mode)
    }

    static func syncDirectories(_ paths: [String]) { FileSwap.syncDirectories(paths) }
}

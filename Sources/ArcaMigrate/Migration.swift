import ArcaVault
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

        public var description: String {
            switch self {
            case .readBack(let n): return "the vault returned another value for \(n) than was stored; nothing was rewritten"
            case .changed(let m), .noRecord(let m), .io(let m): return m
            }
        }
    }

    /// The rollback record (JSON in the state folder): paths, hashes of the new texts, the reverse edits with
    /// secrets as vault references, helpers added and the secrets' versions. No secret value.
    public struct Record: Codable, Sendable {
        public struct FileEntry: Codable, Sendable {
            public var path: String
            public var newSHA256: String
            public var mode: UInt32
            public var reverse: [Plan.Reverse]
        }

        public var id: String
        public var created: String
        public var state: String  // prepared, applied, rolled-back
        public var vault: String
        public var files: [FileEntry]
        public var helpers: [String]
        /// name → version stored.
        public var secrets: [String: String]
    }

    public let root: String
    public let stateDirectory: String

    /// The state folder: `.git/arca-migrate` in a repository (never committed), else `.arca-migrate`.
    public init(root: String) {
        self.root = root
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: root + "/.git", isDirectory: &isDir), isDir.boolValue {
            stateDirectory = root + "/.git/arca-migrate"
        } else {
            stateDirectory = root + "/.arca-migrate"
        }
    }

    static let pendingSuffix = ".arca-new"

    // MARK: Store first

    /// Writes each secret to the vault (unless it already holds that value) and reads it back; returns the
    /// versions. Throws before any file is touched if a value does not come back identical.
    public static func store(_ plan: Plan, in client: any VaultClient, source: String) async throws -> [String: String] {
        var versions: [String: String] = [:]
        for secret in plan.secrets {
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

    /// Replaces the files: a pending list, new texts beside the old (`NAME.arca-new`, synced) and the new
    /// helpers (only where none exists), then the record (the commit point), then the renames.
    public func apply(_ plan: Plan, versions: [String: String], vault: String, pauseBetweenRenames: UInt32 = 0) throws -> Record {
        try recover()
        let helpers = plan.helpers.filter { !FileManager.default.fileExists(atPath: root + "/" + $0.path) }
        // What gets a pending copy and which helpers are new, so a migration killed before its record can be
        // undone: `file PATH` / `helper PATH` lines.
        try FileManager.default.createDirectory(atPath: stateDirectory, withIntermediateDirectories: true)
        let pending = plan.files.map { "file \($0.path)" } + helpers.map { "helper \($0.path)" }
        try Self.writeSynced(stateDirectory + "/pending", pending.joined(separator: "\n"), mode: 0o600)
        var entries: [Record.FileEntry] = []
        for file in plan.files {
            let path = root + "/" + file.path
            var st = stat()
            guard stat(path, &st) == 0 else { throw Failure.io("cannot read \(file.path)") }
            try Self.writeSynced(path + Self.pendingSuffix, file.new, mode: mode_t(st.st_mode & 0o7777))
            entries.append(.init(path: file.path, newSHA256: Self.sha256(file.new), mode: UInt32(st.st_mode & 0o7777), reverse: file.reverse))
        }
        // Helpers exist before the record, so a rolled-forward migration never refers to a missing one.
        for h in helpers { try Self.writeSynced(root + "/" + h.path, h.content, mode: 0o644) }
        let formatter = ISO8601DateFormatter()
        var record = Record(id: UUID().uuidString.lowercased(), created: formatter.string(from: Date()), state: "prepared",
                            vault: vault, files: entries, helpers: helpers.map(\.path), secrets: versions)
        // The record must hold references only: refuse rather than write a value to disk.
        let text = String(decoding: try JSONEncoder().encode(record), as: UTF8.self)
        if plan.secrets.contains(where: { text.contains($0.value) || text.contains(Self.jsonEscaped($0.value)) }) {
            try recover()
            throw Failure.io("the rollback record would hold a secret value; nothing was rewritten")
        }
        try save(record)
        for e in entries {
            if pauseBetweenRenames > 0 { usleep(pauseBetweenRenames * 1000) }
            guard rename(root + "/" + e.path + Self.pendingSuffix, root + "/" + e.path) == 0 else {
                throw Failure.io("cannot replace \(e.path): \(String(cString: strerror(errno)))")
            }
        }
        Self.syncDirectories(entries.map { root + "/" + $0.path })
        record.state = "applied"
        try save(record)
        try? FileManager.default.removeItem(atPath: stateDirectory + "/pending")
        return record
    }

    /// Finishes a migration that was killed: with a `prepared` record every pending file is renamed into
    /// place (all new texts were complete before the record was written); without one, pending files are
    /// dropped (the old texts were never touched). Returns what it did, or nil.
    @discardableResult
    public func recover() throws -> String? {
        if let record = try latest(), record.state == "prepared" {
            var record = record
            for e in record.files where FileManager.default.fileExists(atPath: root + "/" + e.path + Self.pendingSuffix) {
                guard rename(root + "/" + e.path + Self.pendingSuffix, root + "/" + e.path) == 0 else {
                    throw Failure.io("cannot finish replacing \(e.path)")
                }
            }
            record.state = "applied"
            try save(record)
            try? FileManager.default.removeItem(atPath: stateDirectory + "/pending")
            return "finished an interrupted migration (\(record.files.count) files)"
        }
        var dropped = 0
        let pending = FileManager.default.contents(atPath: stateDirectory + "/pending").map { String(decoding: $0, as: UTF8.self) } ?? ""
        for line in pending.split(separator: "\n") {
            let (kind, rel) = (line.prefix { $0 != " " }, line.drop { $0 != " " }.dropFirst())
            let path = root + "/" + rel + (kind == "file" ? Self.pendingSuffix : "")
            if FileManager.default.fileExists(atPath: path) {
                try? FileManager.default.removeItem(atPath: path)
                dropped += 1
            }
        }
        try? FileManager.default.removeItem(atPath: stateDirectory + "/pending")
        return dropped > 0 ? "dropped \(dropped) unfinished file(s) of an interrupted migration; nothing had changed" : nil
    }

    // MARK: Rollback

    /// Restores the files of the last applied migration exactly, reading the secrets back from the vault; a
    /// file edited since is refused unless `force`. Helpers it added are removed.
    public func rollback(client: any VaultClient, force: Bool = false) async throws -> Record {
        try recover()
        guard var record = try latest(), record.state == "applied" else {
            throw Failure.noRecord("no migration to roll back in \(stateDirectory)")
        }
        var restored: [(String, String, mode_t)] = []
        for e in record.files {
            let path = root + "/" + e.path
            guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
                throw Failure.changed("\(e.path) is gone or unreadable; nothing was restored")
            }
            if Self.sha256(text) != e.newSHA256 && !force {
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
            restored.append((path, String(String.UnicodeScalarView(scalars)), mode_t(e.mode)))
        }
        for (path, text, mode) in restored { try Self.writeSynced(path + Self.pendingSuffix, text, mode: mode) }
        for (path, _, _) in restored {
            guard rename(path + Self.pendingSuffix, path) == 0 else { throw Failure.io("cannot restore \(path)") }
        }
        for h in record.helpers { try? FileManager.default.removeItem(atPath: root + "/" + h) }
        record.state = "rolled-back"
        try save(record)
        return record
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

    static func sha256(_ text: String) -> String {
        Hex.encode(Array(SHA256.hash(data: Array(text.utf8))))
    }

    static func writeSynced(_ path: String, _ text: String, mode: mode_t) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode)
        guard fd >= 0 else { throw Failure.io("cannot write \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        var done = 0
        while done < bytes.count {
            let n = bytes[done...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            guard n > 0 else { throw Failure.io("cannot write \(path): \(String(cString: strerror(errno)))") }
            done += n
        }
        fchmod(fd, mode)
        guard fsync(fd) == 0 else { throw Failure.io("cannot sync \(path)") }
    }

    static func syncDirectories(_ paths: [String]) {
        for dir in Set(paths.map { ($0 as NSString).deletingLastPathComponent }) {
            let fd = open(dir.isEmpty ? "." : dir, O_RDONLY)
            if fd >= 0 { fsync(fd); close(fd) }
        }
    }
}

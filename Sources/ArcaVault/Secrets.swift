import Crypto
import Foundation

/// The secret operations inside one vault transaction, with the unsealed barrier. Only ``Vault/perform``
/// makes one, after authorising the caller; its audit record commits in the same transaction.
public struct VaultSession {
    public static let maxValueBytes = 25 * 1024
    public static let maxPageSize = 25
    public static let maxTags = 15

    let db: any SQLConnection
    let barrier: Barrier
    let now: Int64
    let retentionDays: Int
    /// The key of backup blobs (derived only when a backup or restore asks for it).
    var backupKey: () -> SymmetricKey = { SymmetricKey(size: .bits256) }

    static func path(_ nameKey: String, _ version: String) -> String { "secrets/\(nameKey)/\(version)" }

    /// Whether `name` matches Azure Key Vault's `^[0-9a-zA-Z-]{1,127}$`.
    public static func isValidName(_ name: String) -> Bool { SecretName.isValid(name) }

    /// The refusal of an invalid name, the name in its bounded printable form.
    static func invalidName(_ name: String) -> String {
        "'\(AuditField.printable(name, max: 160))' is not a valid secret name: 1-127 letters, digits and dashes"
    }

    static func checkName(_ name: String) throws {
        guard isValidName(name) else {
            throw VaultError.badParameter(invalidName(name))
        }
    }

    static func checkOptions(_ o: SecretOptions) throws {
        if let tags = o.tags {
            guard tags.count <= maxTags else { throw VaultError.badParameter("at most \(maxTags) tags") }
            for (k, v) in tags where k.isEmpty || k.count > 512 || v.count > 256 {
                throw VaultError.badParameter("tag names are 1-512 characters and values at most 256")
            }
        }
        if let c = o.contentType, c.count > 255 { throw VaultError.badParameter("contentType is at most 255 characters") }
        if let nbf = o.notBefore, let exp = o.expires, nbf > exp {
            throw VaultError.badParameter("nbf (not before) is after exp (expires)")
        }
    }

    static func checkVersion(_ version: String) throws {
        guard version.utf8.count == 32, version.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }) else {
            throw VaultError.notFound("A secret version '\(version.prefix(64))' was not found in this vault.")
        }
    }

    // MARK: - Secret state

    /// (display name, deleted date, purge date) of a secret that exists in any state.
    func secretRow(_ nameKey: String) throws -> SQLRow? {
        try SQLRow.fetchOne(db, sql: "SELECT name, deleted, purge_at FROM secrets WHERE name_key = ?", arguments: [nameKey])
    }

    func notFound(_ name: String) -> VaultError {
        .notFound("A secret with (name/id) \(name) was not found in this key vault.")
    }

    /// The live (not deleted) secret's display name, or not found.
    func live(_ name: String) throws -> String {
        try VaultSession.checkName(name)
        guard let row = try secretRow(name.lowercased()), row["deleted"] as Int64? == nil else { throw notFound(name) }
        return row["name"]
    }

    func properties(_ row: SQLRow, name: String) throws -> SecretProperties {
        let tagsJSON: String = row["tags"]
        // Most secrets have no tags: skip the decoder for the `{}` every untagged version stores.
        let tags = tagsJSON == "{}" ? [:] : (try? JSONDecoder().decode([String: String].self, from: Data(tagsJSON.utf8))) ?? [:]
        return SecretProperties(
            name: name, version: row["version"], contentType: row["content_type"], tags: tags,
            attributes: SecretAttributes(enabled: (row["enabled"] as Int64) != 0, notBefore: row["nbf"],
                                         expires: row["exp"], created: row["created"], updated: row["updated"],
                                         recoverableDays: retentionDays))
    }

    static let columns = "version, envelope, content_type, tags, enabled, nbf, exp, created, updated, seq"

    func versionRow(_ nameKey: String, _ version: String?) throws -> SQLRow? {
        if let version {
            return try SQLRow.fetchOne(db, sql: "SELECT \(Self.columns) FROM secret_versions WHERE name_key = ? AND version = ?", arguments: [nameKey, version])
        }
        return try SQLRow.fetchOne(db, sql: "SELECT \(Self.columns) FROM secret_versions WHERE name_key = ? ORDER BY seq DESC LIMIT 1", arguments: [nameKey])
    }

    /// ``live(_:)`` and ``versionRow(_:_:)`` in one statement (a read's hot path: one round trip fewer to
    /// PostgreSQL): the live secret's display name, and its version's row if it has that version.
    func liveVersion(_ name: String, _ version: String?) throws -> (String, SQLRow?) {
        try VaultSession.checkName(name)
        let key = name.lowercased()
        let row = try SQLRow.fetchOne(db, sql: version == nil ? Self.liveLatestSQL : Self.liveVersionSQL,
                                      arguments: version.map { [$0, key] } ?? [key])
        guard let row, row["secret_deleted"] as Int64? == nil else { throw notFound(name) }
        return (row["secret_name"], row["version"] as String? == nil ? nil : row)
    }

    static let joined = "SELECT s.name AS secret_name, s.deleted AS secret_deleted, "
        + columns.split(separator: ",").map { "v." + $0.trimmingCharacters(in: .whitespaces) }.joined(separator: ", ")
        + " FROM secrets s LEFT JOIN secret_versions v ON v.name_key = s.name_key AND "
    static let liveLatestSQL = joined
        + "v.seq = (SELECT MAX(seq) FROM secret_versions WHERE name_key = s.name_key) WHERE s.name_key = ?"
    static let liveVersionSQL = joined + "v.version = ? WHERE s.name_key = ?"

    static func tagsJSON(_ tags: [String: String]) -> String {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        return String(decoding: (try? e.encode(tags)) ?? Data("{}".utf8), as: UTF8.self)
    }

    // MARK: - Operations

    /// Stores `value` as a new version (the latest from now on).
    public func set(_ name: String, value: String, options: SecretOptions) throws -> SecretBundle {
        try VaultSession.checkName(name)
        try VaultSession.checkOptions(options)
        let bytes = Array(value.utf8)
        guard bytes.count <= VaultSession.maxValueBytes else {
            throw VaultError.badParameter("the value is \(bytes.count) bytes; the limit is \(VaultSession.maxValueBytes) (25 KiB)")
        }
        let key = name.lowercased()
        var display = name
        // The secret and its last version's number in one statement (a round trip fewer on PostgreSQL).
        var lastSeq: Int64?
        if let row = try SQLRow.fetchOne(db, sql: """
            SELECT name, deleted, purge_at, COALESCE((SELECT MAX(seq) FROM secret_versions WHERE name_key = s.name_key), 0) AS last_seq
            FROM secrets s WHERE name_key = ?
            """, arguments: [key]) {
            lastSeq = row["last_seq"]
            guard row["deleted"] as Int64? == nil else {
                throw VaultError.conflict(
                    "Secret \(name) is currently in a deleted but recoverable state, and its name cannot be reused; in this state, the secret can only be recovered or purged.",
                    inner: "ObjectIsDeletedButRecoverable")
            }
            display = row["name"]
        } else {
            try db.execute(sql: "INSERT INTO secrets (name_key, name) VALUES (?, ?)", arguments: [key, name])
        }
        let version = SymmetricKey(size: .bits128).withUnsafeBytes { Hex.encode(Array($0)) }
        let envelope = try barrier.seal(bytes, path: VaultSession.path(key, version))
        let seq = try (lastSeq ?? Int64.fetchOne(db, sql: "SELECT MAX(seq) FROM secret_versions WHERE name_key = ?", arguments: [key]) ?? 0) + 1
        try db.execute(sql: """
            INSERT INTO secret_versions (name_key, version, seq, envelope, content_type, tags, enabled, nbf, exp, created, updated)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, arguments: [key, version, seq, Data(envelope), options.contentType, VaultSession.tagsJSON(options.tags ?? [:]),
                             (options.enabled ?? true) ? 1 : 0, options.notBefore, options.expires, now, now])
        let props = SecretProperties(
            name: display, version: version, contentType: options.contentType, tags: options.tags ?? [:],
            attributes: SecretAttributes(enabled: options.enabled ?? true, notBefore: options.notBefore,
                                         expires: options.expires, created: now, updated: now, recoverableDays: retentionDays))
        return SecretBundle(properties: props, value: value)
    }

    /// A version's value (the latest when `version` is nil). Disabled versions are refused (403
    /// `SecretDisabled`, as Azure Key Vault does); `nbf`/`exp` are advisory.
    public func get(_ name: String, version: String?) throws -> SecretBundle {
        if let version, (try? VaultSession.checkVersion(version)) == nil {
            // The secret's absence is told first, as for every other operation.
            _ = try live(name)
            try VaultSession.checkVersion(version)
        }
        let (display, found) = try liveVersion(name, version)
        let key = name.lowercased()
        guard let row = found else { throw notFound(name) }
        let props = try properties(row, name: display)
        guard props.attributes.enabled else {
            throw VaultError.forbidden("Operation get is not allowed on a disabled secret.", inner: "SecretDisabled")
        }
        let envelope: Data = row["envelope"]
        let plain = try barrier.open(Array(envelope), path: VaultSession.path(key, props.version))
        guard let text = String(bytes: plain, encoding: .utf8) else {
            throw VaultError.storage("the stored value of \(display) is not UTF-8")
        }
        return SecretBundle(properties: props, value: text)
    }

    /// Changes a version's content type, tags, `enabled`, `nbf` or `exp` (the latest when `version` is nil).
    public func update(_ name: String, version: String?, options: SecretOptions) throws -> SecretBundle {
        let display = try live(name)
        if let version { try VaultSession.checkVersion(version) }
        try VaultSession.checkOptions(options)
        let key = name.lowercased()
        guard let row = try versionRow(key, version) else { throw notFound(name) }
        var props = try properties(row, name: display)
        if let c = options.contentType { props.contentType = c }
        if let t = options.tags { props.tags = t }
        if let e = options.enabled { props.attributes.enabled = e }
        if let n = options.notBefore { props.attributes.notBefore = n }
        if let x = options.expires { props.attributes.expires = x }
        if let n = props.attributes.notBefore, let x = props.attributes.expires, n > x {
            throw VaultError.badParameter("nbf (not before) is after exp (expires)")
        }
        props.attributes.updated = now
        try db.execute(sql: """
            UPDATE secret_versions SET content_type = ?, tags = ?, enabled = ?, nbf = ?, exp = ?, updated = ?
            WHERE name_key = ? AND version = ?
            """, arguments: [props.contentType, VaultSession.tagsJSON(props.tags), props.attributes.enabled ? 1 : 0,
                             props.attributes.notBefore, props.attributes.expires, now, key, props.version])
        return SecretBundle(properties: props, value: nil)
    }

    static func pageSize(_ maxResults: Int?) throws -> Int {
        guard let m = maxResults else { return maxPageSize }
        guard (1...maxPageSize).contains(m) else { throw VaultError.badParameter("maxresults must be 1-\(maxPageSize)") }
        return m
    }

    /// Skip tokens are base64url (no padding), so they travel in a URL unescaped.
    static func token(_ text: String) -> String { Base64URL.encode(Array(text.utf8)) }

    static func untoken(_ token: String?) throws -> String? {
        guard let token else { return nil }
        guard let d = Base64URL.decode(token), let s = String(bytes: d, encoding: .utf8) else {
            throw VaultError.badParameter("the skip token is not one this vault issued")
        }
        return s
    }

    /// The latest version of every live secret, by name; values are never listed.
    public func list(maxResults: Int?, skipToken: String?) throws -> Page<SecretProperties> {
        let size = try VaultSession.pageSize(maxResults)
        let after = try VaultSession.untoken(skipToken) ?? ""
        let rows = try SQLRow.fetchAll(db, sql: """
            SELECT s.name_key, s.name, v.version, v.envelope, v.content_type, v.tags, v.enabled, v.nbf, v.exp, v.created, v.updated, v.seq
            FROM secrets s JOIN secret_versions v ON v.name_key = s.name_key
             AND v.seq = (SELECT MAX(seq) FROM secret_versions WHERE name_key = s.name_key)
            WHERE s.deleted IS NULL AND s.name_key > ? ORDER BY s.name_key LIMIT ?
            """, arguments: [after, size + 1])
        let items = try rows.prefix(size).map { try properties($0, name: $0["name"]) }
        let next = rows.count > size ? VaultSession.token(rows[size - 1]["name_key"]) : nil
        return Page(items: items, nextToken: next)
    }

    /// Every version of a live secret, oldest first.
    public func versions(_ name: String, maxResults: Int?, skipToken: String?) throws -> Page<SecretProperties> {
        let display = try live(name)
        let size = try VaultSession.pageSize(maxResults)
        let after = Int64(try VaultSession.untoken(skipToken) ?? "0") ?? 0
        let rows = try SQLRow.fetchAll(db, sql: """
            SELECT \(Self.columns) FROM secret_versions WHERE name_key = ? AND seq > ? ORDER BY seq LIMIT ?
            """, arguments: [name.lowercased(), after, size + 1])
        let items = try rows.prefix(size).map { try properties($0, name: display) }
        let next = rows.count > size ? VaultSession.token(String(rows[size - 1]["seq"] as Int64)) : nil
        return Page(items: items, nextToken: next)
    }

    /// Soft-deletes every version; recoverable until the retention ends, then purged.
    public func delete(_ name: String) throws -> DeletedSecret {
        let display = try live(name)
        let key = name.lowercased()
        let purgeAt = now + Int64(retentionDays) * 86_400
        try db.execute(sql: "UPDATE secrets SET deleted = ?, purge_at = ? WHERE name_key = ?", arguments: [now, purgeAt, key])
        guard let row = try versionRow(key, nil) else { throw notFound(name) }
        return DeletedSecret(properties: try properties(row, name: display), deletedDate: now, scheduledPurgeDate: purgeAt)
    }

    func deletedRow(_ name: String) throws -> (display: String, deleted: Int64, purgeAt: Int64) {
        try VaultSession.checkName(name)
        guard let row = try secretRow(name.lowercased()), let deleted = row["deleted"] as Int64? else {
            throw VaultError.notFound("Deleted Secret not found: \(name)")
        }
        return (row["name"], deleted, row["purge_at"] ?? deleted)
    }

    public func getDeleted(_ name: String) throws -> DeletedSecret {
        let d = try deletedRow(name)
        guard let row = try versionRow(name.lowercased(), nil) else { throw notFound(name) }
        return DeletedSecret(properties: try properties(row, name: d.display), deletedDate: d.deleted, scheduledPurgeDate: d.purgeAt)
    }

    public func listDeleted(maxResults: Int?, skipToken: String?) throws -> Page<DeletedSecret> {
        let size = try VaultSession.pageSize(maxResults)
        let after = try VaultSession.untoken(skipToken) ?? ""
        let keys = try SQLRow.fetchAll(db, sql: """
            SELECT name_key FROM secrets WHERE deleted IS NOT NULL AND name_key > ? ORDER BY name_key LIMIT ?
            """, arguments: [after, size + 1])
        let items = try keys.prefix(size).map { try getDeleted($0["name_key"]) }
        let next = keys.count > size ? VaultSession.token(keys[size - 1]["name_key"]) : nil
        return Page(items: items, nextToken: next)
    }

    public func recover(_ name: String) throws -> SecretBundle {
        let d = try deletedRow(name)
        let key = name.lowercased()
        try db.execute(sql: "UPDATE secrets SET deleted = NULL, purge_at = NULL WHERE name_key = ?", arguments: [key])
        guard let row = try versionRow(key, nil) else { throw notFound(name) }
        return SecretBundle(properties: try properties(row, name: d.display), value: nil)
    }

    /// Erases a deleted secret and all its versions for good.
    public func purge(_ name: String) throws {
        _ = try deletedRow(name)
        try erase(name.lowercased())
    }

    func erase(_ key: String) throws {
        try db.execute(sql: "DELETE FROM secret_versions WHERE name_key = ?", arguments: [key])
        try db.execute(sql: "DELETE FROM secrets WHERE name_key = ?", arguments: [key])
    }

    /// When the first scheduled purge of a deleted secret is due (nil: none is scheduled).
    func earliestPurge() throws -> Int64? {
        try Int64.fetchOne(db, sql: "SELECT MIN(purge_at) FROM secrets WHERE purge_at IS NOT NULL")
    }

    /// Deleted secrets whose retention has ended, as (name key, display name).
    func expiredDeletions() throws -> [(String, String)] {
        try SQLRow.fetchAll(db, sql: "SELECT name_key, name FROM secrets WHERE purge_at IS NOT NULL AND purge_at <= ?", arguments: [now]).map { ($0["name_key"], $0["name"]) }
    }

    /// Re-encrypts every stored value under `newBarrier`'s active term (rekey).
    func reencryptAll(to newBarrier: Barrier) throws -> Int {
        let rows = try SQLRow.fetchAll(db, sql: "SELECT name_key, version, envelope FROM secret_versions")
        for row in rows {
            let key: String = row["name_key"], version: String = row["version"], envelope: Data = row["envelope"]
            let path = VaultSession.path(key, version)
            let fresh = try newBarrier.seal(try barrier.open(Array(envelope), path: path), path: path)
            try db.execute(sql: "UPDATE secret_versions SET envelope = ? WHERE name_key = ? AND version = ?",
                           arguments: [Data(fresh), key, version])
        }
        return rows.count
    }
}

// MARK: - Backup and restore (Azure's `backup` / `restore` of one secret)

/// A secret's backup blob: `"ARCASB"` ‖ format (1 byte) ‖ name length (2 bytes, big-endian) ‖ name ‖ a
/// ``Barrier`` envelope (AES-256-GCM) of every version (values and attributes) at the path `backup/NAME`. The name travels in the clear (it decides who may restore it) and is bound to the
/// ciphertext. The key is derived (HKDF-SHA256) from the keyring's checkpoint key, which a rekey keeps, so a
/// blob made before a rekey still restores, in this vault or one holding the same keyring; to anyone else the
/// blob is opaque.
public enum SecretBackup {
    static let magic: [UInt8] = Array("ARCASB".utf8)
    static let format: UInt8 = 1
    /// A backup holds at most this many versions' worth of bytes (a restore body is bounded by the server too).
    public static let maxBytes = 4 * 1024 * 1024

    struct Version: Codable {
        var version: String
        var value: String
        var contentType: String?
        var tags: [String: String]
        var enabled: Bool
        var nbf: Int64?
        var exp: Int64?
        var created: Int64
        var updated: Int64
    }

    struct Payload: Codable {
        var name: String
        var versions: [Version]
    }

    /// The blob key: HKDF-SHA256 of the checkpoint key with a label of its own (domain separation).
    static func key(_ ring: Keyring) -> SymmetricKey {
        HKDF<SHA256>.deriveKey(inputKeyMaterial: SymmetricKey(data: ring.auditKey.rawRepresentation),
                               info: Array("arca secret backup v1".utf8), outputByteCount: 32)
    }

    static func header(_ name: String) -> [UInt8] {
        let n = Array(name.utf8)
        return magic + [format] + [UInt8(n.count >> 8), UInt8(n.count & 0xff)] + n
    }

    /// The blob's ciphertext is a barrier envelope under the blob key alone, at the path `backup/NAME`, so the
    /// name in the header is authenticated as the path.
    static func seal(_ payload: [UInt8], name: String, key: SymmetricKey) throws -> [UInt8] {
        header(name) + (try Barrier(keys: [1: key]).seal(payload, path: "backup/\(name)"))
    }

    static func open(_ name: String, _ sealed: [UInt8], key: SymmetricKey) -> [UInt8]? {
        try? Barrier(keys: [1: key]).open(sealed, path: "backup/\(name)")
    }

    /// The name a blob claims, or nil when the bytes are not a backup blob of this format.
    public static func name(of blob: [UInt8]) -> String? { unpack(blob)?.name }

    static func unpack(_ blob: [UInt8]) -> (name: String, envelope: [UInt8])? {
        let head = magic.count + 3
        guard blob.count > head, Array(blob.prefix(magic.count)) == magic, blob[magic.count] == format else { return nil }
        let length = Int(blob[magic.count + 1]) << 8 | Int(blob[magic.count + 2])
        guard blob.count > head + length,
              let name = String(bytes: blob[head..<(head + length)], encoding: .utf8), SecretName.isValid(name) else { return nil }
        return (name, Array(blob[(head + length)...]))
    }

    static func unreadable() -> VaultError {
        .badParameter("The backup blob is not one this vault can restore: it is damaged, or it was made by a vault with another keyring.")
    }
}

extension VaultSession {
    /// Every version of a live secret, sealed into a backup blob.
    public func backup(_ name: String) throws -> [UInt8] {
        let display = try live(name)
        let key = name.lowercased()
        let rows = try SQLRow.fetchAll(db, sql: "SELECT \(Self.columns) FROM secret_versions WHERE name_key = ? ORDER BY seq",
                                    arguments: [key])
        var versions: [SecretBackup.Version] = []
        for row in rows {
            let p = try properties(row, name: display)
            let envelope: Data = row["envelope"]
            let plain = try barrier.open(Array(envelope), path: VaultSession.path(key, p.version))
            versions.append(.init(version: p.version, value: Base64URL.encode(plain), contentType: p.contentType, tags: p.tags,
                                  enabled: p.attributes.enabled, nbf: p.attributes.notBefore, exp: p.attributes.expires,
                                  created: p.attributes.created, updated: p.attributes.updated))
        }
        let payload = try JSONEncoder().encode(SecretBackup.Payload(name: display, versions: versions))
        let blob = try SecretBackup.seal(Array(payload), name: display, key: backupKey())
        guard blob.count <= SecretBackup.maxBytes else {
            throw VaultError.badParameter("the backup of \(display) would be \(blob.count) bytes; the limit is \(SecretBackup.maxBytes)")
        }
        return blob
    }

    /// Restores a backup blob as a new secret with all its versions (ids, attributes and dates as they were).
    /// A name in use, live or deleted, is a conflict, as in Azure.
    public func restore(_ blob: [UInt8]) throws -> SecretBundle {
        guard let (name, envelope) = SecretBackup.unpack(blob) else { throw SecretBackup.unreadable() }
        let key = name.lowercased()
        guard let plain = SecretBackup.open(name, envelope, key: backupKey()),
              let payload = try? JSONDecoder().decode(SecretBackup.Payload.self, from: Data(plain)),
              payload.name.lowercased() == key, !payload.versions.isEmpty else { throw SecretBackup.unreadable() }
        if let row = try secretRow(key) {
            let deleted = row["deleted"] as Int64? != nil
            throw VaultError.conflict(
                deleted ? "Secret \(name) is currently in a deleted but recoverable state; recover or purge it before restoring a backup."
                        : "Secret \(name) already exists; a backup is restored only under a name not in use.",
                inner: deleted ? "ObjectIsDeletedButRecoverable" : "Conflict")
        }
        try db.execute(sql: "INSERT INTO secrets (name_key, name) VALUES (?, ?)", arguments: [key, payload.name])
        for (i, v) in payload.versions.enumerated() {
            try VaultSession.checkVersion(v.version)
            guard let value = Base64URL.decode(v.value) else { throw SecretBackup.unreadable() }
            let sealed = try barrier.seal(value, path: VaultSession.path(key, v.version))
            try db.execute(sql: """
                INSERT INTO secret_versions (name_key, version, seq, envelope, content_type, tags, enabled, nbf, exp, created, updated)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [key, v.version, i + 1, Data(sealed), v.contentType, VaultSession.tagsJSON(v.tags),
                                 v.enabled ? 1 : 0, v.nbf, v.exp, v.created, v.updated])
        }
        guard let row = try versionRow(key, nil) else { throw notFound(name) }
        return SecretBundle(properties: try properties(row, name: payload.name), value: nil)
    }
}

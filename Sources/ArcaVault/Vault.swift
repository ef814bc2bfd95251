@_exported import ArcaVaultAPI
import Crypto
import Foundation

/// A small lock-protected box (the unsealed keyring is shared by every request a vault serves).
final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value
    init(_ value: Value) { self.value = value }
    func get() -> Value { lock.withLock { value } }
    func set(_ v: Value) { lock.withLock { value = v } }
    func update<R>(_ body: (inout Value) -> R) -> R { lock.withLock { body(&value) } }
}

/// One vault: a folder holding `vault.db`. Every operation goes through ``perform(_:as:from:_:)``, which
/// authorises the caller, runs the operation and appends its audit record in one transaction — so an
/// operation and its record commit together, and if the trail cannot be written nothing happens.
public final class Vault: Sendable {
    public static let fileName = "vault.db"
    /// Azure Key Vault's default and bounds for soft-delete retention.
    public static let retentionRange = 7...90

    public let directory: String
    let store: VaultStore
    let authorizer: any Authorizer
    /// Failed sign-ins and unauthenticated requests, aggregated per source (see ``FailedAttempts``).
    let failedAttempts = FailedAttempts()
    /// Unix time before which no deleted secret is due for purging, as this process last read it: a secret read
    /// skips the retention check until then. A deletion schedules its purge at least 7 days ahead (the shortest
    /// retention), so one made meanwhile by any process or node cannot be due sooner; the bound is renewed at
    /// least every minute besides (a restored file, a clock that jumped).
    let noPurgeBefore = Locked<Int64>(0)
    /// People, applications, roles and assignments (kept in the same file).
    public var principals: VaultDirectory { VaultDirectory(store: store) }

    /// Who decides what a caller may do.
    public enum Authorization: Sendable {
        /// Embedded mode: only the local operator (the owner of the file).
        case localOperator
        /// The server: role assignments in the vault, deny by default.
        case rbac
        case custom(any Authorizer)
    }
    /// While unsealed: the keyring and the master key that seals it (kept to re-seal a rotated keyring).
    private let state = Locked<(keyring: Keyring, master: SymmetricKey)?>(nil)
    var currentKeyring: Keyring? { state.get()?.keyring }

    /// How a new vault's master key is made.
    public enum SealSetup: Sendable {
        case passphrase(String, scrypt: MasterKey.ScryptParameters = .standard)
        /// Writes a new key file at `path` (refusing to overwrite one).
        case keyFile(path: String)
        case shamir(shares: Int, threshold: Int)
        case pkcs11(PKCS11Token.Configuration, pin: [UInt8])
    }

    /// What opens the keyring.
    public typealias Credential = VaultCredential

    /// Not secret: how the vault is sealed, kept beside the keyring so a command knows what to ask for.
    public struct SealConfig: Sendable, Codable, Equatable {
        public var kind: String
        public var keyFile: String?
        public var pkcs11: PKCS11Token.Configuration?
        public var threshold: Int?
        public var shares: Int?
    }

    public struct InitResult: Sendable {
        public var seal: String
        /// Shamir shares, printed once and never stored.
        public var shares: [String]
        public var threshold: Int?
        public var auditPublicKey: String
        public var keyFile: String?
    }

    public typealias Status = VaultStatus

    /// `ARCA_VAULT_DIR`, else `$XDG_DATA_HOME/arca/vault`, else `~/.local/share/arca/vault`: per user, never
    /// inside a repository.
    public static func defaultDirectory(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let d = environment["ARCA_VAULT_DIR"], !d.isEmpty { return d }
        if let x = environment["XDG_DATA_HOME"], !x.isEmpty { return x + "/arca/vault" }
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        return home + "/.local/share/arca/vault"
    }

    /// The git work tree holding `directory`, if any.
    public static func enclosingRepository(of directory: String) -> String? {
        var url = URL(fileURLWithPath: directory).standardizedFileURL
        while true {
            if FileManager.default.fileExists(atPath: url.appendingPathComponent(".git").path) { return url.path }
            let parent = url.deletingLastPathComponent()
            if parent.path == url.path { return nil }
            url = parent
        }
    }

    /// Opens the vault in `directory`. With `create`, makes the folder (mode 0700) and an empty file; otherwise
    /// a missing vault is an error that says how to make one. With `storage`, the data lives there (a
    /// PostgreSQL database several servers share) and the folder holds only what the node itself needs (key
    /// files, TLS material, `dev.json`).
    public init(directory: String, storage: (any StorageBackend)? = nil, authorization: Authorization = .localOperator,
                create: Bool = false) throws {
        self.directory = directory
        if let storage {
            if create, !FileManager.default.fileExists(atPath: directory) { try Vault.makeFolder(directory) }
            store = VaultStore(backend: storage)
            authorizer = Vault.authorizer(authorization, store)
            return
        }
        let path = directory + "/" + Vault.fileName
        if !FileManager.default.fileExists(atPath: path) {
            guard create else {
                throw VaultError.notInitialized("no vault in \(directory): create one with `arca vault init`")
            }
            try Vault.makeFolder(directory)
        } else if !create, let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int, size == 0 {
            // SQLite would take an empty file for a new database and write a schema into it: a vault file
            // truncated to nothing is damaged, and a read must not turn it into an empty vault.
            throw VaultError.storage("the vault file \(path) is empty (truncated or damaged); restore it from a backup")
        }
        do {
            store = try VaultStore(path: path)
        } catch let e as VaultStore.Failure {
            throw e.vaultError
        }
        authorizer = Vault.authorizer(authorization, store)
    }

    /// The vault's folder, mode 0700.
    static func makeFolder(_ directory: String) throws {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
        } catch {
            throw VaultError.storage("cannot create \(directory): \(error.localizedDescription)")
        }
    }

    static func authorizer(_ authorization: Authorization, _ store: VaultStore) -> any Authorizer {
        switch authorization {
        case .localOperator: return LocalOperatorAuthorizer()
        case .rbac: return RBACAuthorizer(store: store)
        case .custom(let a): return a
        }
    }

    /// Where the vault's data lives: the folder's file, or the database's address.
    public var storageLocation: String { store.path }
    /// Whether the storage commits as durably as the vault promises (false: PostgreSQL runs with `fsync` off);
    /// nil when it cannot be read now.
    public var storageIsDurable: Bool? { try? store.backend.isDurable() }

    // MARK: - Life cycle

    /// The meta key of the sealed keyring's SHA-256 (integrity only: it says nothing of the keys), written with
    /// the keyring; vaults made before it have none and keep working.
    static let keyringChecksumKey = "keyring-sha256"

    static func checksum(_ bytes: [UInt8]) -> [UInt8] { Array(SHA256.hash(data: bytes)) }

    /// The sealed keyring, checked against its stored SHA-256 before anything reads it: a changed byte in the
    /// keyring (or in the checksum) is damage, found before its scrypt parameters are used (a changed cost must
    /// not run scrypt for minutes, or overflow it).
    func sealedKeyring(_ db: any SQLConnection) throws -> SealedKeyring? {
        guard let bytes = try VaultStore.meta(db, "keyring") else { return nil }
        let damaged = { (why: String) in
            VaultError.storage("the vault's keyring is damaged (\(why)), so no credential can open it: restore the vault from a backup (`arca vault backup`)")
        }
        if let sum = try VaultStore.meta(db, Self.keyringChecksumKey), sum != Self.checksum(bytes) {
            throw damaged("it no longer matches its checksum")
        }
        do {
            let sealed = try SealedKeyring(bytes: bytes)
            guard sealed.kind != .passphrase || sealed.scrypt.isPlausible else { throw damaged("its scrypt parameters are out of range") }
            return sealed
        } catch let e as SealedKeyring.Failure {
            throw damaged(e.description)
        }
    }

    public var isInitialized: Bool { (try? store.meta("keyring")) != nil }

    public func sealConfig() throws -> SealConfig? {
        guard let bytes = try store.meta("seal-config") else { return nil }
        do { return try JSONDecoder().decode(SealConfig.self, from: Data(bytes)) } catch {
            throw VaultError.storage("the vault's seal configuration cannot be read (the file is damaged); restore it from a backup")
        }
    }

    /// The retention, set at `init` and never changed: read once, then kept (every operation asks for it).
    public var retentionDays: Int {
        if let days = retentionCache.get() { return days }
        guard let stored = (try? store.meta("retention-days")).flatMap({ $0.flatMap { Int(String(decoding: $0, as: UTF8.self)) } }) else {
            return 90
        }
        retentionCache.set(stored)
        return stored
    }

    private let retentionCache = Locked<Int?>(nil)

    public var auditPublicKey: String? {
        (try? store.meta("audit-public-key")).flatMap { $0.map { String(decoding: $0, as: UTF8.self) } }
    }

    static let pkcs11AAD = Array("arca-master-key-v1".utf8)

    /// Creates the keyring and seals it. The vault is unsealed afterwards.
    public func initialize(_ setup: SealSetup, retentionDays: Int = 90, caller: Principal, source: String) throws -> InitResult {
        guard Vault.retentionRange.contains(retentionDays) else {
            throw VaultError.badParameter("retention is 7-90 days (got \(retentionDays))")
        }
        guard !isInitialized else { throw VaultError.alreadyInitialized("the vault in \(directory) is already initialised") }
        let ring = Keyring.generate()
        var result = InitResult(seal: "", shares: [], threshold: nil, auditPublicKey: ring.auditPublicKeyHex, keyFile: nil)
        var config = SealConfig(kind: "")
        let sealed: SealedKeyring
        var masterKey: SymmetricKey
        switch setup {
        case .passphrase(let phrase, let params):
            let salt = Array(SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) })
            let master = try Vault.mapSeal { try MasterKey.fromPassphrase(phrase, salt: salt, parameters: params) }
            sealed = try SealedKeyring.seal(ring, master: master, kind: .passphrase, salt: salt, scrypt: params)
            masterKey = master
        case .keyFile(let path):
            let content = MasterKey.newKeyFile()
            let master = try Vault.mapSeal { try MasterKey.fromKeyFile(Array(content.utf8)) }
            sealed = try SealedKeyring.seal(ring, master: master, kind: .keyFile)
            masterKey = master
            try Vault.writeNew(path, content)
            config.keyFile = URL(fileURLWithPath: path).standardizedFileURL.path
            result.keyFile = config.keyFile
        case .shamir(let count, let threshold):
            let (master, shares) = try Vault.mapSeal { try MasterKey.newShares(count: count, threshold: threshold) }
            sealed = try SealedKeyring.seal(ring, master: master, kind: .shamir, threshold: threshold, shareCount: count)
            masterKey = master
            result.shares = shares.map { Hex.encode($0.bytes) }
            result.threshold = threshold
            config.threshold = threshold
            config.shares = count
        case .pkcs11(let p11, let pin):
            let hsmMaster = SymmetricKey(size: .bits256)
            let token = try Vault.mapSeal { try PKCS11Token(p11, pin: pin, createKey: true) }
            let wrapped = try Vault.mapSeal { try token.wrap(hsmMaster.withUnsafeBytes { Array($0) }, aad: Vault.pkcs11AAD) }
            sealed = try SealedKeyring.seal(ring, master: hsmMaster, kind: .pkcs11, salt: wrapped)
            masterKey = hsmMaster
            config.pkcs11 = p11
        }
        config.kind = sealed.kind.name
        result.seal = sealed.kind.name
        let configJSON = try JSONEncoder().encode(config)
        try transact { db in
            guard try VaultStore.meta(db, "keyring") == nil else {
                throw VaultError.alreadyInitialized("the vault in \(directory) is already initialised")
            }
            try VaultStore.setMeta(db, "keyring", sealed.bytes)
            try VaultStore.setMeta(db, Self.keyringChecksumKey, Self.checksum(sealed.bytes))
            try VaultStore.setMeta(db, "audit-public-key", Array(ring.auditPublicKeyHex.utf8))
            try VaultStore.setMeta(db, "retention-days", Array(String(retentionDays).utf8))
            try VaultStore.setMeta(db, "seal-config", Array(configJSON))
            try VaultStore.setMeta(db, "operator-sealed", Array("0".utf8))
            try appendAudit(db, caller, .vaultInitialize, version: nil, result: "OK", source: source, key: ring.auditKey)
        }
        state.set((ring, masterKey))
        return result
    }

    /// Opens the keyring with `credential`. A wrong credential is audited (a failed sign-in) and refused.
    /// `explicit` is `arca vault unseal`: it is audited and lifts an operator's seal; commands that unseal
    /// for their own use (`explicit: false`) refuse a vault an operator sealed.
    public func unseal(_ credential: Credential, caller: Principal, source: String, explicit: Bool) throws {
        try authorize(caller, .vaultUnseal, source: source)
        let found: SealedKeyring?
        do { found = try store.read({ try sealedKeyring($0) }) } catch let e as VaultStore.Failure { throw e.vaultError }
        guard let sealed = found else {
            throw VaultError.notInitialized("no vault in \(directory): create one with `arca vault init`")
        }
        if !explicit, try store.meta("operator-sealed") == Array("1".utf8) {
            try audit(caller, .vaultUnseal, result: "ServiceUnavailable", source: source)
            throw VaultError.sealed("the vault was sealed by an operator (`arca vault seal`); open it with `arca vault unseal`")
        }
        let ring: Keyring
        let master: SymmetricKey
        do {
            master = try masterKey(for: sealed, credential)
            ring = try sealed.unseal(master: master)
        } catch let e as VaultError {
            try audit(caller, .vaultUnseal, result: e.auditResult, source: source)
            throw e
        } catch let e as SealedKeyring.Failure {
            // (A keyring that no longer matches its checksum was refused by `sealedKeyring` before the credential
            // was tried, so a failed tag here is the credential's.)
            try audit(caller, .vaultUnseal, result: e == .wrongKey ? "Unauthorized" : "InternalServerError", source: source)
            throw e == .wrongKey ? VaultError.unauthorized(e.description) : VaultError.storage("the vault's keyring is damaged: \(e.description); restore the vault from a backup (`arca vault backup`)")
        }
        if explicit {
            try transact { db in
                try VaultStore.setMeta(db, "operator-sealed", Array("0".utf8))
                try appendAudit(db, caller, .vaultUnseal, version: nil, result: "OK", source: source, key: ring.auditKey)
            }
        }
        state.set((ring, master))
    }

    func masterKey(for sealed: SealedKeyring, _ credential: Credential) throws -> SymmetricKey {
        switch (sealed.kind, credential) {
        case (.passphrase, .passphrase(let p)):
            return try Vault.mapSeal { try MasterKey.fromPassphrase(p, salt: sealed.salt, parameters: sealed.scrypt) }
        case (.keyFile, .keyFile(let content)):
            return try Vault.mapSeal { try MasterKey.fromKeyFile(content) }
        case (.shamir, .shares(let texts)):
            var shares: [Shamir.Share] = []
            for t in texts {
                guard let b = Hex.decode(t.trimmingWhitespace()), let s = Shamir.Share(bytes: b), b.count == 33 else {
                    throw VaultError.badParameter("'\(t.prefix(8))…' is not a share printed by `arca vault init`")
                }
                shares.append(s)
            }
            return try Vault.mapSeal { try MasterKey.fromShares(shares, threshold: Int(sealed.threshold)) }
        case (.pkcs11, .pkcs11(let pin)):
            guard let config = try sealConfig()?.pkcs11 else { throw VaultError.storage("the vault's PKCS#11 settings are missing") }
            let token = try Vault.mapSeal { try PKCS11Token(config, pin: pin, createKey: false) }
            let raw = try Vault.mapSeal { try token.unwrap(sealed.salt, aad: Vault.pkcs11AAD) }
            return SymmetricKey(data: raw)
        default:
            throw VaultError.badParameter("this vault is sealed with a \(sealed.kind.name), not what was given")
        }
    }

    /// Drops the keyring from memory and marks the vault sealed by an operator: nothing is served until
    /// `arca vault unseal`.
    public func seal(caller: Principal, source: String) throws {
        try authorize(caller, .vaultSeal, source: source)
        let key = currentKeyring?.auditKey
        try transact { db in
            try VaultStore.setMeta(db, "operator-sealed", Array("1".utf8))
            try appendAudit(db, caller, .vaultSeal, version: nil, result: "OK", source: source, key: key)
        }
        state.set(nil)
    }

    public var isUnsealed: Bool { state.get() != nil }

    /// Tells `observer` each group commit's size and duration (for a server's metrics).
    public func observeCommits(_ observer: @escaping @Sendable (Int, Duration) -> Void) {
        store.committer.observer.set(observer)
    }

    /// For a process that serves this vault: follows an operator's seal made by another process on the same
    /// file (`arca vault seal --vault-dir`), dropping the keyring from memory. Returns whether it did. Reads one
    /// row; the seal itself was audited by the process that made it.
    @discardableResult
    public func followOperatorSeal() -> Bool {
        guard isUnsealed, (try? store.meta("operator-sealed")) == Array("1".utf8) else { return false }
        state.set(nil)
        return true
    }

    /// Why this vault cannot serve requests now (nil: it can): sealed, or its storage cannot be read. For the
    /// server's `/readyz`; reads one row, audits nothing.
    public func notReadyReason() -> String? {
        guard isUnsealed else { return "sealed" }
        // Real pages, not `SELECT 1`: the keyring row and the trail's last record.
        // An unsealed vault has both: a trail gone under a running node is damage (every operation fails on it).
        do {
            let (keyring, last) = try store.read { db in
                (try VaultStore.meta(db, "keyring"), try Int64.fetchOne(db, sql: "SELECT MAX(seq) FROM audit"))
            }
            if keyring == nil || last == nil { return "storage damaged" }
        } catch let e as VaultStore.Failure {
            if case .damaged = e { return "storage damaged" }
            return "storage unreachable"
        } catch { return "storage unreachable" }
        return nil
    }

    /// When the operator-seal flag was last read: `arca vault seal` run on the folder by another process
    /// stops a long-running one (a server) within a second.
    private let sealCheckedAt = Locked<Date>(Date())

    func operatorSealedMeanwhile() -> Bool {
        let now = Date()
        let due = sealCheckedAt.update { last in
            guard now.timeIntervalSince(last) >= 1 else { return false }
            last = now
            return true
        }
        guard due, state.get() != nil else { return false }
        return (try? store.meta("operator-sealed")) == Array("1".utf8)
    }

    public func status(caller: Principal, source: String) throws -> Status {
        try authorize(caller, .vaultStatus, source: source)
        let ring = currentKeyring
        return try transact { db in
            let count = { (sql: String) in try Int.fetchOne(db, sql: sql) ?? 0 }
            let sealed = try sealedKeyring(db)
            let status = Status(
                directory: directory, initialized: sealed != nil, seal: sealed?.kind.name,
                operatorSealed: try VaultStore.meta(db, "operator-sealed") == Array("1".utf8), unsealed: ring != nil,
                secrets: try count("SELECT COUNT(*) FROM secrets WHERE deleted IS NULL"),
                deletedSecrets: try count("SELECT COUNT(*) FROM secrets WHERE deleted IS NOT NULL"),
                versions: try count("SELECT COUNT(*) FROM secret_versions"),
                auditRecords: try count("SELECT COUNT(*) FROM audit") + (sealed != nil ? 1 : 0),
                auditPublicKey: try VaultStore.meta(db, "audit-public-key").map { String(decoding: $0, as: UTF8.self) },
                retentionDays: retentionDays, schemaVersion: VaultStore.schemaVersion,
                keyringTerms: ring.map { $0.barrier.keys.keys.sorted() })
            // A folder with no vault in it has no trail yet: its trail starts with `init`.
            if sealed != nil {
                try appendAudit(db, caller, .vaultStatus, version: nil, result: "OK", source: source, key: ring?.auditKey)
            }
            return status
        }
    }

    /// Rotates the keyring: a new barrier key, every stored value re-encrypted under it and the old keys
    /// dropped, in one transaction. Returns the new term and how many values were re-encrypted.
    public func rekey(caller: Principal, source: String) throws -> (term: UInt32, reencrypted: Int) {
        try authorize(caller, .vaultRekey, source: source)
        let ring = try unsealed(caller, .vaultRekey, source: source)
        guard let master = state.get()?.master else { throw VaultError.sealed("the vault is sealed") }
        let newTerm = ring.barrier.activeTerm + 1
        let fresh = Barrier(keys: [newTerm: SymmetricKey(size: .bits256)])
        let newRing = Keyring(barrier: fresh, auditKey: ring.auditKey)
        let count: Int = try transact { db in
            guard let sealed = try sealedKeyring(db) else { throw VaultError.notInitialized("no keyring") }
            let session = VaultSession(db: db, barrier: ring.barrier, now: Vault.unixNow(), retentionDays: retentionDays)
            let n = try session.reencryptAll(to: fresh)
            for row in try SQLRow.fetchAll(db, sql: "SELECT key, value FROM meta WHERE key LIKE 'sealed:%'") {
                let key: String = row["key"], value: Data = row["value"]
                let path = "meta/" + key.dropFirst("sealed:".count)
                try VaultStore.setMeta(db, key, try fresh.seal(try ring.barrier.open(Array(value), path: path), path: path))
            }
            let resealed = try SealedKeyring.seal(newRing, master: master, kind: sealed.kind, salt: sealed.salt,
                                                  scrypt: sealed.scrypt, threshold: Int(sealed.threshold),
                                                  shareCount: Int(sealed.shareCount))
            try VaultStore.setMeta(db, "keyring", resealed.bytes)
            try VaultStore.setMeta(db, Self.keyringChecksumKey, Self.checksum(resealed.bytes))
            try appendAudit(db, caller, .vaultRekey, version: String(newTerm), result: "OK", source: source, key: ring.auditKey)
            return n
        }
        state.set((newRing, master))
        return (newTerm, count)
    }

    /// Writes a consistent copy of the vault file to `path` (SQLite's `VACUUM INTO`), mode 0600, replacing the
    /// file there only once the copy is complete and synced. The copy is as sealed as the original. Audited.
    public func backup(to path: String, caller: Principal, source: String) throws {
        try authorize(caller, .vaultBackup, source: source)
        let key = currentKeyring?.auditKey
        do {
            // An empty file made 0600 first: VACUUM INTO writes into it and keeps its mode.
            let file = try OwnerOnlyFile(path: path)
            try store.vacuum(into: file.temporary)
            try file.commit()
        } catch let e as VaultError {
            try audit(caller, .vaultBackup, result: "InternalServerError", source: source, key: key)
            throw e
        } catch let e as VaultStore.Failure {
            try audit(caller, .vaultBackup, result: "InternalServerError", source: source, key: key)
            throw VaultError.storage("cannot back up to \(path): \(e.description)")
        }
        try audit(caller, .vaultBackup, result: "OK", source: source, key: key)
    }

    // MARK: - The one entry point

    /// Authorises `caller` for `operation`, runs `body` on the unsealed vault and appends the audit record,
    /// all in one transaction. `body` returns its result and the secret version it touched (for the record).
    /// A denial, a failure or a sealed vault is audited too, then thrown.
    public func perform<T>(_ operation: VaultOperation, as caller: Principal, from source: String,
                           _ body: (VaultSession) throws -> (T, String?)) throws -> T {
        try checkName(caller, operation, source: source)
        // A secret's value read where one statement costs a round trip (PostgreSQL), decided on the cached
        // directory: one statement for the value, and the record's commit checks the directory has not changed
        // since that decision (if it has, the read is decided again below, on what it is now).
        if case .secretGet = operation, store.backend.readsOneCheaply, let ring = unsealedNow(),
           Vault.unixNow() < noPurgeBefore.get(), let decision = authorizer.cachedDecision(caller, operation) {
            let read = decision.allowed
                ? try mapStorage {
                    try store.backend.readOne { db in
                        try Self.outcome(body, session(db, ring))
                    }
                }
                : .failure(Self.forbidden(caller, operation))
            do {
                try recordRead(read, caller, operation, source: source, ring: ring, check: Self.unchanged(decision.generation))
                return try read.get().0
            } catch is StaleAssumption {}
        }
        // A secret read on an unsealed vault is authorised in the snapshot it reads (one read transaction);
        // everything else, or a read that finds retention due, takes the path below.
        if operation.isSecretRead, let ring = unsealedNow(),
           let read = try readOutsideCommit(operation, caller: caller, ring: ring, retention: retentionDays, body) {
            try recordRead(read, caller, operation, source: source, ring: ring)
            return try read.get().0
        }
        // Where a statement costs a round trip (PostgreSQL), an operation the cached directory allows is
        // authorised on it, and its transaction first checks that the directory has not changed since (one
        // statement there instead of a read transaction of three); if it has, it is authorised again below.
        if store.backend.readsOneCheaply, let decision = authorizer.cachedDecision(caller, operation), decision.allowed,
           let ring = unsealedNow() {
            do {
                return try commit(operation, caller, source, ring, body, check: Self.unchanged(decision.generation))
            } catch is StaleAssumption {}
        }
        try authorize(caller, operation, source: source)
        let ring = try unsealed(caller, operation, source: source)
        return try commit(operation, caller, source, ring, body)
    }

    /// The operation, its audit record and due purges in a savepoint of a group commit. `check` runs first in
    /// the transaction (what the authorisation assumed); its failure is thrown as it is, nothing done.
    func commit<T>(_ operation: VaultOperation, _ caller: Principal, _ source: String, _ ring: Keyring,
                   _ body: (VaultSession) throws -> (T, String?),
                   check: ((any SQLConnection) throws -> Void)? = nil) throws -> T {
        let retention = retentionDays
        var outcome: Result<T, VaultError>?
        try mapStorage {
            // Group commit: concurrent operations share one transaction and one fsync; each runs in its own
            // savepoint, and the answer leaves only after the commit that holds its audit record.
            // One checkpoint signs the batch's last record (the batch commits whole), not one per record.
            try store.grouped(checkpoint: ring.auditKey) { db in
                try check?(db)
                let session = session(db, ring, retention: retention)
                // Due purges first, kept whatever the operation's outcome: an operation that fails because the
                // purge came due (a recover or a read of a secret purged now) is recorded after the purge. Checked
                // at most once a minute and never past the earliest scheduled purge, as for reads.
                if session.now >= noPurgeBefore.get() {
                    try sweepRetention(db, session, ring)
                    noPurgeBefore.set(min(try session.earliestPurge() ?? .max, session.now + 60))
                }
                do {
                    let result: T = try db.inSavepointReturning {
                        let (result, version) = try body(session)
                        if case .directoryWrite = operation { try VaultDirectory.changed(db) }
                        try appendAudit(db, caller, operation, version: version, result: "OK", source: source, key: nil)
                        return result
                    }
                    outcome = .success(result)
                } catch let e as VaultError {
                    if case .auditUnavailable = e { throw e }
                    try appendAudit(db, caller, operation, version: nil, result: e.auditResult, source: source, key: nil)
                    outcome = .failure(e)
                } catch let e as Barrier.Failure {
                    let failure = Self.undecryptable(e)
                    try appendAudit(db, caller, operation, version: nil, result: failure.auditResult, source: source, key: nil)
                    outcome = .failure(failure)
                }
            }
        }
        guard let outcome else { throw VaultError.storage("the operation did not run") }
        return try outcome.get()
    }

    /// A read's audit record, through group commit: the answer still waits for it to be on disk. `check`
    /// runs first in the record's transaction (what the read assumed); its failure leaves no record.
    func recordRead<T>(_ read: Result<(T, String?), VaultError>, _ caller: Principal, _ operation: VaultOperation, source: String,
                       ring: Keyring, check: (any SQLConnection) throws -> Void = { _ in }) throws {
        try mapStorage {
            try store.grouped(checkpoint: ring.auditKey, auditOnly: true) { db in
                try check(db)
                switch read {
                case .success(let (_, version)):
                    try appendAudit(db, caller, operation, version: version, result: "OK", source: source, key: nil)
                case .failure(let e):
                    try appendAudit(db, caller, operation, version: nil, result: e.auditResult, source: source, key: nil)
                }
            }
        }
    }

    /// A session on `db` for the unsealed `ring`.
    func session(_ db: any SQLConnection, _ ring: Keyring, retention: Int? = nil) -> VaultSession {
        VaultSession(db: db, barrier: ring.barrier, now: Vault.unixNow(), retentionDays: retention ?? retentionDays,
                     backupKey: { SecretBackup.key(ring) })
    }

    /// What a decision on the cached directory assumed, checked in the transaction that answers for it: the
    /// directory's generation is still the one it was decided at (``StaleAssumption`` if not).
    static func unchanged(_ generation: Data?) -> (any SQLConnection) throws -> Void {
        let expected = generation.map { Array($0) }
        return { db in try db.expectMeta(VaultDirectory.generationKey, is: expected) }
    }

    /// A read's outcome as its caller and its record are told it.
    static func outcome<T>(_ body: (VaultSession) throws -> (T, String?), _ session: VaultSession) throws -> Result<(T, String?), VaultError> {
        do {
            return .success(try body(session))
        } catch let e as VaultError {
            return .failure(e)
        } catch let e as Barrier.Failure {
            return .failure(Self.undecryptable(e))
        }
    }

    /// A read of secrets from a consistent snapshot, outside the serialised commit (concurrent reads then cost
    /// the commit only their audit record). Nil when retention has deletions to purge first: the caller then
    /// runs the read as a write, which purges (and audits the purge) before reading. A read's record follows
    /// its snapshot in the trail, so a write committed in between is recorded before it.
    func readOutsideCommit<T>(_ operation: VaultOperation, caller: Principal, ring: Keyring, retention: Int,
                              _ body: (VaultSession) throws -> (T, String?)) throws -> Result<(T, String?), VaultError>? {
        try mapStorage {
            try store.read { db -> Result<(T, String?), VaultError>? in
                let session = session(db, ring, retention: retention)
                // Before the caller is authorised: the write path that purges authorises it (once) itself, and
                // this tells the caller nothing.
                if session.now >= noPurgeBefore.get() {
                    let earliest = try session.earliestPurge()
                    if let earliest, earliest <= session.now { return nil }
                    noPurgeBefore.set(min(earliest ?? .max, session.now + 60))
                }
                // Asked before any secret is looked up, as `authorize` is.
                guard try authorizer.allows(caller, operation, in: db) else { return .failure(Self.forbidden(caller, operation)) }
                return try Self.outcome(body, session)
            }
        }
    }

    /// A stored entry the barrier refuses, as callers (and the trail: `InternalServerError`) are told it.
    static func undecryptable(_ e: Barrier.Failure) -> VaultError {
        .storage("a stored entry does not decrypt: \(e.description)")
    }

    /// Storage failures as callers are told them.
    func mapStorage<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let e as VaultStore.Failure {
            throw e.vaultError
        }
    }

    /// The audit records matching `query` (reading the trail is itself audited).
    public func auditRecords(_ query: AuditQuery, caller: Principal, source: String) throws -> [AuditRecord] {
        try perform(.auditRead, as: caller, from: source) { s in
            var matches = try AuditLog.all(s.db).0.filter(query.matches)
            if let limit = query.limit, matches.count > limit { matches = Array(matches.suffix(limit)) }
            return (matches, nil)
        }
    }

    /// One page of the trail (see ``AuditPage``); reading it is audited like any read of the trail.
    public func auditPage(after: UInt64, until: UInt64?, limit: Int, caller: Principal, source: String) throws -> AuditPage {
        guard AuditPage.limitRange.contains(limit) else {
            throw VaultError.badParameter("a page holds \(AuditPage.limitRange.lowerBound)-\(AuditPage.limitRange.upperBound) records (got \(limit))")
        }
        return try perform(.auditRead, as: caller, from: source) { s in
            (try AuditLog.page(s.db, after: after, until: until, limit: limit), nil)
        }
    }

    /// Checks the stored trail against `publicKey` (by default the unsealed keyring's checkpoint key, else the
    /// key recorded at `init`). Returns the first problem, or nil, and how many records were checked.
    public func verifyAudit(publicKey: Curve25519.Signing.PublicKey?) throws -> (problem: AuditChain.Problem?, records: Int) {
        let key: Curve25519.Signing.PublicKey
        if let publicKey {
            key = publicKey
        } else if let ring = currentKeyring {
            key = ring.auditKey.publicKey
        } else if let hex = auditPublicKey, let k = AuditExport.publicKey(hex: hex) {
            key = k
        } else {
            throw VaultError.badParameter("no checkpoint key: give --key (the auditPublicKey printed at init)")
        }
        let (records, checkpoints) = try store.read { try AuditLog.all($0) }
        return (AuditChain.verify(records, checkpoints: checkpoints, publicKey: key), records.count)
    }

    // MARK: - Directory (operator commands; audited like everything else)

    public func createUser(name: String, password: String, caller: Principal, source: String) throws -> DirectoryEntry {
        try perform(.directoryWrite("UserCreate"), as: caller, from: source) { s in (try principals.addUser(s.db, name: name, password: password), nil) }
    }

    /// A new application and its client secret, which is shown once and stored only as a hash.
    public func createApp(name: String, caller: Principal, source: String) throws -> (DirectoryEntry, String) {
        try perform(.directoryWrite("ApplicationCreate"), as: caller, from: source) { s in (try principals.addApp(s.db, name: name), nil) }
    }

    public func resetAppSecret(objectId: String, caller: Principal, source: String) throws -> String {
        try perform(.directoryWrite("ApplicationSecretReset"), as: caller, from: source) { s in
            (try principals.resetSecret(s.db, objectId: objectId), nil)
        }
    }

    public func addAppCertificate(objectId: String, der: [UInt8], caller: Principal, source: String) throws -> AppCertificate {
        try perform(.directoryWrite("ApplicationCertificateAdd"), as: caller, from: source) { s in
            (try principals.addCertificate(s.db, objectId: objectId, der: der), nil)
        }
    }

    public func setPrincipalEnabled(objectId: String, enabled: Bool, caller: Principal, source: String) throws {
        try perform(.directoryWrite(enabled ? "PrincipalEnable" : "PrincipalDisable"), as: caller, from: source) { s in
            (try principals.setEnabled(s.db, objectId: objectId, enabled: enabled), nil)
        }
    }

    public func removePrincipal(objectId: String, caller: Principal, source: String) throws {
        try perform(.directoryWrite("PrincipalDelete"), as: caller, from: source) { s in (try principals.remove(s.db, objectId: objectId), nil) }
    }

    public func createRole(name: String, dataActions: [String], notDataActions: [String], caller: Principal,
                           source: String) throws -> RoleDefinition {
        try perform(.directoryWrite("RoleDefinitionCreate"), as: caller, from: source) { s in
            (try principals.addRole(s.db, name: name, dataActions: dataActions, notDataActions: notDataActions), nil)
        }
    }

    public func assignRole(roleId: String, principalId: String, scope: String, caller: Principal, source: String) throws -> RoleAssignment {
        try perform(.directoryWrite("RoleAssignmentCreate"), as: caller, from: source) { s in
            (try principals.assign(s.db, roleId: roleId, principalId: principalId, scope: scope), nil)
        }
    }

    public func removeAssignment(id: String, caller: Principal, source: String) throws {
        try perform(.directoryWrite("RoleAssignmentDelete"), as: caller, from: source) { s in (try principals.unassign(s.db, id: id), nil) }
    }

    /// Reads the directory (people, applications, roles, assignments) for `caller`, authorised and audited;
    /// works on a sealed vault, as the directory holds no secret values.
    public func readDirectory<T>(as caller: Principal, from source: String, _ body: (VaultDirectory) throws -> T) throws -> T {
        try authorize(caller, .directoryRead, source: source)
        let result = try body(principals)
        try audit(caller, .directoryRead, result: "OK", source: source, key: currentKeyring?.auditKey)
        return result
    }

    // MARK: - For the server

    /// A value kept in the vault file encrypted by the barrier (with `meta/<key>` as AAD), made by `create` on
    /// first use: the server's token signing key. Rekey re-encrypts it with everything else.
    public func sealedValue(_ key: String, create: () -> [UInt8]) throws -> [UInt8] {
        guard let ring = currentKeyring else { throw VaultError.sealed("the vault is sealed: unseal it with `arca vault unseal`") }
        let path = "meta/" + key
        return try transact { db in
            if let stored = try VaultStore.meta(db, "sealed:" + key) {
                do { return try ring.barrier.open(stored, path: path) } catch {
                    throw VaultError.storage("the stored \(key) does not decrypt")
                }
            }
            let fresh = create()
            try VaultStore.setMeta(db, "sealed:" + key, try ring.barrier.seal(fresh, path: path))
            return fresh
        }
    }

    /// Records a sign-in attempt or a request refused before any operation ran (missing, forged or expired
    /// token): the caller as claimed, the result, and where it came from. A successful sign-in (`OK`) is written
    /// at once; failures are aggregated per source (``FailedAttempts``): the first from a source in an interval
    /// is written at once, the rest as one record with their count when the interval ends.
    public func auditAttempt(operation: String, claimedCaller: String, secretName: String? = nil, result: String,
                              source: String) throws {
        let attempt = FailedAttempts.Attempt(operation: operation, caller: claimedCaller, secretName: secretName,
                                             result: result, source: source)
        try writeAttempts(result == "OK" ? [attempt] : failedAttempts.note(attempt))
    }

    /// Writes the aggregates of failed attempts whose interval has ended (every pending one with `force`, as
    /// when the server stops). The server calls it every second.
    public func flushFailedAttempts(force: Bool = false) throws {
        try writeAttempts(failedAttempts.due(force: force))
    }

    func writeAttempts(_ attempts: [FailedAttempts.Attempt]) throws {
        guard !attempts.isEmpty else { return }
        let key = currentKeyring?.auditKey
        do {
            try transact { db in
                for a in attempts {
                    do {
                        try AuditLog.append(db, caller: a.caller, operation: a.operation, secretName: a.secretName,
                                            secretVersion: nil, result: a.result, source: a.source, count: a.count,
                                            nameIsList: a.aggregate, key: key)
                    } catch let e as VaultError {
                        throw e
                    } catch {
                        throw VaultError.auditUnavailable("\(error)")
                    }
                }
            }
        } catch {
            // Counts not yet on disk go back to be written with the next aggregate; the request itself fails.
            failedAttempts.restore(attempts.filter(\.aggregate))
            throw error
        }
    }

    /// Records a successful sign-in.
    public func auditSignIn(_ principal: Principal, source: String) throws {
        try auditAttempt(operation: "Authentication", claimedCaller: principal.auditName, result: "OK", source: source)
    }

    // MARK: - Internals

    static func unixNow() -> Int64 { Int64(Date().timeIntervalSince1970) }

    /// A name Azure Key Vault would reject is refused before anything else (400 `BadParameter`, as Azure
    /// answers), and audited in its bounded printable form.
    func checkName(_ caller: Principal, _ operation: VaultOperation, source: String) throws {
        guard let name = operation.secretName, !VaultSession.isValidName(name) else { return }
        try audit(caller, operation, result: "BadRequest", source: source, key: currentKeyring?.auditKey)
        throw VaultError.badParameter(VaultSession.invalidName(name))
    }

    func authorize(_ caller: Principal, _ operation: VaultOperation, source: String) throws {
        let allowed = try mapStorage { try authorizer.allows(caller, operation) }
        guard allowed else {
            try audit(caller, operation, result: "Forbidden", source: source, key: currentKeyring?.auditKey)
            throw Self.forbidden(caller, operation)
        }
    }

    static func forbidden(_ caller: Principal, _ operation: VaultOperation) -> VaultError {
        .forbidden("""
            Caller is not authorized to perform action on resource.
            Caller: \(caller.auditName)
            Action: '\(operation.dataAction)'
            Resource: '\(operation.scope)'
            Assignment: (not found)
            """, inner: "ForbiddenByRbac")
    }

    /// The keyring if the vault is unsealed now (following an operator's seal first), without auditing.
    func unsealedNow() -> Keyring? {
        if operatorSealedMeanwhile() { state.set(nil) }
        return currentKeyring
    }

    func unsealed(_ caller: Principal, _ operation: VaultOperation, source: String) throws -> Keyring {
        guard let ring = unsealedNow() else {
            try audit(caller, operation, result: "ServiceUnavailable", source: source)
            // (No folder path: this message reaches remote callers.)
            throw VaultError.sealed("the vault is sealed: unseal it with `arca vault unseal`")
        }
        return ring
    }

    func appendAudit(_ db: any SQLConnection, _ caller: Principal, _ operation: VaultOperation, version: String?, result: String,
                     source: String, key: Curve25519.Signing.PrivateKey?) throws {
        do {
            try AuditLog.append(db, caller: caller.auditName, operation: operation.auditName, secretName: operation.secretName,
                                secretVersion: version, result: result, source: source, key: key)
        } catch let e as VaultError {
            throw e
        } catch let e as NeedsWriteTransaction {
            throw e
        } catch {
            throw VaultError.auditUnavailable("\(error)")
        }
    }

    /// Records an outcome in a transaction of its own (denials, failures, sealed vault).
    func audit(_ caller: Principal, _ operation: VaultOperation, result: String, source: String,
               key: Curve25519.Signing.PrivateKey? = nil) throws {
        try transact { db in
            try appendAudit(db, caller, operation, version: nil, result: result, source: source, key: key)
        }
    }

    /// Purges deleted secrets whose retention has ended, each with its own audit record.
    func sweepRetention(_ db: any SQLConnection, _ session: VaultSession, _ ring: Keyring) throws {
        for (key, name) in try session.expiredDeletions() {
            try session.erase(key)
            try AuditLog.append(db, caller: Principal.retention.auditName, operation: "SecretPurge", secretName: name,
                                secretVersion: nil, result: "OK", source: "retention", key: nil)
        }
    }

    func transact<T>(_ body: (any SQLConnection) throws -> T) throws -> T {
        // (Single-purpose transactions: init, seal, rekey, denials. Operations use group commit.)
        try mapStorage { try store.write(body) }
    }

    static func mapSeal<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let e as MasterKey.Failure {
            switch e {
            case .emptyPassphrase, .badKeyFile: throw VaultError.badParameter(e.description)
            case .shares: throw VaultError.unauthorized(e.description)
            }
        } catch let e as PKCS11Token.Failure {
            throw VaultError.unauthorized(e.description)
        } catch let e as VaultError {
            throw e
        } catch {
            throw VaultError.storage("\(error)")
        }
    }

    static func writeNew(_ path: String, _ content: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard fd >= 0 else {
            throw VaultError.badParameter("cannot create the key file \(path): \(String(cString: strerror(errno))) (an existing key file is never overwritten)")
        }
        defer { close(fd) }
        let bytes = Array(content.utf8)
        guard write(fd, bytes, bytes.count) == bytes.count, fsync(fd) == 0 else {
            throw VaultError.storage("cannot write the key file \(path)")
        }
    }
}

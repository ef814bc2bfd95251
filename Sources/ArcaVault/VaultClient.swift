import Dispatch
/// What `migrate` and the CLI use to talk to a vault, embedded or (next) remote over HTTPS. Every call is one
/// vault operation, authorised and audited by the vault.
public protocol VaultClient: Sendable {
    func setSecret(_ name: String, value: String, options: SecretOptions) async throws -> SecretBundle
    func getSecret(_ name: String, version: String?) async throws -> SecretBundle
    func updateSecret(_ name: String, version: String?, options: SecretOptions) async throws -> SecretBundle
    func listSecrets(maxResults: Int?, skipToken: String?) async throws -> Page<SecretProperties>
    func listVersions(_ name: String, maxResults: Int?, skipToken: String?) async throws -> Page<SecretProperties>
    func deleteSecret(_ name: String) async throws -> DeletedSecret
    func getDeletedSecret(_ name: String) async throws -> DeletedSecret
    func listDeletedSecrets(maxResults: Int?, skipToken: String?) async throws -> Page<DeletedSecret>
    func recoverSecret(_ name: String) async throws -> SecretBundle
    func purgeSecret(_ name: String) async throws
    func auditRecords(_ query: AuditQuery) async throws -> [AuditRecord]
    /// One page of the trail: records after `after` up to `until` (nil: the end of the trail when this first page
    /// is read), at most `limit` of them. ``auditExport(into:)`` follows every page.
    func auditExportPage(after: UInt64, until: UInt64?, limit: Int) async throws -> AuditPage
}

extension VaultClient {
    /// The whole trail in the export format, page by page: the header, then each page's records and checkpoints
    /// handed to `sink` as they arrive, so a trail of any size goes through a bounded buffer.
    public func auditExport(limit: Int = AuditPage.defaultLimit, into sink: (AuditPage) throws -> Void) async throws {
        var after: UInt64 = 0
        var until: UInt64?
        while true {
            let page = try await auditExportPage(after: after, until: until, limit: limit)
            try sink(page)
            guard let next = page.next, next > after else { return }
            (after, until) = (next, page.until)
        }
    }

    /// The whole trail in the export format, as one text (small trails; files go through ``auditExport(into:)``).
    public func auditExport() async throws -> String {
        var text = AuditExport.header()
        try await auditExport { text += AuditExport.lines($0.records, $0.checkpoints) }
        return text
    }
}

extension VaultClient {
    /// Follows a paged list to the end.
    func collect<Item>(_ page: (String?) async throws -> Page<Item>) async throws -> [Item] {
        var out: [Item] = []
        var token: String?
        repeat {
            let p = try await page(token)
            out += p.items
            token = p.nextToken
        } while token != nil
        return out
    }

    public func allSecrets() async throws -> [SecretProperties] {
        try await collect { try await listSecrets(maxResults: nil, skipToken: $0) }
    }

    public func allVersions(_ name: String) async throws -> [SecretProperties] {
        try await collect { try await listVersions(name, maxResults: nil, skipToken: $0) }
    }

    public func allDeletedSecrets() async throws -> [DeletedSecret] {
        try await collect { try await listDeletedSecrets(maxResults: nil, skipToken: $0) }
    }
}

/// The vault in this process, called as `caller` (the local operator for the CLI).
public struct EmbeddedVaultClient: VaultClient {
    public let vault: Vault
    public let caller: Principal
    public let source: String

    public init(vault: Vault, caller: Principal, source: String = "embedded") {
        self.vault = vault
        self.caller = caller
        self.source = source
    }

    /// Runs the operation on a Dispatch thread: the vault's calls block on SQLite and fsync, which must not
    /// hold the cooperative pool's few threads, and concurrent callers then commit together (group commit).
    func run<T: Sendable>(_ op: VaultOperation, _ body: @escaping @Sendable (VaultSession) throws -> (T, String?)) async throws -> T {
        try await offload { [vault, caller, source] in try vault.perform(op, as: caller, from: source, body) }
    }

    func offload<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(with: Result { try work() }) }
        }
    }

    public func setSecret(_ name: String, value: String, options: SecretOptions) async throws -> SecretBundle {
        try await run(.secretSet(name)) { s in let b = try s.set(name, value: value, options: options); return (b, b.properties.version) }
    }

    public func getSecret(_ name: String, version: String?) async throws -> SecretBundle {
        try await run(.secretGet(name)) { s in let b = try s.get(name, version: version); return (b, b.properties.version) }
    }

    public func updateSecret(_ name: String, version: String?, options: SecretOptions) async throws -> SecretBundle {
        try await run(.secretUpdate(name)) { s in
            let b = try s.update(name, version: version, options: options)
            return (b, b.properties.version)
        }
    }

    public func listSecrets(maxResults: Int?, skipToken: String?) async throws -> Page<SecretProperties> {
        try await run(.secretList) { s in (try s.list(maxResults: maxResults, skipToken: skipToken), nil) }
    }

    public func listVersions(_ name: String, maxResults: Int?, skipToken: String?) async throws -> Page<SecretProperties> {
        try await run(.secretListVersions(name)) { s in (try s.versions(name, maxResults: maxResults, skipToken: skipToken), nil) }
    }

    public func deleteSecret(_ name: String) async throws -> DeletedSecret {
        try await run(.secretDelete(name)) { s in let d = try s.delete(name); return (d, d.properties.version) }
    }

    public func getDeletedSecret(_ name: String) async throws -> DeletedSecret {
        try await run(.secretGetDeleted(name)) { s in (try s.getDeleted(name), nil) }
    }

    public func listDeletedSecrets(maxResults: Int?, skipToken: String?) async throws -> Page<DeletedSecret> {
        try await run(.secretListDeleted) { s in (try s.listDeleted(maxResults: maxResults, skipToken: skipToken), nil) }
    }

    public func recoverSecret(_ name: String) async throws -> SecretBundle {
        try await run(.secretRecover(name)) { s in let b = try s.recover(name); return (b, b.properties.version) }
    }

    public func purgeSecret(_ name: String) async throws {
        try await run(.secretPurge(name)) { s in (try s.purge(name), nil) }
    }

    public func auditRecords(_ query: AuditQuery) async throws -> [AuditRecord] {
        try await offload { [vault, caller, source] in try vault.auditRecords(query, caller: caller, source: source) }
    }

    public func auditExportPage(after: UInt64, until: UInt64?, limit: Int) async throws -> AuditPage {
        try await offload { [vault, caller, source] in
            try vault.auditPage(after: after, until: until, limit: limit, caller: caller, source: source)
        }
    }
}

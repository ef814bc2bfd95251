import Foundation

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
    /// Azure's backup: every version of a live secret in an opaque blob.
    func backupSecret(_ name: String) async throws -> [UInt8]
    /// Restores a backup blob under the name it carries (a name in use is a conflict).
    func restoreSecret(backup blob: [UInt8]) async throws -> SecretProperties
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
    package func collect<Item>(_ page: (String?) async throws -> Page<Item>) async throws -> [Item] {
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


import Dispatch

/// Where the vault's blocking calls run for an async caller. They block on SQLite, PostgreSQL and fsync, which
/// must not hold the cooperative pool's few threads; and group commit can only batch as many requests as are
/// waiting on threads at once, so a server gives a pool as wide as the concurrency it serves (Dispatch's global
/// queue on Linux runs about one thread per core, which kept batches at one or two requests).
public protocol BlockingExecutor: Sendable {
    func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T
}

/// Dispatch's global queue: enough for the CLI, which makes one call at a time.
public struct DispatchExecutor: BlockingExecutor {
    public init() {}

    public func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(with: Result { try work() }) }
        }
    }
}

/// The vault in this process, called as `caller` (the local operator for the CLI).
public struct EmbeddedVaultClient: VaultClient {
    public let vault: Vault
    public let caller: Principal
    public let source: String
    let executor: any BlockingExecutor

    public init(vault: Vault, caller: Principal, source: String = "embedded", executor: any BlockingExecutor = DispatchExecutor()) {
        self.vault = vault
        self.caller = caller
        self.source = source
        self.executor = executor
    }

    /// Runs the operation on the executor's thread; concurrent callers then commit together (group commit).
    func run<T: Sendable>(_ op: VaultOperation, _ body: @escaping @Sendable (VaultSession) throws -> (T, String?)) async throws -> T {
        try await offload { [vault, caller, source] in try vault.perform(op, as: caller, from: source, body) }
    }

    func offload<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await executor.run(work)
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

    public func backupSecret(_ name: String) async throws -> [UInt8] {
        try await run(.secretBackup(name)) { s in (try s.backup(name), nil) }
    }

    public func restoreSecret(backup blob: [UInt8]) async throws -> SecretProperties {
        guard let name = SecretBackup.name(of: blob) else { throw SecretBackup.unreadable() }
        return try await run(.secretRestore(name)) { s in let b = try s.restore(blob); return (b.properties, b.properties.version) }
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

import ArcaJSON
import ArcaVault
import ArcaVaultPostgres
import Foundation

/// Where a vault's data lives, as the commands choose it: `--storage`, else `$ARCA_VAULT_STORAGE`, else what
/// the folder recorded (`storage.json`, written by the first command that found a vault in the database), else the
/// folder's own `vault.db`.
///
/// A folder that has been used with a database records that database's address (never its password: that
/// comes from the address given, else `PGPASSWORD`) and the vault's audit public key, which no rekey changes.
/// A node whose folder belongs to another vault than the database holds refuses to start.
extension VaultOptions {
    static let storageRecord = "storage.json"

    struct StorageRecord: Codable {
        var storage: String
        var auditPublicKey: String?
    }

    func recordedStorage() -> StorageRecord? {
        guard let data = FileManager.default.contents(atPath: directory + "/" + Self.storageRecord) else { return nil }
        return try? JSONDecoder().decode(StorageRecord.self, from: data)
    }

    /// The database address to use, if the vault lives in one.
    func storageAddress() -> String? {
        if let s = storage, !s.isEmpty { return s }
        if let s = ProcessInfo.processInfo.environment["ARCA_VAULT_STORAGE"], !s.isEmpty { return s }
        return recordedStorage()?.storage
    }

    /// Opens the vault (not unsealed) on its storage.
    func openVault(authorization: Vault.Authorization = .localOperator, create: Bool = false) throws -> Vault {
        let dir = directory
        guard let address = storageAddress() else {
            return try vaultCall { try Vault(directory: dir, authorization: authorization, create: create) }
        }
        if storage != nil || ProcessInfo.processInfo.environment["ARCA_VAULT_STORAGE"] != nil,
           FileManager.default.fileExists(atPath: dir + "/" + Vault.fileName) {
            throw CLIError(code: Exit.usage, message: "arca: \(dir) holds a vault file of its own (\(Vault.fileName)); a folder for a vault on PostgreSQL holds no vault file: choose another --vault-dir")
        }
        let backend: PostgresBackend
        // A folder that belongs to a vault never makes tables in a database: an empty one is the wrong database.
        let belongs = recordedStorage()?.auditPublicKey
        do {
            backend = try PostgresBackend(url: address, createSchema: belongs == nil)
        } catch let e as VaultStore.Failure {
            throw VaultExit.error(e.vaultError)
        } catch is PostgresBackend.NoVault {
            throw noVault(at: PostgresBackend.Address.redacted(address), belongs ?? "")
        }
        let vault = try vaultCall { try Vault(directory: dir, storage: backend, authorization: authorization, create: create) }
        try checkNode(vault, location: backend.location)
        return vault
    }

    func noVault(at location: String, _ key: String) -> CLIError {
        CLIError(code: Exit.runtime, message: "arca: the database at \(location) holds no vault, but \(directory) belongs to one (audit key \(key.prefix(16))…): wrong database, or its data is gone; give the right --storage, or restore the database from its pg_dump (nothing was written)")
    }

    /// Refuses a database that holds another vault than the one this folder belongs to, and records the
    /// pairing once the database holds a vault, the first time only: a later command's `--storage` (or
    /// `$ARCA_VAULT_STORAGE`) is that command's, never recorded over the folder's address (it could weaken
    /// its TLS settings for every later command), and is named on stderr when it differs.
    func checkNode(_ vault: Vault, location: String) throws {
        let path = directory + "/" + Self.storageRecord
        guard let held = vault.auditPublicKey else {
            // No vault in the database yet (before `init`, or an `init` that failed): nothing to record.
            if let mine = recordedStorage()?.auditPublicKey { throw noVault(at: location, mine) }
            return
        }
        if let record = recordedStorage(), let mine = record.auditPublicKey {
            guard held == mine else {
                throw CLIError(code: Exit.runtime, message: "arca: the database at \(location) holds a different vault (audit key \(held.prefix(16))…) than the one \(directory) belongs to (\(mine.prefix(16))…): this node refuses to serve it; give the right --storage or --vault-dir")
            }
            if record.storage != location {
                FileHandle.standardError.write(Data("arca: using \(location) for this command; \(path) records \(record.storage) (edit it to change the folder's address)\n".utf8))
            }
            return
        }
        guard FileManager.default.fileExists(atPath: directory) else { return }
        let record = StorageRecord(storage: location, auditPublicKey: held)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(record),
              FileManager.default.createFile(atPath: path + ".tmp", contents: data, attributes: [.posixPermissions: 0o600]),
              rename(path + ".tmp", path) == 0 else {
            throw CLIError(code: Exit.runtime, message: "arca: cannot write \(path)")
        }
    }

    /// After `init` on a database: the folder records the new vault's key.
    func recordInitialized(_ vault: Vault) throws {
        guard storageAddress() != nil else { return }
        try checkNode(vault, location: vault.storageLocation)
    }
}

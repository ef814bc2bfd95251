import Crypto
import Foundation
@testable import ArcaVault

enum TestVault {
    static func tempDir() -> String {
        let u = FileManager.default.temporaryDirectory.appendingPathComponent("arca-vault-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: u, withIntermediateDirectories: true)
        return u.path
    }

    static let op = Principal.localOperator(user: "tester")

    /// A new vault sealed with a key file (fast to open), unsealed, with its key file's path.
    static func make(retentionDays: Int = 90) throws -> (Vault, EmbeddedVaultClient, String) {
        let dir = tempDir()
        let vault = try Vault(directory: dir + "/vault", create: true)
        let keyFile = dir + "/master.key"
        _ = try vault.initialize(.keyFile(path: keyFile), retentionDays: retentionDays, caller: op, source: "test")
        return (vault, EmbeddedVaultClient(vault: vault, caller: op, source: "test"), keyFile)
    }

    /// A high-entropy marker that cannot occur by chance in a file.
    static func marker() -> String {
        String((0..<40).map { _ in "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789".randomElement()! })
    }
}

import Crypto
import Foundation
import Testing
@testable import ArcaVault

@Suite struct StorageTests {
    func tempDir() -> URL {
        let u = FileManager.default.temporaryDirectory.appendingPathComponent("arca-vault-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: u, withIntermediateDirectories: true)
        return u
    }

    func marker() -> String {
        String((0..<40).map { _ in "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789".randomElement()! })
    }

    @Test func versionsRoundTripCaseInsensitively() throws {
        let dir = tempDir()
        let secrets = SecretStore(store: try VaultStore(path: dir.appendingPathComponent("vault.db").path), barrier: .generate())
        let v1 = try secrets.set(name: "Db-Password", value: Array("one".utf8), now: 1)
        let v2 = try secrets.set(name: "db-password", value: Array("two".utf8), now: 2)
        #expect(v1.count == 32 && v1 != v2)
        #expect(try secrets.get(name: "DB-PASSWORD").value == Array("two".utf8))
        #expect(try secrets.get(name: "db-password", version: v1).value == Array("one".utf8))
        #expect(try secrets.store.versions(name: "db-password").map(\.version) == [v1, v2])
        #expect(throws: SecretStore.Failure.notFound("nope")) { try secrets.get(name: "nope") }
        #expect(throws: SecretStore.Failure.badName("bad_name")) { try secrets.set(name: "bad_name", value: [1], now: 0) }
        #expect(throws: SecretStore.Failure.self) { try secrets.set(name: String(repeating: "a", count: 128), value: [1], now: 0) }
        #expect(throws: SecretStore.Failure.tooLarge(25 * 1024 + 1)) {
            try secrets.set(name: "big", value: [UInt8](repeating: 7, count: 25 * 1024 + 1), now: 0)
        }
    }

    /// The database and its -wal and -shm files hold no value or key, in the clear, hex or base64.
    @Test func filesHoldNoPlaintext() throws {
        let dir = tempDir()
        let path = dir.appendingPathComponent("vault.db").path
        let store = try VaultStore(path: path)
        let barrier = Barrier.generate()
        let master = SymmetricKey(size: .bits256)
        try store.setMeta("keyring", try SealedKeyring.seal(barrier, master: master, kind: .keyFile).bytes)
        let secrets = SecretStore(store: store, barrier: barrier)
        var needles: [String] = []
        for i in 0..<20 {
            let m = marker()
            try secrets.set(name: "secret-\(i)", value: Array(m.utf8), now: Int64(i))
            needles += [m, Hex.encode(Array(m.utf8)), Data(m.utf8).base64EncodedString()]
        }
        for key in barrier.keys.values + [master] {
            let bytes = key.withUnsafeBytes { Array($0) }
            needles += [Hex.encode(bytes), Data(bytes).base64EncodedString()]
        }
        var files = 0
        for suffix in ["", "-wal", "-shm"] {
            guard let data = FileManager.default.contents(atPath: path + suffix) else { continue }
            files += 1
            let text = String(decoding: data, as: UTF8.self)
            for n in needles { #expect(!text.contains(n), "\(suffix) holds a secret") }
            for key in barrier.keys.values + [master] {
                let raw = key.withUnsafeBytes { Data($0) }
                #expect(data.range(of: raw) == nil, "\(suffix) holds raw key bytes")
            }
        }
        #expect(files >= 2, "the WAL file was checked too")
    }

    @Test func movedOrAlteredRowsDoNotDecrypt() throws {
        let dir = tempDir()
        let secrets = SecretStore(store: try VaultStore(path: dir.appendingPathComponent("vault.db").path), barrier: .generate())
        let a = try secrets.set(name: "alpha", value: Array("alpha-value".utf8), now: 1)
        let b = try secrets.set(name: "beta", value: Array("beta-value".utf8), now: 1)
        let alphaEnvelope = try #require(try secrets.store.version(name: "alpha", version: a)).envelope
        try secrets.store.overwriteEnvelope(name: "beta", version: b, with: alphaEnvelope)
        #expect(throws: Barrier.Failure.authenticationFailed) { try secrets.get(name: "beta") }
        var altered = alphaEnvelope
        altered[altered.count - 20] ^= 0x40
        try secrets.store.overwriteEnvelope(name: "alpha", version: a, with: altered)
        #expect(throws: Barrier.Failure.authenticationFailed) { try secrets.get(name: "alpha") }
    }

    @Test func durabilityAndSchemaVersion() throws {
        let dir = tempDir()
        let path = dir.appendingPathComponent("vault.db").path
        let store = try VaultStore(path: path)
        #expect(try store.writerSynchronous() == 2, "synchronous = FULL on the writer (GRDB resets it to NORMAL)")
        try store.setMeta("schema", Array("9".utf8))
        #expect(throws: VaultStore.Failure.newerSchema(9)) { try VaultStore(path: path) }
    }
}

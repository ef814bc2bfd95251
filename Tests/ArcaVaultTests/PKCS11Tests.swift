import Foundation
import Testing
@testable import ArcaVault

/// A throwaway SoftHSM2 token. The test command installs SoftHSM2; in CI a missing one fails the tests
/// rather than skipping them.
enum SoftHSM {
    /// (folder, module) of a throwaway token store made by scripts/softhsm-token.sh, which the tests share with
    /// the CLI tests. SOFTHSM2_CONF is set for this process.
    static let setUp: (dir: String, module: String)? = {
        let dir = TestVault.tempDir()
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../scripts/softhsm-token.sh").standardized.path
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/bash")
        p.arguments = [script, dir]
        let out = Pipe()
        p.standardOutput = out
        guard (try? p.run()) != nil else { return nil }
        let module = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { return nil }
        setenv("SOFTHSM2_CONF", dir + "/softhsm2.conf", 1)
        return (dir, module)
    }()

    /// In CI a missing SoftHSM2 fails the test instead of skipping it.
    static var required: Bool { ProcessInfo.processInfo.environment["CI"] != nil }
}

@Suite(.serialized) struct PKCS11SealTests {
    @Test func tokenKeyIsNotExtractableAndWrapsTheMasterKey() async throws {
        guard let (dir, module) = SoftHSM.setUp else {
            #expect(!SoftHSM.required, "SoftHSM2 is missing: the test command installs it (apt softhsm2)")
            return
        }
        let config = PKCS11Token.Configuration(module: module, tokenLabel: "arca-test", pinFile: dir + "/pin")
        let pin = Array("1234".utf8)
        // Wrap and unwrap inside the token; a wrong AAD or a flipped bit fails.
        do {
            let token = try PKCS11Token(config, pin: pin, createKey: true)
            let flags = try token.keyFlags()
            #expect(flags.sensitive && !flags.extractable, "the wrapping key never leaves the token")
            let blob = try token.wrap(Array("master key bytes".utf8), aad: Array("aad".utf8))
            #expect(try token.unwrap(blob, aad: Array("aad".utf8)) == Array("master key bytes".utf8))
            #expect(throws: PKCS11Token.Failure.self) { try token.unwrap(blob, aad: Array("other".utf8)) }
            var flipped = blob
            flipped[14] ^= 1
            #expect(throws: PKCS11Token.Failure.self) { try token.unwrap(flipped, aad: Array("aad".utf8)) }
        }
        // Wrong PIN, wrong token, missing key, missing module: clear errors.
        #expect(throws: PKCS11Token.Failure.self) { try PKCS11Token(config, pin: Array("0000".utf8), createKey: false) }
        var otherToken = config
        otherToken.tokenLabel = "no-such-token"
        #expect(throws: PKCS11Token.Failure.self) { try PKCS11Token(otherToken, pin: pin, createKey: false) }
        var noKey = config
        noKey.keyLabel = "no-such-key"
        #expect(throws: PKCS11Token.Failure.self) { try PKCS11Token(noKey, pin: pin, createKey: false) }
        var noModule = config
        noModule.module = "/nonexistent/libpkcs11.so"
        do {
            _ = try PKCS11Token(noModule, pin: pin, createKey: false)
            Issue.record("a missing module loaded")
        } catch let e as PKCS11Token.Failure {
            #expect(e.description.contains("cannot load the PKCS#11 module"))
        }

        // A vault sealed by the token opens with nothing but the token's PIN (no person at start).
        let vaultDir = TestVault.tempDir()
        let v = try Vault(directory: vaultDir, create: true)
        let r = try v.initialize(.pkcs11(config, pin: pin), caller: TestVault.op, source: "t")
        #expect(r.seal == "pkcs11")
        _ = try await EmbeddedVaultClient(vault: v, caller: TestVault.op).setSecret("hsm-protected", value: "v1", options: .init())
        let reopened = try Vault(directory: vaultDir)
        #expect(try reopened.sealConfig()?.pkcs11 == config)
        try reopened.unseal(.pkcs11(pin: pin), caller: TestVault.op, source: "t", explicit: false)
        #expect(try await EmbeddedVaultClient(vault: reopened, caller: TestVault.op).getSecret("hsm-protected", version: nil).value == "v1")
        // A token with another wrapping key cannot open it.
        let impostor = try Vault(directory: vaultDir)
        var sameLabelOtherToken = config
        sameLabelOtherToken.tokenLabel = "other"
        _ = try PKCS11Token(sameLabelOtherToken, pin: Array("9999".utf8), createKey: true)
        let stolen = TestVault.tempDir()
        try FileManager.default.copyItem(atPath: vaultDir + "/vault.db", toPath: stolen + "/vault.db")
        let copy = try Vault(directory: stolen)
        try copy.store.tamper(sql: "UPDATE meta SET value = ? WHERE key = 'seal-config'", arguments: [
            Data(try JSONEncoder().encode(Vault.SealConfig(kind: "pkcs11", pkcs11: sameLabelOtherToken))),
        ])
        #expect(throws: VaultError.self) { try copy.unseal(.pkcs11(pin: Array("9999".utf8)), caller: TestVault.op, source: "t", explicit: false) }
        #expect(throws: VaultError.self) { try impostor.unseal(.pkcs11(pin: Array("0000".utf8)), caller: TestVault.op, source: "t", explicit: false) }
        // Rekey keeps the HSM seal.
        _ = try reopened.rekey(caller: TestVault.op, source: "t")
        let afterRekey = try Vault(directory: vaultDir)
        try afterRekey.unseal(.pkcs11(pin: pin), caller: TestVault.op, source: "t", explicit: false)
        #expect(try await EmbeddedVaultClient(vault: afterRekey, caller: TestVault.op).getSecret("hsm-protected", version: nil).value == "v1")
    }
}

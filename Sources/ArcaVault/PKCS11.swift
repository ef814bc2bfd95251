import CPKCS11
import Crypto

/// A PKCS#11 token (an HSM, or SoftHSM2 in tests) that holds the vault's wrapping key: a 256-bit AES key that
/// is sensitive and not extractable, so the master key can only be unwrapped by asking the token.
///
/// One session, used for one operation at a time: the seal only talks to the token when the vault is
/// initialised, unsealed or rekeyed.
public final class PKCS11Token {
    /// Where the token is and how to log in; none of it is secret except the PIN, which is read from a file.
    public struct Configuration: Sendable, Equatable, Codable {
        public var module: String
        public var tokenLabel: String
        public var pinFile: String
        public var keyLabel: String

        public init(module: String, tokenLabel: String, pinFile: String, keyLabel: String = "arca-vault-wrap") {
            self.module = module
            self.tokenLabel = tokenLabel
            self.pinFile = pinFile
            self.keyLabel = keyLabel
        }
    }

    public struct Failure: Error, Equatable, Sendable, CustomStringConvertible {
        public var operation: String
        public var code: UInt
        public var detail: String

        public var description: String {
            let name: String
            switch code {
            case UInt(ARCA_P11_ERR_DLOPEN): name = "cannot load the PKCS#11 module"
            case UInt(ARCA_P11_ERR_SYMBOL): name = "not a PKCS#11 module"
            case UInt(ARCA_P11_ERR_NO_TOKEN): name = "no token with that label"
            case UInt(ARCA_P11_ERR_NO_KEY): name = "the token holds no wrapping key with that label"
            case UInt(ARCA_P11_ERR_AMBIGUOUS): name = "the token holds more than one key with that label"
            case 0xa0: name = "CKR_PIN_INCORRECT"
            case 0xa4: name = "CKR_PIN_LOCKED"
            case 0x5: name = "CKR_GENERAL_ERROR (a GCM tag that does not verify comes back as this)"
            case 0x40: name = "CKR_ENCRYPTED_DATA_INVALID"
            case 0x70: name = "CKR_MECHANISM_INVALID"
            default: name = "CKR 0x" + String(code, radix: 16)
            }
            return "PKCS#11 \(operation): \(name)" + (detail.isEmpty ? "" : " (\(detail))")
        }
    }

    private let handle: OpaquePointer
    private let key: UInt

    /// Opens a session on the token and finds (or, with `createKey`, generates) the wrapping key.
    public init(_ config: Configuration, pin: [UInt8], createKey: Bool) throws {
        var out: OpaquePointer?
        var detail = [CChar](repeating: 0, count: 256)
        let rv = arca_p11_open(config.module, config.tokenLabel, pin, pin.count, &out, &detail, detail.count)
        guard rv == 0, let out else {
            let text = String(decoding: detail.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw Failure(operation: "open \(config.module) token '\(config.tokenLabel)'", code: UInt(rv), detail: text)
        }
        var k: UInt = 0
        let krv = arca_p11_aes_key(out, config.keyLabel, createKey ? 1 : 0, &k)
        guard krv == 0 else {
            arca_p11_close(out)
            throw Failure(operation: "key '\(config.keyLabel)'", code: UInt(krv), detail: "")
        }
        handle = out
        key = k
    }

    deinit { arca_p11_close(handle) }

    /// The wrapping key's CKA_SENSITIVE and CKA_EXTRACTABLE flags, as the token reports them.
    public func keyFlags() throws -> (sensitive: Bool, extractable: Bool) {
        var s: Int32 = 0, e: Int32 = 1
        let rv = arca_p11_key_flags(handle, key, &s, &e)
        guard rv == 0 else { throw Failure(operation: "read key attributes", code: UInt(rv), detail: "") }
        return (s != 0, e != 0)
    }

    /// AES-256-GCM inside the token: returns nonce (12) ‖ ciphertext ‖ tag (16).
    public func wrap(_ plaintext: [UInt8], aad: [UInt8]) throws -> [UInt8] {
        let nonce = Array(AES.GCM.Nonce())
        var out = [UInt8](repeating: 0, count: plaintext.count + 16)
        var length = out.count
        let rv = arca_p11_aes_gcm(handle, key, 1, nonce, nonce.count, aad, aad.count, plaintext, plaintext.count,
                                  &out, &length)
        guard rv == 0 else { throw Failure(operation: "encrypt", code: UInt(rv), detail: "") }
        return nonce + out.prefix(length)
    }

    /// Reverses ``wrap(_:aad:)``; a wrong key, AAD or altered blob fails.
    public func unwrap(_ blob: [UInt8], aad: [UInt8]) throws -> [UInt8] {
        guard blob.count >= 12 + 16 else { throw Failure(operation: "decrypt", code: 0x40, detail: "too short") }
        let nonce = Array(blob.prefix(12)), body = Array(blob.dropFirst(12))
        var out = [UInt8](repeating: 0, count: body.count)
        var length = out.count
        let rv = arca_p11_aes_gcm(handle, key, 0, nonce, nonce.count, aad, aad.count, body, body.count, &out, &length)
        guard rv == 0 else { throw Failure(operation: "decrypt", code: UInt(rv), detail: "") }
        return Array(out.prefix(length))
    }
}

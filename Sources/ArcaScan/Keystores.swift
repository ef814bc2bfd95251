import Crypto

/// Key stores recognised by their magic bytes, whatever their name: Java keystores (JKS, JCEKS) and PKCS#12
/// files (`.p12`, `.pfx`). They are binary, so no text rule sees them; they hold private keys protected only
/// by a store password (often `changeit`), so they are reported as key material — never opened or cracked.
///
/// The finding's "secret" is `sha256:` and the file's digest: what identifies the file (fingerprints,
/// baselines), never its content.
public enum Keystores {
    public struct Kind: Sendable {
        public var id: String
        public var description: String
    }

    public static let javaKeystore = Kind(
        id: "java-keystore", description: "Java keystore (JKS/JCEKS): private keys behind a store password")
    public static let pkcs12 = Kind(
        id: "pkcs12-keystore", description: "PKCS#12 key store (.p12/.pfx): private keys behind a password")

    /// The kind of key store `buf` is, from its first bytes.
    public static func kind(_ buf: UnsafeRawBufferPointer) -> Kind? {
        guard buf.count >= 32 else { return nil }
        // JKS: FE ED FE ED, JCEKS: CE CE CE CE, then the format version (1 or 2) as a 32-bit big-endian integer.
        let magic = (buf[0], buf[1], buf[2], buf[3])
        if magic == (0xFE, 0xED, 0xFE, 0xED) || magic == (0xCE, 0xCE, 0xCE, 0xCE) {
            guard buf[4] == 0 && buf[5] == 0 && buf[6] == 0 && (buf[7] == 1 || buf[7] == 2) else { return nil }
            return onlyTrustedCertificates(buf) ? nil : javaKeystore
        }
        // PKCS#12 (RFC 7292): SEQUENCE { version INTEGER 3, authSafe ContentInfo { contentType pkcs7-data … } }.
        guard buf[0] == 0x30 else { return nil }
        let lengthBytes = buf[1] & 0x80 != 0 ? Int(buf[1] & 0x7F) : 0
        guard lengthBytes <= 4 else { return nil }
        var i = 2 + lengthBytes
        guard i + 3 <= buf.count, buf[i] == 0x02, buf[i + 1] == 0x01, buf[i + 2] == 0x03 else { return nil }
        i += 3
        let oid: [UInt8] = [0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07]  // 1.2.840.113549.1.7.x
        let window = min(buf.count, i + 16)
        var j = i
        while j + oid.count <= window {
            if (0..<oid.count).allSatisfy({ buf[j + $0] == oid[$0] }) { return pkcs12 }
            j += 1
        }
        return nil
    }

    /// Whether a JKS/JCEKS store holds trusted certificates only (a truststore: public data, no key). Any
    /// private-key or secret-key entry, or a layout this walk does not follow, counts as key material.
    static func onlyTrustedCertificates(_ buf: UnsafeRawBufferPointer) -> Bool {
        func u32(_ i: Int) -> Int? {
            guard i + 4 <= buf.count else { return nil }
            return Int(buf[i]) << 24 | Int(buf[i + 1]) << 16 | Int(buf[i + 2]) << 8 | Int(buf[i + 3])
        }
        func utf(_ i: Int) -> Int? {  // a Java modified-UTF string: its end
            guard i + 2 <= buf.count else { return nil }
            let end = i + 2 + (Int(buf[i]) << 8 | Int(buf[i + 1]))
            return end <= buf.count ? end : nil
        }
        let version = Int(buf[7])
        guard let count = u32(8), count > 0, count < 100_000 else { return false }
        var i = 12
        for _ in 0..<count {
            guard let tag = u32(i), tag == 2, let alias = utf(i + 4) else { return false }
            i = alias + 8  // the entry's date
            if version == 2 { guard let type = utf(i) else { return false }; i = type }
            guard let length = u32(i), i + 4 + length <= buf.count else { return false }
            i += 4 + length
        }
        return true
    }

    /// A finding for `buf` when it is a key store.
    static func finding(_ buf: UnsafeRawBufferPointer, path: String) -> Finding? {
        guard let kind = kind(buf) else { return nil }
        let digest = Finding.hex(SHA256.hash(data: buf))
        let secret = "sha256:" + digest
        return Finding(
            kind: .secret, ruleID: kind.id, ruleDescription: kind.description, provider: "Private key",
            severity: .high, confidence: .medium, path: path, line: 1, column: 1, endLine: 1, endColumn: 1,
            secret: secret, variable: nil, language: nil, credentialName: nil, entropy: 0, checksum: nil,
            contextBefore: "", contextAfter: "(binary key store, \(buf.count) bytes)",
            fingerprint: Finding.fingerprint(rule: kind.id, path: path, secret: secret))
    }
}

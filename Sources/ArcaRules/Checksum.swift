/// Offline checksum validators for tokens that carry one.
public enum Checksum {
    /// Result of checking a token.
    public enum Verdict: String, Sendable, Codable {
        case valid, invalid, notApplicable = "n/a"
    }

    /// Checks `token` with `kind`.
    public static func verify(_ token: String, kind: ChecksumKind) -> Verdict {
        switch kind {
        case .crc32Base62Last6: return crc32Base62Last6(token)
        }
    }

    /// GitHub (`ghp_`, `gho_`, `ghu_`, `ghs_`, `ghr_`) and npm (`npm_`) tokens: after the prefix come 30 random
    /// base62 characters and then 6 characters that encode the CRC32 of those 30 in base62, left-padded with `0`.
    static func crc32Base62Last6(_ token: String) -> Verdict {
        guard let underscore = token.lastIndex(of: "_") else { return .notApplicable }
        let body = Array(token[token.index(after: underscore)...].utf8)
        guard body.count == 36 else { return .notApplicable }
        let random = body[0..<30]
        let expected = base62(crc32(random), width: 6)
        return Array(body[30...]) == expected ? .valid : .invalid
    }

    /// The IEEE CRC-32 of `bytes` (as zlib's `crc32`).
    public static func crc32<C: Collection>(_ bytes: C) -> UInt32 where C.Element == UInt8 {
        var crc: UInt32 = 0xffff_ffff
        for b in bytes {
            crc = table[Int((crc ^ UInt32(b)) & 0xff)] ^ (crc >> 8)
        }
        return crc ^ 0xffff_ffff
    }

    /// `value` in base62 (`0-9A-Za-z`), left-padded with `0` to `width` digits.
    public static func base62(_ value: UInt32, width: Int) -> [UInt8] {
        let alphabet = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".utf8)
        var v = value
        var digits: [UInt8] = []
        repeat {
            digits.append(alphabet[Int(v % 62)])
            v /= 62
        } while v > 0
        while digits.count < width { digits.append(UInt8(ascii: "0")) }
        return digits.reversed()
    }

    private static let table: [UInt32] = (0..<256).map { i -> UInt32 in
        var c = UInt32(i)
        for _ in 0..<8 { c = (c & 1) != 0 ? 0xedb8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }
}

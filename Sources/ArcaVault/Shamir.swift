/// Shamir's secret sharing over GF(2⁸) (the AES field, polynomial x⁸ + x⁴ + x³ + x + 1), byte by byte.
///
/// A share is its x coordinate (1…255) followed by one y byte per secret byte. Any `threshold` distinct shares
/// rebuild the secret; fewer reveal nothing about it.
public enum Shamir {
    /// A share as printed to the operator.
    public struct Share: Sendable, Hashable {
        public var x: UInt8
        public var y: [UInt8]

        public init(x: UInt8, y: [UInt8]) {
            self.x = x
            self.y = y
        }

        /// `x` then `y`, as stored or encoded.
        public var bytes: [UInt8] { [x] + y }

        public init?(bytes: [UInt8]) {
            guard bytes.count >= 2, bytes[0] != 0 else { return nil }
            self.init(x: bytes[0], y: Array(bytes.dropFirst()))
        }
    }

    public enum Failure: Error, Equatable, Sendable {
        case badParameters(String)
        case notEnoughShares(have: Int, need: Int)
        case inconsistentShares
    }

    /// Splits `secret` into `count` shares, any `threshold` of which rebuild it.
    public static func split<R: RandomNumberGenerator>(_ secret: [UInt8], count: Int, threshold: Int,
                                                      using rng: inout R) throws(Failure) -> [Share] {
        guard !secret.isEmpty else { throw .badParameters("the secret is empty") }
        guard threshold >= 2, threshold <= count, count <= 255 else {
            throw .badParameters("need 2 ≤ threshold ≤ shares ≤ 255 (got \(threshold) of \(count))")
        }
        var shares = (1...count).map { Share(x: UInt8($0), y: []) }
        for byte in secret {
            // A random polynomial of degree threshold-1 whose constant term is the secret byte.
            var coefficients = [byte]
            for _ in 1..<threshold { coefficients.append(UInt8.random(in: 0...255, using: &rng)) }
            for i in shares.indices { shares[i].y.append(evaluate(coefficients, at: shares[i].x)) }
        }
        return shares
    }

    /// Splits with the system's cryptographic random source.
    public static func split(_ secret: [UInt8], count: Int, threshold: Int) throws(Failure) -> [Share] {
        var rng = SystemRandomNumberGenerator()
        return try split(secret, count: count, threshold: threshold, using: &rng)
    }

    /// Rebuilds the secret from at least `threshold` distinct shares (Lagrange interpolation at x = 0).
    public static func combine(_ shares: [Share], threshold: Int) throws(Failure) -> [UInt8] {
        var distinct: [Share] = []
        for s in shares where !distinct.contains(where: { $0.x == s.x }) { distinct.append(s) }
        guard distinct.count >= threshold else { throw .notEnoughShares(have: distinct.count, need: threshold) }
        let used = Array(distinct.prefix(threshold))
        let length = used[0].y.count
        guard used.allSatisfy({ $0.y.count == length && $0.x != 0 }) else { throw .inconsistentShares }
        var secret = [UInt8](repeating: 0, count: length)
        for (i, si) in used.enumerated() {
            // Lagrange basis at 0: Π x_j / (x_j - x_i) over j ≠ i; subtraction is XOR in GF(2⁸).
            var basis: UInt8 = 1
            for (j, sj) in used.enumerated() where j != i {
                basis = mul(basis, div(sj.x, sj.x ^ si.x))
            }
            for k in 0..<length { secret[k] ^= mul(si.y[k], basis) }
        }
        return secret
    }

    static func evaluate(_ coefficients: [UInt8], at x: UInt8) -> UInt8 {
        var result: UInt8 = 0
        for c in coefficients.reversed() { result = mul(result, x) ^ c }  // Horner
        return result
    }

    /// Multiplication in GF(2⁸) without table lookups indexed by secret data (constant time per call).
    static func mul(_ a: UInt8, _ b: UInt8) -> UInt8 {
        var a = a, b = b, p: UInt8 = 0
        for _ in 0..<8 {
            p ^= a & (0 &- (b & 1))
            let carry = a >> 7
            a = (a << 1) ^ (0x1b & (0 &- carry))
            b >>= 1
        }
        return p
    }

    /// a⁻¹ = a²⁵⁴ in GF(2⁸).
    static func inverse(_ a: UInt8) -> UInt8 {
        var result: UInt8 = 1, base = a, e = 254
        while e > 0 {
            if e & 1 == 1 { result = mul(result, base) }
            base = mul(base, base)
            e >>= 1
        }
        return result
    }

    static func div(_ a: UInt8, _ b: UInt8) -> UInt8 { mul(a, inverse(b)) }
}

import Crypto
import CryptoExtras
import Testing
@testable import ArcaVault

/// A deterministic generator for known-answer tests (never used outside tests).
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite struct ShamirTests {
    @Test(arguments: [
        (UInt8(0x57), UInt8(0x83), UInt8(0xC1)),  // FIPS-197 §4.2
        (0x57, 0x13, 0xFE), (0x01, 0xAB, 0xAB), (0x00, 0x7F, 0x00), (0x02, 0x80, 0x1B),
    ])
    func fieldMultiplicationKnownAnswers(_ a: UInt8, _ b: UInt8, _ product: UInt8) {
        #expect(Shamir.mul(a, b) == product)
        #expect(Shamir.mul(b, a) == product)
    }

    @Test func everyNonZeroElementHasAnInverse() {
        for a in 1...255 { #expect(Shamir.mul(UInt8(a), Shamir.inverse(UInt8(a))) == 1) }
    }

    @Test func knownAnswerSplit() throws {
        // threshold 2: y = secret ⊕ c·x, with c drawn from the seeded generator.
        var rng = SplitMix64(state: 42)
        let shares = try Shamir.split([0x2A], count: 3, threshold: 2, using: &rng)
        var again = SplitMix64(state: 42)
        let c = UInt8.random(in: 0...255, using: &again)
        #expect(shares.map(\.y) == [[0x2A ^ Shamir.mul(c, 1)], [0x2A ^ Shamir.mul(c, 2)], [0x2A ^ Shamir.mul(c, 3)]])
    }

    @Test(arguments: [(2, 2), (3, 5), (5, 5), (4, 10)])
    func anyThresholdSubsetRebuildsTheSecret(_ threshold: Int, _ count: Int) throws {
        let secret = Array((0..<32).map { UInt8($0 * 7 & 0xff) })
        let shares = try Shamir.split(secret, count: count, threshold: threshold)
        #expect(Set(shares.map(\.x)).count == count)
        for start in 0...(count - threshold) {
            let subset = Array(shares[start..<(start + threshold)].reversed())
            #expect(try Shamir.combine(subset, threshold: threshold) == secret)
        }
        if threshold > 2 {
            // One share short: refused (and interpolating too few points would give another value).
            #expect(throws: Shamir.Failure.notEnoughShares(have: threshold - 1, need: threshold)) {
                try Shamir.combine(Array(shares.prefix(threshold - 1)), threshold: threshold)
            }
            let wrong = try Shamir.combine(Array(shares.prefix(threshold - 1)), threshold: threshold - 1)
            #expect(wrong != secret)
        }
    }

    @Test func badInputIsRefused() throws {
        #expect(throws: Shamir.Failure.self) { try Shamir.split([1], count: 3, threshold: 1) }
        #expect(throws: Shamir.Failure.self) { try Shamir.split([1], count: 2, threshold: 3) }
        #expect(throws: Shamir.Failure.self) { try Shamir.split([], count: 3, threshold: 2) }
        let shares = try Shamir.split([1, 2, 3], count: 3, threshold: 2)
        #expect(throws: Shamir.Failure.notEnoughShares(have: 1, need: 2)) {
            try Shamir.combine([shares[0], shares[0]], threshold: 2)
        }
        var short = shares[1]
        short.y.removeLast()
        #expect(throws: Shamir.Failure.inconsistentShares) { try Shamir.combine([shares[0], short], threshold: 2) }
        #expect(Shamir.Share(bytes: shares[0].bytes) == shares[0])
        #expect(Shamir.Share(bytes: [0, 1]) == nil)
    }
}

@Suite struct BarrierTests {
    let secret = Array("s3cr3t-value-Kq9vR2mZpLw7".utf8)

    @Test func roundTripAndPathBinding() throws {
        let b = Barrier.generate()
        let env = try b.seal(secret, path: "secrets/db-password/v1")
        #expect(try b.open(env, path: "secrets/db-password/v1") == secret)
        #expect(Array(env.prefix(5)) == Array("ARCA".utf8) + [1])
        #expect(throws: Barrier.Failure.authenticationFailed) { try b.open(env, path: "secrets/other/v1") }
        var altered = env
        altered[30] ^= 0x01
        #expect(throws: Barrier.Failure.authenticationFailed) { try b.open(altered, path: "secrets/db-password/v1") }
        #expect(!env.windows(ofCount: secret.count).contains { Array($0) == secret })
    }

    @Test func versionsAndTerms() throws {
        let b = Barrier.generate()
        let env = try b.seal(secret, path: "p")
        var newer = env
        newer[4] = 2
        #expect(throws: Barrier.Failure.newerFormat(2)) { try b.open(newer, path: "p") }
        #expect(throws: Barrier.Failure.notAnEnvelope) { try b.open(Array("garbage".utf8), path: "p") }
        let rotated = b.rotated()
        #expect(rotated.activeTerm == 2)
        #expect(try rotated.open(env, path: "p") == secret, "old entries stay readable after rotation")
        let fresh = try rotated.seal(secret, path: "p")
        #expect(Array(fresh[5..<9]) == [0, 0, 0, 2])
        #expect(throws: Barrier.Failure.unknownTerm(2)) { try b.open(fresh, path: "p") }
    }

    @Test func aesGCMKnownAnswer() throws {
        // NIST SP 800-38D / McGrew–Viega test case 13: 256-bit zero key, zero nonce, empty plaintext.
        let key = SymmetricKey(data: [UInt8](repeating: 0, count: 32))
        let box = try AES.GCM.seal([UInt8](), using: key, nonce: AES.GCM.Nonce(data: [UInt8](repeating: 0, count: 12)))
        #expect(Array(box.tag) == [0x53, 0x0f, 0x8a, 0xfb, 0xc7, 0x45, 0x36, 0xb9, 0xa9, 0x63, 0xb4, 0xf1, 0xc4, 0xcb, 0x73, 0x8b])
    }
}

extension Array {
    func windows(ofCount n: Int) -> [ArraySlice<Element>] {
        guard n <= count else { return [] }
        return (0...(count - n)).map { self[$0..<($0 + n)] }
    }
}

@Suite struct SealTests {
    @Test func scryptKnownAnswerRFC7914() throws {
        // RFC 7914 §12: P = "password", S = "NaCl", N = 1024, r = 8, p = 16, dkLen = 64.
        let key = try KDF.Scrypt.deriveKey(from: Array("password".utf8), salt: Array("NaCl".utf8), outputByteCount: 64,
                                           rounds: 1024, blockSize: 8, parallelism: 16)
        let hex = key.withUnsafeBytes { Hex.encode(Array($0)) }
        #expect(hex == "fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b3731622eaf30d92e22a3886ff109279d9830dac727afb94a83ee6d8360cbdfa2cc0640")
    }

    static let fast = MasterKey.ScryptParameters(logN: 10, r: 8, p: 1)

    @Test func passphraseSealRoundTrip() throws {
        let barrier = Barrier.generate().rotated()
        let salt = Array("0123456789abcdef".utf8)
        let master = try MasterKey.fromPassphrase("correct horse battery staple", salt: salt, parameters: Self.fast)
        let keyring = Keyring(barrier: barrier, auditKey: .init())
        let sealed = try SealedKeyring.seal(keyring, master: master, kind: .passphrase, salt: salt, scrypt: Self.fast)
        let parsed = try SealedKeyring(bytes: sealed.bytes)
        #expect(parsed == sealed)
        let again = try MasterKey.fromPassphrase("correct horse battery staple", salt: parsed.salt, parameters: parsed.scrypt)
        let openedRing = try parsed.unseal(master: again)
        let opened = openedRing.barrier
        #expect(opened.activeTerm == 2)
        #expect(openedRing.auditPublicKeyHex == keyring.auditPublicKeyHex)
        let env = try barrier.seal(Array("v".utf8), path: "p")
        #expect(try opened.open(env, path: "p") == Array("v".utf8))
        let wrong = try MasterKey.fromPassphrase("Correct horse battery staple", salt: salt, parameters: Self.fast)
        #expect(throws: SealedKeyring.Failure.wrongKey) { try parsed.unseal(master: wrong) }
        #expect(throws: MasterKey.Failure.emptyPassphrase) { try MasterKey.fromPassphrase("", salt: salt, parameters: Self.fast) }
        // No key byte of the keyring is in the stored form.
        let stored = sealed.bytes
        for key in Array(barrier.keys.values) + [SymmetricKey(data: keyring.auditKey.rawRepresentation)] {
            let k = key.withUnsafeBytes { Array($0) }
            #expect(!stored.windows(ofCount: 8).contains { Array($0) == Array(k.prefix(8)) })
        }
    }

    @Test func keyFileAndSharesSeal() throws {
        let barrier = Keyring.generate()
        let file = MasterKey.newKeyFile()
        let fromFile = try MasterKey.fromKeyFile(Array(("  " + file).utf8))
        let sealed = try SealedKeyring.seal(barrier, master: fromFile, kind: .keyFile)
        #expect(try SealedKeyring(bytes: sealed.bytes).unseal(master: MasterKey.fromKeyFile(Array(file.utf8))).barrier.keys.count == 1)
        #expect(throws: MasterKey.Failure.self) { try MasterKey.fromKeyFile(Array("not hex".utf8)) }

        let (master, shares) = try MasterKey.newShares(count: 5, threshold: 3)
        let sealedShares = try SealedKeyring.seal(barrier, master: master, kind: .shamir, threshold: 3, shareCount: 5)
        let parsed = try SealedKeyring(bytes: sealedShares.bytes)
        #expect(parsed.threshold == 3 && parsed.shareCount == 5)
        let rebuilt = try MasterKey.fromShares([shares[4], shares[1], shares[2]], threshold: Int(parsed.threshold))
        #expect(try parsed.unseal(master: rebuilt).barrier.keys.count == 1)
        #expect(throws: MasterKey.Failure.self) { try MasterKey.fromShares([shares[0], shares[1]], threshold: 3) }
    }

    @Test func tamperedOrNewerKeyringsAreRefused() throws {
        let master = SymmetricKey(size: .bits256)
        let sealed = try SealedKeyring.seal(Keyring.generate(), master: master, kind: .keyFile)
        var bytes = sealed.bytes
        bytes[4] = 9
        #expect(throws: SealedKeyring.Failure.newerFormat(9)) { try SealedKeyring(bytes: bytes) }
        bytes = sealed.bytes
        bytes[8] ^= 1  // an authenticated header byte (scrypt r)
        #expect(throws: SealedKeyring.Failure.wrongKey) { try SealedKeyring(bytes: bytes).unseal(master: master) }
        #expect(throws: SealedKeyring.Failure.notAKeyring) { try SealedKeyring(bytes: Array("garbage!".utf8)) }
    }
}

@Suite struct AuditChainTests {
    let key = Curve25519.Signing.PrivateKey()

    func trail(_ n: Int) throws -> ([AuditRecord], [AuditCheckpoint]) {
        var records: [AuditRecord] = []
        var checkpoints: [AuditCheckpoint] = []
        for i in 1...n {
            let r = AuditChain.next(after: records.last, time: "2026-11-29T10:00:\(10 + i)Z", caller: "app-\(i % 3)",
                                    operation: i == 1 ? "VaultInitialize" : i % 2 == 0 ? "SecretGet" : "SecretSet", secretName: "db-password",
                                    secretVersion: "v\(i)", result: i % 5 == 0 ? "denied" : "allowed", source: "127.0.0.1")
            records.append(r)
            if i % 4 == 0 || i == n { checkpoints.append(try AuditChain.checkpoint(r, key: key)) }
        }
        return (records, checkpoints)
    }

    @Test func intactTrailVerifies() throws {
        let (r, c) = try trail(10)
        #expect(AuditChain.verify(r, checkpoints: c, publicKey: key.publicKey, requireFullCoverage: true) == nil)
        #expect(r[0].previousHash == AuditChain.genesis && r[1].previousHash == r[0].hash)
    }

    @Test func tamperingIsNamed() throws {
        let (r, c) = try trail(10)
        let pub = key.publicKey
        var altered = r
        altered[4].result = "allowed"
        #expect(AuditChain.verify(altered, checkpoints: c, publicKey: pub) == .altered(sequence: 5))
        var rehashed = r
        rehashed[4].result = "allowed"
        rehashed[4].hash = rehashed[4].computedHash()  // a forger who rehashes breaks the link to record 6
        #expect(AuditChain.verify(rehashed, checkpoints: c, publicKey: pub) == .inserted(sequence: 6))
        var deleted = r
        deleted.remove(at: 6)
        #expect(AuditChain.verify(deleted, checkpoints: c, publicKey: pub) == .deleted(after: 6))
        var reordered = r
        reordered.swapAt(2, 3)
        #expect(AuditChain.verify(reordered, checkpoints: c, publicKey: pub) == .reordered(sequence: 4))
        var swappedBack = r
        let moved = swappedBack.remove(at: 7)
        swappedBack.insert(moved, at: 2)
        #expect(AuditChain.verify(swappedBack, checkpoints: c, publicKey: pub) == .reordered(sequence: 8))
        let tail = Array(r.prefix(8))
        #expect(AuditChain.verify(tail, checkpoints: c, publicKey: pub) == .deleted(after: 8), "signed tail records were cut")
        let otherKey = Curve25519.Signing.PrivateKey()
        #expect(AuditChain.verify(r, checkpoints: c, publicKey: otherKey.publicKey) == .badCheckpoint(sequence: 4))
        // A whole forged trail, rehashed and relinked, fails on the first checkpoint.
        var forged: [AuditRecord] = []
        for x in r {
            forged.append(AuditChain.next(after: forged.last, time: x.time, caller: "intruder", operation: x.operation,
                                          result: x.result, source: x.source))
        }
        #expect(AuditChain.verify(forged, checkpoints: c, publicKey: pub) == .badCheckpoint(sequence: 4))
        var early = r
        early.insert(r[3], at: 3)
        #expect(AuditChain.verify(early, checkpoints: c, publicKey: pub) == .reordered(sequence: 4))
    }

    @Test func recordsCarryNoSecretValues() throws {
        let r = AuditChain.next(after: nil, time: "t", caller: "c", operation: "SecretSet", secretName: "n",
                                secretVersion: "v", result: "allowed", source: "s")
        // The record type has no field for a value: this documents it, and fails if one is ever added.
        #expect(Mirror(reflecting: r).children.compactMap(\.label).sorted()
                == ["caller", "count", "format", "hash", "operation", "previousHash", "result", "secretName",
                    "secretVersion", "sequence", "source", "time"])
    }
}

import ArcaVault
import Crypto
import Foundation
import JWTKit

/// The server's own OAuth2 authority: access tokens are ES256 JWTs signed with a key kept sealed in the vault
/// file, so they survive restarts and a copy of the file without the master key cannot mint them.
final class TokenService: Sendable {
    static let lifetime: TimeInterval = 3600

    let keys: JWTKeyCollection
    let kid: String
    let publicJWK: [String: String]
    let issuer: String
    let audience: String
    let tenantId: String
    /// Tokens already verified, by their SHA-256, with the payload, until they expire: the ES256 check runs
    /// once per token, not once per request. Only a token byte for byte the same hits; a full cache is emptied.
    let verified = VerifiedTokens()

    struct AccessPayload: JWTPayload {
        var iss: IssuerClaim
        var aud: AudienceClaim
        var exp: ExpirationClaim
        var nbf: NotBeforeClaim
        var iat: IssuedAtClaim
        var sub: SubjectClaim
        var oid: String
        var tid: String
        var appid: String?
        var name: String?
        var idtyp: String
        var ver: String

        func verify(using algorithm: some JWTAlgorithm) throws {
            try exp.verifyNotExpired(currentDate: Date())
            try nbf.verifyNotBefore(currentDate: Date().addingTimeInterval(60))
        }
    }

    init(signingKey raw: [UInt8], issuer: String, audience: String, tenantId: String) async throws {
        let p256 = try P256.Signing.PrivateKey(rawRepresentation: raw)
        let key = try ES256PrivateKey(backing: p256)
        kid = Hex.encode(Array(SHA256.hash(data: p256.publicKey.rawRepresentation).prefix(8)))
        keys = JWTKeyCollection()
        await keys.add(ecdsa: key, kid: JWKIdentifier(string: kid))
        let x963 = Array(p256.publicKey.x963Representation)
        publicJWK = ["kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": kid,
                     "x": Base64URL.encode(Array(x963[1..<33])), "y": Base64URL.encode(Array(x963[33..<65]))]
        self.issuer = issuer
        self.audience = audience
        self.tenantId = tenantId
    }

    func issue(for entry: DirectoryEntry) async throws -> (token: String, expiresIn: Int) {
        (try await sign(for: entry, issuedAt: Date()), Int(Self.lifetime))
    }

    /// A token for `entry` issued at `now` (tests mint expired ones with an earlier time).
    func sign(for entry: DirectoryEntry, issuedAt now: Date) async throws -> String {
        let payload = AccessPayload(
            iss: .init(value: issuer), aud: .init(value: [audience]), exp: .init(value: now + Self.lifetime),
            nbf: .init(value: now - 60), iat: .init(value: now), sub: .init(value: entry.objectId), oid: entry.objectId,
            tid: tenantId, appid: entry.clientId, name: entry.name, idtyp: entry.kind == .application ? "app" : "user", ver: "2.0")
        return try await keys.sign(payload, kid: JWKIdentifier(string: kid), header: ["typ": "JWT"])
    }

    enum Rejection: Error, CustomStringConvertible {
        case missing, malformed, badSignature, expired, wrongAudience, wrongIssuer, unknownPrincipal

        var description: String {
            switch self {
            case .missing: return "AKV10000: Request is missing a Bearer or PoP token."
            case .malformed: return "AKV10000: The bearer token is malformed."
            case .badSignature: return "AKV10032: Invalid issuer or signature."
            case .expired: return "AKV10022: Invalid audience or token is expired or not yet valid."
            case .wrongAudience: return "AKV10022: Invalid audience."
            case .wrongIssuer: return "AKV10032: Invalid issuer."
            case .unknownPrincipal: return "AKV10046: The caller is unknown or disabled."
            }
        }
    }

    /// The verified payload of a bearer token: signature (ES256 with our key only; `alg: none` and foreign
    /// keys fail), time window, audience, issuer and tenant.
    func verify(_ token: String) async throws(Rejection) -> AccessPayload {
        let digest = Array(SHA256.hash(data: Array(token.utf8)))
        if let payload = verified.payload(digest, now: Date()) { return payload }
        let payload = try await verifyAfresh(token)
        verified.remember(digest, payload)
        return payload
    }

    func verifyAfresh(_ token: String) async throws(Rejection) -> AccessPayload {
        let payload: AccessPayload
        do {
            payload = try await keys.verify(token, as: AccessPayload.self)
        } catch let e as JWTError {
            switch e.errorType {
            case .claimVerificationFailure: throw .expired
            case .malformedToken, .missingKIDHeader: throw .malformed
            default: throw .badSignature
            }
        } catch {
            throw .malformed
        }
        guard payload.aud.value.contains(audience) else { throw .wrongAudience }
        guard payload.iss.value == issuer, payload.tid == tenantId else { throw .wrongIssuer }
        return payload
    }

    /// What a client assertion (certificate sign-in) carries.
    struct AssertionPayload: JWTPayload {
        var aud: AudienceClaim
        var iss: IssuerClaim
        var sub: SubjectClaim
        var exp: ExpirationClaim
        var jti: IDClaim?

        func verify(using algorithm: some JWTAlgorithm) throws {
            try exp.verifyNotExpired(currentDate: Date())
        }
    }
}

/// The verified-token cache of ``TokenService``: bounded, each entry valid inside its token's own window.
final class VerifiedTokens: @unchecked Sendable {
    static let capacity = 4096
    private let lock = NSLock()
    private var entries: [[UInt8]: TokenService.AccessPayload] = [:]

    func payload(_ digest: [UInt8], now: Date) -> TokenService.AccessPayload? {
        lock.withLock {
            guard let p = entries[digest] else { return nil }
            guard p.exp.value > now, p.nbf.value <= now.addingTimeInterval(60) else {
                entries[digest] = nil
                return nil
            }
            return p
        }
    }

    func remember(_ digest: [UInt8], _ payload: TokenService.AccessPayload) {
        lock.withLock {
            if entries.count >= Self.capacity { entries.removeAll(keepingCapacity: true) }
            entries[digest] = payload
        }
    }
}

import ArcaJSON
import ArcaVault
import Crypto
import Foundation
import Hummingbird
import JWTKit
import NIOCore

/// Arca's OAuth2 authority: what azure-identity / MSAL need with `authority=<vault URL>` and
/// `disable_instance_discovery=True` — OIDC discovery, the token endpoint (client secret, RS256/PS256 client
/// assertion with `x5t` or `x5t#S256`, password) and the JWKS.
extension VaultServer {
    var tokenEndpoint: String { "\(authority)/\(tenantId)/oauth2/v2.0/token" }

    /// Answers authority routes; nil for everything else.
    func authorityRoute(_ request: inout Request, _ s: [String], source: String) async throws -> Response? {
        // /{tenant}/v2.0/.well-known/openid-configuration, /{tenant}/.well-known/openid-configuration
        if request.method == .get, s.count >= 3, s.last == "openid-configuration", s[s.count - 2] == ".well-known" {
            guard s[0] == tenantId || s[0] == "organizations" || s[0] == "common" else { return unknownTenant(s[0]) }
            return Self.json(.object([
                ("issuer", .string("\(authority)/\(tenantId)/v2.0")),
                ("authorization_endpoint", .string("\(authority)/\(tenantId)/oauth2/v2.0/authorize")),
                ("token_endpoint", .string(tokenEndpoint)),
                ("jwks_uri", .string("\(authority)/\(tenantId)/discovery/v2.0/keys")),
                ("response_types_supported", .array([.string("token")])),
                ("subject_types_supported", .array([.string("pairwise")])),
                ("id_token_signing_alg_values_supported", .array([.string("ES256")])),
                ("token_endpoint_auth_methods_supported", .array([.string("client_secret_post"), .string("private_key_jwt")])),
                ("grant_types_supported", .array([.string("client_credentials"), .string("password")])),
                ("tenant_region_scope", .null),
            ]))
        }
        if request.method == .get, s.count == 4, s[1] == "discovery", s[3] == "keys" {
            let jwk = tokens.publicJWK.sorted { $0.key < $1.key }.map { ($0.key, JSONValue.string($0.value)) }
            return Self.json(.object([("keys", .array([.object(jwk)]))]))
        }
        if s.count == 4, s[1] == "oauth2", s[3] == "token" {
            guard request.method == .post else { return oauthError(405, "invalid_request", "use POST") }
            guard s[0] == tenantId else { return unknownTenant(s[0]) }
            let body = try await request.collectBody(upTo: 64 * 1024)
            return await token(form: Self.form(String(buffer: body)), source: source)
        }
        return nil
    }

    func unknownTenant(_ t: String) -> Response {
        oauthError(400, "invalid_tenant", "AADSTS90002: Tenant '\(t.prefix(64))' not found. This authority serves tenant \(tenantId).")
    }

    func oauthError(_ status: Int, _ error: String, _ description: String) -> Response {
        Self.json(.object([("error", .string(error)), ("error_description", .string(description))]), status: .init(code: status))
    }

    /// The token endpoint. Every attempt is audited (`Authentication`), failures with the identity claimed.
    func token(form: [String: String], source: String) async -> Response {
        let grant = form["grant_type"] ?? ""
        let claimed = form["client_id"] ?? form["username"] ?? "anonymous"
        func reject(_ status: Int, _ error: String, _ why: String) async -> Response {
            // Aggregated per source (`FailedAttempts`). The claimed identity is untrusted text that may be a
            // secret typed in the wrong field: only an id or a name the directory knows is kept.
            let named = form["client_id"] != nil || form["username"] != nil
            _ = try? await blocking.run { [vault] in
                let caller = !named ? claimed : AuditField.claimedIdentity(claimed) { (try? vault.principals.find($0)) != nil }
                try vault.auditAttempt(operation: "Authentication", claimedCaller: caller, result: "Unauthorized", source: source)
            }
            return oauthError(status, error, why)
        }
        if let scope = form["scope"], !scope.split(separator: " ").contains(where: { $0 == "\(resource)/.default" || $0 == resource }) {
            return await reject(400, "invalid_scope", "AADSTS70011: The scope '\(scope.prefix(200))' is not valid: ask for \(resource)/.default.")
        }
        var entry: DirectoryEntry?
        switch grant {
        case "client_credentials":
            guard let clientId = form["client_id"] else { return await reject(400, "invalid_request", "client_id is required") }
            if let secret = form["client_secret"] {
                do {
                    entry = try await blocking.run { [vault] in try vault.principals.authenticateApp(clientId: clientId, secret: secret) }
                } catch {
                    return storageFailure(error)
                }
                if entry == nil { return await reject(401, "invalid_client", "AADSTS7000215: Invalid client secret provided.") }
            } else if let assertion = form["client_assertion"],
                      form["client_assertion_type"] == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" {
                switch await verifyAssertion(assertion, clientId: clientId) {
                case .success(let e): entry = e
                case .failure(let why): return await reject(401, "invalid_client", why.message)
                }
            } else {
                return await reject(400, "invalid_request", "client_secret or client_assertion is required")
            }
        case "password":
            guard let user = form["username"], let password = form["password"] else {
                return await reject(400, "invalid_request", "username and password are required")
            }
            do {
                entry = try await blocking.run { [vault] in try vault.principals.authenticateUser(name: user, password: password) }
            } catch {
                return storageFailure(error)
            }
            if entry == nil { return await reject(400, "invalid_grant", "AADSTS50126: Invalid username or password.") }
        default:
            return await reject(400, "unsupported_grant_type", "grant_type must be client_credentials or password")
        }
        guard let entry, entry.enabled else { return await reject(401, "invalid_client", "AADSTS7000112: The application or user is disabled.") }
        do {
            let (token, expires) = try await tokens.issue(for: entry)
            try await blocking.run { [vault] in try vault.auditSignIn(entry.principal, source: source) }
            return Self.json(.object([
                ("token_type", .string("Bearer")), ("expires_in", .int(expires)), ("ext_expires_in", .int(expires)),
                ("access_token", .string(token)),
            ]))
        } catch let e as VaultError where e.httpStatus == 503 {
            return storageFailure(e)
        } catch {
            return oauthError(500, "server_error", "the token could not be issued")
        }
    }

    /// The directory could not be read (a damaged or unreadable vault file): the server's failure, never an
    /// invalid credential.
    func storageFailure(_ error: any Error) -> Response {
        var r = oauthError(503, "temporarily_unavailable", "AADSTS90033: the vault's storage cannot be read: \(error)")
        r.headers[.retryAfter] = "1"
        return r
    }

    struct AssertionFailure: Error { var message: String }

    /// A client assertion signed with the private key of a certificate registered for the application.
    func verifyAssertion(_ assertion: String, clientId: String) async -> Result<DirectoryEntry, AssertionFailure> {
        let parts = assertion.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let headerBytes = Base64URL.decode(parts[0]),
              let header = (try? JSONSerialization.jsonObject(with: Data(headerBytes))) as? [String: Any],
              let alg = header["alg"] as? String else {
            return .failure(AssertionFailure(message: "AADSTS50027: The client assertion is not a well-formed JWT."))
        }
        guard alg == "RS256" || alg == "PS256" else {
            return .failure(AssertionFailure(message: "AADSTS5002723: The client assertion must be signed with RS256 or PS256."))
        }
        let found = try? await blocking.run { [vault] in
            try vault.principals.find(clientId).map { app in (app, try vault.principals.certificates(objectId: app.objectId)) }
        }
        guard let (app, certs) = found ?? nil, app.kind == .application, app.clientId == clientId.lowercased() else {
            return .failure(AssertionFailure(message: "AADSTS700016: Application with identifier '\(clientId.prefix(64))' was not found."))
        }
        let strip = { (s: String) in s.replacingOccurrences(of: "=", with: "") }
        let x5t = (header["x5t"] as? String).map(strip), x5tS256 = (header["x5t#S256"] as? String).map(strip)
        guard let cert = certs.first(where: { $0.thumbprintSHA1 == x5t || $0.thumbprintSHA256 == x5tS256 }) else {
            return .failure(AssertionFailure(message: "AADSTS700027: The certificate with the assertion's thumbprint is not registered for the application."))
        }
        do {
            let pem = "-----BEGIN CERTIFICATE-----\n" + Data(cert.der).base64EncodedString(options: .lineLength64Characters)
                + "\n-----END CERTIFICATE-----\n"
            let key = try Insecure.RSA.PublicKey(certificatePEM: pem)
            let keys = JWTKeyCollection()
            if alg == "RS256" { await keys.add(rsa: key, digestAlgorithm: .sha256) } else { await keys.add(pss: key, digestAlgorithm: .sha256) }
            let payload = try await keys.verify(assertion, as: TokenService.AssertionPayload.self)
            guard payload.aud.value.contains(tokenEndpoint) || payload.aud.value.contains("\(authority)/\(tenantId)/v2.0") else {
                return .failure(AssertionFailure(message: "AADSTS700016: The assertion's audience is not this token endpoint."))
            }
            guard payload.iss.value.lowercased() == app.clientId, payload.sub.value.lowercased() == app.clientId else {
                return .failure(AssertionFailure(message: "AADSTS700023: The assertion's issuer and subject must be the client id."))
            }
            if let jti = payload.jti?.value, !seenAssertions.remember(jti, until: payload.exp.value) {
                return .failure(AssertionFailure(message: "AADSTS700024: The client assertion was already used."))
            }
            return .success(app)
        } catch {
            return .failure(AssertionFailure(message: "AADSTS700027: The client assertion's signature or lifetime does not verify."))
        }
    }

    /// `application/x-www-form-urlencoded` fields.
    static func form(_ text: String) -> [String: String] {
        var out: [String: String] = [:]
        for pair in text.split(separator: "&") {
            let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let decode = { (s: Substring) in s.replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String(s) }
            out[decode(kv[0])] = kv.count > 1 ? decode(kv[1]) : ""
        }
        return out
    }
}

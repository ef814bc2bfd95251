import ArcaVaultAPI
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL

/// A vault served over HTTPS (`arca vault serve`, or any server speaking Azure Key Vault's secrets API), signed
/// in to as an application with a client secret — the same `VaultClient` the embedded vault offers, so the CLI
/// and `migrate` work against either.
///
/// Sign-in follows the SDKs: an unauthenticated request gets the 401 challenge, whose `authorization` URI
/// (authority and tenant) and `resource` give the token endpoint and the scope. Tokens are reused until five
/// minutes before they expire.
public final class RemoteVaultClient: VaultClient, @unchecked Sendable {
    public struct Credentials: Sendable {
        public var tenantId: String
        public var clientId: String
        public var clientSecret: String
        /// Overrides the challenge's authority (as `AZURE_AUTHORITY_HOST` does).
        public var authorityHost: String?

        public init(tenantId: String, clientId: String, clientSecret: String, authorityHost: String? = nil) {
            self.tenantId = tenantId
            self.clientId = clientId
            self.clientSecret = clientSecret
            self.authorityHost = authorityHost
        }

        /// From `AZURE_TENANT_ID`, `AZURE_CLIENT_ID`, `AZURE_CLIENT_SECRET` (and `AZURE_AUTHORITY_HOST`); the error
        /// names what is missing.
        public static func fromEnvironment(_ env: [String: String] = ProcessInfo.processInfo.environment) throws -> Credentials {
            let missing = ["AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET"].filter { (env[$0] ?? "").isEmpty }
            guard missing.isEmpty else {
                throw VaultError.unauthorized("signing in to a vault server needs \(missing.joined(separator: ", ")) (an application's credentials: `arca vault app create`)")
            }
            return Credentials(tenantId: env["AZURE_TENANT_ID"]!, clientId: env["AZURE_CLIENT_ID"]!,
                               clientSecret: env["AZURE_CLIENT_SECRET"]!, authorityHost: env["AZURE_AUTHORITY_HOST"])
        }
    }

    public let vaultURL: String
    let credentials: Credentials
    let http: HTTPClient
    /// Whether a CA was given (the TLS message then asks whether it is the right one).
    let caGiven: Bool
    private let lock = NSLock()
    private var token: (value: String, expires: Date)?

    /// `caCert`: a PEM file of extra trusted roots (`--ca-cert`, `ARCA_CA_CERT`).
    public init(vaultURL: String, credentials: Credentials, caCert: String?) throws {
        guard let url = URL(string: vaultURL), url.scheme == "https", url.host != nil else {
            throw VaultError.badParameter("the vault URL must be https://HOST[:PORT] (got '\(vaultURL)')")
        }
        self.vaultURL = vaultURL.hasSuffix("/") ? String(vaultURL.dropLast()) : vaultURL
        self.credentials = credentials
        var tls = TLSConfiguration.makeClientConfiguration()
        caGiven = caCert != nil
        if let caCert {
            do {
                tls.additionalTrustRoots = [.certificates(try NIOSSLCertificate.fromPEMFile(caCert))]
            } catch {
                throw VaultError.badParameter("cannot read the CA certificate \(caCert)")
            }
        }
        var config = HTTPClient.Configuration(tlsConfiguration: tls)
        config.timeout = .init(connect: .seconds(10), read: .seconds(60))
        http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: config)
    }

    /// Closes the connections (call once, when done).
    public func shutdown() async {
        try? await http.shutdown()
    }

    // MARK: - HTTP

    /// The most one answer may carry; the trail is read page by page, far below it.
    static let maxAnswer = 8 << 20

    struct Answer {
        var status: Int
        var headers: HTTPHeaders
        var body: [UInt8]
        var json: [String: Any]? { (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] }
    }

    /// One line: what failed on the way to the server, with the `--ca-cert` hint for a certificate it does not trust.
    static func unreachable(_ url: String, _ error: any Error, caGiven: Bool = false) -> VaultError {
        let text = String(describing: error)
        let lower = text.lowercased()
        if lower.contains("certificate") || lower.contains("ssl") || lower.contains("tls") || lower.contains("handshake") {
            let why = lower.contains("verif") || lower.contains("certificate") ? "its TLS certificate is not trusted" : "the TLS handshake failed"
            return .unreachable("cannot reach the vault server at \(url): \(why)"
                                + (caGiven ? " by the CA given (--ca-cert / ARCA_CA_CERT): is it the vault's CA?" : " (a private CA: give --ca-cert FILE or set ARCA_CA_CERT)"))
        }
        let first = text.split(separator: "\n").first.map(String.init) ?? text
        return .unreachable("cannot reach the vault server at \(url): \(first.prefix(200))")
    }

    func send(_ method: HTTPMethod, _ url: String, body: [UInt8]? = nil, contentType: String = "application/json",
              bearer: String?) async throws -> Answer {
        var request = HTTPClientRequest(url: url)
        request.method = method
        if let bearer { request.headers.add(name: "Authorization", value: "Bearer \(bearer)") }
        if let body {
            request.headers.add(name: "Content-Type", value: contentType)
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        let response: HTTPClientResponse
        do {
            response = try await http.execute(request, timeout: .seconds(60))
        } catch {
            throw Self.unreachable(vaultURL, error, caGiven: caGiven)
        }
        let collected: ByteBuffer
        do {
            collected = try await response.body.collect(upTo: Self.maxAnswer)
        } catch is NIOTooManyBytesError {
            throw VaultError.badParameter("the vault server's answer is larger than \(Self.maxAnswer >> 20) MiB: narrow the request (for audit search: --limit, --since, --operation)")
        }
        return Answer(status: Int(response.status.code), headers: response.headers, body: Array(buffer: collected))
    }

    /// The challenge's parameters (`authorization`, `resource`), as the SDKs parse them.
    static func challenge(_ header: String) -> [String: String] {
        var out: [String: String] = [:]
        let rest = header.drop { $0 != " " }
        for item in rest.split(separator: ",") {
            let kv = item.split(separator: "=", maxSplits: 1)
            guard kv.count == 2 else { continue }
            out[kv[0].trimmingCharacters(in: .whitespaces)] = kv[1].trimmingCharacters(in: CharacterSet(charactersIn: "\" "))
        }
        return out
    }

    func bearer() async throws -> String {
        if let t = lock.withLock({ token }), t.expires.timeIntervalSinceNow > 300 { return t.value }
        let probe = try await send(.GET, "\(vaultURL)/secrets?api-version=7.5", bearer: nil)
        if probe.status == 503 || probe.status == 429 {
            // The server is up but cannot take requests now (its storage is unreachable, or it throttles):
            // not a credential problem.
            let retry = probe.headers.first(name: "Retry-After").map { "; try again in \($0) s" } ?? ""
            throw VaultError.unavailable("\(vaultURL) answered \(probe.status) (\(probe.status == 429 ? "throttled" : "unavailable")) before sign-in\(retry)")
        }
        guard probe.status == 401, let header = probe.headers.first(name: "WWW-Authenticate") else {
            throw VaultError.unauthorized("\(vaultURL) did not answer with a Bearer challenge (status \(probe.status))")
        }
        let c = Self.challenge(header)
        guard let authorization = c["authorization"] ?? c["authorization_uri"], let resource = c["resource"] ?? c["scope"] else {
            throw VaultError.unauthorized("the vault's challenge names no authority or resource")
        }
        var authority = authorization
        if let host = credentials.authorityHost {
            authority = (host.hasSuffix("/") ? String(host.dropLast()) : host) + "/" + credentials.tenantId
        }
        let scope = resource.hasSuffix("/.default") ? resource : resource + "/.default"
        func enc(_ s: String) -> String {
            s.addingPercentEncoding(withAllowedCharacters: CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? s
        }
        let form = "grant_type=client_credentials&client_id=\(enc(credentials.clientId))&client_secret=\(enc(credentials.clientSecret))&scope=\(enc(scope))"
        let answer = try await send(.POST, "\(authority)/oauth2/v2.0/token", body: Array(form.utf8),
                                    contentType: "application/x-www-form-urlencoded", bearer: nil)
        guard answer.status == 200, let obj = answer.json, let access = obj["access_token"] as? String else {
            let why = (answer.json?["error_description"] as? String) ?? "status \(answer.status)"
            // The authority's own failure (its storage, say) is not a wrong credential.
            if answer.status >= 500 { throw VaultError.storage("sign-in to \(authority) failed on the server's side: \(why)") }
            throw VaultError.unauthorized("sign-in to \(authority) failed: \(why)")
        }
        let expiresIn = (obj["expires_in"] as? NSNumber)?.doubleValue ?? Double(obj["expires_in"] as? String ?? "") ?? 3600
        lock.withLock { token = (access, Date().addingTimeInterval(expiresIn)) }
        return access
    }

    /// An authenticated call; Azure-shaped errors become `VaultError`s.
    func call(_ method: HTTPMethod, _ path: String, query: [String: String] = [:], json: [String: Any]? = nil) async throws -> Answer {
        var url = vaultURL + path + "?api-version=7.5"
        for (k, v) in query.sorted(by: { $0.key < $1.key }) {
            url += "&\(k)=" + (v.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? v)
        }
        let body = try json.map { Array(try JSONSerialization.data(withJSONObject: $0)) }
        let answer = try await send(method, url, body: body, bearer: try await bearer())
        guard (200..<300).contains(answer.status) else {
            let err = answer.json?["error"] as? [String: Any]
            let message = (err?["message"] as? String) ?? "HTTP \(answer.status)"
            let inner = ((err?["innererror"] as? [String: Any])?["code"] as? String) ?? ""
            switch answer.status {
            case 400: throw VaultError.badParameter(message)
            case 401: throw VaultError.unauthorized(message)
            case 403: throw VaultError.forbidden(message, inner: inner)
            case 404: throw VaultError.notFound(message)
            case 409: throw VaultError.conflict(message, inner: inner)
            case 503: throw VaultError.sealed(message)
            default: throw VaultError.storage("the vault server answered \(answer.status): \(message)")
            }
        }
        return answer
    }

    // MARK: - Shapes

    static func properties(_ o: [String: Any]) throws -> SecretProperties {
        guard let id = o["id"] as? String, let url = URL(string: id) else { throw VaultError.storage("an answer without an id") }
        let parts = url.path.split(separator: "/").map(String.init)
        let a = o["attributes"] as? [String: Any] ?? [:]
        let num = { (k: String) in (a[k] as? NSNumber)?.int64Value }
        return SecretProperties(
            name: parts.count > 1 ? parts[1] : "", version: parts.count > 2 ? parts[2] : "",
            contentType: o["contentType"] as? String, tags: o["tags"] as? [String: String] ?? [:],
            attributes: SecretAttributes(enabled: a["enabled"] as? Bool ?? true, notBefore: num("nbf"), expires: num("exp"),
                                         created: num("created") ?? 0, updated: num("updated") ?? 0,
                                         recoverableDays: Int(num("recoverableDays") ?? 0)))
    }

    static func bundle(_ a: Answer) throws -> SecretBundle {
        guard let o = a.json else { throw VaultError.storage("the vault server's answer is not JSON") }
        return SecretBundle(properties: try properties(o), value: o["value"] as? String)
    }

    static func deleted(_ o: [String: Any]) throws -> DeletedSecret {
        DeletedSecret(properties: try properties(o), deletedDate: (o["deletedDate"] as? NSNumber)?.int64Value ?? 0,
                      scheduledPurgeDate: (o["scheduledPurgeDate"] as? NSNumber)?.int64Value ?? 0)
    }

    static func skipToken(_ a: Answer) -> String? {
        guard let link = a.json?["nextLink"] as? String, let comps = URLComponents(string: link) else { return nil }
        return comps.queryItems?.first { $0.name == "$skiptoken" }?.value
    }

    static func page(_ a: Answer) throws -> [[String: Any]] {
        guard let items = a.json?["value"] as? [[String: Any]] else { throw VaultError.storage("a list answer without 'value'") }
        return items
    }

    static func body(_ value: String?, _ o: SecretOptions) -> [String: Any] {
        var b: [String: Any] = [:]
        if let value { b["value"] = value }
        if let c = o.contentType { b["contentType"] = c }
        if let t = o.tags { b["tags"] = t }
        var attrs: [String: Any] = [:]
        if let e = o.enabled { attrs["enabled"] = e }
        if let n = o.notBefore { attrs["nbf"] = n }
        if let x = o.expires { attrs["exp"] = x }
        if !attrs.isEmpty { b["attributes"] = attrs }
        return b
    }

    static func paging(_ maxResults: Int?, _ skip: String?) -> [String: String] {
        var q: [String: String] = [:]
        if let maxResults { q["maxresults"] = String(maxResults) }
        if let skip { q["$skiptoken"] = skip }
        return q
    }

    // MARK: - VaultClient

    public func setSecret(_ name: String, value: String, options: SecretOptions) async throws -> SecretBundle {
        try Self.bundle(try await call(.PUT, "/secrets/\(name)", json: Self.body(value, options)))
    }

    public func getSecret(_ name: String, version: String?) async throws -> SecretBundle {
        try Self.bundle(try await call(.GET, "/secrets/\(name)/\(version ?? "")"))
    }

    public func updateSecret(_ name: String, version: String?, options: SecretOptions) async throws -> SecretBundle {
        var b = try Self.bundle(try await call(.PATCH, "/secrets/\(name)/\(version ?? "")", json: Self.body(nil, options)))
        b.value = nil
        return b
    }

    public func listSecrets(maxResults: Int?, skipToken: String?) async throws -> Page<SecretProperties> {
        let a = try await call(.GET, "/secrets", query: Self.paging(maxResults, skipToken))
        return Page(items: try Self.page(a).map(Self.properties), nextToken: Self.skipToken(a))
    }

    public func listVersions(_ name: String, maxResults: Int?, skipToken: String?) async throws -> Page<SecretProperties> {
        let a = try await call(.GET, "/secrets/\(name)/versions", query: Self.paging(maxResults, skipToken))
        return Page(items: try Self.page(a).map(Self.properties), nextToken: Self.skipToken(a))
    }

    public func deleteSecret(_ name: String) async throws -> DeletedSecret {
        guard let o = try await call(.DELETE, "/secrets/\(name)").json else { throw VaultError.storage("no answer body") }
        return try Self.deleted(o)
    }

    public func getDeletedSecret(_ name: String) async throws -> DeletedSecret {
        guard let o = try await call(.GET, "/deletedsecrets/\(name)").json else { throw VaultError.storage("no answer body") }
        return try Self.deleted(o)
    }

    public func listDeletedSecrets(maxResults: Int?, skipToken: String?) async throws -> Page<DeletedSecret> {
        let a = try await call(.GET, "/deletedsecrets", query: Self.paging(maxResults, skipToken))
        return Page(items: try Self.page(a).map(Self.deleted), nextToken: Self.skipToken(a))
    }

    public func recoverSecret(_ name: String) async throws -> SecretBundle {
        var b = try Self.bundle(try await call(.POST, "/deletedsecrets/\(name)/recover"))
        b.value = nil
        return b
    }

    public func purgeSecret(_ name: String) async throws {
        _ = try await call(.DELETE, "/deletedsecrets/\(name)")
    }

    public func backupSecret(_ name: String) async throws -> [UInt8] {
        guard let text = try await call(.POST, "/secrets/\(name)/backup").json?["value"] as? String,
              let blob = Base64URL.decode(text) else { throw VaultError.storage("a backup answer without a base64url 'value'") }
        return blob
    }

    public func restoreSecret(backup blob: [UInt8]) async throws -> SecretProperties {
        guard let o = try await call(.POST, "/secrets/restore", json: ["value": Base64URL.encode(blob)]).json else {
            throw VaultError.storage("no answer body")
        }
        return try Self.properties(o)
    }

    public func auditRecords(_ query: AuditQuery) async throws -> [AuditRecord] {
        var q: [String: String] = [:]
        q["caller"] = query.caller
        q["operation"] = query.operation
        q["secret"] = query.secretName
        q["result"] = query.result
        q["since"] = query.since
        q["until"] = query.until
        q["limit"] = query.limit.map(String.init)
        let a = try await call(.GET, "/arca/audit", query: q)
        return try Self.page(a).map { o in
            var r = AuditRecord(sequence: (o["seq"] as? NSNumber)?.uint64Value ?? 0, time: o["time"] as? String ?? "",
                                caller: o["caller"] as? String ?? "", operation: o["operation"] as? String ?? "",
                                secretName: o["secretName"] as? String, secretVersion: o["secretVersion"] as? String,
                                result: o["result"] as? String ?? "", source: o["source"] as? String ?? "",
                                count: (o["count"] as? NSNumber)?.intValue ?? 1, previousHash: [])
            r.hash = []
            return r
        }
    }

    public func auditExportPage(after: UInt64, until: UInt64?, limit: Int) async throws -> AuditPage {
        var q = ["after": String(after), "maxresults": String(limit)]
        q["until"] = until.map(String.init)
        let a = try await call(.GET, "/arca/audit/export", query: q)
        let (records, checkpoints) = try AuditExport.parse(String(decoding: a.body, as: UTF8.self), requireHeader: false)
        guard let end = a.headers.first(name: "x-arca-audit-until").flatMap(UInt64.init) else {
            throw VaultError.storage("the vault server's audit export names no end (x-arca-audit-until): it is older than this arca")
        }
        let next = a.headers.first(name: "x-arca-audit-next").flatMap(UInt64.init)
        return AuditPage(records: records, checkpoints: checkpoints, until: end, next: next)
    }
}

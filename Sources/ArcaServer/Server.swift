import ArcaJSON
import ArcaVault
import Crypto
import Foundation
import Hummingbird
import HummingbirdTLS
import JWTKit
import Logging
import NIOCore
import NIOPosix
import NIOSSL

/// Where and how the server listens, and the names it answers to.
public struct ServerOptions: Sendable {
    public var host: String
    public var port: Int
    public var tlsCert: String
    public var tlsKey: String
    /// The vault URL clients use (ids in answers start with it); default `https://localhost:PORT`.
    public var vaultURL: String?
    /// The token audience and the challenge's `resource`; default the vault URL.
    public var resource: String?
    /// Key Vault requests served at once; more are answered 429 `Throttled` with `Retry-After`, as Azure does.
    public var maxInFlight = 512
    /// Key Vault requests allowed per 10-second window (Azure's unit; nil: no limit), then 429 until the window ends.
    public var ratePer10s: Int? = nil
    /// Serve `GET /metrics` (Prometheus text format, no token; route templates and counts, never a name).
    public var metrics = true

    public init(host: String, port: Int, tlsCert: String, tlsKey: String, vaultURL: String? = nil, resource: String? = nil) {
        self.host = host
        self.port = port
        self.tlsCert = tlsCert
        self.tlsKey = tlsKey
        self.vaultURL = vaultURL
        self.resource = resource
    }
}

/// Each request's context: Hummingbird's core storage and the client's address (for the audit trail).
public struct ServerContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }
}

/// The vault over HTTPS: Azure Key Vault's secrets API behind its 401 challenge, and Arca's own OAuth2
/// authority (OIDC discovery, token endpoint for client secrets, client certificate assertions and
/// passwords, JWKS). Every request goes through the vault's audited entry point as the signed-in principal.
public final class VaultServer: Sendable {
    public let vault: Vault
    public let options: ServerOptions
    public let vaultURL: String
    /// The authority's base URL (no tenant segment).
    public let authority: String
    public let resource: String
    public let tenantId: String
    let tokens: TokenService
    let seenAssertions = SeenAssertions()
    let throttle: Throttle
    let metrics = ServerMetrics()
    /// The threads the vault's blocking calls run on (see ``BlockingExecutor``): as many as requests that may
    /// wait in one group commit.
    let blocking: ThreadPoolExecutor
    static let maxBody = 256 * 1024
    /// Every request's storage work (its wait for a thread, a connection, each statement, its place in a group
    /// commit) ends by this many seconds after it was handed over: a database that hangs is answered 503 with
    /// `Retry-After`, not held (``RequestDeadline``). A group commit runs until the earliest deadline of the
    /// callers in it.
    static let requestDeadline = 10.0
    /// `/readyz` answers "storage unreachable" when the storage has not answered within this long: a probe
    /// is short.
    static let readinessDeadline = 2.0

    /// A restore carries a backup blob of up to ``SecretBackup/maxBytes`` in base64url; every other body is small.
    static func maxBody(_ route: Route?) -> Int {
        if case .restore = route { return SecretBackup.maxBytes / 3 * 4 + 4096 }
        return maxBody
    }
    /// The export page's last sequence number, and where the next page starts.
    static let untilHeader = HTTPFields.Element.Name("x-arca-audit-until")!
    static let nextHeader = HTTPFields.Element.Name("x-arca-audit-next")!

    public init(vault: Vault, options: ServerOptions) async throws {
        self.vault = vault
        self.options = options
        let base = options.vaultURL ?? "https://localhost:\(options.port)"
        vaultURL = base.hasSuffix("/") ? String(base.dropLast()) : base
        authority = vaultURL
        resource = options.resource ?? vaultURL
        let tenantBytes = try vault.sealedValue("tenant-id") { Array(UUID().uuidString.lowercased().utf8) }
        tenantId = String(decoding: tenantBytes, as: UTF8.self)
        let signing = try vault.sealedValue("token-signing-key") { Array(P256.Signing.PrivateKey().rawRepresentation) }
        throttle = Throttle(maxInFlight: options.maxInFlight, ratePer10s: options.ratePer10s)
        blocking = ThreadPoolExecutor(threads: ThreadPoolExecutor.threads, deadline: Self.requestDeadline)
        vault.observeCommits { [metrics] size, duration in
            metrics.batchSizes.record(Double(size))
            metrics.commitLatency.record(duration)
        }
        tokens = try await TokenService(signingKey: signing, issuer: "\(vaultURL)/\(tenantId)/v2.0", audience: resource,
                                        tenantId: tenantId)
    }

    /// Serves until SIGTERM or SIGINT. `onReady` runs once the socket listens.
    public func run(onReady: @escaping @Sendable () async -> Void = {}) async throws {
        let chain = try NIOSSLCertificate.fromPEMFile(options.tlsCert).map { NIOSSLCertificateSource.certificate($0) }
        let key = try NIOSSLPrivateKey(file: options.tlsKey, format: .pem)
        var tls = TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(key))
        tls.minimumTLSVersion = .tlsv12
        var logger = Logger(label: "arca.vault.server")
        logger.logLevel = .warning
        let app = Application(
            responder: CallbackResponder<ServerContext> { request, context in await self.respond(request, context) },
            server: try .tls(.http1(), tlsConfiguration: tls),
            configuration: .init(address: .hostname(options.host, port: options.port), serverName: nil),
            onServerRunning: { _ in await onReady() },
            logger: logger)
        // The aggregates of failed sign-ins are written once their interval ends (checked every second), and
        // all pending ones when the server stops. (A plain task, not a Service: ServiceLifecycle is not one of
        // this target's declared dependencies.)
        // Both read and write the storage: on the vault's threads, never holding one of the cooperative pool's.
        let flusher = Task.detached { [vault, blocking] in
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(1))
                _ = try? await blocking.run { try vault.flushFailedAttempts() }
            }
        }
        // An operator's seal made on the folder by another process reaches this server within half a second.
        let sealWatch = Task.detached { [vault, blocking] in
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(500))
                _ = try? await blocking.run { vault.followOperatorSeal() }
            }
        }
        defer { flusher.cancel(); sealWatch.cancel() }
        try await app.runService()
        flusher.cancel()
        sealWatch.cancel()
        try? vault.flushFailedAttempts(force: true)
    }

    // MARK: - Dispatch

    /// A path segment with its `%XX` escapes decoded, once. Bytes that are not UTF-8 (`%FF`) become U+FFFD
    /// (such a name is invalid anyway and is audited in its printable form); a `%` not followed by two hex
    /// digits is kept as it is.
    static func percentDecoded(_ segment: Substring) -> String {
        var bytes: [UInt8] = []
        let raw = Array(segment.utf8)
        var i = 0
        func hex(_ b: UInt8) -> UInt8? {
            switch b {
            case 0x30...0x39: return b - 0x30
            case 0x41...0x46: return b - 0x41 + 10
            case 0x61...0x66: return b - 0x61 + 10
            default: return nil
            }
        }
        while i < raw.count {
            if raw[i] == UInt8(ascii: "%"), i + 2 < raw.count,
               let hi = hex(raw[i + 1]), let lo = hex(raw[i + 2]) {
                bytes.append(hi << 4 | lo)
                i += 3
            } else {
                bytes.append(raw[i])
                i += 1
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Every answer carries `x-ms-request-id` (and echoes `x-ms-client-request-id`), as Azure Key Vault's do;
    /// `/healthz` (the process answers) and `/readyz` (unsealed, storage readable) need no token; a Key Vault
    /// route with an `api-version` Azure does not know is 400 `BadParameter`.
    func respond(_ request: Request, _ context: ServerContext) async -> Response {
        let started = ContinuousClock.now
        var response: Response
        let path = request.uri.path
        // The path's segments, decoded once for the version check, the throttle and the dispatch.
        let segments = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst().map { Self.percentDecoded($0) }
        let route = Route(method: request.method, segments: segments)
        if request.method == .get, path == "/healthz" {
            response = Self.json(.object([("status", .string("ok"))]))
        } else if request.method == .get, path == "/metrics", options.metrics {
            response = Response(status: .ok, body: .init(byteBuffer: ByteBuffer(bytes: metrics.exposition(sealed: !vault.isUnsealed))))
            response.headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
        } else if request.method == .get, path == "/readyz" {
            // The reason, or "" when ready (an optional result would fold into `try?`'s).
            let why = await (try? blocking.run(within: Self.readinessDeadline) { [vault] in vault.notReadyReason() ?? "" })
                ?? "storage unreachable"
            if !why.isEmpty {
                response = Self.json(.object([("status", .string("not ready")), ("reason", .string(why))]), status: .serviceUnavailable)
            } else {
                response = Self.json(.object([("status", .string("ready"))]))
            }
        } else if route != nil, let version = request.uri.queryParameters.getAll("api-version").first(where: { !Self.supportedAPIVersion($0) }) {
            response = Self.error(400, code: "BadParameter",
                                  message: "The specified version (\(AuditField.printable(version, max: 64))) is not recognized. Consider using the latest supported version (\(Self.latestAPIVersion)).")
        } else if route != nil || AdminRoute(method: request.method, segments: segments) != nil {
            switch throttle.admit() {
            case .admitted:
                response = await dispatch(request, context, segments: segments)
                throttle.leave()
            case .throttled(let reason, let retryAfter):
                response = Self.error(429, code: "Throttled", message: "Request was not processed because too many requests were received. Reason: \(reason)")
                response.headers[.retryAfter] = String(retryAfter)
            }
        } else {
            response = await dispatch(request, context, segments: segments)
        }
        response.headers[Self.requestIDHeader] = Self.requestID()
        if let client = request.headers[Self.clientRequestIDHeader], client.utf8.count <= 128,
           client.allSatisfy({ $0.isASCII && !$0.isNewline }) {
            response.headers[Self.clientRequestIDHeader] = client
        }
        metrics.record(route: Self.template(route, segments: segments, path: path), method: request.method.rawValue,
                       status: response.status.code, duration: ContinuousClock.now - started)
        return response
    }

    /// The route as a metrics label: its template, never a secret's, person's or tenant's name.
    static func template(_ route: Route?, segments: [String], path: String) -> String {
        if let route { return route.template }
        if let admin = AdminRoute(method: .get, segments: segments) ?? AdminRoute(method: .post, segments: segments)
            ?? AdminRoute(method: .patch, segments: segments) ?? AdminRoute(method: .delete, segments: segments) {
            return admin.template
        }
        switch path {
        case "/healthz", "/readyz", "/metrics": return path
        default: break
        }
        if segments.last == "token" { return "/{tenant}/oauth2/v2.0/token" }
        if segments.last == "openid-configuration" {
            return segments.contains("v2.0") ? "/{tenant}/v2.0/.well-known/openid-configuration" : "/{tenant}/.well-known/openid-configuration"
        }
        if segments.last == "keys" { return "/{tenant}/discovery/v2.0/keys" }
        return "other"
    }

    static let requestIDHeader = HTTPFields.Element.Name("x-ms-request-id")!
    static let clientRequestIDHeader = HTTPFields.Element.Name("x-ms-client-request-id")!
    static let latestAPIVersion = "2026-04-01"

    /// The versions the Azure SDKs send (docs/vault.md): 7.0 to 7.6 and their previews, 2016-10-01, and the dated
    /// versions from 2025 on, all treated alike.
    static func supportedAPIVersion(_ v: String) -> Bool {
        if ["2016-10-01", "2025-06-01-preview", "2025-07-01", "2026-04-01"].contains(v) { return true }
        // Read byte by byte (this runs on every request): `7.0`–`7.6` with an optional `-preview[.N]`, or a
        // dated version from 2025 on (a newer SDK than the list above), with an optional `-preview`.
        var b = Array(v.utf8)[...]
        let digit = { (c: UInt8) in c >= 0x30 && c <= 0x39 }
        func dropSuffix(_ suffix: String) -> Bool {
            let s = Array(suffix.utf8)
            guard b.count >= s.count, Array(b.suffix(s.count)) == s else { return false }
            b = b.dropLast(s.count)
            return true
        }
        if b.count >= 3, b[b.startIndex] == 0x37, b[b.startIndex + 1] == 0x2e, (0x30...0x36).contains(b[b.startIndex + 2]) {
            var rest = b.dropFirst(3)
            if rest.isEmpty { return true }
            let preview = Array("-preview".utf8)
            guard rest.count >= preview.count, Array(rest.prefix(preview.count)) == preview else { return false }
            rest = rest.dropFirst(preview.count)
            if rest.isEmpty { return true }
            return rest.first == 0x2e && rest.count > 1 && rest.dropFirst().allSatisfy(digit)
        }
        _ = dropSuffix("-preview")
        let d = Array(b)
        guard d.count == 10, d[4] == 0x2d, d[7] == 0x2d, [0, 1, 2, 3, 5, 6, 8, 9].allSatisfy({ digit(d[$0]) }) else { return false }
        let n = { (i: Int, len: Int) in d[i..<(i + len)].reduce(0) { $0 * 10 + Int($1 - 0x30) } }
        let (year, month, day) = (n(0, 4), n(5, 2), n(8, 2))
        guard year >= 2025, (1...12).contains(month) else { return false }
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
        let days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
        return (1...days).contains(day)
    }

    /// Answers one request; `segments` are its path's, decoded once by `respond`.
    func dispatch(_ request: Request, _ context: ServerContext, segments: [String]) async -> Response {
        var request = request
        let source = context.remoteAddress?.ipAddress ?? "unknown"
        do {
            if let answer = try await authorityRoute(&request, segments, source: source) { return answer }
            let route = Route(method: request.method, segments: segments)
            let admin = route == nil ? AdminRoute(method: request.method, segments: segments) : nil
            guard let operation = route?.operation ?? admin?.operation else {
                return Self.error(404, code: "NotFound", message: "No such route: \(request.method.rawValue) \(request.uri.path)")
            }
            // Authenticate before reading the body: the SDKs' first request is body-less and expects a 401.
            let principal: Principal
            switch try await authenticate(request) {
            case .success(let p): principal = p
            case .failure(let rejection): return try await reject(rejection, operation, source: source)
            }
            do {
                let body = try await request.collectBody(upTo: Self.maxBody(route))
                let client = EmbeddedVaultClient(vault: vault, caller: principal, source: source, executor: blocking)
                if let admin { return try await handleAdmin(admin, body: Array(buffer: body), admin: client) }
                guard let route else { return Self.error(404, code: "NotFound", message: "No such route") }
                var query: [String: String] = [:]
                for (k, v) in request.uri.queryParameters where query[String(k)] == nil { query[String(k)] = String(v) }
                return try await handle(route, body: Array(buffer: body), query: query, client: client)
            } catch is UnknownCaller {
                // Disabled or removed since its entry was cached: the same answer and record as a failed sign-in.
                return try await reject(Rejection(reason: .unknownPrincipal, claimed: AuditField.printable(principal.objectId, max: 128)),
                                  operation, source: source)
            }
        } catch let e as VaultError {
            return Self.error(e)
        } catch let e as VaultStore.Failure {
            return Self.error(e.vaultError)
        } catch let e as BadRequest {
            return Self.error(400, code: "BadParameter", message: e.message)
        } catch is NIOTooManyBytesError {
            let route = Route(method: request.method, segments: segments)
            return Self.error(413, code: "BadParameter", message: "The request body is larger than \(Self.maxBody(route)) bytes.")
        } catch {
            return Self.error(500, code: "InternalError", message: "The request failed.")
        }
    }

    struct BadRequest: Error { var message: String }

    /// A random (version 4) UUID for `x-ms-request-id`, from the system's generator: Foundation's `UUID()` opens,
    /// reads and closes /dev/urandom for each one (three system calls on every request, seen in a trace).
    static func requestID() -> String {
        var g = SystemRandomNumberGenerator()
        var uuid: uuid_t = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        withUnsafeMutableBytes(of: &uuid) { b in
            b.storeBytes(of: g.next() as UInt64, toByteOffset: 0, as: UInt64.self)
            b.storeBytes(of: g.next() as UInt64, toByteOffset: 8, as: UInt64.self)
            b[6] = (b[6] & 0x0F) | 0x40
            b[8] = (b[8] & 0x3F) | 0x80
        }
        return UUID(uuid: uuid).uuidString.lowercased()
    }

    struct Rejection: Error {
        var reason: TokenService.Rejection
        var claimed: String
    }

    /// A failed sign-in: recorded aggregated per source (a caller that cannot sign in cannot grow the trail
    /// fast), answered with the challenge.
    func reject(_ rejection: Rejection, _ operation: VaultOperation, source: String) async throws -> Response {
        try await blocking.run { [vault] in
            try vault.auditAttempt(operation: operation.auditName, claimedCaller: rejection.claimed,
                                   secretName: operation.secretName, result: "Unauthorized", source: source)
        }
        return challenge(rejection.reason.description)
    }

    /// Throws when the directory cannot be read (the storage's failure is never told as a bad token).
    func authenticate(_ request: Request) async throws -> Result<Principal, Rejection> {
        guard let header = request.headers[.authorization], header.lowercased().hasPrefix("bearer ") else {
            return .failure(Rejection(reason: .missing, claimed: "anonymous"))
        }
        var trimmed = header.utf8.dropFirst(7)
        while let c = trimmed.first, c == 0x20 || c == 0x09 { trimmed = trimmed.dropFirst() }
        while let c = trimmed.last, c == 0x20 || c == 0x09 { trimmed = trimmed.dropLast() }
        let token = String(Substring(trimmed))
        let payload: TokenService.AccessPayload
        do {
            payload = try await tokens.verify(token)
        } catch {
            return .failure(Rejection(reason: error, claimed: "unverified:\(Self.claimedSubject(token))"))
        }
        // An entry cached as enabled needs no read here: the operation checks its caller again in the snapshot it
        // reads, and one disabled or removed since (by any process or node) is UnknownCaller, answered below as here.
        let found: DirectoryEntry?
        if let cached = vault.principals.cachedEnabledEntry(objectId: payload.oid) {
            found = cached
        } else {
            do {
                found = try await blocking.run { [vault, oid = payload.oid] in try vault.principals.entry(objectId: oid) }
            } catch let e as VaultStore.Failure { throw e.vaultError }
        }
        guard let entry = found, entry.enabled else {
            return .failure(Rejection(reason: .unknownPrincipal, claimed: AuditField.printable(payload.oid, max: 128)))
        }
        return .success(entry.principal)
    }

    /// The `oid` a token claims, read without trusting it (for the audit record of a rejected token).
    static func claimedSubject(_ token: String) -> String {
        let parts = token.split(separator: ".")
        guard parts.count >= 2, let bytes = Base64URL.decode(parts[1]),
              let obj = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any],
              let oid = obj["oid"] as? String else { return "anonymous" }
        return AuditField.claimedIdentity(oid)
    }

    func challenge(_ message: String) -> Response {
        var r = Self.error(401, code: "Unauthorized", message: message)
        r.headers[.wwwAuthenticate] = "Bearer authorization=\"\(authority)/\(tenantId)\", resource=\"\(resource)\""
        return r
    }

    // MARK: - Vault routes

    enum Route {
        case set(String), get(String, String?), update(String, String?), list, versions(String), delete(String)
        case getDeleted(String), listDeleted, recover(String), purge(String), auditSearch, auditExport
        case backup(String), restore

        init?(method: HTTPRequest.Method, segments: [String]) {
            var s = segments
            if s.count == 2, s[1].isEmpty, s[0] == "secrets" || s[0] == "deletedsecrets" { s.removeLast() }
            switch (method, s.count, s.first?.lowercased()) {
            case (.get, 1, "secrets"): self = .list
            case (.put, 2, "secrets"): self = .set(s[1])
            case (.get, 2, "secrets"): self = .get(s[1], nil)
            case (.patch, 2, "secrets"): self = .update(s[1], nil)
            case (.delete, 2, "secrets"): self = .delete(s[1])
            case (.get, 3, "secrets") where s[2] == "versions": self = .versions(s[1])
            case (.get, 3, "secrets"): self = .get(s[1], s[2].isEmpty ? nil : s[2])
            case (.patch, 3, "secrets"): self = .update(s[1], s[2].isEmpty ? nil : s[2])
            case (.get, 1, "deletedsecrets"): self = .listDeleted
            case (.get, 2, "deletedsecrets"): self = .getDeleted(s[1])
            case (.delete, 2, "deletedsecrets"): self = .purge(s[1])
            case (.post, 3, "deletedsecrets") where s[2] == "recover": self = .recover(s[1])
            case (.post, 3, "secrets") where s[2] == "backup": self = .backup(s[1])
            case (.post, 2, "secrets") where s[1] == "restore": self = .restore
            case (.get, 2, "arca") where s[1] == "audit": self = .auditSearch
            case (.get, 3, "arca") where s[1] == "audit" && s[2] == "export": self = .auditExport
            default: return nil
            }
        }

        var template: String {
            switch self {
            case .set, .get(_, nil), .update(_, nil), .delete: return "/secrets/{name}"
            case .get, .update: return "/secrets/{name}/{version}"
            case .list: return "/secrets"
            case .versions: return "/secrets/{name}/versions"
            case .getDeleted, .purge: return "/deletedsecrets/{name}"
            case .listDeleted: return "/deletedsecrets"
            case .recover: return "/deletedsecrets/{name}/recover"
            case .backup: return "/secrets/{name}/backup"
            case .restore: return "/secrets/restore"
            case .auditSearch: return "/arca/audit"
            case .auditExport: return "/arca/audit/export"
            }
        }

        var operation: VaultOperation {
            switch self {
            case .set(let n): return .secretSet(n)
            case .get(let n, _): return .secretGet(n)
            case .update(let n, _): return .secretUpdate(n)
            case .list: return .secretList
            case .versions(let n): return .secretListVersions(n)
            case .delete(let n): return .secretDelete(n)
            case .getDeleted(let n): return .secretGetDeleted(n)
            case .listDeleted: return .secretListDeleted
            case .recover(let n): return .secretRecover(n)
            case .purge(let n): return .secretPurge(n)
            case .backup(let n): return .secretBackup(n)
            case .restore: return .secretRestore(nil)
            case .auditSearch, .auditExport: return .auditRead
            }
        }
    }

    func handle(_ route: Route, body: [UInt8], query: [String: String],
                client: EmbeddedVaultClient) async throws -> Response {
        let maxResults = try query["maxresults"].map { v -> Int in
            guard let n = Int(v) else { throw BadRequest(message: "maxresults must be a number") }
            return n
        }
        let skip = query["$skiptoken"]
        let apiVersion = query["api-version"] ?? "7.5"
        switch route {
        case .set(let name):
            let json = try Self.object(body)
            guard let value = json["value"] as? String else { throw BadRequest(message: "The request must carry a string 'value'.") }
            let b = try await client.setSecret(name, value: value, options: try Self.options(json))
            return Self.json(bundle(b, includeValue: true))
        case .get(let name, let version):
            return Self.json(bundle(try await client.getSecret(name, version: version), includeValue: true))
        case .update(let name, let version):
            let json = try Self.object(body)
            return Self.json(bundle(try await client.updateSecret(name, version: version, options: try Self.options(json)), includeValue: false))
        case .list:
            let page = try await client.listSecrets(maxResults: maxResults, skipToken: skip)
            return Self.json(list(page.items.map { item($0, versioned: false) }, next: page.nextToken, path: "/secrets",
                                  maxResults: maxResults, apiVersion: apiVersion))
        case .versions(let name):
            let page = try await client.listVersions(name, maxResults: maxResults, skipToken: skip)
            return Self.json(list(page.items.map { item($0, versioned: true) }, next: page.nextToken,
                                  path: "/secrets/\(name)/versions", maxResults: maxResults, apiVersion: apiVersion))
        case .delete(let name):
            return Self.json(deleted(try await client.deleteSecret(name), bundleForm: true))
        case .getDeleted(let name):
            return Self.json(deleted(try await client.getDeletedSecret(name), bundleForm: true))
        case .listDeleted:
            let page = try await client.listDeletedSecrets(maxResults: maxResults, skipToken: skip)
            return Self.json(list(page.items.map { deleted($0, bundleForm: false) }, next: page.nextToken, path: "/deletedsecrets",
                                  maxResults: maxResults, apiVersion: apiVersion))
        case .recover(let name):
            return Self.json(bundle(try await client.recoverSecret(name), includeValue: false))
        case .purge(let name):
            try await client.purgeSecret(name)
            return Response(status: .noContent)
        case .backup(let name):
            return Self.json(.object([("value", .string(Base64URL.encode(try await client.backupSecret(name))))]))
        case .restore:
            let json = try Self.object(body)
            guard let text = json["value"] as? String, let blob = Base64URL.decode(text) else {
                throw BadRequest(message: "The request must carry the backup blob as a base64url string 'value'.")
            }
            let p = try await client.restoreSecret(backup: blob)
            return Self.json(bundle(SecretBundle(properties: p, value: nil), includeValue: false))
        case .auditSearch:
            let q = AuditQuery(caller: query["caller"], operation: query["operation"], secretName: query["secret"],
                               result: query["result"], since: query["since"], until: query["until"],
                               limit: query["limit"].flatMap { Int($0) })
            let records = try await client.auditRecords(q)
            return Self.json(.object([("value", .array(records.map(\.json)))]))
        case .auditExport:
            // One page per request (`after`, `until`, `maxresults`), so a trail of any size is read in answers
            // of bounded size; the page's end and the next start travel in headers, the body is JSON Lines.
            let number = { (key: String) throws -> UInt64? in
                try query[key].map { v in
                    guard let n = UInt64(v) else { throw BadRequest(message: "\(key) must be a sequence number") }
                    return n
                }
            }
            let limit = maxResults ?? AuditPage.defaultLimit
            guard AuditPage.limitRange.contains(limit) else {
                throw BadRequest(message: "maxresults is \(AuditPage.limitRange.lowerBound)-\(AuditPage.limitRange.upperBound) for the export")
            }
            let after = try number("after") ?? 0, until = try number("until")
            let page = try await client.auditExportPage(after: after, until: until, limit: limit)
            // The first page starts with the header: a trail of one page is a complete export as it comes.
            let head = after == 0 && until == nil ? AuditExport.header() : ""
            var r = Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: head + AuditExport.lines(page.records, page.checkpoints))))
            r.headers[.contentType] = "application/x-ndjson"
            r.headers[Self.untilHeader] = String(page.until)
            if let next = page.next { r.headers[Self.nextHeader] = String(next) }
            return r
        }
    }

    // MARK: - Azure Key Vault shapes

    func common(_ p: SecretProperties, id: String) -> [(String, JSONValue)] {
        var o: [(String, JSONValue)] = [("id", .string(id)), ("attributes", p.attributes.json)]
        if let c = p.contentType { o.append(("contentType", .string(c))) }
        if !p.tags.isEmpty { o.append(("tags", .object(p.tags.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) }))) }
        return o
    }

    func bundle(_ b: SecretBundle, includeValue: Bool) -> JSONValue {
        var o = common(b.properties, id: "\(vaultURL)/secrets/\(b.properties.name)/\(b.properties.version)")
        if includeValue, let v = b.value { o.insert(("value", .string(v)), at: 0) }
        return .object(o)
    }

    func item(_ p: SecretProperties, versioned: Bool) -> JSONValue {
        .object(common(p, id: "\(vaultURL)/secrets/\(p.name)" + (versioned ? "/\(p.version)" : "")))
    }

    func deleted(_ d: DeletedSecret, bundleForm: Bool) -> JSONValue {
        let p = d.properties
        var o = common(p, id: "\(vaultURL)/secrets/\(p.name)" + (bundleForm ? "/\(p.version)" : ""))
        o += [("recoveryId", .string("\(vaultURL)/deletedsecrets/\(p.name)")), ("deletedDate", .int(Int(d.deletedDate))),
              ("scheduledPurgeDate", .int(Int(d.scheduledPurgeDate)))]
        return .object(o)
    }

    func list(_ items: [JSONValue], next: String?, path: String, maxResults: Int?, apiVersion: String) -> JSONValue {
        var link: JSONValue = .null
        if let next {
            var url = "\(vaultURL)\(path)?api-version=\(apiVersion)&$skiptoken=\(next)"
            if let maxResults { url += "&maxresults=\(maxResults)" }
            link = .string(url)
        }
        return .object([("value", .array(items)), ("nextLink", link)])
    }

    static func object(_ body: [UInt8]) throws -> [String: Any] {
        guard !body.isEmpty else { throw BadRequest(message: "The request body is empty.") }
        guard let obj = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] else {
            throw BadRequest(message: "The request body is not a JSON object.")
        }
        return obj
    }

    static func options(_ json: [String: Any]) throws -> SecretOptions {
        var o = SecretOptions()
        if let c = json["contentType"] {
            guard let s = c as? String else { throw BadRequest(message: "contentType must be a string") }
            o.contentType = s
        }
        if let t = json["tags"], !(t is NSNull) {
            guard let d = t as? [String: Any], let tags = d as? [String: String] else {
                throw BadRequest(message: "tags must map strings to strings")
            }
            o.tags = tags
        }
        if let a = json["attributes"], !(a is NSNull) {
            guard let attrs = a as? [String: Any] else { throw BadRequest(message: "attributes must be an object") }
            if let e = attrs["enabled"], !(e is NSNull) {
                guard let b = e as? Bool else { throw BadRequest(message: "attributes.enabled must be true or false") }
                o.enabled = b
            }
            o.notBefore = try time(attrs["nbf"], "nbf")
            o.expires = try time(attrs["exp"], "exp")
        }
        return o
    }

    static func time(_ v: Any?, _ name: String) throws -> Int64? {
        guard let v, !(v is NSNull) else { return nil }
        guard let n = v as? NSNumber, !(v is Bool) else { throw BadRequest(message: "attributes.\(name) must be Unix seconds") }
        return n.int64Value
    }

    static func json(_ value: JSONValue, status: HTTPResponse.Status = .ok) -> Response {
        var r = Response(status: status, body: .init(byteBuffer: ByteBuffer(string: value.serialized(pretty: false))))
        r.headers[.contentType] = "application/json; charset=utf-8"
        return r
    }

    static func error(_ status: Int, code: String, message: String, inner: String? = nil) -> Response {
        var e: [(String, JSONValue)] = [("code", .string(code)), ("message", .string(message))]
        if let inner { e.append(("innererror", .object([("code", .string(inner))]))) }
        return json(.object([("error", .object(e))]), status: .init(code: status))
    }

    static func error(_ e: VaultError) -> Response {
        var r = error(e.httpStatus, code: e.code, message: e.description, inner: e.innerCode)
        // Storage briefly unreachable (a database restarting): the SDKs' retry policies wait and try again.
        if case .unavailable = e { r.headers[.retryAfter] = "1" }
        return r
    }
}

/// Client-assertion ids seen recently, so one signed assertion cannot be replayed.
final class SeenAssertions: @unchecked Sendable {
    private let lock = NSLock()
    private var seen: [String: Date] = [:]

    /// False when `jti` was already used.
    func remember(_ jti: String, until: Date) -> Bool {
        lock.withLock {
            let now = Date()
            if seen.count > 10_000 { seen = seen.filter { $0.value > now } }
            if let t = seen[jti], t > now { return false }
            seen[jti] = until
            return true
        }
    }
}


extension SecretAttributes {
    /// Azure Key Vault's `attributes` object (also what `--output json` prints).
    public var json: JSONValue {
        var o: [(String, JSONValue)] = [("enabled", .bool(enabled))]
        if let n = notBefore { o.append(("nbf", .int(Int(n)))) }
        if let x = expires { o.append(("exp", .int(Int(x)))) }
        o += [("created", .int(Int(created))), ("updated", .int(Int(updated))),
              ("recoverableDays", .int(recoverableDays)), ("recoveryLevel", .string(recoveryLevel))]
        return .object(o)
    }
}

extension AuditRecord {
    /// One record as the server's `/arca/audit` and the CLI's `--output json` show it.
    public var json: JSONValue {
        .object([
            ("seq", .int(Int(sequence))), ("time", .string(time)), ("caller", .string(caller)),
            ("operation", .string(operation)), ("secretName", secretName.map(JSONValue.string) ?? .null),
            ("secretVersion", secretVersion.map(JSONValue.string) ?? .null), ("result", .string(result)),
            ("source", .string(source)), ("count", .int(count)),
        ])
    }
}

/// A started NIOThreadPool as the vault's ``BlockingExecutor`` (it lives as long as the server).
final class ThreadPoolExecutor: BlockingExecutor {
    /// Enough for group commit to batch a busy server's requests; requests beyond it queue for a thread.
    static let threads = 16
    let pool: NIOThreadPool
    let threads: Int
    /// Seconds from handing work over to its deadline (``RequestDeadline``), nil for none.
    let deadline: Double?

    init(threads: Int, deadline: Double? = nil) {
        pool = NIOThreadPool(numberOfThreads: threads)
        pool.start()
        self.threads = threads
        self.deadline = deadline
    }

    deinit { pool.shutdownGracefully { _ in } }

    func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await run(within: deadline, work)
    }

    /// Runs `work` with a deadline `seconds` from now: work that waited that long for a thread is not started.
    func run<T: Sendable>(within seconds: Double?, _ work: @escaping @Sendable () throws -> T) async throws -> T {
        guard let seconds else { return try await pool.runIfActive(work) }
        let by = DispatchTime.now() + seconds
        return try await pool.runIfActive { [threads] in
            if DispatchTime.now() >= by { throw RequestDeadline.passed("waiting for one of the vault's \(threads) threads").vaultError }
            return try RequestDeadline.run(by: by, work)
        }
    }
}

/// Azure's throttling, for one server: at most `maxInFlight` Key Vault requests at once, and (when set) at most
/// `ratePer10s` in each 10-second window. A refused request gets 429 with `Retry-After`, which the SDKs' retry
/// policies honour.
final class Throttle: @unchecked Sendable {
    enum Outcome { case admitted, throttled(reason: String, retryAfter: Int) }

    let maxInFlight: Int
    let ratePer10s: Int?
    private let lock = NSLock()
    private var inFlight = 0
    private var windowStart = Date()
    private var inWindow = 0

    init(maxInFlight: Int, ratePer10s: Int?) { (self.maxInFlight, self.ratePer10s) = (max(1, maxInFlight), ratePer10s) }

    func admit(now: Date = Date()) -> Outcome {
        lock.lock()
        defer { lock.unlock() }
        if let rate = ratePer10s {
            if now.timeIntervalSince(windowStart) >= 10 { (windowStart, inWindow) = (now, 0) }
            if inWindow >= rate {
                return .throttled(reason: "VaultRequestTypeLimitReached", retryAfter: max(1, Int((10 - now.timeIntervalSince(windowStart)).rounded(.up))))
            }
        }
        guard inFlight < maxInFlight else { return .throttled(reason: "VaultConcurrencyLimitReached", retryAfter: 1) }
        inFlight += 1
        inWindow += 1
        return .admitted
    }

    func leave() {
        lock.lock()
        inFlight -= 1
        lock.unlock()
    }
}

// Vault lookups added by `arca migrate` (Foundation only).
//
// ArcaVault.secret(name) reads a secret from the vault at ARCA_VAULT_URL through Azure Key Vault's secrets API,
// signing in as the application in AZURE_TENANT_ID / AZURE_CLIENT_ID with AZURE_CLIENT_SECRET, or with the
// certificate and private key in the PEM file AZURE_CLIENT_CERTIFICATE_PATH (RS256 client assertion made with
// the openssl program; authority: AZURE_AUTHORITY_HOST, default the vault itself). ARCA_CA_CERT names a CA to trust. Values are cached for
// ARCA_SECRET_TTL seconds (default 300) and the access token until shortly before it expires. A missing
// variable or an unreachable vault stops the program with one message naming what is wrong.
//
// On Linux, URLSession cannot be told to trust an extra CA, so with ARCA_CA_CERT set the requests go through
// the curl program (its settings, token included, on its standard input, never on its command line).
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

enum ArcaVault {
    nonisolated(unsafe) private static var cache: [String: (value: String, at: Date)] = [:]
    nonisolated(unsafe) private static var token: (value: String, expires: Date)?
    private static let lock = NSLock()

    private static func env(_ name: String) -> String? {
        guard let v = ProcessInfo.processInfo.environment[name], !v.isEmpty else { return nil }
        return v
    }

    /// What a child process (curl, openssl) may see: what it needs to run, no credential of the application.
    private static var childEnvironment: [String: String] {
        let keep: Set<String> = ["PATH", "HOME", "LANG", "TMPDIR", "OPENSSL_CONF", "SSL_CERT_FILE", "SSL_CERT_DIR",
                                 "http_proxy", "https_proxy", "HTTPS_PROXY", "no_proxy", "NO_PROXY", "all_proxy", "ALL_PROXY"]
        return ProcessInfo.processInfo.environment.filter { keep.contains($0.key) || $0.key.hasPrefix("LC_") }
    }

    private static func fail(_ message: String) -> Never {
        FileHandle.standardError.write(Data("arca vault: \(message)\n".utf8))
        exit(70)
    }

    private static func send(_ request: URLRequest) -> [String: Any] {
        let where_ = request.url.map { "\($0.scheme ?? "")://\($0.host ?? "")\($0.port.map { ":\($0)" } ?? "")\($0.path)" } ?? "?"
        var status = 0
        var body = Data()
        #if canImport(FoundationNetworking)
        if let ca = env("ARCA_CA_CERT") {
            (status, body) = curl(request, ca: ca, where_)
        } else {
            (status, body) = session(request, where_)
        }
        #else
        (status, body) = session(request, where_)
        #endif
        let json = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:]
        if status >= 300 {
            let m = (json["error"] as? [String: Any])?["message"] as? String ?? json["error_description"] as? String ?? ""
            fail("\(where_) answered \(status): \(m)")
        }
        return json
    }

    private static func session(_ request: URLRequest, _ where_: String) -> (Int, Data) {
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var result: (Data?, URLResponse?, Error?)
        URLSession.shared.dataTask(with: request) { d, r, e in
            result = (d, r, e)
            done.signal()
        }.resume()
        done.wait()
        if let e = result.2 { fail("cannot reach \(where_): \(e.localizedDescription)") }
        return ((result.1 as? HTTPURLResponse)?.statusCode ?? 0, result.0 ?? Data())
    }

    private static func curl(_ request: URLRequest, ca: String, _ where_: String) -> (Int, Data) {
        // A curl config string: backslashes and quotes escaped, so no value can end it and add an option.
        func q(_ s: String) -> String {
            "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
        }
        var config = "url = \(q(request.url!.absoluteString))\nsilent\nshow-error\nmax-time = 30\n"
        config += "cacert = \(q(ca))\nwrite-out = \"\\n%{http_code}\"\n"
        for (k, v) in request.allHTTPHeaderFields ?? [:] { config += "header = \(q("\(k): \(v)"))\n" }
        if let b = request.httpBody { config += "data = \(q(String(decoding: b, as: UTF8.self)))\n" }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["curl", "-q", "--config", "-"]
        p.environment = childEnvironment
        let input = Pipe(), output = Pipe(), errors = Pipe()
        (p.standardInput, p.standardOutput, p.standardError) = (input, output, errors)
        do { try p.run() } catch { fail("cannot reach \(where_): curl is needed to trust ARCA_CA_CERT (\(error))") }
        input.fileHandleForWriting.write(Data(config.utf8))
        try? input.fileHandleForWriting.close()
        let out = output.fileHandleForReading.readDataToEndOfFile()
        let err = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        guard p.terminationStatus == 0, let cut = out.lastIndex(of: UInt8(ascii: "\n")) else {
            fail("cannot reach \(where_): \(err.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        return (Int(String(decoding: out[(cut + 1)...], as: UTF8.self)) ?? 0, out[..<cut])
    }

    private static func openssl(_ args: [String], input: Data = Data()) -> Data {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["openssl"] + args
        p.environment = childEnvironment
        let stdin = Pipe(), stdout = Pipe()
        (p.standardInput, p.standardOutput, p.standardError) = (stdin, stdout, FileHandle.nullDevice)
        do { try p.run() } catch { fail("certificate sign-in needs the openssl program (\(error))") }
        stdin.fileHandleForWriting.write(input)
        try? stdin.fileHandleForWriting.close()
        let out = stdout.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        if p.terminationStatus != 0 { fail("cannot use the certificate and key in AZURE_CLIENT_CERTIFICATE_PATH (openssl \(args[0]) failed)") }
        return out
    }

    private static func b64url(_ d: Data) -> String {
        d.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// An RS256 client assertion for the certificate and private key in the PEM file `path`.
    private static func assertion(_ path: String, audience: String) -> String {
        guard FileManager.default.isReadableFile(atPath: path) else { fail("cannot read AZURE_CLIENT_CERTIFICATE_PATH \(path)") }
        let der = openssl(["x509", "-in", path, "-outform", "der"])
        let x5t = b64url(openssl(["dgst", "-sha1", "-binary"], input: der))
        let now = Int(Date().timeIntervalSince1970), id = env("AZURE_CLIENT_ID")!
        let header = #"{"alg":"RS256","typ":"JWT","x5t":"\#(x5t)"}"#
        let claims = #"{"aud":"\#(audience)","iss":"\#(id)","sub":"\#(id)","jti":"\#(UUID().uuidString)","nbf":\#(now),"iat":\#(now),"exp":\#(now + 600)}"#
        let input = b64url(Data(header.utf8)) + "." + b64url(Data(claims.utf8))
        return input + "." + b64url(openssl(["dgst", "-sha256", "-sign", path], input: Data(input.utf8)))
    }

    /// The current value of the vault secret `name`.
    static func secret(_ name: String) -> String {
        lock.lock()
        defer { lock.unlock() }
        let ttl = Double(env("ARCA_SECRET_TTL") ?? "300") ?? 300
        if let hit = cache[name], Date().timeIntervalSince(hit.at) < ttl { return hit.value }
        guard var vault = env("ARCA_VAULT_URL") else { fail("ARCA_VAULT_URL is not set (see docs/migrate.md)") }
        if vault.hasSuffix("/") { vault.removeLast() }
        if token == nil || token!.expires.timeIntervalSinceNow < 60 {
            var missing = ["AZURE_TENANT_ID", "AZURE_CLIENT_ID"].filter { env($0) == nil }
            if env("AZURE_CLIENT_SECRET") == nil && env("AZURE_CLIENT_CERTIFICATE_PATH") == nil {
                missing.append("AZURE_CLIENT_SECRET or AZURE_CLIENT_CERTIFICATE_PATH")
            }
            if !missing.isEmpty { fail("\(missing.joined(separator: ", ")) not set (the application's credentials)") }
            var authority = env("AZURE_AUTHORITY_HOST") ?? vault, resource = env("ARCA_VAULT_RESOURCE") ?? vault
            if authority.hasSuffix("/") { authority.removeLast() }
            if resource.hasSuffix("/") { resource.removeLast() }
            let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-._~"))
            func enc(_ s: String) -> String { s.addingPercentEncoding(withAllowedCharacters: allowed) ?? s }
            let endpoint = "\(authority)/\(env("AZURE_TENANT_ID")!)/oauth2/v2.0/token"
            var request = URLRequest(url: URL(string: endpoint)!)
            request.httpMethod = "POST"
            request.setValue("application/x-www-form-urlencoded", forHTTPHeaderField: "Content-Type")
            var form = "grant_type=client_credentials&client_id=\(enc(env("AZURE_CLIENT_ID")!))&scope=\(enc(resource + "/.default"))"
            if let secret = env("AZURE_CLIENT_SECRET") {
                form += "&client_secret=\(enc(secret))"
            } else {
                form += "&client_assertion_type=\(enc("urn:ietf:params:oauth:client-assertion-type:jwt-bearer"))"
                form += "&client_assertion=\(assertion(env("AZURE_CLIENT_CERTIFICATE_PATH")!, audience: endpoint))"
            }
            request.httpBody = Data(form.utf8)
            let answer = send(request)
            guard let access = answer["access_token"] as? String else { fail("the token endpoint gave no access token") }
            let lifetime = (answer["expires_in"] as? NSNumber)?.doubleValue ?? Double(answer["expires_in"] as? String ?? "") ?? 3600
            token = (access, Date().addingTimeInterval(lifetime))
        }
        let path = name.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-"))) ?? name
        var request = URLRequest(url: URL(string: "\(vault)/secrets/\(path)?api-version=7.5")!)
        request.setValue("Bearer \(token!.value)", forHTTPHeaderField: "Authorization")
        guard let value = send(request)["value"] as? String else { fail("the vault's answer for \(name) has no value") }
        cache[name] = (value, Date())
        return value
    }
}

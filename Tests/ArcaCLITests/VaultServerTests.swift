import Crypto
import Foundation
import Testing
@testable import ArcaServer
@testable import ArcaVault

/// `arca vault serve` end to end: the official Azure SDK for Python against `serve --dev`, least-privilege
/// applications (client secret and certificate), forged / tampered / expired / `alg: none` tokens, the audit
/// trail through the server, and a server killed under write load.
@Suite(.serialized) struct VaultServerTests {
    /// A running `arca vault serve --dev` on a free loopback port.
    final class Server: @unchecked Sendable {
        let dir: String
        let port: Int
        var dev: [String: Any] = [:]

        /// Extra `serve` arguments, given the port.
        let extra: @Sendable (Int) -> [String]

        /// `keepDevJSON`: a second node of the same vault (same folder) keeps the first's dev.json credentials.
        init(dir: String? = nil, keepDevJSON: Bool = false, extra: @escaping @Sendable (Int) -> [String] = { _ in [] }) throws {
            self.dir = dir ?? VaultCLITests.dir()
            self.extra = extra
            self.keepDevJSON = keepDevJSON
            port = Self.freePort()
            try start()
        }

        let keepDevJSON: Bool

        func start() throws {
            if !keepDevJSON { try? FileManager.default.removeItem(atPath: dir + "/v/dev.json") }
            let p = Process()
            p.executableURL = URL(fileURLWithPath: CLITests.binary)
            p.arguments = ["vault", "serve", "--dev", "--vault-dir", dir + "/v", "--listen", "127.0.0.1:\(port)"] + extra(port)
            p.standardOutput = FileHandle.nullDevice
            // Kept for a failing test to read (a crash's message).
            FileManager.default.createFile(atPath: dir + "/serve-\(port).log", contents: nil)
            p.standardError = FileHandle(forWritingAtPath: dir + "/serve-\(port).log") ?? FileHandle.nullDevice
            try p.run()
            current = p
            let deadline = Date().addingTimeInterval(30)
            while Date() < deadline {
                if let data = FileManager.default.contents(atPath: dir + "/v/dev.json"),
                   let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                   obj["vaultUrl"] != nil, current?.isRunning == true,
                   curl(["-o", "/dev/null", "https://localhost:\(port)/secrets?api-version=7.5"]).status == "401" {
                    dev = obj
                    return
                }
                usleep(100_000)
            }
            throw Failure(message: "the server did not start")
        }

        var current: Process?

        func kill() {
            guard let p = current else { return }
            Foundation.kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
        }

        deinit { kill() }

        struct Failure: Error { var message: String }

        static func freePort() -> Int {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            defer { close(fd) }
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_addr.s_addr = inet_addr("127.0.0.1")
            addr.sin_port = 0
            var len = socklen_t(MemoryLayout<sockaddr_in>.size)
            _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
            _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
            return Int(UInt16(bigEndian: addr.sin_port))
        }

        /// curl against the server, trusting the dev CA: (HTTP status, body).
        func curl(_ args: [String]) -> (status: String, body: String) {
            guard let r = try? CLITests.run("/usr/bin/curl", ["-s", "--cacert", dir + "/v/dev-ca.pem", "-w", "\n%{http_code}"] + args) else {
                return ("000", "")
            }
            let lines = r.out.split(separator: "\n", omittingEmptySubsequences: false)
            return (String(lines.last ?? "000"), lines.dropLast().joined(separator: "\n"))
        }

        var url: String { dev["vaultUrl"] as! String }
        var vaultArgs: [String] { ["--vault-dir", dir + "/v"] }

        func token(clientId: String, secret: String) throws -> String {
            let r = curl(["-X", "POST", "\(url)/\(dev["tenantId"]!)/oauth2/v2.0/token", "-d", "grant_type=client_credentials",
                          "--data-urlencode", "client_id=\(clientId)", "--data-urlencode", "client_secret=\(secret)",
                          "--data-urlencode", "scope=\(dev["resource"]!)/.default"])
            let obj = try JSONSerialization.jsonObject(with: Data(r.body.utf8)) as? [String: Any]
            guard r.status == "200", let t = obj?["access_token"] as? String else { throw Failure(message: "no token: \(r)") }
            return t
        }

        func adminToken() throws -> String { try token(clientId: dev["clientId"] as! String, secret: dev["clientSecret"] as! String) }

        /// The dev.json administrator's sign-in variables, and the arguments that point a command at this server.
        var adminEnv: [String: String] {
            ["AZURE_TENANT_ID": dev["tenantId"] as! String, "AZURE_CLIENT_ID": dev["clientId"] as! String,
             "AZURE_CLIENT_SECRET": dev["clientSecret"] as! String]
        }
        var remoteArgs: [String] { ["--vault", url, "--ca-cert", dir + "/v/dev-ca.pem"] }
    }

    static var python: String { CLITests.repoRoot.appendingPathComponent(".build/test-venv/bin/python").path }

    @Test func azureSDKWithLeastPrivilegeApplications() throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.python), "run scripts/test.sh: it installs the Azure SDK")
        let server = try Server()
        let v = server.vaultArgs
        // A reader with a client secret, and one with a certificate: Secrets User on one secret and on app-*.
        let reader = try VaultCLITests.json(try CLITests.arca(["vault", "app", "create", "reader", "--output", "json"] + v).out)
        let certApp = try VaultCLITests.json(try CLITests.arca(["vault", "app", "create", "cert-app", "--output", "json"] + v).out)
        let pem = server.dir + "/client.pem"
        let openssl = try CLITests.run("/usr/bin/openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=cert-app",
                                                            "-days", "2", "-keyout", server.dir + "/client-key.pem",
                                                            "-out", server.dir + "/client-cert.pem"])
        try #require(openssl.status == 0, "\(openssl.err)")
        let keyPEM = try String(contentsOfFile: server.dir + "/client-key.pem", encoding: .utf8)
        let certPEM = try String(contentsOfFile: server.dir + "/client-cert.pem", encoding: .utf8)
        try (keyPEM + certPEM).write(toFile: pem, atomically: true, encoding: .utf8)
        #expect(try CLITests.arca(["vault", "app", "cert-add", "cert-app", "--cert", pem] + v).status == 0)
        for app in ["reader", "cert-app"] {
            for scope in ["/secrets/db-password", "/secrets/app-*"] {
                let r = try CLITests.arca(["vault", "role", "assign", "--role", "Key Vault Secrets User", "--assignee", app, "--scope", scope] + v)
                #expect(r.status == 0, "\(r.err)")
            }
        }
        let script = CLITests.repoRoot.appendingPathComponent("Tests/e2e/sdk_e2e.py").path
        let run = try CLITests.run(Self.python, [script], env: [
            "DEV_JSON": server.dir + "/v/dev.json",
            "READER_CLIENT_ID": reader["clientId"] as! String, "READER_CLIENT_SECRET": reader["clientSecret"] as! String,
            "CERT_CLIENT_ID": certApp["clientId"] as! String, "CERT_PEM": pem,
        ])
        #expect(run.status == 0, "\(run.err.suffix(3000))")
        let r = try VaultCLITests.json(run.out)
        #expect((r["admin_get"] as? [Any])?.count == 3)
        #expect((r["admin_get"] as? [Any])?.first as? String == "hunter3")
        #expect(r["admin_get_version"] as? String == "hunter2")
        #expect(r["admin_tags"] as? [String: String] == ["env": "dev"])
        #expect(r["admin_list"] as? [String] == ["app-token", "db-password", "other-secret"])
        #expect(r["admin_versions"] as? Int == 2)
        #expect(r["disabled_get"] as? Int == 403)
        #expect(r["deleted_recovery_id"] as? Bool == true)
        #expect(r["deleted_list"] as? [String] == ["other-secret"])
        #expect(r["set_deleted_name"] as? Int == 409)
        #expect(r["recovered"] as? String == "nope")
        #expect(r["purged"] as? Int == 404)
        #expect(r["missing"] as? Int == 404)
        #expect(r["bad_name"] as? Int == 400)
        #expect(r["too_large"] as? Int == 400)
        for who in ["reader", "cert"] {
            #expect(r["\(who)_get"] as? String == "hunter3", "\(who)")
            #expect(r["\(who)_prefix_get"] as? String == "tok-1", "\(who)")
            #expect(r["\(who)_other"] as? Int == 403, "\(who): no rights on other secrets")
            #expect(r["\(who)_missing"] as? Int == 403, "\(who): cannot learn whether a secret exists")
            #expect(r["\(who)_set"] as? Int == 403 && r["\(who)_list"] as? Int == 403 && r["\(who)_delete"] as? Int == 403, "\(who)")
        }
        #expect(r["wrong_secret"] as? Int == 401)

        // The trail, read through the server, holds the applications' reads, denials and failed sign-ins
        // with their identities and addresses; exported, it verifies against the key from dev.json.
        let admin = try server.adminToken()
        let denied = server.curl(["-H", "Authorization: Bearer \(admin)", "\(server.url)/arca/audit?api-version=7.5&result=Forbidden"])
        #expect(denied.status == "200" && denied.body.contains(reader["objectId"] as! String) && denied.body.contains("127.0.0.1"))
        let export = server.curl(["-H", "Authorization: Bearer \(admin)", "\(server.url)/arca/audit/export"])
        try export.body.write(toFile: server.dir + "/trail.jsonl", atomically: true, encoding: .utf8)
        #expect(!export.body.contains("hunter2") && !export.body.contains(reader["clientSecret"] as! String))
        let verify = try CLITests.arca(["vault", "audit", "verify", server.dir + "/trail.jsonl", "--key", server.dev["auditPublicKey"] as! String])
        #expect(verify.status == 0, "\(verify.out)")
        // The reader cannot read the trail.
        let readerToken = try server.token(clientId: reader["clientId"] as! String, secret: reader["clientSecret"] as! String)
        #expect(server.curl(["-H", "Authorization: Bearer \(readerToken)", "\(server.url)/arca/audit"]).status == "403")
        // Failed sign-ins from one address are aggregated (FailedAttempts): the reader's wrong secret is in the
        // interval's aggregate, which a graceful stop writes.
        server.stop()
        let trail = try CLITests.arca(["vault", "audit", "search", "--operation", "Authentication", "--result", "Unauthorized",
                                       "--output", "json"] + server.vaultArgs)
        #expect(trail.out.contains(reader["clientId"] as! String), "\(trail.out)")
    }

    @Test func forgedTamperedExpiredAndUnsignedTokensGet401() async throws {
        let server = try Server()
        let good = try server.adminToken()
        let get = { (token: String) in
            server.curl(["-H", "Authorization: Bearer \(token)", "\(server.url)/secrets?api-version=7.5"]).status
        }
        #expect(get(good) == "200")
        let parts = good.split(separator: ".").map(String.init)
        // Tampered: the payload changed, the signature kept.
        var payload = try #require(Base64URL.decode(parts[1]))
        let text = String(decoding: payload, as: UTF8.self).replacingOccurrences(of: "\"ver\":\"2.0\"", with: "\"ver\":\"9.9\"")
        payload = Array(text.utf8)
        #expect(get([parts[0], Base64URL.encode(payload), parts[2]].joined(separator: ".")) == "401")
        // alg: none, no signature.
        let none = Base64URL.encode(Array("{\"alg\":\"none\",\"typ\":\"JWT\"}".utf8))
        #expect(get([none, parts[1], ""].joined(separator: ".")) == "401")
        // Forged: the same claims signed with another key under the server's kid.
        let vault = try Vault(directory: server.dir + "/v")
        try vault.unseal(.keyFile(Array(try String(contentsOfFile: server.dir + "/v/dev-master.key", encoding: .utf8).utf8)),
                         caller: .localOperator(user: "test"), source: "t", explicit: false)
        let realKey = try vault.sealedValue("token-signing-key") { [] }
        let tenant = server.dev["tenantId"] as! String, resource = server.dev["resource"] as! String
        let issuer = "\(server.url)/\(tenant)/v2.0"
        let forger = try await TokenService(signingKey: Array(P256.Signing.PrivateKey().rawRepresentation), issuer: issuer,
                                            audience: resource, tenantId: tenant)
        let admin = try #require(try vault.principals.find("arca-dev-admin"))
        let forgedRaw = try await forger.issue(for: admin).token
        let forgedParts = forgedRaw.split(separator: ".").map(String.init)
        #expect(get([parts[0], forgedParts[1], forgedParts[2]].joined(separator: ".")) == "401")
        // Expired: signed with the real key, but past its lifetime.
        let real = try await TokenService(signingKey: realKey, issuer: issuer, audience: resource, tenantId: tenant)
        let expired = try await real.sign(for: admin, issuedAt: Date().addingTimeInterval(-7200))
        #expect(get(expired) == "401")
        // Wrong audience, real key.
        let otherAudience = try await TokenService(signingKey: realKey, issuer: issuer, audience: "https://elsewhere", tenantId: tenant)
        #expect(get(try await otherAudience.issue(for: admin).token) == "401")
        // A fresh real token still works (the checks above are not just a broken server).
        #expect(get(try await real.issue(for: admin).token) == "200")
        // The challenge names the authority with the tenant and the resource.
        let challenge = server.curl(["-D", "-", "-o", "/dev/null", "\(server.url)/secrets/x?api-version=7.5"]).body
        #expect(challenge.lowercased().contains("www-authenticate: bearer authorization=\"\(server.url)/\(tenant)\", resource=\"\(resource)\"".lowercased()))
        // Bad input gets Azure's error shape and a 4xx, never a 500.
        for (args, status) in [(["-X", "PUT", "-H", "Content-Type: application/json", "-d", "not json"], "400"),
                               (["-X", "PUT", "-H", "Content-Type: application/json", "-d", "{\"value\": 42}"], "400"),
                               (["-X", "PATCH", "-H", "Content-Type: application/json", "-d", "{\"attributes\": {\"enabled\": \"yes\"}}"], "400")] {
            let r = server.curl(args + ["-H", "Authorization: Bearer \(good)", "\(server.url)/secrets/input-check?api-version=7.5"])
            #expect(r.status == status && r.body.contains("\"error\""), "\(args): \(r)")
        }
        #expect(server.curl(["-H", "Authorization: Bearer \(good)", "\(server.url)/secrets?maxresults=999"]).status == "400")
        let huge = server.dir + "/huge.json"
        try ("{\"value\": \"" + String(repeating: "x", count: 300 * 1024) + "\"}").write(toFile: huge, atomically: true, encoding: .utf8)
        let tooLarge = server.curl(["-X", "PUT", "-H", "Authorization: Bearer \(good)", "-H", "Content-Type: application/json",
                                    "--data-binary", "@" + huge, "\(server.url)/secrets/huge?api-version=7.5"])
        #expect(tooLarge.status == "413" && tooLarge.body.contains("\"error\""), "\(tooLarge.status)")
        #expect(server.curl(["-H", "Authorization: Bearer \(good)", "\(server.url)/nothing/here"]).status == "404")
        // Every rejected request is in the trail: the first from this address at once, the rest counted in one
        // aggregate that a graceful stop writes (FailedAttempts).
        let first = try await EmbeddedVaultClient(vault: vault, caller: .localOperator(user: "test")).auditRecords(AuditQuery(result: "Unauthorized"))
        #expect(first.count >= 1)
        server.stop()
        let records = try await EmbeddedVaultClient(vault: vault, caller: .localOperator(user: "test")).auditRecords(AuditQuery(result: "Unauthorized"))
        #expect(records.map(\.count).reduce(0, +) >= 6, "\(records.map(\.count))")
    }

    @Test func killedUnderWriteLoadKeepsEveryAcknowledgedVersion() async throws {
        let server = try Server()
        let token = try server.adminToken()
        // Two writers (curl loops in the shell) that print each version once its PUT returned 200.
        let script = """
            i=0
            while :; do
              i=$((i+1))
              r=$(curl -s --cacert "$CA" -X PUT -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \\
                  -d "{\\"value\\": \\"w$1-$i\\"}" "$URL/secrets/load-$1?api-version=7.5") || exit 0
              v=$(printf '%s' "$r" | sed -n 's/.*"id":"[^"]*\\/\\([0-9a-f]\\{32\\}\\)".*/\\1/p')
              [ -n "$v" ] && echo "load-$1 $v w$1-$i"
            done
            """
        var writers: [(Process, Pipe)] = []
        for w in 0..<2 {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/bin/bash")
            p.arguments = ["-c", script, "writer", String(w)]
            p.environment = ["CA": server.dir + "/v/dev-ca.pem", "TOKEN": token, "URL": server.url, "PATH": "/usr/bin:/bin"]
            let out = Pipe()
            p.standardOutput = out
            try p.run()
            writers.append((p, out))
        }
        var acknowledged = Data()
        let deadline = Date().addingTimeInterval(30)
        var buffers = [Data(), Data()]
        while Date() < deadline, buffers.map({ $0.split(separator: 0x0a).count }).min()! < 25 {
            for (i, (_, out)) in writers.enumerated() { buffers[i].append(out.fileHandleForReading.availableData) }
        }
        server.kill()  // SIGKILL mid-stream
        for (p, _) in writers {
            Foundation.kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
        }
        for b in buffers { acknowledged.append(b) }
        let lines = String(decoding: acknowledged, as: UTF8.self).split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
            .filter { $0.count == 3 }
        #expect(lines.count >= 50)
        try server.start()  // the same vault folder, restarted
        let fresh = try server.adminToken()
        for l in lines {
            let r = server.curl(["-H", "Authorization: Bearer \(fresh)", "\(server.url)/secrets/\(l[0])/\(l[1])?api-version=7.5"])
            #expect(r.status == "200" && r.body.contains("\"value\":\"\(l[2])\""), "acknowledged \(l) lost: \(r)")
        }
        let verify = try CLITests.arca(["vault", "audit", "verify"] + server.vaultArgs)
        #expect(verify.status == 0, "\(verify.out)")
    }

    /// Every secret and audit command through `--vault URL`, as an application, with the same answers and exit
    /// codes as on the embedded vault.
    @Test func remoteCLIWorksLikeEmbedded() throws {
        let server = try Server()
        let v = server.vaultArgs
        let officer = try VaultCLITests.json(try CLITests.arca(["vault", "app", "create", "cli-officer", "--output", "json"] + v).out)
        #expect(try CLITests.arca(["vault", "role", "assign", "--role", "Key Vault Secrets Officer", "--assignee", "cli-officer"] + v).status == 0)
        let remote = ["--vault", server.url, "--ca-cert", server.dir + "/v/dev-ca.pem"]
        let env = ["AZURE_TENANT_ID": server.dev["tenantId"] as! String, "AZURE_CLIENT_ID": officer["clientId"] as! String,
                   "AZURE_CLIENT_SECRET": officer["clientSecret"] as! String]
        let set = try CLITests.arca(["vault", "secret", "set", "db-password", "--tag", "env=prod"] + remote, stdin: "hunter2\n", env: env)
        #expect(set.status == 0, "\(set.err)")
        #expect(try CLITests.arca(["vault", "secret", "get", "db-password"] + remote, env: env).out == "hunter2")
        let json = try VaultCLITests.json(try CLITests.arca(["vault", "secret", "get", "db-password", "--output", "json"] + remote, env: env).out)
        #expect(json["value"] as? String == "hunter2" && (json["tags"] as? [String: String]) == ["env": "prod"])
        for i in 0..<3 { _ = try CLITests.arca(["vault", "secret", "set", "s-\(i)"] + remote, stdin: "v", env: env) }
        let list = try VaultCLITests.json(try CLITests.arca(["vault", "secret", "list", "--max-results", "2", "--output", "json"] + remote, env: env).out)
        #expect((list["value"] as? [Any])?.count == 2 && list["nextToken"] is String)
        #expect(try CLITests.arca(["vault", "secret", "list"] + remote, env: env).out.split(separator: "\n").count == 4)
        #expect(try CLITests.arca(["vault", "secret", "delete", "s-0"] + remote, env: env).status == 0)
        #expect(try CLITests.arca(["vault", "secret", "set", "s-0"] + remote, stdin: "x", env: env).status == 7)
        #expect(try CLITests.arca(["vault", "secret", "recover", "s-0"] + remote, env: env).status == 0)
        #expect(try CLITests.arca(["vault", "secret", "get", "nope"] + remote, env: env).status == 4)
        #expect(try CLITests.arca(["vault", "secret", "set", "bad_name"] + remote, stdin: "x", env: env).status == 2)
        // The officer may not read the trail; a wrong secret cannot sign in; missing variables are named.
        #expect(try CLITests.arca(["vault", "audit", "tail"] + remote, env: env).status == 5)
        var wrong = env
        wrong["AZURE_CLIENT_SECRET"] = "not-it"
        #expect(try CLITests.arca(["vault", "secret", "get", "db-password"] + remote, env: wrong).status == 5)
        let missing = try CLITests.arca(["vault", "secret", "get", "db-password"] + remote, env: ["AZURE_CLIENT_ID": ""])
        #expect(missing.status == 5 && missing.err.contains("AZURE_CLIENT_ID"))
        // Disabling the application on the vault's folder stops it at once; enabling brings it back.
        #expect(try CLITests.arca(["vault", "app", "disable", "cli-officer"] + v).status == 0)
        #expect(try CLITests.arca(["vault", "secret", "get", "db-password"] + remote, env: env).status == 5)
        #expect(try CLITests.arca(["vault", "app", "enable", officer["clientId"] as! String] + v).status == 0)
        #expect(try CLITests.arca(["vault", "secret", "get", "db-password"] + remote, env: env).out == "hunter2")
        #expect(try CLITests.arca(["vault", "app", "delete", "no-such-app"] + v).status == 4)
        // The administrator reads and verifies the trail through the server.
        let admin = ["AZURE_TENANT_ID": server.dev["tenantId"] as! String, "AZURE_CLIENT_ID": server.dev["clientId"] as! String,
                     "AZURE_CLIENT_SECRET": server.dev["clientSecret"] as! String]
        let audit = try CLITests.arca(["vault", "audit", "search", "--caller", officer["objectId"] as! String, "--output", "json"] + remote, env: admin)
        #expect(audit.status == 0 && audit.out.contains("SecretSet") && audit.out.contains("127.0.0.1"))
        let verify = try CLITests.arca(["vault", "audit", "verify", "--key", server.dev["auditPublicKey"] as! String] + remote, env: admin)
        #expect(verify.status == 0, "\(verify.out)\(verify.err)")
        // Operator commands are the administrator's: the officer is refused.
        for cmd in [["rekey"], ["seal"], ["app", "create", "sneaky"], ["role", "assignments"], ["status"]] {
            #expect(try CLITests.arca(["vault"] + cmd + remote, env: env).status == 5, "\(cmd)")
        }
    }

    /// The operator's commands — status, seal, unseal, rekey, users, applications, certificates, roles and
    /// assignments — through `--vault URL` as the administrator application, with the embedded exit codes.
    @Test func remoteOperatorCommands() throws {
        let server = try Server()
        let remote = ["--vault", server.url, "--ca-cert", server.dir + "/v/dev-ca.pem"]
        let admin = ["AZURE_TENANT_ID": server.dev["tenantId"] as! String, "AZURE_CLIENT_ID": server.dev["clientId"] as! String,
                     "AZURE_CLIENT_SECRET": server.dev["clientSecret"] as! String]
        func arca(_ args: [String], stdin: String = "", as who: [String: String]? = nil) throws -> (status: Int32, out: String, err: String) {
            try CLITests.arca(["vault"] + args + remote, stdin: stdin, env: who ?? admin)
        }
        // The operator routes answer bad input with Azure's error shape and a 4xx, and change nothing.
        let token = try server.adminToken()
        func post(_ path: String, _ body: String, auth: Bool = true) -> (status: String, body: String) {
            server.curl(["-X", "POST", "-H", "Content-Type: application/json", "--data-binary", body]
                        + (auth ? ["-H", "Authorization: Bearer \(token)"] : []) + ["\(server.url)\(path)?api-version=7.5"])
        }
        for (path, body) in [("/arca/principals", "not json"), ("/arca/principals", #"{"kind":"robot","name":"x"}"#),
                             ("/arca/principals", #"{"kind":"user","name":"bob"}"#), ("/arca/unseal", "{}"),
                             ("/arca/roleassignments", #"{"role":"Key Vault Secrets User","assignee":"arca-dev-admin","scope":"/nope"}"#),
                             ("/arca/principals/arca-dev-admin/certificates", #"{"certificate":"%%%"}"#)] {
            let r = post(path, body)
            #expect(r.status == "400" && r.body.contains("\"error\""), "\(path) \(body): \(r)")
        }
        #expect(post("/arca/principals", #"{"kind":"application","name":"x"}"#, auth: false).status == "401")
        #expect(server.curl(["-X", "PUT", "-H", "Authorization: Bearer \(token)", "\(server.url)/arca/status?api-version=7.5"]).status == "404")
        #expect(!(try arca(["app", "list"]).out.contains("bob")))
        let status = try VaultCLITests.json(try arca(["status", "--output", "json"]).out)
        #expect(status["initialized"] as? Bool == true && status["seal"] as? String == "key-file" && status["sealed"] as? Bool == false)
        #expect(try arca(["init"]).status == 7)
        #expect(try arca(["secret", "set", "db-main"], stdin: "s3cret").status == 0)
        #expect(try arca(["secret", "set", "other"], stdin: "nope").status == 0)

        // An application made and given a prefix-scoped role through the server reads exactly that prefix.
        let app = try VaultCLITests.json(try arca(["app", "create", "remote-reader", "--output", "json"]).out)
        #expect(app["tenantId"] as? String == server.dev["tenantId"] as? String)
        let appEnv = ["AZURE_TENANT_ID": admin["AZURE_TENANT_ID"]!, "AZURE_CLIENT_ID": app["clientId"] as! String,
                      "AZURE_CLIENT_SECRET": app["clientSecret"] as! String]
        let assigned = try VaultCLITests.json(try arca(["role", "assign", "--role", "Key Vault Secrets User", "--assignee", "remote-reader",
                                                        "--scope", "/secrets/db-*", "--output", "json"]).out)
        #expect(assigned["scope"] as? String == "/secrets/db-*")
        #expect(try arca(["secret", "get", "db-main"], as: appEnv).out == "s3cret")
        #expect(try arca(["secret", "get", "other"], as: appEnv).status == 5)
        #expect(try arca(["app", "list"]).out.contains("remote-reader"))
        #expect(try arca(["role", "assignments"]).out.contains("/secrets/db-*"))
        #expect(try arca(["role", "assign", "--role", "No Such Role", "--assignee", "remote-reader"]).status == 4)
        #expect(try arca(["app", "disable", "no-such-app"]).status == 4)

        // A new client secret replaces the old one; a certificate registers; disable / enable / unassign bite at once.
        let reset = try VaultCLITests.json(try arca(["app", "reset-secret", "remote-reader", "--output", "json"]).out)
        #expect(try arca(["secret", "get", "db-main"], as: appEnv).status == 5)
        var newEnv = appEnv
        newEnv["AZURE_CLIENT_SECRET"] = reset["clientSecret"] as? String
        #expect(try arca(["secret", "get", "db-main"], as: newEnv).out == "s3cret")
        let cert = try VaultCLITests.json(try arca(["app", "cert-add", "remote-reader", "--cert", server.dir + "/v/dev-tls.pem", "--output", "json"]).out)
        #expect((cert["x5t"] as? String)?.isEmpty == false)
        #expect(try arca(["app", "disable", "remote-reader"]).status == 0)
        #expect(try arca(["secret", "get", "db-main"], as: newEnv).status == 5)
        #expect(try arca(["app", "enable", "remote-reader"]).status == 0)
        #expect(try arca(["role", "unassign", assigned["id"] as! String]).status == 0)
        #expect(try arca(["secret", "get", "db-main"], as: newEnv).status == 5)

        // Custom roles and people.
        let role = try VaultCLITests.json(try arca(["role", "create", "--name", "Lister", "--data-action",
                                                    "Microsoft.KeyVault/vaults/secrets/readMetadata/action", "--output", "json"]).out)
        #expect(try arca(["role", "list"]).out.contains("Lister") && role["builtIn"] as? Bool == false)
        try "correct horse\n".write(toFile: server.dir + "/pw", atomically: true, encoding: .utf8)
        let user = try VaultCLITests.json(try arca(["user", "create", "alice", "--password-file", server.dir + "/pw", "--output", "json"]).out)
        #expect(user["kind"] as? String == "user")
        #expect(try arca(["user", "delete", "alice"]).status == 0)
        #expect(!(try arca(["user", "list"]).out.contains("alice")))

        // Rekey keeps every value readable; seal stops the server answering (6) until unseal with the key file.
        let rekey = try VaultCLITests.json(try arca(["rekey", "--output", "json"]).out)
        #expect(rekey["term"] as? Int == 2)
        #expect(try arca(["secret", "get", "db-main"]).out == "s3cret")
        #expect(try arca(["seal"]).status == 0)
        #expect(try arca(["secret", "get", "db-main"]).status == 6)
        #expect(try VaultCLITests.json(try arca(["status", "--output", "json"]).out)["sealed"] as? Bool == true)
        let keyFile = ["--key-file", server.dir + "/v/dev-master.key"]
        #expect(try arca(["unseal", "--key-file", server.dir + "/v/no-such.key"]).status == 6)
        try "00".write(toFile: server.dir + "/wrong.key", atomically: true, encoding: .utf8)
        #expect(try arca(["unseal", "--key-file", server.dir + "/wrong.key"]).status != 0)
        #expect(try arca(["secret", "get", "db-main"]).status == 6)
        #expect(try arca(["unseal"] + keyFile).status == 0)
        #expect(try arca(["secret", "get", "db-main"]).out == "s3cret")

        // An operator's seal on the folder stops the running server too (within a second).
        #expect(try CLITests.arca(["vault", "seal"] + server.vaultArgs).status == 0)
        usleep(1_100_000)
        #expect(try arca(["secret", "get", "db-main"]).status == 6)
        #expect(try arca(["unseal"] + keyFile).status == 0)
        #expect(try arca(["secret", "get", "db-main"]).out == "s3cret")
        let trail = try arca(["audit", "search", "--output", "json"]).out
        for op in ["VaultSeal", "VaultUnseal", "VaultRekey", "ApplicationSecretReset", "RoleAssignmentDelete", "DirectoryRead"] {
            #expect(trail.contains(op), "\(op)")
        }
    }
}

import Foundation
import Testing

/// Issue 15, Azure Key Vault's wire behaviour (the parts done): request ids on every answer, the client's request
/// id echoed, an unknown `api-version` refused in Azure's error shape, and the health probes.
@Suite(.serialized) struct AzureWireTests {
    @Test func everyAnswerHasARequestIdAndEchoesTheClients() throws {
        let server = try VaultServerTests.Server()
        defer { server.kill() }
        let token = try server.adminToken()
        for (args, expected) in [(["\(server.url)/secrets?api-version=7.5"], "401"),
                                 (["-H", "Authorization: Bearer \(token)", "\(server.url)/secrets?api-version=7.5"], "200"),
                                 (["-H", "Authorization: Bearer \(token)", "\(server.url)/secrets/nope?api-version=7.5"], "404"),
                                 (["\(server.url)/no/such/route"], "404")] {
            let r = server.curl(["-D", "-", "-H", "x-ms-client-request-id: 5e0c1a2b-0000-4000-8000-00000000abcd"] + args)
            #expect(r.status == expected, "\(args.last!): \(r.status)")
            let headers = r.body.lowercased()
            #expect(headers.range(of: #"x-ms-request-id: [0-9a-f-]{36}"#, options: .regularExpression) != nil, "\(r.body.prefix(400))")
            #expect(headers.contains("x-ms-client-request-id: 5e0c1a2b-0000-4000-8000-00000000abcd"))
        }
    }

    @Test func anUnknownAPIVersionIsBadParameter() throws {
        let server = try VaultServerTests.Server()
        defer { server.kill() }
        let auth = ["-H", "Authorization: Bearer \(try server.adminToken())"]
        for v in ["9.9", "1.0", "abc", "7.9", "2016-10-02x"] {
            let r = server.curl(auth + ["\(server.url)/secrets?api-version=\(v)"])
            #expect(r.status == "400", "\(v): \(r.status) \(r.body)")
            let obj = try JSONSerialization.jsonObject(with: Data(r.body.utf8)) as? [String: Any]
            let error = obj?["error"] as? [String: Any]
            #expect(error?["code"] as? String == "BadParameter" && (error?["message"] as? String)?.contains("not recognized") == true, "\(r.body)")
        }
        // Every version an Azure SDK sends is served alike.
        for v in ["7.0", "7.4", "7.5", "7.6", "7.6-preview.2", "2016-10-01", "2025-07-01", "2026-04-01", "2025-06-01-preview"] {
            #expect(server.curl(auth + ["\(server.url)/secrets?api-version=\(v)"]).status == "200", "\(v)")
        }
    }

    @Test func healthAndReadinessNeedNoToken() throws {
        let server = try VaultServerTests.Server()
        defer { server.kill() }
        #expect(server.curl(["\(server.url)/healthz"]).status == "200")
        let ready = server.curl(["\(server.url)/readyz"])
        #expect(ready.status == "200" && ready.body.contains("ready"), "\(ready)")
        let admin = server.adminEnv
        let sealed = try CLITests.arca(["vault", "seal", "--vault", server.url, "--ca-cert", server.dir + "/v/dev-ca.pem"], env: admin)
        #expect(sealed.status == 0, "\(sealed.err)")
        let notReady = server.curl(["\(server.url)/readyz"])
        #expect(notReady.status == "503" && notReady.body.contains("sealed"), "\(notReady)")
        #expect(server.curl(["\(server.url)/healthz"]).status == "200")
    }
}

/// Throttling as Azure does it: 429 `Throttled` with `Retry-After`, which the official SDK's retry policy waits out.
@Suite(.serialized) struct ThrottleTests {
    @Test func aRateLimitedServerAnswers429WithRetryAfterAndTheSDKWaitsItOut() throws {
        try #require(FileManager.default.isExecutableFile(atPath: VaultServerTests.python), "run scripts/test.sh: it installs the Azure SDK")
        let server = try VaultServerTests.Server(extra: { _ in ["--rate-limit", "4"] })
        defer { server.kill() }
        #expect(try CLITests.arca(["vault", "secret", "set", "throttle-me"] + server.vaultArgs, stdin: "t0ken-value").status == 0)
        // Sleep out the window the start-up probe used, then count.
        sleep(10)
        let auth = ["-H", "Authorization: Bearer \(try server.adminToken())"]
        var statuses: [String] = []
        var retryAfter = false
        for _ in 0..<6 {
            let r = server.curl(["-D", "-"] + auth + ["\(server.url)/secrets/throttle-me?api-version=7.5"])
            statuses.append(r.status)
            if r.status == "429" {
                retryAfter = r.body.lowercased().range(of: #"retry-after: [1-9][0-9]?\r?\n"#, options: .regularExpression) != nil
                    && r.body.contains("\"Throttled\"")
            }
        }
        #expect(statuses.prefix(4).allSatisfy { $0 == "200" } && statuses.last == "429" && retryAfter, "\(statuses)")
        // The health probes are never throttled.
        #expect(server.curl(["\(server.url)/healthz"]).status == "200")
        sleep(10)
        let run = try CLITests.run(VaultServerTests.python, [CLITests.repoRoot.appendingPathComponent("Tests/e2e/sdk_throttle.py").path],
                                   env: ["DEV_JSON": server.dir + "/v/dev.json"])
        #expect(run.status == 0, "\(run.err.suffix(2000))")
        let r = try VaultCLITests.json(run.out)
        let without = (r["without_retries"] as? [Any])?.map { "\($0)" } ?? []
        #expect(without.contains("429:Throttled"), "\(without)")
        #expect(r["with_retries"] as? [String] == ["t0ken-value", "t0ken-value", "t0ken-value"], "\(r)")
    }
}

/// Issue 15: a running server and operator commands on its folder agree on the state.
@Suite(.serialized) struct SealAgreementTests {
    @Test func aSealOnTheFolderReachesTheRunningServerAndStatusTellsIt() throws {
        let server = try VaultServerTests.Server()
        defer { server.kill() }
        let remote = server.remoteArgs
        let admin = server.adminEnv
        #expect(try CLITests.arca(["vault", "secret", "set", "agreed"] + remote, stdin: "v4lue", env: admin).status == 0)
        let before = try CLITests.arca(["vault", "status"] + remote, env: admin)
        #expect(before.status == 0 && before.out.contains("Serving:         yes"), "\(before.out)\(before.err)")
        // Sealed on the folder by another process: the server stops serving within a second.
        let sealed = try CLITests.arca(["vault", "seal"] + server.vaultArgs)
        #expect(sealed.status == 0, "\(sealed.err)")
        var ready = "200"
        let deadline = Date().addingTimeInterval(2)
        while Date() < deadline, ready != "503" {
            usleep(100_000)
            ready = server.curl(["\(server.url)/readyz"]).status
        }
        #expect(ready == "503")
        #expect(try CLITests.arca(["vault", "secret", "get", "agreed"] + remote, env: admin).status == 6)
        let json = try VaultCLITests.json(try CLITests.arca(["vault", "status", "--output", "json"] + remote, env: admin).out)
        #expect(json["sealed"] as? Bool == true && json["serving"] as? Bool == false, "\(json)")
        // Unsealed through the server: serving again, and the folder agrees.
        let unseal = try CLITests.arca(["vault", "unseal", "--key-file", server.dir + "/v/dev-master.key"] + remote, env: admin)
        #expect(unseal.status == 0, "\(unseal.err)")
        let after = try CLITests.arca(["vault", "secret", "get", "agreed"] + remote, env: admin)
        #expect(after.status == 0 && after.out.hasPrefix("v4lue"), "\(after.err)")
        let local = try VaultCLITests.json(try CLITests.arca(["vault", "status", "--output", "json"] + server.vaultArgs).out)
        #expect(local["sealed"] as? Bool == false, "\(local)")
    }
}

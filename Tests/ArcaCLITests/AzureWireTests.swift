import Foundation
import GRDB
import Testing
@testable import ArcaServer

/// Issue 15, Azure Key Vault's wire behaviour (the parts done): request ids on every answer, the client's request
/// id echoed, an unknown `api-version` refused in Azure's error shape, and the health probes.
@Suite(.serialized) struct AzureWireTests {
    @Test func everyAnswerHasARequestIdAndEchoesTheClients() throws {
        let server = try VaultServerTests.Server()
        defer { server.kill() }
        let token = try server.adminToken()
        var seen: Set<String> = []
        for (args, expected) in [(["\(server.url)/secrets?api-version=7.5"], "401"),
                                 (["-H", "Authorization: Bearer \(token)", "\(server.url)/secrets?api-version=7.5"], "200"),
                                 (["-H", "Authorization: Bearer \(token)", "\(server.url)/secrets/nope?api-version=7.5"], "404"),
                                 (["\(server.url)/no/such/route"], "404")] {
            let r = server.curl(["-D", "-", "-H", "x-ms-client-request-id: 5e0c1a2b-0000-4000-8000-00000000abcd"] + args)
            #expect(r.status == expected, "\(args.last!): \(r.status)")
            let headers = r.body.lowercased()
            #expect(headers.range(of: #"x-ms-request-id: [0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\r?\n"#,
                                  options: .regularExpression) != nil, "\(r.body.prefix(400))")
            if let range = headers.range(of: #"x-ms-request-id: [0-9a-f-]{36}"#, options: .regularExpression) {
                seen.insert(String(headers[range]))
            }
            #expect(headers.contains("x-ms-client-request-id: 5e0c1a2b-0000-4000-8000-00000000abcd"))
        }
        #expect(seen.count == 4, "every response has its own request id")
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
        // A refused version is not hidden behind an accepted one.
        #expect(server.curl(auth + ["\(server.url)/secrets?api-version=7.4&api-version=9.9"]).status == "400")
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

/// Issue 15: Azure's `backup` and `restore` of a secret — an opaque blob of every version that only a vault holding
/// the same keyring restores, under a name not in use.
@Suite(.serialized) struct BackupRestoreTests {
    static func randomValue() -> String {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_=+/ äöü€😀")
        return String((0..<Int.random(in: 8...200)).map { _ in alphabet.randomElement()! })
    }

    @Test func theAzureSDKBacksUpAndRestoresEveryVersion() throws {
        try #require(FileManager.default.isExecutableFile(atPath: VaultServerTests.python), "run scripts/test.sh: it installs the Azure SDK")
        let server = try VaultServerTests.Server()
        defer { server.kill() }
        let first = "first-" + Self.randomValue(), second = "second-" + Self.randomValue()
        let run = try CLITests.run(VaultServerTests.python, [CLITests.repoRoot.appendingPathComponent("Tests/e2e/sdk_backup.py").path],
                                   env: ["DEV_JSON": server.dir + "/v/dev.json", "FIRST_VALUE": first, "SECOND_VALUE": second])
        #expect(run.status == 0, "\(run.err.suffix(2000))")
        let r = try VaultCLITests.json(run.out)
        #expect(r["blob_holds_value"] as? Bool == false && (r["blob_bytes"] as? Int ?? 0) > 0, "\(r)")
        #expect(r["restored_name"] as? String == "backed-up")
        #expect(r["latest"] as? String == second && r["first"] as? String == first)
        #expect(r["first_tags"] as? [String: String] == ["team": "db"] && r["second_content_type"] as? String == "text/plain")
        #expect(r["versions"] as? [String] == r["expected_versions"] as? [String], "\(r)")
        #expect(r["again"] as? Int == 409 && r["damaged"] as? Int == 400, "\(r)")
        // Backup and restore are audited under Azure's operation names, values never in the trail.
        let trail = try CLITests.arca(["vault", "audit", "search", "--secret", "backed-up"] + server.vaultArgs)
        #expect(trail.out.contains("SecretBackup") && trail.out.contains("SecretRestore"), "\(trail.out)")
        #expect(!trail.out.contains(first) && !trail.out.contains(second))
        #expect(!run.err.contains(first) && !run.err.contains(second))
    }

    /// Vault B (another keyring) cannot open A's blob; A restores its own after a rekey; a reader cannot back up.
    @Test func onlyAVaultWithTheSameKeyringRestoresAndOnlyAnOfficerBacksUp() throws {
        let d = VaultCLITests.dir()
        let a = ["--vault-dir", d + "/a", "--key-file", d + "/ka"], b = ["--vault-dir", d + "/b", "--key-file", d + "/kb"]
        for (v, key) in [(a, "/ka"), (b, "/kb")] {
            let r = try CLITests.arca(["vault", "init", "--seal", "key-file", "--key-file", d + key, "--vault-dir", v[1]])
            try #require(r.status == 0, "\(r.err)")
        }
        var values: [String] = []
        for _ in 0..<3 {
            let value = Self.randomValue()
            values.append(value)
            #expect(try CLITests.arca(["vault", "secret", "set", "moved"] + a, stdin: value).status == 0)
        }
        let blob = d + "/moved.blob"
        let backed = try CLITests.arca(["vault", "secret", "backup", "moved", "-o", blob] + a)
        #expect(backed.status == 0, "\(backed.err)")
        let bytes = try #require(FileManager.default.contents(atPath: blob))
        for value in values { #expect(bytes.range(of: Data(value.utf8)) == nil, "the blob holds no value in the clear") }
        let perms = try FileManager.default.attributesOfItem(atPath: blob)[.posixPermissions] as? Int
        #expect(perms == 0o600)
        #expect(try CLITests.arca(["vault", "secret", "backup", "moved", "-o", blob] + a).status == 2, "never over a file")
        let other = try CLITests.arca(["vault", "secret", "restore", blob] + b)
        #expect(other.status == 2 && other.err.contains("another keyring"), "\(other.status) \(other.err)")
        #expect(try CLITests.arca(["vault", "secret", "get", "moved"] + b).status == 4, "nothing was restored in B")
        // Not over a name in use; after a rekey and a purge, A restores every version.
        #expect(try CLITests.arca(["vault", "secret", "restore", blob] + a).status == 7)
        #expect(try CLITests.arca(["vault", "rekey"] + a).status == 0)
        #expect(try CLITests.arca(["vault", "secret", "delete", "moved"] + a).status == 0)
        #expect(try CLITests.arca(["vault", "secret", "restore", blob] + a).status == 7, "a deleted name is in use")
        #expect(try CLITests.arca(["vault", "secret", "purge", "moved"] + a).status == 0)
        let restored = try CLITests.arca(["vault", "secret", "restore", blob] + a)
        #expect(restored.status == 0 && !values.contains { restored.out.contains($0) }, "\(restored.err)")
        let get = try CLITests.arca(["vault", "secret", "get", "moved"] + a)
        #expect(get.out.hasPrefix(values[2]), "the latest version is the latest again")
        let list = try VaultCLITests.json(try CLITests.arca(["vault", "secret", "versions", "moved", "--output", "json"] + a).out)
        #expect((list["value"] as? [Any])?.count == 3, "\(list)")
        // Damaged blobs: truncated, a flipped byte, another name spliced in front.
        var flipped = bytes
        flipped[flipped.count - 5] ^= 0x40
        let renamed = Data("ARCASB".utf8) + Data([1, 0, 5]) + Data("other".utf8) + bytes.dropFirst(6 + 3 + 5)
        for (i, damaged) in [bytes.prefix(20), flipped, renamed].enumerated() {
            try damaged.write(to: URL(fileURLWithPath: d + "/bad\(i)"))
            let r = try CLITests.arca(["vault", "secret", "restore", d + "/bad\(i)"] + b)
            #expect(r.status == 2 && r.err.contains("not one this vault can restore"), "\(i): \(r.status) \(r.err)")
        }
        // A reader (Secrets User) may read but not back up, as in Azure.
        let server = try VaultServerTests.Server()
        defer { server.kill() }
        let reader = try VaultCLITests.json(try CLITests.arca(["vault", "app", "create", "reader", "--output", "json"] + server.vaultArgs).out)
        #expect(try CLITests.arca(["vault", "role", "assign", "--role", "Key Vault Secrets User", "--assignee", "reader"] + server.vaultArgs).status == 0)
        #expect(try CLITests.arca(["vault", "secret", "set", "guarded"] + server.remoteArgs, stdin: "x", env: server.adminEnv).status == 0)
        let readerEnv = ["AZURE_TENANT_ID": server.dev["tenantId"] as! String, "AZURE_CLIENT_ID": reader["clientId"] as! String,
                         "AZURE_CLIENT_SECRET": reader["clientSecret"] as! String]
        #expect(try CLITests.arca(["vault", "secret", "get", "guarded"] + server.remoteArgs, env: readerEnv).status == 0)
        let denied = try CLITests.arca(["vault", "secret", "backup", "guarded", "-o", d + "/guarded.blob"] + server.remoteArgs, env: readerEnv)
        #expect(denied.status == 5 && denied.err.contains("backup/action"), "\(denied.status) \(denied.err)")
        #expect(!FileManager.default.fileExists(atPath: d + "/guarded.blob"))
        // Through the server the administrator's backup restores after a purge.
        let viaServer = d + "/server.blob"
        #expect(try CLITests.arca(["vault", "secret", "backup", "guarded", "-o", viaServer] + server.remoteArgs, env: server.adminEnv).status == 0)
        #expect(try CLITests.arca(["vault", "secret", "delete", "guarded"] + server.remoteArgs, env: server.adminEnv).status == 0)
        #expect(try CLITests.arca(["vault", "secret", "purge", "guarded"] + server.remoteArgs, env: server.adminEnv).status == 0)
        let back = try CLITests.arca(["vault", "secret", "restore", viaServer] + server.remoteArgs, env: server.adminEnv)
        #expect(back.status == 0, "\(back.err)")
    }
}

/// Issue 15: Prometheus metrics, and the hot path's caches (verified tokens, the directory) never outliving a change.
@Suite(.serialized) struct MetricsAndCacheTests {
    @Test func metricsCountRoutesByTemplateAndNeverNameASecret() throws {
        let server = try VaultServerTests.Server()
        defer { server.kill() }
        let value = "m3trics-" + BackupRestoreTests.randomValue()
        #expect(try CLITests.arca(["vault", "secret", "set", "very-private-name"] + server.remoteArgs, stdin: value, env: server.adminEnv).status == 0)
        let auth = ["-H", "Authorization: Bearer \(try server.adminToken())"]
        for _ in 0..<3 { #expect(server.curl(auth + ["\(server.url)/secrets/very-private-name?api-version=7.5"]).status == "200") }
        #expect(server.curl(auth + ["\(server.url)/secrets/no-such-one?api-version=7.5"]).status == "404")
        #expect(server.curl(["\(server.url)/secrets/very-private-name?api-version=7.5"]).status == "401")
        let m = server.curl(["\(server.url)/metrics"])
        #expect(m.status == "200", "no token needed")
        let lines = m.body.split(separator: "\n").map(String.init)
        func count(_ prefix: String) -> Double? {
            lines.first { $0.hasPrefix(prefix + " ") }.flatMap { Double($0.split(separator: " ").last ?? "") }
        }
        #expect(count(#"arca_http_requests_total{route="/secrets/{name}",method="GET",status="200"}"#) == 3, "\(m.body.prefix(3000))")
        #expect(count(#"arca_http_requests_total{route="/secrets/{name}",method="GET",status="404"}"#) == 1)
        #expect(count(#"arca_http_requests_total{route="/secrets/{name}",method="GET",status="401"}"#) == 1)
        #expect(count(#"arca_http_requests_total{route="/secrets/{name}",method="PUT",status="200"}"#) == 1)
        #expect((count(#"arca_http_request_duration_seconds_count{route="/secrets/{name}"}"#) ?? 0) >= 5)
        #expect((count("arca_group_commit_batch_size_count") ?? 0) >= 4, "every audited operation is in a batch")
        #expect((count("arca_audit_append_seconds_count") ?? 0) >= 4)
        #expect(count("arca_vault_sealed") == 0)
        #expect(!m.body.contains("very-private-name") && !m.body.contains("no-such-one") && !m.body.contains(value))
        #expect(!m.body.contains(server.dev["tenantId"] as! String), "the tenant is a placeholder in the token route's label")
        let off = try VaultServerTests.Server(extra: { _ in ["--no-metrics"] })
        defer { off.kill() }
        #expect(off.curl(["\(off.url)/metrics"]).status == "404")
    }

    /// A role removed, or an application disabled, by another process on the folder counts at the very next
    /// request, though the server caches the directory; a cached token is still refused once its app is disabled.
    @Test func directoryChangesFromAnotherProcessBiteAtOnce() throws {
        let server = try VaultServerTests.Server()
        defer { server.kill() }
        let v = server.vaultArgs
        let app = try VaultCLITests.json(try CLITests.arca(["vault", "app", "create", "cached-reader", "--output", "json"] + v).out)
        let assigned = try VaultCLITests.json(try CLITests.arca(["vault", "role", "assign", "--role", "Key Vault Secrets User",
                                                                 "--assignee", "cached-reader", "--output", "json"] + v).out)
        #expect(try CLITests.arca(["vault", "secret", "set", "cached"] + v, stdin: "c4ched").status == 0)
        let token = try server.token(clientId: app["clientId"] as! String, secret: app["clientSecret"] as! String)
        let read = { server.curl(["-H", "Authorization: Bearer \(token)", "\(server.url)/secrets/cached?api-version=7.5"]).status }
        for _ in 0..<5 { #expect(read() == "200") }
        #expect(try CLITests.arca(["vault", "app", "disable", "cached-reader"] + v).status == 0)
        #expect(read() == "401", "the disabled app's cached token no longer signs in")
        #expect(try CLITests.arca(["vault", "app", "enable", "cached-reader"] + v).status == 0)
        #expect(read() == "200")
        #expect(try CLITests.arca(["vault", "role", "unassign", assigned["id"] as! String] + v).status == 0)
        #expect(read() == "403", "the assignment removed on the folder counts at once")
        // A token with one byte changed is verified afresh (and refused), however often the real one was used.
        var forged = Array(token.utf8)
        forged[forged.count - 3] = forged[forged.count - 3] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
        let f = server.curl(["-H", "Authorization: Bearer \(String(decoding: forged, as: UTF8.self))", "\(server.url)/secrets/cached?api-version=7.5"])
        #expect(f.status == "401")
    }

    @Test func apiVersionParserAgreesWithTheDocumentedForms() {
        for v in ["7.0", "7.6", "7.3-preview", "7.6-preview.2", "2016-10-01", "2025-06-01-preview", "2025-07-01", "2031-12-31",
                  "2027-02-28-preview", "2028-02-29"] {
            #expect(VaultServer.supportedAPIVersion(v), "\(v)")
        }
        for v in ["", "7", "7.", "7.7", "7.0-", "7.0-preview.", "7.0-preview.x", "7.0x", "2024-12-31", "2025-13-01", "2025-00-10",
                  "2025-01-32", "2025-02-30", "2025-02-29", "2025-04-31", "2025-1-01", "20251-01-01", "2025-01-01-previewx", "abc", "9.9", "1.0"] {
            #expect(!VaultServer.supportedAPIVersion(v), "\(v)")
        }
    }
}

/// Issue 15, the cold pass: a served vault whose file goes bad under it is damage to every caller — sign-in is
/// not "invalid client secret" (exit 5) but exit 3 "damaged", and `/readyz` is 503 `storage damaged`.
@Suite(.serialized) struct DamagedUnderAServerTests {
    @Test func aFileDamagedUnderARunningServerIsDamageNotAWrongSecret() throws {
        let server = try VaultServerTests.Server()
        defer { server.kill() }
        for i in 0..<3 {
            #expect(try CLITests.arca(["vault", "secret", "set", "s\(i)"] + server.remoteArgs, stdin: "v\(i)", env: server.adminEnv).status == 0)
        }
        let wal = server.dir + "/v/vault.db-wal"
        let handle = try #require(FileHandle(forUpdatingAtPath: wal))
        let size = try handle.seekToEnd()
        var offset: UInt64 = 32 + 24
        while offset + 4096 <= size {
            try handle.seek(toOffset: offset)
            handle.write(Data((0..<4096).map { _ in UInt8.random(in: 0...255) }))
            offset += 4120
        }
        try handle.close()
        let list = try CLITests.arca(["vault", "secret", "list"] + server.remoteArgs, env: server.adminEnv)
        #expect(list.status == 3 && list.err.contains("damaged"), "\(list.status) \(list.err)")
        let ready = server.curl(["\(server.url)/readyz"])
        #expect(ready.status == "503" && ready.body.contains("storage damaged"), "\(ready)")
    }

    /// The outsider of the PostgreSQL pass: a trail emptied under a running server failed every operation, yet
    /// `/readyz` said `ready`. An unsealed vault without a trail is damage there too.
    @Test func aTrailEmptiedUnderARunningServerIsNotReady() throws {
        let server = try VaultServerTests.Server()
        defer { server.kill() }
        #expect(server.curl(["\(server.url)/readyz"]).status == "200")
        let q = try DatabaseQueue(path: server.dir + "/v/vault.db")
        try q.write { try $0.execute(sql: "DELETE FROM audit") }
        let ready = server.curl(["\(server.url)/readyz"])
        #expect(ready.status == "503" && ready.body.contains("storage damaged"), "\(ready)")
    }
}

import ArcaServer
import Foundation
import PropertyBased
import Testing
@testable import ArcaVault
@testable import ArcaVaultPostgres

/// Several `arca vault serve` nodes on one PostgreSQL database (`--storage postgres://…`), against a real
/// PostgreSQL that `scripts/postgres.sh` starts on loopback (scripts/test.sh installs Debian's package): a
/// write on one node is read on the other, an operator's seal reaches both within a second, PostgreSQL holds
/// ciphertext only, a node killed under writes loses no acknowledged write, a PostgreSQL restart is 503 with
/// `Retry-After` and then recovers by itself, and a node whose folder belongs to another vault refuses to start.
@Suite(.serialized) struct PostgresHATests {
    static let password = "arca-test"

    /// A throwaway cluster in a temporary folder, on a free loopback port.
    final class Postgres {
        let dir: String
        let port: Int
        init() throws {
            setenv("PGPASSWORD", PostgresHATests.password, 1)
            dir = VaultCLITests.dir() + "/pg"
            port = VaultServerTests.Server.freePort()
            try start()
        }
        static var script: String { CLITests.repoRoot.appendingPathComponent("scripts/postgres.sh").path }
        func start() throws {
            let r = try CLITests.run("/bin/bash", [Self.script, "start", dir, String(port)])
            try #require(r.status == 0, "PostgreSQL did not start (scripts/test.sh installs it): \(r.err)")
        }
        func stop() throws { _ = try CLITests.run("/bin/bash", [Self.script, "stop", dir]) }
        /// kill -9 of the postmaster (a crash), returning once no process of the cluster is left.
        func crash() throws {
            _ = try CLITests.run("/bin/bash", [Self.script, "kill", dir])
            for _ in 0..<100 {
                if try CLITests.run("/usr/bin/pgrep", ["-f", "postgres.*\(dir)"]).status != 0 { return }
                usleep(100_000)
            }
        }
        /// Restarts the cluster with TLS on, serving `cert` and `key` (PEM); given `clientCA`, every connection
        /// must be TLS with a client certificate that it signed, naming the user (`clientcert=verify-full`).
        func enableTLS(cert: String, key: String, clientCA: String? = nil) throws {
            try stop()
            for (from, to) in [(cert, "server.crt"), (key, "server.key")] + (clientCA.map { [($0, "client-ca.crt")] } ?? []) {
                let target = dir + "/" + to
                try? FileManager.default.removeItem(atPath: target)
                try FileManager.default.copyItem(atPath: from, toPath: target)
                chmod(target, 0o600)
                if getuid() == 0, let owner = getpwnam("postgres") { chown(target, owner.pointee.pw_uid, owner.pointee.pw_gid) }
            }
            let conf = try FileHandle(forWritingTo: URL(fileURLWithPath: dir + "/postgresql.conf"))
            conf.seekToEndOfFile()
            conf.write(Data("\nssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n".utf8))
            if clientCA != nil { conf.write(Data("ssl_ca_file = 'client-ca.crt'\n".utf8)) }
            try conf.close()
            if clientCA != nil {
                let hba = dir + "/pg_hba.conf"
                let rules = "hostnossl all all 0.0.0.0/0 reject\nhostssl all all 127.0.0.1/32 scram-sha-256 clientcert=verify-full\n"
                try (rules + String(contentsOfFile: hba, encoding: .utf8)).write(toFile: hba, atomically: true, encoding: .utf8)
            }
            try start()
        }
        /// Every process of the cluster stopped (SIGSTOP), as a machine that hangs: connections stay open and
        /// nothing answers. `thaw` continues them.
        func freeze() throws { try signal(SIGSTOP) }
        func thaw() throws { try signal(SIGCONT) }
        private func signal(_ sig: Int32) throws {
            let pid = try String(contentsOfFile: dir + "/postmaster.pid", encoding: .utf8).split(separator: "\n").first.flatMap { Int32($0) }
            let postmaster = try #require(pid)
            let children = try CLITests.run("/usr/bin/pgrep", ["-P", String(postmaster)]).out.split(separator: "\n").compactMap { Int32($0) }
            for p in [postmaster] + children { Foundation.kill(p, sig) }
        }
        func url(_ database: String = "arca") -> String { "postgres://arca@127.0.0.1:\(port)/\(database)" }
        func createDatabase(_ name: String) throws {
            let r = try CLITests.run("/usr/bin/createdb", ["-h", "127.0.0.1", "-p", String(port), "-U", "arca", name])
            try #require(r.status == 0, "\(r.err)")
        }
        func dump(_ database: String = "arca") throws -> String {
            let r = try CLITests.run("/usr/bin/pg_dump", ["-h", "127.0.0.1", "-p", String(port), "-U", "arca", database])
            try #require(r.status == 0, "\(r.err)")
            return r.out
        }
        /// One statement's answer, unaligned (`psql -At`).
        func psql(_ sql: String, _ database: String = "arca") throws -> String {
            let r = try CLITests.run("/usr/bin/psql", ["-h", "127.0.0.1", "-p", String(port), "-U", "arca", "-At", "-c", sql, database])
            try #require(r.status == 0, "\(r.err)")
            return r.out
        }
        deinit { try? stop() }
    }

    /// Two nodes of one dev vault: the same folder, the same database, one client-facing URL and authority (node
    /// A's, standing for a load balancer's name).
    struct Pair: @unchecked Sendable {
        let a: VaultServerTests.Server
        let b: VaultServerTests.Server
        let dir: String
        init(_ pg: Postgres, database: String = "arca") throws {
            dir = VaultCLITests.dir()
            let storage = pg.url(database)
            a = try VaultServerTests.Server(dir: dir) { port in ["--storage", storage, "--vault-url", "https://localhost:\(port)"] }
            let url = "https://localhost:\(a.port)"
            b = try VaultServerTests.Server(dir: dir, keepDevJSON: true) { _ in ["--storage", storage, "--vault-url", url] }
        }
        func base(_ s: VaultServerTests.Server) -> String { "https://localhost:\(s.port)" }
        /// `curl`: more of curl's options (a time limit).
        func put(_ s: VaultServerTests.Server, _ name: String, _ value: String, token: String, curl: [String] = []) -> String {
            s.curl(curl + ["-X", "PUT", "\(base(s))/secrets/\(name)?api-version=7.5", "-H", "Authorization: Bearer \(token)",
                    "-H", "Content-Type: application/json", "-d", "{\"value\":\"\(value)\"}"]).status
        }
        func get(_ s: VaultServerTests.Server, _ name: String, token: String, curl: [String] = []) -> (status: String, value: String?) {
            let r = s.curl(curl + ["\(base(s))/secrets/\(name)?api-version=7.5", "-H", "Authorization: Bearer \(token)"])
            let obj = try? JSONSerialization.jsonObject(with: Data(r.body.utf8)) as? [String: Any]
            return (r.status, obj?["value"] as? String)
        }
        func ready(_ s: VaultServerTests.Server) -> String { s.curl(["\(base(s))/readyz"]).body }
    }

    /// Signs in at `node`'s authority (both nodes share the signing key, so its token works on either).
    static func token(_ node: VaultServerTests.Server, _ pair: Pair) throws -> String {
        let dev = node.dev
        let r = node.curl(["-X", "POST", "\(pair.base(node))/\(dev["tenantId"]!)/oauth2/v2.0/token", "-d", "grant_type=client_credentials",
                           "--data-urlencode", "client_id=\(dev["clientId"]!)", "--data-urlencode", "client_secret=\(dev["clientSecret"]!)",
                           "--data-urlencode", "scope=\(dev["resource"]!)/.default"])
        let obj = try JSONSerialization.jsonObject(with: Data(r.body.utf8)) as? [String: Any]
        guard r.status == "200", let t = obj?["access_token"] as? String else { throw VaultServerTests.Server.Failure(message: "no token: \(r)") }
        return t
    }

    @Test func twoNodesServeOneVaultAndPostgresHoldsCiphertextOnly() throws {
        let pg = try Postgres()
        let pair = try Pair(pg)
        let tokenA = try Self.token(pair.a, pair), tokenB = try Self.token(pair.b, pair)
        let values = (0..<6).map { _ in "pg-" + UUID().uuidString }
        #expect(pair.put(pair.a, "shared", values[0], token: tokenA) == "200")
        #expect(pair.get(pair.b, "shared", token: tokenB).value == values[0], "a write on A is read on B at once")
        #expect(pair.put(pair.b, "shared", values[1], token: tokenA) == "200", "A's token works on B")
        #expect(pair.get(pair.a, "shared", token: tokenB).value == values[1])
        // Concurrent writers on both nodes: one chain, no gaps, every write readable.
        DispatchQueue.concurrentPerform(iterations: 4) { i in
            let node = i % 2 == 0 ? pair.a : pair.b
            _ = pair.put(node, "w\(i)", values[2 + i], token: tokenA)
        }
        for i in 0..<4 { #expect(pair.get(i % 2 == 0 ? pair.b : pair.a, "w\(i)", token: tokenA).value == values[2 + i]) }
        let verify = try CLITests.arca(["vault", "audit", "verify", "--vault-dir", pair.dir + "/v"])
        #expect(verify.status == 0 && verify.out.contains("intact"), "\(verify.out) \(verify.err)")

        // PostgreSQL holds what the barrier sealed: no value, no client secret, no master key.
        let dump = try pg.dump()
        #expect(dump.contains("secret_versions"), "the dump is of the vault's tables")
        for v in values { #expect(!dump.contains(v), "a secret value in pg_dump") }
        #expect(!dump.contains(pair.a.dev["clientSecret"] as! String), "a client secret in pg_dump")
        let master = try String(contentsOfFile: pair.dir + "/v/dev-master.key", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(!dump.contains(master), "the master key in pg_dump")
        let record = try String(contentsOfFile: pair.dir + "/v/storage.json", encoding: .utf8)
        #expect(!record.contains(Self.password), "the folder records the address, never the password")

        // An operator's seal on the folder reaches both nodes within a second; unseal is per node.
        let started = Date()
        #expect(try CLITests.arca(["vault", "seal", "--vault-dir", pair.dir + "/v"]).status == 0)
        var sealedBoth = false
        while Date().timeIntervalSince(started) < 3 {
            if pair.ready(pair.a).contains("sealed"), pair.ready(pair.b).contains("sealed") { sealedBoth = true; break }
            usleep(50_000)
        }
        let took = Date().timeIntervalSince(started)
        #expect(sealedBoth && took <= 1.2, "both nodes sealed after \(took) s")
        #expect(pair.get(pair.b, "shared", token: tokenB).status == "503")
        #expect(try CLITests.arca(["vault", "unseal", "--vault-dir", pair.dir + "/v"]).status == 0)
        for node in [pair.a, pair.b] {
            let r = try CLITests.arca(["vault", "unseal", "--vault", pair.base(node), "--ca-cert", pair.dir + "/v/dev-ca.pem",
                                       "--key-file", pair.dir + "/v/dev-master.key"], env: node.adminEnv)
            #expect(r.status == 0, "\(r.err)")
            #expect(pair.ready(node).contains("\"ready\""))
        }
        #expect(pair.get(pair.b, "shared", token: tokenB).value == values[1])
    }

    @Test func aNodeKilledUnderWritesLosesNoAcknowledgedWrite() throws {
        let pg = try Postgres()
        let pair = try Pair(pg)
        let token = try Self.token(pair.a, pair)
        let acked = Locked<[String: String]>([:])
        let stop = Locked(false)
        let group = DispatchGroup()
        for writer in 0..<2 {
            let node = writer == 0 ? pair.a : pair.b
            DispatchQueue.global().async(group: group) {
                var i = 0
                while !stop.get() {
                    i += 1
                    let name = "k\(writer)-\(i)", value = UUID().uuidString
                    if pair.put(node, name, value, token: token) == "200" { acked.update { $0[name] = value } }
                }
            }
        }
        // Both nodes take writes before one is killed (on a loaded machine the first can take seconds).
        let bothWriting = { let w = acked.get(); return w.keys.contains { $0.hasPrefix("k1-") } && w.keys.contains { $0.hasPrefix("k0-") } }
        for _ in 0..<200 where !bothWriting() { usleep(100_000) }
        usleep(1_000_000)
        pair.b.kill()
        usleep(1_500_000)
        stop.set(true)
        group.wait()
        let writes = acked.get()
        #expect(writes.keys.contains { $0.hasPrefix("k1-") } && writes.keys.contains { $0.hasPrefix("k0-") }, "both nodes took writes")
        for (name, value) in writes {
            #expect(pair.get(pair.a, name, token: token).value == value, "an acknowledged write on the killed node is readable on the survivor")
        }
        #expect(pair.get(pair.a, "after-kill", token: token).status == "404", "the survivor keeps serving")
        let verify = try CLITests.arca(["vault", "audit", "verify", "--vault-dir", pair.dir + "/v"])
        #expect(verify.status == 0 && verify.out.contains("intact"), "\(verify.out) \(verify.err)")
    }

    @Test func aPostgresRestartIs503WithRetryAfterAndNodesRecover() throws {
        let pg = try Postgres()
        let pair = try Pair(pg)
        let token = try Self.token(pair.a, pair)
        #expect(pair.put(pair.a, "r", "before", token: token) == "200")
        try pg.stop()
        let during = pair.a.curl(["-D", "-", "\(pair.base(pair.a))/secrets/r?api-version=7.5", "-H", "Authorization: Bearer \(token)"])
        #expect(during.status == "503", "\(during)")
        #expect(during.body.lowercased().contains("retry-after: 1"), "\(during.body)")
        #expect(during.body.contains("ServiceUnavailable") && !during.body.contains("before"), "\(during.body)")
        #expect(pair.ready(pair.b).contains("storage unreachable"))
        let signIn = pair.b.curl(["-X", "POST", "\(pair.base(pair.b))/\(pair.b.dev["tenantId"]!)/oauth2/v2.0/token", "-d",
                                  "grant_type=client_credentials", "--data-urlencode", "client_id=\(pair.b.dev["clientId"]!)",
                                  "--data-urlencode", "client_secret=\(pair.b.dev["clientSecret"]!)"])
        #expect(signIn.status == "503" && signIn.body.contains("temporarily_unavailable"), "never 'invalid client': \(signIn)")
        try pg.start()
        var recovered = false
        for _ in 0..<50 where !recovered {
            recovered = pair.get(pair.a, "r", token: token).value == "before" && pair.get(pair.b, "r", token: token).value == "before"
            if !recovered { usleep(200_000) }
        }
        #expect(recovered, "both nodes serve again once PostgreSQL is back, without a restart")
    }

    /// The Azure SDK for Python against each node in turn, backup on one and restore on the other, and a load
    /// that keeps running while PostgreSQL restarts (the SDK's retry policy rides out the 503s).
    @Test func azureSDKAgainstTwoNodes() throws {
        try #require(FileManager.default.isExecutableFile(atPath: VaultServerTests.python), "run scripts/test.sh: it installs the Azure SDK")
        let pg = try Postgres()
        let pair = try Pair(pg)
        let script = CLITests.repoRoot.appendingPathComponent("Tests/e2e/sdk_two_nodes.py").path
        let run = try CLITests.run(VaultServerTests.python, [script], env: [
            "DEV_JSON": pair.dir + "/v/dev.json", "NODE_A": pair.base(pair.a), "NODE_B": pair.base(pair.b),
            "PG_RESTART": "bash \(Postgres.script) stop \(pg.dir) && sleep 2 && bash \(Postgres.script) start \(pg.dir) \(pg.port)",
        ])
        #expect(run.status == 0, "\(run.out.suffix(2000)) \(run.err.suffix(3000))")
    }

    @Test func aNodeOfAnotherVaultRefusesToStart() throws {
        let pg = try Postgres()
        try pg.createDatabase("other")
        let pair = try Pair(pg)
        // A folder made for the vault in `other`…
        let folder = VaultCLITests.dir() + "/x"
        let made = try CLITests.arca(["vault", "init", "--seal", "key-file", "--vault-dir", folder, "--storage", pg.url("other")])
        #expect(made.status == 0, "\(made.err)")
        // …pointed at the database of another vault: refused, before anything is served or written.
        for args in [["vault", "serve", "--listen", "127.0.0.1:\(VaultServerTests.Server.freePort())"], ["vault", "status"]] {
            let r = try CLITests.arca(args + ["--vault-dir", folder, "--storage", pg.url("arca")])
            #expect(r.status == 3 && r.err.contains("different vault"), "\(args): \(r.status) \(r.err)")
            #expect(!r.err.contains(Self.password))
        }
        // A database that lost its vault is not silently started afresh for a folder that had one.
        try pg.createDatabase("empty")
        let r = try CLITests.arca(["vault", "serve", "--vault-dir", folder, "--storage", pg.url("empty"), "--listen", "127.0.0.1:\(VaultServerTests.Server.freePort())"])
        #expect(r.status == 3 && r.err.contains("holds no vault") && r.err.contains("nothing was written"), "\(r.status) \(r.err)")
        #expect(try !pg.dump("empty").contains("CREATE TABLE"), "the refused node made no tables in the empty database")
        // A wrong password is a sign-in failure, named, without the password.
        let wrong = try CLITests.arca(["vault", "status", "--vault-dir", folder, "--storage", "postgres://arca:not-the-password@127.0.0.1:\(pg.port)/other"])
        #expect(wrong.status != 0 && !wrong.err.contains("not-the-password"), "\(wrong.err)")
        _ = pair
    }

    /// `?max_connections=N` caps the connections one node opens: callers beyond it wait for a free one (and
    /// are 503 after 10 s, never an unbounded number of connections); a bad option is refused, password-free.
    @Test func aNodeOpensAtMostItsConnectionCap() throws {
        let pg = try Postgres()
        let backend = try PostgresBackend(url: pg.url() + "?max_connections=2")
        #expect(backend.maxConnections == 2 && backend.location.hasSuffix("?max_connections=2"))
        let seen = Locked(0), done = Locked(0)
        let group = DispatchGroup()
        for _ in 0..<8 {
            group.enter()
            Thread {
                defer { group.leave() }
                let n = try? backend.read { db -> Int in
                    Thread.sleep(forTimeInterval: 0.2)
                    return try Int.fetchOne(db, sql: "SELECT count(*)::bigint FROM pg_stat_activity WHERE datname = current_database() AND usename = current_user") ?? 0
                }
                if let n { seen.update { $0 = max($0, n) }; done.update { $0 += 1 } }
            }.start()
        }
        #expect(group.wait(timeout: .now() + 30) == .success)
        #expect(done.get() == 8, "every caller got a connection in turn")
        #expect(seen.get() <= 2, "at most the cap at once: \(seen.get())")
        for bad in ["?max_connections=0", "?max_connections=x", "?sslmode=require"] {
            #expect(throws: VaultStore.Failure.self) { _ = try PostgresBackend(url: "postgres://arca:pw-not-shown@127.0.0.1:\(pg.port)/arca" + bad) }
            do { _ = try PostgresBackend(url: "postgres://arca:pw-not-shown@127.0.0.1:\(pg.port)/arca" + bad) } catch {
                #expect(!"\(error)".contains("pw-not-shown"))
            }
        }
    }

    /// However an address is malformed (another scheme, a broken one, none, in the option or the environment),
    /// the message names it without its password.
    @Test func malformedAddressesNeverPrintThePassword() throws {
        let dir = VaultCLITests.dir()
        for address in ["mysql://arca:Pw-one-7781@127.0.0.1:1/arca", "http://arca:Pw-one-7781@127.0.0.1:1/arca",
                        "Postgres://arca:Pw-one-7781@127.0.0.1:1/arca", "postgres:/arca:Pw-one-7781@127.0.0.1:1/arca",
                        "arca:Pw-one-7781@127.0.0.1:1/arca", "postgres://arca:Pw-one-7781@127.0.0.1:notaport/arca",
                        "postgres://arca:Pw-one-7781@127.0.0.1:1/arca?sslmode=require",
                        "postgres://arca:Pw-one-7781@127.0.0.1:1/arca?sslmode=verify-everything",
                        "postgres://arca:Pw-one-7781@127.0.0.1:1/arca?sslcert=/etc/passwd"] {
            let r = try CLITests.arca(["vault", "status", "--vault-dir", dir + "/n", "--storage", address])
            #expect(r.status != 0 && !(r.out + r.err).contains("Pw-one-7781"), "\(address): \(r.status) \(r.err)")
            let e = try CLITests.arca(["vault", "status", "--vault-dir", dir + "/n"], env: ["ARCA_VAULT_STORAGE": address])
            #expect(e.status != 0 && !(e.out + e.err).contains("Pw-one-7781"), "\(address): \(e.status) \(e.err)")
        }
        #expect(PostgresBackend.Address.redacted("x 'mysql://u:p4ss@h/d' y") == "x 'mysql://u:***@h/d' y")
        // Broken %-escapes in the user or password are refused, never replaced by PGPASSWORD or PGUSER (the outsider's
        // `SEK%RIT10` signed in with PGPASSWORD).
        for address in ["postgres://arca:SEK%RIT10@127.0.0.1:1/arca", "postgres://arca:Pw-one-7781%@127.0.0.1:1/arca",
                        "postgres://ar%zca:SEKRIT@127.0.0.1:1/arca"] {
            do {
                _ = try PostgresBackend.Address(address, environment: ["PGPASSWORD": "arca-test", "PGUSER": "arca"])
                Issue.record("\(address) was accepted")
            } catch {
                #expect("\(error)".contains("percent-encoding") && !"\(error)".contains("RIT") && !"\(error)".contains("7781"), "\(error)")
            }
        }
    }

    /// A connection whose server stops answering mid-batch (the outsider's stall: a node held every request for a
    /// minute after PostgreSQL came back, because each job of the batch and each savepoint rollback waited out
    /// the statement timeout again on the dead connection): the batch fails once, within about one timeout, and
    /// the next transaction runs on a fresh connection.
    @Test func aStatementThatNeverAnswersFailsItsBatchOnce() throws {
        let pg = try Postgres()
        let backend = try PostgresBackend(url: pg.url())
        backend.statementTimeout = 1
        let frozen = Locked<Int32>(0)
        defer { if frozen.get() > 0 { Foundation.kill(frozen.get(), SIGCONT) } }
        var jobs = [GroupCommitter.Job({ db in
            let pid = try Int.fetchOne(db, sql: "SELECT pg_backend_pid()::bigint") ?? 0
            frozen.set(Int32(pid))
            Foundation.kill(Int32(pid), SIGSTOP)
        }, checkpoint: nil)]
        for _ in 0..<5 { jobs.append(GroupCommitter.Job({ db in _ = try Int.fetchOne(db, sql: "SELECT 1::bigint") }, checkpoint: nil)) }
        let started = Date()
        let failure = GroupCommitter.run(jobs, backend: backend)
        let took = Date().timeIntervalSince(started)
        #expect(frozen.get() > 0)
        if case VaultStore.Failure.unavailable? = failure as? VaultStore.Failure {} else { Issue.record("the batch is unavailable: \(String(describing: failure))") }
        #expect(took < 3, "one timeout, not one per job and rollback: \(took) s")
        Foundation.kill(frozen.get(), SIGCONT)
        let after = Date()
        #expect(try backend.write { db in try Int.fetchOne(db, sql: "SELECT 2::bigint") } == 2)
        #expect(Date().timeIntervalSince(after) < 2, "the next transaction does not wait on the lost connection")
    }

    /// PostgreSQL frozen (every process SIGSTOPped; the outsider's reproduction took 30–35 s per request): the
    /// node's health probe answers at once, and a read, a write and sign-ins are each answered 503 with
    /// `Retry-After` within the request deadline (10 s) and a margin, never after a read statement's 30 s; once
    /// PostgreSQL continues, the same requests succeed.
    @Test func aFrozenPostgresIsAnsweredWithinTheRequestDeadline() throws {
        let pg = try Postgres()
        let pair = try Pair(pg)
        let token = try Self.token(pair.a, pair)
        #expect(pair.put(pair.a, "f", "before", token: token) == "200")
        #expect(pair.get(pair.a, "f", token: token).status == "200")
        try pg.freeze()
        defer { try? pg.thaw() }
        struct Answer: Sendable { var what: String; var status: String; var seconds: Double; var retryAfter: Bool }
        let answers = Locked<[Answer]>([])
        let group = DispatchGroup()
        let dev = pair.a.dev
        func timed(_ what: String, _ args: [String]) {
            DispatchQueue.global().async(group: group) {
                let t0 = Date()
                let r = pair.a.curl(["--max-time", "60", "-D", "-"] + args)
                let answer = Answer(what: what, status: r.status, seconds: Date().timeIntervalSince(t0),
                                    retryAfter: r.body.lowercased().contains("retry-after: "))
                answers.update { $0.append(answer) }
            }
        }
        timed("read", ["\(pair.base(pair.a))/secrets/f?api-version=7.5", "-H", "Authorization: Bearer \(token)"])
        timed("write", ["-X", "PUT", "\(pair.base(pair.a))/secrets/f?api-version=7.5", "-H", "Authorization: Bearer \(token)",
                        "-H", "Content-Type: application/json", "-d", "{\"value\":\"during\"}"])
        for n in 0..<3 {
            timed("sign-in \(n)", ["-X", "POST", "\(pair.base(pair.a))/\(dev["tenantId"]!)/oauth2/v2.0/token", "-d", "grant_type=client_credentials",
                                   "--data-urlencode", "client_id=\(dev["clientId"]!)", "--data-urlencode", "client_secret=\(dev["clientSecret"]!)",
                                   "--data-urlencode", "scope=\(dev["resource"]!)/.default"])
        }
        usleep(1_000_000)
        let t0 = Date()
        let health = pair.a.curl(["--max-time", "30", "\(pair.base(pair.a))/healthz"])
        #expect(health.status == "200" && Date().timeIntervalSince(t0) < 2, "the process answers while PostgreSQL hangs: \(health) after \(Date().timeIntervalSince(t0)) s")
        let r0 = Date()
        let ready = pair.a.curl(["--max-time", "30", "\(pair.base(pair.a))/readyz"])
        #expect(ready.status == "503" && ready.body.contains("storage unreachable") && Date().timeIntervalSince(r0) < 4,
                "a probe is told at once: \(ready) after \(Date().timeIntervalSince(r0)) s")
        group.wait()
        #expect(answers.get().count == 5)
        for a in answers.get() {
            #expect(a.status == "503" && a.retryAfter && a.seconds < 13, "\(a.what): \(a.status) after \(a.seconds) s, Retry-After: \(a.retryAfter)")
        }
        try pg.thaw()
        var recovered = false
        for _ in 0..<40 where !recovered {
            recovered = pair.get(pair.a, "f", token: token, curl: ["--max-time", "15"]).status == "200"
            if !recovered { usleep(250_000) }
        }
        let alive = pair.a.current?.isRunning == true
        let log = (try? String(contentsOfFile: pair.dir + "/serve-\(pair.a.port).log", encoding: .utf8)) ?? ""
        #expect(alive, "the node runs: \(alive ? "" : "exit \(pair.a.current?.terminationStatus ?? 0) \(pair.a.current?.terminationReason == .uncaughtSignal ? "signal" : ""): \(log.suffix(2000))")")
        #expect(recovered, "the node serves again once PostgreSQL continues")
        #expect(try Self.token(pair.a, pair).isEmpty == false)
    }

    /// PostgreSQL crashes (kill -9) under reads and writes on both nodes and comes back: after a short grace,
    /// every request on either node is answered, 200, within a bounded time; during the outage the answers are
    /// 503 (never a wrong value) or come late at most once per connection timeout.
    @Test func aPostgresCrashUnderLoadHoldsNoNodeOnceItIsBack() throws {
        let pg = try Postgres()
        let pair = try Pair(pg)
        let token = try Self.token(pair.a, pair)
        #expect(pair.put(pair.a, "r", "before", token: token) == "200")
        struct Answer { var start: Date; var seconds: Double; var node: String; var status: String; var value: String? }
        let answers = Locked<[Answer]>([])
        let stop = Locked(false)
        let group = DispatchGroup()
        for worker in 0..<8 {
            let node = worker % 2 == 0 ? pair.a : pair.b
            DispatchQueue.global().async(group: group) {
                var i = 0
                while !stop.get() {
                    i += 1
                    let t0 = Date()
                    var answer = Answer(start: t0, seconds: 0, node: worker % 2 == 0 ? "a" : "b", status: "", value: nil)
                    if i % 3 == 0 {
                        answer.status = pair.put(node, "w\(worker)", "\(i)", token: token, curl: ["--max-time", "20"])
                    } else {
                        (answer.status, answer.value) = pair.get(node, "r", token: token, curl: ["--max-time", "20"])
                    }
                    answer.seconds = Date().timeIntervalSince(t0)
                    answers.update { $0.append(answer) }
                    if answer.status != "200" { usleep(100_000) }
                }
            }
        }
        usleep(2_000_000)
        try pg.crash()
        usleep(8_000_000)
        try pg.start()
        let up = Date()
        usleep(15_000_000)
        stop.set(true)
        group.wait()
        let all = answers.get()
        #expect(!all.contains { $0.status == "200" && $0.value != nil && $0.value != "before" }, "never a wrong value")
        // A statement in flight at the crash fails once its connection is seen closed, not at the statement bound.
        let slow = all.filter { $0.seconds > 5 }
        #expect(slow.isEmpty, "no answer, even the one in flight at the crash, took over 5 s: \(slow.map { "\($0.node) \($0.status) \(String(format: "%.1f", $0.seconds)) s" })")
        for node in ["a", "b"] {
            let late = all.filter { $0.node == node && $0.start > up.addingTimeInterval(5) }
            #expect(late.count > 10, "node \(node) kept answering: \(late.count)")
            let bad = late.filter { $0.status != "200" || $0.seconds > 3 }
            #expect(bad.isEmpty, "node \(node), 5 s after PostgreSQL is back: \(bad.count) of \(late.count) slow or failed, e.g. \(bad.prefix(3).map { "\($0.status) in \(String(format: "%.1f", $0.seconds)) s" })")
        }
        let verify = try CLITests.arca(["vault", "audit", "verify", "--vault-dir", pair.dir + "/v"])
        #expect(verify.status == 0 && verify.out.contains("intact"), "\(verify.out) \(verify.err)")
    }

    /// A caller disabled on the folder (the CLI, another process) is 401 at its next request on every node, and
    /// one whose role is removed is 403: the nodes' caches never outlive a change made elsewhere. (A caller found
    /// disabled inside a PostgreSQL read is the caller's failure, never a 503.)
    @Test func aCallerDisabledOnTheFolderIs401OnEveryNode() throws {
        let pg = try Postgres()
        let pair = try Pair(pg)
        let v = ["--vault-dir", pair.dir + "/v"]
        let app = try VaultCLITests.json(try CLITests.arca(["vault", "app", "create", "pg-reader", "--output", "json"] + v).out)
        let assigned = try VaultCLITests.json(try CLITests.arca(["vault", "role", "assign", "--role", "Key Vault Secrets User",
                                                                 "--assignee", "pg-reader", "--output", "json"] + v).out)
        let admin = try Self.token(pair.a, pair)
        #expect(pair.put(pair.a, "shared", "s-1", token: admin) == "200")
        let token = try pair.a.token(clientId: app["clientId"] as! String, secret: app["clientSecret"] as! String)
        for node in [pair.a, pair.b, pair.b] { #expect(pair.get(node, "shared", token: token).status == "200") }
        #expect(try CLITests.arca(["vault", "app", "disable", "pg-reader"] + v).status == 0)
        for node in [pair.b, pair.a] { #expect(pair.get(node, "shared", token: token).status == "401", "disabled on the folder") }
        #expect(try CLITests.arca(["vault", "app", "enable", "pg-reader"] + v).status == 0)
        for node in [pair.b, pair.a] { #expect(pair.get(node, "shared", token: token).status == "200", "enabled again") }
        #expect(try CLITests.arca(["vault", "role", "unassign", assigned["id"] as! String] + v).status == 0)
        for node in [pair.b, pair.a] { #expect(pair.get(node, "shared", token: token).status == "403", "its role removed") }
    }

    /// TLS to PostgreSQL as libpq's `sslmode` and `sslrootcert` make it: `prefer` (the default) encrypts when the
    /// server can; `require` refuses a server without TLS; `verify-ca` checks the chain, `verify-full` the chain
    /// and the host; a wrong CA, a wrong host or a missing root certificate is a named refusal, never a silent
    /// fallback to an unchecked or plain connection.
    /// Whether a connection to `url` is TLS (as PostgreSQL sees it).
    static func encrypted(_ url: String) throws -> Bool {
        try PostgresBackend(url: url).read { db in
            try Bool.fetchOne(db, sql: "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        } ?? false
    }
    /// Why connecting to `url` failed ("connected" if it did not).
    static func refusal(_ url: String) -> String {
        do { _ = try PostgresBackend(url: url); return "connected" } catch { return "\(error)" }
    }

    @Test func tlsToPostgresIsCheckedAsLibpqChecksIt() throws {
        let encrypted = Self.encrypted, refusal = Self.refusal
        let pg = try Postgres()
        let ip = "postgres://arca@127.0.0.1:\(pg.port)/arca", name = "postgres://arca@localhost:\(pg.port)/arca"
        #expect(try encrypted(ip) == false, "prefer falls back to a plain connection when the server has no TLS")
        #expect(refusal(ip + "?sslmode=require").contains("does not accept TLS"))

        let files = try DevCA.ensure(in: VaultCLITests.dir(), names: ["localhost"], addresses: [])
        let other = try DevCA.ensure(in: VaultCLITests.dir())
        try pg.enableTLS(cert: files.serverCert, key: files.serverKey)
        #expect(try encrypted(ip), "prefer (the default) encrypts when the server can")
        #expect(try encrypted(ip + "?sslmode=disable") == false)
        #expect(try encrypted(ip + "?sslmode=require"), "require without a root certificate encrypts without checking")
        #expect(try encrypted(name + "?sslmode=verify-full&sslrootcert=\(files.caCert)"))
        #expect(try encrypted(ip + "?sslmode=verify-ca&sslrootcert=\(files.caCert)"), "verify-ca checks the chain, not the host")
        #expect(refusal(ip + "?sslmode=verify-full&sslrootcert=\(files.caCert)").contains("TLS to PostgreSQL failed"),
                "the certificate names localhost, not 127.0.0.1")
        for mode in ["verify-ca", "verify-full", "require"] {
            #expect(refusal(name + "?sslmode=\(mode)&sslrootcert=\(other.caCert)").contains("TLS to PostgreSQL failed"), "another CA: \(mode)")
        }
        #expect(refusal(name + "?sslmode=verify-full&sslrootcert=\(files.serverKey)").contains("not a readable PEM file"))
        // A certificate that names only the address the name resolves to does not name the name (NIOSSL alone
        // would take it; libpq does not).
        let ipOnly = try DevCA.ensure(in: VaultCLITests.dir(), names: [], addresses: [[127, 0, 0, 1]])
        try pg.enableTLS(cert: ipOnly.serverCert, key: ipOnly.serverKey)
        #expect(refusal(name + "?sslmode=verify-full&sslrootcert=\(ipOnly.caCert)").contains("does not name localhost"))
        #expect(try encrypted(ip + "?sslmode=verify-full&sslrootcert=\(ipOnly.caCert)"), "an IP address in the address is checked as one")
        #expect(try encrypted(name + "?sslmode=verify-ca&sslrootcert=\(ipOnly.caCert)"), "verify-ca checks no name")
        #expect(refusal(name + "?sslmode=verify-full&sslrootcert=\(files.caCert)").contains("TLS to PostgreSQL failed"),
                "another CA through the name-checked channel")
        try pg.enableTLS(cert: files.serverCert, key: files.serverKey)
        if !FileManager.default.fileExists(atPath: NSHomeDirectory() + "/.postgresql/root.crt") {
            #expect(refusal(name + "?sslmode=verify-full").contains("give sslrootcert=FILE"))
        }
        // The folder records the options, and later commands connect as the first did.
        let dir = VaultCLITests.dir()
        let storage = name + "?sslmode=verify-full&sslrootcert=\(files.caCert)"
        let initialised = try CLITests.arca(["vault", "init", "--seal", "key-file", "--vault-dir", dir, "--storage", storage])
        #expect(initialised.status == 0, "\(initialised.err)")
        let record = try String(contentsOfFile: dir + "/storage.json", encoding: .utf8)
        #expect(record.contains("sslmode=verify-full") && record.contains("sslrootcert="), "\(record)")
        #expect(try CLITests.arca(["vault", "status", "--vault-dir", dir]).status == 0)
        // A later command's --storage is that command's: it never overwrites the folder's (weaker TLS included).
        let oneOff = try CLITests.arca(["vault", "status", "--vault-dir", dir, "--storage", name + "?sslmode=require"])
        #expect(oneOff.status == 0 && oneOff.err.contains("for this command"), "\(oneOff.err)")
        #expect(try String(contentsOfFile: dir + "/storage.json", encoding: .utf8) == record, "the record is unchanged")
        // An init that fails after reaching the database leaves no record: the folder is no vault (exit 6).
        try createDatabaseAndFailInit(pg)
        let relative = try PostgresBackend.Address(name + "?sslrootcert=ca.pem", environment: [:])
        #expect(relative.sslRootCert == FileManager.default.currentDirectoryPath + "/ca.pem", "a relative path is recorded whole")
        #expect(try PostgresBackend.Address(name, environment: ["PGSSLMODE": "verify-full", "PGSSLROOTCERT": "system"]).location
                .hasSuffix("?sslmode=verify-full&sslrootcert=system"))
    }

    /// `init` on a fresh database that fails after connecting (its key file exists already) leaves the folder
    /// without a record, so `status` there says no vault is initialised (exit 6), and a second `init` works.
    func createDatabaseAndFailInit(_ pg: Postgres) throws {
        try pg.createDatabase("halfmade")
        let dir = VaultCLITests.dir(), key = VaultCLITests.dir() + "/taken.key"
        FileManager.default.createFile(atPath: key, contents: Data("x".utf8))
        let failed = try CLITests.arca(["vault", "init", "--seal", "key-file", "--key-file", key, "--vault-dir", dir, "--storage", pg.url("halfmade")])
        #expect(failed.status != 0)
        #expect(!FileManager.default.fileExists(atPath: dir + "/storage.json"))
        let status = try CLITests.arca(["vault", "status", "--vault-dir", dir])
        #expect(status.status == 6, "\(status.out) \(status.err)")
        let again = try CLITests.arca(["vault", "init", "--seal", "key-file", "--key-file", dir + "/fresh.key", "--vault-dir", dir,
                                       "--storage", pg.url("halfmade")])
        #expect(again.status == 0, "\(again.err)")
    }

    /// A commit is answered only once it is on disk, whatever the database's or role's `synchronous_commit` says;
    /// a server run with `fsync` off (which no session can change) is reported as not durable (`serve` warns).
    @Test func commitsAreDurableWhateverTheDatabaseSays() throws {
        let pg = try Postgres()
        let setup = try PostgresBackend(url: pg.url())
        try setup.write { db in try db.execute(sql: "ALTER DATABASE arca SET synchronous_commit = off") }
        let backend = try PostgresBackend(url: pg.url())
        #expect(try backend.read { db in try String.fetchOne(db, sql: "SHOW synchronous_commit") } == "on")
        #expect(try backend.write { db in try String.fetchOne(db, sql: "SHOW synchronous_commit") } == "on")
        #expect(try backend.isDurable())
        try setup.write { db in try db.execute(sql: "ALTER DATABASE arca SET synchronous_commit = remote_apply") }
        #expect(try PostgresBackend(url: pg.url()).read { db in try String.fetchOne(db, sql: "SHOW synchronous_commit") } == "remote_apply",
                "a stronger setting is kept")
        // ALTER SYSTEM cannot run in a transaction: through psql.
        let off = try CLITests.run("/usr/bin/psql", ["-h", "127.0.0.1", "-p", String(pg.port), "-U", "arca", "arca", "-c",
                                                     "ALTER SYSTEM SET fsync = off", "-c", "SELECT pg_reload_conf()"])
        try #require(off.status == 0, "\(off.err)")
        usleep(300_000)
        #expect(try PostgresBackend(url: pg.url()).isDurable() == false, "fsync off is reported")
    }

    /// A server that asks for a client certificate gets the one `sslcert`/`sslkey` (or `PGSSLCERT`/`PGSSLKEY`)
    /// name, as libpq sends it; a key others may read, a key without its certificate and a certificate of the
    /// wrong user are each refused by name.
    @Test func clientCertificatesAreSentAsLibpqSendsThem() throws {
        let pg = try Postgres()
        let work = VaultCLITests.dir()
        func openssl(_ args: [String]) throws {
            let r = try CLITests.run("/usr/bin/openssl", args)
            try #require(r.status == 0, "openssl \(args): \(r.err)")
        }
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        try openssl(["req", "-x509"] + ec + ["-keyout", work + "/ca.key", "-out", work + "/ca.crt", "-subj", "/CN=client CA", "-days", "2"])
        for user in ["arca", "mallory"] {
            try openssl(["req"] + ec + ["-keyout", "\(work)/\(user).key", "-out", "\(work)/\(user).csr", "-subj", "/CN=\(user)"])
            try openssl(["x509", "-req", "-in", "\(work)/\(user).csr", "-CA", work + "/ca.crt", "-CAkey", work + "/ca.key",
                         "-CAcreateserial", "-out", "\(work)/\(user).crt", "-days", "2"])
            chmod("\(work)/\(user).key", 0o600)
        }
        // One the server's CA did not sign.
        try openssl(["req", "-x509"] + ec + ["-keyout", work + "/stranger.key", "-out", work + "/stranger.crt", "-subj", "/CN=arca", "-days", "2"])
        chmod(work + "/stranger.key", 0o600)
        let server = try DevCA.ensure(in: VaultCLITests.dir())
        try pg.enableTLS(cert: server.serverCert, key: server.serverKey, clientCA: work + "/ca.crt")
        let url = pg.url(), mine = "sslcert=\(work)/arca.crt&sslkey=\(work)/arca.key"
        if !FileManager.default.fileExists(atPath: NSHomeDirectory() + "/.postgresql/postgresql.crt") {
            #expect(Self.refusal(url).contains("refused the sign-in: connection requires a valid client certificate"),
                    "no certificate, no connection")
        }
        #expect(try Self.encrypted(url + "?" + mine))
        #expect(Self.refusal(url + "?sslcert=\(work)/mallory.crt&sslkey=\(work)/mallory.key").contains("refused the sign-in: password authentication failed"),
                "a certificate that names another user")
        #expect(Self.refusal(url + "?sslcert=\(work)/arca.crt&sslkey=\(work)/mallory.key").contains("the key is not the certificate's"),
                "a key that is not the certificate's")
        #expect(Self.refusal(url + "?sslcert=\(work)/stranger.crt&sslkey=\(work)/stranger.key").contains("does not accept the client certificate"),
                "a certificate of a CA the server does not trust is the client's fault, not the server certificate's")
        #expect(Self.refusal(url + "?sslkey=\(work)/arca.key").contains("without sslcert"))
        #expect(Self.refusal(url + "?sslcert=\(work)/arca.crt&sslkey=\(work)/none.key").contains("No such file"))
        #expect(Self.refusal(url + "?sslcert=\(work)/arca.key&sslkey=\(work)/arca.key").contains("not a readable PEM certificate"))
        chmod("\(work)/arca.key", 0o644)
        #expect(Self.refusal(url + "?" + mine).contains("group or others may read it"))
        chmod("\(work)/arca.key", 0o600)
        // From the environment, and recorded with the folder: later commands connect as the first did.
        let env = try PostgresBackend.Address(url, environment: ["PGSSLCERT": work + "/arca.crt", "PGSSLKEY": work + "/arca.key"])
        #expect(env.sslCert == work + "/arca.crt" && env.sslKey == work + "/arca.key")
        let dir = VaultCLITests.dir()
        let initialised = try CLITests.arca(["vault", "init", "--seal", "key-file", "--vault-dir", dir, "--storage", url + "?" + mine])
        #expect(initialised.status == 0, "\(initialised.err)")
        #expect(try String(contentsOfFile: dir + "/storage.json", encoding: .utf8).contains("sslkey="))
        let status = try CLITests.arca(["vault", "status", "--vault-dir", dir])
        #expect(status.status == 0, "\(status.err)")
    }

    /// A group commit's records chain on the transaction's memo of the trail's head, not on a read of it: a job
    /// that appended records and then failed (its savepoint rolled back, or a batch of one rolled back whole),
    /// alone or beside others, an inner savepoint rolled back inside a job that goes on — none leaves a gap or a
    /// fork in the chain, on SQLite or on PostgreSQL. Random batches over 30 seeds each.
    /// A node that stops mid-transaction holding the write lock (the outsider's SIGSTOPped node: every other
    /// node's writes and reads then waited for as long as it was stopped, 20 s a read): callers elsewhere are
    /// answered unavailable within their deadline, not a statement timeout later, and PostgreSQL ends the stopped
    /// session after 5 s idle in its transaction, so writes go through again while it is still stopped; its own
    /// transaction then fails, nothing of it committed.
    @Test func aNodeStoppedHoldingTheWriteLockHoldsNobodyPastTheirDeadline() throws {
        let pg = try Postgres()
        let store = VaultStore(backend: try PostgresBackend(url: pg.url()))
        let stopped = try PostgresBackend(url: pg.url())
        let holding = DispatchSemaphore(value: 0)
        let holderResult = Locked<String>("")
        let group = DispatchGroup()
        group.enter()
        Thread {
            defer { group.leave() }
            do {
                try stopped.write { db in
                    try db.execute(sql: "INSERT INTO meta (key, value) VALUES ('stopped-node', ?)", arguments: [Data([1])])
                    holding.signal()
                    sleep(8)  // stopped between two statements, the lock held
                }
                holderResult.set("committed")
            } catch { holderResult.set("\(error)") }
        }.start()
        holding.wait()
        let t0 = Date()
        let answers = Locked<[(Double, String)]>([])
        for _ in 0..<6 {
            group.enter()
            Thread {
                defer { group.leave() }
                let started = Date()
                var outcome = "answered"
                do {
                    try RequestDeadline.run(by: .now() + 3) { try store.grouped { db in try db.execute(sql: "SELECT 1") } }
                } catch { outcome = "\(error)" }
                answers.update { $0.append((Date().timeIntervalSince(started), outcome)) }
            }.start()
        }
        while answers.get().count < 6 && Date().timeIntervalSince(t0) < 20 { usleep(50_000) }
        for (seconds, outcome) in answers.get() {
            #expect(seconds < 4.5 && outcome.contains("unavailable"), "answered within its 3 s deadline: \(seconds) s, \(outcome)")
        }
        while Date().timeIntervalSince(t0) < 6.5 { usleep(50_000) }
        let w0 = Date()
        try store.grouped { db in try db.execute(sql: "SELECT 1") }
        #expect(Date().timeIntervalSince(w0) < 1.5, "the stopped node's lock was released while it is still stopped")
        group.wait()
        #expect(holderResult.get().contains("unavailable"), "the stopped node's transaction failed: \(holderResult.get())")
        #expect(try store.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*)::bigint FROM meta WHERE key = 'stopped-node'") } == 0)
    }

    /// A new node's first start into a folder that does not exist yet (the outsider's: it served, but left no
    /// folder and no record, so `status` on it then said "no vault"): the folder is made 0700 and records the
    /// database, without the password.
    @Test func aNewNodesFirstStartMakesItsFolderAndRecordsTheDatabase() throws {
        let pg = try Postgres()
        let pair = try Pair(pg)
        let fresh = VaultCLITests.dir() + "/new-node"
        let p = Process()
        p.executableURL = URL(fileURLWithPath: CLITests.binary)
        let v = pair.dir + "/v"
        p.arguments = ["vault", "serve", "--vault-dir", fresh, "--key-file", v + "/dev-master.key", "--storage",
                       pg.url().replacingOccurrences(of: "arca@", with: "arca:\(Self.password)@"), "--tls-cert", v + "/dev-tls.pem",
                       "--tls-key", v + "/dev-tls-key.pem", "--listen", "127.0.0.1:\(VaultServerTests.Server.freePort())"]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        defer { p.terminate(); p.waitUntilExit() }
        let record = fresh + "/storage.json"
        for _ in 0..<100 where !FileManager.default.fileExists(atPath: record) { usleep(100_000) }
        let text = try String(contentsOfFile: record, encoding: .utf8)
        #expect(text.contains("127.0.0.1") && !text.contains(Self.password), "\(text)")
        let mode = try FileManager.default.attributesOfItem(atPath: fresh)[.posixPermissions] as? Int
        #expect(mode == 0o700)
        let status = try CLITests.arca(["vault", "status", "--vault-dir", fresh, "--key-file", v + "/dev-master.key"])
        #expect(status.status == 0, "\(status.err)")
    }

    /// Writers on several nodes at once (two backends, as two processes, four threads each) append to one
    /// trail: each write transaction takes the lock and reads the head in one statement (`arca_write_lock()`),
    /// and the head it reads is always the one the writer before it left — no append fails on a taken sequence
    /// number and the chain verifies with every record.
    @Test func concurrentWritersOnTwoNodesChainOnTheHeadTheLockReads() throws {
        let pg = try Postgres()
        let operator_ = Principal.localOperator(user: "tester")
        let dir = VaultCLITests.dir() + "/vault"
        let vault = try Vault(directory: dir, storage: try PostgresBackend(url: pg.url()), create: true)
        _ = try vault.initialize(.keyFile(path: VaultCLITests.dir() + "/master.key"), caller: operator_, source: "test")
        let nodes = [vault.store.backend, try PostgresBackend(url: pg.url())]
        let failures = Locked<[String]>([])
        let group = DispatchGroup()
        for t in 0..<8 {
            group.enter()
            Thread {
                defer { group.leave() }
                for i in 0..<25 {
                    do {
                        try nodes[t % 2].write { db in
                            try AuditLog.append(db, caller: "t\(t)", operation: "Probe", secretName: nil, secretVersion: nil,
                                                result: "OK", source: "\(i)", key: nil)
                        }
                    } catch { failures.update { $0.append("\(t)/\(i): \(error)") } }
                }
            }.start()
        }
        group.wait()
        let failed = failures.get()
        #expect(failed.count == 0, "\(failed.prefix(3))")
        let probes = try vault.auditRecords(AuditQuery(operation: "Probe"), caller: operator_, source: "test")
        #expect(probes.count == 200)
        let verified = try vault.verifyAudit(publicKey: nil)
        #expect(verified.problem == nil, "\(String(describing: verified.problem))")
    }

    @Test func failedJobsLeaveNoGapInTheChainOnEitherBackend() async throws {
        let pg = try Postgres()
        let operator_ = Principal.localOperator(user: "tester")
        struct Boom: Error {}
        func probe(_ db: any SQLConnection, _ result: String = "OK") throws {
            try AuditLog.append(db, caller: "t", operation: "Probe", secretName: nil, secretVersion: nil, result: result, source: "t", key: nil)
        }
        // Audit-only batches too: on PostgreSQL they are collected and sent as one call (`arca_append`).
        for (postgres, auditOnly) in [(false, false), (true, false), (false, true), (true, true)] {
            let dir = VaultCLITests.dir() + "/vault"
            let database = auditOnly ? "audit_only" : "arca"
            if postgres && auditOnly { try pg.createDatabase(database) }
            let vault = try Vault(directory: dir, storage: postgres ? try PostgresBackend(url: pg.url(database)) : nil, create: true)
            _ = try vault.initialize(.keyFile(path: VaultCLITests.dir() + "/master.key"), caller: operator_, source: "test")
            let key = try #require(vault.currentKeyring?.auditKey)
            var kept = 0
            // Each job: 1-3 records, then 0-2 inner savepoints that append and roll back, then maybe a failure.
            await propertyCheck(count: 30, input: Gen.int(in: 0...17).array(of: 1...5)) { codes in
                let jobs = codes.map { (records: $0 % 3 + 1, fails: $0 / 3 % 2 == 1, inner: $0 / 6) }
                let batch = jobs.map { job in
                    GroupCommitter.Job({ db in
                        for _ in 0..<job.records { try probe(db) }
                        for _ in 0..<job.inner {
                            _ = try? db.inSavepointReturning {
                                try probe(db, "rolled back")
                                throw Boom()
                            }
                        }
                        if job.fails { throw Boom() }
                        try probe(db)
                    }, checkpoint: auditOnly ? key : nil, auditOnly: auditOnly)
                }
                #expect(GroupCommitter.run(batch, backend: vault.store.backend) == nil)
                #expect(zip(batch, jobs).allSatisfy { ($0.failure != nil) == $1.fails })
                kept += jobs.filter { !$0.fails }.map { $0.records + 1 }.reduce(0, +)
            }
            let probes = try vault.auditRecords(AuditQuery(operation: "Probe"), caller: operator_, source: "test")
            #expect(probes.count == kept && probes.allSatisfy { $0.result == "OK" }, "postgres: \(postgres)")
            let verified = try vault.verifyAudit(publicKey: nil)
            #expect(verified.problem == nil, "postgres: \(postgres): \(String(describing: verified.problem))")
            if postgres && auditOnly {
                #expect((vault.store.backend as? PostgresBackend)?.appendCounts.withLockedValue({ $0.appended }) ?? 0 >= 15, "most batches went as one call")
            }
        }
    }

    /// An audit-only batch chains on the head its node last saw; after another node's append it is told the
    /// head it found and chains again, and the trail stays one chain however the nodes interleave.
    @Test func auditOnlyBatchesFromTwoNodesChainAgainAfterTheOthersAppend() throws {
        let pg = try Postgres()
        let operator_ = Principal.localOperator(user: "tester")
        let vault = try Vault(directory: VaultCLITests.dir() + "/vault", storage: try PostgresBackend(url: pg.url()), create: true)
        _ = try vault.initialize(.keyFile(path: VaultCLITests.dir() + "/master.key"), caller: operator_, source: "test")
        let a = try #require(vault.store.backend as? PostgresBackend)
        let b = try PostgresBackend(url: pg.url())
        let key = try #require(vault.currentKeyring?.auditKey)
        @Sendable func probe(_ node: PostgresBackend, _ source: String, auditOnly: Bool = true) -> (any Error)? {
            GroupCommitter.run([GroupCommitter.Job({ db in
                try AuditLog.append(db, caller: "t", operation: "Probe", secretName: nil, secretVersion: nil, result: "OK",
                                    source: source, key: nil)
            }, checkpoint: key, auditOnly: auditOnly)], backend: node)
        }
        #expect(probe(a, "a1") == nil)
        #expect(a.appendCounts.withLockedValue { $0 } == (1, 0))
        // b has never written: its first batch takes the write transaction, which teaches it the head.
        #expect(probe(b, "b1") == nil)
        #expect(b.appendCounts.withLockedValue { $0.appended } == 0)
        #expect(probe(b, "b2") == nil)
        #expect(b.appendCounts.withLockedValue { $0 } == (1, 0))
        // a's head is two records old now: told so, it chains again on the head it is sent.
        #expect(probe(a, "a2") == nil)
        #expect(a.appendCounts.withLockedValue { $0 } == (2, 1))
        // A write between (not audit-only) teaches b nothing it needs: it chains again too.
        #expect(probe(a, "a3", auditOnly: false) == nil)
        #expect(probe(b, "b3") == nil)
        #expect(b.appendCounts.withLockedValue { $0 } == (2, 1))

        // What a job assumed of `meta` is checked inside the one call; a batch where it no longer holds is run
        // again in a transaction, where only the jobs whose assumption failed fail (and leave no record).
        _ = try a.write { db in try VaultStore.setMeta(db, "probe-assumption", [1]) }
        func assuming(_ values: [[UInt8]?]) -> [GroupCommitter.Job] {
            values.enumerated().map { i, value in
                GroupCommitter.Job({ db in
                    try db.expectMeta("probe-assumption", is: value)
                    try AuditLog.append(db, caller: "t", operation: "Probe", secretName: nil, secretVersion: nil, result: "OK",
                                        source: "assumed \(i) \(value ?? []) \(UUID())", key: nil)
                }, checkpoint: key, auditOnly: true)
            }
        }
        let before = a.appendCounts.withLockedValue { $0.appended }
        let holding = assuming([[1], [1]])
        #expect(GroupCommitter.run(holding, backend: a) == nil)
        #expect(holding.allSatisfy { $0.failure == nil })
        #expect(a.appendCounts.withLockedValue { $0.appended } == before + 1, "went as one call")
        for values in [[[1], [2], nil], [[2], [2]]] as [[[UInt8]?]] {
            let jobs = assuming(values)
            #expect(GroupCommitter.run(jobs, backend: a) == nil)
            let stale = jobs.map { $0.failure is StaleAssumption }
            let expected = values.map { $0 != [1] }
            #expect(stale == expected, "\(values)")
        }
        #expect(a.appendCounts.withLockedValue { $0.appended } == before + 1, "the stale batches were not appended as one call")

        let failures = Locked<[String]>([])
        let group = DispatchGroup()
        for t in 0..<6 {
            group.enter()
            Thread {
                defer { group.leave() }
                for i in 0..<30 {
                    if let e = probe(t % 2 == 0 ? a : b, "\(t)/\(i)", auditOnly: i % 7 != 0) {
                        failures.update { $0.append("\(t)/\(i): \(e)") }
                    }
                }
            }.start()
        }
        group.wait()
        #expect(failures.get().isEmpty, "\(failures.get().prefix(3))")
        let probes = try vault.auditRecords(AuditQuery(operation: "Probe"), caller: operator_, source: "test")
        let appended = 6 + 3 + 180
        #expect(probes.count == appended)
        #expect(Set(probes.map(\.source)).count == appended)
        let verified = try vault.verifyAudit(publicKey: nil)
        #expect(verified.problem == nil, "\(String(describing: verified.problem))")
        let checkpoints = try pg.psql("SELECT count(*) FROM audit_checkpoints WHERE seq > 1")
        #expect(Int(checkpoints.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0 >= 180)
    }

    /// On PostgreSQL a secret read, or a write, is decided on the node's cached directory, and its transaction
    /// checks that the directory did not change since (a read: its record's one call); an assign, a disable, an
    /// enable or an unassign made by a command on the folder still counts at the very next request on either
    /// node, a request decided again leaves one record, not two, and a refused write stores nothing.
    @Test(arguments: [false, true]) func directoryChangesBiteAtOnceOnCachedDecisions(writes: Bool) throws {
        let pg = try Postgres()
        let pair = try Pair(pg)
        let v = pair.a.vaultArgs
        let app = try VaultCLITests.json(try CLITests.arca(["vault", "app", "create", "cached", "--output", "json"] + v).out)
        #expect(try CLITests.arca(["vault", "secret", "set", "cached"] + v, stdin: "c4ched").status == 0)
        let token = try pair.a.token(clientId: app["clientId"] as! String, secret: app["clientSecret"] as! String)
        var stored = ["c4ched"]
        var recordedAsked = 0
        func expect(_ node: VaultServerTests.Server, _ status: String, _ why: Comment) {
            for _ in 0..<3 {
                let value = "w-\(UUID().uuidString)"
                let answer = writes ? pair.put(node, "cached", value, token: token) : pair.get(node, "cached", token: token).status
                #expect(answer == status, why)
                if writes && answer == "200" { stored.append(value) }
                // (A caller disabled since is a failed sign-in, recorded as one, not as this operation.)
                if status != "401" { recordedAsked += 1 }
            }
        }
        expect(pair.a, "403", "not assigned yet")
        for round in 0..<3 {
            let role = writes ? "Key Vault Secrets Officer" : "Key Vault Secrets User"
            let assigned = try VaultCLITests.json(try CLITests.arca(["vault", "role", "assign", "--role", role,
                                                                     "--assignee", "cached", "--output", "json"] + v).out)
            expect(pair.a, "200", "assigned on the folder: counts at once (round \(round))")
            expect(pair.b, "200", "and on the other node")
            #expect(try CLITests.arca(["vault", "app", "disable", "cached"] + v).status == 0)
            expect(pair.a, "401", "disabled on the folder: A's cached decision is not used")
            expect(pair.b, "401", "nor B's")
            #expect(try CLITests.arca(["vault", "app", "enable", "cached"] + v).status == 0)
            expect(pair.a, "200", "enabled again")
            #expect(try CLITests.arca(["vault", "role", "unassign", assigned["id"] as! String] + v).status == 0)
            expect(pair.a, "403", "unassigned: counts at once on A")
            expect(pair.b, "403", "and on B")
        }
        func count(_ sql: String) throws -> Int? { Int(try pg.psql(sql).trimmingCharacters(in: .whitespacesAndNewlines)) }
        // One record per request answered 200 or 403, whichever way it was decided.
        let operation = writes ? "SecretSet" : "SecretGet"
        #expect(try count("SELECT count(*) FROM audit WHERE convert_from(operation, 'UTF8') = '\(operation)' AND convert_from(secret_name, 'UTF8') = 'cached' AND convert_from(caller, 'UTF8') LIKE '%\(app["objectId"] as! String)%'") == recordedAsked)
        // Every version stored is one a 200 answered, the last of them the value.
        #expect(try count("SELECT count(*) FROM secret_versions WHERE name_key = 'cached'") == stored.count)
        #expect(try CLITests.arca(["vault", "secret", "get", "cached"] + v).out.trimmingCharacters(in: .whitespacesAndNewlines) == stored.last)
        let verify = try CLITests.arca(["vault", "audit", "verify"] + v)
        #expect(verify.status == 0, "\(verify.out) \(verify.err)")
    }
}

import ArcaRules
import ArcaScan
import Foundation
import Testing
@testable import ArcaMigrate

/// The lookup helpers never expose a credential (no client secret, client assertion, token or value on a
/// command line, where `ps` shows it to every local user, nor in a child's environment), and a migrated shell
/// script stops when a lookup fails.
@Suite struct HelperSafetyTests {
    static let clientSecret = "cs~Q8x\"Zr\\p4Lw-client-secret"
    static let token = "eyJhbGciOiJFUzI1NiJ9.fake-access-token.c2ln"
    static let value = "v4lue-from-the-vault"

    static func folder() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("arca-helper-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    static func run(_ executable: String, _ args: [String], cwd: String? = nil, env: [String: String]) throws -> (status: Int32, out: String, err: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = args
        p.environment = env
        if let cwd { p.currentDirectoryURL = URL(fileURLWithPath: cwd) }
        let out = Pipe(), err = Pipe()
        (p.standardOutput, p.standardError, p.standardInput) = (out, err, FileHandle.nullDevice)
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }

    /// A `curl` that records its arguments and environment (and an `openssl` that records them, then runs the
    /// real one), answering as the vault would: FAKE_VAULT=ok, sealed (503), denying (403) or down (exit 7).
    static func fakeTools() throws -> (bin: String, log: String) {
        let dir = try folder()
        let log = dir + "/log"
        try FileManager.default.createDirectory(atPath: log, withIntermediateDirectories: true)
        let curl = """
            #!/bin/sh
            n=$$.$(date +%s%N)
            { for a in "$@"; do printf '%s\\n' "$a"; done; } > "\(log)/curl-argv.$n"
            env > "\(log)/curl-env.$n"
            cat > "\(log)/curl-stdin.$n"
            case "$*" in
              *oauth2*) printf '{"access_token":"\(token)","expires_in":3600}\\n200'; exit 0 ;;
            esac
            case ${FAKE_VAULT:-ok} in
              ok) printf '{"value":"\(value)","id":"https://v/secrets/x/1"}\\n200' ;;
              sealed) printf '{"error":{"code":"ServiceUnavailable","message":"the vault is sealed"}}\\n503' ;;
              denying) printf '{"error":{"code":"Forbidden","message":"the caller may not read this secret"}}\\n403' ;;
              down) echo 'curl: (7) Failed to connect to v port 443: Connection refused' >&2; exit 7 ;;
            esac

            """
        let openssl = """
            #!/bin/sh
            n=$$.$(date +%s%N)
            { for a in "$@"; do printf '%s\\n' "$a"; done; } > "\(log)/openssl-argv.$n"
            env > "\(log)/openssl-env.$n"
            exec /usr/bin/openssl "$@"

            """
        for (name, text) in [("curl", curl), ("openssl", openssl)] {
            try text.write(toFile: dir + "/" + name, atomically: true, encoding: .utf8)
            chmod(dir + "/" + name, 0o755)
        }
        return (dir, log)
    }

    static func logs(_ log: String, _ prefix: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: log).filter { $0.hasPrefix(prefix) }
            .map { try String(contentsOfFile: log + "/" + $0, encoding: .utf8) }
    }

    static let shells: [String] = ["/bin/sh", "/bin/bash", "/usr/bin/zsh"].filter { FileManager.default.isExecutableFile(atPath: $0) }

    static func vaultEnv(_ bin: String) -> [String: String] {
        ["PATH": bin + ":/usr/bin:/bin", "ARCA_VAULT_URL": "https://vault.example:8443", "AZURE_TENANT_ID": "tenant-1",
         "AZURE_CLIENT_ID": "client-1", "AZURE_CLIENT_SECRET": clientSecret, "HOME": "/tmp"]
    }

    /// Reproduction: the shell helper passed the client secret and the bearer token on curl's command line.
    @Test(arguments: shells)
    func shellHelperKeepsCredentialsOffCommandLinesAndOutOfChildren(_ shell: String) throws {
        let (bin, log) = try Self.fakeTools()
        let dir = try Self.folder()
        try #require(EmbeddedHelpers.files["arca-vault.sh"]).write(toFile: dir + "/arca-vault.sh", atomically: true, encoding: .utf8)
        // `set -x` and `set -a` in the caller must not print or export the credentials either.
        let script = ". ./arca-vault.sh; set -a; set -x; v=$(arca_secret db-password) || exit 9; set +x; printf '[%s]' \"$v\""
        let r = try Self.run(shell, ["-c", script], cwd: dir, env: Self.vaultEnv(bin))
        #expect(r.status == 0 && r.out == "[\(Self.value)]", "\(shell): \(r.status) \(r.out) \(r.err)")
        let argv = try Self.logs(log, "curl-argv"), env = try Self.logs(log, "curl-env"), stdin = try Self.logs(log, "curl-stdin")
        #expect(argv.count == 2)
        for text in argv + env {
            #expect(!text.contains("cs~Q8x") && !text.contains(Self.token) && !text.contains("fake-access-token"), "\(shell): \(text)")
        }
        #expect(!r.err.contains("cs~Q8x") && !r.err.contains("fake-access-token"), "\(shell) traced a credential: \(r.err)")
        // They went on curl's standard input instead.
        #expect(stdin.contains { $0.contains("client_secret=cs~Q8x\\\"Zr\\\\p4Lw") } && stdin.contains { $0.contains("Bearer \(Self.token)") })
    }

    /// Certificate sign-in: the client assertion (a bearer credential for ten minutes) stays off the command line.
    @Test func shellHelperKeepsTheClientAssertionOffTheCommandLine() throws {
        let (bin, log) = try Self.fakeTools()
        let dir = try Self.folder()
        try #require(EmbeddedHelpers.files["arca-vault.sh"]).write(toFile: dir + "/arca-vault.sh", atomically: true, encoding: .utf8)
        let made = try Self.run("/usr/bin/openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", dir + "/key.pem", "-out",
                                                     dir + "/cert.pem", "-subj", "/CN=app", "-days", "2"], env: ["PATH": "/usr/bin:/bin"])
        #expect(made.status == 0)
        let pem = try String(contentsOfFile: dir + "/cert.pem", encoding: .utf8) + String(contentsOfFile: dir + "/key.pem", encoding: .utf8)
        try pem.write(toFile: dir + "/client.pem", atomically: true, encoding: .utf8)
        var env = Self.vaultEnv(bin)
        env["AZURE_CLIENT_SECRET"] = nil
        env["AZURE_CLIENT_CERTIFICATE_PATH"] = dir + "/client.pem"
        let r = try Self.run("/bin/sh", ["-c", ". ./arca-vault.sh; arca_secret db-password"], cwd: dir, env: env)
        #expect(r.status == 0 && r.out == Self.value, "\(r.err)")
        for text in try Self.logs(log, "curl-argv") + Self.logs(log, "openssl-argv") + Self.logs(log, "curl-env") {
            #expect(!text.contains("eyJ"), "an assertion or token on a command line: \(text)")
        }
        #expect(try Self.logs(log, "curl-stdin").contains { $0.contains("client_assertion=eyJ") })
    }

    /// Every helper, by its source: where it starts a process, no credential goes into its arguments and the
    /// child gets a scrubbed environment; helpers that need no process start none.
    @Test func helperSourcesStartNoProcessWithACredential() throws {
        let spawns = ["exec.Command", "ProcessBuilder", "Runtime.getRuntime", "Process.Start", "proc_open", "shell_exec", "passthru",
                      "popen", "Open3", "IO.popen", "system(", "subprocess", "child_process", "Process()"]
        for (path, text) in EmbeddedHelpers.files {
            let code = text.split(separator: "\n").filter {
                let t = $0.trimmingCharacters(in: .whitespaces)
                return !t.hasPrefix("#") && !t.hasPrefix("//") && !t.hasPrefix("*") && !t.hasPrefix("/*")
            }.joined(separator: "\n")
            switch path {
            case "arca-vault.sh":
                for line in code.split(separator: "\n") where line.contains("curl ") || line.contains("openssl ") {
                    for credential in ["AZURE_CLIENT_SECRET", "client_secret", "Bearer", "_arca_token", "_arca_jwt", "client_assertion="] {
                        #expect(!line.contains(credential), "\(path): \(line)")
                    }
                }
            case "arca-vault.cjs", "azure-sdk/arca-vault.cjs":
                #expect(!code.contains("env: process.env"), "\(path) passes its whole environment to a child")
                #expect(code.contains("delete env.AZURE_CLIENT_SECRET") && code.contains("input"), "\(path)")
            case "arca_vault.py":
                #expect(code.components(separatedBy: "subprocess.run(").count - 1 == code.components(separatedBy: "env=_child_env()").count - 1)
            case "ArcaVault.swift":
                #expect(code.components(separatedBy: "Process()").count == code.components(separatedBy: "p.environment = childEnvironment").count)
                #expect(code.contains("\"--config\", \"-\"") && !code.contains("\"-H\""))
            default:
                for spawn in spawns { #expect(!code.contains(spawn), "\(path) starts a process (\(spawn)): check what it passes") }
                // Ruby and PHP run a shell command in backticks.
                if path.hasSuffix(".rb") || path.hasSuffix(".php") { #expect(!code.contains("`"), "\(path) runs a shell command") }
            }
        }
    }

    /// The synchronous JavaScript helper runs itself as a child: the client secret goes on its standard input.
    @Test func nodeHelperPassesTheClientSecretOnStandardInput() throws {
        let dir = try Self.folder()
        try #require(EmbeddedHelpers.files["arca-vault.cjs"]).write(toFile: dir + "/arca-vault.cjs", atomically: true, encoding: .utf8)
        try """
            const cp = require("node:child_process");
            const real = cp.spawnSync;
            let seen;
            cp.spawnSync = (cmd, args, opts) => { seen = { args, env: opts.env, input: opts.input }; return real(cmd, args, opts); };
            let message = "";
            try { require("./arca-vault.cjs").secret("db-password"); } catch (e) { message = e.message; }
            console.log(JSON.stringify({ message, args: seen.args, env: seen.env, input: seen.input }));

            """.write(toFile: dir + "/t.js", atomically: true, encoding: .utf8)
        var env = Self.vaultEnv("/nonexistent")
        env["ARCA_VAULT_URL"] = "https://127.0.0.1:1"
        let r = try Self.run("/usr/bin/env", ["node", "t.js"], cwd: dir, env: env)
        let seen = try #require(try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any], "\(r.err)")
        let message = seen["message"] as? String ?? ""
        // The child had the secret (it got as far as the network), though not from its environment or arguments.
        #expect(message.contains("cannot reach") && !message.contains("not set"), "\(message)")
        #expect(!"\(seen["args"] ?? "")".contains("cs~Q8x") && (seen["env"] as? [String: String])?["AZURE_CLIENT_SECRET"] == nil)
        #expect((seen["input"] as? String)?.contains("cs~Q8x") == true)
    }

    /// The Python helper runs openssl (certificate sign-in) with nothing of the application's environment.
    @Test func pythonHelperRunsOpensslWithAScrubbedEnvironment() throws {
        let dir = try Self.folder()
        try #require(EmbeddedHelpers.files["arca_vault.py"]).write(toFile: dir + "/arca_vault.py", atomically: true, encoding: .utf8)
        let made = try Self.run("/usr/bin/openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", dir + "/key.pem", "-out",
                                                     dir + "/cert.pem", "-subj", "/CN=app", "-days", "2"], env: ["PATH": "/usr/bin:/bin"])
        #expect(made.status == 0)
        try """
            import subprocess, sys, json
            import arca_vault
            real = subprocess.run
            seen = []
            def spy(*args, **kwargs):
                seen.append(sorted((kwargs.get("env") or {"<inherited>": ""}).keys()))
                return real(*args, **kwargs)
            subprocess.run = spy
            pem = open("cert.pem").read() + open("key.pem").read()
            open("client.pem", "w").write(pem)
            assertion = arca_vault._assertion("client.pem", "https://v/token")
            print(json.dumps({"seen": seen, "parts": len(assertion.split("."))}))

            """.write(toFile: dir + "/t.py", atomically: true, encoding: .utf8)
        var env = Self.vaultEnv("/nonexistent")
        env["PATH"] = "/usr/bin:/bin"
        env["STRIPE_KEY"] = "sk_live_in_the_application_environment"
        let r = try Self.run("/usr/bin/env", ["python3", "t.py"], cwd: dir, env: env)
        let out = try #require(try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any], "\(r.err)")
        #expect(out["parts"] as? Int == 3)
        let seen = try #require(out["seen"] as? [[String]])
        #expect(!seen.isEmpty && seen.allSatisfy { Set($0.filter { !$0.hasPrefix("LC_") }).isSubset(of: ["PATH", "HOME", "LANG", "TMPDIR", "OPENSSL_CONF"]) }, "\(seen) \(r.err)")
    }

    // MARK: A failed lookup stops a migrated script

    static let npmToken = "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"

    static func migrate(_ script: String, name: String = "publish.sh") throws -> String {
        let root = try folder()
        try script.write(toFile: root + "/" + name, atomically: true, encoding: .utf8)
        let findings = try Scanner(rules: try RuleSet.load(builtin: true, extraDirectories: []), options: ScanOptions()).scan(root: root).findings
        let plan = Planner(root: root).plan(findings)
        for f in plan.files { try f.new.write(toFile: root + "/" + f.path, atomically: true, encoding: .utf8) }
        for h in plan.helpers { try h.content.write(toFile: root + "/" + h.path, atomically: true, encoding: .utf8) }
        #expect(!plan.files.isEmpty, "nothing planned in \(script)")
        return root
    }

    @Test func exportBecomesAnAssignmentThatStops() throws {
        let root = try Self.migrate("#!/bin/bash\nset -euo pipefail\nexport NPM_TOKEN=\"\(Self.npmToken)\"\n  local_copy=\"x\"\n")
        #expect(try String(contentsOfFile: root + "/publish.sh", encoding: .utf8) == """
            #!/bin/bash
            set -euo pipefail
            . "$(dirname "${BASH_SOURCE:-$0}")/arca-vault.sh"
            NPM_TOKEN="$(arca_secret npm-token)" || exit 1; export NPM_TOKEN
              local_copy="x"

            """)
    }

    /// Reproduction: `export NPM_TOKEN="$(arca_secret npm-token)"` under `set -euo pipefail` hid a failed lookup and
    /// the script ran on with an empty token. Each form (export, a plain assignment, local, a lookup in an argument)
    /// in sh, bash and zsh, with `set -eu`, with `set -u` only and with no options, against a vault that is down,
    /// sealed or denying: the script stops before the next command; with the vault up it runs, `set -u` included.
    @Test(arguments: shells)
    func aFailedLookupStopsTheScript(_ shell: String) throws {
        let (bin, _) = try Self.fakeTools()
        let name = (shell as NSString).lastPathComponent
        let bodies = [
            "export NPM_TOKEN=\"\(Self.npmToken)\"\necho \"ran on ${#NPM_TOKEN}\"\n",
            "NPM_TOKEN=\(Self.npmToken)\necho \"ran on ${#NPM_TOKEN}\"\n",
            "publish() {\n  local NPM_TOKEN=\"\(Self.npmToken)\"\n  echo \"ran on ${#NPM_TOKEN}\"\n}\npublish\n",
            "printf 'ran on %s\\n' \"token=\(Self.npmToken)\" | wc -c | tr -d ' ' | sed 's/^/ran on /'\n",
        ]
        for options in ["set -eu", "set -u", ""] {
            for body in bodies {
                let root = try Self.migrate("#!\(shell)\n\(options)\n\(body)")
                let text = try String(contentsOfFile: root + "/publish.sh", encoding: .utf8)
                #expect(text.contains("|| exit 1"), "\(text)")
                for mode in ["down", "sealed", "denying"] {
                    var env = Self.vaultEnv(bin)
                    env["FAKE_VAULT"] = mode
                    let r = try Self.run(shell, [root + "/publish.sh"], cwd: root, env: env)
                    #expect(r.status != 0 && !r.out.contains("ran on"), "\(name) [\(options)] \(mode) ran on:\n\(text)\n\(r.out)\(r.err)")
                    #expect(r.err.contains("arca vault:"), "\(name) \(mode): \(r.err)")
                }
                let ok = try Self.run(shell, [root + "/publish.sh"], cwd: root, env: Self.vaultEnv(bin))
                #expect(ok.status == 0 && ok.out.contains("ran on"), "\(name) [\(options)] with the vault up:\n\(text)\n\(ok.out)\(ok.err)")
            }
        }
    }
}

import Foundation
import Testing

/// `arca migrate` end to end: real programs in Python, JavaScript, Java, Swift and shell that embed
/// credentials (and read one from the environment) are migrated into a running `arca vault serve --dev`, then
/// run as an application holding only the roles the report names, and must print what they printed before;
/// the rescan is clean, a second run finds nothing, and the rollback restores byte-identical files. (Edits,
/// failures and kills during a migration: MigrateSafetyTests.)
@Suite(.serialized) struct MigrateTests {
    static let stripe = CLITests.stripeKey
    static let dbPassword = "Tr0ub4dor&3xQ9z"
    static let smtpPassword = "mV8#qL2pX9wK4n"

    /// A git repository with five small programs that use their credentials.
    static func project() throws -> String {
        let root = try CLITests.tree([
            "billing.py": """
                #!/usr/bin/env python3
                \"\"\"Prints a digest of the credentials it uses.\"\"\"
                import hashlib
                import os

                DB_PASSWORD = "\(dbPassword)"
                STRIPE_KEY = '\(stripe)'
                smtp = os.environ["SMTP_PASSWORD"]

                print("py", hashlib.sha256((DB_PASSWORD + STRIPE_KEY + smtp).encode()).hexdigest(), f"{len('\(dbPassword)')}")

                """,
            "web/server.js": """
                const crypto = require("crypto");
                const config = {
                  stripeKey: "\(stripe)",
                  dbUrl: `postgresql://svc_app:\(dbPassword)@db.acme.internal:5432/${process.env.DB_NAME || "orders"}`,
                };
                console.log("js", crypto.createHash("sha256").update(config.stripeKey + config.dbUrl).digest("hex"));

                """,
            "java/Main.java": """
                import java.security.MessageDigest;

                public class Main {
                    static final String DB_PASSWORD = "\(dbPassword)";

                    public static void main(String[] args) throws Exception {
                        byte[] d = MessageDigest.getInstance("SHA-256").digest(DB_PASSWORD.getBytes("UTF-8"));
                        StringBuilder hex = new StringBuilder();
                        for (byte b : d) hex.append(String.format("%02x", b));
                        System.out.println("java " + hex);
                    }
                }

                """,
            "swift/main.swift": """
                struct Settings {
                    static let apiPassword = "Kq8vR2mZpW4xT7s"
                }
                let sum = Settings.apiPassword.utf8.reduce(0) { ($0 &* 31 &+ Int($1)) % 1_000_000_007 }
                print("swift", Settings.apiPassword.count, sum)

                """,
            "deploy.sh": """
                #!/bin/bash
                set -euo pipefail
                API_PASSWORD="Kq8vR2mZpW4xT7s"
                printf 'sh %s %s\\n' "$(printf '%s' "$API_PASSWORD" | sha256sum | cut -c1-16)" "$(printf '%s' "$SMTP_PASSWORD" | sha256sum | cut -c1-16)"

                """,
            ".env": "SMTP_PASSWORD=\(smtpPassword)\nDB_NAME=orders\n",
        ])
        try git(["init", "-q", "-b", "main"], root)
        try git(["add", "-A"], root)
        try git(["-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-qm", "app with credentials"], root)
        return root
    }

    @discardableResult
    static func git(_ args: [String], _ dir: String) throws -> String {
        let r = try CLITests.run("/usr/bin/git", ["-C", dir] + args)
        guard r.status == 0 else { throw VaultServerTests.Server.Failure(message: "git \(args): \(r.err)") }
        return r.out
    }

    /// Runs each program (compiling Java and Swift first); the outputs in a fixed order.
    static func runPrograms(_ root: String, env: [String: String]) throws -> [String] {
        var out: [String] = []
        func run(_ exe: String, _ args: [String], cwd: String = root) throws {
            let r = try CLITests.run(exe, args, cwd: cwd, env: env)
            #expect(r.status == 0, "\(exe) \(args): \(r.err)")
            out.append(r.out.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        try run("/usr/bin/env", ["python3", "billing.py"])
        try run("/usr/bin/env", ["node", "web/server.js"])
        let classes = root + "/.classes"
        let javaSources = try FileManager.default.contentsOfDirectory(atPath: root + "/java").filter { $0.hasSuffix(".java") }.map { root + "/java/" + $0 }
        #expect(try CLITests.run("/usr/bin/env", ["javac", "-d", classes] + javaSources).status == 0)
        try run("/usr/bin/env", ["java", "-cp", classes, "Main"])
        let swiftSources = try FileManager.default.contentsOfDirectory(atPath: root + "/swift").filter { $0.hasSuffix(".swift") }.map { root + "/swift/" + $0 }
        let compiled = try CLITests.run("/usr/bin/env", ["swiftc", "-o", root + "/.swift-app"] + swiftSources)
        #expect(compiled.status == 0, "\(compiled.err)")
        try run(root + "/.swift-app", [])
        try run("/bin/bash", ["deploy.sh"])
        try? FileManager.default.removeItem(atPath: classes)
        try? FileManager.default.removeItem(atPath: root + "/.swift-app")
        return out
    }

    static func json(_ path: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
    }

    @Test func migratedProgramsBehaveTheSameAgainstTheServer() throws {
        let root = try Self.project()
        let before = try Self.runPrograms(root, env: ["SMTP_PASSWORD": Self.smtpPassword])
        #expect(before.count == 5)

        let server = try VaultServerTests.Server()
        let ca = server.dir + "/v/dev-ca.pem"
        let remote = ["--vault", server.url, "--ca-cert", ca]
        let admin = ["AZURE_TENANT_ID": server.dev["tenantId"] as! String, "AZURE_CLIENT_ID": server.dev["clientId"] as! String,
                     "AZURE_CLIENT_SECRET": server.dev["clientSecret"] as! String]

        // The dry run shows the plan and a redacted diff, and writes nothing.
        let dry = try CLITests.arca(["migrate", root, "--env", "--env-file", root + "/.env"] + remote, env: admin)
        #expect(dry.status == 0, "\(dry.err)")
        #expect(dry.out.contains("db-password") && dry.out.contains("+DB_PASSWORD = arca_secret(\"db-password\")"))
        #expect(!dry.out.contains(Self.dbPassword) && !dry.out.contains(Self.stripe) && !dry.out.contains(Self.smtpPassword))
        #expect(try Self.git(["status", "--porcelain"], root).isEmpty)

        // Apply: stored, read back, rewritten, checked; the report names each secret's role and scope.
        let report = root + "/../migrate-report.json"
        let applied = try CLITests.arca(["migrate", root, "--apply", "--yes", "--env", "--env-file", root + "/.env", "--report", report] + remote, env: admin)
        #expect(applied.status == 0, "\(applied.out)\(applied.err)")
        #expect(applied.out.contains("ROTATE") && applied.out.contains("in 1 commit(s)"))
        let r = try Self.json(report)
        let secrets = try #require(r["secrets"] as? [[String: Any]])
        let names = Set(secrets.compactMap { $0["name"] as? String })
        #expect(names == ["db-password", "stripe-key", "smtp-password", "api-password"], "\(names)")
        #expect(secrets.allSatisfy { ($0["historyCommits"] as? [String])?.count == 1 })
        #expect(!(try String(contentsOfFile: root + "/billing.py", encoding: .utf8)).contains(Self.dbPassword))
        #expect(try String(contentsOfFile: root + "/.env", encoding: .utf8).contains("SMTP_PASSWORD=@Microsoft.KeyVault(SecretName=smtp-password)"))
        // Nothing secret in the rollback record or anywhere in the state folder.
        for f in try FileManager.default.contentsOfDirectory(atPath: root + "/.git/arca-migrate") {
            let text = try String(contentsOfFile: root + "/.git/arca-migrate/" + f, encoding: .utf8)
            for v in [Self.dbPassword, Self.stripe, Self.smtpPassword, "Kq8vR2mZpW4xT7s"] { #expect(!text.contains(v), "\(f)") }
        }

        // An application with exactly the roles the report names runs every program, without the variables.
        let app = try VaultCLITests.json(try CLITests.arca(["vault", "app", "create", "billing-runner", "--output", "json"] + remote, env: admin).out)
        for s in secrets {
            let assign = try CLITests.arca(["vault", "role", "assign", "--role", s["role"] as! String, "--assignee", "billing-runner",
                                            "--scope", s["scope"] as! String] + remote, env: admin)
            #expect(assign.status == 0, "\(assign.err)")
        }
        let runtime = ["ARCA_VAULT_URL": server.url, "ARCA_CA_CERT": ca, "AZURE_TENANT_ID": admin["AZURE_TENANT_ID"]!,
                       "AZURE_CLIENT_ID": app["clientId"] as! String, "AZURE_CLIENT_SECRET": app["clientSecret"] as! String,
                       "SMTP_PASSWORD": ""]
        #expect(try Self.runPrograms(root, env: runtime) == before)
        // The same application signing in with a certificate (AZURE_CLIENT_CERTIFICATE_PATH) instead.
        let keys = try CLITests.tree(["x": ""])
        let made = try CLITests.run("/usr/bin/openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", keys + "/key.pem",
                                                        "-out", keys + "/cert.pem", "-subj", "/CN=billing-runner", "-days", "2"])
        #expect(made.status == 0, "\(made.err)")
        let pem = try String(contentsOfFile: keys + "/cert.pem", encoding: .utf8) + String(contentsOfFile: keys + "/key.pem", encoding: .utf8)
        try pem.write(toFile: keys + "/client.pem", atomically: true, encoding: .utf8)
        #expect(try CLITests.arca(["vault", "app", "cert-add", "billing-runner", "--cert", keys + "/cert.pem"] + remote, env: admin).status == 0)
        let withCertificate = runtime.merging(["AZURE_CLIENT_SECRET": "", "AZURE_CLIENT_CERTIFICATE_PATH": keys + "/client.pem"]) { $1 }
        #expect(try Self.runPrograms(root, env: withCertificate) == before)
        // `arca run` resolves the .env reference into the child's environment.
        let printer = try CLITests.tree(["print_smtp.py": "import os, hashlib\nprint(hashlib.sha256(os.environ['SMTP_PASSWORD'].encode()).hexdigest())\n"])
        let viaRun = try CLITests.run(CLITests.binary, ["run", "--env-file", root + "/.env", "--", "python3", "print_smtp.py"], cwd: printer,
                                      env: runtime.merging(["SMTP_PASSWORD": "@Microsoft.KeyVault(SecretName=smtp-password)"]) { $1 })
        let direct = try CLITests.run("/usr/bin/env", ["python3", "print_smtp.py"], cwd: printer, env: ["SMTP_PASSWORD": Self.smtpPassword])
        #expect(viaRun.status == 0 && viaRun.out == direct.out, "\(viaRun.err)")
        // Without a variable, or with a role removed, the lookup fails with one clear message.
        let missing = try CLITests.run("/usr/bin/env", ["python3", "billing.py"], cwd: root, env: runtime.merging(["AZURE_CLIENT_ID": ""]) { $1 })
        #expect(missing.status != 0 && missing.err.contains("AZURE_CLIENT_ID not set"))
        let unreachable = try CLITests.run("/bin/bash", ["deploy.sh"], cwd: root, env: runtime.merging(["ARCA_VAULT_URL": "https://127.0.0.1:1"]) { $1 })
        #expect(unreachable.status != 0 && unreachable.err.contains("cannot reach"))
        // The migrated shell script stops at a failed lookup (set -euo pipefail hid it behind `export` before):
        // unreachable above, and here an application the vault denies.
        #expect(!unreachable.out.contains("sh "), "ran on: \(unreachable.out)")
        let stranger = try VaultCLITests.json(try CLITests.arca(["vault", "app", "create", "no-roles", "--output", "json"] + remote, env: admin).out)
        let denied = try CLITests.run("/bin/bash", ["deploy.sh"], cwd: root, env: runtime.merging([
            "AZURE_CLIENT_ID": stranger["clientId"] as! String, "AZURE_CLIENT_SECRET": stranger["clientSecret"] as! String]) { $1 })
        #expect(denied.status != 0 && denied.err.contains("403") && !denied.out.contains("sh "), "\(denied.out)\(denied.err)")

        // The rescan is clean and a second run has nothing to do.
        let rescan = try CLITests.arca(["scan", root, "--quiet"])
        #expect(rescan.status == 0, "\(rescan.out)\(rescan.err)")
        let again = try CLITests.arca(["migrate", root, "--env", "--env-file", root + "/.env"] + remote, env: admin)
        #expect(again.out.contains("Nothing to migrate"), "\(again.out)")

        // The rollback restores every file byte for byte and removes the helpers.
        let back = try CLITests.arca(["migrate", root, "--rollback"] + remote, env: admin)
        #expect(back.status == 0, "\(back.err)")
        #expect(try Self.git(["status", "--porcelain", "--untracked-files=all"], root).isEmpty)
        #expect(try Self.runPrograms(root, env: ["SMTP_PASSWORD": Self.smtpPassword]) == before)
    }

    @Test func dirtyTreesAreRefusedAndBadInputIsNamed() throws {
        let root = try Self.project()
        let vaultDir = VaultCLITests.dir() + "/v"
        #expect(try CLITests.arca(["vault", "init", "--seal", "key-file", "--vault-dir", vaultDir]).status == 0)
        try "# edited\n".write(toFile: root + "/deploy.sh", atomically: true, encoding: .utf8)
        try String(contentsOfFile: root + "/billing.py", encoding: .utf8).appending("# more\n").write(toFile: root + "/billing.py", atomically: true, encoding: .utf8)
        let dirty = try CLITests.arca(["migrate", root, "--apply", "--yes", "--vault-dir", vaultDir])
        #expect(dirty.status == 2 && dirty.err.contains("billing.py"))
        #expect(try CLITests.arca(["migrate", root, "--apply", "--vault-dir", vaultDir]).status == 2)  // no --yes, no terminal
        #expect(try CLITests.arca(["migrate", root + "/nope"]).status == 2)
        #expect(try CLITests.arca(["migrate", root, "--rollback", "--vault-dir", vaultDir]).status == 3)  // nothing to roll back
        try "not json".write(toFile: root + "/r.json", atomically: true, encoding: .utf8)
        #expect(try CLITests.arca(["migrate", root, "--from", root + "/r.json", "--vault-dir", vaultDir]).status == 2)
        // --from takes the findings of a redacted JSON report, by fingerprint.
        let report = root + "/../scan.json"
        _ = try CLITests.arca(["scan", root, "--format", "json", "-o", report, "--quiet"])
        let fromReport = try CLITests.arca(["migrate", root, "--from", report, "--vault-dir", vaultDir])
        #expect(fromReport.status == 0 && fromReport.out.contains("db-password") && fromReport.out.contains("Dry run"), "\(fromReport.err)")
        // arca run: a reference to a missing secret stops before the command (4); a missing command is 127.
        let ref = ["X": "@Microsoft.KeyVault(SecretName=nope)"]
        #expect(try CLITests.arca(["run", "--vault-dir", vaultDir, "--", "/bin/sh", "-c", "echo $X"], env: ref).status == 4)
        #expect(try CLITests.arca(["run", "--vault-dir", vaultDir, "--", "no-such-command-here"]).status == 127)
        #expect(try CLITests.arca(["vault", "secret", "set", "yes-here", "--vault-dir", vaultDir], stdin: "v4lue").status == 0)
        let ran = try CLITests.arca(["run", "--vault-dir", vaultDir, "--", "/bin/sh", "-c", "printf %s \"$X\"; exit 3"],
                                    env: ["X": "@Microsoft.KeyVault(SecretName=yes-here)"])
        #expect(ran.status == 3 && ran.out == "v4lue")
        let inside = try CLITests.arca(["migrate", root, "--apply", "--yes", "--force", "--vault-dir", root + "/.vault"])
        #expect(inside.status == 2 && inside.err.contains("inside the project"))
        // --force migrates the dirty files; --only narrows to one path.
        let only = try CLITests.arca(["migrate", root, "--apply", "--yes", "--force", "--only", "java", "--vault-dir", vaultDir])
        #expect(only.status == 0, "\(only.err)")
        // java/Main.java is a single-file program (no build file, nothing beside it): the helper goes inside it.
        let javaChanges = try Self.git(["status", "--porcelain"], root).split(separator: "\n").filter { $0.contains("java/") }
        let mainJava = try String(contentsOfFile: root + "/java/Main.java", encoding: .utf8)
        #expect(javaChanges.count == 1 && mainJava.contains("final class ArcaVault"), "\(javaChanges)")
        #expect(try String(contentsOfFile: root + "/billing.py", encoding: .utf8).contains(Self.dbPassword))
    }

    /// A rewrite that no longer compiles (a Java `switch` needs a compile-time constant) is undone at once.
    @Test func aRewriteThatDoesNotCompileIsRestored() throws {
        let original = """
            public class Modes {
                static final String ADMIN_PASSWORD = "hG7kq2Lm9xQ4zR";
                static String role(String given) {
                    switch (given) {
                        case ADMIN_PASSWORD: return "admin";
                        default: return "user";
                    }
                }
            }

            """
        let root = try CLITests.tree(["Modes.java": original])
        let vaultDir = VaultCLITests.dir() + "/v"
        #expect(try CLITests.arca(["vault", "init", "--seal", "key-file", "--vault-dir", vaultDir]).status == 0)
        let r = try CLITests.arca(["migrate", root, "--apply", "--yes", "--vault-dir", vaultDir])
        #expect(r.status == 3 && r.err.contains("Modes.java") && r.err.contains("restored"), "\(r.err)")
        #expect(!r.err.contains("hG7kq2Lm9xQ4zR"))
        #expect(try String(contentsOfFile: root + "/Modes.java", encoding: .utf8) == original)
        #expect(!FileManager.default.fileExists(atPath: root + "/ArcaVault.java"))
    }

    /// `--style azure-sdk`: the migrated Python program reads through the official Azure SDK for Python
    /// (`azure-keyvault-secrets` with `DefaultAzureCredential`), unmodified, against the server serving as
    /// https://vault.localhost:PORT with the token resource https://localhost:PORT (the SDK wants the vault's
    /// host under the resource's). The test maps vault.localhost to 127.0.0.1 for Python (no resolver does here).
    @Test func azureSDKStylePythonRunsThroughTheOfficialSDK() throws {
        let python = CLITests.repoRoot.appendingPathComponent(".build/test-venv/bin/python").path
        let root = try CLITests.tree(["report.py": """
            import hashlib
            DB_PASSWORD = "\(Self.dbPassword)"
            STRIPE_KEY = "\(Self.stripe)"
            print(hashlib.sha256((DB_PASSWORD + STRIPE_KEY).encode()).hexdigest())

            """])
        let before = try CLITests.run(python, ["report.py"], cwd: root)
        let server = try VaultServerTests.Server(extra: { ["--vault-url", "https://vault.localhost:\($0)", "--resource", "https://localhost:\($0)"] })
        let local = "https://localhost:\(server.port)"
        let ca = server.dir + "/v/dev-ca.pem"
        let admin = ["AZURE_TENANT_ID": server.dev["tenantId"] as! String, "AZURE_CLIENT_ID": server.dev["clientId"] as! String,
                     "AZURE_CLIENT_SECRET": server.dev["clientSecret"] as! String, "AZURE_AUTHORITY_HOST": local]
        let remote = ["--vault", local, "--ca-cert", ca]
        let applied = try CLITests.arca(["migrate", root, "--apply", "--yes", "--force", "--style", "azure-sdk", "--no-history"] + remote, env: admin)
        #expect(applied.status == 0, "\(applied.err)")
        #expect(try String(contentsOfFile: root + "/arca_vault.py", encoding: .utf8).contains("from azure.keyvault.secrets import SecretClient"))
        let app = try VaultCLITests.json(try CLITests.arca(["vault", "app", "create", "sdk-runner", "--output", "json"] + remote, env: admin).out)
        for name in ["db-password", "stripe-key"] {
            #expect(try CLITests.arca(["vault", "role", "assign", "--role", "Key Vault Secrets User", "--assignee", "sdk-runner",
                                       "--scope", "/secrets/\(name)"] + remote, env: admin).status == 0)
        }
        let shim = try CLITests.tree(["sitecustomize.py": """
            import socket
            _real = socket.getaddrinfo
            def _local(host, *args, **kwargs):
                return _real("127.0.0.1" if host == "vault.localhost" else host, *args, **kwargs)
            socket.getaddrinfo = _local

            """])
        let after = try CLITests.run(python, ["report.py"], cwd: root, env: [
            "AZURE_KEYVAULT_URL": "https://vault.localhost:\(server.port)", "AZURE_AUTHORITY_HOST": local, "ARCA_CA_CERT": ca,
            "AZURE_TENANT_ID": admin["AZURE_TENANT_ID"]!, "AZURE_CLIENT_ID": app["clientId"] as! String,
            "AZURE_CLIENT_SECRET": app["clientSecret"] as! String, "PYTHONPATH": shim])
        #expect(after.status == 0, "\(after.err.suffix(1500))")
        #expect(after.out == before.out && !before.out.isEmpty)
    }
}

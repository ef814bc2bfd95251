import Foundation
import Testing
@testable import ArcaReport
@testable import ArcaRules
@testable import ArcaScan

/// What the cold pass on detection found (a helper who knew only the README and docs, writing credential
/// files from the formats' documentation and slipping secrets past the scanner): each reproduction, as it was
/// reported, with made-up values.
@Suite struct OutsiderDetectionTests {
    static func scan(_ files: [String: String], _ configure: (inout ScanOptions) -> Void = { _ in }) throws -> ScanResult {
        let tree = TempTree()
        for (path, text) in files { tree.write(path, text) }
        return try Fixtures.scan(tree, configure)
    }

    static func text(_ result: ScanResult) -> String {
        let input = ReportInput(findings: result.findings, result: result, root: ".", absoluteRoot: "/", reveal: false,
                                rules: Fixtures.rules, toolVersion: "0.0.0-test")
        return ReportFormat.allCases.map { Reporter.render(input, format: $0) }.joined(separator: "\n")
    }

    /// A rule that captured only part of a value (up to a space, an escaped quote, an `@`) left the rest of it
    /// in the report's line, the hook's message included.
    @Test func noPartOfAValueIsLeftInTheLine() throws {
        let result = try Self.scan([
            ".msmtprc": "account default\nhost smtp.gmail.com\nuser a@gmail.com\npassword qwxz mvbt lpkr hjsn\n",
            ".netrc": "machine h.acme.io login u password \"Rk3m W9xP q2Lt 7Zv4\"\n",
            ".vscode/sftp.json": "{\"host\":\"h\",\"password\":\"Qm4\\\"Xz9pR\\\"t2Lk7Vb\"}\n",
            "s.py": "password = \"Tn5Bv8\\\"Cx1Zl4Kq9Wr\"\n",
            ".git-credentials": "https://ci:Rk3mW9x@Pq2Lt7Zv4@git.acme.io\n",
        ])
        let byPath = Dictionary(result.findings.map { ($0.path, $0.secret) }, uniquingKeysWith: { a, _ in a })
        #expect(byPath[".msmtprc"] == "qwxz mvbt lpkr hjsn")
        #expect(byPath[".netrc"] == "Rk3m W9xP q2Lt 7Zv4")
        #expect(byPath[".vscode/sftp.json"] == "Qm4\\\"Xz9pR\\\"t2Lk7Vb")
        #expect(byPath["s.py"] == "Tn5Bv8\\\"Cx1Zl4Kq9Wr")
        #expect(byPath[".git-credentials"] == "Rk3mW9x@Pq2Lt7Zv4")
        let report = Self.text(result)
        for piece in ["mvbt lpkr", "W9xP q2Lt", "Xz9pR", "Cx1Zl4Kq9Wr", "Pq2Lt7Zv4"] {
            #expect(!report.contains(piece), "\(piece) printed")
        }
        // The safety net on its own: whatever a rule captured, nothing after an unquoted value is shown, and
        // after a quoted one the line resumes at the closing quote.
        #expect(Finding.afterValue("password ", "qwxz", " mvbt lpkr") == "…")
        #expect(Finding.afterValue("pw = \"", "Tn5Bv8\\", "\"Cx1\"; x") == "…\"; x")
        #expect(Finding.afterValue("pw = \"", "Tn5Bv8Cx1", "\"; x") == "\"; x")
        // A doubled quote escapes itself (YAML, SQL, INI): the value goes on past it.
        #expect(Finding.afterValue("pw: '", "Vq8rT2", "''mXk9LpZ4wN' # x") == "…' # x")
    }

    @Test(arguments: [
        ("a/.netrc", "machine h.acme.io login u\npassword Vq7mRt2zKp9wXe4LsB3n\n", "netrc-password"),
        ("b/.netrc", "machine h.acme.io login u password\n  Vq7mRt2zKp9wXe4LsB3n\n", "netrc-password"),
        ("wp-config.php", "<?php\ndefine('AUTH_KEY',         '4)nF9v@qW~8TpLr2Xz+J5mK#c0^bG$7hY!eU&1sD*aZ?');\n", "wordpress-config-secret"),
        ("app.py", "app.secret_key = b'_9#zK2\"Q7m\\n\\xfa]/Lp4Rw'\n", "django-secret-key"),
        ("app2.py", "app.config['SECRET_KEY'] = b'\\x8f\\x1a\\x93\\xc4\\x0e\\x7b\\x2d\\x55\\xa9\\xf0\\x3c\\x61\\xd8\\x12\\xbe\\x47'\n", "django-secret-key"),
        ("pg_dump.sql", "COPY public.users (id, email, encrypted_password) FROM stdin;\n1\talice@acme.io\t$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy\t2024-01-01\n\\.\n", "password-hash-sql"),
        ("etc/shadow", "locked:!$6$BriurBB/8vFI.qZT$Moe4WWXWl7Xfwgy2smPel.rkSbhyUrEQS6nm8577LiqlPF7saySqbKjFStRAOAwCXBx9RbbH6FwQ3QSiAlB6xP:19700:0:99999:7:::\n", "password-hash-record"),
        ("k8s/basic-auth.yaml", "apiVersion: v1\nkind: Secret\ndata:\n  auth: YWRtaW46JGFwcjEkUW0zS3A4THgkNnJrd29nL3ZLVFIzVXZsTjNLektoLg==\n", "password-hash-record"),
        ("deploy/a.sh", "export API_SECRET=Bq9Wz3Km7Lx2PrVn4Tc8\n", "dotenv-secret"),
        ("deploy/c.sh", "DB_PASSWORD=Bq9Wz3Km7Lx2PrVn4Tc8\n", "dotenv-secret"),
        ("home/.bash_aliases", "export API_SECRET=Bq9Wz3Km7Lx2Pr\n", "dotenv-secret"),
        (".envrc", "export API_SECRET=Bq9Wz3Km7Lx2Pr\n", "dotenv-secret"),
        ("etc/profile.d/app.sh", "export API_SECRET=Bq9Wz3Km7Lx2Pr\n", "dotenv-secret"),
        (".env", "SESSION_SECRET='Tn5Bv8 Cx1Zl4 KqWq'\n", "dotenv-secret"),
        ("x.rb", "pass = \"Qz8Lm3Kp7Wx2RvTn5B\"\n", "generic-password"),
        ("x.php", "<?php $pass = \"Qz8Lm3Kp7Wx2RvTn5B\";\n", "generic-password"),
        ("x.js", "const pass = \"Qz8Lm3Kp7Wx2RvTn5B\";\n", "generic-password"),
        ("db.properties", "db.pass=Qz8Lm3Kp7Wx2RvTn5B\n", "generic-password-config"),
        ("x.py", "db_pass = \"Qz8Lm3Kp7Wx2RvTn5B\"\n", "generic-password"),
        ("tw.py", "CONSUMER_KEY = \"Tq7Wm2Xk9Lp4Rz8Vb3Nc6HyQ2\"\n", "generic-api-key"),
        ("tw.yml", "consumer_key: Tq7Wm2Xk9Lp4Rz8Vb3Nc6HyQ2\n", "generic-secret-config"),
        (".config/msmtp/config", "account default\nhost smtp.acme.io\npassword Zt8pQm3Lr6Wk1Xv9\n", "smtp-client-password"),
        (".config/git/credentials", "https://ci:Zt8pQm3Lr6Wk1Xv9@git.acme.io\n", "git-credentials-password"),
    ])
    func missedFormsAreFound(_ path: String, _ text: String, _ rule: String) throws {
        let found = try Self.scan([path: text]).findings
        #expect(found.contains { $0.ruleID == rule }, "\(path): \(found.map(\.ruleID))")
    }

    /// Keys continued across lines the way .properties files, C macros and PHP concatenation continue them.
    @Test func keysContinuedAcrossLines() throws {
        let body = ["MHcCAQEEIBkTzX9q3Lm8Np0Rs3Tu6Vw9Xy1Za4Bc7De0Fg3Hi6JkoAoGCCqGSM49", "AwEHoUQDQgAEx7YtN2pLq9Wm4Rz8Vb3Nc6HyQ2Tk7Xm2Lp4Rz8Vb3Nc6HyQ2Tk7Xm2L", "p4Rz8Vb3Nc6HyQ2Tk7Xm2Lp4Rz8Vb3Nc6HyQ2Tk7Xm2Lp4Rw=="]
        let properties = "jwt.key=-----BEGIN EC PRIVATE KEY-----\\n\\\n" + body.map { "  \($0)\\n\\\n" }.joined() + "  -----END EC PRIVATE KEY-----\n"
        let c = "#define SERVER_KEY \"-----BEGIN EC PRIVATE KEY-----\\n\" \\\n" + body.map { "    \"\($0)\\n\" \\\n" }.joined() + "    \"-----END EC PRIVATE KEY-----\\n\"\n"
        let php = "<?php\n$key = \"-----BEGIN EC PRIVATE KEY-----\\n\" .\n" + body.map { "    \"\($0)\\n\" .\n" }.joined() + "    \"-----END EC PRIVATE KEY-----\\n\";\n"
        let result = try Self.scan(["app.properties": properties, "key.h": c, "key.php": php])
        for path in ["app.properties", "key.h", "key.php"] {
            #expect(result.findings.contains { $0.path == path && $0.ruleID.hasPrefix("private-key") },
                    "\(path): \(result.findings.map { "\($0.path) \($0.ruleID)" })")
        }
    }

    // MARK: The second cold pass

    /// The line of a finding held the secret's base64 and hex copies, and (in a comment) its tail, which with
    /// the shown prefix rebuilt it.
    @Test func encodedCopiesAndTailsOfTheSecretAreMaskedInItsLine() throws {
        let result = try Self.scan([
            ".bashrc": "export DB_PASSWORD=\"Vq8rT2mXk9LpZ4wN\" # b64 VnE4clQybVhrOUxwWjR3Tg== hex 5671387254326d586b394c705a34774e\n",
            ".zshrc": "export DB_PASSWORD2=\"Vq8rT2mXk9LpZ4wQ\" # old: T2mXk9LpZ4wQ\n",
        ])
        #expect(result.findings.filter { $0.ruleID == "dotenv-secret" }.count == 2)
        let report = Self.text(result)
        for piece in ["VnE4clQybVhrOUxwWjR3Tg", "5671387254326d586b394c705a34774e", "T2mXk9LpZ4wQ"] {
            #expect(!report.contains(piece), "\(piece) printed")
        }
    }

    @Test(arguments: [
        ("d/.msmtprc", "account gmail\nhost smtp.gmail.com\nuser alice\npassword       Vq8rT2mXk9LpZ4wN\n", "smtp-client-password", "Vq8rT2mXk9LpZ4wN"),
        ("e/.esmtprc", "password     = Jk4mN8vRt2XzL7pQ\n", "smtp-client-password", "Jk4mN8vRt2XzL7pQ"),
        ("s/.s3cfg", "[default]\nsecret_key      =    wJalrXUtnFEMI/K7MDENG/bPxRfiCYzQ9aB3vT2s\n", "", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzQ9aB3vT2s"),
        ("h/.pgpass", "db.internal:5432:*:admin:Zq8Lm2Wx7Tp4Rk\r\n", "pgpass-password", "Zq8Lm2Wx7Tp4Rk"),
        ("i/.pgpass", "\\:\\:1:5432:app:u:Hk3mQ8vRt2XzL7pW\n", "pgpass-password", "Hk3mQ8vRt2XzL7pW"),
        ("j/.pgpass", "db.internal:5432:*:admin:Vb7 Nq2x Rt8m Kz4p\n", "pgpass-password", "Vb7 Nq2x Rt8m Kz4p"),
        ("k/.pgpass", "db.internal:5432:app:my\\:user:Hk3mQ8vRt2XzL7pW\n", "pgpass-password", "Hk3mQ8vRt2XzL7pW"),
        ("f/sitemanager.xml", "<Server>\r\n<Pass encoding=\"base64\">\r\n  R3lpUlVJUWZIT0pNYWk=\r\n</Pass>\r\n</Server>\r\n", "filezilla-password", "R3lpUlVJUWZIT0pNYWk="),
        ("t/.bashrc", "typeset -x STRIPE_SECRET=Jk4mN8vRt2XzL7pQ\n", "dotenv-secret", "Jk4mN8vRt2XzL7pQ"),
        ("u/.bashrc", "export MAIL_PASSWORD2=$'Rt5Ym8Kq2Lz9XwBn'\n", "dotenv-secret", "Rt5Ym8Kq2Lz9XwBn"),
        ("v/deploy.sh", "env SERVICE_PASSWORD=Ty6Ui8Op1As4Df7G ./run.sh\n", "dotenv-secret", "Ty6Ui8Op1As4Df7G"),
        ("w/app.py", "app.config.update(SECRET_KEY=b\"Vq8rT2mXk9LpZ4wNHk3mQ8vR\")\n", "django-secret-key", "Vq8rT2mXk9LpZ4wNHk3mQ8vR"),
        ("x/settings.py", "SECRET_KEY: str = '7x!k#2m@q9$z^r&v*w(p)l+h=n_b%c8e-f4g6j0t1y3u5i'\n", "django-secret-key", "7x!k#2m@q9$z^r&v*w(p)l+h=n_b%c8e-f4g6j0t1y3u5i"),
        ("y/wp-config.php", "<?php\ndefine( 'DB_PASSWORD', 'Hk3m\\'Q8vRt2XzL7pW' );\n", "wordpress-config-secret", "Hk3m\\'Q8vRt2XzL7pW"),
        ("c/.cshrc", "setenv DB_PASSWORD Vq8rT2mXk9LpZ4wN\n", "csh-fish-secret", "Vq8rT2mXk9LpZ4wN"),
        ("c/.config/fish/config.fish", "set -gx API_TOKEN Hk3mQ8vRt2XzL7pW\n", "csh-fish-secret", "Hk3mQ8vRt2XzL7pW"),
        ("q/app.yaml", "password: 'Vq8r''T2mXk9LpZ4wN'\n", "generic-password", "Vq8r''T2mXk9LpZ4wN"),
        ("z/.npmrc", "//npm.corp.com/:_authToken = \"7f3c2a9e-4b1d-4e8f-9a2c-5d6e7f8a9b0c\"\n", "npmrc-auth-token", "7f3c2a9e-4b1d-4e8f-9a2c-5d6e7f8a9b0c"),
    ])
    func secondPassFormsAreFoundWhole(_ path: String, _ text: String, _ rule: String, _ value: String) throws {
        let found = try Self.scan([path: text]).findings.filter { $0.kind.holdsSecret }
        #expect(found.contains { (rule.isEmpty || $0.ruleID == rule) && $0.secret == value },
                "\(path): \(found.map { "\($0.ruleID) \($0.secret)" })")
    }

    /// A one-line compressed file held an mtree "entry" (libarchive's format_all read the line as one) and came
    /// out empty, unnamed.
    @Test func aOneLineCompressedFileIsItsOneMember() throws {
        let tree = TempTree()
        try ArchiveTests.python("open('.pgpass.gz', 'wb').write(gzip.compress(b'db:5432:app:u:Tq7mW2xRk9LpZ4vN\\n'))\nopen('.pgpass.bz2', 'wb').write(bz2.compress(b'db:5432:app:u:Tq7mW2xRk9LpZ4vN\\n'))\n", in: tree.path)
        let result = try Fixtures.scan(tree)
        #expect(result.findings.contains { $0.path == ".pgpass.gz!.pgpass" && $0.ruleID == "pgpass-password" }, "\(result.findings.map(\.path)) \(result.skipped)")
        #expect(result.findings.contains { $0.path == ".pgpass.bz2!.pgpass" })
    }

    @Test func aDoubleEncodedFindingStandsOnItsRunsLine() throws {
        let inner = Data("api_key=AKIAQ3EGRTSXYZ7N5B2K".utf8).base64EncodedString()
        let outer = Data(inner.utf8).base64EncodedString()
        let result = try Self.scan(["t.txt": "a\nb\nc\ndouble = \(outer)\nDATABASE_URL=postgres://app:Hk3m%40Q8v%23Rt2XzL7pW@db.acme.io:5432/app\n"])
        let aws = try #require(result.findings.first { $0.ruleID == "aws-access-key-id" })
        #expect(aws.line == 4 && aws.column == 10 && aws.encoding == "base64>base64")
        // The URI's percent-encoded password is one finding, not also a decoding cut at its `%40`.
        #expect(result.findings.filter { $0.ruleID == "postgres-uri-password" }.count == 1, "\(result.findings.map { "\($0.ruleID) \($0.secret)" })")
    }

    @Test func shellTextThatIsNotExpandedIsNoEnvRead() throws {
        let result = try Self.scan(["b.sh": """
            #!/bin/sh
            echo '$LITERAL_TOKEN is not expanded'
            echo "\\$ESCAPED_TOKEN"
            # comment mentions $COMMENT_TOKEN
            cat <<'EOT'
            $QUOTED_HEREDOC_PASSWORD
            EOT
            cat <<EOT
            $UNQUOTED_HEREDOC_PASSWORD
            EOT
            printf -v GEN_SECRET '%s' x; echo "$GEN_SECRET"
            echo "$REAL_API_TOKEN"
            """])
        let names = Set(result.findings.filter { $0.kind == .envUsage }.map(\.secret))
        #expect(names == ["UNQUOTED_HEREDOC_PASSWORD", "REAL_API_TOKEN"], "\(names.sorted())")
        let java = try Self.scan(["A.java": "class A { String q = System.getenv().get(\"OAUTH_CLIENT_SECRET\"); }\n",
                                  ".github/workflows/ci.yml": "jobs:\n  a:\n    steps:\n      - run: x\n        with:\n          token: ${{ secrets.GH_PAT }}\n"])
        #expect(Set(java.findings.map(\.secret)).isSuperset(of: ["OAUTH_CLIENT_SECRET", "GH_PAT"]), "\(java.findings.map(\.secret))")
    }

    @Test func ciphertextAlgorithmsAndFixturePasswordsAreNotReported() throws {
        let result = try Self.scan([
            "src/main/resources/application.properties": "spring.datasource.password=ENC(G6N718UuyPE5bHyWKyuLQSm02auQPUtm)\n",
            "app.yaml": "password_hash_algorithm: \"argon2id\"\n",
            "tests/fixtures/users.json": "{\"password\": \"password123\"}\n",
            "tests/test_login.py": "data={\"username\": \"u\", \"password\": \"hunter2\"}\n",
        ])
        #expect(result.findings.filter { $0.kind.holdsSecret }.isEmpty, "\(result.findings.map { "\($0.path) \($0.ruleID)" })")
    }

    @Test func anUntrackedFileInAnIgnoredFolderStaysIgnored() throws {
        let repo = try GitRepoFixture()
        try repo.commit("cfg", files: ["cfg/dev.sh": "echo hi\n"])
        repo.tree.write(".gitignore", "cfg/\n")
        repo.tree.write("cfg/new.sh", "export API_SECRET=Bq9Wz3Km7Lx2PrVn4Tc8\n")
        let result = try Fixtures.scan(repo.tree)
        #expect(!result.findings.contains { $0.path == "cfg/new.sh" })
        #expect(result.skipped.contains { $0.path == "cfg/new.sh" && $0.kind == "ignored" }, "\(result.skipped)")
    }

    @Test func symlinksAndSpecialFilesAreNamedSkips() throws {
        let tree = TempTree()
        tree.write("outside/s.py", "DB_PASSWORD = \"Zt8pQm3Lr6Wk1Xv9Qq\"\n")
        tree.write("t/a.py", "x = 1\n")
        symlink("../outside/s.py", tree.path + "/t/link.py")
        symlink("../outside", tree.path + "/t/linkdir")
        mkfifo(tree.path + "/t/fifo.py", 0o600)
        let result = try Scanner(rules: Fixtures.rules).scan(root: tree.path + "/t")
        let skipped = Dictionary(result.skipped.map { ($0.path, $0) }, uniquingKeysWith: { a, _ in a })
        #expect(skipped["link.py"]?.kind == "link" && skipped["linkdir"]?.kind == "link", "\(result.skipped)")
        #expect(skipped["fifo.py"]?.reason.contains("not a regular file") == true, "\(result.skipped)")
        var follow = ScanOptions()
        follow.followSymlinks = true
        let followed = try Scanner(rules: Fixtures.rules, options: follow).scan(root: tree.path + "/t")
        #expect(followed.findings.contains { $0.path == "link.py" })
        #expect(followed.skipped.contains { $0.path == "fifo.py" })
    }

    @Test func utf32TextIsScanned() throws {
        let text = "SLACK=xoxb-2048137265-3951842716354-Rk4Lm9Pq2Xz7Wt3Vb8Nc1Hy6\r\n"
        for bigEndian in [false, true] {
            var bytes: [UInt8] = bigEndian ? [0, 0, 0xFE, 0xFF] : [0xFF, 0xFE, 0, 0]
            for s in text.unicodeScalars {
                let v = s.value
                let le = [UInt8(v & 0xff), UInt8(v >> 8 & 0xff), UInt8(v >> 16 & 0xff), UInt8(v >> 24)]
                bytes += bigEndian ? le.reversed() : le
            }
            let tree = TempTree()
            tree.write("u32.txt", Data(bytes))
            let r = try Fixtures.scan(tree)
            #expect(r.findings.contains { $0.ruleID == "slack-bot-token" }, "big endian \(bigEndian): \(r.findings.map(\.ruleID)) \(r.skipped)")
        }
    }

    @Test func envReadsTheScriptAssignsItselfAndOtherForms() throws {
        let result = try Self.scan([
            "a.sh": "#!/bin/bash\nfor SECRET in a b; do echo \"$SECRET\"; done\nread -p \"Password: \" -s DB_PASSWORD; echo \"$DB_PASSWORD\"\nf() { local GH_TOKEN; GH_TOKEN=$(gh auth token); echo \"$GH_TOKEN\"; }\necho \"$REAL_API_TOKEN\"\n",
            "b.py": "from os import environ, getenv\npw = environ[\"SMTP_PASSWORD\"]\nt = getenv(\"HF_TOKEN\")\n",
            "c.js": "const t = process.env?.SLACK_TOKEN;\n",
            "d.kt": "val pw = System.getenv()[\"KEYSTORE_PASSWORD\"]\n",
        ])
        let names = Set(result.findings.filter { $0.kind == .envUsage }.map(\.secret))
        #expect(names == ["REAL_API_TOKEN", "SMTP_PASSWORD", "HF_TOKEN", "SLACK_TOKEN", "KEYSTORE_PASSWORD"], "\(names.sorted())")
    }

    @Test func aValidChecksumOutweighsAPlaceholderWord() {
        for body in ["pLIix6MEOLFake1EqJomTEI1JEzO3j", "pLIix6MEOLXXXX1EqJomTEI1JEzO3j"] {
            let token = Fixtures.githubToken(body)
            let f = Fixtures.detect("t = \"\(token)\"\n")
            #expect(f.contains { $0.ruleID.hasPrefix("github") && $0.confidence == .high }, "\(token): \(f.map { "\($0.ruleID) \($0.confidence)" })")
        }
    }

    /// An npm token in an .npmrc goes by its checksum like anywhere else: a bad one is low confidence.
    @Test func npmTokensInAnNpmrcGoByTheirChecksum() throws {
        let body = "aB3dE6gH9jK2mN5pQ8sT1vW4yZ7bC0"
        let valid = "npm_" + body + String(decoding: Checksum.base62(Checksum.crc32(Array(body.utf8)), width: 6), as: UTF8.self)
        let invalid = "npm_" + body + "AAAAAA"
        let found = Fixtures.detect("//registry.npmjs.org/:_authToken=\(valid)\n", path: ".npmrc")
        #expect(found.contains { $0.ruleID == "npm-access-token" && $0.confidence == .high }, "\(found.map(\.ruleID))")
        #expect(Fixtures.detect("//registry.npmjs.org/:_authToken=\(invalid)\n", path: ".npmrc").isEmpty)
    }

    @Test func translationLabelsAndSOPSCiphertextAreNotPasswords() throws {
        let result = try Self.scan([
            "src/locales/de.json": "{\"login\": {\"password\": \"Passwort\", \"user\": \"Benutzer\"}}\n",
            "src/locales/es.json": "{\"password\": \"Contraseña\"}\n",
            "config/locales/fr.yml": "fr:\n  password: Kennwort\n",
            "secrets.enc.yaml": "db_password: ENC[AES256_GCM,data:p8T6kQm3zR0=,iv:Qk2m8Lx9Vb3NcTq7Wm2Xk9Lp4Rz8Vb3Nc6HyQ2=,tag:Zt8pQm3Lr6Wk1Xv9Qq==,type:str]\n",
        ])
        #expect(result.findings.filter { $0.kind.holdsSecret }.isEmpty, "\(result.findings.map { "\($0.path) \($0.ruleID)" })")
    }

    /// A Java truststore holds public certificates only: not key material. A keystore with a private-key entry is.
    @Test func aTruststoreIsNotAKeystore() throws {
        func u16(_ v: Int) -> [UInt8] { [UInt8(v >> 8 & 0xff), UInt8(v & 0xff)] }
        func u32(_ v: Int) -> [UInt8] { [UInt8(v >> 24 & 0xff), UInt8(v >> 16 & 0xff), UInt8(v >> 8 & 0xff), UInt8(v & 0xff)] }
        func utf(_ s: String) -> [UInt8] { u16(s.utf8.count) + Array(s.utf8) }
        let cert = [UInt8](repeating: 0x30, count: 40)
        var trust: [UInt8] = [0xFE, 0xED, 0xFE, 0xED] + u32(2) + u32(2)
        for alias in ["ca-one", "ca-two"] { trust += u32(2) + utf(alias) + [UInt8](repeating: 1, count: 8) + utf("X.509") + u32(cert.count) + cert }
        var keys: [UInt8] = [0xFE, 0xED, 0xFE, 0xED] + u32(2) + u32(1)
        keys += u32(1) + utf("server") + [UInt8](repeating: 1, count: 8) + u32(48) + [UInt8](repeating: 7, count: 48) + u32(0)
        let tree = TempTree()
        tree.write("truststore.jks", Data(trust))
        tree.write("keystore.jks", Data(keys))
        let result = try Fixtures.scan(tree)
        #expect(!result.findings.contains { $0.path == "truststore.jks" })
        #expect(result.findings.contains { $0.path == "keystore.jks" && $0.ruleID == "java-keystore" })
    }
}

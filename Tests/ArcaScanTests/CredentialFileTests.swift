import Foundation
import Testing
@testable import ArcaRules
@testable import ArcaScan
@testable import ArcaReport

/// Credential files with their own syntax, password hashes and framework secrets, as people commit them by
/// mistake. Each fixture is written from the format's own documentation with made-up values, and is scanned
/// under the path such a file has in a real repository.
@Suite struct CredentialFileTests {
    static let cases: [(path: String, text: String, rule: String)] = [
        ("home/.netrc", "machine api.heroku.com\n  login ops@acme.io\n  password S1pAWTN3lg8zV5\n", "netrc-password"),
        ("_netrc", "machine ftp.acme.io login deploy password yPU8d0FZfWe7ih\n", "netrc-password"),
        (".pgpass", "# hostname:port:database:username:password\ndb.acme.internal:5432:*:billing_app:GyiRUIQfHOJMai\n", "pgpass-password"),
        (".git-credentials", "https://dev.one%40acme.io:tEPO6Uk&zYuF0i@gitlab.acme.io\n", "git-credentials-password"),
        (".git-credentials", "https://ci@acme.io:dDn87XG3q7xbMw@github.com\n", "git-credentials-password"),
        ("frontend/.npmrc", "registry=https://registry.acme.io/\n_auth=YnVpbGRlcjpvWU1hYUl0RHI5dVAxNHBFSHBKcA==\nalways-auth=true\n", "npmrc-auth"),
        (".docker/config.json", "{\n  \"auths\": {\n    \"registry.acme.io\": {\n      \"auth\": \"ZGVwbG95Ym90OkpYY2FZaW9LNmNQVHQ5aU9xSE9CU1doZ2V0SDhMbXlx\"\n    }\n  }\n}\n", "docker-config-auth"),
        (".msmtprc", "defaults\ntls on\naccount acme\nhost smtp.acme.io\nuser mailer@acme.io\npassword S1pAWTN3lg8zV5\n", "smtp-client-password"),
        (".esmtprc", "hostname = smtp.acme.io:587\nusername = \"mailer\"\npassword = \"yPU8d0FZfWe7ih\"\n", "smtp-client-password"),
        ("filezilla/sitemanager.xml", "<?xml version=\"1.0\"?>\n<FileZilla3><Servers><Server>\n<Host>ftp.acme.io</Host>\n<User>deploy</User>\n<Pass encoding=\"base64\">R3lpUlVJUWZIT0pNYWk=</Pass>\n</Server></Servers></FileZilla3>\n", "filezilla-password"),
        ("recentservers.xml", "<RecentServers><Server><Host>10.0.0.5</Host><User>root</User><Pass>dDn87XG3#q#xbM</Pass></Server></RecentServers>\n", "filezilla-password"),
        (".idea/WebServers.xml", "<component name=\"WebServers\"><option name=\"servers\"><webServer name=\"prod\">\n<fileTransfer accessType=\"SFTP\" host=\"sftp.acme.io\" port=\"22\" login=\"deploy\" password=\"dff9dff3dfe0dfe9dfbedfd9\" />\n</webServer></option></component>\n", "jetbrains-webservers-password"),
        (".ftpconfig", "{\n  \"protocol\": \"ftp\",\n  \"host\": \"ftp.acme.io\",\n  \"user\": \"deploy\",\n  \"pass\": \"GyiRUIQfHOJMai\"\n}\n", "sftp-config-password"),
        (".vscode/sftp.json", "{\n  \"name\": \"prod\",\n  \"host\": \"sftp.acme.io\",\n  \"username\": \"deploy\",\n  \"password\": \"tEPO6Uk&zYuF0i\"\n}\n", "sftp-config-password"),
        ("sftp-config.json", "{\n  \"type\": \"sftp\",\n  \"host\": \"sftp.acme.io\",\n  \"user\": \"deploy\",\n  \"ssh_key_file\": \"~/.ssh/id_rsa\",\n  \"passphrase\": \"-7eNWVQ4vnakJk\"\n}\n", "sftp-config-password"),
        ("profile/logins.json", "{\"nextId\":2,\"logins\":[{\"id\":1,\"hostname\":\"https://intranet.acme.io\",\"encryptedUsername\":\"MDIEEPgAAAAAAAAAAAAAAAAAAAEwFAYIKoZIhvcNAwcECLQ8ptXb0lMoBAgq\",\"encryptedPassword\":\"DtKdHAtj/9cpg3TZvXT8Ea3XucplA5Uiaf1mn2N27nGHlzf9X3L41RxKyRttDEjUGh5eyeagOShUqGFe\"}]}\n", "firefox-saved-login"),
        (".s3cfg", "[default]\naccess_key = AKIAQ3EGTJ5KZ7RVXW2N\nhost_base = s3.amazonaws.com\nsecret_key = 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\nuse_https = True\n", ""),
        (".tugboat", "authentication:\n  access_token: 4f2c9d1e8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e\nssh:\n  ssh_user: root\n", "ini-credential-file"),
        (".irssi/config", "servers = (\n  {\n    address = \"irc.libera.chat\";\n    chatnet = \"libera\";\n    password = \"tEPO6Uk&zYuF0i\";\n  }\n);\n", "ini-credential-file"),
        ("home/.bashrc", "alias ll='ls -l'\nexport PATH=$HOME/bin:$PATH\nexport GITHUB_API_TOKEN=Qm9vN2pKc2hYcFZ0M3Fh\n", "dotenv-secret"),
        (".zshrc", "export OPENWEATHER_API_KEY=c8f2e4b6a1d3957f0e2c4a6b8d0f1e3a\n", "dotenv-secret"),
        ("etc/shadow", "root:*:19700:0:99999:7:::\ndeploy:$6$BriurBB/8vFI.qZT$Moe4WWXWl7Xfwgy2smPel.rkSbhyUrEQS6nm8577LiqlPF7saySqbKjFStRAOAwCXBx9RbbH6FwQ3QSiAlB6xP:19700:0:99999:7:::\n", "password-hash-record"),
        ("etc/shadow", "svc:$y$j9T$P42aVOJgmBliFGdvGo0FXr9N$jHfv0hGajFiAgFn4/PZGodCmsFevxLLyJ3uGQaEc/aw:19700:0:99999:7:::\n", "password-hash-record"),
        ("site/.htpasswd", "admin:$apr1$hC0hzKnr$SqEp5AkW8sAs1XPZxRMjSa\nops:$2y$10$3IhnZtPr8ZdhMPQ94gjG6gfL3IVQa5Rtm9fzIoDWW9it3XHp1HZRU\n", "password-hash-record"),
        ("ftpd.passwd", "ftp:$1$nfN7lfDw$Hdk3bg2NxH37DFx3pZnW2M:1001:1001::/srv/ftp:/bin/false\n", "password-hash-record"),
        ("users.txt", "web:$5$rounds=5000$y7.7QinVx7u1OjW5$Xistobr5q6Qroa/lp1wzbEzJCNFZofR4Zora2v.ruq6\napp:$argon2id$v=19$m=65536,t=3,p=4$8F5n3/YNBDRzrZSgqbjG3u$hkWKFLf6xuI5aHUQPFeNBTxaQWk8JzFalHlsZfYcMMD\n", "password-hash-record"),
        ("backup/dump.sql", "INSERT INTO `users` VALUES (1,'admin','$2b$12$NrWehkSfzcj1ZgCj0fnAfWeAdpJZqnLvlwTkgfy90M54SKDvDiK9P','2024-01-02');\n", "password-hash-sql"),
        ("mysite/settings.py", "DEBUG = False\nSECRET_KEY = 'django-insecure-+d5r!xi*67%nfrpyz^21tbic1-+4@5aez732pgojj7*g_(^+3f'\n", "django-secret-key"),
        ("app/__init__.py", "app = Flask(__name__)\napp.config['SECRET_KEY'] = 'e3692f09e2e8c662248b483b7ffc050f'\n", "django-secret-key"),
        ("wp-config.php", "<?php\ndefine( 'DB_NAME', 'wordpress' );\ndefine( 'DB_PASSWORD', 'GyiRUIQfHOJMai' );\ndefine( 'AUTH_KEY',         'q|B]x7Lr>0-V;m@z!Kc8#p2W{s5^Tg&Yh=9)uN1*eD,JfA3+RiMo' );\n", "wordpress-config-secret"),
        (".env", "APP_NAME=Laravel\nAPP_ENV=production\nAPP_KEY=base64:K0/Hpv1MkUoW20cIdSsPFUS4NcDnGQl9+ocB6SMvIfI=\n", "laravel-app-key"),
        ("config/master.key", "828767efc2f91624a8940f1f836f99ee", "rails-master-key"),
        ("config/secrets.yml", "production:\n  secret_key_base: e3692f09e2e8c662248b483b7ffc050fec94dbca3a0aac36098b2cc2bd818319478da6bd0c621de49f145fda9988c79fc35526f7eaed46725a2a7b860dcd6c8a\n", "rails-secret-key-base"),
    ]

    @Test(arguments: cases.indices)
    func everyFamilyIsFound(_ i: Int) {
        let c = Self.cases[i]
        let found = Fixtures.detect(c.text, path: c.path)
        if c.rule.isEmpty {
            #expect(!found.filter { $0.kind == .secret }.isEmpty, "\(c.path): nothing found")
        } else {
            #expect(found.contains { $0.ruleID == c.rule }, "\(c.path): \(found.map(\.ruleID))")
        }
    }

    /// Password hashes are their own kind of finding (crackable, not a live key): redacted like secrets, failing
    /// a build like secrets, counted on their own.
    @Test func passwordHashesAreTheirOwnKindAndRedacted() throws {
        let tree = TempTree()
        for (i, c) in Self.cases.enumerated() where c.rule.hasPrefix("password-hash") {
            tree.write("\(i)/\(c.path)", c.text)
        }
        let result = try Fixtures.scan(tree)
        let hashes = result.findings.filter { $0.ruleID.hasPrefix("password-hash") }
        #expect(hashes.count >= 8 && hashes.allSatisfy { $0.kind == .passwordHash && $0.kind.holdsSecret })
        let input = ReportInput(findings: result.findings, result: result, root: tree.path, absoluteRoot: tree.path,
                                reveal: false, rules: Fixtures.rules, toolVersion: "0.0.0-test")
        for format in ReportFormat.allCases {
            let text = Reporter.render(input, format: format)
            for h in hashes { #expect(!text.contains(h.secret), "\(format) printed a password hash") }
        }
        #expect(Reporter.summary(input).contains("password hash"))
    }

    /// The same files with nothing secret in them: templates, references, empty values.
    @Test func templatesAndReferencesAreNotReported() {
        let clean: [(String, String)] = [
            (".netrc", "machine api.heroku.com login ops@acme.io\n"),
            (".pgpass", "# hostname:port:database:username:password\n"),
            (".npmrc", "registry=https://registry.acme.io/\n//registry.acme.io/:_auth=${NPM_AUTH}\n"),
            (".docker/config.json", "{\"auths\": {\"registry.acme.io\": {}}, \"credsStore\": \"desktop\"}\n"),
            (".msmtprc", "account acme\npasswordeval \"pass show mail/acme\"\n"),
            (".vscode/sftp.json", "{\"host\": \"sftp.acme.io\", \"privateKeyPath\": \"~/.ssh/id_ed25519\"}\n"),
            ("etc/shadow", "root:*:19700:0:99999:7:::\ndaemon:!:19700::::::\n"),
            ("mysite/settings.py", "SECRET_KEY = os.environ['DJANGO_SECRET_KEY']\n"),
            ("wp-config.php", "define( 'AUTH_KEY', 'put your unique phrase here' );\n"),
            (".bashrc", "export PATH=$HOME/bin:$PATH\nexport GITHUB_TOKEN=$(pass show github)\n"),
            ("config/secrets.yml", "production:\n  secret_key_base: <%= ENV[\"SECRET_KEY_BASE\"] %>\n"),
        ]
        for (path, text) in clean {
            #expect(Fixtures.detect(text, path: path).filter { $0.kind == .secret }.isEmpty, "\(path)")
        }
    }
    /// Key layouts real code uses (seen in CPython's tests, the Swift package checkouts, spring-boot): PEM
    /// indented by 8 or more spaces, a key in one string with `\\n` escapes or no breaks at all, a key built
    /// by concatenation in Java/Kotlin/C#, and BEGIN/END labels that differ.
    static let keyLines: [String] = ["5+7nYV7zXzDkm0guFcrnUAcgHhJhew/tp+Fkd5b/AivqjtAqgqF1kw8jN803lMUi", "CABtaxrwwMvWJWWKrCyfqgfRPER+MwUe7vlaYOVhQ9bEO8rXbACKmwprX8kzFUpt", "4oQEqJfFJSYuanwHvL7oQfdFxV1On3R/YVFkxvco1xg1NxOCesiD1/uWWSNAdPUl", "j2xoCCOJ0uR/HhdakLxDL7lG5qlHEQnzt58RCib2Ip+jRSUm57wWQq60K/In1Q//", "B8PCBiQpLjuD1anG6uHsKg+eLPYLdTn++IIFvJpJZ1av4v97p8+AZdxmbcRwomtF", "RP6zFCCNVjnm8Yxt08P8oeekJhCOFY+1nglFz+hhDIh5SBg75De8J2Vm84NbBfES", "W3OLsVHJcizSxkLm6GQDwK/tp2gyP218xyyepIYIsioT4a/XjPkObyDbEVirR/BM", "4fwsceCUVIOfw2qbSIv+ZtI6AsEOFs0++y9VIerTzol+8vxBrd7zojdi1g+FQgsS", "Y090BpGktX3/Nf8+gGXfC8DTUWhvbkV3sVyhoWNvYzFEekMthMYx3tdAZs4JMWa3", "uDuvYCT2NgwT9kthXjpoWFCQMB9E7Ccxp8jv2rXca78GFGZc0Oi4vc9jVDAHpSvP", "Ya6EjztRz0Sovd1cz2leJK6a8DMFthl2i5msbs9dJ8f+bT3KCzo3eYPjzRlkwAUy", "hICNrtQz4ycXxVHF8Vb9Hdv915HMn7uS94qRlw0HfRVQ0ccbocsZoyVy2/SAfBcy", "70l9OhnV6TxoGrZPP7riR9Xphta6RpRB"]

    @Test func realKeyLayoutsAreFound() {
        let lines = Self.keyLines
        let indented = "tls:\n  server:\n    key: |\n          -----BEGIN RSA PRIVATE KEY-----\n"
            + lines.map { "          " + $0 }.joined(separator: "\n") + "\n          -----END RSA PRIVATE KEY-----\n"
        let escaped = "KEY = \"-----BEGIN PRIVATE KEY-----\\n" + lines.joined(separator: "\\n") + "\\n-----END PRIVATE KEY-----\\n\"\n"
        let oneRun = "key: \"-----BEGIN PRIVATE KEY-----" + lines.joined() + "-----END PRIVATE KEY-----\"\n"
        let java = "String key = \"-----BEGIN PRIVATE KEY-----\\n\" +\n" + lines.map { "        \"" + $0 + "\\n\" +" }.joined(separator: "\n")
            + "\n        \"-----END PRIVATE KEY-----\";\n"
        let mismatch = "-----BEGIN RSA PRIVATE KEY-----\n" + lines.joined(separator: "\n") + "\n-----END PRIVATE KEY-----\n"
        for (path, text) in [("config/app.yml", indented), ("tests/keys.py", escaped), ("k.yaml", oneRun),
                             ("src/test/java/KeyTest.java", java), ("KeyTest.kt", java), ("KeyTest.cs", java), ("key.pem", mismatch)] {
            let found = Fixtures.detect(text, path: path)
            #expect(found.contains { $0.ruleID.hasPrefix("private-key-") }, "\(path): \(found.map(\.ruleID))")
        }
    }
}

/// Java keystores and PKCS#12 files are found by their magic bytes, under any name, and never opened.
@Suite struct KeystoreTests {
    /// The first bytes of each format as their specifications lay them out (JKS: magic, version 2, entry count;
    /// PKCS#12 per RFC 7292: SEQUENCE, INTEGER 3, ContentInfo with the pkcs7-data OID), then made-up bytes.
    static let jks: [UInt8] = [0xFE, 0xED, 0xFE, 0xED, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 1, 0, 6] + Array("server".utf8) + [UInt8](repeating: 0x5A, count: 64)
    static let jceks: [UInt8] = [0xCE, 0xCE, 0xCE, 0xCE, 0, 0, 0, 2] + [UInt8](repeating: 0x11, count: 64)
    static let p12: [UInt8] = [0x30, 0x82, 0x0A, 0x51, 0x02, 0x01, 0x03, 0x30, 0x82, 0x0A, 0x17, 0x06, 0x09, 0x2A, 0x86,
                               0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x01, 0xA0, 0x82, 0x0A, 0x08, 0x04, 0x82] + [UInt8](repeating: 0x42, count: 64)

    @Test func keystoresAreReportedByMagicBytes() throws {
        let t = TempTree()
        t.write("src/main/resources/keystore.jks", Data(Self.jks))
        t.write("certs/client.pfx", Data(Self.p12))
        t.write("renamed.bin", Data(Self.jceks))
        t.write("other.der", Data([0x30, 0x82, 0x01, 0x0A, 0x02, 0x82, 0x01, 0x01] + [UInt8](repeating: 0, count: 64)))
        let r = try Fixtures.scan(t)
        let byPath = Dictionary(r.findings.map { ($0.path, $0.ruleID) }, uniquingKeysWith: { a, _ in a })
        #expect(byPath["src/main/resources/keystore.jks"] == "java-keystore")
        #expect(byPath["certs/client.pfx"] == "pkcs12-keystore")
        #expect(byPath["renamed.bin"] == "java-keystore")
        #expect(byPath["other.der"] == nil, "a DER structure that is not PKCS#12 is not a key store")
        #expect(r.findings.allSatisfy { $0.secret.hasPrefix("sha256:") })
    }
}

/// Encoded secrets: base64, URL-safe base64, hex, percent-encoding, and base64 inside a Kubernetes `Secret`.
@Suite struct EncodedSecretTests {
    static func b64(_ s: String, urlSafe: Bool = false) -> String {
        var e = Data(s.utf8).base64EncodedString()
        if urlSafe { e = e.replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "") }
        return e
    }

    @Test func encodedSecretsAreFoundAndTheirRunRedacted() throws {
        let stripe = "token = \"\(Fixtures.stripeKey)\""
        let hex = Array(stripe.utf8).map { String(format: "%02x", $0) }.joined()
        let pct = "https://hooks.acme.io/cb?cfg=" + "k%3D%22" + Fixtures.stripeKey + "%22"
        let cases: [(String, String, String)] = [
            ("deploy/config.txt", "blob: \(Self.b64(stripe))\n", "base64"),
            ("deploy/url.txt", "state=\(Self.b64(stripe, urlSafe: true))\n", "base64"),
            ("deploy/hex.txt", "payload \(hex)\n", "hex"),
            ("deploy/pct.txt", pct + "\n", "percent"),
            ("k8s/secret.yaml", "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\ntype: Opaque\ndata:\n  password: \(Self.b64("Kq8!vR2mZp-7x"))\n", "base64"),
            ("deploy/double.txt", "x: \(Self.b64(Self.b64(stripe)))\n", "base64>base64"),
        ]
        for (path, text, encoding) in cases {
            let t = TempTree()
            t.write(path, text)
            let r = try Fixtures.scan(t)
            let f = r.findings.first { $0.encoding != nil }
            #expect(f?.encoding == encoding, "\(path): \(r.findings.map { "\($0.ruleID) \($0.encoding ?? "-")" })")
            #expect(f?.line == text.split(separator: "\n", omittingEmptySubsequences: false).firstIndex { $0.contains(f?.encodedValue ?? "\u{0}") }.map { $0 + 1 })
            let redactor = Redactor(findings: r.findings)
            #expect(!redactor(text).contains(f?.encodedValue ?? "none"), "\(path): the encoded run is masked too")
        }
        // Hashes, random base64 and identifiers decode to binary: nothing.
        let t = TempTree()
        t.write("a.txt", "sha256 = 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\nid: getElementsByTagNameNS\nblob: q83vEjRWeJq83vEjRWeJq83vEjRWeJ==\n")
        #expect(try Fixtures.scan(t).findings.isEmpty)
    }
}

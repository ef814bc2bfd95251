import Testing
@testable import ArcaRules
@testable import ArcaScan

@Suite struct DetectorTests {
    @Test func findsTokenWithLineColumnAndValidChecksum() {
        let token = Fixtures.githubToken()
        let f = Fixtures.detect("x = 1\n# héllo\nGITHUB_TOKEN = \"\(token)\"\n")
        #expect(f.count == 1)
        #expect(f[0].ruleID == "github-pat-classic")
        #expect(f[0].line == 3 && f[0].column == 17)
        #expect(f[0].endLine == 3 && f[0].endColumn == 17 + token.count)
        #expect(f[0].checksum == .valid && f[0].confidence == .high)
        #expect(f[0].secret == token)
    }

    @Test func columnsCountUnicodeScalars() {
        let f = Fixtures.detect("é€ = \"\(Fixtures.stripeKey)\"")
        #expect(f.first?.column == 7)
    }

    @Test func badChecksumIsHiddenUnlessLowConfidenceIsAsked() {
        let token = Fixtures.githubToken()
        let bad = String(token.dropLast()) + (token.last == "A" ? "B" : "A")
        #expect(Fixtures.detect("t = \"\(bad)\"").isEmpty, "no generic rule may resurrect it either")
        var o = DetectOptions()
        o.minConfidence = .low
        let f = Fixtures.detect("t = \"\(bad)\"", options: o)
        #expect(f.count == 1 && f[0].checksum == .invalid && f[0].confidence == .low)
    }

    /// A placeholder does not vanish: it is a low-confidence finding, hidden by default.
    @Test func placeholdersAreLowConfidenceNotGone() {
        var o = DetectOptions()
        o.minConfidence = .low
        let line = "password = \"changeme-Xq7\""
        #expect(Fixtures.detect(line).isEmpty)
        #expect(Fixtures.detect(line, options: o).contains { $0.confidence == .low })
    }

    /// A JWT with a large payload and an RS512 signature of a 4096-bit key (over the old length caps).
    @Test func longJWTsAreFound() {
        let header = "eyJhbGciOiJSUzUxMiIsInR5cCI6IkpXVCJ9"
        let payload = "eyJ" + String(repeating: "aGVsbG8sIHdvcmxkIQ", count: 300)
        let signature = String(repeating: "Qk9xZ3Bv-_", count: 68)
        #expect(Fixtures.detect("token = \"\(header).\(payload).\(signature)\"").contains { $0.ruleID == "jwt" })
    }

    /// The shell's own variables are not credentials: `$PWD` is the working directory (seen as noise on real code).
    @Test func shellVariablesAreNotCredentials() {
        #expect(Fixtures.detect("cd \"$PWD/build\" && echo $OLDPWD\n", path: "build.sh").isEmpty)
        #expect(!Fixtures.detect("curl -H \"Authorization: Bearer $API_TOKEN\"\n", path: "deploy.sh").isEmpty)
    }

    @Test func inlineIgnoreAllRulesOrOneRule() {
        let line = "k = \"\(Fixtures.stripeKey)\""
        #expect(Fixtures.detect(line + "  # arca:ignore").isEmpty)
        #expect(Fixtures.detect(line + "  # arca:ignore:stripe-live-secret-key").isEmpty)
        #expect(Fixtures.detect(line + "  # arca:ignore:slack-bot-token").count == 1)
        #expect(Fixtures.detect("x\n" + line + "\n# arca:ignore").count == 1, "the marker covers its own line only")
    }

    @Test(arguments: [
        "aws_access_key_id = AKIAIOSFODNN7EXAMPLE",
        "token = \"${GITHUB_TOKEN}\"",
        "api_key = \"<your-api-key>\"",
        "password = \"changeme\"",
        "secret = \"{{ .Values.secret }}\"",
        "STRIPE_KEY=sk_live_xxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        "password = \"************\"",
        "\"integrity\": \"sha512-Kq9vR2mZpLw7Nx4Bc8Df1Gh5Jk0Lm3Np6Qr9St2Uv5Wx8Yz1Ab4Cd7Ef0Gh3Ij6==\"",
        "icon = \"data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAABAAAAAQCAYAAAAf8/9hAAAAKklEQVR42mNk\"",
        "request_id = \"3f2b8c1e-9d4a-4e7b-8f3c-2a1d6e5b9c0f\"",
        "commit = \"9fceb02d0ae598e95dc970b74767f19372d61af8\"",
        "password_hash = \"$2b$12$Kq9vR2mZpLw7Nx4Bc8Df1uGh5Jk0Lm3Np6Qr9St2Uv5Wx8Yz1Ab4C\"",
        "token = request.headers.get(\"Authorization\")",
        "public_key = \"MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEk9vR2mZpLw7Nx4Bc8Df1Gh5Jk0Lm3Np6Qr9St2Uv5Wx8\"",
        "test_password = \"test\"",
    ])
    func hardNegativesAreNotReported(_ text: String) {
        let f = Fixtures.detect(text).filter { $0.kind == .secret }
        #expect(f.isEmpty, "\(f.map(\.ruleID))")
    }

    @Test func minifiedLinesAreSkippedByGenericRulesOnly() {
        let long = String(repeating: "var a=function(e){return e};", count: 60)
        let generic = long + "var api_key=\"Kq9vR2mZpLw7Nx4Bc8Df1Gh5Jk0Lm3Np\";"
        #expect(Fixtures.detect(generic, path: "bundle.js").isEmpty)
        let specific = long + "var k=\"\(Fixtures.stripeKey)\";"
        #expect(Fixtures.detect(specific, path: "bundle.js").map(\.ruleID) == ["stripe-live-secret-key"])
    }

    @Test func overlappingRulesKeepTheMostSpecific() {
        // generic-api-key and the Slack rule both see this; the provider rule wins.
        let f = Fixtures.detect("SLACK_API_TOKEN = \"\(Fixtures.slackToken)\"")
        #expect(f.map(\.ruleID) == ["slack-bot-token"])
    }

    @Test func privateKeySpansLinesAndIsReportedAtItsFirstLine() {
        let body = (0..<6).map { _ in String((0..<64).map { _ in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".randomElement()! }) }
        let pem = "-----BEGIN RSA PRIVATE KEY-----\n" + body.joined(separator: "\n") + "\n-----END RSA PRIVATE KEY-----"
        let f = Fixtures.detect("line1\nline2\n" + pem + "\nafter\n")
        #expect(f.count == 1)
        #expect(f[0].ruleID == "private-key-rsa" && f[0].line == 3 && f[0].endLine == 10)
        #expect(!f[0].displayLine(reveal: false).contains(body[0]))
    }

    @Test func envUsagePerLanguage() {
        let cases: [(String, String, String, String)] = [
            ("a.py", "pw = os.environ[\"DB_PASSWORD\"]", "DB_PASSWORD", "python"),
            ("a.ts", "const k = process.env.STRIPE_API_KEY;", "STRIPE_API_KEY", "javascript"),
            ("a.js", "const k = process.env['GITHUB_TOKEN'];", "GITHUB_TOKEN", "javascript"),
            ("main.go", "t := os.Getenv(\"SLACK_TOKEN\")", "SLACK_TOKEN", "go"),
            ("A.java", "String s = System.getenv(\"JWT_SECRET\");", "JWT_SECRET", "java"),
            ("A.kt", "val s = System.getenv(\"JWT_SECRET\")", "JWT_SECRET", "kotlin"),
            ("A.cs", "var s = Environment.GetEnvironmentVariable(\"API_KEY\");", "API_KEY", "csharp"),
            ("a.rb", "k = ENV.fetch('API_KEY')", "API_KEY", "ruby"),
            ("a.php", "$k = $_ENV['API_KEY'];", "API_KEY", "php"),
            ("A.swift", "let t = ProcessInfo.processInfo.environment[\"API_TOKEN\"]", "API_TOKEN", "swift"),
            ("run.sh", "curl -u \"ci:${DEPLOY_PASSWORD}\" https://x", "DEPLOY_PASSWORD", "shell"),
            ("Dockerfile", "ARG NPM_TOKEN", "NPM_TOKEN", "dockerfile"),
            ("k8s.yaml", "  - name: DB_PASSWORD\n    valueFrom: {}", "DB_PASSWORD", "kubernetes"),
            (".env", "API_SECRET=", "API_SECRET", "dotenv"),
        ]
        for (path, text, name, lang) in cases {
            let f = Fixtures.detect(text, path: path).filter { $0.kind == .envUsage }
            #expect(f.count == 1, "\(path): \(f.map(\.ruleID))")
            #expect(f.first?.secret == name && f.first?.language == lang && f.first?.credentialName == true, "\(path)")
        }
    }

    @Test func envUsageModes() {
        let text = "a = os.getenv(\"HOME\")\nb = os.getenv(\"DB_PASSWORD\")\n"
        var o = DetectOptions()
        #expect(Fixtures.detect(text, options: o).map(\.secret) == ["DB_PASSWORD"])
        o.envUsage = .all
        let all = Fixtures.detect(text, options: o)
        #expect(all.map(\.secret) == ["HOME", "DB_PASSWORD"])
        #expect(all.map(\.credentialName) == [false, true])
        o.envUsage = .none
        #expect(Fixtures.detect(text, options: o).isEmpty)
    }

    @Test func dotenvValuesThatAreSecretsAreAlsoSecretFindings() {
        let f = Fixtures.detect("DB_HOST=db.internal\nDB_PASSWORD=Zq7!mK2pLw9\n", path: "svc/.env")
        #expect(f.contains { $0.kind == .secret && $0.ruleID == "dotenv-secret" && $0.variable == "DB_PASSWORD" && $0.line == 2 })
        #expect(f.contains { $0.kind == .envUsage && $0.secret == "DB_PASSWORD" })
    }

    @Test func fingerprintIsStableAcrossMovesAndHidesTheSecret() {
        let a = Fixtures.detect("k = \"\(Fixtures.stripeKey)\"")[0]
        let b = Fixtures.detect("\n\n\n  other = 1\nk = \"\(Fixtures.stripeKey)\"")[0]
        let c = Fixtures.detect("k = \"\(Fixtures.stripeKey)\"", path: "b.py")[0]
        #expect(a.fingerprint == b.fingerprint)
        #expect(a.fingerprint != c.fingerprint)
        #expect(a.fingerprint.count == 32 && !a.fingerprint.contains(String(Fixtures.stripeKey.suffix(8))))
    }

    @Test func redaction() {
        #expect(Finding.redact(Fixtures.stripeKey) == "sk_l*****")
        #expect(Finding.redact("hunter22") == "hu*****")
        #expect(Finding.redact("abc") == "*****")
        let f = Fixtures.detect("k = \"\(Fixtures.stripeKey)\"")[0]
        #expect(f.displayLine(reveal: false) == "k = \"sk_l*****\"")
        #expect(f.displayLine(reveal: true).contains(Fixtures.stripeKey))
    }

    @Test func garbageNeverCrashes() {
        var rng = SystemRandomNumberGenerator()
        for size in [0, 1, 7, 100, 4096, 70_000] {
            let bytes = (0..<size).map { _ in UInt8.random(in: 0...255, using: &rng) }
            let d = Detector(rules: Fixtures.rules)
            let s = DetectorScratch(rules: Fixtures.rules)
            _ = bytes.withUnsafeBytes { d.detect($0, path: "g.bin", scratch: s) }
        }
        // Keyword soup: every keyword, glued together, with partial tails.
        let soup = Fixtures.rules.automaton.keywords.joined(separator: "=\"") + String(repeating: "\"'=:", count: 500)
        _ = Fixtures.detect(soup + "\n" + soup)
    }
}

@Suite struct HugeLineTests {
    /// A minified bundle: one 4 MB line dense with credential words and a few real tokens. Per-hit work must
    /// stay bounded (it was quadratic in the line length); the time limit fails the test otherwise.
    @Test(.timeLimit(.minutes(1)))
    func megabyteLinesStayLinear() {
        var line = ""
        var tokens: [String] = []
        for i in 0..<40_000 {
            line += "var token\(i)=a.secret||b.password;"
            if i % 5_000 == 0 {
                let t = Fixtures.githubToken(String("aB3dE6gH9jK2mN5pQ8sT1vW4yZ7bC0".shuffled()))
                tokens.append(t)
                line += "k=\"\(t)\";"
            }
        }
        let found = Fixtures.detect("x\n" + line + "\ny\n", path: "dist/bundle.js").filter { $0.kind == .secret }
        #expect(found.map(\.secret) == tokens)
        #expect(found.allSatisfy { $0.line == 2 })
        #expect(found[1].column > found[0].column)
        // Context is bounded, and other secrets in it are redacted too.
        #expect(found.allSatisfy { $0.displayLine(reveal: false).count < 600 })
        #expect(!found[0].displayLine(reveal: false).contains(tokens[0]))
    }

    @Test func columnsOnTheSameLineAreCountedIncrementally() {
        let a = Fixtures.stripeKey, b = Fixtures.slackToken
        let f = Fixtures.detect("é = \"\(a)\"; ü = \"\(b)\"\n")
        #expect(f.map(\.column) == [6, 6 + a.count + 8])
        #expect(f[0].endColumn == 6 + a.count)
        #expect(f[0].displayLine(reveal: false).contains("xoxb*****"), "the other secret on the line is redacted")
    }
}

import Foundation
import Testing
@testable import ArcaRegex
@testable import ArcaRules

private let validRule = """
rules:
  - id: demo-token
    description: Demo token
    keywords: [demo_]
    pattern: 'demo_(?<secret>[a-z0-9]{16})'
    examples:
      positive: ['t = demo_a1b2c3d4e5f6g7h8', 'demo_q1w2e3r4t5y6u7i8']
      negative: ['demo_short']
"""

@Suite struct RuleLoaderTests {
    @Test func builtinPackLoadsWithAtLeast120Rules() throws {
        let set = try RuleSet.builtin()
        #expect(set.rules.count >= 120)
        #expect(set.rules.filter { $0.kind == .envUsage }.count >= 10)
        #expect(!set.global.paths.isEmpty && !set.global.secretRegexes.isEmpty)
        for r in set.rules {
            #expect(r.positiveExamples.count >= 2, "\(r.id)")
            #expect(r.negativeExamples.count >= 1, "\(r.id)")
        }
    }

    @Test func coversTheProvidersTheIssueNames() throws {
        let providers = Set(try RuleSet.builtin().rules.map(\.provider))
        for p in ["AWS", "Google", "Azure", "DigitalOcean", "Alibaba", "IBM", "GitHub", "GitLab", "Bitbucket", "Slack",
                  "Discord", "Telegram", "Twilio", "SendGrid", "Mailgun", "Mailchimp", "Postmark", "Stripe", "Square",
                  "PayPal", "Adyen", "OpenAI", "Anthropic", "Hugging Face", "Cohere", "Replicate", "Groq", "npm", "PyPI",
                  "RubyGems", "NuGet", "Docker", "JFrog", "HashiCorp", "Databricks", "Datadog", "New Relic", "Sentry",
                  "Heroku", "Shopify", "Atlassian", "Okta", "Linear", "Notion", "Airtable", "Pulumi", "Doppler",
                  "1Password", "Private key", "JWT", "PostgreSQL", "MySQL", "MongoDB", "Redis", "RabbitMQ", "Generic"] {
            #expect(providers.contains(p), "no rule for \(p)")
        }
    }

    @Test func embeddedRulesMatchTheRulesDirectory() throws {
        let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../rules").standardized
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".yaml") }.sorted()
        #expect(files == EmbeddedRules.files.map(\.0), "run scripts/embed-rules.py")
        for (name, text) in EmbeddedRules.files {
            let onDisk = try String(contentsOf: dir.appendingPathComponent(name), encoding: .utf8)
            #expect(onDisk.trimmingCharacters(in: .newlines) == text, "rules/\(name) changed: run scripts/embed-rules.py")
        }
    }

    @Test func validRuleParses() throws {
        let parsed = try RuleLoader.parse(validRule, file: "demo.yaml")
        #expect(parsed.rules.count == 1)
        let r = parsed.rules[0]
        #expect(r.id == "demo-token" && r.severity == .high && r.confidence == .high && r.kind == .secret)
        #expect(r.keywords == ["demo_"])
        #expect(r.secretGroup == 1)
    }

    static let malformed: [(String, String, String)] = [
        (validRule.replacingOccurrences(of: "keywords:", with: "keywordz:"), "keywordz", "unknown field"),
        (validRule.replacingOccurrences(of: "(?<secret>", with: "(?<token>"), "pattern", "named group"),
        (validRule.replacingOccurrences(of: "[a-z0-9]{16})", with: "[a-z0-9]{16}"), "pattern", "does not compile"),
        (validRule.replacingOccurrences(of: "      negative: ['demo_short']", with: ""), "examples.negative", "at least one"),
        (validRule.replacingOccurrences(of: "'demo_q1w2e3r4t5y6u7i8'", with: ""), "examples.positive", "at least two"),
        (validRule.replacingOccurrences(of: "[demo_]", with: "[de]"), "keywords", "shorter than 3"),
        (validRule.replacingOccurrences(of: "id: demo-token", with: "id: Demo Token"), "id", "lower-case"),
        (validRule.replacingOccurrences(of: "    keywords:", with: "    severity: urgent\n    keywords:"), "severity", "must be one of"),
        (validRule.replacingOccurrences(of: "    keywords: [demo_]\n", with: ""), "keywords", "needs keywords"),
        ("rules: [\n", "", "not valid YAML"),
        ("rulez: []\n", "rulez", "unknown top-level field"),
    ]

    @Test(arguments: 0..<malformed.count)
    func malformedRuleIsAClearErrorNamingFileAndField(_ i: Int) {
        let (text, field, message) = Self.malformed[i]
        do {
            _ = try RuleLoader.parse(text, file: "bad.yaml")
            Issue.record("case \(i) parsed")
        } catch {
            #expect(error.file == "bad.yaml")
            if !field.isEmpty { #expect(error.field == field, "\(error)") }
            #expect(error.description.contains(message), "\(error)")
            #expect(error.description.hasPrefix("bad.yaml"))
        }
    }

    @Test func duplicateIDsAreRejected() throws {
        let a = try RuleLoader.parse(validRule, file: "a.yaml").rules
        let b = try RuleLoader.parse(validRule, file: "b.yaml").rules
        #expect(throws: RuleError.self) { try RuleSet(rules: a + b, global: GlobalAllowlist()) }
    }

    @Test func customRulesDirectoryAddsRules() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("arca-rules-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try validRule.write(to: dir.appendingPathComponent("demo.yaml"), atomically: true, encoding: .utf8)
        let set = try RuleSet.load(builtin: true, extraDirectories: [dir.path])
        #expect(set.rules.contains { $0.id == "demo-token" && $0.source.hasSuffix("demo.yaml") })
        let only = try RuleSet.load(builtin: false, extraDirectories: [dir.path])
        #expect(only.rules.map(\.id) == ["demo-token"])
        #expect(throws: RuleError.self) { try RuleSet.load(extraDirectories: [dir.path + "/missing"]) }
    }
}

@Suite struct RuleLintTests {
    @Test(arguments: [
        ("a+", [1]), ("a*b", [1]), ("a{2,}", [1]), ("[a+*]{1,5}", []), ("\\+\\*", []), ("a++", []), ("a{1,9}", []),
        ("(?<secret>x+)y", [11]), ("\\Qa+b\\E", []), ("a{,5}", []), ("[]+]{1,2}", []), ("x{3}", []),
        ("(?:ab){2,}+c", []), ("a{2,5}+b", []), ("a{2,}b+", [1, 6]),
    ])
    func unboundedQuantifiersAreFound(_ pattern: String, _ offsets: [Int]) {
        #expect(RuleLint.unboundedQuantifiers(in: pattern) == offsets)
    }

    @Test func builtinRulesHaveNoUnboundedQuantifiers() throws {
        for r in try RuleSet.builtin().rules {
            #expect(RuleLint.check(r).isEmpty, "\(r.id): \(RuleLint.check(r))")
        }
    }
}

@Suite struct KeywordAutomatonTests {
    @Test func findsEveryOccurrenceCaseInsensitively() {
        let ac = KeywordAutomaton(keywords: ["ghp_", "he", "she", "hers", "HIS"])
        let text = Array("ushers GHP_x his she".utf8)
        var hits: [(String, Int)] = []
        text.withUnsafeBytes { ac.scan($0) { k, end in hits.append((ac.keywords[k], end)) } }
        var naive: [(String, Int)] = []
        let lower = Array(String(decoding: text, as: UTF8.self).lowercased().utf8)
        for end in 1...lower.count {
            for k in ac.keywords where end >= k.utf8.count && Array(lower[(end - k.utf8.count)..<end]) == Array(k.utf8) {
                naive.append((k, end))
            }
        }
        #expect(hits.map { "\($0.0)@\($0.1)" }.sorted() == naive.map { "\($0.0)@\($0.1)" }.sorted())
        #expect(hits.contains { $0.0 == "ghp_" && $0.1 == 11 })
    }

    @Test func randomisedAgainstNaiveSearch() {
        var rng = SystemRandomNumberGenerator()
        let alphabet = Array("abcAB_-".utf8)
        for _ in 0..<50 {
            let keywords = (0..<8).map { _ in String(decoding: (0..<Int.random(in: 1...4, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! }, as: UTF8.self).lowercased() }
            let text = (0..<300).map { _ in alphabet.randomElement(using: &rng)! }
            let ac = KeywordAutomaton(keywords: keywords)
            var count = 0
            text.withUnsafeBytes { ac.scan($0) { _, _ in count += 1 } }
            let lower = Array(String(decoding: text, as: UTF8.self).lowercased().utf8)
            var expected = 0
            for k in keywords {
                let kb = Array(k.utf8)
                if kb.count <= lower.count {
                    for i in 0...(lower.count - kb.count) where Array(lower[i..<(i + kb.count)]) == kb { expected += 1 }
                }
            }
            #expect(count == expected)
        }
    }
}

@Suite struct EntropyAndChecksumTests {
    @Test func shannonEntropyKnownValues() {
        #expect(Entropy.shannon("aaaa") == 0)
        #expect(abs(Entropy.shannon("abcd") - 2.0) < 1e-9)
        #expect(abs(Entropy.shannon("aabb") - 1.0) < 1e-9)
        #expect(Entropy.characterClasses(Array("aB3!".utf8)) == 4)
        #expect(Entropy.characterClasses(Array("abc".utf8)) == 1)
    }

    @Test func crc32KnownAnswer() {
        #expect(Checksum.crc32(Array("123456789".utf8)) == 0xCBF4_3926)
        #expect(Checksum.crc32([UInt8]()) == 0)
        #expect(String(decoding: Checksum.base62(61, width: 6), as: UTF8.self) == "00000z")
        #expect(String(decoding: Checksum.base62(62, width: 3), as: UTF8.self) == "010")
    }

    @Test func githubStyleChecksum() {
        let body = "aB3dE6gH9jK2mN5pQ8sT1vW4yZ7bC0"
        let cs = String(decoding: Checksum.base62(Checksum.crc32(Array(body.utf8)), width: 6), as: UTF8.self)
        #expect(Checksum.verify("ghp_" + body + cs, kind: .crc32Base62Last6) == .valid)
        #expect(Checksum.verify("npm_" + body + cs, kind: .crc32Base62Last6) == .valid)
        let wrong = String(cs.dropLast()) + (cs.last == "A" ? "B" : "A")
        #expect(Checksum.verify("ghp_" + body + wrong, kind: .crc32Base62Last6) == .invalid)
        #expect(Checksum.verify("ghp_short", kind: .crc32Base62Last6) == .notApplicable)
    }
}

@Suite struct GlobTests {
    @Test(arguments: [
        ("*.lock", "a/b/yarn.lock", true), ("*.lock", "yarn.locks", false), ("node_modules/", "node_modules", true),
        ("/build", "build", true), ("/build", "src/build", false), ("docs/*.md", "docs/a.md", true),
        ("docs/*.md", "docs/x/a.md", false), ("**/fixtures/**", "a/fixtures/b/c.py", true), ("a/**/z", "a/b/c/z", true),
        ("a/**/z", "a/z", true), ("*.min.js", "dist/app.min.js", true), ("[ab].txt", "b.txt", true), ("[!ab].txt", "a.txt", false),
        ("?.py", "x.py", true), ("?.py", "xy.py", false), (".env.*", "svc/.env.prod", true),
    ])
    func gitignoreSemantics(_ glob: String, _ path: String, _ expected: Bool) throws {
        let g = try Glob(glob)
        #expect(g.matches(path, matcher: Matcher()) == expected)
    }
}

@Suite struct EmbeddedJSONTests {
    /// Scans load the pack from its embedded JSON copy; it must be the YAML pack, field for field.
    @Test func jsonCopyEqualsTheYAMLPack() throws {
        let yaml = try RuleSet.builtin(withExamples: true)
        let json = try RuleSet.builtin(withExamples: false)
        #expect(yaml.rules.count == json.rules.count)
        for (a, b) in zip(yaml.rules, json.rules) {
            #expect(a.id == b.id)
            #expect(a.pattern.pattern == b.pattern.pattern, "\(a.id)")
            #expect(a.keywords == b.keywords && a.severity == b.severity && a.confidence == b.confidence, "\(a.id)")
            #expect(a.kind == b.kind && a.provider == b.provider && a.description == b.description, "\(a.id)")
            #expect(a.minEntropy == b.minEntropy && a.minCharClasses == b.minCharClasses, "\(a.id)")
            #expect(a.checksum == b.checksum && a.generic == b.generic && a.language == b.language, "\(a.id)")
            #expect(a.linesAfter == b.linesAfter && a.linesBefore == b.linesBefore, "\(a.id)")
            #expect(a.paths.map(\.source) == b.paths.map(\.source), "\(a.id)")
            #expect((a.anchoredPattern == nil) == (b.anchoredPattern == nil), "\(a.id)")
            #expect(a.allowlist.values == b.allowlist.values && a.allowlist.stopwords == b.allowlist.stopwords, "\(a.id)")
            #expect(a.allowlist.regexes.map(\.pattern) == b.allowlist.regexes.map(\.pattern), "\(a.id)")
            #expect(b.positiveExamples.isEmpty, "the scan copy carries no examples")
        }
        #expect(yaml.global.secretRegexes.map(\.pattern) == json.global.secretRegexes.map(\.pattern))
        #expect(yaml.global.paths.map(\.source) == json.global.paths.map(\.source))
    }

    @Test func jsonReader() {
        let v = RuleJSON.parse(#"{"a": ["x\"y", "\u00e9\ud83d\ude00", "b\\c\n"], "n": 3.5, "e": {}}"#)
        let a = v?.mapping?["a"]?.sequence?.compactMap(\.string)
        #expect(a == ["x\"y", "é😀", "b\\c\n"])
        #expect(v?.mapping?["n"]?.string == "3.5")
        #expect(RuleJSON.parse("{\"a\": [") == nil)
        #expect(RuleJSON.parse("[\"unterminated]") == nil)
    }
}

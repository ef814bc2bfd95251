import Foundation
import PropertyBased
import Synchronization
import Testing
@testable import ArcaReport
@testable import ArcaRules
@testable import ArcaScan

/// The guarantee "no found secret leaves the process in full unless --no-redact", checked as an invariant:
/// random secrets of every secret rule's family, planted into every file kind the env-usage and secret rules
/// know, rendered in every format (and the hook's text, the summary, the warnings). Every value any finding saw
/// (a secret, or a value assigned to a credential-named variable) must be absent from all of them.
@Suite struct RedactionPropertyTests {
    /// One planted secret per secret rule: its first positive example's secret, under the rule's example path.
    struct Family: Sendable {
        var rule: Rule
        var example: String
        var secret: String
    }

    static let families: [Family] = {
        var out: [Family] = []
        for rule in Fixtures.rules.rules where rule.kind == .secret {
            for example in rule.positiveExamples.prefix(2) {
                let found = Fixtures.detect(example, path: rule.examplePath ?? "example.txt")
                if let f = found.first(where: { $0.ruleID == rule.id }) {
                    out.append(Family(rule: rule, example: example, secret: f.secret))
                    break
                }
            }
        }
        return out
    }()

    /// A file kind: where it lives and how a credential is written in it (`NAME`, `VALUE`), plus the example.
    static let kinds: [(path: String, body: @Sendable (String, String) -> String)] = [
        (".env", { ex, s in "API_TOKEN=\(s)\nexport DB_PASSWORD=\"\(s)\"\n\(ex)\n" }),
        ("Dockerfile", { ex, s in "FROM python:3.12\nENV API_TOKEN=\(s)\nARG DB_PASSWORD=\(s)\n\(ex)\n" }),
        ("docker-compose.yml", { ex, s in
            "services:\n  app:\n    environment:\n      - API_TOKEN=\(s)\n      - \"DB_PASSWORD=\(s)\"\n\(ex)\n" }),
        ("deploy/app.yaml", { ex, s in "env:\n  - name: API_TOKEN\n    value: \"\(s)\"\n\(ex)\n" }),
        ("app/settings.py", { ex, s in
            "import os\nAPI_TOKEN = \"\(s)\"\ntoken = os.environ.get(\"API_TOKEN\", \"\(s)\")\n\(ex)\n" }),
        ("src/server.js", { ex, s in "const API_TOKEN = '\(s)';\nconst t = process.env.API_TOKEN || '\(s)';\n\(ex)\n" }),
        ("cmd/main.go", { ex, s in "package main\nvar apiToken = \"\(s)\"\nvar t = os.Getenv(\"API_TOKEN\")\n\(ex)\n" }),
        ("src/App.java", { ex, s in "class App { String apiToken = \"\(s)\"; String p = System.getenv(\"DB_PASSWORD\"); }\n\(ex)\n" }),
        ("deploy.sh", { ex, s in "#!/bin/sh\nexport API_TOKEN=\"\(s)\"\ncurl -H \"Authorization: Bearer $API_TOKEN\"\n\(ex)\n" }),
        ("config.json", { ex, s in "{\"api_token\": \"\(s)\"}\n\(ex)\n" }),
        ("conf/app.properties", { ex, s in "api.token=\(s)\n\(ex)\n" }),
        ("Main.swift", { ex, s in "let apiToken = \"\(s)\"\nlet pw = ProcessInfo.processInfo.environment[\"DB_PASSWORD\"]\n\(ex)\n" }),
        ("example.txt", { ex, _ in ex + "\n" }),
    ]

    /// A random secret of `family`'s shape: characters past its recognisable prefix swapped for random ones of
    /// the same class; checksummed tokens get a fresh body and a valid checksum.
    static func mutate(_ family: Family, seed: Int) -> String {
        let x = UInt64(bitPattern: Int64(seed))
        var rng = Xoshiro(seed: (x, x ^ 0x9E37_79B9_7F4A_7C15, ~x, x &* 31))
        let chars = Array(family.secret)
        if family.rule.checksum != nil, let underscore = chars.lastIndex(of: "_"), chars.count - underscore > 7 {
            let bodyCount = chars.count - underscore - 1 - 6
            let alnum = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
            let body = String((0..<bodyCount).map { _ in alnum[Int(rng.next() % UInt64(alnum.count))] })
            let check = String(decoding: Checksum.base62(Checksum.crc32(Array(body.utf8)), width: 6), as: UTF8.self)
            return String(chars[...underscore]) + body + check
        }
        let keep = max(4, chars.count / 3)
        var out = chars
        for i in keep..<chars.count where !chars[i].isNewline {
            let c = chars[i]
            func pick(_ set: String) -> Character { let a = Array(set); return a[Int(rng.next() % UInt64(a.count))] }
            if c.isASCII && c.isLowercase { out[i] = pick("abcdefghijklmnopqrstuvwxyz") }
            else if c.isASCII && c.isUppercase { out[i] = pick("ABCDEFGHIJKLMNOPQRSTUVWXYZ") }
            else if c.isASCII && c.isNumber { out[i] = pick("0123456789") }
        }
        return String(out)
    }

    /// Every string the scan would send out for `result`, in every format, redacted.
    static func outputs(_ result: ScanResult, root: String) -> [String] {
        let input = ReportInput(findings: result.findings, result: result, root: root, absoluteRoot: root,
                                reveal: false, rules: Fixtures.rules, toolVersion: "0.0.0-test")
        var out = ReportFormat.allCases.map { Reporter.render(input, format: $0) }
        out.append(Reporter.render(input, format: .text, color: true, staged: true))
        out.append(Reporter.summary(input))
        out += result.warnings.map { input.redactor($0) }
        out += result.errors.map { input.redactor($0) }
        return out
    }

    static let found = Mutex(0)
    static let planted = Mutex(0)

    @Test func noFoundSecretAppearsInAnyOutput() async throws {
        #expect(Self.families.count >= 80, "every secret rule family takes part")
        await propertyCheck(count: 400, input: Gen.int(in: 0...(Self.families.count - 1)),
                            Gen.int(in: 0...(Self.kinds.count - 1)), Gen.int(in: 0...Int.max)) { fi, ki, seed in
            let family = Self.families[fi]
            var secret = Self.mutate(family, seed: seed)
            let kind = Self.kinds[ki]
            let tree = TempTree()
            func scanWith(_ s: String) throws -> ScanResult {
                tree.write(kind.path, kind.body(family.example.replacingOccurrences(of: family.secret, with: s), s))
                return try Fixtures.scan(tree) { $0.detect.envUsage = .all }
            }
            var result = try scanWith(secret)
            if !result.findings.contains(where: { $0.secret == secret || $0.definedValue == secret }) {
                secret = family.secret  // the mutation broke its shape: plant the documented example instead
                result = try scanWith(secret)
            }
            Self.planted.withLock { $0 += 1 }
            let known = result.findings.flatMap { f -> [String] in
                (f.kind == .secret ? [f.secret] : []) + (f.definedValue.map { [$0] } ?? [])
            }.filter { $0.utf8.count >= Redactor.minimumLength }
            if known.contains(secret) { Self.found.withLock { $0 += 1 } }
            for text in Self.outputs(result, root: tree.path) {
                for value in known {
                    #expect(!text.contains(value), "rule \(family.rule.id) in \(kind.path): a value leaked")
                }
            }
        }
        let (f, p) = (Self.found.withLock { $0 }, Self.planted.withLock { $0 })
        #expect(f * 10 >= p * 9, "the planted secrets are found (\(f) of \(p)), so the check is not vacuous")
    }

    @Test func redactorMasksEveryOccurrenceAndOverlaps() {
        let r = Redactor(values: ["abcdefgh12345678", "12345678zzzz", "é-secret-ñ-value"])
        #expect(r("x abcdefgh12345678zzzz y") == "x abcd***** y")
        #expect(r("é-secret-ñ-value and é-secret-ñ-value") == "é-se***** and é-se*****")
        #expect(!r.leaks("nothing here") && r.leaks("..12345678zzzz.."))
        #expect(Redactor.none("abcdefgh12345678") == "abcdefgh12345678")
    }

    /// The reproduction: a `.env` line's env-usage context showed the token its secret finding redacted.
    @Test func envUsageContextIsRedacted() throws {
        let token = Fixtures.githubToken()
        for (path, text) in [(".env", "GITHUB_TOKEN=\(token)\n"), ("Dockerfile", "FROM x\nENV GITHUB_TOKEN=\(token)\n"),
                             ("docker-compose.yml", "services:\n  a:\n    environment:\n      - GITHUB_TOKEN=\(token)\n"),
                             (".env.local", "DB_PASSWORD=hunter2-but-longer\n")] {
            let tree = TempTree()
            tree.write(path, text)
            let result = try Fixtures.scan(tree)
            #expect(result.findings.contains { $0.kind == .envUsage }, "\(path)")
            for out in Self.outputs(result, root: tree.path) {
                #expect(!out.contains(token) && !out.contains("hunter2-but-longer"), "\(path): \(out)")
            }
        }
    }
}

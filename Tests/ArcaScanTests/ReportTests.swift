import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
@testable import ArcaReport
@testable import ArcaRules
@testable import ArcaScan

@Suite struct ReportTests {
    func input(reveal: Bool = false) throws -> ReportInput {
        let t = TempTree()
        t.write("src/app config.py", "import os\nk = \"\(Fixtures.stripeKey)\"\npw = os.getenv(\"DB_PASSWORD\")\n")
        t.write("b.js", "const t = \"\(Fixtures.slackToken)\"; const u = \"\(Fixtures.slackToken.replacingOccurrences(of: "Jb2", with: "Zz9"))\";\n")
        let r = try Fixtures.scan(t)
        return ReportInput(findings: r.findings, result: r, root: t.path, absoluteRoot: t.path, reveal: reveal,
                           rules: Fixtures.rules, toolVersion: "0.0.0-test")
    }

    @Test(arguments: ReportFormat.allCases)
    func everyFormatRedactsUnlessAsked(_ format: ReportFormat) throws {
        let redacted = Reporter.render(try input(), format: format)
        #expect(!redacted.contains(Fixtures.stripeKey) && !redacted.contains(Fixtures.slackToken))
        #expect(!redacted.contains(String(Fixtures.stripeKey.suffix(12))))
        let revealed = Reporter.render(try input(reveal: true), format: format)
        #expect(revealed.contains(Fixtures.stripeKey))
    }

    @Test func jsonShape() throws {
        let text = Reporter.render(try input(), format: .json)
        let doc = try JSONSerialization.jsonObject(with: Data(text.utf8)) as! [String: Any]
        let findings = doc["findings"] as! [[String: Any]]
        #expect(findings.count == 4)
        let stripe = findings.first { $0["rule"] as? String == "stripe-live-secret-key" }!
        #expect(stripe["kind"] as? String == "secret")
        #expect(stripe["path"] as? String == "src/app config.py")
        #expect(stripe["line"] as? Int == 2 && stripe["column"] as? Int == 6)
        #expect(stripe["secret"] as? String == "sk_l*****")
        #expect((stripe["fingerprint"] as? String)?.count == 32)
        #expect(stripe["confidence"] as? String == "high")
        let env = findings.first { $0["kind"] as? String == "env-usage" }!
        #expect(env["secret"] as? String == "DB_PASSWORD" && env["language"] as? String == "python" && env["credential"] as? Bool == true)
        let summary = doc["summary"] as! [String: Any]
        #expect(summary["secrets"] as? Int == 3 && summary["envUsages"] as? Int == 1 && summary["filesScanned"] as? Int == 2)
    }

    @Test func sarifStructureForGitHub() throws {
        let text = Reporter.render(try input(), format: .sarif)
        let doc = try JSONSerialization.jsonObject(with: Data(text.utf8)) as! [String: Any]
        #expect(doc["version"] as? String == "2.1.0")
        let run = (doc["runs"] as! [[String: Any]])[0]
        let rules = ((run["tool"] as! [String: Any])["driver"] as! [String: Any])["rules"] as! [[String: Any]]
        let ids = rules.map { $0["id"] as! String }
        #expect(ids.count == Set(ids).count, "one rules entry per rule")
        #expect(Set(ids) == ["stripe-live-secret-key", "slack-bot-token", "env-python"])
        let results = run["results"] as! [[String: Any]]
        #expect(results.count == 4)
        for r in results {
            let idx = r["ruleIndex"] as! Int
            #expect(ids[idx] == r["ruleId"] as! String)
            let loc = ((r["locations"] as! [[String: Any]])[0]["physicalLocation"] as! [String: Any])
            let uri = (loc["artifactLocation"] as! [String: Any])["uri"] as! String
            #expect(!uri.hasPrefix("/") && !uri.contains(" "))
            #expect((r["partialFingerprints"] as! [String: String])["arcaFingerprint/v1"]?.count == 32)
        }
        #expect(text.contains("src/app%20config.py"))
    }

    @Test func junitIsWellFormed() throws {
        let text = Reporter.render(try input(), format: .junit)
        let doc = try XMLDocumentParser.parse(text)
        #expect(doc.failures == 3 && doc.testcases == 4)
    }

    @Test func summaryLine() throws {
        let s = Reporter.summary(try input())
        #expect(s.hasPrefix("arca: scanned 2 files") && s.contains("3 secrets") && s.contains("1 env-usage"))
    }
}

/// Minimal well-formedness check for JUnit XML through the platform XML parser.
enum XMLDocumentParser {
    struct Counts { var failures = 0; var testcases = 0 }

    final class Delegate: NSObject, XMLParserDelegate {
        var counts = Counts()
        func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                    attributes: [String: String] = [:]) {
            if name == "failure" { counts.failures += 1 }
            if name == "testcase" { counts.testcases += 1 }
        }
    }

    static func parse(_ text: String) throws -> Counts {
        let p = XMLParser(data: Data(text.utf8))
        let d = Delegate()
        p.delegate = d
        guard p.parse() else { throw p.parserError ?? CocoaError(.coderReadCorrupt) }
        return d.counts
    }
}

import Testing
@testable import ArcaRules
@testable import ArcaScan

/// Every rule is tested through its own examples, through the whole pipeline (`arca rules test` runs the same).
@Suite struct RuleExampleTests {
    static let results = RuleTester.run(Fixtures.rules)

    @Test(arguments: Fixtures.rules.rules.map(\.id))
    func ruleExamples(_ id: String) {
        let r = Self.results.first { $0.ruleID == id }!
        #expect(r.failures.isEmpty, "\(id): \(r.failures)")
    }

    @Test func testerCatchesABrokenRule() throws {
        let text = """
        rules:
          - id: broken-demo
            description: a rule whose examples disagree with its pattern
            keywords: [zzq_]
            pattern: 'zzq_(?<secret>[0-9]{12})'
            examples:
              positive: ['zzq_123456789012', 'zzq_abc']
              negative: ['zzq_999999999999']
        """
        let rules = try RuleLoader.parse(text, file: "broken.yaml").rules
        let set = try RuleSet(rules: rules, global: GlobalAllowlist())
        let r = RuleTester.run(set)[0]
        #expect(r.failures.count == 2)
        #expect(r.failures.contains { $0.contains("positive example 2") })
        #expect(r.failures.contains { $0.contains("negative example 1") })
    }

    @Test func timingReportsEveryRule() {
        let small = try! RuleSet(rules: Array(Fixtures.rules.rules.prefix(5)), global: Fixtures.rules.global)
        let results = RuleTester.run(small, timing: true)
        #expect(results.allSatisfy { ($0.microseconds ?? -1) >= 0 })
    }
}

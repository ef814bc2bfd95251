import ArcaJSON
import ArcaReport
import ArcaRules
import ArcaScan
import ArgumentParser

struct RulesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rules", abstract: "List and test detection rules.", subcommands: [List.self, Test.self])

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the rules in force.")

        @OptionGroup var rules: RuleOptions

        @Option(help: "text or json.")
        var format: String = "text"

        func validate() throws {
            guard ["text", "json"].contains(format) else { throw ValidationError("--format must be text or json") }
        }

        func run() throws {
            IO.failOnBrokenPipes()
            let set = try rules.load()
            if format == "json" {
                let items: [JSONValue] = set.rules.map { r in
                    var pairs: [(String, JSONValue)] = [
                        ("id", .string(r.id)), ("description", .string(r.description)), ("provider", .string(r.provider)),
                        ("kind", .string(r.kind.rawValue)), ("severity", .string(r.severity.rawValue)),
                        ("confidence", .string(r.confidence.rawValue)), ("keywords", .array(r.keywords.map { .string($0) })),
                        ("generic", .bool(r.generic)), ("source", .string(r.source)),
                    ]
                    if let c = r.checksum { pairs.append(("checksum", .string(c.rawValue))) }
                    if let l = r.language { pairs.append(("language", .string(l))) }
                    return .object(pairs)
                }
                IO.write(fd: 1, JSONValue.object([("rules", .array(items))]).serialized() + "\n")
            } else {
                var out = ""
                for r in set.rules {
                    out += "\(r.id.padding(36)) \(r.severity.rawValue.padding(8)) \(r.kind.rawValue.padding(9)) \(r.description)\n"
                }
                out += "\(set.rules.count) rules\n"
                IO.write(fd: 1, out)
            }
        }
    }

    struct Test: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run every rule's positive and negative examples through the scanner and lint its pattern.",
            discussion: "Exits 1 when any rule fails.")

        @OptionGroup var rules: RuleOptions

        @Flag(help: "Also time each rule's pattern over a stress corpus, slowest first.")
        var timing = false

        func run() throws {
            IO.failOnBrokenPipes()
            let set = try rules.load(withExamples: true)
            let results = RuleTester.run(set, timing: timing)
            var out = ""
            let failed = results.filter { !$0.passed }
            for r in failed {
                for f in r.failures { out += "FAIL \(r.ruleID) (\(r.source)): \(f)\n" }
            }
            if timing {
                out += "\nslowest rules (µs per pass over the stress corpus):\n"
                for r in results.sorted(by: { ($0.microseconds ?? 0) > ($1.microseconds ?? 0) }).prefix(15) {
                    out += "  \(r.ruleID.padding(36)) \(Int(r.microseconds ?? 0))\n"
                }
            }
            let examples = set.rules.reduce(0) { $0 + $1.positiveExamples.count + $1.negativeExamples.count }
            out += "\(results.count - failed.count) passed, \(failed.count) failed (\(set.rules.count) rules, \(examples) examples)\n"
            IO.write(fd: 1, out)
            if !failed.isEmpty { throw ExitCode(Exit.leaks) }
        }
    }
}

extension String {
    func padding(_ width: Int) -> String { count >= width ? self : self + String(repeating: " ", count: width - count) }
}

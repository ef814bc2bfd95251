import ArcaRules
import ArgumentParser

/// `arca config check`: validates a project's `.arca.yaml` (and the rules it names) the way every scan reads it.
struct ConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config", abstract: "The project config file (.arca.yaml).", subcommands: [Check.self])

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check .arca.yaml (found from PATH as scans find it, or --config FILE) and the rules it names.",
            discussion: "Exit codes: 0 valid, 2 invalid (the error names the file and line) or no config file found.")

        @Argument(help: "A directory or file of the project.")
        var path: String = "."

        @Option(help: ArgumentHelp("The config file to check.", valueName: "FILE"))
        var config: String?

        func run() throws {
            guard let file = config ?? ProjectConfig.locate(from: path) else {
                throw CLIError(code: Exit.usage, message: "arca: no \(ProjectConfig.fileName) for \(path) (looked at the repository root)")
            }
            let parsed: ProjectConfig
            do { parsed = try ProjectConfig.load(file) } catch {
                throw CLIError(code: Exit.usage, message: "arca: invalid config: \(error)")
            }
            let extra: RuleSet
            do { extra = try RuleSet.load(builtin: false, extraDirectories: parsed.ruleDirectories) } catch {
                throw CLIError(code: Exit.usage, message: "arca: invalid config: \(file): the rules it names: \(error)")
            }
            var parts = ["\(extra.rules.count) extra rule\(extra.rules.count == 1 ? "" : "s")"]
            let a = parsed.allowPaths.count + parsed.allowRegexes.count + parsed.stopwords.count + parsed.fingerprints.count
            parts.append("\(a) allowlist entr\(a == 1 ? "y" : "ies")")
            if let c = parsed.minConfidence { parts.append("min-confidence \(c.rawValue)") }
            if let f = parsed.failOn { parts.append("fail-on \(f.rawValue)") }
            if let e = parsed.envUsage { parts.append("env-usage \(e)") }
            IO.write(fd: 1, "arca: \(file) is valid: \(parts.joined(separator: ", "))\n")
        }
    }
}

/// `arca version` (also `--version` and `-V`).
struct VersionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "version", abstract: "Print Arca's version.")

    func run() throws { IO.write(fd: 1, "arca \(Arca.version)\n") }
}

/// `arca completions bash|zsh|fish`: the shell completion script.
struct CompletionsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "completions", abstract: "Print a shell completion script (bash, zsh or fish).",
        discussion: """
            bash: arca completions bash > /etc/bash_completion.d/arca
            zsh:  arca completions zsh > "${fpath[1]}/_arca"
            fish: arca completions fish > ~/.config/fish/completions/arca.fish
            """)

    @Argument(help: "bash, zsh or fish.")
    var shell: String

    func validate() throws {
        guard CompletionShell(rawValue: shell) != nil else { throw ValidationError("completions for bash, zsh or fish, not '\(shell)'") }
    }

    func run() throws { IO.write(fd: 1, Arca.completionScript(for: CompletionShell(rawValue: shell)!)) }
}

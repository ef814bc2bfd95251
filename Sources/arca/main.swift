import ArgumentParser

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

struct Arca: ParsableCommand {
    static let version = "0.2.0"
    static let configuration = CommandConfiguration(
        commandName: "arca",
        abstract: "Find leaked credentials in code and history, and move them into a vault.",
        version: "arca \(version)",
        subcommands: [Scan.self, BaselineCommand.self, RulesCommand.self, ConfigCommand.self, HookCommand.self, Migrate.self, Run.self,
                      VaultCommand.self, VersionCommand.self, CompletionsCommand.self])
}

// ArgumentParser exits 64 on bad usage; Arca documents 2, so parse and dispatch by hand.
// `-V` as gitleaks and most tools take it (ArgumentParser knows only --version).
if CommandLine.arguments.count == 2 && CommandLine.arguments[1] == "-V" {
    IO.write(fd: 1, "arca \(Arca.version)\n")
    exit(Exit.clean)
}

do {
    var command = try Arca.parseAsRoot()
    try command.run()
    if IO.standardOutputFailed.load(ordering: .relaxed) {
        IO.write(fd: 2, "arca: cannot write to standard output: \(String(cString: strerror(errno)))\n")
        exit(Exit.runtime)
    }
    exit(Exit.clean)
} catch let e as CLIError {
    IO.write(fd: 2, e.message + "\n")
    exit(e.code)
} catch let e as ExitCode {
    if IO.standardOutputFailed.load(ordering: .relaxed) {
        IO.write(fd: 2, "arca: cannot write to standard output\n")
        exit(Exit.runtime)
    }
    exit(e.rawValue)
} catch {
    let code = Arca.exitCode(for: error)
    if code == .success {
        IO.write(fd: 1, Arca.fullMessage(for: error) + "\n")
        exit(Exit.clean)
    }
    IO.write(fd: 2, Arca.fullMessage(for: error) + "\n")
    exit(Exit.usage)
}

import CGit2

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Installs Arca's pre-commit hook into a repository.
public enum GitHooks {
    /// The marker that identifies a hook Arca wrote.
    public static let marker = "# arca pre-commit hook"

    /// What `install` did.
    public enum Outcome: Equatable, Sendable {
        case installed(path: String)
        /// An existing hook was kept: it was moved aside and Arca's hook runs it first.
        case chained(path: String, previous: String)
        case updated(path: String)
        case replaced(path: String)
    }

    /// Writes `pre-commit` into the repository's hooks directory (honouring `core.hooksPath`), running
    /// `binary scan --staged`. An existing foreign hook is kept and chained unless `force`.
    /// `allowSkips` are written into the hook as `--allow-skip KIND`: the kinds of unscannable staged file the
    /// team lets through knowingly (by default the hook fails closed).
    public static func install(repository path: String, binary: String, force: Bool,
                               allowSkips: [String] = []) throws(ScanError) -> Outcome {
        let repo: GitRepository
        do { repo = try GitRepository(path: path) } catch { throw ScanError(message: error.message) }
        let dir = repo.hooksDirectory()
        mkdir(dir, 0o755)
        let hook = dir + "/pre-commit"
        let previous = dir + "/pre-commit.arca-previous"
        let existing = Scanner.readSmallText(hook)
        var outcome = Outcome.installed(path: hook)
        if let existing {
            if existing.contains(marker) {
                outcome = .updated(path: hook)
            } else if force {
                outcome = .replaced(path: hook)
            } else {
                guard rename(hook, previous) == 0 else {
                    throw ScanError(message: "cannot move the existing hook aside: \(String(cString: strerror(errno)))")
                }
                outcome = .chained(path: hook, previous: previous)
            }
        }
        let script = """
        #!/bin/sh
        \(marker): installed by `arca hook install`; blocks commits that add secrets.
        # A hook that was here before runs first (it was kept as pre-commit.arca-previous).
        hooks="$(dirname "$0")"
        if [ -x "$hooks/pre-commit.arca-previous" ]; then
            "$hooks/pre-commit.arca-previous" "$@" || exit $?
        fi
        ARCA='\(binary.replacingQuotes())'
        [ -x "$ARCA" ] || ARCA=arca
        exec "$ARCA" scan --staged\(allowSkips.map { " --allow-skip " + $0 }.joined())

        """
        let fd = open(hook, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o755)
        guard fd >= 0 else { throw ScanError(message: "cannot write \(hook): \(String(cString: strerror(errno)))") }
        let bytes = Array(script.utf8)
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress!, $0.count) }
        close(fd)
        chmod(hook, 0o755)
        guard written == bytes.count else { throw ScanError(message: "cannot write \(hook)") }
        return outcome
    }
}

extension String {
    /// Safe inside single quotes in sh.
    func replacingQuotes() -> String {
        var out = ""
        for c in self { out += c == "'" ? "'\\''" : String(c) }
        return out
    }
}

extension GitRepository {
    /// `core.hooksPath` (relative to the work tree) or the `hooks` directory of the repository's common git dir
    /// (the same for every worktree).
    func hooksDirectory() -> String {
        var cfg: OpaquePointer?
        if git_repository_config_snapshot(&cfg, handle) == 0, let cfg {
            defer { git_config_free(cfg) }
            var value: UnsafePointer<CChar>?
            if git_config_get_string(&value, cfg, "core.hooksPath") == 0, let value {
                var p = String(cString: value)
                // git expands a leading `~/` to the home directory.
                if p == "~" || p.hasPrefix("~/"), let home = getenv("HOME") { p = String(cString: home) + p.dropFirst() }
                if p.hasPrefix("/") { return p }
                return (workdir ?? gitDir) + (workdir?.hasSuffix("/") == false ? "/" : "") + p
            }
        }
        // The common git dir: a linked worktree's own git dir (`.git/worktrees/NAME`) has a `hooks` folder git
        // never runs; every worktree runs the main repository's hooks.
        let common = git_repository_commondir(handle).map { String(cString: $0) } ?? gitDir
        return common + (common.hasSuffix("/") ? "" : "/") + "hooks"
    }
}

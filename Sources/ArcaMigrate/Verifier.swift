import ArcaScan
import Foundation

/// After a rewrite: no migrated secret is left in the changed files (rescan), and each file still parses,
/// imports or compiles with the project's layout, with the toolchain this machine has (each language's own
/// `check`).
public struct Verifier: Sendable {
    public struct Check: Sendable {
        public var path: String
        /// The command that checked it, or nil when no toolchain for the language is installed.
        public var tool: String?
        public var passed: Bool
        public var output: String

        public init(path: String, tool: String?, passed: Bool, output: String) {
            (self.path, self.tool, self.passed, self.output) = (path, tool, passed, output)
        }
    }

    public let project: Project

    public init(project: Project) { self.project = project }

    /// Paths (relative) whose text holds a value of `values` the plan did not leave there on purpose: found by
    /// scanning them again with `scanner`, or by the value's text, where the planned new text (`planned`, by path)
    /// does not hold it (a value in a comment is skipped, named, and left: that is not a leftover).
    public func leftovers(_ paths: [String], values: Set<String>, scanner: ArcaScan.Scanner, scratch: DetectorScratch,
                          planned: [String: String] = [:]) -> [String] {
        var out: [String] = []
        for p in paths {
            guard let data = FileManager.default.contents(atPath: project.path(p)) else { continue }
            let text = String(decoding: data, as: UTF8.self)
            let kept = planned[p] ?? ""
            if planned[p] != nil, text != kept {
                out.append(p)  // not the text the plan wrote
                continue
            }
            let found = scanner.scan(bytes: Array(data), path: p, scratch: scratch).findings
            if found.contains(where: { f in f.kind.holdsSecret && values.contains { $0.contains(f.secret) && !kept.contains($0) } })
                || values.contains(where: { text.contains($0) && !kept.contains($0) }) {
                out.append(p)
            }
        }
        return out
    }

    /// One check per file, each language checking its files together (a compile sees the whole layout).
    public func checks(_ files: [Plan.File], style: HelperStyle = .arca) -> [Check] {
        var out: [Check] = []
        for language in Languages.all {
            let mine = files.filter { $0.language == language.id.rawValue }
            if !mine.isEmpty { out += language.check(mine, project: project, style: style) }
        }
        return out
    }

    /// The checks that fail after the rewrite and passed before it (a file that did not import or compile
    /// before `migrate` touched it says nothing about the rewrite).
    public static func failures(after: [Check], before: [Check]) -> [Check] {
        after.filter { a in !a.passed && (before.first { $0.path == a.path }?.passed ?? true) }
    }
}

extension Project {
    /// Runs one check command; a missing toolchain is "not checked", a time-out a failure that says so.
    func check(_ paths: [String], _ tool: String, _ args: [String], cwd: String? = nil, environment: [String: String] = [:],
               shown: String? = nil, timeout: Double = 120) -> [Verifier.Check] {
        guard runner.which(tool) != nil else { return paths.map { Verifier.Check(path: $0, tool: nil, passed: true, output: "") } }
        let label = shown ?? ([tool] + args.filter { !$0.hasPrefix("/") && !$0.contains("\n") && $0.count < 80 }).joined(separator: " ")
        do {
            let r = try runner.run(tool, args, cwd: cwd ?? root, environment: environment, timeout: timeout)
            let output = r.timedOut ? "timed out after \(Int(timeout)) s\n" + r.output : r.output
            return paths.map { Verifier.Check(path: $0, tool: label, passed: r.status == 0 && !r.timedOut, output: output) }
        } catch {
            return paths.map { Verifier.Check(path: $0, tool: label, passed: false, output: "\(error)") }
        }
    }

    /// Several checks of one file: the first failure, else the last check.
    static func combine(_ checks: [[Verifier.Check]]) -> [Verifier.Check] {
        guard let first = checks.first else { return [] }
        return first.indices.map { i in
            let mine = checks.map { $0[i] }
            return mine.first { !$0.passed } ?? mine.last { $0.tool != nil } ?? mine[0]
        }
    }

    /// A fresh temporary folder (removed by the caller).
    func scratchFolder(_ tag: String) -> String {
        let dir = NSTemporaryDirectory() + "arca-\(tag)-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }
}

import ArcaScan
import Foundation

/// After a rewrite: no migrated secret is left in the changed files (rescan), and each file still parses or
/// compiles with the toolchain this machine has.
public struct Verifier: Sendable {
    public struct Check: Sendable {
        public var path: String
        /// The command that checked it, or nil when no toolchain for the language is installed.
        public var tool: String?
        public var passed: Bool
        public var output: String
    }

    public let root: String

    public init(root: String) { self.root = root }

    /// Paths (relative) whose text still holds one of `values`, found by scanning them again with `scanner`.
    public func leftovers(_ paths: [String], values: Set<String>, scanner: ArcaScan.Scanner, scratch: DetectorScratch) -> [String] {
        var out: [String] = []
        for p in paths {
            guard let data = FileManager.default.contents(atPath: root + "/" + p) else { continue }
            let text = String(decoding: data, as: UTF8.self)
            let found = scanner.scan(bytes: Array(data), path: p, scratch: scratch).findings
            if found.contains(where: { f in f.kind.holdsSecret && values.contains { $0.contains(f.secret) } })
                || values.contains(where: { text.contains($0) }) {
                out.append(p)
            }
        }
        return out
    }

    /// Syntax or compile checks, one per changed file, with the helper beside it where the check needs it.
    public func syntax(_ files: [Plan.File], style: HelperStyle = .arca) -> [Check] {
        files.map { file in
            let path = root + "/" + file.path
            let dir = (path as NSString).deletingLastPathComponent
            let language = Language.ID(rawValue: file.language)
            // Compiling against the Azure SDK needs the project's build (its packages); parsing does not.
            if style == .azureSDK, [.java, .kotlin, .csharp, .go].contains(language) {
                return Check(path: file.path, tool: nil, passed: true, output: "")
            }
            switch language {
            case .python:
                return run(file.path, "python3", ["-c", "import ast,sys; ast.parse(open(sys.argv[1], encoding='utf-8').read(), sys.argv[1])", path])
            case .javascript:
                return run(file.path, "node", ["--check", path])
            case .shell:
                let shebang = file.new.split(separator: "\n").first.map(String.init) ?? ""
                return run(file.path, shebang.contains("bash") ? "bash" : "sh", ["-n", path])
            case .swift:
                return run(file.path, "swiftc", ["-parse", path])
            case .java:
                let out = NSTemporaryDirectory() + "arca-javac-\(UUID().uuidString)"
                defer { try? FileManager.default.removeItem(atPath: out) }
                return run(file.path, "javac", ["-d", out, "-sourcepath", Self.javaSourceRoot(dir, file.new), "-implicit:none", path])
            case .ruby:
                return run(file.path, "ruby", ["-c", path])
            case .php:
                return run(file.path, "php", ["-l", path])
            case .go:
                return run(file.path, "gofmt", ["-e", "-l", path])
            case .json:
                return run(file.path, "python3", ["-c", "import json,sys; json.load(open(sys.argv[1], encoding='utf-8'))", path])
            default:
                return Check(path: file.path, tool: nil, passed: true, output: "")
            }
        }
    }

    /// The folder a Java file's package starts from (its folder minus the package path).
    static func javaSourceRoot(_ dir: String, _ text: String) -> String {
        guard let r = text.range(of: #"(?m)^package\s+[\w.]+\s*;"#, options: .regularExpression) else { return dir }
        let pkg = text[r].dropFirst("package".count).trimmingCharacters(in: CharacterSet(charactersIn: " \t;"))
        let suffix = "/" + pkg.replacingOccurrences(of: ".", with: "/")
        return dir.hasSuffix(suffix) ? String(dir.dropLast(suffix.count)) : dir
    }

    func run(_ rel: String, _ tool: String, _ args: [String]) -> Check {
        guard let exe = Self.which(tool) else { return Check(path: rel, tool: nil, passed: true, output: "") }
        let shown = ([tool] + args.filter { !$0.hasPrefix("/") && !$0.contains("import ") }).joined(separator: " ")
        do {
            let r = try Self.capture(exe, args, errors: true)
            return Check(path: rel, tool: shown, passed: r.status == 0, output: r.output)
        } catch {
            return Check(path: rel, tool: tool, passed: false, output: "\(error)")
        }
    }

    /// Runs a program to its end with no input: its exit status and standard output (with standard error when
    /// `errors`).
    public static func capture(_ executable: String, _ args: [String], errors: Bool) throws -> (status: Int32, output: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = args
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = errors ? pipe : FileHandle.nullDevice
        p.standardInput = FileHandle.nullDevice
        try p.run()
        let out = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        return (p.terminationStatus, out)
    }

    static func which(_ tool: String) -> String? {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let candidate = "\(dir)/\(tool)"
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }
}

import Foundation
@testable import ArcaRules
@testable import ArcaScan

/// A temporary directory tree for a test, removed when the value is released.
final class TempTree {
    let root: URL

    init() {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("arca-test-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: root) }

    var path: String { root.path }

    @discardableResult
    func write(_ rel: String, _ text: String) -> URL { write(rel, Data(text.utf8)) }

    @discardableResult
    func write(_ rel: String, _ data: Data) -> URL {
        let url = root.appendingPathComponent(rel)
        try? FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try? data.write(to: url)
        return url
    }
}

enum Fixtures {
    static let rules: RuleSet = try! RuleSet.builtin()

    /// A GitHub classic token with a valid checksum, built the way GitHub documents it.
    static func githubToken(_ body: String = "aB3dE6gH9jK2mN5pQ8sT1vW4yZ7bC0") -> String {
        "ghp_" + body + String(decoding: Checksum.base62(Checksum.crc32(Array(body.utf8)), width: 6), as: UTF8.self)
    }

    static let stripeKey = "sk_live_51Hq2vKj4Lm8Np0Rs3Tu6Vw9Xy1Za4Bc7De0Fg3Hi6Jk9Lm2No5Pq8Rs1Tu4Vw7"
    static let slackToken = "xoxb-263594206564-2692305932455-Jb2Kq9LmN4pR7sT1vW3xY5zA"

    static func scan(_ tree: TempTree, _ configure: (inout ScanOptions) -> Void = { _ in }) throws -> ScanResult {
        var o = ScanOptions()
        configure(&o)
        return try Scanner(rules: rules, options: o).scan(root: tree.path)
    }

    static func detect(_ text: String, path: String = "a.py", options: DetectOptions = DetectOptions()) -> [Finding] {
        let d = Detector(rules: rules, options: options)
        let s = DetectorScratch(rules: rules)
        return Array(text.utf8).withUnsafeBytes { d.detect($0, path: path, scratch: s) }
    }

    /// The repository checkout (for scripts/).
    static let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../..").standardized

    /// Runs a command and returns its exit status and standard output.
    @discardableResult
    static func run(_ exe: String, _ args: [String], cwd: String? = nil, stdin: Data? = nil,
                    env: [String: String] = [:]) throws -> (status: Int32, out: String, err: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: exe)
        p.arguments = args
        if let cwd { p.currentDirectoryURL = URL(fileURLWithPath: cwd) }
        var environment = ProcessInfo.processInfo.environment
        for (k, v) in env { environment[k] = v }
        p.environment = environment
        let out = Pipe(), err = Pipe(), inp = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = inp
        try p.run()
        if let stdin { inp.fileHandleForWriting.write(stdin) }
        try inp.fileHandleForWriting.close()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }
}

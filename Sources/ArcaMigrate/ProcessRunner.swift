import Foundation

/// The one way `migrate` runs a program (toolchains for the checks, git): no input, standard output and error
/// together, a time limit, and nothing of the caller's secrets (they are never arguments).
public struct ProcessRunner: Sendable {
    public struct Result: Sendable {
        public var status: Int32
        public var output: String
        public var timedOut: Bool
    }

    public init() {}

    /// The program's path on PATH, or nil.
    public func which(_ tool: String) -> String? {
        if tool.hasPrefix("/") { return access(tool, X_OK) == 0 ? tool : nil }
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let candidate = "\(dir)/\(tool)"
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }

    /// Runs `tool` (a name on PATH or a path) to its end, or until `timeout` seconds have passed (then it is
    /// killed and `timedOut` is set).
    public func run(_ tool: String, _ args: [String], cwd: String? = nil, environment: [String: String] = [:],
                    errors: Bool = true, timeout: Double = 120) throws -> Result {
        guard let exe = which(tool) else { throw CocoaError(.fileNoSuchFile, userInfo: [NSFilePathErrorKey: tool]) }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: exe)
        p.arguments = args
        if let cwd { p.currentDirectoryURL = URL(fileURLWithPath: cwd) }
        if !environment.isEmpty { p.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new } }
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = errors ? pipe : FileHandle.nullDevice
        p.standardInput = FileHandle.nullDevice
        try p.run()
        let killed = TimeoutFlag()
        let pid = p.processIdentifier
        let timer = DispatchSource.makeTimerSource(queue: .global())
        timer.schedule(deadline: .now() + timeout)
        timer.setEventHandler { killed.set(); kill(pid, SIGKILL) }
        timer.resume()
        let out = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        timer.cancel()
        return Result(status: p.terminationStatus, output: out, timedOut: killed.value)
    }
}

final class TimeoutFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var flag = false
    func set() { lock.lock(); flag = true; lock.unlock() }
    var value: Bool { lock.lock(); defer { lock.unlock() }; return flag }
}

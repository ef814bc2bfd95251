import ArcaScan
import Dispatch
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The progress line a long scan shows on a terminal: after a second, files (or commits) done and MB/s on
/// standard error, redrawn four times a second and erased at the end. Never when standard error is not a
/// terminal, with `-q`, or under `CI` (any value but `false`/`0`). `ARCA_PROGRESS_AFTER_MS` sets the delay
/// (tests).
final class ProgressLine: Sendable {
    let progress = ScanProgress()
    private let done = Atomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)
    private let shown = Atomic<Bool>(false)

    static func wanted(quiet: Bool) -> Bool {
        guard !quiet, isatty(2) == 1 else { return false }
        if let ci = getenv("CI").map({ String(cString: $0) }), !ci.isEmpty, ci != "false", ci != "0" { return false }
        return true
    }

    func start() {
        let delay = (getenv("ARCA_PROGRESS_AFTER_MS").flatMap { Int(String(cString: $0)) } ?? 1000) / 50 * 50
        let started = ProgressLine.now()
        DispatchQueue.global().async { [self] in
            var waited = 0
            while !done.load(ordering: .relaxed) {
                if waited >= delay && (waited - delay) % 250 == 0 { draw(elapsed: ProgressLine.now() - started) }
                usleep(50_000)
                waited += 50
            }
            finished.signal()
        }
    }

    func stop() {
        done.store(true, ordering: .relaxed)
        finished.wait()
        if shown.load(ordering: .relaxed) { IO.write(fd: 2, "\r\u{1B}[K") }
    }

    private func draw(elapsed: Double) {
        let files = progress.files.load(ordering: .relaxed)
        let bytes = progress.bytes.load(ordering: .relaxed)
        let commits = progress.commits.load(ordering: .relaxed)
        let total = progress.totalCommits.load(ordering: .relaxed)
        let rate = elapsed > 0 ? Double(bytes) / 1e6 / elapsed : 0
        var line = "arca: "
        if total > 0 { line += "\(commits)/\(total) commits, " }
        line += "\(files) \(total > 0 ? "blobs" : "files"), \(Int(Double(bytes) / 1_048_576)) MiB, "
            + "\(Int(rate.rounded())) MB/s"
        shown.store(true, ordering: .relaxed)
        IO.write(fd: 2, "\r\u{1B}[K" + line)
    }

    static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}

/// `diff -u` output for two texts (Myers' algorithm on lines, three lines of context).
public enum UnifiedDiff {
    public static func make(old: String, new: String, path: String, context: Int = 3) -> String {
        let a = lines(old), b = lines(new)
        let ops = script(a, b)
        guard ops.contains(where: { $0.kind != .same }) else { return "" }
        var out = "--- a/\(path)\n+++ b/\(path)\n"
        var i = 0
        while i < ops.count {
            guard ops[i].kind != .same else { i += 1; continue }
            // A hunk: from `context` lines before this change to `context` after the last change within reach.
            let start = max(0, i - context)
            var end = i
            while end < ops.count {
                if ops[end].kind != .same { end += 1; continue }
                var run = end
                while run < ops.count && ops[run].kind == .same { run += 1 }
                if run == ops.count || run - end > 2 * context { end = min(ops.count, end + context); break }
                end = run
            }
            let hunk = ops[start..<end]
            let oldStart = hunk.first.map { $0.oldIndex } ?? 0, newStart = hunk.first.map { $0.newIndex } ?? 0
            let oldCount = hunk.filter { $0.kind != .insert }.count, newCount = hunk.filter { $0.kind != .delete }.count
            out += "@@ -\(oldCount == 0 ? oldStart : oldStart + 1),\(oldCount) +\(newCount == 0 ? newStart : newStart + 1),\(newCount) @@\n"
            for op in hunk {
                switch op.kind {
                case .same: out += " " + a[op.oldIndex]
                case .delete: out += "-" + a[op.oldIndex]
                case .insert: out += "+" + b[op.newIndex]
                }
                if !out.hasSuffix("\n") { out += "\n\\ No newline at end of file\n" }
            }
            i = end
        }
        return out
    }

    static func lines(_ s: String) -> [String] {
        var out: [String] = []
        var current = ""
        for c in s.unicodeScalars {
            current.unicodeScalars.append(c)
            if c == "\n" { out.append(current); current = "" }
        }
        if !current.isEmpty { out.append(current) }
        return out
    }

    struct Op {
        enum Kind { case same, delete, insert }
        var kind: Kind
        var oldIndex: Int
        var newIndex: Int
    }

    /// The shortest edit script (Myers 1986), as a sequence of same / delete / insert lines.
    static func script(_ a: [String], _ b: [String]) -> [Op] {
        let n = a.count, m = b.count, maxD = n + m
        var v = [Int](repeating: 0, count: 2 * maxD + 2)
        var trace: [[Int]] = []
        let offset = maxD + 1
        outer: for d in 0...maxD {
            trace.append(v)
            for k in stride(from: -d, through: d, by: 2) {
                var x = (k == -d || (k != d && v[offset + k - 1] < v[offset + k + 1])) ? v[offset + k + 1] : v[offset + k - 1] + 1
                var y = x - k
                while x < n && y < m && a[x] == b[y] { x += 1; y += 1 }
                v[offset + k] = x
                if x >= n && y >= m { trace.append(v); break outer }
            }
        }
        // Walk back through the trace.
        var ops: [Op] = []
        var x = n, y = m
        for d in stride(from: trace.count - 2, through: 0, by: -1) {
            let vd = trace[d]
            let k = x - y
            let prevK = (k == -d || (k != d && vd[offset + k - 1] < vd[offset + k + 1])) ? k + 1 : k - 1
            let prevX = vd[offset + prevK], prevY = prevX - prevK
            while x > prevX && y > prevY { x -= 1; y -= 1; ops.append(Op(kind: .same, oldIndex: x, newIndex: y)) }
            if d > 0 {
                if x == prevX { y -= 1; ops.append(Op(kind: .insert, oldIndex: x, newIndex: y)) } else { x -= 1; ops.append(Op(kind: .delete, oldIndex: x, newIndex: y)) }
            }
        }
        while x > 0 && y > 0 { x -= 1; y -= 1; ops.append(Op(kind: .same, oldIndex: x, newIndex: y)) }
        return ops.reversed()
    }
}

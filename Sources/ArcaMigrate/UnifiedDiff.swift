/// `diff -u` output for two texts (lines compared with the standard library's `difference(from:)`, three lines
/// of context).
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

    /// The edit script in file order, from the standard library's `difference(from:)` (Myers' algorithm):
    /// deletions before insertions where both happen.
    static func script(_ a: [String], _ b: [String]) -> [Op] {
        var removed = Set<Int>(), inserted = Set<Int>()
        for change in b.difference(from: a) {
            switch change {
            case .remove(let offset, _, _): removed.insert(offset)
            case .insert(let offset, _, _): inserted.insert(offset)
            }
        }
        var ops: [Op] = []
        var i = 0, j = 0
        while i < a.count || j < b.count {
            if i < a.count, removed.contains(i) {
                ops.append(Op(kind: .delete, oldIndex: i, newIndex: j))
                i += 1
            } else if j < b.count, inserted.contains(j) {
                ops.append(Op(kind: .insert, oldIndex: i, newIndex: j))
                j += 1
            } else {
                ops.append(Op(kind: .same, oldIndex: i, newIndex: j))
                i += 1
                j += 1
            }
        }
        return ops
    }
}

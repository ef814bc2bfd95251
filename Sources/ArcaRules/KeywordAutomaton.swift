/// An Aho-Corasick automaton over all rules' keywords, compiled to a dense DFA on byte classes and matching
/// ASCII case-insensitively. One pass over a buffer reports every keyword occurrence.
///
/// Immutable after init, so it is shared by every scanning task.
public struct KeywordAutomaton: Sendable {
    /// The keywords, lower-cased, in the order given.
    public let keywords: [String]
    private let classOf: [UInt8]          // byte → class (0 = not in any keyword)
    private let classCount: Int
    private let transitions: [Int32]      // state * classCount + class → state
    private let outputStart: [Int32]      // state → first index into `outputs`
    private let outputs: [Int32]          // keyword indices
    private let firstOutputState: Int     // states are numbered so that exactly those ≥ this have outputs

    /// Builds the automaton. Keywords are lower-cased; duplicates are kept (each reports its own index).
    public init(keywords: [String]) {
        self.keywords = keywords.map { $0.lowercased() }
        var classOf = [UInt8](repeating: 0, count: 256)
        var next: UInt8 = 1
        for k in self.keywords {
            for b in k.utf8 where classOf[Int(b)] == 0 {
                classOf[Int(b)] = next
                if b >= 0x61 && b <= 0x7a { classOf[Int(b - 0x20)] = next }
                next += 1
            }
        }
        let classes = Int(next)
        // Trie.
        var goto: [[Int32]] = [[Int32](repeating: -1, count: classes)]
        var out: [[Int32]] = [[]]
        for (index, k) in self.keywords.enumerated() {
            var s = 0
            for b in k.utf8 {
                let c = Int(classOf[Int(b)])
                if goto[s][c] < 0 {
                    goto.append([Int32](repeating: -1, count: classes))
                    out.append([])
                    goto[s][c] = Int32(goto.count - 1)
                }
                s = Int(goto[s][c])
            }
            out[s].append(Int32(index))
        }
        // Breadth-first failure links, folded into a full DFA.
        var fail = [Int](repeating: 0, count: goto.count)
        var queue: [Int] = []
        for c in 0..<classes {
            if goto[0][c] < 0 { goto[0][c] = 0 } else { queue.append(Int(goto[0][c])) }
        }
        var head = 0
        while head < queue.count {
            let s = queue[head]; head += 1
            out[s] += out[fail[s]]
            for c in 0..<classes {
                let t = goto[s][c]
                if t < 0 {
                    goto[s][c] = goto[fail[s]][c]
                } else {
                    fail[Int(t)] = Int(goto[fail[s]][c])
                    queue.append(Int(t))
                }
            }
        }
        // Renumber: states without outputs first (the root stays 0), then those with outputs, so the hot loop
        // tests one comparison instead of loading output bounds for every byte.
        let order = (0..<goto.count).filter { out[$0].isEmpty } + (0..<goto.count).filter { !out[$0].isEmpty }
        var newID = [Int32](repeating: 0, count: goto.count)
        for (new, old) in order.enumerated() { newID[old] = Int32(new) }
        var table = [Int32](repeating: 0, count: goto.count * classes)
        var starts: [Int32] = []
        var flat: [Int32] = []
        for (new, old) in order.enumerated() {
            for c in 0..<classes { table[new * classes + c] = newID[Int(goto[old][c])] }
            starts.append(Int32(flat.count))
            flat += out[old]
        }
        starts.append(Int32(flat.count))
        self.classOf = classOf
        self.classCount = classes
        self.transitions = table
        self.outputStart = starts
        self.outputs = flat
        self.firstOutputState = order.firstIndex { !out[$0].isEmpty } ?? order.count
    }

    /// Calls `hit(keywordIndex, endOffset)` for every keyword occurrence in `bytes`, where `endOffset` is the
    /// offset just past the keyword's last byte.
    @inline(__always)
    public func scan(_ bytes: UnsafeRawBufferPointer, _ hit: (Int, Int) -> Void) {
        guard let base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return }
        transitions.withUnsafeBufferPointer { table in
            classOf.withUnsafeBufferPointer { cls in
                outputStart.withUnsafeBufferPointer { starts in
                    var s = 0
                    let n = bytes.count
                    let width = classCount
                    let firstOutput = firstOutputState
                    for i in 0..<n {
                        s = Int(table[s &* width &+ Int(cls[Int(base[i])])])
                        if s >= firstOutput {
                            for j in Int(starts[s])..<Int(starts[s &+ 1]) { hit(Int(outputs[j]), i &+ 1) }
                        }
                    }
                }
            }
        }
    }
}

/// Character statistics of candidate secrets.
public enum Entropy {
    /// Shannon entropy in bits per byte of `bytes`.
    public static func shannon<C: Collection>(_ bytes: C) -> Double where C.Element == UInt8 {
        guard !bytes.isEmpty else { return 0 }
        var counts = [Int](repeating: 0, count: 256)
        for b in bytes { counts[Int(b)] += 1 }
        let n = Double(bytes.count)
        var h = 0.0
        for c in counts where c > 0 {
            let p = Double(c) / n
            h -= p * log2(p)
        }
        return h
    }

    /// Shannon entropy of a string's UTF-8 bytes.
    public static func shannon(_ s: String) -> Double { shannon(Array(s.utf8)) }

    /// How many of the classes lower-case letter, upper-case letter, digit and other byte occur in `bytes`.
    public static func characterClasses<C: Collection>(_ bytes: C) -> Int where C.Element == UInt8 {
        var lower = false, upper = false, digit = false, other = false
        for b in bytes {
            switch b {
            case 0x61...0x7a: lower = true
            case 0x41...0x5a: upper = true
            case 0x30...0x39: digit = true
            default: other = true
            }
        }
        return [lower, upper, digit, other].filter { $0 }.count
    }

    private static func log2(_ x: Double) -> Double {
        // Foundation-free log2 via the natural log series would be slow; use the C library.
        _log2(x)
    }
}

#if canImport(Glibc)
import Glibc
private func _log2(_ x: Double) -> Double { Glibc.log2(x) }
#elseif canImport(Darwin)
import Darwin
private func _log2(_ x: Double) -> Double { Darwin.log2(x) }
#endif

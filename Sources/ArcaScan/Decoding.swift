import ArcaRegex
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Encoded secrets: runs of base64 (standard or URL-safe), hex or percent-encoded characters long enough to
/// hold a credential are decoded and, when the result is text, the line is scanned again with the run
/// replaced by its decoding — so `password: aHVudGVy…` in a Kubernetes `Secret` is seen as
/// `password: hunter…`. Depth-bounded (a decoding is decoded again at most `maxDepth − 1` times) and linear:
/// one JIT pass finds the runs, and only text decodings are scanned.
///
/// A finding from a decoding has the run's line and columns, `encoding` set (`base64`, `hex`, `percent`,
/// `base64>base64` …), and the run itself as `encodedValue`, which the ``Redactor`` masks like the secret.
enum Decoding {
    static let maxDepth = 2
    static let minRun = 16
    static let maxRun = 8192
    /// Bytes of the line kept on each side of a decoded run when it is scanned again.
    static let context = 256
    /// Runs that start further than this into their line are not decoded (one-line data blobs).
    static let maxLineOffset = 4096


    static func findings(_ buf: UnsafeRawBufferPointer, path: String, detector: Detector, scratch: DetectorScratch,
                         depth: Int = 1, chain: String = "") -> [Finding] {
        guard buf.count >= minRun, let base = buf.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return [] }
        var out: [Finding] = []
        var line = 1, lineStart = 0, pos = 0
        // Columns are counted on from the previous decoded run on the same line: a minified or JSON file can
        // be one line of megabytes with thousands of runs, and counting from the line start each time is
        // quadratic.
        var lastLine = 0, lastOffset = 0, lastColumn = 1
        runs(buf) { r in
            guard let (decoded, kind) = decode(UnsafeRawBufferPointer(rebasing: buf[r])) else { return }
            (line, lineStart, pos) = Detector.advance(base, from: pos, to: r.lowerBound, line: line, lineStart: lineStart)
            // Deep inside a one-line data blob (a minified bundle, a JSON test-vector file): like the generic
            // rules, decoding leaves such lines alone past their first bytes.
            guard r.lowerBound - lineStart <= maxLineOffset else { return }
            // The run in its line's context (a key name before it, a quote after it), bounded on both sides.
            let lineEnd = Detector.lineEnd(base, buf.count, r.upperBound, forward: 0, within: context)
            let from = max(lineStart, r.lowerBound - context)
            let text = Array(buf[from..<r.lowerBound]) + decoded + Array(buf[r.upperBound..<lineEnd])
            let decodedRange = (r.lowerBound - from)..<(r.lowerBound - from + decoded.count)
            let encoding = chain.isEmpty ? kind : chain + ">" + kind
            let column = line == lastLine
                ? lastColumn + Detector.scalarCount(base, lastOffset, r.lowerBound)
                : Detector.scalarCount(base, lineStart, r.lowerBound) + 1
            (lastLine, lastOffset, lastColumn) = (line, r.lowerBound, column)
            let endColumn = column + Detector.scalarCount(base, r.lowerBound, r.upperBound)
            let encoded = String(decoding: UnsafeRawBufferPointer(rebasing: buf[r]), as: UTF8.self)
            text.withUnsafeBytes { tb in
                var found = detector.detect(tb, path: path, scratch: scratch).filter { f in
                    f.kind.holdsSecret && String(decoding: decoded, as: UTF8.self).contains(f.secret)
                }
                if depth < maxDepth {
                    let inner = UnsafeRawBufferPointer(rebasing: tb[decodedRange])
                    found += findings(inner, path: path, detector: detector, scratch: scratch, depth: depth + 1,
                                      chain: encoding)
                }
                for var f in found {
                    // An inner decoding's finding has its own encoding chain but the position of the run inside
                    // the decoded text: the run in the file is where it is.
                    if f.encoding == nil { f.encoding = encoding }
                    f.line = line
                    f.endLine = line
                    f.column = column
                    f.endColumn = endColumn
                    f.encodedValue = encoded  // the outermost run: what the file holds
                    f.byteOffset = nil  // a position in the decoded text, not in the file
                    out.append(f)
                }
            }
        }
        return out
    }

    /// Bytes that make up a run: base64 (both alphabets), hex and percent-encoding.
    static let runByte: [Bool] = (0..<256).map { b in
        (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a)
            || b == 0x2b || b == 0x2f || b == 0x5f || b == 0x25 || b == 0x2d
    }

    /// Each run in `buf` (what `(?<![A-Za-z0-9+/_%-])[A-Za-z0-9+/_%-]{16,8192}+={0,2}(?![A-Za-z0-9+/=_%-])` matches: a maximal stretch of run bytes of 16 to 8,192, with up to two
    /// `=` after it and no run byte or `=` after those), in one pass of table lookups.
    static func runs(_ buf: UnsafeRawBufferPointer, _ body: (Range<Int>) -> Void) {
        runByte.withUnsafeBufferPointer { table in
            let n = buf.count
            var i = 0
            while i < n {
                guard table[Int(buf[i])] else { i += 1; continue }
                let start = i
                while i < n && table[Int(buf[i])] { i += 1 }
                let length = i - start
                var end = i
                while end < n && end - i < 2 && buf[end] == 0x3d { end += 1 }
                if length >= minRun && length <= maxRun && (end >= n || (!table[Int(buf[end])] && buf[end] != 0x3d)) {
                    body(start..<end)
                }
                i = max(i, end)
            }
        }
    }

    /// The decoding of a run, when it is text (printable ASCII, tabs and newlines) of at least 8 bytes. Most
    /// runs are identifiers or paths, whose decoding stops being text within a few bytes: decoding stops there.
    static func decode(_ run: UnsafeRawBufferPointer) -> ([UInt8], String)? {
        if memchr(run.baseAddress!, 0x25, run.count) != nil {
            let bytes = Array(run)
            guard let d = percent(bytes), d.count >= 8, isText(d) else { return nil }
            return (d, "percent")
        }
        if run.count >= 32, run.count % 2 == 0, run.allSatisfy(isHex) {
            guard let d = hex(Array(run)), isText(d) else { return nil }
            return (d, "hex")
        }
        var count = run.count
        while count > 0 && run[count - 1] == UInt8(ascii: "=") { count -= 1 }
        guard let d = base64(UnsafeRawBufferPointer(rebasing: run[0..<count])), d.count >= 8 else { return nil }
        return (d, "base64")
    }

    static func isHex(_ b: UInt8) -> Bool { (b >= 0x30 && b <= 0x39) || (b >= 0x61 && b <= 0x66) || (b >= 0x41 && b <= 0x46) }

    static func isText(_ d: [UInt8]) -> Bool {
        d.allSatisfy { ($0 >= 0x20 && $0 < 0x7f) || $0 == 0x09 || $0 == 0x0a || $0 == 0x0d }
    }

    static func hexValue(_ b: UInt8) -> UInt8 {
        b <= 0x39 ? b - 0x30 : (b | 0x20) - 0x61 + 10
    }

    static func hex(_ s: [UInt8]) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(s.count / 2)
        var i = 0
        while i + 1 < s.count { out.append(hexValue(s[i]) << 4 | hexValue(s[i + 1])); i += 2 }
        return out
    }

    static func percent(_ s: [UInt8]) -> [UInt8]? {
        var out: [UInt8] = []
        var escapes = 0
        var i = 0
        while i < s.count {
            if s[i] == UInt8(ascii: "%") {
                guard i + 2 < s.count, isHex(s[i + 1]), isHex(s[i + 2]) else { return nil }
                out.append(hexValue(s[i + 1]) << 4 | hexValue(s[i + 2]))
                escapes += 1
                i += 3
            } else {
                out.append(s[i])
                i += 1
            }
        }
        return escapes >= 2 ? out : nil
    }

    /// Standard or URL-safe base64 without padding, when it decodes to text; nil for a length no encoder
    /// produces or at the first byte that is not text.
    static func base64(_ s: UnsafeRawBufferPointer) -> [UInt8]? {
        guard s.count % 4 != 1 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(s.count * 3 / 4)
        var acc: UInt32 = 0, bits = 0
        for c in s {
            let v: UInt32
            switch c {
            case 0x41...0x5a: v = UInt32(c - 0x41)
            case 0x61...0x7a: v = UInt32(c - 0x61 + 26)
            case 0x30...0x39: v = UInt32(c - 0x30 + 52)
            case UInt8(ascii: "+"), UInt8(ascii: "-"): v = 62
            case UInt8(ascii: "/"), UInt8(ascii: "_"): v = 63
            default: return nil
            }
            acc = acc << 6 | v
            bits += 6
            if bits >= 8 {
                bits -= 8
                let b = UInt8((acc >> UInt32(bits)) & 0xff)
                guard (b >= 0x20 && b < 0x7f) || b == 0x09 || b == 0x0a || b == 0x0d else { return nil }
                out.append(b)
            }
        }
        return out
    }
}

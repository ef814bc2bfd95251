/// How much of a caller's input one audit record keeps. Every field is bounded, so no caller can grow a record
/// past a few hundred bytes; a field that was longer ends with a marker naming its original size.
public enum AuditField {
    /// The most bytes (UTF-8) any one field holds, marker included.
    public static let maxBytes = 512
    /// Tighter caps for fields that are short by nature.
    package static let timeBytes = 64
    package static let operationBytes = 64
    package static let versionBytes = 64
    package static let resultBytes = 64
    package static let sourceBytes = 128
    /// A secret name Azure Key Vault would reject is kept in its printable form, up to this many bytes.
    package static let invalidNameBytes = 256
    /// An aggregate's list of names: up to ``FailedAttempts/maxDistinct`` names in their trail form, as a JSON
    /// array (JSON escaping can at most double a name), so a full list always fits.
    package static let nameListBytes = 4608

    /// `text` if it fits in `max` bytes; otherwise its longest prefix (whole characters) that fits together with
    /// `…[truncated, N bytes]`, N being the original size.
    public static func capped(_ text: String, max: Int) -> String {
        let size = text.utf8.count
        guard size > max else { return text }
        let marker = "…[truncated, \(size) bytes]"
        let budget = Swift.max(0, max - marker.utf8.count)
        var kept = 0
        var end = text.startIndex
        for c in text {
            let n = c.utf8.count
            if kept + n > budget { break }
            kept += n
            end = text.index(after: end)
        }
        return String(text[..<end]) + marker
    }

    /// `text` with every byte outside printable ASCII (controls, space, DEL, `%`, anything not ASCII) written as
    /// `%XX`, then capped at `max` bytes (the marker gives the original size). Untrusted identities and names
    /// Azure would reject are kept this way: readable on a terminal, unambiguous, bounded.
    public static func printable(_ text: String, max: Int) -> String {
        let marker = "…[truncated, \(text.utf8.count) bytes]"
        let budget = Swift.max(0, max - marker.utf8.count)
        let hex = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        var fits = 0  // bytes of `out`, at a whole escape, that leave room for the marker
        for b in text.utf8 {
            if b > 0x20, b < 0x7f, b != UInt8(ascii: "%") {
                out.append(b)
            } else {
                out += [UInt8(ascii: "%"), hex[Int(b >> 4)], hex[Int(b & 0xf)]]
            }
            if out.count <= budget { fits = out.count }
            if out.count > max { return String(decoding: out[..<fits], as: UTF8.self) + marker }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// How the trail keeps an identity a caller claimed but did not prove (a token request's `client_id` or
    /// `username`, an unverified token's `oid`): a client or object id (a GUID) as it is, a name the directory
    /// knows (`isKnown`) in printable form, anything else only as `(unrecognised identity, N bytes)`. A caller
    /// who puts a client secret or a password in the identity field must not have it written to the trail.
    public static func claimedIdentity(_ text: String, isKnown: (String) -> Bool = { _ in false }) -> String {
        if isGUID(text) { return text.lowercased() }
        if text.utf8.count <= 128, isKnown(text) { return printable(text, max: 256) }
        return "(unrecognised identity, \(text.utf8.count) bytes)"
    }

    /// 8-4-4-4-12 hex digits.
    package static func isGUID(_ text: String) -> Bool {
        let groups = text.split(separator: "-", omittingEmptySubsequences: false)
        return groups.map(\.utf8.count) == [8, 4, 4, 4, 12]
            && groups.allSatisfy { $0.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x41...0x46).contains($0 & 0xdf) } }
    }

    /// How the trail keeps a secret name: a valid name as it is, anything else in its bounded printable form.
    package static func secretName(_ name: String) -> String {
        SecretName.isValid(name) ? name : printable(name, max: invalidNameBytes)
    }
}

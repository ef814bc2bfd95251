import Testing
@testable import ArcaRegex

@Suite struct RegexTests {
    @Test func namedGroupAndMatch() throws {
        let re = try Regex(#"key=(?<secret>[a-z0-9]{8})\b"#)
        #expect(re.groupNumber(named: "secret") == 1)
        #expect(re.groupNumber(named: "nope") == nil)
        #expect(re.firstMatch(in: "x key=abcd1234 y", group: 1) == "abcd1234")
        #expect(re.firstMatch(in: "x key=abcd12 y", group: 1) == nil)
    }

    @Test func compileErrorNamesOffset() {
        #expect(throws: RegexError.self) { try Regex("a(b") }
        do { _ = try Regex("ab[") } catch { #expect(error.offset == 3); #expect(!error.message.isEmpty) }
    }

    @Test func invalidUTF8IsJustBytes() throws {
        let re = try Regex("tok_[0-9]{4}")
        let m = Matcher()
        let bytes: [UInt8] = [0xff, 0xfe, 0xc3] + Array("tok_1234".utf8) + [0x80]
        bytes.withUnsafeBytes { buf in
            guard case .match(let r) = m.match(re, in: buf, from: 0, to: buf.count) else {
                Issue.record("expected a match"); return
            }
            #expect(r.whole == 3..<11)
        }
    }

    @Test func catastrophicBacktrackingHitsTheLimit() throws {
        let re = try Regex("^(a+)+$")
        let m = Matcher(limits: MatchLimits(matchLimit: 10_000, depthLimit: 1_000, jitStackMax: 64 * 1024))
        let text = Array(String(repeating: "a", count: 40).utf8) + [UInt8(ascii: "!")]
        text.withUnsafeBytes { buf in
            guard case .limitExceeded = m.match(re, in: buf, from: 0, to: buf.count) else {
                Issue.record("expected the match limit to stop the pattern"); return
            }
        }
    }

    @Test func endBoundIsRespected() throws {
        let re = try Regex("secret")
        let m = Matcher()
        Array("xx secret".utf8).withUnsafeBytes { buf in
            if case .match = m.match(re, in: buf, from: 0, to: 6) { Issue.record("matched past the end bound") }
            var count = 0, hit = false
            m.allMatches(re, in: buf, from: 0, to: buf.count, limitHit: &hit) { _ in count += 1 }
            #expect(count == 1)
        }
    }
}

import Foundation
import Testing
@testable import ArcaVault

/// The reproductions as they stood, with today's API only (kept until the fixes land).
@Suite struct AuditReproTests {
    @Test func nulInAFieldKeepsTheTrailVerifiable() async throws {
        let (vault, _, _) = try TestVault.make()
        try vault.auditAttempt(operation: "SecretGet", claimedCaller: "anonymous", secretName: "x\u{0}y", result: "Unauthorized",
                               source: "127.0.0.1")
        let problem = try vault.verifyAudit(publicKey: nil).problem
        #expect(problem == nil, "\(problem.map(String.init(describing:)) ?? "")")
    }

    @Test func hugeNameIsNotStoredWhole() async throws {
        let (vault, _, _) = try TestVault.make()
        try vault.auditAttempt(operation: "SecretGet", claimedCaller: "anonymous", secretName: String(repeating: "a", count: 60_000),
                               result: "Unauthorized", source: "127.0.0.1")
        let stored = try vault.store.read { try AuditLog.all($0).0 }
        #expect(stored.allSatisfy { ($0.secretName ?? "").utf8.count <= 1024 }, "\(stored.map { ($0.secretName ?? "").utf8.count })")
    }

    @Test func unauthenticatedAttemptsDoNotEachWriteARecord() async throws {
        let (vault, _, _) = try TestVault.make()
        let before = try vault.store.read { try AuditLog.all($0).0.count }
        for _ in 0..<200 {
            try vault.auditAttempt(operation: "SecretGet", claimedCaller: "anonymous", result: "Unauthorized", source: "192.0.2.7")
        }
        let after = try vault.store.read { try AuditLog.all($0).0.count }
        #expect(after - before <= 2, "\(after - before) records for 200 attempts")
    }
}

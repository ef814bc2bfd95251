import Foundation
import Testing
@testable import ArcaRules
@testable import ArcaScan

/// Noise on real code nobody here wrote, reachable offline: the Python standard library and its tests, and the
/// Swift package checkouts this build fetched. Nearly everything the scan reports there is real key material
/// that test suites carry (PEM test keys, base64 DER keys, sample JWTs); the heuristic rules' hits have a
/// ceiling, so a rule change that brings noise back fails here.
@Suite struct NoiseTests {
    static func heuristic(_ f: Finding) -> Bool {
        f.kind == .secret && !f.ruleID.hasPrefix("private-key-") && !f.ruleID.hasSuffix("-keystore") && f.ruleID != "jwt"
            && !(f.ruleID == "generic-api-key" && (f.variable ?? "").lowercased().contains("privatekey"))
    }

    static let pythonStdlib: String? = {
        let r = try? Fixtures.run("/usr/bin/env", ["python3", "-c", "import sysconfig; print(sysconfig.get_paths()['stdlib'])"])
        let path = r?.out.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        return path.isEmpty || !FileManager.default.fileExists(atPath: path + "/os.py") ? nil : path
    }()

    @Test func pythonStandardLibrary() throws {
        let root = try #require(Self.pythonStdlib, "python3's standard library is not on this machine")
        let r = try Scanner(rules: Fixtures.rules).scan(root: root)
        let noisy = r.findings.filter(Self.heuristic)
        #expect(r.filesScanned > 1000)
        #expect(noisy.count <= 4, "\(noisy.map { "\($0.ruleID) \($0.path):\($0.line)" })")
        #expect(r.findings.filter { $0.kind == .secret }.count <= 30)
    }

    @Test func swiftPackageCheckouts() throws {
        let root = Fixtures.repoRoot.appendingPathComponent(".build/checkouts").path
        try #require(FileManager.default.fileExists(atPath: root), "no .build/checkouts: build the package first")
        let r = try Scanner(rules: Fixtures.rules).scan(root: root)
        let noisy = r.findings.filter(Self.heuristic)
        #expect(r.filesScanned > 5000)
        #expect(noisy.count <= 15, "\(noisy.map { "\($0.ruleID) \($0.path):\($0.line)" })")
    }
}

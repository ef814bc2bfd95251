import ArcaRules
import ArcaScan
import Foundation
import Testing
@testable import ArcaMigrate

/// The planner's cases that break naive edits, one file at a time (expected text written out literally).
@Suite struct PlannerTests {
    static let stripe = "sk_live_51Hq2vKj4Lm8Np0Rs3Tu6Vw9Xy1Za4Bc7De0Fg3Hi6Jk9Lm2No5Pq8Rs1Tu4Vw7"

    static func plan(_ files: [String: String], env: [String: String]? = nil) throws -> (Plan, String) {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("arca-plan-\(UUID().uuidString)").path
        for (rel, text) in files {
            let path = root + "/" + rel
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try text.write(toFile: path, atomically: true, encoding: .utf8)
        }
        var options = ScanOptions()
        options.detect.envUsage = env == nil ? .none : .credentials
        let findings = try Scanner(rules: try RuleSet.load(builtin: true, extraDirectories: []), options: options).scan(root: root).findings
        return (Planner(root: root).plan(findings, env: env), root)
    }

    static func new(_ plan: Plan, _ path: String) -> String? { plan.files.first { $0.path == path }?.new }

    /// Outsider pass: a bare secret in an unquoted here-document got double quotes, which the document prints.
    @Test func aSecretInAHereDocumentGetsNoQuotes() throws {
        let slack = "xoxb-2094857301-4839201746-Qm8ZpL2vRt6XnW4kYc1Bs9Ud"
        let (plan, _) = try Self.plan(["c.sh": "#!/bin/bash\ncat <<EOT\nE heredoc \(slack)\nEOT\n"])
        let text = try #require(Self.new(plan, "c.sh"))
        #expect(text.contains("E heredoc ${_arca_") && !text.contains("E heredoc \"${_arca_"), "\(text)")
        #expect(text.contains("=\"$(arca_secret ") && text.contains("|| exit 1"))
    }

    /// A password hash and a member of an archive are named skips, never rewritten nor silently dropped.
    @Test func passwordHashesAndArchiveMembersAreNamedSkips() throws {
        let (plan, _) = try Self.plan([
            "etc/htpasswd": "ops:$2y$10$3IhnZtPr8ZdhMPQ94gjG6gfL3IVQa5Rtm9fzIoDWW9it3XHp1HZRU\n",
        ])
        #expect(plan.files.isEmpty)
        #expect(plan.skipped.contains { $0.path == "etc/htpasswd" && $0.reason.contains("password hash") }, "\(plan.skipped)")
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("arca-plan-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let zip = Process()
        zip.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        zip.arguments = ["python3", "-c", "import zipfile; zipfile.ZipFile('a.zip', 'w').writestr('c.py', 'KEY = \"\(Self.stripe)\"\\n')"]
        zip.currentDirectoryURL = URL(fileURLWithPath: root)
        try zip.run()
        zip.waitUntilExit()
        let findings = try Scanner(rules: try RuleSet.load(builtin: true, extraDirectories: [])).scan(root: root).findings
        #expect(findings.contains { $0.path == "a.zip!c.py" })
        let p = Planner(root: root).plan(findings)
        #expect(p.files.isEmpty)
        #expect(p.skipped.contains { $0.path == "a.zip!c.py" && $0.reason.contains("inside the archive a.zip") }, "\(p.skipped)")
    }

    @Test func pythonTripleQuotedAndRepeatedValues() throws {
        let (plan, _) = try Self.plan(["a.py": """
            STRIPE_KEY = \"\"\"\(Self.stripe)\"\"\"
            OTHER = STRIPE_KEY
            again = "\(Self.stripe)"

            """])
        #expect(Self.new(plan, "a.py") == """
            try:
                from .arca_vault import secret as arca_secret
            except ImportError:
                from arca_vault import secret as arca_secret
            STRIPE_KEY = arca_secret("stripe-key")
            OTHER = STRIPE_KEY
            again = arca_secret("stripe-key")

            """)
        #expect(plan.secrets.map(\.name) == ["stripe-key"] && plan.secrets[0].uses.count == 2)
    }

    @Test func aSecretInACommentIsSkippedWithAReason() throws {
        let (plan, _) = try Self.plan(["b.py": "# old key: \(Self.stripe)\nx = 1\n"])
        #expect(plan.files.isEmpty)
        #expect(plan.skipped.first?.reason.contains("not inside a string literal") == true)
    }

    /// The first use (by path) names a value; with no assignment to name it, the rule does.
    @Test func javascriptConcatenationAndShellBareWords() throws {
        let (plan, _) = try Self.plan([
            "c.js": "const header = \"Bearer \" + \"\(Self.stripe)\";\n",
            "d.sh": "#!/bin/sh\nexport STRIPE_KEY=\(Self.stripe)\ncurl -u \"$STRIPE_KEY:\" https://api.stripe.com\n",
        ])
        #expect(Self.new(plan, "c.js") == "const arcaSecret = require(\"./arca-vault.cjs\").secret;\nconst header = \"Bearer \" + arcaSecret(\"stripe-live-secret-key\");\n")
        // `export` would hide a failed lookup: assign, stop on failure, then export.
        #expect(Self.new(plan, "d.sh") == "#!/bin/sh\n. \"$(dirname \"${BASH_SOURCE:-$0}\")/arca-vault.sh\"\nSTRIPE_KEY=\"$(arca_secret stripe-live-secret-key)\" || exit 1; export STRIPE_KEY\ncurl -u \"$STRIPE_KEY:\" https://api.stripe.com\n")
    }

    @Test func collidingNamesGetSuffixesAndEnvReadsNeedAValue() throws {
        let (plan, _) = try Self.plan([
            "a/settings.py": "DB_PASSWORD = \"Tr0ub4dor&3xQ9z\"\n",
            "b/settings.py": "DB_PASSWORD = \"hG7kq2Lm9xQ4zR\"\nimport os\nTOKEN = os.environ[\"API_TOKEN\"]\n",
        ], env: [:])
        #expect(plan.secrets.map(\.name) == ["db-password", "db-password-2"])
        #expect(plan.skipped.contains { $0.reason.contains("no value for API_TOKEN") })
    }

    @Test func configurationValuesBecomeReferences() throws {
        let (plan, _) = try Self.plan([
            "config/application.yml": "spring:\n  datasource:\n    password: Kq8!vR2mZp7w\n",
            "app.properties": "db.password=aW9s!2kLmQ8z\n",
        ])
        #expect(Self.new(plan, "config/application.yml") == "spring:\n  datasource:\n    password: \"@Microsoft.KeyVault(SecretName=spring-datasource-password)\"\n")
        #expect(Self.new(plan, "app.properties") == "db.password=@Microsoft.KeyVault(SecretName=db-password)\n")
        #expect(plan.helpers.isEmpty)
    }

    @Test func namesAreValidForTheVault() {
        #expect(Naming.secretName("DB_PASSWORD", fallback: "x") == "db-password")
        #expect(Naming.secretName("stripeApiKey", fallback: "x") == "stripe-api-key")
        #expect(Naming.secretName("self.client_secret", fallback: "x") == "client-secret")
        #expect(Naming.secretName("$", fallback: "github-pat") == "github-pat")
        #expect(Naming.secretName(String(repeating: "a", count: 300), fallback: "x").count == 127)
    }

    @Test func keyVaultReferences() {
        #expect(KeyVaultReference.parse("@Microsoft.KeyVault(SecretName=db-password)")! == ("db-password", nil))
        #expect(KeyVaultReference.parse("@Microsoft.KeyVault(VaultName=v;SecretName=db;SecretVersion=abc)")! == ("db", "abc"))
        #expect(KeyVaultReference.parse("@Microsoft.KeyVault(SecretUri=https://v.vault.azure.net/secrets/db/)")! == ("db", nil))
        #expect(KeyVaultReference.parse("@Microsoft.KeyVault(Nothing=1)") == nil)
        #expect(KeyVaultReference.parse("plain value") == nil)
    }

    @Test func unifiedDiffHunks() {
        let old = (1...20).map { "line \($0)\n" }.joined()
        let new = old.replacingOccurrences(of: "line 3\n", with: "line three\n").replacingOccurrences(of: "line 18\n", with: "")
        #expect(UnifiedDiff.make(old: old, new: new, path: "f") == """
            --- a/f
            +++ b/f
            @@ -1,6 +1,6 @@
             line 1
             line 2
            -line 3
            +line three
             line 4
             line 5
             line 6
            @@ -15,6 +15,5 @@
             line 15
             line 16
             line 17
            -line 18
             line 19
             line 20

            """)
        #expect(UnifiedDiff.make(old: old, new: old, path: "f").isEmpty)
    }

    @Test func embeddedHelpersMatchTheFolder() throws {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Sources/ArcaMigrate/helpers").standardized.path
        let files = try FileManager.default.subpathsOfDirectory(atPath: folder).filter { !$0.hasSuffix("azure-sdk") }.sorted()
        #expect(files == EmbeddedHelpers.files.keys.sorted(), "run scripts/embed-helpers.py")
        for f in files {
            let text = try String(contentsOfFile: folder + "/" + f, encoding: .utf8)
            #expect(EmbeddedHelpers.files[f] == String(text.dropLast(text.hasSuffix("\n") ? 1 : 0)), "\(f): run scripts/embed-helpers.py")
        }
        #expect(Set(Languages.all.map(\.helperFile).filter { !$0.isEmpty }).isSubset(of: Set(files)))
    }

    @Test func azureSDKStyleUsesTheOfficialSDKWhereOneExists() throws {
        let files = ["a.py": "DB_PASSWORD = \"Tr0ub4dor&3xQ9z\"\n", "b.js": "const dbPassword = \"Tr0ub4dor&3xQ9z\";\n",
                     "C.java": "class C { static final String DB_PASSWORD = \"Tr0ub4dor&3xQ9z\"; }\n",
                     "d.swift": "let dbPassword = \"Tr0ub4dor&3xQ9z\"\n"]
        let (arca, root) = try Self.plan(files)
        var options = ScanOptions()
        options.detect.envUsage = .none
        let findings = try Scanner(rules: try RuleSet.load(builtin: true, extraDirectories: []), options: options).scan(root: root).findings
        let sdk = Planner(root: root, style: .azureSDK).plan(findings)
        // The call sites are the same; the helpers differ.
        #expect(sdk.files.map(\.new) == arca.files.map(\.new))
        let helper = { (plan: Plan, path: String) in plan.helpers.first { $0.path == path }?.content ?? "" }
        #expect(helper(sdk, "arca_vault.py").contains("from azure.keyvault.secrets import SecretClient"))
        #expect(helper(sdk, "arca-vault.cjs").contains("require(\"@azure/keyvault-secrets\")"))
        #expect(helper(sdk, "ArcaVault.java").contains("new SecretClientBuilder()"))
        #expect(helper(sdk, "ArcaVault.swift") == helper(arca, "ArcaVault.swift"))
        #expect(sdk.skipped.contains { $0.path == "ArcaVault.swift" && $0.reason.contains("no official Azure SDK") })
        // The Python helper imports with the real SDK installed (the test venv has it).
        let python = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../.build/test-venv/bin/python").standardized.path
        if FileManager.default.isExecutableFile(atPath: python) {
            let dir = root + "/sdk"
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            try helper(sdk, "arca_vault.py").write(toFile: dir + "/arca_vault.py", atomically: true, encoding: .utf8)
            let p = Process()
            p.executableURL = URL(fileURLWithPath: python)
            p.arguments = ["-c", "import arca_vault, os; os.environ.pop('AZURE_KEYVAULT_URL', None); os.environ.pop('ARCA_VAULT_URL', None)\ntry:\n    arca_vault.secret('x')\nexcept arca_vault.VaultError as e:\n    print(e)"]
            p.currentDirectoryURL = URL(fileURLWithPath: dir)
            let out = Pipe()
            p.standardOutput = out
            try p.run()
            p.waitUntilExit()
            #expect(p.terminationStatus == 0)
            #expect(String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).contains("AZURE_KEYVAULT_URL is not set"))
        }
    }

    /// A migration killed after writing its pending copies and helpers but before its record is dropped.
    @Test func recoveryDropsAMigrationKilledBeforeItsRecord() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("arca-recover-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: root + "/.arca-migrate", withIntermediateDirectories: true)
        try "old\n".write(toFile: root + "/a.py", atomically: true, encoding: .utf8)
        try "new\n".write(toFile: root + "/a.py.arca-new", atomically: true, encoding: .utf8)
        try "helper\n".write(toFile: root + "/arca_vault.py", atomically: true, encoding: .utf8)
        try "file a.py\nhelper arca_vault.py".write(toFile: root + "/.arca-migrate/pending", atomically: true, encoding: .utf8)
        let migration = Migration(root: root)
        #expect(try migration.recover()?.contains("dropped 2") == true)
        #expect(try String(contentsOfFile: root + "/a.py", encoding: .utf8) == "old\n")
        #expect(!FileManager.default.fileExists(atPath: root + "/a.py.arca-new"))
        #expect(!FileManager.default.fileExists(atPath: root + "/arca_vault.py"))
        #expect(try migration.recover() == nil)
    }
}

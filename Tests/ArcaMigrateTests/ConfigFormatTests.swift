import Foundation
import Testing
@testable import ArcaMigrate

/// Configuration files end in a form their runtime resolves (issue 14): Compose and its `.env` get `${VAR:?…}` /
/// an empty value with the references in `arca.env`, Kubernetes env entries a `secretKeyRef`, Helm values a named
/// skip; and the report says how to start the program.
@Suite struct ConfigFormatTests {
    static let password = "Zq7vR2mXpW4kT9sLb3"

    @Test func composeEnvironmentBecomesARequiredVariableWithItsReferenceInArcaEnv() throws {
        let (plan, _) = try PlannerTests.plan([
            "deploy/docker-compose.yml": """
                services:
                  db:
                    image: postgres:16
                    environment:
                      POSTGRES_PASSWORD: "\(Self.password)"
                      POSTGRES_USER: app

                """,
        ])
        let compose = try #require(PlannerTests.new(plan, "deploy/docker-compose.yml"))
        #expect(compose.contains(#"POSTGRES_PASSWORD: "${POSTGRES_PASSWORD:?start with: arca run --env-file arca.env -- docker compose up}""#), "\(compose)")
        #expect(!compose.contains("@Microsoft.KeyVault") && !compose.contains(Self.password))
        let refs = try #require(plan.helpers.first { $0.path == "deploy/arca.env" })
        #expect(refs.content.contains("POSTGRES_PASSWORD=@Microsoft.KeyVault(SecretName=db-postgres-password)"), "\(refs.content)")
        #expect(plan.start.contains { $0.contains("arca run --env-file arca.env -- docker compose up") }, "\(plan.start)")
    }

    @Test func theDotenvComposeReadsIsEmptiedAndItsReferenceMoves() throws {
        let (plan, _) = try PlannerTests.plan([
            "compose.yaml": "services:\n  db:\n    image: postgres\n    environment:\n      POSTGRES_PASSWORD: ${POSTGRES_PASSWORD}\n",
            ".env": "POSTGRES_PASSWORD=\(Self.password)\nPOSTGRES_DB=app\n",
        ])
        #expect(PlannerTests.new(plan, ".env") == "POSTGRES_PASSWORD=\nPOSTGRES_DB=app\n")
        let refs = try #require(plan.helpers.first { $0.path == "arca.env" })
        #expect(refs.content.contains("POSTGRES_PASSWORD=@Microsoft.KeyVault(SecretName=postgres-password)"), "\(refs.content)")
    }

    @Test func kubernetesEnvValuesBecomeSecretKeyRefs() throws {
        let (plan, _) = try PlannerTests.plan([
            "k8s/deploy.yaml": """
                apiVersion: apps/v1
                kind: Deployment
                spec:
                  template:
                    spec:
                      containers:
                        - name: api
                          env:
                            - name: DB_PASSWORD
                              value: "\(Self.password)"

                """,
        ])
        let manifest = try #require(PlannerTests.new(plan, "k8s/deploy.yaml"))
        #expect(manifest.contains("      valueFrom: {secretKeyRef: {name: arca-secrets, key: "), "\(manifest)")
        #expect(!manifest.contains("value: ") && !manifest.contains(Self.password))
        #expect(plan.start.contains { $0.contains("kubectl create secret generic arca-secrets --from-file=") }, "\(plan.start)")
        // The rollback's reverse edit gives back the `value:` line.
        let file = try #require(plan.files.first)
        #expect(file.reverse.contains { $0.parts.contains(.text("value: ")) || $0.parts.first == .text("value: \"") }, "\(file.reverse)")
    }

    @Test func helmValuesAreANamedSkip() throws {
        let (plan, _) = try PlannerTests.plan([
            "chart/Chart.yaml": "apiVersion: v2\nname: api\nversion: 0.1.0\n",
            "chart/values.yaml": "db:\n  password: \"\(Self.password)\"\n",
        ])
        #expect(PlannerTests.new(plan, "chart/values.yaml") == nil)
        #expect(plan.skipped.contains { $0.path == "chart/values.yaml" && $0.reason.contains("Helm values") }, "\(plan.skipped.map(\.reason))")
    }

    @Test func aPlainYamlOrDotenvKeepsTheReferenceArcaRunResolves() throws {
        let (plan, _) = try PlannerTests.plan([".env": "DB_PASSWORD=\(Self.password)\n"])
        #expect(PlannerTests.new(plan, ".env") == "DB_PASSWORD=@Microsoft.KeyVault(SecretName=db-password)\n")
        #expect(plan.start == [".env: arca run --env-file .env -- COMMAND"])
    }

    @Test func typedDeclarationsAreNamedByTheirVariable() throws {
        let (plan, _) = try PlannerTests.plan([
            "a.kt": "object Config {\n    val apiToken: String = \"\(Self.password)\"\n}\n",
            "b.go": "package main\n\nvar dbPassword string = \"\(Self.password)x\"\n",
        ])
        #expect(Set(plan.secrets.map(\.name)) == ["api-token", "db-password"], "\(plan.secrets.map(\.name))")
    }

    /// Outsider pass: a `.env` that Compose passes into a container (`env_file:`) cannot be emptied or referenced:
    /// no environment overrides it. A named skip.
    @Test func aDotenvPassedByEnvFileIsANamedSkip() throws {
        let (plan, _) = try PlannerTests.plan([
            "compose.yaml": "services:\n  mail:\n    image: mailer\n    env_file: .env\n",
            ".env": "SMTP_PASSWORD=\(Self.password)\n",
        ])
        #expect(PlannerTests.new(plan, ".env") == nil)
        #expect(plan.skipped.contains { $0.path == ".env" && $0.reason.contains("env_file") }, "\(plan.skipped.map(\.reason))")
    }
}

/// The planner locates each secret by the scan's byte offset (issue 14: no second search of the file).
@Suite struct PlannerOffsetTests {
    @Test func aSecretAfterMultiByteTextIsReplacedExactly() throws {
        let (plan, _) = try PlannerTests.plan(["é.py": "note = \"naïve café — 日本\"; DB_PASSWORD = \"\(ConfigFormatTests.password)\"  # ✓\n"])
        #expect(PlannerTests.new(plan, "é.py")?.hasSuffix("note = \"naïve café — 日本\"; DB_PASSWORD = arca_secret(\"db-password\")  # ✓\n") == true,
                "\(PlannerTests.new(plan, "é.py") ?? "nil")")
    }
}

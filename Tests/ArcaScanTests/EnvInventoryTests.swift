import Foundation
import Testing
@testable import ArcaRules
@testable import ArcaScan

/// The env-usage inventory: every place a project reads (or documents) a credential from the environment, in
/// the forms real projects use — written from each tool's documentation (Spring's property placeholders,
/// compose interpolation, GitHub Actions' `secrets` context, Terraform's `TF_VAR_` variables, JavaScript
/// destructuring) — and none of the names that only look like one.
@Suite struct EnvInventoryTests {
    static let files: [String: String] = [
        ".env.example": "DATABASE_PASSWORD=changeme\nSTRIPE_API_KEY=\nLOG_LEVEL=info\n",
        ".env.sample": "SESSION_SECRET=<generate one>\n",
        "src/app.js": "const { STRIPE_SECRET_KEY, DB_PASSWORD: dbPass, PORT = 3000 } = process.env;\n",
        "src/config.ts": "const {\n  GITHUB_TOKEN,\n  SENTRY_DSN = \"\",\n} = process.env;\n",
        "src/main/resources/application.yml": "spring:\n  datasource:\n    password: ${DB_PASSWORD}\n    username: ${DB_USER:app}\n  mail:\n    password: ${SMTP_PASSWORD:}\n",
        "src/main/resources/application.properties": "spring.datasource.password=${JDBC_PASSWORD}\napi.key=${PAYMENT_API_KEY:none}\nserver.port=${PORT:8080}\n",
        "src/main/java/Config.java": "class Config {\n  @Value(\"${MAILGUN_API_KEY}\") String key;\n  @Value(\"${server.port:8080}\") int port;\n}\n",
        "config/settings.json": "{\"token\": \"${env:SLACK_BOT_TOKEN}\", \"host\": \"${HOST}\"}\n",
        "docker-compose.yml": "services:\n  db:\n    environment:\n      POSTGRES_PASSWORD: ${PG_PASS:?set it}\n",
        "deploy/k8s.yaml": "env:\n  - name: REDIS_URL\n    value: redis://:${REDIS_PASSWORD}@redis:6379\n",
        ".github/workflows/ci.yml": "jobs:\n  build:\n    steps:\n      - run: npm publish\n        env:\n          NODE_AUTH_TOKEN: ${{ secrets.NPM_TOKEN }}\n          REGION: ${{ vars.AWS_REGION }}\n",
        "infra/variables.tf": "variable \"db_password\" {\n  type      = string\n  sensitive = true\n}\nvariable \"region\" {}\n",
        "scripts/run.sh": "#!/bin/sh\nAPI_TOKEN=$(cat /run/secrets/token)\necho \"$PWD $OLDPWD\"\nDEPLOY_TOKEN=\"${DEPLOY_TOKEN:-}\"\ncurl -H \"Authorization: $API_TOKEN\" -H \"X: $JWT_FUZZ_DEEP\" -u \"$SERVICE_PASSWORD\" -H \"$DEPLOY_TOKEN\" x\nfor SECRET_FILE in a b; do echo $SECRET_FILE; done\nread -r ADMIN_PASSWORD\necho $ADMIN_PASSWORD\n",
    ]

    static let expected: Set<String> = [
        "DATABASE_PASSWORD", "STRIPE_API_KEY", "SESSION_SECRET", "STRIPE_SECRET_KEY", "DB_PASSWORD", "GITHUB_TOKEN",
        "SENTRY_DSN", "SMTP_PASSWORD", "JDBC_PASSWORD", "PAYMENT_API_KEY", "MAILGUN_API_KEY", "SLACK_BOT_TOKEN",
        "PG_PASS", "REDIS_PASSWORD", "NPM_TOKEN", "TF_VAR_db_password", "SERVICE_PASSWORD", "DEPLOY_TOKEN",
        "NODE_AUTH_TOKEN", "POSTGRES_PASSWORD",
    ]

    @Test func everyFormReadsItsCredentialsAndNothingElse() throws {
        let tree = TempTree()
        for (path, text) in Self.files { tree.write(path, text) }
        let result = try Fixtures.scan(tree)
        let names = Set(result.findings.filter { $0.kind == .envUsage }.map(\.secret))
        #expect(Self.expected.subtracting(names).isEmpty, "missed: \(Self.expected.subtracting(names).sorted())")
        // Not credentials, or not read from the environment: the shell's own variables, a script's own
        // assignments (`API_TOKEN=$(…)`, `read`, `for`), names where the credential word is not the last part.
        let noise: Set<String> = ["PWD", "OLDPWD", "API_TOKEN", "JWT_FUZZ_DEEP", "SECRET_FILE", "ADMIN_PASSWORD",
                                  "LOG_LEVEL", "PORT", "DB_USER", "HOST", "AWS_REGION", "TF_VAR_region", "REDIS_URL"]
        #expect(names.intersection(noise).isEmpty, "noise: \(names.intersection(noise).sorted())")
        #expect(result.findings.allSatisfy { $0.kind == .envUsage }, "\(result.findings.filter { $0.kind != .envUsage }.map(\.ruleID))")
    }

    @Test(arguments: [
        ("DB_PASSWORD", true), ("STRIPE_SECRET_KEY_LIVE", true), ("GITHUB_TOKEN_2", true), ("SECRET_KEY_BASE", true),
        ("GOOGLE_APPLICATION_CREDENTIALS", true), ("SLACK_WEBHOOK_URL", true), ("apiKey", true), ("stripe.secret-key", true),
        ("AWS_SECRET_ACCESS_KEY", true), ("JWT", true), ("SENTRY_DSN", true), ("DATABASE_URL", true),
        ("JWT_FUZZ_DEEP", false), ("TOKEN_EXPIRY", false), ("API_TOKEN_URL", false), ("AUTH_DOMAIN", false),
        ("DB_PASSWORD_FILE", false), ("PASSWORD_MIN_LENGTH", false), ("OAUTH_CLIENT_ID", false), ("SECRET_NAME", false),
        ("PWD", false), ("AUTHOR", false), ("PRIVATE_KEY_PATH", false),
    ])
    func credentialNames(_ name: String, _ credential: Bool) {
        #expect(Detector.looksLikeCredential(name) == credential, "\(name)")
    }
}

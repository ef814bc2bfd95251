import Foundation

/// Configuration files: a secret value becomes what its runtime resolves.
/// - `.env`, YAML, JSON, `.properties`/`.ini`/`.toml` read by the application or by `arca run --env-file`: a Key
///   Vault reference in Azure App Service's form, `@Microsoft.KeyVault(SecretName=NAME)` (quoted in YAML).
/// - Docker Compose (`compose.yaml`, `docker-compose.yml`, …) and the `.env` Compose reads beside it: no runtime
///   there resolves a reference, so the value becomes `${VAR:?…}` (Compose fails with that message when it is
///   unset, never starts with a wrong password) and the reference goes to `arca.env` beside it; start with
///   `arca run --env-file arca.env -- docker compose up`.
/// - Kubernetes manifests (`apiVersion:` and `kind:`): an `env` entry's `value:` becomes
///   `valueFrom: {secretKeyRef: {name: arca-secrets, key: NAME}}`; the report gives the command that creates that
///   Kubernetes secret from the vault (the value through a pipe, never a command line).
/// - Helm values files (beside a `Chart.yaml`): not rewritten (a template decides where a value goes), named.
struct ConfigFormat: LanguageSupport {
    let id: LanguageID
    static let referencesFile = "arca.env"
    static let kubernetesSecret = "arca-secrets"

    var extensions: [String] {
        switch id {
        case .yaml: return ["yml", "yaml"]
        case .json: return ["json"]
        case .properties: return ["properties", "ini", "cfg", "conf", "toml"]
        default: return []
        }
    }
    var helperFile: String { "" }
    var quotes: Set<Unicode.Scalar> { ["\"", "'"] }
    func multiline(quote: String) -> Bool { false }

    func lookup(_ name: String, quote: String) -> String {
        let reference = Languages.reference(name)
        return quote.isEmpty ? (id == .yaml || id == .json ? "\"\(reference)\"" : reference) : quote + reference + quote
    }

    enum Kind { case plain, compose, composeDotenv, kubernetes, helmValues }

    static func kind(_ file: String, text: String, id: LanguageID, project: Project) -> Kind {
        let name = (file as NSString).lastPathComponent.lowercased()
        let folder = Languages.folder(of: file)
        func isCompose(_ n: String) -> Bool { n.range(of: #"^(docker-)?compose(\.[\w-]+)?\.ya?ml$"#, options: .regularExpression) != nil }
        switch id {
        case .yaml:
            if isCompose(name) { return .compose }
            if name.hasPrefix("values"), project.exists(folder + "Chart.yaml") || project.exists(folder + "../Chart.yaml") { return .helmValues }
            if text.range(of: #"(?m)^apiVersion:\s*\S"#, options: .regularExpression) != nil,
               text.range(of: #"(?m)^kind:\s*\S"#, options: .regularExpression) != nil { return .kubernetes }
        case .dotenv where name == ".env":
            let here = (try? FileManager.default.contentsOfDirectory(atPath: project.path(folder.isEmpty ? "." : String(folder.dropLast())))) ?? []
            if here.contains(where: { isCompose($0.lowercased()) }) { return .composeDotenv }
        default: break
        }
        return .plain
    }

    func unsupported(_ file: String, text: String, project: Project) -> String? {
        switch Self.kind(file, text: text, id: id, project: project) {
        case .helmValues:
            return "a Helm values file: its templates decide where a value goes; put the secret in a Kubernetes secret the chart reads (valueFrom.secretKeyRef), then remove it here"
        case .composeDotenv where Self.composeUsesEnvFile(Languages.folder(of: file), project: project):
            return "a Compose file here passes .env into a container (env_file:), which no environment overrides: give the service the variable under environment: (KEY: ${KEY}) instead of env_file, then migrate again"
        default:
            return nil
        }
    }

    static func composeUsesEnvFile(_ folder: String, project: Project) -> Bool {
        let here = (try? FileManager.default.contentsOfDirectory(atPath: project.path(folder.isEmpty ? "." : String(folder.dropLast())))) ?? []
        return here.filter { $0.lowercased().range(of: #"^(docker-)?compose(\.[\w-]+)?\.ya?ml$"#, options: .regularExpression) != nil }.contains { name in
            ((try? String(contentsOfFile: project.path(folder + name), encoding: .utf8)) ?? "").contains("env_file")
        }
    }

    /// The variable a Compose or .env line defines (`KEY: value`, `- KEY=value`, `KEY=value`).
    static func variable(on line: String) -> String? {
        guard let m = line.firstMatch(of: #/^\s*(?:-\s*)?(?:export\s+)?["']?([A-Za-z_][A-Za-z0-9_.]*)["']?\s*[:=]/#) else { return nil }
        return String(m.output.1)
    }

    func adjust(_ edits: [Edit], scalars: [Unicode.Scalar], file: String, style: HelperStyle, project: Project) -> [Edit] {
        let text = String(String.UnicodeScalarView(scalars))
        let kind = Self.kind(file, text: text, id: id, project: project)
        guard kind != .plain else { return edits }
        return edits.map { e in
            guard let name = Self.referenced(e.with) else { return e }
            var lineStart = e.lo
            while lineStart > 0, scalars[lineStart - 1] != "\n" { lineStart -= 1 }
            let before = String(String.UnicodeScalarView(scalars[lineStart..<e.lo]))
            var out = e
            switch kind {
            case .compose, .composeDotenv:
                guard let variable = Self.variable(on: before) else { return e }
                let message = "start with: arca run --env-file \(Self.referencesFile) -- docker compose up"
                out.with = kind == .compose ? "\"${\(variable):?\(message)}\"" : ""
            case .kubernetes:
                guard let m = before.firstMatch(of: #/^(\s*(?:-\s*)?)value:\s*$/#) else { return e }
                out.lo = lineStart + m.output.1.unicodeScalars.count
                out.with = "valueFrom: {secretKeyRef: {name: \(Self.kubernetesSecret), key: \(name)}}"
                out.old = [.text(String(before.dropFirst(m.output.1.count)))] + e.old
            default:
                return e
            }
            return out
        }
    }

    /// The secret a rewritten value refers to.
    static func referenced(_ with: String) -> String? {
        guard let r = with.range(of: #"@Microsoft\.KeyVault\(SecretName=([0-9A-Za-z-]+)\)"#, options: .regularExpression) else { return nil }
        return String(with[r].dropFirst("@Microsoft.KeyVault(SecretName=".count).dropLast())
    }

    /// Compose and its `.env`: the references `arca run --env-file arca.env` resolves; how to start each.
    func companions(for file: String, edits: [Edit], scalars: [Unicode.Scalar], project: Project) -> (files: [Helper], start: [String]) {
        let text = String(String.UnicodeScalarView(scalars))
        let folder = Languages.folder(of: file)
        switch Self.kind(file, text: text, id: id, project: project) {
        case .compose, .composeDotenv:
            var lines: [String] = []
            for e in edits {
                var lineStart = e.lo
                while lineStart > 0, scalars[lineStart - 1] != "\n" { lineStart -= 1 }
                let before = String(String.UnicodeScalarView(scalars[lineStart..<e.lo]))
                guard let variable = Self.variable(on: before), let name = e.old.compactMap({ part -> String? in
                    if case .secret(let n) = part { return n } else { return nil }
                }).first else { continue }
                lines.append("\(variable)=\(Languages.reference(name))")
            }
            let start = "cd \(folder.isEmpty ? "." : String(folder.dropLast())) && arca run --env-file \(Self.referencesFile) -- docker compose up"
            return ([Helper(path: folder + Self.referencesFile, content: lines.joined(separator: "\n") + "\n")], ["\(file): \(start)"])
        case .kubernetes:
            let names = edits.compactMap { e -> String? in e.with.contains("secretKeyRef") ? e.with.firstMatch(of: #/key: ([0-9A-Za-z-]+)/#).map { String($0.output.1) } : nil }
            guard !names.isEmpty else { return ([], []) }
            let froms = names.map { "--from-file=\($0)=<(arca vault secret get \($0))" }.joined(separator: " ")
            return ([], ["\(file): kubectl create secret generic \(Self.kubernetesSecret) \(froms) (bash; add --vault URL as for migrate), then kubectl apply -f \(file)"])
        case .plain where id == .dotenv:
            return ([], ["\(file): arca run --env-file \(file) -- COMMAND"])
        default:
            return ([], [])
        }
    }
}

/// The header of `arca.env`, which `migrate` writes beside a Compose file.
extension ConfigFormat {
    static let referencesHeader = "# Key Vault references for Docker Compose, added by `arca migrate`.\n# Start with: arca run --env-file arca.env -- docker compose up\n"
}

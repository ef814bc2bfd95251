import Foundation

/// Reads of a credential from the environment, per language: the whole expression around the variable's
/// name, so `migrate --env` can replace it with a vault lookup.
public enum EnvReads {
    /// The expression reading `name` that covers scalar offset `at` on the line `line` (starting at offset
    /// `lineStart`), as absolute scalar offsets.
    static func expression(_ name: String, language: any LanguageSupport, line: String, lineStart: Int, at: Int) -> (Int, Int)? {
        let ns = line as NSString
        for p in language.envReads {
            // Not in the middle of a longer name (`MySystem.getenv`, `x.os.environ`).
            let pattern = #"(?<![A-Za-z0-9_$.])"# + p.replacingOccurrences(of: "NAME", with: NSRegularExpression.escapedPattern(for: name))
            guard let re = try? NSRegularExpression(pattern: pattern) else { continue }
            for m in re.matches(in: line, range: NSRange(location: 0, length: ns.length)) {
                // Offsets in scalars, not UTF-16 units.
                let lo = lineStart + ns.substring(to: m.range.location).unicodeScalars.count
                let hi = lo + ns.substring(with: m.range).unicodeScalars.count
                if lo <= at && at < hi { return (lo, hi) }
            }
        }
        return nil
    }

    /// `KEY=value` lines of a dotenv file (quotes removed, `export` allowed, comments skipped).
    public static func parseDotenv(_ text: String) -> [String: String] {
        var out: [String: String] = [:]
        for raw in text.split(separator: "\n") {
            var line = raw.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("#") || !line.contains("=") { continue }
            if line.hasPrefix("export ") { line = String(line.dropFirst(7)) }
            let key = line[..<line.firstIndex(of: "=")!].trimmingCharacters(in: .whitespaces)
            var value = String(line[line.index(after: line.firstIndex(of: "=")!)...]).trimmingCharacters(in: .whitespaces)
            if value.count >= 2, let f = value.first, (f == "\"" || f == "'"), value.last == f {
                value = String(value.dropFirst().dropLast())
            } else if let hash = value.range(of: " #") {
                value = String(value[..<hash.lowerBound]).trimmingCharacters(in: .whitespaces)
            }
            out[key] = value
        }
        return out
    }
}

/// Key Vault references as Azure App Service writes them, which `migrate` puts in configuration and
/// `arca run` resolves: `@Microsoft.KeyVault(SecretName=NAME)`, `@Microsoft.KeyVault(VaultName=V;SecretName=NAME;SecretVersion=X)`
/// or `@Microsoft.KeyVault(SecretUri=https://host/secrets/NAME[/VERSION])`.
public enum KeyVaultReference {
    public static func parse(_ value: String) -> (name: String, version: String?)? {
        parseReference(value).map { ($0.name, $0.version) }
    }

    /// A reference with the vault it names: `VaultName=V` (Azure's `V.vault.azure.net`) or SecretUri's host
    /// (nil: the configured vault).
    public static func parseReference(_ value: String) -> (name: String, version: String?, vault: String?)? {
        let v = value.trimmingCharacters(in: .whitespaces)
        guard v.hasPrefix("@Microsoft.KeyVault("), v.hasSuffix(")") else { return nil }
        let inner = v.dropFirst("@Microsoft.KeyVault(".count).dropLast()
        var fields: [String: String] = [:]
        for part in inner.split(separator: ";") {
            let kv = part.split(separator: "=", maxSplits: 1)
            if kv.count == 2 { fields[kv[0].trimmingCharacters(in: .whitespaces).lowercased()] = kv[1].trimmingCharacters(in: .whitespaces) }
        }
        if let name = fields["secretname"], !name.isEmpty {
            return (name, fields["secretversion"].flatMap { $0.isEmpty ? nil : $0 }, fields["vaultname"].flatMap { $0.isEmpty ? nil : $0 })
        }
        if let uri = fields["secreturi"], let url = URL(string: uri), let host = url.host {
            let parts = url.path.split(separator: "/").map(String.init)
            guard parts.count >= 2, parts[0] == "secrets" else { return nil }
            let port = url.port.map { ":\($0)" } ?? ""
            return (parts[1], parts.count > 2 && !parts[2].isEmpty ? parts[2] : nil, "\(url.scheme ?? "https")://\(host)\(port)")
        }
        return nil
    }
}

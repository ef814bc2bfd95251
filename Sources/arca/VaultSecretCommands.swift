import ArcaJSON
import ArcaReport
import ArcaVault
import ArgumentParser
import Foundation

struct SecretCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "secret", abstract: "Set, read, list, delete, recover and purge secrets.",
        subcommands: [SecretSet.self, SecretGet.self, SecretUpdate.self, SecretList.self, SecretVersions.self,
                      SecretDelete.self, SecretRecover.self, SecretPurge.self, SecretBackupCommand.self,
                      SecretRestoreCommand.self])
}

/// Attribute options shared by `set` and `update`.
struct AttributeOptions: ParsableArguments {
    @Option(name: .customLong("content-type"), help: "A content type for the value (free text).")
    var contentType: String?

    @Option(name: .customLong("tag"), help: "A tag as NAME=VALUE (repeatable).")
    var tags: [String] = []

    @Option(name: .customLong("not-before"), help: "nbf: Unix seconds or ISO 8601 (advisory).")
    var notBefore: String?

    @Option(name: .customLong("expires"), help: "exp: Unix seconds or ISO 8601 (advisory).")
    var expires: String?

    func options(enabled: Bool?) throws -> SecretOptions {
        var tagMap: [String: String]?
        if !tags.isEmpty {
            var m: [String: String] = [:]
            for t in tags {
                guard let eq = t.firstIndex(of: "="), eq != t.startIndex else {
                    throw CLIError(code: Exit.usage, message: "arca: --tag takes NAME=VALUE (got '\(t)')")
                }
                m[String(t[..<eq])] = String(t[t.index(after: eq)...])
            }
            tagMap = m
        }
        return SecretOptions(contentType: contentType, tags: tagMap, enabled: enabled,
                             notBefore: try notBefore.map(parseTime), expires: try expires.map(parseTime))
    }
}

extension VaultOptions {
    func printProperties(_ p: SecretProperties, value: String? = nil, verb: String) {
        if output == .json {
            VaultJSON.print(VaultJSON.properties(p, value: value))
        } else {
            IO.write(fd: 1, "\(verb) \(p.name) version \(p.version)\n")
        }
    }
}

struct SecretSet: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "set",
        abstract: "Store a new version of a secret; the value comes from standard input or --value-file, never the command line.")
    @OptionGroup var vault: VaultOptions
    @Argument(help: "The secret's name (letters, digits and dashes).") var name: String
    @Option(name: .customLong("value-file"), help: "Read the value from this file (default: standard input).")
    var valueFile: String?
    @Flag(name: .customLong("disabled"), help: "Store the version disabled.") var disabled = false
    @Flag(name: .customLong("keep-newline"), help: "Keep one trailing newline of the value.") var keepNewline = false
    @OptionGroup var attributes: AttributeOptions

    func run() throws {
        var bytes: [UInt8]
        if let f = valueFile {
            let fd = open(f, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw CLIError(code: Exit.usage, message: "arca: cannot read \(f)") }
            bytes = IO.readAll(fd: fd)
            close(fd)
        } else {
            if isatty(0) != 0 { IO.write(fd: 2, "Value (end with Ctrl-D): ") }
            bytes = IO.readAll(fd: 0)
        }
        if !keepNewline, bytes.last == 0x0a {
            bytes.removeLast()
            if bytes.last == 0x0d { bytes.removeLast() }
        }
        guard let value = String(bytes: bytes, encoding: .utf8) else {
            throw CLIError(code: Exit.usage, message: "arca: the value is not UTF-8 text (store binary data base64-encoded, with --content-type)")
        }
        let options = try attributes.options(enabled: disabled ? false : nil)
        let b = try vault.withClient { client in try await client.setSecret(name, value: value, options: options) }
        vault.printProperties(b.properties, verb: "Stored")
    }
}

struct SecretGet: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "get", abstract: "Print a secret's value.")
    @OptionGroup var vault: VaultOptions
    @Argument var name: String
    @Option(help: "A version id (default: the latest).") var version: String?

    func run() throws {
        let b = try vault.withClient { client in try await client.getSecret(name, version: version) }
        if vault.output == .json {
            VaultJSON.print(VaultJSON.properties(b.properties, value: b.value))
        } else {
            IO.write(fd: 1, (b.value ?? "") + (isatty(1) != 0 ? "\n" : ""))
        }
    }
}

struct SecretUpdate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "update", abstract: "Change a version's content type, tags, enabled state, nbf or exp.")
    @OptionGroup var vault: VaultOptions
    @Argument var name: String
    @Option(help: "A version id (default: the latest).") var version: String?
    /// `--enable` / `--disable`, as documented (and as `az keyvault secret set-attributes --enabled` reads).
    enum EnabledChange: String, EnumerableFlag {
        case enable, disable
        static func help(for value: Self) -> ArgumentHelp? { value == .enable ? "Enable the version." : "Disable the version." }
    }
    @Flag var enabledChange: EnabledChange?
    @OptionGroup var attributes: AttributeOptions

    func run() throws {
        let options = try attributes.options(enabled: enabledChange.map { $0 == .enable })
        let b = try vault.withClient { client in try await client.updateSecret(name, version: version, options: options) }
        vault.printProperties(b.properties, verb: "Updated")
    }
}

struct SecretList: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list", abstract: "List secrets (names and attributes, never values).")
    @OptionGroup var vault: VaultOptions
    @Flag(help: "List deleted secrets instead.") var deleted = false
    @Option(name: .customLong("max-results"), help: "One page of at most N (1-25); prints the token for the next page.")
    var maxResults: Int?
    @Option(name: .customLong("skip-token"), help: "Continue a paged list.") var skipToken: String?

    func run() throws {
        let paged = maxResults != nil || skipToken != nil
        if deleted {
            let (items, next): ([DeletedSecret], String?) = try vault.withClient { client in
                if paged {
                    let p = try await client.listDeletedSecrets(maxResults: maxResults, skipToken: skipToken)
                    return (p.items, p.nextToken)
                }
                return (try await client.allDeletedSecrets(), nil)
            }
            if vault.output == .json {
                VaultJSON.print(.object([("value", .array(items.map(VaultJSON.deleted))), ("nextToken", next.map(JSONValue.string) ?? .null)]))
                return
            }
            var out = ""
            for d in items {
                out += "\(d.properties.name)  deleted \(formatTime(d.deletedDate))  purged after \(formatTime(d.scheduledPurgeDate))\n"
            }
            if let next { out += "more: --skip-token \(next)\n" }
            IO.write(fd: 1, out)
            return
        }
        let (items, next): ([SecretProperties], String?) = try vault.withClient { client in
            if paged {
                let p = try await client.listSecrets(maxResults: maxResults, skipToken: skipToken)
                return (p.items, p.nextToken)
            }
            return (try await client.allSecrets(), nil)
        }
        printList(items, next: next)
    }

    func printList(_ items: [SecretProperties], next: String?) {
        if vault.output == .json {
            VaultJSON.print(.object([("value", .array(items.map { VaultJSON.properties($0) })), ("nextToken", next.map(JSONValue.string) ?? .null)]))
            return
        }
        var out = ""
        for p in items {
            out += "\(p.name)  \(p.version)  updated \(formatTime(p.attributes.updated))\(p.attributes.enabled ? "" : "  (disabled)")\n"
        }
        if let next { out += "more: --skip-token \(next)\n" }
        IO.write(fd: 1, out)
    }
}

struct SecretVersions: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "versions", abstract: "List a secret's versions, oldest first.")
    @OptionGroup var vault: VaultOptions
    @Argument var name: String

    func run() throws {
        let items = try vault.withClient { client in try await client.allVersions(name) }
        if vault.output == .json {
            VaultJSON.print(.object([("value", .array(items.map { VaultJSON.properties($0) }))]))
            return
        }
        IO.write(fd: 1, items.map {
            "\($0.version)  created \(formatTime($0.attributes.created))\($0.attributes.enabled ? "" : "  (disabled)")\n"
        }.joined())
    }
}

struct SecretDelete: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "delete", abstract: "Soft-delete a secret (all versions); recoverable until the retention ends.")
    @OptionGroup var vault: VaultOptions
    @Argument var name: String

    func run() throws {
        let d = try vault.withClient { client in try await client.deleteSecret(name) }
        if vault.output == .json { VaultJSON.print(VaultJSON.deleted(d)); return }
        IO.write(fd: 1, "Deleted \(d.properties.name); recoverable until \(formatTime(d.scheduledPurgeDate)) (`arca vault secret recover`).\n")
    }
}

struct SecretRecover: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "recover", abstract: "Bring back a deleted secret with all its versions.")
    @OptionGroup var vault: VaultOptions
    @Argument var name: String

    func run() throws {
        let b = try vault.withClient { client in try await client.recoverSecret(name) }
        vault.printProperties(b.properties, verb: "Recovered")
    }
}

struct SecretPurge: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "purge", abstract: "Erase a deleted secret for good.")
    @OptionGroup var vault: VaultOptions
    @Argument var name: String

    func run() throws {
        try vault.withClient { client in try await client.purgeSecret(name) }
        if vault.output == .json { VaultJSON.print(.object([("purged", .string(name))])) } else {
            IO.write(fd: 1, "Purged \(name).\n")
        }
    }
}

/// `arca vault secret backup NAME -o FILE` (as `az keyvault secret backup --file`): the blob's bytes, mode 0600,
/// never over an existing file.
struct SecretBackupCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Write every version of a secret to an opaque blob only a vault with the same keyring restores.")
    @OptionGroup var vault: VaultOptions
    @Argument var name: String
    @Option(name: [.customShort("o"), .customLong("file")], help: "The blob file to create (mode 0600; never overwritten).")
    var file: String

    func run() throws {
        guard file != "-", !file.isEmpty else {
            throw CLIError(code: Exit.usage, message: "arca: backup writes a file (-o PATH), not standard output")
        }
        let blob = try vault.withClient { client in try await client.backupSecret(name) }
        let fd = open(file, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard fd >= 0 else {
            throw CLIError(code: Exit.usage, message: "arca: cannot create \(file): \(String(cString: strerror(errno))) (an existing file is never overwritten)")
        }
        defer { close(fd) }
        guard write(fd, blob, blob.count) == blob.count, fsync(fd) == 0 else {
            throw CLIError(code: Exit.runtime, message: "arca: cannot write \(file): \(String(cString: strerror(errno)))")
        }
        if vault.output == .json { VaultJSON.print(.object([("backup", .string(file)), ("name", .string(name))])) } else {
            IO.write(fd: 1, "Backed up every version of \(name) to \(file) (\(blob.count) bytes; `arca vault secret restore \(file)`).\n")
        }
    }
}

/// `arca vault secret restore FILE` (as `az keyvault secret restore --file`).
struct SecretRestoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore", abstract: "Restore a secret from a backup blob under the name it carries (not one in use).")
    @OptionGroup var vault: VaultOptions
    @Argument(help: "The blob `arca vault secret backup` wrote.") var file: String

    func run() throws {
        let fd = open(file, O_RDONLY)
        guard fd >= 0 else {
            throw CLIError(code: Exit.usage, message: "arca: cannot read \(file): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        guard let blob = IO.readAllChecked(fd: fd), blob.count <= SecretBackup.maxBytes else {
            throw CLIError(code: Exit.usage, message: "arca: \(file) is not a backup blob (unreadable, or larger than \(SecretBackup.maxBytes) bytes)")
        }
        let p = try vault.withClient { client in try await client.restoreSecret(backup: blob) }
        vault.printProperties(p, verb: "Restored")
    }
}

struct AuditCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit", abstract: "Search, tail, export and verify the audit trail.",
        subcommands: [AuditSearch.self, AuditTail.self, AuditExportCommand.self, AuditVerify.self])
}

extension VaultOptions {
    func printRecords(_ records: [AuditRecord]) {
        if output == .json {
            VaultJSON.print(.array(records.map(\.json)))
            return
        }
        IO.write(fd: 1, records.map { r in
            let f = Self.terminalSafe
            let secret = r.secretName.map { " \(f($0))" + (r.secretVersion.map { "/\(f($0))" } ?? "") } ?? ""
            let times = r.count == 1 ? "" : "  ×\(r.count)"
            return "\(r.sequence)  \(f(r.time))  \(f(r.operation))\(secret)  \(f(r.result))\(times)  \(f(r.caller))  from \(f(r.source))\n"
        }.joined())
    }

    /// A field as text output shows it: control characters (a NUL, an escape sequence) written as `\u{…}`, so a
    /// record cannot drive the terminal it is printed on. `--output json` escapes them as JSON does.
    static func terminalSafe(_ s: String) -> String {
        guard s.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else { return s }
        return s.unicodeScalars.map { c in
            c.properties.generalCategory == .control ? "\\u{\(String(c.value, radix: 16))}" : String(c)
        }.joined()
    }
}

struct AuditSearch: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "search", abstract: "Find audit records.")
    @OptionGroup var vault: VaultOptions
    @Option(help: "Caller (substring).") var caller: String?
    @Option(help: "Operation, e.g. SecretGet.") var operation: String?
    @Option(help: "Secret name.") var secret: String?
    @Option(help: "Result, e.g. OK, Forbidden, Unauthorized.") var result: String?
    @Option(help: "From this time (ISO 8601).") var since: String?
    @Option(help: "Up to this time (ISO 8601).") var until: String?
    @Option(help: "Only the most recent N matches.") var limit: Int?

    func run() throws {
        let q = AuditQuery(caller: caller, operation: operation, secretName: secret, result: result,
                           since: since, until: until, limit: limit)
        vault.printRecords(try vault.withClient { client in try await client.auditRecords(q) })
    }
}

struct AuditTail: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "tail", abstract: "The latest audit records.")
    @OptionGroup var vault: VaultOptions
    @Option(name: .short, help: "How many.") var n: Int = 20

    func run() throws {
        let count = n
        vault.printRecords(try vault.withClient { client in try await client.auditRecords(AuditQuery(limit: count)) })
    }
}

struct AuditExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export", abstract: "Write the whole trail (JSON Lines, with signed checkpoints, no keys).")
    @OptionGroup var vault: VaultOptions
    @Option(name: [.customShort("o"), .customLong("output-file")], help: "Write to this file (default, or `-`: standard output).")
    var file: String?

    /// Page by page (a trail of any size, locally or through a server); a file is written 0600, whole or not
    /// at all.
    func run() throws {
        let file = self.file == "-" ? nil : self.file  // `-o -`: standard output, as without -o
        try vault.withClient { client in
            let out = try file.map { try OwnerOnlyFile(path: $0) }
            let emit = { (text: String) throws in if let out { try out.write(text) } else { IO.write(fd: 1, text) } }
            try emit(AuditExport.header())
            try await client.auditExport { page in try emit(AuditExport.lines(page.records, page.checkpoints)) }
            try out?.commit()
        }
    }
}

struct AuditVerify: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check the trail's hash chain and signed checkpoints; names the first altered, deleted, reordered or inserted record.")
    @OptionGroup var vault: VaultOptions
    @Argument(help: "An export to check (default: the vault's own trail).") var file: String?
    @Option(help: "The audit public key (64 hex digits, or @FILE), as printed at init. Required for an export.")
    var key: String?

    func run() throws {
        var publicKey: AuditPublicKey?
        if let key {
            let text = key.hasPrefix("@") ? (IO.readFile(String(key.dropFirst())) ?? "") : key
            guard let k = AuditExport.publicKey(hex: text) else {
                throw CLIError(code: Exit.usage, message: "arca: --key takes the 64-hex-digit audit public key printed by `arca vault init`")
            }
            publicKey = k
        }
        let problem: AuditChain.Problem?
        let count: Int
        if vault.remoteURL != nil {
            guard let publicKey else {
                throw CLIError(code: Exit.usage, message: "arca: verifying a server's trail needs --key (the auditPublicKey printed at init)")
            }
            // Page by page: a trail of any size.
            let (records, checkpoints) = try vault.withClient { client in
                var records: [AuditRecord] = [], checkpoints: [AuditCheckpoint] = []
                try await client.auditExport { page in
                    records += page.records
                    checkpoints += page.checkpoints
                }
                return (records, checkpoints)
            }
            problem = AuditChain.verify(records, checkpoints: checkpoints, publicKey: publicKey)
            count = records.count
        } else if let file {
            guard let publicKey else {
                throw CLIError(code: Exit.usage, message: "arca: verifying an export needs --key: the key is never taken from the export itself")
            }
            guard let text = IO.readFile(file) else { throw CLIError(code: Exit.usage, message: "arca: cannot read \(file)") }
            let (records, checkpoints): ([AuditRecord], [AuditCheckpoint])
            do { (records, checkpoints) = try AuditExport.read(text) } catch let e as AuditExport.Failure {
                throw CLIError(code: Exit.usage, message: "arca: \(e.description)")
            }
            problem = AuditChain.verify(records, checkpoints: checkpoints, publicKey: publicKey)
            count = records.count
        } else {
            let v = try vault.openVault()
            (problem, count) = try vaultCall { try v.verifyAudit(publicKey: publicKey) }
        }
        if vault.output == .json {
            VaultJSON.print(.object([("intact", .bool(problem == nil)), ("records", .int(count)),
                                     ("problem", problem.map { .string($0.description) } ?? .null)]))
        } else if let problem {
            IO.write(fd: 1, "The audit trail is NOT intact: \(problem.description).\n")
        } else {
            IO.write(fd: 1, "The audit trail is intact: \(count) records, hash chain and signed checkpoints verified.\n")
        }
        if problem != nil { throw ExitCode(VaultExit.problem) }
    }
}

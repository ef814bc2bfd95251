import ArcaVault
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS
import PostgresNIO
import X509

/// A vault's storage in a PostgreSQL database that several `arca vault serve` processes share (active/active).
///
/// - Every write transaction first takes one transaction-level advisory lock, so writers from every node run
///   one at a time, as SQLite's immediate transactions do: the audit chain's append (read the last record,
///   insert the next) is one total order with no gaps across nodes, and so is everything else the core
///   decides by reading then writing.
/// - Reads run in a read-only repeatable-read transaction (a consistent snapshot), without the lock.
/// - A commit returns once PostgreSQL has it on disk: each connection turns `synchronous_commit` back on if the
///   server, database or role set it off (``sessionSettings``); `serve` warns of a server run with `fsync` off.
/// - A lost connection, a server shutting down or restarting, or a connection refused is
///   ``VaultStore/Failure/unavailable``: callers get 503 with `Retry-After`, and the next request opens a new
///   connection, so nodes recover by themselves when PostgreSQL is back.
///
/// The core's calls are synchronous; this bridges them onto postgres-nio's event loop with `wait()` (never
/// called from that loop: the vault's callers run on their own threads).
public final class PostgresBackend: StorageBackend, @unchecked Sendable {
    public let location: String
    let configuration: PostgresConnection.Configuration
    /// Under `verify-full` to a host name: the TLS context, and the name the server's certificate must hold as
    /// a DNS name (``NameCheckedTLS``); `configuration` then holds no TLS of its own.
    let nameChecked: (context: NIOSSLContext, host: String)?
    let group: MultiThreadedEventLoopGroup
    let logger: Logger
    private let lock = NSCondition()
    private var idle: [Link] = []
    private var nextID = 0
    /// Connections open or opening now (idle ones among them).
    private var opened = 0
    /// At most this many connections at once (`?max_connections=N` in the address, default 32): a request that
    /// finds them all busy waits up to 10 s for one, then is 503 like any unreachable storage.
    public let maxConnections: Int
    /// Connections kept open between transactions.
    static let maxIdle = 16
    static let defaultMaxConnections = 32
    /// How long one statement of a write transaction may go unanswered before the transaction fails as
    /// unavailable. Writes are short statements (the group commit's), and while one waits every write and read
    /// record of this node waits behind it: a connection whose server crashed mid-statement can hold the node
    /// this long. Tests shorten it. A request's deadline (``RequestDeadline``, the server's) shortens every wait
    /// further.
    var statementTimeout: Double = 10
    /// The same for read transactions, which may fetch a whole trail in one statement (and hold only their own
    /// request while they wait).
    static let readStatementTimeout: Double = 30
    /// How long a transaction waits for a connection: one of the node's to come free, or a new one to connect
    /// and take the session's settings.
    static let connectWait: Double = 10
    /// The advisory lock every write transaction holds (`arca` in ASCII).
    static let writeLock: Int64 = 0x61_72_63_61
    /// Set once the schema (with `arca_write_lock()`) is in place: write transactions then take the lock and
    /// read the trail's head in one statement (one round trip fewer for every write and audited read).
    private var lockReadsHead = false

    /// The parts of a `postgres://user:password@host:port/database` address (the password may instead come
    /// from `PGPASSWORD`). `location` never holds the password.
    public struct Address: Sendable, Equatable {
        public var user: String
        public var password: String?
        public var host: String
        public var port: Int
        public var database: String
        /// The node's connection cap (``PostgresBackend/maxConnections``).
        public var maxConnections: Int
        /// TLS to the server, as libpq's `sslmode` (default `prefer`, also from `PGSSLMODE`).
        public var sslMode: SSLMode
        /// The CA certificates (PEM) that vouch for the server under `verify-ca`/`verify-full` (or `require`
        /// given one, as libpq does), `system` for the system's trust store; default `~/.postgresql/root.crt`.
        /// Also from `PGSSLROOTCERT`.
        public var sslRootCert: String?
        /// A client certificate (PEM, the chain from the client's own first) and its private key, sent when the
        /// server asks for one (`clientcert=verify-ca|verify-full` or `cert` in pg_hba.conf), as libpq's `sslcert`
        /// and `sslkey` (also `PGSSLCERT`, `PGSSLKEY`); by default `~/.postgresql/postgresql.crt` and `.key`
        /// when the certificate file exists. The key must not be readable by group or others, as libpq requires.
        public var sslCert: String?
        public var sslKey: String?

        /// libpq's `sslmode` values. `allow` and `prefer` both try TLS first and fall back to none (postgres-nio
        /// has no plain-first mode); neither checks the certificate, as in libpq.
        public enum SSLMode: String, Sendable, CaseIterable {
            case disable, allow, prefer, require
            case verifyCA = "verify-ca", verifyFull = "verify-full"
        }

        public init(_ url: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
            guard let c = URLComponents(string: url), ["postgres", "postgresql"].contains(c.scheme ?? ""),
                  let host = c.host, !host.isEmpty else {
                throw VaultStore.Failure.database("'\(Address.redacted(url))' is not a postgres://user@host:port/database address")
            }
            self.host = host
            port = c.port ?? 5432
            // A user or password the address holds but whose %-escapes are broken is refused, never silently
            // replaced by PGUSER or PGPASSWORD (and never printed).
            func decoded(_ raw: String?, _ what: String) throws -> String? {
                guard let raw else { return nil }
                guard let value = raw.removingPercentEncoding else {
                    throw VaultStore.Failure.database("'\(Address.redacted(url))': the address's \(what) is not valid percent-encoding (write a % in it as %25)")
                }
                return value
            }
            user = try decoded(c.user, "user name") ?? environment["PGUSER"] ?? "postgres"
            password = try decoded(c.password, "password") ?? environment["PGPASSWORD"]
            let path = c.path.hasPrefix("/") ? String(c.path.dropFirst()) : c.path
            database = path.isEmpty ? user : path
            maxConnections = PostgresBackend.defaultMaxConnections
            let unknown = { (name: String, value: String?) in
                VaultStore.Failure.database("'\(Address.redacted(url))': the options are max_connections=1…1000, sslmode=\(SSLMode.allCases.map(\.rawValue).joined(separator: "|")), sslrootcert=FILE|system, sslcert=FILE and sslkey=FILE (got \(name)=\(value ?? ""))")
            }
            func mode(_ v: String?) throws -> SSLMode {
                guard let v, let m = SSLMode(rawValue: v) else { throw unknown("sslmode", v) }
                return m
            }
            sslMode = try environment["PGSSLMODE"].map(mode) ?? .prefer
            sslRootCert = environment["PGSSLROOTCERT"].flatMap { $0.isEmpty ? nil : $0 }
            sslCert = environment["PGSSLCERT"].flatMap { $0.isEmpty ? nil : $0 }
            sslKey = environment["PGSSLKEY"].flatMap { $0.isEmpty ? nil : $0 }
            var seen: Set<String> = []
            for item in c.queryItems ?? [] {
                guard seen.insert(item.name).inserted else { throw unknown(item.name, item.value) }
                switch item.name {
                case "max_connections":
                    guard let v = item.value.flatMap({ Int($0) }), (1...1000).contains(v) else { throw unknown(item.name, item.value) }
                    maxConnections = v
                case "sslmode": sslMode = try mode(item.value)
                case "sslrootcert":
                    guard let v = item.value, !v.isEmpty else { throw unknown(item.name, item.value) }
                    sslRootCert = v
                case "sslcert", "sslkey":
                    guard let v = item.value, !v.isEmpty else { throw unknown(item.name, item.value) }
                    if item.name == "sslcert" { sslCert = v } else { sslKey = v }
                default: throw unknown(item.name, item.value)
                }
            }
            // Recorded with the address (storage.json): a later command run from elsewhere finds the same files.
            func whole(_ path: String?) -> String? {
                guard let path, path != "system", !path.hasPrefix("/") else { return path }
                return URL(fileURLWithPath: path).standardizedFileURL.path
            }
            sslRootCert = whole(sslRootCert)
            sslCert = whole(sslCert)
            sslKey = whole(sslKey)
        }

        /// Whether `host` is an IPv4 or IPv6 address (not a name).
        static func isIP(_ host: String) -> Bool {
            (try? SocketAddress(ipAddress: host.trimmingCharacters(in: CharacterSet(charactersIn: "[]")), port: 0)) != nil
        }

        /// The address as it may be printed: no password. Options that differ from the defaults are kept (the
        /// folder records this, and later commands connect as the first did).
        public var location: String {
            var options: [String] = []
            if maxConnections != PostgresBackend.defaultMaxConnections { options.append("max_connections=\(maxConnections)") }
            if sslMode != .prefer { options.append("sslmode=\(sslMode.rawValue)") }
            var allowed = CharacterSet.urlQueryAllowed
            allowed.remove(charactersIn: "&=+#")
            for (name, file) in [("sslrootcert", sslRootCert), ("sslcert", sslCert), ("sslkey", sslKey)] {
                guard let file else { continue }
                options.append("\(name)=\(file.addingPercentEncoding(withAllowedCharacters: allowed) ?? file)")
            }
            return "postgres://\(user)@\(host):\(port)/\(database)" + (options.isEmpty ? "" : "?" + options.joined(separator: "&"))
        }

        /// postgres-nio's TLS setting for `sslMode`: the certificate is checked under `verify-ca` (chain only)
        /// and `verify-full` (chain and host name, or IP address), and under `require` when a root certificate
        /// was named, as libpq does.
        public func tls() throws -> PostgresConnection.Configuration.TLS {
            guard let context = try tlsContext() else { return .disable }
            return sslMode == .allow || sslMode == .prefer ? .prefer(context) : .require(context)
        }

        /// The TLS context for `sslMode` (nil under `disable`).
        func tlsContext() throws -> NIOSSLContext? {
            if sslMode == .disable { return nil }
            var config = TLSConfiguration.makeClientConfiguration()
            let verify = sslMode == .verifyCA || sslMode == .verifyFull || (sslMode == .require && sslRootCert != nil)
            if verify {
                config.certificateVerification = sslMode == .verifyFull ? .fullVerification : .noHostnameVerification
                let home = FileManager.default.homeDirectoryForCurrentUser.path + "/.postgresql/root.crt"
                switch sslRootCert {
                case "system": break
                case let file?: config.trustRoots = try Self.roots(file)
                case nil:
                    guard FileManager.default.fileExists(atPath: home) else {
                        throw VaultStore.Failure.database("sslmode=\(sslMode.rawValue) checks PostgreSQL's certificate against a CA: give sslrootcert=FILE in the address (or PGSSLROOTCERT; sslrootcert=system for the system's trust store); \(home) does not exist")
                    }
                    config.trustRoots = try Self.roots(home)
                }
            } else {
                config.certificateVerification = .none
            }
            if let (chain, key) = try clientCertificate() {
                config.certificateChain = chain.map { .certificate($0) }
                config.privateKey = .privateKey(key)
            }
            let context: NIOSSLContext
            do { context = try NIOSSLContext(configuration: config) } catch {
                if let cert = config.certificateChain.first, case .certificate = cert {
                    throw VaultStore.Failure.database("cannot set up TLS to PostgreSQL with sslcert \(sslCert ?? "~/.postgresql/postgresql.crt") and sslkey \(sslKey ?? "~/.postgresql/postgresql.key"): the key is not the certificate's (\(error))")
                }
                throw VaultStore.Failure.database("cannot set up TLS to PostgreSQL: \(error)")
            }
            return context
        }

        /// The client certificate chain and key to offer, as libpq finds them: `sslcert` (or
        /// `~/.postgresql/postgresql.crt` if it exists; none otherwise) with `sslkey` (or
        /// `~/.postgresql/postgresql.key`). A key that group or others may read is refused, as libpq refuses it
        /// (0640 is allowed for a root-owned key).
        func clientCertificate() throws -> ([NIOSSLCertificate], NIOSSLPrivateKey)? {
            let home = FileManager.default.homeDirectoryForCurrentUser.path + "/.postgresql/"
            guard let certFile = sslCert ?? (FileManager.default.fileExists(atPath: home + "postgresql.crt") ? home + "postgresql.crt" : nil) else {
                if let sslKey { throw VaultStore.Failure.database("sslkey \(sslKey) was given without sslcert (the certificate it belongs to)") }
                return nil
            }
            let keyFile = sslKey ?? home + "postgresql.key"
            let chain: [NIOSSLCertificate]
            do { chain = try NIOSSLCertificate.fromPEMFile(certFile) } catch {
                throw VaultStore.Failure.database("sslcert \(certFile): not a readable PEM certificate (\(error))")
            }
            guard !chain.isEmpty else { throw VaultStore.Failure.database("sslcert \(certFile): holds no certificate") }
            var info = stat()
            guard stat(keyFile, &info) == 0 else {
                throw VaultStore.Failure.database("sslkey \(keyFile): \(String(cString: strerror(errno))) (the private key of sslcert \(certFile))")
            }
            let loose = info.st_uid == 0 ? info.st_mode & 0o037 : info.st_mode & 0o077
            guard info.st_mode & S_IFMT == S_IFREG, loose == 0 else {
                throw VaultStore.Failure.database("sslkey \(keyFile): group or others may read it; chmod 600 it (as libpq requires)")
            }
            do {
                let key = try NIOSSLPrivateKey(file: keyFile, format: .pem)
                return (chain, key)
            } catch {
                throw VaultStore.Failure.database("sslkey \(keyFile): not a readable unencrypted PEM private key (\(error))")
            }
        }

        static func roots(_ file: String) throws -> NIOSSLTrustRoots {
            let certificates: [NIOSSLCertificate]
            do { certificates = try NIOSSLCertificate.fromPEMFile(file) } catch {
                throw VaultStore.Failure.database("sslrootcert \(file): not a readable PEM file of CA certificates (\(error))")
            }
            guard !certificates.isEmpty else { throw VaultStore.Failure.database("sslrootcert \(file): holds no certificate") }
            return .certificates(certificates)
        }

        /// Any text that may hold an address, with the password part removed (for messages): in every word
        /// with an `@`, whatever its scheme (or none, or a malformed one), what follows the user name up to the
        /// last `@` is `***`.
        public static func redacted(_ text: String) -> String {
            text.split(separator: " ", omittingEmptySubsequences: false).map { word -> String in
                guard let at = word.lastIndex(of: "@") else { return String(word) }
                let before = word[..<at]
                var start = before.startIndex
                if let r = before.range(of: "://") {
                    start = r.upperBound
                } else if let colon = before.firstIndex(of: ":"), before[before.index(after: colon)...].hasPrefix("/") {
                    start = before[before.index(after: colon)...].firstIndex { $0 != "/" } ?? before.endIndex
                }
                guard let c = before[start...].firstIndex(of: ":") else { return String(word) }
                return String(word[..<c]) + ":***" + String(word[at...])
            }.joined(separator: " ")
        }
    }

    /// The database has no vault tables, and `createSchema` was false (a folder that belongs to a vault
    /// pointed at an empty database): nothing was written.
    public struct NoVault: Error {}

    /// Connects to `url`, makes the vault's tables if they are missing (unless `createSchema` is false: then a
    /// database without them is ``NoVault``, left untouched) and checks the schema version.
    public init(url: String, createSchema: Bool = true) throws {
        let address = try Address(url)
        location = address.location
        maxConnections = address.maxConnections
        let tls = try address.tls()
        if address.sslMode == .verifyFull, !Address.isIP(address.host), let context = try address.tlsContext() {
            nameChecked = (context, address.host)
        } else {
            nameChecked = nil
        }
        var config = PostgresConnection.Configuration(host: address.host, port: address.port, username: address.user,
                                                      password: address.password, database: address.database,
                                                      tls: nameChecked == nil ? tls : .disable)
        config.options.connectTimeout = .seconds(5)
        configuration = config
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        var log = Logger(label: "arca.vault.postgres")
        log.logLevel = .critical
        logger = log
        try write { db in
            if !createSchema, try String.fetchOne(db, sql: "SELECT to_regclass('meta')::text") == nil { throw NoVault() }
            for statement in PostgresBackend.schema { try db.execute(sql: statement) }
            let stored = try String.fetchOne(db, sql: "SELECT convert_from(value, 'UTF8') FROM meta WHERE key = 'schema'").flatMap { Int($0) }
            if let stored, stored > VaultStore.schemaVersion { throw VaultStore.Failure.newerSchema(stored) }
            if stored == nil {
                try db.execute(sql: "INSERT INTO meta (key, value) VALUES ('schema', ?)", arguments: [Array(String(VaultStore.schemaVersion).utf8)])
            }
            // As for a file: an initialised vault whose trail is gone was damaged, and is not started again.
            let keyring = try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM meta WHERE key = 'keyring')") ?? false
            let trail = try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM audit)") ?? false
            if keyring && !trail {
                throw VaultStore.Failure.damaged("its audit trail is empty (an initialised vault's trail starts with VaultInitialize)")
            }
        }
        lockReadsHead = true
    }

    deinit {
        for c in idle { Self.discard(c) }
        try? group.syncShutdownGracefully()
    }

    static let schema = [
        "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY NOT NULL, value BYTEA NOT NULL)",
        """
        CREATE TABLE IF NOT EXISTS secrets (
            name_key TEXT PRIMARY KEY NOT NULL, name TEXT NOT NULL,
            deleted BIGINT, purge_at BIGINT, deleted_by TEXT)
        """,
        "CREATE INDEX IF NOT EXISTS secrets_purge ON secrets (purge_at) WHERE purge_at IS NOT NULL",
        """
        CREATE TABLE IF NOT EXISTS secret_versions (
            name_key TEXT NOT NULL, version TEXT NOT NULL, seq BIGINT NOT NULL,
            envelope BYTEA NOT NULL, content_type TEXT, tags TEXT NOT NULL DEFAULT '{}',
            enabled BIGINT NOT NULL DEFAULT 1, nbf BIGINT, exp BIGINT,
            created BIGINT NOT NULL, updated BIGINT NOT NULL,
            PRIMARY KEY (name_key, version))
        """,
        "CREATE UNIQUE INDEX IF NOT EXISTS secret_versions_order ON secret_versions (name_key, seq)",
        """
        CREATE TABLE IF NOT EXISTS audit (
            seq BIGINT PRIMARY KEY, time BYTEA NOT NULL, caller BYTEA NOT NULL, operation BYTEA NOT NULL,
            secret_name BYTEA, secret_version BYTEA, result BYTEA NOT NULL, source BYTEA NOT NULL,
            prev_hash BYTEA NOT NULL, hash BYTEA NOT NULL,
            count BIGINT NOT NULL DEFAULT 1, format BIGINT NOT NULL DEFAULT 1)
        """,
        "CREATE TABLE IF NOT EXISTS audit_checkpoints (seq BIGINT PRIMARY KEY, hash BYTEA NOT NULL, signature BYTEA NOT NULL)",
        """
        CREATE TABLE IF NOT EXISTS principals (
            object_id TEXT PRIMARY KEY NOT NULL, kind TEXT NOT NULL, name TEXT NOT NULL,
            client_id TEXT UNIQUE, secret_hash BYTEA, password_hash BYTEA,
            enabled BIGINT NOT NULL DEFAULT 1, created BIGINT NOT NULL)
        """,
        "CREATE UNIQUE INDEX IF NOT EXISTS principals_name ON principals (lower(name))",
        """
        CREATE TABLE IF NOT EXISTS app_certificates (
            object_id TEXT NOT NULL, thumbprint_sha1 TEXT NOT NULL, thumbprint_sha256 TEXT NOT NULL, der BYTEA NOT NULL,
            PRIMARY KEY (object_id, thumbprint_sha256))
        """,
        """
        CREATE TABLE IF NOT EXISTS role_definitions (
            id TEXT PRIMARY KEY NOT NULL, name TEXT NOT NULL,
            data_actions TEXT NOT NULL, not_data_actions TEXT NOT NULL)
        """,
        "CREATE UNIQUE INDEX IF NOT EXISTS role_definitions_name ON role_definitions (lower(name))",
        """
        CREATE TABLE IF NOT EXISTS role_assignments (
            id TEXT PRIMARY KEY NOT NULL, role_id TEXT NOT NULL, principal_id TEXT NOT NULL, scope TEXT NOT NULL,
            created BIGINT NOT NULL)
        """,
        "CREATE INDEX IF NOT EXISTS role_assignments_principal ON role_assignments (principal_id)",
        // The write lock and the trail's head in one round trip. The head is read after the lock is held, by a
        // query of its own inside a VOLATILE function, which (under READ COMMITTED) takes a fresh snapshot: it
        // sees every record committed by the writer the lock waited for. (A plain `SELECT lock, head` would read
        // the head in a snapshot taken before the wait.) `seq` is the trail's primary key besides, so a stale
        // head could only fail an append, never fork the chain.
        """
        CREATE OR REPLACE FUNCTION arca_write_lock() RETURNS TABLE (seq BIGINT, hash BYTEA)
        LANGUAGE plpgsql VOLATILE AS $$
        BEGIN
            PERFORM pg_advisory_xact_lock(\(writeLock));
            RETURN QUERY SELECT a.seq, a.hash FROM audit a ORDER BY a.seq DESC LIMIT 1;
        END
        $$
        """,
        // A batch of audit records (and checkpoints) in one round trip (``appendOnly(_:)``): under the write
        // lock, appended only if the trail's head is still the one they were chained on and `meta` still holds
        // what the batch's jobs assumed (``SQLConnection/expectMeta(_:is:)``), and committed before the call
        // answers (a procedure's own COMMIT, so the answer never leaves ahead of the flush). Otherwise nothing
        // is written: the head found is returned for the caller to chain again, or `stale` is set.
        """
        CREATE OR REPLACE PROCEDURE arca_append(
            INOUT appended BOOLEAN, INOUT stale BOOLEAN, INOUT found_seq BIGINT, INOUT found_hash BYTEA,
            expected_seq BIGINT, expected_hash BYTEA, meta_keys TEXT[], meta_values BYTEA[], meta_present BOOLEAN[],
            seqs BIGINT[], times BYTEA[], callers BYTEA[], operations BYTEA[], names BYTEA[], named BOOLEAN[],
            versions BYTEA[], versioned BOOLEAN[], results BYTEA[], sources BYTEA[], counts BIGINT[], formats BIGINT[],
            prev_hashes BYTEA[], hashes BYTEA[], cp_seqs BIGINT[], cp_hashes BYTEA[], cp_signatures BYTEA[])
        LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_advisory_xact_lock(\(writeLock));
            SELECT a.seq, a.hash INTO found_seq, found_hash FROM audit a ORDER BY a.seq DESC LIMIT 1;
            appended := false;
            stale := false;
            IF found_seq IS DISTINCT FROM expected_seq OR found_hash IS DISTINCT FROM expected_hash THEN
                RETURN;
            END IF;
            IF EXISTS (SELECT 1 FROM unnest(meta_keys, meta_values, meta_present) AS e(k, v, p)
                       WHERE (SELECT m.value FROM meta m WHERE m.key = e.k) IS DISTINCT FROM CASE WHEN e.p THEN e.v END) THEN
                stale := true;
                RETURN;
            END IF;
            INSERT INTO audit (seq, time, caller, operation, secret_name, secret_version, result, source, count, format,
                               prev_hash, hash)
            SELECT r.s, r.t, r.c, r.o, CASE WHEN r.hn THEN r.n END, CASE WHEN r.hv THEN r.v END, r.res, r.src, r.cnt,
                   r.fmt, r.ph, r.h
            FROM unnest(seqs, times, callers, operations, names, named, versions, versioned, results, sources, counts,
                        formats, prev_hashes, hashes) AS r(s, t, c, o, n, hn, v, hv, res, src, cnt, fmt, ph, h);
            INSERT INTO audit_checkpoints (seq, hash, signature)
            SELECT p.s, p.h, p.sig FROM unnest(cp_seqs, cp_hashes, cp_signatures) AS p(s, h, sig)
            ON CONFLICT ON CONSTRAINT audit_checkpoints_pkey DO UPDATE SET hash = excluded.hash, signature = excluded.signature;
            appended := true;
            COMMIT;
        END
        $$
        """,
    ]

    // MARK: - Transactions

    public func write<T>(_ body: (any SQLConnection) throws -> T) throws -> T {
        try transaction(begin: "BEGIN", lock: true, body)
    }

    public func read<T>(_ body: (any SQLConnection) throws -> T) throws -> T {
        try transaction(begin: "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", lock: false, body)
    }

    /// The trail's head after this node's last commit under the write lock (nil before the first): what an
    /// audit-only batch chains on (``appendOnly(_:)``).
    let knownHead = NIOLockedValueBox<(sequence: UInt64, hash: [UInt8])?>(nil)
    /// Audit-only batches sent as one call, and those sent again because another node had appended first.
    public let appendCounts = NIOLockedValueBox((appended: 0, chainedAgain: 0))
    /// An audit-only batch is chained again at most this often before it takes the write transaction's path.
    static let appendAttempts = 3

    /// Each statement is its own snapshot here, without `BEGIN` and `COMMIT`.
    public var readsOneCheaply: Bool { true }

    public func readOne<T>(_ body: (any SQLConnection) throws -> T) throws -> T {
        let connection = try checkOut()
        let db = PostgresSQLConnection(connection, backend: self, timeout: Self.readStatementTimeout)
        do {
            let result = try body(db)
            checkIn(connection)
            return result
        } catch {
            // No transaction is left open by a statement on its own: the connection is kept unless it broke.
            settle(connection, db)
            throw error
        }
    }

    /// A connection after a failure: dropped if it broke, kept otherwise — inside a transaction (`rollingBack`)
    /// only once it is rolled back (past the request's deadline too), since a failed statement leaves the
    /// transaction aborted; a statement on its own leaves none.
    private func settle(_ connection: Link, _ db: PostgresSQLConnection, rollingBack: Bool = false) {
        if db.isLost {
            drop(connection)
            // A lost connection mostly means the server went away: the idle ones are from before too, and each
            // could hold the next request until its statement timeout.
            dropIdle()
        } else if !connection.isClosed, !rollingBack || (try? RequestDeadline.run(by: nil, { try db.run("ROLLBACK", []) })) != nil {
            checkIn(connection)
        } else {
            drop(connection)
        }
    }

    /// An audit-only batch (a group commit of reads' records) in one round trip instead of five or more:
    /// its records are chained on the head this node last saw, collected instead of sent, and handed to
    /// `arca_append`, which appends them under the write lock only if that head is still the trail's (and
    /// commits before it answers). Another node's append in between sends the head found back, and the batch is
    /// chained on it again. Before the first write, after three such races, or for a body that asks for
    /// anything else (``NeedsWriteTransaction``), the batch runs as an ordinary ``write(_:)``.
    public func appendOnly<T>(_ body: (any SQLConnection) throws -> T) throws -> T {
        for _ in 0..<Self.appendAttempts {
            guard lockReadsHead, let head = knownHead.withLockedValue({ $0 }) else { break }
            let connection = try checkOut()
            let db = PostgresSQLConnection(connection, backend: self, timeout: statementTimeout)
            let batch = PostgresSQLConnection.Batch()
            db.batch = batch
            db.memo.remember(auditSequence: head.sequence, hash: head.hash)
            let result: T
            do {
                result = try body(db)
            } catch is NeedsWriteTransaction {
                checkIn(connection)
                break
            } catch {
                // Nothing was sent: the body's own failure.
                checkIn(connection)
                throw error
            }
            guard !batch.records.isEmpty || !batch.checkpoints.isEmpty else {
                checkIn(connection)
                return result
            }
            let row: PostgresRow?
            do {
                db.batch = nil
                row = try db.run(Self.appendCall(expected: head, batch)).rows.first
            } catch {
                settle(connection, db)
                throw error
            }
            checkIn(connection)
            guard let row else { throw VaultStore.Failure.database("arca_append answered no row") }
            let (appended, stale, seq, hash) = try row.decode((Bool, Bool, Int64?, ByteBuffer?).self)
            // What a job assumed no longer holds: each is checked on its own in a transaction.
            if stale { break }
            if appended {
                if let last = db.memo.head { knownHead.withLockedValue { $0 = last } }
                appendCounts.withLockedValue { $0.appended += 1 }
                return result
            }
            appendCounts.withLockedValue { $0.chainedAgain += 1 }
            let found = seq.map { (UInt64($0), hash.map { Array($0.readableBytesView) } ?? []) }
            knownHead.withLockedValue { $0 = found }
        }
        return try write(body)
    }

    /// The `CALL` of `arca_append` for `batch`, chained on `expected`.
    static func appendCall(expected: (sequence: UInt64, hash: [UInt8]), _ batch: PostgresSQLConnection.Batch) -> PostgresQuery {
        var binds = PostgresBindings(capacity: 22)
        binds.append(Int64(expected.sequence))
        binds.append(ByteBuffer(bytes: expected.hash))
        let expectations = batch.expectations.sorted { $0.key < $1.key }
        binds.append(expectations.map(\.key))
        binds.append(expectations.map { ByteBuffer(bytes: $0.value ?? []) })
        binds.append(expectations.map { $0.value != nil })
        func integers(_ rows: [[SQLValue]], _ i: Int) -> [Int64] {
            rows.map { if case .integer(let v) = $0[i] { return v } else { return 0 } }
        }
        func blobs(_ rows: [[SQLValue]], _ i: Int) -> [ByteBuffer] {
            rows.map { row in
                switch row[i] {
                case .blob(let b): return ByteBuffer(bytes: b)
                case .text(let t): return ByteBuffer(string: t)
                default: return ByteBuffer()
                }
            }
        }
        func present(_ rows: [[SQLValue]], _ i: Int) -> [Bool] {
            rows.map { if case .null = $0[i] { return false } else { return true } }
        }
        // ``AuditSQL/record``'s argument order.
        let r = batch.records
        binds.append(integers(r, 0))
        for i in 1...3 { binds.append(blobs(r, i)) }
        binds.append(blobs(r, 4))
        binds.append(present(r, 4))
        binds.append(blobs(r, 5))
        binds.append(present(r, 5))
        for i in 6...7 { binds.append(blobs(r, i)) }
        for i in 8...9 { binds.append(integers(r, i)) }
        for i in 10...11 { binds.append(blobs(r, i)) }
        // One checkpoint per record (the last stored wins, as the upsert would).
        var seen = Set<Int64>()
        let c = batch.checkpoints.reversed().filter { row in
            if case .integer(let s) = row[0] { return seen.insert(s).inserted }
            return true
        }.reversed().map { $0 }
        binds.append(integers(c, 0))
        binds.append(blobs(c, 1))
        binds.append(blobs(c, 2))
        let placeholders = (1...binds.count).map { "$\($0)" }.joined(separator: ", ")
        return PostgresQuery(unsafeSQL: "CALL arca_append(NULL, NULL, NULL, NULL, \(placeholders))", binds: binds)
    }

    public func copy(into path: String) throws {
        throw VaultError.badParameter("a vault on PostgreSQL is backed up with pg_dump (the sealed keyring is in the database): see docs/vault.md")
    }

    /// Every session sets `synchronous_commit` back on (``sessionSettings``); `fsync = off` is the server's and
    /// cannot be: `serve` warns of it.
    public func isDurable() throws -> Bool {
        let settings = try read { db in
            try String.fetchOne(db, sql: "SELECT current_setting('synchronous_commit') || ' ' || current_setting('fsync')")
        }
        return settings.map { !$0.split(separator: " ").contains("off") } ?? false
    }

    func transaction<T>(begin: String, lock: Bool, _ body: (any SQLConnection) throws -> T) throws -> T {
        let connection = try checkOut()
        let db = PostgresSQLConnection(connection, backend: self, timeout: lock ? statementTimeout : Self.readStatementTimeout)
        do {
            try db.run(begin, [])
            if lock && lockReadsHead {
                if let head = try SQLRow.fetchOne(db, sql: "SELECT seq, hash FROM arca_write_lock()") {
                    db.memo.remember(auditSequence: UInt64(head["seq"] as Int64), hash: Array(head["hash"] as Data))
                }
            } else if lock {
                try db.run("SELECT pg_advisory_xact_lock(\(Self.writeLock))", [])
            }
            let result = try body(db)
            try db.run("COMMIT", [])
            checkIn(connection)
            if lock, let head = db.memo.head { knownHead.withLockedValue { $0 = head } }
            return result
        } catch {
            // A failed statement leaves the transaction aborted: roll it back, and drop a connection that broke
            // (never waiting on one that did: its answer may never come). PostgreSQL's own failures were mapped
            // where they happened (`run`); anything else is the body's (an unknown caller, a barrier's refusal)
            // and reaches the caller as it is, never as "unavailable".
            settle(connection, db, rollingBack: true)
            throw error
        }
    }

    func checkOut() throws -> Link {
        let wait = RequestDeadline.bound(Self.connectWait)
        let deadline = Date(timeIntervalSinceNow: wait.seconds)
        let reuse: Link?? = lock.withLock {
            while true {
                while let c = idle.popLast() {
                    if !c.isClosed { return c }
                    opened -= 1
                }
                if opened < maxConnections {
                    opened += 1
                    nextID += 1
                    return .some(nil)
                }
                if !lock.wait(until: deadline) { return nil }
            }
        }
        guard let reuse else {
            if wait.byDeadline { throw RequestDeadline.passed("waiting for one of this node's \(maxConnections) connections to PostgreSQL") }
            throw VaultStore.Failure.unavailable("all \(maxConnections) of this node's connections to PostgreSQL stayed busy for \(Int(Self.connectWait)) s (raise max_connections in the address, and PostgreSQL's own)")
        }
        if let reuse { return reuse }
        let id = lock.withLock { nextID }
        let link: Link
        do {
            let loop = group.next()
            let connecting: EventLoopFuture<PostgresConnection>
            if let nameChecked {
                let (configuration, logger) = (configuration, logger)
                connecting = NameCheckedTLS.channel(host: nameChecked.host, port: configuration.port ?? 5432,
                                                    context: nameChecked.context, on: loop).flatMap { channel in
                    var c = PostgresConnection.Configuration(establishedChannel: channel, username: configuration.username,
                                                             password: configuration.password, database: configuration.database)
                    c.options = configuration.options
                    return PostgresConnection.connect(on: loop, configuration: c, id: id, logger: logger)
                }
            } else {
                connecting = PostgresConnection.connect(on: loop, configuration: configuration, id: id, logger: logger)
            }
            do {
                link = try Link(Self.wait(connecting, seconds: RequestDeadline.bound(Self.connectWait), what: "connect"))
            } catch {
                // A connection that comes up after this wait gave up (a server that hung, then went on) is
                // closed, never dropped open: postgres-nio traps on a connection freed unclosed.
                connecting.whenSuccess { late in Self.discard(Link(late)) }
                throw error
            }
        } catch {
            release()
            throw Self.failure(error)
        }
        do {
            try Self.wait(link.connection.query(Self.sessionSettings, logger: logger), seconds: RequestDeadline.bound(Self.connectWait), what: "connect", on: link)
        } catch {
            drop(link)
            throw Self.failure(error)
        }
        return link
    }

    /// Run once on each new connection: a commit is answered only once it is on disk, whatever the server's,
    /// database's or role's `synchronous_commit` says (`off` becomes `on`, PostgreSQL's default, for this session;
    /// `local`, `remote_write`, `on` and `remote_apply` all flush the commit locally and are kept).
    ///
    /// And a node that stops mid-transaction (a paused VM, a SIGSTOP) must not hold the write lock, and with it
    /// every node's writes and audited reads, for as long as it is stopped: PostgreSQL ends a session idle in a
    /// transaction for 5 s (this side never pauses between a transaction's statements), and gives
    /// up a lock wait after the write statement's bound, as this side does (a waiter this side abandoned would
    /// otherwise queue on for the lock).
    static let sessionSettings: PostgresQuery = """
        SELECT CASE WHEN current_setting('synchronous_commit') = 'off' THEN set_config('synchronous_commit', 'on', false)
                    ELSE current_setting('synchronous_commit') END,
               set_config('idle_in_transaction_session_timeout', '5s', false),
               set_config('lock_timeout', '10s', false)
        """

    func checkIn(_ c: Link) {
        let keep = lock.withLock { () -> Bool in
            guard idle.count < Self.maxIdle else { return false }
            idle.append(c)
            lock.signal()
            return true
        }
        if !keep { drop(c) }
    }

    /// A connection of the count is gone (closed, or never opened).
    private func release() {
        lock.withLock {
            opened -= 1
            lock.signal()
        }
    }

    /// Closes every idle connection.
    func dropIdle() {
        let stale = lock.withLock { () -> [Link] in
            defer { opened -= idle.count; idle = []; lock.broadcast() }
            return idle
        }
        for c in stale { Self.discard(c) }
    }

    /// Drops a connection that broke, or whose transaction could not be rolled back.
    func drop(_ c: Link) {
        release()
        Self.discard(c)
    }

    /// Closes `c`, keeping it alive until the close completes (postgres-nio requires it closed before it goes).
    static func discard(_ c: Link) {
        let closing: EventLoopFuture<Void> = c.connection.close()
        closing.whenComplete { _ in withExtendedLifetime(c) {} }
    }

    /// A connection, and the statement waiting on it now: the connection's close fails that statement at once
    /// (one callback per connection, not one per statement).
    final class Link: Sendable {
        let connection: PostgresConnection
        let pending = NIOLockedValueBox<(@Sendable () -> Void)?>(nil)
        init(_ connection: PostgresConnection) {
            self.connection = connection
            connection.closeFuture.whenComplete { [pending] _ in pending.withLockedValue { $0 }?() }
        }
        var isClosed: Bool { connection.isClosed }
    }

    struct Timeout: Error, CustomStringConvertible {
        var what: String
        var seconds: Double
        var byDeadline: Bool
        var description: String {
            byDeadline ? "PostgreSQL did not answer (\(what)) before the request's deadline"
                : "PostgreSQL did not answer (\(what)) within \(Int(seconds.rounded())) s"
        }
    }

    /// Waits for `future`, at most `seconds`: a server that stops answering (a half-open connection, a
    /// restart) fails the request instead of holding it, and with it the group commit, forever.
    ///
    /// `link`: the connection the query runs on. A query pending when its connection closes (PostgreSQL killed) was seen
    /// to stay pending until the timeout, holding the group commit: it fails as soon as the connection is gone.
    @discardableResult
    static func wait<T: Sendable>(_ future: EventLoopFuture<T>, seconds bound: (seconds: Double, byDeadline: Bool), what: String,
                                  on link: Link? = nil) throws -> T {
        let loop = future.eventLoop
        let promise = loop.makePromise(of: T.self)
        let settled = NIOLockedValueBox(false)
        let settle = { @Sendable (result: Result<T, any Error>) in
            guard settled.withLockedValue({ done in defer { done = true }; return !done }) else { return }
            promise.completeWith(result)
        }
        let timer = loop.scheduleTask(in: .nanoseconds(Int64(bound.seconds * 1e9))) {
            settle(.failure(Timeout(what: what, seconds: bound.seconds, byDeadline: bound.byDeadline)))
        }
        if let link {
            let lost = { @Sendable in settle(.failure(VaultStore.Failure.unavailable("the connection to PostgreSQL closed during \(what)"))) }
            link.pending.withLockedValue { $0 = lost }
            // Closed before the watch was set: its callback has run already.
            if link.isClosed { lost() }
        }
        future.whenComplete { result in settle(result) }
        let result = promise.futureResult
        result.whenComplete { _ in timer.cancel() }
        defer { link?.pending.withLockedValue { $0 = nil } }
        return try result.wait()
    }

    /// SQLSTATE classes that mean "try again": connection exceptions (08), a server shutting down or
    /// starting (57P01-57P03), serialisation failures and deadlocks (40001, 40P01), too many connections (53300),
    /// a lock not had within `lock_timeout` (55P03), a session ended for idling in a transaction (25P03).
    static let retryable: Set<String> = ["57P01", "57P02", "57P03", "40001", "40P01", "53300", "53000", "55P03", "25P03"]

    static let noTLS = "PostgreSQL does not accept TLS, and the address's sslmode requires it: turn ssl on in postgresql.conf, or use sslmode=prefer"

    /// A failed TLS handshake, as callers are told it. A TLS alert about a certificate (unknown CA, bad,
    /// required, expired, revoked, unsupported) was sent by the server, which refused what this side sent:
    /// past this side's own check of the server's certificate, that is the client certificate (or its absence).
    static func tlsFailure(_ tls: any Error) -> VaultStore.Failure {
        let text = "\(tls)"
        if !(tls is NIOSSLExtraError), text.contains("ALERT") && (text.contains("UNKNOWN_CA") || text.contains("CERTIFICATE")) {
            return .database("PostgreSQL refused the TLS connection (\(tls)): the server does not accept the client certificate (sslcert) sent, or wants one; check it against the server's ssl_ca_file")
        }
        return .database("TLS to PostgreSQL failed (\(tls)): check sslrootcert and that the server's certificate names the address's host")
    }

    static func failure(_ error: any Error) -> any Error {
        switch error {
        case is VaultStore.Failure, is VaultError, is NoVault: return error
        case let e as Timeout: return VaultStore.Failure.unavailable(e.description)
        case let e as NameCheckedTLS.Refusal: return VaultStore.Failure.database(e.description)
        case is NIOSSLError, is BoringSSLError, is NIOSSLExtraError:
            // From a name-checked connection's own handshake (postgres-nio wraps the others).
            return tlsFailure(error)
        case let e as PSQLError:
            if e.code == .server, let state = e.serverInfo?[.sqlState] {
                let message = e.serverInfo?[.message] ?? "error \(state)"
                if state.hasPrefix("08") || retryable.contains(state) { return VaultStore.Failure.unavailable("PostgreSQL: \(message)") }
                if state == "XX001" || state == "XX002" { return VaultStore.Failure.damaged("PostgreSQL reports corrupted data (\(message))") }
                // PostgreSQL tells a client certificate that names another user as a failed password.
                if state.hasPrefix("28") {
                    return VaultStore.Failure.database("PostgreSQL refused the sign-in: \(message) (\(state)); check the address's user and password, and the client certificate (sslcert) if pg_hba.conf asks for one")
                }
                return VaultStore.Failure.database("PostgreSQL: \(message) (\(state))")
            }
            if e.code == .sslUnsupported { return VaultStore.Failure.database(noTLS) }
            if let tls = e.underlying, tls is NIOSSLError || tls is BoringSSLError || tls is NIOSSLExtraError {
                return tlsFailure(tls)
            }
            if [.connectionError, .serverClosedConnection, .clientClosedConnection, .uncleanShutdown].contains(e.code) {
                return VaultStore.Failure.unavailable("the connection to PostgreSQL was lost (\(e.code))")
            }
            if e.code == .authMechanismRequiresPassword {
                return VaultStore.Failure.database("PostgreSQL asks for a password and none was given: set PGPASSWORD (or put it in the address)")
            }
            if [.unsupportedAuthMechanism, .saslError].contains(e.code) {
                return VaultStore.Failure.database("PostgreSQL refused the sign-in (\(e.code)): check the address's user and password")
            }
            return VaultStore.Failure.database("PostgreSQL: \(e.code)")
        default:
            // Connect failures (refused, reset, timed out) are NIO's errors.
            return VaultStore.Failure.unavailable("cannot reach PostgreSQL: \(Address.redacted(String(describing: error)))")
        }
    }
}

/// One transaction on a PostgreSQL connection: the core's `?` placeholders become `$1…$n`.
final class PostgresSQLConnection: SQLConnection {
    let link: PostgresBackend.Link
    unowned let backend: PostgresBackend
    private(set) var changesCount = 0
    private var savepoints = 0
    let memo = TransactionMemo()
    /// Set once a statement found the server gone or silent: every later statement of this transaction (the
    /// next job of a group commit, a savepoint's rollback) fails at once with it instead of waiting out the
    /// statement timeout again on a connection that will never answer.
    private var lost: (any Error)?

    var isLost: Bool { lost != nil }

    let timeout: Double

    init(_ link: PostgresBackend.Link, backend: PostgresBackend, timeout: Double) {
        self.link = link
        self.backend = backend
        self.timeout = timeout
    }

    nonisolated(unsafe) static var translated: [String: String] = [:]
    static let translatedLock = NSLock()

    /// `?` outside quotes → `$n` (the core's SQL has no `?` in a literal, but quotes are honoured anyway).
    static func translate(_ sql: String) -> String {
        if let hit = translatedLock.withLock({ translated[sql] }) { return hit }
        var out = "", n = 0, quoted = false
        for ch in sql {
            if ch == "'" { quoted.toggle() }
            if ch == "?" && !quoted {
                n += 1
                out += "$\(n)"
            } else {
                out.append(ch)
            }
        }
        translatedLock.withLock { if translated.count < 1024 { translated[sql] = out } }
        return out
    }

    /// What an audit-only batch (``PostgresBackend/appendOnly(_:)``) collected instead of sending: the
    /// arguments of each ``AuditSQL`` statement.
    final class Batch {
        var records: [[SQLValue]] = []
        var checkpoints: [[SQLValue]] = []
        /// What its jobs assumed `meta` holds (``SQLConnection/expectMeta(_:is:)``), checked inside the call.
        var expectations: [String: [UInt8]?] = [:]
    }

    func expectMeta(_ key: String, is value: [UInt8]?) throws {
        guard let batch else { return try expectMetaByReading(key, is: value) }
        // Two jobs that assumed different things are decided one by one, in a transaction.
        if let other = batch.expectations[key], other != value { throw NeedsWriteTransaction() }
        batch.expectations[key] = value
    }

    /// Set while collecting an audit-only batch: the two audit statements are collected, anything else is
    /// ``NeedsWriteTransaction`` (nothing was sent).
    var batch: Batch?

    @discardableResult
    func run(_ sql: String, _ arguments: [any SQLArgument]) throws -> PostgresQueryResult {
        if batch != nil { throw NeedsWriteTransaction() }
        var binds = PostgresBindings(capacity: arguments.count)
        for a in arguments {
            switch a.sqlValue {
            case .null: binds.appendNull()
            case .integer(let i): binds.append(i)
            case .text(let s): binds.append(s)
            case .blob(let b): binds.append(ByteBuffer(bytes: b))
            }
        }
        return try run(PostgresQuery(unsafeSQL: Self.translate(sql), binds: binds))
    }

    func run(_ query: PostgresQuery) throws -> PostgresQueryResult {
        if let lost { throw lost }
        // Nothing is sent past the request's deadline (the transaction is rolled back, the connection kept).
        if RequestDeadline.isPast { throw RequestDeadline.passed("before a statement to PostgreSQL was sent") }
        do {
            return try PostgresBackend.wait(link.connection.query(query, logger: backend.logger), seconds: RequestDeadline.bound(timeout), what: "a statement",
                                            on: link)
        } catch {
            let failure = PostgresBackend.failure(error)
            if case VaultStore.Failure.unavailable = failure { lost = failure }
            throw failure
        }
    }

    func execute(sql: String, arguments: [any SQLArgument]) throws {
        if let batch {
            switch sql {
            case AuditSQL.record: batch.records.append(arguments.map(\.sqlValue))
            case AuditSQL.checkpoint: batch.checkpoints.append(arguments.map(\.sqlValue))
            default: throw NeedsWriteTransaction()
            }
            changesCount = 1
            return
        }
        let result = try run(sql, arguments)
        changesCount = result.metadata.rows ?? 0
    }

    func query(sql: String, arguments: [any SQLArgument]) throws -> [SQLRow] {
        try run(sql, arguments).rows.map { row in
            var names: [String] = [], values: [SQLValue] = []
            for cell in row {
                names.append(cell.columnName)
                values.append(Self.value(cell))
            }
            return SQLRow(names: names, values: values)
        }
    }

    static func value(_ cell: PostgresCell) -> SQLValue {
        guard var bytes = cell.bytes else { return .null }
        switch cell.dataType {
        case .int8, .int4, .int2: return (try? cell.decode(Int64.self)).map { .integer($0) } ?? .null
        case .bool: return (try? cell.decode(Bool.self)).map { .integer($0 ? 1 : 0) } ?? .null
        case .bytea: return .blob(bytes.readBytes(length: bytes.readableBytes) ?? [])
        default: return (try? cell.decode(String.self)).map { .text($0) } ?? .blob(bytes.readBytes(length: bytes.readableBytes) ?? [])
        }
    }

    func inSavepointReturning<T>(_ body: () throws -> T) throws -> T {
        if let batch {
            // Collected, not sent: rolling back is forgetting what the body collected (and its head).
            let (records, checkpoints, expectations, head) = (batch.records.count, batch.checkpoints.count, batch.expectations, memo.head)
            do {
                return try body()
            } catch {
                batch.records.removeSubrange(records...)
                batch.checkpoints.removeSubrange(checkpoints...)
                batch.expectations = expectations
                if let head { memo.remember(auditSequence: head.sequence, hash: head.hash) } else { memo.forget() }
                throw error
            }
        }
        savepoints += 1
        let name = "s\(savepoints)"
        try run("SAVEPOINT \(name)", [])
        do {
            let value = try body()
            try run("RELEASE SAVEPOINT \(name)", [])
            return value
        } catch {
            memo.forget()
            try run("ROLLBACK TO SAVEPOINT \(name)", [])
            try run("RELEASE SAVEPOINT \(name)", [])
            throw error
        }
    }
}

/// `verify-full` to a host name, as libpq checks it: the certificate must name the host among its DNS names
/// (its common name only when it has no alternative names); an IP address entry never stands for a name. NIOSSL's own check
/// also accepts an IP address entry that matches the address the name resolved to, so the channel is set up
/// here — PostgreSQL's SSLRequest, the TLS handshake (chain checked), then this name check — and postgres-nio
/// signs in over it only once it passed: nothing, not even the user name, is sent to a server that failed.
enum NameCheckedTLS {
    struct Refusal: Error, CustomStringConvertible {
        let description: String
    }

    static func channel(host: String, port: Int, context: NIOSSLContext, on loop: any EventLoop) -> EventLoopFuture<any Channel> {
        let answered = loop.makePromise(of: UInt8.self)
        let handshake = loop.makePromise(of: Void.self)
        return ClientBootstrap(group: loop)
            .connectTimeout(.seconds(5))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(SSLAnswer(answered)) }
            }
            .connect(host: host, port: port)
            .flatMap { channel in
                // PostgreSQL's SSLRequest: length 8, code 80877103; the server answers one byte, S or N.
                var request = channel.allocator.buffer(capacity: 8)
                request.writeInteger(Int32(8))
                request.writeInteger(Int32(80_877_103))
                channel.writeAndFlush(request, promise: nil)
                return answered.futureResult.flatMapThrowing { byte -> any Channel in
                    guard byte == UInt8(ascii: "S") else {
                        throw Refusal(description: PostgresBackend.noTLS)
                    }
                    let tls = try NIOSSLClientHandler(context: context, serverHostname: host)
                    try channel.pipeline.syncOperations.addHandlers([tls, Handshake(handshake)])
                    return channel
                }
                .flatMap { channel in handshake.futureResult.map { channel } }
                .flatMapThrowing { channel -> any Channel in
                    let tls = try channel.pipeline.syncOperations.handler(type: NIOSSLClientHandler.self)
                    guard let leaf = tls.peerCertificate else { throw Refusal(description: "TLS to PostgreSQL failed: the server sent no certificate") }
                    try check(leaf, names: host)
                    let handshakeWatch = try channel.pipeline.syncOperations.handler(type: Handshake.self)
                    channel.pipeline.syncOperations.removeHandler(handshakeWatch, promise: nil)
                    return channel
                }
                .flatMapErrorThrowing { error in
                    channel.close(promise: nil)
                    throw error
                }
            }
    }

    /// The DNS names of the subject alternative names (a leading `*.` matches one label), or the common name
    /// of a certificate without that extension (RFC 6125; an IP address entry never stands for a name).
    static func check(_ leaf: NIOSSLCertificate, names host: String) throws {
        let certificate = try Certificate(derEncoded: leaf.toDERBytes())
        var names: [String] = []
        let alternatives = try certificate.extensions.subjectAlternativeNames
        for name in alternatives.map(Array.init) ?? [] {
            if case .dnsName(let dns) = name { names.append(dns) }
        }
        if alternatives == nil {
            for rdn in certificate.subject {
                for attribute in rdn where attribute.type == .RDNAttributeType.commonName {
                    if let cn = String(attribute.value) { names.append(cn) }
                }
            }
        }
        let wanted = host.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "."))
        let matches = names.contains { name in
            let name = name.lowercased()
            if name.hasPrefix("*.") {
                guard let dot = wanted.firstIndex(of: ".") else { return false }
                return wanted[wanted.index(after: dot)...] == name.dropFirst(2)
            }
            return name == wanted
        }
        guard matches else {
            throw Refusal(description: "TLS to PostgreSQL failed: the server's certificate does not name \(host) (it names \(names.isEmpty ? "no host" : names.joined(separator: ", "))); sslmode=verify-full checks the address's host name against the certificate's DNS names, as libpq does")
        }
    }

    /// The server's one-byte answer to the SSLRequest, after which this handler leaves the pipeline.
    final class SSLAnswer: ChannelInboundHandler, RemovableChannelHandler {
        typealias InboundIn = ByteBuffer
        let promise: EventLoopPromise<UInt8>
        init(_ promise: EventLoopPromise<UInt8>) { self.promise = promise }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var buffer = unwrapInboundIn(data)
            guard let byte = buffer.readInteger(as: UInt8.self) else { return }
            // Anything after the byte would be a server speaking before the handshake: refused, as libpq does.
            guard buffer.readableBytes == 0 else {
                promise.fail(Refusal(description: "PostgreSQL sent data before the TLS handshake (refused)"))
                return
            }
            context.pipeline.syncOperations.removeHandler(self, promise: nil)
            promise.succeed(byte)
        }
        func errorCaught(context: ChannelHandlerContext, error: any Error) { promise.fail(error) }
        func channelInactive(context: ChannelHandlerContext) {
            promise.fail(Refusal(description: "PostgreSQL closed the connection before answering the TLS request"))
        }
    }

    /// Waits for the TLS handshake (or its failure).
    final class Handshake: ChannelInboundHandler, RemovableChannelHandler {
        typealias InboundIn = ByteBuffer
        let promise: EventLoopPromise<Void>
        init(_ promise: EventLoopPromise<Void>) { self.promise = promise }
        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if case TLSUserEvent.handshakeCompleted = event { promise.succeed(()) }
            context.fireUserInboundEventTriggered(event)
        }
        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            promise.fail(error)
            context.fireErrorCaught(error)
        }
        func channelInactive(context: ChannelHandlerContext) {
            promise.fail(Refusal(description: "TLS to PostgreSQL failed: the server closed the connection during the handshake"))
            context.fireChannelInactive()
        }
    }
}

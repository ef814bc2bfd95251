import Foundation

// The vault core's storage protocol. The core writes portable SQL (`?` placeholders, `INSERT … ON CONFLICT`,
// no engine-specific functions) against ``SQLConnection``; a ``StorageBackend`` runs it on one engine:
// SQLite (one file, the embedded default: ``SQLiteBackend``) or PostgreSQL (several servers on one database:
// the ArcaVaultPostgres target). Whatever the engine, it stores only what the barrier sealed.

/// A value bound to or read from a statement.
public enum SQLValue: Sendable, Equatable {
    case null
    case integer(Int64)
    case text(String)
    case blob([UInt8])
}

/// What can be bound to a `?`.
public protocol SQLArgument { var sqlValue: SQLValue { get } }

extension String: SQLArgument { public var sqlValue: SQLValue { .text(self) } }
extension Int: SQLArgument { public var sqlValue: SQLValue { .integer(Int64(self)) } }
extension Int64: SQLArgument { public var sqlValue: SQLValue { .integer(self) } }
extension Bool: SQLArgument { public var sqlValue: SQLValue { .integer(self ? 1 : 0) } }
extension Data: SQLArgument { public var sqlValue: SQLValue { .blob(Array(self)) } }
extension Array: SQLArgument where Element == UInt8 { public var sqlValue: SQLValue { .blob(self) } }
extension Optional: SQLArgument where Wrapped: SQLArgument { public var sqlValue: SQLValue { self?.sqlValue ?? .null } }
extension SQLValue: SQLArgument { public var sqlValue: SQLValue { self } }

/// What a column can be read as. A column of another type reads as ``absent`` (never a trap: the core only
/// reads columns it wrote, and a damaged value must not crash a server).
public protocol SQLColumn {
    static func decode(_ value: SQLValue) -> Self?
    static var absent: Self { get }
}

extension String: SQLColumn {
    public static func decode(_ v: SQLValue) -> String? {
        switch v {
        case .text(let s): return s
        case .blob(let b): return String(decoding: b, as: UTF8.self)
        case .integer(let i): return String(i)
        case .null: return nil
        }
    }
    public static var absent: String { "" }
}

extension Int64: SQLColumn {
    public static func decode(_ v: SQLValue) -> Int64? {
        switch v {
        case .integer(let i): return i
        case .text(let s): return Int64(s)
        default: return nil
        }
    }
    public static var absent: Int64 { 0 }
}

extension Int: SQLColumn {
    public static func decode(_ v: SQLValue) -> Int? { Int64.decode(v).map { Int(truncatingIfNeeded: $0) } }
    public static var absent: Int { 0 }
}

extension Bool: SQLColumn {
    public static func decode(_ v: SQLValue) -> Bool? { Int64.decode(v).map { $0 != 0 } }
    public static var absent: Bool { false }
}

extension Data: SQLColumn {
    public static func decode(_ v: SQLValue) -> Data? {
        switch v {
        case .blob(let b): return Data(b)
        case .text(let s): return Data(s.utf8)
        default: return nil
        }
    }
    public static var absent: Data { Data() }
}

extension Optional: SQLColumn where Wrapped: SQLColumn {
    public static func decode(_ v: SQLValue) -> Optional<Wrapped>? {
        if case .null = v { return .some(nil) }
        return Wrapped.decode(v).map { .some($0) }
    }
    public static var absent: Optional<Wrapped> { nil }
}

/// One result row, its columns by name.
public struct SQLRow: Sendable {
    public let names: [String]
    public let values: [SQLValue]

    public init(names: [String], values: [SQLValue]) {
        self.names = names
        self.values = values
    }

    public func value(_ name: String) -> SQLValue {
        guard let i = names.firstIndex(of: name) else { return .null }
        return values[i]
    }

    public subscript<T: SQLColumn>(_ name: String) -> T {
        T.decode(value(name)) ?? T.absent
    }

    public static func fetchOne(_ db: any SQLConnection, sql: String, arguments: [any SQLArgument] = []) throws -> SQLRow? {
        try db.query(sql: sql, arguments: arguments).first
    }

    public static func fetchAll(_ db: any SQLConnection, sql: String, arguments: [any SQLArgument] = []) throws -> [SQLRow] {
        try db.query(sql: sql, arguments: arguments)
    }
}

extension SQLColumn {
    /// The first column of the first row (nil without a row or for NULL).
    public static func fetchOne(_ db: any SQLConnection, sql: String, arguments: [any SQLArgument] = []) throws -> Self? {
        guard let row = try db.query(sql: sql, arguments: arguments).first, let v = row.values.first else { return nil }
        return Self.decode(v)
    }

    public static func fetchAll(_ db: any SQLConnection, sql: String, arguments: [any SQLArgument] = []) throws -> [Self] {
        try db.query(sql: sql, arguments: arguments).compactMap { $0.values.first.flatMap(Self.decode) }
    }
}

/// One transaction on the vault's storage, as the core sees it.
public protocol SQLConnection: AnyObject {
    /// Runs a statement; ``changesCount`` is then the number of rows it changed.
    func execute(sql: String, arguments: [any SQLArgument]) throws
    func query(sql: String, arguments: [any SQLArgument]) throws -> [SQLRow]
    var changesCount: Int { get }
    /// Runs `body` in a savepoint: a throw rolls back only what `body` wrote (and ``memo``'s knowledge of it),
    /// and propagates.
    func inSavepointReturning<T>(_ body: () throws -> T) throws -> T
    /// What this transaction knows of its own writes; one per transaction.
    var memo: TransactionMemo { get }
    /// Fails with ``StaleAssumption`` unless `meta`'s `key` holds `value` (nil: no such row) now, in this write
    /// transaction: what a decision taken without reading assumed (a cached directory generation) still holds
    /// at the commit. An audit-only batch may check it inside its one call.
    func expectMeta(_ key: String, is value: [UInt8]?) throws
}

/// What an operation assumed without reading (``SQLConnection/expectMeta(_:is:)``) no longer holds: it is
/// decided again on a read.
public struct StaleAssumption: Error {
    public let key: String
    public init(key: String) { self.key = key }
}

extension SQLConnection {
    public func expectMeta(_ key: String, is value: [UInt8]?) throws { try expectMetaByReading(key, is: value) }

    /// ``expectMeta(_:is:)`` as one read.
    public func expectMetaByReading(_ key: String, is value: [UInt8]?) throws {
        let now = try Data.fetchOne(self, sql: "SELECT value FROM meta WHERE key = ?", arguments: [key]).map { Array($0) }
        guard now == value else { throw StaleAssumption(key: key) }
    }
}

/// What a transaction learned of its own writes, so that it need not read them back: the audit trail's head
/// after its last append (a group commit's records then chain without a round trip each to PostgreSQL).
/// Forgotten whenever a savepoint rolls back.
public final class TransactionMemo {
    var auditHead: AuditLog.Head?
    public init() {}
    public func forget() { auditHead = nil }
    /// The trail's head as this transaction last knew it (nil once forgotten).
    public var head: (sequence: UInt64, hash: [UInt8])? { auditHead.map { ($0.sequence, $0.hash) } }
    /// The trail's head as the storage read it under the write lock (PostgreSQL's lock statement returns it).
    public func remember(auditSequence: UInt64, hash: [UInt8]) { auditHead = AuditLog.Head(sequence: auditSequence, hash: hash) }
}

extension SQLConnection {
    public func execute(sql: String) throws { try execute(sql: sql, arguments: []) }
}

extension StorageBackend {
    public func appendOnly<T>(_ body: (any SQLConnection) throws -> T) throws -> T { try write(body) }
    public func readOne<T>(_ body: (any SQLConnection) throws -> T) throws -> T { try read(body) }
    public var readsOneCheaply: Bool { false }
}

/// Thrown by a connection of ``StorageBackend/appendOnly(_:)`` at a statement it cannot send in its one
/// round trip (nothing was sent): the backend runs the body again as a ``StorageBackend/write(_:)``. Passed
/// through as it is by everything between.
public struct NeedsWriteTransaction: Error {
    public init() {}
}

/// Where a vault's rows live. Writes are serialised (one writer at a time, across every process sharing the
/// storage) and durable before `write` returns; reads see a consistent snapshot. Failures are
/// ``VaultStore/Failure`` values.
public protocol StorageBackend: Sendable {
    /// For messages: the file's path or the database's address (never a password).
    var location: String { get }
    func write<T>(_ body: (any SQLConnection) throws -> T) throws -> T
    /// A write whose body only appends to the audit trail (``AuditSQL``'s two statements, through
    /// `execute`), as a group commit of reads' records does. An engine that can send such a batch as one
    /// statement does (PostgreSQL: one round trip instead of one per statement); a body that asks for anything
    /// else there is stopped with ``NeedsWriteTransaction`` before anything was sent, and run as ``write(_:)``.
    /// `body` may therefore run more than once, and must leave nothing behind but its statements.
    func appendOnly<T>(_ body: (any SQLConnection) throws -> T) throws -> T
    func read<T>(_ body: (any SQLConnection) throws -> T) throws -> T
    /// A read of one statement (more only on its failures), which needs no transaction of its own: an engine
    /// may send it alone (PostgreSQL: no `BEGIN` and `COMMIT`, two round trips fewer). Whatever it decided on
    /// besides must be checked at the commit that answers for it (``SQLConnection/expectMeta(_:is:)``).
    func readOne<T>(_ body: (any SQLConnection) throws -> T) throws -> T
    /// Whether ``readOne(_:)`` saves anything over ``read(_:)`` here (the vault then takes it for secret reads).
    var readsOneCheaply: Bool { get }
    /// A consistent copy of everything into the (empty) file at `path`, if the engine can make one.
    func copy(into path: String) throws
    /// Whether a write is committed with the durability the vault promises (for the test of the pitfall).
    func isDurable() throws -> Bool
}

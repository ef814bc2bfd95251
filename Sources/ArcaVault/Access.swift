import Foundation

/// Decides whether a caller may perform an operation. The vault asks before it looks anything up, so a
/// caller without rights cannot learn whether a secret exists.
public protocol Authorizer: Sendable {
    /// Throws when it cannot tell (the directory cannot be read): that is the storage's failure, never a denial.
    func allows(_ caller: Principal, _ operation: VaultOperation) throws -> Bool
    /// The same decision, read in `db`: the snapshot the operation itself then reads (a secret read makes one
    /// read transaction, not two, and is decided on the state it reads).
    func allows(_ caller: Principal, _ operation: VaultOperation, in db: any SQLConnection) throws -> Bool
    /// The decision from what this process cached of the directory, without a read, and the directory
    /// generation it holds for: the caller then checks at its commit that the generation is still that one
    /// (``SQLConnection/expectMeta(_:is:)``), and decides again on a read if not. Nil when nothing is cached (or
    /// the caller is unknown or disabled there).
    func cachedDecision(_ caller: Principal, _ operation: VaultOperation) -> (allowed: Bool, generation: Data?)?
}

extension Authorizer {
    public func cachedDecision(_ caller: Principal, _ operation: VaultOperation) -> (allowed: Bool, generation: Data?)? { nil }

    public func allows(_ caller: Principal, _ operation: VaultOperation, in db: any SQLConnection) throws -> Bool {
        try allows(caller, operation)
    }
}

/// The signed-in caller is unknown or disabled now (removed or disabled after its token was issued, perhaps by
/// another process or node): a failed sign-in (the server answers 401), not a denial.
public struct UnknownCaller: Error, Sendable {}

extension Principal {
    /// The local operator (the vault file's owner) or Arca's own retention: may do all, without a lookup.
    var isTrusted: Bool { kind == .localOperator || kind == .system }
}

/// Embedded mode: the local operator owns the vault file and may do everything; nobody else is served.
public struct LocalOperatorAuthorizer: Authorizer {
    public init() {}
    public func allows(_ caller: Principal, _ operation: VaultOperation) -> Bool {
        caller.isTrusted
    }
}


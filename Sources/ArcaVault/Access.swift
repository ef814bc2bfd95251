/// Decides whether a caller may perform an operation. The vault asks before it looks anything up, so a
/// caller without rights cannot learn whether a secret exists.
public protocol Authorizer: Sendable {
    /// Throws when it cannot tell (the directory cannot be read): that is the storage's failure, never a denial.
    func allows(_ caller: Principal, _ operation: VaultOperation) throws -> Bool
}

/// Embedded mode: the local operator owns the vault file and may do everything; nobody else is served.
public struct LocalOperatorAuthorizer: Authorizer {
    public init() {}
    public func allows(_ caller: Principal, _ operation: VaultOperation) -> Bool {
        caller.kind == .localOperator || caller.kind == .system
    }
}


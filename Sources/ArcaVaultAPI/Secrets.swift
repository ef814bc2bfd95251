import Foundation

/// A secret version's attributes, as Azure Key Vault names them (times are Unix seconds).
public struct SecretAttributes: Sendable, Equatable {
    public var enabled: Bool
    /// `nbf`: advisory, as in Azure Key Vault (reads still succeed).
    public var notBefore: Int64?
    /// `exp`: advisory, as in Azure Key Vault.
    public var expires: Int64?
    public var created: Int64
    public var updated: Int64
    /// Days a deleted secret stays recoverable (7-90).
    public var recoverableDays: Int

    public init(enabled: Bool, notBefore: Int64?, expires: Int64?, created: Int64, updated: Int64, recoverableDays: Int) {
        self.enabled = enabled
        self.notBefore = notBefore
        self.expires = expires
        self.created = created
        self.updated = updated
        self.recoverableDays = recoverableDays
    }

    /// Azure's `recoveryLevel` for soft delete with purge allowed (`Customized…` below 90 days).
    public var recoveryLevel: String {
        recoverableDays >= 90 ? "Recoverable+Purgeable" : "CustomizedRecoverable+Purgeable"
    }
}

/// Everything about a secret version except its value.
public struct SecretProperties: Sendable, Equatable {
    public var name: String
    public var version: String
    public var contentType: String?
    public var tags: [String: String]
    public var attributes: SecretAttributes

    public init(name: String, version: String, contentType: String?, tags: [String: String], attributes: SecretAttributes) {
        self.name = name
        self.version = version
        self.contentType = contentType
        self.tags = tags
        self.attributes = attributes
    }
}

/// A secret version with its value (the value is nil where Azure Key Vault's answer has none).
public struct SecretBundle: Sendable, Equatable {
    public var properties: SecretProperties
    public var value: String?

    public init(properties: SecretProperties, value: String?) {
        self.properties = properties
        self.value = value
    }
}

/// A soft-deleted secret: its latest version's properties and when it will be purged.
public struct DeletedSecret: Sendable, Equatable {
    public var properties: SecretProperties
    public var deletedDate: Int64
    public var scheduledPurgeDate: Int64

    public init(properties: SecretProperties, deletedDate: Int64, scheduledPurgeDate: Int64) {
        self.properties = properties
        self.deletedDate = deletedDate
        self.scheduledPurgeDate = scheduledPurgeDate
    }
}

/// One page of a list; `nextToken` (opaque) continues it.
public struct Page<Item: Sendable>: Sendable {
    public var items: [Item]
    public var nextToken: String?

    public init(items: [Item], nextToken: String?) {
        self.items = items
        self.nextToken = nextToken
    }
}

/// Optional fields of a set or an update; nil leaves a field as it is (or at its default on set).
public struct SecretOptions: Sendable, Equatable {
    public var contentType: String?
    public var tags: [String: String]?
    public var enabled: Bool?
    public var notBefore: Int64?
    public var expires: Int64?

    public init(contentType: String? = nil, tags: [String: String]? = nil, enabled: Bool? = nil,
                notBefore: Int64? = nil, expires: Int64? = nil) {
        self.contentType = contentType
        self.tags = tags
        self.enabled = enabled
        self.notBefore = notBefore
        self.expires = expires
    }
}


/// Key Vault's secret names: 1–127 of `0-9 a-z A-Z -`.
public enum SecretName {
    public static func isValid(_ name: String) -> Bool {
        let u = name.utf8
        return (1...127).contains(u.count) && u.allSatisfy {
            ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5a) || ($0 >= 0x61 && $0 <= 0x7a) || $0 == 0x2d
        }
    }
}

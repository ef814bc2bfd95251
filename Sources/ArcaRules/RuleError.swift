/// A rule file or rule that cannot be used. The description names the file, the line, the rule and the field.
public struct RuleError: Error, CustomStringConvertible, Sendable, Equatable {
    public var file: String?
    public var line: Int?
    public var ruleID: String?
    public var field: String?
    public var message: String

    public init(file: String? = nil, line: Int? = nil, ruleID: String? = nil, field: String? = nil, message: String) {
        self.file = file
        self.line = line
        self.ruleID = ruleID
        self.field = field
        self.message = message
    }

    public var description: String {
        var s = ""
        if let file { s += file + (line.map { ":\($0)" } ?? "") + ": " }
        if let ruleID { s += "rule '\(ruleID)': " }
        if let field { s += "field '\(field)': " }
        return s + message
    }
}

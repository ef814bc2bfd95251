import Foundation

/// PHP: `arca_secret("name")` with `require_once __DIR__ . "/arca_vault.php";` (concatenation in strings).
struct PHP: LanguageSupport {
    let id = LanguageID.php
    let extensions = ["php"]
    let helperFile = "arca_vault.php"
    var concat: String { " . " }
    var quotes: Set<Unicode.Scalar> { ["\"", "'"] }

    func lookup(_ name: String, quote: String) -> String { "arca_secret(\(quoted(name, quote)))" }
    func interpolates(body: String, quote: String, prefix: String) -> Bool { quote == "\"" && body.contains("$") }
    func importLine(file: String, text: String) -> String? { "require_once __DIR__ . \"/arca_vault.php\";" }
    /// After `<?php`, `declare(strict_types=1);` and a `namespace X;` line (each must come first), over the blank
    /// and comment lines between them.
    func importOffset(_ s: [Unicode.Scalar]) -> Int {
        let starts = Languages.lineStarts(s)
        var after = 0
        for (i, start) in starts.enumerated() {
            let end = i + 1 < starts.count ? starts[i + 1] : s.count
            let t = String(String.UnicodeScalarView(s[start..<end])).trimmingCharacters(in: .whitespacesAndNewlines)
            if t.hasPrefix("<?php") || t.hasPrefix("declare(") || (t.hasPrefix("namespace ") && t.hasSuffix(";")) {
                after = end
            } else if !(t.isEmpty || t.hasPrefix("//") || t.hasPrefix("#") || t.hasPrefix("/*") || t.hasPrefix("*")) {
                break
            }
        }
        return after
    }
    var envReads: [String] {
        let q = #"(["'])NAME\1"#
        return [#"getenv\(\s*"# + q + #"\s*\)"#, #"\$_ENV\[\s*"# + q + #"\s*\]"#, #"\$_SERVER\[\s*"# + q + #"\s*\]"#]
    }

    func check(_ files: [Plan.File], project: Project, style: HelperStyle) -> [Verifier.Check] {
        files.flatMap { project.check([$0.path], "php", ["-l", project.path($0.path)], shown: "php -l") }
    }
}

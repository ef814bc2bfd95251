import Foundation

/// sh, bash, zsh: `"$(arca_secret name)"` from `arca-vault.sh` (curl), sourced from the script's own folder; every
/// lookup stops the script when it fails.
struct Shell: LanguageSupport {
    let id = LanguageID.shell
    let extensions = ["sh", "bash", "zsh", "ksh"]
    let helperFile = "arca-vault.sh"
    var quotes: Set<Unicode.Scalar> { ["\"", "'"] }

    func lookup(_ name: String, quote: String) -> String { "\"$(arca_secret \(name))\"" }
    func interpolated(quote: String, prefix: String, name: String) -> String? { quote == "\"" ? "$(arca_secret \(name))" : nil }
    func interpolates(body: String, quote: String, prefix: String) -> Bool { quote == "\"" && body.contains("$") }
    func multiline(quote: String) -> Bool { false }
    /// The file's own folder: `BASH_SOURCE` in bash (also when the file is sourced by a script elsewhere), `$0` in
    /// sh and zsh.
    func importLine(file: String, text: String) -> String? { ". \"$(dirname \"${BASH_SOURCE:-$0}\")/arca-vault.sh\"" }
    func importOffset(_ s: [Unicode.Scalar]) -> Int {
        Languages.offsetAfterLeading(s) { t, line in line == 0 && t.hasPrefix("#!") || (t.hasPrefix("set -") && line < 3) }
    }
    var envReads: [String] { [#"\$\{NAME\}"#, #"\$NAME(?![A-Za-z0-9_])"#] }
    func envReplacement(_ name: String) -> String { "$(arca_secret \(name))" }

    /// A copy of the helper beside each script that sources this file too: `BASH_SOURCE` names the file itself,
    /// but in sh (dash) `$0` is the script that sourced it.
    func extraHelpers(for file: String, text: String, style: HelperStyle, project: Project) -> [Helper] {
        let name = (file as NSString).lastPathComponent
        var folders: Set<String> = []
        for other in project.files(withExtensions: extensions) where other != file {
            guard let body = try? String(contentsOfFile: project.path(other), encoding: .utf8), body.contains(name) else { continue }
            let sources = body.split(separator: "\n").contains { line in
                let t = line.trimmingCharacters(in: .whitespaces)
                return (t.hasPrefix(". ") || t.hasPrefix("source ")) && t.contains(name)
            }
            if sources { folders.insert(Languages.folder(of: other)) }
        }
        folders.remove(Languages.folder(of: file))
        return folders.sorted().map { Helper(path: $0 + helperFile, content: Languages.helperSource(helperFile, style: style)) }
    }

    func adjust(_ edits: [Edit], scalars: [Unicode.Scalar], file: String, style: HelperStyle, project: Project) -> [Edit] {
        Self.stops(scalars, edits)
    }

    /// `bash -n` (or `sh -n` for a POSIX script).
    func check(_ files: [Plan.File], project: Project, style: HelperStyle) -> [Verifier.Check] {
        files.flatMap { file -> [Verifier.Check] in
            let shebang = file.new.split(separator: "\n").first.map(String.init) ?? ""
            let shell = shebang.contains("bash") || file.path.hasSuffix(".bash") ? "bash" : shebang.contains("zsh") ? "zsh" : "sh"
            return project.check([file.path], shell, ["-n", project.path(file.path)], shown: "\(shell) -n")
        }
    }

    static func lineStarts(_ s: [Unicode.Scalar]) -> [Int] { Languages.lineStarts(s) }

    /// Shell: a failed lookup must stop the script. A command substitution's status is lost in `export`,
    /// `readonly`, `local`, in an argument and in a string, and even a plain assignment only stops a script under
    /// `set -e`; so `export X="$(arca_secret x)"` becomes `X="$(arca_secret x)" || exit 1; export X`, `local X=…`
    /// becomes `local X; X=… || exit 1`, a plain assignment gets `|| exit 1`, and a lookup anywhere else is
    /// hoisted to a line of its own before the command (`_arca_x="$(arca_secret x)" || exit 1`) and read from
    /// that variable. Valid in sh, bash and zsh, with or without `set -u`.
    static func stops(_ s: [Unicode.Scalar], _ edits: [Edit]) -> [Edit] {
        var out = edits
        var added: [Edit] = []
        var hoisted: [Int: [String]] = [:]  // line start → assignments to put before it
        func lineBounds(_ i: Int) -> (Int, Int) {
            var a = i, b = i
            while a > 0, s[a - 1] != "\n" { a -= 1 }
            while b < s.count, s[b] != "\n" { b += 1 }
            return (a, b)
        }
        func text(_ a: Int, _ b: Int) -> String { String(String.UnicodeScalarView(s[a..<b])) }
        let lookup = #/\$\(arca_secret ([0-9A-Za-z-]+)\)/#
        let heredocs = Self.heredocBodies(s)
        for (k, e) in edits.enumerated() where e.with.contains("$(arca_secret ") {
            let (start, end) = lineBounds(e.lo)
            let before = text(start, e.lo), after = text(e.hi, end)
            let restIsEmpty = after.trimmingCharacters(in: .whitespaces).isEmpty || after.trimmingCharacters(in: .whitespaces).hasPrefix("#")
            let oneLookup = e.with.matches(of: lookup).count == 1 && !before.contains("$(") && !before.contains("`")
            let inHeredoc = heredocs.contains { $0.contains(start) }
            if !inHeredoc, restIsEmpty, oneLookup,
               let m = before.wholeMatch(of: #/(?<indent>[ \t]*)(?<keyword>(?:export|readonly|local|declare|typeset)(?:[ \t]+-[A-Za-z]+)*[ \t]+)?(?<name>[A-Za-z_][A-Za-z0-9_]*)=/#),
               !(m.output.keyword ?? "").split(separator: " ").dropFirst().contains(where: { $0.hasPrefix("-") && $0.contains("r") }) {
                let name = String(m.output.name)
                let stop = e.hi
                let keyword = m.output.keyword.map(String.init) ?? ""
                let keywordStart = start + m.output.indent.unicodeScalars.count
                if keyword.hasPrefix("export") || keyword.hasPrefix("readonly") {
                    // The status survives only without the builtin: assign, stop on failure, then mark the name.
                    added.append(Edit(lo: keywordStart, hi: keywordStart + keyword.unicodeScalars.count, with: "", old: [.text(keyword)]))
                    added.append(Edit(lo: stop, hi: stop, with: " || exit 1; \(keyword.trimmingCharacters(in: .whitespaces)) \(name)", old: []))
                } else if !keyword.isEmpty {
                    let nameStart = keywordStart + keyword.unicodeScalars.count
                    added.append(Edit(lo: nameStart, hi: nameStart, with: "\(name); ", old: []))
                    added.append(Edit(lo: stop, hi: stop, with: " || exit 1", old: []))
                } else {
                    added.append(Edit(lo: stop, hi: stop, with: " || exit 1", old: []))
                }
                continue
            }
            // Anywhere else: the lookup moves to a line of its own before the command that uses it.
            guard let commandStart = Self.commandStart(s, line: start, heredocs: heredocs), e.lo > commandStart else { continue }
            let indent = text(commandStart, lineBounds(commandStart).1).prefix { $0 == " " || $0 == "\t" }
            var with = e.with
            for m in e.with.matches(of: lookup) {
                let secret = String(m.output.1)
                let variable = "_arca_" + secret.replacingOccurrences(of: "-", with: "_")
                with = with.replacingOccurrences(of: String(m.output.0), with: "${\(variable)}")
                let line = "\(indent)\(variable)=\"$(arca_secret \(secret))\" || exit 1\n"
                if !(hoisted[commandStart] ?? []).contains(line) { hoisted[commandStart, default: []].append(line) }
            }
            // Inside a here-document's body quotes are text: a bare word made into "$(…)" would print them.
            if heredocs.contains(where: { $0.contains(e.lo) }), s[e.lo] != "\"", with.count >= 2,
               with.hasPrefix("\""), with.hasSuffix("\""), !with.dropFirst().dropLast().contains("\"") {
                with = String(with.dropFirst().dropLast())
            }
            out[k].with = with
        }
        for (at, lines) in hoisted { added.append(Edit(lo: at, hi: at, with: lines.joined(), old: [])) }
        return out + added
    }

    /// The offset where the command holding `line` starts: earlier lines that end in `\`, `|`, `&&` or `||`
    /// continue into it, and a heredoc body belongs to the line that opened it. Nil where a line of its own
    /// cannot go before it (a `case` pattern such as `prod) …`).
    static func commandStart(_ s: [Unicode.Scalar], line: Int, heredocs: [Range<Int>]) -> Int? {
        func lineStart(_ i: Int) -> Int {
            var a = i
            while a > 0, s[a - 1] != "\n" { a -= 1 }
            return a
        }
        var start = line
        if let body = heredocs.first(where: { $0.contains(start) }) { start = lineStart(body.lowerBound - 1) }
        while start > 0 {
            let previousStart = lineStart(start - 1)
            let previous = String(String.UnicodeScalarView(s[previousStart..<(start - 1)])).trimmingCharacters(in: .whitespaces)
            guard previous.hasSuffix("\\") || previous.hasSuffix("|") || previous.hasSuffix("&&") else { break }
            start = previousStart
        }
        var end = start
        while end < s.count, s[end] != "\n" { end += 1 }
        let first = String(String.UnicodeScalarView(s[start..<end])).trimmingCharacters(in: .whitespaces)
        return first.firstMatch(of: #/^[^\s()"'=]+\)/#) != nil ? nil : start
    }

    /// The scalar ranges of heredoc bodies (`<<EOF` … `EOF`, `<<-EOF` with tabs), so nothing is inserted there.
    static func heredocBodies(_ s: [Unicode.Scalar]) -> [Range<Int>] {
        let text = String(String.UnicodeScalarView(s))
        var out: [Range<Int>] = []
        var offset = 0
        var waiting: [(String, Bool)] = []
        var bodyStart = 0
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let count = line.unicodeScalars.count
            if let (delimiter, tabs) = waiting.first {
                let t = tabs ? String(line.drop { $0 == "\t" }) : String(line)
                if t == delimiter {
                    out.append(bodyStart..<offset)
                    waiting.removeFirst()
                    bodyStart = offset + count + 1
                }
            } else {
                for m in line.matches(of: #/<<(-?)[ \t]*["']?([A-Za-z_][A-Za-z0-9_]*)["']?/#) {
                    waiting.append((String(m.output.2), !m.output.1.isEmpty))
                }
                bodyStart = offset + count + 1
            }
            offset += count + 1
        }
        return out
    }

}

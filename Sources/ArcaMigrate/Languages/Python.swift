import Foundation

/// Python: `arca_secret("name")`, imported relative to the package the file is in (or beside a script), so
/// `python -m pkg.app`, `import pkg.settings` and `python pkg/script.py` all find the helper.
struct Python: LanguageSupport {
    let id = LanguageID.python
    let extensions = ["py"]
    let helperFile = "arca_vault.py"
    var quotes: Set<Unicode.Scalar> { ["\"", "'"] }

    func lookup(_ name: String, quote: String) -> String { "arca_secret(\(quoted(name, quote)))" }

    func interpolated(quote: String, prefix: String, name: String) -> String? {
        prefix.lowercased().contains("f") ? "{arca_secret(\(quote.hasPrefix("'") ? "\"\(name)\"" : "'\(name)'"))}" : nil
    }

    func interpolates(body: String, quote: String, prefix: String) -> Bool { prefix.lowercased().contains("f") && body.contains("{") }

    /// Relative inside a package (the helper sits in the same folder), else from the script's own folder.
    func importLine(file: String, text: String) -> String? {
        "try:\n    from .arca_vault import secret as arca_secret\nexcept ImportError:\n    from arca_vault import secret as arca_secret"
    }

    var envReads: [String] {
        let q = #"(["'])NAME\1"#
        return [#"os\.environ\[\s*"# + q + #"\s*\]"#, #"(?:os\.environ|environ)\.get\(\s*"# + q + #"\s*(?:,[^()\n]*)?\)"#,
                #"os\.getenv\(\s*"# + q + #"\s*(?:,[^()\n]*)?\)"#]
    }

    /// After a shebang, encoding line, module docstring, `from __future__` imports and leading comments.
    func importOffset(_ s: [Unicode.Scalar]) -> Int {
        let starts = Languages.lineStarts(s)
        func text(_ i: Int) -> String {
            let end = i + 1 < starts.count ? starts[i + 1] - 1 : s.count
            return String(String.UnicodeScalarView(s[starts[i]..<max(starts[i], end)]))
        }
        var line = 0
        var docstringSeen = false
        while line < starts.count {
            let t = text(line).trimmingCharacters(in: .whitespaces)
            if !docstringSeen, let q = ["\"\"\"", "'''"].first(where: { t.hasPrefix($0) || t.hasPrefix("r" + $0) }) {
                docstringSeen = true
                var rest = String(t.dropFirst(t.hasPrefix("r") ? 4 : 3))
                while !rest.contains(q), line + 1 < starts.count {
                    line += 1
                    rest = text(line)
                }
            } else if !(t.hasPrefix("#") || t.hasPrefix("from __future__") || (t.isEmpty && !docstringSeen)) {
                break
            }
            line += 1
        }
        return line < starts.count ? starts[line] : s.count
    }

    /// A parse, then an import of the module under its package name with the project's root on the path (the
    /// helper's `secret` answered by a stand-in, so nothing is looked up): a helper the import cannot find fails.
    func check(_ files: [Plan.File], project: Project, style: HelperStyle) -> [Verifier.Check] {
        files.flatMap { file -> [Verifier.Check] in
            let parse = project.check([file.path], "python3", ["-c", "import ast,sys; ast.parse(open(sys.argv[1], encoding='utf-8').read(), sys.argv[1])", project.path(file.path)],
                                      shown: "python3 (parse)")
            guard parse.allSatisfy(\.passed), parse.first?.tool != nil else { return parse }
            let (base, module) = Self.module(file.path, project: project)
            let imported = project.check([file.path], "python3", ["-B", "-c", Self.importer, project.path(base), module],
                                         cwd: project.path(base), shown: "python3 (import \(module))", timeout: 60)
            return Project.combine([parse, imported])
        }
    }

    /// The folder the module's top package sits in, and its dotted name (`billing/settings.py` with
    /// `billing/__init__.py` → ("", "billing.settings")).
    static func module(_ path: String, project: Project) -> (base: String, name: String) {
        var parts = [((path as NSString).lastPathComponent as NSString).deletingPathExtension]
        var folder = Languages.folder(of: path)
        while !folder.isEmpty, project.exists(folder + "__init__.py") {
            parts.insert((String(folder.dropLast()) as NSString).lastPathComponent, at: 0)
            folder = Languages.folder(of: String(folder.dropLast()))
        }
        if parts.last == "__init__" { parts.removeLast() }
        return (folder.isEmpty ? "." : String(folder.dropLast()), parts.joined(separator: "."))
    }

    /// Imports argv[2] with argv[1] first on the path; every `arca_vault` module is found where Python would
    /// find it, then answered by a stand-in.
    static let importer = """
        import importlib, importlib.abc, importlib.machinery, importlib.util, sys
        sys.path.insert(0, sys.argv[1])
        class Finder(importlib.abc.MetaPathFinder):
            def find_spec(self, fullname, path, target=None):
                if fullname.rsplit('.', 1)[-1] != 'arca_vault':
                    return None
                spec = importlib.machinery.PathFinder.find_spec(fullname, path)
                if spec is None:
                    return None
                class Stand(importlib.abc.Loader):
                    def create_module(self, spec):
                        return None
                    def exec_module(self, module):
                        module.secret = lambda name: 'arca-check-' + name
                return importlib.util.spec_from_loader(fullname, Stand(), origin=spec.origin)
        sys.meta_path.insert(0, Finder())
        importlib.import_module(sys.argv[2])
        """
}

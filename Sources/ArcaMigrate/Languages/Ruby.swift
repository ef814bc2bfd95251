import Foundation

/// Ruby: `ArcaVault.secret("name")` with `require_relative "arca_vault"`.
struct Ruby: LanguageSupport {
    let id = LanguageID.ruby
    let extensions = ["rb"]
    let helperFile = "arca_vault.rb"
    var quotes: Set<Unicode.Scalar> { ["\"", "'"] }

    func lookup(_ name: String, quote: String) -> String { "ArcaVault.secret(\(quoted(name, quote)))" }
    func interpolated(quote: String, prefix: String, name: String) -> String? { quote == "\"" ? "#{ArcaVault.secret(\"\(name)\")}" : nil }
    func interpolates(body: String, quote: String, prefix: String) -> Bool { quote == "\"" && body.contains("#{") }
    func importLine(file: String, text: String) -> String? { "require_relative \"arca_vault\"" }
    func importOffset(_ s: [Unicode.Scalar]) -> Int { Languages.offsetAfterLeading(s) { t, _ in t.hasPrefix("#") } }
    var envReads: [String] {
        let q = #"(["'])NAME\1"#
        return [#"ENV\[\s*"# + q + #"\s*\]"#, #"ENV\.fetch\(\s*"# + q + #"\s*(?:,[^()\n]*)?\)"#]
    }

    /// `ruby -c`, then loading the file with the helper answered by a stand-in (once `require_relative` has
    /// found it).
    func check(_ files: [Plan.File], project: Project, style: HelperStyle) -> [Verifier.Check] {
        files.flatMap { file -> [Verifier.Check] in
            let syntax = project.check([file.path], "ruby", ["-c", project.path(file.path)], shown: "ruby -c")
            guard syntax.allSatisfy(\.passed), syntax.first?.tool != nil else { return syntax }
            let script = """
                module ArcaVault; def self.secret(name); "arca-check-#{name}"; end; end
                module Kernel
                  alias_method :arca_check_require_relative, :require_relative
                  def require_relative(path)
                    if File.basename(path, ".rb") == "arca_vault"
                      base = File.dirname(caller_locations(1, 1)[0].absolute_path)
                      full = File.expand_path(path.end_with?(".rb") ? path : path + ".rb", base)
                      raise LoadError, "cannot load such file -- #{full}" unless File.exist?(full)
                      return true
                    end
                    arca_check_require_relative(File.expand_path(path, File.dirname(caller_locations(1, 1)[0].absolute_path)))
                  end
                end
                load ARGV[0]
                """
            let loaded = project.check([file.path], "ruby", ["-e", script, project.path(file.path)],
                                       cwd: project.path(Languages.folder(of: file.path)), shown: "ruby (load)", timeout: 60)
            return Project.combine([syntax, loaded])
        }
    }
}

import Foundation
import Testing
@testable import ArcaRules
@testable import ArcaScan

/// Archives and compressed files: every format libarchive reads is opened and its members scanned through the
/// one gate, with the member's path under the archive's; every limit is a named skip, never a crash or an
/// out-of-memory. The fixtures are built here with Python's standard library (zipfile, tarfile, gzip, bz2,
/// lzma), from secrets written for these tests.
@Suite struct ArchiveTests {
    static let envScript = "#!/bin/sh\nexport AWS_ACCESS_KEY_ID=AKIAQX3MZ7RTB4KJ5N2W\nexport AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYzq8Tq3Vb2Z\n"
    static let netrc = "machine api.example.com\n  login deploy\n  password Zq8vT3mW9kLp2xRb\n"

    /// Runs `script` (Python) in `dir` with the fixtures' texts as variables `ENV` and `NETRC`.
    static func python(_ script: String, in dir: String) throws {
        let prelude = "import zipfile, tarfile, gzip, bz2, lzma, io, os\nENV = \(pyString(envScript))\nNETRC = \(pyString(netrc))\n"
        let r = try Fixtures.run("/usr/bin/env", ["python3", "-c", prelude + script], cwd: dir)
        #expect(r.status == 0, "python: \(r.err)")
    }

    static func pyString(_ s: String) -> String {
        "'" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\n", with: "\\n") + "'"
    }

    static let buildAll = """
    def tar(name, mode):
        with tarfile.open(name, mode) as t:
            for member, text in (('deploy/env.sh', ENV), ('home/.netrc', NETRC)):
                data = text.encode()
                info = tarfile.TarInfo(member); info.size = len(data)
                t.addfile(info, io.BytesIO(data))
    with zipfile.ZipFile('bundle.zip', 'w', zipfile.ZIP_DEFLATED) as z:
        z.writestr('deploy/env.sh', ENV); z.writestr('home/.netrc', NETRC)
    with zipfile.ZipFile('app.jar', 'w', zipfile.ZIP_DEFLATED) as z:
        z.writestr('META-INF/MANIFEST.MF', 'Manifest-Version: 1.0\\n')
        z.writestr('com/acme/App.class', b'\\xca\\xfe\\xba\\xbe\\x00\\x00\\x00\\x3d' + b'\\x00' * 64)
        z.writestr('application.properties', 'spring.datasource.password=Zq8vT3mW9kLp2xRb\\n')
    tar('plain.tar', 'w'); tar('site.tar.gz', 'w:gz'); tar('site.tgz', 'w:gz')
    tar('site.tar.bz2', 'w:bz2'); tar('site.tar.xz', 'w:xz')
    open('env.sh.gz', 'wb').write(gzip.compress(ENV.encode()))
    open('env.sh.bz2', 'wb').write(bz2.compress(ENV.encode()))
    open('env.sh.xz', 'wb').write(lzma.compress(ENV.encode()))
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, 'w') as z: z.writestr('deploy/env.sh', ENV)
    with tarfile.open('nested.tar.gz', 'w:gz') as t:
        info = tarfile.TarInfo('release/inner.zip'); info.size = len(inner.getvalue())
        t.addfile(info, io.BytesIO(inner.getvalue()))
    """

    @Test func everyFormatIsOpenedAndItsMembersFoundUnderTheArchivesPath() throws {
        let tree = TempTree()
        try Self.python(Self.buildAll, in: tree.path)
        let result = try Fixtures.scan(tree)
        let found = Set(result.findings.map { "\($0.path):\($0.line) \($0.ruleID)" })
        for archive in ["bundle.zip", "plain.tar", "site.tar.gz", "site.tgz", "site.tar.bz2", "site.tar.xz"] {
            #expect(found.contains("\(archive)!deploy/env.sh:2 aws-access-key-id"), "\(archive): \(found.sorted())")
            #expect(found.contains("\(archive)!deploy/env.sh:3 aws-secret-access-key"), "\(archive)")
            #expect(found.contains("\(archive)!home/.netrc:3 netrc-password"), "\(archive): path-scoped rules see the member's own path")
        }
        for (file, member) in [("env.sh.gz", "env.sh"), ("env.sh.bz2", "env.sh"), ("env.sh.xz", "env.sh")] {
            #expect(found.contains("\(file)!\(member):2 aws-access-key-id"), "\(file): \(found.sorted())")
        }
        #expect(found.contains("nested.tar.gz!release/inner.zip!deploy/env.sh:2 aws-access-key-id"), "\(found.sorted())")
        #expect(found.contains { $0.hasPrefix("app.jar!application.properties:1 ") }, "\(found.sorted())")
        // A binary member (a class file) is a named skip under the archive's path, like a binary file.
        #expect(result.skipped.contains { $0.path == "app.jar!com/acme/App.class" && $0.kind == "binary" })
        // Every finding in an archive names its archive; fingerprints differ per archive.
        let inArchives = result.findings.filter { $0.path.contains("!") }
        #expect(inArchives.allSatisfy { $0.archive != nil && $0.path.hasPrefix($0.archive! + "!") })
        #expect(Set(inArchives.map(\.fingerprint)).count == inArchives.count)
        #expect(result.errors.isEmpty)
    }

    @Test func withoutArchivesTheyAreBinaryFiles() throws {
        let tree = TempTree()
        try Self.python(Self.buildAll, in: tree.path)
        let result = try Fixtures.scan(tree) { $0.archives.enabled = false }
        #expect(!result.findings.contains { $0.path.contains("!") })
        #expect(result.skipped.contains { $0.path == "bundle.zip" && $0.kind == "binary" })
    }

    @Test func aZipBombStopsAtTheFirstLimitAsANamedSkip() throws {
        let tree = TempTree()
        // 40 members of 8 MiB of zeros: 320 MiB expanded from well under 1 MiB.
        try Self.python("""
        with zipfile.ZipFile('bomb.zip', 'w', zipfile.ZIP_DEFLATED) as z:
            z.writestr('0-secret.sh', ENV)
            for i in range(40): z.writestr('zeros/%02d.bin' % i, b'\\x00' * (8 << 20))
        """, in: tree.path)
        let result = try Fixtures.scan(tree)
        let skip = result.skipped.first { $0.path == "bomb.zip" }
        #expect(skip?.kind == "archive", "\(result.skipped)")
        #expect(skip?.reason.contains("zip bomb") == true, "\(String(describing: skip))")
        // What came before the limit was scanned.
        #expect(result.findings.contains { $0.path == "bomb.zip!0-secret.sh" && $0.ruleID == "aws-access-key-id" })

        // The total-size and member-count limits, set low.
        let bytes = try Fixtures.scan(tree) { $0.archives.maxRatio = 1_000_000; $0.archives.maxBytes = 20 << 20 }
        #expect(bytes.skipped.contains { $0.path == "bomb.zip" && $0.reason.contains("--archive-max-bytes") }, "\(bytes.skipped)")
        let members = try Fixtures.scan(tree) { $0.archives.maxMembers = 3; $0.archives.maxRatio = 1_000_000 }
        #expect(members.skipped.contains { $0.path == "bomb.zip" && $0.reason.contains("--archive-max-members") }, "\(members.skipped)")
    }

    @Test func aMemberOverTheFileSizeLimitIsSkippedByName() throws {
        let tree = TempTree()
        try Self.python("""
        big = ''.join('v%d = %d\\n' % (i, i * 7919 % 100003) for i in range(220000)).encode()
        with zipfile.ZipFile('big.zip', 'w', zipfile.ZIP_DEFLATED) as z:
            z.writestr('big.py', big); z.writestr('env.sh', ENV)
        open('big.py.gz', 'wb').write(gzip.compress(big))
        """, in: tree.path)
        let result = try Fixtures.scan(tree) { $0.maxFileSize = 2 << 20 }
        #expect(result.skipped.contains { $0.path == "big.zip!big.py" && $0.kind == "too-large" }, "\(result.skipped)")
        // A compressed stream's size is only known by expanding it: it stops at the limit.
        #expect(result.skipped.contains { $0.path == "big.py.gz!big.py" && $0.kind == "too-large" }, "\(result.skipped)")
        #expect(result.findings.contains { $0.path == "big.zip!env.sh" })
    }

    @Test func depthLimitDamagedAndEncryptedArchivesAreNamedSkips() throws {
        let tree = TempTree()
        try Self.python(Self.buildAll + "\n" + """
        data = open('bundle.zip', 'rb').read()
        open('truncated.zip', 'wb').write(data[:len(data) // 2])
        open('garbage.gz', 'wb').write(b'\\x1f\\x8b' + os.urandom(200))
        # The encryption flag (bit 0 of the general-purpose flags) set on every member, as `zip -e` does.
        b = bytearray(data)
        i = b.find(b'PK\\x03\\x04')
        while i >= 0:
            b[i + 6] |= 1; i = b.find(b'PK\\x03\\x04', i + 4)
        i = b.find(b'PK\\x01\\x02')
        while i >= 0:
            b[i + 8] |= 1; i = b.find(b'PK\\x01\\x02', i + 4)
        open('locked.zip', 'wb').write(bytes(b))
        """, in: tree.path)
        let result = try Fixtures.scan(tree) { $0.archives.maxDepth = 1 }
        let byPath = Dictionary(result.skipped.map { ($0.path, $0) }, uniquingKeysWith: { a, _ in a })
        #expect(byPath["nested.tar.gz!release/inner.zip"]?.reason.contains("--archive-depth") == true, "\(result.skipped)")
        #expect(result.skipped.contains { $0.path.hasPrefix("truncated.zip") && $0.kind == "archive" }, "\(result.skipped)")
        #expect(result.skipped.contains { $0.path.hasPrefix("garbage.gz") && $0.kind == "archive" }, "\(result.skipped)")
        #expect(result.skipped.contains { $0.path.hasPrefix("locked.zip!") && $0.reason.contains("encrypted") }, "\(result.skipped)")
        #expect(result.errors.isEmpty)
    }

    @Test func stagedAndHistoryScansOpenArchivesToo() throws {
        let repo = try GitRepoFixture()
        try repo.commit("init", files: ["README.md": "hello\n"])
        try Self.python(Self.buildAll, in: repo.path)
        try repo.git("add", "site.tar.gz", "nested.tar.gz")
        let scanner = Scanner(rules: Fixtures.rules)
        let staged = try scanner.scanStaged(repository: repo.path)
        #expect(staged.findings.contains { $0.path == "site.tar.gz!deploy/env.sh" && $0.ruleID == "aws-access-key-id" },
                "\(staged.findings.map(\.path))")
        #expect(staged.findings.contains { $0.path == "nested.tar.gz!release/inner.zip!deploy/env.sh" })
        try repo.git("commit", "-q", "-m", "release")
        let history = try scanner.scanHistory(repository: repo.path)
        #expect(history.findings.contains { $0.path == "site.tar.gz!home/.netrc" && $0.commit != nil }, "\(history.findings.map(\.path))")
    }
}

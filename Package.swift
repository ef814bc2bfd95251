// swift-tools-version:6.1
import PackageDescription

// The scanner targets (CPCRE2 … ArcaReport) depend only on system libraries, Yams and
// swift-crypto, so `swift build --target ArcaScan` stays small; the vault server's
// dependencies (Hummingbird, NIO, SQLite) must never be added to them.
let package = Package(
    name: "Arca",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "arca", targets: ["arca"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        // The vault server only (ArcaServer): never a dependency of the scanner targets.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1", traits: []),
        .package(url: "https://github.com/vapor/jwt-kit", from: "5.8.0"),
        .package(url: "https://github.com/apple/swift-certificates", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1", from: "1.7.4"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.3"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        // The vault's PostgreSQL storage (ArcaVaultPostgres) only.
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        // Tests only: property-based checks of the guarantees (no secret in any output, …).
        .package(url: "https://github.com/x-sheep/swift-property-based", from: "2.0.1"),
    ],
    targets: [
        .systemLibrary(
            name: "CPCRE2",
            pkgConfig: "libpcre2-8",
            providers: [.apt(["libpcre2-dev"])]
        ),
        .systemLibrary(
            name: "CGit2",
            pkgConfig: "libgit2",
            providers: [.apt(["libgit2-dev"])]
        ),
        .systemLibrary(
            name: "CArchive",
            pkgConfig: "libarchive",
            providers: [.apt(["libarchive-dev"])]
        ),
        .target(name: "ArcaRegex", dependencies: ["CPCRE2"]),
        .target(
            name: "ArcaRules",
            dependencies: [
                "ArcaRegex",
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        .target(
            name: "ArcaScan",
            dependencies: [
                "ArcaRules",
                "ArcaRegex",
                "CGit2",
                "CArchive",
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        // JSON written in order (reports, the server's answers): a leaf both the reports and the vault use.
        .target(name: "ArcaJSON"),
        .target(name: "ArcaReport", dependencies: ["ArcaScan", "ArcaRules", "ArcaJSON"]),
        // `arca migrate`: plans, rewrites and the lookup helpers; talks to a vault only through ArcaVault's
        // VaultClient protocol, so it never pulls in the server.
        .target(name: "ArcaMigrate", dependencies: ["ArcaScan", "ArcaVaultAPI", "ArcaJSON"], exclude: ["helpers"]),
        // Arca's own PKCS#11 declarations and a small C face over a dlopen'ed module (the HSM seal).
        .target(name: "CPKCS11", linkerSettings: [.linkedLibrary("dl")]),
        // What a vault is to its callers: the client and administration protocols, their models, VaultError,
        // Principal and the audit export format. No storage (no GRDB) and no HTTP: migrate and the remote client
        // depend on this alone.
        .target(
            name: "ArcaVaultAPI",
            dependencies: ["ArcaJSON", .product(name: "Crypto", package: "swift-crypto")]
        ),
        // The vault core: barrier, seals, versioned secrets, the audit trail, the one audited entry point.
        // No HTTP here; the scanner targets above never depend on it.
        .target(
            name: "ArcaVault",
            dependencies: [
                "ArcaVaultAPI", "CPKCS11",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
                .product(name: "GRDB", package: "GRDB.swift"),
                // SQLite's C API for the statements the core runs on every request (GRDB's own module of it).
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
            ]
        ),
        // The vault's storage on PostgreSQL (`--storage postgres://…`): several servers on one database.
        .target(
            name: "ArcaVaultPostgres",
            dependencies: [
                "ArcaVault",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // A vault behind a server, over HTTPS (`--vault URL`): the same protocols as the embedded vault.
        .target(
            name: "ArcaVaultRemote",
            dependencies: [
                "ArcaVaultAPI",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        // The vault over HTTPS: Azure Key Vault's secrets API, Arca's OAuth2 authority, RBAC, the dev CA.
        .target(
            name: "ArcaServer",
            dependencies: [
                "ArcaVault", "ArcaJSON",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        .executableTarget(
            name: "arca",
            dependencies: [
                "ArcaScan", "ArcaRules", "ArcaReport", "ArcaVault", "ArcaVaultRemote", "ArcaVaultPostgres", "ArcaServer", "ArcaMigrate",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(name: "ArcaRegexTests", dependencies: ["ArcaRegex"]),
        .testTarget(name: "ArcaRulesTests", dependencies: ["ArcaRules", "ArcaRegex"]),
        .testTarget(name: "ArcaScanTests", dependencies: [
            "ArcaScan", "ArcaRules", "ArcaReport", .product(name: "PropertyBased", package: "swift-property-based"),
        ]),
        .testTarget(name: "ArcaCLITests", dependencies: [
            "arca", "ArcaScan", "ArcaVault", "ArcaVaultRemote", "ArcaVaultPostgres", "ArcaServer",
            .product(name: "PropertyBased", package: "swift-property-based"),
        ], exclude: ["Projects"]),
        .testTarget(name: "ArcaVaultTests", dependencies: ["ArcaVault"]),
        .testTarget(name: "ArcaMigrateTests", dependencies: ["ArcaMigrate", "ArcaScan", "ArcaRules", "ArcaVault", "ArcaVaultAPI"], exclude: ["golden"]),
    ]
)

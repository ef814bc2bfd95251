import Crypto
import Foundation
import SwiftASN1
import X509

/// A local certificate authority for `arca vault serve --dev`: a CA certificate and a server certificate for
/// localhost and 127.0.0.1 (by default) signed by it, written as PEM files into the vault's folder (reused on restart).
public enum DevCA {
    public struct Files {
        public var caCert: String
        public var serverCert: String
        public var serverKey: String
    }

    /// `names` and `addresses` (IPv4, as bytes): what the server certificate is valid for.
    public static func ensure(in directory: String, names: [String] = ["localhost", "vault.localhost"],
                              addresses: [[UInt8]] = [[127, 0, 0, 1]]) throws -> Files {
        let files = Files(caCert: directory + "/dev-ca.pem", serverCert: directory + "/dev-tls.pem",
                          serverKey: directory + "/dev-tls-key.pem")
        if [files.caCert, files.serverCert, files.serverKey].allSatisfy({ FileManager.default.fileExists(atPath: $0) }) {
            return files
        }
        let now = Date()
        let caKey = P256.Signing.PrivateKey()
        let caName = try DistinguishedName { CommonName("Arca dev CA") }
        let caPublic = Certificate.PublicKey(caKey.publicKey)
        let ca = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: caPublic, notValidBefore: now - 3600,
            notValidAfter: now + 3 * 365 * 86_400, issuer: caName, subject: caName, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                Critical(KeyUsage(keyCertSign: true, cRLSign: true))
                SubjectKeyIdentifier(hash: caPublic)
            },
            issuerPrivateKey: .init(caKey))
        let serverKey = P256.Signing.PrivateKey()
        let serverPublic = Certificate.PublicKey(serverKey.publicKey)
        let server = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: serverPublic, notValidBefore: now - 3600,
            notValidAfter: now + 365 * 86_400, issuer: caName, subject: try DistinguishedName { CommonName("localhost") },
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true, keyAgreement: true))
                try ExtendedKeyUsage([.serverAuth])
                // `vault.localhost` too: the Azure SDKs want the vault's host to be a sub-domain of the token resource
                // (serve as https://vault.localhost:PORT with --resource https://localhost:PORT).
                SubjectAlternativeNames(names.map { .dnsName($0) } + addresses.map { .ipAddress(ASN1OctetString(contentBytes: $0[...])) })
                SubjectKeyIdentifier(hash: serverPublic)
                AuthorityKeyIdentifier(keyIdentifier: SubjectKeyIdentifier(hash: caPublic).keyIdentifier)
            },
            issuerPrivateKey: .init(caKey))
        try write(files.caCert, try ca.serializeAsPEM().pemString + "\n", mode: 0o644)
        try write(files.serverCert, try server.serializeAsPEM().pemString + "\n", mode: 0o644)
        try write(files.serverKey, serverKey.pemRepresentation + "\n", mode: 0o600)
        return files
    }

    static func write(_ path: String, _ text: String, mode: Int) throws {
        guard FileManager.default.createFile(atPath: path, contents: Data(text.utf8), attributes: [.posixPermissions: mode]) else {
            throw ServerError.startup("cannot write \(path)")
        }
    }
}

public enum ServerError: Error, CustomStringConvertible {
    case startup(String)
    public var description: String {
        switch self {
        case .startup(let m): return m
        }
    }
}

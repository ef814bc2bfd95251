// Vault lookups added by `arca migrate` (Kotlin on the JDK's standard library, Java 11+).
//
// ArcaVault.secret(name) reads a secret from the vault at ARCA_VAULT_URL through Azure Key Vault's secrets API,
// signing in as the application in AZURE_TENANT_ID / AZURE_CLIENT_ID with AZURE_CLIENT_SECRET, or with the
// certificate and PKCS#8 private key in the PEM file AZURE_CLIENT_CERTIFICATE_PATH (RS256 client assertion;
// authority: AZURE_AUTHORITY_HOST, default the vault itself). ARCA_CA_CERT names a CA to trust. Values are cached for
// ARCA_SECRET_TTL seconds (default 300) and the access token until shortly before it expires.
{{PACKAGE}}
import java.io.FileInputStream
import java.net.URI
import java.net.URLEncoder
import java.net.http.HttpClient
import java.net.http.HttpRequest
import java.net.http.HttpResponse
import java.security.KeyFactory
import java.security.KeyStore
import java.security.MessageDigest
import java.security.Signature
import java.security.spec.PKCS8EncodedKeySpec
import java.util.Base64
import java.util.UUID
import java.security.cert.CertificateFactory
import java.time.Duration
import javax.net.ssl.SSLContext
import javax.net.ssl.TrustManagerFactory

object ArcaVault {
    class VaultException(message: String) : RuntimeException("arca vault: $message")

    private val cache = HashMap<String, Pair<String, Long>>()
    private var token: String? = null
    private var tokenExpires = 0L

    private fun env(name: String): String? = System.getenv(name)?.takeIf { it.isNotEmpty() }

    private val client: HttpClient by lazy {
        val b = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(30))
        env("ARCA_CA_CERT")?.let { ca ->
            val ks = KeyStore.getInstance(KeyStore.getDefaultType()).apply { load(null, null) }
            FileInputStream(ca).use { input ->
                CertificateFactory.getInstance("X.509").generateCertificates(input).forEachIndexed { i, c -> ks.setCertificateEntry("ca$i", c) }
            }
            val tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm()).apply { init(ks) }
            b.sslContext(SSLContext.getInstance("TLS").apply { init(null, tmf.trustManagers, null) })
        }
        b.build()
    }

    private fun field(json: String, key: String): String? =
        Regex("\"" + key + "\"\\s*:\\s*\"((?:[^\"\\\\]|\\\\.)*)\"").find(json)?.groupValues?.get(1)
            ?.replace(Regex("\\\\u([0-9a-fA-F]{4})")) { it.groupValues[1].toInt(16).toChar().toString() }
            ?.replace("\\n", "\n")?.replace("\\\"", "\"")?.replace("\\/", "/")?.replace("\\\\", "\\")

    private fun send(request: HttpRequest): String {
        val where = request.uri().toString().substringBefore('?')
        val r = try { client.send(request, HttpResponse.BodyHandlers.ofString()) } catch (e: Exception) {
            throw VaultException("cannot reach $where: $e")
        }
        if (r.statusCode() >= 300) throw VaultException("$where answered ${r.statusCode()}: ${field(r.body(), "message") ?: r.body()}")
        return r.body()
    }

    private fun enc(s: String) = URLEncoder.encode(s, Charsets.UTF_8)

    private fun pemBlock(pem: String, label: String, path: String): ByteArray {
        val body = pem.substringAfter("-----BEGIN $label-----", "").substringBefore("-----END $label-----", "")
        if (body.isEmpty()) throw VaultException("$path holds no $label (PEM, PKCS#8 key)")
        return Base64.getMimeDecoder().decode(body)
    }

    /** An RS256 client assertion for the certificate and key in the PEM file [path]. */
    private fun assertion(path: String, audience: String): String {
        val pem = try { java.io.File(path).readText() } catch (e: Exception) {
            throw VaultException("cannot read AZURE_CLIENT_CERTIFICATE_PATH $path: ${e.message}")
        }
        val b64 = Base64.getUrlEncoder().withoutPadding()
        val x5t = b64.encodeToString(MessageDigest.getInstance("SHA-1").digest(pemBlock(pem, "CERTIFICATE", path)))
        val now = System.currentTimeMillis() / 1000
        val id = env("AZURE_CLIENT_ID")
        val header = """{"alg":"RS256","typ":"JWT","x5t":"$x5t"}"""
        val claims = """{"aud":"$audience","iss":"$id","sub":"$id","jti":"${UUID.randomUUID()}","nbf":$now,"iat":$now,"exp":${now + 600}}"""
        val input = b64.encodeToString(header.toByteArray()) + "." + b64.encodeToString(claims.toByteArray())
        val rsa = Signature.getInstance("SHA256withRSA")
        rsa.initSign(KeyFactory.getInstance("RSA").generatePrivate(PKCS8EncodedKeySpec(pemBlock(pem, "PRIVATE KEY", path))))
        rsa.update(input.toByteArray())
        return input + "." + b64.encodeToString(rsa.sign())
    }

    /** The current value of the vault secret [name]. */
    @Synchronized
    fun secret(name: String): String {
        val ttl = (env("ARCA_SECRET_TTL") ?: "300").toLong() * 1000
        cache[name]?.let { if (System.currentTimeMillis() - it.second < ttl) return it.first }
        val vault = (env("ARCA_VAULT_URL") ?: throw VaultException("ARCA_VAULT_URL is not set (see docs/migrate.md)")).trimEnd('/')
        if (token == null || System.currentTimeMillis() > tokenExpires - 60_000) {
            val missing = listOf("AZURE_TENANT_ID", "AZURE_CLIENT_ID").filter { env(it) == null }.toMutableList()
            if (env("AZURE_CLIENT_SECRET") == null && env("AZURE_CLIENT_CERTIFICATE_PATH") == null) {
                missing += "AZURE_CLIENT_SECRET or AZURE_CLIENT_CERTIFICATE_PATH"
            }
            if (missing.isNotEmpty()) throw VaultException("${missing.joinToString(", ")} not set (the application's credentials)")
            val authority = (env("AZURE_AUTHORITY_HOST") ?: vault).trimEnd('/')
            val resource = (env("ARCA_VAULT_RESOURCE") ?: vault).trimEnd('/')
            val endpoint = "$authority/${env("AZURE_TENANT_ID")}/oauth2/v2.0/token"
            val credential = env("AZURE_CLIENT_SECRET")?.let { "&client_secret=${enc(it)}" }
                ?: ("&client_assertion_type=${enc("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")}" +
                    "&client_assertion=${enc(assertion(env("AZURE_CLIENT_CERTIFICATE_PATH")!!, endpoint))}")
            val form = "grant_type=client_credentials&client_id=${enc(env("AZURE_CLIENT_ID")!!)}&scope=${enc("$resource/.default")}$credential"
            val answer = send(HttpRequest.newBuilder(URI.create(endpoint))
                .header("Content-Type", "application/x-www-form-urlencoded").POST(HttpRequest.BodyPublishers.ofString(form)).build())
            token = field(answer, "access_token")
            val lifetime = Regex("\"expires_in\"\\s*:\\s*\"?(\\d+)").find(answer)?.groupValues?.get(1)?.toLong() ?: 3600
            tokenExpires = System.currentTimeMillis() + lifetime * 1000
        }
        val answer = send(HttpRequest.newBuilder(URI.create("$vault/secrets/${enc(name)}?api-version=7.5"))
            .header("Authorization", "Bearer $token").GET().build())
        val value = field(answer, "value") ?: throw VaultException("the vault's answer for $name has no value")
        cache[name] = value to System.currentTimeMillis()
        return value
    }
}

// Vault lookups added by `arca migrate` (Kotlin on the JDK's standard library, Java 11+).
//
// ArcaVault.secret(name) reads a secret from the vault at ARCA_VAULT_URL through Azure Key Vault's secrets API,
// signing in as the application in AZURE_TENANT_ID / AZURE_CLIENT_ID / AZURE_CLIENT_SECRET (authority:
// AZURE_AUTHORITY_HOST, default the vault itself). ARCA_CA_CERT names a CA to trust. Values are cached for
// ARCA_SECRET_TTL seconds (default 300) and the access token until shortly before it expires.
{{PACKAGE}}
import java.io.FileInputStream
import java.net.URI
import java.net.URLEncoder
import java.net.http.HttpClient
import java.net.http.HttpRequest
import java.net.http.HttpResponse
import java.security.KeyStore
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

    /** The current value of the vault secret [name]. */
    @Synchronized
    fun secret(name: String): String {
        val ttl = (env("ARCA_SECRET_TTL") ?: "300").toLong() * 1000
        cache[name]?.let { if (System.currentTimeMillis() - it.second < ttl) return it.first }
        val vault = (env("ARCA_VAULT_URL") ?: throw VaultException("ARCA_VAULT_URL is not set (see docs/migrate.md)")).trimEnd('/')
        if (token == null || System.currentTimeMillis() > tokenExpires - 60_000) {
            val missing = listOf("AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET").filter { env(it) == null }
            if (missing.isNotEmpty()) throw VaultException("${missing.joinToString(", ")} not set (the application's credentials)")
            val authority = (env("AZURE_AUTHORITY_HOST") ?: vault).trimEnd('/')
            val resource = (env("ARCA_VAULT_RESOURCE") ?: vault).trimEnd('/')
            val form = "grant_type=client_credentials&client_id=${enc(env("AZURE_CLIENT_ID")!!)}" +
                "&client_secret=${enc(env("AZURE_CLIENT_SECRET")!!)}&scope=${enc("$resource/.default")}"
            val answer = send(HttpRequest.newBuilder(URI.create("$authority/${env("AZURE_TENANT_ID")}/oauth2/v2.0/token"))
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

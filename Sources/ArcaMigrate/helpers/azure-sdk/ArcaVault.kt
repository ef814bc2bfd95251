// Vault lookups added by `arca migrate --style azure-sdk`, through the official Azure SDK for Java.
//
// ArcaVault.secret(name) reads a secret from the Key Vault at AZURE_KEYVAULT_URL (else ARCA_VAULT_URL) with
// azure-security-keyvault-secrets, signing in with DefaultAzureCredential (AZURE_TENANT_ID / AZURE_CLIENT_ID with
// AZURE_CLIENT_SECRET or AZURE_CLIENT_CERTIFICATE_PATH, a managed identity, the Azure CLI…). Values are cached
// for ARCA_SECRET_TTL seconds (default 300).
// Needs: com.azure:azure-security-keyvault-secrets and com.azure:azure-identity.
{{PACKAGE}}
import com.azure.identity.DefaultAzureCredentialBuilder
import com.azure.security.keyvault.secrets.SecretClient
import com.azure.security.keyvault.secrets.SecretClientBuilder

object ArcaVault {
    private val cache = HashMap<String, Pair<String, Long>>()

    private val client: SecretClient by lazy {
        val url = System.getenv("AZURE_KEYVAULT_URL")?.takeIf { it.isNotEmpty() } ?: System.getenv("ARCA_VAULT_URL")?.takeIf { it.isNotEmpty() }
            ?: throw IllegalStateException("arca vault: AZURE_KEYVAULT_URL is not set (the vault's URL)")
        SecretClientBuilder().vaultUrl(url).credential(DefaultAzureCredentialBuilder().build()).buildClient()
    }

    /** The current value of the Key Vault secret [name]. */
    @Synchronized
    fun secret(name: String): String {
        val ttl = (System.getenv("ARCA_SECRET_TTL")?.takeIf { it.isNotEmpty() } ?: "300").toLong() * 1000
        cache[name]?.let { if (System.currentTimeMillis() - it.second < ttl) return it.first }
        val value = client.getSecret(name).value
        cache[name] = value to System.currentTimeMillis()
        return value
    }
}

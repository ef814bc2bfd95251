/*
 * Vault lookups added by `arca migrate --style azure-sdk`, through the official Azure SDK for Java.
 *
 * ArcaVault.secret(name) reads a secret from the Key Vault at AZURE_KEYVAULT_URL (else ARCA_VAULT_URL) with
 * azure-security-keyvault-secrets, signing in with DefaultAzureCredential (AZURE_TENANT_ID / AZURE_CLIENT_ID with
 * AZURE_CLIENT_SECRET or AZURE_CLIENT_CERTIFICATE_PATH, a managed identity, the Azure CLI…). Values are cached
 * for ARCA_SECRET_TTL seconds (default 300).
 * Needs: com.azure:azure-security-keyvault-secrets and com.azure:azure-identity.
 */
import com.azure.identity.DefaultAzureCredentialBuilder;
import com.azure.security.keyvault.secrets.SecretClient;
import com.azure.security.keyvault.secrets.SecretClientBuilder;
import java.util.HashMap;
import java.util.Map;

final class ArcaVault {
    private static final Map<String, Object[]> CACHE = new HashMap<>();
    private static SecretClient client;

    private ArcaVault() {}

    /** The current value of the Key Vault secret {@code name}. */
    static synchronized String secret(String name) {
        String ttlText = System.getenv("ARCA_SECRET_TTL");
        long ttl = Long.parseLong(ttlText != null && !ttlText.isEmpty() ? ttlText : "300") * 1000;
        Object[] hit = CACHE.get(name);
        if (hit != null && System.currentTimeMillis() - (Long) hit[1] < ttl) return (String) hit[0];
        if (client == null) {
            String url = System.getenv("AZURE_KEYVAULT_URL");
            if (url == null || url.isEmpty()) url = System.getenv("ARCA_VAULT_URL");
            if (url == null || url.isEmpty()) throw new IllegalStateException("arca vault: AZURE_KEYVAULT_URL is not set (the vault's URL)");
            client = new SecretClientBuilder().vaultUrl(url).credential(new DefaultAzureCredentialBuilder().build()).buildClient();
        }
        String value = client.getSecret(name).getValue();
        CACHE.put(name, new Object[] {value, System.currentTimeMillis()});
        return value;
    }
}

// Vault lookups added by `arca migrate --style azure-sdk`, through the official Azure SDK for .NET.
//
// ArcaVault.Secret(name) reads a secret from the Key Vault at AZURE_KEYVAULT_URL (else ARCA_VAULT_URL) with
// Azure.Security.KeyVault.Secrets, signing in with DefaultAzureCredential (AZURE_TENANT_ID / AZURE_CLIENT_ID with
// AZURE_CLIENT_SECRET or AZURE_CLIENT_CERTIFICATE_PATH, a managed identity, the Azure CLI…). Values are cached
// for ARCA_SECRET_TTL seconds (default 300).
// Needs: dotnet add package Azure.Security.KeyVault.Secrets; dotnet add package Azure.Identity
using System;
using System.Collections.Generic;
using Azure.Identity;
using Azure.Security.KeyVault.Secrets;

{{NAMESPACE}}
public static class ArcaVault
{
    static readonly object Gate = new object();
    static readonly Dictionary<string, (string Value, DateTime At)> Cache = new Dictionary<string, (string, DateTime)>();
    static SecretClient client;

    /// <summary>The current value of the Key Vault secret <paramref name="name"/>.</summary>
    public static string Secret(string name)
    {
        lock (Gate)
        {
            var ttl = double.Parse(Environment.GetEnvironmentVariable("ARCA_SECRET_TTL") is { Length: > 0 } t ? t : "300");
            if (Cache.TryGetValue(name, out var hit) && (DateTime.UtcNow - hit.At).TotalSeconds < ttl) return hit.Value;
            if (client == null)
            {
                var url = Environment.GetEnvironmentVariable("AZURE_KEYVAULT_URL") is { Length: > 0 } u ? u
                    : Environment.GetEnvironmentVariable("ARCA_VAULT_URL") is { Length: > 0 } a ? a
                    : throw new InvalidOperationException("arca vault: AZURE_KEYVAULT_URL is not set (the vault's URL)");
                client = new SecretClient(new Uri(url), new DefaultAzureCredential());
            }
            var value = client.GetSecret(name).Value.Value;
            Cache[name] = (value, DateTime.UtcNow);
            return value;
        }
    }
}

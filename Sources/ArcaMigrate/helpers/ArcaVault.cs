// Vault lookups added by `arca migrate` (.NET base class library only).
//
// ArcaVault.Secret(name) reads a secret from the vault at ARCA_VAULT_URL through Azure Key Vault's secrets API,
// signing in as the application in AZURE_TENANT_ID / AZURE_CLIENT_ID / AZURE_CLIENT_SECRET (authority:
// AZURE_AUTHORITY_HOST, default the vault itself). ARCA_CA_CERT names a CA to trust. Values are cached for
// ARCA_SECRET_TTL seconds (default 300) and the access token until shortly before it expires.
using System;
using System.Collections.Generic;
using System.Linq;
using System.Net.Http;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;

{{NAMESPACE}}
public static class ArcaVault
{
    public sealed class VaultException : Exception
    {
        public VaultException(string message) : base("arca vault: " + message) { }
    }

    static readonly object Gate = new object();
    static readonly Dictionary<string, (string Value, DateTime At)> Cache = new Dictionary<string, (string, DateTime)>();
    static string token;
    static DateTime tokenExpires;
    static HttpClient client;

    static string Env(string name)
    {
        var v = Environment.GetEnvironmentVariable(name);
        return string.IsNullOrEmpty(v) ? null : v;
    }

    static HttpClient Client()
    {
        if (client != null) return client;
        var handler = new HttpClientHandler();
        var ca = Env("ARCA_CA_CERT");
        if (ca != null)
        {
            var root = X509Certificate2.CreateFromPemFile(ca);
            handler.ServerCertificateCustomValidationCallback = (_, cert, chain, errors) =>
            {
                if (cert == null || chain == null) return false;
                chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                chain.ChainPolicy.CustomTrustStore.Add(root);
                chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                return chain.Build(new X509Certificate2(cert));
            };
        }
        client = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(30) };
        return client;
    }

    static JsonElement Send(HttpRequestMessage request)
    {
        var where = request.RequestUri.GetLeftPart(UriPartial.Path);
        HttpResponseMessage r;
        try { r = Client().Send(request); }
        catch (Exception e) { throw new VaultException($"cannot reach {where}: {e.Message}"); }
        var body = new System.IO.StreamReader(r.Content.ReadAsStream()).ReadToEnd();
        JsonElement json = default;
        try { json = JsonDocument.Parse(body).RootElement; } catch (JsonException) { }
        if ((int)r.StatusCode >= 300)
        {
            var message = json.ValueKind == JsonValueKind.Object && json.TryGetProperty("error", out var e) &&
                          e.ValueKind == JsonValueKind.Object && e.TryGetProperty("message", out var m) ? m.GetString() : body;
            throw new VaultException($"{where} answered {(int)r.StatusCode}: {message}");
        }
        return json;
    }

    /// <summary>The current value of the vault secret <paramref name="name"/>.</summary>
    public static string Secret(string name)
    {
        lock (Gate)
        {
            var ttl = double.Parse(Env("ARCA_SECRET_TTL") ?? "300");
            if (Cache.TryGetValue(name, out var hit) && (DateTime.UtcNow - hit.At).TotalSeconds < ttl) return hit.Value;
            var vault = (Env("ARCA_VAULT_URL") ?? throw new VaultException("ARCA_VAULT_URL is not set (see docs/migrate.md)")).TrimEnd('/');
            if (token == null || (tokenExpires - DateTime.UtcNow).TotalSeconds < 60)
            {
                var missing = new[] { "AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET" }.Where(n => Env(n) == null).ToList();
                if (missing.Count > 0) throw new VaultException(string.Join(", ", missing) + " not set (the application's credentials)");
                var authority = (Env("AZURE_AUTHORITY_HOST") ?? vault).TrimEnd('/');
                var resource = (Env("ARCA_VAULT_RESOURCE") ?? vault).TrimEnd('/');
                var form = new FormUrlEncodedContent(new Dictionary<string, string>
                {
                    ["grant_type"] = "client_credentials", ["client_id"] = Env("AZURE_CLIENT_ID"),
                    ["client_secret"] = Env("AZURE_CLIENT_SECRET"), ["scope"] = resource + "/.default",
                });
                var answer = Send(new HttpRequestMessage(HttpMethod.Post, $"{authority}/{Env("AZURE_TENANT_ID")}/oauth2/v2.0/token") { Content = form });
                token = answer.GetProperty("access_token").GetString();
                var lifetime = answer.TryGetProperty("expires_in", out var x) && x.ValueKind == JsonValueKind.Number ? x.GetDouble() : 3600;
                tokenExpires = DateTime.UtcNow.AddSeconds(lifetime);
            }
            var request = new HttpRequestMessage(HttpMethod.Get, $"{vault}/secrets/{Uri.EscapeDataString(name)}?api-version=7.5");
            request.Headers.Add("Authorization", "Bearer " + token);
            var value = Send(request).GetProperty("value").GetString();
            Cache[name] = (value, DateTime.UtcNow);
            return value;
        }
    }
}

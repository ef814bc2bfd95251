// Vault lookups added by `arca migrate` (.NET base class library only).
//
// ArcaVault.Secret(name) reads a secret from the vault at ARCA_VAULT_URL through Azure Key Vault's secrets API,
// signing in as the application in AZURE_TENANT_ID / AZURE_CLIENT_ID with AZURE_CLIENT_SECRET, or with the
// certificate and private key in the PEM file AZURE_CLIENT_CERTIFICATE_PATH (RS256 client assertion; authority:
// AZURE_AUTHORITY_HOST, default the vault itself). ARCA_CA_CERT names a CA to trust. Values are cached for
// ARCA_SECRET_TTL seconds (default 300) and the access token until shortly before it expires.
using System;
using System.Collections.Generic;
using System.Linq;
using System.Net.Http;
using System.Security.Cryptography;
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

    static string B64(byte[] b) => Convert.ToBase64String(b).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    /// <summary>An RS256 client assertion for the certificate and private key in the PEM file <paramref name="path"/>.</summary>
    static string Assertion(string path, string audience)
    {
        try
        {
            using var cert = X509Certificate2.CreateFromPemFile(path, path);
            using var rsa = cert.GetRSAPrivateKey();
            var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
            var id = Env("AZURE_CLIENT_ID");
            var header = JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, string> { ["alg"] = "RS256", ["typ"] = "JWT", ["x5t"] = B64(SHA1.HashData(cert.RawData)) });
            var claims = JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, object>
            {
                ["aud"] = audience, ["iss"] = id, ["sub"] = id, ["jti"] = Guid.NewGuid().ToString(), ["nbf"] = now, ["iat"] = now, ["exp"] = now + 600,
            });
            var input = B64(header) + "." + B64(claims);
            return input + "." + B64(rsa.SignData(System.Text.Encoding.ASCII.GetBytes(input), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1));
        }
        catch (Exception e) when (e is not VaultException)
        {
            throw new VaultException($"cannot sign in with AZURE_CLIENT_CERTIFICATE_PATH {path}: {e.Message}");
        }
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
                var missing = new[] { "AZURE_TENANT_ID", "AZURE_CLIENT_ID" }.Where(n => Env(n) == null).ToList();
                if (Env("AZURE_CLIENT_SECRET") == null && Env("AZURE_CLIENT_CERTIFICATE_PATH") == null)
                    missing.Add("AZURE_CLIENT_SECRET or AZURE_CLIENT_CERTIFICATE_PATH");
                if (missing.Count > 0) throw new VaultException(string.Join(", ", missing) + " not set (the application's credentials)");
                var authority = (Env("AZURE_AUTHORITY_HOST") ?? vault).TrimEnd('/');
                var resource = (Env("ARCA_VAULT_RESOURCE") ?? vault).TrimEnd('/');
                var endpoint = $"{authority}/{Env("AZURE_TENANT_ID")}/oauth2/v2.0/token";
                var fields = new Dictionary<string, string>
                {
                    ["grant_type"] = "client_credentials", ["client_id"] = Env("AZURE_CLIENT_ID"), ["scope"] = resource + "/.default",
                };
                if (Env("AZURE_CLIENT_SECRET") != null) fields["client_secret"] = Env("AZURE_CLIENT_SECRET");
                else
                {
                    fields["client_assertion_type"] = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
                    fields["client_assertion"] = Assertion(Env("AZURE_CLIENT_CERTIFICATE_PATH"), endpoint);
                }
                var answer = Send(new HttpRequestMessage(HttpMethod.Post, endpoint) { Content = new FormUrlEncodedContent(fields) });
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

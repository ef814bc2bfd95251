// Vault lookups added by `arca migrate` (base class library only: .NET, .NET Framework 4.6+ or Mono; C# 7).
//
// ArcaVault.Secret(name) reads a secret from the vault at ARCA_VAULT_URL through Azure Key Vault's secrets API,
// signing in as the application in AZURE_TENANT_ID / AZURE_CLIENT_ID with AZURE_CLIENT_SECRET, or with the
// certificate and private key in the PEM file AZURE_CLIENT_CERTIFICATE_PATH (RS256 client assertion, .NET 5 or
// later; authority: AZURE_AUTHORITY_HOST, default the vault itself). ARCA_CA_CERT names a CA to trust. Values are
// cached for ARCA_SECRET_TTL seconds (default 300) and the access token until shortly before it expires.
using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Net;
using System.Net.Http;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;

{{NAMESPACE}}
public static class ArcaVault
{
    public sealed class VaultException : Exception
    {
        public VaultException(string message) : base("arca vault: " + message) { }
    }

    sealed class Cached
    {
        public string Value;
        public DateTime At;
    }

    static readonly object Gate = new object();
    static readonly Dictionary<string, Cached> Cache = new Dictionary<string, Cached>();
    static string token;
    static DateTime tokenExpires;
    static HttpClient client;
    static X509Certificate2 trusted;

    static string Env(string name)
    {
        var v = Environment.GetEnvironmentVariable(name);
        return string.IsNullOrEmpty(v) ? null : v;
    }

    /// <summary>The first certificate in a PEM file.</summary>
    static X509Certificate2 PemCertificate(string path)
    {
        var text = System.IO.File.ReadAllText(path);
        var begin = text.IndexOf("-----BEGIN CERTIFICATE-----", StringComparison.Ordinal);
        var end = text.IndexOf("-----END CERTIFICATE-----", StringComparison.Ordinal);
        if (begin < 0 || end < begin) throw new VaultException(path + " holds no PEM certificate");
        var body = text.Substring(begin + 27, end - begin - 27);
        return new X509Certificate2(Convert.FromBase64String(new string(body.Where(c => !char.IsWhiteSpace(c)).ToArray())));
    }

    /// <summary>The server's chain ends in the ARCA_CA_CERT certificate.</summary>
    static bool TrustedChain(X509Certificate cert)
    {
        if (cert == null || trusted == null) return false;
        try
        {
            using (var chain = new X509Chain())
            {
                chain.ChainPolicy.ExtraStore.Add(trusted);
                chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                chain.ChainPolicy.VerificationFlags = X509VerificationFlags.AllowUnknownCertificateAuthority;
                if (!chain.Build(new X509Certificate2(cert))) return false;
                var top = chain.ChainElements[chain.ChainElements.Count - 1].Certificate;
                return top.Thumbprint == trusted.Thumbprint;
            }
        }
        catch (CryptographicException)
        {
            // Mono cannot read EC certificates: there the CA goes into Mono's own store (cert-sync --user CA.pem).
            return false;
        }
    }

    static HttpClient Client()
    {
        if (client != null) return client;
        var handler = new HttpClientHandler();
        var ca = Env("ARCA_CA_CERT");
        if (ca != null)
        {
            try { trusted = PemCertificate(ca); } catch (CryptographicException) { trusted = null; }
            handler.ServerCertificateCustomValidationCallback = (request, cert, chain, errors) =>
                errors == System.Net.Security.SslPolicyErrors.None || TrustedChain(cert);
            // Mono's handler asks the service point manager instead.
            ServicePointManager.ServerCertificateValidationCallback = (sender, cert, chain, errors) =>
                errors == System.Net.Security.SslPolicyErrors.None || TrustedChain(cert);
        }
        client = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(30) };
        return client;
    }

    static Dictionary<string, object> Send(HttpRequestMessage request)
    {
        var where = request.RequestUri.GetLeftPart(UriPartial.Path);
        HttpResponseMessage r;
        string body;
        try
        {
            r = Client().SendAsync(request).GetAwaiter().GetResult();
            body = r.Content.ReadAsStringAsync().GetAwaiter().GetResult();
        }
        catch (Exception e) { throw new VaultException("cannot reach " + where + ": " + (e.InnerException ?? e).Message); }
        Dictionary<string, object> json = null;
        try { json = new Json(body).Value() as Dictionary<string, object>; } catch (FormatException) { }
        if ((int)r.StatusCode >= 300)
        {
            object error, message = null;
            if (json != null && json.TryGetValue("error", out error) && error is Dictionary<string, object>) ((Dictionary<string, object>)error).TryGetValue("message", out message);
            throw new VaultException(where + " answered " + (int)r.StatusCode + ": " + (message as string ?? body));
        }
        if (json == null) throw new VaultException(where + " answered something that is not a JSON object");
        return json;
    }

    /// <summary>Just enough JSON for the vault's answers: objects, arrays, strings, numbers, true, false, null.</summary>
    sealed class Json
    {
        readonly string s;
        int i;
        public Json(string text) { s = text; }

        void Space() { while (i < s.Length && char.IsWhiteSpace(s[i])) i++; }

        public object Value()
        {
            Space();
            if (i >= s.Length) throw new FormatException("end of JSON");
            var c = s[i];
            if (c == '{')
            {
                i++;
                var o = new Dictionary<string, object>();
                Space();
                if (i < s.Length && s[i] == '}') { i++; return o; }
                while (true)
                {
                    Space();
                    var key = Str();
                    Space();
                    if (i >= s.Length || s[i++] != ':') throw new FormatException("':' expected");
                    o[key] = Value();
                    Space();
                    if (i < s.Length && s[i] == ',') { i++; continue; }
                    if (i < s.Length && s[i] == '}') { i++; return o; }
                    throw new FormatException("'}' expected");
                }
            }
            if (c == '[')
            {
                i++;
                var a = new List<object>();
                Space();
                if (i < s.Length && s[i] == ']') { i++; return a; }
                while (true)
                {
                    a.Add(Value());
                    Space();
                    if (i < s.Length && s[i] == ',') { i++; continue; }
                    if (i < s.Length && s[i] == ']') { i++; return a; }
                    throw new FormatException("']' expected");
                }
            }
            if (c == '"') return Str();
            foreach (var word in new[] { "true", "false", "null" })
            {
                if (string.CompareOrdinal(s, i, word, 0, word.Length) == 0)
                {
                    i += word.Length;
                    return word == "null" ? null : (object)(word == "true");
                }
            }
            var start = i;
            while (i < s.Length && "+-0123456789.eE".IndexOf(s[i]) >= 0) i++;
            double d;
            if (!double.TryParse(s.Substring(start, i - start), NumberStyles.Float, CultureInfo.InvariantCulture, out d)) throw new FormatException("a value expected");
            return d;
        }

        string Str()
        {
            if (i >= s.Length || s[i] != '"') throw new FormatException("a string expected");
            i++;
            var b = new StringBuilder();
            while (i < s.Length && s[i] != '"')
            {
                var c = s[i++];
                if (c != '\\') { b.Append(c); continue; }
                if (i >= s.Length) break;
                var e = s[i++];
                switch (e)
                {
                    case 'n': b.Append('\n'); break;
                    case 't': b.Append('\t'); break;
                    case 'r': b.Append('\r'); break;
                    case 'b': b.Append('\b'); break;
                    case 'f': b.Append('\f'); break;
                    case 'u':
                        if (i + 4 > s.Length) throw new FormatException("a \\u escape expected");
                        b.Append((char)Convert.ToInt32(s.Substring(i, 4), 16));
                        i += 4;
                        break;
                    default: b.Append(e); break;
                }
            }
            if (i >= s.Length) throw new FormatException("an unterminated string");
            i++;
            return b.ToString();
        }
    }

    static string Quote(string v)
    {
        var b = new StringBuilder("\"");
        foreach (var c in v)
        {
            if (c == '"' || c == '\\') b.Append('\\').Append(c);
            else if (c < ' ') b.Append("\\u").Append(((int)c).ToString("x4"));
            else b.Append(c);
        }
        return b.Append('"').ToString();
    }

    static string B64(byte[] b) { return Convert.ToBase64String(b).TrimEnd('=').Replace('+', '-').Replace('/', '_'); }

    /// <summary>An RS256 client assertion for the certificate and private key in the PEM file <paramref name="path"/>.</summary>
    static string Assertion(string path, string audience)
    {
        try
        {
            // X509Certificate2.CreateFromPemFile exists from .NET 5 on: looked up, so the helper still compiles
            // (and signs in with a client secret) where it does not.
            var create = typeof(X509Certificate2).GetMethod("CreateFromPemFile", new[] { typeof(string), typeof(string) });
            if (create == null) throw new VaultException("certificate sign-in needs .NET 5 or later; use AZURE_CLIENT_SECRET");
            var cert = (X509Certificate2)create.Invoke(null, new object[] { path, path });
            var rsa = cert.GetRSAPrivateKey();
            var now = (long)(DateTime.UtcNow - new DateTime(1970, 1, 1, 0, 0, 0, DateTimeKind.Utc)).TotalSeconds;
            var id = Env("AZURE_CLIENT_ID");
            string x5t;
            using (var sha1 = SHA1.Create()) x5t = B64(sha1.ComputeHash(cert.RawData));
            var header = "{\"alg\":\"RS256\",\"typ\":\"JWT\",\"x5t\":" + Quote(x5t) + "}";
            var claims = "{\"aud\":" + Quote(audience) + ",\"iss\":" + Quote(id) + ",\"sub\":" + Quote(id) + ",\"jti\":" + Quote(Guid.NewGuid().ToString())
                + ",\"nbf\":" + now + ",\"iat\":" + now + ",\"exp\":" + (now + 600) + "}";
            var input = B64(Encoding.UTF8.GetBytes(header)) + "." + B64(Encoding.UTF8.GetBytes(claims));
            return input + "." + B64(rsa.SignData(Encoding.ASCII.GetBytes(input), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1));
        }
        catch (VaultException) { throw; }
        catch (Exception e)
        {
            throw new VaultException("cannot sign in with AZURE_CLIENT_CERTIFICATE_PATH " + path + ": " + (e.InnerException ?? e).Message);
        }
    }

    /// <summary>The current value of the vault secret <paramref name="name"/>.</summary>
    public static string Secret(string name)
    {
        lock (Gate)
        {
            var ttl = double.Parse(Env("ARCA_SECRET_TTL") ?? "300", CultureInfo.InvariantCulture);
            Cached hit;
            if (Cache.TryGetValue(name, out hit) && (DateTime.UtcNow - hit.At).TotalSeconds < ttl) return hit.Value;
            var vault = (Env("ARCA_VAULT_URL") ?? throw new VaultException("ARCA_VAULT_URL is not set (see docs/migrate.md)")).TrimEnd('/');
            if (token == null || (tokenExpires - DateTime.UtcNow).TotalSeconds < 60)
            {
                var missing = new[] { "AZURE_TENANT_ID", "AZURE_CLIENT_ID" }.Where(n => Env(n) == null).ToList();
                if (Env("AZURE_CLIENT_SECRET") == null && Env("AZURE_CLIENT_CERTIFICATE_PATH") == null)
                    missing.Add("AZURE_CLIENT_SECRET or AZURE_CLIENT_CERTIFICATE_PATH");
                if (missing.Count > 0) throw new VaultException(string.Join(", ", missing) + " not set (the application's credentials)");
                var authority = (Env("AZURE_AUTHORITY_HOST") ?? vault).TrimEnd('/');
                var resource = (Env("ARCA_VAULT_RESOURCE") ?? vault).TrimEnd('/');
                var endpoint = authority + "/" + Env("AZURE_TENANT_ID") + "/oauth2/v2.0/token";
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
                object t, x;
                if (!answer.TryGetValue("access_token", out t) || !(t is string)) throw new VaultException(endpoint + " gave no access_token");
                token = (string)t;
                var lifetime = answer.TryGetValue("expires_in", out x) && x is double ? (double)x : 3600;
                tokenExpires = DateTime.UtcNow.AddSeconds(lifetime);
            }
            var request = new HttpRequestMessage(HttpMethod.Get, vault + "/secrets/" + Uri.EscapeDataString(name) + "?api-version=7.5");
            request.Headers.Add("Authorization", "Bearer " + token);
            object v;
            var secret = Send(request);
            if (!secret.TryGetValue("value", out v) || !(v is string)) throw new VaultException("the vault gave no value for " + name);
            Cache[name] = new Cached { Value = (string)v, At = DateTime.UtcNow };
            return (string)v;
        }
    }
}

/*
 * Vault lookups added by `arca migrate` (Java standard library only, Java 11+).
 *
 * ArcaVault.secret(name) reads a secret from the vault at ARCA_VAULT_URL through Azure Key Vault's secrets API,
 * signing in as the application in AZURE_TENANT_ID / AZURE_CLIENT_ID with AZURE_CLIENT_SECRET, or with the
 * certificate and PKCS#8 private key in the PEM file AZURE_CLIENT_CERTIFICATE_PATH (RS256 client assertion;
 * authority: AZURE_AUTHORITY_HOST, default the vault itself). ARCA_CA_CERT names a CA to trust. Values are cached for
 * ARCA_SECRET_TTL seconds (default 300) and the access token until shortly before it expires.
 */
import java.io.FileInputStream;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.security.KeyFactory;
import java.security.KeyStore;
import java.security.MessageDigest;
import java.security.Signature;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.Base64;
import java.util.UUID;
import java.security.cert.CertificateFactory;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

final class ArcaVault {
    static final class VaultException extends RuntimeException {
        VaultException(String message) { super("arca vault: " + message); }
    }

    private static final Map<String, Object[]> CACHE = new HashMap<>();
    private static String token;
    private static long tokenExpires;
    private static HttpClient client;

    private ArcaVault() {}

    private static String env(String name) {
        String v = System.getenv(name);
        return v == null || v.isEmpty() ? null : v;
    }

    private static HttpClient client() throws Exception {
        if (client != null) return client;
        HttpClient.Builder b = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(30));
        String ca = env("ARCA_CA_CERT");
        if (ca != null) {
            KeyStore ks = KeyStore.getInstance(KeyStore.getDefaultType());
            ks.load(null, null);
            int i = 0;
            try (FileInputStream in = new FileInputStream(ca)) {
                for (java.security.cert.Certificate c : CertificateFactory.getInstance("X.509").generateCertificates(in)) {
                    ks.setCertificateEntry("ca" + i++, c);
                }
            }
            TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            tmf.init(ks);
            SSLContext ssl = SSLContext.getInstance("TLS");
            ssl.init(null, tmf.getTrustManagers(), null);
            b.sslContext(ssl);
        }
        client = b.build();
        return client;
    }

    static String field(String json, String key) {
        Matcher m = Pattern.compile("\"" + key + "\"\\s*:\\s*\"((?:[^\"\\\\]|\\\\.)*)\"").matcher(json);
        if (!m.find()) return null;
        String s = m.group(1);
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c != '\\' || i + 1 >= s.length()) { out.append(c); continue; }
            char n = s.charAt(++i);
            switch (n) {
                case 'n': out.append('\n'); break;
                case 't': out.append('\t'); break;
                case 'r': out.append('\r'); break;
                case 'b': out.append('\b'); break;
                case 'f': out.append('\f'); break;
                case 'u': out.append((char) Integer.parseInt(s.substring(i + 1, i + 5), 16)); i += 4; break;
                default: out.append(n);
            }
        }
        return out.toString();
    }

    private static String send(HttpRequest request) {
        HttpResponse<String> r;
        String where = request.uri().toString().split("\\?")[0];
        try {
            r = client().send(request, HttpResponse.BodyHandlers.ofString());
        } catch (Exception e) {
            throw new VaultException("cannot reach " + where + ": " + e);
        }
        if (r.statusCode() >= 300) {
            String m = field(r.body(), "message");
            throw new VaultException(where + " answered " + r.statusCode() + ": " + (m != null ? m : r.body()));
        }
        return r.body();
    }

    private static String enc(String s) { return URLEncoder.encode(s, StandardCharsets.UTF_8); }

    private static byte[] pemBlock(String pem, String label, String path) {
        int a = pem.indexOf("-----BEGIN " + label + "-----"), b = pem.indexOf("-----END " + label + "-----");
        if (a < 0 || b < a) throw new VaultException(path + " holds no " + label + " (PEM, PKCS#8 key)");
        return Base64.getMimeDecoder().decode(pem.substring(a + label.length() + 16, b));
    }

    /** An RS256 client assertion for the certificate and key in the PEM file {@code path}. */
    private static String assertion(String path, String audience) {
        try {
            String pem = new String(java.nio.file.Files.readAllBytes(java.nio.file.Paths.get(path)), StandardCharsets.US_ASCII);
            Base64.Encoder b64 = Base64.getUrlEncoder().withoutPadding();
            String x5t = b64.encodeToString(MessageDigest.getInstance("SHA-1").digest(pemBlock(pem, "CERTIFICATE", path)));
            long now = System.currentTimeMillis() / 1000;
            String id = env("AZURE_CLIENT_ID");
            String header = "{\"alg\":\"RS256\",\"typ\":\"JWT\",\"x5t\":\"" + x5t + "\"}";
            String claims = "{\"aud\":\"" + audience + "\",\"iss\":\"" + id + "\",\"sub\":\"" + id + "\",\"jti\":\"" + UUID.randomUUID()
                + "\",\"nbf\":" + now + ",\"iat\":" + now + ",\"exp\":" + (now + 600) + "}";
            String input = b64.encodeToString(header.getBytes(StandardCharsets.UTF_8)) + "." + b64.encodeToString(claims.getBytes(StandardCharsets.UTF_8));
            Signature rsa = Signature.getInstance("SHA256withRSA");
            rsa.initSign(KeyFactory.getInstance("RSA").generatePrivate(new PKCS8EncodedKeySpec(pemBlock(pem, "PRIVATE KEY", path))));
            rsa.update(input.getBytes(StandardCharsets.US_ASCII));
            return input + "." + b64.encodeToString(rsa.sign());
        } catch (VaultException e) {
            throw e;
        } catch (Exception e) {
            throw new VaultException("cannot sign in with AZURE_CLIENT_CERTIFICATE_PATH " + path + ": " + e);
        }
    }

    /** The current value of the vault secret {@code name}. */
    static synchronized String secret(String name) {
        long ttl = Long.parseLong(env("ARCA_SECRET_TTL") != null ? env("ARCA_SECRET_TTL") : "300") * 1000;
        Object[] hit = CACHE.get(name);
        if (hit != null && System.currentTimeMillis() - (Long) hit[1] < ttl) return (String) hit[0];
        String vault = env("ARCA_VAULT_URL");
        if (vault == null) throw new VaultException("ARCA_VAULT_URL is not set (see docs/migrate.md)");
        vault = vault.replaceAll("/$", "");
        if (token == null || System.currentTimeMillis() > tokenExpires - 60_000) {
            StringBuilder missing = new StringBuilder();
            for (String n : new String[] {"AZURE_TENANT_ID", "AZURE_CLIENT_ID"}) {
                if (env(n) == null) missing.append(missing.length() > 0 ? ", " : "").append(n);
            }
            if (env("AZURE_CLIENT_SECRET") == null && env("AZURE_CLIENT_CERTIFICATE_PATH") == null) {
                missing.append(missing.length() > 0 ? ", " : "").append("AZURE_CLIENT_SECRET or AZURE_CLIENT_CERTIFICATE_PATH");
            }
            if (missing.length() > 0) throw new VaultException(missing + " not set (the application's credentials)");
            String authority = (env("AZURE_AUTHORITY_HOST") != null ? env("AZURE_AUTHORITY_HOST") : vault).replaceAll("/$", "");
            String resource = (env("ARCA_VAULT_RESOURCE") != null ? env("ARCA_VAULT_RESOURCE") : vault).replaceAll("/$", "");
            String endpoint = authority + "/" + env("AZURE_TENANT_ID") + "/oauth2/v2.0/token";
            String form = "grant_type=client_credentials&client_id=" + enc(env("AZURE_CLIENT_ID")) + "&scope=" + enc(resource + "/.default")
                + (env("AZURE_CLIENT_SECRET") != null ? "&client_secret=" + enc(env("AZURE_CLIENT_SECRET"))
                   : "&client_assertion_type=" + enc("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
                     + "&client_assertion=" + enc(assertion(env("AZURE_CLIENT_CERTIFICATE_PATH"), endpoint)));
            String answer = send(HttpRequest.newBuilder(URI.create(endpoint))
                .header("Content-Type", "application/x-www-form-urlencoded").timeout(Duration.ofSeconds(30))
                .POST(HttpRequest.BodyPublishers.ofString(form)).build());
            token = field(answer, "access_token");
            Matcher m = Pattern.compile("\"expires_in\"\\s*:\\s*\"?(\\d+)").matcher(answer);
            tokenExpires = System.currentTimeMillis() + (m.find() ? Long.parseLong(m.group(1)) : 3600) * 1000;
        }
        String answer = send(HttpRequest.newBuilder(URI.create(vault + "/secrets/" + enc(name) + "?api-version=7.5"))
            .header("Authorization", "Bearer " + token).timeout(Duration.ofSeconds(30)).GET().build());
        String value = field(answer, "value");
        CACHE.put(name, new Object[] {value, System.currentTimeMillis()});
        return value;
    }
}

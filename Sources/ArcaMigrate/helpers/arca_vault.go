// Vault lookups added by `arca migrate` (Go standard library only).
//
// arcaSecret(name) reads a secret from the vault at ARCA_VAULT_URL through Azure Key Vault's secrets API,
// signing in as the application in AZURE_TENANT_ID / AZURE_CLIENT_ID with AZURE_CLIENT_SECRET, or with the
// certificate and private key in the PEM file AZURE_CLIENT_CERTIFICATE_PATH (RS256 client assertion; authority:
// AZURE_AUTHORITY_HOST, default the vault itself). ARCA_CA_CERT names a CA to trust. Values are cached for
// ARCA_SECRET_TTL seconds (default 300) and the access token until shortly before it expires. A missing
// variable or an unreachable vault stops the program with one message naming what is wrong.

package {{PACKAGE}}

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

var arcaVault = struct {
	sync.Mutex
	cache   map[string]arcaCached
	token   string
	expires time.Time
}{cache: map[string]arcaCached{}}

type arcaCached struct {
	value string
	at    time.Time
}

func arcaFail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "arca vault: "+format+"\n", args...)
	os.Exit(70)
}

func arcaCall(req *http.Request) map[string]any {
	client := &http.Client{Timeout: 30 * time.Second}
	if ca := os.Getenv("ARCA_CA_CERT"); ca != "" {
		pem, err := os.ReadFile(ca)
		if err != nil {
			arcaFail("cannot read ARCA_CA_CERT %s: %v", ca, err)
		}
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(pem)
		client.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	}
	where := req.URL.Scheme + "://" + req.URL.Host + req.URL.Path
	res, err := client.Do(req)
	if err != nil {
		arcaFail("cannot reach %s: %v", where, err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	var answer map[string]any
	_ = json.Unmarshal(body, &answer)
	if res.StatusCode >= 300 {
		message := string(body)
		if e, ok := answer["error"].(map[string]any); ok {
			message, _ = e["message"].(string)
		}
		arcaFail("%s answered %d: %s", where, res.StatusCode, message)
	}
	return answer
}

// arcaAssertion is an RS256 client assertion for the certificate and private key in the PEM file path.
func arcaAssertion(path, audience string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		arcaFail("cannot read AZURE_CLIENT_CERTIFICATE_PATH %s: %v", path, err)
	}
	var der []byte
	var key *rsa.PrivateKey
	for block, rest := pem.Decode(data); block != nil; block, rest = pem.Decode(rest) {
		switch block.Type {
		case "CERTIFICATE":
			der = block.Bytes
		case "PRIVATE KEY":
			if k, err := x509.ParsePKCS8PrivateKey(block.Bytes); err == nil {
				key, _ = k.(*rsa.PrivateKey)
			}
		case "RSA PRIVATE KEY":
			key, _ = x509.ParsePKCS1PrivateKey(block.Bytes)
		}
	}
	if der == nil || key == nil {
		arcaFail("%s needs a certificate and its RSA private key (PEM)", path)
	}
	b64 := base64.RawURLEncoding.EncodeToString
	thumb := sha1.Sum(der)
	jti := make([]byte, 16)
	_, _ = rand.Read(jti)
	now := time.Now().Unix()
	id := os.Getenv("AZURE_CLIENT_ID")
	header, _ := json.Marshal(map[string]string{"alg": "RS256", "typ": "JWT", "x5t": b64(thumb[:])})
	claims, _ := json.Marshal(map[string]any{"aud": audience, "iss": id, "sub": id, "jti": fmt.Sprintf("%x", jti),
		"nbf": now, "iat": now, "exp": now + 600})
	input := b64(header) + "." + b64(claims)
	digest := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, digest[:])
	if err != nil {
		arcaFail("cannot sign with the key in %s: %v", path, err)
	}
	return input + "." + b64(sig)
}

func arcaSecret(name string) string {
	arcaVault.Lock()
	defer arcaVault.Unlock()
	ttl, err := strconv.Atoi(os.Getenv("ARCA_SECRET_TTL"))
	if err != nil {
		ttl = 300
	}
	if hit, ok := arcaVault.cache[name]; ok && time.Since(hit.at) < time.Duration(ttl)*time.Second {
		return hit.value
	}
	vault := strings.TrimSuffix(os.Getenv("ARCA_VAULT_URL"), "/")
	if vault == "" {
		arcaFail("ARCA_VAULT_URL is not set (see docs/migrate.md)")
	}
	if arcaVault.token == "" || time.Until(arcaVault.expires) < time.Minute {
		var missing []string
		for _, n := range []string{"AZURE_TENANT_ID", "AZURE_CLIENT_ID"} {
			if os.Getenv(n) == "" {
				missing = append(missing, n)
			}
		}
		if os.Getenv("AZURE_CLIENT_SECRET") == "" && os.Getenv("AZURE_CLIENT_CERTIFICATE_PATH") == "" {
			missing = append(missing, "AZURE_CLIENT_SECRET or AZURE_CLIENT_CERTIFICATE_PATH")
		}
		if len(missing) > 0 {
			arcaFail("%s not set (the application's credentials)", strings.Join(missing, ", "))
		}
		authority, resource := os.Getenv("AZURE_AUTHORITY_HOST"), os.Getenv("ARCA_VAULT_RESOURCE")
		if authority == "" {
			authority = vault
		}
		if resource == "" {
			resource = vault
		}
		endpoint := strings.TrimSuffix(authority, "/") + "/" + os.Getenv("AZURE_TENANT_ID") + "/oauth2/v2.0/token"
		form := url.Values{"grant_type": {"client_credentials"}, "client_id": {os.Getenv("AZURE_CLIENT_ID")},
			"scope": {strings.TrimSuffix(resource, "/") + "/.default"}}
		if s := os.Getenv("AZURE_CLIENT_SECRET"); s != "" {
			form.Set("client_secret", s)
		} else {
			form.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
			form.Set("client_assertion", arcaAssertion(os.Getenv("AZURE_CLIENT_CERTIFICATE_PATH"), endpoint))
		}
		req, _ := http.NewRequest("POST", endpoint, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		answer := arcaCall(req)
		arcaVault.token, _ = answer["access_token"].(string)
		lifetime, _ := answer["expires_in"].(float64)
		if lifetime == 0 {
			lifetime = 3600
		}
		arcaVault.expires = time.Now().Add(time.Duration(lifetime) * time.Second)
	}
	req, _ := http.NewRequest("GET", vault+"/secrets/"+url.PathEscape(name)+"?api-version=7.5", nil)
	req.Header.Set("Authorization", "Bearer "+arcaVault.token)
	value, _ := arcaCall(req)["value"].(string)
	arcaVault.cache[name] = arcaCached{value, time.Now()}
	return value
}

"""Vault lookups added by `arca migrate` (standard library only).

secret(name) reads a secret from the vault at ARCA_VAULT_URL through Azure Key Vault's secrets API, signing in
as the application in AZURE_TENANT_ID / AZURE_CLIENT_ID with AZURE_CLIENT_SECRET, or with the certificate and
private key in the PEM file AZURE_CLIENT_CERTIFICATE_PATH (an RS256 client assertion signed by the openssl
program; authority: AZURE_AUTHORITY_HOST, default the vault itself). ARCA_CA_CERT names a CA to trust. Values are cached for ARCA_SECRET_TTL seconds
(default 300) and the access token until shortly before it expires.
"""
import base64
import hashlib
import json
import os
import subprocess
import uuid
import ssl
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

_lock = threading.Lock()
_cache = {}
_token = [None, 0.0]


class VaultError(RuntimeError):
    pass


def _env(name, default=None):
    value = os.environ.get(name) or default
    if not value:
        raise VaultError("arca vault: %s is not set (see docs/migrate.md)" % name)
    return value


def _context():
    ca = os.environ.get("ARCA_CA_CERT")
    return ssl.create_default_context(cafile=ca) if ca else ssl.create_default_context()


def _request(url, data=None, headers=None):
    req = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(req, context=_context(), timeout=30) as r:
            return json.loads(r.read().decode("utf-8"))
    except urllib.error.HTTPError as e:
        body = e.read().decode("utf-8", "replace")
        try:
            message = json.loads(body).get("error", {})
            message = message.get("message", body) if isinstance(message, dict) else body
        except ValueError:
            message = body
        raise VaultError("arca vault: %s answered %d: %s" % (url.split("?")[0], e.code, message)) from None
    except (urllib.error.URLError, OSError) as e:
        raise VaultError("arca vault: cannot reach %s: %s" % (url.split("?")[0], getattr(e, "reason", e))) from None


def _access_token(vault):
    if _token[0] and time.time() < _token[1] - 60:
        return _token[0]
    missing = [n for n in ("AZURE_TENANT_ID", "AZURE_CLIENT_ID") if not os.environ.get(n)]
    if not os.environ.get("AZURE_CLIENT_SECRET") and not os.environ.get("AZURE_CLIENT_CERTIFICATE_PATH"):
        missing.append("AZURE_CLIENT_SECRET or AZURE_CLIENT_CERTIFICATE_PATH")
    if missing:
        raise VaultError("arca vault: %s not set (the application's credentials)" % ", ".join(missing))
    authority = os.environ.get("AZURE_AUTHORITY_HOST") or vault
    resource = os.environ.get("ARCA_VAULT_RESOURCE") or vault
    endpoint = "%s/%s/oauth2/v2.0/token" % (authority.rstrip("/"), os.environ["AZURE_TENANT_ID"])
    fields = {"grant_type": "client_credentials", "client_id": os.environ["AZURE_CLIENT_ID"],
              "scope": resource.rstrip("/") + "/.default"}
    if os.environ.get("AZURE_CLIENT_SECRET"):
        fields["client_secret"] = os.environ["AZURE_CLIENT_SECRET"]
    else:
        fields["client_assertion_type"] = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
        fields["client_assertion"] = _assertion(os.environ["AZURE_CLIENT_CERTIFICATE_PATH"], endpoint)
    answer = _request(endpoint, urllib.parse.urlencode(fields).encode(),
                      {"Content-Type": "application/x-www-form-urlencoded"})
    _token[0] = answer["access_token"]
    _token[1] = time.time() + float(answer.get("expires_in", 3600))
    return _token[0]


def _child_env():
    """What the openssl program may see: what it needs to run, no credential of the application."""
    keep = ("PATH", "HOME", "LANG", "TMPDIR", "OPENSSL_CONF", "SYSTEMROOT")
    return {k: v for k, v in os.environ.items() if k in keep or k.startswith("LC_")}


def _b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _assertion(path, audience):
    """An RS256 client assertion for the certificate in `path` (PEM with its private key)."""
    try:
        pem = open(path, encoding="ascii").read()
    except OSError as e:
        raise VaultError("arca vault: cannot read AZURE_CLIENT_CERTIFICATE_PATH %s: %s" % (path, e.strerror)) from None
    begin, end = "-----BEGIN CERTIFICATE-----", "-----END CERTIFICATE-----"
    if begin not in pem:
        raise VaultError("arca vault: %s holds no certificate" % path)
    der = base64.b64decode(pem.split(begin, 1)[1].split(end, 1)[0])
    now = int(time.time())
    header = {"alg": "RS256", "typ": "JWT", "x5t": _b64(hashlib.sha1(der).digest())}
    claims = {"aud": audience, "iss": os.environ["AZURE_CLIENT_ID"], "sub": os.environ["AZURE_CLIENT_ID"],
              "jti": str(uuid.uuid4()), "nbf": now, "iat": now, "exp": now + 600}
    signing_input = _b64(json.dumps(header).encode()) + "." + _b64(json.dumps(claims).encode())
    try:
        signed = subprocess.run(["openssl", "dgst", "-sha256", "-sign", path], input=signing_input.encode(),
                                capture_output=True, check=True, env=_child_env())
    except (OSError, subprocess.CalledProcessError) as e:
        why = getattr(e, "stderr", b"") or b""
        raise VaultError("arca vault: cannot sign with the key in %s (needs the openssl program): %s"
                         % (path, why.decode(errors="replace").strip() or e)) from None
    return signing_input + "." + _b64(signed.stdout)


def secret(name):
    """The current value of the vault secret `name`."""
    ttl = float(os.environ.get("ARCA_SECRET_TTL", "300"))
    with _lock:
        hit = _cache.get(name)
        if hit and time.time() - hit[1] < ttl:
            return hit[0]
        vault = _env("ARCA_VAULT_URL").rstrip("/")
        token = _access_token(vault)
        answer = _request("%s/secrets/%s?api-version=7.5" % (vault, urllib.parse.quote(name)),
                          headers={"Authorization": "Bearer " + token})
        _cache[name] = (answer["value"], time.time())
        return answer["value"]


if __name__ == "__main__":
    import sys
    try:
        sys.stdout.write(secret(sys.argv[1]))
    except VaultError as e:
        sys.exit(str(e))

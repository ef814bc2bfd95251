"""Vault lookups added by `arca migrate` (standard library only).

secret(name) reads a secret from the vault at ARCA_VAULT_URL through Azure Key Vault's secrets API, signing in
as the application in AZURE_TENANT_ID / AZURE_CLIENT_ID / AZURE_CLIENT_SECRET (authority: AZURE_AUTHORITY_HOST,
default the vault itself). ARCA_CA_CERT names a CA to trust. Values are cached for ARCA_SECRET_TTL seconds
(default 300) and the access token until shortly before it expires.
"""
import json
import os
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
    missing = [n for n in ("AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET") if not os.environ.get(n)]
    if missing:
        raise VaultError("arca vault: %s not set (the application's credentials)" % ", ".join(missing))
    authority = os.environ.get("AZURE_AUTHORITY_HOST") or vault
    resource = os.environ.get("ARCA_VAULT_RESOURCE") or vault
    form = urllib.parse.urlencode({
        "grant_type": "client_credentials",
        "client_id": os.environ["AZURE_CLIENT_ID"],
        "client_secret": os.environ["AZURE_CLIENT_SECRET"],
        "scope": resource.rstrip("/") + "/.default",
    }).encode()
    answer = _request("%s/%s/oauth2/v2.0/token" % (authority.rstrip("/"), os.environ["AZURE_TENANT_ID"]), form,
                      {"Content-Type": "application/x-www-form-urlencoded"})
    _token[0] = answer["access_token"]
    _token[1] = time.time() + float(answer.get("expires_in", 3600))
    return _token[0]


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

"""Vault lookups added by `arca migrate --style azure-sdk`, through the official Azure SDK for Python.

secret(name) reads a secret from the Key Vault at AZURE_KEYVAULT_URL (else ARCA_VAULT_URL) with
azure-keyvault-secrets, signing in with DefaultAzureCredential (AZURE_TENANT_ID / AZURE_CLIENT_ID with
AZURE_CLIENT_SECRET or AZURE_CLIENT_CERTIFICATE_PATH, a managed identity, the Azure CLI…). Values are cached for
ARCA_SECRET_TTL seconds (default 300). Needs: pip install azure-identity azure-keyvault-secrets

For an authority other than Microsoft Entra ID (AZURE_AUTHORITY_HOST pointing at Arca's own server) instance
discovery is turned off, and ARCA_CA_CERT names a CA to trust.
"""
import os
import threading
import time
import urllib.parse

from azure.identity import DefaultAzureCredential
from azure.keyvault.secrets import SecretClient

_lock = threading.Lock()
_cache = {}
_client = []


class VaultError(RuntimeError):
    pass


def secret(name):
    """The current value of the Key Vault secret `name`."""
    ttl = float(os.environ.get("ARCA_SECRET_TTL", "300"))
    with _lock:
        hit = _cache.get(name)
        if hit and time.time() - hit[1] < ttl:
            return hit[0]
        if not _client:
            url = os.environ.get("AZURE_KEYVAULT_URL") or os.environ.get("ARCA_VAULT_URL")
            if not url:
                raise VaultError("arca vault: AZURE_KEYVAULT_URL is not set (the vault's URL)")
            options = {"connection_verify": os.environ["ARCA_CA_CERT"]} if os.environ.get("ARCA_CA_CERT") else {}
            host = urllib.parse.urlparse(os.environ.get("AZURE_AUTHORITY_HOST", "")).hostname or ""
            entra = ("login.microsoftonline.com", "login.microsoftonline.us", "login.chinacloudapi.cn")
            custom = bool(host) and not host.endswith(entra)
            credential = DefaultAzureCredential(disable_instance_discovery=custom, **options)
            _client.append(SecretClient(vault_url=url, credential=credential, **options))
        value = _client[0].get_secret(name).value
        _cache[name] = (value, time.time())
        return value

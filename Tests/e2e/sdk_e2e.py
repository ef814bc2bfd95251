"""End-to-end checks of `arca vault serve --dev` with the official Azure SDK for Python.

Run by the Swift test suite (VaultServerTests) with the server started and these variables set:
  DEV_JSON           path of dev.json (vaultUrl, authority, tenantId, clientId, clientSecret, caCert)
  READER_CLIENT_ID / READER_CLIENT_SECRET   an application holding "Key Vault Secrets User" on /secrets/db-password
                                            and on /secrets/app-* only
  CERT_CLIENT_ID / CERT_PEM                 an application that signs in with a certificate (key + cert PEM),
                                            same roles as the reader
Prints one JSON object of results on stdout; the Swift test asserts on it.
"""
import json
import os
import sys

from azure.core.exceptions import HttpResponseError, ResourceNotFoundError, ResourceExistsError, ClientAuthenticationError
from azure.identity import CertificateCredential, ClientSecretCredential
from azure.keyvault.secrets import SecretClient

dev = json.load(open(os.environ["DEV_JSON"]))
common = dict(authority=dev["authority"], disable_instance_discovery=True, connection_verify=dev["caCert"])
client_kw = dict(verify_challenge_resource=False, connection_verify=dev["caCert"], retry_total=0)
out = {}


def status_of(fn):
    try:
        fn()
        return 200
    except ResourceNotFoundError:
        return 404
    except ResourceExistsError:
        return 409
    except ClientAuthenticationError as e:
        return getattr(e, "status_code", None) or 401
    except HttpResponseError as e:
        return e.status_code


admin = SecretClient(dev["vaultUrl"], ClientSecretCredential(dev["tenantId"], dev["clientId"], dev["clientSecret"], **common), **client_kw)
first = admin.set_secret("db-password", "hunter2", content_type="text/plain", tags={"env": "dev"})
second = admin.set_secret("db-password", "hunter3")
admin.set_secret("app-token", "tok-1")
admin.set_secret("other-secret", "nope")
got = admin.get_secret("db-password")
out["admin_get"] = [got.value, got.properties.version == second.properties.version, got.properties.content_type]
out["admin_get_version"] = admin.get_secret("db-password", first.properties.version).value
out["admin_tags"] = admin.get_secret("db-password", first.properties.version).properties.tags
out["admin_list"] = sorted(p.name for p in admin.list_properties_of_secrets(max_page_size=1))
out["admin_versions"] = len(list(admin.list_properties_of_secret_versions("db-password", max_page_size=1)))
admin.update_secret_properties("app-token", enabled=False)
out["disabled_get"] = status_of(lambda: admin.get_secret("app-token"))
admin.update_secret_properties("app-token", enabled=True)
poller = admin.begin_delete_secret("other-secret")
deleted = poller.result()
poller.wait()
out["deleted_recovery_id"] = deleted.recovery_id.endswith("/deletedsecrets/other-secret")
out["deleted_list"] = [d.name for d in admin.list_deleted_secrets()]
out["set_deleted_name"] = status_of(lambda: admin.set_secret("other-secret", "x"))
admin.begin_recover_deleted_secret("other-secret").wait()
out["recovered"] = admin.get_secret("other-secret").value
admin.begin_delete_secret("other-secret").wait()
admin.purge_deleted_secret("other-secret")
out["purged"] = status_of(lambda: admin.get_deleted_secret("other-secret"))
out["missing"] = status_of(lambda: admin.get_secret("never-was"))
out["bad_name"] = status_of(lambda: admin.set_secret("bad_name!", "x"))
out["too_large"] = status_of(lambda: admin.set_secret("too-large", "x" * (25 * 1024 + 1)))


def least_privilege(credential, prefix):
    c = SecretClient(dev["vaultUrl"], credential, **client_kw)
    out[prefix + "_get"] = c.get_secret("db-password").value
    out[prefix + "_prefix_get"] = c.get_secret("app-token").value
    # No rights elsewhere, and no way to tell an existing secret from a missing one.
    out[prefix + "_other"] = status_of(lambda: c.get_secret("other-secret"))
    out[prefix + "_missing"] = status_of(lambda: c.get_secret("does-not-exist"))
    out[prefix + "_set"] = status_of(lambda: c.set_secret("db-password", "overwrite"))
    out[prefix + "_list"] = status_of(lambda: list(c.list_properties_of_secrets()))
    out[prefix + "_delete"] = status_of(lambda: c.begin_delete_secret("db-password"))


least_privilege(ClientSecretCredential(dev["tenantId"], os.environ["READER_CLIENT_ID"], os.environ["READER_CLIENT_SECRET"], **common), "reader")
least_privilege(CertificateCredential(dev["tenantId"], os.environ["CERT_CLIENT_ID"], certificate_path=os.environ["CERT_PEM"], **common), "cert")

# A wrong client secret is refused at the token endpoint.
bad = SecretClient(dev["vaultUrl"], ClientSecretCredential(dev["tenantId"], os.environ["READER_CLIENT_ID"], "wrong-secret", **common), **client_kw)
out["wrong_secret"] = status_of(lambda: bad.get_secret("db-password"))
print(json.dumps(out))

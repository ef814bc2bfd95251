"""The Azure SDK for Python's backup_secret / restore_secret_backup against `arca vault serve --dev` (BackupRestoreTests).

DEV_JSON names dev.json. Backs a two-version secret up, deletes and purges it, restores it, and reads both versions;
then restores the same blob again (409), and a blob with one changed byte (400). Prints one JSON object.
"""
import json
import os
import time

from azure.core.exceptions import HttpResponseError, ResourceExistsError
from azure.identity import ClientSecretCredential
from azure.keyvault.secrets import SecretClient

dev = json.load(open(os.environ["DEV_JSON"]))
credential = ClientSecretCredential(dev["tenantId"], dev["clientId"], dev["clientSecret"], authority=dev["authority"],
                                    disable_instance_discovery=True, connection_verify=dev["caCert"])
client = SecretClient(dev["vaultUrl"], credential, verify_challenge_resource=False, connection_verify=dev["caCert"])
out = {}
first = client.set_secret("backed-up", os.environ["FIRST_VALUE"], tags={"team": "db"})
second = client.set_secret("backed-up", os.environ["SECOND_VALUE"], content_type="text/plain")
blob = client.backup_secret("backed-up")
out["blob_bytes"] = len(blob)
out["blob_holds_value"] = os.environ["SECOND_VALUE"].encode() in blob
client.begin_delete_secret("backed-up").wait()
client.purge_deleted_secret("backed-up")
for _ in range(50):
    try:
        restored = client.restore_secret_backup(blob)
        break
    except ResourceExistsError:
        time.sleep(0.1)
out["restored_name"] = restored.name
out["restored_version"] = restored.version
out["latest"] = client.get_secret("backed-up").value
out["first"] = client.get_secret("backed-up", first.properties.version).value
out["first_tags"] = client.get_secret("backed-up", first.properties.version).properties.tags
out["second_content_type"] = client.get_secret("backed-up").properties.content_type
out["versions"] = sorted(p.version for p in client.list_properties_of_secret_versions("backed-up"))
out["expected_versions"] = sorted([first.properties.version, second.properties.version])
try:
    client.restore_secret_backup(blob)
    out["again"] = 200
except HttpResponseError as e:
    out["again"] = e.status_code
damaged = bytearray(blob)
damaged[len(damaged) // 2] ^= 1
client.begin_delete_secret("backed-up").wait()
client.purge_deleted_secret("backed-up")
time.sleep(0.2)
try:
    client.restore_secret_backup(bytes(damaged))
    out["damaged"] = 200
except HttpResponseError as e:
    out["damaged"] = e.status_code
print(json.dumps(out))

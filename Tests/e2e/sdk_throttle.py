"""The Azure SDK for Python against a throttled `arca vault serve --dev --rate-limit N` (AzureWireTests).

DEV_JSON names dev.json. With its default retry policy the SDK waits out each 429's Retry-After and every call
succeeds; with retries off the 429 surfaces as Throttled. Prints one JSON object.
"""
import json
import os
import time

from azure.core.exceptions import HttpResponseError
from azure.identity import ClientSecretCredential
from azure.keyvault.secrets import SecretClient

dev = json.load(open(os.environ["DEV_JSON"]))
credential = ClientSecretCredential(dev["tenantId"], dev["clientId"], dev["clientSecret"], authority=dev["authority"],
                                    disable_instance_discovery=True, connection_verify=dev["caCert"])
kw = dict(verify_challenge_resource=False, connection_verify=dev["caCert"])
out = {}
no_retry = SecretClient(dev["vaultUrl"], credential, retry_total=0, **kw)
patient = SecretClient(dev["vaultUrl"], credential, **kw)
codes = []
for _ in range(6):
    try:
        no_retry.get_secret("throttle-me")
        codes.append(200)
    except HttpResponseError as e:
        codes.append(e.status_code if e.status_code != 429 else "429:" + str(getattr(e.error, "code", "")))
out["without_retries"] = codes
started = time.time()
values = [patient.get_secret("throttle-me").value for _ in range(3)]
out["with_retries"] = values
out["waited"] = time.time() - started
print(json.dumps(out))

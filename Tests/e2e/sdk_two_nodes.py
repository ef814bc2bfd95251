"""The Azure SDK for Python against two `arca vault serve` nodes of one vault on PostgreSQL (PostgresHATests).

DEV_JSON names the shared dev.json; NODE_A and NODE_B are the nodes' own addresses; PG_RESTART is a shell command
that stops and starts PostgreSQL. The client is pointed at each node in turn: a write on one is read on the other,
a backup made on one is restored on the other, and a write/read load keeps going on both while PostgreSQL restarts
(the SDK's retry policy honours the 503's Retry-After): no request fails for good, no read is wrong, every
acknowledged write is readable afterwards. Exits non-zero with a message on the first broken promise.
"""
import json
import os
import subprocess
import sys
import threading
import time
import uuid

from azure.identity import ClientSecretCredential
from azure.keyvault.secrets import SecretClient

dev = json.load(open(os.environ["DEV_JSON"]))
credential = ClientSecretCredential(dev["tenantId"], dev["clientId"], dev["clientSecret"], authority=dev["authority"],
                                    disable_instance_discovery=True, connection_verify=dev["caCert"])
clients = [SecretClient(os.environ[n], credential, verify_challenge_resource=False, connection_verify=dev["caCert"],
                        retry_total=12, retry_backoff_factor=0.5, retry_backoff_max=4) for n in ("NODE_A", "NODE_B")]


def check(ok, what):
    if not ok:
        print("FAILED: " + what, file=sys.stderr)
        sys.exit(1)


# Each node in turn.
for i, (writer, reader) in enumerate([(0, 1), (1, 0)]):
    value = "v%d-%s" % (i, uuid.uuid4())
    clients[writer].set_secret("turns", value)
    check(clients[reader].get_secret("turns").value == value, "a write on node %d is not read on node %d" % (writer, reader))
versions = list(clients[0].list_properties_of_secret_versions("turns"))
check(len(versions) == 2, "two versions, one from each node (got %d)" % len(versions))

# Backup on A, restore on B.
clients[0].set_secret("moved", "moved-value", tags={"team": "db"})
blob = clients[0].backup_secret("moved")
clients[0].begin_delete_secret("moved").wait()
clients[1].purge_deleted_secret("moved")
for _ in range(50):
    try:
        restored = clients[1].restore_secret_backup(blob)
        break
    except Exception:
        time.sleep(0.1)
else:
    check(False, "restore on node B")
check(clients[0].get_secret("moved").value == "moved-value", "a secret restored on B reads on A")

# Load on both nodes while PostgreSQL restarts.
acked, errors, stop = {}, [], threading.Event()


def load(n):
    i = 0
    while not stop.is_set():
        i += 1
        name, value = "load-%d-%d" % (n, i), str(uuid.uuid4())
        try:
            clients[n].set_secret(name, value)
            acked[name] = value
            got = clients[1 - n].get_secret(name).value
            if got != value:
                errors.append("wrong value for %s" % name)
        except Exception as e:  # noqa: BLE001 - any failure that outlived the retries is a broken promise
            errors.append("%s: %s" % (name, repr(e)[:300]))


threads = [threading.Thread(target=load, args=(n,)) for n in (0, 1)]
for t in threads:
    t.start()
time.sleep(1)
subprocess.run(os.environ["PG_RESTART"], shell=True, check=True)
time.sleep(2)
stop.set()
for t in threads:
    t.join()
check(not errors, "requests failed across the restart: %s" % errors[:3])
check(len(acked) > 4, "the load made progress (%d writes)" % len(acked))
for name, value in acked.items():
    check(clients[0].get_secret(name).value == value, "acknowledged write %s readable afterwards" % name)
print(json.dumps({"acked": len(acked)}))

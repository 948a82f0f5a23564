#!/usr/bin/env python3
"""Time nnlint against onnx.checker and onnx-doctor on the benchmark models, in one run.

    python3 bench/run.py               # 5 timed runs of everything (after one untimed warm-up each)
    python3 bench/run.py --runs 3      # fewer runs
    python3 bench/run.py --no-cold     # skip the cold-cache reads (they drop the page cache: root only)

Needs: the models from bench/generate.py in target/bench-data/, the baseline venv bench/.venv
(bench/requirements.txt) and GNU time at /usr/bin/time (`apt-get install time`). Builds nnlint in
release first. Prints medians, ratios and peak RSS, checks the targets of issue 7 and writes the same
report to target/bench-results/results.md (and the raw numbers to results.json).

Timing: wall time of the whole process measured around `/usr/bin/time -v` with perf_counter (so every
tool pays the same spawn cost); peak RSS is GNU time's "Maximum resident set size". The Python
baselines also print the time of the work itself without interpreter start-up and imports
(`in-process`), and ratios are given both ways. All timed runs read files from a warm page cache.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "target" / "bench-data"
NNLINT = ROOT / "target" / "release" / "nnlint"
PY = ROOT / "bench" / ".venv" / "bin" / "python"
BASELINE = ROOT / "bench" / "baseline.py"
GNU_TIME = Path("/usr/bin/time")

RESNET = DATA / "resnet50" / "resnet50.onnx"
TRANSFORMER = DATA / "transformer" / "transformer.onnx"
TRANSFORMER_DATA = DATA / "transformer" / "transformer.onnx.data"
KERAS = DATA / "keras"
RESULTS = ROOT / "target" / "bench-results"


@dataclass
class Timing:
    label: str
    walls: list[float] = field(default_factory=list)
    cpus: list[float] = field(default_factory=list)
    rss_kb: list[int] = field(default_factory=list)
    inner: list[float] = field(default_factory=list)
    stdout: str = ""
    rc: int = 0

    @property
    def wall(self) -> float:
        return statistics.median(self.walls)

    @property
    def cpu(self) -> float:
        return statistics.median(self.cpus)

    @property
    def rss_mb(self) -> float:
        return max(self.rss_kb) / 1024

    @property
    def inner_s(self) -> float | None:
        return statistics.median(self.inner) if self.inner else None


def fail(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)


def rel(path: Path) -> str:
    return os.path.relpath(path, ROOT)


@dataclass
class Job:
    key: str
    label: str
    cmd: list[str]
    ok: tuple[int, ...] = (0, 1)
    env: dict[str, str] | None = None


def run_once(job: Job, report: Path) -> tuple[float, float, int, subprocess.CompletedProcess]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(
        [str(GNU_TIME), "-v", "-o", str(report), *job.cmd],
        capture_output=True, text=True, cwd=ROOT, env={**os.environ, **(job.env or {})},
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    if proc.returncode not in job.ok:
        print(proc.stdout[-2000:], proc.stderr[-2000:], sep="\n", file=sys.stderr)
        fail(f"{job.label}: `{' '.join(job.cmd)}` exited with {proc.returncode}")
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", report.read_text())
    return wall, cpu, int(rss.group(1)) if rss else 0, proc


def measure(title: str, jobs: list[Job], runs: int) -> dict[str, Timing]:
    """One untimed warm-up round, then `runs` timed rounds; each round runs every job once, in turn,
    so load from elsewhere on the machine falls on all of them alike."""
    print(title, flush=True)
    out = {job.key: Timing(job.label) for job in jobs}
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "time.txt"
        for round_ in range(runs + 1):
            for job in jobs:
                wall, cpu, rss, proc = run_once(job, report)
                if round_ == 0:
                    continue
                t = out[job.key]
                t.walls.append(wall)
                t.cpus.append(cpu)
                t.rss_kb.append(rss)
                inner = re.search(r"^seconds=([0-9.]+)$", proc.stdout, re.M)
                if inner:
                    t.inner.append(float(inner.group(1)))
                t.stdout, t.rc = proc.stdout, proc.returncode
    for t in out.values():
        shown = f"{t.wall * 1000:9.1f} ms  cpu {t.cpu * 1000:9.1f} ms  {t.rss_mb:8.1f} MB"
        if t.inner_s is not None:
            shown += f"  (in-process {t.inner_s * 1000:.1f} ms)"
        print(f"  {t.label:<44} {shown}", flush=True)
    return out


def nnlint(*args: str) -> list[str]:
    return [str(NNLINT), "--format", "json", "--isolated", *args]


def baseline(kind: str, path: Path) -> list[str]:
    return [str(PY), str(BASELINE), kind, str(path)]


def summary_of(t: Timing) -> dict:
    report = json.loads(t.stdout)
    return report["summary"]


def can_drop_caches() -> bool:
    return os.geteuid() == 0 and os.access("/proc/sys/vm/drop_caches", os.W_OK) and bool(
        shutil.which("fincore")
    )


def cold_read(cmd: list[str], files: list[Path]) -> list[int]:
    """Drops the page cache, runs `cmd` once, returns how many bytes of each file are now cached
    (i.e. were read from disk, including the kernel's read-ahead)."""
    subprocess.run(["sync"], check=True)
    Path("/proc/sys/vm/drop_caches").write_text("3\n")
    subprocess.run(cmd, capture_output=True, cwd=ROOT)
    out = subprocess.run(
        ["fincore", "--bytes", "--noheadings", "--raw", "--output", "RES", *map(str, files)],
        capture_output=True, text=True, check=True,
    ).stdout.split()
    return [int(x) for x in out]


def machine() -> str:
    cpu = "unknown CPU"
    try:
        cpu = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
    except (OSError, StopIteration):
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    rustc = subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip()
    return (f"{os.cpu_count()} cores ({cpu}), {mem:.0f} GiB RAM, Linux {platform.release()}, "
            f"{rustc}, Python {platform.python_version()}")


def mb(path: Path) -> float:
    return path.stat().st_size / 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="timed runs per command (default 5)")
    parser.add_argument("--no-cold", action="store_true", help="skip the cold-cache reads")
    args = parser.parse_args()

    if not GNU_TIME.exists():
        fail("GNU time is missing: apt-get install time")
    missing = [rel(p) for p in (RESNET, TRANSFORMER, TRANSFORMER_DATA, KERAS) if not p.exists()]
    if missing:
        fail(f"missing {', '.join(missing)}: run fixtures/gen/.venv/bin/python bench/generate.py")
    if not PY.exists():
        fail("no bench/.venv: python3 -m venv bench/.venv && "
             "bench/.venv/bin/pip install -r bench/requirements.txt")

    print("building nnlint (release)…", flush=True)
    start = time.perf_counter()
    subprocess.run(["cargo", "build", "--release", "--quiet", "--bin", "nnlint"], cwd=ROOT, check=True)
    print(f"  built in {time.perf_counter() - start:.0f} s\n")

    runs = args.runs
    load_before = f"{os.getloadavg()[0]:.2f} at the start"
    keras_files = sorted(KERAS.glob("*.json"))
    res: dict[str, Timing] = {}

    res.update(measure(f"(a) {rel(RESNET)}: {mb(RESNET):.1f} MB, embedded weights", [
        Job("floor", "/bin/true (the harness's floor)", ["/bin/true"]),
        Job("a_nnlint", "nnlint", nnlint(str(RESNET))),
        Job("a_nnlint_load", "nnlint --ignore ALL (load + report, no rules)",
            nnlint("--ignore", "ALL", str(RESNET))),
        Job("a_nnlint_1thread", "nnlint, RAYON_NUM_THREADS=1", nnlint(str(RESNET)),
            env={"RAYON_NUM_THREADS": "1"}),
        Job("a_checker", "onnx.load + check_model(full_check=True)", baseline("checker", RESNET)),
        Job("a_doctor", "onnx-doctor check", baseline("doctor", RESNET)),
    ], runs))
    res.update(measure(
        f"\n(b) {rel(TRANSFORMER)}: {mb(TRANSFORMER):.1f} MB + {mb(TRANSFORMER_DATA):,.1f} MB external data", [
            Job("b_nnlint", "nnlint", nnlint(str(TRANSFORMER))),
            Job("b_checker", "onnx.load + check_model(full_check=True)", baseline("checker", TRANSFORMER)),
            Job("b_checker_path", "check_model(path, full_check=True)",
                baseline("checker-path", TRANSFORMER)),
            Job("b_doctor", "onnx-doctor check", baseline("doctor", TRANSFORMER)),
        ], runs))
    any_rc = (0, 1, 2)
    res.update(measure(
        f"\n(c) {rel(KERAS)}: {len(keras_files)} Keras JSON configs, "
        f"{sum(p.stat().st_size for p in keras_files) / 1e6:.1f} MB, one invocation", [
            Job("c_nnlint", "nnlint", nnlint(str(KERAS)), any_rc),
            Job("c_nnlint_load", "nnlint --ignore ALL (load + report, no rules)",
                nnlint("--ignore", "ALL", str(KERAS)), any_rc),
            Job("c_nnlint_1thread", "nnlint, RAYON_NUM_THREADS=1", nnlint(str(KERAS)), any_rc,
                {"RAYON_NUM_THREADS": "1"}),
        ], runs))
    res.update(measure(f"\n(a)+(b)+(c) {rel(DATA)}: the whole tree, one invocation",
                       [Job("tree", "nnlint", nnlint(str(DATA)), any_rc)], runs))

    # What the Keras runs actually read.
    keras_summary = summary_of(res["c_nnlint"])
    keras_report = json.loads(res["c_nnlint"].stdout)
    unreadable = [f for f in keras_report["files"] if f.get("status") != "ok"]
    second = subprocess.run(nnlint(str(KERAS)), capture_output=True, text=True, cwd=ROOT).stdout
    paths = [f["path"] for f in keras_report["files"]]
    deterministic = second == res["c_nnlint"].stdout and paths == sorted(paths)
    if unreadable or keras_summary.get("files") != len(keras_files):
        print(f"\nWARNING: nnlint read {keras_summary.get('files')} of {len(keras_files)} Keras configs "
              f"({len(unreadable)} unreadable); the (c) timings do not cover the whole set.",
              file=sys.stderr)

    cold = {}
    if not args.no_cold and can_drop_caches():
        head = int(subprocess.run(baseline("head-bytes", TRANSFORMER), capture_output=True,
                                  text=True, check=True).stdout.split("=")[1])
        (a_read,) = cold_read(nnlint(str(RESNET)), [RESNET])
        b_model, b_data = cold_read(nnlint(str(TRANSFORMER)), [TRANSFORMER, TRANSFORMER_DATA])
        cold = {"a_read": a_read, "b_model_read": b_model, "b_data_read": b_data, "b_head": head}

    load = f"{load_before}, {os.getloadavg()[0]:.2f} at the end"
    report = render(res, keras_summary, unreadable, deterministic, cold, len(keras_files), runs, load)
    print("\n" + report)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "results.md").write_text(report)
    raw = {k: {"walls": v.walls, "cpus": v.cpus, "rss_kb": v.rss_kb, "inner": v.inner}
           for k, v in res.items()}
    (RESULTS / "results.json").write_text(json.dumps({"runs": raw, "cold": cold}, indent=1))
    print(f"written to {rel(RESULTS / 'results.md')} and results.json")
    return 0


def ms(t: Timing) -> str:
    return f"{t.wall * 1000:,.1f} ms"


def render(res, keras_summary, unreadable, deterministic, cold, keras_count, runs, load) -> str:
    a, b, c = res["a_nnlint"], res["b_nnlint"], res["c_nnlint"]
    lines = [
        f"Machine: {machine()}; 1-minute load average {load}.",
        f"Medians of {runs} rounds after one warm-up round (each round runs every tool of a set once, in "
        "turn), warm page cache; peak RSS is the largest of the runs. "
        "Wall time is the whole process as spawned by the harness (`/bin/true` shows its floor).",
        "",
        "| model | tool | wall (process) | CPU (process) | in-process | peak RSS |",
        "|---|---|---:|---:|---:|---:|",
    ]
    rows = [
        ("harness floor", "floor", "/bin/true"),
        ("(a) ResNet-50, 94 MB", "a_nnlint", "nnlint"),
        ("", "a_nnlint_load", "nnlint --ignore ALL (load only)"),
        ("", "a_checker", "onnx.load + check_model(full_check=True)"),
        ("", "a_doctor", "onnx-doctor 0.2.0 check"),
        ("(b) transformer, 2.35 GB external", "b_nnlint", "nnlint"),
        ("", "b_checker", "onnx.load + check_model(full_check=True)"),
        ("", "b_checker_path", "check_model(path, full_check=True)"),
        ("", "b_doctor", "onnx-doctor 0.2.0 check"),
        ("(c) 1,000 Keras JSON configs", "c_nnlint", "nnlint (one invocation)"),
        ("", "c_nnlint_load", "nnlint --ignore ALL (load only)"),
        ("", "c_nnlint_1thread", "nnlint, 1 thread"),
        ("(a)+(b)+(c) whole tree", "tree", "nnlint (one invocation)"),
    ]
    for model, key, tool in rows:
        t = res[key]
        inner = f"{t.inner_s * 1000:,.1f} ms" if t.inner_s is not None else "—"
        cpu = f"{t.cpu * 1000:,.1f} ms"
        lines.append(f"| {model} | {tool} | {ms(t)} | {cpu} | {inner} | {t.rss_mb:,.1f} MB |")

    def ratio(key: str, inner: bool) -> float:
        t = res[key]
        return (t.inner_s if inner else t.wall) / a.wall

    def cpu_ratio(key: str) -> float:
        return res[key].cpu / a.cpu

    share = max(0.0, a.wall - res["a_nnlint_load"].wall) / a.wall
    cpu_share = max(0.0, a.cpu - res["a_nnlint_load"].cpu) / a.cpu
    keras_ok = not unreadable and keras_summary.get("files") == keras_count
    lines += [
        "",
        "Ratios on (a), baseline time / nnlint process time:",
        f"- onnx.load + check_model: {ratio('a_checker', False):.0f}× (process wall), "
        f"{cpu_ratio('a_checker'):.0f}× (process CPU), {ratio('a_checker', True):.0f}× (baseline in-process)",
        f"- onnx-doctor: {ratio('a_doctor', False):.0f}× (process wall), "
        f"{cpu_ratio('a_doctor'):.0f}× (process CPU), {ratio('a_doctor', True):.1f}× (baseline in-process)",
        f"- rules incl. numerical checks on (a): {share:.0%} of nnlint's wall time "
        f"({ms(a)} with, {ms(res['a_nnlint_load'])} without), {cpu_share:.0%} of its CPU time",
        f"- one file and the pool: (a) {ms(a)} with the default pool, "
        f"{ms(res['a_nnlint_1thread'])} on one thread",
        "",
        f"(c): nnlint read {keras_summary.get('files')} of {keras_count} configs, "
        f"{keras_summary.get('unreadable', 0)} unreadable, {keras_summary.get('findings')} findings; "
        f"output identical between runs and in path order: {'yes' if deterministic else 'NO'}.",
    ]
    if unreadable:
        first = unreadable[0]
        lines.append(f"**The Keras front end could not read {len(unreadable)} configs**, e.g. "
                     f"{first['path']}: {json.dumps(first)[:300]}")
    elif not keras_ok:
        lines.append(f"**nnlint skipped {keras_count - keras_summary.get('files', 0)} configs as not "
                     "being models**: the Keras front end does not read them yet.")
    if cold:
        lines += [
            "",
            "Cold page cache (caches dropped, one nnlint run, bytes the kernel then holds for the file):",
            f"- (a) {cold['a_read'] / 1e6:.1f} MB of {mb(RESNET):.1f} MB read",
            f"- (b) model file {cold['b_model_read'] / 1e3:.0f} kB of {mb(TRANSFORMER) * 1e3:.0f} kB; "
            f"external data {cold['b_data_read']:,} bytes of {TRANSFORMER_DATA.stat().st_size:,} "
            f"(the head's tensors: {cold['b_head']:,} bytes)",
        ]

    def verdict(ok: bool) -> str:
        return "met" if ok else "MISSED"

    a_checker, a_doctor = ratio("a_checker", False), ratio("a_doctor", False)
    a_checker_in, a_doctor_in = ratio("a_checker", True), ratio("a_doctor", True)
    b_read_ok = bool(cold) and cold["b_data_read"] <= max(cold["b_head"], 4096) + 4096
    lines += [
        "",
        "Targets:",
        f"- (a) ≥ 20× onnx.load + check_model: {verdict(a_checker >= 20)} (process {a_checker:.0f}×; "
        f"in-process {a_checker_in:.0f}×: {verdict(a_checker_in >= 20)})",
        f"- (a) ≥ 50× onnx-doctor: {verdict(a_doctor >= 50)} (process {a_doctor:.0f}×; "
        f"in-process {a_doctor_in:.1f}×: {verdict(a_doctor_in >= 50)})",
        f"- (a) peak RSS ≤ 25 MB: {verdict(a.rss_mb <= 25)} ({a.rss_mb:.1f} MB)",
        f"- (b) external data read only for the head: "
        + (f"{verdict(b_read_ok)} ({cold['b_data_read']:,} bytes read)" if cold else "not measured (--no-cold)"),
        f"- (b) peak RSS ≤ 50 MB: {verdict(b.rss_mb <= 50)} ({b.rss_mb:.1f} MB)",
        f"- (c) 1,000 configs < 1 s: {verdict(c.wall < 1 and keras_ok)} ({c.wall:.2f} s"
        + ("" if keras_ok else ", not every config was read") + ")",
        f"- numerical checks ≤ 10 % of the time on (a): {verdict(share <= 0.10)} ({share:.0%}, upper bound: "
        "all rules)",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())

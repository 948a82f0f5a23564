"""Mutation benchmark on public code: nnlint's recall on head bugs planted into real tutorials.

    python3 bench/mutation/extract.py                      # once, after fetching the repositories
    python3 bench/mutation/run.py [--binary target/release/nnlint]

Reads target/mutation/corpus/ (written by extract.py), plants one head bug per mutant
(bench/mutation/plant.py) into target/mutation/mutants/<collection>/<path>.<kind>.<ext>, runs
`nnlint --format json --isolated` once over the originals and once over the mutants, and prints
per collection and per framework how many mutants nnlint catches, the findings on the unmodified
files, and why the missed mutants were missed. The whole result goes to target/mutation/result.json
(sorted, no timings in it, so two runs can be diffed). Standard library only; no network.

A mutant is caught when nnlint reports the kind's expected code on it more often than on the
original file. For a missed mutant the report gives what nnlint says about the file (its status and
note, `python_models` when the JSON carries file metadata, and `nnlint inspect`'s view of the model)
and the construct that stopped it (bench/mutation/diagnose.py).
"""
import argparse
import concurrent.futures
import json
import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

import diagnose  # noqa: E402
import plant  # noqa: E402

FRAMEWORKS = ["Keras", "PyTorch", "Lightning", "TF1", "TF2 low-level"]


def corpus_files(corpus):
    out = []
    for dirpath, dirnames, filenames in os.walk(corpus):
        dirnames.sort()
        for f in sorted(filenames):
            if f.endswith((".py", ".ipynb")):
                out.append(os.path.relpath(os.path.join(dirpath, f), corpus).replace(os.sep, "/"))
    return sorted(out)


def mutant_path(rel, kind):
    stem, ext = os.path.splitext(rel)
    return f"{stem}.{kind}{ext}"


def mutant_framework(kind, file_fw):
    if kind.startswith("keras_"):
        return "Keras"
    if kind.startswith("torch_"):
        return "Lightning" if file_fw == "Lightning" else "PyTorch"
    # tf.nn / tf.losses cross-entropies: TF1 graphs, or TF2 eager code (GradientTape loops)
    return "TF1" if file_fw == "TF1" else "TF2 low-level"


def run_nnlint(binary, root):
    cmd = [binary, "--format", "json", "--isolated", "--exit-zero", "--root", root, root]
    t = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True)
    dt = time.perf_counter() - t
    if not p.stdout.strip():
        raise SystemExit(f"nnlint gave no JSON (exit {p.returncode}): {p.stderr[:2000]}")
    doc = json.loads(p.stdout)
    return {f["path"]: f for f in doc["files"]}, dt, p.returncode


def codes(entry):
    out = {}
    for f in (entry or {}).get("findings", []):
        out[f["code"]] = out.get(f["code"], 0) + 1
    return out


def nnlint_view(entry):
    """What nnlint's JSON says about a file, short."""
    if entry is None:
        return "not listed (skipped: no keras/tensorflow/torch in the text)"
    st = entry.get("status")
    if st == "error":
        return "error: " + entry.get("error", "")
    if st == "not-checked":
        return "not checked: " + entry.get("note", "")
    meta = entry.get("metadata") or {}
    if meta.get("python_models"):
        return "python_models: " + meta["python_models"]
    return "ok"


def inspect_summary(binary, path):
    """`nnlint inspect` on one file, boiled down to a line: ops, outputs and their heads."""
    p = subprocess.run([binary, "inspect", "--isolated", path], capture_output=True, text=True)
    if p.returncode != 0 and not p.stdout:
        p = subprocess.run([binary, "inspect", path], capture_output=True, text=True)
    if p.returncode != 0 and not p.stdout:
        return "inspect failed: " + p.stderr.strip().splitlines()[-1] if p.stderr.strip() else "inspect failed"
    lines = p.stdout.splitlines()
    head = lines[0] if lines else ""
    ops = None
    if ", " in head and " ops" in head:
        for part in head.split(", "):
            if part.endswith(" ops"):
                ops = int(part.split()[0])
    outs, acts = [], []
    section = None
    for line in lines[1:]:
        if line.startswith("outputs:"):
            section = "out"
            continue
        if line.startswith("inputs:"):
            section = "in"
            continue
        if section == "out" and line.startswith("  ") and not line.startswith("    "):
            outs.append(line.strip().split("  ")[0])
        elif section == "out" and "final activation:" in line:
            acts.append(line.strip()[len("final activation: "):])
        elif section == "out" and line.strip().startswith("no final activation"):
            acts.append("none")
    if not ops:
        return "no model resolved (0 ops)"
    s = f"{ops} ops, outputs: {', '.join(outs) or 'none'}"
    if acts:
        s += "; head: " + "; ".join(acts)
    return s


def pct(a, b):
    return f"{100.0 * a / b:.0f}%" if b else "—"


def table(headers, rows, align=None):
    align = align or ["l"] + ["r"] * (len(headers) - 1)
    widths = [max(len(str(x)) for x in [h] + [r[i] for r in rows]) for i, h in enumerate(headers)]
    def fmt(r):
        return "  ".join(str(x).ljust(w) if a == "l" else str(x).rjust(w) for x, w, a in zip(r, widths, align))
    out = [fmt(headers), "  ".join("-" * w for w in widths)]
    out += [fmt(r) for r in rows]
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", default=os.path.join(ROOT, "target", "release", "nnlint"))
    ap.add_argument("--work", default=os.path.join(ROOT, "target", "mutation"),
                    help="holds corpus/ (input), mutants/ and result.json (output)")
    ap.add_argument("--examples", type=int, default=3, help="example mutants listed per miss reason")
    args = ap.parse_args()
    binary = os.path.abspath(args.binary)
    corpus = os.path.join(args.work, "corpus")
    mutdir = os.path.join(args.work, "mutants")
    if not os.path.isdir(corpus):
        raise SystemExit(f"no corpus at {corpus}: run bench/mutation/extract.py first")
    t0 = time.perf_counter()

    # 1. plant ---------------------------------------------------------------------------------
    if os.path.isdir(mutdir):
        shutil.rmtree(mutdir)
    files = {}
    mutants = []
    for rel in corpus_files(corpus):
        with open(os.path.join(corpus, rel), "rb") as f:
            data = f.read()
        info, ms = plant.plant(rel, data)
        coll = rel.split("/", 1)[0]
        info["collection"] = coll
        files[rel] = info
        for m in ms:
            mrel = mutant_path(rel, m["kind"])
            dest = os.path.join(mutdir, mrel)
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            with open(dest, "wb") as f:
                f.write(m["data"])
            mutants.append({"mutant": mrel, "original": rel, "collection": coll, "kind": m["kind"],
                            "expected": m["expected"], "planted": m["desc"], "line": m["program_line"],
                            "framework": mutant_framework(m["kind"], info["framework"])})
    t_plant = time.perf_counter() - t0

    # 2. run nnlint -----------------------------------------------------------------------------
    orig, t_orig, rc_o = run_nnlint(binary, corpus)
    mut, t_mut, rc_m = run_nnlint(binary, mutdir)

    # 3. count ---------------------------------------------------------------------------------
    missed = []
    for m in mutants:
        oc, mc = codes(orig.get(m["original"])), codes(mut.get(m["mutant"]))
        m["caught"] = mc.get(m["expected"], 0) > oc.get(m["expected"], 0)
        new = {c: n - oc.get(c, 0) for c, n in mc.items() if n > oc.get(c, 0)}
        m["new_findings"] = dict(sorted(new.items()))
        m["flagged_otherwise"] = not m["caught"] and bool(new)
        if not m["caught"]:
            m["nnlint"] = nnlint_view(mut.get(m["mutant"]))
            missed.append(m)
    live = diagnose.probe(binary)
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        views = list(pool.map(lambda m: inspect_summary(binary, os.path.join(mutdir, m["mutant"])), missed))
    for m, v in zip(missed, views):
        m["inspect"] = v
        with open(os.path.join(mutdir, m["mutant"]), "rb") as f:
            mdata = f.read()
        m["reason"], m["evidence"] = diagnose.diagnose(m, mdata, v, live)

    # originals with findings
    orig_findings = []
    for rel in sorted(files):
        e = orig.get(rel)
        for f in (e or {}).get("findings", []):
            reg = f.get("region") or {}
            orig_findings.append({"file": rel, "code": f["code"], "line": reg.get("line"),
                                  "message": f["message"]})
        if e is not None:
            files[rel]["nnlint"] = nnlint_view(e)
    t_total = time.perf_counter() - t0

    # 4. report --------------------------------------------------------------------------------
    ml_files = {r: i for r, i in files.items() if i.get("framework")}
    colls = sorted({i["collection"] for i in files.values()})
    print(f"corpus: {len(files)} files, {len(ml_files)} with deep-learning code; "
          f"{len(mutants)} mutants planted in {len({m['original'] for m in mutants})} files")
    print(f"nnlint {binary}\n")

    def rows_by(key, keys, file_key):
        rows = []
        tot = [0, 0, 0, 0, 0, 0]
        for k in keys:
            nf = sum(1 for i in ml_files.values() if file_key(i) == k)
            mf = len({m["original"] for m in mutants if key(m) == k})
            nm = sum(1 for m in mutants if key(m) == k)
            nc = sum(1 for m in mutants if key(m) == k and m["caught"])
            nfind = len({f["file"] for f in orig_findings if file_key(files[f["file"]]) == k})
            no = sum(1 for m in mutants if key(m) == k and m["flagged_otherwise"])
            rows.append([k, nf, mf, nm, nc, pct(nc, nm), no, nfind])
            for i, v in enumerate([nf, mf, nm, nc, nfind, no]):
                tot[i] += v
        rows.append(["total", tot[0], tot[1], tot[2], tot[3], pct(tot[3], tot[2]), tot[5], tot[4]])
        return rows

    headers = ["", "DL files", "files mutated", "mutants", "caught", "%", "other code only",
               "originals with findings"]
    print("Per collection")
    print(table(["collection"] + headers[1:], rows_by(lambda m: m["collection"], colls, lambda i: i["collection"])))
    print("\nPer framework (a mutant counts under its kind's framework; files under the file's)")
    fws = [f for f in FRAMEWORKS if any(i["framework"] == f for i in ml_files.values())
           or any(m["framework"] == f for m in mutants)]
    print(table(["framework"] + headers[1:], rows_by(lambda m: m["framework"], fws, lambda i: i["framework"])))
    print("\nPer mutation kind")
    krows = []
    for k in plant.KINDS:
        nm = sum(1 for m in mutants if m["kind"] == k)
        nc = sum(1 for m in mutants if m["kind"] == k and m["caught"])
        no = sum(1 for m in mutants if m["kind"] == k and m["flagged_otherwise"])
        if nm:
            krows.append([k, plant.EXPECTED[k], nm, nc, pct(nc, nm), no])
    print(table(["kind", "expects", "mutants", "caught", "%", "other code only"], krows,
                ["l", "l", "r", "r", "r", "r"]))
    print('"other code only": missed, but nnlint gave the mutant a new finding of another code '
          "(listed per mutant in result.json)")

    print(f"\nMissed mutants by reason ({len(missed)})")
    reasons = {}
    for m in missed:
        reasons.setdefault(m["reason"], []).append(m)
    ranked = sorted(reasons.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    print(table(["reason", "missed", "Keras", "PyTorch", "Lightning", "TF1", "TF2"],
                [[r, len(ms)] + [sum(1 for m in ms if m["framework"] == f) for f in FRAMEWORKS] for r, ms in ranked]))
    for r, ms in ranked:
        print(f"\n  {r} ({len(ms)})")
        for m in ms[: args.examples]:
            print(f"    {m['mutant']}  [{m['kind']}]")
            if m.get("evidence"):
                print(f"      construct: {m['evidence']}")
            print(f"      nnlint: {m['nnlint']}; inspect: {m['inspect']}")

    print("\nConstruct probes (a minimal file with the construct and a planted bug, and its control "
          "without the construct):")
    for state, what in (("blocks", "still blocks nnlint (blamed when present)"),
                        ("handled", "nnlint now catches the probe (never blamed)"),
                        ("invalid", "control missed too: probe proves nothing (never blamed)")):
        names = [k for k, v in live.items() if v == state]
        if names:
            print(f"  {what}: {len(names)}: {', '.join(names)}")

    print(f"\nOriginals with findings ({len(orig_findings)} findings in "
          f"{len({f['file'] for f in orig_findings})} files)")
    for f in orig_findings:
        print(f"  {f['file']}:{f['line']}: {f['code']} {f['message']}")
    errors = sorted(r for r, e in orig.items() if e.get("status") == "error")
    print(f"\nOriginals nnlint could not read: {len(errors)}")
    for r in errors:
        print(f"  {r}: {orig[r].get('error', '')[:160]}")
    unparse = sorted(r for r, i in files.items() if i.get("unparseable"))
    print(f"Files Python's ast cannot parse (no mutants): {len(unparse)}")
    print(f"\ntime: plant {t_plant:.1f} s, nnlint originals {t_orig:.2f} s "
          f"({len(orig)} files listed), mutants {t_mut:.2f} s ({len(mut)} files listed), "
          f"whole run {t_total:.1f} s")

    result = {
        "binary": binary,
        "summary": {"files": len(files), "dl_files": len(ml_files), "mutants": len(mutants),
                    "caught": sum(m["caught"] for m in mutants),
                    "flagged_otherwise": sum(m["flagged_otherwise"] for m in mutants),
                    "original_findings": len(orig_findings)},
        "mutants": sorted(mutants, key=lambda m: m["mutant"]),
        "probes": dict(sorted(live.items())),
        "miss_reasons": [{"reason": r, "count": len(ms), "mutants": [m["mutant"] for m in ms]} for r, ms in ranked],
        "original_findings": orig_findings,
        "files": dict(sorted(files.items())),
    }
    with open(os.path.join(args.work, "result.json"), "w") as f:
        json.dump(result, f, indent=1, sort_keys=True)
        f.write("\n")
    print(f"result: {os.path.join(args.work, 'result.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

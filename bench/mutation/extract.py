"""Copy the corpus of the mutation benchmark out of the fetched git snapshots.

    python3 bench/mutation/extract.py [--mirror-root /work/.mirror] [--out target/mutation/corpus]

Reads bench/mutation/corpus.toml. For each collection it opens the bare git directory
<mirror-root>/<owner>+<name>/repo (what `fetch github:<owner>/<name>` brings), checks that the pinned
commit is there, and writes every `.py` / `.ipynb` file matching the collection's globs to
<out>/<collection>/<path>, byte for byte. A blob whose bytes were already written (the same file in an
earlier collection or path) is skipped, so no file is counted twice. The list of what was written,
with each blob hash, goes to <out>/../corpus-files.json. Standard library only; no network.
"""
import argparse
import fnmatch
import json
import os
import shutil
import subprocess
import sys
import tomllib

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MANIFEST = os.path.join(ROOT, "bench", "mutation", "corpus.toml")
EXTENSIONS = (".py", ".ipynb")


def load_manifest(path=MANIFEST):
    with open(path, "rb") as f:
        return tomllib.load(f)["collection"]


def git_dir(mirror_root, repo):
    return os.path.join(mirror_root, repo.replace("/", "+"), "repo")


def selected(path, coll):
    if not path.endswith(EXTENSIONS):
        return False
    if not any(fnmatch.fnmatchcase(path, g) for g in coll["include"]):
        return False
    return not any(fnmatch.fnmatchcase(path, g) for g in coll.get("exclude", []))


def list_blobs(gd, commit):
    out = subprocess.run(["git", "--git-dir", gd, "ls-tree", "-r", "-z", commit],
                         check=True, capture_output=True).stdout
    for entry in out.split(b"\0"):
        if not entry:
            continue
        meta, path = entry.split(b"\t", 1)
        mode, kind, sha = meta.split()
        if kind == b"blob" and mode != b"120000":
            yield path.decode("utf-8", "surrogateescape"), sha.decode()


def read_blobs(gd, shas):
    """Contents of many blobs through one `git cat-file --batch`; None for a blob the snapshot lacks
    (fetch leaves out files of 4 MiB and more)."""
    data = subprocess.run(["git", "--git-dir", gd, "cat-file", "--batch"], check=True,
                          input="".join(s + "\n" for s in shas).encode(), capture_output=True).stdout
    out, at = {}, 0
    for sha in shas:
        end = data.index(b"\n", at)
        header = data[at:end].split()
        at = end + 1
        if len(header) < 3 or header[1] != b"blob":
            out[sha] = None
            continue
        size = int(header[2])
        out[sha] = data[at:at + size]
        at += size + 1
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mirror-root", default="/work/.mirror")
    ap.add_argument("--out", default=os.path.join(ROOT, "target", "mutation", "corpus"))
    ap.add_argument("--manifest", default=MANIFEST)
    args = ap.parse_args()
    colls = load_manifest(args.manifest)
    missing = []
    for c in colls:
        gd = git_dir(args.mirror_root, c["repo"])
        ok = os.path.isdir(gd) and subprocess.run(
            ["git", "--git-dir", gd, "cat-file", "-e", c["commit"] + "^{commit}"],
            capture_output=True).returncode == 0
        if not ok:
            missing.append(c)
    if missing:
        for c in missing:
            print(f"missing: {c['repo']} at {c['commit'][:12]} (fetch github:{c['repo']} first; "
                  f"looked in {git_dir(args.mirror_root, c['repo'])})", file=sys.stderr)
        return 2
    if os.path.isdir(args.out):
        shutil.rmtree(args.out)
    seen = {}
    listing = []
    for c in colls:
        gd = git_dir(args.mirror_root, c["repo"])
        chosen = sorted((p, s) for p, s in list_blobs(gd, c["commit"]) if selected(p, c))
        blobs = read_blobs(gd, [s for _, s in chosen])
        written = dupes = absent = 0
        for path, sha in chosen:
            rel = f"{c['name']}/{path}"
            if blobs[sha] is None:
                listing.append({"path": rel, "blob": sha, "absent": "not in the snapshot (4 MiB or more)"})
                absent += 1
                continue
            if sha in seen:
                listing.append({"path": rel, "blob": sha, "duplicate_of": seen[sha]})
                dupes += 1
                continue
            seen[sha] = rel
            dest = os.path.join(args.out, c["name"], path)
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            with open(dest, "wb") as f:
                f.write(blobs[sha])
            listing.append({"path": rel, "blob": sha})
            written += 1
        print(f"{c['name']:28} {c['repo']}@{c['commit'][:12]}: {written} files"
              + (f", {dupes} duplicates skipped" if dupes else "")
              + (f", {absent} absent from the snapshot" if absent else ""))
    with open(os.path.join(os.path.dirname(args.out), "corpus-files.json"), "w") as f:
        json.dump(listing, f, indent=1)
        f.write("\n")
    total = sum(1 for e in listing if "duplicate_of" not in e and "absent" not in e)
    print(f"corpus: {total} files in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""nnlint on one generated project of 2,000 modules that import each other, against ruff, same run.

    python3 -m venv target/ruff-venv && target/ruff-venv/bin/pip install ruff==0.17.6
    python3 bench/project_tree.py [--modules 2000] [--binary target/release/nnlint] [--rounds 7]

Writes target/bench-data/project-tree/ (never committed; seeded, the same on every run): a
`pyproject.toml` and a `src/app/` package of 40 sub-packages, each with an `__init__.py` that
re-exports two of its modules. Modules are of five kinds, each importing a few earlier first-party
modules the way real code does (`from app.p3.m17 import helper_17`, `from . import m4`,
`import app.p9.m2 as cfg`) besides the standard library:
  60 % utilities (functions and small classes, no framework),
  5 % config modules (constants: class counts, widths, activations),
  15 % model modules (PyTorch `nn.Module` classes or Keras builder functions sized from a config
       module),
  10 % training scripts (import a model module, a config module and utilities; build, train),
  10 % data modules (numpy, utilities).
A seeded eighth of the training scripts train a model whose bug is only visible across files: a
Keras builder given `NUM_CLASSES = 1` from its config module and compiled with binary cross-entropy
in the script (NNL001 in the model module), or a PyTorch module whose `forward` ends in a softmax fed
to `CrossEntropyLoss` in the script (NNL005 in the model module).

Then checks that nnlint reports each planted bug once, in the model module, and that nothing else is
reported, and runs bench/ruff_ratio.py on the tree (`ruff check --select E9,F`: syntax errors and
pyflakes, which also resolves imports). Standard library only.
"""
import argparse
import os
import random
import re
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

UTIL = '''"""Utilities {name}."""
import os
import re
{imports}


def helper_{i}(values, scale={scale}):
    out = []
    for v in values:
        if isinstance(v, str) and re.match(r"^-?[0-9.]+$", v):
            v = float(v)
        out.append(v * scale if isinstance(v, (int, float)) else v)
    return out


class Registry{i}:
    def __init__(self):
        self.items = {{}}

    def register(self, key, value):
        self.items[key] = value
        return value

    def path_for(self, key):
        return os.path.join("cache", str(key))
{uses}'''

CONFIG = '''"""Settings {name}."""
NUM_CLASSES = {classes}
HIDDEN = {hidden}
INPUT_DIM = {input_dim}
DROPOUT = 0.{drop}
'''

TORCH_MODEL = '''import torch
from torch import nn
import torch.nn.functional as F

import {config} as cfg
{imports}


class Net{i}(nn.Module):
    def __init__(self, in_dim=cfg.INPUT_DIM, classes=cfg.NUM_CLASSES):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(in_dim, cfg.HIDDEN), nn.ReLU(), nn.Dropout(cfg.DROPOUT))
        self.head = nn.Linear(cfg.HIDDEN, classes)

    def forward(self, x):
        return {ret}
'''

KERAS_MODEL = '''from tensorflow import keras
from tensorflow.keras import layers

from {config} import DROPOUT, HIDDEN, INPUT_DIM, NUM_CLASSES
{imports}


def build_{i}(activation="{act}"):
    inputs = keras.Input(shape=(INPUT_DIM,))
    x = layers.Dense(HIDDEN, activation="relu")(inputs)
    x = layers.Dropout(DROPOUT)(x)
    outputs = layers.Dense(NUM_CLASSES, activation=activation)(x)
    return keras.Model(inputs, outputs)
'''

TORCH_TRAIN = '''import torch
from torch import nn

from {model} import Net{m}
{imports}


def main(loader, epochs=3):
    net = Net{m}()
    criterion = nn.CrossEntropyLoss()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    for _ in range(epochs):
        for x, y in loader:
            opt.zero_grad()
            loss = criterion(net(x), y)
            loss.backward()
            opt.step()
    return net


if __name__ == "__main__":
    main(torch.load("batches.pt"))
'''

KERAS_TRAIN = '''import numpy as np

from {model} import build_{m}
{imports}

x = np.random.rand(256, 16).astype("float32")
y = np.random.randint(0, 2, size=(256, 1))
model = build_{m}()
model.compile(optimizer="adam", loss="{loss}", metrics=["accuracy"])
model.fit(x, y, epochs=2)
'''

DATA = '''import numpy as np
{imports}


def batches_{i}(x, y, size=32):
    order = np.random.permutation(len(x))
    for start in range(0, len(x), size):
        idx = order[start:start + size]
        yield x[idx], y[idx]
'''


def generate(out, n, seed=7):
    rng = random.Random(seed)
    if os.path.exists(out):
        shutil.rmtree(out)
    pkgs = 40
    per = n // pkgs
    kinds = ["util"] * 60 + ["config"] * 5 + ["model"] * 15 + ["train"] * 10 + ["data"] * 10
    modules = []  # (dotted, kind, i)
    for k in range(n):
        p, j = k % pkgs, k // pkgs
        kind = kinds[rng.randrange(len(kinds))]
        modules.append((f"app.p{p}.m{j}", kind, k))
    utils = [m for m in modules if m[1] == "util"]
    configs = [m for m in modules if m[1] == "config"]
    models = [m for m in modules if m[1] == "model"]
    planted = []
    texts = {}
    model_info = {}
    # Config modules first: a model decides its bug by the config it reads.
    config_classes = {}
    for dotted, _, i in configs:
        config_classes[dotted] = rng.choice([2, 3, 5, 10])
    one_class = f"app.one_class_cfg"
    config_classes[one_class] = 1

    def imports_for(i, count):
        chosen = rng.sample(utils, min(count, len(utils)))
        lines, uses = [], []
        for dotted, _, u in chosen:
            if dotted.endswith(f".m{u // pkgs}") and rng.random() < 0.3:
                pkg, mod = dotted.rsplit(".", 1)
                lines.append(f"from {pkg} import {mod}")
                uses.append(f"{mod}.helper_{u}")
            else:
                lines.append(f"from {dotted} import helper_{u}, Registry{u}")
                uses.append(f"helper_{u}")
        return "\n".join(lines), uses

    for dotted, kind, i in modules:
        if kind == "util":
            imp, uses = imports_for(i, rng.randint(1, 4))
            use = "".join(f"\n\ndef use_{i}_{k}(xs):\n    return {u}(xs)\n" for k, u in enumerate(uses))
            texts[dotted] = UTIL.format(name=dotted, i=i, scale=rng.randint(1, 9), imports=imp, uses=use)
        elif kind == "config":
            texts[dotted] = CONFIG.format(name=dotted, classes=config_classes[dotted], hidden=rng.choice([32, 64, 128]),
                                          input_dim=16, drop=rng.randint(1, 5))
        elif kind == "data":
            imp, _ = imports_for(i, rng.randint(1, 3))
            texts[dotted] = DATA.format(i=i, imports=imp)
        elif kind == "model":
            torch = rng.random() < 0.5
            cfg = rng.choice(configs)[0] if configs else one_class
            imp, _ = imports_for(i, rng.randint(0, 2))
            model_info[dotted] = {"torch": torch, "config": cfg, "i": i}
            if torch:
                texts[dotted] = TORCH_MODEL.format(config=cfg, imports=imp, i=i, ret="self.head(self.body(x))")
            else:
                texts[dotted] = KERAS_MODEL.format(config=cfg, imports=imp, i=i, act="softmax")
    # Training scripts: each trains one model module; an eighth of them plant a cross-file bug in a
    # model module of their own.
    for dotted, kind, i in modules:
        if kind != "train":
            continue
        imp, _ = imports_for(i, rng.randint(1, 3))
        if rng.random() < 1 / 8:
            torch = rng.random() < 0.5
            model = f"app.planted.model{i}"
            if torch:
                texts[model] = TORCH_MODEL.format(config=configs[0][0], imports="", i=i,
                                                  ret="F.softmax(self.head(self.body(x)), dim=1)")
                texts[dotted] = TORCH_TRAIN.format(model=model, m=i, imports=imp)
                planted.append((model, "NNL005"))
            else:
                texts[model] = KERAS_MODEL.format(config=one_class, imports="", i=i, act="softmax")
                texts[dotted] = KERAS_TRAIN.format(model=model, m=i, imports=imp, loss="binary_crossentropy")
                planted.append((model, "NNL001"))
            continue
        model = rng.choice(models)[0]
        info = model_info[model]
        if info["torch"]:
            texts[dotted] = TORCH_TRAIN.format(model=model, m=info["i"], imports=imp)
        else:
            texts[dotted] = KERAS_TRAIN.format(model=model, m=info["i"], imports=imp,
                                               loss="sparse_categorical_crossentropy")
    texts[one_class] = CONFIG.format(name=one_class, classes=1, hidden=64, input_dim=16, drop=2)
    # Packages: an `__init__` re-exporting two modules' names.
    pkg_inits = {}
    for dotted, kind, i in modules:
        pkg = dotted.rsplit(".", 1)[0]
        if kind == "util" and len(pkg_inits.setdefault(pkg, [])) < 2:
            pkg_inits[pkg].append(f"from .{dotted.rsplit('.', 1)[1]} import helper_{i}")
    files = {}
    for dotted, text in texts.items():
        files["src/" + dotted.replace(".", "/") + ".py"] = text
    for pkg in {d.rsplit(".", 1)[0] for d in texts} | {"app"}:
        init = "src/" + pkg.replace(".", "/") + "/__init__.py"
        files[init] = "\n".join(pkg_inits.get(pkg, [])) + "\n"
    files["pyproject.toml"] = '[project]\nname = "app"\nversion = "0.1.0"\n'
    for rel, text in sorted(files.items()):
        path = os.path.join(out, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
    return planted, sum(1 for r in files if r.endswith(".py"))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--modules", type=int, default=2000)
    ap.add_argument("--binary", default=os.path.join(ROOT, "target", "release", "nnlint"))
    ap.add_argument("--ruff", default=os.path.join(ROOT, "target", "ruff-venv", "bin", "ruff"))
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--out", default=os.path.join(ROOT, "target", "bench-data", "project-tree"))
    args = ap.parse_args()
    planted, count = generate(args.out, args.modules)
    print(f"generated {count} modules in {args.out}; {len(planted)} cross-file bugs planted")
    p = subprocess.run([args.binary, "--isolated", "--format", "concise", args.out], capture_output=True, text=True)
    found = {}
    for line in p.stdout.splitlines():
        m = re.match(r"(.+?):\d+:\d+: (NNL\d+) ", line)
        if m:
            rel = os.path.relpath(m.group(1), os.path.join(args.out, "src"))
            found.setdefault((rel[:-3].replace(os.sep, "."), m.group(2)), 0)
            found[(rel[:-3].replace(os.sep, "."), m.group(2))] += 1
    missed = [b for b in planted if b not in found]
    twice = [b for b, n in found.items() if n > 1]
    extra = [b for b in found if b not in planted]
    print(f"planted bugs found: {len(planted) - len(missed)}/{len(planted)}; reported more than once: "
          f"{len(twice)}; other findings: {len(extra)}")
    for b in missed[:5] + extra[:5] + twice[:5]:
        print("   ", b)
    if missed or twice or extra:
        status = 1
    else:
        status = 0
    r = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "ruff_ratio.py"), "--binary", args.binary,
                        "--ruff", args.ruff, "--tree", args.out, "--rounds", str(args.rounds)])
    sys.exit(status or r.returncode)


if __name__ == "__main__":
    main()

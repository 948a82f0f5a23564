"""Throughput of the Python source front end on a generated tree of Python files.

    python3 bench/python_tree.py [--files 10000] [--runs 5] [--binary target/release/nnlint]
    python3 bench/python_tree.py --torch --files 1000    # PyTorch scripts only

Writes target/bench-data/python-tree/ (never committed): half the files are ordinary Python with no
deep-learning import (utility modules, CLI scripts, tests), half are Keras / tf.keras / TF1 training
scripts in several styles (Sequential lists, model.add, functional, helpers, TF1 graphs), a seeded
tenth of them with a bug nnlint reports. Then times `nnlint --format concise --isolated DIR` (one
process for the whole tree) and prints files per second. Standard library only; seeded, so the tree
is the same on every run.
"""
import argparse
import os
import random
import resource
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

PLAIN_HEAD = [
    "import os\nimport sys\nimport json\n",
    "from pathlib import Path\nimport re\nimport collections\n",
    "import argparse\nimport logging\nimport itertools\n",
    "import numpy as np\nimport pandas as pd\n",
]

PLAIN_BODY = '''
def parse_record_{i}(line, sep=","):
    """Split one record and convert the numeric fields."""
    fields = [f.strip() for f in line.split(sep)]
    out = {{}}
    for k, v in enumerate(fields):
        try:
            out["f%d" % k] = float(v)
        except ValueError:
            out["f%d" % k] = v
    return out


class Cache{i}:
    def __init__(self, size={size}):
        self.size = size
        self.items = collections.OrderedDict() if "collections" in globals() else {{}}

    def get(self, key, default=None):
        return self.items.get(key, default)

    def put(self, key, value):
        self.items[key] = value
        while len(self.items) > self.size:
            self.items.pop(next(iter(self.items)))
'''

KERAS_STYLES = [
    # Sequential list, tf.keras
    '''import tensorflow as tf

N_FEATURES = {n_in}

def make_model():
    model = tf.keras.Sequential([
        tf.keras.layers.Dense({h}, activation="relu", input_shape=(N_FEATURES,)),
        tf.keras.layers.Dropout(0.2),
        tf.keras.layers.Dense({out}, activation="{act}"),
    ])
    model.compile(optimizer="adam", loss="{loss}", metrics=["accuracy"])
    return model

model = make_model()
''',
    # model.add, standalone keras 2
    '''from keras.models import Sequential
from keras.layers import Dense, Dropout

model = Sequential()
model.add(Dense({h}, input_dim={n_in}, activation='relu'))
model.add(Dropout(0.5))
model.add(Dense({out}, activation='{act}'))
model.compile(loss='{loss}', optimizer='rmsprop', metrics=['accuracy'])
''',
    # functional, keras 3
    '''import keras
from keras import layers

inputs = keras.Input(shape=({n_in},))
x = layers.Dense({h}, activation="relu")(inputs)
x = layers.Dense({h}, activation="relu")(x)
outputs = layers.Dense({out}, activation="{act}")(x)
model = keras.Model(inputs, outputs)
model.compile(optimizer="adam", loss="{loss}")
''',
    # TF1 graph
    '''import tensorflow as tf

x = tf.placeholder(tf.float32, [None, {n_in}])
y = tf.placeholder(tf.float32, [None, {out}])
h = tf.layers.dense(x, {h}, activation=tf.nn.relu)
logits = tf.layers.dense(h, {out})
loss = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=y, logits=logits))
train = tf.train.AdamOptimizer(1e-3).minimize(loss)
pred = tf.round(tf.nn.sigmoid(logits))
''',
]


TORCH_STYLES = [
    # nn.Module class, CrossEntropyLoss, a training loop and an evaluation loop
    '''import torch
import torch.nn as nn
import torch.nn.functional as F

class Net{i}(nn.Module):
    def __init__(self, n_in={n_in}, hidden={h}, n_out={k}):
        super().__init__()
        self.fc1 = nn.Linear(n_in, hidden)
        self.fc2 = nn.Linear(hidden, n_out)
        self.drop = nn.Dropout(0.2)

    def forward(self, x):
        x = self.drop(F.relu(self.fc1(x)))
        return {ce_out}

model = Net{i}().to("cpu")
criterion = nn.CrossEntropyLoss()
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
for epoch in range(10):
    for xb, yb in train_loader:
        optimizer.zero_grad()
        loss = criterion(model(xb), yb)
        loss.backward()
        optimizer.step()
model.eval()
with torch.no_grad():
    correct = (model(x_val).argmax(dim=1) == y_val).sum().item()
''',
    # nn.Sequential from a helper, binary head with BCELoss
    '''import torch
from torch import nn

def build(n_in, hidden={h}):
    return nn.Sequential(
        nn.Linear(n_in, hidden),
        nn.ReLU(),
        nn.Linear(hidden, 1),
        {bin_act}
    )

net = build({n_in})
loss_fn = nn.BCELoss()
opt = torch.optim.SGD(net.parameters(), lr=0.01)
for step, (x, y) in enumerate(loader):
    opt.zero_grad()
    out = net(x)
    loss = loss_fn(out, y)
    loss.backward()
    opt.step()
''',
    # small CNN, BCEWithLogitsLoss, sigmoid at evaluation
    '''import torch
import torch.nn as nn

class SmallCNN{i}(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, padding=1)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(32 * 8 * 8, 1)

    def forward(self, x):
        x = self.pool(torch.relu(self.conv1(x)))
        x = self.pool(torch.relu(self.conv2(x)))
        x = torch.flatten(x, 1)
        return self.fc(x)

model = SmallCNN{i}()
criterion = nn.BCEWithLogitsLoss()
for images, labels in loader:
    loss = criterion(model(images), labels.float())
model.eval()
with torch.no_grad():
    preds = (torch.sigmoid(model(images)) > 0.5).float()
''',
]


def torch_file(rng, i):
    buggy = rng.random() < 0.1
    style = rng.randrange(len(TORCH_STYLES))
    body = TORCH_STYLES[style].format(
        i=i, n_in=rng.randint(4, 512), h=rng.choice([16, 32, 64, 128]), k=rng.choice([3, 10]),
        ce_out="F.softmax(self.fc2(x), dim=1)" if buggy else "self.fc2(x)",
        bin_act="" if buggy else "nn.Sigmoid(),")
    extra = "".join(PLAIN_BODY.format(i=f"{i}_{k}", size=k + 8) for k in range(rng.randint(0, 3)))
    # The CNN style trains on logits and applies the sigmoid at evaluation: never a bug.
    return "import collections\n" + body + extra, buggy and style != 2


def plain_file(rng, i):
    parts = [rng.choice(PLAIN_HEAD)]
    for k in range(rng.randint(1, 6)):
        parts.append(PLAIN_BODY.format(i=f"{i}_{k}", size=rng.randint(8, 512)))
    parts.append('\nif __name__ == "__main__":\n    print(parse_record_%d_0("1,2,3"))\n' % i)
    return "".join(parts)


def keras_file(rng, i):
    buggy = rng.random() < 0.1
    out = rng.choice([1, 1, 3, 10])
    if out == 1:
        act, loss = ("softmax" if buggy else "sigmoid"), "binary_crossentropy"
    else:
        act, loss = "softmax", ("binary_crossentropy" if buggy else "categorical_crossentropy")
    style = rng.randrange(len(KERAS_STYLES))
    body = KERAS_STYLES[style].format(n_in=rng.randint(4, 512), h=rng.choice([16, 32, 64, 128]),
                                           out=out, act=act, loss=loss)
    # Some ordinary code around the model, as real scripts have.
    extra = "".join(PLAIN_BODY.format(i=f"{i}_{k}", size=k + 8) for k in range(rng.randint(0, 3)))
    # The TF1 style trains on logits and applies the sigmoid at test time: never a bug.
    return "import collections\n" + body + extra, buggy and style != 3


def generate(dest, n, torch_only=False):
    if os.path.isdir(dest):
        shutil.rmtree(dest)
    rng = random.Random(20261203)
    total, bugs = 0, 0
    for i in range(n):
        sub = os.path.join(dest, "pkg%03d" % (i // 100))
        os.makedirs(sub, exist_ok=True)
        if torch_only:
            text, bug = torch_file(rng, i)
            bugs += bug
        elif i % 2:
            text, bug = keras_file(rng, i)
            bugs += bug
        else:
            text = plain_file(rng, i)
        name = ("train_%05d.py" if i % 2 or torch_only else "util_%05d.py") % i
        with open(os.path.join(sub, name), "w") as f:
            f.write(text)
        total += len(text)
    return total, bugs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=10000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--binary", default=os.path.join(ROOT, "target/release/nnlint"))
    ap.add_argument("--torch", action="store_true",
                    help="every file a PyTorch training script (nn.Module, nn.Sequential, CNN)")
    args = ap.parse_args()
    dest = os.path.join(ROOT, "target/bench-data", "torch-tree" if args.torch else "python-tree")
    size, bugs = generate(dest, args.files, args.torch)
    kind = "all PyTorch training scripts" if args.torch else "half without deep-learning imports"
    print(f"tree: {args.files} files, {size / 1e6:.1f} MB, {kind}, {bugs} scripts with a bug")
    cmd = [args.binary, "--format", "concise", "--isolated", dest]
    subprocess.run(cmd, capture_output=True)  # warm the page cache
    walls, cpus = [], []
    out = None
    for _ in range(args.runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        out = subprocess.run(cmd, capture_output=True, text=True)
        walls.append(time.perf_counter() - t)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    findings = sum(1 for line in out.stdout.splitlines() if ": NNL" in line)
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    walls.sort()
    cpus.sort()
    wall, cpu = walls[len(walls) // 2], cpus[len(cpus) // 2]
    other = [line for line in out.stdout.splitlines() if ": NNL" not in line]
    print(f"exit {out.returncode}; {findings} findings (expected {bugs}); other output lines: {len(other)}")
    print(f"median of {args.runs}: wall {wall * 1000:.0f} ms ({args.files / wall:,.0f} files/s), "
          f"CPU {cpu * 1000:.0f} ms ({args.files / cpu:,.0f} files per CPU-second), peak RSS {rss:.0f} MB")


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Generate the benchmark models into target/bench-data/ (never committed).

Runs in the fixture generator's pinned venv (torch, onnx, keras; see fixtures/gen/requirements.txt):

    fixtures/gen/.venv/bin/python bench/generate.py            # all three sets
    fixtures/gen/.venv/bin/python bench/generate.py resnet50   # one of: resnet50 transformer keras

(a) resnet50/resnet50.onnx   ResNet-50 (the torchvision architecture, written in plain torch.nn so no
                             torchvision wheel has to match torch 2.15), fresh initialisation, exported
                             by torch.onnx (dynamo) with every weight embedded (~94 MB). Its classifier
                             is Linear(2048, 1) + softmax(dim=1): the single-unit-softmax bug, so nnlint
                             reports NNL001 and runs its numerical check on the model's head.
(b) transformer/transformer.onnx + transformer.onnx.data
                             A 44-layer encoder (d=1024, 16 heads, FFN 4096, 32k vocabulary) written
                             node by node with onnx.helper; ~2.35 GB of float32 weights go to one
                             external data file, written tensor by tensor so at most one weight is in
                             memory. Ends in mean pooling + MatMul(1024 -> 1) + Softmax.
(c) keras/NNNN_<arch>.json   1,000 `model.to_json()` outputs of 27 Keras 3 architectures (Sequential and
                             Functional: MLPs, CNNs, residual nets, RNNs, attention, multi-input and
                             multi-output), each built by Keras with seeded layer sizes.

Everything is seeded; re-running writes the same architectures and the same weights.
"""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ["CUDA_VISIBLE_DEVICES"] = ""

import argparse
import json
import random
import sys
import time
import warnings
from pathlib import Path
from typing import Callable

import numpy as np
import onnx
from onnx import TensorProto, helper

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "target" / "bench-data"
SEED = 20261128


def progress(message: str) -> None:
    """A progress line on a terminal (rewritten in place), nothing otherwise."""
    if sys.stderr.isatty():
        print(f"\r  {message:<40}", end="" if message else "\r", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------
# (a) ResNet-50, embedded weights
# ---------------------------------------------------------------------------


def _resnet50(num_classes: int):
    """torchvision.models.resnet50(weights=None) layer for layer, with its initialisation."""
    import torch
    from torch import nn

    class Bottleneck(nn.Module):
        expansion = 4

        def __init__(self, inplanes: int, planes: int, stride: int, downsample) -> None:
            super().__init__()
            width = planes
            self.conv1 = nn.Conv2d(inplanes, width, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(width)
            self.conv2 = nn.Conv2d(width, width, 3, stride=stride, padding=1, bias=False)
            self.bn2 = nn.BatchNorm2d(width)
            self.conv3 = nn.Conv2d(width, planes * 4, 1, bias=False)
            self.bn3 = nn.BatchNorm2d(planes * 4)
            self.relu = nn.ReLU(inplace=True)
            self.downsample = downsample

        def forward(self, x):
            identity = x
            out = self.relu(self.bn1(self.conv1(x)))
            out = self.relu(self.bn2(self.conv2(out)))
            out = self.bn3(self.conv3(out))
            if self.downsample is not None:
                identity = self.downsample(x)
            return self.relu(out + identity)

    class ResNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inplanes = 64
            self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
            self.bn1 = nn.BatchNorm2d(64)
            self.relu = nn.ReLU(inplace=True)
            self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
            self.layer1 = self._layer(64, 3, 1)
            self.layer2 = self._layer(128, 4, 2)
            self.layer3 = self._layer(256, 6, 2)
            self.layer4 = self._layer(512, 3, 2)
            self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
            self.fc = nn.Linear(512 * 4, num_classes)
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                elif isinstance(m, nn.BatchNorm2d):
                    nn.init.constant_(m.weight, 1)
                    nn.init.constant_(m.bias, 0)

        def _layer(self, planes: int, blocks: int, stride: int):
            downsample = None
            if stride != 1 or self.inplanes != planes * 4:
                downsample = nn.Sequential(
                    nn.Conv2d(self.inplanes, planes * 4, 1, stride=stride, bias=False),
                    nn.BatchNorm2d(planes * 4),
                )
            layers = [Bottleneck(self.inplanes, planes, stride, downsample)]
            self.inplanes = planes * 4
            layers += [Bottleneck(self.inplanes, planes, 1, None) for _ in range(1, blocks)]
            return nn.Sequential(*layers)

        def forward(self, x):
            x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
            x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
            x = torch.flatten(self.avgpool(x), 1)
            return torch.softmax(self.fc(x), dim=1)

    return ResNet()


def gen_resnet50() -> list[Path]:
    import torch

    random.seed(SEED)
    np.random.seed(SEED)
    torch.manual_seed(SEED)
    dest = OUT / "resnet50"
    dest.mkdir(parents=True, exist_ok=True)
    path = dest / "resnet50.onnx"
    model = _resnet50(num_classes=1).eval()
    example = (torch.randn(2, 3, 224, 224),)
    batch = torch.export.Dim("batch")
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            example,
            str(path),
            input_names=["image"],
            output_names=["probs"],
            opset_version=18,
            dynamo=True,
            external_data=False,
            optimize=True,
            verbose=False,
            dynamic_shapes=({0: batch},),
        )
    # The dynamo exporter records absolute paths of this script in per-node stack traces; drop them so
    # the file does not depend on where the repository is checked out.
    proto = onnx.load(str(path))
    for node in proto.graph.node:
        keep = [p for p in node.metadata_props if p.key != "pkg.torch.onnx.stack_trace"]
        del node.metadata_props[:]
        node.metadata_props.extend(keep)
    onnx.save(proto, str(path))
    for t in proto.graph.initializer:
        if t.data_location == TensorProto.EXTERNAL:
            raise RuntimeError(f"initializer {t.name} went to external data")
    return [path]


# ---------------------------------------------------------------------------
# (b) transformer-like encoder, > 2 GB of external data
# ---------------------------------------------------------------------------

D_MODEL = 1024
HEADS = 16
FFN = 4096
LAYERS = 44
VOCAB = 32000
ALIGN = 4096  # data offsets aligned to pages, as onnx's own writer does for mmap-friendly files


class ExternalWriter:
    """Appends initializers to one external data file, one tensor in memory at a time."""

    def __init__(self, data_path: Path, rng: np.random.Generator) -> None:
        self.data_path = data_path
        self.location = data_path.name
        self.file = open(data_path, "wb")
        self.rng = rng
        self.initializers: list[TensorProto] = []

    def close(self) -> None:
        self.file.close()

    def weight(self, name: str, shape: tuple[int, ...], scale: float) -> str:
        array = self.rng.standard_normal(shape, dtype=np.float32)
        array *= np.float32(scale)
        return self._external(name, array)

    def filled(self, name: str, shape: tuple[int, ...], value: float) -> str:
        return self._external(name, np.full(shape, value, dtype=np.float32))

    def _external(self, name: str, array: np.ndarray) -> str:
        pad = (-self.file.tell()) % ALIGN
        if pad:
            self.file.write(b"\0" * pad)
        offset = self.file.tell()
        data = array.tobytes()
        self.file.write(data)
        tensor = TensorProto()
        tensor.name = name
        tensor.data_type = TensorProto.FLOAT
        tensor.dims.extend(array.shape)
        tensor.raw_data = data  # set_external_data insists on it; cleared right after
        onnx.external_data_helper.set_external_data(
            tensor, location=self.location, offset=offset, length=len(data)
        )
        tensor.ClearField("raw_data")
        self.initializers.append(tensor)
        return name

    def inline(self, name: str, array: np.ndarray) -> str:
        self.initializers.append(onnx.numpy_helper.from_array(array, name))
        return name


def gen_transformer() -> list[Path]:
    dest = OUT / "transformer"
    dest.mkdir(parents=True, exist_ok=True)
    path = dest / "transformer.onnx"
    writer = ExternalWriter(dest / "transformer.onnx.data", np.random.default_rng(SEED))
    nodes: list[onnx.NodeProto] = []
    dh = D_MODEL // HEADS

    def node(op: str, inputs: list[str], out: str, **attrs) -> str:
        nodes.append(helper.make_node(op, inputs, [out], name=f"/{out}/{op}", **attrs))
        return out

    split_heads = writer.inline("shape_split_heads", np.array([0, -1, HEADS, dh], dtype=np.int64))
    merge_heads = writer.inline("shape_merge_heads", np.array([0, -1, D_MODEL], dtype=np.int64))
    attn_scale = writer.inline("attn_scale", np.array(1.0 / np.sqrt(dh), dtype=np.float32))

    embed = writer.weight("embed.weight", (VOCAB, D_MODEL), 0.02)
    x = node("Gather", [embed, "input_ids"], "embed")
    for i in range(LAYERS):
        p = f"layer{i}"

        def linear(inp: str, name: str, fan_in: int, fan_out: int) -> str:
            w = writer.weight(f"{p}.{name}.weight", (fan_in, fan_out), 1.0 / np.sqrt(fan_in))
            b = writer.filled(f"{p}.{name}.bias", (fan_out,), 0.0)
            return node("Add", [node("MatMul", [inp, w], f"{p}.{name}.matmul"), b], f"{p}.{name}")

        ln1 = node(
            "LayerNormalization",
            [x, writer.filled(f"{p}.ln1.weight", (D_MODEL,), 1.0),
             writer.filled(f"{p}.ln1.bias", (D_MODEL,), 0.0)],
            f"{p}.ln1", axis=-1, epsilon=1e-5,
        )
        heads = {}
        for proj in ("q", "k", "v"):
            flat = linear(ln1, proj, D_MODEL, D_MODEL)
            split = node("Reshape", [flat, split_heads], f"{p}.{proj}.split")
            perm = [0, 2, 3, 1] if proj == "k" else [0, 2, 1, 3]
            heads[proj] = node("Transpose", [split], f"{p}.{proj}.heads", perm=perm)
        scores = node("MatMul", [heads["q"], heads["k"]], f"{p}.scores")
        scaled = node("Mul", [scores, attn_scale], f"{p}.scores_scaled")
        attn = node("Softmax", [scaled], f"{p}.attn", axis=-1)
        ctx = node("MatMul", [attn, heads["v"]], f"{p}.context")
        ctx = node("Transpose", [ctx], f"{p}.context_t", perm=[0, 2, 1, 3])
        ctx = node("Reshape", [ctx, merge_heads], f"{p}.context_merged")
        x = node("Add", [x, linear(ctx, "o", D_MODEL, D_MODEL)], f"{p}.residual1")
        ln2 = node(
            "LayerNormalization",
            [x, writer.filled(f"{p}.ln2.weight", (D_MODEL,), 1.0),
             writer.filled(f"{p}.ln2.bias", (D_MODEL,), 0.0)],
            f"{p}.ln2", axis=-1, epsilon=1e-5,
        )
        hidden = node("Relu", [linear(ln2, "ffn_in", D_MODEL, FFN)], f"{p}.ffn_act")
        x = node("Add", [x, linear(hidden, "ffn_out", FFN, D_MODEL)], f"{p}.residual2")
        progress(f"transformer layer {i + 1}/{LAYERS}")
    progress("")
    pooled = node("ReduceMean", [x], "pooled", axes=[1], keepdims=0)
    w_cls = writer.weight("classifier.weight", (D_MODEL, 1), 1.0 / np.sqrt(D_MODEL))
    b_cls = writer.inline("classifier.bias", np.zeros((1,), dtype=np.float32))
    logits = node("Add", [node("MatMul", [pooled, w_cls], "classifier.matmul"), b_cls], "logits")
    node("Softmax", [logits], "probs", axis=-1)
    writer.close()

    graph = helper.make_graph(
        nodes,
        "encoder_classifier",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "seq"])],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["batch", 1])],
        initializer=writer.initializers,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", 17)],
        producer_name="nnlint-bench",
        producer_version="1",
    )
    model.ir_version = 8
    # Shape inference reads only dims, never the external bytes; it adds value_info as exporters do.
    model = onnx.shape_inference.infer_shapes(model)
    onnx.save(model, str(path))
    return [path, writer.data_path]


# ---------------------------------------------------------------------------
# (c) 1,000 Keras configs
# ---------------------------------------------------------------------------

KERAS_FILES = 1000


def _keras_architectures():
    """Builders `(rng) -> keras.Model`: each draws its layer sizes from rng."""
    import keras
    from keras import layers

    def units(rng, lo=8, hi=512):
        return int(rng.integers(lo, hi + 1))

    def head(rng, x, classes=None):
        classes = classes if classes is not None else int(rng.choice([1, 1, 2, 3, 10, 100]))
        act = "sigmoid" if classes == 1 and rng.random() < 0.7 else "softmax"
        return layers.Dense(classes, activation=act, name="head")(x)

    def compile_some(rng, model):
        if rng.random() < 0.6:
            classes = model.outputs[0].shape[-1]
            loss = "binary_crossentropy" if classes == 1 else rng.choice(
                ["categorical_crossentropy", "sparse_categorical_crossentropy"]
            )
            model.compile(optimizer=str(rng.choice(["adam", "sgd", "rmsprop"])), loss=str(loss),
                          metrics=["accuracy"])
        return model

    def mlp(depth_lo, depth_hi, act):
        def build(rng):
            inputs = keras.Input((units(rng, 4, 256),))
            x = inputs
            for _ in range(int(rng.integers(depth_lo, depth_hi + 1))):
                x = layers.Dense(units(rng), activation=act)(x)
                if rng.random() < 0.3:
                    x = layers.Dropout(float(rng.choice([0.1, 0.2, 0.5])))(x)
            return compile_some(rng, keras.Model(inputs, head(rng, x)))
        return build

    def sequential_mlp(depth_hi):
        def build(rng):
            model = keras.Sequential([keras.Input((units(rng, 4, 128),))])
            for _ in range(int(rng.integers(1, depth_hi + 1))):
                model.add(layers.Dense(units(rng), activation=str(rng.choice(["relu", "tanh", "gelu"]))))
                if rng.random() < 0.3:
                    model.add(layers.BatchNormalization())
            classes = int(rng.choice([1, 2, 5, 10]))
            act = "softmax" if classes > 1 or rng.random() < 0.3 else "sigmoid"
            model.add(layers.Dense(classes, activation=act))
            return compile_some(rng, model)
        return build

    def cnn(blocks_hi, pool):
        def build(rng):
            size = int(rng.choice([28, 32, 64]))
            model = keras.Sequential([keras.Input((size, size, int(rng.choice([1, 3]))))])
            for _ in range(int(rng.integers(1, blocks_hi + 1))):
                model.add(layers.Conv2D(units(rng, 8, 128), 3, padding="same", activation="relu"))
                if rng.random() < 0.5:
                    model.add(layers.BatchNormalization())
                if model.layers[-1].output.shape[1] > 4:
                    model.add(layers.MaxPooling2D())
            model.add(layers.GlobalAveragePooling2D() if pool else layers.Flatten())
            model.add(layers.Dense(units(rng, 16, 256), activation="relu"))
            model.add(layers.Dense(int(rng.choice([1, 2, 10])), activation="softmax"))
            return compile_some(rng, model)
        return build

    def resnet(blocks_hi):
        def build(rng):
            inputs = keras.Input((32, 32, 3))
            filters = units(rng, 16, 64)
            x = layers.Conv2D(filters, 3, padding="same", activation="relu")(inputs)
            for _ in range(int(rng.integers(2, blocks_hi + 1))):
                y = layers.Conv2D(filters, 3, padding="same")(x)
                y = layers.BatchNormalization()(y)
                y = layers.Activation("relu")(y)
                y = layers.Conv2D(filters, 3, padding="same")(y)
                y = layers.BatchNormalization()(y)
                x = layers.Activation("relu")(layers.Add()([x, y]))
            x = layers.GlobalAveragePooling2D()(x)
            return compile_some(rng, keras.Model(inputs, head(rng, x)))
        return build

    def rnn(cell):
        def build(rng):
            model = keras.Sequential([keras.Input((int(rng.integers(10, 200)),), dtype="int32")])
            model.add(layers.Embedding(units(rng, 1000, 20000), units(rng, 16, 256)))
            stacked = int(rng.integers(1, 3))
            for i in range(stacked):
                rnn_layer = cell(units(rng, 16, 256), return_sequences=i < stacked - 1)
                model.add(layers.Bidirectional(rnn_layer) if rng.random() < 0.4 else rnn_layer)
            model.add(layers.Dense(int(rng.choice([1, 2, 5])), activation=str(rng.choice(["sigmoid", "softmax"]))))
            return compile_some(rng, model)
        return build

    def attention(rng):
        seq, dim = int(rng.integers(8, 128)), int(rng.choice([32, 64, 128]))
        inputs = keras.Input((seq, dim))
        x = inputs
        for _ in range(int(rng.integers(1, 4))):
            a = layers.MultiHeadAttention(int(rng.choice([2, 4, 8])), dim // 4)(x, x)
            x = layers.LayerNormalization()(layers.Add()([x, a]))
            f = layers.Dense(dim * 2, activation="relu")(x)
            x = layers.LayerNormalization()(layers.Add()([x, layers.Dense(dim)(f)]))
        x = layers.GlobalAveragePooling1D()(x)
        return compile_some(rng, keras.Model(inputs, head(rng, x)))

    def multi_input(rng):
        a = keras.Input((units(rng, 4, 64),), name="numeric")
        b = keras.Input((units(rng, 4, 64),), name="categorical")
        x = layers.Concatenate()([layers.Dense(units(rng), activation="relu")(a),
                                  layers.Dense(units(rng), activation="relu")(b)])
        x = layers.Dense(units(rng), activation="relu")(x)
        return compile_some(rng, keras.Model([a, b], head(rng, x)))

    def multi_output(rng):
        inputs = keras.Input((units(rng, 8, 128),))
        x = layers.Dense(units(rng), activation="relu")(inputs)
        x = layers.Dense(units(rng), activation="relu")(x)
        cls = layers.Dense(int(rng.choice([1, 3, 10])), activation="softmax", name="label")(x)
        reg = layers.Dense(1, name="score")(x)
        model = keras.Model(inputs, [cls, reg])
        if rng.random() < 0.6:
            model.compile(optimizer="adam", loss=["categorical_crossentropy", "mse"])
        return model

    def conv1d(rng):
        model = keras.Sequential([keras.Input((int(rng.integers(32, 512)), int(rng.integers(1, 16))))])
        for _ in range(int(rng.integers(1, 5))):
            model.add(layers.Conv1D(units(rng, 8, 128), 5, padding="same", activation="relu"))
            model.add(layers.MaxPooling1D())
        model.add(layers.GlobalMaxPooling1D())
        model.add(layers.Dense(int(rng.choice([1, 2, 4])), activation="softmax"))
        return compile_some(rng, model)

    def autoencoder_classifier(rng):
        inputs = keras.Input((28, 28, 1))
        x = layers.Conv2D(units(rng, 8, 64), 3, strides=2, padding="same", activation="relu")(inputs)
        x = layers.Conv2D(units(rng, 8, 64), 3, strides=2, padding="same", activation="relu")(x)
        x = layers.Conv2DTranspose(units(rng, 8, 64), 3, strides=2, padding="same", activation="relu")(x)
        x = layers.UpSampling2D()(x)
        x = layers.Conv2D(int(rng.choice([1, 2, 5])), 1, activation="softmax", name="mask")(x)
        return compile_some(rng, keras.Model(inputs, x))

    archs: list[tuple[str, Callable]] = []
    for lo, hi, act in [(1, 2, "relu"), (2, 4, "relu"), (3, 8, "tanh"), (6, 16, "relu"), (12, 32, "gelu")]:
        archs.append((f"mlp{lo}_{hi}_{act}", mlp(lo, hi, act)))
    for hi in (2, 5, 10, 20):
        archs.append((f"seqmlp{hi}", sequential_mlp(hi)))
    for hi in (2, 4, 6):
        for pool in (False, True):
            archs.append((f"cnn{hi}_{'gap' if pool else 'flat'}", cnn(hi, pool)))
    for hi in (3, 6, 12, 24):
        archs.append((f"resnet{hi}", resnet(hi)))
    for cell_name in ("LSTM", "GRU", "SimpleRNN"):
        archs.append((f"rnn_{cell_name.lower()}", rnn(getattr(layers, cell_name))))
    archs += [("attention", attention), ("multi_input", multi_input), ("multi_output", multi_output),
              ("conv1d", conv1d), ("segmenter", autoencoder_classifier)]
    return archs


def gen_keras() -> list[Path]:
    import keras

    dest = OUT / "keras"
    dest.mkdir(parents=True, exist_ok=True)
    for old in dest.glob("*.json"):
        old.unlink()
    archs = _keras_architectures()
    rng = np.random.default_rng(SEED)
    written = []
    for i in range(KERAS_FILES):
        name, build = archs[i % len(archs)]
        keras.backend.clear_session()
        keras.utils.set_random_seed(SEED + i)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = build(np.random.default_rng(rng.integers(2**63)))
        path = dest / f"{i:04d}_{name}.json"
        indent = 2 if rng.random() < 0.5 else None
        path.write_text(model.to_json(indent=indent) + "\n")
        written.append(path)
        if (i + 1) % 50 == 0:
            progress(f"keras {i + 1}/{KERAS_FILES}")
    progress("")
    return written


SETS = {"resnet50": gen_resnet50, "transformer": gen_transformer, "keras": gen_keras}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sets", nargs="*", metavar="SET", help=f"any of {', '.join(SETS)} (default: all)")
    args = parser.parse_args()
    unknown = [s for s in args.sets if s not in SETS]
    if unknown:
        parser.error(f"unknown set(s) {', '.join(unknown)}; choose from {', '.join(SETS)}")
    for name in args.sets or list(SETS):
        start = time.perf_counter()
        paths = SETS[name]()
        size = sum(p.stat().st_size for p in paths)
        shown = paths[0].relative_to(ROOT) if len(paths) <= 2 else paths[0].parent.relative_to(ROOT)
        print(f"{name}: {len(paths)} file(s), {size / 1e6:,.1f} MB in {shown} "
              f"({time.perf_counter() - start:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

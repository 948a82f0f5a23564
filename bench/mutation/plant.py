"""Find classifier heads and losses in real Python code and plant one head bug per mutant.

Used by bench/mutation/run.py; `python3 bench/mutation/plant.py FILE...` prints what it would plant.

Everything is located with the standard library's `ast` and applied as byte-range edits to the
original text: what is not edited stays byte-identical. Notebooks: the code cells are parsed together
(magic and shell lines blanked with spaces, so offsets do not move; a cell that does not parse on its
own is left out), each edit lands inside one cell's source, and the JSON is written back in the
notebook's own layout when `json.dumps` reproduces it (checked), else with Jupyter's.

Mutation kinds (the code nnlint should report on the mutant):

  keras_units1          final Dense(k, softmax) (or Dense(k) + Activation/Softmax)  -> units 1   NNL001
  keras_sigmoid1_to_softmax  final Dense(1, sigmoid) -> activation softmax                       NNL001
  keras_from_logits     categorical CE on a softmax output -> loss object with from_logits=True  NNL005
  keras_bce_from_logits binary CE on a sigmoid output -> BinaryCrossentropy(from_logits=True)    NNL005
  keras_cce_on_sigmoid  binary CE on a multi-unit sigmoid output -> categorical_crossentropy     NNL002
  keras_cce_on_sigmoid1 binary CE on a one-unit sigmoid output -> categorical_crossentropy       NNL007
  torch_softmax_before_ce  forward's returned logits wrapped in F.softmax(..., dim=1) (or
                        nn.Softmax(dim=1) appended to an nn.Sequential), trained with CE         NNL005
  torch_linear_out1     the Linear whose output forward returns -> out_features 1, + softmax     NNL001
  torch_log_of_softmax  F.log_softmax(x, dim) -> torch.log(F.softmax(x, dim))                    NNL008
  tf1_softmax_logits    *softmax_cross_entropy_with_logits*(logits=z) -> logits=tf.nn.softmax(z) NNL005
  tf1_sigmoid_logits    sigmoid_cross_entropy_with_logits(logits=z) -> logits=tf.nn.sigmoid(z)   NNL005
  keras_units_minus1    final Dense(k, softmax), k > 2 or a name -> k - 1, in a file that loads
                        a dataset whose classes are known or one-hot encodes its labels          NNL016
  torch_linear_out_minus1  the Linear whose output is the logits -> out_features - 1, same
                        condition                                                                NNL016
"""
import ast
import json
import re
import sys

EXPECTED = {
    "keras_units1": "NNL001",
    "keras_sigmoid1_to_softmax": "NNL001",
    "keras_from_logits": "NNL005",
    "keras_bce_from_logits": "NNL005",
    "keras_cce_on_sigmoid": "NNL002",
    "keras_cce_on_sigmoid1": "NNL007",
    "torch_softmax_before_ce": "NNL005",
    "torch_linear_out1": "NNL001",
    "torch_log_of_softmax": "NNL008",
    "tf1_softmax_logits": "NNL005",
    "tf1_sigmoid_logits": "NNL005",
    "keras_units_minus1": "NNL016",
    "torch_linear_out_minus1": "NNL016",
}

# A file that states how many classes its labels have: a dataset of known classes, a one-hot
# encoding of a stated width.
STATES_CLASSES = re.compile(
    r"\b(mnist|fashion_mnist|cifar10|cifar100|imdb|reuters)\.load_data\b"
    r"|\bdatasets\.(MNIST|FashionMNIST|KMNIST|QMNIST|CIFAR10|CIFAR100|SVHN|STL10)\b"
    r"|\bto_categorical\([^()]*,\s*(num_classes\s*=\s*)?\d+\s*\)"
    r"|\bone_hot\([^()]*,\s*((num_classes|depth)\s*=\s*)?\d+\s*\)"
)


def one_fewer(src, node):
    """The edit turning a class count `k` into `k - 1` (a literal > 2, or an expression)."""
    k = const_int(node)
    a, b = src.span(node)
    if k is None:
        return (a, b, f"{src.text(node)} - 1")
    if k > 2:
        return (a, b, str(k - 1))
    return None
KINDS = list(EXPECTED)

# ---------------------------------------------------------------------------------------------
# Source text: .py and .ipynb behind one interface (a parsed program + byte-range edits)


class Unparseable(Exception):
    pass


MAGIC_LINE = re.compile(r"^[ \t]*[%!?]")


def _blank(line):
    """Spaces of the same UTF-8 length (offsets into the cell stay valid)."""
    return re.sub(r"[^\n\r]", lambda m: " " * len(m.group(0).encode()), line)


class Source:
    """A .py file or the code cells of a notebook as one program.

    `program` is the text that was parsed (str); `tree` its ast. Offsets are UTF-8 byte offsets into
    `program`; `apply(edits)` maps them back onto the original bytes and returns the mutant's bytes.
    """

    def __init__(self, path, data):
        self.path = path
        self.data = data
        self.notebook = path.endswith(".ipynb")
        if self.notebook:
            self._init_notebook()
        else:
            self._init_py()
        self.pbytes = self.program.encode("utf-8")
        self.line_starts = [0]
        for i, b in enumerate(self.pbytes):
            if b == 10:
                self.line_starts.append(i + 1)

    def _init_py(self):
        data = self.data
        self.bom = b""
        if data.startswith(b"\xef\xbb\xbf"):
            self.bom, data = data[:3], data[3:]
        try:
            self.program = data.decode("utf-8")
        except UnicodeDecodeError:
            raise Unparseable("not UTF-8")
        try:
            self.tree = ast.parse(self.program)
        except SyntaxError as e:
            raise Unparseable(_syntax_reason(self.program, e))

    def _init_notebook(self):
        try:
            self.nb = json.loads(self.data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise Unparseable("notebook is not JSON")
        if "cells" in self.nb:
            cells = self.nb["cells"]
            key = "source"
        else:  # nbformat 3
            cells = (self.nb.get("worksheets") or [{}])[0].get("cells", [])
            key = "input"
        self.cell_key = key
        self.cells = [c for c in cells if c.get("cell_type") == "code"]
        parts, self.cell_spans, at = [], [], 0
        skipped = 0
        for idx, cell in enumerate(self.cells):
            src = cell.get(key, "")
            text = "".join(src) if isinstance(src, list) else src
            lines = text.splitlines(keepends=True)
            if lines and lines[0].lstrip().startswith("%%"):
                lines = [_blank(l) for l in lines]
            else:
                lines = [_blank(l) if MAGIC_LINE.match(l) else l for l in lines]
            blanked = "".join(lines)
            try:
                ast.parse(blanked)
            except SyntaxError:
                skipped += 1
                continue
            if not blanked.endswith("\n"):
                blanked += "\n"
            n = len(blanked.encode("utf-8"))
            self.cell_spans.append((at, at + n, idx, text))
            parts.append(blanked)
            at += n
        self.program = "".join(parts)
        self.cells_skipped = skipped
        try:
            self.tree = ast.parse(self.program)
        except SyntaxError as e:
            raise Unparseable(_syntax_reason(self.program, e))
        if not self.cell_spans and self.cells:
            raise Unparseable("no code cell parses")

    # offsets -------------------------------------------------------------------------------
    def off(self, lineno, col):
        return self.line_starts[lineno - 1] + col

    def span(self, node):
        return self.off(node.lineno, node.col_offset), self.off(node.end_lineno, node.end_col_offset)

    def text(self, node):
        a, b = self.span(node)
        return self.pbytes[a:b].decode("utf-8")

    def line_end(self, node):
        """Offset just past the newline that ends the node's last line."""
        ln = node.end_lineno
        return self.line_starts[ln] if ln < len(self.line_starts) else len(self.pbytes)

    # edits ---------------------------------------------------------------------------------
    def apply(self, edits):
        """edits: (start, end, replacement str) in program offsets, non-overlapping."""
        edits = sorted(edits, key=lambda e: (e[0], e[1]))
        for (a1, b1, _), (a2, _, _) in zip(edits, edits[1:]):
            if a2 < b1:
                raise ValueError("overlapping edits")
        if not self.notebook:
            out = bytearray(self.pbytes)
            for a, b, rep in reversed(edits):
                out[a:b] = rep.encode("utf-8")
            new = bytes(out)
            ast.parse(new.decode("utf-8"))  # the mutant must still be Python
            return self.bom + new
        by_cell = {}
        for a, b, rep in edits:
            for start, end, idx, text in self.cell_spans:
                if start <= a and b <= end:
                    by_cell.setdefault(idx, []).append((a - start, b - start, rep))
                    break
            else:
                raise ValueError("edit outside one cell")
        for idx, cell_edits in by_cell.items():
            cell = self.cells[idx]
            src = cell[self.cell_key]
            text = "".join(src) if isinstance(src, list) else src
            out = bytearray(text.encode("utf-8"))
            for a, b, rep in sorted(cell_edits, reverse=True):
                out[a:b] = rep.encode("utf-8")
            new = out.decode("utf-8")
            cell[self.cell_key] = new.splitlines(keepends=True) if isinstance(src, list) else new
        try:
            return dump_like(self.nb, self.data)
        finally:  # leave self.nb as it was for the next mutant
            self.nb = json.loads(self.data.decode("utf-8"))
            self._reindex_cells()

    def _reindex_cells(self):
        cells = self.nb["cells"] if "cells" in self.nb else \
            (self.nb.get("worksheets") or [{}])[0].get("cells", [])
        self.cells = [c for c in cells if c.get("cell_type") == "code"]


def _syntax_reason(text, e):
    line = (e.text or "").strip()
    if re.match(r"print\s+[^(\s=]", line) or re.search(r"except\s+\w+\s*,\s*\w+\s*:", line):
        return f"Python 2 source (line {e.lineno})"
    return f"syntax error at line {e.lineno}: {e.msg}"


_LAYOUTS = [dict(indent=1, sort_keys=True, ensure_ascii=False),
            dict(indent=1, sort_keys=False, ensure_ascii=False),
            dict(indent=2, sort_keys=True, ensure_ascii=False),
            dict(indent=2, sort_keys=False, ensure_ascii=False),
            dict(indent=1, sort_keys=True, ensure_ascii=True),
            dict(indent=1, sort_keys=False, ensure_ascii=True),
            dict(indent=2, sort_keys=True, ensure_ascii=True),
            dict(indent=2, sort_keys=False, ensure_ascii=True)]


def notebook_layout(original):
    orig = json.loads(original.decode("utf-8"))
    for layout in _LAYOUTS:
        s = json.dumps(orig, **layout)
        for tail in ("\n", ""):
            if (s + tail).encode("utf-8") == original:
                return layout, tail
    return None, None


def dump_like(nb, original):
    layout, tail = notebook_layout(original)
    if layout is None:  # Jupyter's own layout
        layout, tail = _LAYOUTS[0], "\n"
    return (json.dumps(nb, **layout) + tail).encode("utf-8")


# ---------------------------------------------------------------------------------------------
# Names and imports


def dotted(node):
    """`a.b.c` for a Name/Attribute chain, else None."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def last(name):
    return name.rsplit(".", 1)[-1] if name else None


class Imports:
    """Local name -> module path, from every import in the file (any scope)."""

    def __init__(self, tree):
        self.names = {}
        self.star = []
        self.nodes = []
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                self.nodes.append(node)
                for a in node.names:
                    if a.asname:
                        self.names[a.asname] = a.name
                    else:
                        root = a.name.split(".")[0]
                        self.names.setdefault(root, root)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                self.nodes.append(node)
                for a in node.names:
                    if a.name == "*":
                        self.star.append(node.module)
                    else:
                        self.names[a.asname or a.name] = f"{node.module}.{a.name}"
        self.nodes.sort(key=lambda n: (n.lineno, n.col_offset))

    def resolve(self, name):
        """Full path of a dotted name: `tf.keras.layers.Dense` -> `tensorflow.keras.layers.Dense`."""
        if not name:
            return None
        head, _, rest = name.partition(".")
        if head in self.names:
            base = self.names[head]
            return f"{base}.{rest}" if rest else base
        for mod in self.star:
            return f"{mod}.{name}"
        return name

    def modules(self):
        return set(self.names.values()) | set(self.star)

    def uses(self, *prefixes):
        return any(m == p or m.startswith(p + ".") for m in self.modules() for p in prefixes)

    def local_for(self, module):
        """A local name bound to exactly `module` (e.g. the `tf` of `import tensorflow as tf`)."""
        for local, path in sorted(self.names.items()):
            if path == module:
                return local
        return None


def is_keras(path):
    return bool(path) and ("keras" in path.split(".") or path.startswith(("tf_keras", "tensorflow.keras",
                                                                         "tensorflow.python.keras")))


def is_tf(path):
    return bool(path) and path.split(".")[0] == "tensorflow"


def is_torch(path):
    return bool(path) and path.split(".")[0] in ("torch",)


# ---------------------------------------------------------------------------------------------
# Framework of a file

TF1_MARKERS = {"placeholder", "Session", "InteractiveSession", "global_variables_initializer",
               "initialize_all_variables", "GradientDescentOptimizer", "AdamOptimizer",
               "RMSPropOptimizer", "AdagradOptimizer", "MomentumOptimizer", "get_variable",
               "variable_scope"}


def framework(src, imp):
    mods = imp.modules()
    if imp.uses("lightning", "pytorch_lightning", "lightning_fabric"):
        return "Lightning"
    if imp.uses("torch"):
        return "PyTorch"
    tf1 = keras = False
    for node in ast.walk(src.tree):
        if isinstance(node, ast.Attribute):
            d = imp.resolve(dotted(node))
            if not d:
                continue
            if is_tf(d) and (node.attr in TF1_MARKERS or ".compat.v1" in d or d.startswith("tensorflow.layers.")):
                tf1 = True
            if is_keras(d):
                keras = True
    if any(is_keras(m) for m in mods):
        keras = True
    if tf1:
        return "TF1"
    if keras:
        return "Keras"
    if imp.uses("tensorflow"):
        return "TF2 low-level"
    return None


# ---------------------------------------------------------------------------------------------
# Helpers on calls


def calls(tree):
    out = [n for n in ast.walk(tree) if isinstance(n, ast.Call)]
    out.sort(key=lambda n: (n.lineno, n.col_offset, -(n.end_lineno or 0), -(n.end_col_offset or 0)))
    return out


def kw(call, *names):
    for k in call.keywords:
        if k.arg in names:
            return k
    return None


def const_str(node):
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def const_int(node):
    return node.value if isinstance(node, ast.Constant) and type(node.value) is int else None


def add_keyword(src, call, text):
    """An edit that appends `text` (e.g. `from_logits=True`) to a call's arguments."""
    items = list(call.args) + [k.value if k.arg is None else k for k in call.keywords]
    close = src.off(call.end_lineno, call.end_col_offset) - 1
    if not items:
        return (close, close, text)
    end = max(src.span(i)[1] for i in items)
    between = src.pbytes[end:close].decode("utf-8")
    # `f(a, )`: the comma is already there
    if re.match(r"^\s*,", between):
        comma = end + between.index(",") + 1
        return (comma, comma, " " + text)
    return (end, end, ", " + text)


def activation_name(node, imp):
    """'softmax' / 'sigmoid' / ... for an activation argument (string or function reference)."""
    s = const_str(node)
    if s is not None:
        return s.lower()
    d = dotted(node)
    if d:
        return last(d).lower()
    return None


# ---------------------------------------------------------------------------------------------
# Keras


KERAS_LAYER_RE = re.compile(r"^[A-Z][A-Za-z0-9]*$")
NOT_LAYERS = {"Sequential", "Model", "Input", "InputLayer", "Adam", "SGD", "RMSprop", "Adagrad",
              "Adadelta", "Adamax", "Nadam", "ModelCheckpoint", "EarlyStopping", "TensorBoard",
              "ImageDataGenerator", "Tokenizer", "CategoricalCrossentropy",
              "SparseCategoricalCrossentropy", "BinaryCrossentropy"}


class KerasHead:
    """The output layer: its Dense call, activation, and where the activation is written."""

    def __init__(self, dense, act, act_node, act_call=None):
        self.dense = dense          # the Dense(...) constructor call
        self.act = act              # 'softmax' / 'sigmoid'
        self.act_node = act_node    # the node to rewrite to change the activation (a str constant)
        self.act_call = act_call    # Activation('softmax') / Softmax() call when separate


def keras_layer_calls(src, imp):
    out = []
    for c in calls(src.tree):
        d = dotted(c.func)
        if not d:
            continue
        name = last(d)
        if not KERAS_LAYER_RE.match(name) or name in NOT_LAYERS:
            continue
        full = imp.resolve(d)
        if is_keras(full) or (d == name and any(is_keras(m) for m in imp.star)):
            out.append(c)
    return out


def dense_units(call):
    if call.args:
        return call.args[0]
    k = kw(call, "units", "output_dim")
    return k.value if k else None


def dense_activation(call):
    k = kw(call, "activation")
    if k:
        return k.value
    if len(call.args) >= 2:
        return call.args[1]
    return None


WRAPPERS = {"TimeDistributed", "Bidirectional"}


def parents(tree):
    out = {}
    for node in ast.walk(tree):
        for child in ast.iter_child_nodes(node):
            out[child] = node
    return out


def layer_slot(call, par):
    """Where a layer constructor sits in the model: ('list', container, index),
    ('add', body, index) for `m.add(Layer(...))`, ('apply', assigned name, input names) for
    `v = Layer(...)(x)`; a wrapper (`TimeDistributed(Dense(...))`) sits where its wrapper sits."""
    node = call
    p = par.get(node)
    if isinstance(p, ast.Call) and last(dotted(p.func) or "") in WRAPPERS and p.args and p.args[0] is node:
        node, p = p, par.get(p)
    if isinstance(p, (ast.List, ast.Tuple)) and node in p.elts:
        return ("list", p, p.elts.index(node))
    if isinstance(p, ast.Call) and isinstance(p.func, ast.Attribute) and p.func.attr == "add" and p.args \
            and p.args[0] is node:
        stmt = par.get(p)
        body = par.get(stmt)
        if isinstance(stmt, ast.Expr):
            for field in ("body", "orelse", "finalbody"):
                seq = getattr(body, field, None)
                if isinstance(seq, list) and stmt in seq:
                    return ("add", (id(body), field), seq.index(stmt))
    if isinstance(p, ast.Call) and p.func is node:
        stmt = par.get(p)
        inputs = {n.id for a in p.args for n in ast.walk(a) if isinstance(n, ast.Name)}
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
            return ("apply", stmt.targets[0].id, inputs)
        return ("apply", None, inputs)
    return None


def adjacent(dense_call, act_call, par):
    """Does the Activation/Softmax layer take the Dense layer's output?"""
    a, b = layer_slot(dense_call, par), layer_slot(act_call, par)
    if not a or not b or a[0] != b[0]:
        return False
    if a[0] == "list":
        return a[1] is b[1] and b[2] == a[2] + 1
    if a[0] == "add":
        return a[1] == b[1] and b[2] == a[2] + 1
    return a[1] is not None and a[1] in b[2]


def keras_heads(src, imp):
    """Output-layer candidates in source order: a Dense with a softmax/sigmoid activation, or a Dense
    whose output goes straight into an Activation('softmax'/'sigmoid') / Softmax() layer."""
    layers = keras_layer_calls(src, imp)
    par = parents(src.tree)
    dense = [c for c in layers if last(dotted(c.func)) == "Dense"]
    heads = []
    for c in layers:
        name = last(dotted(c.func))
        if name == "Dense":
            a = dense_activation(c)
            act = activation_name(a, imp) if a is not None else None
            if act in ("softmax", "sigmoid"):
                heads.append(KerasHead(c, act, a))
        elif name in ("Activation", "Softmax"):
            if name == "Activation":
                a = c.args[0] if c.args else (kw(c, "activation").value if kw(c, "activation") else None)
                act = activation_name(a, imp) if a is not None else None
            else:
                a, act = None, "softmax"
            if act not in ("softmax", "sigmoid"):
                continue
            before = [d for d in dense if src.span(d)[0] < src.span(c)[0] and dense_activation(d) is None]
            for d in reversed(before):
                if adjacent(d, c, par):
                    heads.append(KerasHead(d, act, a, c))
                    break
    return heads


def keras_head(src, imp, comp):
    """The output layer of the model the compile call `comp` trains: the last head written after the
    previous compile call and before this one (None if that code has none)."""
    comps = compile_calls(src)
    start = 0
    at = src.span(comp)[0]
    for c in comps:
        if src.span(c)[1] <= at:
            start = src.span(c)[1]
    heads = [h for h in keras_heads(src, imp) if start <= src.span(h.dense)[0] < at]
    return heads[-1] if heads else None


CCE = {"categorical_crossentropy", "sparse_categorical_crossentropy"}
CCE_CLS = {"CategoricalCrossentropy", "SparseCategoricalCrossentropy"}
BCE = {"binary_crossentropy"}
BCE_CLS = {"BinaryCrossentropy"}


def compile_calls(src):
    return [c for c in calls(src.tree) if isinstance(c.func, ast.Attribute) and c.func.attr == "compile"
            and (c.keywords or c.args)]


def module_assignments(src):
    """name -> list of assigned values (any scope), in source order."""
    out = {}
    for node in ast.walk(src.tree):
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            out.setdefault(node.targets[0].id, []).append(node.value)
    for v in out.values():
        v.sort(key=lambda n: (n.lineno, n.col_offset))
    return out


class LossSite:
    def __init__(self, node, family, form):
        self.node = node      # the node that says the loss (string, reference or constructor call)
        self.family = family  # 'cce' / 'bce'
        self.form = form      # 'str' / 'ref' / 'call'


def keras_loss(src, imp, c):
    """The loss of a compile call, followed through one assignment."""
    k = kw(c, "loss")
    node = k.value if k else (c.args[1] if len(c.args) >= 2 else None)
    if node is None:
        return None
    if isinstance(node, ast.Name):
        vals = module_assignments(src).get(node.id)
        if vals and src.span(vals[-1])[0] < src.span(c)[0]:
            node = vals[-1]
    s = const_str(node)
    if s is not None:
        s = s.lower()
        if s in CCE:
            return LossSite(node, "cce", "str")
        if s in BCE:
            return LossSite(node, "bce", "str")
        return None
    if isinstance(node, ast.Call):
        name = last(dotted(node.func))
        if name in CCE_CLS:
            return LossSite(node, "cce", "call")
        if name in BCE_CLS:
            return LossSite(node, "bce", "call")
        return None
    d = dotted(node)
    if d and last(d) in CCE:
        return LossSite(node, "cce", "ref")
    if d and last(d) in BCE:
        return LossSite(node, "bce", "ref")
    return None


def keras_losses_prefix(src, imp):
    """(prefix, import edit or None) so that `prefix + 'CategoricalCrossentropy'` names the class."""
    for local, path in sorted(imp.names.items()):
        if path in ("keras.losses", "tensorflow.keras.losses", "tf_keras.losses"):
            return local + ".", None
    for local, path in sorted(imp.names.items()):
        if path in ("keras", "tensorflow.keras", "tf_keras"):
            return local + ".losses.", None
    tf = imp.local_for("tensorflow")
    if tf:
        return tf + ".keras.losses.", None
    # Keras 2 style `from keras.layers import Dense` only: import keras after the first keras import.
    for node in imp.nodes:
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module]
        if any(is_keras(n) for n in names):
            root = "tensorflow.keras" if any(n.startswith("tensorflow") for n in names) else "keras"
            line = "from tensorflow import keras\n" if root == "tensorflow.keras" else "import keras\n"
            at = src.line_end(node)
            if "keras" in imp.names:
                return None, None
            return "keras.losses.", (at, at, line)
    return None, None


def loss_from_logits_edits(src, imp, loss, cls):
    """Edits that make `loss` a `cls(from_logits=True)` object."""
    if loss.form == "call":
        k = kw(loss.node, "from_logits")
        if k is not None:
            if isinstance(k.value, ast.Constant) and k.value.value is True:
                return None
            a, b = src.span(k.value)
            return [(a, b, "True")]
        return [add_keyword(src, loss.node, "from_logits=True")]
    if loss.form == "ref":
        d = dotted(loss.node)
        prefix = d.rsplit(".", 1)[0] + "." if "." in d else None
        if prefix is None or not prefix.endswith("losses."):
            prefix, extra = keras_losses_prefix(src, imp)
        else:
            extra = None
    else:
        prefix, extra = keras_losses_prefix(src, imp)
    if prefix is None:
        return None
    if loss.form == "str" and const_str(loss.node).lower().startswith("sparse"):
        cls = "SparseCategoricalCrossentropy"
    if loss.form == "ref" and last(dotted(loss.node)).startswith("sparse"):
        cls = "SparseCategoricalCrossentropy"
    a, b = src.span(loss.node)
    edits = [(a, b, f"{prefix}{cls}(from_logits=True)")]
    if extra:
        edits.append(extra)
    return edits


def plant_keras(src, imp):
    out = []
    comps = compile_calls(src)
    if not comps:
        return out, "no compile call"
    comp = comps[-1]
    head = keras_head(src, imp, comp)
    if head is None:
        return out, "no Dense softmax/sigmoid output layer before the last compile call"
    loss = keras_loss(src, imp, comp)
    units = dense_units(head.dense)
    if head.act == "softmax":
        if units is not None and const_int(units) != 1:
            a, b = src.span(units)
            out.append(("keras_units1", [(a, b, "1")], f"Dense units `{src.text(units)}` -> 1"))
        edit = one_fewer(src, units) if units is not None and STATES_CLASSES.search(src.program) else None
        if edit:
            out.append(("keras_units_minus1", [edit], f"Dense units `{src.text(units)}` -> one fewer"))
        if loss and loss.family == "cce":
            edits = loss_from_logits_edits(src, imp, loss, "CategoricalCrossentropy")
            if edits:
                out.append(("keras_from_logits", edits, f"loss `{src.text(loss.node)}` -> from_logits=True"))
    elif head.act == "sigmoid":
        if units is not None and const_int(units) == 1 and head.act_node is not None:
            s = const_str(head.act_node)
            a, b = src.span(head.act_node)
            if s is not None:
                rep = src.text(head.act_node).replace(s, "softmax") if s in src.text(head.act_node) else "'softmax'"
            else:
                d = dotted(head.act_node)
                rep = d[: -len(last(d))] + "softmax"
            out.append(("keras_sigmoid1_to_softmax", [(a, b, rep)], "sigmoid -> softmax on Dense(1)"))
        if loss and loss.family == "bce":
            edits = loss_from_logits_edits(src, imp, loss, "BinaryCrossentropy")
            if edits:
                out.append(("keras_bce_from_logits", edits, f"loss `{src.text(loss.node)}` -> from_logits=True"))
            if units is not None:
                kind = "keras_cce_on_sigmoid1" if const_int(units) == 1 else "keras_cce_on_sigmoid"
                if loss.form == "str":
                    s = const_str(loss.node)
                    a, b = src.span(loss.node)
                    rep = src.text(loss.node).replace(s, "categorical_crossentropy")
                    out.append((kind, [(a, b, rep)], "binary_crossentropy -> categorical_crossentropy"))
                elif loss.form == "call":
                    a, b = src.span(loss.node.func)
                    d = dotted(loss.node.func)
                    out.append((kind, [(a, b, d[: -len(last(d))] + "CategoricalCrossentropy")],
                                "BinaryCrossentropy -> CategoricalCrossentropy"))
    return out, None


# ---------------------------------------------------------------------------------------------
# PyTorch / Lightning


CE_NAMES = {"CrossEntropyLoss", "cross_entropy"}
CLS_LOSSES = CE_NAMES | {"NLLLoss", "nll_loss", "BCELoss", "BCEWithLogitsLoss", "binary_cross_entropy",
                         "binary_cross_entropy_with_logits"}


def torch_callees(src, imp):
    """Last components of every torch callee in the file (CrossEntropyLoss, cross_entropy, ...)."""
    out = set()
    for c in calls(src.tree):
        d = dotted(c.func)
        if not d:
            continue
        full = imp.resolve(d)
        if is_torch(full) or last(d) in CLS_LOSSES and full and ("torch" in full or "functional" in full):
            out.add(last(d))
    return out


def method(cls, name):
    for n in cls.body:
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == name:
            return n
    return None


def own_nodes(fn):
    """Nodes of a function body, not of nested functions or classes."""
    stack = list(fn.body)
    while stack:
        n = stack.pop()
        yield n
        for child in ast.iter_child_nodes(n):
            if not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
                stack.append(child)


LAYER_MODULES = {"Linear", "Conv1d", "Conv2d", "Conv3d", "Sequential", "LSTM", "GRU", "RNN", "Embedding",
                 "ModuleList", "ModuleDict", "TransformerEncoder"}


def owns_layers(cls):
    """Does the class build parameterised modules itself (a model, not an activation or a wrapper)?"""
    for n in ast.walk(cls):
        if isinstance(n, ast.Call) and last(dotted(n.func) or "") in LAYER_MODULES:
            return True
    return False


def module_classes(src):
    return sorted((n for n in ast.walk(src.tree) if isinstance(n, ast.ClassDef) and method(n, "forward")
                   and owns_layers(n)), key=lambda n: n.lineno)


def mentions_ce(node, imp):
    for c in ast.walk(node):
        if isinstance(c, ast.Call):
            d = dotted(c.func)
            if d and last(d) in CE_NAMES:
                return True
    return False


def choose_model_class(src, imp):
    """The nn.Module class trained: one whose own methods call a CE loss (Lightning style), else the
    class instantiated last outside every module class (the model built in main())."""
    classes = module_classes(src)
    if not classes:
        return None
    names = {c.name for c in classes}
    for c in reversed(classes):
        if mentions_ce(c, imp) and any(method(c, m) for m in ("training_step", "forward")):
            return c
    inside = set()
    for c in classes:
        for n in ast.walk(c):
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id in names:
                inside.add(n.func.id)
    best = None
    class_spans = [(src.span(c)) for c in classes]
    for n in calls(src.tree):
        if isinstance(n.func, ast.Name) and n.func.id in names and n.func.id not in inside:
            a, _ = src.span(n)
            if not any(s <= a < e for s, e in class_spans):
                best = n.func.id
    if best:
        return next(c for c in classes if c.name == best)
    tops = [c for c in classes if c.name not in inside]
    return tops[-1] if tops else classes[-1]


SOFTMAXES = {"softmax", "log_softmax", "Softmax", "LogSoftmax", "sigmoid"}


def forward_returns(cls):
    fwd = method(cls, "forward")
    rets = [n for n in own_nodes(fwd) if isinstance(n, ast.Return) and n.value is not None]
    return sorted(rets, key=lambda n: (n.lineno, n.col_offset))


def functional_name(src, imp):
    """(local name for torch.nn.functional, import edit or None)."""
    for local, path in sorted(imp.names.items()):
        if path == "torch.nn.functional":
            return local, None
    taken = set(imp.names) | {n.id for n in ast.walk(src.tree) if isinstance(n, ast.Name)}
    name = "F" if "F" not in taken else "nnl_F"
    for node in imp.nodes:
        if isinstance(node, ast.Import) and any(a.name.split(".")[0] == "torch" for a in node.names) or \
                isinstance(node, ast.ImportFrom) and node.module.split(".")[0] == "torch":
            at = src.line_end(node)
            indent = " " * node.col_offset
            return name, (at, at, f"{indent}import torch.nn.functional as {name}\n")
    return None, None


def is_softmaxed(node):
    return isinstance(node, ast.Call) and last(dotted(node.func) or "") in SOFTMAXES


def sequential_calls(src, imp):
    out = []
    for c in calls(src.tree):
        d = dotted(c.func)
        if d and last(d) == "Sequential" and is_torch(imp.resolve(d)) and c.args:
            out.append(c)
    return out


def linear_out(call):
    """The out_features argument of an nn.Linear(...) call."""
    if len(call.args) >= 2:
        return call.args[1]
    k = kw(call, "out_features")
    return k.value if k else None


def is_linear(node, imp):
    return isinstance(node, ast.Call) and last(dotted(node.func) or "") == "Linear" \
        and is_torch(imp.resolve(dotted(node.func)))


def self_attr_call(node):
    """`self.X(...)` -> 'X'."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
            and isinstance(node.func.value, ast.Name) and node.func.value.id == "self":
        return node.func.attr
    return None


def init_attr(cls, attr):
    """The value of the last `self.attr = ...` in __init__."""
    init = method(cls, "__init__")
    if not init:
        return None
    found = None
    for n in own_nodes(init):
        if isinstance(n, ast.Assign):
            for t in n.targets:
                if isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name) and t.value.id == "self" \
                        and t.attr == attr:
                    if found is None or (n.lineno, n.col_offset) > (found.lineno, found.col_offset):
                        found = n
    return found.value if found else None


def traced_linear(cls, ret, imp):
    """The nn.Linear call whose output the return statement gives, if it can be seen directly."""
    fwd = method(cls, "forward")
    expr = ret.value
    if isinstance(expr, ast.Name):
        assigns = [n for n in own_nodes(fwd) if isinstance(n, ast.Assign) and len(n.targets) == 1
                   and isinstance(n.targets[0], ast.Name) and n.targets[0].id == expr.id
                   and n.lineno < ret.lineno]
        if not assigns:
            return None
        expr = max(assigns, key=lambda n: (n.lineno, n.col_offset)).value
    attr = self_attr_call(expr)
    if not attr:
        return None
    val = init_attr(cls, attr)
    if is_linear(val, imp):
        return val
    if isinstance(val, ast.Call) and last(dotted(val.func) or "") == "Sequential" and val.args \
            and is_linear(val.args[-1], imp):
        return val.args[-1]
    return None


def plant_torch(src, imp):
    out = []
    callees = torch_callees(src, imp)
    has_ce = bool(callees & CE_NAMES)
    has_cls_loss = bool(callees & CLS_LOSSES)
    if not has_cls_loss:
        return out, "no PyTorch classification loss"
    cls = choose_model_class(src, imp)
    fname, fimport = functional_name(src, imp)
    if cls is not None:
        rets = [r for r in forward_returns(cls) if not isinstance(r.value, (ast.Tuple, ast.Dict, ast.List))]
        plain = [r for r in rets if not is_softmaxed(r.value)]
        if has_ce and plain and fname:
            edits = []
            for r in plain:
                a, b = src.span(r.value)
                edits += [(a, a, f"{fname}.softmax("), (b, b, ", dim=1)")]
            if fimport:
                edits.append(fimport)
            out.append(("torch_softmax_before_ce", edits, f"{cls.name}.forward returns softmax"))
        if rets and fname:
            r = rets[-1]
            lin = traced_linear(cls, r, imp) if not is_softmaxed(r.value) else None
            o = linear_out(lin) if lin is not None else None
            edit = one_fewer(src, o) if o is not None and has_ce and STATES_CLASSES.search(src.program) else None
            if edit:
                out.append(("torch_linear_out_minus1", [edit], f"{src.text(lin)} -> one output fewer"))
            if o is not None and const_int(o) != 1:
                a, b = src.span(o)
                ra, rb = src.span(r.value)
                edits = [(a, b, "1"), (ra, ra, f"{fname}.softmax("), (rb, rb, ", dim=1)")]
                if fimport:
                    edits.append(fimport)
                out.append(("torch_linear_out1", edits, f"{src.text(lin)} -> out 1, softmax in forward"))
    else:
        seqs = sequential_calls(src, imp)
        if seqs:
            seq = seqs[-1]
            d = dotted(seq.func)
            prefix = d[: -len("Sequential")]
            lastarg = seq.args[-1]
            end = src.span(lastarg)[1]
            if has_ce and not is_softmaxed(lastarg):
                out.append(("torch_softmax_before_ce", [(end, end, f", {prefix}Softmax(dim=1)")],
                            "nn.Softmax(dim=1) appended to nn.Sequential"))
            if is_linear(lastarg, imp):
                o = linear_out(lastarg)
                edit = one_fewer(src, o) if o is not None and has_ce and STATES_CLASSES.search(src.program) else None
                if edit:
                    out.append(("torch_linear_out_minus1", [edit], "last Linear of nn.Sequential -> one output fewer"))
                if o is not None and const_int(o) != 1:
                    a, b = src.span(o)
                    out.append(("torch_linear_out1", [(a, b, "1"), (end, end, f", {prefix}Softmax(dim=1)")],
                                "last Linear of nn.Sequential -> out 1 + Softmax(dim=1)"))
    # log_softmax -> log(softmax): in the model's forward if it has one, else the last in the file.
    torch_local = imp.local_for("torch")
    if torch_local:
        scope = method(cls, "forward") if cls is not None else src.tree
        def torch_log_softmax(c):
            d = dotted(c.func)
            if last(d or "") != "log_softmax" or d.split(".")[0] == "self":
                return False
            # F.log_softmax / torch.log_softmax, or the tensor method x.log_softmax(dim)
            return is_torch(imp.resolve(d)) or d.split(".")[0] not in imp.names
        cands = [c for c in calls(scope) if torch_log_softmax(c)]
        if not cands and cls is not None:
            cands = [c for c in calls(src.tree) if torch_log_softmax(c)]
        if cands and callees & {"NLLLoss", "nll_loss"}:
            c = cands[-1]
            a, b = src.span(c)
            fa, fb = src.span(c.func)
            d = dotted(c.func)
            new_func = src.text(c.func)[: -len("log_softmax")] + "softmax"
            out.append(("torch_log_of_softmax", [(a, a, f"{torch_local}.log("), (fa, fb, new_func), (b, b, ")")],
                        f"{d}(...) -> {torch_local}.log({new_func}(...))"))
    if not out:
        return out, "no plantable head (forward/Sequential/log_softmax)"
    return out, None


# ---------------------------------------------------------------------------------------------
# TF1 (and TF2 code calling the tf.nn losses)


TF_SOFTMAX_LOSSES = {"softmax_cross_entropy_with_logits", "softmax_cross_entropy_with_logits_v2",
                     "sparse_softmax_cross_entropy_with_logits", "softmax_cross_entropy",
                     "sparse_softmax_cross_entropy"}
TF_SIGMOID_LOSSES = {"sigmoid_cross_entropy_with_logits", "sigmoid_cross_entropy"}


def tf_logits_arg(call):
    k = kw(call, "logits")
    if k:
        return k.value
    name = last(dotted(call.func))
    if name in ("softmax_cross_entropy", "sparse_softmax_cross_entropy", "sigmoid_cross_entropy") \
            and len(call.args) >= 2:
        return call.args[1]
    return None


def plant_tf(src, imp):
    out = []
    tf = imp.local_for("tensorflow") or imp.local_for("tensorflow.compat.v1")
    if not tf:
        return out, "no `import tensorflow as ...`"
    for names, kind, act in ((TF_SOFTMAX_LOSSES, "tf1_softmax_logits", "softmax"),
                             (TF_SIGMOID_LOSSES, "tf1_sigmoid_logits", "sigmoid")):
        cands = []
        for c in calls(src.tree):
            d = dotted(c.func)
            if d and last(d) in names and is_tf(imp.resolve(d)) and ".keras." not in imp.resolve(d):
                z = tf_logits_arg(c)
                if z is not None and not is_softmaxed(z):
                    cands.append((c, z))
        if cands:
            c, z = cands[-1]
            a, b = src.span(z)
            out.append((kind, [(a, a, f"{tf}.nn.{act}("), (b, b, ")")], f"logits={src.text(z)} -> {tf}.nn.{act}(...)"))
    if not out:
        return out, "no tf.nn / tf.losses cross-entropy with logits"
    return out, None


# ---------------------------------------------------------------------------------------------


def plant(path, data):
    """-> (info, mutants) where info describes the file and mutants is a list of
    {kind, expected, desc, data}; raises nothing (unparseable files give no mutants)."""
    info = {"framework": None, "why_no_mutant": []}
    try:
        src = Source(path, data)
    except Unparseable as e:
        info["unparseable"] = str(e)
        return info, []
    imp = Imports(src.tree)
    fw = framework(src, imp)
    info["framework"] = fw
    if src.notebook and src.cells_skipped:
        info["cells_skipped"] = src.cells_skipped
    if fw is None:
        return info, []
    planted = []
    if fw in ("PyTorch", "Lightning"):
        found, why = plant_torch(src, imp)
    else:
        found, why = [], None
        k, kwhy = plant_keras(src, imp) if fw in ("Keras", "TF1", "TF2 low-level") else ([], None)
        t, twhy = plant_tf(src, imp) if fw in ("TF1", "TF2 low-level", "Keras") else ([], None)
        found = k + t
        if not found:
            why = "; ".join(w for w in (kwhy, twhy) if w)
    if why:
        info["why_no_mutant"].append(why)
    mutants = []
    for kind, edits, desc in found:
        try:
            new = src.apply(edits)
        except (ValueError, SyntaxError) as e:
            info["why_no_mutant"].append(f"{kind}: planting failed ({e})")
            continue
        if new == data:
            continue
        first = min(e[0] for e in edits)
        line = src.pbytes[:first].count(b"\n") + 1
        mutants.append({"kind": kind, "expected": EXPECTED[kind], "desc": desc, "data": new,
                        "program_line": line})
    return info, mutants


def main(argv):
    for p in argv:
        with open(p, "rb") as f:
            info, ms = plant(p, f.read())
        print(p, info)
        for m in ms:
            print(f"  {m['kind']:26} {m['expected']}  line {m['program_line']}: {m['desc']}")


if __name__ == "__main__":
    main(sys.argv[1:])

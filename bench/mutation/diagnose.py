"""Why nnlint missed a mutant: the Python construct that stopped it.

A catalogue of constructs, each with
  - a detector: does the missed mutant's model code contain it (AST / text), and where;
  - a probe: a minimal file that contains only that construct around a planted bug.

`probe(binary)` runs every probe through nnlint in one process. A construct whose probe nnlint now
catches is no longer blamed (the interpreter learned it), so the catalogue stays honest after an
interpreter change: those entries are listed as "now handled" and the mutants fall through to the
next construct or to a reason read from nnlint's own view of the file.

`diagnose(mutant, data, inspect)` returns (reason, evidence): the first construct of the catalogue,
in order, that is present in the mutant and still missed by its probe; else a reason taken from what
`nnlint inspect` shows (no model resolved / another model analysed / head not recognised).
The order puts structural causes (where the model lives) before single operations.
"""
import ast
import json
import os
import re
import subprocess
import sys
import tempfile

import plant

# ---------------------------------------------------------------------------------------------
# Probes: tiny files with one construct and one head bug; `expect` is the code nnlint should give.

_TF1_HEAD = '''import tensorflow as tf
X = tf.placeholder(tf.float32, [None, 28, 28, 1])
Y = tf.placeholder(tf.float32, [None, 10])
'''
_TF1_TAIL = '''cost = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(logits=tf.nn.softmax(logits), labels=Y))
'''
_TORCH = '''import torch
import torch.nn as nn
import torch.nn.functional as F

class Net(nn.Module):
    def __init__(self):
        super().__init__()
{init}
    def forward(self, x):
{fwd}

model = Net()
criterion = nn.CrossEntropyLoss()
for xb, yb in loader:
    loss = criterion(model(xb), yb)
'''

PROBES = {
    # TF1
    "tf_estimator": ("NNL005", _TF1_HEAD.replace("X = tf.placeholder(tf.float32, [None, 28, 28, 1])\nY = tf.placeholder(tf.float32, [None, 10])\n", "") + '''
def model_fn(features, labels, mode):
    x = tf.layers.flatten(features["images"])
    logits = tf.layers.dense(x, 10)
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(logits=tf.nn.softmax(logits), labels=labels))
    return tf.estimator.EstimatorSpec(mode, loss=loss)

model = tf.estimator.Estimator(model_fn)
'''),
    "tf_eager_loop": ("NNL005", '''import tensorflow as tf
W = tf.Variable(tf.random.normal([784, 10]))
b = tf.Variable(tf.zeros([10]))

def logistic_regression(x):
    return tf.matmul(x, W) + b

def cross_entropy_loss(x, y):
    return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=tf.nn.softmax(x)))

for step, (batch_x, batch_y) in enumerate(train_data):
    with tf.GradientTape() as g:
        pred = logistic_regression(batch_x)
        loss = cross_entropy_loss(pred, batch_y)
'''),
    "tf_keras_subclass": ("NNL005", '''import tensorflow as tf
from tensorflow.keras import Model, layers

class NeuralNet(Model):
    def __init__(self):
        super(NeuralNet, self).__init__()
        self.fc1 = layers.Dense(128, activation=tf.nn.relu)
        self.out = layers.Dense(10)

    def call(self, x):
        return self.out(self.fc1(x))

neural_net = NeuralNet()

def cross_entropy_loss(x, y):
    return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=tf.nn.softmax(x)))

pred = neural_net(batch_x)
loss = cross_entropy_loss(pred, batch_y)
'''),
    "tf_rnn": ("NNL005", '''import tensorflow as tf
X = tf.placeholder(tf.float32, [None, 28, 28])
Y = tf.placeholder(tf.float32, [None, 10])
cell = tf.nn.rnn_cell.LSTMCell(64)
outputs, state = tf.nn.dynamic_rnn(cell, X, dtype=tf.float32)
logits = tf.layers.dense(outputs[:, -1, :], 10)
''' + _TF1_TAIL),
    "tf_conv2d": ("NNL005", _TF1_HEAD + '''K = tf.Variable(tf.random_normal([3, 3, 1, 8]))
C = tf.nn.relu(tf.nn.conv2d(X, K, strides=[1, 1, 1, 1], padding="SAME"))
logits = tf.layers.dense(tf.layers.flatten(C), 10)
''' + _TF1_TAIL),
    "tf_max_pool": ("NNL005", _TF1_HEAD + '''C = tf.nn.max_pool(X, ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1], padding="SAME")
logits = tf.layers.dense(tf.layers.flatten(C), 10)
''' + _TF1_TAIL),
    "tf_reshape": ("NNL005", _TF1_HEAD + '''H = tf.reshape(X, [-1, 784])
logits = tf.layers.dense(H, 10)
''' + _TF1_TAIL),
    "tf_add": ("NNL005", _TF1_HEAD + '''H = tf.layers.flatten(X)
W = tf.Variable(tf.random_normal([784, 10]))
b = tf.Variable(tf.random_normal([10]))
logits = tf.add(tf.matmul(H, W), b)
''' + _TF1_TAIL),
    "tf_bias_add": ("NNL005", _TF1_HEAD + '''H = tf.layers.flatten(X)
W = tf.Variable(tf.random_normal([784, 10]))
b = tf.Variable(tf.random_normal([10]))
logits = tf.nn.bias_add(tf.matmul(H, W), b)
''' + _TF1_TAIL),
    "tf_contrib": ("NNL005", _TF1_HEAD + '''H = tf.contrib.layers.flatten(X)
H = tf.contrib.layers.fully_connected(H, 64, activation_fn=tf.nn.relu)
logits = tf.layers.dense(H, 10)
''' + _TF1_TAIL),
    "tf_keras_output_in_tf_loss": ("NNL005", '''import tensorflow as tf
model = tf.keras.Sequential([tf.keras.layers.Flatten(input_shape=(28, 28)), tf.keras.layers.Dense(10)])
logits = model(images)
loss = tf.losses.sparse_softmax_cross_entropy(labels, tf.nn.softmax(logits))
'''),
    # Keras
    "keras_module_attr": ("NNL001", '''import tensorflow as tf
tf.model = tf.keras.Sequential()
tf.model.add(tf.keras.layers.Dense(units=1, input_dim=8, activation="softmax"))
tf.model.compile(loss="binary_crossentropy", optimizer="adam")
'''),
    "keras_compat_v1_activation": ("NNL001", '''import tensorflow.compat.v1 as tf
model = tf.keras.Sequential([tf.keras.layers.Flatten(input_shape=(28, 28)),
                             tf.keras.layers.Dense(1, activation=tf.nn.softmax)])
model.compile(optimizer="adam", loss="binary_crossentropy")
'''),
    "keras_units_from_data": ("NNL005", '''import keras
from keras.models import Sequential
from keras.layers import Dense
chars = sorted(set(open("corpus.txt").read()))
model = Sequential()
model.add(Dense(128, activation="relu", input_shape=(40,)))
model.add(Dense(len(chars), activation="softmax"))
model.compile(loss=keras.losses.CategoricalCrossentropy(from_logits=True), optimizer="adam")
'''),
    "keras_time_distributed": ("NNL001", '''from keras.models import Sequential
from keras.layers import Dense, TimeDistributed, Activation, LSTM
model = Sequential()
model.add(LSTM(16, input_shape=(10, 5), return_sequences=True))
model.add(TimeDistributed(Dense(1)))
model.add(Activation("softmax"))
model.compile(loss="categorical_crossentropy", optimizer="adam")
'''),
    "keras_no_input_shape": ("NNL001", '''from tensorflow import keras
from tensorflow.keras import layers
model = keras.Sequential([layers.Dense(64, activation="relu"), layers.Dense(1, activation="softmax")])
model.compile(optimizer="rmsprop", loss="binary_crossentropy")
'''),
    "keras_subclass_functional": ("NNL001", '''from tensorflow import keras
from tensorflow.keras import layers
class CustomModel(keras.Model):
    def train_step(self, data):
        return {}
inputs = keras.Input(shape=(784,))
x = layers.Dense(64, activation="relu")(inputs)
outputs = layers.Dense(1, activation="softmax")(x)
model = CustomModel(inputs, outputs)
model.compile(optimizer="rmsprop", loss="binary_crossentropy")
'''),
    "keras_tuner": ("NNL001", '''from tensorflow import keras
from tensorflow.keras import layers
import keras_tuner as kt
def build_model(hp):
    units = hp.Int(name="units", min_value=16, max_value=64, step=16)
    model = keras.Sequential([keras.Input(shape=(784,)), layers.Dense(units, activation="relu"),
                              layers.Dense(1, activation="softmax")])
    model.compile(optimizer="rmsprop", loss="binary_crossentropy")
    return model
tuner = kt.BayesianOptimization(build_model, objective="val_accuracy", max_trials=10)
'''),
    "keras_sklearn_wrapper": ("NNL001", '''from keras.models import Sequential
from keras.layers import Dense
from keras.wrappers.scikit_learn import KerasClassifier
def make_model(dense_layer_sizes):
    model = Sequential()
    model.add(Dense(32, activation="relu", input_shape=(784,)))
    for layer_size in dense_layer_sizes:
        model.add(Dense(layer_size, activation="relu"))
    model.add(Dense(1, activation="softmax"))
    model.compile(loss="binary_crossentropy", optimizer="adam")
    return model
my_classifier = KerasClassifier(make_model, batch_size=32)
'''),
    "keras_return_state": ("NNL005", '''import keras
from keras.models import Model
from keras.layers import Input, LSTM, Dense
encoder_inputs = Input(shape=(None, 20))
encoder_outputs, state_h, state_c = LSTM(64, return_state=True)(encoder_inputs)
decoder_inputs = Input(shape=(None, 30))
decoder_outputs, _, _ = LSTM(64, return_sequences=True, return_state=True)(decoder_inputs, initial_state=[state_h, state_c])
decoder_outputs = Dense(30, activation="softmax")(decoder_outputs)
model = Model([encoder_inputs, decoder_inputs], decoder_outputs)
model.compile(optimizer="rmsprop", loss=keras.losses.CategoricalCrossentropy(from_logits=True))
'''),
    "keras_pretrained_backbone": ("NNL005", '''from tensorflow import keras
from tensorflow.keras import layers
conv_base = keras.applications.VGG16(weights="imagenet", include_top=False, input_shape=(180, 180, 3))
inputs = keras.Input(shape=(180, 180, 3))
x = conv_base(inputs)
x = layers.Flatten()(x)
outputs = layers.Dense(1, activation="sigmoid")(x)
model = keras.Model(inputs, outputs)
model.compile(loss=keras.losses.BinaryCrossentropy(from_logits=True), optimizer="rmsprop")
'''),
    "keras_merge_layers": ("NNL001", '''import keras
from keras.layers import Input, Dense, add
inputs = Input(shape=(32,))
a = Dense(16, activation="relu")(inputs)
b = Dense(16, activation="relu")(inputs)
x = add([a, b])
outputs = Dense(1, activation="softmax")(x)
model = keras.Model(inputs, outputs)
model.compile(loss="binary_crossentropy", optimizer="adam")
'''),
    "keras_custom_layer": ("NNL001", '''import keras
from keras import layers
class Antirectifier(layers.Layer):
    def call(self, inputs):
        return inputs
model = keras.Sequential()
model.add(layers.Dense(64, input_shape=(784,)))
model.add(Antirectifier())
model.add(layers.Dense(1))
model.add(layers.Activation("softmax"))
model.compile(loss="binary_crossentropy", optimizer="adam")
'''),
    "keras_augmentation_sequential": ("NNL005", '''from tensorflow import keras
from tensorflow.keras import layers
data_augmentation = keras.Sequential([layers.RandomFlip("horizontal"), layers.RandomRotation(0.1)])
inputs = keras.Input(shape=(180, 180, 3))
x = data_augmentation(inputs)
x = layers.Rescaling(1.0 / 255)(x)
x = layers.Conv2D(32, 3, activation="relu")(x)
x = layers.GlobalAveragePooling2D()(x)
outputs = layers.Dense(1, activation="sigmoid")(x)
model = keras.Model(inputs, outputs)
model.compile(loss=keras.losses.BinaryCrossentropy(from_logits=True), optimizer="adam")
'''),
    # PyTorch
    "torch_rnn": ("NNL005", _TORCH.format(
        init="        self.rnn = nn.LSTM(28, 64, batch_first=True)\n        self.fc = nn.Linear(64, 10)\n",
        fwd="        out, _ = self.rnn(x)\n        return F.softmax(self.fc(out[:, -1, :]), dim=1)")),
    "torch_functional_pool": ("NNL005", _TORCH.format(
        init="        self.c1 = nn.Conv2d(1, 8, 3, padding=1)\n        self.fc = nn.Linear(8 * 14 * 14, 10)\n",
        fwd="        x = F.max_pool2d(F.relu(self.c1(x)), 2)\n        x = torch.flatten(x, 1)\n"
            "        return F.softmax(self.fc(x), dim=1)")),
    "torch_backbone": ("NNL005", '''import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision.models as models

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.model = models.resnet18(num_classes=10)

    def forward(self, x):
        return F.softmax(self.model(x), dim=1)

model = Net()
criterion = nn.CrossEntropyLoss()
loss = criterion(model(xb), yb)
'''),
    "torch_custom_param_layer": ("NNL005", _TORCH.format(
        init="        self.w = nn.Parameter(torch.randn(784, 64))\n        self.fc = nn.Linear(64, 10)\n",
        fwd="        h = F.relu(torch.mm(x, self.w))\n        return F.softmax(self.fc(h), dim=1)")),
    "torch_wrapped_model": ("NNL008", '''import torch
import torch.nn as nn
import torch.nn.functional as F

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 64)
        self.fc2 = nn.Linear(64, 10)

    def forward(self, x):
        x = F.relu(self.fc1(x))
        return torch.log(F.softmax(self.fc2(x), dim=1))

model = Net()
model, optimizer = fabric.setup(model, optimizer)
for data, target in loader:
    output = model(data)
    loss = F.nll_loss(output, target)
'''),
    "keras_param_sizes": ("NNL001", '''from keras.models import Sequential
from keras.layers import Dense
def create_network(n_dense=2, dense_units=16, activation="relu", num_classes=2):
    model = Sequential()
    model.add(Dense(dense_units, input_shape=(100,), activation=activation))
    for i in range(n_dense - 1):
        model.add(Dense(dense_units, activation=activation))
    model.add(Dense(1, activation="softmax"))
    model.compile(loss="binary_crossentropy", optimizer="adam")
    return model
network1 = {"n_dense": 3, "dense_units": 16, "activation": "relu"}
model1 = create_network(num_classes=2, **network1)
'''),
    "tf_sizes_from_data": ("NNL005", '''import tensorflow as tf
x = tf.placeholder(tf.float32, [None, data.img_size_flat])
y_true = tf.placeholder(tf.float32, [None, data.num_classes])
weights = tf.Variable(tf.zeros([data.img_size_flat, data.num_classes]))
biases = tf.Variable(tf.zeros([data.num_classes]))
logits = tf.matmul(x, weights) + biases
cost = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(logits=tf.nn.softmax(logits), labels=y_true))
'''),
    "torch_attr_assign": ("NNL005", _TORCH.format(
        init="        self.convnet = nn.Sequential(nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 10))\n"
             "        self.convnet.fc = nn.Linear(10, 10)\n",
        fwd="        return F.softmax(self.convnet(x), dim=1)")),
    "torch_runtime_choice": ("NNL005", '''import torch
import torch.nn as nn
import torch.nn.functional as F
act_fn_by_name = {"tanh": nn.Tanh, "relu": nn.ReLU}

class Net(nn.Module):
    def __init__(self, act_fn_name="relu"):
        super().__init__()
        self.fc1 = nn.Linear(784, 64)
        self.act = act_fn_by_name[act_fn_name]()
        self.fc = nn.Linear(64, 10)

    def forward(self, x):
        return F.softmax(self.fc(self.act(self.fc1(x))), dim=1)

model_dict = {"Net": Net}
def create_model(model_name, model_hparams):
    return model_dict[model_name](**model_hparams)
model = create_model("Net", {"act_fn_name": "relu"})
criterion = nn.CrossEntropyLoss()
loss = criterion(model(xb), yb)
'''),
    "torch_keras_inside": ("NNL005", '''import torch
import torch.nn as nn
import torch.nn.functional as F
import keras
from keras import layers

class MyModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.model = keras.Sequential([layers.Input(shape=(28, 28, 1)), layers.Flatten(), layers.Dense(10)])

    def forward(self, x):
        return F.softmax(self.model(x), dim=1)

model = MyModel()
loss_fn = nn.CrossEntropyLoss()
loss = loss_fn(model(inputs), targets)
'''),
}

# The same files without the construct (the smallest edit that removes it): nnlint must catch each
# control, else the probe proves nothing about the construct and is reported as invalid.
CONTROLS = {
    "tf_estimator": ("NNL005", _TF1_HEAD + '''H = tf.layers.flatten(X)
logits = tf.layers.dense(H, 10)
''' + _TF1_TAIL),
    "tf_eager_loop": ("NNL005", _TF1_HEAD + '''W = tf.Variable(tf.random_normal([784, 10]))
b = tf.Variable(tf.zeros([10]))
logits = tf.matmul(tf.layers.flatten(X), W) + b
''' + _TF1_TAIL),
    "tf_keras_subclass": ("NNL005", '''import tensorflow as tf
from tensorflow.keras import layers
neural_net = tf.keras.Sequential([layers.Dense(128, activation=tf.nn.relu, input_shape=(784,)), layers.Dense(10),
                                  layers.Softmax()])
neural_net.compile(optimizer="adam", loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True))
'''),
    "tf_rnn": ("NNL005", '''import tensorflow as tf
X = tf.placeholder(tf.float32, [None, 28, 28])
Y = tf.placeholder(tf.float32, [None, 10])
logits = tf.layers.dense(tf.layers.flatten(X), 10)
''' + _TF1_TAIL),
    "tf_conv2d": ("NNL005", _TF1_HEAD + '''C = tf.layers.conv2d(X, 8, 3, padding="same", activation=tf.nn.relu)
logits = tf.layers.dense(tf.layers.flatten(C), 10)
''' + _TF1_TAIL),
    "tf_max_pool": ("NNL005", _TF1_HEAD + '''C = tf.layers.max_pooling2d(X, 2, 2, padding="same")
logits = tf.layers.dense(tf.layers.flatten(C), 10)
''' + _TF1_TAIL),
    "tf_reshape": ("NNL005", _TF1_HEAD + '''H = tf.layers.flatten(X)
logits = tf.layers.dense(H, 10)
''' + _TF1_TAIL),
    "tf_add": ("NNL005", _TF1_HEAD + '''H = tf.layers.flatten(X)
W = tf.Variable(tf.random_normal([784, 10]))
b = tf.Variable(tf.random_normal([10]))
logits = tf.matmul(H, W) + b
''' + _TF1_TAIL),
    "tf_bias_add": ("NNL005", _TF1_HEAD + '''H = tf.layers.flatten(X)
W = tf.Variable(tf.random_normal([784, 10]))
b = tf.Variable(tf.random_normal([10]))
logits = tf.matmul(H, W) + b
''' + _TF1_TAIL),
    "tf_contrib": ("NNL005", _TF1_HEAD + '''H = tf.layers.flatten(X)
H = tf.layers.dense(H, 64, activation=tf.nn.relu)
logits = tf.layers.dense(H, 10)
''' + _TF1_TAIL),
    "tf_keras_output_in_tf_loss": ("NNL005", '''import tensorflow as tf
model = tf.keras.Sequential([tf.keras.layers.Flatten(input_shape=(28, 28)), tf.keras.layers.Dense(10),
                             tf.keras.layers.Softmax()])
model.compile(optimizer="adam", loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True))
'''),
    "keras_module_attr": ("NNL001", '''import tensorflow as tf
model = tf.keras.Sequential()
model.add(tf.keras.layers.Dense(units=1, input_dim=8, activation="softmax"))
model.compile(loss="binary_crossentropy", optimizer="adam")
'''),
    "keras_compat_v1_activation": ("NNL001", '''import tensorflow as tf
model = tf.keras.Sequential([tf.keras.layers.Flatten(input_shape=(28, 28)),
                             tf.keras.layers.Dense(1, activation=tf.nn.softmax)])
model.compile(optimizer="adam", loss="binary_crossentropy")
'''),
    "keras_units_from_data": ("NNL005", '''import keras
from keras.models import Sequential
from keras.layers import Dense
model = Sequential()
model.add(Dense(128, activation="relu", input_shape=(40,)))
model.add(Dense(57, activation="softmax"))
model.compile(loss=keras.losses.CategoricalCrossentropy(from_logits=True), optimizer="adam")
'''),
    "keras_time_distributed": ("NNL001", '''from keras.models import Sequential
from keras.layers import Dense, Activation, LSTM
model = Sequential()
model.add(LSTM(16, input_shape=(10, 5)))
model.add(Dense(1))
model.add(Activation("softmax"))
model.compile(loss="categorical_crossentropy", optimizer="adam")
'''),
    "keras_no_input_shape": ("NNL001", '''from tensorflow import keras
from tensorflow.keras import layers
model = keras.Sequential([keras.Input(shape=(784,)), layers.Dense(64, activation="relu"),
                          layers.Dense(1, activation="softmax")])
model.compile(optimizer="rmsprop", loss="binary_crossentropy")
'''),
    "keras_subclass_functional": ("NNL001", '''from tensorflow import keras
from tensorflow.keras import layers
inputs = keras.Input(shape=(784,))
x = layers.Dense(64, activation="relu")(inputs)
outputs = layers.Dense(1, activation="softmax")(x)
model = keras.Model(inputs, outputs)
model.compile(optimizer="rmsprop", loss="binary_crossentropy")
'''),
    "keras_tuner": ("NNL001", '''from tensorflow import keras
from tensorflow.keras import layers
def build_model(units):
    model = keras.Sequential([keras.Input(shape=(784,)), layers.Dense(units, activation="relu"),
                              layers.Dense(1, activation="softmax")])
    model.compile(optimizer="rmsprop", loss="binary_crossentropy")
    return model
model = build_model(32)
'''),
    "keras_sklearn_wrapper": ("NNL001", '''from keras.models import Sequential
from keras.layers import Dense
def make_model(dense_layer_sizes):
    model = Sequential()
    model.add(Dense(32, activation="relu", input_shape=(784,)))
    for layer_size in dense_layer_sizes:
        model.add(Dense(layer_size, activation="relu"))
    model.add(Dense(1, activation="softmax"))
    model.compile(loss="binary_crossentropy", optimizer="adam")
    return model
my_classifier = make_model([64, 32])
'''),
    "keras_return_state": ("NNL005", '''import keras
from keras.models import Model
from keras.layers import Input, LSTM, Dense
encoder_inputs = Input(shape=(None, 20))
encoder_outputs = LSTM(64)(encoder_inputs)
decoder_inputs = Input(shape=(None, 30))
decoder_outputs = LSTM(64, return_sequences=True)(decoder_inputs)
decoder_outputs = Dense(30, activation="softmax")(decoder_outputs)
model = Model([encoder_inputs, decoder_inputs], decoder_outputs)
model.compile(optimizer="rmsprop", loss=keras.losses.CategoricalCrossentropy(from_logits=True))
'''),
    "keras_pretrained_backbone": ("NNL005", '''from tensorflow import keras
from tensorflow.keras import layers
inputs = keras.Input(shape=(180, 180, 3))
x = layers.Conv2D(32, 3, activation="relu")(inputs)
x = layers.Flatten()(x)
outputs = layers.Dense(1, activation="sigmoid")(x)
model = keras.Model(inputs, outputs)
model.compile(loss=keras.losses.BinaryCrossentropy(from_logits=True), optimizer="rmsprop")
'''),
    "keras_merge_layers": ("NNL001", '''import keras
from keras.layers import Input, Dense
inputs = Input(shape=(32,))
a = Dense(16, activation="relu")(inputs)
outputs = Dense(1, activation="softmax")(a)
model = keras.Model(inputs, outputs)
model.compile(loss="binary_crossentropy", optimizer="adam")
'''),
    "keras_custom_layer": ("NNL001", '''import keras
from keras import layers
model = keras.Sequential()
model.add(layers.Dense(64, input_shape=(784,)))
model.add(layers.ReLU())
model.add(layers.Dense(1))
model.add(layers.Activation("softmax"))
model.compile(loss="binary_crossentropy", optimizer="adam")
'''),
    "keras_augmentation_sequential": ("NNL005", '''from tensorflow import keras
from tensorflow.keras import layers
inputs = keras.Input(shape=(180, 180, 3))
x = layers.Rescaling(1.0 / 255)(inputs)
x = layers.Conv2D(32, 3, activation="relu")(x)
x = layers.GlobalAveragePooling2D()(x)
outputs = layers.Dense(1, activation="sigmoid")(x)
model = keras.Model(inputs, outputs)
model.compile(loss=keras.losses.BinaryCrossentropy(from_logits=True), optimizer="adam")
'''),
    "torch_rnn": ("NNL005", _TORCH.format(
        init="        self.fc1 = nn.Linear(28, 64)\n        self.fc = nn.Linear(64, 10)\n",
        fwd="        out = F.relu(self.fc1(x))\n        return F.softmax(self.fc(out), dim=1)")),
    "torch_functional_pool": ("NNL005", _TORCH.format(
        init="        self.c1 = nn.Conv2d(1, 8, 3, padding=1)\n        self.pool = nn.MaxPool2d(2)\n"
             "        self.fc = nn.Linear(8 * 14 * 14, 10)\n",
        fwd="        x = self.pool(F.relu(self.c1(x)))\n        x = torch.flatten(x, 1)\n"
            "        return F.softmax(self.fc(x), dim=1)")),
    "torch_backbone": ("NNL005", _TORCH.format(
        init="        self.model = nn.Linear(784, 10)\n",
        fwd="        return F.softmax(self.model(x), dim=1)")),
    "torch_custom_param_layer": ("NNL005", _TORCH.format(
        init="        self.w = nn.Linear(784, 64, bias=False)\n        self.fc = nn.Linear(64, 10)\n",
        fwd="        h = F.relu(self.w(x))\n        return F.softmax(self.fc(h), dim=1)")),
    "torch_wrapped_model": ("NNL008", PROBES["torch_wrapped_model"][1].replace(
        "model, optimizer = fabric.setup(model, optimizer)\n", "")),
    "keras_param_sizes": ("NNL001", PROBES["keras_param_sizes"][1].replace(
        "model1 = create_network(num_classes=2, **network1)", "model1 = create_network(num_classes=2)")),
    "tf_sizes_from_data": ("NNL005", PROBES["tf_sizes_from_data"][1].replace(
        "data.img_size_flat", "784").replace("data.num_classes", "10")),
    "torch_attr_assign": ("NNL005", PROBES["torch_attr_assign"][1].replace(
        "        self.convnet.fc = nn.Linear(10, 10)\n", "")),
    "torch_runtime_choice": ("NNL005", PROBES["torch_runtime_choice"][1].replace(
        "act_fn_by_name[act_fn_name]()", "nn.ReLU()").replace(
        'model = create_model("Net", {"act_fn_name": "relu"})', "model = Net()")),
    "torch_keras_inside": ("NNL005", _TORCH.format(
        init="        self.model = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))\n",
        fwd="        return F.softmax(self.model(x), dim=1)")),
}

LABELS = {
    "tf_estimator": "model in a tf.estimator model_fn",
    "tf_eager_loop": "TF2 eager loop (loss in a function, GradientTape)",
    "tf_keras_subclass": "subclassed tf.keras Model fed to a tf.nn loss",
    "tf_rnn": "TF1 RNN cells (static_rnn / dynamic_rnn / unstack)",
    "tf_conv2d": "raw tf.nn.conv2d with tf.Variable kernels",
    "tf_max_pool": "tf.nn.max_pool",
    "tf_reshape": "tf.reshape",
    "tf_add": "tf.add(tf.matmul(x, W), b)",
    "tf_bias_add": "tf.nn.bias_add",
    "tf_contrib": "tf.contrib.layers (flatten / fully_connected)",
    "tf_keras_output_in_tf_loss": "Keras model output fed to a tf.losses / tf.nn loss",
    "keras_module_attr": "model bound to a module attribute (tf.model = Sequential())",
    "keras_compat_v1_activation": "activation=tf.nn.softmax under `import tensorflow.compat.v1 as tf` (read as linear)",
    "keras_units_from_data": "layer size computed from data (len(chars), np.max(y)+1, x.shape[1])",
    "keras_time_distributed": "TimeDistributed(Dense(k)) head",
    "keras_no_input_shape": "Sequential without an input shape",
    "keras_subclass_functional": "functional model built through a keras.Model subclass",
    "keras_tuner": "model built in a keras-tuner hypermodel (hp.Int sizes)",
    "keras_sklearn_wrapper": "model built by a function given to KerasClassifier",
    "keras_return_state": "LSTM return_state tuple unpacking (seq2seq)",
    "keras_pretrained_backbone": "pretrained backbone (keras.applications / TF Hub / keras_hub)",
    "keras_merge_layers": "merge layers (add / concatenate / dot / multiply)",
    "keras_custom_layer": "custom Layer subclass in the model",
    "keras_augmentation_sequential": "preprocessing Sequential applied inside the model",
    "torch_rnn": "RNN module in forward (tuple output, out[:, -1, :])",
    "torch_functional_pool": "F.max_pool2d / F.avg_pool2d in forward",
    "torch_backbone": "torchvision / timm backbone",
    "torch_custom_param_layer": "custom layer with nn.Parameter and torch.mm",
    "torch_wrapped_model": "model passed through a wrapper (fabric.setup / DDP) before the loss",
    "torch_keras_inside": "Keras layers inside an nn.Module (Keras 3 on torch)",
    "keras_param_sizes": "layer sizes are parameters of the model function (called with **kwargs / by a search)",
    "tf_sizes_from_data": "TF1 variable shapes from data attributes (data.img_size_flat)",
    "torch_attr_assign": "assignment into a submodule (self.convnet.fc = ...)",
    "torch_runtime_choice": "modules chosen at run time (act_fn_by_name[name](), model_dict[name](**hparams))",
}

ORDER = {
    "tf": ["tf_estimator", "tf_keras_subclass", "tf_eager_loop", "tf_keras_output_in_tf_loss", "tf_rnn",
           "tf_sizes_from_data",
           "tf_conv2d", "tf_max_pool", "tf_contrib", "tf_reshape", "tf_add", "tf_bias_add"],
    "keras": ["keras_module_attr", "keras_sklearn_wrapper", "keras_tuner", "keras_subclass_functional",
              "keras_pretrained_backbone", "keras_return_state", "keras_augmentation_sequential",
              "keras_custom_layer", "keras_param_sizes", "keras_compat_v1_activation", "keras_time_distributed",
              "keras_units_from_data", "keras_merge_layers", "keras_no_input_shape"],
    "torch": ["torch_keras_inside", "torch_backbone", "torch_wrapped_model", "torch_runtime_choice",
              "torch_attr_assign", "torch_custom_param_layer",
              "torch_rnn", "torch_functional_pool"],
}


def probe(binary):
    """-> {construct: "blocks" | "handled" | "invalid"}: blocks = nnlint misses the probe and catches its
    control; handled = it catches the probe; invalid = it misses the control too (the probe proves
    nothing, so the construct is not blamed)."""
    with tempfile.TemporaryDirectory(prefix="nnlint-probes-") as d:
        for name in PROBES:
            for tag, table in (("probe", PROBES), ("control", CONTROLS)):
                with open(os.path.join(d, f"{name}.{tag}.py"), "w") as f:
                    f.write(table[name][1])
        p = subprocess.run([binary, "--format", "json", "--isolated", "--exit-zero", "--root", d, d],
                           capture_output=True, text=True)
        doc = json.loads(p.stdout)
    got = {f["path"][:-3]: {x["code"] for x in f.get("findings", [])} for f in doc["files"]}
    out = {}
    for name, (code, _) in PROBES.items():
        if code in got.get(name + ".probe", set()):
            out[name] = "handled"
        elif CONTROLS[name][0] not in got.get(name + ".control", set()):
            out[name] = "invalid"
        else:
            out[name] = "blocks"
    return out


# ---------------------------------------------------------------------------------------------
# Detectors: -> the first line of the construct in the mutant (evidence), or None.


def _line(src, node):
    """`path-independent` evidence: the construct's first source line, trimmed."""
    a, _ = src.span(node)
    start = src.pbytes.rfind(b"\n", 0, a) + 1
    end = src.pbytes.find(b"\n", a)
    return src.pbytes[start:end if end >= 0 else None].decode("utf-8", "replace").strip()[:110]


def _calls_named(src, pred):
    for c in plant.calls(src.tree):
        d = plant.dotted(c.func)
        if d and pred(d, c):
            return c
    return None


def _match_line(text, pattern):
    """The (trimmed) line where `pattern` first matches in `text`, or None."""
    m = re.search(pattern, text, re.M)
    if not m:
        return None
    at = m.start() + len(m.group(0)) - len(m.group(0).lstrip())
    s = text.rfind("\n", 0, at) + 1
    e = text.find("\n", at)
    return text[s:e if e >= 0 else None].strip()[:110] or None


def _text_re(src, pattern):
    return _match_line(src.program, pattern)


def _node_line(src, node):
    return _line(src, node) if node is not None else None


def keras_window(src):
    """Program text between the previous compile call and the last one (the compiled model's code),
    plus the definitions of functions called there."""
    comps = plant.compile_calls(src)
    if not comps:
        return src.program
    comp = comps[-1]
    a = src.span(comp)[0]
    start = 0
    for c in comps:
        if src.span(c)[1] <= a:
            start = src.span(c)[1]
    # a compile inside a function: the whole function
    for n in ast.walk(src.tree):
        if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and src.span(n)[0] <= a < src.span(n)[1]:
            start = min(start, src.span(n)[0])
    return src.pbytes[start:src.span(comp)[1]].decode("utf-8", "replace")


def _win_re(src, win, pattern):
    return _match_line(win, pattern)


def _module_int_consts(src):
    """Names bound at module level (and in main()) only to int expressions of such names."""
    env = {}
    bodies = [src.tree.body]
    for n in src.tree.body:
        if isinstance(n, ast.FunctionDef) and n.name == "main":
            bodies.append(n.body)
    bad = set()

    def ev(e):
        if isinstance(e, ast.Constant) and type(e.value) is int:
            return e.value
        if isinstance(e, ast.Name) and e.id in env and e.id not in bad:
            return env[e.id]
        if isinstance(e, ast.BinOp) and isinstance(e.op, (ast.Add, ast.Sub, ast.Mult, ast.FloorDiv)):
            a, b = ev(e.left), ev(e.right)
            if a is None or b is None:
                return None
            return {ast.Add: a + b, ast.Sub: a - b, ast.Mult: a * b}.get(type(e.op), a // b if b else None)
        return None

    for body in bodies:
        for n in body:
            if isinstance(n, ast.Assign):
                for t in n.targets:
                    if isinstance(t, ast.Name):
                        v = ev(n.value)
                        if v is None or (t.id in env and env[t.id] != v):
                            bad.add(t.id)
                        else:
                            env[t.id] = v
    return {k: v for k, v in env.items() if k not in bad}


def detect(name, src, imp, m):
    kind = m["kind"]
    if name == "tf_estimator":
        return _node_line(src, _calls_named(src, lambda d, c: d.endswith("estimator.Estimator")))
    if name == "tf_keras_subclass":
        for n in ast.walk(src.tree):
            if isinstance(n, ast.ClassDef) and any(plant.last(plant.dotted(b) or "") in ("Model", "Module")
                                                   for b in n.bases):
                return _line(src, n)
        return None
    if name == "tf_eager_loop":
        if "tf.placeholder" in src.program:
            return None
        return _text_re(src, r"(GradientTape\(|enable_eager_execution\(|implicit_gradients\()")
    if name == "tf_keras_output_in_tf_loss":
        if re.search(r"keras\.(Sequential|Model)\(", src.program):
            return _text_re(src, r"(tf\.losses\.\w*softmax_cross_entropy|softmax_cross_entropy_with_logits)")
        return None
    if name == "tf_rnn":
        return _text_re(src, r"(rnn_cell\.|contrib\.rnn\.|static_rnn|dynamic_rnn|bidirectional_dynamic_rnn|"
                             r"static_bidirectional_rnn)")
    if name == "tf_conv2d":
        return _text_re(src, r"tf\.nn\.conv2d\(")
    if name == "tf_max_pool":
        return _text_re(src, r"tf\.nn\.max_pool\w*\(")
    if name == "tf_contrib":
        return _text_re(src, r"(tf\.contrib\.layers\.(flatten|fully_connected|conv2d)\(|^[^#\n]*(?<![.\w])fully_connected\()")
    if name == "tf_sizes_from_data":
        return _text_re(src, r"(placeholder|Variable|zeros|random_normal|truncated_normal)\([^\n]*\[[^\]\n]*\b[a-z_]\w*\.\w+")
    if name == "tf_reshape":
        return _text_re(src, r"tf\.reshape\(")
    if name == "tf_add":
        return _text_re(src, r"tf\.add\(")
    if name == "tf_bias_add":
        return _text_re(src, r"tf\.nn\.bias_add\(")

    win = keras_window(src) if kind.startswith("keras_") else src.program
    if name == "keras_module_attr":
        return _win_re(src, win, r"^\s*[A-Za-z_][\w]*\.(model|net)\s*=\s*[\w.]*(Sequential|Model)\(")
    if name == "keras_sklearn_wrapper":
        return _text_re(src, r"Keras(Classifier|Regressor)\(")
    if name == "keras_tuner":
        return _win_re(src, win, r"\bhp\.(Int|Choice|Float)\(")
    if name == "keras_subclass_functional":
        subs = [n.name for n in ast.walk(src.tree) if isinstance(n, ast.ClassDef)
                and any(plant.last(plant.dotted(b) or "") == "Model" for b in n.bases)]
        for s in subs:
            r = _win_re(src, win, r"=\s*%s\(\s*\w+\s*,\s*\w+" % re.escape(s))
            if r:
                return r
        return None
    if name == "keras_pretrained_backbone":
        return _win_re(src, win, r"(applications\.\w+\(|hub\.KerasLayer\(|keras_hub\.models\.\w*(Backbone|Classifier|CausalLM)\w*\.from_preset\(|"
                                 r"\bbackbone\(|conv_base\()")
    if name == "keras_return_state":
        return _win_re(src, win, r"return_state\s*=\s*True")
    if name == "keras_augmentation_sequential":
        return _win_re(src, win, r"(data_augmentation\(|Random(Flip|Rotation|Zoom)\()")
    if name == "keras_custom_layer":
        subs = [n.name for n in ast.walk(src.tree) if isinstance(n, ast.ClassDef)
                and any(plant.last(plant.dotted(b) or "") == "Layer" for b in n.bases)]
        for s in subs:
            r = _win_re(src, win, r"\b%s\(" % re.escape(s))
            if r:
                return r
        return None
    if name == "keras_compat_v1_activation":
        if imp.local_for("tensorflow.compat.v1"):
            return _win_re(src, win, r"activation\s*=\s*tf\.nn\.(softmax|sigmoid)")
        return None
    if name == "keras_time_distributed":
        return _win_re(src, win, r"TimeDistributed\(\s*Dense")
    if name == "keras_units_from_data":
        # the head's size (or an input size) is an expression the constant propagation cannot follow
        consts = _module_int_consts(src)
        for c in plant.keras_layer_calls(src, imp):
            a, _ = src.span(c)
            if src.program.encode()[a:a + 1] and (src.pbytes[a:src.span(c)[1]].decode("utf-8", "replace") not in win):
                continue
            lname = plant.last(plant.dotted(c.func))
            args = []
            if lname == "Dense":
                u = plant.dense_units(c)
                if u is not None:
                    args.append(u)
            for k in c.keywords:
                if k.arg in ("input_shape", "input_dim", "shape"):
                    args.append(k.value)
            if lname == "Input" and c.args:
                args.append(c.args[0])
            for e in args:
                for sub in ast.walk(e):
                    if isinstance(sub, ast.Call) or isinstance(sub, ast.Attribute) and sub.attr == "shape" or \
                            isinstance(sub, ast.Subscript) and not isinstance(e, (ast.Tuple, ast.List)) or \
                            isinstance(sub, ast.Name) and sub.id not in consts and sub.id not in ("None",):
                        if isinstance(sub, ast.Name) and isinstance(e, (ast.Tuple, ast.List)) and sub is e:
                            continue
                        return _line(src, c)
        return None
    if name == "keras_merge_layers":
        return _win_re(src, win, r"(\blayers\.(add|concatenate|dot|multiply)\(|\b(add|concatenate|dot|multiply)\(\[|"
                                 r"\b(Add|Concatenate|Dot|Multiply)\(\))")
    if name == "keras_no_input_shape":
        if re.search(r"Sequential\(", win) and not re.search(
                r"(input_shape|input_dim|batch_input_shape|Input\(|InputLayer\()", win):
            return _win_re(src, win, r"Sequential\(")
        return None

    if name == "torch_keras_inside":
        return _text_re(src, r"keras\.Sequential\(") if re.search(r"nn\.Module", src.program) else None
    if name == "torch_backbone":
        return _text_re(src, r"(models\.\w+\(|models\.__dict__|timm\.create_model|torchvision\.models\.\w+\()")
    if name == "torch_wrapped_model":
        return _text_re(src, r"(=\s*fabric\.setup\(|DistributedDataParallel\(|DataParallel\(|rpc\.)")
    if name == "torch_attr_assign":
        return _text_re(src, r"^\s*self\.\w+\.\w+\s*=\s*(nn|torch\.nn)\.")
    if name == "torch_runtime_choice":
        return _text_re(src, r"(act_fn_by_name\[|model_dict\[\w+\]\(|\w+_by_name\[\w+\]\()")
    if name == "keras_param_sizes":
        for n in ast.walk(src.tree):
            if isinstance(n, ast.FunctionDef):
                a, b = src.span(n)
                body = src.pbytes[a:b].decode("utf-8", "replace")
                if body not in win and win not in body:
                    continue
                params = {x.arg for x in n.args.args + n.args.kwonlyargs}
                for c in ast.walk(n):
                    if isinstance(c, ast.Call) and plant.last(plant.dotted(c.func) or "") == "Dense":
                        u = plant.dense_units(c)
                        if isinstance(u, ast.Name) and u.id in params:
                            called_plainly = re.search(r"\b%s\((\s*\d+\s*,?)*\)" % n.name, src.program)
                            if not called_plainly:
                                return _line(src, c)
        return None
    if name == "torch_custom_param_layer":
        return _text_re(src, r"nn\.Parameter\(")
    if name == "torch_rnn":
        return _text_re(src, r"nn\.(LSTM|GRU|RNN)\(")
    if name == "torch_functional_pool":
        return _text_re(src, r"F\.(max|avg|adaptive_avg|adaptive_max)_pool[123]d\(")
    return None


def family(kind):
    return "keras" if kind.startswith("keras_") else "torch" if kind.startswith("torch_") else "tf"


OTHER = "another model or loss in the file is the one analysed (nnlint checks one per file)"


def from_inspect(m, inspect):
    """A reason read from nnlint's own view when no construct of the catalogue is present."""
    if inspect.startswith("no model resolved"):
        return "no model resolved, construct not in the catalogue"
    kind = m["kind"]
    if kind in ("keras_from_logits", "keras_bce_from_logits") and "from_logits=true" not in inspect:
        return OTHER
    if kind == "keras_units1" and re.search(r"\((\d+) units\)", inspect) and "(1 unit)" not in inspect:
        return OTHER
    if kind == "torch_softmax_before_ce" and not re.search(r"loss \w*(cross_entropy|CrossEntropy)", inspect):
        return OTHER
    if kind == "torch_log_of_softmax" and ("nll" not in inspect.lower() or "LogSoftmax" in inspect):
        return OTHER
    return "model resolved, planted head not recognised (not in the catalogue)"


def diagnose(m, data, inspect, live=None):
    """-> (reason, evidence). `live`: the result of probe(); None = every construct blocks."""
    try:
        src = plant.Source(m["mutant"], data)
    except plant.Unparseable as e:
        return "mutant does not parse", str(e)
    imp = plant.Imports(src.tree)
    for name in ORDER[family(m["kind"])]:
        if live is not None and live.get(name) != "blocks":
            continue
        ev = detect(name, src, imp, m)
        if ev:
            return LABELS[name], ev
    return from_inspect(m, inspect), ""


if __name__ == "__main__":
    binary = sys.argv[1] if len(sys.argv) > 1 else "target/release/nnlint"
    for k, v in probe(binary).items():
        print(f"{k:32} {v}")

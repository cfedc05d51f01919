"""Writes what Keras's optimizers do to a weight over a few steps, for Zoo's optimizer tests.

Run from the pinned environment:
    tools/python tools/keras/make_optimizer_fixtures.py Tests/ZooNNTests/Fixtures/keras_optimizers.json
"""
import json
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np
import keras

rng = np.random.default_rng(20261123)
shape = (3, 4)
start = rng.normal(0, 1, shape).astype(np.float32)
gradients = [rng.normal(0, 1, shape).astype(np.float32) for _ in range(4)]

configurations = {
    "sgd": lambda: keras.optimizers.SGD(learning_rate=0.1),
    "sgd_momentum": lambda: keras.optimizers.SGD(learning_rate=0.1, momentum=0.9),
    "sgd_nesterov": lambda: keras.optimizers.SGD(learning_rate=0.1, momentum=0.9, nesterov=True),
    "sgd_weight_decay": lambda: keras.optimizers.SGD(learning_rate=0.1, momentum=0.9, weight_decay=0.01),
    "adam": lambda: keras.optimizers.Adam(learning_rate=0.01),
    "adam_weight_decay": lambda: keras.optimizers.Adam(learning_rate=0.01, weight_decay=0.05),
    "rmsprop": lambda: keras.optimizers.RMSprop(learning_rate=0.01),
    "rmsprop_momentum": lambda: keras.optimizers.RMSprop(learning_rate=0.01, rho=0.8, momentum=0.5),
    "adagrad": lambda: keras.optimizers.Adagrad(learning_rate=0.1),
}

cases = {}
for name, make in configurations.items():
    variable = keras.Variable(start.copy())
    optimizer = make()
    steps = []
    for g in gradients:
        optimizer.apply_gradients([(keras.ops.convert_to_tensor(g), variable)])
        steps.append(np.asarray(variable.numpy()).reshape(-1).tolist())
    cases[name] = {"config": {k: v for k, v in optimizer.get_config().items() if isinstance(v, (int, float, bool)) and k != "name"},
                   "after_each_step": steps}

# Learning-rate schedules at steps 0…12 (Zoo counts epochs where Keras counts steps; the formulas are the same).
cosine = keras.optimizers.schedules.CosineDecay(0.01, decay_steps=10, alpha=0.1)
schedules = {"cosine_0.01_10_alpha_0.1": [float(cosine(step)) for step in range(13)]}

with open(sys.argv[1], "w") as f:
    json.dump({"keras": keras.__version__, "shape": list(shape), "start": start.reshape(-1).tolist(),
               "gradients": [g.reshape(-1).tolist() for g in gradients], "cases": cases, "schedules": schedules}, f, indent=1)

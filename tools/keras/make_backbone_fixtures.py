"""Keras references for Zoo's backbones: randomized weights, outputs and feature taps, layouts.

For each case: the Keras model (keras.applications where it exists, else tools/keras/backbone_models.py), every
weight randomized, saved as legacy HDF5 (layer_names order); two random inputs; the output and each tap's output,
as raw little-endian float32 files; the parameter count. For keras.applications models also the layout manifest:
every layer name with its weight shapes, with and without top. Writes OUT/manifest.json.

    tools/python tools/keras/make_backbone_fixtures.py OUT
"""
import json
import os
import sys
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
warnings.filterwarnings("ignore")
sys.path.insert(0, os.path.dirname(__file__))

import h5py
import numpy as np
import keras
from keras.src.legacy.saving import legacy_h5_format

import backbone_models

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
cases = []


def randomize(model, seed):
    rng = np.random.default_rng(seed)
    for w in model.weights:
        fan_in = max(1, int(np.prod(w.shape[:-1]))) if len(w.shape) > 1 else 1
        scale = np.sqrt(2.0 / fan_in) if len(w.shape) > 1 else 0.1  # keeps activations O(1) through deep stacks
        w.assign((rng.standard_normal(tuple(w.shape)) * scale).astype("float32"))


def record(name, model, size, channels, taps, seed):
    randomize(model, seed)
    weights = f"{out}/{name}.h5"
    with h5py.File(weights, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, model)
    rng = np.random.default_rng(seed + 1)
    x = rng.uniform(-1, 1, (2, size[0], size[1], channels)).astype("float32")
    probe = keras.Model(model.inputs, [model.output] + [model.get_layer(t).output for t in taps])
    results = probe(x)
    results = results if isinstance(results, (list, tuple)) else [results]  # a single output comes back bare
    arrays = {"input": x, "output": results[0]} | {f"tap_{t}": r for t, r in zip(taps, results[1:])}
    files = {}
    for key, value in arrays.items():
        value = np.asarray(value, dtype="<f4")
        path = f"{name}.{key}.f32"
        value.tofile(f"{out}/{path}")
        files[key] = {"file": path, "shape": list(value.shape)}
    cases.append({"name": name, "weights": f"{name}.h5", "size": list(size), "arrays": files, "taps": taps,
                  "parameters": int(model.count_params())})


def layout(model):
    return [{"name": l.name, "weights": [list(w.shape) for w in l.weights]} for l in model.layers if l.__class__.__name__ != "InputLayer"]


apps = keras.applications
pools = lambda n: [f"block{i}_pool" for i in range(1, n + 1)]
record("lenet5", backbone_models.lenet5(), (32, 32), 1, ["s2", "s4", "c5", "f6"], 1)
for seed, configuration in enumerate(["A", "A-LRN", "B", "C"], start=10):
    record(f"vgg_{configuration.lower()}_notop_64", backbone_models.vgg(configuration, include_top=False, input_shape=(64, 64, 3)),
           (64, 64), 3, pools(5), seed)
for seed, (name, builder) in enumerate([("vgg16", apps.VGG16), ("vgg19", apps.VGG19)], start=20):
    record(f"{name}_notop_64", builder(weights=None, include_top=False, input_shape=(64, 64, 3)), (64, 64), 3, pools(5), seed)
    record(f"{name}_notop_avg_64", builder(weights=None, include_top=False, pooling="avg", input_shape=(64, 64, 3)), (64, 64), 3, [], seed)
    record(name, builder(weights=None), (224, 224), 3, pools(5) + ["fc1", "fc2"], seed + 100)

layouts = {}
for name, builder in [("vgg16", apps.VGG16), ("vgg19", apps.VGG19)]:
    layouts[name] = {"top": layout(builder(weights=None)), "notop": layout(builder(weights=None, include_top=False))}

with open(f"{out}/manifest.json", "w") as f:
    json.dump({"keras": keras.__version__, "cases": cases, "layouts": layouts}, f, indent=1)
print(f"wrote {len(cases)} cases to {out}")

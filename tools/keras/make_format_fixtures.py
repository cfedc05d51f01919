"""Writes Keras weight files of every flavour, and a manifest of what each must read as.

Keras 3 and tf-keras (Keras 2) each save the same randomized models in every format they can write: legacy HDF5
weights (`save_weights("x.h5")`, Keras 3 through its legacy path), full-model HDF5 (`model.save("x.h5")`), Keras 3
weights (`x.weights.h5`) and archives (`x.keras`). Models: a small CNN (Conv2D, BatchNormalization, Dense,
Dropout), a functional model with branches and a nested sub-model, a 310-layer model whose long layer names force
chunked `layer_names` attributes, and float16 and float64 variants. Files from Keras versions that no longer install
(Keras 1 with Theano and TensorFlow, and the keras.applications naming with '/' in layer names) are written with
h5py in the exact layout those versions wrote.

The manifest lists, per file, the layers and arrays Zoo must produce, with the values taken from the model (not
from the file), as base64 little-endian float32.

    tools/python tools/keras/make_format_fixtures.py OUT_DIR
"""
import base64
import json
import os
import sys
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
warnings.filterwarnings("ignore")

import h5py
import numpy as np
import keras
import tf_keras

from fixture_models import build

out = sys.argv[1]
manifest = []


def encode(a):
    return base64.b64encode(np.ascontiguousarray(np.asarray(a, dtype="<f4")).tobytes()).decode()


def array_entry(name, value, dtype=None):
    value = np.asarray(value)
    return {"name": name, "shape": list(value.shape), "dtype": dtype or str(value.dtype), "values": encode(value)}


def randomize(model, seed):
    rng = np.random.default_rng(seed)
    for w in model.weights:
        shape, dtype = tuple(w.shape), np.dtype(w.dtype if isinstance(w.dtype, str) else w.dtype.name)
        value = rng.standard_normal(shape) if "variance" not in w.name else rng.uniform(0.5, 2.0, shape)
        w.assign(value.astype(dtype))


def legacy_layers(model):
    """What legacy HDF5 holds: every top-level layer, in model order, with all its weights (sub-models included)."""
    return [{"name": l.name, "arrays": [array_entry(w.path if hasattr(w, "path") else w.name, w.numpy())
                                        for w in legacy_weights(l)]} for l in model.layers]


def legacy_weights(layer):
    return layer.trainable_weights + layer.non_trainable_weights


def leaf_layers(model, keyed, prefix=""):
    """What a weights.h5 tree holds: each layer with weights, sub-models flattened. Without names (tf-keras), a layer
    is known by its key path: snake-case class names numbered in model order, nested under the sub-model's key."""
    result, counts = [], {}
    for l in model.layers:
        key = tf_keras.src.utils.generic_utils.to_snake_case(l.__class__.__name__)
        n = counts.get(key, 0)
        counts[key] = n + 1
        key = key if n == 0 else f"{key}_{n}"
        if hasattr(l, "layers"):
            result += leaf_layers(l, keyed, prefix + key + "/")
        elif l.weights:
            name = prefix + key if keyed else l.name
            result.append({"name": name, "arrays": [array_entry(f"vars/{i}", w.numpy()) for i, w in enumerate(l.weights)]})
    return result


def stored_dtype(model):
    return str(np.dtype(model.weights[0].dtype if isinstance(model.weights[0].dtype, str) else model.weights[0].dtype.name))


def add(path, writer, fmt, layers, ordered=True, metadata=None):
    manifest.append({"file": path, "writer": writer, "format": fmt, "ordered": ordered, "metadata": metadata or {}, "layers": layers})


for api, tag in [(keras, "keras3"), (tf_keras, "tfkeras")]:
    os.makedirs(f"{out}/{tag}", exist_ok=True)
    writer = f"{'Keras' if tag == 'keras3' else 'tf-keras'} {api.__version__}"
    for seed, (model_name, dtype) in enumerate([("small_cnn", "float32"), ("functional", "float32"), ("deep", "float32"),
                                                 ("small_cnn_float16", "float16"), ("small_cnn_float64", "float64")]):
        model = build(api, model_name, dtype)
        randomize(model, seed)
        if model_name == "small_cnn":  # a compiled model's full-model file also carries its training_config
            model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
        base = f"{tag}/{model_name}"
        legacy = legacy_layers(model)
        version = {"keras_version": api.__version__, "backend": "tensorflow"}
        if tag == "keras3":
            from keras.src.legacy.saving import legacy_h5_format
            with h5py.File(f"{out}/{base}.h5", "w") as f:
                legacy_h5_format.save_weights_to_hdf5_group(f, model)
        else:
            model.save_weights(f"{out}/{base}.h5")
            for layer in legacy:  # tf-keras names variables with their ":0" suffix
                for a in layer["arrays"]:
                    a["name"] += "" if a["name"].endswith(":0") else ":0"
        add(f"{base}.h5", writer, "keras-h5", legacy, metadata=dict(version, container="weights only"))
        model.save(f"{out}/{base}_model.h5")
        add(f"{base}_model.h5", writer, "keras-h5", legacy, metadata=dict(version, container="full model"))
        if model_name == "deep":
            continue
        model.save_weights(f"{out}/{base}.weights.h5")
        add(f"{base}.weights.h5", writer, "keras-weights", leaf_layers(model, keyed=tag == "tfkeras"), ordered=False)
        model.save(f"{out}/{base}.keras")
        add(f"{base}.keras", writer, "keras-archive", leaf_layers(model, keyed=tag == "tfkeras"), ordered=tag == "keras3",
            metadata={"keras_version": api.__version__})

# Keras 1 with Theano: kernels (out, in, rows, cols); Keras 2 moved them to (rows, cols, in, out) and flipped them.
os.makedirs(f"{out}/keras1", exist_ok=True)
rng = np.random.default_rng(100)
kernel, bias = rng.standard_normal((4, 3, 3, 2)).astype("f4"), rng.standard_normal(4).astype("f4")
dense_w, dense_b = rng.standard_normal((12, 5)).astype("f4"), rng.standard_normal(5).astype("f4")
for backend, name in [("theano", "theano.h5"), ("tensorflow", "tensorflow.h5")]:
    stored = kernel if backend == "theano" else np.transpose(kernel, (2, 3, 1, 0))
    with h5py.File(f"{out}/keras1/{name}", "w") as f:
        f.attrs["layer_names"] = [b"convolution2d_1", b"flatten_1", b"dense_1"]
        f.attrs["backend"] = backend.encode()
        if backend == "tensorflow":
            f.attrs["keras_version"] = b"1.2.2"
        suffix = ":0" if backend == "tensorflow" else ""
        for layer, arrays in [("convolution2d_1", [("W", stored), ("b", bias)]), ("flatten_1", []), ("dense_1", [("W", dense_w), ("b", dense_b)])]:
            g = f.create_group(layer)
            g.attrs["weight_names"] = [f"{layer}_{n}{suffix}".encode() for n, _ in arrays]
            for n, v in arrays:
                g.create_dataset(f"{layer}_{n}{suffix}", data=v)
    expected_kernel = np.transpose(kernel, (2, 3, 1, 0))
    if backend == "theano":
        expected_kernel = expected_kernel[::-1, ::-1, :, :]
    add(f"keras1/{name}", f"h5py, Keras 1 layout ({backend})", "keras-h5", [
        {"name": "convolution2d_1", "arrays": [array_entry(f"convolution2d_1_W{suffix}", expected_kernel),
                                                array_entry(f"convolution2d_1_b{suffix}", bias)]},
        {"name": "flatten_1", "arrays": []},
        {"name": "dense_1", "arrays": [array_entry(f"dense_1_W{suffix}", dense_w), array_entry(f"dense_1_b{suffix}", dense_b)]}],
        metadata={"backend": backend})

# keras.applications' published DenseNet files: layer names with '/', nested groups in HDF5.
os.makedirs(f"{out}/applications", exist_ok=True)
conv, gamma, fc = rng.standard_normal((7, 7, 3, 4)).astype("f4"), rng.standard_normal(4).astype("f4"), rng.standard_normal((4, 3)).astype("f4")
with h5py.File(f"{out}/applications/densenet_style.h5", "w") as f:
    f.attrs["layer_names"] = [b"input_1", b"conv1/conv", b"conv1/bn", b"fc1000"]
    f.attrs["backend"], f.attrs["keras_version"] = b"tensorflow", b"2.1.5"
    layers = [("input_1", []), ("conv1/conv", [("kernel:0", conv)]), ("conv1/bn", [("gamma:0", gamma)]), ("fc1000", [("kernel:0", fc)])]
    for layer, arrays in layers:
        g = f.create_group(layer)
        g.attrs["weight_names"] = [f"{layer}/{n}".encode() for n, _ in arrays]
        for n, v in arrays:
            g.create_dataset(f"{layer}/{n}", data=v)
add("applications/densenet_style.h5", "h5py, keras.applications layout (Keras 2.1.5)", "keras-h5",
    [{"name": layer, "arrays": [array_entry(f"{layer}/{n}", v) for n, v in arrays]} for layer, arrays in layers])

with open(f"{out}/manifest.json", "w") as f:
    json.dump({"generator": "tools/keras/make_format_fixtures.py", "keras": keras.__version__, "tf_keras": tf_keras.__version__,
               "files": manifest}, f, indent=1)
print(f"wrote {len(manifest)} files to {out}")

# Broken files for the error tests.
os.makedirs(f"{out}/bad", exist_ok=True)
with h5py.File(f"{out}/bad/not_keras.h5", "w") as f:
    f.create_dataset("measurements", data=np.arange(6.0))
with h5py.File(f"{out}/bad/missing_dataset.h5", "w") as f:
    f.attrs["layer_names"] = [b"dense"]
    g = f.create_group("dense")
    g.attrs["weight_names"] = [b"dense/kernel:0", b"dense/bias:0"]
    g.create_dataset("dense/kernel:0", data=np.ones((2, 2), "f4"))
with h5py.File(f"{out}/bad/layer_names_numbers.h5", "w") as f:
    f.attrs["layer_names"] = np.arange(3)
with h5py.File(f"{out}/bad/missing_layer_group.h5", "w") as f:
    f.attrs["layer_names"] = [b"conv", b"dense"]
    f.create_group("conv").attrs["weight_names"] = []
with h5py.File(f"{out}/bad/string_weights.h5", "w") as f:
    f.attrs["layer_names"] = [b"dense"]
    g = f.create_group("dense")
    g.attrs["weight_names"] = [b"kernel"]
    g.create_dataset("kernel", data=np.array([b"not", b"numbers"]))
import zipfile
with zipfile.ZipFile(f"{out}/bad/no_weights.keras", "w") as z:
    z.writestr("config.json", "{}")
    z.writestr("metadata.json", "{}")

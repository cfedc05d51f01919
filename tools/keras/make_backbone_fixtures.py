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
    """Every array random, BatchNorm's included (Keras's initial BatchNorm is an identity that would hide bugs);
    kernels He-scaled so activations stay O(1) through deep stacks."""
    rng = np.random.default_rng(seed)
    for w in model.weights:
        shape, name = tuple(w.shape), w.path.split("/")[-1]
        if name in ("gamma", "moving_variance"):
            value = rng.uniform(0.5, 1.5, shape)
        elif name in ("beta", "moving_mean", "bias"):
            value = rng.standard_normal(shape) * 0.1
        else:
            value = rng.standard_normal(shape) * np.sqrt(2.0 / max(1, int(np.prod(shape[:-1]))))
        w.assign(value.astype("float32"))


def record(name, model, size, channels, taps, seed, renamed=None):
    """Saves the model's weights (randomized unless `renamed` maps its layers to older names: then the weights are
    kept and written under those names) and its outputs for two random inputs."""
    if renamed is None:
        randomize(model, seed)
        with h5py.File(f"{out}/{name}.h5", "w") as f:
            legacy_h5_format.save_weights_to_hdf5_group(f, model)
    else:
        with h5py.File(f"{out}/{name}.h5", "w") as f:
            layers = [l for l in model.layers if l.weights]
            f.attrs["layer_names"] = [renamed(l.name).encode() for l in layers]
            f.attrs["backend"], f.attrs["keras_version"] = b"tensorflow", b"2.0.8"
            for l in layers:
                g = f.create_group(renamed(l.name))
                names = [f"{renamed(l.name)}/{w.path.split('/')[-1]}:0" for w in l.weights]
                g.attrs["weight_names"] = [n.encode() for n in names]
                for n, w in zip(names, l.weights):
                    g.create_dataset(n, data=w.numpy())
    rng = np.random.default_rng(seed + 1)
    x = rng.uniform(-1, 1, (2, size[0], size[1], channels)).astype("float32")
    outputs = list(model.outputs)  # the main output, then auxiliary heads
    probe = keras.Model(model.inputs, outputs + [model.get_layer(t).output for t in taps])
    results = probe(x)
    results = results if isinstance(results, (list, tuple)) else [results]  # a single output comes back bare
    arrays = {"input": x, "output": results[0]} | {f"output_{i}": results[i] for i in range(1, len(outputs))}
    arrays |= {f"tap_{t}": r for t, r in zip(taps, results[len(outputs):])}
    files = {}
    for key, value in arrays.items():
        value = np.asarray(value, dtype="<f4")
        path = f"{name}.{key}.f32"
        value.tofile(f"{out}/{path}")
        files[key] = {"file": path, "shape": list(value.shape)}
    cases.append({"name": name, "weights": f"{name}.h5", "size": list(size), "arrays": files, "taps": taps,
                  "parameters": int(model.count_params()), "layout": layout(model)})


def caffe_name(name):
    """The Caffe release's name for a GoogLeNet layer: the first '_' after the block becomes '/'."""
    block = "_".join(name.split("_")[:2]) if name.startswith("inception_") else name.split("_")[0]
    return name if len(name) <= len(block) else block + "/" + name[len(block) + 1:]


def layout(model):
    return [{"name": l.name, "weights": [list(w.shape) for w in l.weights]} for l in model.layers if l.__class__.__name__ != "InputLayer"]


apps = keras.applications
pools = lambda n: [f"block{i}_pool" for i in range(1, n + 1)]
record("lenet5", backbone_models.lenet5(), (32, 32), 1, ["s2", "s4", "c5", "f6"], 1)
record("lenet5-relu", backbone_models.lenet5(relu=True), (32, 32), 1, ["s2", "s4", "c5", "f6"], 2)
for seed, grouped in enumerate([False, True], start=5):
    name = "alexnet-grouped" if grouped else "alexnet"
    record(f"{name}_notop_67", backbone_models.alexnet(grouped, include_top=False, input_shape=(67, 67, 3)), (67, 67), 3,
           ["pool1", "pool2", "conv3", "conv4", "pool5"], seed)
    record(name, backbone_models.alexnet(grouped), (227, 227), 3, ["pool1", "pool2", "pool5", "fc6", "fc7"], seed + 100)
for seed, configuration in enumerate(["A", "A-LRN", "B", "C"], start=10):
    record(f"vgg_{configuration.lower()}_notop_64", backbone_models.vgg(configuration, include_top=False, input_shape=(64, 64, 3)),
           (64, 64), 3, pools(5), seed)
    record(f"vgg_{configuration.lower()}", backbone_models.vgg(configuration), (224, 224), 3, pools(5) + ["fc1", "fc2"], seed + 100)
for seed, (name, builder) in enumerate([("vgg16", apps.VGG16), ("vgg19", apps.VGG19)], start=20):
    record(f"{name}_notop_64", builder(weights=None, include_top=False, input_shape=(64, 64, 3)), (64, 64), 3, pools(5), seed)
    keras.backend.clear_session()  # auto-generated names (global_average_pooling2d) count per session
    record(f"{name}_notop_avg_64", builder(weights=None, include_top=False, pooling="avg", input_shape=(64, 64, 3)), (64, 64), 3, [], seed)
    record(name, builder(weights=None), (224, 224), 3, pools(5) + ["fc1", "fc2"], seed + 100)

stage_outs = lambda stages: ["pool1_pool"] + [f"conv{i + 2}_block{n}_out" for i, n in enumerate(stages)]
for seed, depth in enumerate([18, 34], start=30):
    stages = {18: [2, 2, 2, 2], 34: [3, 4, 6, 3]}[depth]
    record(f"resnet{depth}_notop_64", backbone_models.resnet_basic(depth, include_top=False, input_shape=(64, 64, 3)),
           (64, 64), 3, stage_outs(stages), seed)
    record(f"resnet{depth}", backbone_models.resnet_basic(depth), (224, 224), 3, [], seed + 100)
for seed, (depth, builder, stages) in enumerate([(50, apps.ResNet50, [3, 4, 6, 3]), (101, apps.ResNet101, [3, 4, 23, 3]),
                                                 (152, apps.ResNet152, [3, 8, 36, 3])], start=40):
    record(f"resnet{depth}_notop_64", builder(weights=None, include_top=False, input_shape=(64, 64, 3)), (64, 64), 3, stage_outs(stages), seed)
    model = builder(weights=None)
    record(f"resnet{depth}", model, (224, 224), 3, stage_outs(stages), seed + 100)
    if depth == 50:
        # The first published ResNet50 file: Keras 2.0 names and BatchNorm epsilon 1e-3, with the same weights.
        for layer in model.layers:
            if isinstance(layer, keras.layers.BatchNormalization):
                layer.epsilon = 1e-3
        old = {"conv1_conv": "conv1", "conv1_bn": "bn_conv1", "predictions": "fc1000"}
        def renamed(name):
            if name in old:
                return old[name]
            stage, block, branch, kind = name.split("_")
            letter = chr(96 + int(block[5:]))
            return ("res" if kind == "conv" else "bn") + f"{stage[4:]}{letter}_branch" + {"0": "1", "1": "2a", "2": "2b", "3": "2c"}[branch]
        record("resnet50_legacy", model, (224, 224), 3, [], seed, renamed=renamed)

for seed, (depth, builder, stages) in enumerate([(121, apps.DenseNet121, [6, 12, 24, 16]), (169, apps.DenseNet169, [6, 12, 32, 32]),
                                                 (201, apps.DenseNet201, [6, 12, 48, 32])], start=50):
    taps = ["pool1", "pool2_pool", "pool3_pool", "pool4_pool", "relu"]
    keras.backend.clear_session()  # its two ZeroPadding2D layers are named automatically
    record(f"densenet{depth}_notop_64", builder(weights=None, include_top=False, input_shape=(64, 64, 3)), (64, 64), 3, taps, seed)
    keras.backend.clear_session()
    model = builder(weights=None)
    record(f"densenet{depth}", model, (224, 224), 3, taps, seed + 100)
    if depth == 121:
        # The published files' names: conv1/conv, conv1/bn (nested groups in HDF5) and fc1000.
        old = {"conv1_conv": "conv1/conv", "conv1_bn": "conv1/bn", "predictions": "fc1000"}
        record("densenet121_legacy", model, (224, 224), 3, [], seed, renamed=lambda name: old.get(name, name))

inception_outputs = [f"inception_{m[0]}_output" for m in backbone_models.GOOGLENET_MODULES]
record("googlenet_notop_96", backbone_models.googlenet(include_top=False, input_shape=(96, 96, 3)), (96, 96), 3, inception_outputs, 60)
model = backbone_models.googlenet()
record("googlenet", model, (224, 224), 3, inception_outputs, 61)
record("googlenet_caffe_legacy", model, (224, 224), 3, [], 61, renamed=lambda name: caffe_name(name))
record("googlenet_aux", backbone_models.googlenet(auxiliary=True), (224, 224), 3, [], 62)

layouts = {}
for name, builder in [("vgg16", apps.VGG16), ("vgg19", apps.VGG19), ("resnet50", apps.ResNet50), ("resnet101", apps.ResNet101),
                      ("resnet152", apps.ResNet152), ("densenet121", apps.DenseNet121), ("densenet169", apps.DenseNet169),
                      ("densenet201", apps.DenseNet201)]:
    keras.backend.clear_session()
    top = layout(builder(weights=None))
    keras.backend.clear_session()
    layouts[name] = {"top": top, "notop": layout(builder(weights=None, include_top=False))}

with open(f"{out}/manifest.json", "w") as f:
    json.dump({"keras": keras.__version__, "cases": cases, "layouts": layouts}, f, indent=1)
print(f"wrote {len(cases)} cases to {out}")

"""Every keras.applications family of the pinned Keras, as people save them: built with weights=None (no download),
every array randomized (BatchNorm statistics too, so that inference-mode BatchNorm is no identity), the classifier
left as logits (classifier_activation=None, as a saturated softmax would hide errors), saved with model.save() as
a .keras archive, with two inputs and Keras's outputs as NumPy files. Inputs are at the smallest size each family
allows, so that tests stay quick. Some are also saved by tf-keras 2 as a legacy .h5 (its layer naming). Writes
manifest.json beside them.

    tools/python tools/keras/make_application_fixtures.py OUT [NAME ...]

The files are large (up to ~100 MB each), so tests generate them on first use into the cache rather than the
repository.
"""
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
import numpy as np
import keras
import tf_keras

A = keras.applications
# name: (constructor, input size, keyword arguments)
FAMILIES = {
    "ConvNeXtTiny": (A.ConvNeXtTiny, 32, {}),
    "DenseNet121": (A.DenseNet121, 32, {}),
    "EfficientNetB0": (A.EfficientNetB0, 32, {}),
    "EfficientNetV2B0": (A.EfficientNetV2B0, 32, {}),
    "InceptionResNetV2": (A.InceptionResNetV2, 75, {}),
    "InceptionV3": (A.InceptionV3, 75, {}),
    "MobileNet": (A.MobileNet, 32, {"alpha": 0.5}),
    "MobileNetV2": (A.MobileNetV2, 32, {"alpha": 0.5}),
    "MobileNetV3Small": (A.MobileNetV3Small, 32, {}),
    "MobileNetV3Large": (A.MobileNetV3Large, 32, {"minimalistic": True}),
    "NASNetMobile": (A.NASNetMobile, 32, {}),
    "ResNet50": (A.ResNet50, 32, {}),
    "ResNet50V2": (A.ResNet50V2, 32, {}),
    "VGG16": (A.VGG16, 32, {}),
    "Xception": (A.Xception, 71, {}),
}
# Families also saved by tf-keras 2 as legacy HDF5.
TF_KERAS = {"MobileNetV2", "EfficientNetB0", "ResNet50"}


def randomize(model, rng):
    for layer in model.layers:
        values = []
        for w in layer.weights:
            shape, name = tuple(w.shape), w.name
            if "variance" in name or "gamma" in name:
                values.append(rng.uniform(0.5, 1.5, shape))
            elif ("kernel" in name or "depthwise" in name) and len(shape) > 1:
                fan_in = shape[0] * shape[1] if "depthwise" in name else int(np.prod(shape[:-1]))
                values.append(rng.uniform(-1, 1, shape) * np.sqrt(3 / fan_in))
            elif "mean" in name or "beta" in name or "bias" in name:
                values.append(rng.uniform(-0.1, 0.1, shape))
            else:
                values.append(np.asarray(w.numpy()))  # Normalization statistics, LayerScale gammas, counts
        if values:
            layer.set_weights([np.asarray(v, dtype="float32") for v in values])


def make(out, names):
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, "manifest.json")
    cases = json.load(open(path))["cases"] if os.path.exists(path) else []
    cases = [c for c in cases if c["family"] not in names]
    for seed, name in enumerate(names):
        build, size, kwargs = FAMILIES[name]
        flavours = [("keras3", keras, A)] + ([("tf_keras", tf_keras, tf_keras.applications)] if name in TF_KERAS else [])
        for flavour, k, applications in flavours:
            rng = np.random.default_rng(seed)
            constructor = getattr(applications, name)
            model = constructor(weights=None, input_shape=(size, size, 3), classes=10, classifier_activation=None, **kwargs)
            randomize(model, rng)
            stem = f"{name}_{flavour}"
            file = f"{stem}.keras" if flavour == "keras3" else f"{stem}.h5"
            model.save(os.path.join(out, file))
            x = rng.uniform(0, 255, (2, size, size, 3)).astype("<f4")
            y = np.asarray(model(x, training=False), dtype="<f4")
            np.save(os.path.join(out, f"{stem}.input.npy"), x)
            np.save(os.path.join(out, f"{stem}.output.npy"), y)
            cases.append({"family": name, "name": stem, "file": file, "input": list(x.shape), "output": list(y.shape),
                          "parameters": int(model.count_params())})
            print(stem, flush=True)
    with open(path, "w") as f:
        json.dump({"cases": cases}, f, indent=1)


if __name__ == "__main__":
    make(sys.argv[1], sys.argv[2:] or list(FAMILIES))

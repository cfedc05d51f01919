"""Keras models Zoo builds from their own config (the `keras` family): small CNNs with random weights (BatchNorm
statistics randomized too), each saved as a full-model HDF5 file by Keras 3 and by tf-keras 2 (whose configs are
different dialects), with an input and Keras's output for it. Writes manifest.json beside them.

    tools/python tools/keras/make_keras_config_fixtures.py Tests/ZooModelsTests/Fixtures/keras-config

The channels-first model is made by Keras 3 on JAX (TensorFlow's CPU kernels refuse NCHW), in a second process of
this script (`--jax`), since the backend is chosen when Keras is imported.
"""
import json
import os
import subprocess
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
import numpy as np
import keras
import tf_keras


def sequential_cnn(k):
    """A MNIST-style Sequential CNN: every core layer in a chain."""
    L = k.layers
    return k.Sequential([
        k.Input((28, 28, 1)),
        L.Conv2D(8, 3, activation="relu", name="conv1"),
        L.MaxPooling2D(2, name="pool1"),
        L.Conv2D(16, 3, padding="same", use_bias=False, name="conv2"),
        L.BatchNormalization(epsilon=1e-3, name="bn2"),
        L.Activation("relu", name="relu2"),
        L.AveragePooling2D(2, padding="same", name="pool2"),
        L.Dropout(0.25, name="dropout"),
        L.Flatten(name="flatten"),
        L.Dense(32, activation="tanh", name="fc1"),
        L.Dense(10, activation="softmax", name="predictions"),
    ], name="mnist_cnn")


def residual_net(k):
    """A Functional net with a residual Add, a Concatenate of two branches, padding and global pooling."""
    L = k.layers
    inputs = k.Input((32, 32, 3), name="image")
    x = L.Conv2D(8, 3, padding="same", name="stem")(inputs)
    x = L.BatchNormalization(name="stem_bn")(x)
    x = L.ReLU(name="stem_relu")(x)
    y = L.Conv2D(8, 3, padding="same", name="block_conv")(x)
    y = L.BatchNormalization(name="block_bn")(y)
    x = L.Add(name="block_add")([x, y])
    x = L.Activation("relu", name="block_out")(x)
    x = L.ZeroPadding2D(((1, 0), (2, 1)), name="pad")(x)
    x = L.MaxPooling2D(3, strides=2, name="pool")(x)
    a = L.Conv2D(4, 1, activation="sigmoid", name="branch_a")(x)
    b = L.Conv2D(6, 3, padding="same", name="branch_b")(x)
    x = L.Concatenate(name="concat")([a, b])
    x = L.GlobalAveragePooling2D(name="gap")(x)
    outputs = L.Dense(5, name="logits")(x)
    return k.Model(inputs, outputs, name="residual_net")


def activations_net(k):
    """Every activation by name and every activation layer with its options, each on its own branch from the input
    (a chain of squashing functions would forget the input), joined and read by Dense layers."""
    L = k.layers
    inputs = k.Input((10, 10, 3), name="pixels")
    branches = [L.Conv2D(3, 1, activation=name, name=f"conv_{name}")(inputs)
                for name in ["relu6", "leaky_relu", "elu", "selu", "gelu", "swish", "silu", "hard_sigmoid", "softplus",
                             "softsign", "tanh", "sigmoid", "relu", "linear"]]
    for layer in [L.ReLU(max_value=1.5, negative_slope=0.1, threshold=0.25, name="relu_options"),
                  L.LeakyReLU(0.15, name="leaky"), L.ELU(alpha=0.6, name="elu_layer"), L.ReLU(6.0, name="relu6_layer")]:
        branches.append(layer(L.Conv2D(3, 1, name=f"before_{layer.name}")(inputs)))
    x = L.Concatenate(name="branches")(branches)
    x = L.Conv2D(4, 3, strides=2, name="mix")(x)
    x = L.Flatten(name="flatten")(x)
    x = L.Dense(6, activation="gelu", name="dense_gelu")(x)
    x = L.Dense(5, name="logits")(x)
    outputs = L.Softmax(name="probabilities")(x)
    return k.Model(inputs, outputs, name="activations_net")


def separable_net(k):
    """A mini-Xception: separable convolutions with BatchNorm and residual adds, a depthwise convolution with a
    depth multiplier, a dilated convolution."""
    L = k.layers
    inputs = k.Input((24, 24, 3), name="image")
    x = L.Conv2D(8, 3, strides=2, padding="same", use_bias=False, name="stem")(inputs)
    x = L.BatchNormalization(name="stem_bn")(x)
    x = L.Activation("relu", name="stem_relu")(x)
    for block, filters in enumerate([16, 24]):
        shortcut = L.Conv2D(filters, 1, strides=2, padding="same", use_bias=False, name=f"block{block}_shortcut")(x)
        shortcut = L.BatchNormalization(name=f"block{block}_shortcut_bn")(shortcut)
        y = L.SeparableConv2D(filters, 3, padding="same", use_bias=False, name=f"block{block}_sep1")(x)
        y = L.BatchNormalization(name=f"block{block}_sep1_bn")(y)
        y = L.Activation("relu", name=f"block{block}_sep1_relu")(y)
        y = L.SeparableConv2D(filters, 3, padding="same", depth_multiplier=2, name=f"block{block}_sep2")(y)
        y = L.BatchNormalization(name=f"block{block}_sep2_bn")(y)
        y = L.MaxPooling2D(3, strides=2, padding="same", name=f"block{block}_pool")(y)
        x = L.Add(name=f"block{block}_add")([y, shortcut])
    x = L.DepthwiseConv2D(3, depth_multiplier=2, padding="same", activation="relu", name="depthwise")(x)
    x = L.Conv2D(8, 3, dilation_rate=2, padding="same", name="dilated")(x)
    x = L.GlobalAveragePooling2D(name="gap")(x)
    outputs = L.Dense(4, activation="softmax", name="predictions")(x)
    return k.Model(inputs, outputs, name="mini_xception")


def layers_net(k):
    """The structural and preprocessing layers: Rescaling, Normalization, every elementwise merge, the training-only
    noise layers, Cropping2D, a grouped convolution, UpSampling2D (bilinear and nearest), Resizing (both), Permute,
    global pooling with keepdims and Reshape."""
    L = k.layers
    inputs = k.Input((12, 10, 3), name="image")
    x = L.Rescaling(1 / 127.5, offset=-1, name="rescale")(inputs)
    x = L.Normalization(name="normalize")(x)
    a = L.Conv2D(4, 3, padding="same", name="conv_a")(x)
    b = L.Conv2D(4, 3, padding="same", name="conv_b")(x)
    c = L.Conv2D(4, 3, padding="same", name="conv_c")(x)
    merged = [L.Subtract(name="subtract")([a, b]), L.Multiply(name="multiply")([a, b, c]), L.Average(name="average")([a, b, c]),
              L.Maximum(name="maximum")([a, b, c]), L.Minimum(name="minimum")([a, b])]
    x = L.Concatenate(name="merged")(merged)
    x = L.SpatialDropout2D(0.2, name="spatial_dropout")(x)
    x = L.GaussianNoise(0.1, name="noise")(x)
    x = L.GaussianDropout(0.1, name="noise_dropout")(x)
    x = L.Cropping2D(((1, 2), (0, 1)), name="crop")(x)
    x = L.Conv2D(6, 3, groups=2, padding="same", name="grouped")(x)
    x = L.UpSampling2D(2, interpolation="bilinear", name="up_bilinear")(x)
    x = L.Conv2D(6, 3, strides=2, name="down")(x)
    x = L.UpSampling2D((1, 2), name="up_nearest")(x)
    x = L.Resizing(6, 5, name="resize_bilinear")(x)
    x = L.Resizing(7, 9, interpolation="nearest", name="resize_nearest")(x)
    x = L.Permute((2, 1, 3), name="permute")(x)
    x = L.GlobalMaxPooling2D(keepdims=True, name="pool")(x)
    x = L.Reshape((6,), name="reshape")(x)
    outputs = L.Dense(3, activation="softmax", name="predictions")(x)
    return k.Model(inputs, outputs, name="layers_net")


def learned_layers_net(k):
    """The remaining layers with weights: PReLU (per element, and shared over height and width), LayerNormalization,
    Conv2DTranspose ('same' with strides, 'valid'), BatchNormalization after a Dense layer; weight regularizers (L1,
    L2, L1L2); and ActivityRegularization, the identity at inference."""
    L = k.layers
    inputs = k.Input((6, 5, 3), name="image")
    x = L.Conv2D(4, 3, padding="same", bias_regularizer=k.regularizers.L1(0.02), name="conv")(inputs)
    x = L.PReLU(name="prelu_full")(x)
    x = L.Conv2DTranspose(6, 3, strides=2, padding="same", name="up_same")(x)
    x = L.PReLU(shared_axes=[1, 2], name="prelu_shared")(x)
    x = L.LayerNormalization(epsilon=1e-3, gamma_regularizer=k.regularizers.L1L2(l1=0.01, l2=0.03), name="layer_norm")(x)
    x = L.Conv2DTranspose(3, (2, 3), padding="valid", activation="relu", use_bias=False, name="up_valid")(x)
    x = L.Flatten(name="flatten")(x)
    x = L.Dense(8, kernel_regularizer=k.regularizers.L2(0.05), name="dense")(x)
    x = L.ActivityRegularization(l1=0.01, l2=0.001, name="activity")(x)
    x = L.BatchNormalization(name="dense_bn")(x)
    outputs = L.Dense(3, activation="softmax", name="predictions")(x)
    return k.Model(inputs, outputs, name="learned_layers_net")


def multi_io_net(k):
    """Several inputs and outputs: two images through one shared convolution (a siamese pair), a smaller mask image
    and a vector of metadata in; a classifier and a score out."""
    L = k.layers
    left, right = k.Input((16, 16, 3), name="left"), k.Input((16, 16, 3), name="right")
    mask, meta = k.Input((8, 8, 1), name="mask"), k.Input((5,), name="meta")
    shared = L.Conv2D(6, 3, padding="same", activation="relu", name="shared_conv")
    a = L.MaxPooling2D(2, name="pool_left")(shared(left))
    b = L.MaxPooling2D(2, name="pool_right")(shared(right))
    m = L.Conv2D(2, 3, padding="same", name="mask_conv")(mask)
    x = L.Concatenate(name="join")([L.Subtract(name="difference")([a, b]), m])
    x = L.Conv2D(8, 3, strides=2, activation="relu", name="conv")(x)
    features = L.GlobalAveragePooling2D(name="gap")(x)
    h = L.Concatenate(name="with_meta")([features, L.Dense(4, activation="relu", name="meta_dense")(meta)])
    classes = L.Dense(3, activation="softmax", name="classes")(h)
    score = L.Dense(1, activation="sigmoid", name="score")(features)
    return k.Model([left, right, mask, meta], [classes, score], name="multi_io_net")


def nested_net(k):
    """Models nested as layers three deep: a Sequential in a Functional in a Sequential."""
    L = k.layers
    inner = k.Sequential([k.Input((12, 12, 3)), L.Conv2D(6, 3, name="inner_conv"), L.BatchNormalization(name="inner_bn"),
                          L.ReLU(name="inner_relu")], name="inner")
    inputs = k.Input((12, 12, 3), name="image")
    x = inner(inputs)
    y = L.Conv2D(6, 3, padding="same", name="side_conv")(x)
    x = L.Add(name="add")([x, y])
    x = L.GlobalMaxPooling2D(name="gmp")(x)
    middle = k.Model(inputs, x, name="middle")
    return k.Sequential([k.Input((12, 12, 3)), middle, L.Dense(8, activation="relu", name="hidden"),
                         L.Dense(3, activation="softmax", name="predictions")], name="nested_net")


def mobilenet_v2(k):
    """keras.applications MobileNetV2 (alpha 0.35, 96 px, no top) under a head, nested in a Sequential the way
    Teachable Machine exports are."""
    L = k.layers
    base = k.applications.MobileNetV2(input_shape=(96, 96, 3), alpha=0.35, include_top=False, weights=None)
    head = k.Sequential([k.Input(tuple(base.output_shape[1:])), L.GlobalAveragePooling2D(name="head_pool"),
                         L.Dense(16, activation="relu", name="head_hidden"), L.Dense(3, activation="softmax", name="head_output")],
                        name="head")
    return k.Sequential([k.Input((96, 96, 3)), base, head], name="teachable_mobilenet_v2")


# A layer inside each model whose output is also compared: a feature map before the global pooling, where a wrong
# input or a wrong spatial computation shows even when the pooled output hardly moves.
TAPS = {"mnist_cnn": "pool2", "residual_net": "concat", "activations_net": "branches", "mini_xception": "dilated",
        "nested_net": "add", "teachable_mobilenet_v2": "out_relu", "layers_net": "permute", "channels_first_net": "conv2",
        "keras1_net": "merge_2", "learned_layers_net": "up_valid",
        "multi_io_net": "join"}


# Cases also saved as weights alone with their config apart, and the config's format.
WEIGHTS_ONLY = {"mnist_cnn_keras3": "json", "mnist_cnn_tf_keras": "yaml", "nested_net_tf_keras": "yaml"}


def contains(layer, name):
    return hasattr(layer, "layers") and any(l.name == name or contains(l, name) for l in layer.layers)


def tap_output(k, model, name, x):
    """The output of the layer `name`, however deeply nested, for input x (nested models here are called on the
    output of the layers before them in a Sequential, or are a Functional's own layers)."""
    if model.__class__.__name__ == "Sequential":
        for layer in model.layers:
            if layer.name == name:
                return layer(x)
            if contains(layer, name):
                return tap_output(k, layer, name, x)
            x = layer(x)
    for layer in model.layers:
        if contains(layer, name):
            raise ValueError(f"{name} sits in a model nested inside a Functional: not needed by these fixtures")
    return k.Model(model.inputs, model.get_layer(name).output)(x)


def channels_first_net(k):
    """A channels-first CNN: convolutions, BatchNorm on axis 1, pooling, a Concatenate on axis 1, padding, cropping,
    upsampling, and Flatten in both of its orders (C, H, W by default; H, W, C with data_format channels_first)
    before Dense layers."""
    L = k.layers
    f = "channels_first"
    inputs = k.Input((3, 10, 12), name="image")
    x = L.Conv2D(6, 3, padding="same", data_format=f, name="conv1")(inputs)
    x = L.BatchNormalization(axis=1, name="bn1")(x)
    x = L.Activation("relu", name="relu1")(x)
    x = L.MaxPooling2D(2, data_format=f, name="pool1")(x)
    y = L.Conv2D(2, 1, data_format=f, name="side")(x)
    x = L.Concatenate(axis=1, name="concat")([x, y])
    x = L.ZeroPadding2D(((1, 0), (0, 2)), data_format=f, name="pad")(x)
    x = L.Cropping2D(((0, 1), (1, 0)), data_format=f, name="crop")(x)
    x = L.UpSampling2D(2, data_format=f, name="up")(x)
    x = L.Conv2D(4, 3, strides=2, data_format=f, name="conv2")(x)
    a = L.Dense(5, name="dense_chw")(L.Flatten(name="flatten_chw")(x))
    b = L.Dense(5, name="dense_hwc")(L.Flatten(data_format=f, name="flatten_hwc")(x))
    g = L.GlobalAveragePooling2D(data_format=f, name="gap")(x)
    x = L.Concatenate(name="features")([a, b, g])
    outputs = L.Dense(3, activation="softmax", name="predictions")(x)
    return k.Model(inputs, outputs, name="channels_first_net")


def keras1_net(k):
    """The network the Keras 1 file below describes, built channels-first in Keras 3: two convolution branches merged
    by a sum and a concatenation, pooling, Flatten in C, H, W order, Dense layers."""
    L = k.layers
    f = "channels_first"
    inputs = k.Input((3, 9, 9), name="input_1")
    a = L.Conv2D(4, 3, padding="same", activation="relu", data_format=f, name="convolution2d_1")(inputs)
    b = L.Conv2D(4, 3, padding="same", data_format=f, name="convolution2d_2")(inputs)
    x = L.Add(name="merge_1")([a, b])
    c = L.Conv2D(2, 1, data_format=f, name="convolution2d_3")(x)
    x = L.Concatenate(axis=1, name="merge_2")([x, c])
    x = L.MaxPooling2D(2, data_format=f, name="maxpooling2d_1")(x)
    x = L.Flatten(name="flatten_1")(x)
    x = L.Dense(8, activation="tanh", name="dense_1")(x)
    x = L.Dropout(0.5, name="dropout_1")(x)
    outputs = L.Dense(3, activation="softmax", name="dense_2")(x)
    return k.Model(inputs, outputs, name="keras1_net")


def write_keras1(model, path):
    """`model` (keras1_net) as Keras 1.2.2 with the Theano backend saved it: a Keras 1 config (Convolution2D with
    nb_filter, border_mode, dim_ordering 'th'; Merge layers; output_dim), kernels stored (out, in, rows, cols) and
    flipped, as Theano convolves."""
    import h5py

    def conv(name, filters, size, activation, inbound):
        return {"class_name": "Convolution2D", "name": name, "inbound_nodes": [[[inbound, 0, 0]]],
                "config": {"name": name, "nb_filter": filters, "nb_row": size, "nb_col": size, "init": "glorot_uniform",
                           "activation": activation, "border_mode": "same" if size > 1 else "valid", "subsample": [1, 1],
                           "dim_ordering": "th", "W_regularizer": None, "b_regularizer": None, "activity_regularizer": None,
                           "W_constraint": None, "b_constraint": None, "bias": True, "trainable": True}}

    def merge(name, mode, inbound):
        return {"class_name": "Merge", "name": name, "inbound_nodes": [[[n, 0, 0] for n in inbound]],
                "config": {"name": name, "mode": mode, "concat_axis": 1, "dot_axes": -1, "mode_type": "raw", "output_shape": None,
                           "output_shape_type": "raw", "output_mask": None, "output_mask_type": "raw", "arguments": {}}}

    layers = [
        {"class_name": "InputLayer", "name": "input_1", "inbound_nodes": [],
         "config": {"batch_input_shape": [None, 3, 9, 9], "input_dtype": "float32", "sparse": False, "name": "input_1"}},
        conv("convolution2d_1", 4, 3, "relu", "input_1"), conv("convolution2d_2", 4, 3, "linear", "input_1"),
        merge("merge_1", "sum", ["convolution2d_1", "convolution2d_2"]), conv("convolution2d_3", 2, 1, "linear", "merge_1"),
        merge("merge_2", "concat", ["merge_1", "convolution2d_3"]),
        {"class_name": "MaxPooling2D", "name": "maxpooling2d_1", "inbound_nodes": [[["merge_2", 0, 0]]],
         "config": {"name": "maxpooling2d_1", "pool_size": [2, 2], "strides": [2, 2], "border_mode": "valid", "dim_ordering": "th", "trainable": True}},
        {"class_name": "Flatten", "name": "flatten_1", "inbound_nodes": [[["maxpooling2d_1", 0, 0]]], "config": {"name": "flatten_1", "trainable": True}},
        {"class_name": "Dense", "name": "dense_1", "inbound_nodes": [[["flatten_1", 0, 0]]],
         "config": {"name": "dense_1", "output_dim": 8, "init": "glorot_uniform", "activation": "tanh", "input_dim": 32, "bias": True, "trainable": True}},
        {"class_name": "Dropout", "name": "dropout_1", "inbound_nodes": [[["dense_1", 0, 0]]], "config": {"name": "dropout_1", "p": 0.5, "trainable": True}},
        {"class_name": "Dense", "name": "dense_2", "inbound_nodes": [[["dropout_1", 0, 0]]],
         "config": {"name": "dense_2", "output_dim": 3, "init": "glorot_uniform", "activation": "softmax", "input_dim": 8, "bias": True, "trainable": True}},
    ]
    config = {"class_name": "Model", "config": {"name": "model_1", "layers": layers, "input_layers": [["input_1", 0, 0]],
                                                "output_layers": [["dense_2", 0, 0]]}}
    with h5py.File(path, "w") as f:
        f.attrs["keras_version"] = b"1.2.2"
        f.attrs["backend"] = b"theano"
        f.attrs["model_config"] = json.dumps(config).encode()
        g = f.create_group("model_weights")
        names = [l["name"] for l in layers]
        g.attrs["layer_names"] = [n.encode() for n in names]
        for name in names:
            group = g.create_group(name)
            arrays = [w.numpy() for w in model.get_layer(name).weights] if name != "input_1" else []
            if len(arrays) == 2 and arrays[0].ndim == 4:
                # HWIO correlation kernel → Theano's (out, in, rows, cols) convolution kernel.
                arrays[0] = np.transpose(arrays[0][::-1, ::-1, :, :], (3, 2, 0, 1))
            group.attrs["weight_names"] = [f"{name}_{v}".encode() for v in ["W", "b"][:len(arrays)]]
            for v, array in zip(["W", "b"], arrays):
                group.create_dataset(f"{name}_{v}", data=array.astype("<f4"))


def leaves(model):
    """The layers that compute, nested models opened, in order."""
    found = []
    for layer in model.layers:
        if hasattr(layer, "layers"):
            found += leaves(layer)
        elif layer.__class__.__name__ != "InputLayer":
            found.append(layer)
    return found


def randomize(model, rng, offsets=0.5):
    """Every array random: kernels scaled by fan-in so that deep models neither vanish nor saturate, BatchNorm scales
    and variances around 1, biases, BatchNorm shifts and means within ±offsets."""
    for layer in leaves(model):
        values = []
        for index, w in enumerate(layer.weights):
            shape = tuple(w.shape)
            depthwise = index == 0 and layer.__class__.__name__ in ("DepthwiseConv2D", "SeparableConv2D")
            if "variance" in w.name or "gamma" in w.name:
                values.append(rng.uniform(0.5, 1.5, shape))
            elif "kernel" in w.name and len(shape) > 1:
                fan_in = shape[0] * shape[1] if depthwise else int(np.prod(shape[:-1]))
                values.append(rng.uniform(-1, 1, shape) * np.sqrt(3 / fan_in))
            else:
                values.append(rng.uniform(-offsets, offsets, shape))
        if values:
            layer.set_weights([v.astype("float32") for v in values])


def make(out, builds, modules, first_seed=0):
    """Saves each model in each flavour with its input, Keras's output and tap; returns their manifest entries."""
    cases = []
    for seed, (build, flavours) in enumerate(builds, start=first_seed):
        for flavour, k in [(f, modules[f]) for f in flavours]:
            rng = np.random.default_rng(seed)
            model = build(k)
            # MobileNetV2's 50 layers would drown the input under full-size offsets.
            deep = model.name.startswith("teachable")
            randomize(model, rng, offsets=0.1 if deep else 0.5)
            name = f"{model.name}_{flavour}"
            if model.name == "keras1_net":
                # Keras 3 computes what the Keras 1 file holds; no Keras 1 runs here.
                name = "keras1_theano"
                write_keras1(model, os.path.join(out, f"{name}.h5"))
            else:
                model.save(os.path.join(out, f"{name}.h5"))
                # Keras on the file it wrote: some layers (Keras 3's Normalization) only take weights set in memory
                # into account once saved and loaded.
                model = k.models.load_model(os.path.join(out, f"{name}.h5"))
            # The weights' regularization losses (tf-keras lists its activity losses too, as symbolic tensors).
            regularization = float(sum(float(np.asarray(l)) for l in model.losses if not getattr(l, "_keras_history", None)
                                       and not (hasattr(l, "graph") and not hasattr(l, "numpy"))))
            # Pixels for a model that rescales them itself.
            high = 255 if model.name == "layers_net" else 1
            shapes = model.input_shape if isinstance(model.input_shape, list) else [model.input_shape]
            xs = [rng.uniform(-1 if deep else 0, high, (2,) + tuple(s[1:])).astype("<f4") for s in shapes]
            x = xs if len(xs) > 1 else xs[0]
            y = model(x, training=False)
            ys = [np.asarray(v, dtype="<f4") for v in (y if isinstance(y, (list, tuple)) else [y])]
            tap = np.asarray(tap_output(k, model, TAPS[model.name], x), dtype="<f4")
            # One file per input and output: name.input.f32, or name.input.0.f32, name.input.1.f32, … when several.
            for kind, arrays in (("input", xs), ("output", ys)):
                for index, array in enumerate(arrays):
                    array.tofile(os.path.join(out, f"{name}.{kind}{'' if len(arrays) == 1 else f'.{index}'}.f32"))
            tap.tofile(os.path.join(out, f"{name}.tap.f32"))
            weights_only = None
            if name in WEIGHTS_ONLY:
                # The weights saved alone and the architecture apart, as `save_weights` and `to_json`/`to_yaml` do.
                weights_only = {"weights": f"{name}.weights-only" + (".weights.h5" if flavour == "keras3" else ".h5"),
                                "config": f"{name}.{WEIGHTS_ONLY[name]}"}
                model.save_weights(os.path.join(out, weights_only["weights"]))
                with open(os.path.join(out, weights_only["config"]), "w") as f:
                    if WEIGHTS_ONLY[name] == "json":
                        f.write(model.to_json())
                    else:
                        # Keras 1 and 2's to_yaml(): PyYAML's dump of the config, tuples tagged !!python/tuple.
                        import yaml
                        f.write(yaml.dump({"class_name": model.__class__.__name__, "config": model.get_config(),
                                           "keras_version": "2.2.4", "backend": "tensorflow"}))
            cases.append({"name": name, "file": f"{name}.h5", "inputs": [list(x.shape) for x in xs],
                          "outputs": [list(y.shape) for y in ys],
                          "weights_only": weights_only,
                          "parameters": int(model.count_params()), "regularization": regularization,
                          "tap": {"layer": TAPS[model.name], "shape": list(tap.shape)},
                          "channels_first": model.name in ("channels_first_net", "keras1_net"),
                          "layers": [l.name for l in leaves(model)]})
    return cases


def as_keras22(out, case):
    """A copy of a tf-keras case as Keras 2.0–2.2 wrote it: a Sequential's config a bare layer list without an
    InputLayer (the first layer carries batch_input_shape), a Functional one called Model, no module or
    registered_name fields. Same weights, so the same outputs."""
    import h5py
    import shutil

    def plain(value):
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items() if k not in ("module", "registered_name", "build_config")}
        return [plain(v) for v in value] if isinstance(value, list) else value

    source, name = case["name"], case["name"].replace("_tf_keras", "_keras22")
    shutil.copy(os.path.join(out, case["file"]), os.path.join(out, f"{name}.h5"))
    for suffix in ("input", "output", "tap"):
        shutil.copy(os.path.join(out, f"{source}.{suffix}.f32"), os.path.join(out, f"{name}.{suffix}.f32"))
    with h5py.File(os.path.join(out, f"{name}.h5"), "r+") as f:
        config = plain(json.loads(f.attrs["model_config"]))
        if config["class_name"] == "Sequential":
            layers = config["config"]["layers"]
            shape = layers[0]["config"]["batch_input_shape"]
            layers = layers[1:]
            layers[0]["config"]["batch_input_shape"] = shape
            config["config"] = layers
        else:
            config["class_name"] = "Model"
        f.attrs["model_config"] = json.dumps(config).encode()
        f.attrs["keras_version"] = b"2.2.4"
    return {**case, "name": name, "file": f"{name}.h5", "weights_only": None}


def main(out):
    os.makedirs(out, exist_ok=True)
    builds = [(sequential_cnn, ["keras3", "tf_keras"]), (residual_net, ["keras3", "tf_keras"]),
              (activations_net, ["keras3", "tf_keras"]), (separable_net, ["keras3", "tf_keras"]),
              (nested_net, ["keras3", "tf_keras"]), (mobilenet_v2, ["keras3", "tf_keras"]), (layers_net, ["keras3", "tf_keras"]),
              (learned_layers_net, ["keras3", "tf_keras"]),
              (multi_io_net, ["keras3", "tf_keras"])]
    cases = make(out, builds, {"keras3": keras, "tf_keras": tf_keras})
    cases += [as_keras22(out, case) for case in cases if case["name"] in ("mnist_cnn_tf_keras", "residual_net_tf_keras")]
    jax = subprocess.run([sys.executable, __file__, out, "--jax", str(len(builds))], check=True, capture_output=True, text=True,
                         env={**os.environ, "KERAS_BACKEND": "jax"})
    cases += json.loads(jax.stdout)
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump({"cases": cases}, f, indent=1)


if __name__ == "__main__":
    if sys.argv[2:3] == ["--jax"]:
        print(json.dumps(make(sys.argv[1], [(channels_first_net, ["keras3_jax"]), (keras1_net, ["keras3_jax"])], {"keras3_jax": keras},
                              first_seed=int(sys.argv[3]))))
    else:
        main(sys.argv[1])

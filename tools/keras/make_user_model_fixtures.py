"""Keras models of the kinds people bring, that are not image classifiers or not built like one: U-Nets, autoencoders,
a GAN generator, a fully convolutional detector with free height and width and two 4-D outputs, a residual denoiser,
a classifier without a Dense layer, models on (28, 28) and flat inputs, augmentation layers inside the model, a
Teachable-Machine-style nesting and a channels-first network with two heads. Random weights (BatchNorm statistics
randomized too), each saved as Keras 3 and tf-keras 2 write full models, with inputs and Keras's outputs as NumPy
files. Writes manifest.json beside them.

    tools/python tools/keras/make_user_model_fixtures.py Tests/ZooModelsTests/Fixtures/user-models

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

if os.environ["KERAS_BACKEND"] == "tensorflow":
    import tf_keras


def unet_transpose(k):
    """A U-Net: two downsampling stages, Conv2DTranspose upsampling, Concatenate skips, a sigmoid mask out."""
    L = k.layers
    inputs = k.Input((32, 32, 3), name="image")
    c1 = L.Conv2D(8, 3, padding="same", activation="relu", name="enc1")(inputs)
    p1 = L.MaxPooling2D(name="pool1")(c1)
    c2 = L.Conv2D(16, 3, padding="same", activation="relu", name="enc2")(p1)
    p2 = L.MaxPooling2D(name="pool2")(c2)
    b = L.Conv2D(32, 3, padding="same", activation="relu", name="bottleneck")(p2)
    u2 = L.Conv2DTranspose(16, 2, strides=2, padding="same", name="up2")(b)
    d2 = L.Conv2D(16, 3, padding="same", activation="relu", name="dec2")(L.Concatenate(name="skip2")([u2, c2]))
    u1 = L.Conv2DTranspose(8, 2, strides=2, padding="same", name="up1")(d2)
    d1 = L.Conv2D(8, 3, padding="same", activation="relu", name="dec1")(L.Concatenate(name="skip1")([u1, c1]))
    outputs = L.Conv2D(1, 1, activation="sigmoid", name="mask")(d1)
    return k.Model(inputs, outputs, name="unet_transpose")


def unet_upsampling(k):
    """A segmentation U-Net with UpSampling2D, BatchNorm, and a per-pixel softmax over three classes."""
    L = k.layers
    inputs = k.Input((24, 40, 3), name="image")
    c1 = L.Conv2D(8, 3, padding="same", use_bias=False, name="enc1")(inputs)
    c1 = L.Activation("relu", name="enc1_relu")(L.BatchNormalization(name="enc1_bn")(c1))
    p1 = L.MaxPooling2D(name="pool1")(c1)
    c2 = L.Conv2D(16, 3, padding="same", activation="relu", name="enc2")(p1)
    u1 = L.UpSampling2D(name="up1")(c2)
    d1 = L.Conv2D(8, 3, padding="same", activation="relu", name="dec1")(L.Concatenate(name="skip1")([c1, u1]))
    outputs = L.Conv2D(3, 1, activation="softmax", name="classes")(d1)
    return k.Model(inputs, outputs, name="unet_upsampling")


def conv_autoencoder(k):
    """The Keras blog's convolutional autoencoder for MNIST, as a Sequential."""
    L = k.layers
    return k.Sequential([
        k.Input((28, 28, 1)),
        L.Conv2D(16, 3, activation="relu", padding="same", name="enc1"), L.MaxPooling2D(2, padding="same", name="pool1"),
        L.Conv2D(8, 3, activation="relu", padding="same", name="enc2"), L.MaxPooling2D(2, padding="same", name="pool2"),
        L.Conv2D(8, 3, activation="relu", padding="same", name="dec1"), L.UpSampling2D(2, name="up1"),
        L.Conv2D(16, 3, activation="relu", padding="same", name="dec2"), L.UpSampling2D(2, name="up2"),
        L.Conv2D(1, 3, activation="sigmoid", padding="same", name="decoded"),
    ], name="conv_autoencoder")


def colorizer(k):
    """A colourising autoencoder: gray in, two chroma channels out, LeakyReLU given as each Conv2D's activation object."""
    L = k.layers
    inputs = k.Input((32, 32, 1), name="gray")
    x = L.Conv2D(8, 3, strides=2, padding="same", activation=L.LeakyReLU(0.2), name="enc1")(inputs)
    x = L.Conv2D(16, 3, strides=2, padding="same", activation=L.LeakyReLU(0.2), name="enc2")(x)
    x = L.Conv2DTranspose(8, 3, strides=2, padding="same", activation=L.LeakyReLU(0.2), name="dec1")(x)
    x = L.Conv2DTranspose(8, 3, strides=2, padding="same", activation="relu", name="dec2")(x)
    outputs = L.Conv2D(2, 3, padding="same", activation="tanh", name="chroma")(x)
    return k.Model(inputs, outputs, name="colorizer")


def dcgan_generator(k):
    """A DCGAN generator: a latent vector of 100 in, a 16×16 image out."""
    L = k.layers
    return k.Sequential([
        k.Input((100,)),
        L.Dense(4 * 4 * 32, use_bias=False, name="project"), L.BatchNormalization(name="project_bn"),
        L.LeakyReLU(name="project_act"), L.Reshape((4, 4, 32), name="reshape"),
        L.Conv2DTranspose(16, 5, strides=2, padding="same", use_bias=False, name="up1"),
        L.BatchNormalization(name="up1_bn"), L.LeakyReLU(name="up1_act"),
        L.Conv2DTranspose(1, 5, strides=2, padding="same", activation="tanh", name="image"),
    ], name="dcgan_generator")


def face_proposals(k):
    """MTCNN's P-Net: fully convolutional with free height and width, PReLU shared over space, two 4-D outputs (face
    probabilities by a softmax over channels, box offsets)."""
    L = k.layers
    inputs = k.Input((None, None, 3), name="image")
    x = L.Conv2D(10, 3, name="conv1")(inputs)
    x = L.PReLU(shared_axes=[1, 2], name="prelu1")(x)
    x = L.MaxPooling2D(2, padding="same", name="pool1")(x)
    x = L.Conv2D(16, 3, name="conv2")(x)
    x = L.PReLU(shared_axes=[1, 2], name="prelu2")(x)
    x = L.Conv2D(32, 3, name="conv3")(x)
    x = L.PReLU(shared_axes=[1, 2], name="prelu3")(x)
    face = L.Conv2D(2, 1, activation="softmax", name="face")(x)
    box = L.Conv2D(4, 1, name="box")(x)
    return k.Model(inputs, [face, box], name="face_proposals")


def denoiser(k):
    """DnCNN: free height and width, the noise predicted and subtracted from the input."""
    L = k.layers
    inputs = k.Input((None, None, 1), name="noisy")
    x = L.Conv2D(16, 3, padding="same", activation="relu", name="conv1")(inputs)
    for i in range(2, 4):
        x = L.Conv2D(16, 3, padding="same", use_bias=False, name=f"conv{i}")(x)
        x = L.Activation("relu", name=f"relu{i}")(L.BatchNormalization(name=f"bn{i}")(x))
    noise = L.Conv2D(1, 3, padding="same", name="noise")(x)
    outputs = L.Subtract(name="clean")([inputs, noise])
    return k.Model(inputs, outputs, name="denoiser")


def emotion_net(k):
    """A mini-Xception emotion classifier: no Dense layer, a 1×1 convolution to the classes, global average pooling,
    then a softmax Activation."""
    L = k.layers
    inputs = k.Input((48, 48, 1), name="face")
    x = L.Conv2D(8, 3, use_bias=False, name="conv1")(inputs)
    x = L.Activation("relu", name="relu1")(L.BatchNormalization(name="bn1")(x))
    residual = L.BatchNormalization(name="res_bn")(L.Conv2D(16, 1, strides=2, padding="same", use_bias=False, name="res_conv")(x))
    x = L.SeparableConv2D(16, 3, padding="same", use_bias=False, name="sep1")(x)
    x = L.Activation("relu", name="sep1_relu")(L.BatchNormalization(name="sep1_bn")(x))
    x = L.MaxPooling2D(3, strides=2, padding="same", name="pool")(x)
    x = L.Add(name="add")([x, residual])
    x = L.Conv2D(7, 3, padding="same", name="to_classes")(x)
    x = L.GlobalAveragePooling2D(name="gap")(x)
    outputs = L.Activation("softmax", name="predictions")(x)
    return k.Model(inputs, outputs, name="emotion_net")


def mnist_reshape(k):
    """An MNIST classifier on (28, 28) arrays: Reshape to a map, a convolution, Flatten, Dense."""
    L = k.layers
    return k.Sequential([
        k.Input((28, 28)), L.Reshape((28, 28, 1), name="to_map"),
        L.Conv2D(4, 3, activation="relu", name="conv"), L.MaxPooling2D(name="pool"),
        L.Flatten(name="flatten"), L.Dense(10, activation="softmax", name="predictions"),
    ], name="mnist_reshape")


def mnist_mlp(k):
    """The first model of every tutorial: Flatten a (28, 28) array, Dense, Dropout, Dense."""
    L = k.layers
    return k.Sequential([
        k.Input((28, 28)), L.Flatten(name="flatten"), L.Dense(32, activation="relu", name="hidden"),
        L.Dropout(0.2, name="dropout"), L.Dense(10, name="logits"),
    ], name="mnist_mlp")


def tabular(k):
    """A regression on a flat vector of 13 features (Boston housing), one number out."""
    L = k.layers
    return k.Sequential([
        k.Input((13,)), L.Dense(16, activation="relu", name="hidden1"), L.Dense(8, activation="relu", name="hidden2"),
        L.Dense(1, name="price"),
    ], name="tabular")


def augmented(k):
    """Keras's "data augmentation inside the model" recipe: random layers (the identity at inference), rescaling, a
    small CNN."""
    L = k.layers
    augmentation = k.Sequential([
        L.RandomFlip("horizontal", name="flip"), L.RandomRotation(0.1, name="rotate"), L.RandomZoom(0.1, name="zoom"),
        L.RandomTranslation(0.1, 0.1, name="translate"), L.RandomContrast(0.2, name="contrast"),
    ], name="augmentation")
    inputs = k.Input((32, 32, 3), name="image")
    x = augmentation(inputs)
    x = L.Rescaling(1 / 255, name="rescale")(x)
    x = L.Conv2D(8, 3, activation="relu", name="conv")(x)
    x = L.GlobalAveragePooling2D(name="gap")(x)
    x = L.Dropout(0.3, name="dropout")(x)
    outputs = L.Dense(4, name="logits")(x)
    return k.Model(inputs, outputs, name="augmented")


def teachable(k):
    """A Teachable Machine image export: a Sequential of a Sequential holding MobileNetV2 (no top, alpha 0.35) and its
    pooling, and a Sequential of two Dense layers named as its exporter names them."""
    L = k.layers
    base = k.applications.MobileNetV2(input_shape=(96, 96, 3), alpha=0.35, include_top=False, weights=None)
    features = k.Sequential([k.Input((96, 96, 3)), base, L.GlobalAveragePooling2D(name="global_average_pooling2d_GlobalAveragePooling2D1")],
                            name="sequential_1")
    head = k.Sequential([k.Input((base.output_shape[-1],)), L.Dense(100, activation="relu", name="dense_Dense1"),
                         L.Dense(3, use_bias=False, activation="softmax", name="dense_Dense2")], name="sequential_3")
    return k.Sequential([k.Input((96, 96, 3)), features, head], name="sequential_4")


def two_heads(k):
    """A channels-first board-game network with a policy head and a value head."""
    L = k.layers
    f = "channels_first"
    inputs = k.Input((3, 8, 8), name="board")
    x = L.Conv2D(16, 3, padding="same", use_bias=False, data_format=f, name="conv")(inputs)
    x = L.Activation("relu", name="relu")(L.BatchNormalization(axis=1, name="bn")(x))
    p = L.Conv2D(2, 1, use_bias=False, data_format=f, name="policy_conv")(x)
    p = L.Activation("relu", name="policy_relu")(L.BatchNormalization(axis=1, name="policy_bn")(p))
    policy = L.Dense(64, activation="softmax", name="policy")(L.Flatten(name="policy_flatten")(p))
    v = L.Conv2D(1, 1, use_bias=False, data_format=f, name="value_conv")(x)
    v = L.Activation("relu", name="value_relu")(L.BatchNormalization(axis=1, name="value_bn")(v))
    v = L.Dense(16, activation="relu", name="value_hidden")(L.Flatten(name="value_flatten")(v))
    value = L.Dense(1, activation="tanh", name="value")(v)
    return k.Model(inputs, [policy, value], name="two_heads")


# Each model, the flavours it is saved in, and the input shapes to run it at (for free height and width).
MODELS = [
    (unet_transpose, ["keras3", "tf_keras"], None), (unet_upsampling, ["keras3"], None),
    (conv_autoencoder, ["keras3", "tf_keras"], None), (colorizer, ["keras3", "tf_keras"], None),
    (dcgan_generator, ["keras3", "tf_keras"], None), (face_proposals, ["keras3", "tf_keras"], [(30, 41, 3)]),
    (denoiser, ["keras3"], [(20, 27, 1)]), (emotion_net, ["keras3", "tf_keras"], None),
    (mnist_reshape, ["keras3", "tf_keras"], None), (mnist_mlp, ["tf_keras"], None), (tabular, ["keras3"], None),
    (augmented, ["keras3", "tf_keras"], None), (teachable, ["tf_keras"], None),
]
JAX_MODELS = [(two_heads, ["keras3_jax"], None)]


def leaves(model):
    found = []
    for layer in model.layers:
        if hasattr(layer, "layers"):
            found += leaves(layer)
        else:
            found.append(layer)
    return found


def randomize(model, rng):
    """Every array random: kernels scaled by fan-in, BatchNorm scales and variances around 1, the rest within ±0.3."""
    for layer in leaves(model):
        values = []
        for w in layer.weights:
            shape, name = tuple(w.shape), w.name
            if "variance" in name or "gamma" in name:
                values.append(rng.uniform(0.5, 1.5, shape))
            elif "kernel" in name and len(shape) > 1:
                fan_in = shape[0] * shape[1] if "depthwise" in name else int(np.prod(shape[:-1]))
                values.append(rng.uniform(-1, 1, shape) * np.sqrt(3 / fan_in))
            else:
                values.append(rng.uniform(-0.3, 0.3, shape))
        if values:
            layer.set_weights([v.astype("float32") for v in values])


def output_layer(tensor):
    """The name of the layer that makes an output tensor (Keras 3 calls it an operation, tf-keras a layer)."""
    history = tensor._keras_history
    return (getattr(history, "operation", None) or history.layer).name


def make(out, models, modules, first_seed=0):
    cases = []
    for seed, (build, flavours, run_shapes) in enumerate(models, start=first_seed):
        for flavour in flavours:
            k = modules[flavour]
            rng = np.random.default_rng(seed)
            model = build(k)
            randomize(model, rng)
            name = f"{model.name}_{flavour}"
            model.save(os.path.join(out, f"{name}.h5"))
            files = [f"{name}.h5"]
            if flavour.startswith("keras3"):
                model.save(os.path.join(out, f"{name}.keras"))
                files.append(f"{name}.keras")
            shapes = model.input_shape if isinstance(model.input_shape, list) else [model.input_shape]
            shapes = run_shapes or [s[1:] for s in shapes]
            xs = [rng.uniform(0, 1, (2,) + tuple(s)).astype("<f4") for s in shapes]
            y = model(xs if len(xs) > 1 else xs[0], training=False)
            ys = [np.asarray(v, dtype="<f4") for v in (y if isinstance(y, (list, tuple)) else [y])]
            for kind, arrays in (("input", xs), ("output", ys)):
                for index, array in enumerate(arrays):
                    np.save(os.path.join(out, f"{name}.{kind}{index}.npy"), array)
            cases.append({"name": name, "files": files, "inputs": [list(x.shape) for x in xs], "outputs": [list(v.shape) for v in ys],
                          "output_names": [output_layer(t) for t in model.outputs],
                          "parameters": int(model.count_params()), "channels_first": flavour.endswith("jax")})
    return cases


def main(out):
    os.makedirs(out, exist_ok=True)
    cases = make(out, MODELS, {"keras3": keras, "tf_keras": tf_keras})
    jax = subprocess.run([sys.executable, __file__, out, "--jax", str(len(MODELS))], check=True, capture_output=True, text=True,
                         env={**os.environ, "KERAS_BACKEND": "jax"})
    cases += json.loads(jax.stdout.strip().splitlines()[-1])
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump({"cases": cases}, f, indent=1)


if __name__ == "__main__":
    if sys.argv[2:3] == ["--jax"]:
        print(json.dumps(make(sys.argv[1], JAX_MODELS, {"keras3_jax": keras}, first_seed=int(sys.argv[3]))))
    else:
        main(sys.argv[1])

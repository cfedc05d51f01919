"""Keras definitions of the backbones keras.applications lacks, with the layer names Zoo uses."""
import keras
import tensorflow as tf
from keras import layers as L


@keras.saving.register_keras_serializable(package="zoo")
class LRN(L.Layer):
    """Local response normalization across channels, TensorFlow's definition (alpha multiplies the sum)."""

    def __init__(self, size=5, alpha=1e-4, beta=0.75, k=2.0, **kwargs):
        super().__init__(**kwargs)
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k

    def call(self, x):
        return tf.nn.local_response_normalization(x, depth_radius=(self.size - 1) // 2, bias=self.k, alpha=self.alpha, beta=self.beta)

    def get_config(self):
        return dict(super().get_config(), size=self.size, alpha=self.alpha, beta=self.beta, k=self.k)


def lenet5(include_top=True, classes=10, input_shape=(32, 32, 1), relu=False):
    """LeNet-5 with tanh and average pooling, or (relu=True) Zoo's lenet5-relu: ReLU and max pooling."""
    activation, pool = ("relu", L.MaxPooling2D) if relu else ("tanh", L.AveragePooling2D)
    x = inputs = keras.Input(input_shape)
    x = L.Conv2D(6, 5, activation=activation, name="c1")(x)
    x = pool(2, name="s2")(x)
    x = L.Conv2D(16, 5, activation=activation, name="c3")(x)
    x = pool(2, name="s4")(x)
    x = L.Conv2D(120, 5, activation=activation, name="c5")(x)
    if include_top:
        x = L.Flatten(name="flatten")(x)
        x = L.Dense(84, activation=activation, name="f6")(x)
        x = L.Dense(classes, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, x, name="lenet5_relu" if relu else "lenet5")


VGG_BLOCKS = {
    "A": [[3], [3], [3, 3], [3, 3], [3, 3]],
    "B": [[3, 3], [3, 3], [3, 3], [3, 3], [3, 3]],
    "C": [[3, 3], [3, 3], [3, 3, 1], [3, 3, 1], [3, 3, 1]],
}


def vgg(configuration, include_top=True, classes=1000, input_shape=(224, 224, 3)):
    lrn = configuration == "A-LRN"
    blocks = VGG_BLOCKS["A" if lrn else configuration]
    x = inputs = keras.Input(input_shape)
    for b, (filters, kernels) in enumerate(zip([64, 128, 256, 512, 512], blocks), start=1):
        for c, k in enumerate(kernels, start=1):
            x = L.Conv2D(filters, k, padding="same", activation="relu", name=f"block{b}_conv{c}")(x)
            if lrn and b == 1 and c == 1:
                x = LRN(name="block1_lrn")(x)
        x = L.MaxPooling2D(2, name=f"block{b}_pool")(x)
    if include_top:
        x = L.Flatten(name="flatten")(x)
        x = L.Dense(4096, activation="relu", name="fc1")(x)
        x = L.Dense(4096, activation="relu", name="fc2")(x)
        x = L.Dense(classes, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, x, name=f"vgg_{configuration.lower()}")


def resnet_basic(depth, include_top=True, classes=1000, input_shape=(224, 224, 3), pooling=None):
    """ResNet-18/34: keras.applications' ResNet stem, naming and BatchNorm epsilon, with basic blocks."""
    stages = {18: [2, 2, 2, 2], 34: [3, 4, 6, 3]}[depth]
    eps = 1.001e-5
    x = inputs = keras.Input(input_shape)
    x = L.ZeroPadding2D(((3, 3), (3, 3)), name="conv1_pad")(x)
    x = L.Conv2D(64, 7, strides=2, name="conv1_conv")(x)
    x = L.BatchNormalization(epsilon=eps, name="conv1_bn")(x)
    x = L.Activation("relu", name="conv1_relu")(x)
    x = L.ZeroPadding2D(((1, 1), (1, 1)), name="pool1_pad")(x)
    x = L.MaxPooling2D(3, strides=2, name="pool1_pool")(x)
    channels = 64
    for s, blocks in enumerate(stages):
        filters = 64 * 2 ** s
        for b in range(1, blocks + 1):
            name, stride = f"conv{s + 2}_block{b}", (2 if b == 1 and s > 0 else 1)
            shortcut = x
            if b == 1 and (stride != 1 or channels != filters):
                shortcut = L.Conv2D(filters, 1, strides=stride, name=f"{name}_0_conv")(x)
                shortcut = L.BatchNormalization(epsilon=eps, name=f"{name}_0_bn")(shortcut)
            y = L.Conv2D(filters, 3, strides=stride, padding="same", name=f"{name}_1_conv")(x)
            y = L.BatchNormalization(epsilon=eps, name=f"{name}_1_bn")(y)
            y = L.Activation("relu", name=f"{name}_1_relu")(y)
            y = L.Conv2D(filters, 3, padding="same", name=f"{name}_2_conv")(y)
            y = L.BatchNormalization(epsilon=eps, name=f"{name}_2_bn")(y)
            x = L.Add(name=f"{name}_add")([shortcut, y])
            x = L.Activation("relu", name=f"{name}_out")(x)
            channels = filters
    if include_top:
        x = L.GlobalAveragePooling2D(name="avg_pool")(x)
        x = L.Dense(classes, activation="softmax", name="predictions")(x)
    elif pooling == "avg":
        x = L.GlobalAveragePooling2D(name="avg_pool")(x)
    return keras.Model(inputs, x, name=f"resnet{depth}")


def alexnet(grouped=False, include_top=True, classes=1000, input_shape=(227, 227, 3)):
    groups = 2 if grouped else 1
    lrn = dict(size=5, alpha=1e-4, beta=0.75, k=2.0)
    x = inputs = keras.Input(input_shape)
    x = L.Conv2D(96, 11, strides=4, activation="relu", name="conv1")(x)
    x = LRN(**lrn, name="lrn1")(x)
    x = L.MaxPooling2D(3, strides=2, name="pool1")(x)
    x = L.Conv2D(256, 5, padding="same", groups=groups, activation="relu", name="conv2")(x)
    x = LRN(**lrn, name="lrn2")(x)
    x = L.MaxPooling2D(3, strides=2, name="pool2")(x)
    x = L.Conv2D(384, 3, padding="same", activation="relu", name="conv3")(x)
    x = L.Conv2D(384, 3, padding="same", groups=groups, activation="relu", name="conv4")(x)
    x = L.Conv2D(256, 3, padding="same", groups=groups, activation="relu", name="conv5")(x)
    x = L.MaxPooling2D(3, strides=2, name="pool5")(x)
    if include_top:
        x = L.Flatten(name="flatten")(x)
        x = L.Dense(4096, activation="relu", name="fc6")(x)
        x = L.Dropout(0.5, name="dropout6")(x)
        x = L.Dense(4096, activation="relu", name="fc7")(x)
        x = L.Dropout(0.5, name="dropout7")(x)
        x = L.Dense(classes, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, x, name="alexnet_grouped" if grouped else "alexnet")


GOOGLENET_MODULES = [("3a", 64, 96, 128, 16, 32, 32), ("3b", 128, 128, 192, 32, 96, 64), ("4a", 192, 96, 208, 16, 48, 64),
                     ("4b", 160, 112, 224, 24, 64, 64), ("4c", 128, 128, 256, 24, 64, 64), ("4d", 112, 144, 288, 32, 64, 64),
                     ("4e", 256, 160, 320, 32, 128, 128), ("5a", 256, 160, 320, 32, 128, 128), ("5b", 384, 192, 384, 48, 128, 128)]


def googlenet(include_top=True, auxiliary=False, classes=1000, input_shape=(224, 224, 3)):
    """GoogLeNet, Table 1 of the paper, with the Caffe release's names ('/' written '_'); Caffe's LRN divides alpha
    by the window size, so alpha here is 1e-4 / 5."""
    lrn = dict(size=5, alpha=1e-4 / 5, beta=0.75, k=1.0)
    conv = lambda filters, size, name, strides=1, padding="same": L.Conv2D(filters, size, strides=strides, padding=padding,
                                                                          activation="relu", name=name)
    x = inputs = keras.Input(input_shape)
    x = L.ZeroPadding2D(3, name="conv1_pad")(x)
    x = conv(64, 7, "conv1_7x7_s2", strides=2, padding="valid")(x)
    x = L.MaxPooling2D(3, 2, padding="same", name="pool1_3x3_s2")(x)
    x = LRN(**lrn, name="pool1_norm1")(x)
    x = conv(64, 1, "conv2_3x3_reduce")(x)
    x = conv(192, 3, "conv2_3x3")(x)
    x = LRN(**lrn, name="conv2_norm2")(x)
    x = L.MaxPooling2D(3, 2, padding="same", name="pool2_3x3_s2")(x)
    heads = []
    for name, c1, r3, c3, r5, c5, proj in GOOGLENET_MODULES:
        p = f"inception_{name}"
        b1 = conv(c1, 1, f"{p}_1x1")(x)
        b3 = conv(c3, 3, f"{p}_3x3")(conv(r3, 1, f"{p}_3x3_reduce")(x))
        b5 = conv(c5, 5, f"{p}_5x5")(conv(r5, 1, f"{p}_5x5_reduce")(x))
        bp = conv(proj, 1, f"{p}_pool_proj")(L.MaxPooling2D(3, 1, padding="same", name=f"{p}_pool")(x))
        x = L.Concatenate(name=f"{p}_output")([b1, b3, b5, bp])
        if name in ("3b", "4e"):
            x = L.MaxPooling2D(3, 2, padding="same", name=f"pool{3 if name == '3b' else 4}_3x3_s2")(x)
        if include_top and auxiliary and name in ("4a", "4d"):
            loss = "loss1" if name == "4a" else "loss2"
            a = L.AveragePooling2D(5, 3, name=f"{loss}_ave_pool")(x)
            a = conv(128, 1, f"{loss}_conv")(a)
            a = L.Flatten(name=f"{loss}_flatten")(a)
            a = L.Dense(1024, activation="relu", name=f"{loss}_fc")(a)
            a = L.Dropout(0.7, name=f"{loss}_drop_fc")(a)
            heads.append(L.Dense(classes, activation="softmax", name=f"{loss}_classifier")(a))
    if include_top:
        x = L.AveragePooling2D(7, 1, name="pool5_7x7_s1")(x)
        x = L.Dropout(0.4, name="pool5_drop_7x7_s1")(x)
        x = L.Flatten(name="flatten")(x)
        x = L.Dense(classes, activation="softmax", name="loss3_classifier")(x)
    return keras.Model(inputs, [x] + heads if heads else x, name="googlenet")

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


def lenet5(include_top=True, classes=10, input_shape=(32, 32, 1)):
    x = inputs = keras.Input(input_shape)
    x = L.Conv2D(6, 5, activation="tanh", name="c1")(x)
    x = L.AveragePooling2D(2, name="s2")(x)
    x = L.Conv2D(16, 5, activation="tanh", name="c3")(x)
    x = L.AveragePooling2D(2, name="s4")(x)
    x = L.Conv2D(120, 5, activation="tanh", name="c5")(x)
    if include_top:
        x = L.Flatten(name="flatten")(x)
        x = L.Dense(84, activation="tanh", name="f6")(x)
        x = L.Dense(classes, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, x, name="lenet5")


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

"""README's transfer example done in Keras, as a cross-check of Zoo's numbers. The example LeNet-5 (ReLU, max
pooling; trained on Fashion-MNIST classes 0, 1, 3, 5, 8) is taken to classes 2, 4, 6, 7, 9 with N training images
per class, and scored on their 5,000 test images, per seed:

  (a) features   a linear head on the frozen s4 output (5x5x16, flattened)
  (b) finetune   c1-s4 frozen; c5, f6 and a new classifier trained from the source weights
  (d) scratch    LeNet-5 from random weights, at learning rates 1e-2 and 1e-3, the better kept

Adam, batch 32, 30 epochs, learning rate 1e-2 unless said. Keras's own choice of images per seed.
Run from the pinned environment:  tools/python tools/keras/lenet_transfer_baseline.py [PER_CLASS [SEEDS]]
"""
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
import numpy as np
import keras

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from train_lenet_fashion import idx, prepare, subset, STEM, TARGET_CLASSES  # noqa: E402
from backbone_models import lenet5  # noqa: E402

per_class = int(sys.argv[1]) if len(sys.argv) > 1 else 10
seeds = range(int(sys.argv[2]) if len(sys.argv) > 2 else 5)
examples = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples")
train_images, train_labels = subset(idx("train-images-idx3-ubyte.gz"), idx("train-labels-idx1-ubyte.gz"), TARGET_CLASSES)
test_images, test_labels = subset(idx("t10k-images-idx3-ubyte.gz"), idx("t10k-labels-idx1-ubyte.gz"), TARGET_CLASSES)
test_x = prepare(test_images)
source = keras.models.load_model(os.path.join(examples, f"{STEM}.h5"), compile=False)
logits = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def score(model, x, y, rate):
    model.compile(keras.optimizers.Adam(rate), logits, metrics=["accuracy"])
    model.fit(x, y, batch_size=32, epochs=30, verbose=0)
    return model.evaluate(test_x, test_labels, verbose=0)[1]


def transferred(trainable_from):
    """The source network with a new 5-class classifier; layers before `trainable_from` frozen."""
    copy = keras.models.clone_model(source)
    copy.set_weights(source.get_weights())
    names = [layer.name for layer in copy.layers]
    for layer in copy.layers:
        layer.trainable = names.index(layer.name) >= names.index(trainable_from)
    head = keras.layers.Dense(len(TARGET_CLASSES), name="new_predictions")(copy.get_layer("f6").output)
    return keras.Model(copy.inputs, head)


results = {"(a) features": [], "(b) finetune": [], "(d) scratch": []}
for seed in seeds:
    rng = np.random.default_rng(seed)
    chosen = np.concatenate([rng.choice(np.flatnonzero(train_labels == c), per_class, replace=False) for c in range(len(TARGET_CLASSES))])
    x, y = prepare(train_images[chosen]), train_labels[chosen]
    keras.utils.set_random_seed(seed)
    s4 = keras.Sequential([keras.Input((32, 32, 1))] + [source.get_layer(n) for n in ["c1", "s2", "c3", "s4"]] + [keras.layers.Flatten()])
    head = keras.Sequential([keras.Input((400,)), keras.layers.Dense(len(TARGET_CLASSES))])
    head.compile(keras.optimizers.Adam(1e-2), logits, metrics=["accuracy"])
    head.fit(s4.predict(x, verbose=0), y, batch_size=32, epochs=30, verbose=0)
    results["(a) features"].append(head.evaluate(s4.predict(test_x, verbose=0), test_labels, verbose=0)[1])
    results["(b) finetune"].append(score(transferred("c5"), x, y, 1e-2))
    scratch = []
    for rate in (1e-2, 1e-3):
        model = lenet5(classes=len(TARGET_CLASSES), relu=True)
        model.layers[-1].activation = None
        scratch.append(score(model, x, y, rate))
    results["(d) scratch"].append(max(scratch))
    print(f"seed {seed}: " + ", ".join(f"{k} {v[-1]:.4f}" for k, v in results.items()), flush=True)

print(f"{per_class} images per class, seeds {list(seeds)}:")
for name, values in results.items():
    print(f"  {name:13} mean {100 * np.mean(values):.1f}%  spread {100 * np.min(values):.1f}-{100 * np.max(values):.1f}%")

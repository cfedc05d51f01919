"""PyTorch's side of tools/bench/transfer, the protocol of tf_transfer.py: images/s of a feature-extraction batch
(the network without its classifier, average pooled, eval mode, no gradients) and of fine-tuning steps (train mode,
cross-entropy on 10-class logits, backward, SGD with momentum 0.9), nothing frozen and, for ResNet-50, frozen through
its fourth stage (conv4) with the frozen BatchNorm layers in eval mode, as Keras runs them. The networks are built
here as keras.applications lays them out (ResNet-50, DenseNet-121, VGG16), random weights, channels_last memory as
oneDNN prefers it on CPUs; median of timed runs after a warm-up, the process's peak resident memory so far. One JSON
per line.

Usage (the benchmark environment tools/bench/transfer creates): python torch_transfer.py ARCH BATCH SECONDS THREADS
"""
import json
import resource
import sys

import torch

from timing import median

arch, batch, seconds, threads = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
torch.set_num_threads(threads)
torch.manual_seed(1)


nn = torch.nn


def convolution(cin, cout, kernel, stride=1, relu=True, bias=True):
    """Convolution (with a bias in ResNet, without in DenseNet), BatchNorm (Keras's epsilon 1.001e-5) and optionally
    ReLU, as keras.applications builds them."""
    layers = [nn.Conv2d(cin, cout, kernel, stride, kernel // 2, bias=bias), nn.BatchNorm2d(cout, eps=1.001e-5)]
    return nn.Sequential(*layers, nn.ReLU(inplace=True)) if relu else nn.Sequential(*layers)


class Bottleneck(nn.Module):
    """ResNet-50's block: 1×1, 3×3 (stride here, as keras.applications has it in the first 1×1), 1×1 ×4, shortcut."""

    def __init__(self, cin, width, stride):
        super().__init__()
        self.body = nn.Sequential(convolution(cin, width, 1, stride), convolution(width, width, 3),
                                  convolution(width, 4 * width, 1, relu=False))
        self.shortcut = convolution(cin, 4 * width, 1, stride, relu=False) if stride != 1 or cin != 4 * width else nn.Identity()

    def forward(self, x):
        return torch.relu(self.body(x) + self.shortcut(x))


class DenseLayer(nn.Module):
    """DenseNet's BN-ReLU-1×1 (4·growth), BN-ReLU-3×3 (growth), its output concatenated to its input."""

    def __init__(self, cin, growth=32):
        super().__init__()
        self.body = nn.Sequential(nn.BatchNorm2d(cin, eps=1.001e-5), nn.ReLU(inplace=True), nn.Conv2d(cin, 4 * growth, 1, bias=False),
                                  nn.BatchNorm2d(4 * growth, eps=1.001e-5), nn.ReLU(inplace=True),
                                  nn.Conv2d(4 * growth, growth, 3, 1, 1, bias=False))

    def forward(self, x):
        return torch.cat([x, self.body(x)], 1)


def resnet50():
    stages, cin = [], 64
    for number, (width, blocks, stride) in enumerate([(64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)]):
        stage = []
        for block in range(blocks):
            stage.append(Bottleneck(cin, width, stride if block == 0 else 1))
            cin = 4 * width
        stages.append(nn.Sequential(*stage))
    stem = nn.Sequential(convolution(3, 64, 7, 2), nn.MaxPool2d(3, 2, 1))
    return nn.ModuleDict({"stem": stem, "conv2": stages[0], "conv3": stages[1], "conv4": stages[2], "conv5": stages[3]}), 2048


def densenet121():
    layers, channels = [convolution(3, 64, 7, 2, bias=False), nn.MaxPool2d(3, 2, 1)], 64
    for index, count in enumerate([6, 12, 24, 16]):
        for _ in range(count):
            layers.append(DenseLayer(channels))
            channels += 32
        if index < 3:
            layers += [nn.BatchNorm2d(channels, eps=1.001e-5), nn.ReLU(inplace=True), nn.Conv2d(channels, channels // 2, 1, bias=False),
                       nn.AvgPool2d(2, 2)]
            channels //= 2
    layers += [nn.BatchNorm2d(channels, eps=1.001e-5), nn.ReLU(inplace=True)]
    return nn.ModuleDict({"stem": nn.Sequential(*layers)}), channels


def vgg16():
    layers, cin = [], 3
    for width, count in [(64, 2), (128, 2), (256, 3), (512, 3), (512, 3)]:
        for _ in range(count):
            layers += [nn.Conv2d(cin, width, 3, 1, 1), nn.ReLU(inplace=True)]
            cin = width
        layers.append(nn.MaxPool2d(2, 2))
    return nn.ModuleDict({"stem": nn.Sequential(*layers)}), 512


class Network(nn.Module):
    """The backbone's stages in order, then a classifier as keras.applications has it (VGG16: flatten, two Dense 4096
    with ReLU, no dropout; the others: global average pooling, one Dense), or, without one, average pooling."""

    def __init__(self, classes):
        super().__init__()
        self.stages, channels = {"resnet50": resnet50, "densenet121": densenet121, "vgg16": vgg16}[arch]()
        if classes is None:
            self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
        elif arch == "vgg16":
            self.head = nn.Sequential(nn.Flatten(), nn.Linear(512 * 7 * 7, 4096), nn.ReLU(inplace=True), nn.Linear(4096, 4096),
                                      nn.ReLU(inplace=True), nn.Linear(4096, classes))
        else:
            self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, classes))

    def forward(self, x):
        for stage in self.stages.values():
            x = stage(x)
        return self.head(x)


def build(classes):
    return Network(classes).to(memory_format=torch.channels_last)


images = torch.empty(batch, 3, 224, 224).uniform_(-1, 1).to(memory_format=torch.channels_last)
labels = torch.arange(batch) % 10


def report(name, s):
    print(json.dumps({"arch": arch, "batch": batch, "measurement": name, "seconds": s, "images_per_second": batch / s,
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "torch": torch.__version__}), flush=True)


features = build(None).eval()


def extract():
    with torch.no_grad():
        features(images)


report("features", median(extract, seconds))
del features

stages = [("finetune, nothing frozen", None)]
if arch.startswith("resnet"):
    stages.append(("finetune, frozen through conv4 (conv4_block*_out)", ["stem", "conv2", "conv3", "conv4"]))
for name, frozen in stages:
    model = build(10).train()
    for part in frozen or []:
        module = model.stages[part]
        module.eval()  # frozen BatchNorm normalizes with its moving statistics, as in Keras
        for p in module.parameters():
            p.requires_grad_(False)
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=1e-4, momentum=0.9)
    loss = torch.nn.CrossEntropyLoss()

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss(model(images), labels).backward()
        optimizer.step()

    report(name, median(step, seconds))
    del model, optimizer

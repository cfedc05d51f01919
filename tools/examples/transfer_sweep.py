"""README's transfer example as a measured sweep: the example LeNet-5 (lenet5-relu, trained by Keras on Fashion-MNIST
classes 0, 1, 3, 5, 8) taken to classes 2, 4, 6, 7, 9 with 5, 10, 50 and 250 training images per class, five seeds
each, by four strategies, every run scored on the 5,000 test images of those classes:

  (a) features        a linear head on the frozen s4 output, flattened (5x5x16)
  (b) finetune s4     c1-s4 frozen; c5, f6 and a new classifier trained from the source weights
  (c) finetune all    every layer trained from the source weights, the backbone at 0.1x the head's rate
  (d) scratch         LeNet-5 from random weights, at 1e-2 and 1e-3, the better of the two kept per seed

Adam, batch 32, 30 epochs, learning rate 1e-2 unless said; --seed chooses the images and the initial weights.
Every run is a `zoo finetune` and a `zoo evaluate` command, printed as it starts. Writes, under --out:
results.csv (one row per run), table.md (mean and range per cell) and accuracy.png (mean and range per strategy
against images per class).

    tools/python tools/examples/transfer_sweep.py [--sizes 5,10,50,250] [--seeds 5] [--out runs/sweep]
"""
import argparse
import csv
import json
import os
import shutil
import subprocess
import sys

REPOSITORY = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SOURCE = os.path.join(REPOSITORY, "examples", "lenet5-relu_fashion_0-1-3-5-8.h5")
CLASSES = "2,4,6,7,9"
STRATEGIES = {
    "(a) features": [["--mode", "features", "--tap", "s4", "--pooling", "flatten", "--lr", "1e-2"]],
    "(b) finetune s4": [["--mode", "finetune", "--freeze", "s4", "--lr", "1e-2"]],
    "(c) finetune all": [["--mode", "finetune", "--freeze", "none", "--backbone-lr", "0.1", "--lr", "1e-2"]],
    "(d) scratch": [["--mode", "scratch", "--lr", "1e-2"], ["--mode", "scratch", "--lr", "1e-3"]],
}


def run(command, environment):
    print("$ " + " ".join(command), flush=True)
    done = subprocess.run(command, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if done.returncode != 0:
        sys.exit(f"failed ({done.returncode}): {' '.join(command)}\n{done.stderr}")
    return done.stdout


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="5,10,50,250", help="training images per class, comma-separated")
    parser.add_argument("--seeds", type=int, default=5, help="seeds 0 .. N-1 per size")
    parser.add_argument("--out", default="runs/sweep", help="output folder")
    parser.add_argument("--zoo", default=shutil.which("zoo") or os.path.join(REPOSITORY, ".build", "release", "zoo"), help="the zoo executable")
    options = parser.parse_args()
    sizes = [int(s) for s in options.sizes.split(",")]
    os.makedirs(options.out, exist_ok=True)
    environment = dict(os.environ, ZOO_CACHE=os.path.join(options.out, "cache"))  # the features of these runs only
    zoo = options.zoo
    source = os.path.join(options.out, "source.safetensors")
    run([zoo, "convert", SOURCE, "-o", source], environment)

    rows = []
    for size in sizes:
        for seed in range(options.seeds):
            for strategy, variants in STRATEGIES.items():
                scores = []
                for n, variant in enumerate(variants):
                    folder = os.path.join(options.out, "runs", f"{size}-{seed}-{strategy[1]}{n}")
                    weights = [] if "scratch" in variant else ["--weights", source]
                    run([zoo, "finetune", "--arch", "lenet5-relu", *weights, "--data", "fashion-mnist", "--classes", CLASSES,
                         "--per-class", str(size), "--validation", "0", "--epochs", "30", "--batch", "32", "--optimizer", "adam",
                         "--seed", str(seed), *variant, "--out", folder, "--json"], environment)
                    scored = run([zoo, "evaluate", "--weights", os.path.join(folder, "weights.safetensors"), "--data", "fashion-mnist",
                                  "--split", "test", "--classes", CLASSES, "--json"], environment)
                    scores.append(json.loads(scored)["top1"])
                rows.append({"per_class": size, "seed": seed, "strategy": strategy, "top1": max(scores)})
                print(f"  {size} per class, seed {seed}, {strategy}: {100 * max(scores):.2f}%", flush=True)

    with open(os.path.join(options.out, "results.csv"), "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["per_class", "seed", "strategy", "top1"], lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    table = render_table(rows, sizes, options.seeds)
    with open(os.path.join(options.out, "table.md"), "w") as f:
        f.write(table)
    plot(rows, sizes, os.path.join(options.out, "accuracy.png"))
    print(table)


def cell(rows, size, strategy):
    return [100 * r["top1"] for r in rows if r["per_class"] == size and r["strategy"] == strategy]


def render_table(rows, sizes, seeds):
    lines = [f"| images per class | " + " | ".join(STRATEGIES) + " |", "| ---: |" + " ---: |" * len(STRATEGIES)]
    for size in sizes:
        values = [cell(rows, size, s) for s in STRATEGIES]
        lines.append(f"| {size} | " + " | ".join(f"{sum(v) / len(v):.1f} ({min(v):.1f}–{max(v):.1f})" for v in values) + " |")
    return "\n".join(lines) + f"\n\nTop-1 on the 5,000 test images, mean of seeds 0–{seeds - 1} (lowest–highest).\n"


def plot(rows, sizes, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4.2), dpi=110)
    for strategy in STRATEGIES:
        values = [cell(rows, size, strategy) for size in sizes]
        means = [sum(v) / len(v) for v in values]
        axes.plot(sizes, means, marker="o", label=strategy)
        axes.fill_between(sizes, [min(v) for v in values], [max(v) for v in values], alpha=0.15)
    axes.set_xscale("log")
    axes.set_xticks(sizes, [str(s) for s in sizes])
    axes.set_xlabel("training images per class")
    axes.set_ylabel("top-1 on 5,000 test images (%)")
    axes.set_title("lenet5-relu, Fashion-MNIST {0,1,3,5,8} → {2,4,6,7,9}")
    axes.grid(True, alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path)


if __name__ == "__main__":
    main()

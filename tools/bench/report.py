"""Merges benchmark JSON lines into a table: the best GFLOPS per backend over the rounds, and the ratio of Zoo's dnnl
backend to TensorFlow."""
import argparse
import json
import os

parser = argparse.ArgumentParser()
parser.add_argument("files", nargs="+")
parser.add_argument("--batch", type=int)
parser.add_argument("--rounds", type=int, default=1)
args = parser.parse_args()

rows, names, backends = {}, [], []
for path in args.files:
    for line in open(path):
        r = json.loads(line)
        key = (r["name"], r["direction"])
        if key not in rows:
            rows[key] = {}
            if r["name"] not in names:
                names.append(r["name"])
        rows[key][r["backend"]] = max(r["gflops"], rows[key].get(r["backend"], 0))
        if r["backend"] not in backends:
            backends.append(r["backend"])

cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
threads = os.environ.get("ZOO_NUM_THREADS", os.cpu_count())
print(f"Convolution GFLOPS, batch {args.batch}, {threads} threads, {cpu}; best of {args.rounds} alternating rounds")
header = f"{'shape':24} {'direction':17}" + "".join(f"{b:>11}" for b in backends) + f"{'dnnl/TF':>9}"
print(header)
print("-" * len(header))
worst = {}
for direction in ("forward", "backward_data", "backward_weights"):
    for name in names:
        r = rows.get((name, direction), {})
        ratio = r["dnnl"] / r["tensorflow"] if "dnnl" in r and "tensorflow" in r else None
        if ratio is not None:
            worst[direction] = min(worst.get(direction, ratio), ratio)
        print(f"{name:24} {direction:17}" + "".join(f"{r[b]:11.1f}" if b in r else f"{'-':>11}" for b in backends)
              + (f"{ratio:9.2f}" if ratio is not None else f"{'-':>9}"))
print()
for direction, ratio in worst.items():
    print(f"lowest dnnl/TensorFlow ratio, {direction}: {ratio:.2f}")

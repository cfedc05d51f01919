"""The table tools/bench/transfer prints: per measurement, each side's best median (highest images/s over the
rounds) with its peak memory, and Zoo's ratios to the others. Arguments: the JSON-lines files of Zoo, Keras and
PyTorch (empty when PyTorch did not run)."""
import json
import sys


def best(path):
    """Per measurement, the round that ran fastest (the FMA loop's line: the highest rate)."""
    def speed(r):
        return r.get("images_per_second", r.get("gflops", 0))

    rows = {}
    with open(path) as lines:
        for r in map(json.loads, lines):
            name = r["measurement"]
            if name not in rows or speed(r) > speed(rows[name]):
                rows[name] = r
    return rows


zoo, keras, torch = (best(p) for p in sys.argv[1:4])
fma = zoo.pop("FMA loop", None)
first = next(iter(zoo.values()))
size = "32×32" if first["arch"] == "lenet5" else "224×224"
print(f"{first['arch']}, batch {first['batch']}, {size}, best median step of each side after a warm-up")
if fma:
    print(f"oneDNN ISA {fma['isa']}; FMA loop {fma['gflops']:.0f} GFLOPS ({fma['threads']} threads, {fma['lanes']}-lane FMA)")
if torch:
    print(f"PyTorch {next(iter(torch.values()))['torch']}")
print()
print("| measurement | Zoo | Keras | PyTorch | Zoo ÷ Keras | Zoo ÷ PyTorch | Zoo GFLOPS (share of FMA loop) | peak RSS Zoo / Keras / PyTorch |")
print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
for name, z in zoo.items():
    k, t = keras.get(name), torch.get(name)
    speed = z["images_per_second"]
    ratio = lambda other: f"{speed / other['images_per_second']:.2f}" if other else "–"
    rate = lambda other: f"{other['images_per_second']:.2f}" if other else "–"
    share = f"{z['gflops']:.0f} ({100 * z['gflops'] / fma['gflops']:.0f}%)" if fma and "gflops" in z else "–"
    memory = " / ".join(f"{r['peak_rss_mb']:.0f}" if r else "–" for r in (z, k, t))
    print(f"| {name} | {speed:.2f} | {rate(k)} | {rate(t)} | {ratio(k)} | {ratio(t)} | {share} | {memory} MB |")

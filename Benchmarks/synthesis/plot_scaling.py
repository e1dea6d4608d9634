"""Plots synthesis time and peak memory against rank count per fabric family from scaling.csv
(Debian's python3-matplotlib)."""
import collections
import csv
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

rows = list(csv.DictReader(open(sys.argv[1])))
fig, (ax, mem) = plt.subplots(1, 2, figsize=(11, 4.2))
series = collections.defaultdict(list)
for r in rows:
    series[(r["family"], r["method"])].append(r)
families = sorted({f for f, _ in series})
colours = {f: "C%d" % i for i, f in enumerate(families)}
for (family, method), rs in series.items():
    ok = [r for r in rs if r["status"] == "ok"]
    style = "o-" if method == "default" else "s--"
    label = family + ("" if method == "default" else " --exact")
    if ok:
        ax.loglog([int(r["ranks"]) for r in ok], [max(float(r["seconds"]), 0.01) for r in ok], style, color=colours[family], label=label)
        mem.loglog([int(r["ranks"]) for r in ok], [int(r["max_rss_kb"]) / 1024 for r in ok], style, color=colours[family], label=label)
    for r in rs:
        if r["status"] != "ok":
            ax.annotate(">%s s" % r["seconds"], (int(r["ranks"]), float(r["seconds"])), color="red", fontsize=7)
ax.axhline(60, color="gray", linestyle=":", label="60 s")
mem.axhline(4096, color="gray", linestyle=":", label="4 GB")
ax.set_xlabel("ranks")
ax.set_ylabel("seconds (release build, 2 cores)")
mem.set_xlabel("ranks")
mem.set_ylabel("peak RSS, MB")
ax.set_title("grove synth -c allgather: time")
mem.set_title("peak memory")
ax.legend(fontsize=7, loc="upper left")
for a in (ax, mem):
    a.grid(True, which="both", alpha=0.3)
fig.tight_layout()
fig.savefig(sys.argv[2], dpi=110)

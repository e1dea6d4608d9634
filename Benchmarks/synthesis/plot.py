"""Plots synthesis time against rank count from results.csv (Debian's python3-matplotlib)."""
import csv
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

rows = list(csv.DictReader(open(sys.argv[1])))
fig, ax = plt.subplots(figsize=(6, 4))
for method, label in [("automatic", "grove synth (greedy first, exact fallback)"), ("exact", "grove synth --exact")]:
    ok = [r for r in rows if r["status"] == "ok" and r["construction"] == method]
    ax.loglog([int(r["ranks"]) for r in ok], [max(float(r["seconds"]), 0.01) for r in ok], "o-", label=label)
for r in rows:
    if r["status"] != "ok":
        ax.annotate(f'{r["ranks"]} ranks: >{r["seconds"]} s', (int(r["ranks"]), float(r["seconds"])), color="red")
ax.axhline(60, color="gray", linestyle="--", label="60 s target")
ax.set_xlabel("ranks (DGX A100 boxes × 8)")
ax.set_ylabel("seconds (release build, 2 cores)")
ax.set_title("Synthesis time, DGX A100 fabrics")
ax.legend(loc="lower right")
ax.grid(True, which="both", alpha=0.3)
fig.tight_layout()
fig.savefig(sys.argv[2], dpi=110)

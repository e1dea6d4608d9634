"""Prints busbw per size for every program in a results CSV (the median row where a program ran
several times), and each program's ratio to a reference program.

Reads the benchmark scripts' combined CSVs (program,size_bytes,...,busbw_gbps,wrong) and what
`grove bench --csv` writes as it is (program grove-<algorithm>; out-of-place rows are used, and
rows of -d all / -o all are told apart as program/type/redop). A check turned off (-c 0) counts
as 0 wrong.
Usage: summarize.py RESULTS.csv [REFERENCE-PROGRAM]   (default reference: the first program)"""
import csv
import sys
from collections import defaultdict

rows = list(csv.DictReader(open(sys.argv[1])))
if rows and "placement" in rows[0]:
    rows = [r for r in rows if r["placement"] == "out-of-place"]
    if len({(r["type"], r["redop"]) for r in rows}) > 1:
        for r in rows:
            r["program"] = f"{r['program']}/{r['type']}/{r['redop']}"
for r in rows:
    r["wrong"] = r["wrong"] or "0"
if not rows:
    sys.exit(f"{sys.argv[1]}: no rows")
reference = sys.argv[2] if len(sys.argv) > 2 else rows[0]["program"]
programs = list(dict.fromkeys(r["program"] for r in rows))
runs = defaultdict(list)
for r in rows:
    runs[(r["program"], int(r["size_bytes"]))].append(r)
table = {k: sorted(v, key=lambda r: float(r["busbw_gbps"]))[len(v) // 2] for k, v in runs.items()}
print(f"{max(len(v) for v in runs.values())} run(s) per program and size; median shown")
sizes = sorted({int(r["size_bytes"]) for r in rows})
others = [p for p in programs if p != reference]
print("busbw in GB/s (10^9 B/s); ratio = program / " + reference)
print(f"{'size':>11} " + " ".join(f"{p:>14}" for p in programs) + " " + " ".join(f"{p + '/ref':>18}" for p in others) + "  wrong")
for s in sizes:
    line = f"{s:>11} "
    line += " ".join(f"{float(table[(p, s)]['busbw_gbps']):>14.3f}" if (p, s) in table else f"{'-':>14}" for p in programs)
    ref = table.get((reference, s))
    for p in others:
        if ref and (p, s) in table and float(ref["busbw_gbps"]) > 0:
            line += f" {float(table[(p, s)]['busbw_gbps']) / float(ref['busbw_gbps']):>18.2f}"
        else:
            line += f" {'-':>18}"
    wrong = sum(int(table[(p, s)]["wrong"]) for p in programs if (p, s) in table)
    print(line + f"  {wrong}")

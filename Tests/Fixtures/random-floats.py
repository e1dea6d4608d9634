#!/usr/bin/env python3
"""Writes random-floats-64.json: 8 hosts of 8 ranks, every bandwidth a random Python float
(full 17-digit repr), as a script that measures links would write them. Seeded, so the file is
reproducible: python3 Tests/Fixtures/random-floats.py > Tests/Fixtures/random-floats-64.json"""
import json
import random

random.seed(7)
hosts, per_host = 8, 8
ranks = [f"h{h}.g{g}" for h in range(hosts) for g in range(per_host)]
switches = [f"h{h}.nvswitch" for h in range(hosts)] + ["spine"]
links = []
for h in range(hosts):
    for g in range(per_host):
        rank = f"h{h}.g{g}"
        links.append({"from": rank, "to": f"h{h}.nvswitch", "bandwidth": random.uniform(50, 400), "bidirectional": True})
        links.append({"from": rank, "to": "spine", "bandwidth": random.uniform(5, 50), "bidirectional": True})
print(json.dumps({"name": "random-floats-64",
                  "description": "64 ranks; every bandwidth a random Python float (Tests/Fixtures/random-floats.py, seed 7)",
                  "ranks": ranks, "switches": switches, "links": links}, indent=1))

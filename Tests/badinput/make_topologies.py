#!/usr/bin/env python3
"""Writes hostile (and a few valid) Grove topology files for catalogue.sh into OUTDIR.

Usage: make_topologies.py OUTDIR
Big files (50 MB) are made here at run time and never committed.
"""
import json, os, sys

out = sys.argv[1]

def put(name, data):
    mode = "wb" if isinstance(data, bytes) else "w"
    with open(os.path.join(out, name), mode) as f:
        f.write(data)

def two(bw, extra=""):
    """Ranks a, b, c in a bidirectional chain; the first link's bandwidth literal is `bw`."""
    return ('{"name": "x", "ranks": ["a", "b", "c"], "switches": [], "links": [\n'
            f'  {{"from": "a", "to": "b", "bandwidth": {bw}, "bidirectional": true{extra}}},\n'
            '  {"from": "b", "to": "c", "bandwidth": 25, "bidirectional": true}\n]}\n')

valid = two("25")
put("truncated.json", valid[: len(valid) // 2])
put("binary.json", bytes(range(256)) * 16)
put("empty.json", "")
put("bw-1e308.json", two("1e308"))
put("bw-1e-308.json", two("1e-308"))
put("bw-minus-zero.json", two("-0"))
put("bw-400-digits.json", two("9" * 400))
put("bw-nan.json", two("NaN"))
put("bw-infinity.json", two("Infinity"))
put("bw-1e17.json", two("1e17"))
put("bw-string.json", two('"25"'))
put("bw-negative.json", two("-25"))
put("bw-million-digits.json", two("0." + "0" * 1_000_000 + "1"))
put("latency-1e308.json", two("25", ', "latency": 1e308'))
put("version-400-digits.json", valid.replace('{"name"', '{"version": ' + "9" * 400 + ', "name"', 1))
put("bw-mixed.json", '{"name": "x", "ranks": ["a", "b", "c"], "links": [\n'
    '  {"from": "a", "to": "b", "bandwidth": 1e-18, "bidirectional": true},\n'
    '  {"from": "b", "to": "c", "bandwidth": 9e15, "bidirectional": true}\n]}\n')
put("deep-arrays.json", "[" * 100_000)
put("deep-objects.json", '{"a":' * 100_000 + "1" + "}" * 100_000)
put("dup-top-key.json", valid.replace('{"name": "x",', '{"name": "x", "name": "y",', 1))
put("dup-link-key.json", two("25", ', "bandwidth": 30'))
put("unknown-vertex.json", '{"name": "x", "ranks": ["a", "b"], "links": [\n'
    '  {"from": "a", "to": "b", "bandwidth": 25, "bidirectional": true},\n'
    '  {"from": "b", "to": "ghost", "bandwidth": 25, "bidirectional": true}\n]}\n')
put("unreachable.json", '{"name": "x", "ranks": ["a", "b", "c"], "links": [\n'
    '  {"from": "a", "to": "b", "bandwidth": 25, "bidirectional": true},\n'
    '  {"from": "c", "to": "a", "bandwidth": 25}\n]}\n')
put("dup-names-20000.json", json.dumps({"name": "dups", "ranks": ["g"] * 20_000,
                                        "links": [{"from": "g", "to": "g", "bandwidth": 1}]}))
# 50 MB: a giant description string on an otherwise broken fabric (b cannot reach a) ...
put("big-string-50MB.json", json.dumps({"name": "big", "description": "x" * (50 << 20), "ranks": ["a", "b"],
                                        "links": [{"from": "a", "to": "b", "bandwidth": 25}]}))
# ... and 1.4 million parallel links whose sum exceeds Grove's 10^6 GB/s per link pair.
with open(os.path.join(out, "many-links-50MB.json"), "w") as f:
    f.write('{"name": "many", "ranks": ["a", "b"], "links": [{"from": "a", "to": "b", "bandwidth": 1, "bidirectional": true}')
    link = ',{"from":"a","to":"b","bandwidth":1}'
    f.write(link * 1_400_000)
    f.write("]}\n")
# valid controls: unicode names (must be accepted), a UTF-8 byte-order mark, CRLF line ends
put("unicode.json", json.dumps({
    "name": "ünïcødé — fabric ☃", "ranks": ["гпу0", "显卡1", "🚀", "ǅ̈"], "switches": ["スイッチ"],
    "links": [{"from": r, "to": "スイッチ", "bandwidth": 25, "bidirectional": True} for r in ["гпу0", "显卡1", "🚀", "ǅ̈"]]},
    ensure_ascii=False))
put("bom-crlf.json", ("\ufeff" + valid).replace("\n", "\r\n"))

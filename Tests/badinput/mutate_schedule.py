#!/usr/bin/env python3
"""Writes hostile variants of a valid Grove schedule (grove synth -o) for catalogue.sh.

Usage: mutate_schedule.py VALID.json OUTDIR
Each variant is OUTDIR/sched-<name>.json. The valid schedule must be a 2-rank allreduce
(ring-uni-2) so that steps and peers are known; mutations edit the parsed JSON or the raw text.
"""
import json, os, re, sys

src, out = sys.argv[1], sys.argv[2]
text = open(src).read()
base = json.loads(text)
HUGE = 99999999999999999999  # > Int64.max

def put(name, obj=None, raw=None):
    path = os.path.join(out, f"sched-{name}.json")
    with open(path, "w") as f:
        f.write(raw if raw is not None else json.dumps(obj, indent=1))

def edit(name, fn):
    d = json.loads(text)
    fn(d)
    put(name, d)

def forest_steps(d, rank):
    return d["plans"][0]["programs"][rank]["steps"]

def first_send(steps):
    return next(i for i, s in enumerate(steps) if s[0] == "s")

def first_range_step(steps):
    # a send/recv step: [op, peer, channel, buffer, lo, hi, stream, deps]
    return next(i for i, s in enumerate(steps) if s[0] in ("s", "r", "rr"))

# rank count
edit("ranks-3", lambda d: d.__setitem__("ranks", 3))
edit("ranks-1", lambda d: d.__setitem__("ranks", 1))
edit("ranks-0", lambda d: d.__setitem__("ranks", 0))
edit("ranks-negative", lambda d: d.__setitem__("ranks", -2))
put("ranks-huge", raw=re.sub(r'"ranks": 2,', f'"ranks": {HUGE},', text, count=1))
put("ranks-int-max", raw=re.sub(r'"ranks": 2,', '"ranks": 9223372036854775807,', text, count=1))

# fractions out of range / malformed, in the first send-or-recv step of rank 0's forest plan
def frac(name, lo=None, hi=None):
    def fn(d):
        st = forest_steps(d, 0)
        i = first_range_step(st)
        if lo is not None: st[i][4] = lo
        if hi is not None: st[i][5] = hi
    edit(name, fn)
frac("frac-3-2", hi="3/2")
frac("frac-minus-half", lo="-1/2")
frac("frac-div-zero", hi="1/0")
frac("frac-reversed", lo="1/2", hi="1/8")
frac("frac-int-overflow", lo="9223372036854775807/9223372036854775806", hi="9223372036854775806/9223372036854775805")

# a dependency cycle: rank 0's first two steps wait on each other
def cycle(d):
    st = forest_steps(d, 0)
    st[0][-1] = [1]
    st[1][-1] = [0]
edit("dep-cycle", cycle)
# a self-dependency
def selfdep(d):
    st = forest_steps(d, 0)
    st[2][-1] = [2]
edit("dep-self", selfdep)
# a dependency index far past the last step, and a negative one
def dep_far(d): forest_steps(d, 0)[1][-1] = [999999]
edit("dep-out-of-range", dep_far)
def dep_neg(d): forest_steps(d, 0)[1][-1] = [-1]
edit("dep-negative", dep_neg)
put("dep-huge", raw=text.replace('["rr",1,0,"o","0","1/8",1,[0]]', f'["rr",1,0,"o","0","1/8",1,[{HUGE}]]', 1))

# a missing step: rank 1 never sends its first slice (rank 0's receive has no partner)
def missing(d):
    st = forest_steps(d, 1)
    del st[first_send(st)]
    # renumber nothing: deps in rank 1 pointing past the deleted index now point one late;
    # the file is still structurally readable, the plan is wrong.
    for s in st:
        s[-1] = [x - 1 if x > 0 else x for x in s[-1]]
edit("missing-step", missing)
def missing_program(d): del d["plans"][0]["programs"][1]
edit("missing-program", missing_program)
def no_plans(d): d["plans"] = []
edit("no-plans", no_plans)

# version / format
edit("version-2", lambda d: d.__setitem__("version", 2))
edit("format-wrong", lambda d: d.__setitem__("format", "grove-topology"))
# fabric hash mismatch (simulate checks it against --topology)
edit("hash-mismatch", lambda d: d.__setitem__("fabric_hash", "0000000000000000"))

# 100 000 nested arrays where a step should be
put("deep-100k", raw=text.replace('"steps": [', '"steps": [' + "[" * 100_000, 1))

# truncated at half
put("truncated", raw=text[: len(text) // 2])

# huge numbers in fields
def huge_peer(d): pass
put("peer-huge", raw=text.replace('["s",1,1,"i","1/2","5/8",4,[]]', f'["s",{HUGE},1,"i","1/2","5/8",4,[]]', 1))
put("channel-huge", raw=text.replace('["s",1,1,"i","1/2","5/8",4,[]]', f'["s",1,{HUGE},"i","1/2","5/8",4,[]]', 1))
put("stream-huge", raw=text.replace('["s",1,1,"i","1/2","5/8",4,[]]', f'["s",1,1,"i","1/2","5/8",{HUGE},[]]', 1))
put("slices-huge", raw=text.replace('"slices": 4', f'"slices": {HUGE}', 1))
put("min-bytes-huge", raw=re.sub(r'"min_bytes": 0', f'"min_bytes": {HUGE}', text, count=1))
def int_max_channel(d):
    st = forest_steps(d, 0); st[first_send(st)][2] = 9223372036854775807
edit("channel-int-max", int_max_channel)
def int_max_stream(d):
    st = forest_steps(d, 0); st[first_send(st)][6] = 9223372036854775807
edit("stream-int-max", int_max_stream)

# negative indices
def neg_peer(d): st = forest_steps(d, 0); st[first_send(st)][1] = -1
edit("peer-negative", neg_peer)
def neg_channel(d): st = forest_steps(d, 0); st[first_send(st)][2] = -1
edit("channel-negative", neg_channel)
def neg_stream(d): st = forest_steps(d, 0); st[first_send(st)][6] = -5
edit("stream-negative", neg_stream)
def neg_rank(d): d["plans"][0]["programs"][0]["rank"] = -1
edit("program-rank-negative", neg_rank)
def neg_window(d): d["size_windows"] = [{"min_bytes": 100, "max_bytes": -5, "algorithm": "ring"}]
edit("window-negative", neg_window)
def window_unknown(d): d["size_windows"] = [{"min_bytes": 0, "max_bytes": None, "algorithm": "teleport"}]
edit("window-unknown-algorithm", window_unknown)

# peer out of range / peer is itself
def peer_oor(d): st = forest_steps(d, 0); st[first_send(st)][1] = 5
edit("peer-out-of-range", peer_oor)
def peer_self(d): st = forest_steps(d, 0); st[first_send(st)][1] = 0
edit("peer-self", peer_self)

# routing through a vertex that does not exist
def route_vertex(d):
    r = d["plans"][0]["routing"][0]
    r[3][0][0] = [1, 999999]
edit("route-bad-vertex", route_vertex)

# unknown op / buffer
def bad_op(d): forest_steps(d, 0)[1][0] = "teleport"
edit("op-unknown", bad_op)
def bad_buf(d): st = forest_steps(d, 0); st[first_send(st)][3] = "z"
edit("buffer-unknown", bad_buf)

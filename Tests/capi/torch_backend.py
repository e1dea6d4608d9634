"""The torch.distributed backend "grove" under torchrun: every collective on every dtype, sync and
async, in-place and out-of-place forms, a subgroup (a second communicator in the same processes),
and the errors a user meets. Prints one line per check that fails; exits 1 if any did.

    torchrun --nproc-per-node 4 Tests/capi/torch_backend.py
"""
import sys
import warnings

import torch
import torch.distributed as dist

import grovecoll.torch  # registers "grove"

# torch 2.13 renames all_gather_into_tensor / reduce_scatter_tensor; both names are tested.
warnings.filterwarnings("ignore", category=FutureWarning)

dist.init_process_group("grove")
rank, n = dist.get_rank(), dist.get_world_size()
assert dist.get_backend() == "grove", dist.get_backend()
failures = []


def check(what, ok):
    if not ok:
        failures.append(what)
        print(f"rank {rank}: FAIL {what}", flush=True)


dtypes = [torch.float32, torch.float64, torch.bfloat16, torch.float16, torch.int32, torch.int64, torch.uint8]
count = 1031  # prime: no even split anywhere
for dt in dtypes:
    base = torch.arange(count) % 7  # small values: exact sums in every type, uint8 included
    t = (base + rank).to(dt)
    expect = (base * n + n * (n - 1) // 2).to(dt)
    work = dist.all_reduce(t, async_op=True)
    work.wait()
    check(f"all_reduce {dt}", torch.equal(t, expect))

    t = (base + rank).to(dt)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    check(f"all_reduce max {dt}", torch.equal(t, (base + n - 1).to(dt)))

    mine = torch.full((count,), rank, dtype=dt)
    out = torch.empty(n * count, dtype=dt)
    dist.all_gather_into_tensor(out, mine)
    check(f"all_gather_into_tensor {dt}", torch.equal(out, torch.arange(n).repeat_interleave(count).to(dt)))

    outs = [torch.empty(count, dtype=dt) for _ in range(n)]
    dist.all_gather(outs, mine)
    check(f"all_gather list {dt}", all(torch.equal(o, torch.full((count,), r, dtype=dt)) for r, o in enumerate(outs)))

    inp = (torch.arange(n * count) % 5).to(dt)
    part = torch.empty(count, dtype=dt)
    dist.reduce_scatter_tensor(part, inp)
    check(f"reduce_scatter_tensor {dt}", torch.equal(part, ((torch.arange(n * count) % 5) * n)[rank * count:(rank + 1) * count].to(dt)))

    part2 = torch.empty(count, dtype=dt)
    dist.reduce_scatter(part2, list(inp.chunk(n)))
    check(f"reduce_scatter list {dt}", torch.equal(part2, part))

    b = torch.full((count,), 3 if rank == n - 1 else 0, dtype=dt)
    dist.broadcast(b, src=n - 1)
    check(f"broadcast {dt}", torch.equal(b, torch.full((count,), 3, dtype=dt)))

    r = (base + rank).to(dt)
    dist.reduce(r, dst=1 % n)
    if rank == 1 % n:
        check(f"reduce {dt}", torch.equal(r, expect))

    if hasattr(dist, "all_gather_single"):  # torch 2.13's names for the two above
        out2 = torch.empty(n * count, dtype=dt)
        dist.all_gather_single(out2, mine)
        check(f"all_gather_single {dt}", torch.equal(out2, out))
        part3 = torch.empty(count, dtype=dt)
        dist.reduce_scatter_single(part3, inp)
        check(f"reduce_scatter_single {dt}", torch.equal(part3, part))

# A non-contiguous tensor (a transposed view) is reduced in place like a contiguous one.
m = torch.arange(12, dtype=torch.float32).reshape(3, 4).t() * (rank + 1)
dist.all_reduce(m)
check("all_reduce of a non-contiguous view", torch.equal(m, torch.arange(12, dtype=torch.float32).reshape(3, 4).t() * (n * (n + 1) / 2)))

# Several works in flight at once, completed out of order.
ts = [torch.full((100_000,), float(rank + k)) for k in range(4)]
works = [dist.all_reduce(t, async_op=True) for t in ts]
for w in reversed(works):
    w.wait()
check("four async all_reduce in flight", all(torch.all(t == n * k + n * (n - 1) / 2) for k, t in enumerate(ts)))
fut = dist.all_reduce(torch.ones(10), async_op=True).get_future()
check("work future", torch.equal(fut.wait()[0], torch.full((10,), float(n))))

# A subgroup is a second communicator with its own connections.
evens = dist.new_group([r for r in range(n) if r % 2 == 0], backend="grove")
if rank % 2 == 0:
    e = torch.full((1000,), float(rank))
    dist.all_reduce(e, group=evens)
    check("subgroup all_reduce", torch.all(e == sum(r for r in range(n) if r % 2 == 0)).item())
dist.barrier()

# Complex tensors: torch hands the backend their real view, so a sum just works.
z = torch.full((50,), complex(rank, 1), dtype=torch.complex64)
dist.all_reduce(z)
check("complex64 all_reduce (as float32 pairs)", torch.all(z == complex(n * (n - 1) / 2, n)).item())

# Errors a user meets: a clear exception naming the problem, and the world still works after.
try:
    dist.all_reduce(torch.ones(4, dtype=torch.bool))
    check("bool refused", False)
except (TypeError, RuntimeError) as e:
    check(f"bool refused with a message naming it ({e})", "bool" in str(e))
dist.barrier()

bad = torch.tensor([len(failures)], dtype=torch.int64)
dist.all_reduce(bad)
if rank == 0:
    print(f"torch backend grove: {len(dtypes)} dtypes × 8 collectives, async, futures, subgroup, errors on {n} ranks: "
          f"{int(bad.item())} failed checks")
dist.destroy_process_group()
sys.exit(0 if bad.item() == 0 else 1)

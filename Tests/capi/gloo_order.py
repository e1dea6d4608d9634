"""GROVE_GLOO_ORDER=1 GROVE_ALGO=ring: the grove backend's all_reduce sums every element in the
order Gloo's ring does, so results are bit-identical to the gloo backend's. Checked here on random
float32, float64 and bfloat16 tensors of sizes that give Gloo one segment, several, partial and
empty chunks, against a gloo group in the same processes.

    GROVE_GLOO_ORDER=1 GROVE_ALGO=ring torchrun --nproc-per-node 4 Tests/capi/gloo_order.py
"""
import sys

import torch
import torch.distributed as dist

import grovecoll.torch  # noqa: F401

dist.init_process_group("grove")
rank, n = dist.get_rank(), dist.get_world_size()
gloo = dist.new_group(backend="gloo")
bad = 0
sizes = [1, 3, 7, 1000, 4099, 262147, (1 << 20) + 3, 3 << 20]
for dtype in (torch.float32, torch.float64, torch.bfloat16):
    for size in sizes:
        g = torch.Generator().manual_seed(size * 31 + rank)
        x = (torch.randn(size, generator=g, dtype=torch.float64) * 1000).to(dtype)
        a, b = x.clone(), x.clone()
        dist.all_reduce(a)
        dist.all_reduce(b, group=gloo)
        if not torch.equal(a, b):
            bad += 1
            print(f"rank {rank}: {dtype} × {size}: {int((a != b).sum())} elements differ from gloo's", flush=True)
total = torch.tensor([bad])
dist.all_reduce(total, group=gloo)
if rank == 0:
    print(f"GROVE_GLOO_ORDER: {3 * len(sizes)} all_reduce calls (float32, float64, bfloat16; {sizes[0]}–{sizes[-1]} elements) "
          f"on {n} ranks, {int(total.item())} not bit-identical to gloo")
dist.destroy_process_group()
sys.exit(0 if total.item() == 0 else 1)

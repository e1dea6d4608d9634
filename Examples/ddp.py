"""DistributedDataParallel on CPU with any torch.distributed backend, Grove's included: trains a
small MLP for a number of steps on data every rank draws from its own seeded generator, and
saves rank 0's state_dict. Run it twice, --backend grove and --backend gloo, and compare.

    torchrun --nproc-per-node 4 Examples/ddp.py --backend grove --save grove.pt
    torchrun --nproc-per-node 4 Examples/ddp.py --backend gloo --save gloo.pt
"""
import argparse

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--backend", default="grove", help="grove, gloo, or any registered backend")
parser.add_argument("--steps", type=int, default=20)
parser.add_argument("--save", help="write rank 0's final state_dict here (torch.save)")
args = parser.parse_args()

if args.backend == "grove":
    import grovecoll.torch  # noqa: F401  (registers the backend)
dist.init_process_group(args.backend)
rank, world = dist.get_rank(), dist.get_world_size()

torch.manual_seed(0)  # the same initial weights everywhere (DDP also broadcasts rank 0's)
model = torch.nn.Sequential(torch.nn.Linear(32, 64), torch.nn.ReLU(), torch.nn.Linear(64, 64), torch.nn.ReLU(),
                            torch.nn.Linear(64, 1))
ddp = DistributedDataParallel(model, bucket_cap_mb=0.01)  # small buckets: several allreduces per step, overlapped
optimizer = torch.optim.SGD(ddp.parameters(), lr=0.05, momentum=0.9)
data = torch.Generator().manual_seed(1000 + rank)  # each rank its own shard
for step in range(args.steps):
    x = torch.randn(64, 32, generator=data)
    y = x[:, :4].sum(dim=1, keepdim=True) - x[:, 4:8].prod(dim=1, keepdim=True)
    loss = torch.nn.functional.mse_loss(ddp(x), y)
    optimizer.zero_grad()
    loss.backward()  # gradients averaged across ranks by the backend's allreduce
    optimizer.step()
    if rank == 0 and (step % 5 == 0 or step == args.steps - 1):
        print(f"{args.backend} step {step:2d} loss {loss.item():.6f}", flush=True)
if rank == 0 and args.save:
    torch.save(model.state_dict(), args.save)
dist.destroy_process_group()

"""torch.distributed allreduce on the Gloo backend, or on BACKEND=grove (float32, sum, out of place: the input is copied
to the output tensor first, outside the timing), timed the way `grove bench` times Grove and
mpi_allreduce.c times MPI: each call timed alone, an iteration's time is the slowest rank's, the
row is the mean (and p50) over iterations; busbw = size / time * 2(n-1)/n (GB = 1e9 bytes);
#wrong from the same deterministic data. Prints CSV rows on rank 0:
size,count,mean_us,p50_us,algbw,busbw,wrong

Reads RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT (torchrun sets them; env:// rendezvous) and
GLOO_SOCKET_IFNAME where the ranks live in network namespaces. BACKEND=grove runs the same calls
through Grove's torch backend (grovecoll.torch; GROVE_LIBRARY names libgrove.so).
Usage: gloo_allreduce.py MINBYTES MAXBYTES FACTOR ITERS WARMUP"""
import sys
import time

import os

import torch
import torch.distributed as dist


def main():
    if len(sys.argv) < 6:
        sys.exit("usage: gloo_allreduce.py MINBYTES MAXBYTES FACTOR ITERS WARMUP")
    minb, maxb, factor, iters, warmup = (int(a) for a in sys.argv[1:6])
    backend = os.environ.get("BACKEND", "gloo")
    if backend == "grove":
        import grovecoll.torch  # noqa: F401  (registers the backend)
    dist.init_process_group(backend)
    rank, n = dist.get_rank(), dist.get_world_size()
    torch.set_num_threads(1)
    size = minb
    while size <= maxb:
        count = max(1, size // 4)
        i = torch.arange(count, dtype=torch.int64)
        data = ((rank * 31 + i * 7) % 17 + 1).to(torch.float32)
        buf = torch.empty_like(data)
        for _ in range(warmup):
            buf.copy_(data)
            dist.all_reduce(buf)
        dist.barrier()
        times = torch.zeros(iters, dtype=torch.float64)
        for k in range(iters):
            buf.copy_(data)
            t0 = time.perf_counter()
            dist.all_reduce(buf)
            times[k] = time.perf_counter() - t0
        dist.all_reduce(times, op=dist.ReduceOp.MAX)
        want = sum(((r * 31 + i * 7) % 17 + 1) for r in range(n)).to(torch.float32)
        buf.copy_(data)
        dist.all_reduce(buf)
        wrong = torch.tensor([int((buf != want).sum())], dtype=torch.int64)
        dist.all_reduce(wrong)
        if rank == 0:
            mean = float(times.mean())
            p50 = float(times.sort().values[(iters - 1) // 2])
            algbw = size / mean / 1e9
            print(f"{size},{count},{mean * 1e6:.2f},{p50 * 1e6:.2f},{algbw:.4f},{algbw * 2 * (n - 1) / n:.4f},{int(wrong[0])}", flush=True)
        if factor < 2:
            break
        size *= factor
    dist.destroy_process_group()


if __name__ == "__main__":
    main()

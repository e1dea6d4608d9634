"""Grove from Python with NumPy: average a "gradient" across ranks, gather every rank's id,
overlap a non-blocking allreduce with local work, and check everything.

    pip install ./python            # after scripts/install.sh PREFIX (GROVE_LIBRARY if not on the loader's path)
    grove launch -n 4 -- python3 Examples/python/allreduce.py
"""
import sys

import numpy as np

import grovecoll

comm = grovecoll.Communicator()
n, rank = comm.size, comm.rank
wrong = 0

gradient = np.full(1 << 20, rank + 1, dtype=np.float32)
comm.allreduce(gradient, op="avg")
wrong += int(np.count_nonzero(gradient != (n + 1) / 2))

ids = comm.allgather(np.array([rank], dtype=np.int32))
wrong += int(np.count_nonzero(ids != np.arange(n)))

# Any object with the buffer protocol works: here a bytearray of uint8.
flags = bytearray([rank % 256] * 1000)
comm.allreduce(flags, op="max")
wrong += sum(1 for b in flags if b != n - 1)

values = np.arange(3 * n * 1001, dtype=np.float64) * (rank + 1)
request = comm.allreduce_async(values.copy(), out := np.empty_like(values))
local = float(values.sum())  # local work while Grove's thread runs the allreduce
request.wait()
wrong += int(np.count_nonzero(out != np.arange(values.size, dtype=np.float64) * (n * (n + 1) / 2)))

part = comm.reduce_scatter(np.ones(n * 7, dtype=np.int64))
wrong += int(np.count_nonzero(part != n))

total = comm.allreduce(np.array([wrong], dtype=np.int64))
if rank == 0:
    print(f"Python (grovecoll, libgrove {grovecoll.library_version()}): allreduce, allgather, bytearray max, async "
          f"allreduce (local sum {local:.0f} meanwhile), reduce-scatter on {n} ranks: {int(total[0])} wrong")
comm.close()
sys.exit(0 if total[0] == 0 else 1)

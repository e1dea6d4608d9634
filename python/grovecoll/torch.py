"""torch.distributed backend "grove": `import grovecoll.torch`, then
`dist.init_process_group("grove")` (under torchrun, or with init_method/store as for Gloo).

CPU tensors of float32, float64, bfloat16, float16, int32, int64 and uint8; all_reduce,
all_gather (list and into_tensor), reduce_scatter (list and tensor), broadcast, reduce, barrier,
each with async work objects (async_op=True) whose futures DistributedDataParallel uses. Each
process group is its own Grove communicator with its own connections: group rank 0 serves the
rendezvous on a free port, published through the group's torch store. Calls run on Grove's
thread, so Python and autograd keep working while they are in flight.

Plans: GROVE_SCHEDULE / GROVE_TOPOLOGY / GROVE_ALGO as for every Grove communicator (default: the
size windows of a uniform star of the group's ranks). GROVE_GLOO_ORDER=1 with GROVE_ALGO=ring makes
all_reduce bit-identical to the gloo backend's (see _allreduce_in_gloo_order).
"""

from __future__ import annotations

import datetime
import os
import socket
import threading
import time

import torch
import torch.distributed as dist
from torch.futures import Future

from . import Communicator, GroveError

__all__ = ["GroveProcessGroup", "BACKEND"]

BACKEND = "grove"

_DTYPES = {torch.float32: "float32", torch.float64: "float64", torch.float16: "float16", torch.bfloat16: "bfloat16",
           torch.int32: "int32", torch.int64: "int64", torch.uint8: "uint8"}
_OPS = [(dist.ReduceOp.SUM, "sum"), (dist.ReduceOp.PRODUCT, "prod"), (dist.ReduceOp.MIN, "min"),
        (dist.ReduceOp.MAX, "max"), (dist.ReduceOp.AVG, "avg")]


def _dtype(t: torch.Tensor) -> str:
    if t.device.type != "cpu":
        raise ValueError(f"the grove backend runs on CPU tensors; this one is on {t.device}")
    try:
        return _DTYPES[t.dtype]
    except KeyError:
        raise TypeError(f"the grove backend does not support {t.dtype}: give one of "
                        + ", ".join(str(d).replace("torch.", "") for d in _DTYPES)) from None


def _op(op) -> str:
    for o, name in _OPS:
        if op == o:
            return name
    raise ValueError(f"the grove backend does not support the reduction {op}: give SUM, PRODUCT, MIN, MAX or AVG")


class _Work(dist.Work):
    """One call in flight: wait() blocks (Grove's thread runs it), then copies results that had to
    go through a contiguous staging tensor back into the caller's tensors."""

    def __init__(self, request, result, finish=None):
        super().__init__()
        self._request = request
        self._result = result
        self._finish = finish
        self._lock = threading.Lock()
        self._done = False
        self._error = None

    def _complete(self):
        with self._lock:
            if not self._done:
                try:
                    self._request.wait()
                    if self._finish is not None:
                        self._finish()
                except Exception as e:  # kept: every wait() raises it again
                    self._error = e
                self._done = True
                self._finish = None
        if self._error is not None:
            raise self._error

    def wait(self, timeout: datetime.timedelta = datetime.timedelta(0)) -> bool:
        """Blocks until the call is done (results copied back); with a timeout above zero, raises
        RuntimeError if it is not done by then (the call goes on; wait again)."""
        if timeout and timeout.total_seconds() > 0 and not self._done:
            deadline = time.monotonic() + timeout.total_seconds()
            while not self._request_done():
                if time.monotonic() >= deadline:
                    raise RuntimeError(f"the grove call did not finish within {timeout}")
                time.sleep(0.0005)
        self._complete()
        return True

    def _request_done(self) -> bool:
        try:
            return self._request.test()
        except GroveError:
            return True  # finished with an error, which _complete raises

    def is_completed(self) -> bool:
        # Done only once results are copied back into the caller's tensors.
        if not self._done and self._request_done():
            try:
                self._complete()
            except Exception:
                pass
        return self._done

    def is_success(self) -> bool:
        return self.is_completed() and self._error is None

    def exception(self):
        return self._error

    def result(self):
        self._complete()
        return self._result

    def get_future(self) -> Future:
        future = Future()

        def complete():
            try:
                self._complete()
                future.set_result(self._result)
            except Exception as e:  # handed to whoever waits on the future
                future.set_exception(e)

        threading.Thread(target=complete, name="grove-future", daemon=True).start()
        return future


def _contiguous(t: torch.Tensor):
    """`t` itself when contiguous, else a contiguous copy and how to copy the result back."""
    if t.is_contiguous():
        return t, None
    c = t.contiguous()
    return c, (lambda: t.copy_(c))


def _store_host(store):
    """The host of the TCPStore under `store` (PrefixStores wrap it), or None."""
    for _ in range(16):
        if isinstance(store, dist.TCPStore):
            return store.host
        store = getattr(store, "underlying_store", None)
        if store is None:
            return None
    return None


def _local_address(store) -> str:
    """This host's address as the other ranks reach it: the one its route to the torch store's
    host (else MASTER_ADDR) uses; 127.0.0.1 when that host is this one's loopback."""
    master = _store_host(store) or os.environ.get("MASTER_ADDR", "127.0.0.1")
    try:
        target = socket.gethostbyname(master)
    except OSError:
        return "127.0.0.1"
    if target.startswith("127."):
        return "127.0.0.1"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect((target, 9))
            return s.getsockname()[0]
        except OSError:
            return "127.0.0.1"


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class GroveProcessGroup(dist.ProcessGroup):
    """A torch.distributed process group over a Grove communicator."""

    def __init__(self, store, rank: int, size: int, timeout: datetime.timedelta):
        super().__init__(rank, size)
        self._rank, self._size = rank, size
        # Group rank 0 serves Grove's rendezvous on a free port of its host; the group's store
        # (a PrefixStore per group) tells the others where.
        if rank == 0:
            host = _local_address(store)
            master = f"{host}:{_free_port(host)}"
            store.set("grove/master", master)
        else:
            store.wait(["grove/master"], timeout)
            master = store.get("grove/master").decode()
        seconds = timeout.total_seconds() if timeout else None
        self._comm = Communicator(rank, size, master, timeout=seconds if seconds and 0 < seconds <= 86400 else None)
        self._gloo_order = os.environ.get("GROVE_GLOO_ORDER") == "1"
        if self._gloo_order and os.environ.get("GROVE_ALGO") != "ring":
            raise ValueError("GROVE_GLOO_ORDER=1 sums in Gloo's ring order only on Grove's ring: set GROVE_ALGO=ring too")

    def getBackendName(self) -> str:
        return BACKEND

    def name(self) -> str:
        return BACKEND

    def size(self) -> int:
        return self._size

    def rank(self) -> int:
        return self._rank

    def __repr__(self):
        return f"GroveProcessGroup(rank {self._rank} of {self._size})"

    # Collectives

    def allreduce(self, tensors, opts=None):
        op = _op(opts.reduceOp if opts is not None else dist.ReduceOp.SUM)
        if len(tensors) != 1:
            return self.allreduce_coalesced(tensors, opts)
        if self._gloo_order and tensors[0].numel() > 0:
            return self._allreduce_in_gloo_order(tensors, op)
        t, back = _contiguous(tensors[0])
        request = self._comm.allreduce_ptr(t.data_ptr(), t.data_ptr(), t.numel(), _dtype(t), op, keep=t)
        return _Work(request, tensors, back)

    def allreduce_coalesced(self, tensors, opts=None):
        op = _op(opts.reduceOp if opts is not None else dist.ReduceOp.SUM)
        flat = torch.cat([t.reshape(-1) for t in tensors])
        request = self._comm.allreduce_ptr(flat.data_ptr(), flat.data_ptr(), flat.numel(), _dtype(flat), op, keep=flat)

        def back():
            offset = 0
            for t in tensors:
                t.copy_(flat[offset:offset + t.numel()].view_as(t))
                offset += t.numel()
        return _Work(request, tensors, back)

    def _allgather_base(self, output, input, opts=None):
        if output.numel() != input.numel() * self._size or output.dtype != input.dtype:
            raise ValueError(f"all_gather_into_tensor: output must hold {self._size} × {input.numel()} elements of {input.dtype}")
        i, _ = _contiguous(input)
        o, back = _contiguous(output)
        request = self._comm.allgather_ptr(i.data_ptr(), o.data_ptr(), i.numel(), _dtype(i), keep=(i, o))
        return _Work(request, [output], back)

    all_gather_single = _allgather_base

    def _allreduce_in_gloo_order(self, tensors, op):
        """GROVE_GLOO_ORDER=1 with GROVE_ALGO=ring: Grove's ring sums chunk c along ranks c−1, c−2,
        …, c, as Gloo's ring does, but cuts the chunks at floor(N·c/n) where Gloo cuts at
        multiples of K = (segments per rank) × ceil(N / segments), segments of at most 1 MiB, at
        least 2n, a multiple of n. Running the ring on the tensor padded with zeros to n·K
        elements puts Grove's cuts at Gloo's, so every element is summed in Gloo's order and the
        result is bit-identical to the gloo backend's (at the cost of a copy each way)."""
        def ceil_div(a, b):
            return -(-a // b)

        t = tensors[0]
        n, count, size = self._size, t.numel(), t.element_size()
        total = count * size
        segments = max(ceil_div(total, size * max(1, (1 << 20) // size)), 2 * n)
        segments = ceil_div(segments, n) * n
        per_segment = ceil_div(ceil_div(total, segments), size)  # elements: roundUp(ceil(total / segments), size) / size
        chunk = (segments // n) * per_segment
        padded = torch.zeros(n * chunk, dtype=t.dtype)
        padded[:count].copy_(t.reshape(-1))
        request = self._comm.allreduce_ptr(padded.data_ptr(), padded.data_ptr(), padded.numel(), _dtype(t), op, keep=padded)
        return _Work(request, tensors, lambda: t.copy_(padded[:count].view_as(t)))

    def allgather(self, output_tensors, input_tensors, opts=None):
        outputs, inp = output_tensors[0], input_tensors[0]
        if len(outputs) != self._size or any(o.numel() != inp.numel() or o.dtype != inp.dtype for o in outputs):
            raise ValueError(f"all_gather: give {self._size} output tensors of {inp.numel()} elements of {inp.dtype}")
        i, _ = _contiguous(inp)
        flat = torch.empty(self._size * i.numel(), dtype=i.dtype)
        request = self._comm.allgather_ptr(i.data_ptr(), flat.data_ptr(), i.numel(), _dtype(i), keep=(i, flat))

        def back():
            for r, out in enumerate(outputs):
                out.copy_(flat[r * i.numel():(r + 1) * i.numel()].view_as(out))
        return _Work(request, output_tensors, back)

    def _reduce_scatter_base(self, output, input, opts=None):
        op = _op(opts.reduceOp if opts is not None else dist.ReduceOp.SUM)
        if input.numel() != output.numel() * self._size or output.dtype != input.dtype:
            raise ValueError(f"reduce_scatter_tensor: input must hold {self._size} × {output.numel()} elements of {output.dtype}")
        i, _ = _contiguous(input)
        o, back = _contiguous(output)
        request = self._comm.reduce_scatter_ptr(i.data_ptr(), o.data_ptr(), o.numel(), _dtype(o), op, keep=(i, o))
        return _Work(request, [output], back)

    reduce_scatter_single = _reduce_scatter_base

    def reduce_scatter(self, output_tensors, input_tensors, opts=None):
        op = _op(opts.reduceOp if opts is not None else dist.ReduceOp.SUM)
        out, inputs = output_tensors[0], input_tensors[0]
        if len(inputs) != self._size or any(t.numel() != out.numel() or t.dtype != out.dtype for t in inputs):
            raise ValueError(f"reduce_scatter: give {self._size} input tensors of {out.numel()} elements of {out.dtype}")
        flat = torch.cat([t.reshape(-1) for t in inputs])
        o, back = _contiguous(out)
        request = self._comm.reduce_scatter_ptr(flat.data_ptr(), o.data_ptr(), o.numel(), _dtype(o), op, keep=(flat, o))
        return _Work(request, output_tensors, back)

    def broadcast(self, tensors, opts=None):
        root = opts.rootRank if opts is not None else 0
        t, back = _contiguous(tensors[0])
        request = self._comm.broadcast_ptr(t.data_ptr(), t.data_ptr(), t.numel(), _dtype(t), root, keep=t)
        return _Work(request, tensors, back)

    def reduce(self, tensors, opts=None):
        root = opts.rootRank if opts is not None else 0
        op = _op(opts.reduceOp if opts is not None else dist.ReduceOp.SUM)
        t, back = _contiguous(tensors[0])
        request = self._comm.reduce_ptr(t.data_ptr(), t.data_ptr(), t.numel(), _dtype(t), op, root, keep=t)
        return _Work(request, tensors, back)

    def barrier(self, opts=None):
        return _Work(self._comm.barrier_async(), [])

    # Lifetime

    def shutdown(self):
        self._comm.close()

    def abort(self):
        self._comm.abort()


def _create(store, rank, size, timeout):
    return GroveProcessGroup(store, rank, size, timeout)


dist.Backend.register_backend(BACKEND, _create, devices=["cpu"])

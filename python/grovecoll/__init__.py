"""Grove's collectives from Python: a ctypes binding of libgrove.so (include/grove.h).

A Communicator joins the ranks of a job; every rank makes the same calls in the same order.
Buffers are NumPy arrays or any object with the buffer protocol (C-contiguous; outputs
writable). Calls release the GIL while they run. Errors raise GroveError with the library's
message, which names the lost rank or the bad argument.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import subprocess
import threading
from typing import Optional

import numpy as np

__all__ = ["Communicator", "Request", "GroveError", "library_version", "load_library", "DATATYPES", "OPS"]

# groveDataType_t and groveRedOp_t (NCCL's values).
DATATYPES = {"uint8": 1, "int32": 2, "int64": 4, "float16": 6, "float32": 7, "float64": 8, "bfloat16": 9}
OPS = {"sum": 0, "prod": 1, "max": 2, "min": 3, "avg": 4}
_RESULT_NAMES = {0: "success", 2: "system error", 3: "internal error", 4: "invalid argument", 5: "invalid usage",
                 6: "remote error", 7: "in progress", 8: "timeout"}


class GroveError(RuntimeError):
    """A Grove call failed. `code` is the groveResult_t, `message` the library's sentence."""

    def __init__(self, code: int, message: str):
        self.code = code
        self.message = message
        super().__init__(f"{message} ({_RESULT_NAMES.get(code, 'error')})")


class _Config(ctypes.Structure):
    _fields_ = [("size", ctypes.c_size_t), ("magic", ctypes.c_uint), ("version", ctypes.c_uint),
                ("schedules", ctypes.c_char_p), ("topology", ctypes.c_char_p), ("algorithm", ctypes.c_char_p),
                ("timeoutSeconds", ctypes.c_double), ("connections", ctypes.c_int)]


_lib = None


def _candidates():
    if os.environ.get("GROVE_LIBRARY"):
        yield os.environ["GROVE_LIBRARY"]
        return
    try:
        libdir = subprocess.run(["pkg-config", "--variable=libdir", "grove"], capture_output=True, text=True,
                                timeout=10).stdout.strip()
        if libdir:
            yield os.path.join(libdir, "libgrove.so")
    except (OSError, subprocess.SubprocessError):
        pass
    found = ctypes.util.find_library("grove")
    if found:
        yield found
    yield "libgrove.so.0"


def load_library():
    """Loads libgrove.so once: GROVE_LIBRARY, else pkg-config's libdir, else the loader's path."""
    global _lib
    if _lib is not None:
        return _lib
    tried = []
    for path in _candidates():
        try:
            lib = ctypes.CDLL(path)
            break
        except OSError as e:
            tried.append(f"{path} ({e})")
    else:
        raise ImportError("grovecoll cannot load libgrove.so (tried " + "; ".join(tried) + "): install it with "
                          "`scripts/install.sh PREFIX` from the Grove repository and set GROVE_LIBRARY=PREFIX/lib/libgrove.so")
    vp, sz, i32, comm, req = ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p
    sig = {
        "groveGetVersion": [ctypes.POINTER(i32)],
        "groveCommInitFromEnv": [ctypes.POINTER(comm)],
        "groveCommInitRank": [ctypes.POINTER(comm), i32, i32, ctypes.c_char_p, ctypes.POINTER(_Config)],
        "groveConfigInit": [ctypes.POINTER(_Config)],
        "groveCommDestroy": [comm], "groveCommAbort": [comm],
        "groveCommCount": [comm, ctypes.POINTER(i32)], "groveCommUserRank": [comm, ctypes.POINTER(i32)],
        "groveAllReduceAsync": [vp, vp, sz, i32, i32, comm, ctypes.POINTER(req)],
        "groveAllGatherAsync": [vp, vp, sz, i32, comm, ctypes.POINTER(req)],
        "groveReduceScatterAsync": [vp, vp, sz, i32, i32, comm, ctypes.POINTER(req)],
        "groveBroadcastAsync": [vp, vp, sz, i32, i32, comm, ctypes.POINTER(req)],
        "groveReduceAsync": [vp, vp, sz, i32, i32, i32, comm, ctypes.POINTER(req)],
        "groveBarrierAsync": [comm, ctypes.POINTER(req)],
        "groveAllReduce": [vp, vp, sz, i32, i32, comm], "groveAllGather": [vp, vp, sz, i32, comm],
        "groveReduceScatter": [vp, vp, sz, i32, i32, comm], "groveBroadcast": [vp, vp, sz, i32, i32, comm],
        "groveReduce": [vp, vp, sz, i32, i32, i32, comm], "groveBarrier": [comm],
        "groveTest": [req, ctypes.POINTER(i32)], "groveWait": [req], "groveRequestFree": [req],
    }
    for name, args in sig.items():
        f = getattr(lib, name)
        f.argtypes = args
        f.restype = i32
    lib.groveGetLastError.argtypes = []
    lib.groveGetLastError.restype = ctypes.c_char_p
    _lib = lib
    return lib


def _check(code: int):
    if code != 0:
        raise GroveError(code, _lib.groveGetLastError().decode("utf-8", "replace"))


def library_version() -> int:
    """libgrove's GROVE_VERSION_CODE (major * 10000 + minor * 100 + patch)."""
    lib = load_library()
    v = ctypes.c_int()
    _check(lib.groveGetVersion(ctypes.byref(v)))
    return v.value


def _dtype_name(dtype: np.dtype) -> str:
    name = "bfloat16" if dtype.name == "bfloat16" else np.dtype(dtype).name
    if name not in DATATYPES:
        raise TypeError(f"Grove cannot reduce or move elements of type {dtype}: give one of {', '.join(DATATYPES)}")
    return name


def _array(buf, what: str, writable: bool) -> np.ndarray:
    """A flat view of `buf` (no copy), checked to be contiguous, and writable when written."""
    a = buf if isinstance(buf, np.ndarray) else np.asarray(memoryview(buf))
    if not a.flags.c_contiguous:
        raise ValueError(f"{what} must be C-contiguous (use np.ascontiguousarray)")
    if writable and not a.flags.writeable:
        raise ValueError(f"{what} is read-only, but Grove writes the result into it")
    return a.reshape(-1)


class Request:
    """A non-blocking call: test() says whether it finished, wait() blocks until it has (raising its
    error) and returns its result. Both may be called any number of times, from any thread. Keeps
    its buffers alive until it is garbage."""

    def __init__(self, handle: ctypes.c_void_p, keep, result=None):
        self._handle = handle
        self._keep = keep
        self._result = result

    def test(self) -> bool:
        done = ctypes.c_int(0)
        code = _lib.groveTest(self._handle, ctypes.byref(done))
        if done.value and code:
            raise GroveError(code, _lib.groveGetLastError().decode("utf-8", "replace"))
        _check(code)
        return done.value == 1

    def wait(self):
        _check(_lib.groveWait(self._handle))
        return self._result

    def __del__(self):
        if getattr(self, "_handle", None) is not None and _lib is not None:
            _lib.groveRequestFree(self._handle)
            self._handle = None


class _Done:
    """What a blocking call returns through the non-blocking code path: its result."""

    def __init__(self, result):
        self._result = result

    def test(self) -> bool:
        return True

    def wait(self):
        return self._result


class Communicator:
    """Joins a job: from the launcher's environment (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT,
    as torchrun, Slurm, mpirun or `grove launch` set them), or with rank, size and master
    ("host:port" of the store rank 0 serves). schedules / topology / algorithm pick the plans
    (default: GROVE_SCHEDULE, GROVE_TOPOLOGY, GROVE_ALGO, else a uniform star); timeout is per
    call in seconds."""

    def __init__(self, rank: Optional[int] = None, size: Optional[int] = None, master: Optional[str] = None, *,
                 schedules=None, topology: Optional[str] = None, algorithm: Optional[str] = None,
                 timeout: Optional[float] = None, connections: Optional[int] = None):
        lib = load_library()
        self._comm = ctypes.c_void_p()
        explicit = rank is not None or size is not None or master is not None
        options = any(v is not None for v in (schedules, topology, algorithm, timeout, connections))
        if not explicit and not options:
            _check(lib.groveCommInitFromEnv(ctypes.byref(self._comm)))
        else:
            if rank is None or size is None:
                rank = int(os.environ["RANK"]) if rank is None and "RANK" in os.environ else rank
                size = int(os.environ["WORLD_SIZE"]) if size is None and "WORLD_SIZE" in os.environ else size
            if rank is None or size is None:
                raise ValueError("give rank and size (or run under a launcher that sets RANK and WORLD_SIZE)")
            if master is None:
                master = f"{os.environ.get('MASTER_ADDR', '127.0.0.1')}:{os.environ.get('MASTER_PORT', '29500')}"
            config = _Config()
            _check(lib.groveConfigInit(ctypes.byref(config)))
            if schedules is not None:
                schedules = schedules if isinstance(schedules, str) else ",".join(schedules)
                config.schedules = schedules.encode()
            if topology is not None:
                config.topology = topology.encode()
            if algorithm is not None:
                config.algorithm = algorithm.encode()
            if timeout is not None:
                config.timeoutSeconds = float(timeout)
            if connections is not None:
                config.connections = int(connections)
            _check(lib.groveCommInitRank(ctypes.byref(self._comm), int(size), int(rank), master.encode(), ctypes.byref(config)))
        n, r = ctypes.c_int(), ctypes.c_int()
        _check(lib.groveCommCount(self._comm, ctypes.byref(n)))
        _check(lib.groveCommUserRank(self._comm, ctypes.byref(r)))
        self.size, self.rank = n.value, r.value

    # Lifetime

    def close(self):
        """Finishes queued calls and closes the connections."""
        if self._comm:
            _lib.groveCommDestroy(self._comm)
            self._comm = None

    def abort(self):
        """Fails the call in flight and the queued ones, cuts the connections (peers fail too)."""
        if self._comm:
            _lib.groveCommAbort(self._comm)
            self._comm = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        if getattr(self, "_comm", None) and _lib is not None:
            _lib.groveCommDestroy(self._comm)

    def _handle(self):
        if not self._comm:
            raise GroveError(4, "the communicator is closed")
        return self._comm

    # Calls on raw pointers (what the torch backend uses)

    _mode = threading.local()  # per thread: inside a blocking method

    def _start(self, name: str, args, keep, result) -> Request:
        if getattr(Communicator._mode, "blocking", False):  # the C function without "Async"
            _check(getattr(_lib, name[:-5])(*args, self._handle()))
            return _Done(result)
        req = ctypes.c_void_p()
        _check(getattr(_lib, name)(*args, self._handle(), ctypes.byref(req)))
        return Request(req, keep, result)

    def allreduce_ptr(self, send: int, recv: int, count: int, dtype: str, op: str = "sum", keep=None, result=None) -> Request:
        return self._start("groveAllReduceAsync", (send, recv, count, DATATYPES[dtype], OPS[op]), keep, result)

    def allgather_ptr(self, send: int, recv: int, count: int, dtype: str, keep=None, result=None) -> Request:
        return self._start("groveAllGatherAsync", (send, recv, count, DATATYPES[dtype]), keep, result)

    def reduce_scatter_ptr(self, send: int, recv: int, count: int, dtype: str, op: str = "sum", keep=None, result=None) -> Request:
        return self._start("groveReduceScatterAsync", (send, recv, count, DATATYPES[dtype], OPS[op]), keep, result)

    def broadcast_ptr(self, send: int, recv: int, count: int, dtype: str, root: int, keep=None, result=None) -> Request:
        return self._start("groveBroadcastAsync", (send, recv, count, DATATYPES[dtype], root), keep, result)

    def reduce_ptr(self, send: int, recv: int, count: int, dtype: str, op: str, root: int, keep=None, result=None) -> Request:
        return self._start("groveReduceAsync", (send, recv, count, DATATYPES[dtype], OPS[op], root), keep, result)

    def barrier_async(self) -> Request:
        req = ctypes.c_void_p()
        _check(_lib.groveBarrierAsync(self._handle(), ctypes.byref(req)))
        return Request(req, None)

    # Calls on buffers

    @staticmethod
    def _op(op: str) -> str:
        if op not in OPS:
            raise ValueError(f"op {op!r} is not a reduction: give one of {', '.join(OPS)}")
        return op

    def allreduce_async(self, send, recv=None, op: str = "sum") -> Request:
        """Every rank's `send` reduced elementwise into `recv` (in place on `send` when recv is None)."""
        s = _array(send, "send", recv is None)
        r = s if recv is None else _array(recv, "recv", True)
        if r.dtype != s.dtype or r.size != s.size:
            raise ValueError(f"recv ({r.size} × {r.dtype}) must match send ({s.size} × {s.dtype})")
        return self.allreduce_ptr(s.ctypes.data, r.ctypes.data, s.size, _dtype_name(s.dtype), self._op(op), (s, r),
                                  result=recv if recv is not None else send)

    def allgather_async(self, send, recv=None) -> Request:
        """Every rank's `send`, in rank order, in `recv` (size × len(send); made when None)."""
        s = _array(send, "send", False)
        r = np.empty(s.size * self.size, dtype=s.dtype) if recv is None else _array(recv, "recv", True)
        if r.dtype != s.dtype or r.size != s.size * self.size:
            raise ValueError(f"recv must hold {self.size} × {s.size} elements of {s.dtype}, not {r.size} of {r.dtype}")
        return self.allgather_ptr(s.ctypes.data, r.ctypes.data, s.size, _dtype_name(s.dtype), (s, r),
                                  result=r if recv is None else recv)

    def reduce_scatter_async(self, send, recv=None, op: str = "sum") -> Request:
        """Part `rank` of the reduction of every rank's `send` (len(send) / size elements) in `recv`."""
        s = _array(send, "send", False)
        if s.size % self.size:
            raise ValueError(f"send has {s.size} elements, not a multiple of the {self.size} ranks")
        r = np.empty(s.size // self.size, dtype=s.dtype) if recv is None else _array(recv, "recv", True)
        if r.dtype != s.dtype or r.size * self.size != s.size:
            raise ValueError(f"recv must hold {s.size // self.size} elements of {s.dtype}, not {r.size} of {r.dtype}")
        return self.reduce_scatter_ptr(s.ctypes.data, r.ctypes.data, r.size, _dtype_name(s.dtype), self._op(op), (s, r),
                                       result=r if recv is None else recv)

    def broadcast_async(self, buf, root: int = 0) -> Request:
        """Root's `buf` into every rank's `buf`."""
        b = _array(buf, "buf", True)
        return self.broadcast_ptr(b.ctypes.data, b.ctypes.data, b.size, _dtype_name(b.dtype), root, (b,), result=buf)

    def reduce_async(self, send, recv=None, op: str = "sum", root: int = 0) -> Request:
        """The reduction of every rank's `send` into root's `recv` (in place on `send` when None)."""
        s = _array(send, "send", recv is None and self.rank == root)
        r = s if recv is None else _array(recv, "recv", True)
        if r.dtype != s.dtype or r.size != s.size:
            raise ValueError(f"recv ({r.size} × {r.dtype}) must match send ({s.size} × {s.dtype})")
        return self.reduce_ptr(s.ctypes.data, r.ctypes.data, s.size, _dtype_name(s.dtype), self._op(op), root, (s, r),
                               result=recv if recv is not None else send)

    # Blocking calls run on the calling thread (the C library's blocking functions), without the
    # request a non-blocking call makes.

    def allreduce(self, send, recv=None, op: str = "sum"):
        return self._blocking(self.allreduce_async, send, recv, op)

    def allgather(self, send, recv=None):
        return self._blocking(self.allgather_async, send, recv)

    def reduce_scatter(self, send, recv=None, op: str = "sum"):
        return self._blocking(self.reduce_scatter_async, send, recv, op)

    def broadcast(self, buf, root: int = 0):
        return self._blocking(self.broadcast_async, buf, root)

    def reduce(self, send, recv=None, op: str = "sum", root: int = 0):
        return self._blocking(self.reduce_async, send, recv, op, root)

    def barrier(self):
        _check(_lib.groveBarrier(self._handle()))

    def _blocking(self, method, *args):
        Communicator._mode.blocking = True
        try:
            return method(*args).wait()
        finally:
            Communicator._mode.blocking = False

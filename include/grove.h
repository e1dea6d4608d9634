/*
 * grove.h: Grove's C API, in NCCL's shape.
 *
 * A communicator (groveComm_t, as ncclComm_t) joins nranks processes; every rank makes the same
 * collective calls in the same order with matching arguments. Buffers are host memory. Counts
 * follow NCCL: the element count of allreduce/broadcast/reduce buffers, of each rank's
 * allgather input (sendcount) and of each rank's reduce-scatter output (recvcount). A call is in
 * place when sendbuff == recvbuff (allgather: sendbuff == recvbuff + rank * sendcount;
 * reduce-scatter: recvbuff == sendbuff + rank * recvcount), as in NCCL.
 *
 * Every function returns a groveResult_t and never aborts the process on bad input: null
 * pointers, counts that overflow, unknown enum values and handles that were destroyed are
 * reported as groveInvalidArgument (or groveInvalidUsage) with a message in groveGetLastError().
 * A call that fails on a live communicator fails that communicator on every rank: the other
 * ranks' calls return groveRemoteError naming this rank and the reason (they cannot complete the
 * collective without it), and every later call on it returns the same error. Destroy it and
 * create another to go on.
 *
 * Thread safety:
 *   - groveGetVersion, groveGetErrorString, groveGetLastError, groveConfigInit: any thread.
 *   - groveCommInit*: any thread; each call creates a new communicator (several may live in one
 *     process, each with its own connections, like process groups).
 *   - Collectives, their Async forms, groveCommCount, groveCommUserRank, groveTest, groveWait,
 *     groveRequestFree: any thread, concurrently. Calls on one communicator run one at a time
 *     in the order they were issued (a FIFO per communicator, like one NCCL stream); issuing
 *     from several threads makes that order the threads' race, which must be the same on every
 *     rank, so issue from one thread unless the order is fixed some other way.
 *   - groveCommAbort: any thread, also while a call is in flight (that call fails).
 *   - groveCommDestroy: any thread; calls issued on the communicator after it has begun fail
 *     with groveInvalidArgument, calls already queued finish first. Connections and rank 0's
 *     rendezvous port are closed when it returns.
 *
 * Error messages: groveGetLastError() returns the message of the last failed call made by the
 * calling thread (the lost rank, the bad argument), valid until that thread's next Grove call.
 *
 * Link: cc prog.c $(pkg-config --cflags --libs grove). The library has no dependency beyond the
 * C library (the Swift runtime is linked in and hidden) and exports only the grove* symbols.
 */
#ifndef GROVE_H
#define GROVE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define GROVE_MAJOR 0
#define GROVE_MINOR 12
#define GROVE_PATCH 0
/* As NCCL_VERSION_CODE: major * 10000 + minor * 100 + patch. */
#define GROVE_VERSION_CODE (GROVE_MAJOR * 10000 + GROVE_MINOR * 100 + GROVE_PATCH)

/* Opaque handles: never dereferenced by the caller, checked by the library on every call. */
typedef struct groveComm *groveComm_t;
typedef struct groveRequest *groveRequest_t;

/* Result codes: the values of ncclResult_t where the meaning is the same. */
typedef enum {
    groveSuccess = 0,
    groveSystemError = 2,     /* a system call failed (memory, sockets) where no peer is to blame */
    groveInternalError = 3,   /* a bug in Grove: please report it with the message */
    groveInvalidArgument = 4, /* a null pointer, a count that overflows, an unknown type or op,
                                 a root out of range, a handle that is not live */
    groveInvalidUsage = 5,    /* bad configuration: environment, schedule or topology file,
                                 ranks that disagree on the plans */
    groveRemoteError = 6,     /* a peer was lost, gave up (its reason is in the message) or
                                 sent something invalid */
    groveInProgress = 7,      /* reserved (NCCL's value); groveTest reports progress in *done */
    groveTimeout = 8,         /* a call or the rendezvous did not finish within the timeout */
    groveNumResults = 9
} groveResult_t;

/* Element types: the values of ncclDataType_t. int8, uint32 and uint64 are not supported. */
typedef enum {
    groveUint8 = 1,
    groveInt32 = 2,
    groveInt64 = 4,
    groveFloat16 = 6,
    groveFloat32 = 7,
    groveFloat64 = 8,
    groveBfloat16 = 9,
    groveFloat = groveFloat32,
    groveDouble = groveFloat64,
    groveHalf = groveFloat16
} groveDataType_t;

/* Reductions: the values of ncclRedOp_t. groveAvg divides the sum by nranks (integer division for
   integer types). Integer sums and products wrap. */
typedef enum {
    groveSum = 0,
    groveProd = 1,
    groveMax = 2,
    groveMin = 3,
    groveAvg = 4
} groveRedOp_t;

/*
 * Options for groveCommInitRank. Initialize with GROVE_CONFIG_INITIALIZER (or groveConfigInit),
 * then set what you need; unset fields take the environment's GROVE_* value, then the default.
 * At most one of schedules, topology; both NULL means plans for a uniform star of nranks (every
 * rank behind one switch).
 */
typedef struct {
    size_t size;            /* sizeof(groveConfig_t): set by the initializer; a config built with
                               another version's header (another size) is refused, not misread */
    unsigned int magic;     /* GROVE_CONFIG_MAGIC: set by the initializer */
    unsigned int version;   /* GROVE_VERSION_CODE: set by the initializer */
    const char *schedules;  /* schedule files from `grove synth -o`, comma-separated (GROVE_SCHEDULE) */
    const char *topology;   /* a topology file, synthesized at start-up (GROVE_TOPOLOGY) */
    const char *algorithm;  /* "auto" (size windows, default), "forest", "ring", "double_binary_tree",
                               "recursive_doubling", "halving_doubling" (GROVE_ALGO) */
    double timeoutSeconds;  /* per call; 0: GROVE_TIMEOUT, else 60 */
    int connections;        /* TCP connections per peer, 1-64; 0: GROVE_CONNECTIONS, else 1 */
} groveConfig_t;

#define GROVE_CONFIG_MAGIC 0x67726f76u /* "grov" */
#define GROVE_CONFIG_INITIALIZER \
    { sizeof(groveConfig_t), GROVE_CONFIG_MAGIC, GROVE_VERSION_CODE, NULL, NULL, NULL, 0.0, 0 }

/* The library's version as GROVE_VERSION_CODE (compare with the header's to catch a mismatch). */
groveResult_t groveGetVersion(int *version);

/* A short name of a result code ("invalid argument"); never NULL. */
const char *groveGetErrorString(groveResult_t result);

/* The message of the calling thread's last failed call, or "" if none; never NULL. */
const char *groveGetLastError(void);

/* Fills *config as GROVE_CONFIG_INITIALIZER does. */
groveResult_t groveConfigInit(groveConfig_t *config);

/*
 * Joins the job the environment describes, as `grove launch`, torchrun, Slurm or mpirun set it:
 * RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT (or the launcher's own variables), plans from
 * GROVE_SCHEDULE / GROVE_TOPOLOGY / GROVE_ALGO, and GROVE_TIMEOUT, GROVE_CONNECTIONS,
 * GROVE_SOCKET_IFNAME, GROVE_DEBUG. Blocks until every rank has joined (or the timeout).
 */
groveResult_t groveCommInitFromEnv(groveComm_t *comm);

/*
 * Joins a job of nranks ranks as rank `rank`. `master` is "host:port" of the rendezvous store
 * rank 0 serves (rank 0 listens there; every rank gives the same string). config may be NULL.
 * Blocks until every rank has joined (or the timeout).
 */
groveResult_t groveCommInitRank(groveComm_t *comm, int nranks, int rank, const char *master,
                                const groveConfig_t *config);

/* Closes the connections and frees the communicator once its queued calls have finished. */
groveResult_t groveCommDestroy(groveComm_t comm);

/* Fails the call in flight and the queued ones (they return groveRemoteError), cuts the
   connections (peers fail too) and frees the communicator. */
groveResult_t groveCommAbort(groveComm_t comm);

/* The communicator's number of ranks and this process's rank in it. */
groveResult_t groveCommCount(groveComm_t comm, int *count);
groveResult_t groveCommUserRank(groveComm_t comm, int *rank);

/* Collectives. Each returns when this rank's part is done. */
groveResult_t groveAllReduce(const void *sendbuff, void *recvbuff, size_t count, groveDataType_t datatype,
                             groveRedOp_t op, groveComm_t comm);
groveResult_t groveAllGather(const void *sendbuff, void *recvbuff, size_t sendcount, groveDataType_t datatype,
                             groveComm_t comm);
groveResult_t groveReduceScatter(const void *sendbuff, void *recvbuff, size_t recvcount, groveDataType_t datatype,
                                 groveRedOp_t op, groveComm_t comm);
/* sendbuff is read on root only (other ranks may pass NULL); recvbuff receives on every rank. */
groveResult_t groveBroadcast(const void *sendbuff, void *recvbuff, size_t count, groveDataType_t datatype, int root,
                             groveComm_t comm);
/* recvbuff is written on root only (other ranks may pass NULL). */
groveResult_t groveReduce(const void *sendbuff, void *recvbuff, size_t count, groveDataType_t datatype,
                          groveRedOp_t op, int root, groveComm_t comm);
groveResult_t groveBarrier(groveComm_t comm);

/*
 * Non-blocking forms: queue the call on the communicator and return at once with a request.
 * The call starts on the communicator's thread within about 0.2 ms, or at once on the thread
 * that waits for it (groveWait) if that comes first.
 * The buffers must stay valid and untouched until the request completes. groveTest sets *done
 * (1 or 0) and returns the call's result once done (groveSuccess while in progress, with
 * *done 0); groveWait blocks until done and returns the call's result. A request may be tested
 * and waited on any number of times; release it with groveRequestFree (which waits first).
 */
groveResult_t groveAllReduceAsync(const void *sendbuff, void *recvbuff, size_t count, groveDataType_t datatype,
                                  groveRedOp_t op, groveComm_t comm, groveRequest_t *request);
groveResult_t groveAllGatherAsync(const void *sendbuff, void *recvbuff, size_t sendcount, groveDataType_t datatype,
                                  groveComm_t comm, groveRequest_t *request);
groveResult_t groveReduceScatterAsync(const void *sendbuff, void *recvbuff, size_t recvcount,
                                      groveDataType_t datatype, groveRedOp_t op, groveComm_t comm,
                                      groveRequest_t *request);
groveResult_t groveBroadcastAsync(const void *sendbuff, void *recvbuff, size_t count, groveDataType_t datatype,
                                  int root, groveComm_t comm, groveRequest_t *request);
groveResult_t groveReduceAsync(const void *sendbuff, void *recvbuff, size_t count, groveDataType_t datatype,
                               groveRedOp_t op, int root, groveComm_t comm, groveRequest_t *request);
groveResult_t groveBarrierAsync(groveComm_t comm, groveRequest_t *request);

groveResult_t groveTest(groveRequest_t request, int *done);
groveResult_t groveWait(groveRequest_t request);
groveResult_t groveRequestFree(groveRequest_t request);

#ifdef __cplusplus
}
#endif

#endif /* GROVE_H */

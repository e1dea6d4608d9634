/* Every function of grove.h given bad arguments: each must return the documented result code
 * with a message naming the problem (groveGetLastError), and never crash. Runs on one rank
 * (no peers needed). Exit status 0 only if every expectation held; prints each failure.
 *   cc badargs.c $(pkg-config --cflags --libs grove) && ./a.out */
#include <grove.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures = 0, checks = 0;

static void expect(const char *what, groveResult_t got, groveResult_t want, const char *needle) {
    checks++;
    const char *message = groveGetLastError();
    if (message == NULL) {
        printf("FAIL %s: groveGetLastError() returned NULL\n", what);
        failures++;
        return;
    }
    if (got != want) {
        printf("FAIL %s: returned %d (%s), expected %d (%s); last error: %s\n", what, got, groveGetErrorString(got), want,
               groveGetErrorString(want), message);
        failures++;
    } else if (needle && !strstr(message, needle)) {
        printf("FAIL %s: message \"%s\" does not mention \"%s\"\n", what, message, needle);
        failures++;
    }
}

#define EXPECT(call, want, needle) expect(#call, (call), (want), (needle))

/* A fresh one-rank communicator: a bad call fails the communicator it is made on. */
static groveComm_t fresh(void) {
    groveComm_t c = NULL;
    if (groveCommInitRank(&c, 1, 0, "127.0.0.1:29999", NULL) != groveSuccess) {
        printf("FAIL cannot make a one-rank communicator: %s\n", groveGetLastError());
        exit(1);
    }
    return c;
}

int main(void) {
    float x[8] = {1, 2, 3, 4, 5, 6, 7, 8}, y[8];
    const size_t huge = (size_t)-1; /* what a negative count becomes */
    groveComm_t c, dead = fresh(), bogus = (groveComm_t)(uintptr_t)0x1234;
    groveCommDestroy(dead);
    groveRequest_t r;
    int n;

    /* Version, strings, config. */
    EXPECT(groveGetVersion(NULL), groveInvalidArgument, "NULL");
    EXPECT(groveConfigInit(NULL), groveInvalidArgument, "NULL");
    for (int code = -1; code <= groveNumResults + 1; code++)
        if (groveGetErrorString((groveResult_t)code) == NULL) { printf("FAIL groveGetErrorString(%d) is NULL\n", code); failures++; }
    if (strcmp(groveGetErrorString((groveResult_t)99), "unknown result code") != 0) { printf("FAIL unknown code's string\n"); failures++; }

    /* Init. */
    groveConfig_t config = GROVE_CONFIG_INITIALIZER;
    EXPECT(groveCommInitRank(NULL, 1, 0, "127.0.0.1:29999", NULL), groveInvalidArgument, "comm is NULL");
    EXPECT(groveCommInitRank(&c, 0, 0, "127.0.0.1:29999", NULL), groveInvalidArgument, "nranks 0");
    EXPECT(groveCommInitRank(&c, -3, 0, "127.0.0.1:29999", NULL), groveInvalidArgument, "nranks -3");
    EXPECT(groveCommInitRank(&c, 2, 2, "127.0.0.1:29999", NULL), groveInvalidArgument, "rank 2");
    EXPECT(groveCommInitRank(&c, 2, -1, "127.0.0.1:29999", NULL), groveInvalidArgument, "rank -1");
    EXPECT(groveCommInitRank(&c, 1, 0, NULL, NULL), groveInvalidArgument, "master is NULL");
    EXPECT(groveCommInitRank(&c, 1, 0, "localhost", NULL), groveInvalidArgument, "host:port");
    EXPECT(groveCommInitRank(&c, 1, 0, "localhost:99999", NULL), groveInvalidArgument, "host:port");
    groveConfig_t junk;
    memset(&junk, 0, sizeof junk);
    EXPECT(groveCommInitRank(&c, 1, 0, "127.0.0.1:29999", &junk), groveInvalidArgument, "GROVE_CONFIG_INITIALIZER");
    config.algorithm = "fastest";
    EXPECT(groveCommInitRank(&c, 1, 0, "127.0.0.1:29999", &config), groveInvalidUsage, "fastest");
    config.algorithm = NULL;
    config.schedules = "/nonexistent/schedule.json";
    EXPECT(groveCommInitRank(&c, 1, 0, "127.0.0.1:29999", &config), groveInvalidUsage, "/nonexistent/schedule.json");
    config.schedules = NULL;
    config.timeoutSeconds = -1;
    EXPECT(groveCommInitRank(&c, 1, 0, "127.0.0.1:29999", &config), groveInvalidArgument, "timeoutSeconds");
    config.timeoutSeconds = 0;
    config.connections = 100;
    EXPECT(groveCommInitRank(&c, 1, 0, "127.0.0.1:29999", &config), groveInvalidArgument, "connections");
    EXPECT(groveCommInitFromEnv(NULL), groveInvalidArgument, "comm is NULL");
    unsetenv("RANK"); unsetenv("WORLD_SIZE"); setenv("WORLD_SIZE", "2", 1);
    EXPECT(groveCommInitFromEnv(&c), groveInvalidUsage, "RANK");
    setenv("RANK", "zero", 1);
    EXPECT(groveCommInitFromEnv(&c), groveInvalidUsage, "RANK=zero");
    unsetenv("RANK"); unsetenv("WORLD_SIZE");

    /* Handles: NULL, made up, destroyed. */
    groveComm_t handles[3] = {NULL, bogus, dead};
    const char *why[3] = {"comm is NULL", "not a live communicator", "not a live communicator"};
    for (int i = 0; i < 3; i++) {
        groveComm_t h = handles[i];
        EXPECT(groveCommDestroy(h), groveInvalidArgument, why[i]);
        EXPECT(groveCommAbort(h), groveInvalidArgument, why[i]);
        EXPECT(groveCommCount(h, &n), groveInvalidArgument, why[i]);
        EXPECT(groveCommUserRank(h, &n), groveInvalidArgument, why[i]);
        EXPECT(groveAllReduce(x, y, 8, groveFloat32, groveSum, h), groveInvalidArgument, why[i]);
        EXPECT(groveAllGather(x, y, 8, groveFloat32, h), groveInvalidArgument, why[i]);
        EXPECT(groveReduceScatter(x, y, 8, groveFloat32, groveSum, h), groveInvalidArgument, why[i]);
        EXPECT(groveBroadcast(x, y, 8, groveFloat32, 0, h), groveInvalidArgument, why[i]);
        EXPECT(groveReduce(x, y, 8, groveFloat32, groveSum, 0, h), groveInvalidArgument, why[i]);
        EXPECT(groveBarrier(h), groveInvalidArgument, why[i]);
        EXPECT(groveAllReduceAsync(x, y, 8, groveFloat32, groveSum, h, &r), groveInvalidArgument, why[i]);
        EXPECT(groveAllGatherAsync(x, y, 8, groveFloat32, h, &r), groveInvalidArgument, why[i]);
        EXPECT(groveReduceScatterAsync(x, y, 8, groveFloat32, groveSum, h, &r), groveInvalidArgument, why[i]);
        EXPECT(groveBroadcastAsync(x, y, 8, groveFloat32, 0, h, &r), groveInvalidArgument, why[i]);
        EXPECT(groveReduceAsync(x, y, 8, groveFloat32, groveSum, 0, h, &r), groveInvalidArgument, why[i]);
        EXPECT(groveBarrierAsync(h, &r), groveInvalidArgument, why[i]);
    }
    c = fresh();
    EXPECT(groveCommCount(c, NULL), groveInvalidArgument, "count is NULL");
    EXPECT(groveCommUserRank(c, NULL), groveInvalidArgument, "rank is NULL");
    EXPECT(groveCommCount(c, &n), groveSuccess, NULL);
    if (n != 1) { printf("FAIL groveCommCount gave %d\n", n); failures++; }

    /* Each bad argument of each collective, on a fresh communicator; then the same communicator
       keeps failing with that error, and a destroyed one is not live. */
#define BAD(call, needle)                                                        \
    do {                                                                         \
        c = fresh();                                                             \
        EXPECT(call, groveInvalidArgument, needle);                              \
        EXPECT(groveBarrier(c), groveInvalidArgument, needle);                   \
        EXPECT(groveCommDestroy(c), groveSuccess, NULL);                         \
    } while (0)
    BAD(groveAllReduce(x, y, 8, (groveDataType_t)3, groveSum, c), "datatype 3");
    BAD(groveAllReduce(x, y, 8, (groveDataType_t)-1, groveSum, c), "datatype -1");
    BAD(groveAllReduce(x, y, 8, groveFloat32, (groveRedOp_t)7, c), "op 7");
    BAD(groveAllReduce(x, y, huge, groveFloat32, groveSum, c), "too large");
    BAD(groveAllReduce(NULL, y, 8, groveFloat32, groveSum, c), "sendbuff is NULL");
    BAD(groveAllReduce(x, NULL, 8, groveFloat32, groveSum, c), "recvbuff is NULL");
    BAD(groveAllGather(x, y, huge / 2, groveFloat64, c), "too large");
    BAD(groveAllGather(NULL, y, 8, groveFloat32, c), "sendbuff is NULL");
    BAD(groveAllGather(x, y, 8, (groveDataType_t)5, c), "datatype 5");
    BAD(groveReduceScatter(x, y, huge, groveUint8, groveSum, c), "too large");
    BAD(groveReduceScatter(x, y, 8, groveInt32, (groveRedOp_t)-2, c), "op -2");
    BAD(groveReduceScatter(x, NULL, 8, groveInt32, groveMax, c), "recvbuff is NULL");
    BAD(groveBroadcast(x, y, 8, groveFloat32, 1, c), "root 1");
    BAD(groveBroadcast(x, y, 8, groveFloat32, -1, c), "root -1");
    BAD(groveBroadcast(NULL, y, 8, groveFloat32, 0, c), "sendbuff is NULL");
    BAD(groveBroadcast(x, y, huge, groveFloat32, 0, c), "too large");
    BAD(groveReduce(x, y, 8, groveFloat32, groveSum, 4, c), "root 4");
    BAD(groveReduce(x, NULL, 8, groveFloat32, groveSum, 0, c), "recvbuff is NULL");
    BAD(groveReduce(x, y, 8, groveBfloat16, (groveRedOp_t)5, 0, c), "op 5");
    BAD(groveAllReduceAsync(x, y, 8, (groveDataType_t)0, groveSum, c, &r), "datatype 0");
    BAD(groveAllGatherAsync(NULL, y, 8, groveFloat32, c, &r), "sendbuff is NULL");
    BAD(groveReduceScatterAsync(x, y, huge, groveInt64, groveSum, c, &r), "too large");
    BAD(groveBroadcastAsync(x, y, 8, groveFloat32, 9, c, &r), "root 9");
    BAD(groveReduceAsync(x, y, 8, groveFloat32, (groveRedOp_t)9, 0, c, &r), "op 9");

    /* Requests: NULL out-pointer, NULL, made up, freed. */
    c = fresh();
    EXPECT(groveAllReduceAsync(x, y, 8, groveFloat32, groveSum, c, NULL), groveInvalidArgument, "request is NULL");
    EXPECT(groveAllGatherAsync(x, y, 8, groveFloat32, c, NULL), groveInvalidArgument, "request is NULL");
    EXPECT(groveReduceScatterAsync(x, y, 8, groveFloat32, groveSum, c, NULL), groveInvalidArgument, "request is NULL");
    EXPECT(groveBroadcastAsync(x, y, 8, groveFloat32, 0, c, NULL), groveInvalidArgument, "request is NULL");
    EXPECT(groveReduceAsync(x, y, 8, groveFloat32, groveSum, 0, c, NULL), groveInvalidArgument, "request is NULL");
    EXPECT(groveBarrierAsync(c, NULL), groveInvalidArgument, "request is NULL");
    int done = -1;
    EXPECT(groveAllReduceAsync(x, y, 8, groveFloat32, groveSum, c, &r), groveSuccess, NULL);
    EXPECT(groveTest(r, NULL), groveInvalidArgument, "done is NULL");
    EXPECT(groveWait(r), groveSuccess, NULL);
    EXPECT(groveTest(r, &done), groveSuccess, NULL);
    if (done != 1) { printf("FAIL groveTest after groveWait: done %d\n", done); failures++; }
    for (int i = 0; i < 8; i++) if (y[i] != x[i]) { printf("FAIL one-rank allreduce wrong at %d\n", i); failures++; break; }
    EXPECT(groveRequestFree(r), groveSuccess, NULL);
    groveRequest_t freed = r, fake = (groveRequest_t)(uintptr_t)0x5678;
    groveRequest_t requests[3] = {NULL, fake, freed};
    const char *rwhy[3] = {"request is NULL", "not a live request", "not a live request"};
    for (int i = 0; i < 3; i++) {
        EXPECT(groveTest(requests[i], &done), groveInvalidArgument, rwhy[i]);
        EXPECT(groveWait(requests[i]), groveInvalidArgument, rwhy[i]);
        EXPECT(groveRequestFree(requests[i]), groveInvalidArgument, rwhy[i]);
    }
    /* Zero elements is a valid call with no memory. */
    EXPECT(groveAllReduce(NULL, NULL, 0, groveFloat32, groveSum, c), groveSuccess, NULL);
    /* A reduce's non-root ranks may pass NULL for recvbuff; on one rank every rank is the root. */
    EXPECT(groveReduce(x, y, 8, groveFloat32, groveMax, 0, c), groveSuccess, NULL);
    EXPECT(groveCommAbort(c), groveSuccess, NULL);
    EXPECT(groveBarrier(c), groveInvalidArgument, "not a live communicator");

    printf("%d checks, %d failed\n", checks, failures);
    return failures == 0 ? 0 : 1;
}

/* A rank that leaves mid-job: rank LOST (argv[1]) exits quietly after the first allreduce; every
 * other rank's next allreduce must fail within the timeout with groveRemoteError (or
 * groveTimeout) and a message naming that rank, and the communicator then keeps that error.
 * Prints one line per surviving rank; exit 0 only if every expectation held. */
#include <grove.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
    int lost = argc > 1 ? atoi(argv[1]) : 1, rank;
    groveComm_t comm;
    if (groveCommInitFromEnv(&comm) != groveSuccess) { printf("init: %s\n", groveGetLastError()); return 1; }
    groveCommUserRank(comm, &rank);
    float x[4096];
    for (int i = 0; i < 4096; i++) x[i] = 1;
    if (groveAllReduce(x, x, 4096, groveFloat32, groveSum, comm) != groveSuccess) { printf("first call: %s\n", groveGetLastError()); return 1; }
    if (rank == lost) {
        /* Gone without a word a moment later (its last frames of call 1 delivered first: an exit
           with unread bytes resets the connections, which could cost a peer call 1's data). */
        usleep(300000);
        exit(0);
    }
    groveResult_t r = groveAllReduce(x, x, 4096, groveFloat32, groveSum, comm);
    char name[32];
    snprintf(name, sizeof name, "rank %d", lost);
    int ok = (r == groveRemoteError || r == groveTimeout) && strstr(groveGetLastError(), name);
    groveResult_t again = groveBarrier(comm);
    ok = ok && again == r;
    printf("rank %d: %s (%s): %s\n", rank, ok ? "ok" : "FAIL", groveGetErrorString(r), groveGetLastError());
    groveCommDestroy(comm);
    return ok ? 0 : 1;
}

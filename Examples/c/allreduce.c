/* A C program using Grove as NCCL is used: join the job the launcher describes, average a
 * "gradient" with allreduce, gather every rank's id with allgather, check both.
 *
 *   cc allreduce.c $(pkg-config --cflags --libs grove) -o allreduce
 *   grove launch -n 4 -- ./allreduce [COUNT]
 */
#include <grove.h>
#include <stdio.h>
#include <stdlib.h>

#define CHECK(call)                                                                              \
    do {                                                                                         \
        groveResult_t r_ = (call);                                                               \
        if (r_ != groveSuccess) {                                                                \
            fprintf(stderr, "%s failed: %s: %s\n", #call, groveGetErrorString(r_), groveGetLastError()); \
            exit(1);                                                                             \
        }                                                                                        \
    } while (0)

int main(int argc, char **argv) {
    size_t count = argc > 1 ? strtoull(argv[1], NULL, 10) : (1u << 20);
    int version, nranks, rank;
    CHECK(groveGetVersion(&version));
    if (version != GROVE_VERSION_CODE) {
        fprintf(stderr, "libgrove is version %d, grove.h %d\n", version, GROVE_VERSION_CODE);
        return 1;
    }
    groveComm_t comm;
    CHECK(groveCommInitFromEnv(&comm));
    CHECK(groveCommCount(comm, &nranks));
    CHECK(groveCommUserRank(comm, &rank));

    /* Each rank's gradient is rank + 1 everywhere; the average is (n + 1) / 2, exact in float. */
    float *gradient = malloc(count * sizeof(float));
    for (size_t i = 0; i < count; i++) gradient[i] = (float)(rank + 1);
    CHECK(groveAllReduce(gradient, gradient, count, groveFloat32, groveAvg, comm));
    size_t wrong = 0;
    for (size_t i = 0; i < count; i++) wrong += gradient[i] != (float)(nranks + 1) / 2;

    /* The same, out of place and non-blocking. */
    int64_t *ones = malloc(count * sizeof(int64_t)), *sum = malloc(count * sizeof(int64_t));
    for (size_t i = 0; i < count; i++) ones[i] = (int64_t)i + rank;
    groveRequest_t request;
    CHECK(groveAllReduceAsync(ones, sum, count, groveInt64, groveSum, comm, &request));
    CHECK(groveWait(request));
    CHECK(groveRequestFree(request));
    for (size_t i = 0; i < count; i++) wrong += sum[i] != (int64_t)i * nranks + (int64_t)nranks * (nranks - 1) / 2;

    int32_t id = rank, *ids = malloc(nranks * sizeof(int32_t));
    CHECK(groveAllGather(&id, ids, 1, groveInt32, comm));
    for (int r = 0; r < nranks; r++) wrong += ids[r] != r;
    CHECK(groveBarrier(comm));

    size_t total = 0;
    CHECK(groveAllReduce(&wrong, &total, 1, groveInt64, groveSum, comm));
    if (rank == 0) printf("grove %d: allreduce of %zu floats and %zu int64 on %d ranks, allgather of ranks: %zu wrong\n",
                          version, count, count, nranks, total);
    CHECK(groveCommDestroy(comm));
    free(gradient); free(ones); free(sum); free(ids);
    return total == 0 ? 0 : 1;
}

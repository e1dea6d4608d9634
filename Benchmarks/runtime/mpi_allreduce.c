/* MPI_Allreduce (float, sum, out of place) timed the way `grove bench` times Grove: each call is
 * timed alone, an iteration's time is the slowest rank's, the row is the mean (and p50) over
 * iterations; busbw = size / time * 2(n-1)/n (GB = 1e9 bytes); #wrong from the same
 * deterministic data as Grove's DataPattern. Prints CSV rows to stdout on rank 0.
 * Usage: mpi_allreduce MINBYTES MAXBYTES FACTOR ITERS WARMUP */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    int rank, n;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &n);
    if (argc < 6) {
        if (rank == 0) fprintf(stderr, "usage: %s MINBYTES MAXBYTES FACTOR ITERS WARMUP\n", argv[0]);
        MPI_Abort(MPI_COMM_WORLD, 2);
    }
    long minb = atol(argv[1]), maxb = atol(argv[2]), factor = atol(argv[3]);
    int iters = atoi(argv[4]), warmup = atoi(argv[5]);
    float *in = malloc(maxb), *out = malloc(maxb);
    double *t = malloc(sizeof(double) * iters), *tmax = malloc(sizeof(double) * iters);
    for (long bytes = minb; bytes <= maxb; bytes *= factor) {
        long count = bytes / 4;
        for (long i = 0; i < count; i++) in[i] = (float)((rank * 31 + i * 7) % 17 + 1);
        for (int i = 0; i < warmup; i++) MPI_Allreduce(in, out, count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
        MPI_Barrier(MPI_COMM_WORLD);
        for (int i = 0; i < iters; i++) {
            double t0 = MPI_Wtime();
            MPI_Allreduce(in, out, count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
            t[i] = MPI_Wtime() - t0;
        }
        MPI_Allreduce(t, tmax, iters, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
        long wrong = 0, total = 0;
        for (long i = 0; i < count; i++) {
            double want = 0;
            for (int r = 0; r < n; r++) want += (double)((r * 31 + i * 7) % 17 + 1);
            if (out[i] != (float)want) wrong++;
        }
        MPI_Reduce(&wrong, &total, 1, MPI_LONG, MPI_SUM, 0, MPI_COMM_WORLD);
        if (rank == 0) {
            double mean = 0;
            for (int i = 0; i < iters; i++) mean += tmax[i];
            mean /= iters;
            qsort(tmax, iters, sizeof(double), cmp);
            double algbw = bytes / mean / 1e9;
            printf("%ld,%ld,%.2f,%.2f,%.4f,%.4f,%ld\n", bytes, count, mean * 1e6, tmax[(iters - 1) / 2] * 1e6, algbw,
                   algbw * 2.0 * (n - 1) / n, total);
            fflush(stdout);
        }
        if (factor < 2) break;
    }
    MPI_Finalize();
    return 0;
}

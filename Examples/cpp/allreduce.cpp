// A C++ program using Grove through its C API: a small RAII wrapper that turns result codes into
// exceptions, a non-blocking allreduce overlapped with local work, reduce-scatter then allgather
// (the two halves of an allreduce) checked against the allreduce, and a broadcast.
//
//   c++ -std=c++17 allreduce.cpp $(pkg-config --cflags --libs grove) -o allreduce-cpp
//   grove launch -n 4 -- ./allreduce-cpp
#include <grove.h>

#include <cstdio>
#include <numeric>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

void check(groveResult_t r, const char *what) {
    if (r != groveSuccess) throw std::runtime_error(std::string(what) + ": " + groveGetErrorString(r) + ": " + groveGetLastError());
}

class Communicator {
  public:
    Communicator() { check(groveCommInitFromEnv(&comm_), "groveCommInitFromEnv"); }
    ~Communicator() { if (comm_) groveCommDestroy(comm_); }
    Communicator(const Communicator &) = delete;
    Communicator &operator=(const Communicator &) = delete;

    int rank() const { int r; check(groveCommUserRank(comm_, &r), "groveCommUserRank"); return r; }
    int size() const { int n; check(groveCommCount(comm_, &n), "groveCommCount"); return n; }
    groveComm_t get() const { return comm_; }

  private:
    groveComm_t comm_ = nullptr;
};

// A request that is waited on and freed when it goes out of scope.
class Request {
  public:
    explicit Request(groveRequest_t r) : r_(r) {}
    ~Request() { groveRequestFree(r_); }
    Request(const Request &) = delete;
    void wait() { check(groveWait(r_), "groveWait"); }

  private:
    groveRequest_t r_;
};

}  // namespace

int main() try {
    Communicator comm;
    const int rank = comm.rank(), n = comm.size();
    const size_t count = 3 * 5 * 7 * 11 * 13 * static_cast<size_t>(n);  // divisible by n, not a power of two
    long wrong = 0;

    std::vector<double> grad(count), sum(count);
    for (size_t i = 0; i < count; i++) grad[i] = static_cast<double>(i % 97) + rank;
    groveRequest_t raw;
    check(groveAllReduceAsync(grad.data(), sum.data(), count, groveFloat64, groveSum, comm.get(), &raw), "groveAllReduceAsync");
    Request pending(raw);
    // Local work while the allreduce runs on Grove's thread.
    double local = std::accumulate(grad.begin(), grad.end(), 0.0);
    pending.wait();
    for (size_t i = 0; i < count; i++) wrong += sum[i] != n * static_cast<double>(i % 97) + n * (n - 1) / 2.0;

    // Reduce-scatter into this rank's part, allgather the parts: the allreduce again.
    const size_t part = count / n;
    std::vector<double> mine(part), again(count);
    check(groveReduceScatter(grad.data(), mine.data(), part, groveFloat64, groveSum, comm.get()), "groveReduceScatter");
    check(groveAllGather(mine.data(), again.data(), part, groveFloat64, comm.get()), "groveAllGather");
    for (size_t i = 0; i < count; i++) wrong += again[i] != sum[i];

    std::vector<int> word(1000, rank == n - 1 ? 42 : -1);
    check(groveBroadcast(word.data(), word.data(), word.size(), groveInt32, n - 1, comm.get()), "groveBroadcast");
    for (int w : word) wrong += w != 42;

    long total = 0;
    check(groveAllReduce(&wrong, &total, 1, groveInt64, groveSum, comm.get()), "groveAllReduce");
    if (rank == 0)
        std::printf("C++: allreduce (async, %.0f summed locally meanwhile), reduce-scatter + allgather and broadcast of %zu doubles on %d ranks: %ld wrong\n",
                    local, count, n, total);
    return total == 0 ? 0 : 1;
} catch (const std::exception &e) {
    std::fprintf(stderr, "allreduce-cpp: %s\n", e.what());
    return 2;
}

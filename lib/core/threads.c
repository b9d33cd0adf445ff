/* The thread setting: one number for the OpenMP loops and BLIS. It is the library's one
 * process-wide setting; it is read from CGRAD_NUM_THREADS when the library loads. */
#include <stdlib.h>
#include <unistd.h>

#include "core.h"

/* Elements below which a loop stays on one thread: thread start-up costs more. */
enum { PARALLEL_GRAIN = 32768 };

static atomic_int num_threads;

static int default_threads(void)
{
    const char *env = getenv("CGRAD_NUM_THREADS");
    if (env) {
        char *end;
        long n = strtol(env, &end, 10);
        if (*end == '\0' && n >= 1 && n <= 1024)
            return (int)n;
    }
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    return cores >= 1 ? (int)cores : 1;
}

__attribute__((constructor)) static void init_threads(void)
{
    atomic_store(&num_threads, default_threads());
}

void cg_set_num_threads(int n) { atomic_store(&num_threads, n >= 1 ? n : default_threads()); }

int cg_get_num_threads(void)
{
    int n = atomic_load(&num_threads);
    return n >= 1 ? n : 1;
}

int cg__threads_for(int64_t n, int64_t work)
{
    int t = cg_get_num_threads();
    if (t <= 1 || n * (work > 0 ? work : 1) < PARALLEL_GRAIN)
        return 1;
    int64_t most = n * work / (PARALLEL_GRAIN / 2);
    return most < t ? (int)(most > 1 ? most : 1) : t;
}

/* The timing harness: one case in one (child) process. The first step is timed on its
 * own and its library mallocs counted; then warm-up steps until WARM_S has passed, which
 * also sizes a run to last about RUN_S; then one run per command from the driver, so the
 * driver can alternate our runs with the peer's. bench_torch.py's Timer does the same. */
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cgrad/cgrad.h>

#include "bench.h"

static const double WARM_S = 0.3, RUN_S = 0.15;
static const double QUICK_WARM_S = 0.0, QUICK_RUN_S = 0.02;

double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Resident memory now, from /proc/self/status (0 if unreadable). */
static int64_t vmrss_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long long kb = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %lld", &kb) == 1)
            break;
    if (f)
        fclose(f);
    return (int64_t)kb;
}

/* The process-wide malloc counter of the preloaded counting allocator, if it is there. */
typedef unsigned long long (*count_fn)(void);

static count_fn process_counter(void)
{
    void *f = dlsym(RTLD_DEFAULT, "cgrad_bench_malloc_calls");
    count_fn fn;
    memcpy(&fn, &f, sizeof fn); /* object to function pointer, without a cast ISO C lacks */
    return f ? fn : NULL;
}

static bool write_all(int fd, const void *p, size_t n)
{
    const char *b = p;
    while (n > 0) {
        ssize_t w = write(fd, b, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        b += w;
        n -= (size_t)w;
    }
    return true;
}

static int send_fail(int fd, const char *what)
{
    bench_msg m;
    memset(&m, 0, sizeof m);
    m.kind = BENCH_FAIL;
    snprintf(m.text, sizeof m.text, "%s", what);
    write_all(fd, &m, sizeof m);
    return 1;
}

/* The steps callgrind's --toggle-collect and perf's symbol filters look for: kept out of
 * line so that setup and warm-up stay outside a profile. */
__attribute__((noinline)) int bench_profiled_steps(const bench_case *c, void *ctx, int64_t n);
__attribute__((noinline)) int bench_profiled_steps(const bench_case *c, void *ctx, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        if (c->step(ctx) != 0)
            return -1;
    return 0;
}

int bench_child(const bench_case *c, const bench_opts *o, int cmd_fd, int res_fd)
{
    int64_t rss_base = vmrss_kb();
    cg_set_num_threads(o->threads);
    bench_info info;
    memset(&info, 0, sizeof info);
    void *ctx = c->setup(o, &info);
    if (!ctx)
        return send_fail(res_fd, "setup failed (see stderr)");

    count_fn proc = process_counter();
    unsigned long long p0 = proc ? proc() : 0;
    cg_alloc_stats s0 = cg_alloc_get_stats();
    double t0 = bench_now();
    if (c->step(ctx) != 0) {
        c->teardown(ctx);
        return send_fail(res_fd, "first step failed (see stderr)");
    }
    double first = bench_now() - t0;
    cg_alloc_stats s1 = cg_alloc_get_stats();
    unsigned long long p1 = proc ? proc() : 0;

    int64_t spr = 1, steps_after = 0;
    if (!info.single_run) {
        double warm = o->quick ? QUICK_WARM_S : WARM_S, run = o->quick ? QUICK_RUN_S : RUN_S;
        int64_t nwarm = 0;
        double el;
        t0 = bench_now();
        do {
            if (c->step(ctx) != 0) {
                c->teardown(ctx);
                return send_fail(res_fd, "warm-up step failed (see stderr)");
            }
            nwarm++;
            el = bench_now() - t0;
        } while (nwarm < (o->quick ? 1 : 2) || el < warm);
        steps_after += nwarm;
        double per = el / (double)nwarm;
        spr = per > 0 ? (int64_t)(run / per + 0.5) : 1;
        if (spr < 1)
            spr = 1;
    }

    bench_msg m;
    memset(&m, 0, sizeof m);
    m.kind = BENCH_READY;
    m.ms = first * 1e3;
    m.steps_per_run = spr;
    m.info = info;
    if (!write_all(res_fd, &m, sizeof m)) {
        c->teardown(ctx);
        return 1;
    }

    bool first_pending = info.single_run; /* a single-run case's run is its first step */
    for (;;) {
        char cmd;
        ssize_t r = read(cmd_fd, &cmd, 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r != 1 || cmd != BENCH_CMD_RUN)
            break;
        memset(&m, 0, sizeof m);
        m.kind = BENCH_RUN;
        if (first_pending) {
            first_pending = false;
            m.ms = first * 1e3;
        } else {
            t0 = bench_now();
            if (bench_profiled_steps(c, ctx, spr) != 0) {
                c->teardown(ctx);
                return send_fail(res_fd, "step failed (see stderr)");
            }
            m.ms = (bench_now() - t0) * 1e3 / (double)spr;
            steps_after += spr;
        }
        if (!write_all(res_fd, &m, sizeof m)) {
            c->teardown(ctx);
            return 1;
        }
    }

    cg_alloc_stats s2 = cg_alloc_get_stats();
    unsigned long long p2 = proc ? proc() : 0;
    memset(&m, 0, sizeof m);
    m.kind = BENCH_END;
    m.proc_first = proc ? (int64_t)(p1 - p0) : -1;
    m.proc_after = proc ? (int64_t)(p2 - p1) : -1;
    m.mallocs_first = s1.malloc_calls - s0.malloc_calls;
    m.mallocs_after = s2.malloc_calls - s1.malloc_calls;
    m.steps_after = steps_after;
    m.alloc_peak = s2.peak_bytes;
    m.rss_base_kb = rss_base;
    c->teardown(ctx);
    return write_all(res_fd, &m, sizeof m) ? 0 : 1;
}

int bench_profile(const bench_case *c, const bench_opts *o, int warmup, int steps)
{
    cg_set_num_threads(o->threads);
    bench_info info;
    memset(&info, 0, sizeof info);
    void *ctx = c->setup(o, &info);
    if (!ctx)
        return 1;
    int st = 0;
    for (int i = 0; st == 0 && i < warmup; i++)
        st = c->step(ctx);
    cg_alloc_stats s0 = cg_alloc_get_stats();
    double t0 = bench_now();
    if (st == 0)
        st = bench_profiled_steps(c, ctx, steps);
    double el = bench_now() - t0;
    cg_alloc_stats s1 = cg_alloc_get_stats();
    if (st == 0)
        printf("profile case=%s steps=%d ms_per_step=%.4f mallocs=%llu\n", c->name, steps,
               steps > 0 ? el * 1e3 / steps : 0.0,
               (unsigned long long)(s1.malloc_calls - s0.malloc_calls));
    c->teardown(ctx);
    return st == 0 ? 0 : 1;
}

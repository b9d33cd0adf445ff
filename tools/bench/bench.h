/* cgrad-bench's pieces: the cases (cases.c), the timing harness that runs one case in a
 * child process (harness.c), the PyTorch peer (peer.c), the counting allocator preloaded
 * into the case processes (malloc_count.c), and the driver (../cgrad-bench.c). */
#ifndef CGRAD_BENCH_H
#define CGRAD_BENCH_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

/* Settings shared by every case. */
typedef struct bench_opts {
    bool quick;  /* a few short runs: a smoke test, not a measurement */
    int threads; /* cg_set_num_threads and BLIS; the peer uses the same count */
} bench_opts;

/* What a case's setup tells the harness about one step. */
typedef struct bench_info {
    double flops;    /* floating-point operations per step (0: not reported) */
    double ops;      /* ops per step, for a per-op time (0: not reported) */
    bool single_run; /* time the first step only, once (an epoch) */
} bench_info;

/* A case: setup returns its state (NULL on failure, with a message on stderr), step runs
 * one training step (0 on success), teardown frees everything setup made. */
typedef struct bench_case {
    const char *name;
    const char *what;
    double target; /* the bound on cgrad_ms / torch_ms (0: none) */
    void *(*setup)(const bench_opts *o, bench_info *info);
    int (*step)(void *ctx);
    void (*teardown)(void *ctx);
} bench_case;

extern const bench_case bench_cases[];
extern const int bench_ncases;

/* The case called name, or NULL. */
const bench_case *bench_find(const char *name);

/* Floating-point operations of the matrix products in one training step of wide256
 * (forward, dW of every layer, dX of every layer but the first). */
double bench_wide_flops(void);

/* ---- the harness (harness.c) ---- */

/* Messages from the child that runs a case to the driver. */
typedef enum bench_msg_kind { BENCH_READY, BENCH_RUN, BENCH_END, BENCH_FAIL } bench_msg_kind;

typedef struct bench_msg {
    int kind;
    double ms;             /* READY: the first step; RUN: per step over the run */
    int64_t steps_per_run; /* READY */
    bench_info info;       /* READY */
    uint64_t mallocs_first;  /* END: library mallocs during the first step */
    uint64_t mallocs_after;  /* END: library mallocs in every later step together */
    int64_t proc_first;      /* END: the process's mallocs (everyone's) in the first step, */
    int64_t proc_after;      /*      and in every later step; -1 without the counting
                              *      allocator (tools/bench/malloc_count.c) */
    int64_t steps_after;     /* END: steps after the first */
    int64_t alloc_peak;      /* END: the library allocator's peak live bytes */
    int64_t rss_base_kb;     /* END: resident memory before setup */
    char text[240];          /* FAIL: what went wrong */
} bench_msg;

/* Commands from the driver: 'r' one run, 'q' finish (END, then exit). */
enum { BENCH_CMD_RUN = 'r', BENCH_CMD_QUIT = 'q' };

/* The child's side: set the case up, time its first step and warm it up, send READY, then
 * answer commands from cmd_fd on res_fd. Returns the exit status. */
int bench_child(const bench_case *c, const bench_opts *o, int cmd_fd, int res_fd);

/* Run steps of c in this process without timing runs, for profilers (callgrind, perf):
 * setup, warmup steps, then `steps` steps inside bench_profiled_steps. */
int bench_profile(const bench_case *c, const bench_opts *o, int warmup, int steps);

/* Seconds on the monotonic clock. */
double bench_now(void);

/* ---- the PyTorch peer (peer.c) ---- */

typedef struct bench_peer {
    bool ok;             /* torch answered and the protocol holds */
    pid_t pid;
    FILE *in, *out;      /* its stdin (we write), its stdout (we read) */
    char status[1024];   /* its first line (version, BLAS), or why it is missing */
    bool case_done;      /* the current case's "done" line was read */
    int64_t rss_peak_kb; /* from the current case's "rss" line */
} bench_peer;

/* Start python running script with the thread count; p->ok says whether torch answered. */
void bench_peer_start(bench_peer *p, const char *python, const char *script, int threads);
/* Tell the peer to exit, and wait for it. */
void bench_peer_stop(bench_peer *p);
/* Set up case name on the peer (its first step and warm-up); false if it failed. */
bool bench_peer_case(bench_peer *p, const char *name, bool quick, double *first_ms,
                     int64_t *steps_per_run);
/* One run of the current case: *ms per step. */
bool bench_peer_run(bench_peer *p, const char *name, double *ms);
/* End the current case (also after a failure) and collect its resident memory. */
void bench_peer_finish(bench_peer *p, const char *name, int64_t *rss_base_kb,
                       int64_t *rss_peak_kb);

#endif

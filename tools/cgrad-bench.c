/*
 * cgrad-bench: libcgrad against PyTorch, in the same run, on the same work.
 *
 * Each case (tools/bench/cases.c) runs in a process of its own: this program started
 * again (--child) with tools/bench/malloc_count.c preloaded, which counts every malloc of
 * the process (the OpenMP runtime's, BLIS's and libc's as well as libcgrad's, which
 * cg_alloc_get_stats counts). Its peak resident memory comes from wait4's ru_maxrss; the
 * library allocator's peak and the mallocs of every step after the first are reported too.
 * The PyTorch side (tools/bench_torch.py under /usr/bin/python3, tools/bench/peer.c) does
 * the same work with the same thread count, each case in a process of its own as well.
 * The driver hands out runs to the two sides in turn (a run lasts about 0.15 s), so that
 * load from elsewhere on the machine falls on both alike, and reports the medians:
 *
 *   case=NAME cgrad_ms=X torch_ms=Y ratio=X/Y ...
 *
 * Usage: cgrad-bench [--quick] [--case NAME[,NAME...]]... [--threads N] [--no-torch]
 *                    [--python PATH] [--torch-script PATH] [--markdown] [--list]
 *                    [--no-malloc-count]
 *        cgrad-bench --profile STEPS --case NAME   (in-process, libcgrad only: for
 *                    valgrind --tool=callgrind --toggle-collect=bench_profiled_steps)
 * Exit status: 0 when every case ran (targets missed or not), 1 on a failure, 2 on usage.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <blis.h>

#include <cgrad/cgrad.h>

#include "bench/bench.h"

#ifndef CG_BENCH_TORCH_SCRIPT
#define CG_BENCH_TORCH_SCRIPT "tools/bench_torch.py"
#endif

enum { RUNS = 9, QUICK_RUNS = 3, MAX_RUNS = 16 };

/* ---------------------------------------------------------------- one case */

typedef struct side {
    bool ok;
    double first_ms, ms, ms_min, ms_max;
    int64_t steps_per_run;
    int64_t rss_base_kb, rss_peak_kb;
} side;

typedef struct result {
    const bench_case *c;
    bench_info info;
    side cg, torch;
    uint64_t mallocs_first, mallocs_after;
    int64_t proc_first, proc_after; /* -1: not counted */
    int64_t steps_after, alloc_peak;
} result;

/* How the driver starts a case's process. */
typedef struct launch {
    const char *self;  /* this program, for exec */
    const char *shim;  /* the counting allocator to preload, or NULL */
} launch;

static bool read_msg(int fd, bench_msg *m)
{
    size_t got = 0;
    while (got < sizeof *m) {
        ssize_t r = read(fd, (char *)m + got, sizeof *m - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return false;
        got += (size_t)r;
    }
    return true;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void summarise(side *s, double *t, int n)
{
    qsort(t, (size_t)n, sizeof *t, cmp_double);
    s->ms = n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
    s->ms_min = t[0];
    s->ms_max = t[n - 1];
}

/* In the forked child: exec this program again as `--child` with the counting allocator
 * preloaded, so that the case runs in a fresh process that counts every malloc; without
 * the allocator (or if exec fails), run the case in the fork itself. */
static int case_process(const bench_case *c, const bench_opts *o, const launch *l, int cmd_fd,
                        int res_fd)
{
    if (l->shim) {
        char preload[4096], fds[2][16], threads[16];
        const char *old = getenv("LD_PRELOAD");
        snprintf(preload, sizeof preload, "%s%s%s", l->shim, old && *old ? ":" : "",
                 old ? old : "");
        setenv("LD_PRELOAD", preload, 1);
        snprintf(fds[0], sizeof fds[0], "%d", cmd_fd);
        snprintf(fds[1], sizeof fds[1], "%d", res_fd);
        snprintf(threads, sizeof threads, "%d", o->threads);
        execl(l->self, l->self, "--child", c->name, fds[0], fds[1], "--threads", threads,
              o->quick ? "--quick" : (char *)NULL, (char *)NULL);
        unsetenv("LD_PRELOAD");
    }
    return bench_child(c, o, cmd_fd, res_fd);
}

static bool run_case(const bench_case *c, const bench_opts *o, const launch *l, bench_peer *p,
                     result *r)
{
    memset(r, 0, sizeof *r);
    r->c = c;
    int cmd[2], res[2];
    if (pipe(cmd) != 0 || pipe(res) != 0) {
        perror("cgrad-bench: pipe");
        return false;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        close(cmd[1]), close(res[0]);
        if (p->in)
            close(fileno(p->in));
        if (p->out)
            close(fileno(p->out));
        _exit(case_process(c, o, l, cmd[0], res[1]));
    }
    close(cmd[0]);
    close(res[1]);
    if (pid < 0) {
        perror("cgrad-bench: fork");
        close(cmd[1]), close(res[0]);
        return false;
    }
    bench_msg m;
    bool ok = read_msg(res[0], &m) && m.kind == BENCH_READY;
    if (ok) {
        r->info = m.info;
        r->cg.first_ms = m.ms;
        r->cg.steps_per_run = m.steps_per_run;
    } else {
        fprintf(stderr, "cgrad-bench: %s: %s\n", c->name,
                m.kind == BENCH_FAIL ? m.text : "the case's process died");
    }
    bool torch_sent = ok && p->ok;
    bool torch = torch_sent && bench_peer_case(p, c->name, o->quick, &r->torch.first_ms,
                                               &r->torch.steps_per_run);

    int runs = r->info.single_run ? 1 : o->quick ? QUICK_RUNS : RUNS;
    double tc[MAX_RUNS], tt[MAX_RUNS];
    int nc = 0, nt = 0;
    for (int i = 0; ok && i < runs; i++) {
        char go = BENCH_CMD_RUN;
        ok = write(cmd[1], &go, 1) == 1 && read_msg(res[0], &m) && m.kind == BENCH_RUN;
        if (ok)
            tc[nc++] = m.ms;
        else
            fprintf(stderr, "cgrad-bench: %s: %s\n", c->name,
                    m.kind == BENCH_FAIL ? m.text : "the case's process died");
        if (torch && (torch = bench_peer_run(p, c->name, &tt[nt])))
            nt++;
    }
    char quit = BENCH_CMD_QUIT;
    if (ok && (write(cmd[1], &quit, 1) != 1 || !read_msg(res[0], &m) || m.kind != BENCH_END))
        ok = false;
    if (ok) {
        r->mallocs_first = m.mallocs_first;
        r->mallocs_after = m.mallocs_after;
        r->proc_first = m.proc_first;
        r->proc_after = m.proc_after;
        r->steps_after = m.steps_after;
        r->alloc_peak = m.alloc_peak;
        r->cg.rss_base_kb = m.rss_base_kb;
    }
    close(cmd[1]);
    close(res[0]);
    int status;
    struct rusage ru;
    if (wait4(pid, &status, 0, &ru) == pid) {
        r->cg.rss_peak_kb = ru.ru_maxrss;
        ok = ok && WIFEXITED(status) && WEXITSTATUS(status) == 0;
    }
    if (ok && nc > 0) {
        r->cg.ok = true;
        summarise(&r->cg, tc, nc);
    }
    if (torch_sent && p->ok)
        bench_peer_finish(p, c->name, &r->torch.rss_base_kb, &r->torch.rss_peak_kb);
    if (torch && nt == runs) {
        r->torch.ok = true;
        summarise(&r->torch, tt, nt);
    }
    return ok;
}

/* ---------------------------------------------------------------- reporting */

static double mb(int64_t kb) { return (double)kb / 1024.0; }

static void print_result(const result *r)
{
    const side *a = &r->cg, *b = &r->torch;
    printf("case=%s", r->c->name);
    if (a->ok)
        printf(" cgrad_ms=%.4f", a->ms);
    else
        printf(" cgrad_ms=FAILED");
    if (b->ok)
        printf(" torch_ms=%.4f", b->ms);
    else
        printf(" torch_ms=NA");
    if (a->ok && b->ok)
        printf(" ratio=%.3f", a->ms / b->ms);
    else
        printf(" ratio=NA");
    if (r->c->target > 0) {
        printf(" target<=%.2f", r->c->target);
        if (a->ok && b->ok)
            printf(" met=%s", a->ms / b->ms <= r->c->target ? "yes" : "no");
    }
    printf(" cgrad_peak_rss_mb=%.1f", mb(a->rss_peak_kb));
    if (b->rss_peak_kb)
        printf(" torch_peak_rss_mb=%.1f", mb(b->rss_peak_kb));
    printf(" cgrad_alloc_peak_mb=%.1f", (double)r->alloc_peak / (1024.0 * 1024.0));
    printf(" cgrad_mallocs_first_step=%llu cgrad_mallocs_after_first=%llu steps_after_first=%lld",
           (unsigned long long)r->mallocs_first, (unsigned long long)r->mallocs_after,
           (long long)r->steps_after);
    if (r->proc_after >= 0)
        printf(" process_mallocs_first_step=%lld process_mallocs_after_first=%lld",
               (long long)r->proc_first, (long long)r->proc_after);
    else
        printf(" process_mallocs=NA");
    if (r->info.flops > 0 && a->ok)
        printf(" cgrad_gflops=%.1f", r->info.flops / (a->ms * 1e6));
    if (r->info.flops > 0 && b->ok)
        printf(" torch_gflops=%.1f", r->info.flops / (b->ms * 1e6));
    if (r->info.ops > 0 && a->ok)
        printf(" cgrad_us_per_op=%.2f", a->ms * 1e3 / r->info.ops);
    if (r->info.ops > 0 && b->ok)
        printf(" torch_us_per_op=%.2f", b->ms * 1e3 / r->info.ops);
    if (a->ok)
        printf(" cgrad_first_ms=%.3f cgrad_range_ms=%.4f-%.4f steps_per_run=%lld", a->first_ms,
               a->ms_min, a->ms_max, (long long)a->steps_per_run);
    if (b->ok)
        printf(" torch_first_ms=%.3f torch_range_ms=%.4f-%.4f torch_steps_per_run=%lld",
               b->first_ms, b->ms_min, b->ms_max, (long long)b->steps_per_run);
    printf(" cgrad_base_rss_mb=%.1f", mb(a->rss_base_kb));
    if (b->rss_base_kb)
        printf(" torch_base_rss_mb=%.1f", mb(b->rss_base_kb));
    printf("\n");
    fflush(stdout);
}

static const result *find_result(const result *rs, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(rs[i].c->name, name))
            return &rs[i];
    return NULL;
}

static void print_targets(const result *rs, int n, const bench_opts *o)
{
    printf("# targets (issue 7; ratio = cgrad_ms / torch_ms on %d threads)%s:\n", o->threads,
           o->quick ? " [--quick: a smoke test, not a measurement]" : "");
    for (int i = 0; i < n; i++) {
        const result *r = &rs[i];
        if (r->c->target <= 0)
            continue;
        if (!r->cg.ok || !r->torch.ok) {
            printf("#   %-8s ratio <= %.2f: not measured (%s)\n", r->c->name, r->c->target,
                   r->cg.ok ? "no PyTorch peer" : "the case failed");
            continue;
        }
        double ratio = r->cg.ms / r->torch.ms;
        if (ratio <= r->c->target)
            printf("#   %-8s ratio %.3f <= %.2f: met\n", r->c->name, ratio, r->c->target);
        else
            printf("#   %-8s ratio %.3f <= %.2f: NOT met (libcgrad needs to be %.2fx faster)\n",
                   r->c->name, ratio, r->c->target, ratio / r->c->target);
    }
    const result *w = find_result(rs, n, "wide256"), *g = find_result(rs, n, "gemm");
    if (w && g && w->cg.ok && g->cg.ok) {
        double gw = w->info.flops / (w->cg.ms * 1e6), gb = g->info.flops / (g->cg.ms * 1e6);
        printf("#   wide256  %.1f GFLOP/s = %.0f%% of BLIS sgemm's %.1f GFLOP/s at its sizes, "
               ">= 75%%: %s\n",
               gw, 100 * gw / gb, gb, gw >= 0.75 * gb ? "met" : "NOT met");
    }
    uint64_t after = 0;
    int64_t steps = 0, proc = 0;
    int cases = 0;
    bool counted = true;
    for (int i = 0; i < n; i++) {
        if (!rs[i].cg.ok || rs[i].info.single_run || !strcmp(rs[i].c->name, "gemm"))
            continue;
        after += rs[i].mallocs_after;
        steps += rs[i].steps_after;
        proc += rs[i].proc_after;
        counted = counted && rs[i].proc_after >= 0;
        cases++;
    }
    if (cases) {
        printf("#   mallocs  libcgrad's allocator: %llu mallocs in %lld training steps after the "
               "first (%d cases), 0 wanted: %s\n",
               (unsigned long long)after, (long long)steps, cases, after == 0 ? "met" : "NOT met");
        if (counted)
            printf("#   mallocs  the whole process (OpenMP runtime, BLIS, libc too): %lld in "
                   "those steps, %.2f per step: %s\n",
                   (long long)proc, steps ? (double)proc / (double)steps : 0.0,
                   proc == 0 ? "met" : "NOT met");
    }
    const result *e = find_result(rs, n, "epoch");
    if (e && e->cg.ok && e->torch.rss_peak_kb > 0) {
        double f = (double)e->cg.rss_peak_kb / (double)e->torch.rss_peak_kb;
        printf("#   memory   MLP epoch peak RSS %.1f MB vs torch %.1f MB = %.2f, <= 0.5: %s\n",
               mb(e->cg.rss_peak_kb), mb(e->torch.rss_peak_kb), f, f <= 0.5 ? "met" : "NOT met");
    }
}

static void print_markdown(const result *rs, int n)
{
    printf("\n| case | libcgrad ms | PyTorch ms | ratio | target | libcgrad peak RSS MB | "
           "PyTorch peak RSS MB | mallocs per step after the first: libcgrad, process |\n");
    printf("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
    for (int i = 0; i < n; i++) {
        const result *r = &rs[i];
        char ratio[32] = "n/a", target[32] = "", tms[32] = "n/a", trss[32] = "n/a";
        if (r->cg.ok && r->torch.ok)
            snprintf(ratio, sizeof ratio, "%.2f", r->cg.ms / r->torch.ms);
        if (r->c->target > 0)
            snprintf(target, sizeof target, "<= %.2f", r->c->target);
        if (r->torch.ok)
            snprintf(tms, sizeof tms, "%.3f", r->torch.ms);
        if (r->torch.rss_peak_kb)
            snprintf(trss, sizeof trss, "%.0f", mb(r->torch.rss_peak_kb));
        char proc[32] = "n/a";
        if (r->proc_after >= 0 && r->steps_after)
            snprintf(proc, sizeof proc, "%.1f", (double)r->proc_after / (double)r->steps_after);
        printf("| %s | %.3f | %s | %s | %s | %.0f | %s | %.1f, %s |\n", r->c->name, r->cg.ms,
               tms, ratio, target, mb(r->cg.rss_peak_kb), trss,
               r->steps_after ? (double)r->mallocs_after / (double)r->steps_after : 0.0, proc);
    }
}

static void print_header(const bench_opts *o, const bench_peer *p, bool torch)
{
    char cpu[256] = "unknown", load[128] = "?", line[512];
    FILE *f = fopen("/proc/cpuinfo", "r");
    while (f && fgets(line, sizeof line, f)) {
        char *colon = strchr(line, ':');
        if (!strncmp(line, "model name", 10) && colon) {
            snprintf(cpu, sizeof cpu, "%s", colon + 2);
            cpu[strcspn(cpu, "\n")] = '\0';
            break;
        }
    }
    if (f)
        fclose(f);
    f = fopen("/proc/loadavg", "r");
    double l1 = 0, l5, l15;
    if (f && fscanf(f, "%lf %lf %lf", &l1, &l5, &l15) == 3)
        snprintf(load, sizeof load, "%.2f %.2f %.2f", l1, l5, l15);
    if (f)
        fclose(f);
    printf("# cgrad-bench: threads=%d%s runs=%d (median), cpu=\"%s\" online_cpus=%ld "
           "loadavg=\"%s\"\n",
           o->threads, o->quick ? " quick" : "", o->quick ? QUICK_RUNS : RUNS, cpu,
           sysconf(_SC_NPROCESSORS_ONLN), load);
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    if (l1 > 0.5 * (double)cpus)
        printf("# warning: the machine is busy (load %.1f on %ld CPUs): other processes take "
               "CPU time from both sides, and OpenMP threads that wait for a descheduled "
               "partner inflate multithreaded timings\n",
               l1, cpus);
    printf("# libcgrad: f32, BLIS %s, compiler %s\n", bli_info_get_version_str(), __VERSION__);
    const char *policy = getenv("OMP_WAIT_POLICY"), *spin = getenv("GOMP_SPINCOUNT");
    printf("# OpenMP (both sides): OMP_WAIT_POLICY=%s GOMP_SPINCOUNT=%s\n",
           policy ? policy : "(unset: libgomp spins before sleeping)", spin ? spin : "(unset)");
    if (!torch)
        printf("# peer: not run (--no-torch)\n");
    else if (p->ok)
        printf("# peer: torch %s\n", p->status);
    else
        printf("# peer: PyTorch is missing (%s); timing libcgrad only\n", p->status);
    fflush(stdout);
}

/* ---------------------------------------------------------------- main */

static int usage(const char *argv0)
{
    fprintf(stderr,
            "usage: %s [--quick] [--case NAME[,NAME...]]... [--threads N] [--no-torch]\n"
            "          [--python PATH] [--torch-script PATH] [--markdown] [--list]\n"
            "          [--no-malloc-count]\n"
            "       %s --profile STEPS --case NAME   (libcgrad only, in this process)\n",
            argv0, argv0);
    return 2;
}

/* Add the comma-separated names in list to the selection; false on an unknown name. */
static bool select_cases(char *list, bool *selected)
{
    for (char *name = strtok(list, ","); name; name = strtok(NULL, ",")) {
        const bench_case *c = bench_find(name);
        if (!c) {
            fprintf(stderr, "cgrad-bench: no case %s (--list shows them)\n", name);
            return false;
        }
        selected[c - bench_cases] = true;
    }
    return true;
}

/* `cgrad-bench --child NAME CMD_FD RES_FD [--threads N] [--quick]`: the case process the
 * driver execs (internal). */
static int child_main(int argc, char **argv)
{
    bench_opts o = {false, 2};
    const bench_case *c = bench_find(argv[2]);
    int cmd_fd = atoi(argv[3]), res_fd = atoi(argv[4]);
    for (int i = 5; i < argc; i++) {
        if (!strcmp(argv[i], "--quick"))
            o.quick = true;
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            o.threads = atoi(argv[++i]);
    }
    unsetenv("LD_PRELOAD"); /* not for whatever this process might start */
    return c && o.threads >= 1 ? bench_child(c, &o, cmd_fd, res_fd) : 2;
}

int main(int argc, char **argv)
{
    if (argc >= 5 && !strcmp(argv[1], "--child"))
        return child_main(argc, argv);
    bench_opts o = {false, 2};
    launch l = {"/proc/self/exe", NULL};
#ifdef CG_BENCH_MALLOC_SHIM
    l.shim = CG_BENCH_MALLOC_SHIM;
#endif
    bool torch = true, markdown = false, any = false;
    bool selected[64] = {false};
    const char *python = "/usr/bin/python3", *script = CG_BENCH_TORCH_SCRIPT;
    int profile = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--quick")) {
            o.quick = true;
        } else if (!strcmp(a, "--no-torch")) {
            torch = false;
        } else if (!strcmp(a, "--no-malloc-count")) {
            l.shim = NULL;
        } else if (!strcmp(a, "--markdown")) {
            markdown = true;
        } else if (!strcmp(a, "--list")) {
            for (int k = 0; k < bench_ncases; k++)
                printf("%-8s %s\n", bench_cases[k].name, bench_cases[k].what);
            return 0;
        } else if (!strcmp(a, "--case") && v) {
            char buf[256];
            snprintf(buf, sizeof buf, "%s", v);
            if (!select_cases(buf, selected))
                return 2;
            any = true;
            i++;
        } else if (!strcmp(a, "--threads") && v && atoi(v) >= 1) {
            o.threads = atoi(v);
            i++;
        } else if (!strcmp(a, "--python") && v) {
            python = v;
            i++;
        } else if (!strcmp(a, "--torch-script") && v) {
            script = v;
            i++;
        } else if (!strcmp(a, "--profile") && v && atoi(v) >= 1) {
            profile = atoi(v);
            i++;
        } else {
            return usage(argv[0]);
        }
    }
    if (profile) {
        int which = -1, count = 0;
        for (int k = 0; k < bench_ncases; k++)
            if (selected[k])
                which = k, count++;
        if (count != 1)
            return usage(argv[0]);
        return bench_profile(&bench_cases[which], &o, 3, profile);
    }
    for (int k = 0; !any && k < bench_ncases; k++)
        selected[k] = true;

    if (l.shim && access(l.shim, R_OK) != 0)
        l.shim = NULL;
    char self[4096];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    if (len > 0) {
        self[len] = '\0';
        l.self = self;
    }
    signal(SIGPIPE, SIG_IGN); /* a dead peer must not kill the bench */
    bench_peer p;
    memset(&p, 0, sizeof p);
    if (torch)
        bench_peer_start(&p, python, script, o.threads);
    print_header(&o, &p, torch);

    result rs[64];
    int n = 0, status = 0;
    for (int k = 0; k < bench_ncases; k++) {
        if (!selected[k])
            continue;
        if (!run_case(&bench_cases[k], &o, &l, &p, &rs[n]))
            status = 1;
        print_result(&rs[n]);
        n++;
    }
    bench_peer_stop(&p);
    print_targets(rs, n, &o);
    if (markdown)
        print_markdown(rs, n);
    return status;
}

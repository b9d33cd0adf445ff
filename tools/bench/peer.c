/* The PyTorch peer: tools/bench_torch.py, started once with /usr/bin/python3 and driven
 * line by line through two pipes (see the protocol in that file). A pipe each way, rather
 * than popen's one, lets the driver hand out runs to the two sides in turn. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

/* The value of " key=" in line as a number; false when absent. */
static bool field(const char *line, const char *key, double *v)
{
    char pat[64];
    snprintf(pat, sizeof pat, " %s=", key);
    const char *p = strstr(line, pat);
    if (!p)
        return false;
    char *end;
    *v = strtod(p + strlen(pat), &end);
    return end != p + strlen(pat);
}

/* Whether line is "word name" or "word name ...". */
static bool line_is(const char *line, const char *word, const char *name)
{
    size_t wl = strlen(word), nl = strlen(name);
    return !strncmp(line, word, wl) && line[wl] == ' ' && !strncmp(line + wl + 1, name, nl) &&
           (line[wl + 1 + nl] == ' ' || !line[wl + 1 + nl]);
}

/* Next line from the peer about case name starting with word. The case's rss and done
 * lines are noted on the way; "done" before word means the case's process ended (an error,
 * which the peer reported). False then, and on EOF. */
static bool expect(bench_peer *p, const char *word, const char *name, char *line, size_t n)
{
    while (!p->case_done && fgets(line, (int)n, p->out)) {
        line[strcspn(line, "\n")] = '\0';
        double v;
        if (line_is(line, "rss", name) && field(line, "peak_kb", &v))
            p->rss_peak_kb = (int64_t)v;
        if (line_is(line, "done", name))
            p->case_done = true;
        if (line_is(line, word, name))
            return true;
        if (!strncmp(line, "error", 5))
            fprintf(stderr, "cgrad-bench: torch side: %s\n", line);
    }
    if (!p->case_done) /* EOF: the peer is gone */
        p->ok = false;
    return false;
}

static void send(bench_peer *p, const char *cmd)
{
    fputs(cmd, p->in);
    fflush(p->in);
}

void bench_peer_start(bench_peer *p, const char *python, const char *script, int threads)
{
    memset(p, 0, sizeof *p);
    if (access(python, X_OK) != 0) {
        snprintf(p->status, sizeof p->status, "%s: %s", python, strerror(errno));
        return;
    }
    if (access(script, R_OK) != 0) {
        snprintf(p->status, sizeof p->status, "%s: %s", script, strerror(errno));
        return;
    }
    int to[2], from[2];
    if (pipe(to) != 0) {
        snprintf(p->status, sizeof p->status, "pipe: %s", strerror(errno));
        return;
    }
    if (pipe(from) != 0) {
        snprintf(p->status, sizeof p->status, "pipe: %s", strerror(errno));
        close(to[0]), close(to[1]);
        return;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(to[0], 0);
        dup2(from[1], 1);
        close(to[0]), close(to[1]), close(from[0]), close(from[1]);
        char nthreads[16];
        snprintf(nthreads, sizeof nthreads, "%d", threads);
        execl(python, python, script, "--threads", nthreads, (char *)NULL);
        _exit(127);
    }
    close(to[0]);
    close(from[1]);
    if (pid < 0) {
        close(to[1]), close(from[0]);
        snprintf(p->status, sizeof p->status, "fork: %s", strerror(errno));
        return;
    }
    p->pid = pid;
    p->in = fdopen(to[1], "w");
    p->out = fdopen(from[0], "r");
    char line[1024];
    if (!p->in || !p->out || !fgets(line, sizeof line, p->out)) {
        snprintf(p->status, sizeof p->status, "%s %s did not start", python, script);
        return;
    }
    line[strcspn(line, "\n")] = '\0';
    p->ok = strstr(line, "status=ok") != NULL;
    const char *st = strncmp(line, "torch ", 6) ? line : line + 6;
    if (!p->ok && !strncmp(st, "status=missing ", 15))
        st += 15;
    snprintf(p->status, sizeof p->status, "%.*s", (int)sizeof p->status - 1, st);
}

void bench_peer_stop(bench_peer *p)
{
    if (p->in) {
        if (p->ok)
            send(p, "exit\n");
        fclose(p->in);
    }
    if (p->out)
        fclose(p->out);
    if (p->pid > 0)
        waitpid(p->pid, NULL, 0);
}

bool bench_peer_case(bench_peer *p, const char *name, bool quick, double *first_ms,
                     int64_t *steps_per_run)
{
    char cmd[128], line[1024];
    double v;
    snprintf(cmd, sizeof cmd, "case %s%s\n", name, quick ? " quick" : "");
    p->case_done = false;
    p->rss_peak_kb = 0;
    send(p, cmd);
    if (!expect(p, "ready", name, line, sizeof line))
        return false;
    *first_ms = field(line, "first_ms", &v) ? v : 0;
    *steps_per_run = field(line, "steps_per_run", &v) ? (int64_t)v : 0;
    return true;
}

bool bench_peer_run(bench_peer *p, const char *name, double *ms)
{
    char line[1024];
    send(p, "run\n");
    return expect(p, "run", name, line, sizeof line) && field(line, "ms", ms);
}

void bench_peer_finish(bench_peer *p, const char *name, int64_t *rss_base_kb,
                       int64_t *rss_peak_kb)
{
    char line[1024];
    double v;
    if (!p->case_done) {
        send(p, "end\n");
        if (expect(p, "end", name, line, sizeof line) && field(line, "rss_base_kb", &v))
            *rss_base_kb = (int64_t)v;
    }
    if (!p->case_done)
        expect(p, "done", name, line, sizeof line);
    *rss_peak_kb = p->rss_peak_kb;
}

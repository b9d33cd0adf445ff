/* cgrad-train, the main job, run as a user runs it: the built program (build/tools/cgrad-train,
 * or $CGRAD_TRAIN) in a child process. Usage errors exit 2 with the usage; a missing dataset
 * is a clear error; a short run on a slice of Fashion-MNIST reaches a loss bound and writes
 * every output; a run stopped midway and resumed ends with byte-identical checkpoints to an
 * uninterrupted one (mlp with batch norm and dropout; a small cnn with augmentation); a
 * resume with other options or from a damaged file is refused. The cases on real data fail
 * when Debian's dataset-fashion-mnist (a build package in scripts/deps.sh) is not installed. Each run uses a slice of the data,
 * so the suite takes seconds. */
#define _POSIX_C_SOURCE 200809L
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_util.h"

static char tool[PATH_MAX + 32];
static char dir[64];

static int suite_setup(void **state)
{
    (void)state;
    const char *env = getenv("CGRAD_TRAIN");
    if (env && *env) {
        snprintf(tool, sizeof tool, "%s", env);
    } else {
        /* build/tests/test_train -> build/tools/cgrad-train */
        char self[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
        if (n <= 0)
            return -1;
        self[n] = '\0';
        char *slash = strrchr(self, '/');
        if (!slash)
            return -1;
        *slash = '\0';
        snprintf(tool, sizeof tool, "%s/../tools/cgrad-train", self);
    }
    if (access(tool, X_OK) != 0) {
        fprintf(stderr, "cannot run %s (set CGRAD_TRAIN to the built cgrad-train)\n", tool);
        return -1;
    }
    /* The children's OpenMP threads sleep rather than spin while waiting: meson runs other
     * suites in parallel, and spinning threads on a shared 2-core machine slow every run
     * several times over. (Timing only; results do not depend on it.) */
    setenv("OMP_WAIT_POLICY", "PASSIVE", 0);
    strcpy(dir, "/tmp/cgrad-train-test-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int suite_teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static const char *path_in(const char *name)
{
    static char buf[4][256];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
    return buf[k];
}

static bool have_dataset(void)
{
    return access(CG_FASHION_MNIST_DIR "/train-images-idx3-ubyte.gz", R_OK) == 0 ||
           access(CG_FASHION_MNIST_DIR "/train-images-idx3-ubyte", R_OK) == 0;
}

#define NEED_DATASET()                                                                      \
    do {                                                                                    \
        if (!have_dataset()) {                                                              \
            fail_msg("no " CG_FASHION_MNIST_DIR ": install dataset-fashion-mnist "             \
                     "(scripts/deps.sh lists it)");                                         \
        }                                                                                   \
    } while (0)

/* Run the tool with args then more (NULL-terminated lists; more may be NULL), stdout and
 * stderr into <dir>/<tag>.out and .err; returns its exit status (128 + signal if killed). */
static int run2(const char *tag, const char *const *args, const char *const *more)
{
    const char *argv[64];
    int n = 0;
    argv[n++] = tool;
    for (int i = 0; args[i] && n < 63; i++)
        argv[n++] = args[i];
    for (int i = 0; more && more[i] && n < 63; i++)
        argv[n++] = more[i];
    argv[n] = NULL;
    char out[256], err[256];
    snprintf(out, sizeof out, "%s/%s.out", dir, tag);
    snprintf(err, sizeof err, "%s/%s.err", dir, tag);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        int fo = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int fe = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fo < 0 || fe < 0 || dup2(fo, 1) < 0 || dup2(fe, 2) < 0)
            _exit(126);
        execv(tool, (char *const *)argv);
        _exit(127);
    }
    int status;
    if (pid < 0 || waitpid(pid, &status, 0) != pid)
        return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int run(const char *tag, const char *const *args)
{
    return run2(tag, args, NULL);
}

/* The whole file (at most 64 KB), NUL-terminated, in a static buffer. */
static const char *slurp(const char *path)
{
    static char buf[65536];
    buf[0] = '\0';
    FILE *f = fopen(path, "rb");
    if (!f)
        return buf;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static const char *output_of(const char *tag, const char *ext)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s.%s", dir, tag, ext);
    return slurp(p);
}

/* The last line of a file (without its newline), copied to line[n]. */
static void last_line(const char *path, char *line, size_t n)
{
    const char *s = slurp(path);
    size_t len = strlen(s);
    while (len && s[len - 1] == '\n')
        len--;
    size_t start = len;
    while (start && s[start - 1] != '\n')
        start--;
    snprintf(line, n, "%.*s", (int)(len - start), s + start);
}

static bool same_bytes(const char *a, const char *b)
{
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    bool same = fa && fb;
    while (same) {
        int ca = getc(fa), cb = getc(fb);
        same = ca == cb;
        if (ca == EOF || cb == EOF)
            break;
    }
    if (fa)
        fclose(fa);
    if (fb)
        fclose(fb);
    return same;
}

static off_t file_size(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 ? sb.st_size : -1;
}

/* The metrics log without its seconds column (the only one that depends on the clock). */
static void metrics_without_seconds(const char *path, char *out, size_t n)
{
    const char *s = slurp(path);
    size_t k = 0;
    while (*s && k + 1 < n) {
        const char *eol = strchr(s, '\n');
        size_t len = eol ? (size_t)(eol - s) : strlen(s);
        const char *comma = s + len;
        while (comma > s && *comma != ',')
            comma--;
        size_t keep = comma > s ? (size_t)(comma - s) : len;
        k += (size_t)snprintf(out + k, n - k, "%.*s\n", (int)keep, s);
        s += len + (eol != NULL);
    }
}

/* ---- cases ---- */

/* Each bad command line exits 2 with a message naming the problem, then the usage. */
static void usage_errors(void **state)
{
    (void)state;
    static const struct {
        const char *args[6];
        const char *msg;
    } bad[] = {
        {{"--batch-size", "0"}, "--batch-size wants a batch size in [1, 1048576], not '0'"},
        {{"-b", "1048577"}, "-b wants a batch size in [1, 1048576]"},
        {{"--lr", "-0.1"}, "--lr wants a learning rate > 0, not '-0.1'"},
        {{"--lr", "abc"}, "--lr wants a learning rate > 0, not 'abc'"},
        {{"-l", "0"}, "-l wants a learning rate > 0"},
        {{"--optimizer", "newton"}, "unknown optimizer 'newton'"},
        {{"--model", "resnet"}, "unknown model 'resnet' (mlp or cnn)"},
        {{"--schedule", "sometimes"}, "unknown schedule 'sometimes'"},
        {{"--activation", "swish"}, "unknown activation 'swish'"},
        {{"--init", "zeros"}, "unknown initializer 'zeros'"},
        {{"--norm", "instance"}, "unknown normalization 'instance'"},
        {{"--no-such-option"}, "unknown option --no-such-option"},
        {{"-x"}, "unknown option -x"},
        {{"--no-plot=1"}, "option --no-plot takes no value"},
        {{"--epochs"}, "option --epochs needs a value"},
        {{"-e", "0"}, "-e wants epochs >= 1, not '0'"},
        {{"--dropout", "1"}, "--dropout wants a probability in [0, 1), not '1'"},
        {{"--dropout", "-0.1"}, "--dropout wants a probability in [0, 1)"},
        {{"--dropout", "nan"}, "--dropout wants a probability in [0, 1)"},
        {{"--hidden", "256,,128"}, "--hidden wants 1 to 8 widths in [1, 65536] separated by "
                                   "commas, not '256,,128'"},
        {{"--hidden", "1,2,3,4,5,6,7,8,9"}, "--hidden wants 1 to 8 widths"},
        {{"--hidden", "65537"}, "--hidden wants 1 to 8 widths"},
        {{"--channels", "32"}, "--channels wants two channel counts like 32,64, not '32'"},
        {{"--channels", "32,64,96"}, "--channels wants two channel counts"},
        {{"--fc", "0"}, "--fc wants a width in [1, 65536], not '0'"},
        {{"--momentum", "1"}, "--momentum wants a value in [0, 1), not '1'"},
        {{"--weight-decay", "-1"}, "--weight-decay wants a value >= 0, not '-1'"},
        {{"--clip", "-1"}, "--clip wants a norm >= 0 (0: off), not '-1'"},
        {{"--label-smoothing", "1"}, "--label-smoothing wants a value in [0, 1), not '1'"},
        {{"--warmup", "-1"}, "--warmup wants epochs >= 0, not '-1'"},
        {{"--warmup", "1000001"}, "--warmup wants epochs >= 0"},
        {{"--gamma", "0"}, "--gamma wants a factor in (0, 1], not '0'"},
        {{"--gamma", "1.1"}, "--gamma wants a factor in (0, 1]"},
        {{"--step-epochs", "0"}, "--step-epochs wants epochs >= 1, not '0'"},
        {{"--patience", "-1"}, "--patience wants epochs >= 0 (0: never stop early), not '-1'"},
        {{"--val-size", "-1"}, "--val-size wants a sample count >= 0, not '-1'"},
        {{"--standardize", "local"}, "--standardize wants global or feature, not 'local'"},
        {{"--limit-train", "0"}, "--limit-train wants a sample count >= 1, not '0'"},
        {{"--limit-test", "0"}, "--limit-test wants a sample count >= 1, not '0'"},
        {{"-o", ""}, "-o wants a folder"},
        {{"-j", "4097"}, "-j wants a thread count in [0, 4096], not '4097'"},
        {{"--seed", "-1"}, "--seed wants an unsigned integer, not '-1'"},
        {{"--seed", "18446744073709551616"}, "--seed wants an unsigned integer"},
        {{"--stop-after-steps", "0"}, "--stop-after-steps wants a step >= 1, not '0'"},
        {{"--progress", "fancy"}, "--progress wants auto, bar, lines or none, not 'fancy'"},
        {{"--norm", "group"}, "--norm group is for the cnn"},
        {{"-m", "cnn", "--norm", "layer"}, "--norm layer is for the mlp"},
        {{"-m", "cnn", "--norm", "group", "--channels", "12,64"},
         "--channels must be multiples of 8"},
        {{"stray"}, "unexpected argument 'stray'"},
        {{"--limit-train", "100", "--val-size", "100"},
         "--val-size 100 leaves no training samples out of --limit-train 100"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = run("usage", bad[i].args);
        const char *err = output_of("usage", "err");
        if (rc != 2 || !strstr(err, "usage: cgrad-train") || !strstr(err, bad[i].msg))
            fail_msg("%s %s: exit %d, expected \"%s\", stderr:\n%s", bad[i].args[0],
                     bad[i].args[1] ? bad[i].args[1] : "", rc, bad[i].msg, err);
        assert_string_equal(output_of("usage", "out"), "");
    }
    assert_int_equal(run("help", (const char *const[]){"--help", NULL}), 0);
    assert_non_null(strstr(output_of("help", "out"), "usage: cgrad-train"));
}

static void missing_dataset(void **state)
{
    (void)state;
    int rc = run("nodata", (const char *const[]){"--data", "/nonexistent/fashion", "--out",
                                                 path_in("nodata-out"), NULL});
    const char *err = output_of("nodata", "err");
    if (rc != 1 || !strstr(err, "/nonexistent/fashion/train-images-idx3-ubyte"))
        fail_msg("exit %d, stderr:\n%s", rc, err);
}

static void short_run_learns(void **state)
{
    (void)state;
    NEED_DATASET();
    const char *out = path_in("short");
    int rc = run("short", (const char *const[]){"--limit-train", "3000", "--val-size", "500",
                                                "--limit-test", "1000", "--epochs", "3",
                                                "--batch-size", "64", "--progress", "lines",
                                                "--out", out, NULL});
    if (rc != 0)
        fail_msg("exit %d, stderr:\n%s", rc, output_of("short", "err"));
    static const char *const files[] = {"metrics.csv", "curves.png", "curves.svg", "model.dot",
                                        "model.svg", "checkpoint.safetensors",
                                        "last.safetensors"};
    char p[256];
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", out, files[i]);
        if (file_size(p) <= 0)
            fail_msg("%s missing or empty", p);
    }
    /* The last epoch's training loss (from about 2.3 at the start), and the test accuracy. */
    char line[256];
    snprintf(p, sizeof p, "%s/metrics.csv", out);
    last_line(p, line, sizeof line);
    double epoch, step, train_loss;
    assert_int_equal(sscanf(line, "%lf,%lf,%lf", &epoch, &step, &train_loss), 3);
    assert_true(epoch == 3);
    if (!(train_loss < 0.8))
        fail_msg("train loss %g after 3 epochs of 2500 samples (bound 0.8)", train_loss);
    last_line(path_in("short.out"), line, sizeof line);
    double acc;
    if (sscanf(line, "test_accuracy=%lf", &acc) != 1 || strlen(line) != strlen("test_accuracy=0.0000"))
        fail_msg("last line of stdout: '%s'", line);
    if (!(acc > 0.7))
        fail_msg("test accuracy %g (bound 0.7)", acc);
    /* Plain progress lines when stderr is not a terminal, no carriage returns. */
    const char *err = output_of("short", "err");
    assert_non_null(strstr(err, "samples/s"));
    assert_null(strchr(err, '\r'));
}

/* An uninterrupted run (a) and one stopped after `stop` steps then resumed (b), with args:
 * the same checkpoints byte for byte, the same metrics but for the clock, the same result. */
static void check_resume(const char *name, const char *const *args, const char *stop)
{
    char a[64], b[64], stopped[64], oa[256], ob[256];
    snprintf(a, sizeof a, "%s-a", name);
    snprintf(b, sizeof b, "%s-b", name);
    snprintf(stopped, sizeof stopped, "%s-stop", name);
    snprintf(oa, sizeof oa, "%s", path_in(a));
    snprintf(ob, sizeof ob, "%s", path_in(b));

    int rc = run2(a, args, (const char *const[]){"--out", oa, NULL});
    if (rc != 0)
        fail_msg("%s: exit %d:\n%s", a, rc, output_of(a, "err"));
    rc = run2(stopped, args, (const char *const[]){"--out", ob, "--stop-after-steps", stop, NULL});
    if (rc != 0)
        fail_msg("%s: exit %d:\n%s", stopped, rc, output_of(stopped, "err"));
    assert_non_null(strstr(output_of(stopped, "out"), "stopped after step"));
    /* Resume from a copy, so b's last.safetensors is written by the resumed run only. */
    char last_b[300], resume_from[300];
    snprintf(last_b, sizeof last_b, "%s/last.safetensors", ob);
    snprintf(resume_from, sizeof resume_from, "%s/stopped.safetensors", ob);
    assert_int_equal(rename(last_b, resume_from), 0);
    rc = run2(b, args, (const char *const[]){"--out", ob, "--resume", resume_from, NULL});
    if (rc != 0)
        fail_msg("%s: exit %d:\n%s", b, rc, output_of(b, "err"));

    static const char *const same[] = {"last.safetensors", "checkpoint.safetensors"};
    for (int i = 0; i < 2; i++) {
        char pa[300], pb[300];
        snprintf(pa, sizeof pa, "%s/%s", oa, same[i]);
        snprintf(pb, sizeof pb, "%s/%s", ob, same[i]);
        if (file_size(pa) <= 0 || !same_bytes(pa, pb))
            fail_msg("%s: %s differs after resuming", name, same[i]);
    }
    static char ta[8192], tb[8192];
    char ma[300], mb[300];
    snprintf(ma, sizeof ma, "%s/metrics.csv", oa);
    snprintf(mb, sizeof mb, "%s/metrics.csv", ob);
    metrics_without_seconds(ma, ta, sizeof ta);
    metrics_without_seconds(mb, tb, sizeof tb);
    assert_string_equal(ta, tb);
    char la[128], lb[128], tag[80];
    snprintf(tag, sizeof tag, "%s.out", a);
    last_line(path_in(tag), la, sizeof la);
    snprintf(tag, sizeof tag, "%s.out", b);
    last_line(path_in(tag), lb, sizeof lb);
    assert_string_equal(la, lb);
}

static void resume_mlp_bit_identical(void **state)
{
    (void)state;
    NEED_DATASET();
    /* Batch norm (running statistics), dropout (the loop's generator), Adam, warmup and
     * cosine; stopped in the middle of the second epoch (23 steps per epoch). */
    const char *const args[] = {"--limit-train", "2000", "--val-size", "500", "--limit-test",
                                "500", "--epochs", "3", "--batch-size", "64", "--norm", "batch",
                                "--hidden", "64,32", "--threads", "2", "--progress", "none", NULL};
    check_resume("mlp", args, "30");
}

static void resume_cnn_bit_identical(void **state)
{
    (void)state;
    NEED_DATASET();
    /* A small cnn: batch norm 2d, augmentation, SGD with Nesterov momentum, clipping, a step
     * schedule; stopped at the end of the first epoch (before its evaluation). */
    const char *const args[] = {"--model", "cnn", "--channels", "4,8", "--fc", "16",
                                "--limit-train", "1200", "--val-size", "200", "--limit-test",
                                "200", "--epochs", "2", "--batch-size", "50", "--augment",
                                "--optimizer", "nesterov", "--lr", "0.05", "--clip", "1",
                                "--schedule", "step", "--step-epochs", "1", "--warmup", "0",
                                "--threads", "2", "--progress", "none", NULL};
    check_resume("cnn", args, "20");
}

static void resume_refuses_mismatch(void **state)
{
    (void)state;
    NEED_DATASET();
    const char *out = path_in("mm");
    char ckpt[256], cut[256];
    snprintf(ckpt, sizeof ckpt, "%s/last.safetensors", out);
    snprintf(cut, sizeof cut, "%s/cut.safetensors", out);
    const char *const base[] = {"--limit-train", "600", "--val-size", "100", "--limit-test",
                                "100", "--epochs", "2", "--hidden", "16", "--progress", "none",
                                "--out", out, NULL};
    assert_int_equal(run2("mm", base, (const char *const[]){"--stop-after-steps", "3", NULL}), 0);
    /* Another learning rate: refused, naming the option and both values. */
    int rc = run2("mm-lr", base, (const char *const[]){"--lr", "0.01", "--resume", ckpt, NULL});
    const char *err = output_of("mm-lr", "err");
    if (rc != 1 || !strstr(err, "--lr 0.001") || !strstr(err, "not 0.01"))
        fail_msg("exit %d, stderr:\n%s", rc, err);
    /* A truncated checkpoint: refused with the reader's message naming the file. */
    FILE *in = fopen(ckpt, "rb"), *o = fopen(cut, "wb");
    assert_non_null(in);
    assert_non_null(o);
    char buf[1000];
    size_t got = fread(buf, 1, sizeof buf, in);
    assert_int_equal(fwrite(buf, 1, got, o), got);
    fclose(in);
    fclose(o);
    rc = run2("mm-cut", base, (const char *const[]){"--resume", cut, NULL});
    err = output_of("mm-cut", "err");
    if (rc != 1 || !strstr(err, "--resume") || !strstr(err, "cut.safetensors"))
        fail_msg("exit %d, stderr:\n%s", rc, err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(usage_errors),
        cmocka_unit_test(missing_dataset),
        cmocka_unit_test(short_run_learns),
        cmocka_unit_test(resume_mlp_bit_identical),
        cmocka_unit_test(resume_cnn_bit_identical),
        cmocka_unit_test(resume_refuses_mismatch),
    };
    return cmocka_run_group_tests(tests, suite_setup, suite_teardown);
}

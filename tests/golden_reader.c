/*
 * The golden reader and runner shared by the tests/test_golden*.c suites (contract and file
 * format in golden_reader.h). One suite runs per process: the cases, the builder table and
 * the statistics of the running suite live in the file-scope state below.
 */
#include <stdlib.h>
#include <string.h>

#include "golden_reader.h"

/* ---- golden data (plain malloc: not counted by the library's allocator) ---- */

static const char *suite_name;          /* the running suite, e.g. "golden" */
static const golden_builder *builders; /* its table */
static int nbuilders;
static golden_case *cases;
static int ncases, cases_cap;
static char load_error[512];

/* A whitespace tokenizer over a file held in memory; '#' comments run to the line's end. */
typedef struct lexer {
    char *p;
    int line;
    const char *file;
} lexer;

static const char *next_token(lexer *lx)
{
    for (;;) {
        while (*lx->p == ' ' || *lx->p == '\t' || *lx->p == '\r' || *lx->p == '\n') {
            if (*lx->p == '\n')
                lx->line++;
            lx->p++;
        }
        if (*lx->p != '#')
            break;
        while (*lx->p && *lx->p != '\n')
            lx->p++;
    }
    if (!*lx->p)
        return NULL;
    char *start = lx->p;
    while (*lx->p && *lx->p != ' ' && *lx->p != '\t' && *lx->p != '\r' && *lx->p != '\n')
        lx->p++;
    if (*lx->p) {
        if (*lx->p == '\n')
            lx->line++;
        *lx->p++ = '\0';
    }
    return start;
}

static bool parse_fail(const lexer *lx, const char *what, const char *tok)
{
    snprintf(load_error, sizeof load_error, "%s:%d: %s (at \"%s\")", lx->file, lx->line, what,
             tok ? tok : "end of file");
    return false;
}

static bool parse_int(lexer *lx, int64_t *v)
{
    const char *tok = next_token(lx);
    char *end;
    if (!tok)
        return parse_fail(lx, "expected an integer", tok);
    long long x = strtoll(tok, &end, 10);
    if (*end)
        return parse_fail(lx, "expected an integer", tok);
    *v = x;
    return true;
}


/* DTYPE [grad|nograd] NDIM D1..DNDIM V1..Vnumel; the flag only when with_flag (inputs). */
static bool parse_tensor(lexer *lx, golden_tensor *t, bool with_flag)
{
    const char *tok = next_token(lx);
    if (!tok)
        return parse_fail(lx, "expected a dtype", tok);
    if (!strcmp(tok, "f32"))
        t->dtype = CG_F32;
    else if (!strcmp(tok, "f64"))
        t->dtype = CG_F64;
    else if (!strcmp(tok, "i64"))
        t->dtype = CG_I64;
    else
        return parse_fail(lx, "unknown dtype", tok);
    if (with_flag) {
        tok = next_token(lx);
        if (!tok || (strcmp(tok, "grad") && strcmp(tok, "nograd")))
            return parse_fail(lx, "expected grad or nograd", tok);
        t->grad = !strcmp(tok, "grad");
        if (t->grad && t->dtype == CG_I64)
            return parse_fail(lx, "an i64 input cannot take a gradient", tok);
    }
    int64_t nd;
    if (!parse_int(lx, &nd))
        return false;
    if (nd < 0 || nd > CG_MAX_DIMS)
        return parse_fail(lx, "bad ndim", "");
    t->ndim = (int)nd;
    t->numel = 1;
    for (int d = 0; d < t->ndim; d++) {
        if (!parse_int(lx, &t->shape[d]))
            return false;
        if (t->shape[d] < 0)
            return parse_fail(lx, "negative size", "");
        t->numel *= t->shape[d];
    }
    size_t n = (size_t)t->numel + 1; /* +1: never a zero-byte allocation */
    if (t->dtype == CG_I64) {
        t->i = malloc(n * sizeof *t->i);
        if (!t->i)
            return parse_fail(lx, "out of memory", "");
        for (int64_t k = 0; k < t->numel; k++)
            if (!parse_int(lx, &t->i[k]))
                return false;
        return true;
    }
    t->f = malloc(n * sizeof *t->f);
    if (!t->f)
        return parse_fail(lx, "out of memory", "");
    for (int64_t k = 0; k < t->numel; k++) {
        char *end;
        tok = next_token(lx);
        if (!tok)
            return parse_fail(lx, "expected a value", tok);
        t->f[k] = strtod(tok, &end);
        if (*end || end == tok)
            return parse_fail(lx, "expected a hex float", tok);
    }
    return true;
}

/* Consistency of a case read up to its "end". */
static bool check_case(const lexer *lx, const golden_case *c)
{
    char what[200];
    for (int k = 0; k < c->nin; k++)
        if (c->in[k].grad != c->has_grad[k] || (c->has_grad[k] && !c->has_gout)) {
            snprintf(what, sizeof what, "case %s: input %d's grad flag and grad records disagree",
                     c->name, k);
            return parse_fail(lx, what, "end");
        }
    for (int k = 0; k < ncases - 1; k++)
        if (!strcmp(cases[k].name, c->name)) {
            snprintf(what, sizeof what, "case %s appears twice", c->name);
            return parse_fail(lx, what, "end");
        }
    return true;
}

static golden_case *new_case(void)
{
    if (ncases == cases_cap) {
        int cap = cases_cap ? 2 * cases_cap : 256;
        golden_case *nc = realloc(cases, (size_t)cap * sizeof *cases);
        if (!nc)
            return NULL;
        cases = nc;
        cases_cap = cap;
    }
    golden_case *c = &cases[ncases++];
    memset(c, 0, sizeof *c);
    return c;
}

static bool parse_records(lexer *lx)
{
    golden_case *c = NULL;
    const char *tok;
    while ((tok = next_token(lx))) {
        if (!strcmp(tok, "case")) {
            if (c)
                return parse_fail(lx, "case before the previous case's end", tok);
            if (!(c = new_case()))
                return parse_fail(lx, "out of memory", tok);
            c->file = lx->file;
            c->line = lx->line;
            tok = next_token(lx);
            if (!tok || strlen(tok) >= sizeof c->name)
                return parse_fail(lx, "bad case name", tok);
            strcpy(c->name, tok);
        } else if (!c) {
            return parse_fail(lx, "record outside a case", tok);
        } else if (!strcmp(tok, "in")) {
            if (c->nin == GOLDEN_MAX_INPUTS)
                return parse_fail(lx, "too many inputs", tok);
            if (!parse_tensor(lx, &c->in[c->nin++], true))
                return false;
        } else if (!strcmp(tok, "out")) {
            if (!parse_tensor(lx, &c->out, false))
                return false;
        } else if (!strcmp(tok, "gout")) {
            c->has_gout = true;
            if (!parse_tensor(lx, &c->gout, false))
                return false;
        } else if (!strcmp(tok, "grad")) {
            int64_t k;
            if (!parse_int(lx, &k))
                return false;
            if (k < 0 || k >= c->nin || c->has_grad[k])
                return parse_fail(lx, "bad or repeated input number", tok);
            c->has_grad[k] = true;
            if (!parse_tensor(lx, &c->grad[k], false))
                return false;
        } else if (!strcmp(tok, "end")) {
            if (!check_case(lx, c))
                return false;
            c = NULL;
        } else {
            return parse_fail(lx, "unknown record", tok);
        }
    }
    return c ? parse_fail(lx, "last case has no end", NULL) : true;
}

static bool load_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(load_error, sizeof load_error, "cannot open %s (the test runs in tests/)", path);
        return false;
    }
    char *buf = NULL;
    long size = -1;
    if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0)
        buf = malloc((size_t)size + 1);
    bool ok = buf && fread(buf, 1, (size_t)size, f) == (size_t)size;
    fclose(f);
    if (!ok) {
        free(buf);
        snprintf(load_error, sizeof load_error, "cannot read %s", path);
        return false;
    }
    buf[size] = '\0';
    lexer lx = {buf, 1, path};
    ok = parse_records(&lx);
    free(buf);
    return ok;
}

static void free_tensor(golden_tensor *t)
{
    free(t->f);
    free(t->i);
}

static void free_cases(void)
{
    for (int k = 0; k < ncases; k++) {
        golden_case *c = &cases[k];
        for (int j = 0; j < c->nin; j++) {
            free_tensor(&c->in[j]);
            free_tensor(&c->grad[j]);
        }
        free_tensor(&c->out);
        free_tensor(&c->gout);
    }
    free(cases);
    cases = NULL;
    ncases = cases_cap = 0;
}

/* ---- comparison and the statistics we report ---- */

typedef struct diff_stats {
    double max_abs, max_rel; /* rel: |got - expected| / |expected| over expected != 0 */
    char abs_where[256], rel_where[256];
    int64_t values;
} diff_stats;

static diff_stats stats[2]; /* [0] f32, [1] f64 */

/* Appends printf-style text to a fixed buffer. */
static void appendf(char *buf, size_t size, const char *fmt, ...)
{
    size_t len = strlen(buf);
    if (len + 1 >= size)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + len, size - len, fmt, ap);
    va_end(ap);
}

static void index_str(const golden_tensor *t, int64_t flat, char *buf, size_t size)
{
    int64_t idx[CG_MAX_DIMS];
    for (int d = t->ndim - 1; d >= 0; d--) {
        idx[d] = t->shape[d] ? flat % t->shape[d] : 0;
        flat = t->shape[d] ? flat / t->shape[d] : 0;
    }
    buf[0] = '\0';
    appendf(buf, size, "[");
    for (int d = 0; d < t->ndim; d++)
        appendf(buf, size, d ? ",%lld" : "%lld", (long long)idx[d]);
    appendf(buf, size, "]");
}

static void shape_str(int ndim, const int64_t *shape, char *buf, size_t size)
{
    buf[0] = '\0';
    appendf(buf, size, "(");
    for (int d = 0; d < ndim; d++)
        appendf(buf, size, d ? ", %lld" : "%lld", (long long)shape[d]);
    appendf(buf, size, ndim == 1 ? ",)" : ")");
}

bool golden_compare(const golden_case *c, const char *what, cg_tensor *got,
                    const golden_tensor *exp, char *err, size_t errsize)
{
    char a[96], b[96];
    if (!got) {
        appendf(err, errsize, "\n  %s: %s: NULL (%s)", c->name, what, cg_last_error());
        return false;
    }
    if (cg_tensor_dtype(got) != exp->dtype) {
        appendf(err, errsize, "\n  %s: %s: dtype %s, expected %s", c->name, what,
                cg_dtype_name(cg_tensor_dtype(got)), cg_dtype_name(exp->dtype));
        return false;
    }
    int nd = cg_tensor_ndim(got);
    if (nd != exp->ndim || memcmp(cg_tensor_shape(got), exp->shape, sizeof(int64_t) * (size_t)nd)) {
        shape_str(nd, cg_tensor_shape(got), a, sizeof a);
        shape_str(exp->ndim, exp->shape, b, sizeof b);
        appendf(err, errsize, "\n  %s: %s: shape %s, expected %s", c->name, what, a, b);
        return false;
    }
    double *v = malloc(((size_t)exp->numel + 1) * sizeof *v);
    if (!v || cg_tensor_to_f64(got, v) != CG_OK) {
        free(v);
        appendf(err, errsize, "\n  %s: %s: cannot read values (%s)", c->name, what,
                cg_last_error());
        return false;
    }
    bool is64 = exp->dtype == CG_F64;
    double tol = c->b && c->b->tol > 0 ? c->b->tol : is64 ? GOLDEN_TOL_F64 : GOLDEN_TOL_F32;
    diff_stats *st = &stats[is64];
    int64_t bad = 0, worst = -1;
    double worst_score = -1;
    for (int64_t k = 0; k < exp->numel; k++) {
        double e = exp->dtype == CG_I64 ? (double)exp->i[k] : exp->f[k], g = v[k];
        double score;
        if (isnan(e) || isinf(e)) {
            bool same = isnan(e) ? isnan(g) : g == e;
            score = same ? 0 : INFINITY;
        } else {
            double d = fabs(g - e);
            score = isnan(d) ? INFINITY : d / (1 + fabs(e));
            if (!isnan(d)) {
                st->values++;
                if (d > st->max_abs) {
                    st->max_abs = d;
                    index_str(exp, k, a, sizeof a);
                    snprintf(st->abs_where, sizeof st->abs_where, "%s %s%s", c->name, what, a);
                }
                if (e != 0 && d / fabs(e) > st->max_rel) {
                    st->max_rel = d / fabs(e);
                    index_str(exp, k, a, sizeof a);
                    snprintf(st->rel_where, sizeof st->rel_where, "%s %s%s", c->name, what, a);
                }
            }
        }
        if (!(score <= tol))
            bad++;
        if (score > worst_score) {
            worst_score = score;
            worst = k;
        }
    }
    if (bad) {
        double e = exp->dtype == CG_I64 ? (double)exp->i[worst] : exp->f[worst];
        index_str(exp, worst, a, sizeof a);
        appendf(err, errsize,
                "\n  %s: %s%s: got %.17g (%a), expected %.17g (%a), |diff| %.3g > tol %g * "
                "(1 + |expected|); %lld of %lld elements out of tolerance",
                c->name, what, a, v[worst], v[worst], e, e, fabs(v[worst] - e), tol,
                (long long)bad, (long long)exp->numel);
    }
    free(v);
    return bad == 0;
}

cg_tensor *golden_make_tensor(const golden_tensor *t)
{
    if (t->dtype == CG_I64)
        return cg_tensor_from_data(CG_I64, t->ndim, t->shape, t->i);
    if (t->dtype == CG_F64)
        return cg_tensor_from_data(CG_F64, t->ndim, t->shape, t->f);
    float *fl = malloc(((size_t)t->numel + 1) * sizeof *fl);
    if (!fl)
        return NULL;
    for (int64_t k = 0; k < t->numel; k++)
        fl[k] = (float)t->f[k];
    cg_tensor *r = cg_tensor_from_data(CG_F32, t->ndim, t->shape, fl);
    free(fl);
    return r;
}

/* ---- the cmocka tests ---- */

static const golden_case *current;

/* cg_test_setup (fresh tape, leak baseline) with the case taken from the initial state. */
static int case_setup(void **state)
{
    current = *state;
    return cg_test_setup(state);
}

/* One golden case: build, compare the output, backward, compare every gradient. Tensors
 * the test owns are freed before any failure is reported, so the leak check stays exact. */
static void run_case(void **state)
{
    (void)state;
    const golden_case *c = current;
    char err[2048] = "";
    if (!c->b)
        fail_msg("golden case %s (%s:%d) has no C builder in test_%s.c", c->name, c->file,
                 c->line, suite_name);
    cg_tensor *x[GOLDEN_MAX_INPUTS] = {NULL}, *wrt[GOLDEN_MAX_INPUTS];
    cg_tensor *grads[GOLDEN_MAX_INPUTS] = {NULL};
    int wrt_in[GOLDEN_MAX_INPUTS], nwrt = 0;
    bool ok = true;
    for (int k = 0; k < c->nin && ok; k++) {
        x[k] = golden_make_tensor(&c->in[k]);
        ok = x[k] && (!c->in[k].grad || cg_tensor_set_requires_grad(x[k], true) == CG_OK);
        if (ok && c->in[k].grad) {
            wrt_in[nwrt] = k;
            wrt[nwrt++] = x[k];
        }
    }
    cg_tensor *gout = NULL;
    if (!ok) {
        appendf(err, sizeof err, "\n  %s: cannot make the inputs: %s", c->name, cg_last_error());
    } else {
        cg_tensor *out = c->b->fn(x, c->b);
        ok = golden_compare(c, "output", out, &c->out, err, sizeof err);
        if (out && c->has_gout) {
            gout = golden_make_tensor(&c->gout);
            cg_status st = cg_grad(&out, 1, &gout, wrt, nwrt, grads, NULL);
            if (st != CG_OK) {
                ok = false;
                appendf(err, sizeof err, "\n  %s: cg_grad returned %s: %s", c->name,
                        cg_status_string(st), cg_last_error());
            }
            for (int j = 0; j < nwrt && st == CG_OK; j++) {
                char what[32];
                snprintf(what, sizeof what, "grad of input %d", wrt_in[j]);
                ok &= golden_compare(c, what, grads[j], &c->grad[wrt_in[j]], err, sizeof err);
            }
        }
    }
    cg_tensor_free(gout);
    for (int k = 0; k < c->nin; k++)
        cg_tensor_free(x[k]);
    if (!ok)
        fail_msg("golden case %s (%s:%d) failed:%s", c->name, c->file, c->line, err);
}

/* The files load, and the builder table and the golden cases name the same set. */
static void test_table(void **state)
{
    (void)state;
    if (load_error[0])
        fail_msg("golden data: %s", load_error);
    char err[4096] = "";
    int missing = 0, orphans = 0;
    for (int k = 0; k < ncases; k++)
        if (!cases[k].b) {
            missing++;
            appendf(err, sizeof err, "\n  golden case %s has no C builder", cases[k].name);
        }
    for (int j = 0; j < nbuilders; j++) {
        bool found = false;
        for (int k = 0; k < ncases && !found; k++)
            found = cases[k].b == &builders[j];
        if (!found) {
            orphans++;
            appendf(err, sizeof err, "\n  C builder %s has no golden case", builders[j].name);
        }
        for (int i = 0; i < j; i++)
            if (!strcmp(builders[i].name, builders[j].name)) {
                orphans++;
                appendf(err, sizeof err, "\n  C builder %s is listed twice", builders[j].name);
            }
    }
    if (missing || orphans)
        fail_msg("%d golden cases without a builder, %d builder problems:%s", missing, orphans,
                 err);
}

static void print_stats(void)
{
    static const char *const names[2] = {"f32", "f64"};
    for (int d = 1; d >= 0; d--) {
        const diff_stats *st = &stats[d];
        fprintf(stderr, "# %s %s: %lld values compared; largest |diff| %.3g (%s); largest "
                        "|diff|/|expected| %.3g (%s)\n",
                suite_name, names[d], (long long)st->values, st->max_abs,
                st->abs_where[0] ? st->abs_where : "-", st->max_rel,
                st->rel_where[0] ? st->rel_where : "-");
    }
}

int golden_run(const char *suite, const char *const *files, int nfiles,
               const golden_builder *table, int ntable)
{
    suite_name = suite;
    builders = table;
    nbuilders = ntable;
    for (int k = 0; k < nfiles && !load_error[0]; k++)
        load_file(files[k]);
    for (int k = 0; k < ncases; k++)
        for (int j = 0; j < nbuilders && !cases[k].b; j++)
            if (!strcmp(builders[j].name, cases[k].name))
                cases[k].b = &builders[j];

    /* cmocka keeps the test names: "test_<suite>_table", then the cases' own names. */
    char table_name[128];
    snprintf(table_name, sizeof table_name, "test_%s_table", suite);
    size_t ntests = 1 + (size_t)ncases;
    struct CMUnitTest *tests = calloc(ntests, sizeof *tests);
    if (!tests) {
        free_cases();
        return 1;
    }
    tests[0] = (struct CMUnitTest){table_name, test_table, cg_test_setup, cg_test_teardown, NULL};
    for (int k = 0; k < ncases; k++)
        tests[1 + k] = (struct CMUnitTest){cases[k].name, run_case, case_setup,
                                           cg_test_teardown, &cases[k]};
    int failed = _cmocka_run_group_tests(suite, tests, ntests, NULL, NULL);
    fprintf(stderr, "# %s: %d cases\n", suite, ncases);
    print_stats();
    free(tests);
    free_cases();
    return failed;
}

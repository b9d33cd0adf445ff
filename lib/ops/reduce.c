/* Reductions over a set of axes: sum, mean, max, min, var and logsumexp, cg_sum_to, and
 * their backward rules.
 *
 * One engine serves them all. The input's dimensions are split into kept ones (one output
 * element per index) and reduced ones, each group coalesced where it is contiguous in
 * memory. An output element is a fold over its reduced elements in a fixed order,
 * accumulated in double (f32 included). A fold is one pass; var and logsumexp take two
 * (mean then squared deviations; max then the sum of exponentials).
 *
 * Three shapes of work: reduced axes that are innermost and contiguous fold as one flat
 * run per output (the fast path); outputs that are contiguous neighbours (a sum over the
 * batch axis) are folded together, a vector of accumulators per step ("columns"); anything
 * else walks the reduced index space per output.
 *
 * Results must not depend on the thread count, so work is split only along boundaries the
 * shape fixes: output elements, and, when there are few outputs and many reduced elements,
 * blocks of BLOCK reduced elements whose partial results are combined in block order.
 * Scratch memory comes from the tape's pool, so steady state allocates nothing.
 */
#include <math.h>
#include <string.h>

#include "op.h"

enum {
    BLOCK = 8192,       /* reduced elements per partial result */
    FEW_OUTPUTS = 64,   /* below this many outputs, long reductions are split into blocks */
    COLUMN_MIN = 16,    /* contiguous run of outputs that makes the column path worth it */
    COLUMN_CHUNK = 256, /* outputs per task in the column path */
};

/* What a pass folds: sums of x, of (x - c)^2, of exp(x - c) for a per-output center c,
 * or the extremes of x (NaN wins, as in torch.amax). */
typedef enum fold { F_SUM, F_SQDEV, F_EXPSUM, F_MAX, F_MIN } fold;

/* An input split into kept and reduced dimensions; strides in elements. */
typedef struct plan {
    const char *x;
    bool f32;
    int64_t nout, nred;
    int nk, nr;
    int64_t kshape[CG_MAX_DIMS], kstride[CG_MAX_DIMS];
    int64_t rshape[CG_MAX_DIMS], rstride[CG_MAX_DIMS];
} plan;

/* ---- the plan ---- */

/* Append a dimension to a group, merging it into the previous one when the two are back
 * to back in memory; size-1 dimensions say nothing and are dropped. */
static void push_dim(int *n, int64_t *shape, int64_t *stride, int64_t size, int64_t st)
{
    if (size == 1)
        return;
    if (*n > 0 && stride[*n - 1] == st * size) {
        shape[*n - 1] *= size;
        stride[*n - 1] = st;
        return;
    }
    shape[*n] = size;
    stride[*n] = st;
    (*n)++;
}

static void make_plan(plan *p, const cg_tensor *x, uint32_t mask)
{
    memset(p, 0, sizeof *p);
    p->x = cg__ptr(x);
    p->f32 = x->dtype == CG_F32;
    p->nout = p->nred = 1;
    for (int d = 0; d < x->ndim; d++) {
        if (mask & (1u << d)) {
            p->nred *= x->shape[d];
            push_dim(&p->nr, p->rshape, p->rstride, x->shape[d], x->strides[d]);
        } else {
            p->nout *= x->shape[d];
            push_dim(&p->nk, p->kshape, p->kstride, x->shape[d], x->strides[d]);
        }
    }
    /* A single reduced element still needs one dimension to walk. */
    if (p->nr == 0) {
        p->nr = 1;
        p->rshape[0] = 1;
        p->rstride[0] = 0;
    }
}

/* Input offset of output element j (outputs are in row-major order of the kept dims). */
static int64_t out_offset(const plan *p, int64_t j)
{
    int64_t off = 0;
    for (int d = p->nk - 1; d >= 0; d--) {
        off += (j % p->kshape[d]) * p->kstride[d];
        j /= p->kshape[d];
    }
    return off;
}

/* A position in the reduced index space: multi-index and input offset. */
typedef struct walk {
    int64_t idx[CG_MAX_DIMS];
    int64_t off;
} walk;

static void walk_start(const plan *p, walk *w, int64_t r)
{
    w->off = 0;
    for (int d = p->nr - 1; d >= 0; d--) {
        w->idx[d] = r % p->rshape[d];
        r /= p->rshape[d];
        w->off += w->idx[d] * p->rstride[d];
    }
}

/* Move by n along the innermost reduced dimension (staying inside it), then carry. */
static void walk_advance(const plan *p, walk *w, int64_t n)
{
    int last = p->nr - 1;
    w->idx[last] += n;
    w->off += n * p->rstride[last];
    for (int d = last; d > 0 && w->idx[d] == p->rshape[d]; d--) {
        w->idx[d] = 0;
        w->idx[d - 1]++;
        w->off += p->rstride[d - 1] - p->rshape[d] * p->rstride[d];
    }
}

/* ---- folds ---- */

static double fold_init(fold f)
{
    return f == F_MAX ? -INFINITY : f == F_MIN ? INFINITY : 0.0;
}

/* Fold one more value v into acc (also combines partial results: same rules). */
static inline double fold_one(fold f, double acc, double v, double c)
{
    switch (f) {
    case F_SUM: return acc + v;
    case F_SQDEV: return acc + (v - c) * (v - c);
    case F_EXPSUM: return acc + exp(v - c);
    case F_MAX: return (v > acc || v != v) ? v : acc;
    case F_MIN: return (v < acc || v != v) ? v : acc;
    }
    return acc;
}

/* Fold n elements x[0], x[s], ... into acc. Contiguous sums use four accumulators so the
 * loop pipelines; the association is fixed by n alone. Exponentials are taken in the
 * input's precision (expf for f32, as PyTorch does) and summed in double; the center is
 * an element of the input or 0, so converting it to T is exact. */
#define FOLD_RUN(T, EXP, NAME)                                                              \
    static double NAME(fold f, const T *x, int64_t n, int64_t s, double c, double acc)     \
    {                                                                                       \
        if (f == F_SUM && s == 1) {                                                         \
            double a0 = 0, a1 = 0, a2 = 0, a3 = 0;                                          \
            int64_t i = 0;                                                                  \
            for (; i + 4 <= n; i += 4) {                                                    \
                a0 += x[i];                                                                 \
                a1 += x[i + 1];                                                             \
                a2 += x[i + 2];                                                             \
                a3 += x[i + 3];                                                             \
            }                                                                               \
            for (; i < n; i++)                                                              \
                a0 += x[i];                                                                 \
            return acc + ((a0 + a1) + (a2 + a3));                                           \
        }                                                                                   \
        if (f == F_EXPSUM) {                                                                \
            const T ct = (T)c;                                                              \
            for (int64_t i = 0; i < n; i++)                                                 \
                acc += EXP(x[i * s] - ct);                                                  \
            return acc;                                                                     \
        }                                                                                   \
        for (int64_t i = 0; i < n; i++)                                                     \
            acc = fold_one(f, acc, x[i * s], c);                                            \
        return acc;                                                                         \
    }

FOLD_RUN(float, expf, fold_run_f32)
FOLD_RUN(double, exp, fold_run_f64)

/* Fold acc[i] with x[i] for i < n: one reduced step of n neighbouring outputs. */
#define FOLD_COLUMN(T, EXP, NAME)                                                           \
    static void NAME(fold f, const T *x, int64_t n, const double *c, double *acc)          \
    {                                                                                       \
        if (f == F_SUM) {                                                                   \
            for (int64_t i = 0; i < n; i++)                                                 \
                acc[i] += x[i];                                                             \
        } else if (f == F_EXPSUM) {                                                         \
            for (int64_t i = 0; i < n; i++)                                                 \
                acc[i] += EXP(x[i] - (T)c[i]);                                              \
        } else {                                                                            \
            for (int64_t i = 0; i < n; i++)                                                 \
                acc[i] = fold_one(f, acc[i], x[i], c ? c[i] : 0.0);                         \
        }                                                                                   \
    }

FOLD_COLUMN(float, expf, fold_column_f32)
FOLD_COLUMN(double, exp, fold_column_f64)

/* Fold the reduced elements [r0, r1) of the output whose input offset is base. */
static double fold_range(const plan *p, fold f, int64_t base, int64_t r0, int64_t r1,
                         double c)
{
    double acc = fold_init(f);
    walk w;
    walk_start(p, &w, r0);
    int last = p->nr - 1;
    int64_t s = p->rstride[last];
    while (r0 < r1) {
        int64_t run = p->rshape[last] - w.idx[last];
        if (run > r1 - r0)
            run = r1 - r0;
        int64_t at = base + w.off;
        acc = p->f32 ? fold_run_f32(f, (const float *)p->x + at, run, s, c, acc)
                     : fold_run_f64(f, (const double *)p->x + at, run, s, c, acc);
        r0 += run;
        walk_advance(p, &w, run);
    }
    return acc;
}

/* Fold [r0, r1) for the n outputs from j0, which lie next to each other in memory: walk
 * the reduced elements once and update all n accumulators at each step. */
static void fold_columns(const plan *p, fold f, int64_t j0, int64_t n, int64_t r0, int64_t r1,
                         const double *c, double *acc)
{
    for (int64_t i = 0; i < n; i++)
        acc[i] = fold_init(f);
    int64_t base = out_offset(p, j0);
    walk w;
    walk_start(p, &w, r0);
    for (; r0 < r1; r0++) {
        int64_t at = base + w.off;
        if (p->f32)
            fold_column_f32(f, (const float *)p->x + at, n, c, acc);
        else
            fold_column_f64(f, (const double *)p->x + at, n, c, acc);
        walk_advance(p, &w, 1);
    }
}

/* ---- a pass ---- */

/* How a pass splits its work: groups of outputs times blocks of reduced elements. */
typedef struct split {
    int64_t nblocks, block;  /* reduced blocks and their size */
    bool column;             /* outputs taken COLUMN_CHUNK neighbours at a time */
    int64_t inner, nchunks;  /* column path: contiguous outputs per row, chunks per row */
    int64_t ngroups;
} split;

static split make_split(const plan *p)
{
    split s;
    bool blocked = p->nout < FEW_OUTPUTS && p->nred >= 2 * BLOCK;
    s.block = blocked ? BLOCK : p->nred;
    s.nblocks = blocked ? (p->nred + BLOCK - 1) / BLOCK : 1;
    s.inner = p->nk > 0 ? p->kshape[p->nk - 1] : 1;
    s.column = p->nk > 0 && p->kstride[p->nk - 1] == 1 && s.inner >= COLUMN_MIN && p->nred > 1;
    s.nchunks = s.column ? (s.inner + COLUMN_CHUNK - 1) / COLUMN_CHUNK : 1;
    s.ngroups = s.column ? p->nout / s.inner * s.nchunks : p->nout;
    return s;
}

/* Task t: one group of outputs over one block, written to its own slots of part. */
static void run_task(const plan *p, const split *s, fold f, const double *centers,
                     double *part, int64_t t)
{
    int64_t g = t / s->nblocks, b = t % s->nblocks;
    int64_t r0 = b * s->block, r1 = r0 + s->block < p->nred ? r0 + s->block : p->nred;
    double *dst = part + b * p->nout;
    if (!s->column) {
        double c = centers ? centers[g] : 0.0;
        dst[g] = fold_range(p, f, out_offset(p, g), r0, r1, c);
        return;
    }
    int64_t row = g / s->nchunks, chunk = g % s->nchunks;
    int64_t j0 = row * s->inner + chunk * COLUMN_CHUNK;
    int64_t n = s->inner - chunk * COLUMN_CHUNK;
    if (n > COLUMN_CHUNK)
        n = COLUMN_CHUNK;
    fold_columns(p, f, j0, n, r0, r1, centers ? centers + j0 : NULL, dst + j0);
}

/* acc[j] = fold f over every reduced element of output j, centred on centers[j]. */
static cg_status run_pass(const plan *p, fold f, const double *centers, double *acc,
                          cg_pool *pool)
{
    if (p->nred == 0 || p->nout == 0) {
        for (int64_t j = 0; j < p->nout; j++)
            acc[j] = fold_init(f);
        return CG_OK;
    }
    split s = make_split(p);
    double *part = acc;
    if (s.nblocks > 1) {
        part = cg__pool_record(pool, (size_t)(s.nblocks * p->nout) * sizeof(double));
        if (!part)
            return cg__error(CG_ERR_NOMEM, "reduction: out of memory for partial results");
    }
    int64_t ntasks = s.ngroups * s.nblocks;
    int threads = cg__threads_for(p->nout * p->nred, f == F_EXPSUM ? 8 : 1);
    if (threads > ntasks)
        threads = (int)ntasks;
    /* One thread runs the loop itself: libgomp would allocate a team for a region of one. */
    if (threads > 1) {
#pragma omp parallel for num_threads(threads) schedule(static)
        for (int64_t t = 0; t < ntasks; t++)
            run_task(p, &s, f, centers, part, t);
    } else {
        for (int64_t t = 0; t < ntasks; t++)
            run_task(p, &s, f, centers, part, t);
    }
    /* Combine the blocks in block order: the same sums whatever the thread count. */
    for (int64_t j = 0; s.nblocks > 1 && j < p->nout; j++) {
        double a = part[j];
        for (int64_t b = 1; b < s.nblocks; b++)
            a = fold_one(f == F_MAX || f == F_MIN ? f : F_SUM, a, part[b * p->nout + j], 0.0);
        acc[j] = a;
    }
    return CG_OK;
}

/* ---- forward kernels ---- */

/* Output shape of a reduction of x over mask. */
static int reduced_shape(const cg_tensor *x, uint32_t mask, bool keepdim, int64_t *shape)
{
    int nd = 0;
    for (int d = 0; d < x->ndim; d++) {
        if (!(mask & (1u << d)))
            shape[nd++] = x->shape[d];
        else if (keepdim)
            shape[nd++] = 1;
    }
    return nd;
}

/* The common start of every reduction kernel: check, allocate the output, plan, and take
 * scratch for `nbuf` arrays of one double per output. */
static cg_tensor *reduce_begin(int op, cg_pool *pool, cg_tensor *x, const cg__attrs *attrs,
                               plan *p, double **buf, int nbuf)
{
    if (!cg__check_float_dtypes(cg__ops[op].name, &x, 1))
        return NULL;
    int64_t shape[CG_MAX_DIMS];
    int nd = reduced_shape(x, attrs->axes, attrs->keepdim, shape);
    cg_tensor *out = cg__tensor_alloc(pool, x->dtype, nd, shape);
    if (!out)
        return NULL;
    make_plan(p, x, attrs->axes);
    for (int i = 0; i < nbuf; i++) {
        buf[i] = cg__pool_record(pool, (size_t)(p->nout > 0 ? p->nout : 1) * sizeof(double));
        if (!buf[i]) {
            cg__error(CG_ERR_NOMEM, "%s: out of memory for scratch", cg__ops[op].name);
            return NULL;
        }
    }
    return out;
}

/* out[j] = acc[j] * scale (+ add[j] when add is given), converted to out's dtype. */
static void store(cg_tensor *out, const double *acc, double scale, const double *add)
{
    int64_t n = cg__shape_numel(out->ndim, out->shape);
    for (int64_t j = 0; j < n; j++) {
        double v = acc[j] * scale + (add ? add[j] : 0.0);
        if (out->dtype == CG_F32)
            ((float *)cg__ptr(out))[j] = (float)v;
        else
            ((double *)cg__ptr(out))[j] = v;
    }
}

cg_tensor *cg__reduce_forward(int op, cg_pool *pool, cg_tensor *const *in, int n,
                              const cg__attrs *attrs)
{
    (void)n;
    plan p;
    double *acc;
    cg_tensor *out = reduce_begin(op, pool, in[0], attrs, &p, &acc, 1);
    if (!out)
        return NULL;
    if ((op == CG_OP_MAX || op == CG_OP_MIN) && p.nred == 0) {
        char s[160];
        cg__error(CG_ERR_VALUE, "%s: cannot reduce over a zero-size axis of shape %s "
                                "(the result has no identity)",
                  cg__ops[op].name, cg__shape_str(in[0]->ndim, in[0]->shape, s, sizeof s));
        return NULL;
    }
    fold f = op == CG_OP_MAX ? F_MAX : op == CG_OP_MIN ? F_MIN : F_SUM;
    if (run_pass(&p, f, NULL, acc, pool) != CG_OK)
        return NULL;
    /* mean of nothing: 0 * (1 / 0) is NaN, as in PyTorch */
    store(out, acc, op == CG_OP_MEAN ? 1.0 / (double)p.nred : 1.0, NULL);
    return out;
}

cg_tensor *cg__var_forward(int op, cg_pool *pool, cg_tensor *const *in, int n,
                           const cg__attrs *attrs)
{
    (void)n;
    plan p;
    double *buf[2];
    cg_tensor *out = reduce_begin(op, pool, in[0], attrs, &p, buf, 2);
    if (!out || run_pass(&p, F_SUM, NULL, buf[0], pool) != CG_OK)
        return NULL;
    for (int64_t j = 0; j < p.nout; j++)
        buf[0][j] /= (double)p.nred;
    if (run_pass(&p, F_SQDEV, buf[0], buf[1], pool) != CG_OK)
        return NULL;
    /* PyTorch divides by max(0, N - correction): zero degrees of freedom give inf or NaN. */
    double dof = (double)p.nred - (double)attrs->i[0];
    store(out, buf[1], 1.0 / (dof > 0 ? dof : 0.0), NULL);
    return out;
}

cg_tensor *cg__logsumexp_forward(int op, cg_pool *pool, cg_tensor *const *in, int n,
                                 const cg__attrs *attrs)
{
    (void)n;
    plan p;
    double *buf[2];
    cg_tensor *out = reduce_begin(op, pool, in[0], attrs, &p, buf, 2);
    if (!out || run_pass(&p, F_MAX, NULL, buf[0], pool) != CG_OK)
        return NULL;
    /* Subtract the max for stability, except an infinite one (PyTorch's rule): an all
     * -inf row then gives log(0) - inf = -inf, and a +inf entry gives +inf. */
    double *shift = buf[1];
    for (int64_t j = 0; j < p.nout; j++)
        shift[j] = isinf(buf[0][j]) ? 0.0 : buf[0][j];
    double *sum = buf[0];
    if (run_pass(&p, F_EXPSUM, shift, sum, pool) != CG_OK)
        return NULL;
    for (int64_t j = 0; j < p.nout; j++)
        sum[j] = log(sum[j]);
    store(out, sum, 1.0, shift);
    return out;
}

/* ---- public builders ---- */

/* The bit mask of the axes to reduce; naxes == 0 means all of them. A 0-d tensor takes
 * axis 0 or -1 and reduces over nothing. */
static bool axes_mask(const char *name, const cg_tensor *x, const int *axes, int naxes,
                      uint32_t *mask)
{
    char s[160];
    int lim = x->ndim > 0 ? x->ndim : 1;
    *mask = 0;
    if (naxes < 0 || (naxes > 0 && !axes)) {
        cg__error(CG_ERR_VALUE, "%s: invalid axis list (%d axes%s)", name, naxes,
                  axes ? "" : ", NULL array");
        return false;
    }
    if (naxes == 0) {
        *mask = (1u << x->ndim) - 1;
        return true;
    }
    for (int i = 0; i < naxes; i++) {
        int a = axes[i];
        if (a < -lim || a >= lim) {
            cg__error(CG_ERR_VALUE, "%s: axis %d out of range for shape %s", name, a,
                      cg__shape_str(x->ndim, x->shape, s, sizeof s));
            return false;
        }
        int d = a < 0 ? a + lim : a;
        if (*mask & (1u << d)) {
            cg__error(CG_ERR_VALUE, "%s: axis %d repeated for shape %s", name, a,
                      cg__shape_str(x->ndim, x->shape, s, sizeof s));
            return false;
        }
        *mask |= 1u << d;
    }
    if (x->ndim == 0)
        *mask = 0;
    return true;
}

static cg_tensor *reduce(int op, cg_tensor *x, const int *axes, int naxes, bool keepdim,
                         int correction)
{
    const char *name = cg__ops[op].name;
    cg__attrs at;
    memset(&at, 0, sizeof at);
    if (!cg__check_tensor(x, name) || !axes_mask(name, x, axes, naxes, &at.axes))
        return NULL;
    at.keepdim = keepdim;
    if (op == CG_OP_VAR) {
        at.i[0] = correction;
        at.ni = 1;
    }
    return cg__apply(op, &x, 1, &at);
}

cg_tensor *cg_sum(cg_tensor *x, const int *axes, int naxes, bool keepdim)
{
    return reduce(CG_OP_SUM, x, axes, naxes, keepdim, 0);
}

cg_tensor *cg_mean(cg_tensor *x, const int *axes, int naxes, bool keepdim)
{
    return reduce(CG_OP_MEAN, x, axes, naxes, keepdim, 0);
}

cg_tensor *cg_max(cg_tensor *x, const int *axes, int naxes, bool keepdim)
{
    return reduce(CG_OP_MAX, x, axes, naxes, keepdim, 0);
}

cg_tensor *cg_min(cg_tensor *x, const int *axes, int naxes, bool keepdim)
{
    return reduce(CG_OP_MIN, x, axes, naxes, keepdim, 0);
}

cg_tensor *cg_var(cg_tensor *x, const int *axes, int naxes, int correction, bool keepdim)
{
    return reduce(CG_OP_VAR, x, axes, naxes, keepdim, correction);
}

cg_tensor *cg_logsumexp(cg_tensor *x, const int *axes, int naxes, bool keepdim)
{
    return reduce(CG_OP_LOGSUMEXP, x, axes, naxes, keepdim, 0);
}

/* Composite, not a table op: a sum over the stretched dimensions (keepdim, so the kept
 * ones stay in place) and a reshape that drops the leading ones. */
cg_tensor *cg_sum_to(cg_tensor *x, int ndim, const int64_t *shape)
{
    if (!cg__check_tensor(x, "sum_to") || !cg__check_shape_args(ndim, shape, "sum_to"))
        return NULL;
    int axes[CG_MAX_DIMS], naxes = 0, lead = x->ndim - ndim;
    bool ok = lead >= 0;
    for (int d = 0; ok && d < x->ndim; d++) {
        /* leading dimensions go entirely; the others must match or be 1 */
        int64_t want = d < lead ? 1 : shape[d - lead];
        ok = want == x->shape[d] || want == 1;
        if (ok && want != x->shape[d])
            axes[naxes++] = d;
    }
    if (!ok) {
        char a[160], b[160];
        cg__error(CG_ERR_SHAPE, "sum_to: shape %s does not broadcast to %s",
                  cg__shape_str(ndim, shape, a, sizeof a),
                  cg__shape_str(x->ndim, x->shape, b, sizeof b));
        return NULL;
    }
    cg_tensor *y = naxes > 0 ? cg_sum(x, axes, naxes, true) : x;
    return y && lead > 0 ? cg_reshape(y, ndim, shape) : y;
}

/* ---- backward rules ---- */

#define IN(k) (node->inputs[k])
#define OUT (node->out)

/* The reduced axes of node as a list; returns how many. */
static int node_axes(const cg_node *node, int *axes)
{
    int n = 0;
    for (int d = 0; d < IN(0)->ndim; d++)
        if (node->attrs.axes & (1u << d))
            axes[n++] = d;
    return n;
}

/* Number of elements each output folded. */
static int64_t node_count(const cg_node *node)
{
    int64_t n = 1;
    for (int d = 0; d < IN(0)->ndim; d++)
        if (node->attrs.axes & (1u << d))
            n *= IN(0)->shape[d];
    return n;
}

/* t (shaped like the output) with the reduced dimensions put back as size 1, so that it
 * broadcasts against the input. */
static cg_tensor *with_kept_dims(const cg_node *node, cg_tensor *t)
{
    const cg_tensor *x = IN(0);
    if (node->attrs.keepdim || x->ndim == 0)
        return t;
    int64_t shape[CG_MAX_DIMS];
    for (int d = 0; d < x->ndim; d++)
        shape[d] = node->attrs.axes & (1u << d) ? 1 : x->shape[d];
    return cg_reshape(t, x->ndim, shape);
}

cg_status cg__sum_backward(const cg_node *node, cg_tensor *g, cg_tensor **gin)
{
    gin[0] = cg_expand(with_kept_dims(node, g), IN(0)->ndim, IN(0)->shape);
    return CG_OK;
}

cg_status cg__mean_backward(const cg_node *node, cg_tensor *g, cg_tensor **gin)
{
    cg_tensor *e = cg_expand(with_kept_dims(node, g), IN(0)->ndim, IN(0)->shape);
    gin[0] = cg_mul_scalar(e, 1.0 / (double)node_count(node));
    return CG_OK;
}

/* torch.amax's rule: the gradient is shared evenly between the elements equal to the
 * extreme. The mask is a constant (eq is not differentiable). */
cg_status cg__extremum_backward(const cg_node *node, cg_tensor *g, cg_tensor **gin)
{
    int axes[CG_MAX_DIMS], n = node_axes(node, axes);
    cg_tensor *hit = cg_eq(IN(0), with_kept_dims(node, OUT));
    cg_tensor *count = cg_sum(hit, axes, n, true);
    gin[0] = cg_div(cg_mul(hit, with_kept_dims(node, g)), count);
    return CG_OK;
}

/* 2 (x - mean) / (N - correction), with the forward's max(0, .) on the divisor. */
cg_status cg__var_backward(const cg_node *node, cg_tensor *g, cg_tensor **gin)
{
    int axes[CG_MAX_DIMS], n = node_axes(node, axes);
    double dof = (double)node_count(node) - (double)node->attrs.i[0];
    cg_tensor *dev = cg_sub(IN(0), cg_mean(IN(0), axes, n, true));
    gin[0] = cg_mul(cg_mul_scalar(dev, 2.0 / (dof > 0 ? dof : 0.0)), with_kept_dims(node, g));
    return CG_OK;
}

cg_status cg__logsumexp_backward(const cg_node *node, cg_tensor *g, cg_tensor **gin)
{
    cg_tensor *p = cg_exp(cg_sub(IN(0), with_kept_dims(node, OUT)));
    gin[0] = cg_mul(with_kept_dims(node, g), p);
    return CG_OK;
}

/* Matrix products with torch.matmul's rules. The table op MATMUL takes operands of two or
 * more dimensions, [..., m, k] @ [..., k, n] -> [..., m, n], batch dimensions
 * broadcasting. cg_matmul promotes a 1-d operand to a matrix with a view op before the
 * product and removes the added dimension after it, so those views carry their own
 * gradients. Every product runs through cg__gemm with the operands' own strides. */
#include "gemm.h"
#include "op.h"

/* Below this many multiply-adds per product, a batch runs one product per thread rather
 * than one multithreaded BLIS call after another. */
#define SMALL_PRODUCT (64.0 * 64.0 * 64.0)

static void shape_error(const cg_tensor *a, const cg_tensor *b, const char *why)
{
    char x[160], y[160];
    cg__error(CG_ERR_SHAPE, "matmul: shapes %s and %s cannot be multiplied%s",
              cg__shape_str(a->ndim, a->shape, x, sizeof x),
              cg__shape_str(b->ndim, b->shape, y, sizeof y), why);
}

/* Output shape of the table op: broadcast batch dimensions, then m and n. */
static bool product_shape(const cg_tensor *a, const cg_tensor *b, int *nd, int64_t *shape)
{
    if (a->ndim < 2 || b->ndim < 2) {
        shape_error(a, b, " (the matmul op takes operands of 2 or more dimensions)");
        return false;
    }
    if (a->shape[a->ndim - 1] != b->shape[b->ndim - 2]) {
        shape_error(a, b, "");
        return false;
    }
    int n = a->ndim > b->ndim ? a->ndim : b->ndim;
    for (int i = 0; i < n - 2; i++) {
        int ia = i - (n - a->ndim), ib = i - (n - b->ndim);
        int64_t sa = ia < 0 ? 1 : a->shape[ia];
        int64_t sb = ib < 0 ? 1 : b->shape[ib];
        if (sa != sb && sa != 1 && sb != 1) {
            shape_error(a, b, " (batch dimensions do not broadcast)");
            return false;
        }
        shape[i] = sa == 1 ? sb : sa;
    }
    shape[n - 2] = a->shape[a->ndim - 2];
    shape[n - 1] = b->shape[b->ndim - 1];
    *nd = n;
    return true;
}

/* t itself when BLIS takes its matrix strides; otherwise (a broadcast view) a contiguous
 * copy on the pool, which the tape frees at reset. */
static cg_tensor *gemm_ready(cg_pool *pool, cg_tensor *t)
{
    int d = t->ndim;
    if (cg__gemm_strides_ok(t->shape[d - 2], t->shape[d - 1], t->strides[d - 2],
                            t->strides[d - 1]))
        return t;
    cg_tensor *c = cg__tensor_alloc(pool, t->dtype, d, t->shape);
    if (c)
        cg__copy_into(c, t);
    return c;
}

/* The products of one op: matrices of batch 0 and the batch geometry. */
typedef struct batch_plan {
    cg_dtype dtype;
    int nb;                                   /* batch dimensions */
    int64_t shape[CG_MAX_DIMS];               /* batch sizes */
    int64_t sa[CG_MAX_DIMS], sb[CG_MAX_DIMS]; /* batch strides in elements, 0 if broadcast */
    int64_t m, n, k;
    cg__mat a, b, c;
} batch_plan;

/* Strides of t's batch dimensions aligned to nb output batch dimensions. */
static void batch_strides(const cg_tensor *t, int nb, int64_t *st)
{
    for (int i = 0; i < nb; i++) {
        int it = i - (nb - (t->ndim - 2));
        st[i] = (it < 0 || t->shape[it] == 1) ? 0 : t->strides[it];
    }
}

static void run_product(const batch_plan *p, int64_t bi, int threads)
{
    int64_t oa = 0, ob = 0, rest = bi;
    for (int d = p->nb - 1; d >= 0; d--) {
        int64_t i = rest % p->shape[d];
        rest /= p->shape[d];
        oa += i * p->sa[d];
        ob += i * p->sb[d];
    }
    int64_t es = (int64_t)cg_dtype_size(p->dtype);
    cg__mat a = p->a, b = p->b, c = p->c;
    a.data = (char *)a.data + oa * es;
    b.data = (char *)b.data + ob * es;
    c.data = (char *)c.data + bi * p->m * p->n * es;
    cg__gemm(p->dtype, p->m, p->n, p->k, 1.0, a, b, 0.0, c, threads);
}

static void run_batch(cg_tensor *a, cg_tensor *b, cg_tensor *out)
{
    batch_plan p;
    p.dtype = out->dtype;
    p.nb = out->ndim - 2;
    for (int i = 0; i < p.nb; i++)
        p.shape[i] = out->shape[i];
    batch_strides(a, p.nb, p.sa);
    batch_strides(b, p.nb, p.sb);
    p.m = out->shape[p.nb];
    p.n = out->shape[p.nb + 1];
    p.k = a->shape[a->ndim - 1];
    p.a = (cg__mat){cg__ptr(a), a->strides[a->ndim - 2], a->strides[a->ndim - 1]};
    p.b = (cg__mat){cg__ptr(b), b->strides[b->ndim - 2], b->strides[b->ndim - 1]};
    p.c = (cg__mat){cg__ptr(out), p.n, 1};
    int64_t batch = cg__shape_numel(p.nb, p.shape);
    double work = (double)p.m * (double)p.n * (double)p.k;
    int threads = batch > 1 && work < SMALL_PRODUCT ? cg__threads_for(batch, (int64_t)work) : 1;
    if (threads <= 1) {
        for (int64_t bi = 0; bi < batch; bi++)
            run_product(&p, bi, cg_get_num_threads());
        return;
    }
    /* Each product is written by one thread whatever the split, so results do not depend
     * on the thread count. */
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t bi = 0; bi < batch; bi++)
        run_product(&p, bi, 1);
}

cg_tensor *cg__matmul_forward(int op, cg_pool *pool, cg_tensor *const *in, int n,
                              const cg__attrs *attrs)
{
    (void)op, (void)n, (void)attrs;
    int nd;
    int64_t shape[CG_MAX_DIMS];
    if (!cg__check_float_dtypes("matmul", in, 2) || !product_shape(in[0], in[1], &nd, shape))
        return NULL;
    cg_tensor *out = cg__tensor_alloc(pool, in[0]->dtype, nd, shape);
    if (!out || cg__shape_numel(nd, shape) == 0)
        return out;
    cg_tensor *a = gemm_ready(pool, in[0]), *b = gemm_ready(pool, in[1]);
    if (!a || !b)
        return NULL;
    run_batch(a, b, out);
    return out;
}

cg_tensor *cg_matmul(cg_tensor *a, cg_tensor *b)
{
    cg_tensor *in[2] = {a, b};
    if (!cg__check_tensor(a, "matmul") || !cg__check_tensor(b, "matmul") ||
        !cg__check_float_dtypes("matmul", in, 2))
        return NULL;
    if (a->ndim == 0 || b->ndim == 0) {
        shape_error(a, b, " (both need at least 1 dimension)");
        return NULL;
    }
    /* Check k here so that the message shows the shapes the caller passed. */
    int64_t ka = a->shape[a->ndim - 1], kb = b->shape[b->ndim == 1 ? 0 : b->ndim - 2];
    if (ka != kb) {
        shape_error(a, b, "");
        return NULL;
    }
    in[0] = a->ndim == 1 ? cg_unsqueeze(a, 0) : a;
    in[1] = b->ndim == 1 ? cg_unsqueeze(b, 1) : b;
    cg_tensor *out = cg__apply(CG_OP_MATMUL, in, 2, NULL);
    if (a->ndim == 1 && b->ndim == 1) {
        static const int64_t scalar_shape[1] = {1};
        return cg_reshape(out, 0, scalar_shape);
    }
    if (a->ndim == 1)
        return cg_squeeze(out, -2);
    if (b->ndim == 1)
        return cg_squeeze(out, -1);
    return out;
}

/* Whether a matrix operand is a transposed view: stored by columns, as the transpose of a
 * row-major tensor is (cg_linear's weight). */
static bool column_stored(const cg_tensor *t)
{
    return t->ndim == 2 && t->shape[0] > 1 && t->shape[1] > 1 && t->strides[0] == 1 &&
           t->strides[1] >= t->shape[0];
}

/* The gradient x y of operand t, summed over the batch dimensions t was broadcast along.
 * For a column-stored t it is computed as (y^T x^T)^T: the product then comes out in the
 * storage order of the tensor t views, the transpose's rule hands that tensor a contiguous
 * gradient, and its accumulation (W.grad += dW) walks memory in order instead of adding a
 * transposed temporary, 12 times slower. The batch sum runs before the last transpose, on
 * contiguous products. Both forms are made of ops, so create_graph records either. */
static cg_tensor *grad_like(cg_tensor *x, cg_tensor *y, const cg_tensor *t)
{
    if (!column_stored(t))
        return cg__sum_to_like(cg_matmul(x, y), t);
    cg_tensor *p = cg_matmul(cg_transpose(y, -2, -1), cg_transpose(x, -2, -1));
    if (p && p->ndim > 2)
        p = cg_sum_to(p, 2, (int64_t[]){t->shape[1], t->shape[0]});
    return cg_transpose(p, -2, -1);
}

/* dA = g B^T and dB = A^T g, with transposed views (no copies), summed over the batch
 * dimensions an operand was broadcast along. */
cg_status cg__matmul_backward(const cg_node *node, cg_tensor *g, cg_tensor **gin)
{
    cg_tensor *a = node->inputs[0], *b = node->inputs[1];
    if (cg__needs(node, 0))
        gin[0] = grad_like(g, cg_transpose(b, -2, -1), a);
    if (cg__needs(node, 1))
        gin[1] = grad_like(cg_transpose(a, -2, -1), g, b);
    return CG_OK;
}

/*
 * Golden test of the normalizations (lib/nn/norm.c) against torch.nn.functional:
 * tests/golden/make_golden_norm.py writes golden/norm.txt (case list in its docstring);
 * golden_reader.h runs one cmocka test per case (output and gradients, tolerance rule
 * there).
 *
 * Every case exists in f64 and f32; BOTH() makes the two rows of one builder. The "steps"
 * builders run three training steps on copies of the stored running statistics and
 * return the three outputs and the final running statistics as one vector, so the
 * running buffers are compared too.
 */
#include "golden_reader.h"

typedef struct norm_args {
    double momentum, eps;
    int64_t groups;          /* group norm */
    int nshape;              /* layer norm: the trailing dimensions normalised */
    int64_t shape[2];
} norm_args;

#define ROW(n, f, args) {.name = n, .fn = (f), .params = (args)}
#define BOTH(n, f, args) ROW(n "_f64", f, args), ROW(n "_f32", f, args)

static const norm_args *ARGS(const golden_builder *b) { return b->params; }

static cg_tensor *b_bn_train(cg_tensor *const *x, const golden_builder *b)
{
    return cg_batch_norm(x[0], NULL, NULL, x[1], x[2], true, ARGS(b)->momentum, ARGS(b)->eps);
}

static cg_tensor *b_bn_train_plain(cg_tensor *const *x, const golden_builder *b)
{
    return cg_batch_norm(x[0], NULL, NULL, NULL, NULL, true, ARGS(b)->momentum, ARGS(b)->eps);
}

static cg_tensor *b_bn_eval(cg_tensor *const *x, const golden_builder *b)
{
    return cg_batch_norm(x[0], x[1], x[2], x[3], x[4], false, ARGS(b)->momentum, ARGS(b)->eps);
}

static cg_tensor *b_bn_eval_plain(cg_tensor *const *x, const golden_builder *b)
{
    return cg_batch_norm(x[0], x[1], x[2], NULL, NULL, false, ARGS(b)->momentum, ARGS(b)->eps);
}

typedef cg_tensor *(*norm_fn)(cg_tensor *x, cg_tensor *rm, cg_tensor *rv, cg_tensor *w,
                              cg_tensor *b, bool train, double momentum, double eps);

/* Three steps of fn on x[0][s] with copies of the running statistics x[1], x[2]; the
 * copies are the caller's (freed here: in training the graph does not hold them). */
static cg_tensor *run_steps(norm_fn fn, cg_tensor *const *x, const golden_builder *b)
{
    cg_tensor *rm = cg_tensor_clone(x[1]), *rv = cg_tensor_clone(x[2]), *parts[5];
    for (int s = 0; s < 3; s++) {
        cg_tensor *xs = cg_squeeze(cg_slice(x[0], 0, s, s + 1, 1), 0);
        cg_tensor *y = fn(xs, rm, rv, x[3], x[4], true, ARGS(b)->momentum, ARGS(b)->eps);
        parts[s] = cg_flatten(y, 0, -1);
    }
    parts[3] = cg_contiguous(rm);
    parts[4] = cg_contiguous(rv);
    cg_tensor_free(rm);
    cg_tensor_free(rv);
    return cg_concat(parts, 5, 0);
}

static cg_tensor *b_bn_steps(cg_tensor *const *x, const golden_builder *b)
{
    return run_steps(cg_batch_norm, x, b);
}

static cg_tensor *b_in_steps(cg_tensor *const *x, const golden_builder *b)
{
    return run_steps(cg_instance_norm, x, b);
}

static cg_tensor *b_ln(cg_tensor *const *x, const golden_builder *b)
{
    return cg_layer_norm(x[0], ARGS(b)->nshape, ARGS(b)->shape, x[1], x[2], ARGS(b)->eps);
}

static cg_tensor *b_ln_plain(cg_tensor *const *x, const golden_builder *b)
{
    return cg_layer_norm(x[0], ARGS(b)->nshape, ARGS(b)->shape, NULL, NULL, ARGS(b)->eps);
}

static cg_tensor *b_gn(cg_tensor *const *x, const golden_builder *b)
{
    return cg_group_norm(x[0], ARGS(b)->groups, x[1], x[2], ARGS(b)->eps);
}

static cg_tensor *b_gn_plain(cg_tensor *const *x, const golden_builder *b)
{
    return cg_group_norm(x[0], ARGS(b)->groups, NULL, NULL, ARGS(b)->eps);
}

static cg_tensor *b_in(cg_tensor *const *x, const golden_builder *b)
{
    return cg_instance_norm(x[0], NULL, NULL, x[1], x[2], true, ARGS(b)->momentum,
                            ARGS(b)->eps);
}

static cg_tensor *b_in_eval(cg_tensor *const *x, const golden_builder *b)
{
    return cg_instance_norm(x[0], x[1], x[2], NULL, NULL, false, ARGS(b)->momentum,
                            ARGS(b)->eps);
}

/* Feature statistics are caller-owned: copy them onto the tape, then free them. */
static cg_tensor *b_stats(cg_tensor *const *x, const golden_builder *b)
{
    (void)b;
    cg_tensor *mean, *std;
    if (cg_feature_stats(x[0], &mean, &std) != CG_OK)
        return NULL;
    cg_tensor *parts[2] = {cg_flatten(cg_contiguous(mean), 0, -1),
                           cg_flatten(cg_contiguous(std), 0, -1)};
    cg_tensor_free(mean);
    cg_tensor_free(std);
    return cg_concat(parts, 2, 0);
}

static cg_tensor *b_standardize(cg_tensor *const *x, const golden_builder *b)
{
    return cg_standardize(x[0], x[1], x[2], ARGS(b)->eps);
}

/* PyTorch's defaults and the cases' parameters. */
static const norm_args dflt = {.momentum = 0.1, .eps = 1e-5};
static const norm_args m03 = {.momentum = 0.3, .eps = 1e-3};
static const norm_args m02 = {.momentum = 0.2, .eps = 1e-5};
static const norm_args eps3 = {.momentum = 0.1, .eps = 1e-3};
static const norm_args ln1 = {.eps = 1e-5, .nshape = 1, .shape = {4}};
static const norm_args ln2 = {.eps = 1e-5, .nshape = 2, .shape = {3, 4}};
static const norm_args ln_plain = {.eps = 1e-3, .nshape = 1, .shape = {5}};
static const norm_args g2 = {.eps = 1e-5, .groups = 2}, g3 = {.eps = 1e-5, .groups = 3},
                       g4 = {.eps = 1e-5, .groups = 4};

static const golden_builder builders[] = {
    BOTH("bn_train_2d", b_bn_train, &dflt),
    BOTH("bn_train_3d", b_bn_train, &m03),
    BOTH("bn_train_4d", b_bn_train, &dflt),
    BOTH("bn_train_plain", b_bn_train_plain, &dflt),
    BOTH("bn_steps_3d", b_bn_steps, &dflt),
    BOTH("bn_steps_4d", b_bn_steps, &dflt),
    BOTH("bn_eval_2d", b_bn_eval, &dflt),
    BOTH("bn_eval_4d", b_bn_eval, &dflt),
    BOTH("bn_eval_plain", b_bn_eval_plain, &dflt),
    BOTH("ln_1", b_ln, &ln1),
    BOTH("ln_2", b_ln, &ln2),
    BOTH("ln_plain", b_ln_plain, &ln_plain),
    BOTH("gn_3d", b_gn, &g2),
    BOTH("gn_4d", b_gn, &g3),
    BOTH("gn_plain", b_gn_plain, &g4),
    BOTH("in_4d", b_in, &dflt),
    BOTH("in_3d", b_in, &eps3),
    BOTH("in_steps", b_in_steps, &m02),
    BOTH("in_eval", b_in_eval, &dflt),
    BOTH("stats", b_stats, &dflt),
    BOTH("standardize", b_standardize, &eps3),
};

int main(void)
{
    static const char *const files[] = {"golden/norm.txt"};
    return golden_run("golden_norm", files, 1, builders,
                      (int)(sizeof builders / sizeof builders[0]));
}

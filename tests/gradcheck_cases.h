/* Gradient-check cases: each op family lists its cases in a gradcheck_cases_*.c file
 * (tests/test_gradcheck_ops.c for the core ops), and test_gradcheck_ops walks them all
 * against the op table. */
#ifndef CG_GRADCHECK_CASES_H
#define CG_GRADCHECK_CASES_H

#include "test_util.h"

/* How an input is filled: normal(0, 1); uniform(0.5, 2); normal pushed 0.1 away from 0;
 * uniform(0.05, 0.95) (probabilities); fixed i64 values (INDEX). */
enum kind { RANDN, POSITIVE, AWAY_FROM_ZERO, PROBABILITY, INDEX };

typedef struct input_spec {
    enum kind kind;
    int ndim;
    int64_t shape[4];
    int64_t index[16]; /* values of an INDEX input, row-major */
} input_spec;

typedef struct op_case {
    const char *op;    /* the op-table name this case exercises */
    const char *label; /* what is special about it */
    cg_grad_fn fn;
    int ninputs;
    input_spec in[6];
    bool first_order_only; /* op not twice differentiable at the sampled points */
} op_case;

#define UNUSED (void)n, (void)ctx
#define A in[0]
#define B in[1]
#define C in[2]

#define T1(k, nd, ...) {{k, nd, {__VA_ARGS__}, {0}}}
#define IN(k, nd, ...) {k, nd, {__VA_ARGS__}, {0}}
#define IDX1(s0, ...) {INDEX, 1, {s0}, {__VA_ARGS__}}
#define IDX2(s0, s1, ...) {INDEX, 2, {s0, s1}, {__VA_ARGS__}}

/* A family's cases: a pointer to its array and the count. */
typedef struct case_list {
    const op_case *cases;
    size_t n;
} case_list;

/* Providers, one per family file (listed in test_gradcheck_ops.c). */
case_list gradcheck_cases_activation(void);
case_list gradcheck_cases_conv(void);
case_list gradcheck_cases_norm(void);
case_list gradcheck_cases_loss(void);

#endif

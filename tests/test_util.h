/* Shared test scaffolding: every test runs with a fresh active tape and ends with zero
 * live bytes in the library's allocator (a leak check after every case). */
#ifndef CG_TEST_UTIL_H
#define CG_TEST_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "cgrad/cgrad.h"

typedef struct test_ctx {
    cg_tape *tape;
    int64_t live_before;
} test_ctx;

/* cmocka setup: a new tape, made active. */
static inline int cg_test_setup(void **state)
{
    static test_ctx ctx;
    cg_clear_error();
    ctx.live_before = cg_alloc_get_stats().live_bytes;
    ctx.tape = cg_tape_new();
    cg_tape_use(ctx.tape);
    *state = &ctx;
    return ctx.tape ? 0 : -1;
}

/* cmocka teardown: free the tape; fail if the case leaked library memory. */
static inline int cg_test_teardown(void **state)
{
    test_ctx *ctx = *state;
    cg_tape_use(NULL);
    cg_tape_free(ctx->tape);
    int64_t leaked = cg_alloc_get_stats().live_bytes - ctx->live_before;
    if (leaked != 0) {
        fprintf(stderr, "leak: %lld bytes still allocated after the test\n", (long long)leaked);
        return -1;
    }
    return 0;
}

#define CG_TEST(fn) cmocka_unit_test_setup_teardown(fn, cg_test_setup, cg_test_teardown)

/* Assert |a - b| <= atol + rtol |b|, printing both values. */
#define assert_close(a, b, atol, rtol)                                                      \
    do {                                                                                    \
        double a_ = (a), b_ = (b);                                                          \
        if (!(fabs(a_ - b_) <= (atol) + (rtol)*fabs(b_)) && !(isnan(a_) && isnan(b_)))      \
            fail_msg("%s = %.17g, %s = %.17g (diff %.3g)", #a, a_, #b, b_, fabs(a_ - b_));  \
    } while (0)

/* Assert that a call returned a non-NULL tensor, printing the library's error otherwise. */
#define assert_tensor(t)                                                                    \
    do {                                                                                    \
        if ((t) == NULL)                                                                    \
            fail_msg("%s is NULL: %s", #t, cg_last_error());                                \
    } while (0)

/* Assert that a status is CG_OK, printing the library's error otherwise. */
#define assert_ok(st)                                                                       \
    do {                                                                                    \
        cg_status st_ = (st);                                                               \
        if (st_ != CG_OK)                                                                   \
            fail_msg("%s returned %s: %s", #st, cg_status_string(st_), cg_last_error());    \
    } while (0)

/* Assert the message recorded by the last failure contains text. */
#define assert_error_contains(text)                                                         \
    do {                                                                                    \
        if (!strstr(cg_last_error(), (text)))                                               \
            fail_msg("error \"%s\" lacks \"%s\"", cg_last_error(), (text));                 \
    } while (0)

/* The values of any tensor as a new array of doubles (free it); fails the test on error. */
static inline double *cg_test_values(const cg_tensor *t)
{
    assert_tensor(t);
    int64_t n = cg_tensor_numel(t);
    double *v = calloc((size_t)(n > 0 ? n : 1), sizeof(double));
    assert_non_null(v);
    assert_ok(cg_tensor_to_f64(t, v));
    return v;
}

/* A tensor of values uniform in [lo, hi) from its own seed. */
static inline cg_tensor *cg_test_uniform(cg_dtype dtype, int ndim, const int64_t *shape,
                                         uint64_t seed, double lo, double hi)
{
    cg_rng rng = cg_rng_init(seed);
    cg_tensor *t = cg_tensor_uniform(&rng, dtype, ndim, shape, lo, hi);
    assert_tensor(t);
    return t;
}

/* A tensor of values uniform in [-1, 1) from its own seed. */
static inline cg_tensor *cg_test_rand(cg_dtype dtype, int ndim, const int64_t *shape,
                                      uint64_t seed)
{
    return cg_test_uniform(dtype, ndim, shape, seed, -1.0, 1.0);
}

#endif

/* The library's one allocator: 64-byte aligned blocks (for vector loads), counters of
 * calls and live bytes, and a failure injector for out-of-memory tests. Callers pass the
 * size back on free, as in Lua's allocator, so no header is needed. */
#include <stdlib.h>
#include <string.h>

#include "core.h"

enum { ALIGNMENT = 64 };

static atomic_uint_fast64_t malloc_calls;
static atomic_int_fast64_t live_bytes;
static atomic_int_fast64_t peak_bytes;
static atomic_int_fast64_t fail_countdown; /* 0: off; k: the k-th allocation from now fails */

cg_alloc_stats cg_alloc_get_stats(void)
{
    cg_alloc_stats s;
    s.malloc_calls = (uint64_t)atomic_load(&malloc_calls);
    s.live_bytes = (int64_t)atomic_load(&live_bytes);
    s.peak_bytes = (int64_t)atomic_load(&peak_bytes);
    return s;
}

void cg_alloc_fail_after(int64_t n) { atomic_store(&fail_countdown, n > 0 ? n : 0); }

static bool injected_failure(void)
{
    int_fast64_t c = atomic_load(&fail_countdown);
    while (c > 0) {
        if (atomic_compare_exchange_weak(&fail_countdown, &c, c - 1))
            return c == 1;
    }
    return false;
}

static void count(int64_t delta)
{
    int_fast64_t now = atomic_fetch_add(&live_bytes, delta) + delta;
    int_fast64_t peak = atomic_load(&peak_bytes);
    while (now > peak && !atomic_compare_exchange_weak(&peak_bytes, &peak, now)) {
    }
}

void *cg__malloc(size_t n)
{
    if (n == 0)
        n = 1;
    if (injected_failure())
        return NULL;
    atomic_fetch_add(&malloc_calls, 1);
    size_t rounded = (n + ALIGNMENT - 1) / ALIGNMENT * ALIGNMENT;
    if (rounded < n)
        return NULL;
    void *p = aligned_alloc(ALIGNMENT, rounded);
    if (p)
        count((int64_t)n);
    return p;
}

void *cg__calloc(size_t count_, size_t size)
{
    if (size != 0 && count_ > SIZE_MAX / size)
        return NULL;
    void *p = cg__malloc(count_ * size);
    if (p)
        memset(p, 0, count_ * size > 0 ? count_ * size : 1);
    return p;
}

void *cg__realloc(void *p, size_t old_n, size_t n)
{
    void *q = cg__malloc(n);
    if (!q)
        return NULL;
    if (p) {
        memcpy(q, p, old_n < n ? old_n : n);
        cg__free(p, old_n);
    }
    return q;
}

void cg__free(void *p, size_t n)
{
    if (!p)
        return;
    count(-(int64_t)(n ? n : 1));
    free(p);
}

char *cg__strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = cg__malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

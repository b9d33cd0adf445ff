/* A counting C allocator, preloaded (LD_PRELOAD) into the process that runs one
 * cgrad-bench case, so that the bench can show every call to malloc a training step
 * makes, whoever makes it: libcgrad (whose own counter, cg_alloc_get_stats, covers only
 * its allocator), BLIS, the OpenMP runtime, the C library. Each function counts, then
 * hands over to glibc's implementation. Not built in sanitizer builds (the sanitizers
 * bring their own allocator). */
#include <errno.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>

extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t count, size_t size);
extern void *__libc_realloc(void *p, size_t n);
extern void *__libc_memalign(size_t alignment, size_t n);
extern void __libc_free(void *p);

/* Calls so far; cgrad-bench finds this function with dlsym. */
unsigned long long cgrad_bench_malloc_calls(void);

void *memalign(size_t alignment, size_t n);

static atomic_ullong calls;

unsigned long long cgrad_bench_malloc_calls(void) { return atomic_load(&calls); }

void *malloc(size_t n)
{
    atomic_fetch_add_explicit(&calls, 1, memory_order_relaxed);
    return __libc_malloc(n);
}

void *calloc(size_t count, size_t size)
{
    atomic_fetch_add_explicit(&calls, 1, memory_order_relaxed);
    return __libc_calloc(count, size);
}

void *realloc(void *p, size_t n)
{
    atomic_fetch_add_explicit(&calls, 1, memory_order_relaxed);
    return __libc_realloc(p, n);
}

void *aligned_alloc(size_t alignment, size_t n)
{
    atomic_fetch_add_explicit(&calls, 1, memory_order_relaxed);
    return __libc_memalign(alignment, n);
}

void *memalign(size_t alignment, size_t n)
{
    atomic_fetch_add_explicit(&calls, 1, memory_order_relaxed);
    return __libc_memalign(alignment, n);
}

int posix_memalign(void **p, size_t alignment, size_t n)
{
    atomic_fetch_add_explicit(&calls, 1, memory_order_relaxed);
    if (alignment < sizeof(void *) || (alignment & (alignment - 1)))
        return EINVAL;
    void *q = __libc_memalign(alignment, n);
    if (!q)
        return ENOMEM;
    *p = q;
    return 0;
}

void free(void *p) { __libc_free(p); }

// Counts heap allocations by defining the allocator entry points in the benchmark executable,
// which take precedence over glibc's, and forwarding to glibc's internal implementations.
#include "malloc_count.h"
#include <errno.h>
#include <stddef.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void __libc_free(void *);

static uint64_t allocations;

uint64_t malloc_count_allocations(void) { return __atomic_load_n(&allocations, __ATOMIC_RELAXED); }

static inline void count(void) { __atomic_fetch_add(&allocations, 1, __ATOMIC_RELAXED); }

void *malloc(size_t n) {
    count();
    return __libc_malloc(n);
}

void *calloc(size_t n, size_t m) {
    count();
    return __libc_calloc(n, m);
}

void *realloc(void *p, size_t n) {
    count();
    return __libc_realloc(p, n);
}

void free(void *p) { __libc_free(p); }

void *memalign(size_t a, size_t n) {
    count();
    return __libc_memalign(a, n);
}

void *aligned_alloc(size_t a, size_t n) {
    count();
    return __libc_memalign(a, n);
}

int posix_memalign(void **out, size_t a, size_t n) {
    count();
    void *p = __libc_memalign(a, n);
    if (p == NULL) return ENOMEM;
    *out = p;
    return 0;
}

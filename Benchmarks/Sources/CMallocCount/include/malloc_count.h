#pragma once
#include <stdint.h>

/// Heap allocations made by the whole process since it started (malloc, calloc, realloc,
/// posix_memalign, aligned_alloc, memalign). The benchmark binary interposes the C allocator to
/// count them; frees are not counted.
uint64_t malloc_count_allocations(void);

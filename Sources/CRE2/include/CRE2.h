// A C face for the few RE2 calls Outpost needs: compile, full match with submatch offsets, group
// names. RE2 gives Go's regexp syntax and semantics with linear-time matching.
#ifndef OUTPOST_CRE2_H
#define OUTPOST_CRE2_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cre2_regex cre2_regex;

/// Compiles `pattern` (not NUL-terminated). Returns NULL on error and writes the message to `err`.
cre2_regex *cre2_compile(const char *pattern, size_t length, char *err, size_t err_length);

void cre2_free(cre2_regex *re);

/// Number of capturing groups.
int cre2_num_groups(const cre2_regex *re);

/// Whether the whole `text` matches. When `offsets` is not NULL it receives start/end byte
/// offsets for group 0 .. n_offsets/2-1, -1/-1 for a group that did not participate.
int cre2_full_match(const cre2_regex *re, const char *text, size_t length, int *offsets, int n_offsets);

/// Index of the named group `name`, or -1.
int cre2_group_index(const cre2_regex *re, const char *name, size_t length);

#ifdef __cplusplus
}
#endif

#endif

/* Growable arrays: the one doubling helper every module uses for "append one more". */
#ifndef CDOF_GROW_H
#define CDOF_GROW_H

#include <stddef.h>

/* Returns items (n used of *cap, each size bytes) with room for one more: the same array when
 * n < *cap, else one reallocated to twice *cap (first items when *cap is 0), *cap updated. NULL
 * when out of memory or the size would overflow: then items is untouched and still the caller's
 * to free. The result is the caller's (free it). */
void *cdof_grow(void *items, size_t n, size_t *cap, size_t first, size_t size);

#endif

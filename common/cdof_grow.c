#include "cdof_grow.h"

#include <stdint.h>
#include <stdlib.h>

void *cdof_grow(void *items, size_t n, size_t *cap, size_t first, size_t size)
{
    if (n < *cap)
        return items;
    size_t c = *cap ? *cap * 2 : (first ? first : 1);
    if (size == 0 || c < *cap || c > SIZE_MAX / size)
        return NULL;
    void *q = realloc(items, c * size);
    if (q)
        *cap = c;
    return q;
}

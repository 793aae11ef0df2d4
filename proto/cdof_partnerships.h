/* Partnerships: groups of upper-tier areas that report and are compared together, read from the
 * hub's --partnerships file (CSV, header partnership,area_code, one row per member area). Areas
 * in no partnership are their own partnership and get no entry here.
 *
 * A cdof_partnerships_t is immutable once loaded and owns every string and member list it hands
 * out; the areas themselves belong to the cdof_ref_t it was loaded against, which must outlive
 * it. */
#ifndef CDOF_PARTNERSHIPS_H
#define CDOF_PARTNERSHIPS_H

#include <stddef.h>

#include "cdof_ref.h"

#define CDOF_PARTNERSHIP_ID_MAX 64 /* bytes of an id, its terminating NUL included */

/* One partnership. area.kind is CDOF_AREA_PARTNERSHIP, area.code and area.name the partnership's
 * id, area.region_code its members' region when they all share one (else NULL), area.population
 * the members' sum. members are in reference order. */
typedef struct {
    cdof_area_t area;
    const cdof_area_t *const *members;
    size_t nmembers;
} cdof_partnership_t;

typedef struct cdof_partnerships cdof_partnerships_t;

/* Reads path against ref. Returns 0 and *out (owned by the caller: cdof_partnerships_destroy),
 * or a negative code with err naming the file, line and field at fault. */
int cdof_partnerships_load(const char *path, const cdof_ref_t *ref, cdof_partnerships_t **out,
                           char *err, size_t errlen);
void cdof_partnerships_destroy(cdof_partnerships_t **ps);

/* How many partnerships, and all of them contiguous in the file's order of first mention (NULL
 * when there are none). Both accept NULL for "no partnerships configured". */
size_t cdof_partnerships_count(const cdof_partnerships_t *ps);
const cdof_partnership_t *cdof_partnerships_list(const cdof_partnerships_t *ps);

#endif

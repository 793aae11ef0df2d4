#include "cdof_partnerships.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdof_csv.h"
#include "cdof_error.h"

struct cdof_partnerships {
    char (*ids)[CDOF_PARTNERSHIP_ID_MAX];
    const cdof_area_t ***members; /* each partnership's member array, owned */
    cdof_partnership_t *list;     /* contiguous, for the comparison's options */
    size_t n;
};

void cdof_partnerships_destroy(cdof_partnerships_t **pps)
{
    cdof_partnerships_t *ps = pps ? *pps : NULL;
    if (!ps)
        return;
    for (size_t k = 0; ps->members && k < ps->n; k++)
        free(ps->members[k]);
    free(ps->members);
    free(ps->ids);
    free(ps->list);
    free(ps);
    *pps = NULL;
}

size_t cdof_partnerships_count(const cdof_partnerships_t *ps)
{
    return ps ? ps->n : 0;
}

const cdof_partnership_t *cdof_partnerships_list(const cdof_partnerships_t *ps)
{
    return ps && ps->n ? ps->list : NULL;
}

/* The header row: partnership,area_code. */
static int read_header(cdof_csv_t *csv, const char *path, char *err, size_t errlen)
{
    cdof_csv_record_t r;
    char why[256];
    int got = cdof_csv_next(csv, &r, why, sizeof why);
    if (got < 0) {
        snprintf(err, errlen, "%s:%lu: %s", path, r.line, why);
        return got;
    }
    if (got == 0 || r.nfields < 2 || strcmp(r.fields[0].data, "partnership") != 0 ||
        strcmp(r.fields[1].data, "area_code") != 0) {
        snprintf(err, errlen, "%s:%lu: expected the header partnership,area_code", path,
                 got ? r.line : 1);
        return CDOF_EINVALID;
    }
    return 0;
}

/* The member rows: owner[area index] becomes its partnership's index + 1. */
static int read_members(cdof_csv_t *csv, const char *path, const cdof_ref_t *ref,
                        cdof_partnerships_t *ps, int *owner, char *err, size_t errlen)
{
    cdof_csv_record_t r;
    char why[256];
    for (int got; (got = cdof_csv_next(csv, &r, why, sizeof why)) != 0;) {
        if (got < 0) {
            snprintf(err, errlen, "%s:%lu: %s", path, r.line, why);
            return got;
        }
        const char *pname = r.fields[0].data, *code = r.nfields >= 2 ? r.fields[1].data : "";
        const cdof_area_t *a = r.nfields >= 2 ? cdof_ref_area(ref, code) : NULL;
        if (r.nfields < 2 || !pname[0] || strlen(pname) >= CDOF_PARTNERSHIP_ID_MAX ||
            cdof_ref_area(ref, pname)) {
            snprintf(err, errlen,
                     "%s:%lu: field 'partnership': '%.64s' must be 1 to %d characters and not an "
                     "area code",
                     path, r.line, pname, CDOF_PARTNERSHIP_ID_MAX - 1);
            return CDOF_EINVALID;
        }
        if (!a || a->kind != CDOF_AREA_UTLA) {
            snprintf(err, errlen, "%s:%lu: field 'area_code': '%.64s' is not an upper-tier area",
                     path, r.line, code);
            return CDOF_EINVALID;
        }
        if (owner[a->index]) {
            snprintf(err, errlen, "%s:%lu: field 'area_code': %s is already in partnership %s",
                     path, r.line, code, ps->ids[owner[a->index] - 1]);
            return CDOF_EINVALID;
        }
        size_t k = 0;
        while (k < ps->n && strcmp(ps->ids[k], pname) != 0)
            k++;
        if (k == ps->n) {
            snprintf(ps->ids[k], CDOF_PARTNERSHIP_ID_MAX, "%s", pname);
            ps->n++;
        }
        owner[a->index] = (int)k + 1;
    }
    return 0;
}

/* Each partnership's members in reference order, its population and its region when all its
 * members share one. */
static int build_list(const cdof_ref_t *ref, cdof_partnerships_t *ps, const int *owner)
{
    size_t nareas = cdof_ref_area_count(ref);
    for (size_t k = 0; k < ps->n; k++) {
        const cdof_area_t **mem = malloc(nareas * sizeof *mem);
        if (!mem)
            return -ENOMEM;
        ps->members[k] = mem;
        size_t nm = 0;
        for (size_t a = 0; a < nareas; a++) {
            if (owner[a] == (int)k + 1)
                mem[nm++] = cdof_ref_area_at(ref, a);
        }
        double pop = 0;
        const char *region = mem[0]->region_code;
        for (size_t j = 0; j < nm; j++) {
            pop += mem[j]->population;
            if (region && strcmp(region, mem[j]->region_code) != 0)
                region = NULL;
        }
        ps->list[k] = (cdof_partnership_t){.area = {.index = UINT16_MAX,
                                                    .code = ps->ids[k],
                                                    .name = ps->ids[k],
                                                    .kind = CDOF_AREA_PARTNERSHIP,
                                                    .region_code = region,
                                                    .population = pop},
                                           .members = mem,
                                           .nmembers = nm};
    }
    return 0;
}

int cdof_partnerships_load(const char *path, const cdof_ref_t *ref, cdof_partnerships_t **out,
                           char *err, size_t errlen)
{
    *out = NULL;
    FILE *fp = fopen(path, "r");
    if (!fp) {
        int rc = -errno;
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return rc;
    }
    /* At most one partnership per area, so every array is sized by the area count. */
    size_t nareas = cdof_ref_area_count(ref), cap = nareas ? nareas : 1;
    cdof_partnerships_t *ps = calloc(1, sizeof *ps);
    int *owner = calloc(cap, sizeof *owner);
    cdof_csv_t *csv = cdof_csv_new(fp, NULL);
    if (ps) {
        ps->ids = calloc(cap, sizeof *ps->ids);
        ps->members = calloc(cap, sizeof *ps->members);
        ps->list = calloc(cap, sizeof *ps->list);
    }
    int rc = ps && ps->ids && ps->members && ps->list && owner && csv ? 0 : -ENOMEM;
    if (rc == 0)
        rc = read_header(csv, path, err, errlen);
    if (rc == 0)
        rc = read_members(csv, path, ref, ps, owner, err, errlen);
    if (rc == 0)
        rc = build_list(ref, ps, owner);
    cdof_csv_destroy(&csv);
    fclose(fp);
    free(owner);
    if (rc < 0) {
        if (rc == -ENOMEM)
            snprintf(err, errlen, "%s: out of memory", path);
        cdof_partnerships_destroy(&ps);
        return rc;
    }
    *out = ps;
    return 0;
}

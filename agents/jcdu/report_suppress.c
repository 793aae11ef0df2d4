#include "report_suppress.h"

#include <errno.h>
#include <math.h>

int cdof_suppress_is_small(double count)
{
    return count > 0 && count < 5;
}

/* The member of g to withhold next: the smallest shown, present one, non-zero first; or n. */
static size_t pick(const double *counts, size_t n, const cdof_sup_group_t *g, const uint8_t *mask)
{
    size_t best = n;
    for (size_t j = 0; j < g->n; j++) {
        size_t i = g->members[j];
        if (mask[i] != CDOF_SUP_SHOWN || isnan(counts[i]))
            continue;
        if (best == n) {
            best = i;
            continue;
        }
        double a = counts[i], b = counts[best];
        /* A withheld zero hides nothing (it is known to be small); prefer non-zero cells. */
        if ((a != 0 && b == 0) || ((a != 0) == (b != 0) && a < b))
            best = i;
    }
    return best;
}

int cdof_suppress(const double *counts, size_t n, const cdof_sup_group_t *groups, size_t ngroups,
                  uint8_t *mask)
{
    return cdof_suppress_proportions(counts, NULL, n, groups, ngroups, mask);
}

/* Small itself, or the small complement of a proportion (NaN denominators give NaN: not small). */
static int primary(double count, double denominator)
{
    return cdof_suppress_is_small(count) ||
           (!isnan(count) && cdof_suppress_is_small(denominator - count));
}

int cdof_suppress_proportions(const double *counts, const double *denominators, size_t n,
                              const cdof_sup_group_t *groups, size_t ngroups, uint8_t *mask)
{
    int withheld = 0;
    for (size_t g = 0; g < ngroups; g++) {
        for (size_t j = 0; j < groups[g].n; j++) {
            if (groups[g].members[j] >= n)
                return -EINVAL;
        }
    }
    for (size_t i = 0; i < n; i++) {
        mask[i] = primary(counts[i], denominators ? denominators[i] : NAN) ? CDOF_SUP_PRIMARY
                                                                           : CDOF_SUP_SHOWN;
        withheld += mask[i] != CDOF_SUP_SHOWN;
    }
    /* Each round withholds at least one more cell or stops: at most n rounds. */
    for (size_t round = 0; round <= n; round++) {
        int changed = 0;
        for (size_t g = 0; g < ngroups; g++) {
            size_t hidden = 0;
            for (size_t j = 0; j < groups[g].n; j++)
                hidden += mask[groups[g].members[j]] != CDOF_SUP_SHOWN;
            if (hidden != 1)
                continue;
            size_t i = pick(counts, n, &groups[g], mask);
            if (i < n) {
                mask[i] = CDOF_SUP_SECONDARY;
                withheld++;
                changed = 1;
            }
        }
        if (!changed)
            break;
    }
    return withheld;
}

/* Small-number suppression for published tables (docs/DESIGN.md "Queries and the annual report").
 * Pure: counts in, a mask out.
 *
 * Primary: a count from 1 to 4 is withheld. Secondary: counts are tied together in groups whose
 * members add up (the areas of a region and the region's total; the regions and England). A group
 * with exactly one withheld member would give it away by subtraction, so the smallest other
 * shown member of that group (a non-zero one first) is withheld too; this repeats until no group
 * has exactly one withheld member, which ends because every round withholds one more cell. A
 * group left with one withheld member and nothing else to withhold (every other member absent)
 * cannot give it away: absent members are not published either.
 *
 * Complements: a proportion gives away its complement as well as its numerator (97 of 100
 * engaging reveals 3 who did not), so with denominators a count whose denominator minus count is
 * 1 to 4 is withheld too, and the same secondary rounds protect it. */
#ifndef CDOF_REPORT_SUPPRESS_H
#define CDOF_REPORT_SUPPRESS_H

#include <stddef.h>
#include <stdint.h>

enum { CDOF_SUP_SHOWN = 0, CDOF_SUP_PRIMARY = 1, CDOF_SUP_SECONDARY = 2 };

/* A set of cell indexes whose counts add up (parts and their published total together). */
typedef struct {
    const size_t *members;
    size_t n;
} cdof_sup_group_t;

/* counts[i] is cell i's count, NaN when absent (not published). Writes mask[i] (CDOF_SUP_*) for
 * every cell. Returns the number of cells withheld, or -EINVAL when a group names a cell index
 * out of range. */
int cdof_suppress(const double *counts, size_t n, const cdof_sup_group_t *groups, size_t ngroups,
                  uint8_t *mask);

/* As cdof_suppress, with the proportions' denominators: denominators[i] is cell i's, NaN when it
 * has none (a count, a rate of a population); denominators NULL: none at all. A cell whose
 * complement (denominator - count) is small is withheld as primary. Same returns. */
int cdof_suppress_proportions(const double *counts, const double *denominators, size_t n,
                              const cdof_sup_group_t *groups, size_t ngroups, uint8_t *mask);

/* True for a count that must be withheld on its own: 1 to 4 (fractions between 0 and 5 too). */
int cdof_suppress_is_small(double count);

#endif

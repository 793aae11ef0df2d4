/* Reference data: the metric catalogue, milestones, regions and areas, from the CSV files in
 * proto/data.
 *
 * One immutable cdof_ref_t is loaded at start-up and shared read-only; every pointer returned
 * by a lookup is owned by it and valid until cdof_ref_destroy(). */
#ifndef CDOF_REF_H
#define CDOF_REF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CDOF_ENGLAND_CODE  "E92000001"
#define CDOF_AREA_CODE_LEN 9 /* ONS codes are exactly nine characters */

typedef enum { CDOF_UNIT_COUNT, CDOF_UNIT_RATE, CDOF_UNIT_PERCENTAGE } cdof_unit_t;
typedef enum {
    CDOF_POLARITY_NONE,
    CDOF_POLARITY_HIGH_GOOD,
    CDOF_POLARITY_LOW_GOOD
} cdof_polarity_t;
typedef enum { CDOF_METHOD_NONE, CDOF_METHOD_WILSON, CDOF_METHOD_BYAR } cdof_method_t;
typedef enum {
    CDOF_FREQ_MONTHLY,
    CDOF_FREQ_QUARTERLY,
    CDOF_FREQ_ANNUAL,
    CDOF_FREQ_POOLED3
} cdof_frequency_t;
typedef enum {
    CDOF_AREA_ENGLAND,
    CDOF_AREA_REGION,
    CDOF_AREA_UTLA,
    CDOF_AREA_PARTNERSHIP /* a configured group of UTLAs; never in the reference tables */
} cdof_area_kind_t;

typedef struct {
    uint16_t index; /* position in the catalogue, 0-based */
    const char *id, *name, *outcome;
    bool headline;
    cdof_unit_t unit;
    double multiplier; /* 100 for percentages, 100000 for rates per 100,000, 1 for counts */
    cdof_polarity_t polarity;
    const char *team;      /* ohid, hmpps, police, jcdu */
    const char *geography; /* national, region, utla, pfa or prison */
    cdof_frequency_t frequency;
    cdof_method_t method;
    /* Plausibility (cdof_validate): a count, numerator or denominator above max_per_population
     * times the area's population is refused, and so is a value (in the metric's unit: percent,
     * or per multiplier) outside [plausible_min, plausible_max]; NAN: no bound. */
    double max_per_population, plausible_min, plausible_max;
} cdof_metric_t;

typedef struct {
    const char *id, *deliverable;
    int32_t deadline;      /* days since epoch */
    int recurrence_months; /* 0: once */
} cdof_milestone_t;

typedef struct {
    uint16_t index;
    const char *code, *name;
    cdof_area_kind_t kind;
    const char *region_code; /* for UTLAs; NULL for England and regions */
    double population;       /* mid-2020; regions and England are sums of their areas */
} cdof_area_t;

typedef struct cdof_ref cdof_ref_t;

/* Loads metrics.csv, milestones.csv, regions.csv and areas.csv from dir. Columns are found by
 * name in each header row (extra columns are ignored); fields may be quoted; CRLF and a UTF-8 BOM
 * are accepted. Every value is checked. Returns NULL on failure with a reason naming the file,
 * line and field in err, e.g. "metrics.csv:12: field 'polarity': 'sideways' is not high_good,
 * low_good or none". The caller owns the result. */
cdof_ref_t *cdof_ref_load(const char *dir, char *err, size_t errlen);

/* The reference directory to use: $CDOF_REFDIR, else the installed copy, else the source tree's
 * (compiled in). Returns a static string. */
const char *cdof_ref_default_dir(void);

void cdof_ref_destroy(cdof_ref_t **ref);

/* Lookups return NULL when not found. */
const cdof_metric_t *cdof_ref_metric(const cdof_ref_t *ref, const char *id);
const cdof_metric_t *cdof_ref_metric_at(const cdof_ref_t *ref, size_t index);
size_t cdof_ref_metric_count(const cdof_ref_t *ref);

const cdof_milestone_t *cdof_ref_milestone(const cdof_ref_t *ref, const char *id);
const cdof_milestone_t *cdof_ref_milestone_at(const cdof_ref_t *ref, size_t index);
size_t cdof_ref_milestone_count(const cdof_ref_t *ref);

/* Areas include England (E92000001) and the nine regions as well as the 153 UTLAs, in that order:
 * England is index 0, the regions follow in regions.csv order, then the UTLAs in areas.csv order.
 * Lookups are a hash probe, cheap enough for every incoming update. */
const cdof_area_t *cdof_ref_area(const cdof_ref_t *ref, const char *code);
const cdof_area_t *cdof_ref_area_at(const cdof_ref_t *ref, size_t index);
size_t cdof_ref_area_count(const cdof_ref_t *ref);

#endif

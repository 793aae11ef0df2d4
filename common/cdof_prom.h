/* Prometheus text exposition format (version 0.0.4): metric families with their # HELP and
 * # TYPE lines, samples with escaped label values, values as Prometheus parses them (NaN, +Inf).
 * Pure text: serving it is cdof_metrics.h's business.
 *
 *   cdof_prom_t *p;  cdof_prom_new(&p);
 *   cdof_prom_family(p, "cdof_hub_ingested_total", CDOF_PROM_COUNTER, "updates stored");
 *   cdof_prom_sample(p, NULL, 0, 1234);
 *   text = cdof_prom_text(p, &len);  ...  cdof_prom_free(&p);
 *
 * The first error (a bad name, no memory) sticks: later calls do nothing and cdof_prom_text()
 * returns NULL, so a caller may check once at the end. */
#ifndef CDOF_PROM_H
#define CDOF_PROM_H

#include <stddef.h>

typedef enum { CDOF_PROM_COUNTER, CDOF_PROM_GAUGE } cdof_prom_type_t;

typedef struct cdof_prom cdof_prom_t;

/* A label of a sample: name [a-zA-Z_][a-zA-Z0-9_]*, any value (escaped on output). */
typedef struct {
    const char *name, *value;
} cdof_prom_label_t;

/* *out is owned by the caller: free with cdof_prom_free(). Returns 0 or -ENOMEM. */
int cdof_prom_new(cdof_prom_t **out);
void cdof_prom_free(cdof_prom_t **p);

/* Starts family name ([a-zA-Z_:][a-zA-Z0-9_:]*; a counter's ends in _total by convention) with
 * its help text (one line; backslashes and newlines are escaped). Returns 0, -EINVAL for a bad
 * name or a family started twice, -ENOMEM, or the sticky error. */
int cdof_prom_family(cdof_prom_t *p, const char *name, cdof_prom_type_t type, const char *help);

/* One sample of the family last started, with nlabels labels. Returns 0, -EINVAL (no family, a
 * bad label name), -ENOMEM, or the sticky error. */
int cdof_prom_sample(cdof_prom_t *p, const cdof_prom_label_t *labels, size_t nlabels, double value);

/* A family of one sample without labels. */
int cdof_prom_metric(cdof_prom_t *p, const char *name, cdof_prom_type_t type, const char *help,
                     double value);

/* The text so far (NUL-terminated, owned by p) and its length; NULL after any error. */
const char *cdof_prom_text(const cdof_prom_t *p, size_t *len);

/* The sticky error: 0 or a negative errno-style code. */
int cdof_prom_error(const cdof_prom_t *p);

#endif

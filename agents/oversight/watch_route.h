/* Routing and grouping decisions of cdof-watch, as Alertmanager makes them: which routes of the
 * tree take an alert, which group of a route it joins, and when a group's next digest is due.
 * Pure functions over watch_conf_t: no I/O, no clock (callers pass the time). */
#ifndef WATCH_ROUTE_H
#define WATCH_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "watch_conf.h"

/* An alert's routing labels (borrowed strings; NULL reads as ""). */
typedef struct {
    const char *v[WATCH_LABEL_COUNT];
} watch_labels_t;

/* The routes that take an alert, as indices into c->routes, in tree order: from the root, the
 * first matching child is followed (and later matching siblings too while a matching child says
 * continue), depth first; a route none of whose children match takes the alert itself. Writes at
 * most cap indices into out and returns how many routes took it (>= 1: the root takes what no
 * child does). */
size_t watch_route_match(const watch_conf_t *c, const watch_labels_t *l, size_t *out, size_t cap);

/* The group key of an alert on route r: "team=ohid,region=E12000002" over r's group_by labels in
 * label order, "" when the route groups everything together. Returns 0, or -ENAMETOOLONG when
 * buf is too small. */
int watch_route_group_key(const watch_route_t *r, const watch_labels_t *l, char *buf, size_t len);

/* The timing state of one group. */
typedef struct {
    int64_t created_ms; /* when its first alert arrived */
    int64_t flushed_ms; /* when its last digest was queued; 0: never */
    bool changed;       /* an alert fired or resolved since that digest */
    bool repeatable;    /* it holds a firing alert nobody has acknowledged */
} watch_group_clock_t;

/* When the group's next digest is due (ms, same clock as the state), or INT64_MAX when none is:
 * group_wait after creation for the first; then group_interval after the last for a change, or
 * repeat_interval after it for alerts still firing and unacknowledged. */
int64_t watch_route_next_flush(const watch_route_t *r, const watch_group_clock_t *g);

#endif

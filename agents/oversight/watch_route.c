#include "watch_route.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static bool route_matches(const watch_route_t *r, const watch_labels_t *l)
{
    for (int i = 0; i < WATCH_LABEL_COUNT; i++) {
        if (!r->match[i].count)
            continue;
        const char *v = l->v[i] ? l->v[i] : "";
        bool any = false;
        for (size_t j = 0; j < r->match[i].count && !any; j++)
            any = !strcmp(r->match[i].items[j], v);
        if (!any)
            return false;
    }
    return true;
}

typedef struct {
    const watch_conf_t *c;
    const watch_labels_t *l;
    size_t *out, cap, n;
} match_t;

/* Called for a route that matched: descends into its children. */
static void descend(match_t *m, size_t at)
{
    bool taken = false;
    /* Children follow their parent in the array (a parent precedes its children), in file
     * order: a scan after `at` finds them all. */
    for (size_t i = at + 1; i < m->c->nroutes; i++) {
        const watch_route_t *r = &m->c->routes[i];
        if (r->parent != (int)at || !route_matches(r, m->l))
            continue;
        taken = true;
        descend(m, i);
        if (!r->cont)
            break;
    }
    if (!taken) {
        if (m->n < m->cap)
            m->out[m->n] = at;
        m->n++;
    }
}

size_t watch_route_match(const watch_conf_t *c, const watch_labels_t *l, size_t *out, size_t cap)
{
    match_t m = {.c = c, .l = l, .out = out, .cap = cap};
    if (c->nroutes)
        descend(&m, 0);
    return m.n;
}

int watch_route_group_key(const watch_route_t *r, const watch_labels_t *l, char *buf, size_t len)
{
    size_t off = 0;
    if (!len)
        return -ENAMETOOLONG;
    buf[0] = '\0';
    for (int i = 0; i < WATCH_LABEL_COUNT; i++) {
        if (!(r->group_by & (1u << i)))
            continue;
        const char *v = l->v[i] ? l->v[i] : "";
        int n = snprintf(buf + off, len - off, "%s%s=%s", off ? "," : "",
                         watch_label_name((watch_label_t)i), v);
        if (n < 0 || (size_t)n >= len - off)
            return -ENAMETOOLONG;
        off += (size_t)n;
    }
    return 0;
}

int64_t watch_route_next_flush(const watch_route_t *r, const watch_group_clock_t *g)
{
    if (!g->flushed_ms)
        return g->changed ? g->created_ms + r->group_wait_ms : INT64_MAX;
    if (g->changed)
        return g->flushed_ms + r->group_interval_ms;
    if (g->repeatable)
        return g->flushed_ms + r->repeat_interval_ms;
    return INT64_MAX;
}

#include "watch_conf.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdof_error.h"

#define DEFAULT_TIMEOUT_MS        30000L
#define DEFAULT_GROUP_WAIT_MS     30000L
#define DEFAULT_GROUP_INTERVAL_MS 300000L
#define DEFAULT_REPEAT_MS         14400000L
#define UNSET                     (-1L)

static const char *const label_names[WATCH_LABEL_COUNT] = {"team", "region", "rule", "severity"};
static const char *const kind_names[] = {"email", "webhook", "teams", "slack", "exec"};

const char *watch_label_name(watch_label_t l)
{
    return (unsigned)l < WATCH_LABEL_COUNT ? label_names[l] : "?";
}

const char *watch_recv_kind_name(watch_recv_kind_t k)
{
    return (unsigned)k < sizeof kind_names / sizeof kind_names[0] ? kind_names[k] : "?";
}

int watch_conf_duration(const char *s, long *ms)
{
    char *end;
    errno = 0;
    if (!s || !isdigit((unsigned char)*s))
        return -EINVAL;
    long long v = strtoll(s, &end, 10);
    if (errno)
        return -EINVAL;
    static const struct {
        const char *unit;
        long long scale;
    } units[] = {{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000}};
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (!strcmp(end, units[i].unit)) {
            if (v > 400LL * 86400000 / units[i].scale) /* a bound that keeps sums in range */
                return -EINVAL;
            *ms = (long)(v * units[i].scale);
            return 0;
        }
    }
    return -EINVAL;
}

/* --- parsing --- */

typedef enum { SEC_NONE, SEC_DELIVERY, SEC_RECEIVER, SEC_ROUTE } section_t;

typedef struct {
    watch_conf_t *c;
    const char *file;
    char *err;
    size_t errlen;
    section_t sec;
    /* While parsing: each route's receiver name and the line that named it, and whether it set
     * group_by; resolved when the whole file is read. */
    char **route_recv;
    int *route_line;
    bool *route_group_set;
    int *recv_line;
} parse_t;

static int fail(parse_t *p, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(parse_t *p, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cdof_vreason_at(CDOF_EINVALID, p->err, p->errlen, p->file, line > 0 ? (unsigned long)line : 0,
                    NULL, fmt, ap);
    va_end(ap);
    return CDOF_EINVALID;
}

static int set_string(char **dst, const char *v)
{
    char *s = strdup(v);
    if (!s)
        return -ENOMEM;
    free(*dst);
    *dst = s;
    return 0;
}

/* Splits a comma-separated value into l (emptied first), skipping blanks. */
static int set_list(cdof_strlist_t *l, const char *v)
{
    cdof_strlist_free(l);
    char *copy = strdup(v);
    if (!copy)
        return -ENOMEM;
    int rc = 0;
    char *save = NULL;
    for (char *t = strtok_r(copy, ",", &save); t && !rc; t = strtok_r(NULL, ",", &save)) {
        char *item = cdof_config_trim(t);
        if (*item)
            rc = cdof_strlist_add(l, item);
    }
    free(copy);
    return rc;
}

static int parse_bool(const char *v, bool *out)
{
    if (!strcmp(v, "true") || !strcmp(v, "yes") || !strcmp(v, "1"))
        *out = true;
    else if (!strcmp(v, "false") || !strcmp(v, "no") || !strcmp(v, "0"))
        *out = false;
    else
        return -EINVAL;
    return 0;
}

static int read_secret(parse_t *p, int line, const char *path, char **out)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return fail(p, line, "password_file: cannot read %s: %s", path, strerror(errno));
    char buf[1024] = "";
    bool ok = fgets(buf, sizeof buf, f) != NULL || !ferror(f);
    fclose(f);
    if (!ok)
        return fail(p, line, "password_file: cannot read %s", path);
    buf[strcspn(buf, "\r\n")] = '\0';
    if (!*buf)
        return fail(p, line, "password_file: %s is empty", path);
    return set_string(out, buf);
}

static int grow(void **arr, size_t n, size_t size)
{
    void *a = realloc(*arr, (n + 1) * size);
    if (!a)
        return -ENOMEM;
    *arr = a;
    memset((char *)a + n * size, 0, size);
    return 0;
}

static int new_receiver(parse_t *p, int line, const char *name)
{
    watch_conf_t *c = p->c;
    if (!*name || strpbrk(name, " \t"))
        return fail(p, line, "[receiver NAME] needs a name without spaces");
    if (watch_conf_receiver(c, name))
        return fail(p, line, "receiver '%s' is defined twice", name);
    if (grow((void **)&c->receivers, c->nreceivers, sizeof *c->receivers) < 0 ||
        grow((void **)&p->recv_line, c->nreceivers, sizeof *p->recv_line) < 0)
        return -ENOMEM;
    watch_receiver_t *r = &c->receivers[c->nreceivers++];
    p->recv_line[c->nreceivers - 1] = line;
    r->kind = (watch_recv_kind_t)-1;
    r->starttls = true;
    r->timeout_ms = DEFAULT_TIMEOUT_MS;
    return set_string(&r->name, name);
}

static int find_route(const watch_conf_t *c, const char *name)
{
    for (size_t i = 0; i < c->nroutes; i++) {
        if (!strcmp(c->routes[i].name, name))
            return (int)i;
    }
    return -1;
}

static int new_route(parse_t *p, int line, const char *name)
{
    watch_conf_t *c = p->c;
    if (strpbrk(name, " \t"))
        return fail(p, line, "route name '%s' has spaces", name);
    if (find_route(c, name) >= 0)
        return fail(p, line, "route '%s' is defined twice", *name ? name : "(root)");
    int parent = -1;
    if (!*name) {
        if (c->nroutes)
            return fail(p, line, "[route] (the root) must come before the other routes");
    } else {
        if (!c->nroutes)
            return fail(p, line, "[route %s] before [route] (the root)", name);
        const char *dot = strrchr(name, '.');
        if (dot == name || (dot && !dot[1]) || (!dot && !*name))
            return fail(p, line, "route name '%s' is not NAME or PARENT.NAME", name);
        if (!dot) {
            parent = 0;
        } else {
            char pname[256];
            size_t n = (size_t)(dot - name);
            if (n >= sizeof pname)
                return fail(p, line, "route name too long");
            memcpy(pname, name, n);
            pname[n] = '\0';
            if ((parent = find_route(c, pname)) < 0)
                return fail(p, line, "route '%s' comes before its parent '%s'", name, pname);
        }
    }
    size_t n = c->nroutes;
    if (grow((void **)&c->routes, n, sizeof *c->routes) < 0 ||
        grow((void **)&p->route_recv, n, sizeof *p->route_recv) < 0 ||
        grow((void **)&p->route_line, n, sizeof *p->route_line) < 0 ||
        grow((void **)&p->route_group_set, n, sizeof *p->route_group_set) < 0)
        return -ENOMEM;
    c->nroutes++;
    watch_route_t *r = &c->routes[n];
    p->route_line[n] = line;
    r->parent = parent;
    r->receiver = SIZE_MAX;
    r->group_wait_ms = r->group_interval_ms = r->repeat_interval_ms = UNSET;
    return set_string(&r->name, name);
}

static int section(parse_t *p, int line, char *s)
{
    char *close = strchr(s, ']');
    if (!close || cdof_config_trim(close + 1)[0])
        return fail(p, line, "a section header is [NAME] or [KIND NAME]");
    *close = '\0';
    char *body = cdof_config_trim(s + 1);
    char *arg = body + strcspn(body, " \t");
    if (*arg)
        *arg++ = '\0';
    arg = cdof_config_trim(arg);
    if (!strcmp(body, "delivery") && !*arg) {
        p->sec = SEC_DELIVERY;
        return 0;
    }
    if (!strcmp(body, "receiver")) {
        p->sec = SEC_RECEIVER;
        return new_receiver(p, line, arg);
    }
    if (!strcmp(body, "route")) {
        p->sec = SEC_ROUTE;
        return new_route(p, line, arg);
    }
    return fail(p, line, "unknown section [%s%s%s] (delivery, receiver NAME, route [NAME])", body,
                *arg ? " " : "", arg);
}

static int duration_key(parse_t *p, int line, const char *key, const char *v, long *out)
{
    if (watch_conf_duration(v, out) < 0)
        return fail(p, line, "%s: '%s' is not a duration such as 30s, 5m or 4h", key, v);
    return 0;
}

static int delivery_key(parse_t *p, int line, const char *k, const char *v)
{
    watch_delivery_t *d = &p->c->delivery;
    if (!strcmp(k, "retry_initial"))
        return duration_key(p, line, k, v, &d->retry_initial_ms);
    if (!strcmp(k, "retry_max"))
        return duration_key(p, line, k, v, &d->retry_max_ms);
    if (!strcmp(k, "expire"))
        return duration_key(p, line, k, v, &d->expire_ms);
    if (!strcmp(k, "query_command"))
        return set_string(&d->query_command, v);
    return fail(p, line,
                "[delivery]: unknown key '%s' (retry_initial, retry_max, expire, "
                "query_command)",
                k);
}

static int receiver_key(parse_t *p, int line, const char *k, const char *v)
{
    watch_receiver_t *r = &p->c->receivers[p->c->nreceivers - 1];
    if (!strcmp(k, "type")) {
        for (size_t i = 0; i < sizeof kind_names / sizeof kind_names[0]; i++) {
            if (!strcmp(v, kind_names[i])) {
                r->kind = (watch_recv_kind_t)i;
                return 0;
            }
        }
        return fail(p, line, "type: '%s' is not email, webhook, teams, slack or exec", v);
    }
    if (!strcmp(k, "url"))
        return set_string(&r->url, v);
    if (!strcmp(k, "from"))
        return set_string(&r->from, v);
    if (!strcmp(k, "to"))
        return set_list(&r->to, v);
    if (!strcmp(k, "user"))
        return set_string(&r->user, v);
    if (!strcmp(k, "password_file"))
        return read_secret(p, line, v, &r->password);
    if (!strcmp(k, "ca_file"))
        return set_string(&r->ca_file, v);
    if (!strcmp(k, "command"))
        return set_string(&r->command, v);
    if (!strcmp(k, "timeout"))
        return duration_key(p, line, k, v, &r->timeout_ms);
    if (!strcmp(k, "expire"))
        return duration_key(p, line, k, v, &r->expire_ms);
    if (!strcmp(k, "starttls")) {
        if (parse_bool(v, &r->starttls) < 0)
            return fail(p, line, "starttls: '%s' is not true or false", v);
        return 0;
    }
    if (!strcmp(k, "password"))
        return fail(p, line, "password: keep it out of this file; give password_file instead");
    return fail(p, line, "[receiver %s]: unknown key '%s'", r->name, k);
}

static int route_key(parse_t *p, int line, const char *k, const char *v)
{
    size_t n = p->c->nroutes - 1;
    watch_route_t *r = &p->c->routes[n];
    for (int l = 0; l < WATCH_LABEL_COUNT; l++) {
        if (!strcmp(k, label_names[l])) {
            if (!n)
                return fail(p, line, "the root [route] matches every alert: no '%s' here", k);
            int rc = set_list(&r->match[l], v);
            if (rc == 0 && !r->match[l].count)
                return fail(p, line, "%s: empty list", k);
            return rc;
        }
    }
    if (!strcmp(k, "receiver"))
        return set_string(&p->route_recv[n], v);
    if (!strcmp(k, "continue")) {
        if (parse_bool(v, &r->cont) < 0)
            return fail(p, line, "continue: '%s' is not true or false", v);
        return 0;
    }
    if (!strcmp(k, "group_by")) {
        cdof_strlist_t l = {0};
        int rc = set_list(&l, v);
        r->group_by = 0;
        for (size_t i = 0; rc == 0 && i < l.count; i++) {
            int found = -1;
            for (int j = 0; j < WATCH_LABEL_COUNT; j++)
                found = !strcmp(l.items[i], label_names[j]) ? j : found;
            if (found < 0)
                rc = fail(p, line, "group_by: '%s' is not team, region, rule or severity",
                          l.items[i]);
            else
                r->group_by |= 1u << found;
        }
        cdof_strlist_free(&l);
        p->route_group_set[n] = true;
        return rc;
    }
    if (!strcmp(k, "group_wait"))
        return duration_key(p, line, k, v, &r->group_wait_ms);
    if (!strcmp(k, "group_interval"))
        return duration_key(p, line, k, v, &r->group_interval_ms);
    if (!strcmp(k, "repeat_interval"))
        return duration_key(p, line, k, v, &r->repeat_interval_ms);
    return fail(p, line, "[route]: unknown key '%s'", k);
}

static int check_receiver(parse_t *p, size_t i)
{
    const watch_receiver_t *r = &p->c->receivers[i];
    int line = p->recv_line[i];
    if ((int)r->kind < 0)
        return fail(p, line, "[receiver %s] needs type", r->name);
    if (r->kind == WATCH_RECV_EXEC) {
        if (!r->command || !*r->command)
            return fail(p, line, "[receiver %s] (exec) needs command", r->name);
        return 0;
    }
    if (!r->url)
        return fail(p, line, "[receiver %s] needs url", r->name);
    if (r->kind == WATCH_RECV_EMAIL) {
        if (strncmp(r->url, "smtp://", 7) && strncmp(r->url, "smtps://", 8))
            return fail(p, line, "[receiver %s]: url must be smtp://HOST[:PORT] or smtps://...",
                        r->name);
        if (!r->from || !r->to.count)
            return fail(p, line, "[receiver %s] (email) needs from and to", r->name);
        if (r->password && !r->user)
            return fail(p, line, "[receiver %s]: password_file without user", r->name);
    } else if (strncmp(r->url, "https://", 8) && strncmp(r->url, "http://", 7)) {
        return fail(p, line,
                    "[receiver %s]: url must be https://... (or http:// on a closed "
                    "network)",
                    r->name);
    }
    return 0;
}

/* Resolves receiver names and fills what each route inherits from its parent. */
static int finish(parse_t *p)
{
    watch_conf_t *c = p->c;
    watch_delivery_t *d = &c->delivery;
    if (!d->query_command && set_string(&d->query_command, "cdof-query") < 0)
        return -ENOMEM;
    if (d->retry_initial_ms <= 0 || d->retry_max_ms < d->retry_initial_ms)
        return fail(p, 0, "[delivery]: retry_initial must be above 0 and at most retry_max");
    if (d->expire_ms <= 0)
        return fail(p, 0, "[delivery]: expire must be above 0");
    for (size_t i = 0; i < c->nreceivers; i++) {
        int rc = check_receiver(p, i);
        if (rc < 0)
            return rc;
    }
    /* A file of [delivery] alone sets the policy of --exec; receivers need a route. */
    if (!c->nroutes && c->nreceivers)
        return fail(p, 0, "no [route] section: the root route names the default receiver");
    for (size_t i = 0; i < c->nroutes; i++) {
        watch_route_t *r = &c->routes[i];
        const watch_route_t *up = r->parent >= 0 ? &c->routes[r->parent] : NULL;
        if (p->route_recv[i]) {
            bool found = false;
            for (size_t j = 0; j < c->nreceivers && !found; j++) {
                if (!strcmp(c->receivers[j].name, p->route_recv[i])) {
                    r->receiver = j;
                    found = true;
                }
            }
            if (!found)
                return fail(p, p->route_line[i], "receiver '%s' is not defined", p->route_recv[i]);
        } else if (up) {
            r->receiver = up->receiver;
        } else {
            return fail(p, p->route_line[i], "the root [route] needs receiver (the default)");
        }
        if (!p->route_group_set[i])
            r->group_by = up ? up->group_by : 0;
        if (r->group_wait_ms == UNSET)
            r->group_wait_ms = up ? up->group_wait_ms : DEFAULT_GROUP_WAIT_MS;
        if (r->group_interval_ms == UNSET)
            r->group_interval_ms = up ? up->group_interval_ms : DEFAULT_GROUP_INTERVAL_MS;
        if (r->repeat_interval_ms == UNSET)
            r->repeat_interval_ms = up ? up->repeat_interval_ms : DEFAULT_REPEAT_MS;
    }
    return 0;
}

static int parse_line(parse_t *p, int line, char *s)
{
    s = cdof_config_trim(s);
    if (!*s || *s == '#' || *s == ';')
        return 0;
    if (*s == '[')
        return section(p, line, s);
    char *eq = strchr(s, '=');
    if (!eq)
        return fail(p, line, "expected KEY = VALUE or [SECTION]");
    *eq = '\0';
    char *k = cdof_config_trim(s), *v = cdof_config_trim(eq + 1);
    if (!*v)
        return fail(p, line, "%s: empty value", k);
    switch (p->sec) {
    case SEC_DELIVERY:
        return delivery_key(p, line, k, v);
    case SEC_RECEIVER:
        return receiver_key(p, line, k, v);
    case SEC_ROUTE:
        return route_key(p, line, k, v);
    case SEC_NONE:
        break;
    }
    return fail(p, line, "'%s' outside a section", k);
}

int watch_conf_parse(const char *text, const char *name, watch_conf_t **out, char *err,
                     size_t errlen)
{
    *out = NULL;
    watch_conf_t *c = calloc(1, sizeof *c);
    char *copy = strdup(text);
    if (!c || !copy) {
        free(c);
        free(copy);
        return -ENOMEM;
    }
    c->delivery.retry_initial_ms = WATCH_DEFAULT_RETRY_INITIAL_MS;
    c->delivery.retry_max_ms = WATCH_DEFAULT_RETRY_MAX_MS;
    c->delivery.expire_ms = WATCH_DEFAULT_EXPIRE_MS;
    parse_t p = {.c = c, .file = name, .err = err, .errlen = errlen};
    int rc = 0, line = 0;
    char *save = NULL;
    /* strtok_r would skip empty lines and so miscount: walk the lines by hand. */
    for (char *s = copy; s && rc == 0; s = save) {
        save = strchr(s, '\n');
        if (save)
            *save++ = '\0';
        rc = parse_line(&p, ++line, s);
    }
    if (rc == 0)
        rc = finish(&p);
    if (rc == -ENOMEM)
        snprintf(err, errlen, "%s: out of memory", name);
    for (size_t i = 0; i < c->nroutes; i++)
        free(p.route_recv[i]);
    free(p.route_recv);
    free(p.route_line);
    free(p.route_group_set);
    free(p.recv_line);
    free(copy);
    if (rc < 0)
        watch_conf_free(&c);
    *out = c;
    return rc;
}

int watch_conf_load(const char *path, watch_conf_t **out, char *err, size_t errlen)
{
    *out = NULL;
    FILE *f = fopen(path, "r");
    if (!f) {
        int e = errno;
        snprintf(err, errlen, "%s: %s", path, strerror(e));
        return -e;
    }
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    int rc = m ? 0 : -ENOMEM;
    char chunk[4096];
    size_t n;
    while (rc == 0 && (n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (memchr(chunk, '\0', n))
            rc = CDOF_EINVALID;
        else if (fwrite(chunk, 1, n, m) != n)
            rc = -ENOMEM;
    }
    if (rc == 0 && ferror(f))
        rc = -EIO;
    fclose(f);
    if (m && fclose(m) != 0 && rc == 0)
        rc = -ENOMEM;
    if (rc == 0)
        rc = watch_conf_parse(buf, path, out, err, errlen);
    else
        snprintf(err, errlen, "%s: %s", path,
                 rc == CDOF_EINVALID ? "not a text file" : cdof_strerror(rc));
    free(buf);
    return rc;
}

const watch_receiver_t *watch_conf_receiver(const watch_conf_t *c, const char *name)
{
    for (size_t i = 0; i < c->nreceivers; i++) {
        if (!strcmp(c->receivers[i].name, name))
            return &c->receivers[i];
    }
    return NULL;
}

void watch_conf_free(watch_conf_t **conf)
{
    watch_conf_t *c = conf ? *conf : NULL;
    if (!c)
        return;
    for (size_t i = 0; i < c->nreceivers; i++) {
        watch_receiver_t *r = &c->receivers[i];
        free(r->name);
        free(r->url);
        free(r->user);
        if (r->password) /* not left in freed memory */
            memset(r->password, 0, strlen(r->password));
        free(r->password);
        free(r->from);
        cdof_strlist_free(&r->to);
        free(r->ca_file);
        free(r->command);
    }
    for (size_t i = 0; i < c->nroutes; i++) {
        free(c->routes[i].name);
        for (int l = 0; l < WATCH_LABEL_COUNT; l++)
            cdof_strlist_free(&c->routes[i].match[l]);
    }
    free(c->receivers);
    free(c->routes);
    free(c->delivery.query_command);
    free(c);
    *conf = NULL;
}

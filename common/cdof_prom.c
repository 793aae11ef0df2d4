#include "cdof_prom.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FAMILIES 256

struct cdof_prom {
    char *buf;
    size_t len, cap;
    int error;
    char family[128]; /* the family samples belong to; "" before the first */
    char *names[MAX_FAMILIES];
    size_t nnames;
};

int cdof_prom_new(cdof_prom_t **out)
{
    *out = calloc(1, sizeof **out);
    return *out ? 0 : -ENOMEM;
}

void cdof_prom_free(cdof_prom_t **p)
{
    if (!p || !*p)
        return;
    for (size_t i = 0; i < (*p)->nnames; i++)
        free((*p)->names[i]);
    free((*p)->buf);
    free(*p);
    *p = NULL;
}

static int fail(cdof_prom_t *p, int rc)
{
    if (!p->error)
        p->error = rc;
    return p->error;
}

static int put(cdof_prom_t *p, const char *s, size_t n)
{
    if (p->error)
        return p->error;
    if (p->len + n + 1 > p->cap) {
        size_t cap = p->cap ? p->cap : 1024;
        while (cap < p->len + n + 1)
            cap *= 2;
        char *b = realloc(p->buf, cap);
        if (!b)
            return fail(p, -ENOMEM);
        p->buf = b;
        p->cap = cap;
    }
    memcpy(p->buf + p->len, s, n);
    p->len += n;
    p->buf[p->len] = '\0';
    return 0;
}

static int puts_(cdof_prom_t *p, const char *s)
{
    return put(p, s, strlen(s));
}

/* Writes s with backslash and newline escaped, and also the double quote when quote is set
 * (label values; help text leaves it as is). */
static int put_escaped(cdof_prom_t *p, const char *s, bool quote)
{
    for (; *s; s++) {
        int rc;
        if (*s == '\\')
            rc = put(p, "\\\\", 2);
        else if (*s == '\n')
            rc = put(p, "\\n", 2);
        else if (*s == '"' && quote)
            rc = put(p, "\\\"", 2);
        else
            rc = put(p, s, 1);
        if (rc)
            return rc;
    }
    return 0;
}

static bool valid_name(const char *s, bool colon)
{
    if (!s || !*s || (*s >= '0' && *s <= '9'))
        return false;
    for (; *s; s++) {
        bool ok = (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
                  (*s >= '0' && *s <= '9') || *s == '_' || (colon && *s == ':');
        if (!ok)
            return false;
    }
    return true;
}

int cdof_prom_family(cdof_prom_t *p, const char *name, cdof_prom_type_t type, const char *help)
{
    if (p->error)
        return p->error;
    if (!valid_name(name, true) || strlen(name) >= sizeof p->family)
        return fail(p, -EINVAL);
    /* A family appears once in an exposition: a second one would be refused by the scraper. */
    for (size_t i = 0; i < p->nnames; i++)
        if (!strcmp(p->names[i], name))
            return fail(p, -EINVAL);
    if (p->nnames == MAX_FAMILIES)
        return fail(p, -ENOSPC);
    if (!(p->names[p->nnames] = strdup(name)))
        return fail(p, -ENOMEM);
    p->nnames++;
    snprintf(p->family, sizeof p->family, "%s", name);
    puts_(p, "# HELP ");
    puts_(p, name);
    puts_(p, " ");
    put_escaped(p, help ? help : "", false);
    puts_(p, "\n# TYPE ");
    puts_(p, name);
    puts_(p, type == CDOF_PROM_COUNTER ? " counter\n" : " gauge\n");
    return p->error;
}

int cdof_prom_sample(cdof_prom_t *p, const cdof_prom_label_t *labels, size_t nlabels, double value)
{
    if (p->error)
        return p->error;
    if (!p->family[0])
        return fail(p, -EINVAL);
    for (size_t i = 0; i < nlabels; i++)
        if (!valid_name(labels[i].name, false) || !labels[i].value)
            return fail(p, -EINVAL);
    puts_(p, p->family);
    for (size_t i = 0; i < nlabels; i++) {
        puts_(p, i ? "," : "{");
        puts_(p, labels[i].name);
        puts_(p, "=\"");
        put_escaped(p, labels[i].value, true);
        puts_(p, "\"");
    }
    if (nlabels)
        puts_(p, "}");
    char num[40];
    if (isnan(value))
        snprintf(num, sizeof num, " NaN\n");
    else if (isinf(value))
        snprintf(num, sizeof num, " %sInf\n", value > 0 ? "+" : "-");
    else
        snprintf(num, sizeof num, " %.17g\n", value); /* exact for integers below 2^53 */
    return puts_(p, num);
}

int cdof_prom_metric(cdof_prom_t *p, const char *name, cdof_prom_type_t type, const char *help,
                     double value)
{
    int rc = cdof_prom_family(p, name, type, help);
    return rc ? rc : cdof_prom_sample(p, NULL, 0, value);
}

const char *cdof_prom_text(const cdof_prom_t *p, size_t *len)
{
    if (p->error)
        return NULL;
    if (len)
        *len = p->len;
    return p->buf ? p->buf : "";
}

int cdof_prom_error(const cdof_prom_t *p)
{
    return p->error;
}

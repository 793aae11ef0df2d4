#include "cdof_config.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cdof_error.h"

int cdof_strlist_add(cdof_strlist_t *l, const char *s)
{
    char *copy = strdup(s);
    char **items = copy ? realloc(l->items, (l->count + 1) * sizeof *items) : NULL;
    if (!items) {
        free(copy);
        return -ENOMEM;
    }
    items[l->count++] = copy;
    l->items = items;
    return 0;
}

void cdof_strlist_free(cdof_strlist_t *l)
{
    for (size_t i = 0; i < l->count; i++)
        free(l->items[i]);
    free(l->items);
    l->items = NULL;
    l->count = 0;
}

static const cdof_opt_t *find_opt(const cdof_config_spec_t *spec, const char *name, size_t len)
{
    for (size_t i = 0; i < spec->nopts; i++) {
        if (strlen(spec->opts[i].name) == len && strncmp(spec->opts[i].name, name, len) == 0)
            return &spec->opts[i];
    }
    return NULL;
}

char *cdof_config_trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

/* Sets one option from text; where names the source ("--hub" or "file:12") for errors. */
static int set_opt(const cdof_opt_t *o, void *cfg, const char *value, const char *where, char *err,
                   size_t errlen)
{
    char *base = (char *)cfg + o->offset;
    switch (o->type) {
    case CDOF_OPT_STRING: {
        char *copy = strdup(value);
        if (!copy)
            return -ENOMEM;
        char **slot = (char **)(void *)base;
        free(*slot);
        *slot = copy;
        return 0;
    }
    case CDOF_OPT_INT: {
        char *end;
        errno = 0;
        long v = strtol(value, &end, 10);
        if (errno || end == value || *end) {
            snprintf(err, errlen, "%s: '%s' is not a whole number", where, value);
            return CDOF_EINVALID;
        }
        if (v < o->min || v > o->max) {
            snprintf(err, errlen, "%s: %ld is outside %ld..%ld", where, v, o->min, o->max);
            return CDOF_EINVALID;
        }
        *(long *)(void *)base = v;
        return 0;
    }
    case CDOF_OPT_BOOL: {
        bool *b = (bool *)(void *)base;
        if (!strcasecmp(value, "true") || !strcasecmp(value, "yes") || !strcmp(value, "1") ||
            !strcasecmp(value, "on"))
            *b = true;
        else if (!strcasecmp(value, "false") || !strcasecmp(value, "no") || !strcmp(value, "0") ||
                 !strcasecmp(value, "off"))
            *b = false;
        else {
            snprintf(err, errlen, "%s: '%s' is not true or false", where, value);
            return CDOF_EINVALID;
        }
        return 0;
    }
    case CDOF_OPT_LIST: {
        cdof_strlist_t *l = (cdof_strlist_t *)(void *)base;
        const char *p = value;
        while (*p) {
            const char *comma = strchr(p, ',');
            size_t n = comma ? (size_t)(comma - p) : strlen(p);
            char item[1024];
            if (n >= sizeof item) {
                snprintf(err, errlen, "%s: list item too long", where);
                return CDOF_EINVALID;
            }
            memcpy(item, p, n);
            item[n] = '\0';
            /* "a, b" in an INI file means "b", not " b". */
            char *t = cdof_config_trim(item);
            if (*t && cdof_strlist_add(l, t) < 0)
                return -ENOMEM;
            p += n + (comma ? 1 : 0);
        }
        return 0;
    }
    }
    return -EINVAL;
}

/* Lists accumulate within one source (repeated flags, repeated INI lines) but a later source
 * replaces what an earlier one gave: the first time a source sets a list, the list is emptied.
 * seen has one entry per option and belongs to the source being applied. */
static int set_from_source(const cdof_opt_t *o, size_t idx, bool *seen, void *cfg,
                           const char *value, const char *where, char *err, size_t errlen)
{
    if (o->type == CDOF_OPT_LIST && !seen[idx])
        cdof_strlist_free((cdof_strlist_t *)(void *)((char *)cfg + o->offset));
    seen[idx] = true;
    return set_opt(o, cfg, value, where, err, errlen);
}

int cdof_config_load_file(const cdof_config_spec_t *spec, void *cfg, const char *path, char *err,
                          size_t errlen)
{
    bool *seen = calloc(spec->nopts + 1, sizeof *seen);
    if (!seen)
        return -ENOMEM;
    FILE *f = fopen(path, "r");
    if (!f) {
        int e = -errno;
        snprintf(err, errlen, "%s: %s", path, strerror(-e));
        free(seen);
        return e;
    }
    char line[4096];
    unsigned lineno = 0;
    int rc = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        char where[512];
        snprintf(where, sizeof where, "%s:%u", path, lineno);
        if (!strchr(line, '\n') && !feof(f)) {
            snprintf(err, errlen, "%s: line longer than %zu bytes", where, sizeof line - 1);
            rc = CDOF_EINVALID;
            break;
        }
        char *s = line;
        if (lineno == 1 &&
            strncmp(s, "\xEF\xBB\xBF", 3) == 0) /* a UTF-8 BOM from Windows editors */
            s += 3;
        s = cdof_config_trim(s);
        if (!*s || *s == '#' || *s == ';' || *s == '[')
            continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            snprintf(err, errlen, "%s: expected 'name = value'", where);
            rc = CDOF_EINVALID;
            break;
        }
        *eq = '\0';
        char *name = cdof_config_trim(s), *value = cdof_config_trim(eq + 1);
        size_t vlen = strlen(value);
        if (vlen >= 2 && value[0] == '"' && value[vlen - 1] == '"') {
            value[vlen - 1] = '\0';
            value++;
        }
        const cdof_opt_t *o = find_opt(spec, name, strlen(name));
        if (!o) {
            snprintf(err, errlen, "%s: unknown setting '%s'", where, name);
            rc = CDOF_EINVALID;
            break;
        }
        if ((rc = set_from_source(o, (size_t)(o - spec->opts), seen, cfg, value, where, err,
                                  errlen)) < 0)
            break;
    }
    fclose(f);
    free(seen);
    return rc;
}

void cdof_config_print_help(const cdof_config_spec_t *spec)
{
    printf("%s: %s\n\nusage: %s\n\noptions:\n", spec->program, spec->summary, spec->usage);
    for (size_t i = 0; i < spec->nopts; i++) {
        const cdof_opt_t *o = &spec->opts[i];
        char left[64];
        snprintf(left, sizeof left, "--%s%s%s", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
        printf("  %-26s %s", left, o->help);
        if (o->def)
            printf(" (default %s)", o->def);
        printf("\n");
    }
    printf("  %-26s %s\n  %-26s %s\n  %-26s %s\n", "--config FILE",
           "read settings from an INI file (flags override it)", "--help", "show this help",
           "--version", "show the version");
}

/* A default that does not parse is a bug in the option table; say so rather than run without. */
static int apply_defaults(const cdof_config_spec_t *spec, void *cfg, char *err, size_t errlen)
{
    for (size_t i = 0; i < spec->nopts; i++) {
        if (!spec->opts[i].def)
            continue;
        char where[80];
        snprintf(where, sizeof where, "default of --%s", spec->opts[i].name);
        int rc = set_opt(&spec->opts[i], cfg, spec->opts[i].def, where, err, errlen);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int parse_flags(const cdof_config_spec_t *spec, void *cfg, int argc, char **argv,
                       cdof_strlist_t *positional, bool *seen, char *err, size_t errlen)
{
    bool only_positional = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (only_positional || a[0] != '-' || a[1] != '-' || a[2] == '\0') {
            if (!only_positional && !strcmp(a, "--")) {
                only_positional = true;
                continue;
            }
            if (positional && cdof_strlist_add(positional, a) < 0)
                return -ENOMEM;
            continue;
        }
        const char *name = a + 2, *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        if (len == 6 && !strncmp(name, "config", 6)) {
            if (!eq)
                i++;
            continue;
        }
        const cdof_opt_t *o = find_opt(spec, name, len);
        if (!o) {
            snprintf(err, errlen, "unknown option '--%.*s' (see --help)", (int)len, name);
            return CDOF_EINVALID;
        }
        char where[80];
        snprintf(where, sizeof where, "--%s", o->name);
        const char *value;
        if (eq) {
            value = eq + 1;
        } else if (o->type == CDOF_OPT_BOOL) {
            value = "true";
        } else if (i + 1 < argc) {
            value = argv[++i];
        } else {
            snprintf(err, errlen, "--%s needs a value%s%s", o->name, o->arg ? " " : "",
                     o->arg ? o->arg : "");
            return CDOF_EINVALID;
        }
        int rc = set_from_source(o, (size_t)(o - spec->opts), seen, cfg, value, where, err, errlen);
        if (rc < 0)
            return rc;
    }
    return CDOF_CONFIG_OK;
}

int cdof_config_parse(const cdof_config_spec_t *spec, void *cfg, int argc, char **argv,
                      cdof_strlist_t *positional, char *err, size_t errlen)
{
    int rc = apply_defaults(spec, cfg, err, errlen);
    if (rc < 0)
        return rc;
    /* The file comes first so that flags override it wherever they stand. */
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            cdof_config_print_help(spec);
            return CDOF_CONFIG_EXIT;
        }
        if (!strcmp(argv[i], "--version")) {
            printf("%s %s\n", spec->program, CDOF_VERSION);
            return CDOF_CONFIG_EXIT;
        }
        if (!strcmp(argv[i], "--"))
            break;
        const char *path = NULL;
        if (!strcmp(argv[i], "--config")) {
            if (i + 1 >= argc) {
                snprintf(err, errlen, "--config needs a FILE");
                return CDOF_EINVALID;
            }
            path = argv[++i];
        } else if (!strncmp(argv[i], "--config=", 9)) {
            path = argv[i] + 9;
        }
        if (path && (rc = cdof_config_load_file(spec, cfg, path, err, errlen)) < 0)
            return rc;
    }
    bool *seen = calloc(spec->nopts + 1, sizeof *seen);
    if (!seen)
        return -ENOMEM;
    rc = parse_flags(spec, cfg, argc, argv, positional, seen, err, errlen);
    free(seen);
    return rc;
}

void cdof_config_free(const cdof_config_spec_t *spec, void *cfg)
{
    for (size_t i = 0; i < spec->nopts; i++) {
        char *base = (char *)cfg + spec->opts[i].offset;
        if (spec->opts[i].type == CDOF_OPT_STRING) {
            char **slot = (char **)(void *)base;
            free(*slot);
            *slot = NULL;
        } else if (spec->opts[i].type == CDOF_OPT_LIST) {
            cdof_strlist_free((cdof_strlist_t *)(void *)base);
        }
    }
}

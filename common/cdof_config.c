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

/* Built-in flags every program takes, after its own table in --help, the man page and the
 * completion. */
static const struct {
    const char *name, *arg, *help;
} builtin_opts[] = {
    {"config", "FILE", "read settings from an INI file (flags override it)"},
    {"help", NULL, "show this help"},
    {"version", NULL, "show the version"},
};

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
    for (size_t i = 0; i < sizeof builtin_opts / sizeof builtin_opts[0]; i++) {
        char left[64];
        snprintf(left, sizeof left, "--%s%s%s", builtin_opts[i].name,
                 builtin_opts[i].arg ? " " : "", builtin_opts[i].arg ? builtin_opts[i].arg : "");
        printf("  %-26s %s\n", left, builtin_opts[i].help);
    }
}

/* Writes s for roff: backslashes and hyphens escaped, and a line that would start with a control
 * character ("." or "'") guarded with \&. */
static void roff_text(FILE *out, const char *s, bool line_start)
{
    for (; *s; s++) {
        if (line_start && (*s == '.' || *s == '\''))
            fputs("\\&", out);
        line_start = *s == '\n';
        if (*s == '\\')
            fputs("\\e", out);
        else if (*s == '-')
            fputs("\\-", out);
        else
            fputc(*s, out);
    }
}

static void man_option(FILE *out, const char *name, const char *arg, const char *help,
                       const char *def)
{
    fputs(".TP\n.B \\-\\-", out);
    roff_text(out, name, false);
    if (arg) {
        fputs(" \\fI", out);
        roff_text(out, arg, false);
        fputs("\\fR", out);
    }
    fputc('\n', out);
    roff_text(out, help, true);
    if (def) {
        fputs(" (default ", out);
        roff_text(out, def, false);
        fputc(')', out);
    }
    fputs(".\n", out);
}

void cdof_config_print_man(const cdof_config_spec_t *spec, FILE *out)
{
    char upper[64];
    size_t n = 0;
    for (const char *p = spec->program; *p && n + 1 < sizeof upper; p++)
        upper[n++] = (char)toupper((unsigned char)*p);
    upper[n] = '\0';
    /* No date: the page is built from the program, and a rebuild must give the same bytes. */
    fprintf(out,
            ".\\\" Generated by %s --help=man from the option table that drives --help.\n"
            ".TH %s 1 \"\" \"cdof %s\" \"cdof manual\"\n.SH NAME\n",
            spec->program, upper, CDOF_VERSION);
    roff_text(out, spec->program, false);
    fputs(" \\- ", out);
    roff_text(out, spec->summary, false);
    fputs("\n.SH SYNOPSIS\n.nf\n", out);
    roff_text(out, spec->usage, true);
    fputs("\n.fi\n.SH OPTIONS\n", out);
    for (size_t i = 0; i < spec->nopts; i++)
        man_option(out, spec->opts[i].name, spec->opts[i].arg, spec->opts[i].help,
                   spec->opts[i].def);
    for (size_t i = 0; i < sizeof builtin_opts / sizeof builtin_opts[0]; i++)
        man_option(out, builtin_opts[i].name, builtin_opts[i].arg, builtin_opts[i].help, NULL);
    fputs(
        ".SH CONFIGURATION FILE\n"
        "Every option above except \\-\\-config, \\-\\-help and \\-\\-version can be set in the\n"
        "INI file named by \\-\\-config, as \\fIname\\fR = \\fIvalue\\fR, the name being the\n"
        "flag without its leading \\(lq\\-\\-\\(rq. Flags on the command line override the file.\n"
        "Lines starting with # or ; are comments. Annotated examples are installed in\n"
        ".IR /etc/cdof .\n"
        ".SH EXIT STATUS\n"
        "0 on success or after \\-\\-help and \\-\\-version; 2 for a usage or configuration\n"
        "error (the message names the flag, or the file and line); 1 for any other failure.\n"
        ".SH SEE ALSO\n"
        ".BR cdof\\-hub (1),\n.BR cdof\\-agent (1),\n.BR cdof\\-watch (1),\n"
        ".BR cdof\\-query (1),\n.BR cdof\\-keygen (1);\n"
        "the operator's guide,\n.IR ",
        out);
    roff_text(out, CDOF_DOCDIR "/OPERATIONS.md", false);
    fputs(" .\n", out);
}

/* A shell function name for program: "cdof-hub" gives "_cdof_hub". */
static void completion_fn(FILE *out, const char *program)
{
    fputc('_', out);
    for (const char *p = program; *p; p++)
        fputc(isalnum((unsigned char)*p) ? *p : '_', out);
}

/* Commands named in the usage text: "PROGRAM word ..." lines and, under a "commands:" line, the
 * first word of lines indented by two spaces. Writes them, each once and separated by spaces, to
 * buf (truncated at bufsize). */
static void usage_commands(const cdof_config_spec_t *spec, char *buf, size_t bufsize)
{
    size_t plen = strlen(spec->program), used = 0;
    bool in_commands = false;
    buf[0] = '\0';
    for (const char *line = spec->usage; line && *line;) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        const char *w = NULL, *s = line;
        while (s < line + len && *s == ' ')
            s++;
        if ((size_t)(line + len - s) > plen + 1 && !strncmp(s, spec->program, plen) &&
            s[plen] == ' ' && islower((unsigned char)s[plen + 1]))
            w = s + plen + 1;
        else if (in_commands && s == line + 2 && islower((unsigned char)*s))
            w = s;
        if (len == 9 && !strncmp(line, "commands:", 9))
            in_commands = true;
        if (w) {
            char word[64];
            size_t wl = 0;
            while (w + wl < line + len && wl + 1 < sizeof word &&
                   (islower((unsigned char)w[wl]) || w[wl] == '-'))
                wl++;
            snprintf(word, sizeof word, " %.*s ", (int)wl, w);
            /* buf keeps a leading space, so " word " finds whole words only. */
            char probe[1024 + 2];
            snprintf(probe, sizeof probe, " %s ", buf);
            if (!strstr(probe, word) && used + wl + 1 < bufsize)
                used += (size_t)snprintf(buf + used, bufsize - used, "%s%.*s", used ? " " : "",
                                         (int)wl, w);
        }
        line = end ? end + 1 : NULL;
    }
}

void cdof_config_print_completion(const cdof_config_spec_t *spec, FILE *out)
{
    fprintf(out,
            "# bash completion for %s. Generated by %s --help=bash from the option table that\n"
            "# drives --help.\n",
            spec->program, spec->program);
    completion_fn(out, spec->program);
    fputs("()\n{\n    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}\n"
          "    case $prev in\n",
          out);
    /* Flags taking a value: files, directories, or nothing to offer. */
    static const char *const kinds[] = {"FILE", "DIR", NULL};
    static const char *const actions[] = {"compgen -f", "compgen -d", NULL};
    for (size_t k = 0; k < 3; k++) {
        bool any = false;
        for (size_t i = 0; i < spec->nopts + 1; i++) {
            const char *name = i < spec->nopts ? spec->opts[i].name : "config";
            const char *arg = i < spec->nopts ? spec->opts[i].arg : "FILE";
            bool is_bool = i < spec->nopts && spec->opts[i].type == CDOF_OPT_BOOL;
            if (!arg || is_bool)
                continue;
            bool choice = strchr(arg, '|') && !strchr(arg, ' ');
            bool match = k < 2
                             ? !strcmp(arg, kinds[k])
                             : !choice && strcmp(arg, kinds[0]) != 0 && strcmp(arg, kinds[1]) != 0;
            if (!match)
                continue;
            fprintf(out, "%s--%s", any ? "|" : "        ", name);
            any = true;
        }
        if (!any)
            continue;
        if (k < 2)
            fprintf(out,
                    ")\n            COMPREPLY=($(%s -- \"$cur\"))\n            return\n"
                    "            ;;\n",
                    actions[k]);
        else
            fputs(")\n            COMPREPLY=()\n            return\n            ;;\n", out);
    }
    /* A value from a fixed set ("table|csv|json"): offer the set. */
    for (size_t i = 0; i < spec->nopts; i++) {
        const char *arg = spec->opts[i].arg;
        if (!arg || !strchr(arg, '|') || strchr(arg, ' '))
            continue;
        fprintf(out, "        --%s)\n            COMPREPLY=($(compgen -W \"", spec->opts[i].name);
        for (const char *p = arg; *p; p++)
            fputc(*p == '|' ? ' ' : *p, out);
        fputs("\" -- \"$cur\"))\n            return\n            ;;\n", out);
    }
    fputs("    esac\n    if [[ $cur == -* ]]; then\n        COMPREPLY=($(compgen -W \"", out);
    for (size_t i = 0; i < spec->nopts; i++)
        fprintf(out, "--%s ", spec->opts[i].name);
    for (size_t i = 0; i < sizeof builtin_opts / sizeof builtin_opts[0]; i++)
        fprintf(out, "--%s%s", builtin_opts[i].name,
                i + 1 < sizeof builtin_opts / sizeof builtin_opts[0] ? " " : "");
    char commands[1024];
    usage_commands(spec, commands, sizeof commands);
    fprintf(out,
            "\" -- \"$cur\"))\n        return\n    fi\n    COMPREPLY=($(compgen -W \"%s\" -- "
            "\"$cur\"))\n}\ncomplete -o default -F ",
            commands);
    completion_fn(out, spec->program);
    fprintf(out, " %s\n", spec->program);
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
        if (!strcmp(argv[i], "--help=man")) {
            cdof_config_print_man(spec, stdout);
            return CDOF_CONFIG_EXIT;
        }
        if (!strcmp(argv[i], "--help=bash")) {
            cdof_config_print_completion(spec, stdout);
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

/* Configuration from one table: command-line flags, an INI file (--config FILE) and --help all
 * come from the same cdof_opt_t rows, so names stay the same everywhere.
 *
 * Precedence: defaults, then the INI file, then flags. INI lines are "name = value"; "#" and ";"
 * start comments; "[section]" headers are accepted and ignored; names are the flag names without
 * the leading "--". Strings and lists are heap copies owned by the configuration struct: release
 * them with cdof_config_free(). */
#ifndef CDOF_CONFIG_H
#define CDOF_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

typedef enum {
    CDOF_OPT_STRING, /* char * at offset; NULL when unset */
    CDOF_OPT_INT,    /* long at offset, checked against [min, max] */
    CDOF_OPT_BOOL,   /* bool at offset; a flag with no value sets it; INI takes true/false */
    CDOF_OPT_LIST    /* cdof_strlist_t at offset; repeated flags or comma-separated values */
} cdof_opt_type_t;

typedef struct {
    char **items; /* owned; count entries */
    size_t count;
} cdof_strlist_t;

typedef struct {
    const char *name; /* flag without "--", and INI key */
    cdof_opt_type_t type;
    const char *def;  /* default as text, or NULL */
    long min, max;    /* CDOF_OPT_INT only */
    size_t offset;    /* offsetof(config struct, field) */
    const char *arg;  /* placeholder shown in --help, e.g. "DIR" */
    const char *help; /* one line */
} cdof_opt_t;

typedef struct {
    const char *program; /* "cdof-agent" */
    const char *usage;   /* lines after "usage: " in --help */
    const char *summary; /* one line describing the program */
    const cdof_opt_t *opts;
    size_t nopts;
} cdof_config_spec_t;

enum {
    CDOF_CONFIG_OK = 0,
    CDOF_CONFIG_EXIT = 1 /* --help or --version was printed: exit 0 */
};

/* Applies defaults, --config FILE and flags to cfg (zeroed by the caller). Arguments that are not
 * flags are collected in order into *positional (owned by cfg's caller: free with
 * cdof_strlist_free). Returns CDOF_CONFIG_OK, CDOF_CONFIG_EXIT, or a negative code with a
 * one-line reason naming the flag, or the file and line, in err. */
int cdof_config_parse(const cdof_config_spec_t *spec, void *cfg, int argc, char **argv,
                      cdof_strlist_t *positional, char *err, size_t errlen);

/* Loads an INI file into cfg (used by cdof_config_parse and for SIGHUP reloads). */
int cdof_config_load_file(const cdof_config_spec_t *spec, void *cfg, const char *path, char *err,
                          size_t errlen);

/* Prints --help for spec to stdout. */
void cdof_config_print_help(const cdof_config_spec_t *spec);

/* The manual page and the shell completion come from the same rows as --help, so they cannot
 * drift from it: the build runs each program with --help=man and --help=bash and installs the
 * output. cdof_config_parse answers both like --help (CDOF_CONFIG_EXIT). */

/* Prints spec as a man page (roff, section 1) to out. */
void cdof_config_print_man(const cdof_config_spec_t *spec, FILE *out);

/* Prints a bash completion script for spec to out: its flags, the commands named in its usage
 * text, and file or directory names after flags whose argument is a FILE or DIR. */
void cdof_config_print_completion(const cdof_config_spec_t *spec, FILE *out);

/* Frees the strings and lists of cfg described by spec, and zeroes them. */
void cdof_config_free(const cdof_config_spec_t *spec, void *cfg);

/* Strips leading and trailing white space from s in place; returns the first kept character
 * (within s). Shared by the line-based readers (INI, the rules file, the key registry). */
char *cdof_config_trim(char *s);

/* Appends a copy of s. Returns 0 or -ENOMEM. */
int cdof_strlist_add(cdof_strlist_t *l, const char *s);
void cdof_strlist_free(cdof_strlist_t *l);

#endif

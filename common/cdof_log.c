#include "cdof_log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>

static const char *log_program = "cdof";
static cdof_log_level_t log_level = CDOF_LOG_INFO;
static FILE *log_file; /* NULL: stderr */

void cdof_log_init(const char *program, cdof_log_level_t level)
{
    log_program = program ? program : "cdof";
    log_level = level;
}

int cdof_log_level_parse(const char *s, cdof_log_level_t *out)
{
    static const struct {
        const char *name;
        cdof_log_level_t level;
    } names[] = {{"error", CDOF_LOG_ERROR},
                 {"warn", CDOF_LOG_WARN},
                 {"info", CDOF_LOG_INFO},
                 {"debug", CDOF_LOG_DEBUG}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (s && strcasecmp(s, names[i].name) == 0) {
            *out = names[i].level;
            return 0;
        }
    }
    return -EINVAL;
}

int cdof_log_open(const char *path)
{
    if (!path) {
        if (log_file)
            fclose(log_file);
        log_file = NULL;
        return 0;
    }
    FILE *f = fopen(path, "a");
    if (!f)
        return -errno;
    setvbuf(f, NULL, _IOLBF, 0);
    if (log_file)
        fclose(log_file);
    log_file = f;
    return 0;
}

static const char *level_name(cdof_log_level_t level)
{
    switch (level) {
    case CDOF_LOG_ERROR:
        return "error";
    case CDOF_LOG_WARN:
        return "warn";
    case CDOF_LOG_INFO:
        return "info";
    default:
        return "debug";
    }
}

void cdof_log(cdof_log_level_t level, const char *fmt, ...)
{
    if (level > log_level)
        return;
    FILE *out = log_file ? log_file : stderr;
    char line[2048];
    int n;
    if (!log_file && getenv("JOURNAL_STREAM")) {
        n = snprintf(line, sizeof line, "<%d>%s: ", (int)level, level_name(level));
    } else {
        struct timeval tv;
        struct tm tm;
        gettimeofday(&tv, NULL);
        gmtime_r(&tv.tv_sec, &tm);
        n = snprintf(line, sizeof line,
                     "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s %s: ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     (long)(tv.tv_usec / 1000), log_program, level_name(level));
    }
    if (n < 0 || (size_t)n >= sizeof line)
        n = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    va_end(ap);
    /* One write per line so that lines from several processes sharing a terminal stay whole. */
    fprintf(out, "%s\n", line);
    fflush(out);
}

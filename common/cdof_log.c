#include "cdof_log.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>

static const char *log_program = "cdof";
static cdof_log_level_t log_level = CDOF_LOG_INFO;
static FILE *log_file; /* NULL: stderr */

/* Repeated lines: each call site (its format string) may write LIMIT_BURST lines (warn and
 * error; LIMIT_BURST_INFO for info) per LIMIT_WINDOW_MS; the rest are counted and summed up in
 * one "suppressed N" line when the window ends. A flood of bad input or a full disk then costs
 * a few lines a second, not the disk. Debug lines, asked for, are never held back. */
#define LIMIT_WINDOW_MS  10000
#define LIMIT_BURST      50
#define LIMIT_BURST_INFO 1000
#define LIMIT_SLOTS      128

typedef struct {
    const char *fmt; /* the call site; NULL: free */
    cdof_log_level_t level;
    int64_t window_start;
    uint64_t written, suppressed;
} limit_t;

static limit_t limits[LIMIT_SLOTS];
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

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

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Copies src into dst[size] with every control character (and DEL) written as \xNN, so that
 * text from outside (file names, ids, reasons) can neither end a line nor forge another. */
static void escape(char *dst, size_t size, const char *src)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (; *src && o + 1 < size; src++) {
        unsigned char c = (unsigned char)*src;
        if (c >= 0x20 && c != 0x7F) {
            dst[o++] = (char)c;
            continue;
        }
        if (o + 5 >= size)
            break;
        dst[o++] = '\\';
        dst[o++] = 'x';
        dst[o++] = hex[c >> 4];
        dst[o++] = hex[c & 15];
    }
    dst[o] = '\0';
}

static void write_line(cdof_log_level_t level, const char *body)
{
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
    escape(line + n, sizeof line - (size_t)n, body);
    /* One write per line so that lines from several processes sharing a terminal stay whole. */
    fprintf(out, "%s\n", line);
    fflush(out);
}

/* Writes the summary of a slot whose window has ended. Caller holds log_lock. */
static void limit_flush(limit_t *l)
{
    if (l->suppressed) {
        char body[640];
        snprintf(body, sizeof body, "suppressed %llu more line(s) like \"%.512s\" in %d s",
                 (unsigned long long)l->suppressed, l->fmt, LIMIT_WINDOW_MS / 1000);
        write_line(l->level, body);
    }
    l->suppressed = 0;
    l->written = 0;
}

/* True when this line of call site fmt may be written now. Caller holds log_lock. */
static bool limit_allows(cdof_log_level_t level, const char *fmt)
{
    if (level >= CDOF_LOG_DEBUG)
        return true;
    int64_t now = mono_ms();
    limit_t *slot = NULL;
    for (size_t i = 0; i < LIMIT_SLOTS; i++) {
        limit_t *l = &limits[i];
        if (l->fmt && now - l->window_start >= LIMIT_WINDOW_MS) {
            limit_flush(l); /* a window ended: its summary now, and the slot is free again */
            l->fmt = NULL;
        }
        if (l->fmt == fmt)
            slot = l;
    }
    if (!slot) {
        limit_t *victim = NULL;
        for (size_t i = 0; i < LIMIT_SLOTS && !slot; i++) {
            if (!limits[i].fmt)
                slot = &limits[i];
            else if (!victim || limits[i].window_start < victim->window_start)
                victim = &limits[i];
        }
        if (!slot) {
            slot = victim;
            limit_flush(slot); /* more call sites than slots: the oldest gives way */
        }
        *slot = (limit_t){fmt, level, now, 0, 0};
    }
    uint64_t burst = level >= CDOF_LOG_INFO ? LIMIT_BURST_INFO : LIMIT_BURST;
    if (slot->written < burst) {
        slot->written++;
        return true;
    }
    slot->suppressed++;
    return false;
}

void cdof_log(cdof_log_level_t level, const char *fmt, ...)
{
    if (level > log_level)
        return;
    pthread_mutex_lock(&log_lock);
    if (limit_allows(level, fmt)) { /* a suppressed line costs no formatting */
        char body[2048];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(body, sizeof body, fmt, ap);
        va_end(ap);
        write_line(level, body);
    }
    pthread_mutex_unlock(&log_lock);
}

void cdof_log_flush(void)
{
    pthread_mutex_lock(&log_lock);
    for (size_t i = 0; i < LIMIT_SLOTS; i++) {
        if (limits[i].fmt)
            limit_flush(&limits[i]);
    }
    pthread_mutex_unlock(&log_lock);
}

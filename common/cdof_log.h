/* Logging to stderr, one line per event, fit for journald and for people.
 *
 * Lines look like "2026-11-23T14:03:01.123Z cdof-hub warn: message". Under systemd
 * (JOURNAL_STREAM set) the timestamp is dropped and a "<N>" syslog priority prefix is written
 * instead, so journald records the level.
 *
 * Every control character in a message (a newline in a file name, say) is written as \xNN: one
 * event is one line, and text from outside cannot forge a line. Each call site may write 50
 * warn or error lines (1,000 info lines) per 10 s; the rest are counted and one line "suppressed
 * N more line(s) like ..." follows when the 10 s end (at the next log call, or cdof_log_flush).
 * Debug lines are never held back. Thread-safe. */
#ifndef CDOF_LOG_H
#define CDOF_LOG_H

typedef enum {
    CDOF_LOG_ERROR = 3,
    CDOF_LOG_WARN = 4,
    CDOF_LOG_INFO = 6,
    CDOF_LOG_DEBUG = 7
} cdof_log_level_t;

/* Sets the program name shown on every line (not copied: pass a string literal) and the lowest
 * level printed. */
void cdof_log_init(const char *program, cdof_log_level_t level);

/* Parses "error", "warn", "info" or "debug". Returns 0 or -EINVAL. */
int cdof_log_level_parse(const char *s, cdof_log_level_t *out);

/* Sends subsequent lines to path (appending) instead of stderr; NULL returns to stderr.
 * Called again with the same path after SIGHUP it reopens the file (log rotation).
 * Returns 0 or a negative errno; on failure logging continues where it was. */
int cdof_log_open(const char *path);

void cdof_log(cdof_log_level_t level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Writes the "suppressed" summaries still held (call before exit, or now and then). */
void cdof_log_flush(void);

#define cdof_log_error(...) cdof_log(CDOF_LOG_ERROR, __VA_ARGS__)
#define cdof_log_warn(...)  cdof_log(CDOF_LOG_WARN, __VA_ARGS__)
#define cdof_log_info(...)  cdof_log(CDOF_LOG_INFO, __VA_ARGS__)
#define cdof_log_debug(...) cdof_log(CDOF_LOG_DEBUG, __VA_ARGS__)

#endif

/* Clocks. Wall-clock time can be injected for tests: when the environment variable
 * CDOF_FAKE_NOW is set (an ISO date "2024-05-01", a date and time "2024-05-01T10:00:00Z", or
 * milliseconds since the epoch) cdof_clock_now_ms() returns that instant plus the time elapsed
 * since the process first asked, so timers still advance. */
#ifndef CDOF_CLOCK_H
#define CDOF_CLOCK_H

#include <stdint.h>

/* Milliseconds since the Unix epoch (UTC), or the injected instant. */
int64_t cdof_clock_now_ms(void);

/* Milliseconds from an arbitrary fixed point; never goes backwards. For time-outs. */
int64_t cdof_clock_mono_ms(void);

/* Today as days since 1970-01-01 (UTC), following cdof_clock_now_ms(). */
int32_t cdof_clock_today(void);

/* Parses the forms CDOF_FAKE_NOW accepts into ms since the epoch. Returns 0 or -EINVAL. */
int cdof_clock_parse(const char *s, int64_t *out_ms);

/* Formats ms since the epoch as "2024-05-01T10:00:00Z" into buf (at least 24 bytes). */
void cdof_clock_format(int64_t ms, char *buf, unsigned long len);

#endif

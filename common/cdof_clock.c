#include "cdof_clock.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int64_t cdof_clock_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t days_from_civil(int y, unsigned m, unsigned d)
{
    /* Howard Hinnant's algorithm: proleptic Gregorian calendar. */
    y -= m <= 2;
    const int era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return (int64_t)era * 146097 + (int64_t)doe - 719468;
}

int cdof_clock_parse(const char *s, int64_t *out_ms)
{
    if (!s || !*s)
        return -EINVAL;
    int y, mo, d, h = 0, mi = 0, sec = 0, n = 0;
    if (sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) == 3 && n == 10) {
        const char *rest = s + n;
        if (*rest == 'T' || *rest == ' ') {
            int m2 = 0;
            if (sscanf(rest + 1, "%2d:%2d:%2d%n", &h, &mi, &sec, &m2) != 3)
                return -EINVAL;
            rest += 1 + m2;
            if (*rest == 'Z')
                rest++;
        }
        if (*rest || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
            return -EINVAL;
        *out_ms =
            (days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + sec) *
            1000;
        return 0;
    }
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || v < 0)
        return -EINVAL;
    *out_ms = v;
    return 0;
}

int64_t cdof_clock_now_ms(void)
{
    static int checked;
    static int64_t fake_base = -1, mono_base;
    if (!checked) {
        checked = 1;
        const char *f = getenv("CDOF_FAKE_NOW");
        int64_t ms;
        if (f && cdof_clock_parse(f, &ms) == 0) {
            fake_base = ms;
            mono_base = cdof_clock_mono_ms();
        }
    }
    if (fake_base >= 0)
        return fake_base + (cdof_clock_mono_ms() - mono_base);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int32_t cdof_clock_today(void)
{
    int64_t ms = cdof_clock_now_ms();
    int64_t days = ms / 86400000;
    if (ms < 0 && ms % 86400000)
        days--;
    return (int32_t)days;
}

void cdof_clock_format(int64_t ms, char *buf, unsigned long len)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

#include "cdof_clock.h"

#include <errno.h>
#include <stdbool.h>
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

/* Exactly n decimal digits: sscanf's %d would also take signs and blanks ("2024- 5-01"). */
static int clock_digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

int cdof_clock_parse(const char *s, int64_t *out_ms)
{
    static const int dim[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (!s || !*s)
        return -EINVAL;
    int y, mo, d, h = 0, mi = 0, sec = 0;
    if (strlen(s) >= 10 && s[4] == '-' && s[7] == '-') {
        if (clock_digits(s, 4, &y) || clock_digits(s + 5, 2, &mo) || clock_digits(s + 8, 2, &d))
            return -EINVAL;
        const char *rest = s + 10;
        if (*rest == 'T' || *rest == ' ') {
            if (strlen(rest) < 9 || rest[3] != ':' || rest[6] != ':' ||
                clock_digits(rest + 1, 2, &h) || clock_digits(rest + 4, 2, &mi) ||
                clock_digits(rest + 7, 2, &sec))
                return -EINVAL;
            rest += 9;
            if (*rest == 'Z')
                rest++;
        }
        bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
        if (*rest || mo < 1 || mo > 12 || d < 1 || d > dim[mo - 1] ||
            (mo == 2 && d == 29 && !leap) || h > 23 || mi > 59 || sec > 60)
            return -EINVAL;
        *out_ms =
            (days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + sec) *
            1000;
        return 0;
    }
    if (*s < '0' || *s > '9') /* strtoll would take blanks and signs */
        return -EINVAL;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end)
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

/* nc-time.c - format and parse the UTC microsecond timestamps of netcarry's XML
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "nc-time.h"

/**
 * nc_time_format() - @us (microseconds since the epoch) as "2026-11-22T14:37:00.123456Z"
 * @buf: at least NC_TIME_STRLEN bytes
 */
void nc_time_format(gint64 us, char *buf, gsize len)
{
    /* floor division, so times before the epoch keep a positive fraction */
    gint64 secs = us >= 0 ? us / G_USEC_PER_SEC : -((-us + G_USEC_PER_SEC - 1) / G_USEC_PER_SEC);
    time_t t = (time_t)secs;
    struct tm tm;

    gmtime_r(&t, &tm);
    g_snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", tm.tm_year + 1900, tm.tm_mon + 1,
               tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(us - secs * G_USEC_PER_SEC));
}

/**
 * nc_time_parse() - the inverse of nc_time_format(); the fraction may have 1 to 6 digits
 *
 * Return: TRUE and *@out set, or FALSE for anything that is not such a UTC time
 */
gboolean nc_time_parse(const char *text, gint64 *out)
{
    int y, mo, d, h, mi, s, n = 0;
    gint64 us = 0;
    const char *p;
    g_autoptr(GDateTime) dt = NULL;

    if (strlen(text) < 20 ||
        sscanf(text, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &s, &n) != 6 || n != 19)
        return FALSE;
    p = text + 19;
    if (*p == '.') {
        int digits = 0;

        /* counted before they are added up: a long run of digits must not overflow @us */
        for (p++; g_ascii_isdigit(*p) && digits < 7; p++, digits++)
            us = us * 10 + (*p - '0');
        if (digits < 1 || digits > 6)
            return FALSE;
        for (; digits < 6; digits++)
            us *= 10;
    }
    if (strcmp(p, "Z") != 0)
        return FALSE;
    dt = g_date_time_new_utc(y, mo, d, h, mi, s);
    if (!dt || g_date_time_get_year(dt) != y)
        return FALSE;
    *out = g_date_time_to_unix(dt) * G_USEC_PER_SEC + us;
    return TRUE;
}

/* nc-time.h - the one timestamp form of netcarry's XML: UTC with microseconds,
 * "2026-11-22T14:37:00.123456Z", as microseconds since the epoch
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* room for any timestamp nc_time_format() writes, with its NUL */
#define NC_TIME_STRLEN 32

void nc_time_format(gint64 us, char *buf, gsize len);
/* strict "YYYY-MM-DDTHH:MM:SS[.f..ffffff]Z"; FALSE for anything else */
gboolean nc_time_parse(const char *text, gint64 *out);

G_END_DECLS

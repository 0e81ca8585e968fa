/* nc-report-svg.h - the picture of one migration: `netcarry report DOMAIN --svg FILE` draws the
 * report's timeline (both hosts, around the source's STOP) as a standalone SVG document
 */
#pragma once

#include <glib.h>

#include "conf/nc-report.h"

G_BEGIN_DECLS

/* The drawing's size in CSS pixels, whatever the report holds (so a test can check a render). */
#define NC_REPORT_SVG_WIDTH 960
#define NC_REPORT_SVG_HEIGHT 600

/* (transfer full): an SVG 1.1 document, ending in a newline */
char *nc_report_to_svg(const NcReport *report);

G_END_DECLS

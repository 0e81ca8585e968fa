/* nc-metrics.h - netcarryd's metrics in Prometheus' text format, written atomically into
 * node_exporter's textfile collector directory ([metrics] textfile-dir)
 */
#pragma once

#include <glib.h>

#include "conf/nc-report.h"

G_BEGIN_DECLS

/* the file's name in the textfile directory (node_exporter reads *.prom there) */
#define NC_METRICS_FILE "netcarry.prom"

typedef struct NcMetrics NcMetrics;

NcMetrics *nc_metrics_new(void);
void nc_metrics_free(NcMetrics *metrics);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(NcMetrics, nc_metrics_free)

/* A migration that arrived here ended: its report (outcome, figures, entries, gate). */
void nc_metrics_add_report(NcMetrics *metrics, const NcReport *report);
/* Admission said no at `migrate begin`: @reason is the error's NC_ERROR code; @refused is FALSE
 * when the policy `proceed` let the migration go on at risk. */
void nc_metrics_add_admission_failure(NcMetrics *metrics, const GError *reason, gboolean refused);

/* The exposition text (Prometheus text format 0.0.4). (transfer full) */
char *nc_metrics_format(const NcMetrics *metrics);
/* Write nc_metrics_format() to @dir/NC_METRICS_FILE by rename, so a scrape never sees half a
 * file. NC_ERROR_NOT_FOUND when @dir does not exist. */
gboolean nc_metrics_write(const NcMetrics *metrics, const char *dir, GError **error);

G_END_DECLS

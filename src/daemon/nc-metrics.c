/* nc-metrics.c - counters and histograms of the migrations this host received, in Prometheus'
 * text format
 *
 * Theory of operation
 *
 * Every figure comes from what the destination already decides or records: its admission
 * (refused, or let through at risk, by the reason's error code: a bounded label set, unlike the
 * free-text reason) and the report of each migration that arrived here (outcome, source STOP ->
 * installed, margin, entries per class, packets the gate held). So the numbers are the
 * report's numbers, and each migration is counted once, on its destination: summing a fleet
 * counts every migration once.
 *
 * Why a textfile and not an HTTP endpoint: libvirt hosts usually run node_exporter already, and
 * its textfile collector picks up *.prom files from one directory. netcarryd then opens no
 * port (a daemon that installs firewall state should not grow a new listening surface), needs
 * no HTTP stack, and the metrics survive a scrape during a daemon restart. The file is rewritten
 * by rename (g_file_set_contents(): a temporary file in the same directory, which does not end
 * in .prom, so the collector never reads it half written). Counters start at zero with the
 * daemon, which Prometheus' rate() handles as a counter reset.
 */
#include <errno.h>
#include <glib/gstdio.h>

#include "nc-metrics.h"
#include "util/nc-error.h"

/* one name per NcErrorCode: the "reason" label of admission failures */
static const char *const nc_metrics_reasons[] = {
    "failed", "invalid-arg", "invalid-data", "io",      "netlink", "not-found",
    "exists", "permission",  "unsupported",  "partial", "timeout",
};
G_STATIC_ASSERT(G_N_ELEMENTS(nc_metrics_reasons) == NC_ERROR_TIMEOUT + 1);

static const char *const nc_metrics_stages[] = {"precopied", "changed_at_stop", "installed",
                                                "failed", "removed_at_source"};
#define NC_METRICS_STAGES G_N_ELEMENTS(nc_metrics_stages)

/* Upper bounds in seconds. The window from STOP to RESUME is tens of ms (more under TCG), so the
 * buckets are finest there; a negative margin means the state came after the guest resumed. */
static const double nc_stop_buckets[] = {0.001, 0.002, 0.005, 0.01, 0.02, 0.05,
                                         0.1,   0.2,   0.5,   1.0,  2.0};
static const double nc_margin_buckets[] = {-0.1, -0.01, 0.0, 0.005, 0.01, 0.02,
                                           0.05, 0.1,   0.2, 0.5,   1.0};
#define NC_MAX_BUCKETS 11
G_STATIC_ASSERT(G_N_ELEMENTS(nc_stop_buckets) <= NC_MAX_BUCKETS);
G_STATIC_ASSERT(G_N_ELEMENTS(nc_margin_buckets) <= NC_MAX_BUCKETS);

typedef struct {
    const double *bounds;
    guint n_bounds;
    guint64 counts[NC_MAX_BUCKETS]; /* non-cumulative; the +Inf bucket is count */
    guint64 count;
    double sum;
} NcHistogram;

struct NcMetrics {
    guint64 migrations[NC_REPORT_OUTCOME_LAST];
    guint64 refused[G_N_ELEMENTS(nc_metrics_reasons)];
    guint64 at_risk[G_N_ELEMENTS(nc_metrics_reasons)];
    guint64 entries[NC_REPORT_CLASS_LAST][NC_METRICS_STAGES];
    guint64 held_packets;
    gint64 last_report_us;
    NcHistogram stop_to_installed;
    NcHistogram margin;
};

NcMetrics *nc_metrics_new(void)
{
    NcMetrics *m = g_new0(NcMetrics, 1);

    m->stop_to_installed.bounds = nc_stop_buckets;
    m->stop_to_installed.n_bounds = G_N_ELEMENTS(nc_stop_buckets);
    m->margin.bounds = nc_margin_buckets;
    m->margin.n_bounds = G_N_ELEMENTS(nc_margin_buckets);
    return m;
}

void nc_metrics_free(NcMetrics *metrics)
{
    g_free(metrics);
}

static void nc_histogram_observe(NcHistogram *h, double v)
{
    guint i = 0;

    while (i < h->n_bounds && v > h->bounds[i])
        i++;
    if (i < h->n_bounds)
        h->counts[i]++;
    h->count++;
    h->sum += v;
}

void nc_metrics_add_report(NcMetrics *m, const NcReport *r)
{
    NcReportFigures fig;

    if ((guint)r->outcome < NC_REPORT_OUTCOME_LAST)
        m->migrations[r->outcome]++;
    nc_report_figures(r, &fig);
    if (fig.has_stop_to_installed)
        nc_histogram_observe(&m->stop_to_installed, fig.stop_to_installed_us / 1e6);
    if (fig.has_margin)
        nc_histogram_observe(&m->margin, fig.margin_us / 1e6);
    for (guint c = 0; c < NC_REPORT_CLASS_LAST; c++) {
        const NcReportCarried *n = &r->carried[c];
        const guint32 v[NC_METRICS_STAGES] = {n->precopied, n->changed_at_stop, n->installed,
                                              n->failed, n->removed_at_source};

        for (guint s = 0; n->present && s < NC_METRICS_STAGES; s++)
            m->entries[c][s] += v[s];
    }
    if (r->has_gate)
        m->held_packets += r->held_packets;
    m->last_report_us = g_get_real_time();
}

void nc_metrics_add_admission_failure(NcMetrics *m, const GError *reason, gboolean refused)
{
    guint code = reason && reason->domain == NC_ERROR &&
                         (guint)reason->code < G_N_ELEMENTS(nc_metrics_reasons)
                     ? (guint)reason->code
                     : NC_ERROR_FAILED;

    if (refused)
        m->refused[code]++;
    else
        m->at_risk[code]++;
}

static void nc_head(GString *s, const char *name, const char *type, const char *help)
{
    g_string_append_printf(s, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void nc_double(GString *s, double v)
{
    char buf[G_ASCII_DTOSTR_BUF_SIZE];

    g_string_append(s, g_ascii_formatd(buf, sizeof(buf), "%.6g", v));
}

static void nc_histogram_format(GString *s, const char *name, const char *help,
                                const NcHistogram *h)
{
    guint64 cumulative = 0;

    nc_head(s, name, "histogram", help);
    for (guint i = 0; i < h->n_bounds; i++) {
        cumulative += h->counts[i];
        g_string_append_printf(s, "%s_bucket{le=\"", name);
        nc_double(s, h->bounds[i]);
        g_string_append_printf(s, "\"} %" G_GUINT64_FORMAT "\n", cumulative);
    }
    g_string_append_printf(s, "%s_bucket{le=\"+Inf\"} %" G_GUINT64_FORMAT "\n", name, h->count);
    g_string_append_printf(s, "%s_sum ", name);
    nc_double(s, h->sum);
    g_string_append_printf(s, "\n%s_count %" G_GUINT64_FORMAT "\n", name, h->count);
}

/**
 * nc_metrics_format() - every metric, each with HELP and TYPE, every known label value present
 *                       (zero included, so a rate() has a series before the first event)
 *
 * Return: (transfer full): the exposition text
 */
char *nc_metrics_format(const NcMetrics *m)
{
    GString *s = g_string_new(NULL);

    nc_head(s, "netcarry_migrations_total", "counter",
            "Migrations that arrived on this host, by netcarry's outcome (from their reports).");
    for (guint o = 0; o < NC_REPORT_OUTCOME_LAST; o++)
        g_string_append_printf(s,
                               "netcarry_migrations_total{outcome=\"%s\"} %" G_GUINT64_FORMAT "\n",
                               nc_report_outcome_to_string(o), m->migrations[o]);
    nc_head(s, "netcarry_migrations_refused_total", "counter",
            "Migrations refused at admission (migrate begin), by the reason's error code.");
    for (guint i = 0; i < G_N_ELEMENTS(nc_metrics_reasons); i++)
        g_string_append_printf(
            s, "netcarry_migrations_refused_total{reason=\"%s\"} %" G_GUINT64_FORMAT "\n",
            nc_metrics_reasons[i], m->refused[i]);
    nc_head(s, "netcarry_migrations_at_risk_total", "counter",
            "Migrations admitted although their state could not be carried (admission = "
            "proceed), by the reason's error code.");
    for (guint i = 0; i < G_N_ELEMENTS(nc_metrics_reasons); i++)
        g_string_append_printf(
            s, "netcarry_migrations_at_risk_total{reason=\"%s\"} %" G_GUINT64_FORMAT "\n",
            nc_metrics_reasons[i], m->at_risk[i]);
    nc_histogram_format(s, "netcarry_stop_to_installed_seconds",
                        "Source STOP to state installed on this host (two hosts' clocks).",
                        &m->stop_to_installed);
    nc_histogram_format(s, "netcarry_margin_seconds",
                        "Guest RESUME minus state installed, on this host; negative: the state "
                        "came after the guest resumed.",
                        &m->margin);
    nc_head(s, "netcarry_entries_total", "counter",
            "State entries of migrations that arrived here, by class and stage.");
    for (guint c = 0; c < NC_REPORT_CLASS_LAST; c++) {
        for (guint st = 0; st < NC_METRICS_STAGES; st++)
            g_string_append_printf(s,
                                   "netcarry_entries_total{class=\"%s\",stage=\"%s\"} "
                                   "%" G_GUINT64_FORMAT "\n",
                                   nc_report_class_to_string(c), nc_metrics_stages[st],
                                   m->entries[c][st]);
    }
    nc_head(s, "netcarry_gate_held_packets_total", "counter",
            "Packets of arriving guests that the gate held back until their state was installed.");
    g_string_append_printf(s, "netcarry_gate_held_packets_total %" G_GUINT64_FORMAT "\n",
                           m->held_packets);
    nc_head(s, "netcarry_last_report_timestamp_seconds", "gauge",
            "When the last migration report was recorded here (0: none since start).");
    g_string_append_printf(s, "netcarry_last_report_timestamp_seconds %" G_GINT64_FORMAT "\n",
                           m->last_report_us / G_USEC_PER_SEC);
    return g_string_free(s, FALSE);
}

gboolean nc_metrics_write(const NcMetrics *m, const char *dir, GError **error)
{
    g_autofree char *path = g_build_filename(dir, NC_METRICS_FILE, NULL);
    g_autofree char *text = NULL;
    g_autoptr(GError) local = NULL;

    if (!g_file_test(dir, G_FILE_TEST_IS_DIR)) {
        g_set_error(error, NC_ERROR, NC_ERROR_NOT_FOUND,
                    "metrics directory %s does not exist (node_exporter's textfile collector "
                    "directory; see [metrics] textfile-dir)",
                    dir);
        return FALSE;
    }
    text = nc_metrics_format(m);
    if (!g_file_set_contents_full(path, text, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0644, &local)) {
        g_set_error(error, NC_ERROR, NC_ERROR_IO, "cannot write the metrics to %s: %s", path,
                    local->message);
        return FALSE;
    }
    return TRUE;
}

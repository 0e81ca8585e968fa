/* test-metrics.c - netcarryd's metrics: the exposition text a Prometheus scrape reads (every
 * series present from the start, counts and histogram buckets from the example reports) and its
 * atomic write into the textfile directory
 */
#include <math.h>
#include <string.h>

#include <glib/gstdio.h>

#include "nc-metrics.h"
#include "util/nc-error.h"

static NcReport *example(const char *name)
{
    g_autofree char *path =
        g_build_filename(g_getenv("NETCARRY_SOURCE_ROOT"), "xml", "examples", name, NULL);
    g_autoptr(GError) error = NULL;
    NcReport *r = nc_report_parse_file(path, &error);

    g_assert_no_error(error);
    return r;
}

/* the value of the sample line that starts with @series followed by a space */
static double sample(const char *text, const char *series)
{
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);

    for (guint i = 0; lines[i]; i++) {
        if (g_str_has_prefix(lines[i], series) && lines[i][strlen(series)] == ' ')
            return g_ascii_strtod(lines[i] + strlen(series) + 1, NULL);
    }
    g_test_message("no sample %s in:\n%s", series, text);
    g_assert_not_reached();
}

/* Prometheus text format 0.0.4: each family announced by HELP then TYPE before its samples,
 * samples "name{label="v",...} value", histogram buckets cumulative and ending at +Inf = count */
static void assert_exposition_format(const char *text)
{
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    g_autoptr(GRegex) sample_re = g_regex_new(
        "^([a-z_]+)(\\{[a-z_]+=\"[^\"\\\\]*\"(,[a-z_]+=\"[^\"\\\\]*\")*\\})? (-?[0-9.e+-]+)$", 0, 0,
        NULL);
    g_autofree char *family = NULL;
    double last_bucket = -1;

    g_assert_true(g_str_has_suffix(text, "\n"));
    for (guint i = 0; lines[i] && *lines[i]; i++) {
        g_autoptr(GMatchInfo) m = NULL;
        g_autofree char *name = NULL;

        if (g_str_has_prefix(lines[i], "# HELP ")) {
            g_free(family);
            family = g_strndup(lines[i] + 7, strcspn(lines[i] + 7, " "));
            g_assert_true(lines[i + 1] && g_str_has_prefix(lines[i + 1], "# TYPE "));
            last_bucket = -1;
            continue;
        }
        if (g_str_has_prefix(lines[i], "# TYPE "))
            continue;
        g_assert_true(g_regex_match(sample_re, lines[i], 0, &m));
        name = g_match_info_fetch(m, 1);
        g_assert_nonnull(family);
        g_assert_true(g_str_has_prefix(name, family));
        if (g_str_has_suffix(name, "_bucket")) {
            g_autofree char *v = g_match_info_fetch(m, 4);
            double n = g_ascii_strtod(v, NULL);

            g_assert_cmpfloat(n, >=, last_bucket); /* cumulative */
            last_bucket = n;
        }
    }
}

static void test_empty(void)
{
    g_autoptr(NcMetrics) m = nc_metrics_new();
    g_autofree char *text = nc_metrics_format(m);

    assert_exposition_format(text);
    /* every series exists before the first event, at zero */
    g_assert_cmpfloat(sample(text, "netcarry_migrations_total{outcome=\"completed\"}"), ==, 0);
    g_assert_cmpfloat(sample(text, "netcarry_migrations_refused_total{reason=\"timeout\"}"), ==, 0);
    g_assert_cmpfloat(sample(text, "netcarry_margin_seconds_count"), ==, 0);
    g_assert_cmpfloat(
        sample(text, "netcarry_entries_total{class=\"conntrack\",stage=\"installed\"}"), ==, 0);
    g_assert_cmpfloat(sample(text, "netcarry_gate_held_packets_total"), ==, 0);
}

/* report-completed: STOP->installed 18.6 ms, margin +53.4 ms; report-late: 85.25 ms and
 * -35.25 ms (the state came after the resume); report-failed: no figures */
static void test_reports(void)
{
    g_autoptr(NcMetrics) m = nc_metrics_new();
    const char *files[] = {"report-completed.xml", "report-late.xml", "report-failed.xml"};
    g_autofree char *text = NULL;

    for (guint i = 0; i < G_N_ELEMENTS(files); i++) {
        g_autoptr(NcReport) r = example(files[i]);

        nc_metrics_add_report(m, r);
    }
    text = nc_metrics_format(m);
    assert_exposition_format(text);
    g_assert_cmpfloat(sample(text, "netcarry_migrations_total{outcome=\"completed\"}"), ==, 2);
    g_assert_cmpfloat(sample(text, "netcarry_migrations_total{outcome=\"failed\"}"), ==, 1);
    g_assert_cmpfloat(sample(text, "netcarry_migrations_total{outcome=\"cancelled\"}"), ==, 0);

    g_assert_cmpfloat(sample(text, "netcarry_stop_to_installed_seconds_bucket{le=\"0.01\"}"), ==,
                      0);
    g_assert_cmpfloat(sample(text, "netcarry_stop_to_installed_seconds_bucket{le=\"0.02\"}"), ==,
                      1);
    g_assert_cmpfloat(sample(text, "netcarry_stop_to_installed_seconds_bucket{le=\"0.1\"}"), ==, 2);
    g_assert_cmpfloat(sample(text, "netcarry_stop_to_installed_seconds_bucket{le=\"+Inf\"}"), ==,
                      2);
    g_assert_cmpfloat(sample(text, "netcarry_stop_to_installed_seconds_count"), ==, 2);
    g_assert_cmpfloat(fabs(sample(text, "netcarry_stop_to_installed_seconds_sum") - 0.10385), <,
                      1e-9);

    /* the late one falls in the negative buckets */
    g_assert_cmpfloat(sample(text, "netcarry_margin_seconds_bucket{le=\"-0.1\"}"), ==, 0);
    g_assert_cmpfloat(sample(text, "netcarry_margin_seconds_bucket{le=\"-0.01\"}"), ==, 1);
    g_assert_cmpfloat(sample(text, "netcarry_margin_seconds_bucket{le=\"0\"}"), ==, 1);
    g_assert_cmpfloat(sample(text, "netcarry_margin_seconds_bucket{le=\"0.05\"}"), ==, 1);
    g_assert_cmpfloat(sample(text, "netcarry_margin_seconds_bucket{le=\"0.1\"}"), ==, 2);
    g_assert_cmpfloat(sample(text, "netcarry_margin_seconds_count"), ==, 2);

    g_assert_cmpfloat(
        sample(text, "netcarry_entries_total{class=\"conntrack\",stage=\"precopied\"}"), ==,
        1000 + 0 + 40);
    g_assert_cmpfloat(
        sample(text, "netcarry_entries_total{class=\"conntrack\",stage=\"installed\"}"), ==,
        1003 + 12 + 38);
    g_assert_cmpfloat(sample(text, "netcarry_entries_total{class=\"conntrack\",stage=\"failed\"}"),
                      ==, 2);
    g_assert_cmpfloat(sample(text, "netcarry_gate_held_packets_total"), ==, 4 + 31 + 0);
    g_assert_cmpfloat(sample(text, "netcarry_last_report_timestamp_seconds"), >, 1.7e9);
}

static void test_admission(void)
{
    g_autoptr(NcMetrics) m = nc_metrics_new();
    g_autoptr(GError) timeout = g_error_new_literal(NC_ERROR, NC_ERROR_TIMEOUT, "x");
    g_autoptr(GError) unsupported = g_error_new_literal(NC_ERROR, NC_ERROR_UNSUPPORTED, "y");
    g_autoptr(GError) foreign = g_error_new_literal(G_FILE_ERROR, G_FILE_ERROR_NOENT, "z");
    g_autofree char *text = NULL;

    nc_metrics_add_admission_failure(m, timeout, TRUE);
    nc_metrics_add_admission_failure(m, timeout, TRUE);
    nc_metrics_add_admission_failure(m, unsupported, FALSE);
    nc_metrics_add_admission_failure(m, foreign, TRUE); /* another domain: "failed" */
    text = nc_metrics_format(m);
    assert_exposition_format(text);
    g_assert_cmpfloat(sample(text, "netcarry_migrations_refused_total{reason=\"timeout\"}"), ==, 2);
    g_assert_cmpfloat(sample(text, "netcarry_migrations_refused_total{reason=\"failed\"}"), ==, 1);
    g_assert_cmpfloat(sample(text, "netcarry_migrations_refused_total{reason=\"unsupported\"}"), ==,
                      0);
    g_assert_cmpfloat(sample(text, "netcarry_migrations_at_risk_total{reason=\"unsupported\"}"), ==,
                      1);
    g_assert_cmpfloat(sample(text, "netcarry_migrations_total{outcome=\"completed\"}"), ==, 0);
}

/* the file appears whole under its name, nothing else is left in the directory */
static void test_write(void)
{
    g_autoptr(NcMetrics) m = nc_metrics_new();
    g_autoptr(NcReport) r = example("report-completed.xml");
    g_autoptr(GError) error = NULL;
    g_autofree char *dir = g_dir_make_tmp("nc-metrics-XXXXXX", &error);
    g_autofree char *path = g_build_filename(dir, NC_METRICS_FILE, NULL);
    g_autofree char *missing = g_build_filename(dir, "absent", NULL);
    g_autofree char *written = NULL;
    g_autofree char *expected = NULL;
    g_autoptr(GDir) d = NULL;
    const char *name;
    guint n = 0;

    g_assert_no_error(error);
    g_assert_true(nc_metrics_write(m, dir, &error));
    nc_metrics_add_report(m, r);
    g_assert_true(nc_metrics_write(m, dir, &error));
    g_assert_no_error(error);
    g_assert_true(g_file_get_contents(path, &written, NULL, NULL));
    expected = nc_metrics_format(m);
    g_assert_cmpstr(written, ==, expected);
    d = g_dir_open(dir, 0, NULL);
    while ((name = g_dir_read_name(d))) {
        g_assert_cmpstr(name, ==, NC_METRICS_FILE);
        n++;
    }
    g_assert_cmpuint(n, ==, 1);

    g_assert_false(nc_metrics_write(m, missing, &error));
    g_assert_error(error, NC_ERROR, NC_ERROR_NOT_FOUND);
    g_assert_nonnull(strstr(error->message, "textfile-dir"));
    g_assert_false(g_file_test(missing, G_FILE_TEST_EXISTS));

    g_assert_cmpint(g_unlink(path), ==, 0);
    g_assert_cmpint(g_rmdir(dir), ==, 0);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/metrics/empty", test_empty);
    g_test_add_func("/metrics/reports", test_reports);
    g_test_add_func("/metrics/admission", test_admission);
    g_test_add_func("/metrics/write", test_write);
    return g_test_run();
}

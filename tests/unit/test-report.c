/* test-report.c - the migration report: XML round trips, precise errors, the derived figures
 * (with docs/libvirt-migration.md's measured timeline), the state classes (counts, failures and
 * what is not carried, read back by class name; format-1 conntrack-only reports still read) and
 * the text that `netcarry report` prints
 */
#include <string.h>

#include "conf/nc-mdb-items.h"
#include "conf/nc-nft-items.h"
#include "conf/nc-policy.h"
#include "conf/nc-report.h"
#include "util/nc-error.h"
#include "util/nc-xml.h"

#include "test-common.h"

/* 2026-11-22T14:37:00Z: the destination's `migrate begin` hook in FINDINGS' A->B run */
#define T0 G_GINT64_CONSTANT(1795358220000000)
#define MS(x) ((gint64)((x)*1000))

static char *example_path(const char *file)
{
    return g_build_filename(nc_test_source_root(), "xml", "examples", file, NULL);
}

static gboolean regenerate(void)
{
    return g_strcmp0(g_getenv("NETCARRY_REGENERATE"), "1") == 0;
}

/* parse -> format gives the file back byte for byte (NETCARRY_REGENERATE=1 rewrites it) */
static void test_roundtrip(gconstpointer data)
{
    const char *path = data;
    g_autoptr(GError) error = NULL;
    g_autoptr(NcReport) r = nc_report_parse_file(path, &error);
    g_autoptr(NcReport) again = NULL;
    g_autofree char *formatted = NULL;
    g_autofree char *expected = NULL;
    g_autofree char *elem = NULL;
    g_autoptr(xmlDoc) doc = NULL;

    g_assert_no_error(error);
    formatted = nc_report_format(r);
    if (regenerate()) {
        g_assert_true(g_file_set_contents(path, formatted, -1, &error));
        return;
    }
    g_assert_true(g_file_get_contents(path, &expected, NULL, NULL));
    g_assert_cmpstr(formatted, ==, expected);
    doc = nc_xml_parse_validated(formatted, strlen(formatted), "formatted", "report.rng", &error);
    g_assert_no_error(error);
    /* the metadata element is the same document without declaration and final newline */
    elem = nc_report_format_element(r);
    g_assert_nonnull(strstr(formatted, elem));
    again = nc_report_parse_buffer(elem, strlen(elem), "element", &error);
    g_assert_no_error(error);
    g_assert_cmpuint(again->steps[NC_REPORT_DESTINATION]->len, ==,
                     r->steps[NC_REPORT_DESTINATION]->len);
}

/* what virDomainGetMetadata hands back (libvirt 9.0, seen in the harness): the root element's
 * namespace taken off, its prefix declaration left, the children unqualified */
static void test_metadata(void)
{
    g_autofree char *path = example_path("report-completed.xml");
    g_autoptr(GError) error = NULL;
    g_autoptr(NcReport) r = nc_report_parse_file(path, &error);
    g_autofree char *elem = NULL;
    g_autoptr(GString) stripped = NULL;
    g_autoptr(NcReport) back = NULL;
    g_autoptr(NcReport) other = NULL;

    g_assert_no_error(error);
    elem = nc_report_format_element(r);
    stripped = g_string_new(elem);
    g_assert_cmpuint(g_string_replace(stripped, "<report xmlns=\"" NC_REPORT_NS "\"",
                                      "<report xmlns:netcarry-report=\"" NC_REPORT_NS "\"", 1),
                     ==, 1);
    back = nc_report_parse_buffer(stripped->str, stripped->len, "strict", &error);
    g_assert_error(error, NC_ERROR, NC_ERROR_INVALID_DATA);
    g_assert_nonnull(strstr(error->message, "not a netcarry report"));
    g_clear_error(&error);
    back = nc_report_parse_metadata(stripped->str, stripped->len, "metadata", &error);
    g_assert_no_error(error);
    g_assert_cmpstr(back->domain_name, ==, r->domain_name);
    g_assert_cmpuint(back->steps[NC_REPORT_SOURCE]->len, ==, r->steps[NC_REPORT_SOURCE]->len);
    /* still only a <report>: another element in no namespace is refused */
    other = nc_report_parse_metadata("<bundle/>", 9, "metadata", &error);
    g_assert_null(other);
    g_assert_error(error, NC_ERROR, NC_ERROR_INVALID_DATA);
}

/* the model behind report-completed.xml, value by value */
static void test_model(void)
{
    g_autofree char *path = example_path("report-completed.xml");
    g_autoptr(GError) error = NULL;
    g_autoptr(NcReport) r = nc_report_parse_file(path, &error);
    const NcReportStep *st;

    g_assert_no_error(error);
    g_assert_cmpstr(r->domain_name, ==, "web-3");
    g_assert_cmpstr(r->migration_id, ==, "3e2b8a90-1c4d-4f5e-8a7b-6c5d4e3f2a1b");
    g_assert_cmpstr(r->source_host, ==, "hosta.example.net");
    g_assert_cmpint(r->outcome, ==, NC_REPORT_COMPLETED);
    g_assert_true(r->has_downtime);
    g_assert_cmpint(r->downtime_ms, ==, 74);
    g_assert_cmpuint(r->steps[NC_REPORT_SOURCE]->len, ==, 6);
    st = nc_report_find_step(r, NC_REPORT_SOURCE, NC_REPORT_PHASE_PRECOPY, 2);
    g_assert_nonnull(st);
    g_assert_cmpint(st->time_us, ==, T0 + MS(1821));
    g_assert_cmpstr(st->cause, ==, "QMP MIGRATION_PASS");
    g_assert_null(nc_report_find_step(r, NC_REPORT_SOURCE, NC_REPORT_PHASE_INSTALLED, 0));
    g_assert_true(r->carried[NC_REPORT_CLASS_CONNTRACK].present);
    g_assert_cmpuint(r->carried[NC_REPORT_CLASS_CONNTRACK].changed_at_stop, ==, 3);
    g_assert_cmpuint(r->carried[NC_REPORT_CLASS_CONNTRACK].removed_at_source, ==, 1003);
    g_assert_true(r->has_gate);
    g_assert_cmpstr(r->gate_mode, ==, "gate");
    g_assert_cmpuint(r->held_packets, ==, 4);
    g_assert_cmpint(r->gate_opened_us, ==, T0 + 1840900);
}

/* docs/libvirt-migration.md, one A->B run: source QMP STOP at +1822 ms, destination QMP RESUME at
 * +1894 ms (both from the destination's migrate-begin); netcarry's installed time is put at +1840.6
 * ms */
static NcReport *findings_report(void)
{
    NcReport *r = nc_report_new();

    r->domain_uuid = g_strdup("0f8e2d1c-3b4a-4596-8778-695a4b3c2d1e");
    r->domain_name = g_strdup("web-3");
    r->source_host = g_strdup("A");
    r->destination_host = g_strdup("B");
    nc_report_add_step(r, NC_REPORT_DESTINATION, NC_REPORT_PHASE_PREPARE, 0, T0, NULL);
    nc_report_add_step(r, NC_REPORT_SOURCE, NC_REPORT_PHASE_PRECOPY, 1, T0 + MS(1314), NULL);
    nc_report_add_step(r, NC_REPORT_SOURCE, NC_REPORT_PHASE_PRECOPY, 2, T0 + MS(1821), NULL);
    nc_report_add_step(r, NC_REPORT_SOURCE, NC_REPORT_PHASE_STOP_AND_COPY, 0, T0 + MS(1822),
                       "QMP STOP");
    nc_report_add_step(r, NC_REPORT_DESTINATION, NC_REPORT_PHASE_INSTALLED, 0, T0 + MS(1840.6),
                       NULL);
    nc_report_add_step(r, NC_REPORT_DESTINATION, NC_REPORT_PHASE_RESUMED, 0, T0 + MS(1894),
                       "QMP RESUME");
    return r;
}

static void test_figures(void)
{
    g_autoptr(NcReport) r = findings_report();
    NcReportFigures f;

    nc_report_figures(r, &f);
    g_assert_true(f.has_stop_to_resumed);
    g_assert_cmpint(f.stop_to_resumed_us, ==, 72000); /* FINDINGS: STOP -> RESUME 42-170 ms */
    g_assert_true(f.has_margin);
    g_assert_cmpint(f.margin_us, ==, 53400);
    g_assert_true(f.has_stop_to_installed);
    g_assert_cmpint(f.stop_to_installed_us, ==, 18600);
    g_assert_false(f.has_downtime);

    r->has_downtime = TRUE;
    r->downtime_ms = 74;
    nc_report_figures(r, &f);
    g_assert_true(f.has_downtime);
    g_assert_cmpint(f.downtime_ms, ==, 74);
}

/* installed after the guest resumed: a negative margin, said so in the text */
static void test_figures_late(void)
{
    g_autoptr(NcReport) r = nc_report_new();
    g_autofree char *text = NULL;
    NcReportFigures f;

    nc_report_add_step(r, NC_REPORT_SOURCE, NC_REPORT_PHASE_STOP_AND_COPY, 0, T0, NULL);
    nc_report_add_step(r, NC_REPORT_DESTINATION, NC_REPORT_PHASE_RESUMED, 0, T0 + MS(50), NULL);
    nc_report_add_step(r, NC_REPORT_DESTINATION, NC_REPORT_PHASE_INSTALLED, 0, T0 + MS(85.25),
                       NULL);
    nc_report_figures(r, &f);
    g_assert_cmpint(f.margin_us, ==, -35250);
    g_assert_cmpint(f.stop_to_installed_us, ==, 85250);
    text = nc_report_to_text(r);
    g_assert_nonnull(strstr(text, "margin: -35.250 ms (state installed AFTER the guest resumed)"));
}

/* a figure whose steps are missing is unknown, not zero */
static void test_figures_missing(void)
{
    g_autoptr(NcReport) r = nc_report_new();
    g_autofree char *xml = NULL;
    g_autofree char *text = NULL;
    NcReportFigures f;

    nc_report_add_step(r, NC_REPORT_DESTINATION, NC_REPORT_PHASE_INSTALLED, 0, T0, NULL);
    nc_report_add_step(r, NC_REPORT_SOURCE, NC_REPORT_PHASE_FAILED, 0, T0 + 1, NULL);
    nc_report_figures(r, &f);
    g_assert_false(f.has_margin);
    g_assert_false(f.has_stop_to_installed);
    g_assert_false(f.has_stop_to_resumed);
    r->domain_uuid = g_strdup("0f8e2d1c-3b4a-4596-8778-695a4b3c2d1e");
    r->domain_name = g_strdup("x");
    r->source_host = g_strdup("a");
    r->destination_host = g_strdup("b");
    r->outcome = NC_REPORT_FAILED;
    xml = nc_report_format(r);
    g_assert_null(strstr(xml, "<figures"));
    text = nc_report_to_text(r);
    g_assert_nonnull(strstr(text, "margin: unknown"));
    g_assert_nonnull(strstr(text, "ms from the first step"));
}

/* the text form of xml/examples/NAME.xml against tests/unit/data/NAME.txt (golden file;
 * NETCARRY_REGENERATE=1 rewrites it) */
static char *text_of(const char *name)
{
    g_autofree char *file = g_strconcat(name, ".xml", NULL);
    g_autofree char *path = example_path(file);
    g_autofree char *golden_file = g_strconcat(name, ".txt", NULL);
    g_autofree char *golden =
        g_build_filename(nc_test_source_root(), "tests", "unit", "data", golden_file, NULL);
    g_autoptr(GError) error = NULL;
    g_autoptr(NcReport) r = nc_report_parse_file(path, &error);
    g_autofree char *text = NULL;
    g_autofree char *expected = NULL;

    g_assert_no_error(error);
    text = nc_report_to_text(r);
    g_test_message("\n%s", text);
    if (regenerate())
        g_assert_true(g_file_set_contents(golden, text, -1, NULL));
    g_assert_true(g_file_get_contents(golden, &expected, NULL, NULL));
    g_assert_cmpstr(text, ==, expected);
    return g_steal_pointer(&text);
}

static void test_text(void)
{
    g_autofree char *text = text_of("report-completed");

    /* what a reader looks for, whatever the layout */
    g_assert_nonnull(strstr(text, "stop-and-copy              +0.000         +1.400"));
    g_assert_nonnull(strstr(text, "installed                       -        +18.600"));
    g_assert_nonnull(strstr(text, "margin: +53.400 ms (state installed before the guest resumed)"));
    g_assert_nonnull(strstr(text, "conntrack: 1000 pre-copied, 3 changed at stop, 1003 installed"));
    g_assert_null(strstr(text, "nft-"));
    g_assert_null(strstr(text, "not carried"));
}

/* one line per class carried; the refused and the not-carried entries with their reasons */
static void test_text_classes(void)
{
    g_autofree char *text = text_of("report-classes");

    g_assert_nonnull(strstr(text, "\nconntrack: 120 pre-copied, 4 changed at stop, 124 installed, "
                                  "0 failed, 124 removed at source\n"));
    g_assert_nonnull(strstr(text, "\nnft-set: 37 pre-copied, 2 changed at stop, 38 installed, "
                                  "1 failed, 38 removed at source\n"));
    /* a named counter or quota is never removed from the source: no figure for it */
    g_assert_nonnull(strstr(text, "\nnft-object: 0 pre-copied, 2 changed at stop, 2 installed, "
                                  "0 failed\n"));
    g_assert_nonnull(strstr(text, "\nfailed: nft-set inet/fw/sticky element 198.51.100.20 : "
                                  "10.0.0.9: 10.0.0.9 is not an address of this domain\n"));
    g_assert_nonnull(strstr(text, "\nnot carried: nft-set inet/fw/perip element 10.0.0.5 (ct "
                                  "count): a `ct count` list holds"));
    g_assert_nonnull(strstr(text, "\nnot carried: nft-object limit inet/fw/vm50-rate: a limit's "
                                  "token-bucket level cannot be written"));
}

/* a class not carried has no line, even when another class has failures */
static void test_text_only_present(void)
{
    g_autoptr(NcReport) r = findings_report();
    g_autofree char *text = NULL;

    r->carried[NC_REPORT_CLASS_NFT_OBJECT] = (NcReportCarried){TRUE, 0, 1, 1, 0, 0};
    nc_report_add_not_carried(r, NC_REPORT_CLASS_NFT_SET, "inet/fw/rl element 10.0.0.5 (limit)",
                              "a `limit` token bucket's level cannot be written from userspace");
    text = nc_report_to_text(r);
    g_assert_null(strstr(text, "conntrack:"));
    g_assert_null(strstr(text, "nft-set:"));
    g_assert_nonnull(strstr(text, "\nnft-object: 0 pre-copied, 1 changed at stop, 1 installed, "
                                  "0 failed\n"));
    g_assert_nonnull(strstr(text, "\nnot carried: nft-set inet/fw/rl element 10.0.0.5 (limit): "
                                  "a `limit` token bucket's level"));
}

/* report-classes.xml value by value: each <carried> lands in its class, each failure and
 * not-carried entry keeps its class */
static void test_classes_model(void)
{
    g_autofree char *path = example_path("report-classes.xml");
    g_autoptr(GError) error = NULL;
    g_autoptr(NcReport) r = nc_report_parse_file(path, &error);
    const NcReportCarried *ct, *set, *obj;
    const NcReportFailure *f;

    g_assert_no_error(error);
    ct = &r->carried[NC_REPORT_CLASS_CONNTRACK];
    set = &r->carried[NC_REPORT_CLASS_NFT_SET];
    obj = &r->carried[NC_REPORT_CLASS_NFT_OBJECT];
    g_assert_true(ct->present && set->present && obj->present);
    g_assert_cmpuint(ct->precopied, ==, 120);
    g_assert_cmpuint(ct->installed, ==, 124);
    g_assert_cmpuint(set->precopied, ==, 37);
    g_assert_cmpuint(set->changed_at_stop, ==, 2);
    g_assert_cmpuint(set->installed, ==, 38);
    g_assert_cmpuint(set->failed, ==, 1);
    g_assert_cmpuint(set->removed_at_source, ==, 38);
    g_assert_cmpuint(obj->precopied, ==, 0);
    g_assert_cmpuint(obj->changed_at_stop, ==, 2);
    g_assert_cmpuint(obj->installed, ==, 2);
    g_assert_cmpuint(obj->removed_at_source, ==, 0);

    g_assert_cmpuint(r->failures->len, ==, 1);
    f = r->failures->pdata[0];
    g_assert_cmpint(f->klass, ==, NC_REPORT_CLASS_NFT_SET);
    g_assert_cmpstr(f->entry, ==, "inet/fw/sticky element 198.51.100.20 : 10.0.0.9");
    g_assert_cmpuint(r->not_carried->len, ==, 2);
    f = r->not_carried->pdata[0];
    g_assert_cmpint(f->klass, ==, NC_REPORT_CLASS_NFT_SET);
    g_assert_cmpstr(f->entry, ==, "inet/fw/perip element 10.0.0.5 (ct count)");
    g_assert_true(g_str_has_prefix(f->reason, "a `ct count` list holds"));
    f = r->not_carried->pdata[1];
    g_assert_cmpint(f->klass, ==, NC_REPORT_CLASS_NFT_OBJECT);
    g_assert_cmpstr(f->entry, ==, "limit inet/fw/vm50-rate");
}

/* report-checked.xml: the checked classes keep their status, a not-available class its why, and
 * the text says each; the status of a carried class stays out of the XML (the older form) */
static void test_checked_model(void)
{
    g_autofree char *path = example_path("report-checked.xml");
    g_autoptr(GError) error = NULL;
    g_autoptr(NcReport) r = nc_report_parse_file(path, &error);
    g_autofree char *text = NULL;
    g_autofree char *xml = NULL;
    const NcReportCarried *nw, *chain, *port;

    g_assert_no_error(error);
    g_assert_cmpint(r->carried[NC_REPORT_CLASS_CONNTRACK].status, ==, NC_REPORT_CARRIED);
    nw = &r->carried[NC_REPORT_CLASS_NWFILTER];
    chain = &r->carried[NC_REPORT_CLASS_NFT_CHAIN];
    port = &r->carried[NC_REPORT_CLASS_PORT];
    g_assert_true(nw->present && chain->present && port->present);
    g_assert_cmpint(nw->status, ==, NC_REPORT_CHECKED);
    g_assert_cmpuint(nw->precopied, ==, 4);
    g_assert_cmpuint(nw->failed, ==, 0);
    g_assert_null(nw->why);
    g_assert_cmpint(chain->status, ==, NC_REPORT_CHECKED);
    g_assert_cmpuint(chain->failed, ==, 1);
    g_assert_cmpint(port->status, ==, NC_REPORT_NOT_AVAILABLE);
    g_assert_nonnull(strstr(port->why, "no 802.1q"));

    text = nc_report_to_text(r);
    g_assert_nonnull(strstr(text, "nwfilter: checked, 4 definitions from the source, nothing "
                                  "differs on this host"));
    g_assert_nonnull(strstr(text, "nft-chain: checked, 2 definitions from the source, DIFFERS"));
    g_assert_nonnull(strstr(text, "port: not available on this host: interface"));
    g_assert_nonnull(strstr(text, "failed: nft-chain static policy: class nft-chain: chain "
                                  "inet/fw/vm50-in differs: rule 2"));
    xml = nc_report_format(r);
    g_assert_null(strstr(xml, "status=\"carried\""));
}

/* all three classes, failures and not-carried entries built in code: format -> parse gives
 * them back in their classes, and formats to the same bytes */
static void test_classes_build(void)
{
    g_autoptr(NcReport) r = findings_report();
    g_autoptr(NcReport) back = NULL;
    g_autoptr(GError) error = NULL;
    g_autofree char *xml = NULL;
    g_autofree char *xml2 = NULL;
    g_autoptr(xmlDoc) doc = NULL;

    r->carried[NC_REPORT_CLASS_CONNTRACK] = (NcReportCarried){TRUE, 10, 1, 11, 0, 11};
    r->carried[NC_REPORT_CLASS_NFT_SET] = (NcReportCarried){TRUE, 7, 2, 8, 1, 8};
    r->carried[NC_REPORT_CLASS_NFT_OBJECT] = (NcReportCarried){TRUE, 0, 3, 3, 0, 0};
    nc_report_add_failure(r, NC_REPORT_CLASS_NFT_SET, "inet/fw/authed element 10.0.0.9",
                          "10.0.0.9 is not an address of this domain");
    nc_report_add_failure(r, NC_REPORT_CLASS_CONNTRACK, "tcp a -> b", "EEXIST");
    nc_report_add_not_carried(r, NC_REPORT_CLASS_NFT_OBJECT, "limit inet/fw/rate & <burst>",
                              "a limit's \"level\" cannot be written");
    nc_report_add_not_carried(r, NC_REPORT_CLASS_NFT_SET,
                              "inet/fw/perip element 10.0.0.5 (ct count)",
                              "the destination counts its own");
    xml = nc_report_format(r);
    g_test_message("\n%s", xml);
    doc = nc_xml_parse_validated(xml, strlen(xml), "built", "report.rng", &error);
    g_assert_no_error(error);
    g_assert_nonnull(strstr(xml, "<carried class=\"nft-set\" precopied=\"7\" changed-at-stop=\"2\" "
                                 "installed=\"8\" failed=\"1\" removed-at-source=\"8\"/>"));
    g_assert_nonnull(strstr(xml, "<not-carried class=\"nft-object\" what=\"limit inet/fw/rate "
                                 "&amp; &lt;burst&gt;\" reason=\"a limit's &quot;level&quot; "
                                 "cannot be written\"/>"));
    back = nc_report_parse_buffer(xml, strlen(xml), "built", &error);
    g_assert_no_error(error);
    for (guint c = 0; c < NC_REPORT_CLASS_LAST; c++)
        g_assert_cmpmem(&back->carried[c], sizeof(NcReportCarried), &r->carried[c],
                        sizeof(NcReportCarried));
    g_assert_cmpuint(back->failures->len, ==, 2);
    g_assert_cmpint(((NcReportFailure *)back->failures->pdata[0])->klass, ==,
                    NC_REPORT_CLASS_NFT_SET);
    g_assert_cmpint(((NcReportFailure *)back->failures->pdata[1])->klass, ==,
                    NC_REPORT_CLASS_CONNTRACK);
    g_assert_cmpuint(back->not_carried->len, ==, 2);
    for (guint i = 0; i < 2; i++) {
        const NcReportFailure *a = r->not_carried->pdata[i], *b = back->not_carried->pdata[i];

        g_assert_cmpint(b->klass, ==, a->klass);
        g_assert_cmpstr(b->entry, ==, a->entry);
        g_assert_cmpstr(b->reason, ==, a->reason);
    }
    xml2 = nc_report_format(back);
    g_assert_cmpstr(xml2, ==, xml);
}

/* a report as format 1 first wrote it (conntrack only, no <not-carried>) reads as it did:
 * conntrack counted, the other classes absent, its failures conntrack's */
static void test_format1(gconstpointer data)
{
    g_autofree char *path = example_path(data);
    g_autofree char *raw = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(NcReport) r = NULL;
    g_autofree char *xml = NULL;

    g_assert_true(g_file_get_contents(path, &raw, NULL, NULL));
    /* the example itself stays in the old form, or this test proves nothing */
    g_assert_null(strstr(raw, "nft-"));
    g_assert_null(strstr(raw, "not-carried"));
    r = nc_report_parse_buffer(raw, strlen(raw), path, &error);
    g_assert_no_error(error);
    g_assert_true(r->carried[NC_REPORT_CLASS_CONNTRACK].present);
    g_assert_false(r->carried[NC_REPORT_CLASS_NFT_SET].present);
    g_assert_false(r->carried[NC_REPORT_CLASS_NFT_OBJECT].present);
    g_assert_cmpuint(r->not_carried->len, ==, 0);
    for (guint i = 0; i < r->failures->len; i++)
        g_assert_cmpint(((NcReportFailure *)r->failures->pdata[i])->klass, ==,
                        NC_REPORT_CLASS_CONNTRACK);
    /* and is written back in the same form */
    xml = nc_report_format(r);
    g_assert_cmpstr(xml, ==, raw);
}

/* a report built in code survives format -> parse; names with XML specials too */
static void test_build(void)
{
    g_autoptr(NcReport) r = findings_report();
    g_autoptr(NcReport) back = NULL;
    g_autoptr(GError) error = NULL;
    g_autofree char *xml = NULL;
    g_autofree char *xml2 = NULL;

    g_free(r->domain_name);
    r->domain_name = g_strdup("vm 'one' & <two>");
    r->reason = g_strdup("peer said \"no\"\tthen left");
    r->outcome = NC_REPORT_CANCELLED;
    r->carried[NC_REPORT_CLASS_CONNTRACK] = (NcReportCarried){TRUE, 5, 1, 6, 0, 0};
    nc_report_add_failure(r, NC_REPORT_CLASS_CONNTRACK, "tcp a -> b", "EEXIST");
    xml = nc_report_format(r);
    back = nc_report_parse_buffer(xml, strlen(xml), "built", &error);
    g_assert_no_error(error);
    g_assert_cmpstr(back->domain_name, ==, r->domain_name);
    g_assert_cmpstr(back->reason, ==, r->reason);
    g_assert_cmpint(back->outcome, ==, NC_REPORT_CANCELLED);
    g_assert_cmpuint(back->failures->len, ==, 1);
    xml2 = nc_report_format(back);
    g_assert_cmpstr(xml2, ==, xml);
}

/* the phase names are the daemon's (src/daemon/nc-phase.c) without "none", in its order */
static void test_names(void)
{
    static const char *const daemon_order[] = {"prepare",   "precopy",   "stop-and-copy",
                                               "sealed",    "installed", "resumed",
                                               "completed", "failed",    "cancelled"};

    g_assert_cmpuint(G_N_ELEMENTS(daemon_order), ==, NC_REPORT_PHASE_LAST);
    for (guint i = 0; i < NC_REPORT_PHASE_LAST; i++) {
        g_assert_cmpstr(nc_report_phase_to_string(i), ==, daemon_order[i]);
        g_assert_cmpint(nc_report_phase_from_string(daemon_order[i]), ==, i);
    }
    g_assert_cmpint(nc_report_phase_from_string("none"), ==, -1);
    g_assert_null(nc_report_phase_to_string(NC_REPORT_PHASE_LAST));
    g_assert_cmpint(nc_report_outcome_from_string("cancelled"), ==, NC_REPORT_CANCELLED);
    g_assert_cmpint(nc_report_outcome_from_string("done"), ==, -1);
    g_assert_cmpstr(nc_report_side_to_string(NC_REPORT_DESTINATION), ==, "destination");
}

/* the report's class names are the state classes' NcClassOps.name (conntrack's ops live in the
 * daemon, which this test does not link: its name is checked as text) */
static void test_class_names(void)
{
    static const char *const names[] = {"conntrack",  "nft-set",  "nft-object", "mdb",
                                        "ip-binding", "nwfilter", "nft-chain",  "port"};

    g_assert_cmpuint(G_N_ELEMENTS(names), ==, NC_REPORT_CLASS_LAST);
    for (guint i = 0; i < NC_REPORT_CLASS_LAST; i++) {
        g_assert_cmpstr(nc_report_class_to_string(i), ==, names[i]);
        g_assert_cmpint(nc_report_class_from_string(names[i]), ==, i);
    }
    g_assert_cmpint(nc_report_class_from_string(nc_nft_set_class.name), ==,
                    NC_REPORT_CLASS_NFT_SET);
    g_assert_cmpint(nc_report_class_from_string(nc_nft_obj_class.name), ==,
                    NC_REPORT_CLASS_NFT_OBJECT);
    g_assert_cmpint(nc_report_class_from_string(nc_mdb_class.name), ==, NC_REPORT_CLASS_MDB);
    g_assert_cmpint(nc_report_class_from_string(nc_nwfilter_class.name), ==,
                    NC_REPORT_CLASS_NWFILTER);
    g_assert_cmpint(nc_report_class_from_string(nc_nft_chain_class.name), ==,
                    NC_REPORT_CLASS_NFT_CHAIN);
    g_assert_cmpint(nc_report_class_from_string(nc_port_class.name), ==, NC_REPORT_CLASS_PORT);
    g_assert_cmpint(nc_report_class_from_string("nft-rule"), ==, -1);
    g_assert_cmpint(nc_report_class_from_string("Conntrack"), ==, -1);
    g_assert_cmpint(nc_report_class_from_string(""), ==, -1);
    g_assert_cmpint(nc_report_class_from_string(NULL), ==, -1);
    g_assert_null(nc_report_class_to_string(NC_REPORT_CLASS_LAST));
}

typedef struct {
    const char *file;
    int line;
    const char *what;
} InvalidCase;

static const InvalidCase invalid_cases[] = {
    {"report-bad-time-invalid.xml", 6, "time '2026-11-22 14:40:00' is not a UTC time"},
    {"report-figures-mismatch-invalid.xml", 9, "margin-us is 45000 but the timeline gives 40000"},
    {"report-outcome-invalid.xml", 4, "outcome 'done' is not completed, failed or cancelled"},
    {"report-pass-on-stop-invalid.xml", 6, "pass is only allowed on a precopy step"},
    {"report-unknown-phase-invalid.xml", 6, "unknown phase 'switchover'"},
    {"report-unknown-element-invalid.xml", 8, "report.rng"},
    {"report-two-timelines-invalid.xml", 8, "a second destination timeline"},
    {"report-version-invalid.xml", 2, "version '2' is not supported"},
    /* found by fuzz-report: a GLib critical (g_uuid_string_is_valid(NULL)), then a leak of the
     * first <migration>'s strings */
    {"report-no-uuid-invalid.xml", 3, "'' is not a UUID"},
    {"report-two-migrations-invalid.xml", 5, "a second <migration>"},
    {"report-unknown-class-invalid.xml", 6,
     "class 'nftables' is not conntrack, nft-set, nft-object, mdb, ip-binding, nwfilter, nft-chain "
     "or port"},
    {"report-not-carried-class-invalid.xml", 5,
     "<not-carried>: class 'nft-rule' is not conntrack, nft-set, nft-object, mdb, ip-binding, "
     "nwfilter, nft-chain or port"},
    {"report-class-twice-invalid.xml", 7, "class nft-set is counted twice"},
    {"report-status-invalid.xml", 23, "status 'compared' is not carried, checked or not-available"},
};

static void test_invalid(gconstpointer data)
{
    const InvalidCase *c = data;
    g_autofree char *path = example_path(c->file);
    g_autofree char *prefix = g_strdup_printf("%s:%d: ", path, c->line);
    g_autoptr(GError) error = NULL;
    g_autoptr(NcReport) r = nc_report_parse_file(path, &error);

    g_assert_null(r);
    g_assert_error(error, NC_ERROR, NC_ERROR_INVALID_DATA);
    g_test_message("%s", error->message);
    if (!g_str_has_prefix(error->message, prefix) || !strstr(error->message, c->what))
        g_error("expected \"%s... %s ...\", got \"%s\"", prefix, c->what, error->message);
}

static void test_invalid_coverage(void)
{
    g_autoptr(GPtrArray) files = nc_test_list_examples(TRUE);
    guint n = 0;

    for (guint i = 0; i < files->len; i++) {
        g_autofree char *base = g_path_get_basename(files->pdata[i]);
        gboolean found = FALSE;

        if (!g_str_has_prefix(base, "report-"))
            continue;
        n++;
        for (guint j = 0; j < G_N_ELEMENTS(invalid_cases) && !found; j++)
            found = strcmp(invalid_cases[j].file, base) == 0;
        if (!found)
            g_error("%s has no row in invalid_cases", base);
    }
    g_assert_cmpuint(n, ==, G_N_ELEMENTS(invalid_cases));
}

int main(int argc, char **argv)
{
    g_autoptr(GPtrArray) valid = NULL;

    g_test_init(&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
    valid = nc_test_list_examples(FALSE);
    for (guint i = 0; i < valid->len; i++) {
        g_autofree char *base = g_path_get_basename(valid->pdata[i]);
        g_autofree char *p = g_strdup_printf("/report/roundtrip/%s", base);

        if (g_str_has_prefix(base, "report-"))
            g_test_add_data_func(p, valid->pdata[i], test_roundtrip);
    }
    for (guint i = 0; i < G_N_ELEMENTS(invalid_cases); i++) {
        g_autofree char *p = g_strdup_printf("/report/invalid/%s", invalid_cases[i].file);

        g_test_add_data_func(p, &invalid_cases[i], test_invalid);
    }
    g_test_add_func("/report/invalid-coverage", test_invalid_coverage);
    g_test_add_func("/report/model", test_model);
    g_test_add_func("/report/metadata", test_metadata);
    g_test_add_func("/report/figures/findings", test_figures);
    g_test_add_func("/report/figures/late", test_figures_late);
    g_test_add_func("/report/figures/missing", test_figures_missing);
    g_test_add_func("/report/text", test_text);
    g_test_add_func("/report/text/classes", test_text_classes);
    g_test_add_func("/report/text/only-present", test_text_only_present);
    g_test_add_func("/report/classes/model", test_classes_model);
    g_test_add_func("/report/classes/checked", test_checked_model);
    g_test_add_func("/report/classes/build", test_classes_build);
    g_test_add_data_func("/report/format-1/completed", "report-completed.xml", test_format1);
    g_test_add_data_func("/report/format-1/failed", "report-failed.xml", test_format1);
    g_test_add_func("/report/class-names", test_class_names);
    g_test_add_func("/report/build", test_build);
    g_test_add_func("/report/names", test_names);
    return g_test_run();
}

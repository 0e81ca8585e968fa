/* nc-report.c - the per-migration report: model, derived figures, XML (parse, format) and the
 * text table `netcarry report DOMAIN` prints
 *
 * Theory of operation
 *
 * A report holds raw facts only: each host's timeline as its phase tracker recorded it, the
 * counts per state class, the entries refused (failures), what belongs to the domain but cannot
 * be carried (not carried), the gate. Everything derived (margin, source stop to
 * installed, the stop-to-resume window) is computed by nc_report_figures() alone, so the
 * XML's <figures> element, the text form and any test read the same numbers. The XML carries
 * the figures for platforms that read the metadata without netcarry's code; the reader
 * recomputes them and refuses a report whose figures disagree with its timeline.
 *
 * Which step counts: the first step of a phase on a side (the tracker records one step per
 * phase, except pre-copy passes). Source stop = the source's stop-and-copy step; installed and
 * resumed = the destination's steps. A missing step leaves the figures that need it unset.
 *
 * Classes: every count, failure and not-carried entry names its class by the class's name
 * (NcClassOps.name: "conntrack", "nft-set", "nft-object", "mdb", "ip-binding"); <carried>
 * is one element per class carried, read back by its class attribute. Format 1 as first
 * written (conntrack only, no <not-carried>) is the same form with fewer classes, so it is still
 * read as it is.
 *
 * Parsing: nc_xml_parse(), a tree walk that reads what it knows and checks what the schema
 * cannot (one timeline per side, a pass only on a precopy step, times that exist, the figures),
 * then report.rng for everything else (unknown elements, order, missing attributes). Formatting
 * writes the canonical form: fixed order, two-space indent, times in UTC with microseconds;
 * parse then format gives the same bytes.
 *
 * JSON (nc_report_to_json()) is the same facts under the XML's names in snake_case, with every
 * member always present (null where the XML leaves an attribute out), so a program can index
 * without probing; times come both as the XML's UTC text and as microseconds.
 */
#define G_LOG_DOMAIN "netcarry-report"

#include <assert.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "conf/nc-report.h"
#include "util/nc-error.h"
#include "util/nc-json.h"
#include "util/nc-time.h"
#include "util/nc-xml.h"

#define NC_REPORT_SCHEMA "report.rng"

static const char *const nc_outcome_names[] = {"completed", "failed", "cancelled"};
static_assert(G_N_ELEMENTS(nc_outcome_names) == NC_REPORT_OUTCOME_LAST, "one name per outcome");

static const char *const nc_side_names[] = {"source", "destination"};
static_assert(G_N_ELEMENTS(nc_side_names) == NC_REPORT_SIDE_LAST, "one name per side");

static const char *const nc_phase_names[] = {
    [NC_REPORT_PHASE_PREPARE] = "prepare",
    [NC_REPORT_PHASE_PRECOPY] = "precopy",
    [NC_REPORT_PHASE_STOP_AND_COPY] = "stop-and-copy",
    [NC_REPORT_PHASE_SEALED] = "sealed",
    [NC_REPORT_PHASE_INSTALLED] = "installed",
    [NC_REPORT_PHASE_RESUMED] = "resumed",
    [NC_REPORT_PHASE_COMPLETED] = "completed",
    [NC_REPORT_PHASE_FAILED] = "failed",
    [NC_REPORT_PHASE_CANCELLED] = "cancelled",
};
static_assert(G_N_ELEMENTS(nc_phase_names) == NC_REPORT_PHASE_LAST, "one name per phase");

/* the state classes' NcClassOps.name */
static const char *const nc_class_names[] = {
    [NC_REPORT_CLASS_CONNTRACK] = "conntrack",   [NC_REPORT_CLASS_NFT_SET] = "nft-set",
    [NC_REPORT_CLASS_NFT_OBJECT] = "nft-object", [NC_REPORT_CLASS_MDB] = "mdb",
    [NC_REPORT_CLASS_IP_BINDING] = "ip-binding", [NC_REPORT_CLASS_NWFILTER] = "nwfilter",
    [NC_REPORT_CLASS_NFT_CHAIN] = "nft-chain",   [NC_REPORT_CLASS_PORT] = "port",
};
static_assert(G_N_ELEMENTS(nc_class_names) == NC_REPORT_CLASS_LAST, "one name per class");

static const char *const nc_status_names[] = {
    [NC_REPORT_CARRIED] = "carried",
    [NC_REPORT_CHECKED] = "checked",
    [NC_REPORT_NOT_AVAILABLE] = "not-available",
};
static_assert(G_N_ELEMENTS(nc_status_names) == NC_REPORT_STATUS_LAST, "one name per status");

const char *nc_report_class_status_to_string(NcReportClassStatus status)
{
    return (guint)status < NC_REPORT_STATUS_LAST ? nc_status_names[status] : NULL;
}

static int nc_lookup(const char *const *names, guint n, const char *str)
{
    for (guint i = 0; str && i < n; i++) {
        if (strcmp(names[i], str) == 0)
            return (int)i;
    }
    return -1;
}

const char *nc_report_outcome_to_string(NcReportOutcome outcome)
{
    return (guint)outcome < NC_REPORT_OUTCOME_LAST ? nc_outcome_names[outcome] : NULL;
}

int nc_report_outcome_from_string(const char *str)
{
    return nc_lookup(nc_outcome_names, G_N_ELEMENTS(nc_outcome_names), str);
}

const char *nc_report_side_to_string(NcReportSide side)
{
    return (guint)side < NC_REPORT_SIDE_LAST ? nc_side_names[side] : NULL;
}

const char *nc_report_phase_to_string(NcReportPhase phase)
{
    return (guint)phase < NC_REPORT_PHASE_LAST ? nc_phase_names[phase] : NULL;
}

int nc_report_phase_from_string(const char *str)
{
    return nc_lookup(nc_phase_names, G_N_ELEMENTS(nc_phase_names), str);
}

const char *nc_report_class_to_string(NcReportClass klass)
{
    return (guint)klass < NC_REPORT_CLASS_LAST ? nc_class_names[klass] : NULL;
}

int nc_report_class_from_string(const char *str)
{
    return nc_lookup(nc_class_names, G_N_ELEMENTS(nc_class_names), str);
}

/* ---- model ------------------------------------------------------------------------------ */

static void nc_step_clear(gpointer data)
{
    NcReportStep *s = data;

    g_clear_pointer(&s->cause, g_free);
}

static void nc_failure_free(gpointer data)
{
    NcReportFailure *f = data;

    g_free(f->entry);
    g_free(f->reason);
    g_free(f);
}

NcReport *nc_report_new(void)
{
    NcReport *r = g_new0(NcReport, 1);

    for (guint i = 0; i < NC_REPORT_SIDE_LAST; i++) {
        r->steps[i] = g_array_new(FALSE, TRUE, sizeof(NcReportStep));
        g_array_set_clear_func(r->steps[i], nc_step_clear);
    }
    r->failures = g_ptr_array_new_with_free_func(nc_failure_free);
    r->not_carried = g_ptr_array_new_with_free_func(nc_failure_free);
    return r;
}

void nc_report_free(NcReport *report)
{
    if (!report)
        return;
    g_free(report->domain_uuid);
    g_free(report->domain_name);
    g_free(report->migration_id);
    g_free(report->source_host);
    g_free(report->destination_host);
    g_free(report->reason);
    for (guint i = 0; i < NC_REPORT_SIDE_LAST; i++)
        g_array_unref(report->steps[i]);
    g_ptr_array_unref(report->failures);
    g_ptr_array_unref(report->not_carried);
    for (guint i = 0; i < NC_REPORT_CLASS_LAST; i++)
        g_free(report->carried[i].why);
    g_free(report->gate_mode);
    g_free(report);
}

void nc_report_add_step(NcReport *report, NcReportSide side, NcReportPhase phase, guint pass,
                        gint64 time_us, const char *cause)
{
    NcReportStep s = {phase, phase == NC_REPORT_PHASE_PRECOPY ? pass : 0, time_us, g_strdup(cause)};

    g_return_if_fail(side < NC_REPORT_SIDE_LAST && phase < NC_REPORT_PHASE_LAST);
    g_array_append_val(report->steps[side], s);
}

static void nc_failure_add(GPtrArray *list, NcReportClass klass, const char *entry,
                           const char *reason)
{
    NcReportFailure *f = g_new0(NcReportFailure, 1);

    g_return_if_fail(klass < NC_REPORT_CLASS_LAST);
    f->klass = klass;
    f->entry = g_strdup(entry);
    f->reason = g_strdup(reason);
    g_ptr_array_add(list, f);
}

void nc_report_add_failure(NcReport *report, NcReportClass klass, const char *entry,
                           const char *reason)
{
    nc_failure_add(report->failures, klass, entry, reason);
}

void nc_report_add_not_carried(NcReport *report, NcReportClass klass, const char *what,
                               const char *reason)
{
    nc_failure_add(report->not_carried, klass, what, reason);
}

const NcReportStep *nc_report_find_step(const NcReport *report, NcReportSide side,
                                        NcReportPhase phase, guint pass)
{
    GArray *steps = report->steps[side];

    for (guint i = 0; i < steps->len; i++) {
        const NcReportStep *s = &g_array_index(steps, NcReportStep, i);

        if (s->phase == phase && (!pass || s->pass == pass))
            return s;
    }
    return NULL;
}

/**
 * nc_report_figures() - the derived figures, from the timeline (see the theory of operation)
 * @report:  the report
 * @figures: (out): filled; a figure whose steps are missing has its has_* flag FALSE
 */
void nc_report_figures(const NcReport *report, NcReportFigures *figures)
{
    const NcReportStep *stop =
        nc_report_find_step(report, NC_REPORT_SOURCE, NC_REPORT_PHASE_STOP_AND_COPY, 0);
    const NcReportStep *installed =
        nc_report_find_step(report, NC_REPORT_DESTINATION, NC_REPORT_PHASE_INSTALLED, 0);
    const NcReportStep *resumed =
        nc_report_find_step(report, NC_REPORT_DESTINATION, NC_REPORT_PHASE_RESUMED, 0);

    memset(figures, 0, sizeof(*figures));
    if (installed && resumed) {
        figures->has_margin = TRUE;
        figures->margin_us = resumed->time_us - installed->time_us;
    }
    if (stop && installed) {
        figures->has_stop_to_installed = TRUE;
        figures->stop_to_installed_us = installed->time_us - stop->time_us;
    }
    if (stop && resumed) {
        figures->has_stop_to_resumed = TRUE;
        figures->stop_to_resumed_us = resumed->time_us - stop->time_us;
    }
    figures->has_downtime = report->has_downtime;
    figures->downtime_ms = report->downtime_ms;
}

/* ---- formatting ------------------------------------------------------------------------- */

static void nc_attr(GString *s, const char *name, const char *value)
{
    g_string_append_printf(s, " %s=\"", name);
    nc_xml_append_escaped(s, value);
    g_string_append_c(s, '"');
}

static void nc_attr_time(GString *s, const char *name, gint64 us)
{
    char buf[NC_TIME_STRLEN];

    nc_time_format(us, buf, sizeof(buf));
    g_string_append_printf(s, " %s=\"%s\"", name, buf);
}

/* one <@elem class="..." @what_attr="..." reason="..."/> per NcReportFailure of @list */
static void nc_format_failures(GString *s, const char *elem, const char *what_attr,
                               const GPtrArray *list)
{
    for (guint i = 0; i < list->len; i++) {
        const NcReportFailure *f = list->pdata[i];

        g_string_append_printf(s, "  <%s class=\"%s\"", elem, nc_class_names[f->klass]);
        nc_attr(s, what_attr, f->entry ? f->entry : "?");
        nc_attr(s, "reason", f->reason ? f->reason : "?");
        g_string_append(s, "/>\n");
    }
}

char *nc_report_format_element(const NcReport *r)
{
    GString *s = g_string_new(NULL);
    NcReportFigures fig;

    g_string_append_printf(s, "<report xmlns=\"" NC_REPORT_NS "\" version=\"%d\">\n  <domain",
                           NC_REPORT_VERSION);
    nc_attr(s, "uuid", r->domain_uuid ? r->domain_uuid : "");
    nc_attr(s, "name", r->domain_name ? r->domain_name : "");
    g_string_append(s, "/>\n  <migration");
    if (r->migration_id)
        nc_attr(s, "id", r->migration_id);
    nc_attr(s, "source", r->source_host ? r->source_host : "");
    nc_attr(s, "destination", r->destination_host ? r->destination_host : "");
    nc_attr(s, "outcome", nc_report_outcome_to_string(r->outcome) ?: "failed");
    if (r->has_downtime)
        g_string_append_printf(s, " downtime-ms=\"%" G_GINT64_FORMAT "\"", r->downtime_ms);
    if (r->reason && *r->reason)
        nc_attr(s, "reason", r->reason);
    g_string_append(s, "/>\n");

    for (guint side = 0; side < NC_REPORT_SIDE_LAST; side++) {
        GArray *steps = r->steps[side];

        if (!steps->len)
            continue;
        g_string_append_printf(s, "  <timeline side=\"%s\">\n", nc_side_names[side]);
        for (guint i = 0; i < steps->len; i++) {
            const NcReportStep *st = &g_array_index(steps, NcReportStep, i);

            g_string_append_printf(s, "    <step phase=\"%s\"", nc_phase_names[st->phase]);
            if (st->phase == NC_REPORT_PHASE_PRECOPY && st->pass)
                g_string_append_printf(s, " pass=\"%u\"", st->pass);
            nc_attr_time(s, "time", st->time_us);
            if (st->cause && *st->cause)
                nc_attr(s, "cause", st->cause);
            g_string_append(s, "/>\n");
        }
        g_string_append(s, "  </timeline>\n");
    }
    for (guint c = 0; c < NC_REPORT_CLASS_LAST; c++) {
        const NcReportCarried *n = &r->carried[c];

        if (!n->present)
            continue;
        g_string_append_printf(s,
                               "  <carried class=\"%s\" precopied=\"%u\" changed-at-stop=\"%u\" "
                               "installed=\"%u\" failed=\"%u\" removed-at-source=\"%u\"",
                               nc_class_names[c], n->precopied, n->changed_at_stop, n->installed,
                               n->failed, n->removed_at_source);
        /* absent: carried (the form before the checked classes) */
        if (n->status != NC_REPORT_CARRIED)
            nc_attr(s, "status", nc_report_class_status_to_string(n->status));
        if (n->why && *n->why)
            nc_attr(s, "why", n->why);
        g_string_append(s, "/>\n");
    }
    nc_format_failures(s, "failure", "entry", r->failures);
    nc_format_failures(s, "not-carried", "what", r->not_carried);
    if (r->has_gate) {
        g_string_append(s, "  <gate");
        nc_attr(s, "mode", r->gate_mode ? r->gate_mode : "gate");
        g_string_append_printf(s, " held-packets=\"%" G_GUINT64_FORMAT "\"", r->held_packets);
        if (r->gate_opened_us)
            nc_attr_time(s, "opened", r->gate_opened_us);
        g_string_append(s, "/>\n");
    }
    nc_report_figures(r, &fig);
    if (fig.has_margin || fig.has_stop_to_installed || fig.has_stop_to_resumed) {
        g_string_append(s, "  <figures");
        if (fig.has_margin)
            g_string_append_printf(s, " margin-us=\"%" G_GINT64_FORMAT "\"", fig.margin_us);
        if (fig.has_stop_to_installed)
            g_string_append_printf(s, " stop-to-installed-us=\"%" G_GINT64_FORMAT "\"",
                                   fig.stop_to_installed_us);
        if (fig.has_stop_to_resumed)
            g_string_append_printf(s, " stop-to-resumed-us=\"%" G_GINT64_FORMAT "\"",
                                   fig.stop_to_resumed_us);
        g_string_append(s, "/>\n");
    }
    g_string_append(s, "</report>");
    return g_string_free(s, FALSE);
}

char *nc_report_format(const NcReport *report)
{
    g_autofree char *elem = nc_report_format_element(report);

    return g_strconcat("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n", elem, "\n", NULL);
}

/* ---- parsing ---------------------------------------------------------------------------- */

typedef struct {
    const char *name;
    GError **error;
} NcReader;

static gboolean G_GNUC_PRINTF(3, 4) nc_fail(NcReader *r, const xmlNode *node, const char *fmt, ...)
{
    g_autofree char *msg = NULL;
    va_list ap;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error(r->error, NC_ERROR, NC_ERROR_INVALID_DATA, "%s:%d: <%s>: %s", r->name,
                nc_xml_node_line(node), (const char *)node->name, msg);
    return FALSE;
}

static char *nc_prop(const xmlNode *node, const char *attr)
{
    xmlChar *v = xmlGetNoNsProp(node, (const xmlChar *)attr);
    char *out = g_strdup((const char *)v);

    xmlFree(v);
    return out;
}

/* an unsigned decimal attribute (the schema checked the syntax; the range is checked here) */
static gboolean nc_prop_uint(NcReader *r, const xmlNode *node, const char *attr, guint64 max,
                             guint64 *out)
{
    g_autofree char *v = nc_prop(node, attr);
    guint64 n;

    if (!v || !g_ascii_string_to_unsigned(v, 10, 0, max, &n, NULL))
        return nc_fail(r, node, "%s '%s' is not a number from 0 to %" G_GUINT64_FORMAT, attr,
                       v ? v : "", max);
    *out = n;
    return TRUE;
}

static gboolean nc_prop_time(NcReader *r, const xmlNode *node, const char *attr, gint64 *out)
{
    g_autofree char *v = nc_prop(node, attr);

    if (!v || !nc_time_parse(v, out))
        return nc_fail(r, node, "%s '%s' is not a UTC time like 2026-11-22T14:37:00.123456Z", attr,
                       v ? v : "");
    return TRUE;
}

static gboolean nc_read_step(NcReader *r, const xmlNode *node, NcReport *report, NcReportSide side)
{
    g_autofree char *phase_s = nc_prop(node, "phase");
    g_autofree char *pass_s = nc_prop(node, "pass");
    g_autofree char *cause = nc_prop(node, "cause");
    int phase = nc_report_phase_from_string(phase_s);
    guint64 pass = 0;
    gint64 t;

    if (phase < 0)
        return nc_fail(r, node, "unknown phase '%s'", phase_s ? phase_s : "");
    if (pass_s && phase != NC_REPORT_PHASE_PRECOPY)
        return nc_fail(r, node, "pass is only allowed on a precopy step");
    if (pass_s && !nc_prop_uint(r, node, "pass", G_MAXUINT, &pass))
        return FALSE;
    if (!nc_prop_time(r, node, "time", &t))
        return FALSE;
    nc_report_add_step(report, side, (NcReportPhase)phase, (guint)pass, t, cause);
    return TRUE;
}

static gboolean nc_read_figure(NcReader *r, const xmlNode *node, const char *attr, gboolean has,
                               gint64 value)
{
    g_autofree char *v = nc_prop(node, attr);
    gint64 n;

    if (!v && !has)
        return TRUE;
    if (!v)
        return nc_fail(r, node, "%s is missing; the timeline gives %" G_GINT64_FORMAT, attr, value);
    if (!g_ascii_string_to_signed(v, 10, G_MININT64, G_MAXINT64, &n, NULL))
        return nc_fail(r, node, "%s '%s' is not a number", attr, v);
    if (!has)
        return nc_fail(r, node, "%s is %s but the timeline does not give it", attr, v);
    if (n != value)
        return nc_fail(r, node, "%s is %s but the timeline gives %" G_GINT64_FORMAT, attr, v,
                       value);
    return TRUE;
}

static gboolean nc_read_class(NcReader *r, const xmlNode *node, NcReportClass *out)
{
    g_autofree char *name = nc_prop(node, "class");
    int klass = nc_report_class_from_string(name);

    if (klass < 0) {
        g_autoptr(GString) known = g_string_new(NULL);

        /* "conntrack, nft-set ... or mdb": every class this build knows */
        for (guint c = 0; c < NC_REPORT_CLASS_LAST; c++)
            g_string_append_printf(known, "%s%s",
                                   c == 0                         ? ""
                                   : c + 1 < NC_REPORT_CLASS_LAST ? ", "
                                                                  : " or ",
                                   nc_class_names[c]);
        return nc_fail(r, node, "class '%s' is not %s", name ? name : "", known->str);
    }
    *out = (NcReportClass)klass;
    return TRUE;
}

/* a <failure> or <not-carried>: its class, what (@what_attr) and reason, added to @list */
static gboolean nc_read_failure(NcReader *r, const xmlNode *node, const char *what_attr,
                                GPtrArray *list)
{
    g_autofree char *what = nc_prop(node, what_attr);
    g_autofree char *reason = nc_prop(node, "reason");
    NcReportClass klass;

    if (!nc_read_class(r, node, &klass))
        return FALSE;
    nc_failure_add(list, klass, what, reason);
    return TRUE;
}

static gboolean nc_read_report(NcReader *r, const xmlNode *root, NcReport *report)
{
    gboolean have_figures = FALSE;
    NcReportFigures fig;

    /* the schema allows one of each; the reader runs before it, so it must not let a second
     * one overwrite (and leak) what the first set */
    static const char *const once[] = {"domain", "migration", "gate", "figures"};
    gboolean seen[G_N_ELEMENTS(once)] = {FALSE};

    for (xmlNode *c = root->children; c; c = c->next) {
        const char *elem = (const char *)c->name;

        if (c->type != XML_ELEMENT_NODE)
            continue;
        for (guint i = 0; i < G_N_ELEMENTS(once); i++) {
            if (strcmp(elem, once[i]) != 0)
                continue;
            if (seen[i])
                return nc_fail(r, c, "a second <%s>; a report has one", elem);
            seen[i] = TRUE;
        }
        if (strcmp(elem, "domain") == 0) {
            g_autofree char *uuid = nc_prop(c, "uuid");

            if (!uuid || !g_uuid_string_is_valid(uuid))
                return nc_fail(r, c, "uuid '%s' is not a UUID", uuid ? uuid : "");
            report->domain_uuid = g_ascii_strdown(uuid, -1);
            report->domain_name = nc_prop(c, "name");
        } else if (strcmp(elem, "migration") == 0) {
            g_autofree char *outcome = nc_prop(c, "outcome");
            g_autofree char *id = nc_prop(c, "id");
            int o = nc_report_outcome_from_string(outcome);
            guint64 v;

            if (o < 0)
                return nc_fail(r, c, "outcome '%s' is not completed, failed or cancelled",
                               outcome ? outcome : "");
            report->outcome = (NcReportOutcome)o;
            report->source_host = nc_prop(c, "source");
            report->destination_host = nc_prop(c, "destination");
            report->reason = nc_prop(c, "reason");
            report->migration_id = id ? g_ascii_strdown(id, -1) : NULL;
            if (xmlHasProp(c, (const xmlChar *)"downtime-ms")) {
                if (!nc_prop_uint(r, c, "downtime-ms", G_MAXUINT32, &v))
                    return FALSE;
                report->has_downtime = TRUE;
                report->downtime_ms = (gint64)v;
            }
        } else if (strcmp(elem, "timeline") == 0) {
            g_autofree char *side = nc_prop(c, "side");
            NcReportSide s =
                g_strcmp0(side, "source") == 0 ? NC_REPORT_SOURCE : NC_REPORT_DESTINATION;

            if (report->steps[s]->len)
                return nc_fail(r, c, "a second %s timeline", nc_side_names[s]);

            for (xmlNode *st = c->children; st; st = st->next) {
                if (st->type == XML_ELEMENT_NODE && !nc_read_step(r, st, report, s))
                    return FALSE;
            }
        } else if (strcmp(elem, "carried") == 0) {
            NcReportCarried *n;
            NcReportClass klass;
            guint64 v[5];
            static const char *const attrs[] = {"precopied", "changed-at-stop", "installed",
                                                "failed", "removed-at-source"};

            if (!nc_read_class(r, c, &klass))
                return FALSE;
            n = &report->carried[klass];
            if (n->present)
                return nc_fail(r, c, "class %s is counted twice", nc_class_names[klass]);
            for (guint i = 0; i < G_N_ELEMENTS(attrs); i++) {
                if (!nc_prop_uint(r, c, attrs[i], G_MAXUINT32, &v[i]))
                    return FALSE;
            }
            n->present = TRUE;
            n->precopied = (guint32)v[0];
            n->changed_at_stop = (guint32)v[1];
            n->installed = (guint32)v[2];
            n->failed = (guint32)v[3];
            n->removed_at_source = (guint32)v[4];
            {
                g_autofree char *status = nc_prop(c, "status");
                int st = status ? nc_lookup(nc_status_names, G_N_ELEMENTS(nc_status_names), status)
                                : NC_REPORT_CARRIED;

                if (st < 0)
                    return nc_fail(r, c, "status '%s' is not carried, checked or not-available",
                                   status);
                n->status = (NcReportClassStatus)st;
                n->why = nc_prop(c, "why");
            }
        } else if (strcmp(elem, "failure") == 0) {
            if (!nc_read_failure(r, c, "entry", report->failures))
                return FALSE;
        } else if (strcmp(elem, "not-carried") == 0) {
            if (!nc_read_failure(r, c, "what", report->not_carried))
                return FALSE;
        } else if (strcmp(elem, "gate") == 0) {
            report->has_gate = TRUE;
            report->gate_mode = nc_prop(c, "mode");
            if (!nc_prop_uint(r, c, "held-packets", G_MAXUINT64, &report->held_packets))
                return FALSE;
            if (xmlHasProp(c, (const xmlChar *)"opened") &&
                !nc_prop_time(r, c, "opened", &report->gate_opened_us))
                return FALSE;
        } else if (strcmp(elem, "figures") == 0) {
            have_figures = TRUE;
            nc_report_figures(report, &fig);
            if (!nc_read_figure(r, c, "margin-us", fig.has_margin, fig.margin_us) ||
                !nc_read_figure(r, c, "stop-to-installed-us", fig.has_stop_to_installed,
                                fig.stop_to_installed_us) ||
                !nc_read_figure(r, c, "stop-to-resumed-us", fig.has_stop_to_resumed,
                                fig.stop_to_resumed_us))
                return FALSE;
        }
    }
    nc_report_figures(report, &fig);
    if (!have_figures && (fig.has_margin || fig.has_stop_to_installed || fig.has_stop_to_resumed))
        return nc_fail(r, root, "<figures> is missing; the timeline gives figures");
    return TRUE;
}

static NcReport *nc_report_read_doc(xmlDoc *doc, const char *name, GError **error)
{
    g_autoptr(NcReport) report = NULL;
    NcReader r = {name, error};
    xmlNode *root = xmlDocGetRootElement(doc);
    g_autofree char *version = NULL;

    if (!root->ns || strcmp((const char *)root->ns->href, NC_REPORT_NS) != 0 ||
        strcmp((const char *)root->name, "report") != 0) {
        nc_fail(&r, root, "not a netcarry report (expected <report xmlns=\"%s\">)", NC_REPORT_NS);
        return NULL;
    }
    version = nc_prop(root, "version");
    if (g_strcmp0(version, G_STRINGIFY(NC_REPORT_VERSION)) != 0) {
        nc_fail(&r, root, "version '%s' is not supported (this netcarry reads %d)",
                version ? version : "", NC_REPORT_VERSION);
        return NULL;
    }
    /* the reader first: its messages name the bad value where libxml2's RelaxNG messages
     * often name only the enclosing element; then the schema, for everything else */
    report = nc_report_new();
    if (!nc_read_report(&r, root, report))
        return NULL;
    if (!nc_xml_validate_doc(doc, name, NC_REPORT_SCHEMA, NULL, error))
        return NULL;
    return g_steal_pointer(&report);
}

NcReport *nc_report_parse_buffer(const char *data, gsize len, const char *name, GError **error)
{
    g_autoptr(xmlDoc) doc = nc_xml_parse(data, len, name, error);

    return doc ? nc_report_read_doc(doc, name, error) : NULL;
}

/* Puts @node and every element under it that has no namespace into @ns. */
static void nc_qualify(xmlNode *node, xmlNs *ns)
{
    for (; node; node = node->next) {
        if (node->type != XML_ELEMENT_NODE)
            continue;
        if (!node->ns)
            xmlSetNs(node, ns);
        nc_qualify(node->children, ns);
    }
}

NcReport *nc_report_parse_metadata(const char *data, gsize len, const char *name,
                                   GError **error)
{
    g_autoptr(xmlDoc) doc = nc_xml_parse(data, len, name, error);
    xmlNode *root;

    if (!doc)
        return NULL;
    root = xmlDocGetRootElement(doc);
    if (!root->ns && strcmp((const char *)root->name, "report") == 0)
        nc_qualify(root, xmlNewNs(root, BAD_CAST NC_REPORT_NS, NULL));
    return nc_report_read_doc(doc, name, error);
}

NcReport *nc_report_parse_file(const char *path, GError **error)
{
    g_autofree char *data = NULL;
    g_autoptr(GError) local = NULL;
    gsize len;

    if (!g_file_get_contents(path, &data, &len, &local)) {
        g_set_error(error, NC_ERROR, NC_ERROR_IO, "cannot read report %s: %s", path,
                    local->message);
        return NULL;
    }
    return nc_report_parse_buffer(data, len, path, error);
}

/* ---- text ------------------------------------------------------------------------------- */

static int nc_cmp_rows(gconstpointer a, gconstpointer b)
{
    const NcReportStep *x = a, *y = b;

    if (x->phase != y->phase)
        return x->phase < y->phase ? -1 : 1;
    return x->pass < y->pass ? -1 : x->pass > y->pass;
}

static void nc_append_ms(GString *s, gint64 us, gboolean sign)
{
    g_string_append_printf(s, sign ? "%+.3f ms" : "%.3f ms", (double)us / 1000.0);
}

/**
 * nc_report_to_text() - the report for people
 * @report: the report
 *
 * A header line, then one row per phase (and pre-copy pass) with each host's time in ms
 * relative to the source's stop (or, without one, to the earliest step), then one line of
 * counts per class carried, the entries refused ("failed: CLASS ENTRY: REASON"), what cannot
 * be carried ("not carried: CLASS WHAT: REASON"), the gate and the figures.
 *
 * Return: (transfer full): text, lines ending in '\n'
 */
char *nc_report_to_text(const NcReport *r)
{
    GString *s = g_string_new(NULL);
    g_autoptr(GArray) rows = g_array_new(FALSE, TRUE, sizeof(NcReportStep));
    const NcReportStep *stop =
        nc_report_find_step(r, NC_REPORT_SOURCE, NC_REPORT_PHASE_STOP_AND_COPY, 0);
    gint64 t0 = G_MAXINT64;
    NcReportFigures fig;

    g_string_append_printf(s, "%s (%s): %s -> %s: %s", r->domain_name ? r->domain_name : "?",
                           r->domain_uuid ? r->domain_uuid : "?",
                           r->source_host ? r->source_host : "?",
                           r->destination_host ? r->destination_host : "?",
                           nc_report_outcome_to_string(r->outcome) ?: "?");
    if (r->reason)
        g_string_append_printf(s, " (%s)", r->reason);
    g_string_append_c(s, '\n');
    if (r->migration_id)
        g_string_append_printf(s, "migration %s\n", r->migration_id);

    /* the rows: every (phase, pass) either side recorded, in phase order */
    for (guint side = 0; side < NC_REPORT_SIDE_LAST; side++) {
        for (guint i = 0; i < r->steps[side]->len; i++) {
            const NcReportStep *st = &g_array_index(r->steps[side], NcReportStep, i);
            gboolean seen = FALSE;

            t0 = MIN(t0, st->time_us);
            for (guint j = 0; j < rows->len && !seen; j++)
                seen = nc_cmp_rows(&g_array_index(rows, NcReportStep, j), st) == 0;
            if (!seen) {
                NcReportStep row = {st->phase, st->pass, 0, NULL};

                g_array_append_val(rows, row);
            }
        }
    }
    g_array_sort(rows, nc_cmp_rows);
    if (stop)
        t0 = stop->time_us;
    if (rows->len) {
        g_string_append_printf(s, "\n%-18s %14s %14s   (ms from %s)\n", "phase", "source",
                               "destination", stop ? "the source's stop" : "the first step");
        for (guint i = 0; i < rows->len; i++) {
            const NcReportStep *row = &g_array_index(rows, NcReportStep, i);
            g_autofree char *label =
                row->pass ? g_strdup_printf("%s %u", nc_phase_names[row->phase], row->pass)
                          : g_strdup(nc_phase_names[row->phase]);

            g_string_append_printf(s, "%-18s", label);
            for (guint side = 0; side < NC_REPORT_SIDE_LAST; side++) {
                const NcReportStep *st = nc_report_find_step(r, side, row->phase, row->pass);

                if (st)
                    g_string_append_printf(s, " %+14.3f", (double)(st->time_us - t0) / 1000.0);
                else
                    g_string_append_printf(s, " %14s", "-");
            }
            g_string_append_c(s, '\n');
        }
    }

    g_string_append_c(s, '\n');
    for (guint c = 0; c < NC_REPORT_CLASS_LAST; c++) {
        const NcReportCarried *n = &r->carried[c];

        if (!n->present)
            continue;
        if (n->status == NC_REPORT_NOT_AVAILABLE) {
            g_string_append_printf(s, "%s: not available on this host: %s\n", nc_class_names[c],
                                   n->why ? n->why : "no reason given");
            continue;
        }
        if (n->status == NC_REPORT_CHECKED) {
            g_string_append_printf(s, "%s: checked, ", nc_class_names[c]);
            if (n->precopied)
                g_string_append_printf(s, "%u definitions from the source, ", n->precopied);
            g_string_append(s, n->failed ? "DIFFERS on this host (admitted: proceed)\n"
                                         : "nothing differs on this host\n");
            continue;
        }
        g_string_append_printf(s, "%s: %u pre-copied, %u changed at stop, %u installed, %u failed",
                               nc_class_names[c], n->precopied, n->changed_at_stop, n->installed,
                               n->failed);
        /* a named counter or quota stays in the source's ruleset, mdb entries go with the
         * source's tap, a learned address stays in libvirt's memory there: nothing to
         * remove */
        if (c != NC_REPORT_CLASS_NFT_OBJECT && c != NC_REPORT_CLASS_MDB &&
            c != NC_REPORT_CLASS_IP_BINDING)
            g_string_append_printf(s, ", %u removed at source", n->removed_at_source);
        g_string_append_c(s, '\n');
    }
    for (guint i = 0; i < r->failures->len; i++) {
        const NcReportFailure *f = r->failures->pdata[i];

        g_string_append_printf(s, "failed: %s %s: %s\n", nc_class_names[f->klass], f->entry,
                               f->reason);
    }
    for (guint i = 0; i < r->not_carried->len; i++) {
        const NcReportFailure *f = r->not_carried->pdata[i];

        g_string_append_printf(s, "not carried: %s %s: %s\n", nc_class_names[f->klass], f->entry,
                               f->reason);
    }
    if (r->has_gate) {
        g_string_append_printf(s, "gate (%s): %" G_GUINT64_FORMAT " packets held",
                               r->gate_mode ? r->gate_mode : "gate", r->held_packets);
        if (r->gate_opened_us) {
            g_string_append(s, ", opened at ");
            nc_append_ms(s, r->gate_opened_us - t0, TRUE);
        } else {
            g_string_append(s, ", never opened");
        }
        g_string_append_c(s, '\n');
    }

    nc_report_figures(r, &fig);
    g_string_append(s, "margin: ");
    if (fig.has_margin) {
        nc_append_ms(s, fig.margin_us, TRUE);
        g_string_append(s, fig.margin_us >= 0 ? " (state installed before the guest resumed)\n"
                                              : " (state installed AFTER the guest resumed)\n");
    } else {
        g_string_append(s, "unknown (no installed or no resumed step on the destination)\n");
    }
    if (fig.has_stop_to_installed) {
        g_string_append(s, "source stop -> installed: ");
        nc_append_ms(s, fig.stop_to_installed_us, FALSE);
        g_string_append_c(s, '\n');
    }
    if (fig.has_stop_to_resumed) {
        g_string_append(s, "source stop -> destination resume: ");
        nc_append_ms(s, fig.stop_to_resumed_us, FALSE);
        g_string_append_c(s, '\n');
    }
    if (fig.has_downtime)
        g_string_append_printf(s, "libvirt downtime: %" G_GINT64_FORMAT " ms\n", fig.downtime_ms);
    return g_string_free(s, FALSE);
}

/* ---- JSON ------------------------------------------------------------------------------- */

static void nc_json_time(NcJson *j, const char *key, const char *key_us, gint64 us)
{
    char buf[NC_TIME_STRLEN];

    if (!us) {
        nc_json_null(j, key);
        nc_json_null(j, key_us);
        return;
    }
    nc_time_format(us, buf, sizeof(buf));
    nc_json_string(j, key, buf);
    nc_json_int(j, key_us, us);
}

static void nc_json_failures(NcJson *j, const char *key, const char *what_key,
                             const GPtrArray *list)
{
    nc_json_begin_array(j, key);
    for (guint i = 0; i < list->len; i++) {
        const NcReportFailure *f = list->pdata[i];

        nc_json_begin_object(j, NULL);
        nc_json_string(j, "class", nc_class_names[f->klass]);
        nc_json_string(j, what_key, f->entry);
        nc_json_string(j, "reason", f->reason);
        nc_json_end_object(j);
    }
    nc_json_end_array(j);
}

/**
 * nc_report_to_json() - the report for programs (`netcarry report DOMAIN --json`)
 * @report: the report
 *
 * The members and their meaning are listed in netcarry(1), section JSON; a test checks that
 * the page and this output name the same fields.
 *
 * Return: (transfer full): one JSON object, ending in a newline
 */
char *nc_report_to_json(const NcReport *r)
{
    g_autoptr(NcJson) j = nc_json_new();
    NcReportFigures fig;

    nc_json_begin_object(j, NULL);
    nc_json_int(j, "version", NC_REPORT_VERSION);
    nc_json_begin_object(j, "domain");
    nc_json_string(j, "uuid", r->domain_uuid);
    nc_json_string(j, "name", r->domain_name);
    nc_json_end_object(j);
    nc_json_begin_object(j, "migration");
    nc_json_string(j, "id", r->migration_id);
    nc_json_string(j, "source", r->source_host);
    nc_json_string(j, "destination", r->destination_host);
    nc_json_string(j, "outcome", nc_report_outcome_to_string(r->outcome));
    nc_json_string(j, "reason", r->reason && *r->reason ? r->reason : NULL);
    nc_json_int_or_null(j, "downtime_ms", r->has_downtime, r->downtime_ms);
    nc_json_end_object(j);

    nc_json_begin_object(j, "timeline");
    for (guint side = 0; side < NC_REPORT_SIDE_LAST; side++) {
        nc_json_begin_array(j, nc_side_names[side]);
        for (guint i = 0; i < r->steps[side]->len; i++) {
            const NcReportStep *st = &g_array_index(r->steps[side], NcReportStep, i);

            nc_json_begin_object(j, NULL);
            nc_json_string(j, "phase", nc_phase_names[st->phase]);
            nc_json_int_or_null(j, "pass", st->phase == NC_REPORT_PHASE_PRECOPY && st->pass,
                                st->pass);
            nc_json_time(j, "time", "time_us", st->time_us);
            nc_json_string(j, "cause", st->cause && *st->cause ? st->cause : NULL);
            nc_json_end_object(j);
        }
        nc_json_end_array(j);
    }
    nc_json_end_object(j);

    nc_json_begin_array(j, "carried");
    for (guint c = 0; c < NC_REPORT_CLASS_LAST; c++) {
        const NcReportCarried *n = &r->carried[c];

        if (!n->present)
            continue;
        nc_json_begin_object(j, NULL);
        nc_json_string(j, "class", nc_class_names[c]);
        nc_json_string(j, "status", nc_report_class_status_to_string(n->status));
        nc_json_string(j, "why", n->why);
        nc_json_int(j, "precopied", n->precopied);
        nc_json_int(j, "changed_at_stop", n->changed_at_stop);
        nc_json_int(j, "installed", n->installed);
        nc_json_int(j, "failed", n->failed);
        nc_json_int(j, "removed_at_source", n->removed_at_source);
        nc_json_end_object(j);
    }
    nc_json_end_array(j);

    nc_json_failures(j, "failures", "entry", r->failures);
    nc_json_failures(j, "not_carried", "what", r->not_carried);

    if (r->has_gate) {
        nc_json_begin_object(j, "gate");
        nc_json_string(j, "mode", r->gate_mode ? r->gate_mode : "gate");
        nc_json_int(j, "held_packets", (gint64)MIN(r->held_packets, (guint64)G_MAXINT64));
        nc_json_time(j, "opened", "opened_us", r->gate_opened_us);
        nc_json_end_object(j);
    } else {
        nc_json_null(j, "gate");
    }

    nc_report_figures(r, &fig);
    nc_json_begin_object(j, "figures");
    nc_json_int_or_null(j, "margin_us", fig.has_margin, fig.margin_us);
    nc_json_int_or_null(j, "stop_to_installed_us", fig.has_stop_to_installed,
                        fig.stop_to_installed_us);
    nc_json_int_or_null(j, "stop_to_resumed_us", fig.has_stop_to_resumed, fig.stop_to_resumed_us);
    nc_json_int_or_null(j, "downtime_ms", fig.has_downtime, fig.downtime_ms);
    nc_json_end_object(j);
    nc_json_end_object(j);
    return nc_json_steal(g_steal_pointer(&j));
}

/* nc-report-svg.c - the picture of one migration, drawn from its report as SVG
 *
 * Theory of operation
 *
 * A migration's timeline spans seconds (pre-copy) but what matters happens in the tens of
 * milliseconds after the source's STOP, so one linear axis cannot show both. The picture has two
 * panels on the same origin, the source's STOP (t = 0; without a STOP, the first step):
 *
 *   whole migration   each host's phases as bars, from its first step to its last; a frame marks
 *                     the part the second panel enlarges
 *   switchover        the same lanes from just before the STOP to just after the destination's
 *                     RESUME: the STOP -> RESUME window shaded, marks where the state was sealed
 *                     (both hosts), installed and the gate opened, and the margin (RESUME minus
 *                     installed) as a bracket, green when the state was first, red when not
 *
 * then the figures and, per state class, the entries carried (pre-copied and changed at the
 * stop, installed, failed, removed at the source). A phase lasts from its step to the host's next
 * step; terminal phases (completed, failed, cancelled) are marks, not bars. Times of the two
 * hosts are each host's own clock, as in the report: the picture says so under the title.
 *
 * Everything is computed from the report and nc_report_figures(), so the picture, the text and
 * the JSON show the same numbers. The size is fixed (NC_REPORT_SVG_WIDTH x _HEIGHT).
 */
#include <math.h>
#include <string.h>

#include "conf/nc-report-svg.h"
#include "util/nc-svg.h"

#define W NC_REPORT_SVG_WIDTH
#define H NC_REPORT_SVG_HEIGHT
#define PLOT_X0 150.0 /* left edge of the plots; lane names sit left of it */
#define PLOT_X1 930.0
#define LANE_H 22.0

/* one colour per NcReportPhase */
static const char *const nc_svg_phase_colors[] = {
    [NC_REPORT_PHASE_PREPARE] = "#b0b7c3",       [NC_REPORT_PHASE_PRECOPY] = "#5b8def",
    [NC_REPORT_PHASE_STOP_AND_COPY] = "#f0a04b", [NC_REPORT_PHASE_SEALED] = "#9b6fd6",
    [NC_REPORT_PHASE_INSTALLED] = "#3fae6a",     [NC_REPORT_PHASE_RESUMED] = "#2a9d8f",
    [NC_REPORT_PHASE_COMPLETED] = "#2e7d32",     [NC_REPORT_PHASE_FAILED] = "#d64545",
    [NC_REPORT_PHASE_CANCELLED] = "#777777",
};
G_STATIC_ASSERT(G_N_ELEMENTS(nc_svg_phase_colors) == NC_REPORT_PHASE_LAST);

/* a linear map from ms (relative to the origin) to x */
typedef struct {
    double lo, hi; /* ms */
} NcAxis;

static double nc_x(const NcAxis *a, double ms)
{
    return PLOT_X0 + (ms - a->lo) / (a->hi - a->lo) * (PLOT_X1 - PLOT_X0);
}

static gboolean nc_is_terminal(NcReportPhase p)
{
    return p == NC_REPORT_PHASE_COMPLETED || p == NC_REPORT_PHASE_FAILED ||
           p == NC_REPORT_PHASE_CANCELLED;
}

static const char *nc_phase_color(const NcReportStep *st)
{
    if (st->phase == NC_REPORT_PHASE_PRECOPY && st->pass % 2 == 0 && st->pass)
        return "#8fb0f5"; /* alternate passes, so that consecutive ones stay apart */
    return nc_svg_phase_colors[st->phase];
}

static char *nc_phase_label(const NcReportStep *st)
{
    if (st->phase == NC_REPORT_PHASE_PRECOPY && st->pass)
        return g_strdup_printf("pass %u", st->pass);
    return g_strdup(nc_report_phase_to_string(st->phase));
}

static gint nc_cmp_time(gconstpointer a, gconstpointer b)
{
    const NcReportStep *x = a, *y = b;

    return x->time_us < y->time_us ? -1 : x->time_us > y->time_us;
}

/* a side's steps in time order (the recorded order is nearly that; a tie keeps it) */
static GArray *nc_sorted_steps(const NcReport *r, NcReportSide side)
{
    GArray *out = g_array_new(FALSE, FALSE, sizeof(NcReportStep));

    g_array_append_vals(out, r->steps[side]->data, r->steps[side]->len);
    g_array_sort(out, nc_cmp_time); /* g_array_sort is stable since GLib 2.32 */
    return out;
}

/* ticks at 1, 2 or 5 times a power of ten, about eight of them */
static void nc_svg_axis(GString *s, const NcAxis *a, double y, const char *unit)
{
    double raw = (a->hi - a->lo) / 8.0, mag = pow(10.0, floor(log10(raw))), norm = raw / mag;
    double step = (norm < 1.5 ? 1 : norm < 3.5 ? 2 : norm < 7.5 ? 5 : 10) * mag;
    int decimals = step >= 1 ? 0 : step >= 0.1 ? 1 : step >= 0.01 ? 2 : 3;

    g_string_append_printf(s,
                           "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
                           "stroke=\"#555\" stroke-width=\"1\"/>\n",
                           PLOT_X0, y, PLOT_X1, y);
    for (double t = ceil(a->lo / step) * step; t <= a->hi + step * 1e-6; t += step) {
        double x = nc_x(a, t);
        g_autofree char *label = NULL;

        if (fabs(t) < step * 1e-6)
            t = 0;
        label = g_strdup_printf(t > 0 ? "+%.*f" : "%.*f", decimals, t);
        g_string_append_printf(s,
                               "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
                               "stroke=\"#555\"/>\n",
                               x, y, x, y + 4);
        nc_svg_text(s, x, y + 16, "middle", "font-size=\"11\" fill=\"#444\"", label);
    }
    nc_svg_text(s, PLOT_X1, y + 30, "end", "font-size=\"11\" fill=\"#444\"", unit);
}

/**
 * nc_svg_lane() - one host's phases as bars on @a, clipped to the plot
 * @steps: the side's steps in time order
 * @t0:    the origin (µs)
 * @end:   where the last non-terminal phase ends, in ms
 */
static void nc_svg_lane(GString *s, const NcAxis *a, GArray *steps, gint64 t0, double y, double end)
{
    for (guint i = 0; i < steps->len; i++) {
        const NcReportStep *st = &g_array_index(steps, NcReportStep, i);
        double from = (st->time_us - t0) / 1000.0, to;
        double x0, x1;
        g_autofree char *label = nc_phase_label(st);

        if (nc_is_terminal(st->phase)) {
            double x = nc_x(a, from);

            if (from < a->lo || from > a->hi)
                continue;
            g_string_append_printf(s,
                                   "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"5\" fill=\"%s\" "
                                   "stroke=\"#fff\" stroke-width=\"1.5\"/>\n",
                                   x, y + LANE_H / 2, nc_phase_color(st));
            continue;
        }
        to = i + 1 < steps->len ? (g_array_index(steps, NcReportStep, i + 1).time_us - t0) / 1000.0
                                : end;
        if (to < a->lo || from > a->hi)
            continue;
        x0 = nc_x(a, MAX(from, a->lo));
        x1 = MAX(nc_x(a, MIN(to, a->hi)), x0 + 1.5); /* an instant is still visible */
        g_string_append_printf(s,
                               "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                               "fill=\"%s\"><title>%s</title></rect>\n",
                               x0, y, x1 - x0, LANE_H, nc_phase_color(st), label);
        if (x1 - x0 > 7.0 * strlen(label) + 6)
            nc_svg_text(s, (x0 + x1) / 2, y + 15, "middle", "font-size=\"11\" fill=\"#fff\"",
                        label);
    }
}

/* Labels of marks, placed in the first row where they do not overlap the previous label. */
typedef struct {
    double row_end[4];
} NcLabelRows;

static int nc_label_row(NcLabelRows *rows, double x, double width)
{
    for (int i = 0; i < 4; i++) {
        if (x - width / 2 > rows->row_end[i] + 4) {
            rows->row_end[i] = x + width / 2;
            return i;
        }
    }
    return 3;
}

/**
 * nc_svg_mark() - a vertical tick across a lane with a label above (@up) or below it
 */
static void nc_svg_mark(GString *s, NcLabelRows *rows, const NcAxis *a, double ms, double lane_y,
                        gboolean up, const char *color, const char *label)
{
    double x = nc_x(a, ms), w = 6.2 * strlen(label);
    int row = nc_label_row(rows, x, w);
    double ty = up ? lane_y - 8 - 14 * row : lane_y + LANE_H + 16 + 14 * row;

    g_string_append_printf(s,
                           "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                           "stroke-width=\"2\"/>\n",
                           x, up ? ty + 3 : lane_y, x, up ? lane_y + LANE_H : ty - 11, color);
    nc_svg_text(s, x, ty, "middle", "font-size=\"11\" fill=\"#222\"", label);
}

/* the switchover panel's range: from the STOP (or anything earlier) to the last of sealed,
 * installed, gate open and RESUME, with a little room either side */
static void nc_zoom_axis(const NcReport *r, gint64 t0, NcAxis *a)
{
    static const struct {
        NcReportSide side;
        NcReportPhase phase;
    } marks[] = {
        {NC_REPORT_SOURCE, NC_REPORT_PHASE_SEALED},
        {NC_REPORT_DESTINATION, NC_REPORT_PHASE_STOP_AND_COPY},
        {NC_REPORT_DESTINATION, NC_REPORT_PHASE_SEALED},
        {NC_REPORT_DESTINATION, NC_REPORT_PHASE_INSTALLED},
        {NC_REPORT_DESTINATION, NC_REPORT_PHASE_RESUMED},
    };
    double lo = 0, hi = 0, pad;

    for (guint i = 0; i < G_N_ELEMENTS(marks); i++) {
        const NcReportStep *st = nc_report_find_step(r, marks[i].side, marks[i].phase, 0);

        if (st) {
            lo = MIN(lo, (st->time_us - t0) / 1000.0);
            hi = MAX(hi, (st->time_us - t0) / 1000.0);
        }
    }
    if (r->gate_opened_us)
        hi = MAX(hi, (r->gate_opened_us - t0) / 1000.0);
    pad = MAX((hi - lo) * 0.08, 0.5);
    a->lo = lo - pad;
    a->hi = hi + pad;
}

static char *nc_ms(gint64 us, gboolean sign)
{
    return g_strdup_printf(sign ? "%+.1f ms" : "%.1f ms", us / 1000.0);
}

char *nc_report_to_svg(const NcReport *r)
{
    GString *s = g_string_new(NULL);
    g_autoptr(GArray) src = nc_sorted_steps(r, NC_REPORT_SOURCE);
    g_autoptr(GArray) dst = nc_sorted_steps(r, NC_REPORT_DESTINATION);
    const NcReportStep *stop =
        nc_report_find_step(r, NC_REPORT_SOURCE, NC_REPORT_PHASE_STOP_AND_COPY, 0);
    const NcReportStep *resumed =
        nc_report_find_step(r, NC_REPORT_DESTINATION, NC_REPORT_PHASE_RESUMED, 0);
    const NcReportStep *installed =
        nc_report_find_step(r, NC_REPORT_DESTINATION, NC_REPORT_PHASE_INSTALLED, 0);
    const NcReportStep *src_sealed =
        nc_report_find_step(r, NC_REPORT_SOURCE, NC_REPORT_PHASE_SEALED, 0);
    const NcReportStep *dst_sealed =
        nc_report_find_step(r, NC_REPORT_DESTINATION, NC_REPORT_PHASE_SEALED, 0);
    const char *outcome = nc_report_outcome_to_string(r->outcome);
    NcReportFigures fig;
    gint64 t0 = G_MAXINT64, tmin = G_MAXINT64, tmax = G_MININT64;
    g_autofree char *title = NULL;
    g_autoptr(GString) sub = g_string_new(NULL);
    double y;

    nc_report_figures(r, &fig);
    for (guint side = 0; side < NC_REPORT_SIDE_LAST; side++) {
        for (guint i = 0; i < r->steps[side]->len; i++) {
            gint64 t = g_array_index(r->steps[side], NcReportStep, i).time_us;

            tmin = MIN(tmin, t);
            tmax = MAX(tmax, t);
        }
    }
    t0 = stop ? stop->time_us : tmin;

    nc_svg_begin(s, W, H);
    title =
        g_strdup_printf("%s: %s \u2192 %s, %s", r->domain_name ? r->domain_name : "?",
                        r->source_host ? r->source_host : "?",
                        r->destination_host ? r->destination_host : "?", outcome ? outcome : "?");
    nc_svg_text(s, 20, 30, "start", "font-size=\"18\" font-weight=\"bold\" fill=\"#111\"", title);
    if (r->migration_id)
        g_string_append_printf(sub, "migration %s \u00b7 ", r->migration_id);
    g_string_append(sub, "each host's times by its own clock");
    if (r->reason)
        g_string_append_printf(sub, " \u00b7 %s", r->reason);
    nc_svg_text(s, 20, 50, "start", "font-size=\"12\" fill=\"#555\"", sub->str);

    if (tmin == G_MAXINT64) {
        nc_svg_text(s, W / 2.0, H / 2.0, "middle", "font-size=\"14\" fill=\"#555\"",
                    "the report holds no timeline");
        g_string_append(s, "</svg>\n");
        return g_string_free(s, FALSE);
    }

    /* ---- panel 1: the whole migration ---- */
    {
        double lo = (tmin - t0) / 1000.0, hi = (tmax - t0) / 1000.0, pad;
        NcAxis a;

        pad = MAX((hi - lo) * 0.02, 1.0);
        a.lo = lo - pad;
        a.hi = hi + pad;
        y = 72;
        nc_svg_text(s, 20, y, "start", "font-size=\"13\" font-weight=\"bold\" fill=\"#333\"",
                    stop ? "Whole migration" : "Whole migration (the source never stopped)");
        y += 12;
        nc_svg_text(s, PLOT_X0 - 10, y + 15, "end", "font-size=\"12\" fill=\"#222\"", "source");
        nc_svg_lane(s, &a, src, t0, y, hi);
        nc_svg_text(s, PLOT_X0 - 10, y + 15 + 30, "end", "font-size=\"12\" fill=\"#222\"",
                    "destination");
        nc_svg_lane(s, &a, dst, t0, y + 30, hi);
        if (stop) {
            double x = nc_x(&a, 0);
            NcAxis zoom;
            double z0, z1;

            /* the part the switchover panel enlarges, and lines that lead down to it */
            nc_zoom_axis(r, t0, &zoom);
            z0 = nc_x(&a, MAX(zoom.lo, a.lo));
            z1 = MAX(nc_x(&a, MIN(zoom.hi, a.hi)), z0 + 4);
            g_string_append_printf(s,
                                   "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                                   "fill=\"none\" stroke=\"#8a6d00\" stroke-width=\"1\"/>\n"
                                   "<path d=\"M%.1f %.1f L%.1f %.1f M%.1f %.1f L%.1f %.1f\" "
                                   "stroke=\"#e0c060\" stroke-width=\"1\" fill=\"none\" "
                                   "stroke-dasharray=\"3 3\"/>\n",
                                   z0, y - 6, z1 - z0, 30 + LANE_H + 12, z0, y + 30 + LANE_H + 6,
                                   PLOT_X0, 192.0, z1, y + 30 + LANE_H + 6, PLOT_X1, 192.0);

            g_string_append_printf(s,
                                   "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
                                   "stroke=\"#d64545\" stroke-width=\"1.5\" "
                                   "stroke-dasharray=\"4 3\"/>\n",
                                   x, y - 4, x, y + 30 + LANE_H + 4);
        }
        nc_svg_axis(s, &a, y + 62, stop ? "ms from the source's STOP" : "ms from the first step");
    }

    /* ---- panel 2: the switchover ---- */
    y = 212;
    if (!stop) {
        nc_svg_text(s, 20, y, "start", "font-size=\"13\" font-weight=\"bold\" fill=\"#333\"",
                    "Switchover");
        nc_svg_text(s, PLOT_X0, y + 60, "start", "font-size=\"13\" fill=\"#555\"",
                    "The source never stopped: there was no switchover to draw.");
    } else {
        double bar_top, dst_y;
        NcAxis a;
        NcLabelRows up = {{-1e9, -1e9, -1e9, -1e9}}, down = {{-1e9, -1e9, -1e9, -1e9}};

        nc_zoom_axis(r, t0, &a);
        nc_svg_text(s, 20, y, "start", "font-size=\"13\" font-weight=\"bold\" fill=\"#333\"",
                    "Switchover: source STOP \u2192 destination RESUME");
        bar_top = y + 62;
        dst_y = bar_top + 40;
        /* the window, shaded across both lanes */
        if (resumed) {
            double x0 = nc_x(&a, 0), x1 = nc_x(&a, (resumed->time_us - t0) / 1000.0);
            g_autofree char *w = nc_ms(resumed->time_us - t0, FALSE);
            g_autofree char *label = g_strdup_printf("window %s", w);

            g_string_append_printf(s,
                                   "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                                   "fill=\"#fff3c4\" stroke=\"#e0c060\"/>\n",
                                   MIN(x0, x1), bar_top - 44, fabs(x1 - x0),
                                   dst_y + LANE_H + 52 - (bar_top - 44));
            nc_svg_text(s, (x0 + x1) / 2, y + 10, "middle", "font-size=\"11\" fill=\"#8a6d00\"",
                        label);
        }
        nc_svg_text(s, PLOT_X0 - 10, bar_top + 15, "end", "font-size=\"12\" fill=\"#222\"",
                    "source");
        nc_svg_text(s, PLOT_X0 - 10, dst_y + 15, "end", "font-size=\"12\" fill=\"#222\"",
                    "destination");
        nc_svg_lane(s, &a, src, t0, bar_top, a.hi);
        nc_svg_lane(s, &a, dst, t0, dst_y, a.hi);

        nc_svg_mark(s, &up, &a, 0, bar_top, TRUE, "#d64545", "STOP");
        if (src_sealed)
            nc_svg_mark(s, &up, &a, (src_sealed->time_us - t0) / 1000.0, bar_top, TRUE, "#6b3fb0",
                        "sealed");
        if (dst_sealed)
            nc_svg_mark(s, &down, &a, (dst_sealed->time_us - t0) / 1000.0, dst_y, FALSE, "#6b3fb0",
                        "sealed");
        if (installed)
            nc_svg_mark(s, &down, &a, (installed->time_us - t0) / 1000.0, dst_y, FALSE, "#23703f",
                        "installed");
        if (r->gate_opened_us)
            nc_svg_mark(s, &down, &a, (r->gate_opened_us - t0) / 1000.0, dst_y, FALSE, "#23703f",
                        "gate open");
        if (resumed)
            nc_svg_mark(s, &down, &a, (resumed->time_us - t0) / 1000.0, dst_y, FALSE, "#1d6f66",
                        "RESUME");
        if (fig.has_margin) {
            double x0 = nc_x(&a, (installed->time_us - t0) / 1000.0);
            double x1 = nc_x(&a, (resumed->time_us - t0) / 1000.0);
            double my = dst_y + LANE_H + 70;
            const char *color = fig.margin_us >= 0 ? "#23703f" : "#c62828";
            g_autofree char *m = nc_ms(fig.margin_us, TRUE);
            g_autofree char *label = g_strdup_printf(
                "margin %s%s", m, fig.margin_us >= 0 ? "" : " (installed AFTER the resume)");

            g_string_append_printf(s,
                                   "<path d=\"M%.1f %.1f v6 H%.1f v-6\" fill=\"none\" "
                                   "stroke=\"%s\" stroke-width=\"2\"/>\n",
                                   x0, my - 6, x1, color);
            nc_svg_text(s, (x0 + x1) / 2, my + 16, "middle",
                        fig.margin_us >= 0 ? "font-size=\"12\" font-weight=\"bold\" "
                                             "fill=\"#23703f\""
                                           : "font-size=\"12\" font-weight=\"bold\" "
                                             "fill=\"#c62828\"",
                        label);
        }
        nc_svg_axis(s, &a, dst_y + LANE_H + 96, "ms from the source's STOP");
    }

    /* ---- figures and entries ---- */
    y = 478;
    {
        g_autoptr(GString) f = g_string_new(NULL);

        if (fig.has_stop_to_installed) {
            g_autofree char *v = nc_ms(fig.stop_to_installed_us, FALSE);

            g_string_append_printf(f, "STOP \u2192 installed %s", v);
        }
        if (fig.has_stop_to_resumed) {
            g_autofree char *v = nc_ms(fig.stop_to_resumed_us, FALSE);

            g_string_append_printf(f, "%sSTOP \u2192 RESUME %s", f->len ? "   \u00b7   " : "", v);
        }
        if (fig.has_downtime)
            g_string_append_printf(f, "%slibvirt downtime %" G_GINT64_FORMAT " ms",
                                   f->len ? "   \u00b7   " : "", fig.downtime_ms);
        if (r->has_gate)
            g_string_append_printf(f, "%sgate (%s) held %" G_GUINT64_FORMAT " packet%s",
                                   f->len ? "   \u00b7   " : "",
                                   r->gate_mode ? r->gate_mode : "gate", r->held_packets,
                                   r->held_packets == 1 ? "" : "s");
        nc_svg_text(s, 20, y, "start", "font-size=\"12\" fill=\"#222\"",
                    f->len ? f->str : "no figures: the timeline lacks the steps they need");
    }
    y += 22;
    for (guint c = 0; c < NC_REPORT_CLASS_LAST; c++) {
        const NcReportCarried *n = &r->carried[c];
        double total = MAX(MAX((double)n->precopied + n->changed_at_stop, n->installed), 1);
        double width = 200, x = PLOT_X0, w1, w2;
        g_autofree char *text = NULL;

        if (!n->present)
            continue;
        w1 = width * n->precopied / total;
        w2 = width * n->changed_at_stop / total;
        nc_svg_text(s, PLOT_X0 - 10, y + 12, "end", "font-size=\"12\" fill=\"#222\"",
                    nc_report_class_to_string(c));
        g_string_append_printf(s,
                               "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"14\" "
                               "fill=\"#eef1f5\"/>\n"
                               "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"14\" "
                               "fill=\"%s\"/>\n"
                               "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"14\" "
                               "fill=\"%s\"/>\n",
                               x, y, width, x, y, w1, nc_svg_phase_colors[NC_REPORT_PHASE_PRECOPY],
                               x + w1, y, MAX(w2, n->changed_at_stop ? 1.5 : 0),
                               nc_svg_phase_colors[NC_REPORT_PHASE_STOP_AND_COPY]);
        text = g_strdup_printf(
            "%u pre-copied + %u at the stop \u2192 %u installed \u00b7 %u failed "
            "\u00b7 %u removed at source",
            n->precopied, n->changed_at_stop, n->installed, n->failed, n->removed_at_source);
        nc_svg_text(s, x + width + 10, y + 12, "start",
                    n->failed ? "font-size=\"12\" fill=\"#c62828\""
                              : "font-size=\"12\" fill=\"#222\"",
                    text);
        y += 22;
    }

    /* ---- legend ---- */
    {
        double x = 20;

        y = H - 18;
        for (guint p = 0; p < NC_REPORT_PHASE_LAST; p++) {
            const char *name = nc_report_phase_to_string(p);

            if (nc_is_terminal(p))
                g_string_append_printf(s, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"5\" fill=\"%s\"/>\n",
                                       x + 6, y - 4, nc_svg_phase_colors[p]);
            else
                g_string_append_printf(s,
                                       "<rect x=\"%.1f\" y=\"%.1f\" width=\"12\" height=\"10\" "
                                       "fill=\"%s\"/>\n",
                                       x, y - 9, nc_svg_phase_colors[p]);
            nc_svg_text(s, x + 16, y, "start", "font-size=\"11\" fill=\"#444\"", name);
            x += 16 + 6.5 * strlen(name) + 18;
        }
    }
    g_string_append(s, "</svg>\n");
    return g_string_free(s, FALSE);
}

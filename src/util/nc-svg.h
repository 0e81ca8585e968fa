/* nc-svg.h - the little of SVG that netcarry's pictures share: a document's start, text
 * (`netcarry report --svg`, bench/bench-side-by-side's plot)
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The XML declaration and the <svg> element of a @width x @height drawing (CSS pixels) with the
 * pictures' font and a white background; end it with "</svg>\n". */
void nc_svg_begin(GString *s, int width, int height);

/* A <text> at (@x, @y), anchored "start", "middle" or "end", with @style (attributes, e.g.
 * "font-size=\"11\" fill=\"#444\""); @text is escaped. */
void nc_svg_text(GString *s, double x, double y, const char *anchor, const char *style,
                 const char *text);

G_END_DECLS

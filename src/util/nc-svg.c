/* nc-svg.c - the little of SVG that netcarry's pictures share (see nc-svg.h) */
#include "util/nc-svg.h"

#define NC_SVG_FONT "DejaVu Sans, Verdana, sans-serif"

void nc_svg_begin(GString *s, int width, int height)
{
    g_string_append_printf(s,
                           "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                           "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" "
                           "width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
                           "font-family=\"" NC_SVG_FONT "\">\n"
                           "<rect width=\"100%%\" height=\"100%%\" fill=\"#ffffff\"/>\n",
                           width, height, width, height);
}

void nc_svg_text(GString *s, double x, double y, const char *anchor, const char *style,
                 const char *text)
{
    g_autofree char *esc = g_markup_escape_text(text, -1);

    g_string_append_printf(s, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\" %s>%s</text>\n", x, y,
                           anchor, style, esc);
}

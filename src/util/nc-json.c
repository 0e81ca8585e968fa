/* nc-json.c - a small JSON writer: the CLI's --json output without a JSON library
 *
 * Output is built in one GString. A stack remembers, per open object or array, whether it has a
 * member yet (for the commas) so callers only say what to write; misuse (a key in an array, a
 * missing key in an object, unbalanced ends) is a programming error caught by g_return_if_fail.
 */
#include "util/nc-json.h"

struct NcJson {
    GString *out;
    GArray *open; /* NcJsonFrame, innermost last */
};

typedef struct {
    gboolean is_object;
    gboolean has_member;
} NcJsonFrame;

NcJson *nc_json_new(void)
{
    NcJson *j = g_new0(NcJson, 1);

    j->out = g_string_new(NULL);
    j->open = g_array_new(FALSE, FALSE, sizeof(NcJsonFrame));
    return j;
}

void nc_json_free(NcJson *json)
{
    if (!json)
        return;
    g_string_free(json->out, TRUE);
    g_array_unref(json->open);
    g_free(json);
}

static void nc_json_escape(GString *s, const char *text)
{
    g_autofree char *valid = g_utf8_make_valid(text, -1);

    g_string_append_c(s, '"');
    for (const char *p = valid; *p; p++) {
        switch (*p) {
        case '"':
            g_string_append(s, "\\\"");
            break;
        case '\\':
            g_string_append(s, "\\\\");
            break;
        case '\n':
            g_string_append(s, "\\n");
            break;
        case '\r':
            g_string_append(s, "\\r");
            break;
        case '\t':
            g_string_append(s, "\\t");
            break;
        default:
            if ((guchar)*p < 0x20)
                g_string_append_printf(s, "\\u%04x", (guchar)*p);
            else
                g_string_append_c(s, *p);
        }
    }
    g_string_append_c(s, '"');
}

static void nc_json_indent(NcJson *j)
{
    g_string_append_c(j->out, '\n');
    for (guint i = 0; i < j->open->len; i++)
        g_string_append(j->out, "  ");
}

/* the comma, the line break and the key before a value */
static void nc_json_member(NcJson *j, const char *key)
{
    NcJsonFrame *f;

    if (!j->open->len) {
        g_return_if_fail(key == NULL && j->out->len == 0);
        return;
    }
    f = &g_array_index(j->open, NcJsonFrame, j->open->len - 1);
    g_return_if_fail(f->is_object == (key != NULL));
    if (f->has_member)
        g_string_append_c(j->out, ',');
    f->has_member = TRUE;
    nc_json_indent(j);
    if (key) {
        nc_json_escape(j->out, key);
        g_string_append(j->out, ": ");
    }
}

static void nc_json_begin(NcJson *j, const char *key, gboolean is_object)
{
    NcJsonFrame f = {is_object, FALSE};

    nc_json_member(j, key);
    g_string_append_c(j->out, is_object ? '{' : '[');
    g_array_append_val(j->open, f);
}

static void nc_json_end(NcJson *j, gboolean is_object)
{
    NcJsonFrame f;

    g_return_if_fail(j->open->len > 0);
    f = g_array_index(j->open, NcJsonFrame, j->open->len - 1);
    g_return_if_fail(f.is_object == is_object);
    g_array_set_size(j->open, j->open->len - 1);
    if (f.has_member)
        nc_json_indent(j);
    g_string_append_c(j->out, is_object ? '}' : ']');
}

void nc_json_begin_object(NcJson *json, const char *key)
{
    nc_json_begin(json, key, TRUE);
}

void nc_json_end_object(NcJson *json)
{
    nc_json_end(json, TRUE);
}

void nc_json_begin_array(NcJson *json, const char *key)
{
    nc_json_begin(json, key, FALSE);
}

void nc_json_end_array(NcJson *json)
{
    nc_json_end(json, FALSE);
}

void nc_json_string(NcJson *json, const char *key, const char *value)
{
    nc_json_member(json, key);
    if (value)
        nc_json_escape(json->out, value);
    else
        g_string_append(json->out, "null");
}

void nc_json_int(NcJson *json, const char *key, gint64 value)
{
    nc_json_member(json, key);
    g_string_append_printf(json->out, "%" G_GINT64_FORMAT, value);
}

void nc_json_bool(NcJson *json, const char *key, gboolean value)
{
    nc_json_member(json, key);
    g_string_append(json->out, value ? "true" : "false");
}

void nc_json_null(NcJson *json, const char *key)
{
    nc_json_member(json, key);
    g_string_append(json->out, "null");
}

void nc_json_int_or_null(NcJson *json, const char *key, gboolean has, gint64 value)
{
    if (has)
        nc_json_int(json, key, value);
    else
        nc_json_null(json, key);
}

char *nc_json_steal(NcJson *json)
{
    char *text;

    g_warn_if_fail(json->open->len == 0);
    g_string_append_c(json->out, '\n');
    text = g_string_free(g_steal_pointer(&json->out), FALSE);
    g_array_unref(json->open);
    g_free(json);
    return text;
}

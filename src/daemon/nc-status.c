/* nc-status.c - the status text of netcarryd, read back for `netcarry status --json`
 *
 * The daemon answers a status query with text (nc-hook-server.h), one header line then one line
 * per carry:
 *
 *   netcarryd VERSION on HOST: libvirt URI connected|NOT connected, peers on port PORT
 *   UUID NAME SIDE PHASE key=N key=N ... [reason=TEXT] [(ended)]
 *
 * That text is the wire format (a daemon and its CLI come from one build), so JSON is derived
 * here rather than sent, and an older daemon still gets --json. Counters are read generically
 * (every key=N becomes a member, '-' turned to '_'), so a counter the engine adds appears in
 * the JSON without a change here; the documented ones are listed in netcarry(1). A line that is
 * neither goes to "other", never dropped.
 */
#include <string.h>

#include "nc-status.h"
#include "util/nc-error.h"
#include "util/nc-json.h"

#define NC_STATUS_ENDED " (ended)"

/* "netcarryd V on H: libvirt U connected, peers on port P" */
static gboolean nc_status_header(NcJson *j, const char *line)
{
    g_auto(GStrv) w = g_strsplit(line, " ", -1);
    guint n = g_strv_length(w);
    gboolean connected;
    guint64 port;
    guint i = 6;

    if (n < 10 || !g_str_equal(w[0], "netcarryd") || !g_str_equal(w[2], "on") ||
        !g_str_has_suffix(w[3], ":") || !g_str_equal(w[4], "libvirt"))
        return FALSE;
    connected = g_str_equal(w[i], "connected,");
    if (!connected && !(g_str_equal(w[i], "NOT") && g_str_equal(w[++i], "connected,")))
        return FALSE;
    if (i + 5 != n || !g_str_equal(w[i + 1], "peers") ||
        !g_ascii_string_to_unsigned(w[i + 4], 10, 0, 65535, &port, NULL))
        return FALSE;
    w[3][strlen(w[3]) - 1] = '\0';
    nc_json_begin_object(j, "daemon");
    nc_json_string(j, "version", w[1]);
    nc_json_string(j, "host", w[3]);
    nc_json_string(j, "libvirt_uri", w[5]);
    nc_json_bool(j, "libvirt_connected", connected);
    nc_json_int(j, "peer_port", port);
    nc_json_end_object(j);
    return TRUE;
}

/* one carry line; FALSE (nothing written) if it is not one */
static gboolean nc_status_carry(NcJson *j, const char *line)
{
    g_autofree char *copy = g_strdup(line);
    gboolean ended = g_str_has_suffix(copy, NC_STATUS_ENDED);
    char *reason = NULL;
    g_auto(GStrv) w = NULL;
    guint n;

    if (ended)
        copy[strlen(copy) - strlen(NC_STATUS_ENDED)] = '\0';
    reason = strstr(copy, " reason=");
    if (reason) {
        *reason = '\0';
        reason += strlen(" reason=");
    }
    w = g_strsplit(copy, " ", -1);
    n = g_strv_length(w);
    if (n < 4 || !g_uuid_string_is_valid(w[0]) ||
        !(g_str_equal(w[2], "source") || g_str_equal(w[2], "destination")))
        return FALSE;
    for (guint i = 4; i < n; i++) {
        const char *eq = strchr(w[i], '=');

        if (!eq || !g_ascii_string_to_unsigned(eq + 1, 10, 0, G_MAXINT64, NULL, NULL))
            return FALSE;
    }
    nc_json_begin_object(j, NULL);
    nc_json_string(j, "uuid", w[0]);
    nc_json_string(j, "name", g_str_equal(w[1], "-") ? NULL : w[1]);
    nc_json_string(j, "side", w[2]);
    nc_json_string(j, "phase", w[3]);
    nc_json_bool(j, "ended", ended);
    for (guint i = 4; i < n; i++) {
        char *eq = strchr(w[i], '=');
        guint64 v;

        *eq = '\0';
        g_strdelimit(w[i], "-", '_');
        g_ascii_string_to_unsigned(eq + 1, 10, 0, G_MAXINT64, &v, NULL);
        nc_json_int(j, w[i], (gint64)v);
    }
    nc_json_string(j, "reason", reason);
    nc_json_end_object(j);
    return TRUE;
}

/**
 * nc_status_text_to_json() - the daemon's status text as JSON
 * @text:  what nc_hook_status_call() returned
 * @error: NC_ERROR_INVALID_DATA when the first line is not the daemon's header
 *
 * Return: (transfer full): {"daemon": {...}, "carries": [...], "other": [...]}
 */
char *nc_status_text_to_json(const char *text, GError **error)
{
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    g_autoptr(NcJson) j = nc_json_new();
    g_autoptr(GPtrArray) other = g_ptr_array_new();

    nc_json_begin_object(j, NULL);
    if (!lines[0] || !nc_status_header(j, lines[0])) {
        g_set_error(error, NC_ERROR, NC_ERROR_INVALID_DATA,
                    "netcarryd's status does not start with its header line: '%s'",
                    lines[0] ? lines[0] : "");
        return NULL;
    }
    nc_json_begin_array(j, "carries");
    for (guint i = 1; lines[i]; i++) {
        if (*lines[i] && !nc_status_carry(j, lines[i]))
            g_ptr_array_add(other, lines[i]);
    }
    nc_json_end_array(j);
    nc_json_begin_array(j, "other");
    for (guint i = 0; i < other->len; i++)
        nc_json_string(j, NULL, other->pdata[i]);
    nc_json_end_array(j);
    nc_json_end_object(j);
    return nc_json_steal(g_steal_pointer(&j));
}

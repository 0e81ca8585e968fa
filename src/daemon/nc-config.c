/* nc-config.c - parse netcarry.conf (GKeyFile) against one table of known keys
 * The table is the single list of settings: parsing, the unknown-key check and the messages use it.
 */
#include <errno.h>

#include <gio/gio.h>

#include "drivers/nc-gate.h"
#include "nc-config.h"
#include "nc-peer.h"
#include "util/nc-error.h"

typedef enum {
    KEY_STRING,  /* non-empty text (a path) */
    KEY_ADDRESS, /* an IPv4 or IPv6 literal */
    KEY_PORT,
    KEY_BOOL,
    KEY_CHOICE, /* one of @choices; stored as its index (an enum) */
    KEY_LOG_LEVEL,
    KEY_TIMEOUT_MS,
    KEY_GATE_LAPSE_MS, /* NC_GATE_LAPSE_MIN_MS to NC_GATE_LAPSE_MAX_MS */
} KeyType;

typedef struct {
    const char *group;
    const char *key;
    KeyType type;
    gsize offset;
    const char *const *choices;
} KeyDef;

static const char *const admission_names[] = {"refuse", "proceed", NULL};
static const char *const gate_mode_names[] = {"gate", "suspend", NULL};
static const char *const log_level_names[] = {"error", "critical", "warning", "message",
                                              "info",  "debug",    NULL};
static const GLogLevelFlags log_levels[] = {G_LOG_LEVEL_ERROR,   G_LOG_LEVEL_CRITICAL,
                                            G_LOG_LEVEL_WARNING, G_LOG_LEVEL_MESSAGE,
                                            G_LOG_LEVEL_INFO,    G_LOG_LEVEL_DEBUG};
G_STATIC_ASSERT(G_N_ELEMENTS(log_level_names) == G_N_ELEMENTS(log_levels) + 1);

#define TIMEOUT_MAX_MS 600000

#define OFF(field) G_STRUCT_OFFSET(NcConfig, field)
static const KeyDef keys[] = {
    {"listen", "address", KEY_ADDRESS, OFF(listen_address), NULL},
    {"listen", "port", KEY_PORT, OFF(listen_port), NULL},
    {"tls", "ca-file", KEY_STRING, OFF(tls_ca_file), NULL},
    {"tls", "server-cert", KEY_STRING, OFF(tls_server_cert), NULL},
    {"tls", "server-key", KEY_STRING, OFF(tls_server_key), NULL},
    {"tls", "client-cert", KEY_STRING, OFF(tls_client_cert), NULL},
    {"tls", "client-key", KEY_STRING, OFF(tls_client_key), NULL},
    {"tls", "crl-file", KEY_STRING, OFF(tls_crl_file), NULL},
    {"tls", "priority", KEY_STRING, OFF(tls_priority), NULL},
    {"migration", "admission", KEY_CHOICE, OFF(admission), admission_names},
    {"migration", "gate-mode", KEY_CHOICE, OFF(gate_mode), gate_mode_names},
    {"migration", "cleanup-source", KEY_BOOL, OFF(cleanup_source), NULL},
    {"daemon", "log-level", KEY_LOG_LEVEL, OFF(log_level), log_level_names},
    {"daemon", "hook-socket", KEY_STRING, OFF(hook_socket), NULL},
    {"timeouts", "hook-ms", KEY_TIMEOUT_MS, OFF(hook_timeout_ms), NULL},
    {"timeouts", "peer-connect-ms", KEY_TIMEOUT_MS, OFF(peer_connect_timeout_ms), NULL},
    {"timeouts", "peer-idle-ms", KEY_TIMEOUT_MS, OFF(peer_idle_timeout_ms), NULL},
    {"timeouts", "seal-ms", KEY_TIMEOUT_MS, OFF(seal_timeout_ms), NULL},
    {"timeouts", "authenticate-ms", KEY_TIMEOUT_MS, OFF(authenticate_timeout_ms), NULL},
    {"metrics", "textfile-dir", KEY_STRING, OFF(metrics_textfile_dir), NULL},
    {"timeouts", "gate-lapse-ms", KEY_GATE_LAPSE_MS, OFF(gate_lapse_ms), NULL},
};

const char *nc_admission_to_string(NcAdmission admission)
{
    return admission <= NC_ADMISSION_PROCEED ? admission_names[admission] : "?";
}

const char *nc_gate_mode_to_string(NcGateMode mode)
{
    return mode <= NC_GATE_MODE_SUSPEND ? gate_mode_names[mode] : "?";
}

/**
 * nc_config_new_default() - the configuration used when netcarry.conf is absent
 *
 * TLS files default to libvirt's own PKI locations, so hosts already set up for libvirt's TLS
 * migration need nothing more.
 *
 * Return: (transfer full): a configuration with every setting at its default
 */
NcConfig *nc_config_new_default(void)
{
    NcConfig *c = g_new0(NcConfig, 1);

    c->listen_address = g_strdup("0.0.0.0");
    c->listen_port = 16520;
    c->tls_ca_file = g_strdup("/etc/pki/CA/cacert.pem");
    c->tls_server_cert = g_strdup("/etc/pki/libvirt/servercert.pem");
    c->tls_server_key = g_strdup("/etc/pki/libvirt/private/serverkey.pem");
    c->tls_client_cert = g_strdup("/etc/pki/libvirt/clientcert.pem");
    c->tls_client_key = g_strdup("/etc/pki/libvirt/private/clientkey.pem");
    c->tls_crl_file = g_strdup("/etc/pki/CA/cacrl.pem");
    c->tls_priority = g_strdup("NORMAL:-VERS-ALL:+VERS-TLS1.3");
    c->admission = NC_ADMISSION_REFUSE;
    c->gate_mode = NC_GATE_MODE_GATE;
    c->cleanup_source = TRUE;
    c->log_level = G_LOG_LEVEL_MESSAGE;
    c->hook_socket = g_strdup("/run/netcarry/netcarryd.sock");
    c->hook_timeout_ms = 5000;
    c->peer_connect_timeout_ms = 3000;
    c->peer_idle_timeout_ms = NC_PEER_DEFAULT_IDLE_TIMEOUT_MS;
    c->seal_timeout_ms = 2000;
    c->authenticate_timeout_ms = 2000;
    /* node_exporter's textfile collector directory as Debian's prometheus-node-exporter sets it */
    c->metrics_textfile_dir = g_strdup("/var/lib/prometheus/node-exporter");
    c->gate_lapse_ms = NC_GATE_LAPSE_DEFAULT_MS;
    return c;
}

void nc_config_free(NcConfig *config)
{
    if (!config)
        return;
    g_free(config->listen_address);
    g_free(config->tls_ca_file);
    g_free(config->tls_server_cert);
    g_free(config->tls_server_key);
    g_free(config->tls_client_cert);
    g_free(config->tls_client_key);
    g_free(config->tls_crl_file);
    g_free(config->tls_priority);
    g_free(config->hook_socket);
    g_free(config->metrics_textfile_dir);
    g_free(config);
}

static const KeyDef *find_key(const char *group, const char *key)
{
    for (gsize i = 0; i < G_N_ELEMENTS(keys); i++) {
        if (g_str_equal(keys[i].group, group) && (!key || g_str_equal(keys[i].key, key)))
            return &keys[i];
    }
    return NULL;
}

static gboolean bad_value(const char *path, const KeyDef *def, const char *value,
                          const char *accepted, GError **error)
{
    g_set_error(error, NC_ERROR, NC_ERROR_INVALID_DATA,
                "%s: [%s] %s = '%s' is not valid: accepted values are %s", path, def->group,
                def->key, value, accepted);
    return FALSE;
}

static gboolean parse_uint(const char *value, guint64 min, guint64 max, guint64 *out)
{
    return g_ascii_string_to_unsigned(value, 10, min, max, out, NULL);
}

/* Parse one key's text into its field of @c. */
static gboolean parse_key(NcConfig *c, const char *path, const KeyDef *def, const char *value,
                          GError **error)
{
    gpointer field = G_STRUCT_MEMBER_P(c, def->offset);
    guint64 n;

    switch (def->type) {
    case KEY_STRING:
        if (!*value)
            return bad_value(path, def, value, "a non-empty path", error);
        g_free(*(char **)field);
        *(char **)field = g_strdup(value);
        return TRUE;
    case KEY_ADDRESS: {
        g_autoptr(GInetAddress) addr = g_inet_address_new_from_string(value);

        if (!addr)
            return bad_value(path, def, value, "an IPv4 or IPv6 address", error);
        g_free(*(char **)field);
        *(char **)field = g_strdup(value);
        return TRUE;
    }
    case KEY_PORT:
        if (!parse_uint(value, 1, 65535, &n))
            return bad_value(path, def, value, "a port number from 1 to 65535", error);
        *(guint16 *)field = n;
        return TRUE;
    case KEY_TIMEOUT_MS:
        if (!parse_uint(value, 1, TIMEOUT_MAX_MS, &n))
            return bad_value(path, def, value,
                             "milliseconds from 1 to " G_STRINGIFY(TIMEOUT_MAX_MS), error);
        *(guint *)field = n;
        return TRUE;
    case KEY_GATE_LAPSE_MS:
        if (!parse_uint(value, NC_GATE_LAPSE_MIN_MS, NC_GATE_LAPSE_MAX_MS, &n))
            return bad_value(path, def, value,
                             "milliseconds from " G_STRINGIFY(NC_GATE_LAPSE_MIN_MS) " to "
                             G_STRINGIFY(NC_GATE_LAPSE_MAX_MS), error);
        *(guint *)field = n;
        return TRUE;
    case KEY_BOOL:
        if (g_str_equal(value, "true"))
            *(gboolean *)field = TRUE;
        else if (g_str_equal(value, "false"))
            *(gboolean *)field = FALSE;
        else
            return bad_value(path, def, value, "true, false", error);
        return TRUE;
    case KEY_CHOICE:
    case KEY_LOG_LEVEL:
        for (guint i = 0; def->choices[i]; i++) {
            if (g_str_equal(value, def->choices[i])) {
                if (def->type == KEY_LOG_LEVEL)
                    *(GLogLevelFlags *)field = log_levels[i];
                else
                    *(int *)field = i;
                return TRUE;
            }
        }
        g_autofree char *accepted = g_strjoinv(", ", (char **)def->choices);
        return bad_value(path, def, value, accepted, error);
    }
    g_assert_not_reached();
}

/**
 * nc_config_load() - read a netcarry.conf
 * @path:  the file; a file that does not exist yields the defaults
 * @error: set when the file cannot be read, is not a key file, or has an unknown or bad key
 *
 * Return: (transfer full): the configuration, or NULL with @error set
 */
NcConfig *nc_config_load(const char *path, GError **error)
{
    g_autoptr(NcConfig) c = nc_config_new_default();
    g_autoptr(GKeyFile) kf = g_key_file_new();
    g_autoptr(GError) local = NULL;
    g_auto(GStrv) groups = NULL;

    if (!g_key_file_load_from_file(kf, path, G_KEY_FILE_NONE, &local)) {
        if (g_error_matches(local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
            return g_steal_pointer(&c);
        g_set_error(error, NC_ERROR,
                    local->domain == G_FILE_ERROR ? NC_ERROR_IO : NC_ERROR_INVALID_DATA,
                    "%s: cannot read the configuration: %s", path, local->message);
        return NULL;
    }

    groups = g_key_file_get_groups(kf, NULL);
    for (guint g = 0; groups[g]; g++) {
        g_auto(GStrv) names = g_key_file_get_keys(kf, groups[g], NULL, NULL);

        if (!find_key(groups[g], NULL)) {
            g_set_error(error, NC_ERROR, NC_ERROR_INVALID_DATA,
                        "%s: unknown group [%s]: accepted groups are [listen], [tls], "
                        "[migration], [daemon], [timeouts], [metrics]",
                        path, groups[g]);
            return NULL;
        }
        for (guint k = 0; names && names[k]; k++) {
            const KeyDef *def = find_key(groups[g], names[k]);
            g_autofree char *value = NULL;

            if (!def) {
                g_autoptr(GString) known = g_string_new(NULL);

                for (gsize i = 0; i < G_N_ELEMENTS(keys); i++) {
                    if (g_str_equal(keys[i].group, groups[g]))
                        g_string_append_printf(known, "%s%s", known->len ? ", " : "", keys[i].key);
                }
                g_set_error(error, NC_ERROR, NC_ERROR_INVALID_DATA,
                            "%s: unknown key '%s' in [%s]: accepted keys are %s", path, names[k],
                            groups[g], known->str);
                return NULL;
            }
            value = g_key_file_get_string(kf, groups[g], names[k], NULL);
            if (!value) {
                g_autofree char *raw = g_key_file_get_value(kf, groups[g], names[k], NULL);

                bad_value(path, def, raw ? raw : "", "UTF-8 text with valid escapes", error);
                return NULL;
            }
            if (!parse_key(c, path, def, g_strstrip(value), error))
                return NULL;
        }
    }
    return g_steal_pointer(&c);
}

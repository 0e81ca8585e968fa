/* nc-config.c - parse netcarry.conf (GKeyFile) against one table of known keys
 * The table is the single list of settings: parsing, the unknown-key check and the messages use it.
 */
#include <errno.h>
#include <string.h>

#include <gio/gio.h>

#include "conf/nc-ct-items.h"
#include "drivers/nc-gate.h"
#include "drivers/nc-state-driver.h"
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
    {"timeouts", "admission-max-ms", KEY_TIMEOUT_MS, OFF(admission_max_ms), NULL},
};

/* [point NAME], [map] and [map SITE]: groups outside the table, each parsed by its own function
 * below */
#define POINT_PREFIX "point "
#define MAP_PREFIX "map "
static const char *const point_keys[] = {"netns", "role", "classes", NULL};
static const char *const map_keys[] = {"zone", "mark", NULL};
static const char *const site_map_keys[] = {"sources", "zone", "mark", NULL};

const char *nc_admission_to_string(NcAdmission admission)
{
    return admission <= NC_ADMISSION_PROCEED ? admission_names[admission] : "?";
}

const char *nc_gate_mode_to_string(NcGateMode mode)
{
    return mode <= NC_GATE_MODE_SUSPEND ? gate_mode_names[mode] : "?";
}

static void point_free(NcStatePoint *p)
{
    if (!p)
        return;
    g_free(p->name);
    g_free(p->netns);
    g_strfreev(p->classes);
    g_free(p);
}

typedef NcStatePoint NcStatePointAuto;
G_DEFINE_AUTOPTR_CLEANUP_FUNC(NcStatePointAuto, point_free)

/**
 * nc_point_holds() - does @point hold @class_name's state ("conntrack", "nft-set", ...)?
 */
gboolean nc_point_holds(const NcStatePoint *point, const char *class_name)
{
    return g_strv_contains((const char *const *)point->classes, class_name);
}

/**
 * nc_value_map_apply() - translate a zone or mark as the source sent it into this site's value
 * @map:   NcValueMap pairs; empty: every value stays as it is
 * @value: (inout): translated in place
 *
 * Return: FALSE if @map is not empty and has no pair for @value: the entry is foreign here (a map
 * lists every value of the site, so an unlisted one is not the domain's)
 */
gboolean nc_value_map_apply(const GArray *map, guint32 *value)
{
    if (!map || !map->len)
        return TRUE;
    for (guint i = 0; i < map->len; i++) {
        const NcValueMap *m = &g_array_index(map, NcValueMap, i);

        if (m->from == *value) {
            *value = m->to;
            return TRUE;
        }
    }
    return FALSE;
}

static void site_map_free(NcSiteMap *m)
{
    if (!m)
        return;
    g_free(m->site);
    g_strfreev(m->sources);
    g_array_unref(m->zone);
    g_array_unref(m->mark);
    g_free(m);
}

/**
 * nc_config_add_map() - add a map group to @config: [map SITE] (@site) or [map] (@site NULL)
 * @sources: (array zero-terminated=1): [map SITE]: the sources' certificate names, none of them
 *           another map's already (nc_config_load() checks); NULL for [map]
 *
 * Return: (transfer none): the new map, empty (values as sent) until its pairs are added
 */
NcSiteMap *nc_config_add_map(NcConfig *config, const char *site, const char *const *sources)
{
    NcSiteMap *m;

    g_return_val_if_fail(site ? sources != NULL : !config->default_map, NULL);
    m = g_new0(NcSiteMap, 1);
    m->site = g_strdup(site);
    m->sources = g_strdupv((char **)sources);
    m->zone = g_array_new(FALSE, FALSE, sizeof(NcValueMap));
    m->mark = g_array_new(FALSE, FALSE, sizeof(NcValueMap));
    for (guint i = 0; m->sources && m->sources[i]; i++)
        g_hash_table_insert(config->map_by_source, m->sources[i], m);
    if (!site)
        config->default_map = m;
    g_ptr_array_add(config->maps, m);
    return m;
}

/**
 * nc_config_source_map() - which map translates the zones and marks of a source
 * @source: the CN of the source's certificate (checked at the TLS handshake), or NULL if it has
 *          none
 * @map:    (out) (transfer none): the source's [map SITE], else [map]; NULL when no map is
 *          configured at all (values as sent)
 *
 * Called per entry: without maps it costs one test, with them one hash lookup.
 *
 * Return: FALSE if maps are configured but none is this source's (no [map SITE] names it and
 * there is no [map]): this host does not know the source's numbering, so its entries are foreign
 */
gboolean nc_config_source_map(const NcConfig *config, const char *source, const NcSiteMap **map)
{
    *map = NULL;
    if (!config->maps->len)
        return TRUE;
    if (source)
        *map = g_hash_table_lookup(config->map_by_source, source);
    if (!*map)
        *map = config->default_map;
    return *map != NULL;
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
    c->admission_max_ms = 60000;
    c->peer_connect_timeout_ms = 3000;
    c->peer_idle_timeout_ms = NC_PEER_DEFAULT_IDLE_TIMEOUT_MS;
    c->seal_timeout_ms = 2000;
    c->authenticate_timeout_ms = 2000;
    /* node_exporter's textfile collector directory as Debian's prometheus-node-exporter sets it */
    c->metrics_textfile_dir = g_strdup("/var/lib/prometheus/node-exporter");
    c->gate_lapse_ms = NC_GATE_LAPSE_DEFAULT_MS;
    c->points = g_ptr_array_new_with_free_func((GDestroyNotify)point_free);
    c->maps = g_ptr_array_new_with_free_func((GDestroyNotify)site_map_free);
    c->map_by_source = g_hash_table_new(g_str_hash, g_str_equal);
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
    g_clear_pointer(&config->points, g_ptr_array_unref);
    g_clear_pointer(&config->map_by_source, g_hash_table_unref); /* borrows from @maps */
    g_clear_pointer(&config->maps, g_ptr_array_unref);
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
                             "milliseconds from " G_STRINGIFY(
                                 NC_GATE_LAPSE_MIN_MS) " to " G_STRINGIFY(NC_GATE_LAPSE_MAX_MS),
                             error);
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

/* The line of [@group] (@key NULL) or of @key in it, counting from 1; 0 if not found. GKeyFile
 * keeps no line numbers, so the text is scanned again for a message. */
static guint line_of(const char *text, const char *group, const char *key)
{
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    gboolean in_group = FALSE;

    for (guint i = 0; lines[i]; i++) {
        g_autofree char *l = g_strstrip(g_strdup(lines[i]));

        if (*l == '[') {
            g_autofree char *want = g_strdup_printf("[%s]", group);

            in_group = g_str_equal(l, want);
            if (in_group && !key)
                return i + 1;
            continue;
        }
        if (in_group && key && *l != '#') {
            const char *eq = strchr(l, '=');
            g_autofree char *name = eq ? g_strstrip(g_strndup(l, eq - l)) : NULL;

            if (name && g_str_equal(name, key))
                return i + 1;
        }
    }
    return 0;
}

static char *where(const char *path, const char *text, const char *group, const char *key)
{
    guint line = line_of(text, group, key);

    return line ? g_strdup_printf("%s:%u", path, line) : g_strdup(path);
}

static gboolean bad_extra(const char *at, const char *group, const char *key, const char *value,
                          const char *accepted, GError **error)
{
    g_set_error(error, NC_ERROR, NC_ERROR_INVALID_DATA, "%s: [%s] %s = '%s' is not valid: %s", at,
                group, key, value, accepted);
    return FALSE;
}

static gboolean check_keys(const char *path, const char *text, GKeyFile *kf, const char *group,
                           const char *const *known, GError **error)
{
    g_auto(GStrv) names = g_key_file_get_keys(kf, group, NULL, NULL);

    for (guint k = 0; names && names[k]; k++) {
        if (!g_strv_contains(known, names[k])) {
            g_autofree char *accepted = g_strjoinv(", ", (char **)known);
            g_autofree char *at = where(path, text, group, names[k]);

            g_set_error(error, NC_ERROR, NC_ERROR_INVALID_DATA,
                        "%s: unknown key '%s' in [%s]: accepted keys are %s", at, names[k], group,
                        accepted);
            return FALSE;
        }
    }
    return TRUE;
}

/* a point's or a site's name */
static gboolean name_ok(const char *name)
{
    return *name &&
           strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") ==
               strlen(name);
}

static gboolean class_known(const char *name)
{
    return g_str_equal(name, nc_ct_class.name) || nc_state_driver_lookup(name) != NULL;
}

/* [point NAME]: netns (absent: netcarryd's own), role (default filter;nat), classes (default
 * every class). */
static gboolean parse_point(NcConfig *c, const char *path, const char *text, GKeyFile *kf,
                            const char *group, GError **error)
{
    g_autoptr(NcStatePointAuto) p = g_new0(NcStatePoint, 1);
    const char *name = group + strlen(POINT_PREFIX);
    g_autofree char *at = where(path, text, group, NULL);

    if (!name_ok(name)) {
        g_set_error(error, NC_ERROR, NC_ERROR_INVALID_DATA,
                    "%s: [%s]: a point's name is letters, digits, '-' and '_'", at, group);
        return FALSE;
    }
    for (guint i = 0; i < c->points->len; i++) {
        const NcStatePoint *o = g_ptr_array_index(c->points, i);

        if (g_str_equal(o->name, name)) {
            g_set_error(error, NC_ERROR, NC_ERROR_INVALID_DATA, "%s: [%s] is given twice", at,
                        group);
            return FALSE;
        }
    }
    if (!check_keys(path, text, kf, group, point_keys, error))
        return FALSE;
    p->name = g_strdup(name);
    p->roles = NC_POINT_ROLE_ALL;
    if (g_key_file_has_key(kf, group, "netns", NULL)) {
        g_autofree char *v = g_key_file_get_string(kf, group, "netns", NULL);
        g_autofree char *kat = where(path, text, group, "netns");

        if (!v || !*g_strstrip(v) || strchr(v, '/') || g_str_equal(v, ".") || g_str_equal(v, ".."))
            return bad_extra(kat, group, "netns", v ? v : "",
                             "a network namespace's name under /run/netns (ip netns); leave the "
                             "key out for netcarryd's own namespace",
                             error);
        p->netns = g_steal_pointer(&v);
    }
    if (g_key_file_has_key(kf, group, "role", NULL)) {
        g_autofree char *raw = g_key_file_get_value(kf, group, "role", NULL);
        g_auto(GStrv) roles = g_key_file_get_string_list(kf, group, "role", NULL, NULL);
        g_autofree char *kat = where(path, text, group, "role");

        p->roles = 0;
        for (guint i = 0; roles && roles[i]; i++) {
            const char *r = g_strstrip(roles[i]);
            guint bit = g_str_equal(r, "filter") ? NC_POINT_ROLE_FILTER
                        : g_str_equal(r, "nat")  ? NC_POINT_ROLE_NAT
                                                 : 0;

            if (!bit)
                return bad_extra(kat, group, "role", raw ? raw : "",
                                 "a list of filter, nat (separated by ';')", error);
            p->roles |= bit;
        }
        if (!p->roles)
            return bad_extra(kat, group, "role", raw ? raw : "",
                             "a list of filter, nat (separated by ';')", error);
    }
    if (g_key_file_has_key(kf, group, "classes", NULL)) {
        g_autofree char *raw = g_key_file_get_value(kf, group, "classes", NULL);
        g_auto(GStrv) classes = g_key_file_get_string_list(kf, group, "classes", NULL, NULL);
        g_autofree char *kat = where(path, text, group, "classes");
        g_autoptr(GPtrArray) list = g_ptr_array_new_with_free_func(g_free);

        for (guint i = 0; classes && classes[i]; i++) {
            const char *cl = g_strstrip(classes[i]);

            if (!class_known(cl)) {
                g_autofree char *why = g_strdup_printf(
                    "'%s' is no class: accepted are conntrack and the registry's (netcarry "
                    "classes)",
                    cl);

                return bad_extra(kat, group, "classes", raw ? raw : "", why, error);
            }
            g_ptr_array_add(list, g_strdup(cl));
        }
        if (!list->len)
            return bad_extra(kat, group, "classes", raw ? raw : "",
                             "at least one class (separated by ';')", error);
        g_ptr_array_add(list, NULL);
        p->classes = (char **)g_ptr_array_free(g_steal_pointer(&list), FALSE);
    } else {
        guint n = 0;
        const NcStateDriver *const *all = nc_state_drivers(&n);
        g_autoptr(GPtrArray) list = g_ptr_array_new();

        g_ptr_array_add(list, g_strdup(nc_ct_class.name));
        for (guint i = 0; i < n; i++)
            g_ptr_array_add(list, g_strdup(all[i]->ops->name));
        g_ptr_array_add(list, NULL);
        p->classes = (char **)g_ptr_array_free(g_steal_pointer(&list), FALSE);
    }
    g_ptr_array_add(c->points, g_steal_pointer(&p));
    return TRUE;
}

static gboolean parse_value(const char *s, guint32 max, guint32 *out)
{
    guint64 n;

    if (g_str_has_prefix(s, "0x") || g_str_has_prefix(s, "0X"))
        return g_ascii_string_to_unsigned(s + 2, 16, 0, max, &n, NULL) && (*out = n, TRUE);
    return g_ascii_string_to_unsigned(s, 10, 0, max, &n, NULL) && (*out = n, TRUE);
}

/* [map] or [map SITE] (@group): zone = FROM:TO;... (0-65535), mark = FROM:TO;...
 * (0-0xffffffff, decimal or 0x hex) */
static gboolean parse_pairs(GArray *map, const char *path, const char *text, GKeyFile *kf,
                            const char *group, const char *key, guint32 max, GError **error)
{
    g_autofree char *raw = g_key_file_get_value(kf, group, key, NULL);
    g_auto(GStrv) pairs = g_key_file_get_string_list(kf, group, key, NULL, NULL);
    g_autofree char *at = where(path, text, group, key);
    g_autofree char *accepted = g_strdup_printf(
        "a list of SOURCE:HERE pairs separated by ';', each value 0-%u (decimal or 0x hex), each "
        "SOURCE once",
        max);

    if (!pairs || !pairs[0])
        return bad_extra(at, group, key, raw ? raw : "", accepted, error);
    for (guint i = 0; pairs[i]; i++) {
        g_auto(GStrv) fromto = g_strsplit(g_strstrip(pairs[i]), ":", 3);
        NcValueMap m;

        if (g_strv_length(fromto) != 2 || !parse_value(g_strstrip(fromto[0]), max, &m.from) ||
            !parse_value(g_strstrip(fromto[1]), max, &m.to))
            return bad_extra(at, group, key, raw ? raw : "", accepted, error);
        for (guint j = 0; j < map->len; j++) {
            if (g_array_index(map, NcValueMap, j).from == m.from)
                return bad_extra(at, group, key, raw ? raw : "", accepted, error);
        }
        g_array_append_val(map, m);
    }
    return TRUE;
}

/* [map] (the default for every source no site names) or [map SITE] (the sources its `sources`
 * key names by their certificate's CN): zone and mark pairs (docs/topology.md) */
static gboolean parse_map(NcConfig *c, const char *path, const char *text, GKeyFile *kf,
                          const char *group, GError **error)
{
    const char *site = g_str_has_prefix(group, MAP_PREFIX) ? group + strlen(MAP_PREFIX) : NULL;
    g_autofree char *at = where(path, text, group, NULL);
    g_auto(GStrv) sources = NULL;
    NcSiteMap *m;

    if (site && !name_ok(site)) {
        g_set_error(error, NC_ERROR, NC_ERROR_INVALID_DATA,
                    "%s: [%s]: a site's name is letters, digits, '-' and '_'", at, group);
        return FALSE;
    }
    if (!check_keys(path, text, kf, group, site ? site_map_keys : map_keys, error))
        return FALSE;
    if (site) {
        g_autofree char *raw = g_key_file_get_value(kf, group, "sources", NULL);
        g_autofree char *kat = where(path, text, group, "sources");
        g_autoptr(GPtrArray) list = g_ptr_array_new_with_free_func(g_free);
        const char *accepted = "the certificate names (CN) of the sources this map is for, "
                               "separated by ';'";

        if (!raw) {
            g_set_error(error, NC_ERROR, NC_ERROR_INVALID_DATA, "%s: [%s] has no key 'sources': %s",
                        at, group, accepted);
            return FALSE;
        }
        sources = g_key_file_get_string_list(kf, group, "sources", NULL, NULL);
        for (guint i = 0; sources && sources[i]; i++) {
            const char *name = g_strstrip(sources[i]);
            const NcSiteMap *o = g_hash_table_lookup(c->map_by_source, name);

            if (!*name)
                continue;
            if (o || g_ptr_array_find_with_equal_func(list, name, g_str_equal, NULL)) {
                g_autofree char *why =
                    g_strdup_printf("'%s' is in [%s%s] already: a source has one map", name,
                                    MAP_PREFIX, o ? o->site : site);

                return bad_extra(kat, group, "sources", raw, why, error);
            }
            g_ptr_array_add(list, g_strdup(name));
        }
        if (!list->len)
            return bad_extra(kat, group, "sources", raw, accepted, error);
        g_ptr_array_add(list, NULL);
        g_strfreev(sources);
        sources = (char **)g_ptr_array_free(g_steal_pointer(&list), FALSE);
    }
    m = nc_config_add_map(c, site, (const char *const *)sources);
    if (g_key_file_has_key(kf, group, "zone", NULL) &&
        !parse_pairs(m->zone, path, text, kf, group, "zone", G_MAXUINT16, error))
        return FALSE;
    if (g_key_file_has_key(kf, group, "mark", NULL) &&
        !parse_pairs(m->mark, path, text, kf, group, "mark", G_MAXUINT32, error))
        return FALSE;
    return TRUE;
}

/* Across points: a namespace is one point (its roles say all it does), and a class other than
 * conntrack lives in one point (its objects are named per host, not split by role). */
static gboolean check_points(const NcConfig *c, const char *path, const char *text, GError **error)
{
    for (guint i = 0; i < c->points->len; i++) {
        const NcStatePoint *p = g_ptr_array_index(c->points, i);

        for (guint j = 0; j < i; j++) {
            const NcStatePoint *o = g_ptr_array_index(c->points, j);
            g_autofree char *group = g_strconcat(POINT_PREFIX, p->name, NULL);
            g_autofree char *at = where(path, text, group, p->netns ? "netns" : NULL);

            if (g_strcmp0(p->netns, o->netns) == 0) {
                g_set_error(error, NC_ERROR, NC_ERROR_INVALID_DATA,
                            "%s: [%s] netns = '%s' is point '%s' already: give one point both "
                            "roles instead",
                            at, group, p->netns ? p->netns : "(netcarryd's own)", o->name);
                return FALSE;
            }
            for (guint k = 0; p->classes[k]; k++) {
                if (!g_str_equal(p->classes[k], nc_ct_class.name) &&
                    nc_point_holds(o, p->classes[k])) {
                    g_autofree char *kat = where(path, text, group, "classes");

                    g_set_error(error, NC_ERROR, NC_ERROR_INVALID_DATA,
                                "%s: [%s] classes: %s is held by point '%s' already: only "
                                "conntrack may be split between points (list the class in one; "
                                "a point without the key holds every class)",
                                kat, group, p->classes[k], o->name);
                    return FALSE;
                }
            }
        }
    }
    return TRUE;
}

/**
 * nc_config_load() - read a netcarry.conf
 * @path:  the file; a file that does not exist yields the defaults
 * @error: set when the file cannot be read, is not a key file, or has an unknown or bad key;
 *         the message names the file, the line, the group and the key
 *
 * Return: (transfer full): the configuration, or NULL with @error set
 */
NcConfig *nc_config_load(const char *path, GError **error)
{
    g_autoptr(NcConfig) c = nc_config_new_default();
    g_autoptr(GKeyFile) kf = g_key_file_new();
    g_autoptr(GError) local = NULL;
    g_auto(GStrv) groups = NULL;
    g_autofree char *text = NULL;
    gsize len = 0;

    if (!g_file_get_contents(path, &text, &len, &local) ||
        !g_key_file_load_from_data(kf, text, len, G_KEY_FILE_NONE, &local)) {
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

        if (g_str_has_prefix(groups[g], POINT_PREFIX)) {
            if (!parse_point(c, path, text, kf, groups[g], error))
                return NULL;
            continue;
        }
        if (g_str_equal(groups[g], "map") || g_str_has_prefix(groups[g], MAP_PREFIX)) {
            if (!parse_map(c, path, text, kf, groups[g], error))
                return NULL;
            continue;
        }
        if (!find_key(groups[g], NULL)) {
            g_autofree char *at = where(path, text, groups[g], NULL);

            g_set_error(error, NC_ERROR, NC_ERROR_INVALID_DATA,
                        "%s: unknown group [%s]: accepted groups are [listen], [tls], "
                        "[migration], [daemon], [timeouts], [metrics], [point NAME], [map], "
                        "[map SITE]",
                        at, groups[g]);
            return NULL;
        }
        for (guint k = 0; names && names[k]; k++) {
            const KeyDef *def = find_key(groups[g], names[k]);
            g_autofree char *value = NULL;
            g_autofree char *at = where(path, text, groups[g], names[k]);

            if (!def) {
                g_autoptr(GString) known = g_string_new(NULL);

                for (gsize i = 0; i < G_N_ELEMENTS(keys); i++) {
                    if (g_str_equal(keys[i].group, groups[g]))
                        g_string_append_printf(known, "%s%s", known->len ? ", " : "", keys[i].key);
                }
                g_set_error(error, NC_ERROR, NC_ERROR_INVALID_DATA,
                            "%s: unknown key '%s' in [%s]: accepted keys are %s", at, names[k],
                            groups[g], known->str);
                return NULL;
            }
            value = g_key_file_get_string(kf, groups[g], names[k], NULL);
            if (!value) {
                g_autofree char *raw = g_key_file_get_value(kf, groups[g], names[k], NULL);

                bad_value(at, def, raw ? raw : "", "UTF-8 text with valid escapes", error);
                return NULL;
            }
            if (!parse_key(c, at, def, g_strstrip(value), error))
                return NULL;
        }
    }
    if (!check_points(c, path, text, error))
        return NULL;
    return g_steal_pointer(&c);
}

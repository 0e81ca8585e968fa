/* test-config.c - netcarry.conf: defaults, every key, every bad value named, the shipped file
 * Files are written into a temporary directory per test.
 */
#include <string.h>

#include <glib/gstdio.h>

#include "nc-config.h"
#include "util/nc-error.h"

typedef struct {
    char *dir;
    char *path;
} Fixture;

static void setup(Fixture *f, gconstpointer data)
{
    f->dir = g_dir_make_tmp("nc-config-XXXXXX", NULL);
    g_assert_nonnull(f->dir);
    f->path = g_build_filename(f->dir, "netcarry.conf", NULL);
}

static void teardown(Fixture *f, gconstpointer data)
{
    g_unlink(f->path);
    g_rmdir(f->dir);
    g_free(f->path);
    g_free(f->dir);
}

static void write_conf(Fixture *f, const char *text)
{
    g_autoptr(GError) error = NULL;

    g_assert_true(g_file_set_contents(f->path, text, -1, &error));
}

static void assert_defaults(const NcConfig *c)
{
    g_assert_cmpstr(c->listen_address, ==, "0.0.0.0");
    g_assert_cmpuint(c->listen_port, ==, 16520);
    g_assert_cmpstr(c->tls_ca_file, ==, "/etc/pki/CA/cacert.pem");
    g_assert_cmpstr(c->tls_server_cert, ==, "/etc/pki/libvirt/servercert.pem");
    g_assert_cmpstr(c->tls_server_key, ==, "/etc/pki/libvirt/private/serverkey.pem");
    g_assert_cmpstr(c->tls_client_cert, ==, "/etc/pki/libvirt/clientcert.pem");
    g_assert_cmpstr(c->tls_client_key, ==, "/etc/pki/libvirt/private/clientkey.pem");
    g_assert_cmpint(c->admission, ==, NC_ADMISSION_REFUSE);
    g_assert_cmpint(c->gate_mode, ==, NC_GATE_MODE_GATE);
    g_assert_true(c->cleanup_source);
    g_assert_cmpint(c->log_level, ==, G_LOG_LEVEL_MESSAGE);
    g_assert_cmpstr(c->hook_socket, ==, "/run/netcarry/netcarryd.sock");
    g_assert_cmpuint(c->hook_timeout_ms, ==, 5000);
    g_assert_cmpuint(c->admission_max_ms, ==, 60000);
    g_assert_cmpuint(c->peer_connect_timeout_ms, ==, 3000);
    g_assert_cmpuint(c->seal_timeout_ms, ==, 2000);
    g_assert_cmpuint(c->gate_lapse_ms, ==, 10000);
}

static void test_missing_file(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(NcConfig) c = nc_config_load(f->path, &error);

    g_assert_no_error(error);
    assert_defaults(c);
}

static void test_empty_file(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;

    write_conf(f, "# nothing\n[migration]\n");
    g_autoptr(NcConfig) c = nc_config_load(f->path, &error);
    g_assert_no_error(error);
    assert_defaults(c);
}

static void test_every_key(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;

    write_conf(f, "[listen]\naddress = fd00::2\nport = 4242\n"
                  "[tls]\nca-file=/a/ca.pem\nserver-cert=/a/s.pem\nserver-key=/a/s.key\n"
                  "client-cert=/a/c.pem\nclient-key=/a/c.key\n"
                  "[migration]\nadmission=proceed\ngate-mode=suspend\ncleanup-source=false\n"
                  "[daemon]\nlog-level=debug\nhook-socket=/tmp/x.sock\n"
                  "[timeouts]\nhook-ms=250\npeer-connect-ms=1500\nseal-ms=600000\n"
                  "gate-lapse-ms=3000\nadmission-max-ms=90000\n");
    g_autoptr(NcConfig) c = nc_config_load(f->path, &error);
    g_assert_no_error(error);
    g_assert_cmpstr(c->listen_address, ==, "fd00::2");
    g_assert_cmpuint(c->listen_port, ==, 4242);
    g_assert_cmpstr(c->tls_ca_file, ==, "/a/ca.pem");
    g_assert_cmpstr(c->tls_server_cert, ==, "/a/s.pem");
    g_assert_cmpstr(c->tls_server_key, ==, "/a/s.key");
    g_assert_cmpstr(c->tls_client_cert, ==, "/a/c.pem");
    g_assert_cmpstr(c->tls_client_key, ==, "/a/c.key");
    g_assert_cmpint(c->admission, ==, NC_ADMISSION_PROCEED);
    g_assert_cmpint(c->gate_mode, ==, NC_GATE_MODE_SUSPEND);
    g_assert_false(c->cleanup_source);
    g_assert_cmpint(c->log_level, ==, G_LOG_LEVEL_DEBUG);
    g_assert_cmpstr(c->hook_socket, ==, "/tmp/x.sock");
    g_assert_cmpuint(c->hook_timeout_ms, ==, 250);
    g_assert_cmpuint(c->admission_max_ms, ==, 90000);
    g_assert_cmpuint(c->peer_connect_timeout_ms, ==, 1500);
    g_assert_cmpuint(c->seal_timeout_ms, ==, 600000);
    g_assert_cmpuint(c->gate_lapse_ms, ==, 3000);
    g_assert_cmpstr(nc_admission_to_string(c->admission), ==, "proceed");
    g_assert_cmpstr(nc_gate_mode_to_string(c->gate_mode), ==, "suspend");
}

/* one bad line, and what the error message must contain */
typedef struct {
    const char *text;
    const char *expect[3];
} BadCase;

static const BadCase bad_cases[] = {
    {"[listen]\naddress=myhost", {"[listen] address = 'myhost'", "IPv4 or IPv6"}},
    {"[listen]\nport=0", {"[listen] port = '0'", "1 to 65535"}},
    {"[listen]\nport=65536", {"[listen] port = '65536'", "1 to 65535"}},
    {"[listen]\nport=http", {"[listen] port = 'http'"}},
    {"[tls]\nca-file=", {"[tls] ca-file = ''", "non-empty path"}},
    {"[tls]\nserver-cert=", {"[tls] server-cert"}},
    {"[tls]\nserver-key=", {"[tls] server-key"}},
    {"[tls]\nclient-cert=", {"[tls] client-cert"}},
    {"[tls]\nclient-key=", {"[tls] client-key"}},
    {"[migration]\nadmission=maybe", {"[migration] admission = 'maybe'", "refuse, proceed"}},
    {"[migration]\ngate-mode=open", {"[migration] gate-mode = 'open'", "gate, suspend"}},
    {"[migration]\ncleanup-source=yes", {"[migration] cleanup-source = 'yes'", "true, false"}},
    {"[daemon]\nlog-level=verbose",
     {"[daemon] log-level = 'verbose'", "error, critical, warning, message, info, debug"}},
    {"[daemon]\nhook-socket=", {"[daemon] hook-socket"}},
    {"[timeouts]\nhook-ms=0", {"[timeouts] hook-ms = '0'", "1 to 600000"}},
    {"[timeouts]\npeer-connect-ms=-5", {"[timeouts] peer-connect-ms = '-5'"}},
    {"[timeouts]\nseal-ms=600001", {"[timeouts] seal-ms = '600001'"}},
    /* a gate may hold a guest back for at most 10 s after its daemon stopped renewing it */
    {"[timeouts]\ngate-lapse-ms=10001", {"[timeouts] gate-lapse-ms = '10001'", "1000 to 10000"}},
    {"[timeouts]\ngate-lapse-ms=999", {"[timeouts] gate-lapse-ms = '999'"}},
    {"[timeouts]\nhook=5000",
     {"unknown key 'hook' in [timeouts]",
      "hook-ms, peer-connect-ms, peer-idle-ms, seal-ms, authenticate-ms, gate-lapse-ms"}},
    {"[listen]\nadress=::1", {"unknown key 'adress' in [listen]", "address, port"}},
    {"[Listen]\naddress=::1", {"unknown group [Listen]", "[listen], [tls]"}},
    {"[migration]\nadmission=\\q", {"[migration] admission = '\\q'", "refuse, proceed"}},
    {"this is not a key file", {"cannot read the configuration"}},
    /* state points and maps: the line is named too */
    {"[listen]\nport=1\n\n[point fw]\nnetns=\n", {":5: [point fw] netns = ''", "/run/netns"}},
    {"[point fw]\nnetns=a/b", {":2: [point fw] netns = 'a/b'"}},
    {"[point fw]\nrole=filter;router", {":2: [point fw] role = 'filter;router'", "filter, nat"}},
    {"[point fw]\nrole=", {":2: [point fw] role = ''"}},
    {"[point fw]\nclasses=conntrack;nft-sets",
     {":2: [point fw] classes = 'conntrack;nft-sets'", "'nft-sets' is no class"}},
    {"[point fw]\nzone=7", {":2: unknown key 'zone' in [point fw]", "netns, role, classes"}},
    {"[point f/w]\nnetns=x", {":1: [point f/w]", "letters, digits"}},
    {"[point a]\nnetns=x\n[point b]\nnetns=x", {":4: [point b] netns = 'x' is point 'a'"}},
    {"[point a]\nnetns=x\n[point b]\nnetns=y\nclasses=nft-set\n",
     {":5: [point b] classes: nft-set is held by point 'a'"}},
    {"[map]\nzone=7:12;8", {":2: [map] zone = '7:12;8'", "SOURCE:HERE"}},
    {"[map]\nzone=7:65536", {":2: [map] zone = '7:65536'", "0-65535"}},
    {"[map]\nzone=7:12;7:13", {"[map] zone = '7:12;7:13'", "each SOURCE once"}},
    {"[map]\n\nmark=0x10:zz", {":3: [map] mark = '0x10:zz'"}},
    {"[map]\nzones=7:12", {":2: unknown key 'zones' in [map]", "zone, mark"}},
    {"[points]\nnetns=x", {":1: unknown group [points]", "[point NAME], [map], [map SITE]"}},
    {"[map paris]\nzone=7:12", {":1: [map paris] has no key 'sources'", "certificate names"}},
    {"[map paris]\nsources=;\nzone=7:12", {":2: [map paris] sources = ';'", "certificate names"}},
    {"[map pa ris]\nsources=a", {":1: [map pa ris]", "letters, digits"}},
    {"[map ]\nsources=a", {":1: [map ]", "a site's name"}},
    {"[map paris]\nsources=a\nzone=7:12;x", {":3: [map paris] zone = '7:12;x'", "SOURCE:HERE"}},
    {"[map paris]\nsources=a\n\nmark=1:2:3", {":4: [map paris] mark = '1:2:3'", "0x hex"}},
    {"[map paris]\nsources=a\nsource=b",
     {":3: unknown key 'source' in [map paris]", "sources, zone, mark"}},
    {"[map]\nsources=a", {":2: unknown key 'sources' in [map]", "zone, mark"}},
    {"[map paris]\nsources=a;b\n[map lyon]\nsources=c;b",
     {":4: [map lyon] sources = 'c;b'", "'b' is in [map paris] already"}},
    {"[map paris]\nsources=a;a", {":2: [map paris] sources = 'a;a'", "'a' is in [map paris]"}},
    {"[listen]\n# comment\nport=0", {":3: [listen] port = '0'"}},
};

/* Points in file order with their namespaces, roles and classes; maps as pairs. */
static void test_points_maps(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    const NcStatePoint *p;
    const NcValueMap *m;
    guint32 v;

    write_conf(f, "[point fw]\nnetns = host-fw\nrole = filter\nclasses = conntrack; nft-set\n"
                  "[point nat]\nnetns = router\nrole = nat\nclasses = conntrack\n"
                  "[point host]\nclasses = mdb\n"
                  "[map]\nzone = 7:12; 0:0\nmark = 0x10:0x20;5:6\n");
    g_autoptr(NcConfig) c = nc_config_load(f->path, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(c->points->len, ==, 3);
    p = g_ptr_array_index(c->points, 0);
    g_assert_cmpstr(p->name, ==, "fw");
    g_assert_cmpstr(p->netns, ==, "host-fw");
    g_assert_cmpuint(p->roles, ==, NC_POINT_ROLE_FILTER);
    g_assert_true(nc_point_holds(p, "conntrack"));
    g_assert_true(nc_point_holds(p, "nft-set"));
    g_assert_false(nc_point_holds(p, "mdb"));
    p = g_ptr_array_index(c->points, 1);
    g_assert_cmpstr(p->netns, ==, "router");
    g_assert_cmpuint(p->roles, ==, NC_POINT_ROLE_NAT);
    g_assert_false(nc_point_holds(p, "nft-set"));
    /* no netns, no role: netcarryd's own namespace, both roles */
    p = g_ptr_array_index(c->points, 2);
    g_assert_null(p->netns);
    g_assert_cmpuint(p->roles, ==, NC_POINT_ROLE_ALL);
    g_assert_nonnull(c->default_map);
    g_assert_cmpuint(c->maps->len, ==, 1);
    g_assert_null(c->default_map->site);
    g_assert_null(c->default_map->sources);
    g_assert_cmpuint(c->default_map->zone->len, ==, 2);
    m = &g_array_index(c->default_map->zone, NcValueMap, 0);
    g_assert_cmpuint(m->from, ==, 7);
    g_assert_cmpuint(m->to, ==, 12);
    g_assert_cmpuint(c->default_map->mark->len, ==, 2);
    m = &g_array_index(c->default_map->mark, NcValueMap, 0);
    g_assert_cmpuint(m->from, ==, 0x10);
    g_assert_cmpuint(m->to, ==, 0x20);
    v = 7;
    g_assert_true(nc_value_map_apply(c->default_map->zone, &v));
    g_assert_cmpuint(v, ==, 12);
    v = 3; /* not listed: foreign */
    g_assert_false(nc_value_map_apply(c->default_map->zone, &v));
    v = 3; /* an empty list: as sent */
    g_autoptr(NcConfig) d = nc_config_new_default();
    g_assert_true(nc_value_map_apply(d->default_map ? d->default_map->zone : NULL, &v));
    g_assert_cmpuint(v, ==, 3);
    g_assert_cmpuint(d->points->len, ==, 0);
    g_assert_cmpuint(d->maps->len, ==, 0);
}

/* [map SITE] per source site, picked by the source certificate's CN; [map] for every other
 * source; without [map], a source no site names is refused; without any map, all as sent. */
static void test_site_maps(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;
    const NcSiteMap *m = NULL;

    write_conf(f, "[map paris]\nsources = a.paris.example; b.paris.example\nzone = 7:12\n"
                  "mark = 0x10:0x20\n"
                  "[map lyon]\nsources = lyon-1.example\nzone = 7:14;0:0\n"
                  "[map]\nzone = 7:13\n");
    g_autoptr(NcConfig) c = nc_config_load(f->path, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(c->maps->len, ==, 3);
    g_assert_true(nc_config_source_map(c, "b.paris.example", &m));
    g_assert_cmpstr(m->site, ==, "paris");
    g_assert_cmpstr(m->sources[0], ==, "a.paris.example");
    g_assert_cmpuint(g_array_index(m->zone, NcValueMap, 0).to, ==, 12);
    g_assert_cmpuint(g_array_index(m->mark, NcValueMap, 0).to, ==, 0x20);
    g_assert_true(nc_config_source_map(c, "lyon-1.example", &m));
    g_assert_cmpstr(m->site, ==, "lyon");
    g_assert_cmpuint(m->zone->len, ==, 2);
    g_assert_cmpuint(m->mark->len, ==, 0); /* lyon's marks are this host's: as sent */
    g_assert_true(nc_config_source_map(c, "paris.example", &m)); /* names match whole */
    g_assert_null(m->site);
    g_assert_cmpuint(g_array_index(m->zone, NcValueMap, 0).to, ==, 13);
    g_assert_true(nc_config_source_map(c, NULL, &m)); /* a certificate without a CN */
    g_assert_true(m == c->default_map);

    /* per site only: a source no site names is not mapped, so refused */
    write_conf(f, "[map lyon]\nsources = lyon-1.example\nzone = 7:14\n");
    g_autoptr(NcConfig) only = nc_config_load(f->path, &error);
    g_assert_no_error(error);
    g_assert_null(only->default_map);
    g_assert_false(nc_config_source_map(only, "a.paris.example", &m));
    g_assert_false(nc_config_source_map(only, NULL, &m));
    g_assert_true(nc_config_source_map(only, "lyon-1.example", &m));

    /* an empty [map]: every source no site names is taken as sent */
    write_conf(f, "[map lyon]\nsources = lyon-1.example\nzone = 7:14\n[map]\n");
    g_autoptr(NcConfig) dflt = nc_config_load(f->path, &error);
    g_assert_no_error(error);
    g_assert_true(nc_config_source_map(dflt, "a.paris.example", &m));
    g_assert_true(m == dflt->default_map);
    g_assert_cmpuint(m->zone->len + m->mark->len, ==, 0);

    /* no map at all: every source as sent */
    g_autoptr(NcConfig) none = nc_config_new_default();
    m = (const NcSiteMap *)none; /* overwritten */
    g_assert_true(nc_config_source_map(none, "a.paris.example", &m));
    g_assert_null(m);
}

static void test_bad_value(Fixture *f, gconstpointer data)
{
    const BadCase *bc = data;
    g_autoptr(GError) error = NULL;

    write_conf(f, bc->text);
    g_autoptr(NcConfig) c = nc_config_load(f->path, &error);
    g_assert_null(c);
    g_assert_error(error, NC_ERROR, NC_ERROR_INVALID_DATA);
    g_test_message("%s", error->message);
    g_assert_true(g_str_has_prefix(error->message, f->path));
    for (int i = 0; i < 3 && bc->expect[i]; i++)
        g_assert_nonnull(strstr(error->message, bc->expect[i]));
}

static void test_unreadable(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;

    /* a directory where the file should be */
    g_assert_cmpint(g_mkdir(f->path, 0700), ==, 0);
    g_autoptr(NcConfig) c = nc_config_load(f->path, &error);
    g_rmdir(f->path);
    g_assert_null(c);
    g_assert_nonnull(error);
    g_assert_true(error->domain == NC_ERROR);
    g_assert_nonnull(strstr(error->message, "cannot read the configuration"));
}

/* The shipped file changes nothing, and its commented values are exactly the defaults. */
static void test_shipped_file(Fixture *f, gconstpointer data)
{
    const char *root = g_getenv("NETCARRY_SOURCE_ROOT");
    g_autofree char *shipped = NULL, *text = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(GRegex) uncomment = g_regex_new("^#([a-z-]+ = )", G_REGEX_MULTILINE, 0, NULL);

    if (!root) {
        g_test_skip("NETCARRY_SOURCE_ROOT is not set (run through meson test)");
        return;
    }
    shipped = g_build_filename(root, "src", "daemon", "netcarry.conf", NULL);
    g_autoptr(NcConfig) as_is = nc_config_load(shipped, &error);
    g_assert_no_error(error);
    assert_defaults(as_is);

    g_assert_true(g_file_get_contents(shipped, &text, NULL, NULL));
    g_autofree char *active = g_regex_replace(uncomment, text, -1, 0, "\\1", 0, NULL);
    g_assert_cmpstr(active, !=, text);
    write_conf(f, active);
    g_autoptr(NcConfig) c = nc_config_load(f->path, &error);
    g_assert_no_error(error);
    assert_defaults(c);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
#define ADD(path, d, fn) g_test_add(path, Fixture, d, setup, fn, teardown)
    ADD("/config/missing-file", NULL, test_missing_file);
    ADD("/config/empty-file", NULL, test_empty_file);
    ADD("/config/every-key", NULL, test_every_key);
    ADD("/config/unreadable", NULL, test_unreadable);
    ADD("/config/shipped-file", NULL, test_shipped_file);
    ADD("/config/points-maps", NULL, test_points_maps);
    ADD("/config/site-maps", NULL, test_site_maps);
    for (gsize i = 0; i < G_N_ELEMENTS(bad_cases); i++) {
        g_autofree char *path = g_strdup_printf("/config/bad/%zu", i);
        ADD(path, &bad_cases[i], test_bad_value);
    }
    return g_test_run();
}

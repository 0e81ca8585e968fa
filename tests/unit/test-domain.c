/* test-domain.c - libvirt domain XMLs as netcarry reads them: interfaces, nwfilter addresses,
 * the profile in <metadata>, the address rule, and the byte-exact profile rewrite
 */
#include <string.h>

#include "conf/nc-domain.h"
#include "util/nc-error.h"
#include "util/nc-xml.h"

#include "test-common.h"

static char *data_path(const char *file)
{
    return g_build_filename(nc_test_source_root(), "tests", "unit", "data", file, NULL);
}

static char *example_path(const char *file)
{
    return g_build_filename(nc_test_source_root(), "xml", "examples", file, NULL);
}

static char *read_data(const char *file)
{
    g_autofree char *path = data_path(file);
    g_autoptr(GError) error = NULL;
    char *text = NULL;

    g_assert_true(g_file_get_contents(path, &text, NULL, &error));
    g_assert_no_error(error);
    return text;
}

static NcDomain *parse_data(const char *file)
{
    g_autofree char *path = data_path(file);
    g_autoptr(GError) error = NULL;
    NcDomain *d = nc_domain_parse_file(path, &error);

    g_assert_no_error(error);
    g_assert_nonnull(d);
    return d;
}

static void assert_addr(const GArray *addrs, guint i, const char *text)
{
    g_autofree char *s = NULL;

    g_assert_cmpuint(i, <, addrs->len);
    s = nc_addr_to_string(&g_array_index(addrs, NcAddr, i));
    g_assert_cmpstr(s, ==, text);
}

static void assert_error_at(const GError *error, const char *name, int line, const char *what)
{
    g_autofree char *prefix = g_strdup_printf("%s:%d: ", name, line);

    g_assert_nonnull(error);
    g_test_message("%s", error->message);
    g_assert_cmpint(error->code, ==, NC_ERROR_INVALID_DATA);
    if (!g_str_has_prefix(error->message, prefix) || !strstr(error->message, what))
        g_error("expected \"%s... %s ...\", got \"%s\"", prefix, what, error->message);
}

/* ---- reading ---------------------------------------------------------------------------- */

/* what virDomainGetXMLDesc gives for a running domain with two interfaces */
static void test_running(void)
{
    g_autoptr(NcDomain) d = parse_data("domain-running.xml");
    const NcDomainIface *i0, *i1;

    g_assert_cmpstr(d->name, ==, "web-3");
    g_assert_cmpstr(d->uuid, ==, "0f8e2d1c-3b4a-4596-8778-695a4b3c2d1e");
    g_assert_cmpuint(d->interfaces->len, ==, 2);
    i0 = d->interfaces->pdata[0];
    g_assert_cmpstr(i0->type, ==, "bridge");
    g_assert_cmpstr(i0->mac, ==, "52:54:00:ab:cd:01");
    g_assert_cmpstr(i0->target_dev, ==, "vnet3");
    g_assert_cmpstr(i0->source_bridge, ==, "br0");
    g_assert_null(i0->source_network);
    g_assert_cmpstr(i0->filter, ==, "clean-traffic");
    g_assert_cmpuint(i0->filter_ips->len, ==, 3);
    assert_addr(i0->filter_ips, 0, "10.0.0.5");
    assert_addr(i0->filter_ips, 1, "10.0.0.6");
    assert_addr(i0->filter_ips, 2, "2001:db8::5");
    i1 = d->interfaces->pdata[1];
    g_assert_cmpstr(i1->type, ==, "network");
    g_assert_cmpstr(i1->target_dev, ==, "vnet4");
    g_assert_cmpstr(i1->source_network, ==, "default");
    g_assert_cmpstr(i1->source_bridge, ==, "virbr0");
    g_assert_null(i1->filter);
    g_assert_cmpuint(i1->filter_ips->len, ==, 0);
    g_assert_true(nc_domain_find_iface(d, "52:54:00:AB:CD:01") == i0);
    g_assert_null(nc_domain_find_iface(d, "52:54:00:ab:cd:03"));

    g_assert_nonnull(d->profile);
    g_assert_cmpuint(d->profile->addresses->len, ==, 2);
    assert_addr(d->profile->addresses, 0, "10.0.0.5");
    assert_addr(d->profile->addresses, 1, "2001:db8::5");
    g_assert_true(d->profile->has_zone);
    g_assert_cmpuint(d->profile->zone, ==, 7);
    g_assert_true(d->profile->has_mark);
    g_assert_cmphex(d->profile->mark, ==, 0x2a);
    g_assert_null(d->profile->rendezvous);
}

/* The owner view the destination checks carried state against: the addresses, every interface's
 * MAC (and bridge), the profile's objects, zone and mark. */
static void test_owner(void)
{
    g_autoptr(NcDomain) d = parse_data("domain-running.xml");
    g_autofree char *path = example_path("profile-objects.xml");
    g_autoptr(GError) error = NULL;
    g_autoptr(NcOwner) o = nc_domain_owner(d, &error);
    const NcObjectRef *r;

    g_assert_no_error(error);
    g_assert_nonnull(o);
    if (!o)
        return;
    g_assert_cmpuint(o->addresses->len, ==, 3); /* 10.0.0.5, 2001:db8::5, 10.0.0.6 */
    g_assert_cmpuint(o->macs->len, ==, 2);
    g_assert_true(nc_owner_has_mac(o, (const guint8[]){0x52, 0x54, 0, 0xab, 0xcd, 0x01}));
    g_assert_false(nc_owner_has_mac(o, (const guint8[]){0x52, 0x54, 0, 0xab, 0xcd, 0x03}));
    /* each interface's bridge for the mdb class's admission: type='bridge' names this host's;
     * a network's bridge (virbr0 on the source) is the destination libvirt's to choose */
    g_assert_cmpuint(o->ports->len, ==, 2);
    g_assert_cmpstr(
        nc_owner_find_port(o, (const guint8[]){0x52, 0x54, 0, 0xab, 0xcd, 0x01})->bridge, ==,
        "br0");
    g_assert_null(nc_owner_find_port(o, (const guint8[]){0x52, 0x54, 0, 0xab, 0xcd, 0x02})->bridge);
    g_assert_null(nc_owner_find_port(o, (const guint8[]){0x52, 0x54, 0, 0xab, 0xcd, 0x02})->ifname);
    g_assert_true(o->has_zone);
    g_assert_cmpuint(o->zone, ==, 7);
    g_assert_cmpuint(o->objects->len, ==, 0);

    nc_profile_free(d->profile);
    d->profile = nc_profile_parse_file(path, &error);
    g_assert_no_error(error);
    g_clear_pointer(&o, nc_owner_free);
    o = nc_domain_owner(d, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(o->objects->len, ==, 4);
    r = o->objects->pdata[1];
    g_assert_cmpstr(r->family, ==, "inet");
    g_assert_cmpstr(r->table, ==, "fw");
    g_assert_cmpstr(r->type, ==, "quota");
    g_assert_cmpstr(r->name, ==, "vm50q");
    r = o->objects->pdata[3];
    g_assert_null(r->type);
    g_assert_cmpuint(o->chains->len, ==, 0);

    /* what the ports need of a host (checked at admission): the bridge, or for a libvirt
     * network the network alone (the live XML's bridge is the source's), the nwfilter */
    g_assert_cmpuint(o->ports->len, ==, 2);
    {
        const NcOwnerPort *p0 = o->ports->pdata[0], *p1 = o->ports->pdata[1];

        g_assert_cmpmem(p0->mac, 6, ((const guint8[]){0x52, 0x54, 0, 0xab, 0xcd, 0x01}), 6);
        g_assert_cmpstr(p0->bridge, ==, "br0");
        g_assert_null(p0->network);
        g_assert_cmpstr(p0->filter, ==, "clean-traffic");
        g_assert_null(p0->vlan);
        g_assert_false(p0->bandwidth);
        g_assert_null(p1->bridge);
        g_assert_cmpstr(p1->network, ==, "default");
        g_assert_null(p1->filter);
    }

    /* the profile's per-VM chains, in order, beside its objects */
    g_free(path);
    path = example_path("profile-chains.xml");
    nc_profile_free(d->profile);
    d->profile = nc_profile_parse_file(path, &error);
    g_assert_no_error(error);
    g_clear_pointer(&o, nc_owner_free);
    o = nc_domain_owner(d, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(o->objects->len, ==, 1);
    g_assert_cmpuint(o->chains->len, ==, 2);
    r = o->chains->pdata[0];
    g_assert_cmpstr(r->family, ==, "inet");
    g_assert_cmpstr(r->table, ==, "fw");
    g_assert_cmpstr(r->name, ==, "vm50-in");
    g_assert_cmpstr(r->type, ==, "chain");
    r = o->chains->pdata[1];
    g_assert_cmpstr(r->family, ==, "ip6");
    g_assert_cmpstr(r->name, ==, "vm50-out");
    {
        g_autoptr(NcOwner) copy = nc_owner_copy(o);

        g_assert_cmpuint(copy->chains->len, ==, 2);
        g_assert_cmpuint(copy->ports->len, ==, 2);
        g_assert_cmpstr(((NcOwnerPort *)copy->ports->pdata[0])->bridge, ==, "br0");
        g_assert_cmpstr(((NcOwnerPort *)copy->ports->pdata[0])->filter, ==, "clean-traffic");
        g_assert_cmpstr(((NcOwnerPort *)copy->ports->pdata[1])->network, ==, "default");
    }

    /* a MAC that is not six hex bytes is an error naming the domain */
    g_free(((NcDomainIface *)d->interfaces->pdata[1])->mac);
    ((NcDomainIface *)d->interfaces->pdata[1])->mac = g_strdup("52:54:00:zz:00:01");
    g_clear_pointer(&o, nc_owner_free);
    o = nc_domain_owner(d, &error);
    g_assert_null(o);
    g_assert_error(error, NC_ERROR, NC_ERROR_INVALID_DATA);
    g_assert_nonnull(strstr(error->message, "web-3"));
}

/* the union: profile first, then nwfilter parameters, duplicates once */
static void test_addresses_union(void)
{
    g_autoptr(NcDomain) d = parse_data("domain-running.xml");
    g_autoptr(GError) error = NULL;
    g_autoptr(GArray) addrs = nc_domain_addresses(d, &error);

    g_assert_no_error(error);
    g_assert_cmpuint(addrs->len, ==, 3);
    assert_addr(addrs, 0, "10.0.0.5");
    assert_addr(addrs, 1, "2001:db8::5");
    assert_addr(addrs, 2, "10.0.0.6");
}

/* a defined domain with nothing but an nwfilter IP parameter; no tap yet */
static void test_nwfilter_only(void)
{
    g_autoptr(NcDomain) d = parse_data("domain-nwfilter-only.xml");
    g_autoptr(GError) error = NULL;
    g_autoptr(GArray) addrs = nc_domain_addresses(d, &error);
    const NcDomainIface *i0 = d->interfaces->pdata[0];

    g_assert_no_error(error);
    g_assert_null(d->profile);
    g_assert_null(i0->target_dev);
    g_assert_cmpuint(d->interfaces->len, ==, 1);
    g_assert_cmpuint(addrs->len, ==, 1);
    assert_addr(addrs, 0, "198.51.100.7");
}

static void test_no_address(void)
{
    g_autoptr(NcDomain) d = parse_data("domain-no-address.xml");
    g_autoptr(GError) error = NULL;
    g_autoptr(GArray) addrs = nc_domain_addresses(d, &error);

    g_assert_null(addrs);
    g_assert_error(error, NC_ERROR, NC_ERROR_NOT_FOUND);
    g_test_message("%s", error->message);
    g_assert_nonnull(
        strstr(error->message, "domain lonely (11111111-2222-4333-8444-555555555555)"));
    g_assert_nonnull(strstr(error->message, "add <address> to netcarry's profile in the domain "
                                            "metadata"));
    g_assert_nonnull(strstr(error->message, "nwfilter IP parameter"));
}

/* what the destination's migrate-begin hook receives: the source wrote the rendezvous */
static void test_rendezvous(void)
{
    g_autoptr(NcDomain) d = parse_data("domain-hook-begin.xml");
    const NcRendezvous *rv;

    g_assert_nonnull(d->profile);
    rv = d->profile->rendezvous;
    g_assert_nonnull(rv);
    g_assert_cmpstr(rv->host, ==, "hosta.example.net");
    g_assert_cmpuint(rv->port, ==, 16520);
    g_assert_cmpstr(rv->identity, ==, "hosta.example.net");
    g_assert_cmpstr(rv->migration_id, ==, "3e2b8a90-1c4d-4f5e-8a7b-6c5d4e3f2a1b");
    /* the secret the destination presents inside TLS reaches it only in this XML */
    g_assert_cmpstr(rv->secret, ==,
                    "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08");
    g_assert_null(((NcDomainIface *)d->interfaces->pdata[0])->target_dev);
}

/* a status file (/run/libvirt/qemu/NAME.xml) wraps the domain in <domstatus> */
static void test_domstatus(void)
{
    g_autofree char *xml = read_data("domain-running.xml");
    g_autofree char *wrapped = g_strdup_printf("<domstatus state='running' pid='4242'>\n"
                                               "  <monitor path='/x' type='unix'/>\n%s"
                                               "</domstatus>\n",
                                               xml);
    g_autoptr(GError) error = NULL;
    g_autoptr(NcDomain) d = nc_domain_parse_buffer(wrapped, strlen(wrapped), "status", &error);

    g_assert_no_error(error);
    g_assert_cmpstr(d->name, ==, "web-3");
    g_assert_cmpuint(d->interfaces->len, ==, 2);
}

typedef struct {
    const char *file;
    int line;
    const char *what;
} InvalidCase;

static const InvalidCase invalid_domains[] = {
    {"domain-bad-profile.xml", 7, "does not follow profile.rng"},
    {"domain-bad-profile-address.xml", 7, "'1:2:3:4:5:6:7::8' is not an IPv4 or IPv6 address"},
    {"domain-bad-nwfilter.xml", 9, "IP='2001:db8::42' is not an IPv4 address"},
};

static void test_invalid_domain(gconstpointer data)
{
    const InvalidCase *c = data;
    g_autofree char *path = data_path(c->file);
    g_autoptr(GError) error = NULL;
    g_autoptr(NcDomain) d = nc_domain_parse_file(path, &error);

    g_assert_null(d);
    assert_error_at(error, path, c->line, c->what);
    /* and the message names the domain */
    g_assert_nonnull(strstr(error->message, "domain bad-"));
}

static void test_not_a_domain(void)
{
    static const char net[] = "<network>\n  <name>default</name>\n</network>\n";
    static const char noname[] = "<domain type='kvm'>\n  <uuid>0f8e2d1c-3b4a-4596-8778-695a4b3c2d1e"
                                 "</uuid>\n</domain>\n";
    g_autoptr(GError) error = NULL;
    g_autoptr(NcDomain) d = nc_domain_parse_buffer(net, sizeof(net) - 1, "net.xml", &error);
    g_autoptr(NcDomain) d2 = NULL;
    g_autofree char *out = NULL;

    g_assert_null(d);
    assert_error_at(error, "net.xml", 1, "expected <domain>");
    g_clear_error(&error);
    d2 = nc_domain_parse_buffer(noname, sizeof(noname) - 1, "noname.xml", &error);
    g_assert_null(d2);
    assert_error_at(error, "noname.xml", 1, "no <name>");
    g_clear_error(&error);
    out = nc_domain_xml_set_profile(net, sizeof(net) - 1, "net.xml", NULL, &error);
    g_assert_null(out);
    assert_error_at(error, "net.xml", 1, "expected <domain>");
}

/* ---- the profile on its own ------------------------------------------------------------- */

/* canonical examples: parse -> format gives the file (NETCARRY_REGENERATE=1 rewrites it) */
static void test_profile_roundtrip(gconstpointer data)
{
    const char *path = data;
    g_autoptr(GError) error = NULL;
    g_autoptr(NcProfile) p = nc_profile_parse_file(path, &error);
    g_autoptr(NcProfile) again = NULL;
    g_autofree char *formatted = NULL;
    g_autofree char *expected = NULL;
    g_autofree char *with_nl = NULL;

    g_assert_no_error(error);
    formatted = nc_profile_format(p);
    with_nl = g_strconcat(formatted, "\n", NULL);
    if (g_strcmp0(g_getenv("NETCARRY_REGENERATE"), "1") == 0) {
        g_assert_true(g_file_set_contents(path, with_nl, -1, &error));
        return;
    }
    g_assert_true(g_file_get_contents(path, &expected, NULL, NULL));
    g_assert_cmpstr(with_nl, ==, expected);
    again = nc_profile_parse_buffer(formatted, strlen(formatted), "formatted", &error);
    g_assert_no_error(error);
    g_assert_cmpuint(again->addresses->len, ==, p->addresses->len);
}

/* a hand-written profile in any order reads like the canonical one */
static void test_profile_any_order(void)
{
    g_autofree char *path = example_path("profile-any-order.xml");
    g_autoptr(GError) error = NULL;
    g_autoptr(NcProfile) p = nc_profile_parse_file(path, &error);
    g_autofree char *formatted = NULL;

    g_assert_no_error(error);
    g_assert_cmpuint(p->addresses->len, ==, 2);
    assert_addr(p->addresses, 1, "2001:db8::5");
    g_assert_cmphex(p->mark, ==, 42);
    g_assert_cmpuint(p->zone, ==, 7);
    g_assert_cmpstr(p->rendezvous->identity, ==, "CN=hosta,O=example");
    g_assert_null(p->rendezvous->migration_id);
    formatted = nc_profile_format(p);
    g_assert_cmpstr(
        formatted, ==,
        "<profile xmlns=\"https://netcarry.dev/xmlns/profile/1\">\n"
        "  <address>10.0.0.5</address>\n  <address>2001:db8::5</address>\n"
        "  <zone>7</zone>\n  <mark>0x2a</mark>\n"
        "  <rendezvous host=\"hosta\" port=\"16520\" identity=\"CN=hosta,O=example\"/>\n"
        "</profile>");
}

static const InvalidCase invalid_profiles[] = {
    {"profile-chain-family-invalid.xml", 3, "profile.rng"},
    {"profile-chain-no-table-invalid.xml", 3, "profile.rng"},
    {"profile-host-invalid.xml", 2, "profile.rng"},
    {"profile-object-family-invalid.xml", 1, "profile.rng"},
    {"profile-ipv6-groups-invalid.xml", 3, "'1:2:3:4:5:6:7::8' is not an IPv4 or IPv6 address"},
    {"profile-learn-length-invalid.xml", 2, "'192.168.77.0/33' is not an address prefix"},
    {"profile-port-zero-invalid.xml", 3, "profile.rng"},
    {"profile-secret-short-invalid.xml", 3, "profile.rng"},
    {"profile-two-rendezvous-invalid.xml", 1, "profile.rng"},
    {"profile-unknown-element-invalid.xml", 3, "profile.rng"},
    {"profile-wrong-namespace-invalid.xml", 1, "https://netcarry.dev/xmlns/profile/1"},
    {"profile-zone-range-invalid.xml", 3, "profile.rng"},
};

static void test_profile_invalid(gconstpointer data)
{
    const InvalidCase *c = data;
    g_autofree char *path = example_path(c->file);
    g_autoptr(GError) error = NULL;
    g_autoptr(NcProfile) p = nc_profile_parse_file(path, &error);

    g_assert_null(p);
    assert_error_at(error, path, c->line, c->what);
}

/* every profile-*-invalid.xml example has a row above */
static void test_profile_invalid_coverage(void)
{
    g_autoptr(GPtrArray) files = nc_test_list_examples(TRUE);
    guint n = 0;

    for (guint i = 0; i < files->len; i++) {
        g_autofree char *base = g_path_get_basename(files->pdata[i]);
        gboolean found = FALSE;

        if (!g_str_has_prefix(base, "profile-"))
            continue;
        n++;
        for (guint j = 0; j < G_N_ELEMENTS(invalid_profiles) && !found; j++)
            found = strcmp(invalid_profiles[j].file, base) == 0;
        if (!found)
            g_error("%s has no row in invalid_profiles", base);
    }
    g_assert_cmpuint(n, ==, G_N_ELEMENTS(invalid_profiles));
}

/* ---- rewriting the profile -------------------------------------------------------------- */

/* @xml with netcarry's profile element (any prefix) cut out; NULL if it has none */
static char *cut_profile(const char *xml)
{
    g_autoptr(GRegex) re = g_regex_new("<([A-Za-z]+:)?profile xmlns(:[A-Za-z]+)?=\"https://"
                                       "netcarry\\.dev/xmlns/profile/1\"(/>|.*?</\\1profile>)",
                                       G_REGEX_DOTALL, 0, NULL);
    g_autoptr(GMatchInfo) m = NULL;
    g_autofree char *head = NULL;
    int s, e;

    if (!g_regex_match(re, xml, 0, &m))
        return NULL;
    g_assert_true(g_match_info_fetch_pos(m, 0, &s, &e));
    head = g_strndup(xml, (gsize)s);
    return g_strconcat(head, xml + e, NULL);
}

static NcProfile *new_profile(void)
{
    NcProfile *p = nc_profile_new();
    NcAddr a;

    g_assert_true(nc_addr_parse("10.0.0.5", &a, NULL));
    g_array_append_val(p->addresses, a);
    p->rendezvous = nc_rendezvous_new("hosta.example.net", 16520, "hosta.example.net",
                                      "3e2b8a90-1c4d-4f5e-8a7b-6c5d4e3f2a1b");
    return p;
}

/**
 * check_golden() - @out against tests/unit/data/@golden (NETCARRY_REGENERATE=1 writes it),
 * then that it parses to a domain whose profile is @profile
 */
static void check_golden(const char *out, const char *golden, const NcProfile *profile)
{
    g_autofree char *path = data_path(golden);
    g_autofree char *expected = NULL;
    g_autofree char *want = NULL;
    g_autofree char *got = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(NcDomain) d = NULL;

    if (g_strcmp0(g_getenv("NETCARRY_REGENERATE"), "1") == 0)
        g_assert_true(g_file_set_contents(path, out, -1, NULL));
    g_assert_true(g_file_get_contents(path, &expected, NULL, NULL));
    g_assert_cmpstr(out, ==, expected);
    d = nc_domain_parse_buffer(out, strlen(out), golden, &error);
    g_assert_no_error(error);
    if (!profile) {
        g_assert_null(d->profile);
        return;
    }
    want = nc_profile_format(profile);
    got = nc_profile_format(d->profile);
    g_assert_cmpstr(got, ==, want);
}

/* an existing element is replaced in place: every other byte stays */
static void test_set_replace(void)
{
    g_autofree char *in = read_data("domain-running.xml");
    g_autoptr(NcProfile) p = new_profile();
    g_autoptr(GError) error = NULL;
    g_autofree char *out = nc_domain_xml_set_profile(in, strlen(in), "in", p, &error);
    g_autofree char *in_cut = cut_profile(in);
    g_autofree char *out_cut = NULL;

    g_assert_no_error(error);
    out_cut = cut_profile(out);
    g_assert_nonnull(in_cut);
    g_assert_cmpstr(out_cut, ==, in_cut);
    check_golden(out, "domain-running.set.xml", p);
}

/* the same profile again gives the same bytes: a canonical element is left as it is */
static void test_set_same(void)
{
    g_autofree char *in = read_data("domain-running.xml");
    g_autoptr(NcDomain) d = parse_data("domain-running.xml");
    g_autoptr(GError) error = NULL;
    g_autofree char *out = nc_domain_xml_set_profile(in, strlen(in), "in", d->profile, &error);

    g_assert_no_error(error);
    g_assert_cmpstr(out, ==, in);
}

/* removed (with its line), then added back to the existing <metadata> */
static void test_set_remove_and_add(void)
{
    g_autofree char *in = read_data("domain-running.xml");
    g_autoptr(NcProfile) p = new_profile();
    g_autoptr(GError) error = NULL;
    g_autofree char *removed = nc_domain_xml_set_profile(in, strlen(in), "in", NULL, &error);
    g_autofree char *added = NULL;
    g_autofree char *again = NULL;
    g_autofree char *in_cut = cut_profile(in);
    g_autofree char *added_cut = NULL;

    g_assert_no_error(error);
    check_golden(removed, "domain-running.removed.xml", NULL);
    /* nothing but the profile's lines went */
    g_assert_cmpuint(strlen(in) - strlen(removed), ==, strlen(in) - strlen(in_cut) + 5);
    added = nc_domain_xml_set_profile(removed, strlen(removed), "removed", p, &error);
    g_assert_no_error(error);
    check_golden(added, "domain-running.added.xml", p);
    added_cut = cut_profile(added);
    g_assert_nonnull(added_cut);
    /* removing it again gives the removed document back */
    again = nc_domain_xml_set_profile(added, strlen(added), "added", NULL, &error);
    g_assert_no_error(error);
    g_assert_cmpstr(again, ==, removed);
    /* removing what is not there changes nothing */
    g_free(again);
    again = nc_domain_xml_set_profile(removed, strlen(removed), "removed", NULL, &error);
    g_assert_no_error(error);
    g_assert_cmpstr(again, ==, removed);
}

/* no <metadata>: one is created as the last child of <domain>; comments and '>' in text and
 * attribute values do not confuse the rewrite */
static void test_set_create_metadata(void)
{
    g_autofree char *in = read_data("domain-nwfilter-only.xml");
    g_autoptr(NcProfile) p = new_profile();
    g_autoptr(GError) error = NULL;
    g_autofree char *out = nc_domain_xml_set_profile(in, strlen(in), "in", p, &error);
    const char *end;

    g_assert_no_error(error);
    check_golden(out, "domain-nwfilter-only.set.xml", p);
    /* everything before </domain> is untouched */
    end = strstr(in, "</domain>");
    g_assert_true(strncmp(out, in, (gsize)(end - in)) == 0);
}

/* <metadata/> becomes an element with the profile inside */
static void test_set_empty_metadata(void)
{
    static const char in[] = "<domain type='qemu'>\n  <name>x</name>\n"
                             "  <uuid>0f8e2d1c-3b4a-4596-8778-695a4b3c2d1e</uuid>\n"
                             "  <metadata />\n  <devices/>\n</domain>\n";
    static const char want[] =
        "<domain type='qemu'>\n  <name>x</name>\n"
        "  <uuid>0f8e2d1c-3b4a-4596-8778-695a4b3c2d1e</uuid>\n"
        "  <metadata >\n"
        "    <netcarry:profile xmlns:netcarry=\"https://netcarry.dev/xmlns/profile/1\">\n"
        "      <netcarry:zone>3</netcarry:zone>\n"
        "    </netcarry:profile>\n"
        "  </metadata>\n  <devices/>\n</domain>\n";
    g_autoptr(NcProfile) p = nc_profile_new();
    g_autoptr(GError) error = NULL;
    g_autofree char *out = NULL;

    p->has_zone = TRUE;
    p->zone = 3;
    out = nc_domain_xml_set_profile(in, sizeof(in) - 1, "in", p, &error);
    g_assert_no_error(error);
    g_assert_cmpstr(out, ==, want);
}

/* the migrate-begin hook's case: the destination rewrites what the source wrote */
static void test_set_hook_filter(void)
{
    g_autofree char *in = read_data("domain-hook-begin.xml");
    g_autoptr(NcDomain) d = parse_data("domain-hook-begin.xml");
    g_autoptr(NcProfile) p = nc_profile_copy(d->profile);
    g_autoptr(GError) error = NULL;
    g_autofree char *out = NULL;
    g_autofree char *in_cut = cut_profile(in);
    g_autofree char *out_cut = NULL;

    g_clear_pointer(&p->rendezvous, nc_rendezvous_free);
    out = nc_domain_xml_set_profile(in, strlen(in), "hook", p, &error);
    g_assert_no_error(error);
    out_cut = cut_profile(out);
    g_assert_cmpstr(out_cut, ==, in_cut);
    g_assert_null(strstr(out, "rendezvous"));
    g_assert_nonnull(strstr(out, "<netcarry:address>192.0.2.20</netcarry:address>"));
}

/* a domain with two netcarry profiles is refused, not half-rewritten */
static void test_set_two_profiles(void)
{
    static const char in[] =
        "<domain>\n  <name>x</name>\n  <uuid>0f8e2d1c-3b4a-4596-8778-695a4b3c2d1e</uuid>\n"
        "  <metadata>\n    <a:profile xmlns:a=\"https://netcarry.dev/xmlns/profile/1\"/>\n"
        "    <b:profile xmlns:b=\"https://netcarry.dev/xmlns/profile/1\"/>\n  </metadata>\n"
        "</domain>\n";
    g_autoptr(NcProfile) p = nc_profile_new();
    g_autoptr(GError) error = NULL;
    g_autofree char *out = nc_domain_xml_set_profile(in, sizeof(in) - 1, "two.xml", p, &error);

    g_assert_null(out);
    assert_error_at(error, "two.xml", 6, "a second netcarry profile");
}

int main(int argc, char **argv)
{
    g_autoptr(GPtrArray) valid = NULL;

    g_test_init(&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
    g_test_add_func("/domain/parse/running", test_running);
    g_test_add_func("/domain/parse/domstatus", test_domstatus);
    g_test_add_func("/domain/parse/rendezvous", test_rendezvous);
    g_test_add_func("/domain/parse/not-a-domain", test_not_a_domain);
    for (guint i = 0; i < G_N_ELEMENTS(invalid_domains); i++) {
        g_autofree char *p = g_strdup_printf("/domain/invalid/%s", invalid_domains[i].file);

        g_test_add_data_func(p, &invalid_domains[i], test_invalid_domain);
    }
    g_test_add_func("/domain/owner", test_owner);
    g_test_add_func("/domain/addresses/union", test_addresses_union);
    g_test_add_func("/domain/addresses/nwfilter-only", test_nwfilter_only);
    g_test_add_func("/domain/addresses/none", test_no_address);

    valid = nc_test_list_examples(FALSE);
    for (guint i = 0; i < valid->len; i++) {
        g_autofree char *base = g_path_get_basename(valid->pdata[i]);
        g_autofree char *p = g_strdup_printf("/domain/profile/roundtrip/%s", base);

        if (!g_str_has_prefix(base, "profile-") || strcmp(base, "profile-any-order.xml") == 0)
            continue;
        g_test_add_data_func(p, valid->pdata[i], test_profile_roundtrip);
    }
    g_test_add_func("/domain/profile/any-order", test_profile_any_order);
    for (guint i = 0; i < G_N_ELEMENTS(invalid_profiles); i++) {
        g_autofree char *p =
            g_strdup_printf("/domain/profile/invalid/%s", invalid_profiles[i].file);

        g_test_add_data_func(p, &invalid_profiles[i], test_profile_invalid);
    }
    g_test_add_func("/domain/profile/invalid-coverage", test_profile_invalid_coverage);

    g_test_add_func("/domain/set-profile/replace", test_set_replace);
    g_test_add_func("/domain/set-profile/same", test_set_same);
    g_test_add_func("/domain/set-profile/remove-and-add", test_set_remove_and_add);
    g_test_add_func("/domain/set-profile/create-metadata", test_set_create_metadata);
    g_test_add_func("/domain/set-profile/empty-metadata", test_set_empty_metadata);
    g_test_add_func("/domain/set-profile/hook-filter", test_set_hook_filter);
    g_test_add_func("/domain/set-profile/two-profiles", test_set_two_profiles);
    return g_test_run();
}

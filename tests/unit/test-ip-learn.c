/* test-ip-learn.c - addresses libvirt's nwfilter learned: its lease file read for one domain, the
 * "ip-binding" class (encoding, ownership), and the domain XML that pins them
 */
#include <string.h>

#include "conf/nc-domain.h"
#include "conf/nc-ip-learn.h"
#include "util/nc-error.h"

#include "test-common.h"

#define UUID "5eaaf1ac-46a9-4165-b7ac-f478e9500a39"
#define OTHER "0f0f0f0f-46a9-4165-b7ac-f478e9500a39"
#define NOW 1800000000

static char *read_data(const char *file)
{
    g_autofree char *path =
        g_build_filename(nc_test_source_root(), "tests", "unit", "data", file, NULL);
    g_autoptr(GError) error = NULL;
    char *text = NULL;

    g_assert_true(g_file_get_contents(path, &text, NULL, &error));
    g_assert_no_error(error);
    return text;
}

static void assert_binding(GPtrArray *list, guint i, const char *mac, const char *addr,
                           gint64 expires)
{
    const NcIpBinding *b = list->pdata[i];
    char a[NC_ADDR_STRLEN];
    g_autofree char *m = nc_mac_to_string(b->mac);

    nc_addr_format(&b->addr, a, sizeof(a));
    g_assert_cmpstr(m, ==, mac);
    g_assert_cmpstr(a, ==, addr);
    g_assert_cmpint(b->expires, ==, expires);
}

/* libvirt's lease file is a log: later lines win, EXPIRY 0 ends a lease, other domains' skipped */
static void test_leases_parse(void)
{
    const char *text = "1800003600 " UUID "-52:54:00:77:00:50 192.168.77.50 192.168.77.1\n"
                       "1800003600 " OTHER "-52:54:00:77:00:50 192.168.77.99 192.168.77.1\n"
                       "1800000100 " UUID "-52:54:00:77:00:51 10.0.0.9 10.0.0.1\n"
                       "0 " UUID "-52:54:00:77:00:51 10.0.0.9 10.0.0.1\n"           /* released */
                       "1799999999 " UUID "-52:54:00:77:00:52 10.0.0.10 10.0.0.1\n" /* expired */
                       "\n"
                       "1800007200 "
                       "5EAAF1AC-46A9-4165-B7AC-F478E9500A39-52:54:00:77:00:50 192.168.77.50 "
                       "192.168.77.1\n"; /* renewed, upper case as an operator might write it */
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) list =
        nc_ip_leases_parse(text, strlen(text), "nwfilter.leases", UUID, NOW, &error);

    g_assert_no_error(error);
    g_assert_cmpuint(list->len, ==, 1);
    assert_binding(list, 0, "52:54:00:77:00:50", "192.168.77.50", 1800007200);
}

static void test_leases_empty(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) list = nc_ip_leases_parse("", 0, "nwfilter.leases", UUID, NOW, &error);

    g_assert_no_error(error);
    g_assert_cmpuint(list->len, ==, 0);
}

/* each malformed line is an error naming the file and the line */
static void test_leases_malformed(gconstpointer data)
{
    const char *bad = data;
    g_autofree char *text = g_strdup_printf(
        "1800003600 " UUID "-52:54:00:77:00:50 192.168.77.50 192.168.77.1\n%s\n", bad);
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) list =
        nc_ip_leases_parse(text, strlen(text), "nwfilter.leases", UUID, NOW, &error);

    g_assert_null(list);
    g_assert_error(error, NC_ERROR, NC_ERROR_INVALID_DATA);
    g_test_message("%s", error->message);
    g_assert_true(g_str_has_prefix(error->message, "nwfilter.leases:2: "));
}

static NcOwner *owner_of(const char *file)
{
    g_autofree char *xml = read_data(file);
    g_autoptr(GError) error = NULL;
    g_autoptr(NcDomain) d = nc_domain_parse_buffer(xml, strlen(xml), file, &error);
    NcOwner *o;

    g_assert_no_error(error);
    o = nc_domain_owner(d, &error);
    g_assert_no_error(error);
    return o;
}

static NcIpBinding *binding(const char *mac, const char *addr)
{
    guint8 m[6];
    NcAddr a;

    g_assert_true(nc_mac_parse(mac, m));
    g_assert_true(nc_addr_parse(addr, &a, NULL));
    return nc_ip_binding_new(m, &a, 1800003600);
}

/* which interfaces learn: a filterref, no IP parameter, CTRL_IP_LEARNING not none */
static void test_domain_learns(void)
{
    g_autofree char *xml = read_data("domain-ip-learning.xml");
    g_autoptr(GError) error = NULL;
    g_autoptr(NcDomain) d = nc_domain_parse_buffer(xml, strlen(xml), "d", &error);
    g_autoptr(GArray) addrs = NULL;

    g_assert_no_error(error);
    g_assert_cmpstr(nc_domain_iface_learns(d->interfaces->pdata[0]), ==, "dhcp");
    g_assert_null(nc_domain_iface_learns(d->interfaces->pdata[1])); /* IP given */
    g_assert_null(nc_domain_iface_learns(d->interfaces->pdata[2])); /* no filterref */
    g_assert_true(nc_domain_learns(d));
    /* the XML's address (the pinned interface's); the learned one comes from libvirt */
    addrs = nc_domain_addresses(d, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(addrs->len, ==, 1);
}

/* the learned address is the source's word: owned only for a learning interface of this XML */
static void test_owns(void)
{
    g_autoptr(NcOwner) o = owner_of("domain-ip-learning.xml");
    struct {
        const char *mac, *addr;
        gboolean owned;
        const char *why;
    } cases[] = {
        {"52:54:00:77:00:50", "192.168.77.50", TRUE, NULL},
        {"52:54:00:77:00:51", "10.9.9.9", FALSE, "does not learn"},
        {"52:54:00:77:00:52", "10.9.9.9", FALSE, "does not learn"},
        {"52:54:00:77:00:99", "192.168.77.50", FALSE, "no interface with this MAC"},
        {"52:54:00:77:00:50", "2001:db8::5", FALSE, "IPv4"},
    };

    for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(NcIpBinding) b = binding(cases[i].mac, cases[i].addr);
        g_autofree char *why = NULL;

        g_assert_cmpint(nc_ip_binding_class.owns(o, b, &why), ==, cases[i].owned);
        if (cases[i].why)
            g_assert_nonnull(strstr(why, cases[i].why));
    }
}

/* a profile that names prefixes to learn in: a learned address outside all of them is refused */
static void test_owns_prefixes(void)
{
    g_autoptr(NcOwner) o = owner_of("domain-ip-learning.xml");
    g_autoptr(NcIpBinding) in = binding("52:54:00:77:00:50", "192.168.77.50");
    g_autoptr(NcIpBinding) out = binding("52:54:00:77:00:50", "192.168.78.50");
    g_autofree char *why = NULL;
    NcPrefix px;

    g_assert_true(nc_prefix_parse("10.0.0.0/8", &px, NULL));
    g_array_append_val(o->learn_prefixes, px);
    g_assert_false(nc_ip_binding_class.owns(o, in, &why));
    g_assert_nonnull(strstr(why, "<learn prefix"));
    g_clear_pointer(&why, g_free);
    g_assert_true(nc_prefix_parse("192.168.77.0/25", &px, NULL));
    g_array_append_val(o->learn_prefixes, px);
    g_assert_true(nc_ip_binding_class.owns(o, in, NULL));
    g_assert_false(nc_ip_binding_class.owns(o, out, NULL));
    /* a prefix whose length cuts a byte */
    g_array_set_size(o->learn_prefixes, 0);
    g_assert_true(nc_prefix_parse("192.168.76.0/23", &px, NULL));
    g_array_append_val(o->learn_prefixes, px);
    g_assert_true(nc_ip_binding_class.owns(o, in, NULL));
    g_assert_false(nc_ip_binding_class.owns(o, out, NULL));
    g_assert_false(nc_prefix_parse("192.168.76.0/33", &px, NULL));
    g_assert_false(nc_prefix_parse("192.168.76.0", &px, NULL));
    g_assert_false(nc_prefix_parse("2001:db8::/129", &px, NULL));
    g_assert_true(nc_prefix_parse("2001:db8::/128", &px, NULL));
}

/* the profile's <learn prefix=.../> reaches the owner view */
static void test_profile_prefixes(void)
{
    g_autofree char *path =
        g_build_filename(nc_test_source_root(), "xml", "examples", "profile-learn.xml", NULL);
    g_autofree char *xml = read_data("domain-ip-learning.xml");
    g_autoptr(GError) error = NULL;
    g_autoptr(NcDomain) d = nc_domain_parse_buffer(xml, strlen(xml), "d", &error);
    g_autoptr(NcOwner) o = NULL;
    g_autofree char *p0 = NULL;

    g_assert_no_error(error);
    d->profile = nc_profile_parse_file(path, &error);
    g_assert_no_error(error);
    o = nc_domain_owner(d, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(o->learn_prefixes->len, ==, 2);
    p0 = nc_prefix_to_string(&g_array_index(o->learn_prefixes, NcPrefix, 0));
    g_assert_cmpstr(p0, ==, "192.168.77.0/24");
}

/* what the peer carries: the canonical bytes decode to the same binding; garbage does not */
static void test_encoding(void)
{
    g_autoptr(NcIpBinding) b = binding("52:54:00:77:00:50", "192.168.77.50");
    g_autoptr(GByteArray) enc = g_byte_array_new();
    g_autoptr(GError) error = NULL;
    g_autoptr(NcIpBinding) back = NULL;
    g_autofree char *what = NULL;

    g_assert_true(nc_ip_binding_class.encode(b, enc, &error));
    back = nc_ip_binding_class.decode(enc->data, enc->len, &error);
    g_assert_no_error(error);
    g_assert_cmpmem(back, sizeof(*back), b, sizeof(*b));
    what = nc_ip_binding_class.describe(back);
    g_assert_cmpstr(what, ==, "learned address 192.168.77.50 of interface 52:54:00:77:00:50");
    g_assert_null(nc_ip_binding_class.decode(enc->data, enc->len - 1, &error));
    g_assert_error(error, NC_ERROR, NC_ERROR_INVALID_DATA);
}

/* the destination's answer to libvirt: IP added to the right filterref, the others untouched */
static void test_pin_xml(void)
{
    g_autofree char *xml = read_data("domain-ip-learning.xml");
    g_autoptr(GPtrArray) list = g_ptr_array_new_with_free_func((GDestroyNotify)nc_ip_binding_free);
    g_autoptr(GError) error = NULL;
    g_autofree char *out = NULL;
    g_autofree char *again = NULL;
    g_autoptr(NcDomain) d = NULL;
    const NcDomainIface *i0, *i1, *i2;

    g_ptr_array_add(list, binding("52:54:00:77:00:50", "192.168.77.50"));
    out = nc_ip_learn_pin_xml(xml, strlen(xml), "d", list, &error);
    g_assert_no_error(error);
    d = nc_domain_parse_buffer(out, strlen(out), "pinned", &error);
    g_assert_no_error(error);
    i0 = d->interfaces->pdata[0];
    i1 = d->interfaces->pdata[1];
    i2 = d->interfaces->pdata[2];
    /* pinned: libvirt learns no more; its own parameters kept */
    g_assert_cmpuint(i0->filter_ips->len, ==, 1);
    g_assert_null(nc_domain_iface_learns(i0));
    g_assert_cmpstr(i0->learning, ==, "dhcp");
    g_assert_nonnull(strstr(out, "DHCPSERVER"));
    g_assert_cmpstr(i0->mac, ==, "52:54:00:77:00:50");
    g_assert_cmpstr(i0->target_dev, ==, "vnet3");
    g_assert_cmpuint(i1->filter_ips->len, ==, 1);
    g_assert_null(i2->filter);
    /* pinning again adds nothing */
    again = nc_ip_learn_pin_xml(out, strlen(out), "d", list, &error);
    g_assert_no_error(error);
    g_assert_cmpstr(again, ==, out);
}

/* a MAC without an interface (or without a filterref) is refused, naming the MAC */
static void test_pin_xml_refused(gconstpointer data)
{
    g_autofree char *xml = read_data("domain-ip-learning.xml");
    g_autoptr(GPtrArray) list = g_ptr_array_new_with_free_func((GDestroyNotify)nc_ip_binding_free);
    g_autoptr(GError) error = NULL;
    g_autofree char *out = NULL;

    g_ptr_array_add(list, binding(data, "192.168.77.50"));
    out = nc_ip_learn_pin_xml(xml, strlen(xml), "d", list, &error);
    g_assert_null(out);
    g_assert_error(error, NC_ERROR, NC_ERROR_NOT_FOUND);
    g_assert_nonnull(strstr(error->message, data));
}

int main(int argc, char **argv)
{
    static const char *const malformed[] = {
        "1800003600 " UUID "-52:54:00:77:00:50 192.168.77.50",          /* 3 fields */
        "soon " UUID "-52:54:00:77:00:50 192.168.77.50 192.168.77.1",   /* expiry */
        "1800003600 " UUID "+52:54:00:77:00:50 192.168.77.50 1.1.1.1",  /* key */
        "1800003600 " UUID "-52:54:00:77:00:5g 192.168.77.50 1.1.1.1",  /* MAC */
        "1800003600 " UUID "-52:54:00:77:00:50 192.168.77.500 1.1.1.1", /* address */
        "1800003600 " UUID "-52:54:00:77:00:50 2001:db8::1 1.1.1.1",    /* IPv6 */
    };

    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/ip-learn/leases/parse", test_leases_parse);
    g_test_add_func("/ip-learn/leases/empty", test_leases_empty);
    for (guint i = 0; i < G_N_ELEMENTS(malformed); i++) {
        g_autofree char *path = g_strdup_printf("/ip-learn/leases/malformed/%u", i);

        g_test_add_data_func(path, malformed[i], test_leases_malformed);
    }
    g_test_add_func("/ip-learn/domain-learns", test_domain_learns);
    g_test_add_func("/ip-learn/owns", test_owns);
    g_test_add_func("/ip-learn/owns/prefixes", test_owns_prefixes);
    g_test_add_func("/ip-learn/profile-prefixes", test_profile_prefixes);
    g_test_add_func("/ip-learn/encoding", test_encoding);
    g_test_add_func("/ip-learn/pin-xml", test_pin_xml);
    g_test_add_data_func("/ip-learn/pin-xml/unknown-mac", "52:54:00:77:00:99",
                         test_pin_xml_refused);
    g_test_add_data_func("/ip-learn/pin-xml/no-filterref", "52:54:00:77:00:52",
                         test_pin_xml_refused);
    return g_test_run();
}

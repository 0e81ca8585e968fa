/* test-mdb-items.c - the mdb class's items with no kernel: identity, canonical bytes and their
 * decoding (a peer's bytes are untrusted), ownership by the interface's MAC, libvirt's tap MAC,
 * and the bundle's <mdb> section
 */
#include <string.h>

#include "conf/nc-bundle.h"
#include "conf/nc-mdb-items.h"
#include "util/nc-error.h"

static NcMdbEntry *entry(const char *mac, const char *group, const char *source, gboolean permanent)
{
    NcMdbEntry *e = g_new0(NcMdbEntry, 1);

    g_assert_true(nc_mac_parse(mac, e->mac));
    g_assert_true(nc_addr_parse(group, &e->group, NULL));
    if (source)
        g_assert_true(nc_addr_parse(source, &e->source, NULL));
    e->permanent = permanent;
    return e;
}

static GByteArray *encode(const NcMdbEntry *e)
{
    GByteArray *b = g_byte_array_new();
    g_autoptr(GError) error = NULL;

    g_assert_true(nc_mdb_class.encode(e, b, &error));
    g_assert_no_error(error);
    return b;
}

/* The key is (MAC, group, source): the state is not identity, a source is. Encode and decode
 * give the same item back. */
static void test_identity(void)
{
    g_autoptr(NcItemSet) set = nc_item_set_new(&nc_mdb_class);
    gboolean replaced = FALSE;
    g_autoptr(NcMdbEntry) e = entry("52:54:00:12:34:56", "ff0e::1:4", "2001:db8::9", TRUE);
    g_autoptr(GByteArray) b = encode(e);
    g_autoptr(GError) error = NULL;
    g_autoptr(NcMdbEntry) back = nc_mdb_class.decode(b->data, b->len, &error);

    g_assert_no_error(error);
    g_assert_nonnull(back);
    g_assert_cmpmem(back, sizeof(*back), e, sizeof(*e));

    g_assert_true(nc_item_set_upsert(set, entry("52:54:00:12:34:56", "239.1.1.1", NULL, FALSE),
                                     &replaced, NULL));
    g_assert_true(nc_item_set_upsert(set, entry("52:54:00:12:34:56", "239.1.1.1", NULL, TRUE),
                                     &replaced, NULL));
    g_assert_true(replaced); /* same key: temp became permanent */
    g_assert_true(nc_item_set_upsert(
        set, entry("52:54:00:12:34:56", "239.1.1.1", "10.0.0.9", FALSE), &replaced, NULL));
    g_assert_false(replaced);
    g_assert_true(nc_item_set_upsert(set, entry("52:54:00:12:34:57", "239.1.1.1", NULL, FALSE),
                                     &replaced, NULL));
    g_assert_false(replaced);
    g_assert_cmpuint(nc_item_set_count(set), ==, 3);
}

/* Bytes that are no entry are refused, naming why: a short or long item, a state byte that is
 * not 0 or 1, a unicast group, a source of the other family or a multicast source. */
static void test_decode_refuses(void)
{
    struct {
        const char *why;
        NcMdbEntry *e;
        int patch_at;
        guint8 value;
    } cases[] = {
        {"permanent", entry("52:54:00:00:00:01", "239.1.1.1", NULL, FALSE), 40, 2},
        {"not a multicast", entry("52:54:00:00:00:01", "239.1.1.1", NULL, FALSE), 7, 10},
        {"family", entry("52:54:00:00:00:01", "239.1.1.1", "10.0.0.9", FALSE), 23, AF_INET6},
        {"neither IPv4 nor IPv6", entry("52:54:00:00:00:01", "239.1.1.1", NULL, FALSE), 6, 7},
        {"source is a multicast", entry("52:54:00:00:00:01", "239.1.1.1", "10.0.0.9", FALSE), 24,
         224},
    };

    for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(GByteArray) b = encode(cases[i].e);
        g_autoptr(GError) error = NULL;

        b->data[cases[i].patch_at] = cases[i].value;
        g_assert_null(nc_mdb_class.decode(b->data, b->len, &error));
        g_assert_error(error, NC_ERROR, NC_ERROR_INVALID_DATA);
        g_test_message("%s: %s", cases[i].why, error->message);
        g_assert_nonnull(strstr(error->message, cases[i].why));
        nc_mdb_entry_free(cases[i].e);
    }
    {
        g_autoptr(NcMdbEntry) e = entry("52:54:00:00:00:01", "239.1.1.1", NULL, FALSE);
        g_autoptr(GByteArray) b = encode(e);
        g_autoptr(GError) error = NULL;

        g_assert_null(nc_mdb_class.decode(b->data, b->len - 1, &error));
        g_assert_error(error, NC_ERROR, NC_ERROR_INVALID_DATA);
        g_clear_error(&error);
        g_byte_array_append(b, (const guint8 *)"\0\0", 2);
        g_assert_null(nc_mdb_class.decode(b->data, b->len, &error));
        g_assert_error(error, NC_ERROR, NC_ERROR_INVALID_DATA);
    }
}

/* An entry is the domain's when its MAC is one of the domain's interfaces' (or a port the
 * command line named); another VM's is refused with why. */
static void test_owns(void)
{
    g_autoptr(NcOwner) owner = nc_owner_new();
    g_autoptr(NcMdbEntry) mine = entry("52:54:00:12:34:56", "239.1.1.1", NULL, FALSE);
    g_autoptr(NcMdbEntry) other = entry("52:54:00:99:99:99", "239.1.1.1", NULL, FALSE);
    g_autoptr(NcMdbEntry) port = entry("fe:54:00:12:34:56", "239.1.1.1", NULL, FALSE);
    g_autofree char *why = NULL;

    g_array_append_vals(owner->macs, mine->mac, 1);
    g_assert_true(nc_mdb_class.owns(owner, mine, NULL));
    g_assert_false(nc_mdb_class.owns(owner, other, &why));
    g_assert_nonnull(strstr(why, "MAC"));
    g_assert_false(nc_mdb_class.owns(owner, port, NULL));
    nc_owner_add_port(owner, port->mac, "vnet0", NULL);
    g_assert_true(nc_mdb_class.owns(owner, port, NULL));
}

/* libvirt's tap for a bridged interface: the guest's MAC with the first byte fe (fa when the
 * guest's is fe); or the interface's MAC itself. */
static void test_tap_mac(void)
{
    guint8 guest[6], tap[6];

    g_assert_true(nc_mac_parse("52:54:00:12:34:56", guest));
    g_assert_true(nc_mac_parse("fe:54:00:12:34:56", tap));
    g_assert_true(nc_mdb_port_mac_matches(guest, tap));
    g_assert_true(nc_mdb_port_mac_matches(guest, guest));
    tap[5] = 0x57;
    g_assert_false(nc_mdb_port_mac_matches(guest, tap));
    g_assert_true(nc_mac_parse("fa:54:00:12:34:56", tap));
    g_assert_false(nc_mdb_port_mac_matches(guest, tap));
    guest[0] = 0xfe;
    g_assert_true(nc_mdb_port_mac_matches(guest, tap));
    g_assert_false(nc_mac_parse("52:54:00:12:34", guest));
    g_assert_false(nc_mac_parse("52-54-00-12-34-56", guest));
    g_assert_false(nc_mac_parse("52:54:00:12:34:5g", guest));
}

/* A bundle with an <mdb> section and a <port> reads back as written (format, parse, format), and
 * its owner holds the port's MAC; a unicast group is refused with its line. */
static void test_bundle(void)
{
    g_autoptr(NcBundle) b = nc_bundle_new();
    g_autoptr(NcBundle) back = NULL;
    g_autoptr(NcOwner) owner = NULL;
    g_autoptr(GError) error = NULL;
    g_autofree char *xml = NULL, *again = NULL;
    g_autofree char *bad = NULL;
    NcOwnerPort *p = g_new0(NcOwnerPort, 1);
    NcItemSet *set = nc_item_set_new(&nc_mdb_class);
    NcAddr a;

    g_assert_true(nc_addr_parse("10.0.0.5", &a, NULL));
    g_array_append_val(b->addresses, a);
    b->host = g_strdup("a");
    b->captured_us = 1700000000000000;
    g_assert_true(nc_mac_parse("fe:54:00:12:34:56", p->mac));
    p->ifname = g_strdup("vnet3");
    g_ptr_array_add(b->ports, p);
    nc_item_set_upsert(set, entry("fe:54:00:12:34:56", "239.1.1.1", NULL, FALSE), NULL, NULL);
    nc_item_set_upsert(set, entry("fe:54:00:12:34:56", "239.1.1.2", NULL, TRUE), NULL, NULL);
    nc_item_set_upsert(set, entry("fe:54:00:12:34:56", "ff0e::1:4", "2001:db8::9", FALSE), NULL,
                       NULL);
    nc_bundle_take_class_items(b, set);
    xml = nc_bundle_format(b);
    back = nc_bundle_parse_buffer(xml, strlen(xml), "test", &error);
    g_assert_no_error(error);
    g_assert_nonnull(back);
    g_assert_nonnull(back->mdb);
    g_assert_cmpuint(nc_item_set_count(back->mdb), ==, 3);
    again = nc_bundle_format(back);
    g_assert_cmpstr(again, ==, xml);
    owner = nc_bundle_owner(back);
    g_assert_true(nc_owner_has_mac(owner, p->mac));

    bad = g_strdup(xml);
    memcpy(strstr(bad, "239.1.1.1"), "139.1.1.1", 9);
    g_clear_pointer(&back, nc_bundle_free);
    back = nc_bundle_parse_buffer(bad, strlen(bad), "edited", &error);
    g_assert_null(back);
    g_assert_error(error, NC_ERROR, NC_ERROR_INVALID_DATA);
    g_assert_nonnull(strstr(error->message, "not a multicast address"));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/mdb-items/identity", test_identity);
    g_test_add_func("/mdb-items/decode-refuses", test_decode_refuses);
    g_test_add_func("/mdb-items/owns", test_owns);
    g_test_add_func("/mdb-items/tap-mac", test_tap_mac);
    g_test_add_func("/mdb-items/bundle", test_bundle);
    return g_test_run();
}

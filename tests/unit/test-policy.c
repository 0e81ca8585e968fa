/* test-policy.c - static policy in canonical form: nwfilter definitions compared by meaning,
 * nftables chain listings without handles or counter values, the checked classes' wire form
 */
#include <string.h>

#include "conf/nc-domain.h"
#include "conf/nc-policy.h"
#include "drivers/nc-policy-drv.h"
#include "util/nc-error.h"

#include "test-common.h"

static NcPolicyDef *nwfilter_data(const char *file)
{
    g_autofree char *path =
        g_build_filename(nc_test_source_root(), "tests", "unit", "data", file, NULL);
    g_autofree char *xml = NULL;
    g_autoptr(GError) error = NULL;
    gsize len;
    NcPolicyDef *d;

    g_assert_true(g_file_get_contents(path, &xml, &len, NULL));
    d = nc_nwfilter_def_parse(xml, len, file, &error);
    g_assert_no_error(error);
    return d;
}

/* another uuid, attributes in another order, other formatting: the same definition */
static void test_nwfilter_same(void)
{
    g_autoptr(NcPolicyDef) a = nwfilter_data("nwfilter-ct-a.xml");
    g_autoptr(NcPolicyDef) b = nwfilter_data("nwfilter-ct-b.xml");
    g_autoptr(GPtrArray) refs = nc_nwfilter_def_refs(a);
    g_autofree char *diff = nc_policy_def_compare("nwfilter", a, b);

    g_assert_cmpstr(a->name, ==, "clean-traffic-x");
    g_assert_cmpuint(a->lines->len, ==, 6); /* the header, 3 filterrefs, 2 rules */
    g_assert_cmpstr(a->lines->pdata[0], ==, "filter chain=root");
    g_assert_cmpstr(a->lines->pdata[3], ==,
                    "rule action=accept direction=out priority=-650 { mac protocolid=ipv4 }");
    g_assert_null(diff);
    g_assert_cmpuint(refs->len, ==, 3);
    g_assert_cmpstr(refs->pdata[0], ==, "no-mac-spoofing");
    g_assert_cmpstr(refs->pdata[2], ==, "allow-incoming-ipv4");
}

/* one rule's priority differs: the message names the filter, the rule and both lines */
static void test_nwfilter_differs(void)
{
    g_autoptr(NcPolicyDef) a = nwfilter_data("nwfilter-ct-a.xml");
    g_autoptr(NcPolicyDef) c = nwfilter_data("nwfilter-ct-c.xml");
    g_autofree char *diff = nc_policy_def_compare("nwfilter", a, c);
    g_autoptr(NcPolicyDef) shorter = nc_policy_def_copy(a);
    g_autofree char *diff2 = NULL;

    g_assert_cmpstr(diff, ==,
                    "nwfilter clean-traffic-x differs: rule 3: the source has 'rule action=accept "
                    "direction=out priority=-650 { mac protocolid=ipv4 }', this host has 'rule "
                    "action=accept direction=out priority=-500 { mac protocolid=ipv4 }'");
    /* a rule this host lacks */
    g_ptr_array_remove_index(shorter->lines, shorter->lines->len - 1);
    diff2 = nc_policy_def_compare("nwfilter", a, shorter);
    g_assert_nonnull(strstr(diff2, "rule 5: the source has 'rule action=drop"));
    g_assert_nonnull(strstr(diff2, "this host has none"));
}

static void test_nwfilter_bad(void)
{
    g_autoptr(GError) error = NULL;
    const char *xml = "<network><name>x</name></network>";

    g_assert_null(nc_nwfilter_def_parse(xml, strlen(xml), "nwfilter x", &error));
    g_assert_error(error, NC_ERROR, NC_ERROR_INVALID_DATA);
    g_clear_error(&error);
    g_assert_null(nc_nwfilter_def_parse("<filter", 7, "nwfilter y", &error));
    g_assert_error(error, NC_ERROR, NC_ERROR_INVALID_DATA);
}

/* The same chain listed with --handle and without --stateless, and as the check lists it */
static const char listing_plain[] = "table inet fw {\n"
                                    "\tchain vm50-in {\n"
                                    "\t\ttype filter hook forward priority filter; policy drop;\n"
                                    "\t\tip saddr 10.0.0.5 tcp dport 22 counter accept\n"
                                    "\t\tquota over 100 mbytes drop\n"
                                    "\t}\n"
                                    "}\n";
static const char listing_stateful[] =
    "table inet fw {\n"
    "\tchain vm50-in { # handle 3\n"
    "\t\ttype filter hook forward priority filter; policy drop;\n"
    "\t\tip saddr 10.0.0.5 tcp dport 22 counter packets 12 bytes 960 accept # handle 7\n"
    "\t\tquota over 100 mbytes used 3 mbytes drop # handle 8\n"
    "\t}\n"
    "}\n";
static const char listing_other[] = "table inet fw {\n"
                                    "\tchain vm50-in {\n"
                                    "\t\ttype filter hook forward priority filter; policy drop;\n"
                                    "\t\tip saddr 10.0.0.5 tcp dport 22 counter drop\n"
                                    "\t\tquota over 100 mbytes drop\n"
                                    "\t}\n"
                                    "}\n";

static void test_chain_normalised(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(NcPolicyDef) a = nc_nft_chain_def_parse("inet/fw/vm50-in", listing_plain, &error);
    g_autoptr(NcPolicyDef) b = nc_nft_chain_def_parse("inet/fw/vm50-in", listing_stateful, &error);
    g_autoptr(NcPolicyDef) c = nc_nft_chain_def_parse("inet/fw/vm50-in", listing_other, &error);
    g_autofree char *same = NULL, *diff = NULL;

    g_assert_no_error(error);
    g_assert_cmpuint(a->lines->len, ==, 3);
    g_assert_cmpstr(b->lines->pdata[1], ==, "ip saddr 10.0.0.5 tcp dport 22 counter accept");
    g_assert_cmpstr(b->lines->pdata[2], ==, "quota over 100 mbytes drop");
    same = nc_policy_def_compare("chain", a, b);
    g_assert_null(same);
    diff = nc_policy_def_compare("chain", a, c);
    g_assert_cmpstr(diff, ==,
                    "chain inet/fw/vm50-in differs: rule 1: the source has 'ip saddr 10.0.0.5 tcp "
                    "dport 22 counter accept', this host has 'ip saddr 10.0.0.5 tcp dport 22 "
                    "counter drop'");
    g_assert_null(nc_nft_chain_def_parse("inet/fw/x", "table inet fw {\n}\n", &error));
    g_assert_error(error, NC_ERROR, NC_ERROR_INVALID_DATA);
}

/* what travels in ITEMS: decode(encode(d)) == d; a damaged encoding is refused, never read */
static void test_wire(void)
{
    g_autoptr(NcPolicyDef) a = nwfilter_data("nwfilter-ct-a.xml");
    g_autoptr(GByteArray) enc = g_byte_array_new();
    g_autoptr(GError) error = NULL;
    NcPolicyDef *back;

    g_assert_true(nc_nwfilter_class.encode(a, enc, &error));
    back = nc_nwfilter_class.decode(enc->data, enc->len, &error);
    g_assert_no_error(error);
    g_assert_null(nc_policy_def_compare("nwfilter", a, back));
    g_assert_cmpuint(back->lines->len, ==, a->lines->len);
    nc_policy_def_free(back);
    for (guint cut = 0; cut < enc->len; cut += 7) {
        g_assert_null(nc_nwfilter_class.decode(enc->data, cut, &error));
        g_assert_error(error, NC_ERROR, NC_ERROR_INVALID_DATA);
        g_clear_error(&error);
    }
    g_byte_array_append(enc, (const guint8 *)"x", 1);
    g_assert_null(nc_nft_chain_class.decode(enc->data, enc->len, &error));
    g_assert_error(error, NC_ERROR, NC_ERROR_INVALID_DATA);
}

/* a chain item is the domain's only if its profile names the chain */
static void test_chain_owns(void)
{
    g_autoptr(NcOwner) o = nc_owner_new();
    g_autoptr(NcPolicyDef) d = nc_policy_def_new("inet/fw/vm50-in");
    g_autoptr(NcPolicyDef) other = nc_policy_def_new("inet/fw/vm51-in");
    g_autofree char *why = NULL;

    g_ptr_array_add(o->chains, nc_object_ref_new("inet", "fw", "vm50-in", "chain"));
    g_assert_true(nc_nft_chain_class.owns(o, d, NULL));
    g_assert_false(nc_nft_chain_class.owns(o, other, &why));
    g_assert_nonnull(why);
}

/* <vlan> and <bandwidth> of an interface reach the owner's port needs */
static void test_port_needs(void)
{
    static const char xml[] =
        "<domain type='qemu'><name>vm50</name><uuid>5d7c1e2a-9b3f-4c8d-a1e6-2f4b8c9d0e17</uuid>"
        "<devices><interface type='bridge'><mac address='52:54:00:00:00:50'/>"
        "<source bridge='br-b'/><vlan trunk='yes'><tag id='10'/><tag id='20'/></vlan>"
        "<bandwidth><inbound average='1000'/></bandwidth>"
        "<filterref filter='clean-traffic'><parameter name='IP' value='10.0.0.5'/></filterref>"
        "</interface></devices></domain>";
    g_autoptr(GError) error = NULL;
    g_autoptr(NcDomain) d = nc_domain_parse_buffer(xml, strlen(xml), "vm50.xml", &error);
    g_autoptr(NcOwner) o = NULL;
    const NcOwnerPort *p;

    g_assert_no_error(error);
    o = nc_domain_owner(d, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(o->ports->len, ==, 1);
    p = o->ports->pdata[0];
    g_assert_cmpstr(p->bridge, ==, "br-b");
    g_assert_cmpstr(p->vlan, ==, "10,20");
    g_assert_true(p->bandwidth);
    g_assert_cmpstr(p->filter, ==, "clean-traffic");
}

/* ---- the nwfilter driver's walk of the tree, over a lookup of definitions by name ---- */

static char *data_text(const char *file)
{
    g_autofree char *path =
        g_build_filename(nc_test_source_root(), "tests", "unit", "data", file, NULL);
    char *xml = NULL;

    g_assert_true(g_file_get_contents(path, &xml, NULL, NULL));
    return xml;
}

/* A host's filters: name -> XML (what libvirt's lookup would return), NULL: none */
static char *map_lookup(gpointer data, const char *name, GError **error)
{
    const char *xml = g_hash_table_lookup(data, name);

    if (!xml) {
        g_set_error(error, NC_ERROR, NC_ERROR_NOT_FOUND, "no nwfilter %s", name);
        return NULL;
    }
    return g_strdup(xml);
}

static GHashTable *host_filters(const char *root_file, const char *ip_spoofing_rule)
{
    GHashTable *h = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, g_free);

    g_hash_table_insert(h, "clean-traffic-x", data_text(root_file));
    g_hash_table_insert(h, "no-mac-spoofing",
                        g_strdup("<filter name='no-mac-spoofing' chain='mac'><rule "
                                 "action='return' direction='out'><mac srcmacaddr='$MAC'/></rule>"
                                 "</filter>"));
    g_hash_table_insert(h, "no-ip-spoofing",
                        g_strdup_printf("<filter name='no-ip-spoofing' chain='ipv4-ip'>%s</filter>",
                                        ip_spoofing_rule));
    g_hash_table_insert(h, "allow-incoming-ipv4",
                        g_strdup("<filter name='allow-incoming-ipv4' chain='ipv4'><rule "
                                 "action='accept' direction='in'><ip/></rule></filter>"));
    return h;
}

static const char SPOOF[] = "<rule action='drop' direction='out'><ip srcipaddr='! $IP'/></rule>";

static gboolean probe_against(GHashTable *here, const NcOwner *o, const NcItemSet *sent,
                              GError **error)
{
    NcPolicyLibvirt lv = {map_lookup, NULL, here};
    gpointer h = nc_nwfilter_driver.open(NULL, NULL);
    gboolean ok;

    nc_policy_set_libvirt(&lv);
    ok = nc_nwfilter_driver.probe(h, o, sent, error);
    nc_policy_set_libvirt(NULL);
    nc_nwfilter_driver.close(h);
    return ok;
}

/* The source reads its whole tree; the destination compares its own tree, filter by filter,
 * children included, and names the first that differs or is missing */
static void test_nwfilter_tree(void)
{
    g_autoptr(NcOwner) o = nc_owner_new();
    NcOwnerPort *p;
    g_autoptr(GHashTable) src = host_filters("nwfilter-ct-a.xml", SPOOF);
    g_autoptr(GHashTable) same = host_filters("nwfilter-ct-b.xml", SPOOF);
    g_autoptr(GHashTable) root_differs = host_filters("nwfilter-ct-c.xml", SPOOF);
    g_autoptr(GHashTable) child_differs = host_filters(
        "nwfilter-ct-a.xml", "<rule action='drop' direction='out'><ip srcipaddr='! $IPX'/></rule>");
    g_autoptr(GHashTable) child_missing = host_filters("nwfilter-ct-a.xml", SPOOF);
    g_autoptr(NcItemSet) sent = nc_item_set_new(&nc_nwfilter_class);
    g_autoptr(GError) error = NULL;
    NcPolicyLibvirt lv = {map_lookup, NULL, src};
    gpointer h;

    nc_owner_add_port(o, (const guint8[]){0x52, 0x54, 0, 0, 0, 0x50}, NULL, NULL);
    p = o->ports->pdata[0];
    p->filter = g_strdup("clean-traffic-x");

    /* without a libvirt connection, a domain that references a filter cannot be checked */
    nc_policy_set_libvirt(NULL);
    h = nc_nwfilter_driver.open(NULL, NULL);
    g_assert_false(nc_nwfilter_driver.probe(h, o, NULL, &error));
    g_assert_error(error, NC_ERROR, NC_ERROR_IO);
    g_clear_error(&error);

    nc_policy_set_libvirt(&lv);
    g_assert_true(nc_nwfilter_driver.capture(h, o, sent, NULL, &error));
    g_assert_no_error(error);
    nc_policy_set_libvirt(NULL);
    nc_nwfilter_driver.close(h);
    g_assert_cmpuint(nc_item_set_count(sent), ==, 4); /* the root and its three filterrefs */

    g_assert_true(probe_against(same, o, sent, &error));
    g_assert_no_error(error);
    g_assert_false(probe_against(root_differs, o, sent, &error));
    g_assert_error(error, NC_ERROR, NC_ERROR_FAILED);
    g_assert_true(g_str_has_prefix(error->message, "nwfilter clean-traffic-x differs: rule 3:"));
    g_clear_error(&error);
    g_assert_false(probe_against(child_differs, o, sent, &error));
    g_assert_true(g_str_has_prefix(error->message, "nwfilter no-ip-spoofing differs: rule 1:"));
    g_clear_error(&error);
    g_hash_table_remove(child_missing, "allow-incoming-ipv4");
    g_assert_false(probe_against(child_missing, o, sent, &error));
    g_assert_error(error, NC_ERROR, NC_ERROR_NOT_FOUND);
    g_assert_true(g_str_has_prefix(error->message, "nwfilter allow-incoming-ipv4 missing on this "
                                                   "host"));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/policy/nwfilter/same-tree-other-form", test_nwfilter_same);
    g_test_add_func("/policy/nwfilter/one-rule-differs", test_nwfilter_differs);
    g_test_add_func("/policy/nwfilter/not-a-filter", test_nwfilter_bad);
    g_test_add_func("/policy/chain/normalised", test_chain_normalised);
    g_test_add_func("/policy/chain/owns", test_chain_owns);
    g_test_add_func("/policy/wire", test_wire);
    g_test_add_func("/policy/port-needs", test_port_needs);
    g_test_add_func("/policy/nwfilter/tree", test_nwfilter_tree);
    return g_test_run();
}

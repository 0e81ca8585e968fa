/* test-bundle.c - the bundle's XML form: round trips of every valid example,
 * precise errors for every invalid one, safe parsing, atomic save, 100k entries
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <linux/netfilter/nf_tables.h>

#include "conf/nc-bundle.h"
#include "conf/nc-ct-diff.h"
#include "conf/nc-nft-items.h"
#include "util/nc-error.h"
#include "util/nc-xml.h"

#include "test-common.h"

/* xml/examples also holds profiles and reports (test-domain, test-report): this file covers
 * the examples whose root element is <bundle>, in any namespace */
static gboolean is_bundle_example(const char *path)
{
    g_autofree char *text = NULL;
    gsize len;
    g_autoptr(xmlDoc) doc = NULL;

    g_assert_true(g_file_get_contents(path, &text, &len, NULL));
    doc = nc_xml_parse(text, len, path, NULL);
    return !doc || g_strcmp0((const char *)xmlDocGetRootElement(doc)->name, "bundle") == 0;
}

/* ---- round trip ---------------------------------------------------------- */

/* two sets of a class hold the same items with the same canonical bytes */
static void assert_same_items(const NcItemSet *a, const NcItemSet *b)
{
    g_assert_true((a == NULL) == (b == NULL));
    if (!a)
        return;
    g_assert_cmpuint(nc_item_set_count(a), ==, nc_item_set_count(b));
    g_assert_true(nc_digest_equal(nc_item_set_digest(a), nc_item_set_digest(b)));
}

static void assert_same_bundle(const NcBundle *a, const NcBundle *b)
{
    g_assert_cmpuint(a->has_conntrack, ==, b->has_conntrack);
    g_assert_cmpuint(a->conntrack->len, ==, b->conntrack->len);
    g_assert_cmpmem(a->conntrack->data, a->conntrack->len * sizeof(NcCtEntry), b->conntrack->data,
                    b->conntrack->len * sizeof(NcCtEntry));
    assert_same_items(a->nft_sets, b->nft_sets);
    assert_same_items(a->nft_objects, b->nft_objects);
    g_assert_cmpmem(a->macs->data, a->macs->len * 6, b->macs->data, b->macs->len * 6);
    g_assert_cmpuint(a->not_carried->len, ==, b->not_carried->len);
    for (guint i = 0; i < a->not_carried->len; i++) {
        const NcNotCarried *x = g_ptr_array_index(a->not_carried, i);
        const NcNotCarried *y = g_ptr_array_index(b->not_carried, i);

        g_assert_cmpstr(x->class_name, ==, y->class_name);
        g_assert_cmpstr(x->what, ==, y->what);
        g_assert_cmpstr(x->reason, ==, y->reason);
    }
    g_assert_cmpuint(a->objects->len, ==, b->objects->len);
}

/* Format 2 (version="2"): parse -> format gives the file back byte for byte; NETCARRY_REGENERATE=1
 * rewrites the file with the formatter's output instead (review the diff!).
 * Format 1 (version="1"): the file is read, and what the formatter writes of it (format 2) reads
 * back to the same bundle. */
static void test_roundtrip(gconstpointer data)
{
    const char *path = data;
    g_autoptr(GError) error = NULL;
    g_autoptr(NcBundle) bundle = nc_bundle_parse_file(path, &error);
    g_autofree char *expected = NULL;
    g_autofree char *formatted = NULL;
    g_autoptr(NcBundle) again = NULL;
    g_autoptr(xmlDoc) doc = NULL;

    g_assert_no_error(error);
    g_assert_nonnull(bundle);
    formatted = nc_bundle_format(bundle);
    g_assert_nonnull(strstr(formatted, "version=\"2\""));

    if (bundle->version == 1) {
        g_assert_true(bundle->has_conntrack);
        g_assert_null(bundle->nft_sets);
        g_assert_null(bundle->nft_objects);
    } else if (g_strcmp0(g_getenv("NETCARRY_REGENERATE"), "1") == 0) {
        g_assert_true(g_file_set_contents(path, formatted, -1, &error));
        g_test_message("regenerated %s", path);
        return;
    } else {
        g_assert_true(g_file_get_contents(path, &expected, NULL, &error));
        g_assert_cmpstr(formatted, ==, expected);
    }

    /* what the formatter writes passes the full schema, whatever its size rule */
    doc = nc_xml_parse_validated(formatted, strlen(formatted), "formatted", "bundle.rng", &error);
    g_assert_no_error(error);
    g_assert_nonnull(doc);

    again = nc_bundle_parse_buffer(formatted, strlen(formatted), "formatted", &error);
    g_assert_no_error(error);
    g_assert_cmpuint(again->version, ==, 2);
    assert_same_bundle(bundle, again);
}

/* format 2, per class: the items come back field for field */
static void test_model_v2(void)
{
    g_autofree char *path =
        g_build_filename(nc_test_source_root(), "xml", "examples", "bundle2-all.xml", NULL);
    g_autoptr(GError) error = NULL;
    g_autoptr(NcBundle) b = nc_bundle_parse_file(path, &error);
    g_autoptr(GPtrArray) elems = NULL;
    g_autoptr(GPtrArray) objs = NULL;
    const NcNftSetElem *authed = NULL, *sticky = NULL, *raw = NULL;
    const NcNftObj *quota = NULL;
    const NcNotCarried *nc;

    g_assert_no_error(error);
    g_assert_cmpuint(b->version, ==, 2);
    g_assert_true(b->has_conntrack);
    g_assert_cmpuint(b->conntrack->len, ==, 2);
    g_assert_cmpuint(nc_item_set_count(b->nft_sets), ==, 5);
    g_assert_cmpuint(nc_item_set_count(b->nft_objects), ==, 2);
    g_assert_cmpuint(b->objects->len, ==, 3);
    elems = nc_item_set_items(b->nft_sets);
    for (guint i = 0; i < elems->len; i++) {
        const NcNftSetElem *e = elems->pdata[i];

        if (g_str_equal(e->set, "authed"))
            authed = e;
        else if (g_str_equal(e->set, "sticky") &&
                 ((const guint8 *)g_bytes_get_data(e->key, NULL))[6])
            raw = e;
        else if (g_str_equal(e->set, "sticky"))
            sticky = e;
    }
    g_assert_nonnull(authed);
    g_assert_true(authed->has_timeout);
    g_assert_cmpuint(authed->timeout_ms, ==, 3600000);
    g_assert_cmpuint(authed->expires_ms, ==, 3412345);
    g_assert_cmpuint(g_bytes_get_size(authed->key), ==, 4);
    g_assert_nonnull(sticky);
    g_assert_cmpuint(sticky->n_fields, ==, 2);
    g_assert_cmpmem(g_bytes_get_data(sticky->key, NULL), 8,
                    ((const guint8[]){192, 0, 2, 5, 0, 80, 0, 0}), 8);
    g_assert_cmpmem(g_bytes_get_data(sticky->data, NULL), 4, ((const guint8[]){10, 0, 0, 9}), 4);
    /* the padding that is not zero came back through encoding="hex" */
    g_assert_nonnull(raw);
    g_assert_cmpmem(g_bytes_get_data(raw->key, NULL), 8,
                    ((const guint8[]){192, 0, 2, 5, 0, 80, 0xab, 0xcd}), 8);
    objs = nc_item_set_items(b->nft_objects);
    for (guint i = 0; i < objs->len; i++) {
        if (((const NcNftObj *)objs->pdata[i])->type == NFT_OBJECT_QUOTA)
            quota = objs->pdata[i];
    }
    g_assert_nonnull(quota);
    g_assert_cmpuint(quota->bytes, ==, 1000000000);
    g_assert_cmpuint(quota->consumed, ==, 800000000);
    g_assert_cmphex(quota->flags, ==, NFT_QUOTA_F_INV);
    g_assert_cmpuint(b->not_carried->len, ==, 3);
    nc = g_ptr_array_index(b->not_carried, 2);
    g_assert_cmpstr(nc->class_name, ==, "nft-object");
    g_assert_cmpstr(nc->what, ==, "limit inet/fw/vm1_rate");
}

/* the VM's MACs come back, and decide with its addresses which elements are its own: the
 * example's element of set `macs` is the VM's because the bundle names its MAC */
static void test_macs(void)
{
    g_autofree char *path =
        g_build_filename(nc_test_source_root(), "xml", "examples", "bundle2-nft-set.xml", NULL);
    g_autoptr(GError) error = NULL;
    g_autoptr(NcBundle) b = nc_bundle_parse_file(path, &error);
    g_autoptr(NcOwner) owner = NULL;
    g_autoptr(GPtrArray) items = NULL;
    const NcNftSetElem *mac = NULL;
    g_autofree char *xml = NULL;

    g_assert_no_error(error);
    g_assert_cmpuint(b->macs->len, ==, 1);
    g_assert_cmpmem(b->macs->data, 6, ((const guint8[]){0x52, 0x54, 0, 0x12, 0x34, 0x56}), 6);
    xml = nc_bundle_format(b);
    g_assert_nonnull(strstr(xml, "    <mac>52:54:00:12:34:56</mac>\n"));
    owner = nc_bundle_owner(b);
    items = nc_item_set_items(b->nft_sets);
    for (guint i = 0; i < items->len; i++)
        if (g_str_equal(((const NcNftSetElem *)items->pdata[i])->set, "macs"))
            mac = items->pdata[i];
    g_assert_nonnull(mac);
    g_assert_true(nc_nft_set_owns(owner, mac, NULL));
    g_array_set_size(owner->macs, 0);
    g_assert_false(nc_nft_set_owns(owner, mac, NULL));
}

/* a damaged bundle is refused by its seal, in a buffer too, and the message says so */
static void test_damaged(void)
{
    g_autofree char *path =
        g_build_filename(nc_test_source_root(), "xml", "examples", "bundle2-all.xml", NULL);
    g_autofree char *text = NULL;
    g_autoptr(GString) damaged = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(NcBundle) b = NULL;
    char *at;

    g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
    /* a conntrack entry's timeout changed: every class is sealed, conntrack too */
    damaged = g_string_new(text);
    at = strstr(damaged->str, "timeout=\"119\"");
    g_assert_nonnull(at);
    at[9] = '8';
    b = nc_bundle_parse_buffer(damaged->str, damaged->len, "damaged", &error);
    g_assert_null(b);
    g_assert_error(error, NC_ERROR, NC_ERROR_INVALID_DATA);
    g_assert_nonnull(strstr(error->message, "<conntrack>"));
    g_assert_nonnull(strstr(error->message, "the bundle is damaged or was edited"));
}

/* the model, not just the text: a few values from the examples */
static void test_model(void)
{
    g_autofree char *path =
        g_build_filename(nc_test_source_root(), "xml", "examples", "masquerade-snat.xml", NULL);
    g_autoptr(GError) error = NULL;
    g_autoptr(NcBundle) b = nc_bundle_parse_file(path, &error);
    const NcCtEntry *e;
    g_autofree char *addr = NULL;

    g_assert_no_error(error);
    g_assert_cmpstr(b->domain_name, ==, "web-3");
    g_assert_cmpstr(b->domain_uuid, ==, "0f8e2d1c-3b4a-4596-8778-695a4b3c2d1e");
    g_assert_cmpstr(b->host, ==, "fw1.example.net");
    g_assert_cmpint(b->phase, ==, NC_CAPTURE_STOP_AND_COPY);
    /* 2026-11-22T14:37:05.500000Z */
    g_assert_cmpint(b->captured_us, ==, G_GINT64_CONSTANT(1795358225500000));
    g_assert_cmpuint(b->conntrack->len, ==, 3);
    e = &g_array_index(b->conntrack, NcCtEntry, 1);
    g_assert_cmpuint(e->orig.proto, ==, IPPROTO_TCP);
    g_assert_cmpuint(e->orig.sport, ==, 40001);
    g_assert_cmpuint(e->reply.dport, ==, 61001);
    addr = nc_addr_to_string(&e->reply.dst);
    g_assert_cmpstr(addr, ==, "203.0.113.1");
    g_assert_cmphex(e->status, ==, 0x9e); /* seen-reply assured confirmed src-nat src-nat-done */
    g_assert_true(e->has_tcp);
    g_assert_cmpuint(e->tcp_state, ==, 3);
    g_assert_cmpuint(e->tcp_wscale[1], ==, 9);
    g_assert_cmphex(e->tcp_flags[0], ==, 0x23);
    g_assert_cmpuint(e->timeout, ==, 431990);
}

/* ---- errors -------------------------------------------------------------- */

typedef struct {
    const char *file;
    int line;
    const char *what; /* a phrase the message must contain */
} InvalidCase;

static const InvalidCase invalid_cases[] = {
    {"bad-address-invalid.xml", 9, "'192.0.2.300' is not an IPv4 or IPv6 address"},
    {"bad-tcp-state-invalid.xml", 17, "state 'fin_wait'"},
    {"bad-time-invalid.xml", 3, "is not a UTC time"},
    {"bad-uuid-invalid.xml", 3, "is not a UUID"},
    {"family-mismatch-invalid.xml", 13, "different address families"},
    {"icmp-family-invalid.xml", 13, "does not go with IPv6"},
    {"icmp-ports-invalid.xml", 9, "takes id, type and code"},
    {"ipv6-groups-invalid.xml", 12, "'1:2:3:4:5:6:7::8' is not an IPv4 or IPv6 address"},
    {"missing-ports-invalid.xml", 18, "'sport' is missing"},
    {"missing-reply-invalid.xml", 7, "expected <reply>"},
    {"no-address-invalid.xml", 3, "<address>"},
    {"port-range-invalid.xml", 10, "dport '70000'"},
    {"proto-mismatch-invalid.xml", 17, "protocol 132 but the reply tuple is 6"},
    {"status-token-invalid.xml", 13, "status token 'confirmd'"},
    {"tcp-on-udp-invalid.xml", 7, "<tcp> is only allowed in a TCP entry"},
    {"unknown-element-invalid.xml", 15, "nat-helper"},
    {"version-invalid.xml", 2, "version '3' is not supported"},
    {"wrong-namespace-invalid.xml", 2, "https://netcarry.dev/xmlns/bundle/1"},
    {"zone-range-invalid.xml", 6, "'65536'"},
    /* found by fuzz-bundle: the second <domain> leaked the first one's strings */
    {"two-domains-invalid.xml", 4, "a second <domain>"},
    /* found by fuzz-bundle: the fraction's digits overflowed a gint64 (undefined behaviour, an
     * abort under -fsanitize=undefined) before their count was checked */
    {"time-fraction-overflow-invalid.xml", 3, "is not a UTC time"},
};

/* format 2's: no conntrack entries to pad them with (test_invalid_large) */
static const InvalidCase invalid2_cases[] = {
    {"bundle2-conntrack-unsealed-invalid.xml", 7, "attribute 'count' is missing"},
    {"bundle2-count-invalid.xml", 10, "the section says 3 items and holds 2"},
    {"bundle2-digest-invalid.xml", 7, "the bundle is damaged or was edited"},
    {"bundle2-edited-invalid.xml", 7, "the items' digest is"},
    {"bundle2-key-fields-invalid.xml", 9, "has 2 fields, the set's key has 1"},
    {"bundle2-mac-invalid.xml", 6, "'52:54:00:12:34' is not a MAC address"},
    {"bundle2-not-carried-order-invalid.xml", 14, "unexpected element after <not-carried>"},
    {"bundle2-order-invalid.xml", 28, "expected a class section"},
    {"bundle2-quota-invalid.xml", 12, "attribute 'used' is missing"},
    {"bundle2-mdb-group-invalid.xml", 10, "the group is not a multicast address"},
    {"bundle2-mdb-port-mac-invalid.xml", 6, "mac 'fe:54:00:12:34' is not a MAC address"},
    {"bundle2-mdb-state-invalid.xml", 10, "state 'sticky' is not temp or permanent"},
};

static void assert_error_at(const GError *error, const char *name, int line, const char *what)
{
    g_autofree char *prefix = g_strdup_printf("%s:%d: ", name, line);

    g_assert_nonnull(error);
    g_test_message("%s", error->message);
    g_assert_cmpint(error->code, ==, NC_ERROR_INVALID_DATA);
    if (!g_str_has_prefix(error->message, prefix) || !strstr(error->message, what))
        g_error("expected \"%s... %s ...\", got \"%s\"", prefix, what, error->message);
}

static void test_invalid(gconstpointer data)
{
    const InvalidCase *c = data;
    g_autofree char *path = g_build_filename(nc_test_source_root(), "xml", "examples", c->file, NULL);
    g_autoptr(GError) error = NULL;
    g_autoptr(NcBundle) bundle = nc_bundle_parse_file(path, &error);

    g_assert_null(bundle);
    assert_error_at(error, path, c->line, c->what);
}

/**
 * test_invalid_large() - the same file with >NC_BUNDLE_FULL_VALIDATION_MAX entries
 *
 * Large bundles leave their entries to the reader instead of the schema;
 * padding each invalid example with valid entries (after its own, so lines do
 * not move) proves the reader alone refuses what the schema refuses.
 */
static void test_invalid_large(gconstpointer data)
{
    const InvalidCase *c = data;
    g_autofree char *path = g_build_filename(nc_test_source_root(), "xml", "examples", c->file, NULL);
    g_autofree char *text = NULL;
    g_autoptr(GString) padded = NULL;
    g_autoptr(GString) pad = g_string_new(NULL);
    g_autoptr(GError) error = NULL;
    g_autoptr(NcBundle) bundle = NULL;
    char *at;

    g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
    for (guint i = 0; i < NC_BUNDLE_FULL_VALIDATION_MAX + 1; i++)
        g_string_append_printf(pad,
                               "<entry zone=\"0\" timeout=\"1\" mark=\"0x0\" status=\"\">"
                               "<original proto=\"udp\" src=\"10.9.%u.%u\" dst=\"10.8.0.1\" "
                               "sport=\"1\" dport=\"2\"/><reply proto=\"udp\" src=\"10.8.0.1\" "
                               "dst=\"10.9.%u.%u\" sport=\"2\" dport=\"1\"/></entry>",
                               i >> 8, i & 255, i >> 8, i & 255);
    padded = g_string_new(text);
    if ((at = strstr(padded->str, "</conntrack>"))) {
        g_string_insert(padded, at - padded->str, pad->str);
    } else {
        gssize pos;

        at = strstr(padded->str, "<conntrack/>");
        g_assert_nonnull(at);
        pos = at - padded->str;
        g_string_erase(padded, pos, strlen("<conntrack/>"));
        g_string_insert(padded, pos, "</conntrack>");
        g_string_insert(padded, pos, pad->str);
        g_string_insert(padded, pos, "<conntrack>");
    }

    bundle = nc_bundle_parse_buffer(padded->str, padded->len, c->file, &error);
    g_assert_null(bundle);
    assert_error_at(error, c->file, c->line, c->what);
}

/* every *-invalid.xml example has a row above */
static void test_invalid_coverage(void)
{
    g_autoptr(GPtrArray) files = nc_test_list_examples(TRUE);
    guint n = 0;

    for (guint i = 0; i < files->len; i++) {
        g_autofree char *base = g_path_get_basename(files->pdata[i]);
        gboolean found = FALSE;

        if (!is_bundle_example(files->pdata[i]))
            continue;
        n++;
        for (guint j = 0; j < G_N_ELEMENTS(invalid_cases) && !found; j++)
            found = strcmp(invalid_cases[j].file, base) == 0;
        for (guint j = 0; j < G_N_ELEMENTS(invalid2_cases) && !found; j++)
            found = strcmp(invalid2_cases[j].file, base) == 0;
        if (!found)
            g_error("%s has no row in invalid_cases", base);
    }
    g_assert_cmpuint(n, ==, G_N_ELEMENTS(invalid_cases) + G_N_ELEMENTS(invalid2_cases));
}

static void test_not_wellformed(void)
{
    static const char doc[] = "<?xml version=\"1.0\"?>\n"
                              "<bundle xmlns=\"" NC_BUNDLE_NS "\" version=\"1\">\n"
                              "  <capture host=\"a\" time=\"2026-01-01T00:00:00Z\" phase=\"manual\">\n"
                              "    <address>192.0.2.1</address>\n"
                              "  </capture\n";
    g_autoptr(GError) error = NULL;
    g_autoptr(NcBundle) b = nc_bundle_parse_buffer(doc, sizeof(doc) - 1, "cut.xml", &error);

    g_assert_null(b);
    g_assert_error(error, NC_ERROR, NC_ERROR_INVALID_DATA);
    g_test_message("%s", error->message);
    g_assert_true(g_str_has_prefix(error->message, "cut.xml:"));
    g_assert_nonnull(strstr(error->message, "not well-formed"));
}

/* external entities and DTDs are refused before anything is read or fetched */
static void test_doctype_refused(void)
{
    g_autofree char *secret = g_build_filename(nc_test_scratch_dir(), "secret", NULL);
    g_autofree char *doc = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(NcBundle) b = NULL;

    g_assert_true(g_file_set_contents(secret, "TOPSECRET", -1, NULL));
    doc = g_strdup_printf("<?xml version=\"1.0\"?>\n"
                          "<!DOCTYPE bundle [<!ENTITY x SYSTEM \"file://%s\">]>\n"
                          "<bundle xmlns=\"" NC_BUNDLE_NS "\" version=\"1\">\n"
                          "  <capture host=\"&x;\" time=\"2026-01-01T00:00:00Z\" phase=\"manual\">\n"
                          "    <address>192.0.2.1</address>\n"
                          "  </capture>\n  <conntrack/>\n</bundle>\n",
                          secret);
    b = nc_bundle_parse_buffer(doc, strlen(doc), "xxe.xml", &error);
    g_assert_null(b);
    g_assert_error(error, NC_ERROR, NC_ERROR_INVALID_DATA);
    g_test_message("%s", error->message);
    g_assert_true(g_str_has_prefix(error->message, "xxe.xml:2:"));
    g_assert_nonnull(strstr(error->message, "DOCTYPE"));
    g_assert_null(strstr(error->message, "TOPSECRET"));
}

/* ---- helpers and tables -------------------------------------------------- */

static void test_phase(void)
{
    for (int p = 0; p < NC_CAPTURE_LAST; p++)
        g_assert_cmpint(nc_capture_phase_from_string(nc_capture_phase_to_string(p)), ==, p);
    g_assert_cmpstr(nc_capture_phase_to_string(NC_CAPTURE_STOP_AND_COPY), ==, "stop-and-copy");
    g_assert_cmpint(nc_capture_phase_from_string("resumed"), ==, -1);
    g_assert_cmpint(nc_capture_phase_from_string(NULL), ==, -1);
    g_assert_null(nc_capture_phase_to_string(NC_CAPTURE_LAST));
}

static void test_tables(void)
{
    g_autofree char *s1 = nc_ct_status_to_string(0x9e);
    g_autofree char *s2 = nc_ct_status_to_string(0x8000 | 0x100000 | 0x80000000u);
    g_autofree char *s3 = nc_ct_status_to_string(0);

    g_assert_cmpstr(s1, ==, "seen-reply assured confirmed src-nat src-nat-done");
    g_assert_cmpstr(s2, ==, "hw-offload bit-20 bit-31");
    g_assert_cmpstr(s3, ==, "");
    g_assert_cmpstr(nc_ct_tcp_state_to_string(3), ==, "established");
    g_assert_cmpstr(nc_ct_tcp_state_to_string(9), ==, "syn-sent2");
    g_assert_null(nc_ct_tcp_state_to_string(10));
    g_assert_cmpint(nc_ct_tcp_state_from_string("time-wait"), ==, 7);
    g_assert_cmpint(nc_ct_proto_from_string("icmpv6"), ==, 58);
    g_assert_cmpint(nc_ct_proto_from_string("112"), ==, 112);
    g_assert_cmpint(nc_ct_proto_from_string("256"), ==, -1);
    g_assert_cmpint(nc_ct_proto_from_string("tcpx"), ==, -1);
    g_assert_cmpstr(nc_ct_proto_to_string(132), ==, "sctp");
}

/* host and VM names with XML-special characters survive a round trip */
static void test_escaping(void)
{
    g_autoptr(NcBundle) b = nc_bundle_new();
    g_autoptr(NcBundle) back = NULL;
    g_autoptr(GError) error = NULL;
    g_autofree char *xml = NULL;
    NcAddr a;

    b->host = g_strdup("fw<1>&\"2\"");
    b->domain_name = g_strdup("vm 'one' & <two>");
    b->captured_us = -1; /* 1969-12-31T23:59:59.999999Z */
    g_assert_true(nc_addr_parse("2001:db8::1", &a, NULL));
    g_array_append_val(b->addresses, a);
    xml = nc_bundle_format(b);
    back = nc_bundle_parse_buffer(xml, strlen(xml), "escaped", &error);
    g_assert_no_error(error);
    g_assert_cmpstr(back->host, ==, b->host);
    g_assert_cmpstr(back->domain_name, ==, b->domain_name);
    g_assert_null(back->domain_uuid);
    g_assert_cmpint(back->captured_us, ==, -1);
    g_assert_nonnull(strstr(xml, "1969-12-31T23:59:59.999999Z"));
}

/* ---- save ---------------------------------------------------------------- */

static void test_save(void)
{
    g_autofree char *dir = g_build_filename(nc_test_scratch_dir(), "bundles", NULL);
    g_autofree char *path = g_build_filename(dir, "vm1.xml", NULL);
    g_autofree char *src = g_build_filename(nc_test_source_root(), "xml", "examples", "ipv6.xml", NULL);
    g_autofree char *expected = NULL;
    g_autofree char *written = NULL;
    g_autofree char *bad = NULL;
    g_autoptr(NcBundle) b = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(GDir) listing = NULL;
    guint n_files = 0;

    g_assert_cmpint(g_mkdir_with_parents(dir, 0700), ==, 0);
    g_assert_true(g_file_set_contents(path, "old content", -1, NULL));
    b = nc_bundle_parse_file(src, &error);
    g_assert_no_error(error);
    g_assert_true(nc_bundle_save(b, path, &error));
    g_assert_no_error(error);
    expected = nc_bundle_format(b);
    g_assert_true(g_file_get_contents(path, &written, NULL, NULL));
    g_assert_cmpstr(written, ==, expected);

    /* no temporary file is left next to it */
    listing = g_dir_open(dir, 0, NULL);
    while (g_dir_read_name(listing))
        n_files++;
    g_assert_cmpuint(n_files, ==, 1);

    bad = g_build_filename(dir, "no-such-dir", "vm1.xml", NULL);
    g_assert_false(nc_bundle_save(b, bad, &error));
    g_assert_error(error, NC_ERROR, NC_ERROR_IO);
    g_assert_nonnull(strstr(error->message, bad));
}

/* ---- scale --------------------------------------------------------------- */

static void fill_entry(NcCtEntry *e, guint i)
{
    int family = i % 3 == 2 ? AF_INET6 : AF_INET;
    char buf[64];

    if (family == AF_INET)
        g_snprintf(buf, sizeof(buf), "10.%u.%u.%u", (i >> 16) & 255, (i >> 8) & 255, i & 255);
    else
        g_snprintf(buf, sizeof(buf), "2001:db8:%x:%x::%x", (i >> 16) & 255, (i >> 8) & 255,
                   i & 255);
    g_assert_true(nc_addr_parse(buf, &e->orig.src, NULL));
    g_assert_true(nc_addr_parse(family == AF_INET ? "198.51.100.7" : "2001:db8:ffff::7",
                                &e->orig.dst, NULL));
    e->reply.src = e->orig.dst;
    if (i % 5 == 0 && family == AF_INET) /* masqueraded */
        g_assert_true(nc_addr_parse("203.0.113.1", &e->reply.dst, NULL));
    else
        e->reply.dst = e->orig.src;
    e->zone = (guint16)(i % 4);
    e->timeout = 431999 - i;
    e->mark = i * 2654435761u;
    e->status = 0x0e | (i % 5 == 0 ? 0x90 : 0);
    switch (i % 4) {
    case 0:
    case 1:
        e->orig.proto = e->reply.proto = IPPROTO_TCP;
        e->has_tcp = TRUE;
        e->tcp_state = (guint8)(i % 10);
        e->tcp_wscale[0] = 7;
        e->tcp_wscale[1] = (guint8)(i % 15);
        e->tcp_flags[0] = 0x23;
        e->tcp_flags[1] = (guint8)i;
        break;
    case 2:
        e->orig.proto = e->reply.proto = IPPROTO_UDP;
        break;
    default:
        e->orig.proto = e->reply.proto = family == AF_INET ? IPPROTO_ICMP : IPPROTO_ICMPV6;
        e->orig.icmp_id = e->reply.icmp_id = (guint16)i;
        e->orig.icmp_type = family == AF_INET ? 8 : 128;
        e->reply.icmp_type = family == AF_INET ? 0 : 129;
        break;
    }
    if (e->orig.proto != IPPROTO_ICMP && e->orig.proto != IPPROTO_ICMPV6) {
        e->orig.sport = e->reply.dport = (guint16)(1024 + i % 60000);
        e->orig.dport = e->reply.sport = 443;
    }
    if (i % 7 == 0) {
        e->has_labels = TRUE;
        e->labels[15] = (guint8)i;
        e->labels[0] = 0x80;
    }
}

/* 100k entries format and parse back equal (the times are printed for the reader) */
static void test_large(void)
{
    const guint n = 100000;
    g_autoptr(NcBundle) b = nc_bundle_new();
    g_autoptr(NcBundle) back = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(NcCtDiff) diff = NULL;
    g_autofree char *xml = NULL;
    g_autoptr(GString) broken = NULL;
    g_autoptr(NcBundle) none = NULL;
    gint64 t0, t1, t2;
    NcAddr a;
    char *at;
    int lines = 0;

    b->domain_uuid = g_strdup("6c1f2a4e-8d3b-4f6a-9e21-0b7d5c3a1f90");
    b->host = g_strdup("fw1");
    b->captured_us = G_GINT64_CONSTANT(1795358220123456);
    g_assert_true(nc_addr_parse("10.0.0.5", &a, NULL));
    g_array_append_val(b->addresses, a);
    g_array_set_size(b->conntrack, n);
    for (guint i = 0; i < n; i++)
        fill_entry(&g_array_index(b->conntrack, NcCtEntry, i), i);

    t0 = g_get_monotonic_time();
    xml = nc_bundle_format(b);
    t1 = g_get_monotonic_time();
    back = nc_bundle_parse_buffer(xml, strlen(xml), "large", &error);
    t2 = g_get_monotonic_time();
    g_assert_no_error(error);
    g_test_message("%u entries, %zu bytes: format %.3f s, parse %.3f s", n, strlen(xml),
                   (t1 - t0) / 1e6, (t2 - t1) / 1e6);
    g_test_minimized_result((t1 - t0) / 1e6, "format %u entries", n);
    g_test_minimized_result((t2 - t1) / 1e6, "parse %u entries", n);

    g_assert_cmpuint(back->conntrack->len, ==, n);
    g_assert_cmpmem(back->conntrack->data, n * sizeof(NcCtEntry), b->conntrack->data,
                    n * sizeof(NcCtEntry));
    diff = nc_ct_diff((const NcCtEntry *)(void *)b->conntrack->data, n,
                      (const NcCtEntry *)(void *)back->conntrack->data, n);
    g_assert_true(nc_ct_diff_is_empty(diff));
    /* the times are reported, never asserted: speed is a benchmark's business */

    /* an error in the last entry is reported at its real line, past 65535 */
    broken = g_string_new(xml);
    at = g_strrstr(broken->str, "dport=\"443\"");
    g_assert_nonnull(at);
    memcpy(at, "dport=\"-43\"", strlen("dport=\"-43\""));
    for (char *p = broken->str; p < at; p++)
        lines += *p == '\n';
    none = nc_bundle_parse_buffer(broken->str, broken->len, "large", &error);
    g_assert_null(none);
    {
        g_autofree char *prefix = g_strdup_printf("large:%d: ", lines + 1);

        g_test_message("%s", error->message);
        g_assert_true(g_str_has_prefix(error->message, prefix));
    }
}

int main(int argc, char **argv)
{
    g_autoptr(GPtrArray) valid = NULL;

    g_test_init(&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
    valid = nc_test_list_examples(FALSE);
    for (guint i = 0; i < valid->len; i++) {
        g_autofree char *base = g_path_get_basename(valid->pdata[i]);
        g_autofree char *path = g_strdup_printf("/bundle/roundtrip/%s", base);

        if (!is_bundle_example(valid->pdata[i]))
            continue;
        g_test_add_data_func(path, valid->pdata[i], test_roundtrip);
    }
    for (guint i = 0; i < G_N_ELEMENTS(invalid_cases); i++) {
        g_autofree char *p1 = g_strdup_printf("/bundle/invalid/%s", invalid_cases[i].file);
        g_autofree char *p2 = g_strdup_printf("/bundle/invalid-large/%s", invalid_cases[i].file);

        g_test_add_data_func(p1, &invalid_cases[i], test_invalid);
        g_test_add_data_func(p2, &invalid_cases[i], test_invalid_large);
    }
    for (guint i = 0; i < G_N_ELEMENTS(invalid2_cases); i++) {
        g_autofree char *p1 = g_strdup_printf("/bundle/invalid/%s", invalid2_cases[i].file);

        g_test_add_data_func(p1, &invalid2_cases[i], test_invalid);
    }
    g_test_add_func("/bundle/invalid-coverage", test_invalid_coverage);
    g_test_add_func("/bundle/model-v2", test_model_v2);
    g_test_add_func("/bundle/macs", test_macs);
    g_test_add_func("/bundle/damaged", test_damaged);
    g_test_add_func("/bundle/model", test_model);
    g_test_add_func("/bundle/not-wellformed", test_not_wellformed);
    g_test_add_func("/bundle/doctype-refused", test_doctype_refused);
    g_test_add_func("/bundle/phase", test_phase);
    g_test_add_func("/bundle/tables", test_tables);
    g_test_add_func("/bundle/escaping", test_escaping);
    g_test_add_func("/bundle/save", test_save);
    g_test_add_func("/bundle/large", test_large);
    return g_test_run();
}

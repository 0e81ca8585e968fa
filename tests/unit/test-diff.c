/* test-diff.c - nc_ct_diff(): missing, extra, changed and identical entries,
 * judged by what a firewall acts on (NAT, status, mark, labels, TCP state)
 */
#include <linux/netfilter/nf_conntrack_common.h>
#include <string.h>

#include "conf/nc-ct-diff.h"

static NcCtEntry make_tcp(const char *src, guint16 sport, const char *dst, guint16 dport)
{
    NcCtEntry e;

    memset(&e, 0, sizeof(e));
    g_assert_true(nc_addr_parse(src, &e.orig.src, NULL));
    g_assert_true(nc_addr_parse(dst, &e.orig.dst, NULL));
    e.orig.proto = IPPROTO_TCP;
    e.orig.sport = sport;
    e.orig.dport = dport;
    e.reply.src = e.orig.dst;
    e.reply.dst = e.orig.src;
    e.reply.proto = IPPROTO_TCP;
    e.reply.sport = dport;
    e.reply.dport = sport;
    e.status = IPS_SEEN_REPLY | IPS_ASSURED | IPS_CONFIRMED;
    e.timeout = 431999;
    e.has_tcp = TRUE;
    e.tcp_state = 3;
    e.tcp_wscale[0] = e.tcp_wscale[1] = 7;
    return e;
}

static void test_identical(void)
{
    NcCtEntry a[2] = {make_tcp("192.0.2.5", 40000, "198.51.100.7", 80),
                      make_tcp("2001:db8::5", 40001, "2001:db8::7", 443)};
    NcCtEntry b[2] = {a[1], a[0]}; /* order does not matter */
    g_autoptr(NcCtDiff) diff = nc_ct_diff(a, 2, b, 2);

    g_assert_true(nc_ct_diff_is_empty(diff));
}

static void test_missing_extra(void)
{
    NcCtEntry a[2] = {make_tcp("192.0.2.5", 40000, "198.51.100.7", 80),
                      make_tcp("192.0.2.5", 40001, "198.51.100.7", 80)};
    NcCtEntry b[2] = {a[0], make_tcp("192.0.2.5", 40002, "198.51.100.7", 80)};
    g_autoptr(NcCtDiff) diff = nc_ct_diff(a, 2, b, 2);

    g_assert_false(nc_ct_diff_is_empty(diff));
    g_assert_cmpuint(diff->missing->len, ==, 1);
    g_assert_cmpuint(g_array_index(diff->missing, NcCtEntry, 0).orig.sport, ==, 40001);
    g_assert_cmpuint(diff->extra->len, ==, 1);
    g_assert_cmpuint(g_array_index(diff->extra, NcCtEntry, 0).orig.sport, ==, 40002);
    g_assert_cmpuint(diff->changed->len, ==, 0);
}

/* the same tuple in another zone is another connection */
static void test_zone_is_identity(void)
{
    NcCtEntry a = make_tcp("192.0.2.5", 40000, "198.51.100.7", 80);
    NcCtEntry b = a;
    g_autoptr(NcCtDiff) diff = NULL;

    b.zone = 3;
    diff = nc_ct_diff(&a, 1, &b, 1);
    g_assert_cmpuint(diff->missing->len, ==, 1);
    g_assert_cmpuint(diff->extra->len, ==, 1);
}

/* a lost SNAT mapping is a difference even though the original tuple matches */
static void test_nat_change(void)
{
    NcCtEntry a = make_tcp("10.0.0.5", 40000, "198.51.100.7", 443);
    NcCtEntry b;
    g_autoptr(NcCtDiff) diff = NULL;
    const char *line;

    g_assert_true(nc_addr_parse("203.0.113.1", &a.reply.dst, NULL));
    a.status |= IPS_SRC_NAT | IPS_SRC_NAT_DONE;
    b = a;
    g_assert_true(nc_addr_parse("203.0.113.9", &b.reply.dst, NULL));
    b.reply.dport = 61000;
    diff = nc_ct_diff(&a, 1, &b, 1);
    g_assert_cmpuint(diff->changed->len, ==, 1);
    line = g_ptr_array_index(diff->changed, 0);
    g_test_message("%s", line);
    g_assert_true(g_str_has_prefix(line, "tcp 10.0.0.5:40000 -> 198.51.100.7:443 zone 0: reply "));
    g_assert_nonnull(strstr(line, "203.0.113.1:40000"));
    g_assert_nonnull(strstr(line, "203.0.113.9:61000"));

    /* the entry lost its NAT status: not translated any more */
    b = a;
    b.status &= ~(guint32)(IPS_SRC_NAT | IPS_SRC_NAT_DONE);
    g_clear_pointer(&diff, nc_ct_diff_free);
    diff = nc_ct_diff(&a, 1, &b, 1);
    g_assert_cmpuint(diff->changed->len, ==, 1);
    g_assert_nonnull(strstr(g_ptr_array_index(diff->changed, 0), "status"));
}

typedef struct {
    const char *name;
    void (*mutate)(NcCtEntry *e);
    gboolean differs;
    const char *field; /* named in the change line */
} FieldCase;

static void m_timeout(NcCtEntry *e) { e->timeout = 12; }
static void m_confirmed(NcCtEntry *e) { e->status &= ~(guint32)IPS_CONFIRMED; }
static void m_done(NcCtEntry *e) { e->status |= IPS_SRC_NAT_DONE | IPS_DYING; }
static void m_flags(NcCtEntry *e) { e->tcp_flags[0] = 0x0a; }
static void m_assured(NcCtEntry *e) { e->status &= ~(guint32)IPS_ASSURED; }
static void m_mark(NcCtEntry *e) { e->mark = 0x10; }
static void m_labels(NcCtEntry *e) { e->has_labels = TRUE; e->labels[15] = 1; }
static void m_zero_labels(NcCtEntry *e) { e->has_labels = TRUE; }
static void m_state(NcCtEntry *e) { e->tcp_state = 7; }
static void m_wscale(NcCtEntry *e) { e->tcp_wscale[1] = 9; }
static void m_no_tcp(NcCtEntry *e) { e->has_tcp = FALSE; }

static const FieldCase field_cases[] = {
    {"timeout", m_timeout, FALSE, NULL},
    {"confirmed", m_confirmed, FALSE, NULL},
    {"done-dying", m_done, FALSE, NULL},
    {"tcp-flags", m_flags, FALSE, NULL},
    {"zero-labels", m_zero_labels, FALSE, NULL},
    {"assured", m_assured, TRUE, "status [seen-reply assured] => [seen-reply]"},
    {"mark", m_mark, TRUE, "mark 0x0 => 0x10"},
    {"labels", m_labels, TRUE, "labels "},
    {"tcp-state", m_state, TRUE, "tcp state established => time-wait"},
    {"wscale", m_wscale, TRUE, "wscale-reply 7 => 9"},
    {"tcp-info", m_no_tcp, TRUE, "tcp info present => absent"},
};

static void test_field(gconstpointer data)
{
    const FieldCase *c = data;
    NcCtEntry a = make_tcp("2001:db8::5", 40000, "2001:db8::7", 80);
    NcCtEntry b = a;
    g_autoptr(NcCtDiff) diff = NULL;

    c->mutate(&b);
    diff = nc_ct_diff(&a, 1, &b, 1);
    g_assert_cmpuint(diff->missing->len, ==, 0);
    g_assert_cmpuint(diff->extra->len, ==, 0);
    g_assert_cmpuint(diff->changed->len, ==, c->differs ? 1 : 0);
    if (c->differs) {
        const char *line = g_ptr_array_index(diff->changed, 0);

        g_test_message("%s", line);
        g_assert_true(g_str_has_prefix(line, "tcp [2001:db8::5]:40000 -> [2001:db8::7]:80 zone 0: "));
        g_assert_nonnull(strstr(line, c->field));
    }
}

static void test_describe(void)
{
    NcCtEntry e;
    g_autofree char *tcp = NULL;
    g_autofree char *icmp = NULL;

    e = make_tcp("10.0.0.1", 40000, "10.0.0.5", 7);
    tcp = nc_ct_entry_describe(&e);
    g_assert_cmpstr(tcp, ==, "tcp 10.0.0.1:40000 -> 10.0.0.5:7 zone 0");

    memset(&e, 0, sizeof(e));
    g_assert_true(nc_addr_parse("192.0.2.5", &e.orig.src, NULL));
    g_assert_true(nc_addr_parse("198.51.100.7", &e.orig.dst, NULL));
    e.orig.proto = IPPROTO_ICMP;
    e.orig.icmp_type = 8;
    e.orig.icmp_id = 4242;
    e.zone = 2;
    icmp = nc_ct_entry_describe(&e);
    g_assert_cmpstr(icmp, ==, "icmp 192.0.2.5 -> 198.51.100.7 type 8 code 0 id 4242 zone 2");
}

/* 100k against 100k with one change: linear, not quadratic */
static void test_large(void)
{
    const guint n = 100000;
    g_autoptr(GArray) a = g_array_sized_new(FALSE, TRUE, sizeof(NcCtEntry), n);
    g_autoptr(GArray) b = NULL;
    g_autoptr(NcCtDiff) diff = NULL;
    gint64 t0;

    for (guint i = 0; i < n; i++) {
        char src[32];
        NcCtEntry e;

        g_snprintf(src, sizeof(src), "10.%u.%u.%u", i >> 16, (i >> 8) & 255, i & 255);
        e = make_tcp(src, (guint16)(1024 + i % 50000), "198.51.100.7", 443);
        g_array_append_val(a, e);
    }
    b = g_array_copy(a);
    g_array_index(b, NcCtEntry, n / 2).mark = 1;
    t0 = g_get_monotonic_time();
    diff = nc_ct_diff((NcCtEntry *)(void *)a->data, n, (NcCtEntry *)(void *)b->data, n);
    g_test_message("diff of 2 x %u entries: %.3f s", n, (g_get_monotonic_time() - t0) / 1e6);
    g_assert_cmpuint(diff->changed->len, ==, 1);
    g_assert_cmpuint(diff->missing->len + diff->extra->len, ==, 0);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/diff/identical", test_identical);
    g_test_add_func("/diff/missing-extra", test_missing_extra);
    g_test_add_func("/diff/zone-is-identity", test_zone_is_identity);
    g_test_add_func("/diff/nat-change", test_nat_change);
    for (guint i = 0; i < G_N_ELEMENTS(field_cases); i++) {
        g_autofree char *path = g_strdup_printf("/diff/field/%s", field_cases[i].name);

        g_test_add_data_func(path, &field_cases[i], test_field);
    }
    g_test_add_func("/diff/describe", test_describe);
    g_test_add_func("/diff/large", test_large);
    return g_test_run();
}

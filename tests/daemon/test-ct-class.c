/* test-ct-class.c - conntrack's class keeps the peer protocol's identity and digest: an NcItemSet
 * of nc_ct_class has the digest a version 3 netcarry seals, byte for byte
 */
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_conntrack_tcp.h>
#include <string.h>

#include "nc-ct-class.h"
#include "nc-peer-proto.h"

static NcCtEntry entry(const char *src, guint16 sport, guint32 timeout)
{
    NcCtEntry e;

    memset(&e, 0, sizeof(e));
    g_assert_true(nc_addr_parse(src, &e.orig.src, NULL));
    g_assert_true(
        nc_addr_parse(strchr(src, ':') ? "2001:db8::10" : "192.0.2.10", &e.orig.dst, NULL));
    e.orig.proto = IPPROTO_TCP;
    e.orig.sport = sport;
    e.orig.dport = 80;
    e.reply.src = e.orig.dst;
    e.reply.dst = e.orig.src;
    e.reply.proto = IPPROTO_TCP;
    e.reply.sport = 80;
    e.reply.dport = sport;
    e.status = IPS_CONFIRMED | IPS_ASSURED | IPS_SEEN_REPLY;
    e.timeout = timeout;
    e.has_tcp = TRUE;
    e.tcp_state = TCP_CONNTRACK_ESTABLISHED;
    return e;
}

/* Digests that netcarry's peer protocol 3 computed (NcPeerDigest, before NcItemSet replaced it)
 * for the sets below: a SEAL must carry them byte for byte, or a version 3 peer refuses it. */
#define PROTO3_DIGEST_99 "b2a2043fbfc336d4cbaf5ded9c11014624b4cd1e9729c4cae4069d2ef89adee6"
#define PROTO3_DIGEST_ONE "7dd25b222377ea94dafa5ddc9f06788583628aff77af66ce4164f99d16d7b723"

/* 100 entries, IPv4 and IPv6, one with labels, a mark and a zone; then one replaced, one gone */
static void first_chunk(GArray *upserts)
{
    for (guint16 p = 40000; p < 40100; p++) {
        NcCtEntry e = entry(p % 2 ? "10.0.0.5" : "2001:db8::5", p, 600);

        if (p == 40010) {
            e.has_labels = TRUE;
            memset(e.labels, 0xa5, sizeof(e.labels));
            e.mark = 0x1234;
            e.zone = 3;
        }
        g_array_append_val(upserts, e);
    }
}

static void second_chunk(GArray *upserts, GArray *deletes)
{
    NcCtEntry e = entry("10.0.0.5", 40001, 300);
    NcCtEntry gone = entry("2001:db8::5", 40002, 0);
    NcCtKey k;

    g_array_append_val(upserts, e);
    nc_ct_key_of(&gone, &k);
    g_array_append_val(deletes, k);
}

static void assert_digest(const NcItemSet *set, const char *want)
{
    g_autofree char *hex = nc_digest_to_string(nc_item_set_digest(set));

    g_assert_cmpstr(hex, ==, want);
}

/* The receiver's way (STATE chunks into the set) and the sender's (upsert and remove one by one)
 * give protocol 3's digest, byte for byte, and keys as the protocol encodes them. */
static void test_same_digest(void)
{
    g_autoptr(NcItemSet) received = nc_item_set_new(&nc_ct_class);
    g_autoptr(NcItemSet) sent = nc_item_set_new(&nc_ct_class);
    g_autoptr(NcItemSet) one = nc_item_set_new(&nc_ct_class);
    g_autoptr(GArray) upserts = g_array_new(FALSE, TRUE, sizeof(NcCtEntry));
    g_autoptr(GArray) deletes = g_array_new(FALSE, TRUE, sizeof(NcCtKey));
    NcPeerState state = {0, upserts, deletes};
    NcCtEntry e1 = entry("10.0.0.5", 1, 1);

    first_chunk(upserts);
    g_assert_true(nc_peer_state_apply(received, &state, NULL));
    for (guint i = 0; i < upserts->len; i++)
        g_assert_true(nc_item_set_upsert(
            sent, g_memdup2(&g_array_index(upserts, NcCtEntry, i), sizeof(NcCtEntry)), NULL, NULL));
    g_array_set_size(upserts, 0);
    second_chunk(upserts, deletes);
    g_assert_true(nc_peer_state_apply(received, &state, NULL));
    {
        NcCtEntry gone = entry("2001:db8::5", 40002, 0);
        gboolean removed = FALSE;

        g_assert_true(nc_item_set_remove(sent, &gone, &removed, NULL));
        g_assert_true(removed);
        g_assert_true(nc_item_set_upsert(
            sent, g_memdup2(&g_array_index(upserts, NcCtEntry, 0), sizeof(NcCtEntry)), NULL, NULL));
    }
    g_assert_cmpuint(nc_item_set_count(received), ==, 99);
    g_assert_cmpuint(nc_item_set_count(sent), ==, 99);
    assert_digest(received, PROTO3_DIGEST_99);
    assert_digest(sent, PROTO3_DIGEST_99);
    g_assert_true(nc_item_set_upsert(one, g_memdup2(&e1, sizeof(e1)), NULL, NULL));
    assert_digest(one, PROTO3_DIGEST_ONE);
    /* a key as the peer protocol encodes it finds the item */
    {
        NcCtEntry e = entry("10.0.0.5", 40001, 0);
        g_autoptr(GBytes) key = NULL;
        const NcCtEntry *found;
        NcCtKey k;

        nc_ct_key_of(&e, &k);
        key = nc_peer_ct_key_canonical(&k, NULL);
        found = nc_item_set_lookup_key(received, key);
        g_assert_nonnull(found);
        if (found)
            g_assert_cmpuint(found->timeout, ==, 300);
    }
}

/* Ownership is the address rule, narrowed by the zone. */
static void test_owns(void)
{
    g_autoptr(NcOwner) owner = nc_owner_new();
    NcCtEntry mine = entry("10.0.0.5", 1, 1), other = entry("10.0.0.6", 1, 1);
    NcAddr a;
    g_autofree char *why = NULL;

    nc_addr_parse("10.0.0.5", &a, NULL);
    g_array_append_val(owner->addresses, a);
    g_assert_true(nc_ct_class.owns(owner, &mine, NULL));
    g_assert_false(nc_ct_class.owns(owner, &other, &why));
    g_assert_nonnull(why);
    owner->has_zone = TRUE;
    owner->zone = 7;
    g_assert_false(nc_ct_class.owns(owner, &mine, NULL));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/ct-class/same-digest-as-protocol-3", test_same_digest);
    g_test_add_func("/ct-class/owns", test_owns);
    return g_test_run();
}

/* test-ct-class.c - conntrack through the state-driver interface keeps protocol 2's identity and
 * digest: an NcItemSet of nc_ct_class holds what NcPeerSet holds, with the same digest
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

/* The same changes through both sets: same count, same digest (byte for byte), same keys. */
static void test_same_digest(void)
{
    g_autoptr(NcItemSet) set = nc_item_set_new(&nc_ct_class);
    g_autoptr(NcPeerSet) peer = nc_peer_set_new();
    g_autoptr(GArray) upserts = g_array_new(FALSE, TRUE, sizeof(NcCtEntry));
    g_autoptr(GArray) deletes = g_array_new(FALSE, TRUE, sizeof(NcPeerCtKey));
    NcPeerState state = {0, upserts, deletes};
    NcPeerCtKey k;

    for (guint16 p = 40000; p < 40100; p++) {
        NcCtEntry e = entry(p % 2 ? "10.0.0.5" : "2001:db8::5", p, 600);

        g_array_append_val(upserts, e);
        g_assert_true(nc_item_set_upsert(set, g_memdup2(&e, sizeof(e)), NULL, NULL));
    }
    g_assert_true(nc_peer_set_apply(peer, &state, NULL));
    /* a replace and a deletion */
    g_array_set_size(upserts, 0);
    {
        NcCtEntry e = entry("10.0.0.5", 40001, 300);
        NcCtEntry gone = entry("2001:db8::5", 40002, 0);

        g_array_append_val(upserts, e);
        nc_peer_ct_key_of(&gone, &k);
        g_array_append_val(deletes, k);
        g_assert_true(nc_item_set_upsert(set, g_memdup2(&e, sizeof(e)), NULL, NULL));
        g_assert_true(nc_item_set_remove(set, &gone, NULL, NULL));
    }
    g_assert_true(nc_peer_set_apply(peer, &state, NULL));

    g_assert_cmpuint(nc_item_set_count(set), ==, nc_peer_set_count(peer));
    g_assert_cmpuint(nc_item_set_count(set), ==, 99);
    g_assert_cmpmem(nc_item_set_digest(set)->sum, NC_DIGEST_SIZE, nc_peer_set_digest(peer)->sum,
                    NC_PEER_DIGEST_SIZE);
    /* a key as the peer protocol encodes it finds the item */
    {
        NcCtEntry e = entry("10.0.0.5", 40001, 0);
        g_autoptr(GBytes) key = NULL;
        const NcCtEntry *found;

        nc_peer_ct_key_of(&e, &k);
        key = nc_peer_ct_key_canonical(&k, NULL);
        found = nc_item_set_lookup_key(set, key);
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
    g_test_add_func("/ct-class/same-digest-as-protocol-2", test_same_digest);
    g_test_add_func("/ct-class/owns", test_owns);
    return g_test_run();
}

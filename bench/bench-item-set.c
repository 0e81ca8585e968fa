/* bench-item-set.c - the carry engine's conntrack sets without kernel or network: 100k entries
 * through the source's sent set, then the same STATE chunks through the destination's received
 * set, as nc-carry-src.c and nc-carry-dest.c use them; prints changes/s, and the
 * heap bytes one item costs in a set with and without a digest.
 *
 * No root. CPU time of this thread, median of the rounds (the CI machine is shared).
 *     build/bench/bench-item-set [ENTRIES [ROUNDS]]
 */
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_conntrack_tcp.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "conf/nc-ct-items.h"
#include "nc-peer-proto.h"

static gint64 cpu_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

/* heap bytes in use (the main arena's and mmapped blocks) */
static gsize heap_bytes(void)
{
    struct mallinfo2 mi = mallinfo2();

    return mi.uordblks + mi.hblkhd;
}

static void make_entry(guint i, NcCtEntry *e)
{
    memset(e, 0, sizeof(*e));
    e->orig.src.family = e->orig.dst.family = AF_INET;
    memcpy(e->orig.src.bytes, (guint8[]){10, 0, 0, 5}, 4);
    memcpy(e->orig.dst.bytes, (guint8[]){192, (i >> 16) & 255, (i >> 8) & 255, i & 255}, 4);
    e->orig.proto = IPPROTO_TCP;
    e->orig.sport = 1024 + (i % 60000);
    e->orig.dport = 80;
    e->reply.src = e->orig.dst;
    e->reply.dst = e->orig.src;
    e->reply.proto = IPPROTO_TCP;
    e->reply.sport = 80;
    e->reply.dport = e->orig.sport;
    e->status = IPS_ASSURED | IPS_SEEN_REPLY | IPS_CONFIRMED;
    e->timeout = 3600;
    e->has_tcp = TRUE;
    e->tcp_state = TCP_CONNTRACK_ESTABLISHED;
}

/* The source: what it sends goes into its sent set; deletions of keys it never sent are dropped.
 * The chunks are what it would send. */
static void source(NcItemSet *sent, GArray *ups, GArray *dels, GPtrArray *chunks)
{
    NcPeerState *st = g_new0(NcPeerState, 1);

    st->upserts = g_array_new(FALSE, FALSE, sizeof(NcCtEntry));
    st->deletes = g_array_new(FALSE, FALSE, sizeof(NcCtKey));
    for (guint i = 0; dels && i < dels->len; i++) {
        const NcCtKey *k = &g_array_index(dels, NcCtKey, i);
        g_autoptr(GBytes) kb = nc_peer_ct_key_canonical(k, NULL);
        gboolean removed = FALSE;

        nc_item_set_remove_key(sent, kb, &removed);
        if (removed)
            g_array_append_vals(st->deletes, k, 1);
    }
    for (guint i = 0; ups && i < ups->len; i++) {
        const NcCtEntry *e = &g_array_index(ups, NcCtEntry, i);

        g_assert_true(nc_item_set_upsert(sent, g_memdup2(e, sizeof(*e)), NULL, NULL));
        g_array_append_vals(st->upserts, e, 1);
    }
    g_ptr_array_add(chunks, st);
}

/* The destination (nc-carry-dest.c's dest_apply(), the kernel's part left out): what it installed
 * under a deleted or replaced key is looked up in the received set (and would be deleted first),
 * then the chunk goes into the received set, which is also what it installed (no second set). */
static void destination(NcItemSet *received, const NcPeerState *st)
{
    for (guint i = 0; i < st->deletes->len; i++) {
        g_autoptr(GBytes) k =
            nc_peer_ct_key_canonical(&g_array_index(st->deletes, NcCtKey, i), NULL);

        (void)nc_item_set_lookup_key(received, k);
    }
    for (guint i = 0; i < st->upserts->len; i++) {
        const NcCtEntry *e = &g_array_index(st->upserts, NcCtEntry, i);
        g_autoptr(GBytes) k = nc_item_set_key_of(received, e, NULL);

        (void)nc_item_set_lookup_key(received, k);
    }
    g_assert_true(nc_peer_state_apply(received, st, NULL));
}

/* Heap bytes per item of a set of @all's entries, each upserted as the engine does; @per_s:
 * (out) upserts per second of CPU time. */
static double bytes_per_item(GArray *all, gboolean digest, double *per_s)
{
    gsize before = heap_bytes(), after;
    NcItemSet *set =
        digest ? nc_item_set_new(&nc_ct_class) : nc_item_set_new_without_digest(&nc_ct_class);
    gint64 t0 = cpu_us();

    for (guint i = 0; i < all->len; i++) {
        const NcCtEntry *e = &g_array_index(all, NcCtEntry, i);

        g_assert_true(nc_item_set_upsert(set, g_memdup2(e, sizeof(*e)), NULL, NULL));
    }
    *per_s = all->len / ((cpu_us() - t0) / 1e6);
    after = heap_bytes();
    nc_item_set_free(set);
    return (double)(after - before) / all->len;
}

static void state_free(gpointer p)
{
    NcPeerState *st = p;

    g_array_unref(st->upserts);
    g_array_unref(st->deletes);
    g_free(st);
}

int main(int argc, char **argv)
{
    guint n = argc > 1 ? (guint)atoi(argv[1]) : 100000;
    guint rounds = argc > 2 ? (guint)atoi(argv[2]) : 7;
    g_autoptr(GArray) all = g_array_sized_new(FALSE, TRUE, sizeof(NcCtEntry), n);
    g_autoptr(GArray) changed = g_array_new(FALSE, TRUE, sizeof(NcCtEntry));
    g_autoptr(GArray) gone = g_array_new(FALSE, TRUE, sizeof(NcCtKey));
    g_autofree double *src_s = g_new0(double, MAX(rounds, 1));
    g_autofree double *dst_s = g_new0(double, MAX(rounds, 1));
    guint moved;

    rounds = MAX(rounds, 1);
    g_array_set_size(all, n);
    for (guint i = 0; i < n; i++)
        make_entry(i, &g_array_index(all, NcCtEntry, i));
    /* after the first copy: every 10th entry changed, every 20th gone */
    for (guint i = 0; i < n; i += 10) {
        NcCtEntry e = g_array_index(all, NcCtEntry, i);

        e.timeout = 1200;
        g_array_append_val(changed, e);
    }
    for (guint i = 5; i < n; i += 20) {
        NcCtKey k;

        nc_ct_key_of(&g_array_index(all, NcCtEntry, i), &k);
        g_array_append_val(gone, k);
    }
    moved = n + changed->len + gone->len;
    for (guint r = 0; r < rounds; r++) {
        g_autoptr(NcItemSet) sent = nc_item_set_new(&nc_ct_class);
        g_autoptr(NcItemSet) received = nc_item_set_new(&nc_ct_class);
        g_autoptr(GPtrArray) chunks = g_ptr_array_new_with_free_func(state_free);
        NcPeerSeal seal = {0};
        gint64 t0, t1, t2;

        t0 = cpu_us();
        for (guint off = 0; off < n; off += NC_PEER_CHUNK_ENTRIES) {
            g_autoptr(GArray) part = g_array_new(FALSE, FALSE, sizeof(NcCtEntry));

            g_array_append_vals(part, &g_array_index(all, NcCtEntry, off),
                                MIN(NC_PEER_CHUNK_ENTRIES, n - off));
            source(sent, part, NULL, chunks);
        }
        source(sent, changed, gone, chunks);
        t1 = cpu_us();
        for (guint i = 0; i < chunks->len; i++)
            destination(received, g_ptr_array_index(chunks, i));
        t2 = cpu_us();
        seal.chunks = chunks->len;
        seal.count = nc_item_set_count(sent);
        memcpy(seal.digest, nc_item_set_digest(sent)->sum, NC_DIGEST_SIZE);
        g_assert_true(nc_peer_seal_check(received, &seal, chunks->len, NULL));
        src_s[r] = (t1 - t0) / 1e6;
        dst_s[r] = (t2 - t1) / 1e6;
    }
    qsort(src_s, rounds, sizeof(double), cmp_double);
    qsort(dst_s, rounds, sizeof(double), cmp_double);
    printf("%u entries, %u changes, %u rounds, median CPU time: source (sent set) %.0f changes/s, "
           "destination (received set) %.0f changes/s\n",
           n, moved, rounds, moved / src_s[rounds / 2], moved / dst_s[rounds / 2]);
    {
        double with_s, without_s;
        double with = bytes_per_item(all, TRUE, &with_s);
        double without = bytes_per_item(all, FALSE, &without_s);

        printf("%u entries: heap bytes per item (NcCtEntry is %zu): set with digest %.1f (%.0f "
               "upserts/s), without %.1f (%.0f upserts/s)\n",
               n, sizeof(NcCtEntry), with, with_s, without, without_s);
    }
    return 0;
}

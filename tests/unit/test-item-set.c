/* test-item-set.c - the keyed item set and its incremental digest; the nft set class's identity,
 * ownership and comparison (pure: no kernel)
 */
#include <string.h>
#include <sys/socket.h>

#include <linux/netfilter/nf_tables.h>

#include "conf/nc-ct-items.h"
#include "conf/nc-item-set.h"
#include "conf/nc-nft-items.h"
#include "util/nc-error.h"

/* an element of `set inet fw NAME { type ipv4_addr . ether_addr }` (or of a map ipv4 : ipv4) */
static NcNftSetElem *elem(const char *set, const char *addr, guint64 expires_ms, guint64 packets)
{
    NcNftSetElem *e = g_new0(NcNftSetElem, 1);
    NcAddr a;
    guint8 key[12] = {0};

    g_assert_true(nc_addr_parse(addr, &a, NULL));
    memcpy(key, a.bytes, 4);
    memcpy(key + 4, (guint8[]){0x52, 0x54, 0, 0, 0, 5}, 6);
    e->family = 1; /* NFPROTO_INET */
    e->table = g_strdup("fw");
    e->set = g_strdup(set);
    e->key_type = 7 << 6 | 9;
    e->key_len = 12;
    e->n_fields = 2;
    e->field_len[0] = 4;
    e->field_len[1] = 6;
    e->key = g_bytes_new(key, sizeof(key));
    e->has_timeout = TRUE;
    e->timeout_ms = 60000;
    e->expires_ms = expires_ms;
    e->has_counter = TRUE;
    e->packets = packets;
    return e;
}

static NcItemSet *set_of(const char *const *addrs, guint64 packets)
{
    NcItemSet *s = nc_item_set_new(&nc_nft_set_class);

    for (guint i = 0; addrs[i]; i++)
        g_assert_true(nc_item_set_upsert(s, elem("authed", addrs[i], 30000, packets), NULL, NULL));
    return s;
}

/* The digest does not depend on the order items arrived in. */
static void test_digest_order(void)
{
    const char *abc[] = {"10.0.0.1", "10.0.0.2", "10.0.0.3", NULL};
    const char *cab[] = {"10.0.0.3", "10.0.0.1", "10.0.0.2", NULL};
    g_autoptr(NcItemSet) a = set_of(abc, 1);
    g_autoptr(NcItemSet) b = set_of(cab, 1);
    NcDigest zero;

    nc_digest_init(&zero);
    g_assert_cmpuint(nc_item_set_count(a), ==, 3);
    g_assert_true(nc_digest_equal(nc_item_set_digest(a), nc_item_set_digest(b)));
    g_assert_false(nc_digest_equal(nc_item_set_digest(a), &zero));
}

/* Kept incrementally through replaces and removals, it equals the digest of the final set built
 * from scratch; removing everything gives the empty set's (all zero). */
static void test_digest_incremental(void)
{
    const char *final[] = {"10.0.0.1", "10.0.0.3", NULL};
    const char *start[] = {"10.0.0.1", "10.0.0.2", "10.0.0.3", NULL};
    g_autoptr(NcItemSet) s = set_of(start, 0);
    g_autoptr(NcItemSet) expect = set_of(final, 5);
    g_autoptr(NcNftSetElem) probe = elem("authed", "10.0.0.2", 0, 0);
    gboolean replaced = FALSE, removed = FALSE;
    NcDigest before, zero;

    /* a replace (same key, counter moved on) keeps the count and changes the digest */
    before = *nc_item_set_digest(s);
    g_assert_true(nc_item_set_upsert(s, elem("authed", "10.0.0.1", 30000, 5), &replaced, NULL));
    g_assert_true(replaced);
    g_assert_cmpuint(nc_item_set_count(s), ==, 3);
    g_assert_false(nc_digest_equal(&before, nc_item_set_digest(s)));
    g_assert_true(nc_item_set_upsert(s, elem("authed", "10.0.0.3", 30000, 5), NULL, NULL));
    /* removed by key, whatever the rest of the item holds */
    g_assert_true(nc_item_set_remove(s, probe, &removed, NULL));
    g_assert_true(removed);
    g_assert_true(nc_item_set_remove(s, probe, &removed, NULL));
    g_assert_false(removed);
    g_assert_cmpuint(nc_item_set_count(s), ==, 2);
    g_assert_true(nc_digest_equal(nc_item_set_digest(s), nc_item_set_digest(expect)));
    g_assert_true(nc_item_set_check_seal(s, 2, nc_item_set_digest(expect), NULL));

    {
        g_autoptr(GPtrArray) items = nc_item_set_items(expect);

        for (guint i = 0; i < items->len; i++) {
            g_autoptr(GBytes) key = nc_item_set_key_of(s, items->pdata[i], NULL);

            g_assert_true(nc_item_set_remove_key(s, key, NULL));
        }
    }
    nc_digest_init(&zero);
    g_assert_cmpuint(nc_item_set_count(s), ==, 0);
    g_assert_true(nc_digest_equal(nc_item_set_digest(s), &zero));
}

/* A sum, not a XOR: an item counted twice changes the digest. */
static void test_digest_twice(void)
{
    NcDigest once, twice;
    const guint8 item[] = "an item";

    nc_digest_init(&once);
    nc_digest_init(&twice);
    nc_digest_add_bytes(&once, item, sizeof(item));
    nc_digest_add_bytes(&twice, item, sizeof(item));
    nc_digest_add_bytes(&twice, item, sizeof(item));
    g_assert_false(nc_digest_equal(&once, &twice));
    nc_digest_remove_bytes(&twice, item, sizeof(item));
    g_assert_true(nc_digest_equal(&once, &twice));
}

/* A seal that differs says how, naming the class. */
static void test_seal_mismatch(void)
{
    const char *ab[] = {"10.0.0.1", "10.0.0.2", NULL};
    const char *ab2[] = {"10.0.0.1", "10.0.0.2", NULL};
    g_autoptr(NcItemSet) s = set_of(ab, 1);
    g_autoptr(NcItemSet) other = set_of(ab2, 2); /* same keys, other counters */
    g_autoptr(GError) error = NULL;

    g_assert_false(nc_item_set_check_seal(s, 3, nc_item_set_digest(s), &error));
    g_assert_error(error, NC_ERROR, NC_ERROR_INVALID_DATA);
    g_assert_nonnull(strstr(error->message, "nft-set"));
    g_assert_nonnull(strstr(error->message, "3 items"));
    g_clear_error(&error);
    g_assert_false(nc_item_set_check_seal(s, 2, nc_item_set_digest(other), &error));
    g_assert_error(error, NC_ERROR, NC_ERROR_INVALID_DATA);
    g_assert_nonnull(strstr(error->message, "digest"));
}

/* The diff matches by key and compares with the class's tolerance: remaining time may tick down
 * (up to 2 s), counters may grow. */
static void test_diff(void)
{
    g_autoptr(NcItemSet) a = nc_item_set_new(&nc_nft_set_class);
    g_autoptr(NcItemSet) b = nc_item_set_new(&nc_nft_set_class);
    g_autoptr(NcItemDiff) d = NULL;

    nc_item_set_upsert(a, elem("authed", "10.0.0.1", 30000, 5), NULL, NULL);
    nc_item_set_upsert(b, elem("authed", "10.0.0.1", 29500, 9), NULL, NULL); /* ticked, grew */
    nc_item_set_upsert(a, elem("authed", "10.0.0.2", 30000, 5), NULL, NULL);
    nc_item_set_upsert(b, elem("authed", "10.0.0.2", 10000, 5), NULL, NULL); /* lost time */
    nc_item_set_upsert(a, elem("authed", "10.0.0.3", 30000, 5), NULL, NULL);
    nc_item_set_upsert(b, elem("authed", "10.0.0.4", 30000, 5), NULL, NULL);
    nc_item_set_upsert(a, elem("authed", "10.0.0.6", 30000, 5), NULL, NULL);
    nc_item_set_upsert(b, elem("authed", "10.0.0.6", 30000, 4), NULL, NULL); /* counter fell */
    d = nc_item_set_diff(a, b);
    g_assert_false(nc_item_diff_is_empty(d));
    g_assert_cmpuint(d->missing->len, ==, 1);
    g_assert_cmpstr(d->missing->pdata[0], ==,
                    "inet/fw/authed element 10.0.0.3 . 52:54:00:00:00:05");
    g_assert_cmpuint(d->extra->len, ==, 1);
    g_assert_cmpuint(d->changed->len, ==, 2);
    for (guint i = 0; i < d->changed->len; i++)
        g_assert_true(strstr(d->changed->pdata[i], "10.0.0.2 ") ||
                      strstr(d->changed->pdata[i], "10.0.0.6 "));
}

/* A set without a digest (a carry's installed set) keeps the same items by the same keys: upsert,
 * replace, remove and lookup as a digested set, and a diff against one. */
static void test_without_digest(void)
{
    const char *abc[] = {"10.0.0.1", "10.0.0.2", "10.0.0.3", NULL};
    g_autoptr(NcItemSet) plain = nc_item_set_new_without_digest(&nc_nft_set_class);
    g_autoptr(NcItemSet) digested = set_of(abc, 1);
    g_autoptr(NcNftSetElem) probe = elem("authed", "10.0.0.2", 0, 0);
    g_autoptr(NcItemDiff) d = NULL;
    gboolean replaced = TRUE, removed = FALSE;
    const NcNftSetElem *found;

    for (guint i = 0; abc[i]; i++)
        g_assert_true(nc_item_set_upsert(plain, elem("authed", abc[i], 30000, 1), &replaced, NULL));
    g_assert_false(replaced);
    g_assert_true(nc_item_set_upsert(plain, elem("authed", "10.0.0.1", 30000, 7), &replaced, NULL));
    g_assert_true(replaced);
    g_assert_cmpuint(nc_item_set_count(plain), ==, 3);
    found = nc_item_set_lookup(plain, probe);
    g_assert_nonnull(found);
    d = nc_item_set_diff(plain, digested);
    g_assert_cmpuint(d->missing->len + d->extra->len, ==, 0);
    g_assert_cmpuint(d->changed->len, ==, 1); /* 10.0.0.1's counter is lower in @digested */
    g_assert_true(nc_item_set_remove(plain, probe, &removed, NULL));
    g_assert_true(removed);
    g_assert_null(nc_item_set_lookup(plain, probe));
    g_assert_cmpuint(nc_item_set_count(plain), ==, 2);
}

/* An element is the domain's when a key field or a map's data field is its address or MAC; an
 * address . MAC binding only when both are. */
static void test_owns(void)
{
    g_autoptr(NcOwner) owner = nc_owner_new();
    g_autoptr(NcNftSetElem) foreign_addr = elem("pairs", "10.0.0.99", 1, 0);
    g_autoptr(NcNftSetElem) binding = elem("pairs", "10.0.0.5", 1, 0);
    g_autoptr(NcNftSetElem) map = g_new0(NcNftSetElem, 1);
    g_autofree char *why = NULL, *why2 = NULL, *why3 = NULL;
    NcAddr a;
    guint8 k[4] = {10, 0, 0, 9}, d[4] = {10, 0, 0, 5};

    nc_addr_parse("10.0.0.5", &a, NULL);
    g_array_append_val(owner->addresses, a);
    /* the domain's address bound to a MAC this host does not know as the domain's: another VM
     * could send from the domain's address */
    g_assert_cmpint(nc_nft_set_ownership(owner, binding, &why), ==, NC_NFT_OWN_FOREIGN_BINDING);
    g_assert_nonnull(strstr(why, "52:54:00:00:00:05"));
    g_assert_false(nc_nft_set_owns(owner, binding, NULL));
    g_assert_cmpint(nc_nft_set_ownership(owner, foreign_addr, NULL), ==, NC_NFT_OWN_NONE);
    g_array_append_vals(owner->macs, (guint8[]){0x52, 0x54, 0, 0, 0, 5}, 1);
    g_assert_true(nc_nft_set_owns(owner, binding, NULL));
    /* the domain's MAC bound to an address that is not its own: refused, naming both */
    g_assert_false(nc_nft_set_owns(owner, foreign_addr, &why2));
    g_assert_cmpint(nc_nft_set_ownership(owner, foreign_addr, &why3), ==,
                    NC_NFT_OWN_FOREIGN_BINDING);
    g_test_message("%s", why2);
    g_assert_nonnull(strstr(why2, "10.0.0.99"));
    g_assert_nonnull(strstr(why2, "52:54:00:00:00:05"));
    /* the MAC alone (`type ether_addr`) is the domain's */
    {
        g_autoptr(NcNftSetElem) mac = elem("macs", "10.0.0.5", 1, 0);

        mac->key_type = 9;
        mac->key_len = 6;
        mac->n_fields = 1;
        mac->field_len[0] = 6;
        g_bytes_unref(mac->key);
        mac->key = g_bytes_new((guint8[]){0x52, 0x54, 0, 0, 0, 5}, 6);
        g_assert_true(nc_nft_set_owns(owner, mac, NULL));
        g_bytes_unref(mac->key);
        mac->key = g_bytes_new((guint8[]){0x52, 0x54, 0, 0, 0, 6}, 6);
        g_assert_false(nc_nft_set_owns(owner, mac, NULL));
    }

    map->table = g_strdup("lb");
    map->set = g_strdup("sticky");
    map->set_flags = NFT_SET_MAP;
    map->key_type = 7;
    map->key_len = 4;
    map->n_fields = 1;
    map->field_len[0] = 4;
    map->key = g_bytes_new(k, 4);
    map->data_type = 7;
    map->data_len = 4;
    map->data = g_bytes_new(d, 4);
    g_assert_true(nc_nft_set_owns(owner, map, NULL)); /* client 10.0.0.9 -> backend, the VM */
    d[3] = 77;
    g_bytes_unref(map->data);
    map->data = g_bytes_new(d, 4);
    g_assert_false(nc_nft_set_owns(owner, map, NULL));

    /* an address pair (no MAC) is not a binding: the VM's flow to a peer is its own */
    d[3] = 5;
    g_bytes_unref(map->data);
    map->data = g_bytes_new(d, 4);
    map->set_flags = 0;
    map->key_type = 7 << 6 | 7;
    map->key_len = 8;
    map->n_fields = 2;
    map->field_len[1] = 4;
    g_bytes_unref(map->key);
    map->key = g_bytes_new((guint8[]){10, 0, 0, 5, 192, 0, 2, 1}, 8);
    g_clear_pointer(&map->data, g_bytes_unref);
    map->data_type = 0;
    map->data_len = 0;
    g_assert_true(nc_nft_set_owns(owner, map, NULL));

    /* a MAC -> address map is a binding too: the data's address must be the domain's */
    map->set_flags = NFT_SET_MAP;
    map->key_type = 9;
    map->key_len = 6;
    map->n_fields = 1;
    map->field_len[0] = 6;
    g_bytes_unref(map->key);
    map->key = g_bytes_new((guint8[]){0x52, 0x54, 0, 0, 0, 5}, 6);
    map->data_type = 7;
    map->data_len = 4;
    map->data = g_bytes_new((guint8[]){10, 0, 0, 5}, 4);
    g_assert_true(nc_nft_set_owns(owner, map, NULL));
    g_bytes_unref(map->data);
    map->data = g_bytes_new((guint8[]){10, 0, 0, 98}, 4);
    g_assert_cmpint(nc_nft_set_ownership(owner, map, NULL), ==, NC_NFT_OWN_FOREIGN_BINDING);
}

static GBytes *encode(const NcClassOps *ops, gconstpointer item)
{
    g_autoptr(GByteArray) b = g_byte_array_new();

    g_assert_true(ops->encode(item, b, NULL));
    return g_byte_array_free_to_bytes(g_steal_pointer(&b));
}

/* What a peer sends decodes to the same item (encode -> decode -> encode is the identity), for an
 * element with map data and an object name, and for a quota; a short or long input is refused,
 * naming the field. */
static void test_decode(void)
{
    g_autoptr(NcNftSetElem) e = elem("sticky", "10.0.0.9", 12345, 77);
    g_autoptr(NcNftObj) o = g_new0(NcNftObj, 1);
    const NcClassOps *classes[] = {&nc_nft_set_class, &nc_nft_obj_class};
    gconstpointer items[] = {NULL, NULL};
    guint8 d[4] = {10, 0, 0, 5};

    e->data = g_bytes_new(d, 4);
    e->data_type = 7;
    e->data_len = 4;
    e->objref = g_strdup("vm50");
    o->family = 1;
    o->table = g_strdup("fw");
    o->name = g_strdup("vm50q");
    o->type = NFT_OBJECT_QUOTA;
    o->bytes = 100 << 20;
    o->consumed = 80 << 20;
    o->flags = NFT_QUOTA_F_INV;
    items[0] = e;
    items[1] = o;
    for (guint i = 0; i < G_N_ELEMENTS(classes); i++) {
        g_autoptr(GBytes) bytes = encode(classes[i], items[i]);
        g_autoptr(GBytes) again = NULL;
        g_autoptr(GError) error = NULL;
        gsize len;
        const guint8 *p = g_bytes_get_data(bytes, &len);
        g_autofree guint8 *longer = g_malloc0(len + 1);
        gpointer back = classes[i]->decode(p, len, &error);

        g_assert_no_error(error);
        g_assert_nonnull(back);
        if (!back)
            continue;
        again = encode(classes[i], back);
        g_assert_true(g_bytes_equal(bytes, again));
        g_assert_null(classes[i]->compare(items[i], back));
        classes[i]->free(back);

        g_assert_null(classes[i]->decode(p, len - 3, &error));
        g_assert_error(error, NC_ERROR, NC_ERROR_INVALID_DATA);
        g_assert_nonnull(strstr(error->message, classes[i]->name));
        g_clear_error(&error);
        memcpy(longer, p, len);
        g_assert_null(classes[i]->decode(longer, len + 1, &error));
        g_assert_error(error, NC_ERROR, NC_ERROR_INVALID_DATA);
        g_assert_nonnull(strstr(error->message, "left over"));
    }
}

/* conntrack entry @i (a flow of 10.0.0.5 to 192.x.y.z:80), its timeout @timeout */
static NcCtEntry ct_entry(guint i, guint32 timeout)
{
    NcCtEntry e = {0};

    e.orig.src.family = e.orig.dst.family = AF_INET;
    memcpy(e.orig.src.bytes, (guint8[]){10, 0, 0, 5}, 4);
    memcpy(e.orig.dst.bytes, (guint8[]){192, (i >> 16) & 255, (i >> 8) & 255, i & 255}, 4);
    e.orig.proto = 6;
    e.orig.sport = 1024 + (i % 60000);
    e.orig.dport = 80;
    e.reply.src = e.orig.dst;
    e.reply.dst = e.orig.src;
    e.reply.proto = 6;
    e.reply.sport = 80;
    e.reply.dport = e.orig.sport;
    e.timeout = timeout;
    return e;
}

/* The set against a model (an array of what each key holds, 0: absent) through a long random
 * run of inserts, replacements and removals, for a class held inline (conntrack) and one held by
 * pointer (nft set elements): the count, every key's item, a walk's items, and the digest, which
 * must equal that of a set built afresh from the model (what a removal subtracted was exactly
 * what was added). Removal shifts probe runs back: keys that collide must stay findable. */
static void test_model(gconstpointer data)
{
    gboolean inline_items = GPOINTER_TO_INT(data);
    const guint n_keys = 3000, n_ops = 40000;
    g_autofree guint32 *model = g_new0(guint32, n_keys);
    g_autoptr(NcItemSet) set = NULL, fresh = NULL;
    g_autoptr(GRand) rand = g_rand_new_with_seed(13);
    NcItemSetIter it;
    gconstpointer item;
    guint count = 0, walked = 0;

    set = nc_item_set_new(inline_items ? &nc_ct_class : &nc_nft_set_class);
    fresh = nc_item_set_new(inline_items ? &nc_ct_class : &nc_nft_set_class);
    for (guint op = 0; op < n_ops; op++) {
        guint k = g_rand_int_range(rand, 0, n_keys);
        guint32 v = g_rand_int_range(rand, 1, 1000);
        g_autofree char *addr = g_strdup_printf("10.%u.%u.1", k >> 8, k & 255);
        gboolean was = model[k] != 0, replaced, removed;

        if (g_rand_int_range(rand, 0, 3) == 0) { /* a removal (of a key there or not) */
            if (inline_items) {
                NcCtEntry e = ct_entry(k, 1);

                g_assert_true(nc_item_set_remove(set, &e, &removed, NULL));
            } else {
                g_autoptr(NcNftSetElem) e = elem("authed", addr, 1, 1);

                g_assert_true(nc_item_set_remove(set, e, &removed, NULL));
            }
            g_assert_cmpint(removed, ==, was);
            count -= was;
            model[k] = 0;
            continue;
        }
        if (inline_items) {
            NcCtEntry e = ct_entry(k, v);

            g_assert_true(nc_item_set_upsert_copy(set, &e, &replaced, NULL));
        } else {
            g_assert_true(nc_item_set_upsert(set, elem("authed", addr, v, v), &replaced, NULL));
        }
        g_assert_cmpint(replaced, ==, was);
        count += !was;
        model[k] = v;
    }
    g_assert_cmpuint(nc_item_set_count(set), ==, count);
    for (guint k = 0; k < n_keys; k++) {
        g_autofree char *addr = g_strdup_printf("10.%u.%u.1", k >> 8, k & 255);

        if (inline_items) {
            NcCtEntry e = ct_entry(k, 0);
            const NcCtEntry *found = nc_item_set_lookup(set, &e);

            g_assert_true((found != NULL) == (model[k] != 0));
            if (found)
                g_assert_cmpuint(found->timeout, ==, model[k]);
            if (model[k]) {
                e.timeout = model[k];
                g_assert_true(nc_item_set_upsert(fresh, g_memdup2(&e, sizeof(e)), NULL, NULL));
            }
        } else {
            g_autoptr(NcNftSetElem) e = elem("authed", addr, 0, 0);
            const NcNftSetElem *found = nc_item_set_lookup(set, e);

            g_assert_true((found != NULL) == (model[k] != 0));
            if (found)
                g_assert_cmpuint(found->packets, ==, model[k]);
            if (model[k])
                g_assert_true(nc_item_set_upsert(fresh, elem("authed", addr, model[k], model[k]),
                                                 NULL, NULL));
        }
    }
    nc_item_set_iter_init(&it, set);
    while (nc_item_set_iter_next(&it, &item)) {
        g_assert_true(nc_item_set_lookup(set, item) == item);
        walked++;
    }
    g_assert_cmpuint(walked, ==, count);
    g_assert_true(nc_digest_equal(nc_item_set_digest(set), nc_item_set_digest(fresh)));
}

/* An item's address stays while others come and go (the store's blocks never move); an inline
 * item replaced is the new one at the same address. */
static void test_stable(void)
{
    g_autoptr(NcItemSet) set = nc_item_set_new_without_digest(&nc_ct_class);
    NcCtEntry first = ct_entry(0, 7);
    const NcCtEntry *p;

    g_assert_true(nc_item_set_upsert_copy(set, &first, NULL, NULL));
    p = nc_item_set_lookup(set, &first);
    for (guint i = 1; i < 5000; i++) {
        NcCtEntry e = ct_entry(i, 1);

        g_assert_true(nc_item_set_upsert_copy(set, &e, NULL, NULL));
        if (i % 3 == 0)
            g_assert_true(nc_item_set_remove(set, &e, NULL, NULL));
    }
    g_assert_true(nc_item_set_lookup(set, &first) == p);
    g_assert_cmpuint(p->timeout, ==, 7);
    first.timeout = 9;
    g_assert_true(nc_item_set_upsert(set, g_memdup2(&first, sizeof(first)), NULL, NULL));
    g_assert_true(nc_item_set_lookup(set, &first) == p);
    g_assert_cmpuint(p->timeout, ==, 9);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/item-set/digest/order", test_digest_order);
    g_test_add_func("/item-set/digest/incremental", test_digest_incremental);
    g_test_add_func("/item-set/digest/counted-twice", test_digest_twice);
    g_test_add_func("/item-set/seal-mismatch", test_seal_mismatch);
    g_test_add_func("/item-set/diff", test_diff);
    g_test_add_func("/item-set/without-digest", test_without_digest);
    g_test_add_func("/item-set/nft-set/owns", test_owns);
    g_test_add_func("/item-set/nft/decode", test_decode);
    g_test_add_data_func("/item-set/model/inline-conntrack", GINT_TO_POINTER(TRUE), test_model);
    g_test_add_data_func("/item-set/model/by-pointer-nft-set", GINT_TO_POINTER(FALSE), test_model);
    g_test_add_func("/item-set/stable-addresses", test_stable);
    return g_test_run();
}

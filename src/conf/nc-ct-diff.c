/* nc-ct-diff.c - compare two sets of conntrack entries: what is missing, extra
 * or changed, judged by what the destination's firewall and NAT would act on
 */
#include <linux/netfilter/nf_conntrack_common.h>
#include <string.h>

#include "conf/nc-ct-diff.h"
#include "conf/nc-ct-items.h"

/* Status bits that change how the firewall treats the next packet. The
 * *-done bits, CONFIRMED and DYING describe the kernel's bookkeeping, differ
 * legitimately between a captured entry and its re-created copy, and are not
 * compared. */
#define NC_CT_DIFF_STATUS_MASK (IPS_SEEN_REPLY | IPS_ASSURED | IPS_SRC_NAT | IPS_DST_NAT)

static void nc_describe_tuple(GString *s, const NcCtTuple *t)
{
    const char *proto = nc_ct_proto_to_string(t->proto);
    char src[NC_ADDR_STRLEN], dst[NC_ADDR_STRLEN];
    gboolean v6 = t->src.family == AF_INET6;

    nc_addr_format(&t->src, src, sizeof(src));
    nc_addr_format(&t->dst, dst, sizeof(dst));
    if (proto)
        g_string_append_printf(s, "%s ", proto);
    else
        g_string_append_printf(s, "proto %u ", t->proto);
    if (nc_ct_proto_has_ports(t->proto) || (!nc_ct_proto_is_icmp(t->proto) && (t->sport || t->dport)))
        g_string_append_printf(s, v6 ? "[%s]:%u -> [%s]:%u" : "%s:%u -> %s:%u", src, t->sport,
                               dst, t->dport);
    else if (nc_ct_proto_is_icmp(t->proto))
        g_string_append_printf(s, "%s -> %s type %u code %u id %u", src, dst, t->icmp_type,
                               t->icmp_code, t->icmp_id);
    else
        g_string_append_printf(s, "%s -> %s", src, dst);
}

/**
 * nc_ct_entry_describe() - one line naming an entry by its identity
 * @entry: the entry
 *
 * Return: (transfer full): e.g. "tcp 10.0.0.1:40000 -> 10.0.0.5:7 zone 0"
 */
char *nc_ct_entry_describe(const NcCtEntry *entry)
{
    GString *s = g_string_new(NULL);

    nc_describe_tuple(s, &entry->orig);
    g_string_append_printf(s, " zone %u", entry->zone);
    return g_string_free(s, FALSE);
}

static const char *nc_tcp_state_name(guint8 state)
{
    const char *name = nc_ct_tcp_state_to_string(state);

    return name ? name : "?";
}

/**
 * nc_ct_entry_compare() - describe how matched entries @a and @b differ
 * @a, @b: entries with the same identity
 *
 * Labels that were not reported count as all zero: the kernel omits the
 * attribute for an entry without labels, so absent and zero mean the same.
 *
 * Return: (transfer full): "IDENTITY: field A -> B; ..." or NULL if they agree
 */
static char *nc_ct_entry_compare(const NcCtEntry *a, const NcCtEntry *b)
{
    static const guint8 zero[16];
    g_autoptr(GString) s = g_string_new(NULL);
    guint32 sa = a->status & NC_CT_DIFF_STATUS_MASK, sb = b->status & NC_CT_DIFF_STATUS_MASK;
    const guint8 *la = a->has_labels ? a->labels : zero, *lb = b->has_labels ? b->labels : zero;
    g_autofree char *what = NULL;

    if (!nc_ct_tuple_equal(&a->reply, &b->reply)) {
        g_string_append(s, "; reply ");
        nc_describe_tuple(s, &a->reply);
        g_string_append(s, " => ");
        nc_describe_tuple(s, &b->reply);
    }
    if (sa != sb) {
        g_autofree char *ta = nc_ct_status_to_string(sa);
        g_autofree char *tb = nc_ct_status_to_string(sb);

        g_string_append_printf(s, "; status [%s] => [%s]", ta, tb);
    }
    if (a->mark != b->mark)
        g_string_append_printf(s, "; mark 0x%x => 0x%x", a->mark, b->mark);
    if (memcmp(la, lb, sizeof(zero)) != 0) {
        g_string_append(s, "; labels ");
        for (guint i = 0; i < 16; i++)
            g_string_append_printf(s, "%02x", la[i]);
        g_string_append(s, " => ");
        for (guint i = 0; i < 16; i++)
            g_string_append_printf(s, "%02x", lb[i]);
    }
    if (a->has_tcp != b->has_tcp) {
        g_string_append_printf(s, "; tcp info %s => %s", a->has_tcp ? "present" : "absent",
                               b->has_tcp ? "present" : "absent");
    } else if (a->has_tcp) {
        if (a->tcp_state != b->tcp_state)
            g_string_append_printf(s, "; tcp state %s => %s", nc_tcp_state_name(a->tcp_state),
                                   nc_tcp_state_name(b->tcp_state));
        for (guint dir = 0; dir < 2; dir++) {
            if (a->tcp_wscale[dir] != b->tcp_wscale[dir])
                g_string_append_printf(s, "; wscale-%s %u => %u", dir ? "reply" : "original",
                                       a->tcp_wscale[dir], b->tcp_wscale[dir]);
        }
    }
    if (!s->len)
        return NULL;
    what = nc_ct_entry_describe(a);
    g_string_erase(s, 0, 2); /* the first "; " becomes ": " */
    g_string_prepend(s, ": ");
    g_string_prepend(s, what);
    return g_string_free(g_steal_pointer(&s), FALSE);
}

/**
 * nc_ct_diff() - how the entries @b differ from @a
 * @a, @n_a: the reference (e.g. what the source captured)
 * @b, @n_b: the other side (e.g. what the destination holds)
 *
 * Entries are matched by zone and original tuple through a hash table, so the
 * cost is linear in @n_a + @n_b. Should a set hold the same identity twice
 * (it cannot come from one conntrack table), the last one counts.
 *
 * Return: (transfer full): the difference; empty if the sets agree
 */
NcCtDiff *nc_ct_diff(const NcCtEntry *a, guint n_a, const NcCtEntry *b, guint n_b)
{
    NcCtDiff *diff = g_new0(NcCtDiff, 1);
    g_autoptr(GHashTable) in_b = g_hash_table_new(nc_ct_entry_identity_hash, nc_ct_entry_identity_equal);
    g_autoptr(GHashTable) matched = g_hash_table_new(g_direct_hash, g_direct_equal);

    diff->missing = g_array_new(FALSE, TRUE, sizeof(NcCtEntry));
    diff->extra = g_array_new(FALSE, TRUE, sizeof(NcCtEntry));
    diff->changed = g_ptr_array_new_with_free_func(g_free);

    for (guint i = 0; i < n_b; i++)
        g_hash_table_insert(in_b, (gpointer)&b[i], (gpointer)&b[i]);
    for (guint i = 0; i < n_a; i++) {
        const NcCtEntry *other = g_hash_table_lookup(in_b, &a[i]);
        char *change;

        if (!other) {
            g_array_append_val(diff->missing, a[i]);
            continue;
        }
        g_hash_table_add(matched, (gpointer)other);
        change = nc_ct_entry_compare(&a[i], other);
        if (change)
            g_ptr_array_add(diff->changed, change);
    }
    for (guint i = 0; i < n_b; i++) {
        const NcCtEntry *mine = g_hash_table_lookup(in_b, &b[i]);

        /* a duplicate identity in @b that lost to a later one is not "extra" */
        if (mine == &b[i] && !g_hash_table_contains(matched, mine))
            g_array_append_val(diff->extra, b[i]);
    }
    return diff;
}

gboolean nc_ct_diff_is_empty(const NcCtDiff *diff)
{
    return !diff->missing->len && !diff->extra->len && !diff->changed->len;
}

void nc_ct_diff_free(NcCtDiff *diff)
{
    if (!diff)
        return;
    g_array_unref(diff->missing);
    g_array_unref(diff->extra);
    g_ptr_array_unref(diff->changed);
    g_free(diff);
}

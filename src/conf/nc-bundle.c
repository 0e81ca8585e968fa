/* nc-bundle.c - the state bundle: new/free, its XML form (parse, format, save)
 * and the name tables for protocols, IPS_* status bits and TCP states
 *
 * Theory of operation
 *
 * The XML form is defined by xml/bundle.rng (docs/architecture.md, "The bundle"). Format 1 holds
 * the conntrack entries alone; format 2, which the formatter writes, holds one section per class
 * captured (conntrack, nft-set, nft-object, mdb), each with its count and digest and what the class
 * could not carry. Parsing is: well-formedness (nc_xml_parse: no network, no DOCTYPE), then the
 * schema, then a strict reader that walks the tree once and refuses anything it does not know,
 * with "file:line: what is wrong" messages. The reader also makes the checks the schema cannot
 * (both tuples of an entry in one family, ICMP vs ICMPv6, <tcp> only for TCP, addresses
 * inet_pton() accepts, an nft key that fits its set's fields) and, at the end of each format-2
 * section, compares the items with the section's count and digest, so that a damaged or edited
 * bundle is refused: the digest is the class's NcItemSet digest over its canonical bytes
 * (conf/nc-item-set.h), the one definition of each class's items.
 *
 * libxml2's RelaxNG validation costs ~35 us per entry, i.e. seconds for a
 * 100k-entry table, while a stop-and-copy bundle must be read in milliseconds.
 * So a section with more than NC_BUNDLE_FULL_VALIDATION_MAX items is
 * validated with its items detached, and the reader, which holds items to
 * the same rules as the schema, checks them. tests/unit/test-schema
 * and test-bundle hold schema and reader to the same valid and invalid files.
 *
 * Formatting writes the canonical form directly into a GString (no DOM):
 * fixed element and attribute order, two-space indent, marks and TCP flags in
 * hex, status bits in bit order, times in UTC with microseconds, the nft classes' items in the
 * order of their canonical keys. Parsing a canonical format-2 file and formatting it again gives
 * the same bytes; a format-1 file comes back as format 2 with the same entries.
 */
#include <assert.h>
#include <errno.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_conntrack_tcp.h>
#include <linux/netfilter/nf_tables.h>
#include <string.h>
#include <time.h>

#include "conf/nc-bundle.h"
#include "conf/nc-ct-items.h"
#include "conf/nc-mdb-items.h"
#include "conf/nc-nft-items.h"
#include "util/nc-error.h"
#include "util/nc-time.h"
#include "util/nc-xml.h"

#define NC_BUNDLE_SCHEMA "bundle.rng"

static const char *const nc_capture_phase_names[] = {
    [NC_CAPTURE_MANUAL] = "manual",
    [NC_CAPTURE_PRECOPY] = "precopy",
    [NC_CAPTURE_STOP_AND_COPY] = "stop-and-copy",
};
static_assert(G_N_ELEMENTS(nc_capture_phase_names) == NC_CAPTURE_LAST, "one name per NcCapturePhase");

/* indexed by IPS_*_BIT (linux/netfilter/nf_conntrack_common.h) */
static const char *const nc_ct_status_names[] = {
    [IPS_EXPECTED_BIT] = "expected",
    [IPS_SEEN_REPLY_BIT] = "seen-reply",
    [IPS_ASSURED_BIT] = "assured",
    [IPS_CONFIRMED_BIT] = "confirmed",
    [IPS_SRC_NAT_BIT] = "src-nat",
    [IPS_DST_NAT_BIT] = "dst-nat",
    [IPS_SEQ_ADJUST_BIT] = "seq-adjust",
    [IPS_SRC_NAT_DONE_BIT] = "src-nat-done",
    [IPS_DST_NAT_DONE_BIT] = "dst-nat-done",
    [IPS_DYING_BIT] = "dying",
    [IPS_FIXED_TIMEOUT_BIT] = "fixed-timeout",
    [IPS_TEMPLATE_BIT] = "template",
    [IPS_UNTRACKED_BIT] = "untracked",
    [IPS_HELPER_BIT] = "helper",
    [IPS_OFFLOAD_BIT] = "offload",
    [IPS_HW_OFFLOAD_BIT] = "hw-offload",
};
static_assert(G_N_ELEMENTS(nc_ct_status_names) == __IPS_MAX_BIT, "one name per IPS_* bit");

/* indexed by TCP_CONNTRACK_* (linux/netfilter/nf_conntrack_tcp.h) */
static const char *const nc_ct_tcp_state_names[] = {
    [TCP_CONNTRACK_NONE] = "none",
    [TCP_CONNTRACK_SYN_SENT] = "syn-sent",
    [TCP_CONNTRACK_SYN_RECV] = "syn-recv",
    [TCP_CONNTRACK_ESTABLISHED] = "established",
    [TCP_CONNTRACK_FIN_WAIT] = "fin-wait",
    [TCP_CONNTRACK_CLOSE_WAIT] = "close-wait",
    [TCP_CONNTRACK_LAST_ACK] = "last-ack",
    [TCP_CONNTRACK_TIME_WAIT] = "time-wait",
    [TCP_CONNTRACK_CLOSE] = "close",
    [TCP_CONNTRACK_SYN_SENT2] = "syn-sent2",
};
static_assert(G_N_ELEMENTS(nc_ct_tcp_state_names) == TCP_CONNTRACK_MAX,
              "one name per TCP_CONNTRACK_* state");

static const struct {
    guint8 proto;
    const char *name;
    gboolean ports;
    gboolean icmp;
} nc_ct_protos[] = {
    {IPPROTO_TCP, "tcp", TRUE, FALSE},       {IPPROTO_UDP, "udp", TRUE, FALSE},
    {IPPROTO_UDPLITE, "udplite", TRUE, FALSE}, {IPPROTO_SCTP, "sctp", TRUE, FALSE},
    {IPPROTO_DCCP, "dccp", TRUE, FALSE},     {IPPROTO_GRE, "gre", TRUE, FALSE},
    {IPPROTO_ICMP, "icmp", FALSE, TRUE},     {IPPROTO_ICMPV6, "icmpv6", FALSE, TRUE},
};

const char *nc_capture_phase_to_string(NcCapturePhase phase)
{
    return (guint)phase < NC_CAPTURE_LAST ? nc_capture_phase_names[phase] : NULL;
}

int nc_capture_phase_from_string(const char *str)
{
    for (guint i = 0; str && i < G_N_ELEMENTS(nc_capture_phase_names); i++) {
        if (strcmp(str, nc_capture_phase_names[i]) == 0)
            return (int)i;
    }
    return -1;
}

const char *nc_ct_proto_to_string(guint8 proto)
{
    for (guint i = 0; i < G_N_ELEMENTS(nc_ct_protos); i++) {
        if (nc_ct_protos[i].proto == proto)
            return nc_ct_protos[i].name;
    }
    return NULL;
}

gboolean nc_ct_proto_has_ports(guint8 proto)
{
    for (guint i = 0; i < G_N_ELEMENTS(nc_ct_protos); i++) {
        if (nc_ct_protos[i].proto == proto)
            return nc_ct_protos[i].ports;
    }
    return FALSE;
}

gboolean nc_ct_proto_is_icmp(guint8 proto)
{
    return proto == IPPROTO_ICMP || proto == IPPROTO_ICMPV6;
}

/* decimal without sign, leading '+' or blanks; FALSE if not in 0..@max */
static gboolean nc_parse_dec(const char *s, guint64 max, guint64 *out)
{
    guint64 v = 0;

    if (!s || !*s)
        return FALSE;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return FALSE;
        v = v * 10 + (guint64)(*s - '0');
        if (v > max)
            return FALSE;
    }
    *out = v;
    return TRUE;
}

/* "0x1f" or decimal, as the schema's uint32/uint8 */
static gboolean nc_parse_num(const char *s, guint64 max, guint64 *out)
{
    guint64 v = 0;

    if (!s || s[0] != '0' || (s[1] != 'x' && s[1] != 'X'))
        return nc_parse_dec(s, max, out);
    s += 2;
    if (!*s)
        return FALSE;
    for (; *s; s++) {
        int d = g_ascii_xdigit_value(*s);

        if (d < 0)
            return FALSE;
        v = (v << 4) | (guint64)d;
        if (v > max)
            return FALSE;
    }
    *out = v;
    return TRUE;
}

int nc_ct_proto_from_string(const char *str)
{
    guint64 v;

    for (guint i = 0; str && i < G_N_ELEMENTS(nc_ct_protos); i++) {
        if (strcmp(str, nc_ct_protos[i].name) == 0)
            return nc_ct_protos[i].proto;
    }
    return nc_parse_dec(str, 255, &v) ? (int)v : -1;
}

const char *nc_ct_tcp_state_to_string(guint8 state)
{
    return state < G_N_ELEMENTS(nc_ct_tcp_state_names) ? nc_ct_tcp_state_names[state] : NULL;
}

int nc_ct_tcp_state_from_string(const char *str)
{
    for (guint i = 0; str && i < G_N_ELEMENTS(nc_ct_tcp_state_names); i++) {
        if (strcmp(str, nc_ct_tcp_state_names[i]) == 0)
            return (int)i;
    }
    return -1;
}

static void nc_append_uint(GString *s, guint64 v)
{
    char buf[24];
    int i = sizeof(buf);

    do {
        buf[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    g_string_append_len(s, buf + i, (gssize)sizeof(buf) - i);
}

static void nc_append_hex(GString *s, guint32 v)
{
    static const char digits[] = "0123456789abcdef";
    char buf[12];
    int i = sizeof(buf);

    do {
        buf[--i] = digits[v & 0xf];
        v >>= 4;
    } while (v);
    buf[--i] = 'x';
    buf[--i] = '0';
    g_string_append_len(s, buf + i, (gssize)sizeof(buf) - i);
}

static void nc_append_status(GString *s, guint32 status)
{
    gboolean first = TRUE;

    for (guint bit = 0; bit < 32; bit++) {
        if (!(status & (1u << bit)))
            continue;
        if (!first)
            g_string_append_c(s, ' ');
        first = FALSE;
        if (bit < G_N_ELEMENTS(nc_ct_status_names)) {
            g_string_append(s, nc_ct_status_names[bit]);
        } else {
            g_string_append(s, "bit-");
            nc_append_uint(s, bit);
        }
    }
}

char *nc_ct_status_to_string(guint32 status)
{
    GString *s = g_string_new(NULL);

    nc_append_status(s, status);
    return g_string_free(s, FALSE);
}

static void nc_append_addr(GString *s, const NcAddr *addr)
{
    char buf[NC_ADDR_STRLEN];

    nc_addr_format(addr, buf, sizeof(buf));
    g_string_append(s, buf);
}

static void nc_append_attr_uint(GString *s, const char *name, guint64 v)
{
    g_string_append_c(s, ' ');
    g_string_append(s, name);
    g_string_append(s, "=\"");
    nc_append_uint(s, v);
    g_string_append_c(s, '"');
}

static void nc_append_attr_hex(GString *s, const char *name, guint32 v)
{
    g_string_append_c(s, ' ');
    g_string_append(s, name);
    g_string_append(s, "=\"");
    nc_append_hex(s, v);
    g_string_append_c(s, '"');
}


static void nc_format_tuple(GString *s, const char *elem, const NcCtTuple *t)
{
    const char *proto = nc_ct_proto_to_string(t->proto);

    g_string_append(s, "      <");
    g_string_append(s, elem);
    g_string_append(s, " proto=\"");
    if (proto)
        g_string_append(s, proto);
    else
        nc_append_uint(s, t->proto);
    g_string_append(s, "\" src=\"");
    nc_append_addr(s, &t->src);
    g_string_append(s, "\" dst=\"");
    nc_append_addr(s, &t->dst);
    g_string_append_c(s, '"');
    /* a protocol without a name here writes whichever part is set */
    if (nc_ct_proto_has_ports(t->proto) ||
        (!nc_ct_proto_is_icmp(t->proto) && (t->sport || t->dport))) {
        nc_append_attr_uint(s, "sport", t->sport);
        nc_append_attr_uint(s, "dport", t->dport);
    } else if (nc_ct_proto_is_icmp(t->proto) || t->icmp_id || t->icmp_type || t->icmp_code) {
        nc_append_attr_uint(s, "id", t->icmp_id);
        nc_append_attr_uint(s, "type", t->icmp_type);
        nc_append_attr_uint(s, "code", t->icmp_code);
    }
    g_string_append(s, "/>\n");
}

static void nc_format_entry(GString *s, const NcCtEntry *e)
{
    static const char hex[] = "0123456789abcdef";

    g_string_append(s, "    <entry");
    nc_append_attr_uint(s, "zone", e->zone);
    nc_append_attr_uint(s, "timeout", e->timeout);
    nc_append_attr_hex(s, "mark", e->mark);
    g_string_append(s, " status=\"");
    nc_append_status(s, e->status);
    g_string_append(s, "\">\n");
    nc_format_tuple(s, "original", &e->orig);
    nc_format_tuple(s, "reply", &e->reply);
    if (e->has_tcp) {
        const char *state = nc_ct_tcp_state_to_string(e->tcp_state);

        /* the schema knows only TCP_CONNTRACK_* names; an unknown state
         * cannot come from the reader, and "none" keeps the file valid */
        g_string_append(s, "      <tcp state=\"");
        g_string_append(s, state ? state : "none");
        g_string_append_c(s, '"');
        nc_append_attr_uint(s, "wscale-original", e->tcp_wscale[0]);
        nc_append_attr_uint(s, "wscale-reply", e->tcp_wscale[1]);
        nc_append_attr_hex(s, "flags-original", e->tcp_flags[0]);
        nc_append_attr_hex(s, "flags-reply", e->tcp_flags[1]);
        g_string_append(s, "/>\n");
    }
    if (e->has_labels) {
        g_string_append(s, "      <labels>");
        for (guint i = 0; i < sizeof(e->labels); i++) {
            g_string_append_c(s, hex[e->labels[i] >> 4]);
            g_string_append_c(s, hex[e->labels[i] & 0xf]);
        }
        g_string_append(s, "</labels>\n");
    }
    g_string_append(s, "    </entry>\n");
}

static void nc_append_attr(GString *s, const char *name, const char *value)
{
    g_string_append_c(s, ' ');
    g_string_append(s, name);
    g_string_append(s, "=\"");
    nc_xml_append_escaped(s, value);
    g_string_append_c(s, '"');
}

/* a section's opening tag with its seal; @empty: the element closes at once */
static void nc_format_section_open(GString *s, const char *name, guint count,
                                   const NcDigest *digest, gboolean empty)
{
    g_autofree char *hex = nc_digest_to_string(digest);

    g_string_append(s, "  <");
    g_string_append(s, name);
    nc_append_attr_uint(s, "count", count);
    nc_append_attr(s, "digest", hex);
    g_string_append(s, empty ? "/>\n" : ">\n");
}

static void nc_format_not_carried(GString *s, const NcBundle *b, const char *class_name)
{
    for (guint i = 0; i < b->not_carried->len; i++) {
        const NcNotCarried *nc = g_ptr_array_index(b->not_carried, i);

        if (g_strcmp0(nc->class_name, class_name) != 0)
            continue;
        g_string_append(s, "    <not-carried");
        nc_append_attr(s, "what", nc->what);
        nc_append_attr(s, "reason", nc->reason);
        g_string_append(s, "/>\n");
    }
}

static guint nc_count_not_carried(const NcBundle *b, const char *class_name)
{
    guint n = 0;

    for (guint i = 0; i < b->not_carried->len; i++)
        n += g_strcmp0(((NcNotCarried *)g_ptr_array_index(b->not_carried, i))->class_name,
                       class_name) == 0;
    return n;
}

/**
 * nc_bundle_ct_digest() - the digest of the conntrack class's entries (nc_ct_class's bytes)
 * @entries: (element-type NcCtEntry)
 * @digest:  (out)
 * @error:   NC_ERROR_INVALID_ARG for an entry without a canonical form (no or mixed families)
 *
 * Return: TRUE on success
 */
static gboolean nc_bundle_ct_digest(const GArray *entries, NcDigest *digest, GError **error)
{
    g_autoptr(GByteArray) b = g_byte_array_sized_new(128);

    nc_digest_init(digest);
    for (guint i = 0; i < entries->len; i++) {
        g_byte_array_set_size(b, 0);
        if (!nc_ct_class.encode(&g_array_index(entries, NcCtEntry, i), b, error))
            return FALSE;
        nc_digest_add_bytes(digest, b->data, b->len);
    }
    return TRUE;
}

typedef struct {
    GBytes *key;
    gpointer item;
} NcKeyedItem;

static gint nc_keyed_item_cmp(gconstpointer a, gconstpointer b)
{
    return g_bytes_compare(((const NcKeyedItem *)a)->key, ((const NcKeyedItem *)b)->key);
}

/* A set's items in the order of their canonical keys, so that the same set is always written
 * the same way (a capture of 100k entries too: a sort, not an insertion sort, which took 4 min
 * 48 s for 83k). Return: (transfer container) */
static GPtrArray *nc_bundle_sorted_items(const NcItemSet *set)
{
    g_autoptr(GPtrArray) items = nc_item_set_items(set);
    g_autoptr(GArray) keyed = g_array_sized_new(FALSE, FALSE, sizeof(NcKeyedItem), items->len);
    GPtrArray *sorted = g_ptr_array_sized_new(items->len);

    for (guint i = 0; i < items->len; i++) {
        NcKeyedItem k = {nc_item_set_key_of(set, items->pdata[i], NULL), items->pdata[i]};

        g_array_append_val(keyed, k);
    }
    g_array_sort(keyed, nc_keyed_item_cmp);
    for (guint i = 0; i < keyed->len; i++) {
        NcKeyedItem *k = &g_array_index(keyed, NcKeyedItem, i);

        g_ptr_array_add(sorted, k->item);
        g_bytes_unref(k->key);
    }
    return sorted;
}

static void nc_format_nft_value(GString *s, const char *elem, const NcNftSetElem *e, gboolean data,
                                GBytes *value)
{
    g_autofree char *text = nc_nft_value_to_string(e, data, value);

    g_string_append_printf(s, "      <%s", elem);
    if (text) {
        g_string_append_c(s, '>');
        g_string_append(s, text);
    } else {
        gsize len;
        const guint8 *p = g_bytes_get_data(value, &len);

        g_string_append(s, " encoding=\"hex\">");
        for (gsize i = 0; i < len; i++)
            g_string_append_printf(s, "%02x", p[i]);
    }
    g_string_append_printf(s, "</%s>\n", elem);
}

static void nc_format_nft_elem(GString *s, const NcNftSetElem *e)
{
    g_string_append(s, "    <element");
    nc_append_attr(s, "family", nc_nft_family_name(e->family));
    nc_append_attr(s, "table", e->table);
    nc_append_attr(s, "set", e->set);
    nc_append_attr_hex(s, "flags", e->set_flags);
    nc_append_attr_hex(s, "key-type", e->key_type);
    nc_append_attr_uint(s, "key-len", e->key_len);
    g_string_append(s, " fields=\"");
    for (guint i = 0; i < e->n_fields; i++)
        g_string_append_printf(s, "%s%u", i ? " " : "", e->field_len[i]);
    g_string_append_c(s, '"');
    if (e->data_type || e->data_len) {
        nc_append_attr_hex(s, "data-type", e->data_type);
        nc_append_attr_uint(s, "data-len", e->data_len);
    }
    g_string_append(s, ">\n");
    nc_format_nft_value(s, "key", e, FALSE, e->key);
    if (e->data)
        nc_format_nft_value(s, "data", e, TRUE, e->data);
    if (e->objref) {
        g_string_append(s, "      <object>");
        nc_xml_append_escaped(s, e->objref);
        g_string_append(s, "</object>\n");
    }
    if (e->has_timeout) {
        g_string_append(s, "      <timeout");
        nc_append_attr_uint(s, "ms", e->timeout_ms);
        nc_append_attr_uint(s, "remaining-ms", e->expires_ms);
        g_string_append(s, "/>\n");
    }
    if (e->has_counter) {
        g_string_append(s, "      <counter");
        nc_append_attr_uint(s, "packets", e->packets);
        nc_append_attr_uint(s, "bytes", e->bytes);
        g_string_append(s, "/>\n");
    }
    g_string_append(s, "    </element>\n");
}

static void nc_format_nft_obj(GString *s, const NcNftObj *o)
{
    gboolean quota = o->type == NFT_OBJECT_QUOTA;

    g_string_append(s, quota ? "    <quota" : "    <counter");
    nc_append_attr(s, "family", nc_nft_family_name(o->family));
    nc_append_attr(s, "table", o->table);
    nc_append_attr(s, "name", o->name);
    if (quota) {
        nc_append_attr_uint(s, "bytes", o->bytes);
        nc_append_attr_uint(s, "used", o->consumed);
        nc_append_attr_hex(s, "flags", o->flags);
        if (o->packets)
            nc_append_attr_uint(s, "packets", o->packets);
    } else {
        nc_append_attr_uint(s, "packets", o->packets);
        nc_append_attr_uint(s, "bytes", o->bytes);
        if (o->consumed)
            nc_append_attr_uint(s, "used", o->consumed);
        if (o->flags)
            nc_append_attr_hex(s, "flags", o->flags);
    }
    g_string_append(s, "/>\n");
}

static void nc_format_mdb_entry(GString *s, const NcMdbEntry *e)
{
    g_autofree char *mac = nc_mac_to_string(e->mac);

    g_string_append(s, "    <entry");
    nc_append_attr(s, "mac", mac);
    g_string_append(s, " group=\"");
    nc_append_addr(s, &e->group);
    g_string_append_c(s, '"');
    if (e->source.family) {
        g_string_append(s, " source=\"");
        nc_append_addr(s, &e->source);
        g_string_append_c(s, '"');
    }
    nc_append_attr(s, "state", e->permanent ? "permanent" : "temp");
    g_string_append(s, "/>\n");
}

/* one section of an nft class: its items in key order, then what was not carried */
static void nc_format_item_section(GString *s, const NcBundle *b, const char *elem,
                                   const NcItemSet *set, void (*format)(GString *, gconstpointer))
{
    g_autoptr(GPtrArray) items = set ? nc_bundle_sorted_items(set) : g_ptr_array_new();
    NcDigest empty;
    guint n_nc = nc_count_not_carried(b, elem);

    if (!set && !n_nc)
        return;
    nc_digest_init(&empty);
    nc_format_section_open(s, elem, items->len, set ? nc_item_set_digest(set) : &empty,
                           !items->len && !n_nc);
    if (!items->len && !n_nc)
        return;
    for (guint i = 0; i < items->len; i++)
        format(s, items->pdata[i]);
    nc_format_not_carried(s, b, elem);
    g_string_append_printf(s, "  </%s>\n", elem);
}

static void nc_format_conntrack_section(GString *s, const NcBundle *b)
{
    guint n = b->conntrack->len, n_nc = nc_count_not_carried(b, nc_ct_class.name);
    NcDigest digest;
    g_autoptr(GError) error = NULL;

    if (!b->has_conntrack && !n_nc)
        return;
    /* an entry without a canonical form cannot come from a capture or the reader; its digest
     * would not be checkable, so such a bundle is written with the empty set's digest and will
     * be refused when read */
    if (!nc_bundle_ct_digest(b->conntrack, &digest, &error)) {
        g_warning("bundle: %s", error->message);
        nc_digest_init(&digest);
    }
    nc_format_section_open(s, "conntrack", n, &digest, !n && !n_nc);
    if (!n && !n_nc)
        return;
    for (guint i = 0; i < n; i++)
        nc_format_entry(s, &g_array_index(b->conntrack, NcCtEntry, i));
    nc_format_not_carried(s, b, nc_ct_class.name);
    g_string_append(s, "  </conntrack>\n");
}

/**
 * nc_bundle_format() - the canonical XML form of @bundle, in format 2
 * @bundle: the bundle
 *
 * Return: (transfer full): NUL-terminated XML, valid against bundle.rng
 */
char *nc_bundle_format(const NcBundle *bundle)
{
    guint n = bundle->conntrack ? bundle->conntrack->len : 0;
    GString *s = g_string_sized_new(512 + (gsize)n * 480);
    char tbuf[NC_TIME_STRLEN];

    g_string_append(s, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<bundle xmlns=\"" NC_BUNDLE_NS
                       "\" version=\"");
    nc_append_uint(s, NC_BUNDLE_VERSION);
    g_string_append(s, "\">\n");
    if (bundle->domain_uuid || bundle->domain_name) {
        g_string_append(s, "  <domain");
        if (bundle->domain_uuid)
            nc_append_attr(s, "uuid", bundle->domain_uuid);
        if (bundle->domain_name)
            nc_append_attr(s, "name", bundle->domain_name);
        g_string_append(s, "/>\n");
    }
    g_string_append(s, "  <capture");
    nc_append_attr(s, "host", bundle->host ? bundle->host : g_get_host_name());
    nc_time_format(bundle->captured_us, tbuf, sizeof(tbuf));
    g_string_append(s, " time=\"");
    g_string_append(s, tbuf);
    g_string_append(s, "\" phase=\"");
    g_string_append(s, nc_capture_phase_to_string(bundle->phase) ? nc_capture_phase_to_string(bundle->phase)
                                                         : "manual");
    g_string_append(s, "\">\n");
    for (guint i = 0; bundle->addresses && i < bundle->addresses->len; i++) {
        g_string_append(s, "    <address>");
        nc_append_addr(s, &g_array_index(bundle->addresses, NcAddr, i));
        g_string_append(s, "</address>\n");
    }
    if (bundle->has_zone) {
        g_string_append(s, "    <zone>");
        nc_append_uint(s, bundle->zone);
        g_string_append(s, "</zone>\n");
    }
    if (bundle->has_mark) {
        g_string_append(s, "    <mark>");
        nc_append_hex(s, bundle->mark);
        g_string_append(s, "</mark>\n");
    }
    for (guint i = 0; bundle->macs && i < bundle->macs->len; i++) {
        g_autofree char *mac = nc_mac_to_string((const guint8 *)bundle->macs->data + 6 * i);

        g_string_append(s, "    <mac>");
        g_string_append(s, mac);
        g_string_append(s, "</mac>\n");
    }
    for (guint i = 0; i < bundle->objects->len; i++) {
        const NcObjectRef *ref = g_ptr_array_index(bundle->objects, i);

        g_string_append(s, "    <object");
        nc_append_attr(s, "family", ref->family);
        nc_append_attr(s, "table", ref->table);
        nc_append_attr(s, "name", ref->name);
        g_string_append(s, "/>\n");
    }
    for (guint i = 0; bundle->ports && i < bundle->ports->len; i++) {
        const NcOwnerPort *p = g_ptr_array_index(bundle->ports, i);
        g_autofree char *mac = nc_mac_to_string(p->mac);

        g_string_append(s, "    <port");
        nc_append_attr(s, "mac", mac);
        if (p->ifname)
            nc_append_attr(s, "name", p->ifname);
        g_string_append(s, "/>\n");
    }
    g_string_append(s, "  </capture>\n");
    nc_format_conntrack_section(s, bundle);
    nc_format_item_section(s, bundle, nc_nft_set_class.name, bundle->nft_sets,
                           (void (*)(GString *, gconstpointer))nc_format_nft_elem);
    nc_format_item_section(s, bundle, nc_nft_obj_class.name, bundle->nft_objects,
                           (void (*)(GString *, gconstpointer))nc_format_nft_obj);
    nc_format_item_section(s, bundle, nc_mdb_class.name, bundle->mdb,
                           (void (*)(GString *, gconstpointer))nc_format_mdb_entry);
    g_string_append(s, "</bundle>\n");
    return g_string_free(s, FALSE);
}

/* ---- classes ---- */

/* the bundle's set for an nft class; NULL for conntrack (a GArray) or an unknown class */
static NcItemSet **nc_bundle_slot(NcBundle *b, const char *class_name)
{
    if (g_strcmp0(class_name, nc_nft_set_class.name) == 0)
        return &b->nft_sets;
    if (g_strcmp0(class_name, nc_nft_obj_class.name) == 0)
        return &b->nft_objects;
    if (g_strcmp0(class_name, nc_mdb_class.name) == 0)
        return &b->mdb;
    return NULL;
}

/**
 * nc_bundle_has_class() - whether the bundle holds a section of the class
 * @bundle:     the bundle
 * @class_name: "conntrack", "nft-set", "nft-object", "mdb"
 *
 * Return: TRUE if the class was captured into it
 */
gboolean nc_bundle_has_class(const NcBundle *bundle, const char *class_name)
{
    NcItemSet **slot;

    if (g_strcmp0(class_name, nc_ct_class.name) == 0)
        return bundle->has_conntrack;
    slot = nc_bundle_slot((NcBundle *)bundle, class_name);
    return slot && *slot;
}

/**
 * nc_bundle_class_items() - a class's items as a set of their own
 * @bundle: the bundle
 * @ops:    the class
 * @error:  NC_ERROR_INVALID_DATA for an item without a canonical form
 *
 * The items are copies, made through the class's canonical bytes (its one identity) where the
 * class decodes them.
 *
 * Return: (transfer full): the set (empty if the class is not in the bundle), or NULL
 */
NcItemSet *nc_bundle_class_items(const NcBundle *bundle, const NcClassOps *ops, GError **error)
{
    g_autoptr(NcItemSet) out = nc_item_set_new(ops);
    NcItemSet **slot = nc_bundle_slot((NcBundle *)bundle, ops->name);
    g_autoptr(GPtrArray) items = NULL;
    g_autoptr(GByteArray) b = g_byte_array_new();

    if (ops == &nc_ct_class) {
        for (guint i = 0; i < bundle->conntrack->len; i++) {
            if (!nc_item_set_upsert(
                    out,
                    g_memdup2(&g_array_index(bundle->conntrack, NcCtEntry, i), sizeof(NcCtEntry)),
                    NULL, error))
                return NULL;
        }
        return g_steal_pointer(&out);
    }
    if (!slot || !*slot)
        return g_steal_pointer(&out);
    g_return_val_if_fail(nc_item_set_ops(*slot) == ops && ops->decode, NULL);
    items = nc_item_set_items(*slot);
    for (guint i = 0; i < items->len; i++) {
        gpointer copy;

        g_byte_array_set_size(b, 0);
        if (!ops->encode(items->pdata[i], b, error) ||
            !(copy = ops->decode(b->data, b->len, error)) ||
            !nc_item_set_upsert(out, copy, NULL, error))
            return NULL;
    }
    return g_steal_pointer(&out);
}

/**
 * nc_bundle_take_class_items() - put a class's captured items into the bundle
 * @bundle: the bundle
 * @items:  (transfer full): the items; the class is in the bundle from now on
 *
 * Conntrack entries are kept in the order of their keys, so that a capture is written the same
 * way whatever order the kernel listed them in.
 */
void nc_bundle_take_class_items(NcBundle *bundle, NcItemSet *items)
{
    const NcClassOps *ops = nc_item_set_ops(items);
    NcItemSet **slot = nc_bundle_slot(bundle, ops->name);

    if (ops == &nc_ct_class) {
        g_autoptr(GPtrArray) sorted = nc_bundle_sorted_items(items);

        g_array_set_size(bundle->conntrack, 0);
        for (guint i = 0; i < sorted->len; i++)
            g_array_append_vals(bundle->conntrack, sorted->pdata[i], 1);
        bundle->has_conntrack = TRUE;
        nc_item_set_free(items);
        return;
    }
    g_return_if_fail(slot != NULL);
    if (*slot)
        nc_item_set_free(*slot);
    *slot = items;
}

NcOwner *nc_bundle_owner(const NcBundle *bundle)
{
    NcOwner *owner = nc_owner_new();

    g_array_append_vals(owner->addresses, bundle->addresses->data, bundle->addresses->len);
    g_array_append_vals(owner->macs, bundle->macs->data, bundle->macs->len);
    owner->has_zone = bundle->has_zone;
    owner->zone = bundle->zone;
    owner->has_mark = bundle->has_mark;
    owner->mark = bundle->mark;
    for (guint i = 0; i < bundle->objects->len; i++) {
        const NcObjectRef *r = g_ptr_array_index(bundle->objects, i);

        g_ptr_array_add(owner->objects, nc_object_ref_new(r->family, r->table, r->name, r->type));
    }
    /* the ports asked for: their MACs are the mdb entries' identity; where they are on the
     * installing host is its business (`netcarry install --port`, or found by the MAC) */
    for (guint i = 0; bundle->ports && i < bundle->ports->len; i++) {
        const NcOwnerPort *p = g_ptr_array_index(bundle->ports, i);

        if (!nc_owner_has_mac(owner, p->mac))
            g_array_append_vals(owner->macs, p->mac, 1);
    }
    return owner;
}

gboolean nc_ct_entry_belongs_to(const NcCtEntry *entry, const GArray *addresses)
{
    for (guint i = 0; i < addresses->len; i++) {
        const NcAddr *a = &g_array_index(addresses, NcAddr, i);

        if (nc_addr_equal(&entry->orig.src, a) || nc_addr_equal(&entry->reply.src, a))
            return TRUE;
    }
    return FALSE;
}

NcBundle *nc_bundle_new(void)
{
    NcBundle *bundle = g_new0(NcBundle, 1);

    bundle->phase = NC_CAPTURE_MANUAL;
    bundle->addresses = g_array_new(FALSE, TRUE, sizeof(NcAddr));
    bundle->macs = g_array_new(FALSE, TRUE, 6);
    bundle->conntrack = g_array_new(FALSE, TRUE, sizeof(NcCtEntry));
    bundle->version = NC_BUNDLE_VERSION;
    bundle->has_conntrack = TRUE;
    bundle->objects = g_ptr_array_new_with_free_func((GDestroyNotify)nc_object_ref_free);
    bundle->ports = g_ptr_array_new_with_free_func((GDestroyNotify)nc_owner_port_free);
    bundle->not_carried = nc_not_carried_list_new();
    return bundle;
}

void nc_bundle_free(NcBundle *bundle)
{
    if (!bundle)
        return;
    g_free(bundle->domain_uuid);
    g_free(bundle->domain_name);
    g_free(bundle->host);
    if (bundle->addresses)
        g_array_unref(bundle->addresses);
    g_clear_pointer(&bundle->macs, g_array_unref);
    if (bundle->conntrack)
        g_array_unref(bundle->conntrack);
    g_clear_pointer(&bundle->objects, g_ptr_array_unref);
    g_clear_pointer(&bundle->nft_sets, nc_item_set_free);
    g_clear_pointer(&bundle->nft_objects, nc_item_set_free);
    g_clear_pointer(&bundle->ports, g_ptr_array_unref);
    g_clear_pointer(&bundle->mdb, nc_item_set_free);
    g_clear_pointer(&bundle->not_carried, g_ptr_array_unref);
    g_free(bundle);
}

/**
 * nc_bundle_save() - write @bundle's canonical XML to @path atomically
 * @bundle: the bundle
 * @path:   destination file; replaced as a whole or not at all
 * @error:  NC_ERROR_IO naming @path
 *
 * The file is written to a temporary file next to @path, synced and renamed
 * over it, so a reader never sees half a bundle, even after a crash.
 *
 * Return: TRUE on success
 */
gboolean nc_bundle_save(const NcBundle *bundle, const char *path, GError **error)
{
    g_autofree char *xml = nc_bundle_format(bundle);
    g_autoptr(GError) local = NULL;

    if (!g_file_set_contents_full(path, xml, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0644, &local)) {
        g_set_error(error, NC_ERROR, NC_ERROR_IO, "cannot save the bundle to %s: %s", path,
                    local->message);
        return FALSE;
    }
    return TRUE;
}

/* ---- reading ------------------------------------------------------------ */

typedef struct {
    const char *name; /* of the document, for messages */
    GError **error;
    int line; /* of the first failure */
} NcReader;

static gboolean G_GNUC_PRINTF(3, 4)
    nc_reader_fail(NcReader *r, const xmlNode *node, const char *fmt, ...)
{
    g_autofree char *msg = NULL;
    va_list ap;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    if (!r->line)
        r->line = nc_xml_node_line(node);
    g_set_error(r->error, NC_ERROR, NC_ERROR_INVALID_DATA, "%s:%d: <%s>: %s", r->name,
                nc_xml_node_line(node), (const char *)node->name, msg);
    return FALSE;
}

static gboolean nc_is_elem(const xmlNode *node)
{
    return node->type == XML_ELEMENT_NODE;
}

/* next element sibling from @node on (inclusive); text, comments and PIs between are skipped */
static xmlNode *nc_next_elem(xmlNode *node)
{
    while (node && !nc_is_elem(node))
        node = node->next;
    return node;
}

static gboolean nc_elem_is(const xmlNode *node, const char *name)
{
    return node && node->ns && strcmp((const char *)node->ns->href, NC_BUNDLE_NS) == 0 &&
           strcmp((const char *)node->name, name) == 0;
}

/**
 * nc_attr_value() - an attribute's value without copying it when possible
 * @attr:  the attribute
 * @owned: receives a copy that the caller frees when the value had to be joined
 *
 * Return: (transfer none): the value
 */
static const char *nc_attr_value(const xmlAttr *attr, char **owned)
{
    const xmlNode *c = attr->children;

    if (c && c->type == XML_TEXT_NODE && !c->next)
        return (const char *)c->content;
    if (!c)
        return "";
    *owned = (char *)xmlNodeListGetString(attr->doc, attr->children, 1);
    return *owned ? *owned : "";
}

/* the text of a leaf element such as <address>; NULL if it has element children */
static char *nc_elem_text(const xmlNode *node)
{
    for (const xmlNode *c = node->children; c; c = c->next) {
        if (nc_is_elem(c))
            return NULL;
    }
    return (char *)xmlNodeGetContent(node);
}

/**
 * NcAttrSpec - the attributes an element accepts
 * @names:  NULL-terminated
 * @values: filled with each attribute's value, or NULL if absent
 */
#define NC_MAX_ATTRS 12

typedef struct {
    const char *values[NC_MAX_ATTRS];
    char *owned[NC_MAX_ATTRS];
} NcAttrs;

static void nc_attrs_clear(NcAttrs *a)
{
    for (guint i = 0; i < NC_MAX_ATTRS; i++)
        xmlFree(a->owned[i]);
}

/**
 * nc_read_attrs() - collect @node's attributes by @names, refusing any other
 * @r:     the reader
 * @node:  the element
 * @names: accepted names, NULL-terminated, at most NC_MAX_ATTRS
 * @out:   values by index of @names; cleared with nc_attrs_clear()
 *
 * Return: FALSE (error set) on an unknown or namespaced attribute
 */
static gboolean nc_read_attrs(NcReader *r, const xmlNode *node, const char *const *names,
                              NcAttrs *out)
{
    memset(out, 0, sizeof(*out));
    for (const xmlAttr *a = node->properties; a; a = a->next) {
        guint i;

        for (i = 0; names[i]; i++) {
            if (strcmp((const char *)a->name, names[i]) == 0)
                break;
        }
        if (!names[i] || a->ns)
            return nc_reader_fail(r, node, "unknown attribute '%s'", (const char *)a->name);
        out->values[i] = nc_attr_value(a, &out->owned[i]);
    }
    return TRUE;
}

static gboolean nc_require(NcReader *r, const xmlNode *node, const char *const *names,
                           const NcAttrs *a, guint i)
{
    if (a->values[i])
        return TRUE;
    return nc_reader_fail(r, node, "attribute '%s' is missing", names[i]);
}

static gboolean nc_read_uint(NcReader *r, const xmlNode *node, const char *attr, const char *value,
                             gboolean hex, guint64 max, guint64 *out)
{
    if (hex ? nc_parse_num(value, max, out) : nc_parse_dec(value, max, out))
        return TRUE;
    return nc_reader_fail(r, node, "%s '%s' is not %s 0-%" G_GUINT64_FORMAT, attr, value,
                          hex ? "a decimal or 0x-hexadecimal number in" : "a decimal number in",
                          max);
}

static gboolean nc_read_addr(NcReader *r, const xmlNode *node, const char *attr, const char *value,
                             NcAddr *out)
{
    if (nc_addr_parse(value, out, NULL))
        return TRUE;
    return nc_reader_fail(r, node, "%s '%s' is not an IPv4 or IPv6 address", attr, value);
}

/* no child elements and no text but blanks */
static gboolean nc_require_empty(NcReader *r, const xmlNode *node)
{
    for (const xmlNode *c = node->children; c; c = c->next) {
        if (nc_is_elem(c))
            return nc_reader_fail(r, c, "unexpected element inside <%s>",
                                  (const char *)node->name);
        if (c->type == XML_TEXT_NODE) {
            for (const xmlChar *p = c->content; p && *p; p++) {
                if (!g_ascii_isspace(*p))
                    return nc_reader_fail(r, node, "unexpected text");
            }
        }
    }
    return TRUE;
}

static gboolean nc_read_tuple(NcReader *r, xmlNode *node, NcCtTuple *t)
{
    static const char *const names[] = {"proto", "src", "dst",  "sport", "dport",
                                        "id",    "type", "code", NULL};
    NcAttrs a;
    gboolean ok = FALSE;
    guint64 v;
    int proto;

    memset(t, 0, sizeof(*t));
    if (!nc_read_attrs(r, node, names, &a))
        goto out;
    for (guint i = 0; i < 3; i++) {
        if (!nc_require(r, node, names, &a, i))
            goto out;
    }
    proto = nc_ct_proto_from_string(a.values[0]);
    if (proto < 0) {
        nc_reader_fail(r, node, "proto '%s' is neither a known name nor a number 0-255",
                       a.values[0]);
        goto out;
    }
    t->proto = (guint8)proto;
    if (!nc_read_addr(r, node, "src", a.values[1], &t->src) ||
        !nc_read_addr(r, node, "dst", a.values[2], &t->dst))
        goto out;
    if (t->src.family != t->dst.family) {
        nc_reader_fail(r, node, "src %s and dst %s are of different address families",
                       a.values[1], a.values[2]);
        goto out;
    }
    if ((a.values[3] || a.values[4]) && (a.values[5] || a.values[6] || a.values[7])) {
        nc_reader_fail(r, node, "a tuple has either ports or ICMP id/type/code, not both");
        goto out;
    }
    if ((nc_ct_proto_has_ports(t->proto) && t->proto != IPPROTO_GRE) || a.values[3] ||
        a.values[4]) {
        if (nc_ct_proto_is_icmp(t->proto)) {
            nc_reader_fail(r, node, "proto %s takes id, type and code, not ports", a.values[0]);
            goto out;
        }
        if (!nc_require(r, node, names, &a, 3) || !nc_require(r, node, names, &a, 4))
            goto out;
        if (!nc_read_uint(r, node, "sport", a.values[3], FALSE, G_MAXUINT16, &v))
            goto out;
        t->sport = (guint16)v;
        if (!nc_read_uint(r, node, "dport", a.values[4], FALSE, G_MAXUINT16, &v))
            goto out;
        t->dport = (guint16)v;
    } else if (nc_ct_proto_is_icmp(t->proto) || a.values[5] || a.values[6] || a.values[7]) {
        if (nc_ct_proto_has_ports(t->proto)) {
            nc_reader_fail(r, node, "proto %s takes ports, not id, type and code", a.values[0]);
            goto out;
        }
        for (guint i = 5; i < 8; i++) {
            if (!nc_require(r, node, names, &a, i))
                goto out;
        }
        if (!nc_read_uint(r, node, "id", a.values[5], FALSE, G_MAXUINT16, &v))
            goto out;
        t->icmp_id = (guint16)v;
        if (!nc_read_uint(r, node, "type", a.values[6], FALSE, G_MAXUINT8, &v))
            goto out;
        t->icmp_type = (guint8)v;
        if (!nc_read_uint(r, node, "code", a.values[7], FALSE, G_MAXUINT8, &v))
            goto out;
        t->icmp_code = (guint8)v;
    }
    if ((t->proto == IPPROTO_ICMP && t->src.family != AF_INET) ||
        (t->proto == IPPROTO_ICMPV6 && t->src.family != AF_INET6)) {
        nc_reader_fail(r, node, "proto %s does not go with %s addresses",
                       nc_ct_proto_to_string(t->proto),
                       t->src.family == AF_INET ? "IPv4" : "IPv6");
        goto out;
    }
    ok = nc_require_empty(r, node);
out:
    nc_attrs_clear(&a);
    return ok;
}

static gboolean nc_read_tcp(NcReader *r, xmlNode *node, NcCtEntry *e)
{
    static const char *const names[] = {"state",          "wscale-original", "wscale-reply",
                                        "flags-original", "flags-reply",     NULL};
    NcAttrs a;
    gboolean ok = FALSE;
    guint64 v;
    int state;

    if (!nc_read_attrs(r, node, names, &a))
        goto out;
    for (guint i = 0; names[i]; i++) {
        if (!nc_require(r, node, names, &a, i))
            goto out;
    }
    state = nc_ct_tcp_state_from_string(a.values[0]);
    if (state < 0) {
        nc_reader_fail(r, node, "state '%s' is not a TCP conntrack state (established, ...)",
                       a.values[0]);
        goto out;
    }
    e->tcp_state = (guint8)state;
    for (guint dir = 0; dir < 2; dir++) {
        if (!nc_read_uint(r, node, names[1 + dir], a.values[1 + dir], FALSE, 14, &v))
            goto out;
        e->tcp_wscale[dir] = (guint8)v;
        if (!nc_read_uint(r, node, names[3 + dir], a.values[3 + dir], TRUE, G_MAXUINT8, &v))
            goto out;
        e->tcp_flags[dir] = (guint8)v;
    }
    e->has_tcp = TRUE;
    ok = nc_require_empty(r, node);
out:
    nc_attrs_clear(&a);
    return ok;
}

static gboolean nc_read_status(NcReader *r, xmlNode *node, const char *text, guint32 *out)
{
    const char *p = text;

    *out = 0;
    while (*p) {
        const char *end;
        gsize len;
        guint bit;

        if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') {
            p++;
            continue;
        }
        for (end = p; *end && *end != ' ' && *end != '\t' && *end != '\n' && *end != '\r'; end++)
            ;
        len = (gsize)(end - p);
        for (bit = 0; bit < G_N_ELEMENTS(nc_ct_status_names); bit++) {
            if (strlen(nc_ct_status_names[bit]) == len &&
                memcmp(p, nc_ct_status_names[bit], len) == 0)
                break;
        }
        if (bit == G_N_ELEMENTS(nc_ct_status_names)) {
            g_autofree char *token = g_strndup(p, len);
            guint64 v;

            if (!g_str_has_prefix(token, "bit-") || !nc_parse_dec(token + 4, 31, &v) ||
                v < G_N_ELEMENTS(nc_ct_status_names) || token[4] == '0')
                return nc_reader_fail(r, node,
                                      "status token '%s' is not an IPS_* name (seen-reply, "
                                      "assured, confirmed, src-nat, ...) or bit-16..bit-31",
                                      token);
            bit = (guint)v;
        }
        *out |= 1u << bit;
        p = end;
    }
    return TRUE;
}

static gboolean nc_read_labels(NcReader *r, xmlNode *node, NcCtEntry *e)
{
    g_autofree char *text = nc_elem_text(node);

    if (!text || strlen(text) != 32)
        return nc_reader_fail(r, node, "expected 32 lowercase hexadecimal digits");
    for (guint i = 0; i < 16; i++) {
        int hi = g_ascii_xdigit_value(text[2 * i]), lo = g_ascii_xdigit_value(text[2 * i + 1]);

        if (hi < 0 || lo < 0 || g_ascii_isupper(text[2 * i]) || g_ascii_isupper(text[2 * i + 1]))
            return nc_reader_fail(r, node, "expected 32 lowercase hexadecimal digits");
        e->labels[i] = (guint8)(hi << 4 | lo);
    }
    e->has_labels = TRUE;
    return TRUE;
}

static gboolean nc_read_entry(NcReader *r, xmlNode *node, NcCtEntry *e)
{
    static const char *const names[] = {"zone", "timeout", "mark", "status", NULL};
    NcAttrs a;
    gboolean ok = FALSE;
    xmlNode *c;
    guint64 v;

    memset(e, 0, sizeof(*e));
    if (!nc_read_attrs(r, node, names, &a))
        goto out;
    for (guint i = 0; names[i]; i++) {
        if (!nc_require(r, node, names, &a, i))
            goto out;
    }
    if (!nc_read_uint(r, node, "zone", a.values[0], FALSE, G_MAXUINT16, &v))
        goto out;
    e->zone = (guint16)v;
    if (!nc_read_uint(r, node, "timeout", a.values[1], FALSE, G_MAXUINT32, &v))
        goto out;
    e->timeout = (guint32)v;
    if (!nc_read_uint(r, node, "mark", a.values[2], TRUE, G_MAXUINT32, &v))
        goto out;
    e->mark = (guint32)v;
    if (!nc_read_status(r, node, a.values[3], &e->status))
        goto out;

    c = nc_next_elem(node->children);
    if (!nc_elem_is(c, "original")) {
        nc_reader_fail(r, node, "expected <original> as the first child");
        goto out;
    }
    if (!nc_read_tuple(r, c, &e->orig))
        goto out;
    c = nc_next_elem(c->next);
    if (!nc_elem_is(c, "reply")) {
        nc_reader_fail(r, node, "expected <reply> after <original>");
        goto out;
    }
    if (!nc_read_tuple(r, c, &e->reply))
        goto out;
    c = nc_next_elem(c->next);
    if (nc_elem_is(c, "tcp")) {
        if (!nc_read_tcp(r, c, e))
            goto out;
        c = nc_next_elem(c->next);
    }
    if (nc_elem_is(c, "labels")) {
        if (!nc_read_labels(r, c, e))
            goto out;
        c = nc_next_elem(c->next);
    }
    if (c) {
        nc_reader_fail(r, c, "unexpected element in <entry> (expected original, reply, "
                             "then optional tcp and labels)");
        goto out;
    }

    /* what the schema cannot say */
    if (e->orig.src.family != e->reply.src.family) {
        nc_reader_fail(r, node, "the original tuple is %s but the reply tuple is %s",
                       e->orig.src.family == AF_INET ? "IPv4" : "IPv6",
                       e->reply.src.family == AF_INET ? "IPv4" : "IPv6");
        goto out;
    }
    if (e->orig.proto != e->reply.proto) {
        nc_reader_fail(r, node, "the original tuple is protocol %u but the reply tuple is %u",
                       e->orig.proto, e->reply.proto);
        goto out;
    }
    if (e->has_tcp && e->orig.proto != IPPROTO_TCP) {
        nc_reader_fail(r, node, "<tcp> is only allowed in a TCP entry");
        goto out;
    }
    ok = TRUE;
out:
    nc_attrs_clear(&a);
    return ok;
}

static gboolean nc_read_nft_ident(NcReader *r, const xmlNode *node, const char *const *values,
                                  const char *name_attr, guint8 *family, char **table, char **name);

static gboolean nc_read_capture(NcReader *r, xmlNode *node, NcBundle *b)
{
    static const char *const names[] = {"host", "time", "phase", NULL};
    NcAttrs a;
    gboolean ok = FALSE;
    xmlNode *c;
    int phase;

    if (!nc_read_attrs(r, node, names, &a))
        goto out;
    for (guint i = 0; names[i]; i++) {
        if (!nc_require(r, node, names, &a, i))
            goto out;
    }
    if (!*a.values[0]) {
        nc_reader_fail(r, node, "host is empty");
        goto out;
    }
    b->host = g_strdup(a.values[0]);
    if (!nc_time_parse(a.values[1], &b->captured_us)) {
        nc_reader_fail(r, node, "time '%s' is not a UTC time like 2026-11-22T14:37:00.123456Z",
                       a.values[1]);
        goto out;
    }
    phase = nc_capture_phase_from_string(a.values[2]);
    if (phase < 0) {
        nc_reader_fail(r, node, "phase '%s' is not manual, precopy or stop-and-copy",
                       a.values[2]);
        goto out;
    }
    b->phase = (NcCapturePhase)phase;

    c = nc_next_elem(node->children);
    while (nc_elem_is(c, "address")) {
        g_autofree char *text = nc_elem_text(c);
        NcAddr addr;

        if (!text || !nc_addr_parse(text, &addr, NULL)) {
            nc_reader_fail(r, c, "'%s' is not an IPv4 or IPv6 address", text ? text : "");
            goto out;
        }
        g_array_append_val(b->addresses, addr);
        c = nc_next_elem(c->next);
    }
    if (!b->addresses->len) {
        nc_reader_fail(r, node, "at least one <address> is required");
        goto out;
    }
    if (nc_elem_is(c, "zone")) {
        g_autofree char *text = nc_elem_text(c);
        guint64 v;

        if (!nc_read_uint(r, c, "zone", text ? text : "", FALSE, G_MAXUINT16, &v))
            goto out;
        b->has_zone = TRUE;
        b->zone = (guint16)v;
        c = nc_next_elem(c->next);
    }
    if (nc_elem_is(c, "mark")) {
        g_autofree char *text = nc_elem_text(c);
        guint64 v;

        if (!nc_read_uint(r, c, "mark", text ? text : "", TRUE, G_MAXUINT32, &v))
            goto out;
        b->has_mark = TRUE;
        b->mark = (guint32)v;
        c = nc_next_elem(c->next);
    }
    while (nc_elem_is(c, "mac")) {
        g_autofree char *text = nc_elem_text(c);
        guint8 mac[6];

        if (!text || !nc_mac_parse(text, mac)) {
            nc_reader_fail(r, c, "'%s' is not a MAC address (52:54:00:ab:cd:01)", text ? text : "");
            goto out;
        }
        g_array_append_vals(b->macs, mac, 1);
        c = nc_next_elem(c->next);
    }
    while (nc_elem_is(c, "object")) {
        static const char *const onames[] = {"family", "table", "name", NULL};
        NcAttrs oa;
        guint8 family;
        g_autofree char *table = NULL, *name = NULL;
        gboolean ook = nc_read_attrs(r, c, onames, &oa);

        for (guint i = 0; ook && onames[i]; i++)
            ook = nc_require(r, c, onames, &oa, i);
        ook = ook && nc_read_nft_ident(r, c, oa.values, "name", &family, &table, &name);
        if (ook)
            g_ptr_array_add(b->objects, nc_object_ref_new(oa.values[0], table, name, NULL));
        nc_attrs_clear(&oa);
        if (!ook || !nc_require_empty(r, c))
            goto out;
        c = nc_next_elem(c->next);
    }
    while (nc_elem_is(c, "port")) {
        static const char *const pnames[] = {"mac", "name", NULL};
        NcAttrs pa;
        guint8 mac[6];
        gboolean pok = nc_read_attrs(r, c, pnames, &pa) && nc_require(r, c, pnames, &pa, 0);

        if (pok && !nc_mac_parse(pa.values[0], mac))
            pok = nc_reader_fail(r, c, "mac '%s' is not a MAC address like 52:54:00:ab:cd:01",
                                 pa.values[0]);
        if (pok && pa.values[1] && (!*pa.values[1] || strlen(pa.values[1]) > 15))
            pok = nc_reader_fail(r, c, "name '%s' is not an interface name (1 to 15 bytes)",
                                 pa.values[1]);
        if (pok) {
            NcOwnerPort *p = g_new0(NcOwnerPort, 1);

            memcpy(p->mac, mac, 6);
            p->ifname = g_strdup(pa.values[1]);
            g_ptr_array_add(b->ports, p);
        }
        nc_attrs_clear(&pa);
        if (!pok || !nc_require_empty(r, c))
            goto out;
        c = nc_next_elem(c->next);
    }
    if (c) {
        nc_reader_fail(r, c,
                       "unexpected element in <capture> (expected address, zone, mark, "
                       "object, port)");
        goto out;
    }
    ok = TRUE;
out:
    nc_attrs_clear(&a);
    return ok;
}

static gboolean nc_read_domain(NcReader *r, xmlNode *node, NcBundle *b)
{
    static const char *const names[] = {"uuid", "name", NULL};
    NcAttrs a;
    gboolean ok = FALSE;

    if (!nc_read_attrs(r, node, names, &a))
        goto out;
    if (!a.values[0] && !a.values[1]) {
        nc_reader_fail(r, node, "needs a uuid, a name, or both");
        goto out;
    }
    if (a.values[0] && !g_uuid_string_is_valid(a.values[0])) {
        nc_reader_fail(r, node, "uuid '%s' is not a UUID", a.values[0]);
        goto out;
    }
    if (a.values[1] && !*a.values[1]) {
        nc_reader_fail(r, node, "name is empty");
        goto out;
    }
    b->domain_uuid = g_strdup(a.values[0]);
    b->domain_name = g_strdup(a.values[1]);
    ok = nc_require_empty(r, node);
out:
    nc_attrs_clear(&a);
    return ok;
}

/* ---- format 2: the nft classes and the sections ---- */

/* @text of @node as a u64, 0x-hex allowed where @hex */
static gboolean nc_read_u64_attr(NcReader *r, const xmlNode *node, const char *attr,
                                 const char *value, gboolean hex, guint64 *out)
{
    return nc_read_uint(r, node, attr, value, hex, G_MAXUINT64, out);
}

/* an nftables identifier as nft's scanner takes it unquoted (basictypes.rng's nftName) */
static gboolean nc_read_nft_name(NcReader *r, const xmlNode *node, const char *attr,
                                 const char *value)
{
    gboolean ok = (g_ascii_isalpha(*value) || *value == '_') && strlen(value) <= 255;

    for (const char *p = value; ok && *p; p++)
        ok = g_ascii_isalnum(*p) || strchr("_./-", *p);
    if (ok)
        return TRUE;
    return nc_reader_fail(r, node,
                          "%s '%s' is not an nftables name (a letter or _, then letters, "
                          "digits, _ . / -)",
                          attr, value);
}

/* family, table and a name (@name_attr) of an nftables object, set or element's set */
static gboolean nc_read_nft_ident(NcReader *r, const xmlNode *node, const char *const *values,
                                  const char *name_attr, guint8 *family, char **table, char **name)
{
    if (!nc_nft_family_parse(values[0], family))
        return nc_reader_fail(r, node,
                              "family '%s' is not an nftables family (ip, ip6, inet, arp, "
                              "bridge, netdev)",
                              values[0]);
    if (!nc_read_nft_name(r, node, "table", values[1]) ||
        !nc_read_nft_name(r, node, name_attr, values[2]))
        return FALSE;
    *table = g_strdup(values[1]);
    *name = g_strdup(values[2]);
    return TRUE;
}

/* <key> or <data>: the readable form, or encoding="hex" */
static GBytes *nc_read_nft_value(NcReader *r, xmlNode *node, const NcNftSetElem *e, gboolean data)
{
    static const char *const names[] = {"encoding", NULL};
    g_autofree char *text = nc_elem_text(node);
    g_autoptr(GError) local = NULL;
    NcAttrs a;
    GBytes *value = NULL;

    if (!nc_read_attrs(r, node, names, &a))
        goto out;
    if (!text) {
        nc_reader_fail(r, node, "expected text");
        goto out;
    }
    if (a.values[0]) {
        gsize len = strlen(text);
        g_autofree guint8 *bytes = g_malloc(len / 2 + 1);

        if (g_strcmp0(a.values[0], "hex") != 0) {
            nc_reader_fail(r, node, "encoding '%s' is not hex", a.values[0]);
            goto out;
        }
        for (gsize i = 0; i < len / 2; i++) {
            int hi = g_ascii_xdigit_value(text[2 * i]), lo = g_ascii_xdigit_value(text[2 * i + 1]);

            if (hi < 0 || lo < 0 || g_ascii_isupper(text[2 * i]) ||
                g_ascii_isupper(text[2 * i + 1])) {
                len = 1; /* odd: refused below */
                break;
            }
            bytes[i] = (guint8)(hi << 4 | lo);
        }
        if (len % 2) {
            nc_reader_fail(r, node, "expected pairs of lowercase hexadecimal digits");
            goto out;
        }
        value = g_bytes_new(bytes, len / 2);
        goto out;
    }
    value = nc_nft_value_from_string(e, data, text, &local);
    if (!value)
        nc_reader_fail(r, node, "%s", local->message);
out:
    nc_attrs_clear(&a);
    return value;
}

static NcNftSetElem *nc_read_nft_elem(NcReader *r, xmlNode *node)
{
    static const char *const names[] = {"family",  "table",  "set",       "flags",    "key-type",
                                        "key-len", "fields", "data-type", "data-len", NULL};
    g_autoptr(NcNftSetElem) e = g_new0(NcNftSetElem, 1);
    g_auto(GStrv) fields = NULL;
    NcAttrs a;
    gboolean ok = FALSE;
    xmlNode *c;
    guint64 v;

    if (!nc_read_attrs(r, node, names, &a))
        goto out;
    for (guint i = 0; i < 7; i++) {
        if (!nc_require(r, node, names, &a, i))
            goto out;
    }
    if (!nc_read_nft_ident(r, node, a.values, "set", &e->family, &e->table, &e->set))
        goto out;
    if (!nc_read_uint(r, node, "flags", a.values[3], TRUE, G_MAXUINT32, &v))
        goto out;
    e->set_flags = (guint32)v;
    if (!nc_read_uint(r, node, "key-type", a.values[4], TRUE, G_MAXUINT32, &v))
        goto out;
    e->key_type = (guint32)v;
    if (!nc_read_uint(r, node, "key-len", a.values[5], FALSE, G_MAXUINT32, &v))
        goto out;
    e->key_len = (guint32)v;
    fields = g_strsplit_set(a.values[6], " \t\n\r", -1);
    for (guint i = 0; fields[i]; i++) {
        if (!*fields[i])
            continue;
        if (e->n_fields == NC_NFT_SET_FIELDS_MAX) {
            nc_reader_fail(r, node, "more than %u fields", NC_NFT_SET_FIELDS_MAX);
            goto out;
        }
        if (!nc_read_uint(r, node, "fields", fields[i], FALSE, G_MAXUINT8, &v))
            goto out;
        e->field_len[e->n_fields++] = (guint8)v;
    }
    if (!e->n_fields) {
        nc_reader_fail(r, node, "fields is empty (the byte length of each field of the key)");
        goto out;
    }
    if (a.values[7] && !nc_read_uint(r, node, "data-type", a.values[7], TRUE, G_MAXUINT32, &v))
        goto out;
    e->data_type = a.values[7] ? (guint32)v : 0;
    if (a.values[8] && !nc_read_uint(r, node, "data-len", a.values[8], FALSE, G_MAXUINT32, &v))
        goto out;
    e->data_len = a.values[8] ? (guint32)v : 0;

    c = nc_next_elem(node->children);
    if (!nc_elem_is(c, "key")) {
        nc_reader_fail(r, node, "expected <key> as the first child");
        goto out;
    }
    if (!(e->key = nc_read_nft_value(r, c, e, FALSE)))
        goto out;
    c = nc_next_elem(c->next);
    if (nc_elem_is(c, "data")) {
        if (!(e->data = nc_read_nft_value(r, c, e, TRUE)))
            goto out;
        c = nc_next_elem(c->next);
    }
    if (nc_elem_is(c, "object")) {
        static const char *const none[] = {NULL};
        NcAttrs oa;
        gboolean ook = nc_read_attrs(r, c, none, &oa);

        nc_attrs_clear(&oa);
        e->objref = ook ? nc_elem_text(c) : NULL;
        if (!e->objref || !nc_read_nft_name(r, c, "object", e->objref))
            goto out;
        c = nc_next_elem(c->next);
    }
    if (nc_elem_is(c, "timeout")) {
        static const char *const tnames[] = {"ms", "remaining-ms", NULL};
        NcAttrs ta;
        gboolean tok =
            nc_read_attrs(r, c, tnames, &ta) && nc_require(r, c, tnames, &ta, 0) &&
            nc_require(r, c, tnames, &ta, 1) &&
            nc_read_u64_attr(r, c, "ms", ta.values[0], FALSE, &e->timeout_ms) &&
            nc_read_u64_attr(r, c, "remaining-ms", ta.values[1], FALSE, &e->expires_ms) &&
            nc_require_empty(r, c);

        nc_attrs_clear(&ta);
        if (!tok)
            goto out;
        e->has_timeout = TRUE;
        c = nc_next_elem(c->next);
    }
    if (nc_elem_is(c, "counter")) {
        static const char *const cnames[] = {"packets", "bytes", NULL};
        NcAttrs ca;
        gboolean cok = nc_read_attrs(r, c, cnames, &ca) && nc_require(r, c, cnames, &ca, 0) &&
                       nc_require(r, c, cnames, &ca, 1) &&
                       nc_read_u64_attr(r, c, "packets", ca.values[0], FALSE, &e->packets) &&
                       nc_read_u64_attr(r, c, "bytes", ca.values[1], FALSE, &e->bytes) &&
                       nc_require_empty(r, c);

        nc_attrs_clear(&ca);
        if (!cok)
            goto out;
        e->has_counter = TRUE;
        c = nc_next_elem(c->next);
    }
    if (c) {
        nc_reader_fail(r, c,
                       "unexpected element in <element> (expected key, then optional data, "
                       "object, timeout and counter)");
        goto out;
    }
    ok = TRUE;
out:
    nc_attrs_clear(&a);
    return ok ? g_steal_pointer(&e) : NULL;
}

static NcNftObj *nc_read_nft_obj(NcReader *r, xmlNode *node)
{
    static const char *const names[] = {"family", "table", "name",  "packets",
                                        "bytes",  "used",  "flags", NULL};
    gboolean quota = nc_elem_is(node, "quota");
    g_autoptr(NcNftObj) o = g_new0(NcNftObj, 1);
    NcAttrs a;
    gboolean ok = FALSE;
    guint64 v;

    if (!nc_read_attrs(r, node, names, &a))
        goto out;
    for (guint i = 0; i < 3; i++) {
        if (!nc_require(r, node, names, &a, i))
            goto out;
    }
    /* a counter needs packets and bytes; a quota bytes, used and flags */
    if (!nc_require(r, node, names, &a, 4) || !nc_require(r, node, names, &a, quota ? 5 : 3) ||
        (quota && !nc_require(r, node, names, &a, 6)))
        goto out;
    if (!nc_read_nft_ident(r, node, a.values, "name", &o->family, &o->table, &o->name))
        goto out;
    o->type = quota ? NFT_OBJECT_QUOTA : NFT_OBJECT_COUNTER;
    if ((a.values[3] && !nc_read_u64_attr(r, node, "packets", a.values[3], FALSE, &o->packets)) ||
        !nc_read_u64_attr(r, node, "bytes", a.values[4], FALSE, &o->bytes) ||
        (a.values[5] && !nc_read_u64_attr(r, node, "used", a.values[5], FALSE, &o->consumed)))
        goto out;
    if (a.values[6]) {
        if (!nc_read_uint(r, node, "flags", a.values[6], TRUE, G_MAXUINT32, &v))
            goto out;
        o->flags = (guint32)v;
    }
    ok = nc_require_empty(r, node);
out:
    nc_attrs_clear(&a);
    return ok ? g_steal_pointer(&o) : NULL;
}

static NcMdbEntry *nc_read_mdb_entry(NcReader *r, xmlNode *node)
{
    static const char *const names[] = {"mac", "group", "source", "state", NULL};
    g_autoptr(NcMdbEntry) e = g_new0(NcMdbEntry, 1);
    g_autoptr(GError) local = NULL;
    NcAttrs a;
    gboolean ok = FALSE;

    if (!nc_read_attrs(r, node, names, &a) || !nc_require(r, node, names, &a, 0) ||
        !nc_require(r, node, names, &a, 1) || !nc_require(r, node, names, &a, 3))
        goto out;
    if (!nc_mac_parse(a.values[0], e->mac)) {
        nc_reader_fail(r, node, "mac '%s' is not a MAC address like 52:54:00:ab:cd:01",
                       a.values[0]);
        goto out;
    }
    if (!nc_read_addr(r, node, "group", a.values[1], &e->group) ||
        (a.values[2] && !nc_read_addr(r, node, "source", a.values[2], &e->source)))
        goto out;
    if (g_strcmp0(a.values[3], "permanent") == 0) {
        e->permanent = TRUE;
    } else if (g_strcmp0(a.values[3], "temp") != 0) {
        nc_reader_fail(r, node, "state '%s' is not temp or permanent", a.values[3]);
        goto out;
    }
    if (!nc_mdb_entry_check(e, &local)) {
        nc_reader_fail(r, node, "%s", local->message);
        goto out;
    }
    ok = nc_require_empty(r, node);
out:
    nc_attrs_clear(&a);
    return ok ? g_steal_pointer(&e) : NULL;
}

static gboolean nc_read_not_carried(NcReader *r, xmlNode *node, const char *class_name,
                                    GPtrArray *list)
{
    static const char *const names[] = {"what", "reason", NULL};
    NcAttrs a;
    gboolean ok = nc_read_attrs(r, node, names, &a) && nc_require(r, node, names, &a, 0) &&
                  nc_require(r, node, names, &a, 1);

    if (ok && (!*a.values[0] || !*a.values[1]))
        ok = nc_reader_fail(r, node, "what and reason must not be empty");
    if (ok)
        nc_not_carried_add(list, class_name, a.values[0], "%s", a.values[1]);
    nc_attrs_clear(&a);
    return ok && nc_require_empty(r, node);
}

/* the section classes of format 2, in the order they appear */
typedef enum {
    NC_SECTION_CONNTRACK,
    NC_SECTION_NFT_SET,
    NC_SECTION_NFT_OBJECT,
    NC_SECTION_MDB,
    NC_SECTION_LAST
} NcSectionId;

static const char *const nc_section_names[] = {
    [NC_SECTION_CONNTRACK] = "conntrack",
    [NC_SECTION_NFT_SET] = "nft-set",
    [NC_SECTION_NFT_OBJECT] = "nft-object",
    [NC_SECTION_MDB] = "mdb",
};
static_assert(G_N_ELEMENTS(nc_section_names) == NC_SECTION_LAST, "one name per section");

/* A section being read: its declared seal, what it held, and where its items go. */
typedef struct {
    NcSectionId id;
    xmlNode *node;   /* the section's element, for messages */
    gboolean sealed; /* format 2: count and digest given */
    guint64 count;
    NcDigest digest;
    gboolean in_not_carried; /* items may not follow <not-carried> */
} NcSection;

static gboolean nc_read_section_open(NcReader *r, xmlNode *node, NcBundle *b, NcSection *sec)
{
    static const char *const names[] = {"count", "digest", NULL};
    NcAttrs a;
    gboolean ok = FALSE;

    sec->node = node;
    if (b->version == 1) {
        if (node->properties)
            return nc_reader_fail(r, node, "unknown attribute '%s'",
                                  (const char *)node->properties->name);
        return TRUE;
    }
    if (!nc_read_attrs(r, node, names, &a) || !nc_require(r, node, names, &a, 0) ||
        !nc_require(r, node, names, &a, 1))
        goto out;
    if (!nc_read_uint(r, node, "count", a.values[0], FALSE, G_MAXUINT32, &sec->count))
        goto out;
    if (strlen(a.values[1]) != 2 * NC_DIGEST_SIZE) {
        nc_reader_fail(r, node, "digest '%s' is not 64 lowercase hexadecimal digits", a.values[1]);
        goto out;
    }
    for (guint i = 0; i < NC_DIGEST_SIZE; i++) {
        int hi = g_ascii_xdigit_value(a.values[1][2 * i]);
        int lo = g_ascii_xdigit_value(a.values[1][2 * i + 1]);

        if (hi < 0 || lo < 0 || g_ascii_isupper(a.values[1][2 * i]) ||
            g_ascii_isupper(a.values[1][2 * i + 1])) {
            nc_reader_fail(r, node, "digest '%s' is not 64 lowercase hexadecimal digits",
                           a.values[1]);
            goto out;
        }
        sec->digest.sum[i] = (guint8)(hi << 4 | lo);
    }
    sec->sealed = TRUE;
    switch (sec->id) {
    case NC_SECTION_CONNTRACK:
        b->has_conntrack = TRUE;
        break;
    case NC_SECTION_NFT_SET:
        b->nft_sets = nc_item_set_new(&nc_nft_set_class);
        break;
    case NC_SECTION_NFT_OBJECT:
        b->nft_objects = nc_item_set_new(&nc_nft_obj_class);
        break;
    case NC_SECTION_MDB:
        b->mdb = nc_item_set_new(&nc_mdb_class);
        break;
    default:
        g_assert_not_reached();
    }
    ok = TRUE;
out:
    nc_attrs_clear(&a);
    return ok;
}

/* upsert into a section's set, refusing a second item with the same key */
static gboolean nc_section_add(NcReader *r, xmlNode *node, NcItemSet *set, gpointer item)
{
    g_autoptr(GError) local = NULL;
    g_autofree char *what = nc_item_set_ops(set)->describe(item);
    gboolean replaced = FALSE;

    if (!nc_item_set_upsert(set, item, &replaced, &local))
        return nc_reader_fail(r, node, "%s", local->message);
    if (replaced)
        return nc_reader_fail(r, node, "a second %s; an item appears once", what);
    return TRUE;
}

static gboolean nc_read_section_item(NcReader *r, xmlNode *node, NcBundle *b, NcSection *sec)
{
    if (sec->sealed && nc_elem_is(node, "not-carried")) {
        sec->in_not_carried = TRUE;
        return nc_read_not_carried(r, node, nc_section_names[sec->id], b->not_carried);
    }
    if (sec->in_not_carried)
        return nc_reader_fail(r, node,
                              "unexpected element after <not-carried> (items come "
                              "first)");
    switch (sec->id) {
    case NC_SECTION_CONNTRACK:
        if (!nc_elem_is(node, "entry"))
            return nc_reader_fail(r, node, "unexpected element in <conntrack> (expected <entry>%s)",
                                  sec->sealed ? " or <not-carried>" : "");
        g_array_set_size(b->conntrack, b->conntrack->len + 1);
        return nc_read_entry(r, node,
                             &g_array_index(b->conntrack, NcCtEntry, b->conntrack->len - 1));
    case NC_SECTION_NFT_SET: {
        NcNftSetElem *e;

        if (!nc_elem_is(node, "element"))
            return nc_reader_fail(r, node,
                                  "unexpected element in <nft-set> (expected <element> "
                                  "or <not-carried>)");
        e = nc_read_nft_elem(r, node);
        return e && nc_section_add(r, node, b->nft_sets, e);
    }
    case NC_SECTION_NFT_OBJECT: {
        NcNftObj *o;

        if (!nc_elem_is(node, "counter") && !nc_elem_is(node, "quota"))
            return nc_reader_fail(r, node,
                                  "unexpected element in <nft-object> (expected "
                                  "<counter>, <quota> or <not-carried>)");
        o = nc_read_nft_obj(r, node);
        return o && nc_section_add(r, node, b->nft_objects, o);
    }
    case NC_SECTION_MDB: {
        NcMdbEntry *e;

        if (!nc_elem_is(node, "entry"))
            return nc_reader_fail(r, node,
                                  "unexpected element in <mdb> (expected <entry> or "
                                  "<not-carried>)");
        e = nc_read_mdb_entry(r, node);
        return e && nc_section_add(r, node, b->mdb, e);
    }
    default:
        g_assert_not_reached();
    }
}

/* a format-2 section's items against its seal: what catches a damaged or edited bundle */
static gboolean nc_read_section_close(NcReader *r, NcBundle *b, NcSection *sec)
{
    NcDigest found;
    guint64 n;
    g_autoptr(GError) local = NULL;

    if (!sec->sealed)
        return TRUE;
    switch (sec->id) {
    case NC_SECTION_CONNTRACK:
        n = b->conntrack->len;
        if (!nc_bundle_ct_digest(b->conntrack, &found, &local))
            return nc_reader_fail(r, sec->node, "%s", local->message);
        break;
    case NC_SECTION_NFT_SET:
        n = nc_item_set_count(b->nft_sets);
        found = *nc_item_set_digest(b->nft_sets);
        break;
    case NC_SECTION_NFT_OBJECT:
        n = nc_item_set_count(b->nft_objects);
        found = *nc_item_set_digest(b->nft_objects);
        break;
    case NC_SECTION_MDB:
        n = nc_item_set_count(b->mdb);
        found = *nc_item_set_digest(b->mdb);
        break;
    default:
        g_assert_not_reached();
    }
    if (n != sec->count)
        return nc_reader_fail(r, sec->node,
                              "the section says %" G_GUINT64_FORMAT
                              " items and holds %" G_GUINT64_FORMAT
                              ": the bundle is damaged or was edited; capture it again",
                              sec->count, n);
    if (!nc_digest_equal(&found, &sec->digest)) {
        g_autofree char *want = nc_digest_to_string(&sec->digest);
        g_autofree char *got = nc_digest_to_string(&found);

        return nc_reader_fail(r, sec->node,
                              "the items' digest is %s, the section says %s: the bundle is "
                              "damaged or was edited; capture it again",
                              got, want);
    }
    return TRUE;
}

static gboolean nc_read_root(NcReader *r, xmlNode *root, NcBundle *b)
{
    static const char *const names[] = {"version", NULL};
    NcAttrs a;
    gboolean ok;

    if (!nc_elem_is(root, "bundle"))
        return nc_reader_fail(r, root, "not a netcarry bundle (expected <bundle xmlns=\"%s\">)",
                              NC_BUNDLE_NS);
    ok = nc_read_attrs(r, root, names, &a);
    if (ok && g_strcmp0(a.values[0], "1") == 0) {
        b->version = 1;
    } else if (ok && g_strcmp0(a.values[0], "2") == 0) {
        b->version = 2;
        b->has_conntrack = FALSE; /* format 2 has the classes whose section it holds */
    } else if (ok) {
        ok = nc_reader_fail(r, root, "version '%s' is not supported (this netcarry reads %d to %d)",
                            a.values[0] ? a.values[0] : "", NC_BUNDLE_VERSION_MIN,
                            NC_BUNDLE_VERSION);
    }
    nc_attrs_clear(&a);
    return ok;
}

static gboolean nc_stream_text(NcReader *r, xmlTextReader *tr)
{
    int type = xmlTextReaderNodeType(tr);

    if (type != XML_READER_TYPE_TEXT && type != XML_READER_TYPE_CDATA)
        return TRUE;
    g_set_error(r->error, NC_ERROR, NC_ERROR_INVALID_DATA, "%s:%d: unexpected text", r->name,
                xmlTextReaderGetParserLineNumber(tr));
    return FALSE;
}

/* the section of @node's name that may come next (format 1: only conntrack), or -1 */
static int nc_section_of(const NcBundle *b, const xmlNode *node, int next)
{
    for (int i = next; i < (b->version == 1 ? 1 : NC_SECTION_LAST); i++) {
        if (nc_elem_is(node, nc_section_names[i]))
            return i;
    }
    return -1;
}

/**
 * nc_bundle_stream_section() - read one section item by item
 * @xr, @r:    the stream and the reader
 * @b:         the bundle being read
 * @sec:       the section (its element is the reader's current node)
 * @skel_root: the skeleton's root: the section is copied there with at most
 *             NC_BUNDLE_FULL_VALIDATION_MAX items, for schema validation
 *
 * Return: the stream's next result after the section (1: a node, 0: the end, -1: error), or
 * -2 when the reader refused something (r->error set)
 */
static int nc_bundle_stream_section(NcXmlReader *xr, NcReader *r, NcBundle *b, NcSection *sec,
                                    xmlDoc *skel, xmlNode *skel_root)
{
    xmlTextReader *tr = nc_xml_reader_get(xr);
    xmlNode *node = xmlTextReaderCurrentNode(tr);
    xmlNode *skel_sec;
    guint n = 0;
    int rc;

    if (!nc_read_section_open(r, node, b, sec))
        return -2;
    skel_sec = xmlAddChild(skel_root, xmlDocCopyNode(node, skel, 2));
    rc = xmlTextReaderIsEmptyElement(tr) ? 1 : nc_xml_reader_read(xr, r->error);
    while (rc == 1 && xmlTextReaderDepth(tr) == 2) {
        if (!nc_stream_text(r, tr))
            return -2;
        if (xmlTextReaderNodeType(tr) != XML_READER_TYPE_ELEMENT) {
            rc = nc_xml_reader_read(xr, r->error);
            continue;
        }
        node = xmlTextReaderExpand(tr);
        if (!node) {
            rc = nc_xml_reader_read(xr, r->error); /* sets the parse error */
            if (rc == 1)
                g_set_error(r->error, NC_ERROR, NC_ERROR_INVALID_DATA, "%s: not well-formed XML",
                            r->name);
            return -2;
        }
        if (!nc_read_section_item(r, node, b, sec))
            return -2;
        if (++n <= NC_BUNDLE_FULL_VALIDATION_MAX) {
            xmlAddChild(skel_sec, xmlDocCopyNode(node, skel, 1));
        } else if (n == NC_BUNDLE_FULL_VALIDATION_MAX + 1) {
            /* from here on the reader alone checks items (see top of file) */
            xmlFreeNodeList(skel_sec->children);
            skel_sec->children = skel_sec->last = NULL;
        }
        rc = nc_xml_reader_next(xr, r->error);
    }
    if (rc < 0)
        return rc;
    if (!nc_read_section_close(r, b, sec))
        return -2;
    if (rc == 1) /* the section's end tag, or the element itself when empty */
        rc = nc_xml_reader_read(xr, r->error);
    return rc;
}

/**
 * nc_bundle_stream() - read a bundle item by item, building its skeleton
 * @xr:   the stream
 * @r:    reader (its error is set on failure, also for malformed XML)
 * @skel: receives a copy of the frame, and of the items while a section has at
 *        most NC_BUNDLE_FULL_VALIDATION_MAX of them, for schema validation
 *
 * Only one item's subtree exists at a time: a 100k-entry tree would take
 * ~650 MB and most of the parse time would go to faulting its pages in.
 *
 * Return: (transfer full): the bundle, or NULL
 */
static NcBundle *nc_bundle_stream(NcXmlReader *xr, NcReader *r, xmlDoc *skel)
{
    xmlTextReader *tr = nc_xml_reader_get(xr);
    g_autoptr(NcBundle) b = nc_bundle_new();
    xmlNode *root, *skel_root;
    enum { NC_WANT_DOMAIN, NC_WANT_SECTIONS } state = NC_WANT_DOMAIN;
    int next_section = 0, rc;
    gboolean any_section = FALSE;

    while ((rc = nc_xml_reader_read(xr, r->error)) == 1 &&
           xmlTextReaderNodeType(tr) != XML_READER_TYPE_ELEMENT)
        ;
    if (rc != 1) {
        if (rc == 0)
            g_set_error(r->error, NC_ERROR, NC_ERROR_INVALID_DATA, "%s: the document is empty",
                        r->name);
        return NULL;
    }
    root = xmlTextReaderCurrentNode(tr);
    if (!nc_read_root(r, root, b))
        return NULL;
    skel_root = xmlDocCopyNode(root, skel, 2);
    xmlDocSetRootElement(skel, skel_root);

    rc = xmlTextReaderIsEmptyElement(tr) ? 0 : nc_xml_reader_read(xr, r->error);
    while (rc == 1) {
        int depth = xmlTextReaderDepth(tr);
        xmlNode *node;
        int id;

        if (depth == 0)
            break; /* </bundle> */
        if (!nc_stream_text(r, tr))
            return NULL;
        if (xmlTextReaderNodeType(tr) != XML_READER_TYPE_ELEMENT) {
            rc = nc_xml_reader_read(xr, r->error);
            continue;
        }
        node = xmlTextReaderCurrentNode(tr);
        if (state == NC_WANT_SECTIONS && (id = nc_section_of(b, node, next_section)) >= 0) {
            NcSection sec = {.id = (NcSectionId)id};

            rc = nc_bundle_stream_section(xr, r, b, &sec, skel, skel_root);
            if (rc == -2)
                return NULL;
            next_section = id + 1;
            any_section = TRUE;
            continue;
        }
        node = xmlTextReaderExpand(tr);
        if (!node) {
            if (nc_xml_reader_read(xr, r->error) == 1)
                g_set_error(r->error, NC_ERROR, NC_ERROR_INVALID_DATA,
                            "%s: not well-formed XML", r->name);
            return NULL;
        }
        if (state == NC_WANT_DOMAIN && nc_elem_is(node, "domain")) {
            /* the check after the first <domain> sees only the next node, which may be text */
            if (b->domain_uuid || b->domain_name) {
                nc_reader_fail(r, node, "a second <domain>; a bundle has one");
                return NULL;
            }
            if (!nc_read_domain(r, node, b))
                return NULL;
            xmlAddChild(skel_root, xmlDocCopyNode(node, skel, 1));
            rc = nc_xml_reader_next(xr, r->error);
            if (rc == 1 && xmlTextReaderNodeType(tr) == XML_READER_TYPE_ELEMENT &&
                xmlTextReaderDepth(tr) == 1 && !nc_elem_is(xmlTextReaderCurrentNode(tr), "capture")) {
                nc_reader_fail(r, xmlTextReaderCurrentNode(tr), "expected <capture>");
                return NULL;
            }
            continue;
        }
        if (state == NC_WANT_DOMAIN && nc_elem_is(node, "capture")) {
            if (!nc_read_capture(r, node, b))
                return NULL;
            if (b->version == 1 && b->objects->len) {
                nc_reader_fail(r, node, "<object> needs a bundle of version 2");
                return NULL;
            }
            xmlAddChild(skel_root, xmlDocCopyNode(node, skel, 1));
            state = NC_WANT_SECTIONS;
            rc = nc_xml_reader_next(xr, r->error);
            continue;
        }
        if (state == NC_WANT_DOMAIN)
            nc_reader_fail(r, node, "unexpected element (expected <domain> or <capture>)");
        else if (b->version == 1)
            nc_reader_fail(r, node, "unexpected element (expected %s)",
                           any_section ? "</bundle>" : "<conntrack>");
        else
            nc_reader_fail(r, node,
                           "unexpected element (expected a class section: conntrack, "
                           "nft-set, nft-object, mdb, once each and in this order)");
        return NULL;
    }
    if (rc < 0)
        return NULL;
    if (state == NC_WANT_DOMAIN || (b->version == 1 && !any_section)) {
        nc_reader_fail(r, root, "expected %s", state == NC_WANT_DOMAIN ? "<capture>" : "<conntrack>");
        return NULL;
    }
    /* the rest of the document must be well-formed too */
    while ((rc = nc_xml_reader_read(xr, r->error)) == 1)
        ;
    return rc < 0 ? NULL : g_steal_pointer(&b);
}

NcBundle *nc_bundle_parse_buffer(const char *data, gsize len, const char *name, GError **error)
{
    g_autoptr(NcXmlReader) xr = nc_xml_reader_new(data, len, name, error);
    g_autoptr(xmlDoc) skel = NULL;
    g_autoptr(NcBundle) bundle = NULL;
    NcReader r = {name, error, 0};

    if (!xr)
        return NULL;
    skel = xmlNewDoc((const xmlChar *)"1.0");
    bundle = nc_bundle_stream(xr, &r, skel);
    if (!bundle)
        return NULL;
    if (!nc_xml_validate_doc(skel, name, NC_BUNDLE_SCHEMA, NULL, error))
        return NULL;
    return g_steal_pointer(&bundle);
}

NcBundle *nc_bundle_parse_file(const char *path, GError **error)
{
    g_autofree char *data = NULL;
    g_autoptr(GError) local = NULL;
    gsize len;

    if (!g_file_get_contents(path, &data, &len, &local)) {
        g_set_error(error, NC_ERROR, NC_ERROR_IO, "cannot read bundle %s: %s", path,
                    local->message);
        return NULL;
    }
    return nc_bundle_parse_buffer(data, len, path, error);
}

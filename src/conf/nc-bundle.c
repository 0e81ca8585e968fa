/* nc-bundle.c - the state bundle: new/free, its XML form (parse, format, save)
 * and the name tables for protocols, IPS_* status bits and TCP states
 *
 * Theory of operation
 *
 * The XML form is defined by xml/bundle.rng. Parsing is: well-formedness
 * (nc_xml_parse: no network, no DOCTYPE), then the schema, then a strict
 * reader that walks the tree once and refuses anything it does not know, with
 * "file:line: what is wrong" messages. The reader also makes the checks the
 * schema cannot (both tuples of an entry in one family, ICMP vs ICMPv6, <tcp>
 * only for TCP, addresses inet_pton() accepts).
 *
 * libxml2's RelaxNG validation costs ~35 us per entry, i.e. seconds for a
 * 100k-entry table, while a stop-and-copy bundle must be read in milliseconds.
 * So a bundle with more than NC_BUNDLE_FULL_VALIDATION_MAX entries is
 * validated with its entries detached, and the reader, which holds entries to
 * the same rules as the schema's ctEntry, checks them. tests/unit/test-schema
 * and test-bundle hold schema and reader to the same valid and invalid files.
 *
 * Formatting writes the canonical form directly into a GString (no DOM):
 * fixed element and attribute order, two-space indent, marks and TCP flags in
 * hex, status bits in bit order, times in UTC with microseconds. Parsing a
 * canonical file and formatting it again gives the same bytes.
 */
#include <assert.h>
#include <errno.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_conntrack_tcp.h>
#include <string.h>
#include <time.h>

#include "conf/nc-bundle.h"
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

/**
 * nc_bundle_format() - the canonical XML form of @bundle
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
        if (bundle->domain_uuid) {
            g_string_append(s, " uuid=\"");
            nc_xml_append_escaped(s, bundle->domain_uuid);
            g_string_append_c(s, '"');
        }
        if (bundle->domain_name) {
            g_string_append(s, " name=\"");
            nc_xml_append_escaped(s, bundle->domain_name);
            g_string_append_c(s, '"');
        }
        g_string_append(s, "/>\n");
    }
    g_string_append(s, "  <capture host=\"");
    nc_xml_append_escaped(s, bundle->host ? bundle->host : g_get_host_name());
    nc_time_format(bundle->captured_us, tbuf, sizeof(tbuf));
    g_string_append(s, "\" time=\"");
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
    g_string_append(s, "  </capture>\n");
    if (!n) {
        g_string_append(s, "  <conntrack/>\n");
    } else {
        g_string_append(s, "  <conntrack>\n");
        for (guint i = 0; i < n; i++)
            nc_format_entry(s, &g_array_index(bundle->conntrack, NcCtEntry, i));
        g_string_append(s, "  </conntrack>\n");
    }
    g_string_append(s, "</bundle>\n");
    return g_string_free(s, FALSE);
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
    bundle->conntrack = g_array_new(FALSE, TRUE, sizeof(NcCtEntry));
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
    if (bundle->conntrack)
        g_array_unref(bundle->conntrack);
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
#define NC_MAX_ATTRS 8

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
    if (c) {
        nc_reader_fail(r, c, "unexpected element in <capture> (expected address, zone, mark)");
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

static gboolean nc_read_root(NcReader *r, xmlNode *root)
{
    static const char *const names[] = {"version", NULL};
    NcAttrs a;
    gboolean ok;

    if (!nc_elem_is(root, "bundle"))
        return nc_reader_fail(r, root, "not a netcarry bundle (expected <bundle xmlns=\"%s\">)",
                              NC_BUNDLE_NS);
    ok = nc_read_attrs(r, root, names, &a);
    if (ok && g_strcmp0(a.values[0], G_STRINGIFY(NC_BUNDLE_VERSION)) != 0)
        ok = nc_reader_fail(r, root, "version '%s' is not supported (this netcarry reads %d)",
                            a.values[0] ? a.values[0] : "", NC_BUNDLE_VERSION);
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

/**
 * nc_bundle_stream() - read a bundle entry by entry, building its skeleton
 * @xr:   the stream
 * @r:    reader (its error is set on failure, also for malformed XML)
 * @skel: receives a copy of the frame, and of the entries while there are at
 *        most NC_BUNDLE_FULL_VALIDATION_MAX of them, for schema validation
 *
 * Only one entry's subtree exists at a time: a 100k-entry tree would take
 * ~650 MB and most of the parse time would go to faulting its pages in.
 *
 * Return: (transfer full): the bundle, or NULL
 */
static NcBundle *nc_bundle_stream(NcXmlReader *xr, NcReader *r, xmlDoc *skel)
{
    xmlTextReader *tr = nc_xml_reader_get(xr);
    g_autoptr(NcBundle) b = nc_bundle_new();
    xmlNode *root, *skel_root, *skel_ct = NULL;
    enum { NC_WANT_DOMAIN, NC_WANT_CONNTRACK, NC_DONE } state = NC_WANT_DOMAIN;
    int rc;

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
    if (!nc_read_root(r, root))
        return NULL;
    skel_root = xmlDocCopyNode(root, skel, 2);
    xmlDocSetRootElement(skel, skel_root);

    rc = xmlTextReaderIsEmptyElement(tr) ? 0 : nc_xml_reader_read(xr, r->error);
    while (rc == 1) {
        int depth = xmlTextReaderDepth(tr);
        xmlNode *node;

        if (depth == 0)
            break; /* </bundle> */
        if (!nc_stream_text(r, tr))
            return NULL;
        if (xmlTextReaderNodeType(tr) != XML_READER_TYPE_ELEMENT) {
            rc = nc_xml_reader_read(xr, r->error);
            continue;
        }
        node = xmlTextReaderCurrentNode(tr);
        if (state == NC_WANT_CONNTRACK && nc_elem_is(node, "conntrack")) {
            guint n = 0;

            if (node->properties) {
                nc_reader_fail(r, node, "unknown attribute '%s'",
                               (const char *)node->properties->name);
                return NULL;
            }
            skel_ct = xmlAddChild(skel_root, xmlDocCopyNode(node, skel, 2));
            state = NC_DONE;
            rc = xmlTextReaderIsEmptyElement(tr) ? 1 : nc_xml_reader_read(xr, r->error);
            while (rc == 1 && xmlTextReaderDepth(tr) == 2) {
                if (!nc_stream_text(r, tr))
                    return NULL;
                if (xmlTextReaderNodeType(tr) != XML_READER_TYPE_ELEMENT) {
                    rc = nc_xml_reader_read(xr, r->error);
                    continue;
                }
                node = xmlTextReaderExpand(tr);
                if (!node) {
                    rc = nc_xml_reader_read(xr, r->error); /* sets the parse error */
                    if (rc == 1)
                        g_set_error(r->error, NC_ERROR, NC_ERROR_INVALID_DATA,
                                    "%s: not well-formed XML", r->name);
                    return NULL;
                }
                if (!nc_elem_is(node, "entry")) {
                    nc_reader_fail(r, node, "unexpected element in <conntrack> (expected <entry>)");
                    return NULL;
                }
                g_array_set_size(b->conntrack, ++n);
                if (!nc_read_entry(r, node, &g_array_index(b->conntrack, NcCtEntry, n - 1)))
                    return NULL;
                if (n <= NC_BUNDLE_FULL_VALIDATION_MAX) {
                    xmlAddChild(skel_ct, xmlDocCopyNode(node, skel, 1));
                } else if (n == NC_BUNDLE_FULL_VALIDATION_MAX + 1) {
                    /* from here on the reader alone checks entries (see top of file) */
                    xmlFreeNodeList(skel_ct->children);
                    skel_ct->children = skel_ct->last = NULL;
                }
                rc = nc_xml_reader_next(xr, r->error);
            }
            if (rc == 1) /* </conntrack> or the element itself when empty */
                rc = nc_xml_reader_read(xr, r->error);
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
            xmlAddChild(skel_root, xmlDocCopyNode(node, skel, 1));
            state = NC_WANT_CONNTRACK;
            rc = nc_xml_reader_next(xr, r->error);
            continue;
        }
        nc_reader_fail(r, node, "unexpected element (expected %s)",
                       state == NC_WANT_DOMAIN      ? "<domain> or <capture>"
                       : state == NC_WANT_CONNTRACK ? "<conntrack>"
                                                    : "</bundle>");
        return NULL;
    }
    if (rc < 0)
        return NULL;
    if (state != NC_DONE) {
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

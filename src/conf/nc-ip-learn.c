/* nc-ip-learn.c - the "ip-binding" class, libvirt's nwfilter lease file, and the domain XML that
 * pins a learned address (what and why: nc-ip-learn.h, docs/nwfilter.md)
 */
#include <string.h>

#include <libxml/tree.h>

#include "conf/nc-ip-learn.h"
#include "util/nc-bytes.h"
#include "util/nc-error.h"
#include "util/nc-xml.h"

NcIpBinding *nc_ip_binding_new(const guint8 *mac, const NcAddr *addr, gint64 expires)
{
    NcIpBinding *b = g_new0(NcIpBinding, 1);

    memcpy(b->mac, mac, 6);
    b->addr = *addr;
    b->expires = expires;
    return b;
}

NcIpBinding *nc_ip_binding_copy(const NcIpBinding *b)
{
    return nc_ip_binding_new(b->mac, &b->addr, b->expires);
}

void nc_ip_binding_free(NcIpBinding *b)
{
    g_free(b);
}

/* ---- class ops ---- */

static gboolean nc_ip_binding_key(gconstpointer item, GByteArray *out, GError **error)
{
    const NcIpBinding *b = item;

    if (b->addr.family != AF_INET && b->addr.family != AF_INET6) {
        g_set_error(error, NC_ERROR, NC_ERROR_INVALID_ARG, "ip-binding without an address family");
        return FALSE;
    }
    g_byte_array_append(out, b->mac, 6);
    g_byte_array_append(out, &b->addr.family, 1);
    g_byte_array_append(out, b->addr.bytes, nc_addr_len(&b->addr));
    return TRUE;
}

static gboolean nc_ip_binding_encode(gconstpointer item, GByteArray *out, GError **error)
{
    const NcIpBinding *b = item;

    if (!nc_ip_binding_key(item, out, error))
        return FALSE;
    nc_bytes_put_be(out, (guint64)b->expires, 8);
    return TRUE;
}

/* the inverse of nc_ip_binding_encode(): MAC, family, 4 or 16 address bytes, expiry */
static gpointer nc_ip_binding_decode(const guint8 *data, gsize len, GError **error)
{
    g_autoptr(NcIpBinding) b = g_new0(NcIpBinding, 1);
    gsize alen;
    guint64 exp = 0;

    if (len < 7 || (data[6] != AF_INET && data[6] != AF_INET6)) {
        g_set_error(error, NC_ERROR, NC_ERROR_INVALID_DATA, "ip-binding: %s",
                    len < 7 ? "shorter than a MAC and a family" : "bad family");
        return NULL;
    }
    alen = data[6] == AF_INET ? 4 : 16;
    if (len != 7 + alen + 8) {
        g_set_error(error, NC_ERROR, NC_ERROR_INVALID_DATA, "ip-binding: %zu bytes, expected %zu",
                    len, 7 + alen + 8);
        return NULL;
    }
    memcpy(b->mac, data, 6);
    b->addr.family = data[6];
    memcpy(b->addr.bytes, data + 7, alen);
    for (guint i = 0; i < 8; i++)
        exp = exp << 8 | data[7 + alen + i];
    b->expires = (gint64)exp;
    if (b->expires < 0) {
        g_set_error(error, NC_ERROR, NC_ERROR_INVALID_DATA, "ip-binding: negative expiry");
        return NULL;
    }
    return g_steal_pointer(&b);
}

static char *nc_ip_binding_describe(gconstpointer item)
{
    const NcIpBinding *b = item;
    g_autofree char *mac = nc_mac_to_string(b->mac);
    char addr[NC_ADDR_STRLEN];

    nc_addr_format(&b->addr, addr, sizeof(addr));
    return g_strdup_printf("learned address %s of interface %s", addr, mac);
}

/* a binding is pinned in the XML, never put into a kernel: nothing ticks */
static char *nc_ip_binding_compare(gconstpointer a, gconstpointer b)
{
    (void)a;
    (void)b;
    return NULL;
}

/*
 * The learned address is the source's word alone: it is the domain's only for an interface this
 * host's XML has, whose address nwfilter learns (an IP parameter would pin another), only for
 * IPv4 (the IP parameter; libvirt learns no IPv6), and, if this host's profile of the domain
 * names prefixes to learn in (<learn prefix=.../>), only within one of them.
 */
static gboolean nc_ip_binding_owns(const NcOwner *owner, gconstpointer item, char **why)
{
    const NcIpBinding *b = item;
    const char *reason = NULL;

    if (!nc_owner_has_mac(owner, b->mac))
        reason = "the domain has no interface with this MAC here";
    else if (!nc_owner_learns_mac(owner, b->mac))
        reason = "the interface's filterref here does not learn its address (no filterref, an IP "
                 "parameter, or CTRL_IP_LEARNING=none)";
    else if (b->addr.family != AF_INET)
        reason = "nwfilter takes only an IPv4 address as IP";
    else if (owner->learn_prefixes && owner->learn_prefixes->len) {
        reason = "outside every prefix the domain's profile lets nwfilter learn here "
                 "(<learn prefix=.../>)";
        for (guint i = 0; i < owner->learn_prefixes->len; i++)
            if (nc_prefix_contains(&g_array_index(owner->learn_prefixes, NcPrefix, i), &b->addr))
                reason = NULL;
    }
    if (!reason)
        return TRUE;
    if (why)
        *why = g_strdup(reason);
    return FALSE;
}

const NcClassOps nc_ip_binding_class = {
    .name = "ip-binding",
    .key = nc_ip_binding_key,
    .encode = nc_ip_binding_encode,
    .decode = nc_ip_binding_decode,
    .describe = nc_ip_binding_describe,
    .compare = nc_ip_binding_compare,
    .owns = nc_ip_binding_owns,
    .free = (GDestroyNotify)nc_ip_binding_free,
};

/* ---- libvirt's lease file ---- */

/* the binding of @mac and @addr in @list, or -1 */
static gint find_binding(GPtrArray *list, const guint8 *mac, const NcAddr *addr)
{
    for (guint i = 0; i < list->len; i++) {
        const NcIpBinding *b = list->pdata[i];

        if (!memcmp(b->mac, mac, 6) && nc_addr_equal(&b->addr, addr))
            return (gint)i;
    }
    return -1;
}

/**
 * nc_ip_leases_parse() - the live leases of one domain in libvirt's nwfilter lease file
 * @data, @len: the file's contents
 * @name:       the file's name, for messages
 * @uuid:       the domain's UUID (any case); other domains' lines are skipped
 * @now:        the time, in Unix seconds: leases that ended before it are dropped
 * @error:      NC_ERROR_INVALID_DATA "NAME:LINE: what is wrong" for a line that is not
 *              "EXPIRY UUID-MAC IPV4 SERVER" (libvirt's own reader stops there too)
 *
 * The file is a log: libvirt appends a line whenever a lease is made, renewed or ends (EXPIRY 0)
 * and rewrites it now and then with the live leases only. So a later line replaces an earlier
 * one of the same interface and address.
 *
 * Return: (transfer full) (element-type NcIpBinding): in the order first seen, or NULL
 */
GPtrArray *nc_ip_leases_parse(const char *data, gsize len, const char *name, const char *uuid,
                              gint64 now, GError **error)
{
    g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func((GDestroyNotify)nc_ip_binding_free);
    g_autofree char *text = g_strndup(data, len);
    g_auto(GStrv) lines = NULL;
    guint lineno = 0;

    if (strlen(text) != len) {
        g_set_error(error, NC_ERROR, NC_ERROR_INVALID_DATA, "%s: holds a NUL byte", name);
        return NULL;
    }
    lines = g_strsplit(text, "\n", -1);
    for (char **l = lines; *l; l++) {
        g_auto(GStrv) f = NULL;
        const char *bad = NULL;
        guint64 expiry = 0;
        guint8 mac[6];
        NcAddr addr;
        gint at;

        lineno++;
        g_strstrip(*l);
        if (!**l)
            continue;
        f = g_strsplit_set(*l, " \t", -1);
        /* g_strsplit_set leaves empty fields between repeated blanks: drop them */
        {
            guint k = 0;

            for (guint i = 0; f[i]; i++) {
                if (*f[i])
                    f[k++] = f[i];
                else
                    g_free(f[i]);
            }
            f[k] = NULL;
        }
        if (g_strv_length(f) < 4)
            bad = "expected EXPIRY UUID-MAC ADDRESS SERVER";
        else if (!g_ascii_string_to_unsigned(f[0], 10, 0, G_MAXUINT32, &expiry, NULL))
            bad = "the expiry is not a number of seconds";
        else if (strlen(f[1]) != 36 + 1 + 17 || f[1][36] != '-' || !nc_mac_parse(f[1] + 37, mac))
            bad = "the key is not UUID-MAC";
        else if (!nc_addr_parse(f[2], &addr, NULL) || addr.family != AF_INET)
            bad = "the address is not IPv4";
        if (bad) {
            g_set_error(error, NC_ERROR, NC_ERROR_INVALID_DATA, "%s:%u: %s: '%s'", name, lineno,
                        bad, *l);
            return NULL;
        }
        if (g_ascii_strncasecmp(f[1], uuid, 36) != 0 || strlen(uuid) != 36)
            continue;
        at = find_binding(out, mac, &addr);
        if (expiry == 0 || (gint64)expiry < now) { /* ended */
            if (at >= 0)
                g_ptr_array_remove_index(out, (guint)at);
            continue;
        }
        if (at >= 0)
            ((NcIpBinding *)out->pdata[at])->expires = (gint64)expiry;
        else
            g_ptr_array_add(out, nc_ip_binding_new(mac, &addr, (gint64)expiry));
    }
    return g_steal_pointer(&out);
}

/* ---- the domain XML that pins them ---- */

static gboolean is_elem(const xmlNode *n, const char *name)
{
    return n->type == XML_ELEMENT_NODE && !n->ns && !strcmp((const char *)n->name, name);
}

static xmlNode *child(const xmlNode *parent, const char *name)
{
    for (xmlNode *c = parent->children; c; c = c->next)
        if (is_elem(c, name))
            return c;
    return NULL;
}

/* the <interface> of /domain/devices whose <mac address> is @mac, or NULL */
static xmlNode *find_interface(xmlNode *root, const char *mac)
{
    xmlNode *devices = child(root, "devices");

    for (xmlNode *c = devices ? devices->children : NULL; c; c = c->next) {
        xmlNode *m;
        g_autofree char *addr = NULL;

        if (!is_elem(c, "interface") || !(m = child(c, "mac")))
            continue;
        addr = (char *)xmlGetProp(m, (const xmlChar *)"address");
        if (addr && !g_ascii_strcasecmp(addr, mac))
            return c;
    }
    return NULL;
}

/* whether @filterref has <parameter name=@pname value=@value> already */
static gboolean has_param(xmlNode *filterref, const char *pname, const char *value)
{
    for (xmlNode *p = filterref->children; p; p = p->next) {
        g_autofree char *n = NULL;
        g_autofree char *v = NULL;

        if (!is_elem(p, "parameter"))
            continue;
        n = (char *)xmlGetProp(p, (const xmlChar *)"name");
        v = (char *)xmlGetProp(p, (const xmlChar *)"value");
        if (!g_strcmp0(n, pname) && !g_strcmp0(v, value))
            return TRUE;
    }
    return FALSE;
}

/**
 * nc_ip_learn_pin_xml() - the domain XML with each learned address pinned in its interface's
 * filterref, as <parameter name='IP' value='ADDRESS'/> (a filterref's other parameters stay)
 * @xml, @len: the domain XML (the `migrate begin` hook's stdin)
 * @name:      its name, for messages
 * @bindings:  (element-type NcIpBinding): what to pin; each one's MAC must be an interface's with
 *             a <filterref> (the class's ownership check made sure of more)
 * @error:     NC_ERROR_NOT_FOUND naming the MAC that has no such interface; the XML's own errors
 *
 * libvirt then instantiates the filter with these addresses and learns nothing (several IP
 * parameters make a list, as several leases of one interface do).
 *
 * Return: (transfer full): the new XML, or NULL
 */
char *nc_ip_learn_pin_xml(const char *xml, gsize len, const char *name, GPtrArray *bindings,
                          GError **error)
{
    g_autoptr(xmlDoc) doc = nc_xml_parse(xml, len, name, error);
    xmlNode *root;
    xmlChar *out = NULL;
    int out_len = 0;
    char *ret;

    if (!doc)
        return NULL;
    root = xmlDocGetRootElement(doc);
    if (!root || !is_elem(root, "domain")) {
        g_set_error(error, NC_ERROR, NC_ERROR_INVALID_DATA, "%s: not a libvirt <domain>", name);
        return NULL;
    }
    for (guint i = 0; bindings && i < bindings->len; i++) {
        const NcIpBinding *b = bindings->pdata[i];
        g_autofree char *mac = nc_mac_to_string(b->mac);
        char addr[NC_ADDR_STRLEN];
        xmlNode *iface = find_interface(root, mac), *fref, *p;

        nc_addr_format(&b->addr, addr, sizeof(addr));
        if (!iface || !(fref = child(iface, "filterref"))) {
            g_set_error(error, NC_ERROR, NC_ERROR_NOT_FOUND,
                        "%s: no interface with MAC %s and a <filterref> to pin %s in", name, mac,
                        addr);
            return NULL;
        }
        if (has_param(fref, "IP", addr))
            continue;
        p = xmlNewChild(fref, NULL, (const xmlChar *)"parameter", NULL);
        xmlNewProp(p, (const xmlChar *)"name", (const xmlChar *)"IP");
        xmlNewProp(p, (const xmlChar *)"value", (const xmlChar *)addr);
    }
    xmlDocDumpMemory(doc, &out, &out_len);
    if (!out) {
        g_set_error(error, NC_ERROR, NC_ERROR_FAILED, "%s: cannot write the XML again", name);
        return NULL;
    }
    ret = g_strndup((const char *)out, (gsize)out_len);
    xmlFree(out);
    return ret;
}

/* nc-domain.c - read a libvirt domain XML (identity, interfaces, nwfilter addresses, netcarry's
 * profile in <metadata>) and rewrite only the profile element of it
 *
 * Theory of operation
 *
 * Reading: the domain XML comes from libvirt (a hook's stdin, virDomainGetXMLDesc, a status
 * file's <domstatus>), so it is parsed safely (nc_xml_parse: no DOCTYPE, no network) but not
 * validated against libvirt's schemas: netcarry reads only what it needs and ignores the rest.
 * netcarry's own part, the profile, is validated against xml/profile.rng: the element is copied
 * into a document of its own (the copy keeps the original line numbers, so messages point into
 * the domain XML), then read by a strict reader for what the schema cannot say.
 *
 * Rewriting: the destination's `migrate begin` hook prints the XML libvirt will use; libvirt
 * aborts the migration on any ABI change (docs/libvirt-migration.md), and platforms diff domain
 * XMLs. So the rewrite must not re-serialise the document: it locates the profile element's byte
 * range with a small lexer over the original text (comments, CDATA, PIs and quoted '>' are
 * skipped), guided by the element's position in the parsed tree, and splices the new element in.
 * Every byte outside that range stays as it was; a new element is indented like its siblings. The
 * result is parsed again before it is returned, so a caller never prints broken XML.
 */
#define G_LOG_DOMAIN "netcarry-domain"

#include <stdio.h>
#include <string.h>

#include "conf/nc-domain.h"
#include "util/nc-error.h"
#include "util/nc-xml.h"

#define NC_PROFILE_SCHEMA "profile.rng"

/* ---- model ------------------------------------------------------------------------------ */

/* 64 lower-case hex digits: what the source's daemon writes (a secret it did not write is
 * rejected here rather than compared later) */
static gboolean nc_is_secret(const char *s)
{
    gsize n = 0;

    for (; s[n]; n++)
        if (!g_ascii_isdigit(s[n]) && !(s[n] >= 'a' && s[n] <= 'f'))
            return FALSE;
    return n == 64;
}

NcRendezvous *nc_rendezvous_new(const char *host, guint16 port, const char *identity,
                                const char *migration_id)
{
    NcRendezvous *rv = g_new0(NcRendezvous, 1);

    rv->host = g_strdup(host);
    rv->port = port;
    rv->identity = g_strdup(identity);
    rv->migration_id = g_strdup(migration_id);
    return rv;
}

NcRendezvous *nc_rendezvous_copy(const NcRendezvous *rv)
{
    NcRendezvous *copy;

    if (!rv)
        return NULL;
    copy = nc_rendezvous_new(rv->host, rv->port, rv->identity, rv->migration_id);
    copy->secret = g_strdup(rv->secret);
    return copy;
}

void nc_rendezvous_free(NcRendezvous *rv)
{
    if (!rv)
        return;
    g_free(rv->host);
    g_free(rv->identity);
    g_free(rv->migration_id);
    if (rv->secret)
        explicit_bzero(rv->secret, strlen(rv->secret));
    g_free(rv->secret);
    g_free(rv);
}

NcProfile *nc_profile_new(void)
{
    NcProfile *p = g_new0(NcProfile, 1);

    p->addresses = g_array_new(FALSE, TRUE, sizeof(NcAddr));
    p->objects = g_ptr_array_new_with_free_func((GDestroyNotify)nc_object_ref_free);
    p->chains = g_ptr_array_new_with_free_func((GDestroyNotify)nc_object_ref_free);
    p->learn = g_array_new(FALSE, TRUE, sizeof(NcPrefix));
    return p;
}

NcProfile *nc_profile_copy(const NcProfile *profile)
{
    NcProfile *p;

    if (!profile)
        return NULL;
    p = nc_profile_new();
    g_array_append_vals(p->addresses, profile->addresses->data, profile->addresses->len);
    p->has_zone = profile->has_zone;
    p->zone = profile->zone;
    p->has_mark = profile->has_mark;
    p->mark = profile->mark;
    p->rendezvous = nc_rendezvous_copy(profile->rendezvous);
    g_array_append_vals(p->learn, profile->learn->data, profile->learn->len);
    for (guint i = 0; i < profile->objects->len; i++) {
        const NcObjectRef *r = profile->objects->pdata[i];

        g_ptr_array_add(p->objects, nc_object_ref_new(r->family, r->table, r->name, r->type));
    }
    for (guint i = 0; i < profile->chains->len; i++) {
        const NcObjectRef *r = profile->chains->pdata[i];

        g_ptr_array_add(p->chains, nc_object_ref_new(r->family, r->table, r->name, r->type));
    }
    return p;
}

void nc_profile_free(NcProfile *profile)
{
    if (!profile)
        return;
    if (profile->addresses)
        g_array_unref(profile->addresses);
    nc_rendezvous_free(profile->rendezvous);
    if (profile->objects)
        g_ptr_array_unref(profile->objects);
    if (profile->chains)
        g_ptr_array_unref(profile->chains);
    if (profile->learn)
        g_array_unref(profile->learn);
    g_free(profile);
}

void nc_domain_iface_free(NcDomainIface *iface)
{
    if (!iface)
        return;
    g_free(iface->type);
    g_free(iface->mac);
    g_free(iface->target_dev);
    g_free(iface->source_bridge);
    g_free(iface->source_network);
    g_free(iface->filter);
    g_free(iface->vlan);
    g_free(iface->learning);
    if (iface->filter_ips)
        g_array_unref(iface->filter_ips);
    g_free(iface);
}

void nc_domain_free(NcDomain *domain)
{
    if (!domain)
        return;
    g_free(domain->uuid);
    g_free(domain->name);
    if (domain->interfaces)
        g_ptr_array_unref(domain->interfaces);
    nc_profile_free(domain->profile);
    g_free(domain);
}

char *nc_domain_describe(const NcDomain *domain)
{
    return g_strdup_printf("%s (%s)", domain->name ? domain->name : "?",
                           domain->uuid ? domain->uuid : "no uuid");
}

/* ---- reading helpers -------------------------------------------------------------------- */

static gboolean G_GNUC_PRINTF(4, 5)
    nc_fail_at(GError **error, const char *name, const xmlNode *node, const char *fmt, ...)
{
    g_autofree char *msg = NULL;
    va_list ap;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error(error, NC_ERROR, NC_ERROR_INVALID_DATA, "%s:%d: <%s>: %s", name,
                nc_xml_node_line(node), (const char *)node->name, msg);
    return FALSE;
}

static gboolean nc_in_ns(const xmlNode *node, const char *ns)
{
    if (!ns)
        return !node->ns;
    return node->ns && g_strcmp0((const char *)node->ns->href, ns) == 0;
}

/* the first child element named @elem in namespace @ns (NULL: none), or NULL */
static xmlNode *nc_child(const xmlNode *parent, const char *ns, const char *elem)
{
    for (xmlNode *c = parent ? parent->children : NULL; c; c = c->next) {
        if (c->type == XML_ELEMENT_NODE && nc_in_ns(c, ns) &&
            strcmp((const char *)c->name, elem) == 0)
            return c;
    }
    return NULL;
}

static char *nc_prop(const xmlNode *node, const char *attr)
{
    xmlChar *v = node ? xmlGetNoNsProp(node, (const xmlChar *)attr) : NULL;
    char *out = g_strdup((const char *)v);

    xmlFree(v);
    return out;
}

static char *nc_text(const xmlNode *node)
{
    xmlChar *v = xmlNodeGetContent(node);
    char *out = g_strdup(v ? (const char *)v : "");

    xmlFree(v);
    return out;
}

/* decimal, or 0x-hex when @hex; FALSE unless the whole string is a number in 0..@max */
static gboolean nc_parse_uint(const char *s, gboolean hex, guint64 max, guint64 *out)
{
    guint base = 10;
    guint64 v = 0;

    if (!s || !*s)
        return FALSE;
    if (hex && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s += 2;
        if (!*s)
            return FALSE;
    }
    for (; *s; s++) {
        int d = base == 16 ? g_ascii_xdigit_value(*s) : g_ascii_digit_value(*s);

        if (d < 0)
            return FALSE;
        v = v * base + (guint64)d;
        if (v > max)
            return FALSE;
    }
    *out = v;
    return TRUE;
}

/* ---- the profile ------------------------------------------------------------------------ */

/**
 * nc_profile_read() - read a <profile> element that passed profile.rng
 * @node:  the element
 * @name:  the document's name, for messages
 * @error: "@name:LINE: <elem>: what is wrong"
 *
 * Return: (transfer full): the profile, or NULL
 */
static NcProfile *nc_profile_read(const xmlNode *node, const char *name, GError **error)
{
    g_autoptr(NcProfile) p = nc_profile_new();

    for (xmlNode *c = node->children; c; c = c->next) {
        const char *elem = (const char *)c->name;
        g_autofree char *text = NULL;
        guint64 v;

        if (c->type != XML_ELEMENT_NODE)
            continue;
        if (!nc_in_ns(c, NC_PROFILE_NS)) {
            nc_fail_at(error, name, c,
                       "unknown element (expected address, zone, mark, "
                       "rendezvous, object, chain, learn in %s)",
                       NC_PROFILE_NS);
            return NULL;
        }
        if (strcmp(elem, "rendezvous") == 0) {
            g_autofree char *host = nc_prop(c, "host");
            g_autofree char *port = nc_prop(c, "port");
            g_autofree char *identity = nc_prop(c, "identity");
            g_autofree char *migration = nc_prop(c, "migration");
            g_autofree char *secret = nc_prop(c, "secret");
            NcAddr addr;

            if (p->rendezvous) {
                nc_fail_at(error, name, c, "only one <rendezvous> is allowed");
                return NULL;
            }
            if (!host || !identity || !*identity) {
                nc_fail_at(error, name, c, "host and identity are required");
                return NULL;
            }
            if (strchr(host, ':') && !nc_addr_parse(host, &addr, NULL)) {
                nc_fail_at(error, name, c,
                           "host '%s' is not an IPv6 address (write it without "
                           "brackets) nor a host name",
                           host);
                return NULL;
            }
            if (!nc_parse_uint(port, FALSE, G_MAXUINT16, &v) || v == 0) {
                nc_fail_at(error, name, c, "port '%s' is not a port number (1-65535)",
                           port ? port : "");
                return NULL;
            }
            if (migration && !g_uuid_string_is_valid(migration)) {
                nc_fail_at(error, name, c, "migration '%s' is not a UUID", migration);
                return NULL;
            }
            if (secret && !nc_is_secret(secret)) {
                nc_fail_at(error, name, c, "secret is not 64 lower-case hex digits");
                return NULL;
            }
            p->rendezvous = nc_rendezvous_new(host, (guint16)v, identity, NULL);
            p->rendezvous->migration_id = migration ? g_ascii_strdown(migration, -1) : NULL;
            p->rendezvous->secret = g_steal_pointer(&secret);
            continue;
        }
        if (strcmp(elem, "object") == 0) {
            g_autofree char *family = nc_prop(c, "family");
            g_autofree char *table = nc_prop(c, "table");
            g_autofree char *type = nc_prop(c, "type");
            g_autofree char *oname = nc_prop(c, "name");

            if (!family || !table || !oname) {
                nc_fail_at(error, name, c, "family, table and name are required");
                return NULL;
            }
            g_ptr_array_add(p->objects, nc_object_ref_new(family, table, oname, type));
            continue;
        }
        if (strcmp(elem, "chain") == 0) {
            g_autofree char *family = nc_prop(c, "family");
            g_autofree char *table = nc_prop(c, "table");
            g_autofree char *cname = nc_prop(c, "name");

            /* a per-VM static chain: checked at admission, never carried (nc-policy.h) */
            if (!family || !table || !cname || !*family || !*table || !*cname) {
                nc_fail_at(error, name, c, "family, table and name are required");
                return NULL;
            }
            g_ptr_array_add(p->chains, nc_object_ref_new(family, table, cname, "chain"));
            continue;
        }
        if (strcmp(elem, "learn") == 0) {
            g_autofree char *prefix = nc_prop(c, "prefix");
            g_autoptr(GError) perr = NULL;
            NcPrefix px;

            if (!nc_prefix_parse(prefix, &px, &perr)) {
                nc_fail_at(error, name, c, "%s", perr->message);
                return NULL;
            }
            g_array_append_val(p->learn, px);
            continue;
        }
        text = nc_text(c);
        if (strcmp(elem, "address") == 0) {
            NcAddr addr;

            if (!nc_addr_parse(text, &addr, NULL)) {
                nc_fail_at(error, name, c, "'%s' is not an IPv4 or IPv6 address", text);
                return NULL;
            }
            g_array_append_val(p->addresses, addr);
        } else if (strcmp(elem, "zone") == 0) {
            if (p->has_zone || !nc_parse_uint(text, FALSE, G_MAXUINT16, &v)) {
                nc_fail_at(error, name, c, "one zone from 0 to 65535 expected, got '%s'", text);
                return NULL;
            }
            p->has_zone = TRUE;
            p->zone = (guint16)v;
        } else if (strcmp(elem, "mark") == 0) {
            if (p->has_mark || !nc_parse_uint(text, TRUE, G_MAXUINT32, &v)) {
                nc_fail_at(error, name, c, "one 32-bit mark expected, got '%s'", text);
                return NULL;
            }
            p->has_mark = TRUE;
            p->mark = (guint32)v;
        } else {
            nc_fail_at(error, name, c,
                       "unknown element (expected address, zone, mark, rendezvous, object, "
                       "chain, learn)");
            return NULL;
        }
    }
    return g_steal_pointer(&p);
}

/**
 * nc_profile_from_node() - validate and read a profile element found in a larger document
 * @node:  the <profile> element (in a domain's <metadata>, or a document's root)
 * @name:  the document's name, for messages
 * @error: "@name:LINE: does not follow profile.rng: ..." or the reader's message
 *
 * Return: (transfer full): the profile, or NULL
 */
static NcProfile *nc_profile_from_node(const xmlNode *node, const char *name, GError **error)
{
    g_autoptr(xmlDoc) doc = xmlNewDoc((const xmlChar *)"1.0");
    xmlNode *copy = xmlDocCopyNode((xmlNode *)node, doc, 1); /* keeps line numbers */

    if (!copy) {
        g_set_error(error, NC_ERROR, NC_ERROR_FAILED, "%s: cannot copy the profile element", name);
        return NULL;
    }
    xmlDocSetRootElement(doc, copy);
    if (!nc_xml_validate_doc(doc, name, NC_PROFILE_SCHEMA, NULL, error))
        return NULL;
    return nc_profile_read(node, name, error);
}

NcProfile *nc_profile_parse_buffer(const char *data, gsize len, const char *name, GError **error)
{
    g_autoptr(xmlDoc) doc = nc_xml_parse(data, len, name, error);
    xmlNode *root;

    if (!doc)
        return NULL;
    root = xmlDocGetRootElement(doc);
    if (!nc_in_ns(root, NC_PROFILE_NS) || strcmp((const char *)root->name, "profile") != 0) {
        nc_fail_at(error, name, root, "not a netcarry profile (expected <profile xmlns=\"%s\">)",
                   NC_PROFILE_NS);
        return NULL;
    }
    return nc_profile_from_node(root, name, error);
}

NcProfile *nc_profile_parse_file(const char *path, GError **error)
{
    g_autofree char *data = NULL;
    g_autoptr(GError) local = NULL;
    gsize len;

    if (!g_file_get_contents(path, &data, &len, &local)) {
        g_set_error(error, NC_ERROR, NC_ERROR_IO, "cannot read profile %s: %s", path,
                    local->message);
        return NULL;
    }
    return nc_profile_parse_buffer(data, len, path, error);
}

/**
 * nc_profile_format_full() - the canonical profile element
 * @profile: the profile
 * @prefix:  namespace prefix ("netcarry") or NULL for the default namespace
 * @indent:  what precedes the element's start tag on its line; inner lines are indented
 *           two more spaces, the end tag as much
 *
 * Return: (transfer full): the element, starting with '<' and ending with '>'
 */
static char *nc_profile_format_full(const NcProfile *profile, const char *prefix,
                                    const char *indent)
{
    GString *s = g_string_new("<");
    g_autofree char *pfx = prefix ? g_strconcat(prefix, ":", NULL) : g_strdup("");
    g_autofree char *inner = g_strconcat("\n", indent, "  <", pfx, NULL);
    gboolean empty = !profile->addresses->len && !profile->has_zone && !profile->has_mark &&
                     !profile->rendezvous && !profile->objects->len && !profile->chains->len &&
                     !profile->learn->len;

    g_string_append_printf(s, "%sprofile xmlns%s%s=\"" NC_PROFILE_NS "\"%s>", pfx,
                           prefix ? ":" : "", prefix ? prefix : "", empty ? "/" : "");
    if (empty)
        return g_string_free(s, FALSE);
    for (guint i = 0; i < profile->addresses->len; i++) {
        char buf[NC_ADDR_STRLEN];

        nc_addr_format(&g_array_index(profile->addresses, NcAddr, i), buf, sizeof(buf));
        g_string_append_printf(s, "%saddress>%s</%saddress>", inner, buf, pfx);
    }
    if (profile->has_zone)
        g_string_append_printf(s, "%szone>%u</%szone>", inner, profile->zone, pfx);
    if (profile->has_mark)
        g_string_append_printf(s, "%smark>0x%x</%smark>", inner, profile->mark, pfx);
    if (profile->rendezvous) {
        const NcRendezvous *rv = profile->rendezvous;

        g_string_append_printf(s, "%srendezvous host=\"", inner);
        nc_xml_append_escaped(s, rv->host ? rv->host : "");
        g_string_append_printf(s, "\" port=\"%u\" identity=\"", rv->port);
        nc_xml_append_escaped(s, rv->identity ? rv->identity : "");
        g_string_append_c(s, '"');
        if (rv->migration_id) {
            g_string_append(s, " migration=\"");
            nc_xml_append_escaped(s, rv->migration_id);
            g_string_append_c(s, '"');
        }
        if (rv->secret) {
            g_string_append(s, " secret=\"");
            nc_xml_append_escaped(s, rv->secret);
            g_string_append_c(s, '"');
        }
        g_string_append(s, "/>");
    }
    for (guint i = 0; i < profile->objects->len; i++) {
        const NcObjectRef *r = profile->objects->pdata[i];

        g_string_append_printf(s, "%sobject family=\"", inner);
        nc_xml_append_escaped(s, r->family);
        g_string_append(s, "\" table=\"");
        nc_xml_append_escaped(s, r->table);
        if (r->type) {
            g_string_append(s, "\" type=\"");
            nc_xml_append_escaped(s, r->type);
        }
        g_string_append(s, "\" name=\"");
        nc_xml_append_escaped(s, r->name);
        g_string_append(s, "\"/>");
    }
    for (guint i = 0; i < profile->chains->len; i++) {
        const NcObjectRef *r = profile->chains->pdata[i];

        g_string_append_printf(s, "%schain family=\"", inner);
        nc_xml_append_escaped(s, r->family);
        g_string_append(s, "\" table=\"");
        nc_xml_append_escaped(s, r->table);
        g_string_append(s, "\" name=\"");
        nc_xml_append_escaped(s, r->name);
        g_string_append(s, "\"/>");
    }
    for (guint i = 0; i < profile->learn->len; i++) {
        g_autofree char *px = nc_prefix_to_string(&g_array_index(profile->learn, NcPrefix, i));

        g_string_append_printf(s, "%slearn prefix=\"%s\"/>", inner, px);
    }
    g_string_append_printf(s, "\n%s</%sprofile>", indent, pfx);
    return g_string_free(s, FALSE);
}

char *nc_profile_format(const NcProfile *profile)
{
    return nc_profile_format_full(profile, NULL, "");
}

/* ---- the domain ------------------------------------------------------------------------- */

/* one <parameter name='IP'|'IPV6'> of a <filterref> */
static gboolean nc_read_filter_param(const xmlNode *param, const char *name, const char *dom,
                                     NcDomainIface *iface, GError **error)
{
    g_autofree char *pname = nc_prop(param, "name");
    g_autofree char *value = nc_prop(param, "value");
    int family;
    NcAddr addr;

    if (g_strcmp0(pname, "CTRL_IP_LEARNING") == 0) {
        g_free(iface->learning);
        iface->learning = value ? g_ascii_strdown(value, -1) : NULL;
        return TRUE;
    }
    if (g_strcmp0(pname, "IP") == 0)
        family = AF_INET;
    else if (g_strcmp0(pname, "IPV6") == 0)
        family = AF_INET6;
    else
        return TRUE; /* MAC, DHCPSERVER, a filter's own variables */
    if (!value || !nc_addr_parse(value, &addr, NULL) || addr.family != family)
        return nc_fail_at(error, name, param,
                          "domain %s, interface %s: nwfilter parameter %s='%s' is not an %s "
                          "address; fix it or remove it",
                          dom, iface->mac ? iface->mac : "without MAC", pname, value ? value : "",
                          family == AF_INET ? "IPv4" : "IPv6");
    g_array_append_val(iface->filter_ips, addr);
    return TRUE;
}

static NcDomainIface *nc_read_iface(const xmlNode *node, const char *name, const char *dom,
                                    GError **error)
{
    g_autoptr(NcDomainIface) iface = g_new0(NcDomainIface, 1);
    xmlNode *c;
    g_autofree char *mac = NULL;

    iface->filter_ips = g_array_new(FALSE, TRUE, sizeof(NcAddr));
    iface->type = nc_prop(node, "type");
    mac = nc_prop(nc_child(node, NULL, "mac"), "address");
    iface->mac = mac ? g_ascii_strdown(mac, -1) : NULL;
    iface->target_dev = nc_prop(nc_child(node, NULL, "target"), "dev");
    if ((c = nc_child(node, NULL, "source"))) {
        iface->source_bridge = nc_prop(c, "bridge");
        iface->source_network = nc_prop(c, "network");
    }
    if ((c = nc_child(node, NULL, "vlan"))) {
        g_autoptr(GString) tags = g_string_new(NULL);

        /* what the host must apply: each <tag id=> (checked at admission, nc-policy.h) */
        for (xmlNode *t = c->children; t; t = t->next) {
            g_autofree char *id = NULL;

            if (t->type != XML_ELEMENT_NODE || strcmp((const char *)t->name, "tag") != 0)
                continue;
            id = nc_prop(t, "id");
            g_string_append_printf(tags, "%s%s", tags->len ? "," : "", id ? id : "?");
        }
        iface->vlan = g_strdup(tags->len ? tags->str : "?");
    }
    iface->bandwidth = nc_child(node, NULL, "bandwidth") != NULL;
    if ((c = nc_child(node, NULL, "filterref"))) {
        iface->filter = nc_prop(c, "filter");
        for (xmlNode *p = c->children; p; p = p->next) {
            if (p->type != XML_ELEMENT_NODE || !nc_in_ns(p, NULL) ||
                strcmp((const char *)p->name, "parameter") != 0)
                continue;
            if (!nc_read_filter_param(p, name, dom, iface, error))
                return NULL;
        }
    }
    return g_steal_pointer(&iface);
}

/* the <profile> in @metadata, or NULL; more than one is an error */
static gboolean nc_find_profile(xmlNode *metadata, const char *name, xmlNode **out, GError **error)
{
    *out = NULL;
    for (xmlNode *c = metadata ? metadata->children : NULL; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE || !nc_in_ns(c, NC_PROFILE_NS))
            continue;
        if (strcmp((const char *)c->name, "profile") != 0)
            return nc_fail_at(error, name, c,
                              "unknown netcarry metadata element (expected "
                              "<profile xmlns=\"%s\">)",
                              NC_PROFILE_NS);
        if (*out)
            return nc_fail_at(error, name, c, "a second netcarry profile; keep one");
        *out = c;
    }
    return TRUE;
}

/* <domain>, or the <domain> inside a status file's <domstatus> */
static xmlNode *nc_domain_root(xmlDoc *doc, const char *name, GError **error)
{
    xmlNode *root = xmlDocGetRootElement(doc);

    if (nc_in_ns(root, NULL) && strcmp((const char *)root->name, "domstatus") == 0)
        root = nc_child(root, NULL, "domain") ? nc_child(root, NULL, "domain") : root;
    if (!nc_in_ns(root, NULL) || strcmp((const char *)root->name, "domain") != 0) {
        nc_fail_at(error, name, root, "not a libvirt domain XML (expected <domain>)");
        return NULL;
    }
    return root;
}

NcDomain *nc_domain_parse_buffer(const char *data, gsize len, const char *name, GError **error)
{
    g_autoptr(xmlDoc) doc = nc_xml_parse(data, len, name, error);
    g_autoptr(NcDomain) d = NULL;
    g_autofree char *uuid = NULL;
    g_autofree char *dom = NULL;
    xmlNode *root, *node, *profile;

    if (!doc || !(root = nc_domain_root(doc, name, error)))
        return NULL;
    d = g_new0(NcDomain, 1);
    d->interfaces = g_ptr_array_new_with_free_func((GDestroyNotify)nc_domain_iface_free);
    if ((node = nc_child(root, NULL, "name")))
        d->name = g_strstrip(nc_text(node));
    if (!d->name || !*d->name) {
        nc_fail_at(error, name, root, "the domain has no <name>");
        return NULL;
    }
    if ((node = nc_child(root, NULL, "uuid")))
        uuid = g_strstrip(nc_text(node));
    if (!uuid || !g_uuid_string_is_valid(uuid)) {
        nc_fail_at(error, name, node ? node : root,
                   "domain %s: '%s' is not a UUID; netcarry "
                   "needs the UUID libvirt gave the domain",
                   d->name, uuid ? uuid : "");
        return NULL;
    }
    d->uuid = g_ascii_strdown(uuid, -1);
    dom = nc_domain_describe(d);

    for (xmlNode *c = nc_child(root, NULL, "devices") ? nc_child(root, NULL, "devices")->children
                                                      : NULL;
         c; c = c->next) {
        NcDomainIface *iface;

        if (c->type != XML_ELEMENT_NODE || !nc_in_ns(c, NULL) ||
            strcmp((const char *)c->name, "interface") != 0)
            continue;
        if (!(iface = nc_read_iface(c, name, dom, error)))
            return NULL;
        g_ptr_array_add(d->interfaces, iface);
    }

    if (!nc_find_profile(nc_child(root, NULL, "metadata"), name, &profile, error))
        return NULL;
    if (profile && !(d->profile = nc_profile_from_node(profile, name, error))) {
        /* the message keeps starting with "file:line:" */
        if (error && *error) {
            char *msg = (*error)->message;

            (*error)->message = g_strdup_printf("%s (netcarry's profile in the <metadata> of "
                                                "domain %s)",
                                                msg, dom);
            g_free(msg);
        }
        return NULL;
    }
    return g_steal_pointer(&d);
}

NcDomain *nc_domain_parse_file(const char *path, GError **error)
{
    g_autofree char *data = NULL;
    g_autoptr(GError) local = NULL;
    gsize len;

    if (!g_file_get_contents(path, &data, &len, &local)) {
        g_set_error(error, NC_ERROR, NC_ERROR_IO, "cannot read domain XML %s: %s", path,
                    local->message);
        return NULL;
    }
    return nc_domain_parse_buffer(data, len, path, error);
}

static void nc_add_unique(GArray *addrs, const NcAddr *a)
{
    for (guint i = 0; i < addrs->len; i++) {
        if (nc_addr_equal(&g_array_index(addrs, NcAddr, i), a))
            return;
    }
    g_array_append_val(addrs, *a);
}

/**
 * nc_domain_addresses() - the addresses whose state netcarry carries for @domain
 * @domain: the domain
 * @error:  NC_ERROR_NOT_FOUND naming the domain when it has none
 *
 * The rule is in nc-domain.h: profile <address> elements, then the nwfilter IP and IPV6
 * parameters of each interface in document order, duplicates dropped.
 *
 * Return: (transfer full) (element-type NcAddr): at least one address (none only when an
 * interface learns its address: nc_domain_learns()), or NULL
 */
GArray *nc_domain_addresses(const NcDomain *domain, GError **error)
{
    g_autoptr(GArray) out = g_array_new(FALSE, TRUE, sizeof(NcAddr));
    g_autofree char *dom = NULL;

    for (guint i = 0; domain->profile && i < domain->profile->addresses->len; i++)
        nc_add_unique(out, &g_array_index(domain->profile->addresses, NcAddr, i));
    for (guint i = 0; i < domain->interfaces->len; i++) {
        const NcDomainIface *iface = domain->interfaces->pdata[i];

        for (guint j = 0; j < iface->filter_ips->len; j++)
            nc_add_unique(out, &g_array_index(iface->filter_ips, NcAddr, j));
    }
    if (out->len || nc_domain_learns(domain))
        return g_steal_pointer(&out);
    dom = nc_domain_describe(domain);
    g_set_error(error, NC_ERROR, NC_ERROR_NOT_FOUND,
                "domain %s has no address whose network state netcarry could carry: add "
                "<address> to netcarry's profile in the domain metadata (<profile xmlns=\"%s\">), "
                "or an nwfilter IP parameter (<filterref><parameter name='IP' value='...'/>) to "
                "its interface",
                dom, NC_PROFILE_NS);
    return NULL;
}

/**
 * nc_domain_iface_learns() - whether libvirt's nwfilter learns this interface's IPv4 address
 * @iface: the interface
 *
 * libvirt learns (nwfilter_gentech_driver.c, virNWFilterDoInstantiate) when the filter needs the
 * IP variable and the filterref gives none: CTRL_IP_LEARNING 'dhcp' snoops DHCP, 'any' (also the
 * default) takes the first address the VM uses, 'none' does not learn. An IP parameter turns
 * learning off whatever CTRL_IP_LEARNING says. (Whether the filter tree uses $IP at all is not
 * known here: an interface that "learns" by this rule may have nothing to learn.)
 *
 * Return: the learning mode ("dhcp" or "any"), or NULL when nothing is learned
 */
const char *nc_domain_iface_learns(const NcDomainIface *iface)
{
    gboolean has_ipv4 = FALSE;

    if (!iface->filter || !iface->mac)
        return NULL;
    for (guint i = 0; i < iface->filter_ips->len; i++)
        if (g_array_index(iface->filter_ips, NcAddr, i).family == AF_INET)
            has_ipv4 = TRUE;
    if (has_ipv4 || !g_strcmp0(iface->learning, "none"))
        return NULL;
    return !g_strcmp0(iface->learning, "dhcp") ? "dhcp" : "any";
}

/* Whether an interface of @domain has its address learned by nwfilter's DHCP snooping, the one
 * learning mode whose result netcarry reads (libvirt's lease file; 'any' keeps it in libvirtd's
 * memory: docs/nwfilter.md). */
gboolean nc_domain_learns(const NcDomain *domain)
{
    for (guint i = 0; i < domain->interfaces->len; i++)
        if (!g_strcmp0(nc_domain_iface_learns(domain->interfaces->pdata[i]), "dhcp"))
            return TRUE;
    return FALSE;
}

const NcDomainIface *nc_domain_find_iface(const NcDomain *domain, const char *mac)
{
    for (guint i = 0; mac && i < domain->interfaces->len; i++) {
        const NcDomainIface *iface = domain->interfaces->pdata[i];

        if (iface->mac && g_ascii_strcasecmp(iface->mac, mac) == 0)
            return iface;
    }
    return NULL;
}

/* ---- rewriting the profile element in place ---------------------------------------------- */

typedef enum {
    NC_TAG_NONE, /* end of input */
    NC_TAG_START,
    NC_TAG_EMPTY, /* <x/> */
    NC_TAG_END,
} NcTagType;

/**
 * nc_scan_tag() - the next element tag at or after @pos
 * @data, @len: the document (well-formed: nc_xml_parse accepted it)
 * @pos:        (inout): where to look; on return, just past the tag
 * @start:      the tag's first byte ('<')
 *
 * Text, comments, CDATA sections, processing instructions and declarations are skipped;
 * '>' inside quoted attribute values does not end a tag.
 *
 * Return: the tag's type; NC_TAG_NONE at the end
 */
static NcTagType nc_scan_tag(const char *data, gsize len, gsize *pos, gsize *start)
{
    static const struct {
        const char *open, *close;
    } skips[] = {{"<!--", "-->"}, {"<![CDATA[", "]]>"}, {"<?", "?>"}, {"<!", ">"}};
    gsize p = *pos;

    while (p < len) {
        gboolean skipped = FALSE;
        char quote = 0;
        NcTagType type;

        if (data[p] != '<') {
            p++;
            continue;
        }
        for (guint i = 0; i < G_N_ELEMENTS(skips) && !skipped; i++) {
            gsize ol = strlen(skips[i].open);
            const char *close;

            if (len - p < ol || memcmp(data + p, skips[i].open, ol) != 0)
                continue;
            close = g_strstr_len(data + p + ol, (gssize)(len - p - ol), skips[i].close);
            p = close ? (gsize)(close - data) + strlen(skips[i].close) : len;
            skipped = TRUE;
        }
        if (skipped)
            continue;
        *start = p;
        type = p + 1 < len && data[p + 1] == '/' ? NC_TAG_END : NC_TAG_START;
        for (p++; p < len; p++) {
            if (quote) {
                if (data[p] == quote)
                    quote = 0;
            } else if (data[p] == '"' || data[p] == '\'') {
                quote = data[p];
            } else if (data[p] == '>') {
                if (type == NC_TAG_START && data[p - 1] == '/')
                    type = NC_TAG_EMPTY;
                *pos = p + 1;
                return type;
            }
        }
        break;
    }
    *pos = len;
    return NC_TAG_NONE;
}

/**
 * nc_scan_child() - the byte range of an element's @index-th element child
 * @data, @len: the document
 * @from:       just past the parent's start tag
 * @index:      which child (0 = first); G_MAXUINT to find only the parent's end tag
 * @start, @end: the child's range, start tag to end of its end tag (or of its empty tag)
 * @close:      when the child does not exist: where the parent's end tag starts
 *
 * Return: TRUE if the child exists
 */
static gboolean nc_scan_child(const char *data, gsize len, gsize from, guint index, gsize *start,
                              gsize *end, gsize *close)
{
    gsize pos = from, tag;
    guint seen = 0;
    int depth = 0;
    NcTagType t;

    while ((t = nc_scan_tag(data, len, &pos, &tag)) != NC_TAG_NONE) {
        if (t == NC_TAG_END) {
            if (depth == 0) {
                *close = tag;
                return FALSE;
            }
            if (--depth == 0 && seen++ == index) {
                *end = pos;
                return TRUE;
            }
            continue;
        }
        if (depth == 0 && seen == index)
            *start = tag;
        if (t == NC_TAG_START)
            depth++;
        else if (depth == 0 && seen++ == index) {
            *end = pos;
            return TRUE;
        }
    }
    *close = len;
    return FALSE;
}

/* the position of @node among its parent's element children */
static guint nc_elem_index(const xmlNode *node)
{
    guint i = 0;

    for (const xmlNode *c = node->parent->children; c != node; c = c->next)
        i += c->type == XML_ELEMENT_NODE;
    return i;
}

/* what precedes @pos on its line, when that is only blanks; "" otherwise */
static char *nc_indent_before(const char *data, gsize pos, gsize *line_start)
{
    gsize ls = pos;

    while (ls > 0 && (data[ls - 1] == ' ' || data[ls - 1] == '\t'))
        ls--;
    if (ls > 0 && data[ls - 1] != '\n' && data[ls - 1] != '\r') {
        if (line_start)
            *line_start = pos;
        return g_strdup("");
    }
    if (line_start)
        *line_start = ls;
    return g_strndup(data + ls, pos - ls);
}

/**
 * nc_locate() - the byte range of the element @node in @data
 * @start: its start tag's '<'
 * @end:   just past its end tag (or its empty tag); @len for the root element
 * @inner: just past its start tag
 *
 * Return: FALSE if the text and the tree disagree (cannot happen for a document that
 * nc_xml_parse() accepted, short of a lexer bug)
 */
static gboolean nc_locate(const char *data, gsize len, const xmlNode *node, gsize *start,
                          gsize *end, gsize *inner)
{
    gsize pos = 0, ps, pe, pinner, close;

    if (!node->parent || node->parent->type != XML_ELEMENT_NODE) {
        if (nc_scan_tag(data, len, &pos, start) != NC_TAG_START)
            return FALSE;
        *inner = pos;
        *end = len;
        return TRUE;
    }
    if (!nc_locate(data, len, node->parent, &ps, &pe, &pinner) ||
        !nc_scan_child(data, len, pinner, nc_elem_index(node), start, end, &close))
        return FALSE;
    pos = *start;
    nc_scan_tag(data, len, &pos, &ps);
    *inner = pos;
    return TRUE;
}

/**
 * nc_domain_xml_set_profile() - @data with netcarry's profile element replaced, added or removed
 * @data, @len: a libvirt domain XML (a hook's stdin, virDomainGetXMLDesc's output)
 * @name:       its name, for messages
 * @profile:    the new profile; NULL removes netcarry's profile element
 * @error:      the document is not a domain, or holds more than one netcarry profile
 *
 * Only the profile element's bytes change (see the theory of operation): an existing element
 * is replaced in place, a new one becomes the last child of <metadata> (created as the last
 * child of <domain> when missing), indented like its siblings. The element is written with
 * the prefix NC_PROFILE_PREFIX, as libvirt itself stores metadata.
 *
 * Return: (transfer full): the new document, or NULL
 */
char *nc_domain_xml_set_profile(const char *data, gsize len, const char *name,
                                const NcProfile *profile, GError **error)
{
    g_autoptr(xmlDoc) doc = nc_xml_parse(data, len, name, error);
    g_autoptr(GString) out = NULL;
    g_autoptr(NcDomain) check = NULL;
    g_autofree char *elem = NULL;
    g_autofree char *indent = NULL;
    xmlNode *root, *metadata, *old;
    gsize s, e, close, ls, inner;

    if (!doc)
        return NULL;
    root = xmlDocGetRootElement(doc);
    if (!nc_in_ns(root, NULL) || strcmp((const char *)root->name, "domain") != 0) {
        nc_fail_at(error, name, root, "not a libvirt domain XML (expected <domain>)");
        return NULL;
    }
    metadata = nc_child(root, NULL, "metadata");
    if (!nc_find_profile(metadata, name, &old, error))
        return NULL;
    out = g_string_new_len(data, (gssize)len);

    if (old) {
        if (!nc_locate(data, len, old, &s, &e, &inner))
            goto lost;
        indent = nc_indent_before(data, s, &ls);
        if (profile) {
            elem = nc_profile_format_full(profile, NC_PROFILE_PREFIX, indent);
            g_string_erase(out, (gssize)s, (gssize)(e - s));
            g_string_insert(out, (gssize)s, elem);
        } else {
            /* an element on a line of its own takes its line with it */
            gsize from = s;

            if (ls > 0 && data[ls - 1] == '\n')
                from = ls - 1 - (ls > 1 && data[ls - 2] == '\r');
            g_string_erase(out, (gssize)from, (gssize)(e - from));
        }
    } else if (profile) {
        xmlNode *parent = metadata ? metadata : root;
        g_autofree char *pindent = NULL;
        g_autofree char *cindent = NULL;
        g_autofree char *insert = NULL;
        gsize ps, pe;

        if (!nc_locate(data, len, parent, &ps, &pe, &inner))
            goto lost;
        pindent = nc_indent_before(data, ps, NULL);
        cindent = g_strconcat(pindent, "  ", NULL);
        if (metadata) {
            elem = nc_profile_format_full(profile, NC_PROFILE_PREFIX, cindent);
        } else {
            g_autofree char *inner_indent = g_strconcat(cindent, "  ", NULL);
            g_autofree char *p = nc_profile_format_full(profile, NC_PROFILE_PREFIX, inner_indent);

            elem = g_strdup_printf("<metadata>\n%s%s\n%s</metadata>", inner_indent, p, cindent);
        }
        if (inner == pe) {
            /* <metadata/>: becomes a start tag, the element, an end tag */
            gsize slash = inner - 2;

            while (slash > ps && data[slash] != '/')
                slash--;
            insert = g_strdup_printf("%.*s>\n%s%s\n%s</metadata>", (int)(slash - ps), data + ps,
                                     cindent, elem, pindent);
            g_string_erase(out, (gssize)ps, (gssize)(pe - ps));
            g_string_insert(out, (gssize)ps, insert);
        } else {
            nc_scan_child(data, len, inner, G_MAXUINT, &s, &e, &close);
            if (close >= len)
                goto lost;
            g_free(nc_indent_before(data, close, &ls));
            if (ls > 0 && data[ls - 1] == '\n') {
                insert = g_strdup_printf("%s%s\n", cindent, elem);
            } else {
                insert = g_strdup_printf("\n%s%s\n%s", cindent, elem, pindent);
                ls = close;
            }
            g_string_insert(out, (gssize)ls, insert);
        }
    }

    /* never hand libvirt a document it cannot read */
    check = nc_domain_parse_buffer(out->str, out->len, name, error);
    if (!check) {
        g_prefix_error(error, "rewriting netcarry's profile broke the domain XML (a netcarry "
                              "bug; the XML was left unchanged): ");
        return NULL;
    }
    return g_string_free(g_steal_pointer(&out), FALSE);

lost:
    g_set_error(error, NC_ERROR, NC_ERROR_FAILED,
                "%s: cannot locate netcarry's profile element in the text of the domain XML", name);
    return NULL;
}

/**
 * nc_domain_owner() - what belongs to the domain, as this host derives it from its XML
 * @domain: the domain
 * @error:  nc_domain_addresses()'s errors (a malformed address, named); a malformed MAC
 *
 * The destination checks every carried item against this, never against the source's word.
 *
 * Return: (transfer full): the owner view, or NULL
 */
NcOwner *nc_domain_owner(const NcDomain *domain, GError **error)
{
    g_autoptr(NcOwner) o = nc_owner_new();
    g_autoptr(GArray) addrs = nc_domain_addresses(domain, error);

    if (!addrs)
        return NULL;
    g_array_append_vals(o->addresses, addrs->data, addrs->len);
    for (guint i = 0; domain->interfaces && i < domain->interfaces->len; i++) {
        const NcDomainIface *iface = domain->interfaces->pdata[i];
        NcOwnerPort *port;
        guint8 mac[6];

        if (!iface->mac)
            continue;
        if (!nc_mac_parse(iface->mac, mac)) {
            g_autofree char *who = nc_domain_describe(domain);

            g_set_error(error, NC_ERROR, NC_ERROR_INVALID_DATA,
                        "domain %s: interface MAC '%s' is not six hex bytes (52:54:00:ab:cd:01)",
                        who, iface->mac);
            return NULL;
        }
        g_array_append_vals(o->macs, mac, 1);
        if (nc_domain_iface_learns(iface))
            g_array_append_vals(o->learning_macs, mac, 1);
        /* <source bridge> names this host's bridge only for type='bridge'; a network's bridge
         * (type='network') is the one each host's libvirt gives it, known once the tap is */
        nc_owner_add_port(o, mac, NULL,
                          g_strcmp0(iface->type, "bridge") == 0 ? iface->source_bridge : NULL);
        /* what it needs of the host, checked at admission (src/conf/nc-policy.h) */
        port = o->ports->pdata[o->ports->len - 1];
        port->network = g_strdup(iface->source_network);
        port->filter = g_strdup(iface->filter);
        port->vlan = g_strdup(iface->vlan);
        port->bandwidth = iface->bandwidth;
    }
    o->uuid = g_strdup(domain->uuid);
    if (domain->profile) {
        const NcProfile *p = domain->profile;

        for (guint i = 0; i < p->objects->len; i++) {
            const NcObjectRef *r = p->objects->pdata[i];

            g_ptr_array_add(o->objects, nc_object_ref_new(r->family, r->table, r->name, r->type));
        }
        for (guint i = 0; i < p->chains->len; i++) {
            const NcObjectRef *r = p->chains->pdata[i];

            g_ptr_array_add(o->chains, nc_object_ref_new(r->family, r->table, r->name, r->type));
        }
        o->has_zone = p->has_zone;
        o->zone = p->zone;
        o->has_mark = p->has_mark;
        o->mark = p->mark;
        g_array_append_vals(o->learn_prefixes, p->learn->data, p->learn->len);
    }
    return g_steal_pointer(&o);
}

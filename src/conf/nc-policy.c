/* nc-policy.c - static policy in canonical form: nwfilter definitions and nftables chains, the
 * checked classes' items, and the comparison that names the first difference
 *
 * Theory of operation: nc-policy.h.
 */
#include <string.h>

#include <libxml/tree.h>

#include "conf/nc-policy.h"
#include "util/nc-bytes.h"
#include "util/nc-error.h"
#include "util/nc-xml.h"

/* a peer's definition is untrusted: bounds on what it may hold */
#define NC_POLICY_LINES_MAX 100000
#define NC_POLICY_LINE_MAX 65535
/* lines quoted in a message are cut here */
#define NC_POLICY_QUOTE_MAX 160

NcPolicyDef *nc_policy_def_new(const char *name)
{
    NcPolicyDef *d = g_new0(NcPolicyDef, 1);

    d->name = g_strdup(name);
    d->lines = g_ptr_array_new_with_free_func(g_free);
    return d;
}

NcPolicyDef *nc_policy_def_copy(const NcPolicyDef *def)
{
    NcPolicyDef *d = nc_policy_def_new(def->name);

    for (guint i = 0; i < def->lines->len; i++)
        g_ptr_array_add(d->lines, g_strdup(def->lines->pdata[i]));
    return d;
}

void nc_policy_def_free(NcPolicyDef *def)
{
    if (!def)
        return;
    g_free(def->name);
    g_ptr_array_unref(def->lines);
    g_free(def);
}

/* ---- nwfilter ---- */

/* A value as it reads in a canonical line: bare when unambiguous, else quoted and escaped. */
static void nc_policy_append_value(GString *s, const char *v)
{
    gboolean bare = *v != '\0';

    for (const char *p = v; *p && bare; p++)
        bare = g_ascii_isalnum(*p) || strchr("_.:$/-,@+", *p);
    if (bare) {
        g_string_append(s, v);
    } else {
        g_autofree char *esc = g_strescape(v, NULL);

        g_string_append_printf(s, "\"%s\"", esc);
    }
}

static gint nc_policy_cmp_str(gconstpointer a, gconstpointer b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* "name a=1 b=2 { child; child }": attributes sorted, children in order, text ignored. */
static void nc_nwfilter_canon(GString *s, const xmlNode *node, gboolean skip_name)
{
    g_autoptr(GPtrArray) attrs = g_ptr_array_new_with_free_func(g_free);
    gboolean any = FALSE;

    g_string_append(s, (const char *)node->name);
    for (const xmlAttr *a = node->properties; a; a = a->next) {
        g_autofree char *v = (char *)xmlNodeGetContent((const xmlNode *)a);
        g_autoptr(GString) one = g_string_new((const char *)a->name);

        if (skip_name && !strcmp((const char *)a->name, "name"))
            continue;
        g_string_append_c(one, '=');
        nc_policy_append_value(one, v ? v : "");
        g_ptr_array_add(attrs, g_string_free(g_steal_pointer(&one), FALSE));
    }
    g_ptr_array_sort(attrs, nc_policy_cmp_str);
    for (guint i = 0; i < attrs->len; i++)
        g_string_append_printf(s, " %s", (const char *)attrs->pdata[i]);
    for (const xmlNode *c = node->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        g_string_append(s, any ? "; " : " { ");
        any = TRUE;
        nc_nwfilter_canon(s, c, FALSE);
    }
    if (any)
        g_string_append(s, " }");
}

/**
 * nc_nwfilter_def_parse() - an nwfilter definition (virNWFilterGetXMLDesc()) in canonical form
 * @xml:   the <filter> document
 * @len:   its length
 * @what:  names the document in errors ("nwfilter clean-traffic on hostB")
 * @error: NC_ERROR_INVALID_DATA: not XML, or not a <filter name=...>
 *
 * Line 0: the filter's own attributes (chain, priority) without its name; then one line per
 * <rule> or <filterref>, in document order. The <uuid> and all formatting are left out.
 *
 * Return: (transfer full): the definition, or NULL
 */
NcPolicyDef *nc_nwfilter_def_parse(const char *xml, gsize len, const char *what, GError **error)
{
    g_autoptr(xmlDoc) doc = nc_xml_parse(xml, len, what, error);
    const xmlNode *root;
    g_autofree char *name = NULL;
    g_autoptr(NcPolicyDef) d = NULL;
    GString *header;

    if (!doc)
        return NULL;
    root = xmlDocGetRootElement(doc);
    if (!root || strcmp((const char *)root->name, "filter") != 0 ||
        !(name = (char *)xmlGetProp(root, (const xmlChar *)"name")) || !*name) {
        g_set_error(error, NC_ERROR, NC_ERROR_INVALID_DATA,
                    "%s: not an nwfilter definition (expected <filter name='...'>)", what);
        return NULL;
    }
    d = nc_policy_def_new(name);
    header = g_string_new(NULL);
    {
        /* the header: the <filter> element alone (its attributes but the name) */
        xmlNode copy = *root;

        copy.children = NULL;
        nc_nwfilter_canon(header, &copy, TRUE);
    }
    g_ptr_array_add(d->lines, g_string_free(header, FALSE));
    for (const xmlNode *c = root->children; c; c = c->next) {
        GString *line;

        if (c->type != XML_ELEMENT_NODE || !strcmp((const char *)c->name, "uuid"))
            continue;
        line = g_string_new(NULL);
        nc_nwfilter_canon(line, c, FALSE);
        g_ptr_array_add(d->lines, g_string_free(line, FALSE));
    }
    return g_steal_pointer(&d);
}

/**
 * nc_nwfilter_def_refs() - the filters a definition references (its <filterref>s), in order
 *
 * Return: (transfer full) (element-type utf8)
 */
GPtrArray *nc_nwfilter_def_refs(const NcPolicyDef *def)
{
    GPtrArray *refs = g_ptr_array_new_with_free_func(g_free);

    for (guint i = 1; i < def->lines->len; i++) {
        const char *l = def->lines->pdata[i];
        const char *f;

        if (!g_str_has_prefix(l, "filterref ") || !(f = strstr(l, " filter=")))
            continue;
        f += strlen(" filter=");
        g_ptr_array_add(refs, g_strndup(f, strcspn(f, " ")));
    }
    return refs;
}

/* ---- nftables chains ---- */

/* A rule line without what changes while it runs: a "# handle N" comment (--handle) and the
 * values of anonymous counters and quotas (without --stateless). (transfer full) */
static char *nc_nft_rule_normalise(const char *line)
{
    g_auto(GStrv) w = g_strsplit(line, " ", -1);
    g_autoptr(GString) s = g_string_new(NULL);
    guint n = g_strv_length(w);

    for (guint i = 0; i < n; i++) {
        if (!strcmp(w[i], "#") && i + 1 < n && !strcmp(w[i + 1], "handle")) {
            i += 2; /* "# handle N" */
            continue;
        }
        if (!strcmp(w[i], "used") && i + 1 < n) {
            i++; /* a quota's "used M [unit]": its limit stays, its use goes */
            if (i + 1 < n && g_str_has_suffix(w[i + 1], "bytes"))
                i++;
            continue;
        }
        if (*w[i])
            g_string_append_printf(s, "%s%s", s->len ? " " : "", w[i]);
        if (!strcmp(w[i], "counter")) /* "counter packets P bytes B" */
            while (i + 2 < n && (!strcmp(w[i + 1], "packets") || !strcmp(w[i + 1], "bytes")))
                i += 2;
    }
    return g_string_free(g_steal_pointer(&s), FALSE);
}

/**
 * nc_nft_chain_def_parse() - a chain as `nft --stateless list chain F T C` printed it
 * @name:    "family/table/chain"
 * @listing: nft's output
 * @error:   NC_ERROR_INVALID_DATA if the listing holds no such chain block
 *
 * The lines inside the chain's block, stripped: a base chain's "type ... hook ... policy" line
 * first, then one line per rule. Handles are not printed without --handle, and --stateless
 * leaves out counter and quota values.
 *
 * Return: (transfer full): the definition, or NULL
 */
NcPolicyDef *nc_nft_chain_def_parse(const char *name, const char *listing, GError **error)
{
    g_auto(GStrv) lines = g_strsplit(listing ? listing : "", "\n", -1);
    g_autoptr(NcPolicyDef) d = nc_policy_def_new(name);
    gboolean in = FALSE, closed = FALSE;

    for (char **l = lines; *l && !closed; l++) {
        char *t = g_strstrip(*l);
        char *comment = strstr(t, " # handle ");

        if (comment && !in) /* "chain NAME { # handle N" (--handle) */
            t = g_strstrip((*comment = '\0', t));
        if (!in) {
            in = g_str_has_prefix(t, "chain ") && g_str_has_suffix(t, "{");
            continue;
        }
        if (!strcmp(t, "}"))
            closed = TRUE;
        else if (*t)
            g_ptr_array_add(d->lines, nc_nft_rule_normalise(t));
    }
    if (!closed) {
        g_set_error(error, NC_ERROR, NC_ERROR_INVALID_DATA,
                    "chain %s: nft's listing holds no block of it", name);
        return NULL;
    }
    return g_steal_pointer(&d);
}

/* ---- comparison ---- */

static gboolean nc_policy_is_header(const char *kind, const NcPolicyDef *d, guint i)
{
    if (!strcmp(kind, "nwfilter"))
        return i == 0;
    return i == 0 && i < d->lines->len && g_str_has_prefix(d->lines->pdata[0], "type ");
}

static char *nc_policy_quote(const char *line)
{
    if (!line)
        return g_strdup("none");
    if (strlen(line) <= NC_POLICY_QUOTE_MAX)
        return g_strdup_printf("'%s'", line);
    return g_strdup_printf("'%.*s...'", NC_POLICY_QUOTE_MAX, line);
}

/**
 * nc_policy_def_compare() - the first difference between the source's definition and this host's
 * @kind:   "nwfilter" or "chain", for the message
 * @source: the source's
 * @here:   this host's
 *
 * Return: (transfer full) (nullable): NULL if they are the same, else one line, e.g. "nwfilter
 * clean-traffic-x differs: rule 3: the source has '...', this host has '...'"
 */
char *nc_policy_def_compare(const char *kind, const NcPolicyDef *source, const NcPolicyDef *here)
{
    guint n = MAX(source->lines->len, here->lines->len);
    guint rule = 0;

    for (guint i = 0; i < n; i++) {
        const char *a = i < source->lines->len ? source->lines->pdata[i] : NULL;
        const char *b = i < here->lines->len ? here->lines->pdata[i] : NULL;
        gboolean header = nc_policy_is_header(kind, a ? source : here, i);
        g_autofree char *qa = NULL, *qb = NULL, *where = NULL;

        if (!header)
            rule++;
        if (a && b && !strcmp(a, b))
            continue;
        qa = nc_policy_quote(a);
        qb = nc_policy_quote(b);
        where = header ? g_strdup(!strcmp(kind, "nwfilter") ? "its attributes (chain, priority)"
                                                            : "its type, hook and policy")
                       : g_strdup_printf("rule %u", rule);
        return g_strdup_printf("%s %s differs: %s: the source has %s, this host has %s", kind,
                               source->name, where, qa, qb);
    }
    return NULL;
}

/* ---- class ops ---- */

static void nc_policy_put_str(GByteArray *out, const char *s)
{
    gsize len = strlen(s);

    nc_bytes_put_be(out, len, 4);
    g_byte_array_append(out, (const guint8 *)s, len);
}

static gboolean nc_policy_key(gconstpointer item, GByteArray *out, GError **error)
{
    nc_policy_put_str(out, ((const NcPolicyDef *)item)->name);
    return TRUE;
}

static gboolean nc_policy_encode(gconstpointer item, GByteArray *out, GError **error)
{
    const NcPolicyDef *d = item;

    nc_policy_put_str(out, d->name);
    nc_bytes_put_be(out, d->lines->len, 4);
    for (guint i = 0; i < d->lines->len; i++)
        nc_policy_put_str(out, d->lines->pdata[i]);
    return TRUE;
}

/* One length-prefixed string at *@off, or NULL. */
static char *nc_policy_rd_str(const guint8 *data, gsize len, gsize *off)
{
    guint32 n;

    if (len - *off < 4)
        return NULL;
    n = (guint32)data[*off] << 24 | (guint32)data[*off + 1] << 16 | (guint32)data[*off + 2] << 8 |
        data[*off + 3];
    *off += 4;
    if (n > NC_POLICY_LINE_MAX || len - *off < n || memchr(data + *off, 0, n))
        return NULL;
    *off += n;
    return g_strndup((const char *)data + *off - n, n);
}

static gpointer nc_policy_decode(const guint8 *data, gsize len, GError **error)
{
    gsize off = 0;
    g_autofree char *name = nc_policy_rd_str(data, len, &off);
    g_autoptr(NcPolicyDef) d = NULL;
    guint32 n;

    if (!name || !*name || len - off < 4)
        goto bad;
    d = nc_policy_def_new(name);
    n = (guint32)data[off] << 24 | (guint32)data[off + 1] << 16 | (guint32)data[off + 2] << 8 |
        data[off + 3];
    off += 4;
    if (n > NC_POLICY_LINES_MAX)
        goto bad;
    for (guint32 i = 0; i < n; i++) {
        char *l = nc_policy_rd_str(data, len, &off);

        if (!l)
            goto bad;
        g_ptr_array_add(d->lines, l);
    }
    if (off != len)
        goto bad;
    return g_steal_pointer(&d);
bad:
    g_set_error(error, NC_ERROR, NC_ERROR_INVALID_DATA,
                "a policy definition does not decode (name, line count or a line)");
    return NULL;
}

static char *nc_nwfilter_describe(gconstpointer item)
{
    return g_strdup_printf("nwfilter %s", ((const NcPolicyDef *)item)->name);
}

static char *nc_nft_chain_describe(gconstpointer item)
{
    return g_strdup_printf("chain %s", ((const NcPolicyDef *)item)->name);
}

static char *nc_nwfilter_compare(gconstpointer a, gconstpointer b)
{
    return nc_policy_def_compare("nwfilter", a, b);
}

static char *nc_nft_chain_compare(gconstpointer a, gconstpointer b)
{
    return nc_policy_def_compare("chain", a, b);
}

/* Nothing of a definition is installed: the destination compares only the filters its own XML
 * references (the tree it walks from its interfaces), whatever else arrives. */
static gboolean nc_nwfilter_owns(const NcOwner *owner, gconstpointer item, char **why)
{
    return TRUE;
}

static gboolean nc_nft_chain_owns(const NcOwner *owner, gconstpointer item, char **why)
{
    const NcPolicyDef *d = item;

    for (guint i = 0; owner->chains && i < owner->chains->len; i++) {
        const NcObjectRef *r = owner->chains->pdata[i];
        g_autofree char *name = g_strdup_printf("%s/%s/%s", r->family, r->table, r->name);

        if (!strcmp(name, d->name))
            return TRUE;
    }
    if (why)
        *why = g_strdup("the domain's profile names no such chain");
    return FALSE;
}

static gboolean nc_port_owns(const NcOwner *owner, gconstpointer item, char **why)
{
    if (why)
        *why = g_strdup("the port class carries no items");
    return FALSE;
}

const NcClassOps nc_nwfilter_class = {
    .name = "nwfilter",
    .key = nc_policy_key,
    .encode = nc_policy_encode,
    .decode = nc_policy_decode,
    .describe = nc_nwfilter_describe,
    .compare = nc_nwfilter_compare,
    .owns = nc_nwfilter_owns,
    .free = (GDestroyNotify)nc_policy_def_free,
};

const NcClassOps nc_nft_chain_class = {
    .name = "nft-chain",
    .key = nc_policy_key,
    .encode = nc_policy_encode,
    .decode = nc_policy_decode,
    .describe = nc_nft_chain_describe,
    .compare = nc_nft_chain_compare,
    .owns = nc_nft_chain_owns,
    .free = (GDestroyNotify)nc_policy_def_free,
};

const NcClassOps nc_port_class = {
    .name = "port",
    .key = nc_policy_key,
    .encode = nc_policy_encode,
    .decode = nc_policy_decode,
    .describe = nc_nft_chain_describe,
    .owns = nc_port_owns,
    .free = (GDestroyNotify)nc_policy_def_free,
};

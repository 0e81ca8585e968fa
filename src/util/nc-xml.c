/* nc-xml.c - parse XML safely, validate it against netcarry's RelaxNG schemas,
 * and turn libxml2's error callbacks into one GError that names file and line
 */
#include <string.h>

#include <libxml/xmlerror.h>

#include "nc-config.h"
#include "nc-error.h"
#include "nc-xml.h"

/* no network, no entity substitution (so no XXE), line numbers past 65535 */
#define NC_XML_PARSE_OPTIONS                                                                   \
    (XML_PARSE_NONET | XML_PARSE_BIG_LINES | XML_PARSE_NOCDATA | XML_PARSE_NOBLANKS | XML_PARSE_COMPACT)

/**
 * NcXmlErrors - what libxml2 reported during one parse or validation
 * @line:     line of the first error (0: none yet)
 * @messages: the first error's message, then further ones on the same line
 * @n_seen:   how many errors were reported in all
 *
 * libxml2 reports a RelaxNG violation as a cascade ("Type unsignedShort doesn't
 * allow value '70000'", then "Element reply failed to validate content", then
 * the parents); the first line's messages say what was wrong, the rest is noise.
 */
typedef struct {
    int line;
    GString *messages;
    guint n_seen;
} NcXmlErrors;

static const struct {
    const char *ns;
    const char *root;
    const char *schema;
} nc_xml_schemas[] = {
    {"https://netcarry.dev/xmlns/bundle/1", "bundle", "bundle.rng"},
    {"https://netcarry.dev/xmlns/profile/1", "profile", "profile.rng"},
    {"https://netcarry.dev/xmlns/report/1", "report", "report.rng"},
};

static void nc_xml_errors_init(NcXmlErrors *errs)
{
    errs->line = 0;
    errs->messages = g_string_new(NULL);
    errs->n_seen = 0;
}

static void nc_xml_errors_clear(NcXmlErrors *errs)
{
    g_string_free(errs->messages, TRUE);
}

/**
 * nc_xml_reword() - make libxml2's RelaxNG phrasing readable, or drop it
 * @msg: (inout): the message; replaced when reworded
 *
 * Return: FALSE if the message only repeats what an earlier one said
 */
static gboolean nc_xml_reword(char **msg)
{
    static const struct {
        const char *match;
        const char *text; /* NULL: drop */
    } words[] = {
        {"failed to compare type", NULL},
        {"Error validating datatype", NULL},
        {"Expecting an element , got nothing", "a required child element is missing"},
        {"failed to validate attributes", "an attribute is missing, unknown or has a bad value"},
        {"failed to validate content", "a child or value is missing or has a bad value"},
    };

    for (guint i = 0; i < G_N_ELEMENTS(words); i++) {
        if (!strstr(*msg, words[i].match))
            continue;
        if (!words[i].text)
            return FALSE;
        g_free(*msg);
        *msg = g_strdup(words[i].text);
        return TRUE;
    }
    return TRUE;
}

/**
 * nc_xml_collect_error() - xmlStructuredErrorFunc keeping the first line's errors
 * @data: the NcXmlErrors (or a parser context whose _private is one)
 * @err:  libxml2's error
 */
static void nc_xml_collect_error(void *data, xmlErrorPtr err)
{
    NcXmlErrors *errs = data;
    g_autofree char *msg = NULL;

    if (!err || !errs || err->level == XML_ERR_WARNING)
        return;
    errs->n_seen++;
    if (errs->line && (err->line != errs->line || errs->n_seen > 4))
        return;
    msg = g_strstrip(g_strdup(err->message ? err->message : "unknown error"));
    if (!nc_xml_reword(&msg))
        return;
    if (!errs->line) {
        errs->line = err->line > 0 ? err->line : 1;
        if (err->node && err->domain == XML_FROM_RELAXNGV &&
            ((xmlNode *)err->node)->type == XML_ELEMENT_NODE)
            g_string_append_printf(errs->messages, "element <%s>: ",
                                   (const char *)((xmlNode *)err->node)->name);
    } else {
        g_string_append(errs->messages, "; ");
    }
    g_string_append(errs->messages, msg);
}

static void nc_xml_parser_error(void *ctx, xmlErrorPtr err)
{
    xmlParserCtxt *pctxt = ctx;

    nc_xml_collect_error(pctxt ? pctxt->_private : NULL, err);
}

/* libxml2 sends a few messages (regexp compilation, I/O) to the generic
 * handler of the calling thread; while netcarry parses, they go nowhere. */
static void nc_xml_silent(void *ctx, const char *msg, ...)
{
}

/**
 * nc_xml_refuse_doctype() - SAX internalSubset hook: stop at any DOCTYPE
 *
 * netcarry's documents never need a DTD; refusing it up front rules out entity
 * expansion attacks and external entities whatever libxml2's defaults are.
 */
static void nc_xml_refuse_doctype(void *ctx, const xmlChar *name, const xmlChar *ext_id,
                                  const xmlChar *sys_id)
{
    xmlParserCtxt *pctxt = ctx;
    NcXmlErrors *errs = pctxt->_private;

    if (!errs->line) {
        errs->line = xmlSAX2GetLineNumber(ctx);
        if (!errs->line)
            errs->line = 1;
        g_string_append(errs->messages, "a DOCTYPE is not allowed in netcarry documents");
    }
    errs->n_seen++;
    xmlStopParser(pctxt);
}

char *nc_xml_schema_path(const char *name, GError **error)
{
    const char *dirs[] = {g_getenv("NETCARRY_SCHEMA_DIR"), NC_SCHEMA_DIR, NC_SOURCE_SCHEMA_DIR};

    for (guint i = 0; i < G_N_ELEMENTS(dirs); i++) {
        g_autofree char *path = NULL;

        if (!dirs[i] || !*dirs[i])
            continue;
        path = g_build_filename(dirs[i], name, NULL);
        if (g_file_test(path, G_FILE_TEST_IS_REGULAR))
            return g_steal_pointer(&path);
    }
    g_set_error(error, NC_ERROR, NC_ERROR_NOT_FOUND,
                "schema %s not found in $NETCARRY_SCHEMA_DIR (%s), %s or %s; set "
                "NETCARRY_SCHEMA_DIR to the directory holding netcarry's .rng files",
                name, dirs[0] ? dirs[0] : "unset", NC_SCHEMA_DIR, NC_SOURCE_SCHEMA_DIR);
    return NULL;
}

int nc_xml_node_line(const xmlNode *node)
{
    long line = xmlGetLineNo(node);
    const xmlNode *prev = node->prev;

    /* libxml2 keeps lines past 65535 only on text nodes (BIG_LINES), and a
     * text node's line is where it ends: the blank text before an element
     * ends on the element's own line */
    if (line >= 65535 && prev && prev->type == XML_TEXT_NODE && prev->line == 65535 && prev->psvi)
        line = (long)(ptrdiff_t)prev->psvi;
    return (int)line;
}

xmlDoc *nc_xml_parse(const char *data, gsize len, const char *name, GError **error)
{
    xmlParserCtxt *pctxt;
    xmlDoc *doc;
    NcXmlErrors errs;

    if (len > G_MAXINT) {
        g_set_error(error, NC_ERROR, NC_ERROR_INVALID_DATA,
                    "%s: %" G_GSIZE_FORMAT " bytes is too large for an XML document", name, len);
        return NULL;
    }
    pctxt = xmlNewParserCtxt();
    if (!pctxt) {
        g_set_error(error, NC_ERROR, NC_ERROR_FAILED, "%s: cannot allocate an XML parser", name);
        return NULL;
    }
    nc_xml_errors_init(&errs);
    pctxt->_private = &errs;
    pctxt->sax->serror = nc_xml_parser_error;
    pctxt->sax->internalSubset = nc_xml_refuse_doctype;
    xmlSetGenericErrorFunc(NULL, nc_xml_silent);

    doc = xmlCtxtReadMemory(pctxt, data, (int)len, name, NULL, NC_XML_PARSE_OPTIONS);
    if (doc && (errs.line || !pctxt->wellFormed)) {
        xmlFreeDoc(doc);
        doc = NULL;
    }
    if (!doc) {
        if (!errs.line)
            g_set_error(error, NC_ERROR, NC_ERROR_INVALID_DATA, "%s: not well-formed XML", name);
        else
            g_set_error(error, NC_ERROR, NC_ERROR_INVALID_DATA, "%s:%d: not well-formed XML: %s",
                        name, errs.line, errs.messages->str);
    } else if (!xmlDocGetRootElement(doc)) {
        xmlFreeDoc(g_steal_pointer(&doc));
        g_set_error(error, NC_ERROR, NC_ERROR_INVALID_DATA, "%s: the document is empty", name);
    }
    xmlFreeParserCtxt(pctxt);
    nc_xml_errors_clear(&errs);
    return doc;
}

G_LOCK_DEFINE_STATIC(nc_xml_schema_cache);
static GHashTable *nc_xml_schema_cache; /* path -> xmlRelaxNG, never freed */

/**
 * nc_xml_load_schema() - the compiled schema @schema_name, cached by path
 *
 * Compiling bundle.rng takes about a millisecond, but a daemon validates many
 * small bundles; a compiled xmlRelaxNG is only read during validation (each
 * validation has its own context), so one copy serves every caller.
 *
 * Return: (transfer none): the schema, or NULL with @error set
 */
static xmlRelaxNG *nc_xml_load_schema(const char *schema_name, GError **error)
{
    g_autofree char *path = nc_xml_schema_path(schema_name, error);
    xmlRelaxNGParserCtxt *rctxt;
    xmlRelaxNG *schema;
    NcXmlErrors errs;

    if (!path)
        return NULL;
    G_LOCK(nc_xml_schema_cache);
    if (!nc_xml_schema_cache)
        nc_xml_schema_cache = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    schema = g_hash_table_lookup(nc_xml_schema_cache, path);
    if (schema) {
        G_UNLOCK(nc_xml_schema_cache);
        return schema;
    }

    nc_xml_errors_init(&errs);
    xmlSetGenericErrorFunc(NULL, nc_xml_silent);
    rctxt = xmlRelaxNGNewParserCtxt(path);
    xmlRelaxNGSetParserStructuredErrors(rctxt, nc_xml_collect_error, &errs);
    schema = xmlRelaxNGParse(rctxt);
    xmlRelaxNGFreeParserCtxt(rctxt);
    if (schema)
        g_hash_table_insert(nc_xml_schema_cache, g_strdup(path), schema);
    G_UNLOCK(nc_xml_schema_cache);

    if (!schema)
        g_set_error(error, NC_ERROR, NC_ERROR_FAILED,
                    "schema %s:%d cannot be compiled: %s; reinstall netcarry's schemas", path,
                    errs.line, errs.messages->len ? errs.messages->str : "unknown error");
    nc_xml_errors_clear(&errs);
    return schema;
}

gboolean nc_xml_validate_doc(xmlDoc *doc, const char *name, const char *schema_name, int *line,
                             GError **error)
{
    xmlRelaxNG *schema = nc_xml_load_schema(schema_name, error);
    xmlRelaxNGValidCtxt *vctxt;
    NcXmlErrors errs;
    int rc;

    if (line)
        *line = 0;
    if (!schema)
        return FALSE;
    vctxt = xmlRelaxNGNewValidCtxt(schema);
    if (!vctxt) {
        g_set_error(error, NC_ERROR, NC_ERROR_FAILED, "%s: cannot allocate a validator", name);
        return FALSE;
    }
    nc_xml_errors_init(&errs);
    xmlSetGenericErrorFunc(NULL, nc_xml_silent);
    xmlRelaxNGSetValidStructuredErrors(vctxt, nc_xml_collect_error, &errs);
    rc = xmlRelaxNGValidateDoc(vctxt, doc);
    xmlRelaxNGFreeValidCtxt(vctxt);
    if (rc != 0) {
        if (line)
            *line = errs.line;
        g_set_error(error, NC_ERROR, NC_ERROR_INVALID_DATA,
                    "%s:%d: does not follow %s: %s", name, errs.line, schema_name,
                    errs.messages->len ? errs.messages->str : "validation failed");
    }
    nc_xml_errors_clear(&errs);
    return rc == 0;
}

xmlDoc *nc_xml_parse_validated(const char *data, gsize len, const char *name,
                               const char *schema_name, GError **error)
{
    g_autoptr(xmlDoc) doc = nc_xml_parse(data, len, name, error);

    if (!doc || !nc_xml_validate_doc(doc, name, schema_name, NULL, error))
        return NULL;
    return g_steal_pointer(&doc);
}

const char *nc_xml_schema_for_root(const char *ns, const char *root)
{
    for (guint i = 0; i < G_N_ELEMENTS(nc_xml_schemas); i++) {
        if (g_strcmp0(nc_xml_schemas[i].root, root) == 0 &&
            (!ns || g_strcmp0(nc_xml_schemas[i].ns, ns) == 0))
            return nc_xml_schemas[i].schema;
    }
    return NULL;
}

gboolean nc_xml_validate_file(const char *path, const char **schema_out, GError **error)
{
    g_autofree char *data = NULL;
    g_autoptr(GError) local = NULL;
    g_autoptr(xmlDoc) doc = NULL;
    const char *schema;
    xmlNode *root;
    gsize len;

    if (!g_file_get_contents(path, &data, &len, &local)) {
        g_set_error(error, NC_ERROR, NC_ERROR_IO, "cannot read %s: %s", path, local->message);
        return FALSE;
    }
    doc = nc_xml_parse(data, len, path, error);
    if (!doc)
        return FALSE;
    root = xmlDocGetRootElement(doc);
    schema = nc_xml_schema_for_root(NULL, (const char *)root->name);
    if (schema_out)
        *schema_out = schema;
    if (!schema) {
        g_set_error(error, NC_ERROR, NC_ERROR_INVALID_DATA,
                    "%s:%d: root element <%s> is not a netcarry document (expected <bundle>, "
                    "<profile> or <report>)",
                    path, nc_xml_node_line(root), (const char *)root->name);
        return FALSE;
    }
    return nc_xml_validate_doc(doc, path, schema, NULL, error);
}

struct NcXmlReader {
    xmlTextReader *reader;
    char *name;
    NcXmlErrors errs;
};

static void nc_xml_reader_error(void *data, xmlErrorPtr err)
{
    NcXmlReader *r = data;

    nc_xml_collect_error(&r->errs, err);
}

/**
 * nc_xml_find_doctype() - the line of a DOCTYPE in @data's prolog, or 0
 *
 * An xmlTextReader parses ahead of the node it reports, so a DOCTYPE seen
 * through it may already have been acted on; this scan refuses it first.
 */
static int nc_xml_find_doctype(const char *data, gsize len)
{
    const char *p = data, *end = data + len;
    int line = 1;

    while (p < end) {
        const char *close = NULL;

        if (*p == '\n' || *p == ' ' || *p == '\t' || *p == '\r') {
            line += *p++ == '\n';
            continue;
        }
        if (end - p >= 9 && memcmp(p, "<!DOCTYPE", 9) == 0)
            return line;
        if (end - p >= 2 && memcmp(p, "<?", 2) == 0)
            close = g_strstr_len(p, end - p, "?>");
        else if (end - p >= 4 && memcmp(p, "<!--", 4) == 0)
            close = g_strstr_len(p, end - p, "-->");
        if (!close)
            return 0; /* the root element (or garbage the parser reports) */
        for (; p < close; p++)
            line += *p == '\n';
        p = close + 2;
    }
    return 0;
}

NcXmlReader *nc_xml_reader_new(const char *data, gsize len, const char *name, GError **error)
{
    NcXmlReader *r;
    int doctype_line = nc_xml_find_doctype(data, len);

    if (len > G_MAXINT) {
        g_set_error(error, NC_ERROR, NC_ERROR_INVALID_DATA,
                    "%s: %" G_GSIZE_FORMAT " bytes is too large for an XML document", name, len);
        return NULL;
    }
    if (doctype_line) {
        g_set_error(error, NC_ERROR, NC_ERROR_INVALID_DATA,
                    "%s:%d: not well-formed XML: a DOCTYPE is not allowed in netcarry documents",
                    name, doctype_line);
        return NULL;
    }
    r = g_new0(NcXmlReader, 1);
    r->name = g_strdup(name);
    nc_xml_errors_init(&r->errs);
    xmlSetGenericErrorFunc(NULL, nc_xml_silent);
    /* blanks are kept: their text nodes carry the line numbers past 65535 */
    r->reader = xmlReaderForMemory(data, (int)len, name, NULL,
                                   NC_XML_PARSE_OPTIONS & ~XML_PARSE_NOBLANKS);
    if (!r->reader) {
        g_set_error(error, NC_ERROR, NC_ERROR_FAILED, "%s: cannot allocate an XML reader", name);
        nc_xml_reader_free(r);
        return NULL;
    }
    xmlTextReaderSetStructuredErrorHandler(r->reader, nc_xml_reader_error, r);
    return r;
}

xmlTextReader *nc_xml_reader_get(NcXmlReader *reader)
{
    return reader->reader;
}

static int nc_xml_reader_check(NcXmlReader *r, int rc, GError **error)
{
    if (rc == 1 && xmlTextReaderNodeType(r->reader) == XML_READER_TYPE_DOCUMENT_TYPE) {
        if (!r->errs.line) {
            r->errs.line = xmlTextReaderGetParserLineNumber(r->reader);
            g_string_append(r->errs.messages, "a DOCTYPE is not allowed in netcarry documents");
        }
        rc = -1;
    }
    if (rc == 1 && r->errs.line)
        rc = -1; /* a recoverable error was reported: the document is still broken */
    if (rc < 0) {
        if (r->errs.line)
            g_set_error(error, NC_ERROR, NC_ERROR_INVALID_DATA, "%s:%d: not well-formed XML: %s",
                        r->name, r->errs.line, r->errs.messages->str);
        else
            g_set_error(error, NC_ERROR, NC_ERROR_INVALID_DATA, "%s: not well-formed XML",
                        r->name);
    }
    return rc;
}

int nc_xml_reader_read(NcXmlReader *reader, GError **error)
{
    return nc_xml_reader_check(reader, xmlTextReaderRead(reader->reader), error);
}

int nc_xml_reader_next(NcXmlReader *reader, GError **error)
{
    return nc_xml_reader_check(reader, xmlTextReaderNext(reader->reader), error);
}

void nc_xml_reader_free(NcXmlReader *reader)
{
    if (!reader)
        return;
    if (reader->reader)
        xmlFreeTextReader(reader->reader);
    nc_xml_errors_clear(&reader->errs);
    g_free(reader->name);
    g_free(reader);
}

void nc_xml_append_escaped(GString *s, const char *text)
{
    for (const char *p = text; *p; p++) {
        switch (*p) {
        case '&':
            g_string_append(s, "&amp;");
            break;
        case '<':
            g_string_append(s, "&lt;");
            break;
        case '>':
            g_string_append(s, "&gt;");
            break;
        case '"':
            g_string_append(s, "&quot;");
            break;
        case '\t':
            g_string_append(s, "&#9;");
            break;
        case '\n':
            g_string_append(s, "&#10;");
            break;
        case '\r':
            g_string_append(s, "&#13;");
            break;
        default:
            g_string_append_c(s, *p);
        }
    }
}

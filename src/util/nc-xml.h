/* nc-xml.h - libxml2 helpers: autoptr cleanups, schema validation with file:line errors
 */
#pragma once

#include <glib.h>
#include <libxml/parser.h>
#include <libxml/relaxng.h>
#include <libxml/tree.h>
#include <libxml/xmlreader.h>
#include <libxml/xpath.h>

G_BEGIN_DECLS

G_DEFINE_AUTOPTR_CLEANUP_FUNC(xmlDoc, xmlFreeDoc)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(xmlXPathContext, xmlXPathFreeContext)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(xmlXPathObject, xmlXPathFreeObject)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(xmlRelaxNG, xmlRelaxNGFree)

/* Where schemas are looked up: $NETCARRY_SCHEMA_DIR, then the installed
 * directory, then the source tree's xml/. Returns (transfer full) the path of
 * @name (e.g. "bundle.rng") or NULL with an NC_ERROR_NOT_FOUND error. */
char *nc_xml_schema_path(const char *name, GError **error);

/* Parses @data (named @name in messages) and validates it against the schema
 * file @schema_name. Errors name @name, the line, and what was expected. */
xmlDoc *nc_xml_parse_validated(const char *data, gsize len, const char *name,
                               const char *schema_name, GError **error);

/* Validates a file against a schema chosen by its root element
 * (<bundle> -> bundle.rng, ...); *@schema (if not NULL) is set to that schema's
 * file name as soon as the root element is known, also when validation fails. Used by `netcarry validate` and the schema test. */
gboolean nc_xml_validate_file(const char *path, const char **schema, GError **error);

/* Parses @data without network access, entity substitution or a DOCTYPE; a
 * malformed document fails with "@name:LINE: what is wrong". */
xmlDoc *nc_xml_parse(const char *data, gsize len, const char *name, GError **error);

/* Validates @doc against @schema_name. On failure *@line (if not NULL) is the
 * line of the first violation and @error reads "@name:LINE: what was expected". */
gboolean nc_xml_validate_doc(xmlDoc *doc, const char *name, const char *schema_name, int *line,
                             GError **error);

/* The schema file for a root element in @ns, e.g. "bundle.rng"; NULL if none. */
const char *nc_xml_schema_for_root(const char *ns, const char *root);

/**
 * NcXmlReader - a streaming parse with the same safety as nc_xml_parse()
 *
 * For documents too large to hold as one tree: walk it with the libxml2
 * xmlTextReader API on nc_xml_reader_get(), expanding one subtree at a time.
 * libxml2's errors are collected, never printed; a DOCTYPE node is an error.
 */
typedef struct NcXmlReader NcXmlReader;

NcXmlReader *nc_xml_reader_new(const char *data, gsize len, const char *name, GError **error);
xmlTextReader *nc_xml_reader_get(NcXmlReader *reader);
/* Advances like xmlTextReaderRead() (1: a node, 0: the end, -1: error, with
 * @error "@name:LINE: not well-formed XML: ..."); refuses a DOCTYPE. */
int nc_xml_reader_read(NcXmlReader *reader, GError **error);
/* Like xmlTextReaderNext(): skips the current subtree. */
int nc_xml_reader_next(NcXmlReader *reader, GError **error);
void nc_xml_reader_free(NcXmlReader *reader);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(NcXmlReader, nc_xml_reader_free)

/* Appends @text to @s escaped for an attribute value (or element text); tabs and line ends as
 * character references, so that attribute-value normalisation does not turn them into spaces. */
void nc_xml_append_escaped(GString *s, const char *text);

/* The line of @node, also beyond 65535 (documents are parsed with BIG_LINES). */
int nc_xml_node_line(const xmlNode *node);

G_END_DECLS

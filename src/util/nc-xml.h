/* nc-xml.h - libxml2 helpers: autoptr cleanups, schema validation with file:line errors
 */
#pragma once

#include <glib.h>
#include <libxml/parser.h>
#include <libxml/relaxng.h>
#include <libxml/tree.h>
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
 * (<bundle> -> bundle.rng, ...). Used by `netcarry validate` and the schema test. */
gboolean nc_xml_validate_file(const char *path, GError **error);

/* Parses @data without network access, entity substitution or a DOCTYPE; a
 * malformed document fails with "@name:LINE: what is wrong". */
xmlDoc *nc_xml_parse(const char *data, gsize len, const char *name, GError **error);

/* Validates @doc against @schema_name. On failure *@line (if not NULL) is the
 * line of the first violation and @error reads "@name:LINE: what was expected". */
gboolean nc_xml_validate_doc(xmlDoc *doc, const char *name, const char *schema_name, int *line,
                             GError **error);

/* The schema file for a root element in @ns, e.g. "bundle.rng"; NULL if none. */
const char *nc_xml_schema_for_root(const char *ns, const char *root);

/* The line of @node, also beyond 65535 (documents are parsed with BIG_LINES). */
int nc_xml_node_line(const xmlNode *node);

G_END_DECLS

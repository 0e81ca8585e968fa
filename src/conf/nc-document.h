/* nc-document.h - any netcarry XML document (bundle, profile, report): which
 * reader goes with which schema, and what "valid" means for a file
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Runs the reader that goes with @schema ("bundle.rng", ...) on @path. */
gboolean nc_document_read_file(const char *schema, const char *path, GError **error);

/* Valid = the schema for the file's root element accepts it AND that
 * document's reader does, i.e. netcarry itself would take it. */
gboolean nc_document_validate_file(const char *path, GError **error);

G_END_DECLS

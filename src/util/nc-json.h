/* nc-json.h - a small JSON writer for the CLI's --json output: objects, arrays, strings,
 * integers, booleans and null, indented two spaces, with RFC 8259 escaping
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct NcJson NcJson;

NcJson *nc_json_new(void);
void nc_json_free(NcJson *json);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(NcJson, nc_json_free)

/* @key names the member inside an object; it must be NULL inside an array and at the top. */
void nc_json_begin_object(NcJson *json, const char *key);
void nc_json_end_object(NcJson *json);
void nc_json_begin_array(NcJson *json, const char *key);
void nc_json_end_array(NcJson *json);
/* A NULL @value writes null. */
void nc_json_string(NcJson *json, const char *key, const char *value);
void nc_json_int(NcJson *json, const char *key, gint64 value);
void nc_json_bool(NcJson *json, const char *key, gboolean value);
void nc_json_null(NcJson *json, const char *key);
/* nc_json_int() when @has, else null: the JSON form of an optional figure */
void nc_json_int_or_null(NcJson *json, const char *key, gboolean has, gint64 value);

/* The document, ending in a newline; @json is freed. (transfer full) */
char *nc_json_steal(NcJson *json);

G_END_DECLS

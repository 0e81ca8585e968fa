/* nc-status.h - `netcarry status --json`: the daemon's status text (the hook socket's status
 * answer) read back into JSON with stable field names
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* (transfer full): a JSON object; NULL with NC_ERROR_INVALID_DATA when @text does not start with
 * the daemon's header line */
char *nc_status_text_to_json(const char *text, GError **error);

G_END_DECLS

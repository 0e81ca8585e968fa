/* nc-bytes.h - canonical byte encodings: big-endian integers appended to a GByteArray
 *
 * What the classes' canonical bytes (conf/nc-ct-items.c, conf/nc-nft-items.c) are made of.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Appends the low @n bytes of @v (1 to 8), most significant first. */
void nc_bytes_put_be(GByteArray *out, guint64 v, guint n);

G_END_DECLS

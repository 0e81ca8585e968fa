/* nc-bytes.h - canonical byte encodings: big-endian integers appended to a GByteArray or written
 * into a buffer
 *
 * What the classes' canonical bytes (conf/nc-ct-items.c, conf/nc-nft-items.c) are made of.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Appends the low @n bytes of @v (1 to 8), most significant first. */
void nc_bytes_put_be(GByteArray *out, guint64 v, guint n);

/* Writes the low @n bytes of @v (1 to 8) at @p, most significant first; returns @p + @n. For an
 * encoding built in a buffer and appended at once (per entry, the carry encodes 100k of them). */
static inline guint8 *nc_bytes_write_be(guint8 *p, guint64 v, guint n)
{
    for (guint i = 0; i < n; i++)
        p[i] = (guint8)(v >> (8 * (n - 1 - i)));
    return p + n;
}

G_END_DECLS

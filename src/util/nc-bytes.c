/* nc-bytes.c - canonical byte encodings: big-endian integers appended to a GByteArray or written
 * into a buffer
 */
#include "util/nc-bytes.h"

void nc_bytes_put_be(GByteArray *out, guint64 v, guint n)
{
    guint8 buf[8];

    g_return_if_fail(n >= 1 && n <= 8);
    nc_bytes_write_be(buf, v, n);
    g_byte_array_append(out, buf, n);
}

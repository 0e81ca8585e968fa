/* nc-bytes.c - canonical byte encodings: big-endian integers appended to a GByteArray
 */
#include "util/nc-bytes.h"

void nc_bytes_put_be(GByteArray *out, guint64 v, guint n)
{
    guint8 buf[8];

    g_return_if_fail(n >= 1 && n <= 8);
    for (guint i = 0; i < n; i++)
        buf[i] = (guint8)(v >> (8 * (n - 1 - i)));
    g_byte_array_append(out, buf, n);
}

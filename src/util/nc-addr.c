/* nc-addr.c - parse, print and compare IP addresses
 */
#include <arpa/inet.h>
#include <string.h>

#include "nc-addr.h"
#include "nc-error.h"

/**
 * nc_addr_parse() - parse a textual IPv4 or IPv6 address
 * @text:  the address, e.g. "192.0.2.5" or "2001:db8::5"
 * @out:   where to store it
 * @error: set to NC_ERROR_INVALID_DATA naming @text on failure
 *
 * Return: TRUE on success
 */
gboolean nc_addr_parse(const char *text, NcAddr *out, GError **error)
{
    memset(out, 0, sizeof(*out));
    if (text && inet_pton(AF_INET, text, out->bytes) == 1) {
        out->family = AF_INET;
        return TRUE;
    }
    if (text && inet_pton(AF_INET6, text, out->bytes) == 1) {
        out->family = AF_INET6;
        return TRUE;
    }
    memset(out, 0, sizeof(*out));
    g_set_error(error, NC_ERROR, NC_ERROR_INVALID_DATA,
                "'%s' is not an IPv4 or IPv6 address", text ? text : "(null)");
    return FALSE;
}

/**
 * nc_addr_format() - write @addr into @buf (at least NC_ADDR_STRLEN bytes)
 */
void nc_addr_format(const NcAddr *addr, char *buf, gsize len)
{
    if (!addr->family || !inet_ntop(addr->family, addr->bytes, buf, len))
        g_strlcpy(buf, "?", len);
}

/**
 * nc_addr_to_string() - @addr as newly allocated text
 *
 * Return: (transfer full): the text; "?" for an unset address
 */
char *nc_addr_to_string(const NcAddr *addr)
{
    char buf[NC_ADDR_STRLEN];

    nc_addr_format(addr, buf, sizeof(buf));
    return g_strdup(buf);
}

gsize nc_addr_len(const NcAddr *addr)
{
    return addr->family == AF_INET6 ? 16 : 4;
}

gboolean nc_addr_equal(const NcAddr *a, const NcAddr *b)
{
    return a->family == b->family && memcmp(a->bytes, b->bytes, nc_addr_len(a)) == 0;
}

/**
 * nc_mac_parse() - six hexadecimal bytes separated by colons, either case (52:54:00:AB:cd:01)
 * @text: the text
 * @mac:  (out caller-allocates): NC_MAC_LEN bytes
 *
 * Return: TRUE if @text is exactly that
 */
gboolean nc_mac_parse(const char *text, guint8 *mac)
{
    for (guint i = 0; i < NC_MAC_LEN; i++) {
        int hi = text ? g_ascii_xdigit_value(text[3 * i]) : -1;
        int lo = hi < 0 ? -1 : g_ascii_xdigit_value(text[3 * i + 1]);

        if (lo < 0 || text[3 * i + 2] != (i < NC_MAC_LEN - 1 ? ':' : '\0'))
            return FALSE;
        mac[i] = (guint8)(hi << 4 | lo);
    }
    return TRUE;
}

/* nc_mac_format() - @mac as 52:54:00:ab:cd:01 into @buf (NC_MAC_STRLEN bytes) */
void nc_mac_format(const guint8 *mac, char *buf)
{
    g_snprintf(buf, NC_MAC_STRLEN, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3],
               mac[4], mac[5]);
}

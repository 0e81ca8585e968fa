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
 * nc_mac_parse() - six hex bytes joined by colons ("52:54:00:ab:cd:01"), nothing else
 * @text: the text
 * @mac:  (out): 6 bytes
 *
 * Return: TRUE if @text is a MAC address
 */
gboolean nc_mac_parse(const char *text, guint8 *mac)
{
    if (!text || strlen(text) != 17)
        return FALSE;
    for (guint i = 0; i < 6; i++) {
        int hi = g_ascii_xdigit_value(text[3 * i]);
        int lo = g_ascii_xdigit_value(text[3 * i + 1]);

        if (hi < 0 || lo < 0 || text[3 * i + 2] != (i < 5 ? ':' : '\0'))
            return FALSE;
        mac[i] = (guint8)(hi << 4 | lo);
    }
    return TRUE;
}

char *nc_mac_to_string(const guint8 *mac)
{
    return g_strdup_printf("%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4],
                           mac[5]);
}

/**
 * nc_prefix_parse() - "ADDRESS/LENGTH"
 * @text:  e.g. "192.0.2.0/24"
 * @out:   the prefix
 * @error: NC_ERROR_INVALID_ARG naming @text
 *
 * Return: FALSE (with @error) unless @text is an address, '/', and a length its family allows
 */
gboolean nc_prefix_parse(const char *text, NcPrefix *out, GError **error)
{
    const char *slash = text ? strchr(text, '/') : NULL;
    g_autofree char *a = slash ? g_strndup(text, (gsize)(slash - text)) : NULL;
    guint64 len = 0;

    if (!a || !nc_addr_parse(a, &out->addr, NULL) ||
        !g_ascii_string_to_unsigned(slash + 1, 10, 0, out->addr.family == AF_INET ? 32 : 128, &len,
                                    NULL)) {
        g_set_error(error, NC_ERROR, NC_ERROR_INVALID_ARG,
                    "'%s' is not an address prefix (ADDRESS/LENGTH, e.g. 192.0.2.0/24)",
                    text ? text : "");
        return FALSE;
    }
    out->len = (guint8)len;
    return TRUE;
}

/* Whether @addr is of @prefix's family and its first @prefix->len bits are the prefix's. */
gboolean nc_prefix_contains(const NcPrefix *prefix, const NcAddr *addr)
{
    guint full = prefix->len / 8, rest = prefix->len % 8;

    if (prefix->addr.family != addr->family)
        return FALSE;
    if (memcmp(prefix->addr.bytes, addr->bytes, full) != 0)
        return FALSE;
    if (rest) {
        guint8 mask = (guint8)(0xff << (8 - rest));

        return (prefix->addr.bytes[full] & mask) == (addr->bytes[full] & mask);
    }
    return TRUE;
}

/* "192.0.2.0/24" (transfer full) */
char *nc_prefix_to_string(const NcPrefix *prefix)
{
    char buf[NC_ADDR_STRLEN];

    nc_addr_format(&prefix->addr, buf, sizeof(buf));
    return g_strdup_printf("%s/%u", buf, prefix->len);
}

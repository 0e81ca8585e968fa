/* nc-addr.h - an IPv4 or IPv6 address as netcarry stores and compares it; a MAC address's text
 */
#pragma once

#include <glib.h>
#include <netinet/in.h>
#include <sys/socket.h>

G_BEGIN_DECLS

/**
 * NcAddr - one IP address, family-tagged
 * @family: AF_INET or AF_INET6 (0: unset)
 * @bytes:  network byte order; IPv4 uses the first 4 bytes, the rest are zero
 */
typedef struct {
    guint8 family;
    guint8 bytes[16];
} NcAddr;

gboolean nc_addr_parse(const char *text, NcAddr *out, GError **error);
char *nc_addr_to_string(const NcAddr *addr);
void nc_addr_format(const NcAddr *addr, char *buf, gsize len);
gboolean nc_addr_equal(const NcAddr *a, const NcAddr *b);
gsize nc_addr_len(const NcAddr *addr);

/* room for any address nc_addr_format() writes, with its NUL */
#define NC_ADDR_STRLEN INET6_ADDRSTRLEN

/* a MAC address: six bytes, written 52:54:00:ab:cd:01 (NC_MAC_STRLEN with its NUL) */
#define NC_MAC_LEN 6
#define NC_MAC_STRLEN 18
gboolean nc_mac_parse(const char *text, guint8 *mac);
void nc_mac_format(const guint8 *mac, char *buf);

G_END_DECLS

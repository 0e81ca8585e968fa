/* nc-addr.h - an IPv4 or IPv6 address as netcarry stores and compares it
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

/* A MAC address as "52:54:00:ab:cd:01" (six hex bytes, colons): parse, and print (transfer
 * full, lower case). */
/**
 * NcPrefix - an address prefix, "192.0.2.0/24" or "2001:db8::/64"
 * @addr: the address (bits past @len are kept as written; nc_prefix_contains() ignores them)
 * @len:  the prefix length: 0-32 (IPv4) or 0-128 (IPv6)
 */
typedef struct {
    NcAddr addr;
    guint8 len;
} NcPrefix;

gboolean nc_prefix_parse(const char *text, NcPrefix *out, GError **error);
gboolean nc_prefix_contains(const NcPrefix *prefix, const NcAddr *addr);
char *nc_prefix_to_string(const NcPrefix *prefix);

gboolean nc_mac_parse(const char *text, guint8 *mac);
char *nc_mac_to_string(const guint8 *mac);

/* room for any address nc_addr_format() writes, with its NUL */
#define NC_ADDR_STRLEN INET6_ADDRSTRLEN

G_END_DECLS

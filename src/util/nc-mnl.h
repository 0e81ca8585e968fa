/* nc-mnl.h - libmnl netlink sockets in a network namespace, and a bounded wait for an answer
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

struct mnl_socket;

/* A bound netlink socket of @bus (NETLINK_NETFILTER, ...) in /run/netns/@netns (NULL: the
 * caller's own namespace), with a receive buffer of *@rcvbuf bytes (forced beyond rmem_max with
 * CAP_NET_ADMIN; *@rcvbuf gets what the kernel granted) and NETLINK_CAP_ACK (error answers
 * without the echoed request: smaller, so more fit). The error names the namespace. */
struct mnl_socket *nc_mnl_open(const char *netns, int bus, int *rcvbuf, GError **error);

gboolean nc_mnl_wait_readable(struct mnl_socket *nl, int timeout_ms, const char *what,
                              const char *netns, GError **error);

struct nlmsghdr;

/**
 * NcMnlQuery - one request and its answers on a bound socket
 * @nl, @portid:  the socket and its port id
 * @rbuf, @rbuf_size: where answers are read (a dump message of the kernel is at most 32 KiB)
 * @timeout_ms:   the bound on each wait for an answer
 * @subsystem:    the kernel's side, for messages ("nf_tables", "rtnetlink")
 * @netns:        the namespace's name, for messages (NULL: the caller's own)
 */
typedef struct {
    struct mnl_socket *nl;
    guint32 portid;
    char *rbuf;
    gsize rbuf_size;
    int timeout_ms;
    const char *subsystem;
    const char *netns;
} NcMnlQuery;

gboolean nc_mnl_query(const NcMnlQuery *q, guint32 seq, struct nlmsghdr *nlh,
                      int (*cb)(const struct nlmsghdr *nlh, void *data), gpointer data,
                      const char *what, int *errnum, GError **error);

/* Starts an nfnetlink message in @buf (MNL_SOCKET_BUFFER_SIZE at least): @type is (subsystem << 8)
 * | message, with NLM_F_REQUEST | @flags, and its nfgenmsg header (@family, version 0, @res_id in
 * network order: the subsystem for batch markers, else 0). */
struct nlmsghdr *nc_mnl_put_nfnl(char *buf, guint16 type, guint8 family, guint16 flags, guint32 seq,
                                 guint16 res_id);

G_END_DECLS

/* nc-mnl.c - libmnl netlink sockets in a network namespace, and a bounded wait for an answer
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>

#include "nc-error.h"
#include "nc-mnl.h"
#include "nc-netns.h"

/**
 * nc_mnl_open() - a bound libmnl netlink socket in a network namespace
 * @netns:  a name under /run/netns, or NULL for the caller's namespace
 * @bus:    the netlink family (NETLINK_NETFILTER, ...)
 * @rcvbuf: (inout): the receive buffer wanted; what the kernel granted
 * @error:  NC_ERROR_NOT_FOUND (no such namespace), NC_ERROR_PERMISSION, NC_ERROR_IO, ...
 *
 * Return: (transfer full): the socket (mnl_socket_close() it), or NULL
 */
struct mnl_socket *nc_mnl_open(const char *netns, int bus, int *rcvbuf, GError **error)
{
    int fd, one = 1;
    socklen_t len = sizeof(*rcvbuf);
    struct mnl_socket *nl;

    fd = nc_netns_socket(netns, AF_NETLINK, SOCK_RAW, bus, error);
    if (fd < 0)
        return NULL;
    nl = mnl_socket_fdopen(fd);
    if (!nl) {
        int saved = errno;

        close(fd);
        g_set_error(error, NC_ERROR, NC_ERROR_IO, "cannot set up the netlink socket: %s",
                    g_strerror(saved));
        return NULL;
    }
    if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
        int saved = errno;

        mnl_socket_close(nl);
        g_set_error(error, NC_ERROR, nc_error_code_from_errno(saved),
                    "cannot bind a netlink socket in network namespace %s: %s",
                    netns ? netns : "(own)", g_strerror(saved));
        return NULL;
    }
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, rcvbuf, sizeof(*rcvbuf)) < 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, rcvbuf, sizeof(*rcvbuf));
    if (getsockopt(fd, SOL_SOCKET, SO_RCVBUF, rcvbuf, &len) < 0)
        *rcvbuf = 212992;
    setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
    return nl;
}

/**
 * nc_mnl_wait_readable() - wait until the kernel answered on @nl, at most @timeout_ms
 * @nl:         the socket
 * @timeout_ms: the bound
 * @what:       the netlink subsystem, for the error ("ctnetlink", "nf_tables")
 * @netns:      the namespace's name, for the error (NULL: the caller's own)
 * @error:      NC_ERROR_TIMEOUT naming both
 *
 * Return: TRUE when readable
 */
gboolean nc_mnl_wait_readable(struct mnl_socket *nl, int timeout_ms, const char *what,
                              const char *netns, GError **error)
{
    struct pollfd p = {.fd = mnl_socket_get_fd(nl), .events = POLLIN};
    int r;

    do
        r = poll(&p, 1, timeout_ms);
    while (r < 0 && errno == EINTR);
    if (r == 0) {
        g_set_error(error, NC_ERROR, NC_ERROR_TIMEOUT,
                    "the kernel did not answer on %s in network namespace %s within %d ms", what,
                    netns ? netns : "(own)", timeout_ms);
        return FALSE;
    }
    return TRUE;
}

struct nlmsghdr *nc_mnl_put_nfnl(char *buf, guint16 type, guint8 family, guint16 flags, guint32 seq,
                                 guint16 res_id)
{
    struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
    struct nfgenmsg *nfg;

    nlh->nlmsg_type = type;
    nlh->nlmsg_flags = NLM_F_REQUEST | flags;
    nlh->nlmsg_seq = seq;
    nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
    nfg->nfgen_family = family;
    nfg->version = NFNETLINK_V0;
    nfg->res_id = htons(res_id);
    return nlh;
}

/**
 * nc_mnl_query() - send one request (a dump if it has NLM_F_DUMP) and feed every answer to @cb
 * until NLMSG_DONE or the ACK (NLM_F_ACK is always set, so a plain request ends with an answer
 * whatever happens)
 * @q:      the socket and how to wait
 * @seq:    the request's sequence number
 * @nlh:    the request
 * @cb:     called for each message; MNL_CB_ERROR stops with NC_ERROR_INVALID_DATA
 * @data:   for @cb
 * @what:   what is asked, for the error ("set inet/fw/authed")
 * @errnum: (out) (optional): the kernel's errno on failure (ENOENT: not there), else 0
 * @error:  NC_ERROR_NOT_FOUND for ENOENT, else the errno's code, naming @what and the namespace
 *
 * Return: TRUE if the kernel answered without error
 */
gboolean nc_mnl_query(const NcMnlQuery *q, guint32 seq, struct nlmsghdr *nlh,
                      int (*cb)(const struct nlmsghdr *nlh, void *data), gpointer data,
                      const char *what, int *errnum, GError **error)
{
    const char *ns = q->netns ? q->netns : "(own)";
    int r;

    if (errnum)
        *errnum = 0;
    nlh->nlmsg_seq = seq;
    nlh->nlmsg_flags |= NLM_F_ACK;
    if (mnl_socket_sendto(q->nl, nlh, nlh->nlmsg_len) < 0) {
        int saved = errno;

        g_set_error(error, NC_ERROR, nc_error_code_from_errno(saved),
                    "cannot send the request for %s (%s) in network namespace %s: %s", what,
                    q->subsystem, ns, g_strerror(saved));
        return FALSE;
    }
    do {
        ssize_t n;

        if (!nc_mnl_wait_readable(q->nl, q->timeout_ms, q->subsystem, q->netns, error))
            return FALSE;
        n = mnl_socket_recvfrom(q->nl, q->rbuf, q->rbuf_size);
        if (n < 0) {
            int saved = errno;

            g_set_error(error, NC_ERROR, NC_ERROR_IO,
                        "reading the answer for %s (%s) in network namespace %s: %s", what,
                        q->subsystem, ns, g_strerror(saved));
            return FALSE;
        }
        r = mnl_cb_run(q->rbuf, n, seq, q->portid, cb, data);
    } while (r > MNL_CB_STOP);
    if (r < 0) {
        int saved = errno;

        if (errnum)
            *errnum = saved;
        if (saved == ENOENT)
            g_set_error(error, NC_ERROR, NC_ERROR_NOT_FOUND,
                        "%s does not exist in network namespace %s", what, ns);
        else
            g_set_error(error, NC_ERROR,
                        saved ? nc_error_code_from_errno(saved) : NC_ERROR_INVALID_DATA,
                        "%s (%s) in network namespace %s: %s", what, q->subsystem, ns,
                        saved ? g_strerror(saved) : "an answer that does not decode");
        return FALSE;
    }
    return TRUE;
}

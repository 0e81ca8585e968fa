/* nc-nft-nl.h - nf_tables over netlink (libmnl): a socket in a namespace, requests, dumps and
 * all-or-nothing batches, shared by the nft set and object drivers
 */
#pragma once

#include <glib.h>

#include <libmnl/libmnl.h>

#include "conf/nc-nft-items.h"

G_BEGIN_DECLS

typedef struct NcNftNl NcNftNl;

NcNftNl *nc_nft_nl_open(const char *netns, GError **error);
void nc_nft_nl_close(NcNftNl *nl);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(NcNftNl, nc_nft_nl_close)
const char *nc_nft_nl_netns(const NcNftNl *nl); /* "(own)" for the caller's namespace */

/* Starts a request of nf_tables message @type (NFT_MSG_*) in @buf (MNL_SOCKET_BUFFER_SIZE at
 * least) for @family, with NLM_F_REQUEST | @flags. */
struct nlmsghdr *nc_nft_nl_request(char *buf, guint16 type, guint8 family, guint16 flags,
                                   guint32 seq);

/**
 * nc_nft_nl_query() - send one GET request (a dump if it has NLM_F_DUMP) and feed every answer
 * to @cb
 * @nl:   the socket
 * @nlh:  the request (nc_nft_nl_request())
 * @cb:   called for each message; MNL_CB_ERROR stops with NC_ERROR_INVALID_DATA
 * @data: for @cb
 * @what: what is asked, for the error ("set inet/fw/authed")
 * @errnum: (out) (optional): the kernel's errno on failure (ENOENT: not there), else 0
 * @error: NC_ERROR_NOT_FOUND for ENOENT, else the errno's code, naming @what and the namespace
 *
 * Return: TRUE if the kernel answered without error
 */
gboolean nc_nft_nl_query(NcNftNl *nl, struct nlmsghdr *nlh, mnl_cb_t cb, gpointer data,
                         const char *what, int *errnum, GError **error);

/**
 * NcNftBatch - messages that the kernel applies as one nf_tables transaction: all or nothing
 */
typedef struct NcNftBatch NcNftBatch;

NcNftBatch *nc_nft_batch_new(NcNftNl *nl);
void nc_nft_batch_free(NcNftBatch *batch);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(NcNftBatch, nc_nft_batch_free)

/* Starts the next message of the batch (NLM_F_REQUEST | NLM_F_ACK | @flags); at most
 * NC_NFT_MSG_MAX bytes may be put into it. @what (copied) names it in an error. */
struct nlmsghdr *nc_nft_batch_add(NcNftBatch *batch, guint16 type, guint8 family, guint16 flags,
                                  const char *what);
/* room one message may take: its attribute nests have 16-bit lengths */
#define NC_NFT_MSG_MAX 60000
guint nc_nft_batch_count(const NcNftBatch *batch);

/**
 * nc_nft_batch_commit() - send the batch and wait for every answer
 * @batch: the batch (consumed: it cannot be committed twice)
 * @errnum: (out) (optional): errno of the first message the kernel refused, else 0
 * @error: the first refusal, naming its message's @what and the namespace; nothing was applied
 *
 * Return: TRUE if the kernel applied the whole batch
 */
gboolean nc_nft_batch_commit(NcNftBatch *batch, int *errnum, GError **error);

/* Attribute helpers: network-order integers as nf_tables sends them. */
guint64 nc_nft_attr_be64(const struct nlattr *attr);
guint32 nc_nft_attr_be32(const struct nlattr *attr);
/* Parses the attributes nested in @nest into @tb (max @max); FALSE if malformed. */
gboolean nc_nft_attr_nested(const struct nlattr *nest, const struct nlattr **tb, int max);
/* Parses a message's attributes after its nfgenmsg header into @tb (max @max). */
gboolean nc_nft_msg_attrs(const struct nlmsghdr *nlh, const struct nlattr **tb, int max);
guint8 nc_nft_msg_family(const struct nlmsghdr *nlh);

G_END_DECLS

/* nc-peer.h - the TLS link between two netcarryd that carries a migrating domain's state
 * Server (destination) and client (source) on the GLib main loop; protocol in nc-peer-proto.c.
 */
#pragma once

#include <gio/gio.h>

#include "nc-peer-proto.h"

G_BEGIN_DECLS

/* defaults; the daemon passes NcConfig's values */
#define NC_PEER_DEFAULT_CONNECT_TIMEOUT_MS 3000 /* TCP connect, and again the TLS handshake */
#define NC_PEER_DEFAULT_IO_TIMEOUT_MS 5000      /* one frame's read or write, once begun */
#define NC_PEER_DEFAULT_IDLE_TIMEOUT_MS 5000    /* server: the longest wait for the next frame */
#define NC_PEER_FINISHED_TIMEOUT_MS 60000       /* server: after its ACK, the wait for FINISHED */
#define NC_PEER_DEFAULT_SEAL_TIMEOUT_MS 2000    /* client: SEAL sent -> ACK received */
/* TLS 1.3 only, GnuTLS's NORMAL otherwise; the syntax of libvirt's tls_priority */
#define NC_PEER_DEFAULT_TLS_PRIORITY "NORMAL:-VERS-ALL:+VERS-TLS1.3"
/* libvirt's certificate revocation list: honoured when the file exists */
#define NC_PEER_DEFAULT_CRL_FILE "/etc/pki/CA/cacrl.pem"

gboolean nc_peer_tls_set_priority(const char *priority, GError **error);

typedef struct _NcPeerServer NcPeerServer;
typedef struct _NcPeerSession NcPeerSession;
typedef struct _NcPeerClient NcPeerClient;

/**
 * NcPeerMessageFunc - the daemon's say on each message a client sent (server side)
 * @session:   the connection; its remote address, certificate subject and HELLO identify the peer
 * @msg:       the decoded, validated message (HELLO, STATE, SEAL or FINISHED; order already
 *             checked)
 * @user_data: as given to nc_peer_server_set_handlers()
 *
 * Called on the main loop; must not block long (a chunk's install is fine). For a HELLO: return
 * NULL to accept (the server answers with its own HELLO) or an ABORT to refuse (e.g. "this domain
 * is not migrating here from this host"). For a STATE: NULL to go on, or an ABORT. For a SEAL: an
 * ACK or an ABORT (NULL is answered with ABORT "internal"). For a FINISHED (version 2, after a
 * good ACK): the answer is ignored (NULL); the session then ends. Whatever ends the exchange is
 * sent, then the connection closes.
 *
 * Return: (transfer full) (nullable): the answer
 */
typedef NcPeerMsg *(*NcPeerMessageFunc)(NcPeerSession *session, const NcPeerMsg *msg,
                                        gpointer user_data);

/**
 * NcPeerClosedFunc - a session ended; called once per session that passed the TCP accept
 * @session: the connection (valid during the call only)
 * @error:   NULL if the exchange ended well: with an ACK that said "installed" and, in a
 *           version 2 session, then the source's FINISHED; otherwise why it ended (after a good
 *           ACK: the source's FINISHED did not come, NC_ERROR_TIMEOUT or NC_ERROR_IO):
 * NC_ERROR_PERMISSION (handshake: bad or no certificate), NC_ERROR_TIMEOUT, NC_ERROR_UNSUPPORTED
 * (version), NC_ERROR_INVALID_DATA (garbage), NC_ERROR_IO, NC_ERROR_FAILED (the daemon or the
 * source aborted)
 */
typedef void (*NcPeerClosedFunc)(NcPeerSession *session, const GError *error, gpointer user_data);

NcPeerServer *nc_peer_server_new(const char *ca_file, const char *cert_file, const char *key_file,
                                 GError **error);
void nc_peer_server_set_handlers(NcPeerServer *server, NcPeerMessageFunc message_func,
                                 NcPeerClosedFunc closed_func, gpointer user_data);
void nc_peer_server_adopt(NcPeerServer *server, GSocketConnection *conn);
gboolean nc_peer_server_set_crl(NcPeerServer *server, const char *crl_file, const char *ca_file,
                                GError **error);
void nc_peer_server_set_timeouts(NcPeerServer *server, guint handshake_ms, guint io_ms,
                                 guint idle_ms);
void nc_peer_server_set_host_name(NcPeerServer *server, const char *host);
gboolean nc_peer_server_listen(NcPeerServer *server, const char *address, guint16 port,
                               guint16 *bound_port, GError **error);
void nc_peer_server_free(NcPeerServer *server);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(NcPeerServer, nc_peer_server_free)

const char *nc_peer_session_get_remote(NcPeerSession *session);
const char *nc_peer_session_get_peer_subject(NcPeerSession *session);
const NcPeerHello *nc_peer_session_get_hello(NcPeerSession *session);
void nc_peer_session_set_secret(NcPeerSession *session, const char *secret);
void nc_peer_session_set_classes(NcPeerSession *session, const char *const *classes);
guint32 nc_peer_session_get_version(NcPeerSession *session);
guint nc_peer_session_get_chunks(NcPeerSession *session);

/**
 * NcPeerClientFailedFunc - the link to the destination broke while no call was waiting on it
 * (e.g. the destination sent ABORT during pre-copy); the client is unusable afterwards
 */
typedef void (*NcPeerClientFailedFunc)(NcPeerClient *client, const GError *error,
                                       gpointer user_data);

void nc_peer_client_connect_stream_async(NcPeerClient *client, GSocketConnection *conn,
                                         const char *domain_uuid, GCancellable *cancellable,
                                         GAsyncReadyCallback callback, gpointer user_data);
void nc_peer_client_set_seal_steps(NcPeerClient *client, const NcPeerSealStep *steps, guint n);
void nc_peer_client_set_seal_classes(NcPeerClient *client, GArray *sums);
guint32 nc_peer_client_get_version(NcPeerClient *client);
gboolean nc_peer_client_send_items(NcPeerClient *client, const NcPeerItems *items, GError **error);
NcPeerClient *nc_peer_client_new(const char *ca_file, const char *cert_file, const char *key_file,
                                 GError **error);
void nc_peer_client_set_timeouts(NcPeerClient *client, guint connect_ms, guint io_ms);
gboolean nc_peer_client_set_crl(NcPeerClient *client, const char *crl_file, const char *ca_file,
                                GError **error);
void nc_peer_client_set_host_name(NcPeerClient *client, const char *host);
void nc_peer_client_set_versions(NcPeerClient *client, guint32 version, guint32 compat_version);
void nc_peer_client_set_failed_func(NcPeerClient *client, NcPeerClientFailedFunc func,
                                    gpointer user_data);
void nc_peer_client_connect_async(NcPeerClient *client, const char *host, guint16 port,
                                  const char *domain_uuid, GCancellable *cancellable,
                                  GAsyncReadyCallback callback, gpointer user_data);
gboolean nc_peer_client_connect_finish(NcPeerClient *client, GAsyncResult *result, GError **error);
const NcPeerHello *nc_peer_client_get_peer_hello(NcPeerClient *client);
const char *nc_peer_client_get_peer_subject(NcPeerClient *client);
const char *nc_peer_client_get_remote(NcPeerClient *client);
void nc_peer_client_abort(NcPeerClient *client, NcPeerAbortCode code, const char *reason);
gboolean nc_peer_client_send_state(NcPeerClient *client, GArray *upserts, GArray *deletes,
                                   GError **error);
guint nc_peer_client_backlog(const NcPeerClient *client);
void nc_peer_client_seal_async(NcPeerClient *client, guint64 count, const NcDigest *digest,
                               guint timeout_ms, GCancellable *cancellable,
                               GAsyncReadyCallback callback, gpointer user_data);
NcPeerAck *nc_peer_client_seal_finish(NcPeerClient *client, GAsyncResult *result, GError **error);
gboolean nc_peer_client_send_finished(NcPeerClient *client, const NcPeerFinished *finished,
                                      GError **error);
void nc_peer_client_free(NcPeerClient *client);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(NcPeerClient, nc_peer_client_free)

void nc_peer_ack_free(NcPeerAck *ack);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(NcPeerAck, nc_peer_ack_free)

G_END_DECLS

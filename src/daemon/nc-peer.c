/* nc-peer.c - carry nc-peer-proto frames between two netcarryd over mutually authenticated TLS
 * Asynchronous on the thread-default GLib main context; every wait is bounded.
 *
 * Theory of operation
 * -------------------
 * The destination's netcarryd runs an NcPeerServer (a GSocketService); the source's connects
 * with an NcPeerClient, one connection per migrating domain. Both sides present an x509
 * certificate and verify the other's against the CA file (by default libvirt's PKI: hosts set up
 * for libvirt's TLS migration need nothing more). The client also checks that the server's
 * certificate names the host it dialled; the server cannot know a client's name in advance, so
 * it hands the verified certificate's subject, the remote address and the client's HELLO to the
 * daemon, which decides whether this domain is migrating here right now from that host.
 *
 * Bounds: the client's TCP connect, and then its TLS handshake, each get connect_ms; the server's
 * handshake gets handshake_ms; a frame, once its header starts to arrive, must complete within
 * io_ms, and so must each write; the server waits at most idle_ms for the next frame (the source
 * keeps a quiet pre-copy alive with empty STATE chunks); the client waits seal_ms for the ACK.
 * In a version 2 session the server, after a good ACK, waits NC_PEER_FINISHED_TIMEOUT_MS (or
 * idle_ms if longer) for FINISHED (the daemon's own wait is shorter: it frees the session at its
 * end, finish_wait_ms in nc-carry); the client sends it whenever its
 * migration ends, and does not read meanwhile (nothing more comes from the server).
 * Each bound is a timeout source that cancels the operation's GCancellable, so a timeout is told
 * apart from a cancel and reported as NC_ERROR_TIMEOUT naming what was awaited.
 *
 * Both ends share one "link": a TLS stream, a frame reader, and a write queue (the source
 * streams chunks without waiting; frames leave in order). A link that fails reports once and
 * then only closes. A side that detects a protocol error sends ABORT before closing, so the
 * other side learns why instead of seeing a bare disconnect.
 *
 * With TLS 1.3 a client finishes its handshake before the server has checked the client's
 * certificate; a server that rejects it then closes. The client therefore treats a TLS error or
 * a close while it awaits the server's HELLO as "the server refused this host's certificate".
 */
#define G_LOG_DOMAIN "netcarry-peer"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "nc-peer.h"
#include "util/nc-error.h"

/* ---- a timeout that cancels ---- */

typedef struct {
    GCancellable *cancellable;
    GSource *source;
    guint ms; /* the bound last started, for the message when it expires */
    gboolean expired;
} Timer;

static gboolean timer_fire(gpointer data)
{
    Timer *t = data;

    t->expired = TRUE;
    g_source_unref(t->source);
    t->source = NULL;
    g_cancellable_cancel(t->cancellable);
    return G_SOURCE_REMOVE;
}

static void timer_stop(Timer *t)
{
    if (t->source) {
        g_source_destroy(t->source);
        g_source_unref(t->source);
        t->source = NULL;
    }
}

/* A fresh cancellable for one operation, cancelled after @ms (0: never). */
static GCancellable *timer_start(Timer *t, guint ms)
{
    timer_stop(t);
    g_clear_object(&t->cancellable);
    t->cancellable = g_cancellable_new();
    t->ms = ms;
    t->expired = FALSE;
    if (ms) {
        t->source = g_timeout_source_new(ms);
        g_source_set_callback(t->source, timer_fire, t, NULL);
        g_source_attach(t->source, g_main_context_get_thread_default());
    }
    return t->cancellable;
}

static void timer_clear(Timer *t)
{
    timer_stop(t);
    if (t->cancellable)
        g_cancellable_cancel(t->cancellable);
    g_clear_object(&t->cancellable);
}

/* ---- TLS credentials ---- */

/* The revoked certificates in force (g_atomic_rc_box): a server's handshakes check them in GIO's
 * TLS thread, which may still run when the server that started it is freed, so each session
 * holds a reference of its own. */
typedef struct {
    gnutls_x509_crl_t *crls;
    unsigned int n;
} Crls;

static void crls_clear(Crls *l)
{
    for (unsigned int i = 0; i < l->n; i++)
        gnutls_x509_crl_deinit(l->crls[i]);
    gnutls_free(l->crls);
}

static void crls_unref(Crls *l)
{
    g_atomic_rc_box_release_full(l, (GDestroyNotify)crls_clear);
}

typedef struct {
    GTlsCertificate *cert; /* NULL: present none (tests) */
    GTlsDatabase *database;
    Crls *crls; /* checked against every peer's certificate; NULL: no CRL */
    char *crl_file;
} Creds;

static void creds_clear_crls(Creds *c)
{
    g_clear_pointer(&c->crls, crls_unref);
    g_clear_pointer(&c->crl_file, g_free);
}

static void creds_clear(Creds *c)
{
    g_clear_object(&c->cert);
    g_clear_object(&c->database);
    creds_clear_crls(c);
}

/* Read @ca_file's certificates (to check a CRL's signature with). */
static gboolean read_cas(const char *ca_file, gnutls_x509_crt_t **cas, unsigned int *n,
                         GError **error)
{
    gnutls_datum_t data = {NULL, 0};
    int rc = gnutls_load_file(ca_file, &data);

    if (rc >= 0)
        rc = gnutls_x509_crt_list_import2(cas, n, &data, GNUTLS_X509_FMT_PEM, 0);
    gnutls_free(data.data);
    if (rc < 0) {
        g_set_error(error, NC_ERROR, NC_ERROR_INVALID_ARG, "cannot read the CA certificates %s: %s",
                    ca_file, gnutls_strerror(rc));
        return FALSE;
    }
    return TRUE;
}

/**
 * creds_load_crl() - honour a certificate revocation list, as libvirt does: if @crl_file exists
 * @c:        credentials whose CA database is loaded
 * @ca_file:  the CA certificates the CRL must be signed by
 * @crl_file: PEM CRL(s), e.g. libvirt's /etc/pki/CA/cacrl.pem; a missing file means no CRL
 * @error:    NC_ERROR_INVALID_ARG for a CRL that cannot be read or that the CA did not sign (a
 *            CRL nobody can vouch for must not be silently ignored, nor trusted)
 */
static gboolean creds_load_crl(Creds *c, const char *ca_file, const char *crl_file, GError **error)
{
    gnutls_datum_t data = {NULL, 0};
    gnutls_x509_crt_t *cas = NULL;
    unsigned int n_cas = 0;
    gboolean ok = TRUE;
    Crls *l;
    int rc;

    creds_clear_crls(c);
    if (!crl_file || !g_file_test(crl_file, G_FILE_TEST_EXISTS))
        return TRUE;
    l = g_atomic_rc_box_new0(Crls);
    rc = gnutls_load_file(crl_file, &data);
    if (rc >= 0)
        rc = gnutls_x509_crl_list_import2(&l->crls, &l->n, &data, GNUTLS_X509_FMT_PEM, 0);
    gnutls_free(data.data);
    if (rc < 0) {
        g_set_error(error, NC_ERROR, NC_ERROR_INVALID_ARG,
                    "cannot read the certificate revocation list %s: %s; fix it or set [tls] "
                    "crl-file in netcarry.conf",
                    crl_file, gnutls_strerror(rc));
        l->crls = NULL;
        l->n = 0;
        crls_unref(l);
        return FALSE;
    }
    c->crls = l;
    if (!read_cas(ca_file, &cas, &n_cas, error)) {
        creds_clear_crls(c);
        return FALSE;
    }
    for (unsigned int i = 0; ok && i < l->n; i++) {
        unsigned int status = 0;

        /* the signature must be the CA's; its key usage may lack cRLSign (libvirt's own CA
         * recipe makes CAs with keyCertSign only), and a CRL can only take trust away */
        rc = gnutls_x509_crl_verify(l->crls[i], cas, n_cas, GNUTLS_VERIFY_DISABLE_CA_SIGN, &status);
        if (rc < 0 || status) {
            g_set_error(error, NC_ERROR, NC_ERROR_INVALID_ARG,
                        "the certificate revocation list %s is not signed by the CA in %s",
                        crl_file, ca_file);
            ok = FALSE;
        }
    }
    for (unsigned int i = 0; i < n_cas; i++)
        gnutls_x509_crt_deinit(cas[i]);
    gnutls_free(cas);
    if (!ok) {
        creds_clear_crls(c);
        return FALSE;
    }
    c->crl_file = g_strdup(crl_file);
    return TRUE;
}

/* Whether the CRLs @l (NULL: none) revoke @peer (a certificate that already chained to the CA). */
static gboolean crls_revoke(const Crls *l, GTlsCertificate *peer)
{
    g_autoptr(GByteArray) der = NULL;
    gnutls_x509_crt_t crt;
    gnutls_datum_t d;
    int rc;

    if (!l || !l->n || !peer)
        return FALSE;
    g_object_get(peer, "certificate", &der, NULL);
    if (!der || gnutls_x509_crt_init(&crt) < 0)
        return TRUE; /* cannot tell: refuse */
    d.data = der->data;
    d.size = der->len;
    rc = gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_DER);
    if (rc >= 0)
        rc = gnutls_x509_crt_check_revocation(crt, l->crls, l->n);
    gnutls_x509_crt_deinit(crt);
    return rc != 0; /* 1: revoked; < 0: unreadable, refused too */
}

static gboolean creds_load(Creds *c, const char *ca_file, const char *cert_file,
                           const char *key_file, GError **error)
{
    g_autoptr(GError) err = NULL;

    if (!g_tls_backend_supports_tls(g_tls_backend_get_default())) {
        g_set_error(error, NC_ERROR, NC_ERROR_UNSUPPORTED,
                    "GIO has no TLS backend: install glib-networking");
        return FALSE;
    }
    c->database = g_tls_file_database_new(ca_file, &err);
    if (!c->database) {
        g_set_error(error, NC_ERROR, NC_ERROR_INVALID_ARG,
                    "cannot load the CA certificates from %s: %s; set [tls] ca-file in "
                    "netcarry.conf",
                    ca_file, err->message);
        return FALSE;
    }
    if (cert_file) {
        c->cert = g_tls_certificate_new_from_files(cert_file, key_file, &err);
        if (!c->cert) {
            g_set_error(error, NC_ERROR, NC_ERROR_INVALID_ARG,
                        "cannot load the certificate %s with the key %s: %s; check [tls] in "
                        "netcarry.conf",
                        cert_file, key_file, err->message);
            return FALSE;
        }
    }
    return TRUE;
}

static char *cert_flags_to_string(GTlsCertificateFlags flags, const char *expected_host)
{
    GString *s = g_string_new(NULL);

    if (flags & G_TLS_CERTIFICATE_UNKNOWN_CA)
        g_string_append(s, ", not signed by the configured CA");
    if (flags & G_TLS_CERTIFICATE_BAD_IDENTITY)
        g_string_append_printf(s, ", not issued for %s",
                               expected_host ? expected_host : "the peer");
    if (flags & G_TLS_CERTIFICATE_NOT_ACTIVATED)
        g_string_append(s, ", not valid yet");
    if (flags & G_TLS_CERTIFICATE_EXPIRED)
        g_string_append(s, ", expired");
    if (flags & G_TLS_CERTIFICATE_REVOKED)
        g_string_append(s, ", revoked (in the certificate revocation list)");
    if (flags & G_TLS_CERTIFICATE_INSECURE)
        g_string_append(s, ", insecure algorithm");
    if (flags & G_TLS_CERTIFICATE_GENERIC_ERROR)
        g_string_append(s, ", invalid");
    if (!s->len) {
        g_string_free(s, TRUE);
        return NULL;
    }
    g_string_erase(s, 0, 2);
    return g_string_free(s, FALSE);
}

/* ---- TLS protocol versions and the priority string ---- */

static const char *tls_version_name(GTlsProtocolVersion v)
{
    switch (v) {
    case G_TLS_PROTOCOL_VERSION_SSL_3_0:
        return "SSL 3.0";
    case G_TLS_PROTOCOL_VERSION_TLS_1_0:
        return "TLS 1.0";
    case G_TLS_PROTOCOL_VERSION_TLS_1_1:
        return "TLS 1.1";
    case G_TLS_PROTOCOL_VERSION_TLS_1_2:
        return "TLS 1.2";
    case G_TLS_PROTOCOL_VERSION_TLS_1_3:
        return "TLS 1.3";
    default:
        return "an unknown TLS version";
    }
}

/**
 * nc_peer_tls_set_priority() - the GnuTLS priority string of every peer link in this process
 * @priority: e.g. NC_PEER_DEFAULT_TLS_PRIORITY, or libvirt's `tls_priority` value
 * @error:    NC_ERROR_INVALID_ARG naming where the string is wrong, or NC_ERROR_FAILED if a TLS
 *            connection exists already (the setting would silently not apply)
 *
 * GIO has no per-connection priority: glib-networking reads G_TLS_GNUTLS_PRIORITY once, when its
 * first connection is made, and uses it instead of its own default. So this must run before any
 * peer link (netcarryd: at start-up; tests: first thing in a fresh process).
 *
 * Return: TRUE if set
 */
gboolean nc_peer_tls_set_priority(const char *priority, GError **error)
{
    GTlsBackend *backend = g_tls_backend_get_default();
    gnutls_priority_t prio;
    const char *err_pos = NULL;
    int rc;

    rc = gnutls_priority_init2(&prio, priority, &err_pos, 0);
    if (rc < 0) {
        g_set_error(error, NC_ERROR, NC_ERROR_INVALID_ARG,
                    "TLS priority string '%s' is invalid at '%s': %s; fix [tls] priority in "
                    "netcarry.conf",
                    priority, err_pos ? err_pos : "?", gnutls_strerror(rc));
        return FALSE;
    }
    gnutls_priority_deinit(prio);
    if (g_tls_backend_supports_tls(backend) &&
        (g_type_class_peek(g_tls_backend_get_server_connection_type(backend)) ||
         g_type_class_peek(g_tls_backend_get_client_connection_type(backend))) &&
        g_strcmp0(g_getenv("G_TLS_GNUTLS_PRIORITY"), priority) != 0) {
        g_set_error(error, NC_ERROR, NC_ERROR_FAILED,
                    "the TLS priority can only be set before the first TLS connection");
        return FALSE;
    }
    g_setenv("G_TLS_GNUTLS_PRIORITY", priority, TRUE);
    return TRUE;
}

/* ---- the link: one TLS stream, a frame reader, a write queue ---- */

typedef struct _Link Link;

typedef struct {
    void (*message)(gpointer owner, NcPeerMsg *msg); /* (transfer full) */
    void (*failed)(gpointer owner, GError *error);   /* (transfer full) */
    void (*drained)(gpointer owner);                 /* the write queue is empty */
} LinkOps;

struct _Link {
    gint ref;
    GIOStream *stream;
    char *remote;
    guint io_timeout_ms;
    Timer rtimer, wtimer;
    const char *reading_what;
    guint8 header[NC_PEER_PROTO_HEADER_SIZE];
    guint8 *payload;
    guint32 plen;
    NcPeerMsgType ptype;
    GQueue wqueue; /* GBytes */
    gboolean writing;
    gboolean dead; /* failed or closed: no more callbacks */
    gboolean close_when_drained;
    const LinkOps *ops;
    gpointer owner;
    guint32 version; /* the session's codec: NC_PEER_PROTO_VERSION until negotiated */
};

static Link *link_ref(Link *l)
{
    g_atomic_int_inc(&l->ref);
    return l;
}

static void link_unref(Link *l)
{
    if (!g_atomic_int_dec_and_test(&l->ref))
        return;
    timer_clear(&l->rtimer);
    timer_clear(&l->wtimer);
    g_queue_clear_full(&l->wqueue, (GDestroyNotify)g_bytes_unref);
    g_clear_object(&l->stream);
    g_free(l->payload);
    g_free(l->remote);
    g_free(l);
}

static Link *link_new(GIOStream *stream, const char *remote, guint io_timeout_ms,
                      const LinkOps *ops, gpointer owner)
{
    Link *l = g_new0(Link, 1);

    l->ref = 1;
    l->stream = g_object_ref(stream);
    l->remote = g_strdup(remote);
    l->io_timeout_ms = io_timeout_ms;
    l->ops = ops;
    l->owner = owner;
    l->version = NC_PEER_PROTO_VERSION;
    g_queue_init(&l->wqueue);
    return l;
}

static void close_done(GObject *src, GAsyncResult *res, gpointer data)
{
    g_autoptr(GError) err = NULL;

    if (!g_io_stream_close_finish(G_IO_STREAM(src), res, &err))
        g_debug("closing a peer connection: %s", err->message);
    else
        g_debug("closed a peer connection");
}

/* Stop everything; the stream closes in the background. No callback runs afterwards. */
static void link_shutdown(Link *l)
{
    l->dead = TRUE;
    l->owner = NULL;
    timer_clear(&l->rtimer);
    timer_clear(&l->wtimer);
    if (!g_io_stream_is_closed(l->stream))
        g_io_stream_close_async(l->stream, G_PRIORITY_DEFAULT, NULL, close_done, NULL);
}

static void link_fail(Link *l, GError *error)
{
    gpointer owner = l->owner;

    if (l->dead) {
        g_error_free(error);
        return;
    }
    link_shutdown(l);
    if (owner)
        l->ops->failed(owner, error);
    else
        g_error_free(error);
}

/* Convert a GIO error from reading or writing into the house domain, naming the peer. */
static GError *io_error(Link *l, Timer *t, GError *err, const char *doing)
{
    GError *e;

    /* name the cause a reader can act on: a dead peer is not a refused certificate */
    if (t->expired)
        e = g_error_new(NC_ERROR, NC_ERROR_TIMEOUT, "%s %s: nothing within %u ms", doing, l->remote,
                        t->ms);
    else if (!err)
        e = g_error_new(NC_ERROR, NC_ERROR_IO, "%s %s: the peer closed the connection", doing,
                        l->remote);
    else if (g_error_matches(err, G_TLS_ERROR, G_TLS_ERROR_EOF))
        e = g_error_new(NC_ERROR, NC_ERROR_IO,
                        "%s %s: the peer closed the connection without ending TLS", doing,
                        l->remote);
    else if (g_error_matches(err, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED)) /* EPIPE, ECONNRESET */
        e = g_error_new(NC_ERROR, NC_ERROR_IO, "%s %s: the peer reset the connection (%s)", doing,
                        l->remote, err->message);
    else if (g_error_matches(err, G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE) ||
             g_error_matches(err, G_TLS_ERROR, G_TLS_ERROR_CERTIFICATE_REQUIRED) ||
             g_error_matches(err, G_TLS_ERROR, G_TLS_ERROR_HANDSHAKE))
        e = g_error_new(NC_ERROR, NC_ERROR_PERMISSION,
                        "%s %s: TLS: %s (did the peer refuse this host's certificate?)", doing,
                        l->remote, err->message);
    else if (err->domain == G_TLS_ERROR)
        e = g_error_new(NC_ERROR, NC_ERROR_PERMISSION, "%s %s: TLS: %s", doing, l->remote,
                        err->message);
    else
        e = g_error_new(NC_ERROR, NC_ERROR_IO, "%s %s: %s", doing, l->remote, err->message);
    return e;
}

static void link_pump(Link *l);

static void write_done(GObject *src, GAsyncResult *res, gpointer data)
{
    Link *l = data;
    g_autoptr(GError) err = NULL;
    gsize n = 0;

    g_output_stream_write_all_finish(G_OUTPUT_STREAM(src), res, &n, &err);
    timer_stop(&l->wtimer);
    l->writing = FALSE;
    if (err || l->dead) {
        if (!l->dead)
            link_fail(l, io_error(l, &l->wtimer, err, "writing to"));
        else if (l->close_when_drained && !g_io_stream_is_closed(l->stream))
            g_io_stream_close_async(l->stream, G_PRIORITY_DEFAULT, NULL, close_done, NULL);
        link_unref(l);
        return;
    }
    g_bytes_unref(g_queue_pop_head(&l->wqueue));
    link_pump(l);
    link_unref(l);
}

static void link_pump(Link *l)
{
    GBytes *frame;

    if (l->writing)
        return;
    frame = g_queue_peek_head(&l->wqueue);
    if (!frame) {
        if (l->close_when_drained) {
            link_shutdown(l);
        } else if (l->owner && l->ops->drained) {
            l->ops->drained(l->owner);
        }
        return;
    }
    if (l->dead && !l->close_when_drained)
        return;
    l->writing = TRUE;
    g_output_stream_write_all_async(g_io_stream_get_output_stream(l->stream),
                                    g_bytes_get_data(frame, NULL), g_bytes_get_size(frame),
                                    G_PRIORITY_DEFAULT, timer_start(&l->wtimer, l->io_timeout_ms),
                                    write_done, link_ref(l));
}

static void link_send(Link *l, GBytes *frame)
{
    if (l->dead && !l->close_when_drained) {
        g_bytes_unref(frame);
        return;
    }
    g_queue_push_tail(&l->wqueue, frame);
    link_pump(l);
}

/* Send @frame (may be NULL: none) as the last frame, then close; the owner hears nothing more. */
static void link_send_frame_last(Link *l, GBytes *frame)
{
    l->owner = NULL;
    l->dead = TRUE;
    l->close_when_drained = TRUE;
    timer_clear(&l->rtimer);
    if (frame)
        link_send(l, frame);
    else
        link_pump(l);
}

/* @msg in the link's version (a message the version lacks is never built for it: NULL, nothing
 * sent). (transfer full) (nullable) */
static GBytes *link_encode(Link *l, const NcPeerMsg *msg)
{
    return nc_peer_msg_encode_version(msg, l->version, NULL);
}

static void link_send_msg(Link *l, const NcPeerMsg *msg)
{
    GBytes *frame = link_encode(l, msg);

    if (frame)
        link_send(l, frame);
}

static void link_send_last(Link *l, const NcPeerMsg *msg)
{
    link_send_frame_last(l, link_encode(l, msg));
}

static void link_read(Link *l, guint wait_ms, const char *what);

static void payload_done(GObject *src, GAsyncResult *res, gpointer data)
{
    Link *l = data;
    g_autoptr(GError) err = NULL;
    gsize n = 0;
    NcPeerMsg *msg;

    g_input_stream_read_all_finish(G_INPUT_STREAM(src), res, &n, &err);
    timer_stop(&l->rtimer);
    if (l->dead) {
        link_unref(l);
        return;
    }
    if (err || n < l->plen) {
        link_fail(l, io_error(l, &l->rtimer, err, "reading from"));
        link_unref(l);
        return;
    }
    msg = nc_peer_msg_decode_version(l->version, l->ptype, l->payload, l->plen, &err);
    g_clear_pointer(&l->payload, g_free);
    if (!msg) {
        g_autoptr(NcPeerMsg) abort_ = nc_peer_msg_new_abort(NC_PEER_ABORT_PROTOCOL, err->message);
        GError *e =
            g_error_new(NC_ERROR, NC_ERROR_INVALID_DATA, "from %s: %s", l->remote, err->message);
        gpointer owner = l->owner;

        link_send_last(l, abort_);
        if (owner)
            l->ops->failed(owner, e);
        else
            g_error_free(e);
        link_unref(l);
        return;
    }
    if (l->owner)
        l->ops->message(l->owner, msg);
    else
        nc_peer_msg_free(msg);
    link_unref(l);
}

static void header_done(GObject *src, GAsyncResult *res, gpointer data)
{
    Link *l = data;
    g_autoptr(GError) err = NULL;
    gsize n = 0;

    g_input_stream_read_all_finish(G_INPUT_STREAM(src), res, &n, &err);
    timer_stop(&l->rtimer);
    if (l->dead) {
        link_unref(l);
        return;
    }
    if (err || n < NC_PEER_PROTO_HEADER_SIZE) {
        g_autofree char *doing = g_strdup_printf("waiting for %s from", l->reading_what);

        link_fail(l, io_error(l, &l->rtimer, err, doing));
        link_unref(l);
        return;
    }
    if (!nc_peer_header_parse(l->header, &l->ptype, &l->plen, &err)) {
        g_autoptr(NcPeerMsg) abort_ = nc_peer_msg_new_abort(NC_PEER_ABORT_PROTOCOL, err->message);
        GError *e =
            g_error_new(NC_ERROR, NC_ERROR_INVALID_DATA, "from %s: %s", l->remote, err->message);
        gpointer owner = l->owner;

        link_send_last(l, abort_);
        if (owner)
            l->ops->failed(owner, e);
        else
            g_error_free(e);
        link_unref(l);
        return;
    }
    l->payload = g_malloc(l->plen ? l->plen : 1);
    g_input_stream_read_all_async(g_io_stream_get_input_stream(l->stream), l->payload, l->plen,
                                  G_PRIORITY_DEFAULT, timer_start(&l->rtimer, l->io_timeout_ms),
                                  payload_done, l);
}

/* Read the next frame; its header must start within @wait_ms (0: wait without bound). */
static void link_read(Link *l, guint wait_ms, const char *what)
{
    if (l->dead)
        return;
    l->reading_what = what;
    g_input_stream_read_all_async(g_io_stream_get_input_stream(l->stream), l->header,
                                  sizeof(l->header), G_PRIORITY_DEFAULT,
                                  timer_start(&l->rtimer, wait_ms), header_done, link_ref(l));
}

/* A TLS connection over @base with @creds. The CA database is given at construction: a connection
 * made without one starts from the backend's default database, and glib-networking then reads
 * the system's whole CA bundle for every connection (~6 ms each on the CI machine) only for the
 * database to be replaced. @server_identity: the client's check of the server's name, or NULL. */
static GIOStream *tls_new(gboolean server, GIOStream *base, GSocketConnectable *server_identity,
                          const Creds *creds, GError **error)
{
    GTlsBackend *backend = g_tls_backend_get_default();

    if (server)
        return g_initable_new(g_tls_backend_get_server_connection_type(backend), NULL, error,
                              "base-io-stream", base, "certificate", creds->cert, "database",
                              creds->database, "authentication-mode", G_TLS_AUTHENTICATION_REQUIRED,
                              NULL);
    return g_initable_new(g_tls_backend_get_client_connection_type(backend), NULL, error,
                          "base-io-stream", base, "server-identity", server_identity, "certificate",
                          creds->cert, "database", creds->database, NULL);
}

/* Both ends, before TLS: every message of this protocol is small and waited for (TLS handshake
 * flights, the seal and its ACK in the guest's downtime), so none may sit in Nagle's buffer for
 * the peer's delayed ACK (40 ms each time: it made each handshake take ~80 ms). */
static void socket_no_delay(GSocketConnection *conn)
{
    GSocket *sock = g_socket_connection_get_socket(conn);
    g_autoptr(GError) err = NULL;

    if (g_socket_get_family(sock) != G_SOCKET_FAMILY_UNIX &&
        !g_socket_set_option(sock, IPPROTO_TCP, TCP_NODELAY, 1, &err))
        g_debug("TCP_NODELAY: %s", err->message);
}

static char *describe_address(GSocketAddress *addr)
{
    if (G_IS_INET_SOCKET_ADDRESS(addr)) {
        GInetSocketAddress *in = G_INET_SOCKET_ADDRESS(addr);
        g_autofree char *ip = g_inet_address_to_string(g_inet_socket_address_get_address(in));
        guint16 port = g_inet_socket_address_get_port(in);

        return strchr(ip, ':') ? g_strdup_printf("[%s]:%u", ip, port)
                               : g_strdup_printf("%s:%u", ip, port);
    }
    return g_strdup("(unknown)");
}

/* ---- server ---- */

struct _NcPeerServer {
    Creds creds;
    GSocketService *service;
    char *host;
    guint handshake_ms, io_ms, idle_ms;
    NcPeerMessageFunc message_func;
    NcPeerClosedFunc closed_func;
    gpointer user_data;
    GList *sessions;
};

typedef enum {
    SESSION_HANDSHAKE,
    SESSION_WANT_HELLO,
    SESSION_STREAMING,
    SESSION_WANT_FINISHED, /* version 2: ACK sent, the source's FINISHED still to come */
    SESSION_DONE,
} SessionState;

struct _NcPeerSession {
    NcPeerServer *server;
    GTlsConnection *tls;
    Link *link;
    Timer hs_timer;
    char *remote;
    char *subject;
    GTlsCertificateFlags cert_errors;
    SessionState state;
    NcPeerMsg *hello;
    guint32 version;
    guint chunks;
    char *secret;   /* for this side's HELLO (nc_peer_session_set_secret()) */
    char **classes; /* for this side's HELLO (nc_peer_session_set_classes()) */
    Crls *crls;   /* the server's at the accept: the handshake may outlive the server */
};

static void session_free(NcPeerSession *s)
{
    g_clear_pointer(&s->crls, crls_unref);
    timer_clear(&s->hs_timer);
    if (s->link) {
        if (!s->link->dead)
            link_shutdown(s->link);
        s->link->owner = NULL;
        link_unref(s->link);
    }
    g_clear_object(&s->tls);
    nc_peer_msg_free(s->hello);
    g_free(s->remote);
    g_free(s->subject);
    if (s->secret)
        explicit_bzero(s->secret, strlen(s->secret));
    g_free(s->secret);
    g_strfreev(s->classes);
    g_free(s);
}

/* The session is over: tell the daemon once, then forget it (from an idle, so that a callback
 * that runs inside the link's code never sees the session freed under it). */
static gboolean session_free_idle(gpointer data)
{
    session_free(data);
    return G_SOURCE_REMOVE;
}

/* The daemon may free the server from inside closed_func (its carry ended): so the session
 * leaves the server's list first and nothing touches the server after the call. */
static void session_end(NcPeerSession *s, GError *error)
{
    NcPeerServer *server = s->server;
    NcPeerClosedFunc closed_func;
    gpointer user_data;

    if (s->state == SESSION_DONE) {
        g_clear_error(&error);
        return;
    }
    s->state = SESSION_DONE;
    closed_func = server->closed_func;
    user_data = server->user_data;
    server->sessions = g_list_remove(server->sessions, s);
    g_idle_add(session_free_idle, s);
    if (error)
        g_info("peer session from %s ended: %s", s->remote, error->message);
    if (closed_func)
        closed_func(s, error, user_data);
    g_clear_error(&error);
}

/* After a call into the daemon: TRUE if it freed the server meanwhile (the session is then
 * over; @reply, if any, is sent as the last frame and freed). */
static gboolean session_gone(NcPeerSession *s, NcPeerMsg *reply)
{
    if (s->state != SESSION_DONE)
        return FALSE;
    if (reply)
        link_send_last(s->link, reply);
    nc_peer_msg_free(reply);
    return TRUE;
}

/* Answer and end the session; an ACK that says "installed" is the one good ending, and the
 * session then ends after the source's FINISHED. */
static void session_finish(NcPeerSession *s, NcPeerMsg *reply)
{
    GError *e = NULL;

    if (reply->type == NC_PEER_MSG_ACK && reply->ack.ok) {
        link_send_msg(s->link, reply);
        nc_peer_msg_free(reply);
        s->state = SESSION_WANT_FINISHED;
        link_read(s->link, MAX(s->server->idle_ms, NC_PEER_FINISHED_TIMEOUT_MS), "FINISHED");
        return;
    }
    if (reply->type == NC_PEER_MSG_ABORT)
        e = g_error_new(NC_ERROR, NC_ERROR_FAILED, "refused %s: %s (%s)", s->remote,
                        reply->abort.reason, nc_peer_abort_code_to_string(reply->abort.code));
    else if (reply->type == NC_PEER_MSG_ACK && !reply->ack.ok)
        e = g_error_new(NC_ERROR, NC_ERROR_FAILED, "install for %s failed: %s", s->remote,
                        reply->ack.reason);
    link_send_last(s->link, reply);
    nc_peer_msg_free(reply);
    session_end(s, e);
}

static void session_protocol_error(NcPeerSession *s, GError *e)
{
    NcPeerMsg *abort_ = nc_peer_msg_new_abort(NC_PEER_ABORT_PROTOCOL, e->message);

    link_send_last(s->link, abort_);
    nc_peer_msg_free(abort_);
    session_end(s, e);
}

static void session_on_message(gpointer owner, NcPeerMsg *msg_)
{
    g_autoptr(NcPeerMsg) msg = msg_;
    NcPeerSession *s = owner;
    NcPeerServer *server = s->server;
    NcPeerMsg *reply = NULL;
    GError *e = NULL;

    if (msg->type == NC_PEER_MSG_ABORT) {
        link_shutdown(s->link);
        session_end(s,
                    g_error_new(NC_ERROR, NC_ERROR_FAILED, "%s aborted: %s (%s)", s->remote,
                                msg->abort.reason, nc_peer_abort_code_to_string(msg->abort.code)));
        return;
    }
    if (s->state == SESSION_WANT_HELLO) {
        if (msg->type != NC_PEER_MSG_HELLO) {
            session_protocol_error(s, g_error_new(NC_ERROR, NC_ERROR_INVALID_DATA,
                                                  "%s sent %s before HELLO", s->remote,
                                                  nc_peer_msg_type_to_string(msg->type)));
            return;
        }
        if (!nc_peer_hello_negotiate(&msg->hello, NC_PEER_PROTO_VERSION,
                                     NC_PEER_PROTO_COMPAT_VERSION, &s->version, &e)) {
            NcPeerMsg *abort_ = nc_peer_msg_new_abort(NC_PEER_ABORT_VERSION, e->message);

            link_send_last(s->link, abort_);
            nc_peer_msg_free(abort_);
            session_end(s, e);
            return;
        }
        s->link->version = s->version;
        s->hello = g_steal_pointer(&msg);
        reply = server->message_func ? server->message_func(s, s->hello, server->user_data) : NULL;
        if (session_gone(s, reply))
            return;
        if (reply) {
            session_finish(s, reply);
            return;
        }
        reply = nc_peer_msg_new_hello(s->hello->hello.domain_uuid, server->host);
        reply->hello.secret = g_strdup(s->secret);
        reply->hello.classes = g_strdupv(s->classes);
        link_send_msg(s->link, reply);
        nc_peer_msg_free(reply);
        s->state = SESSION_STREAMING;
        link_read(s->link, server->idle_ms, "STATE or SEAL");
        return;
    }
    if (s->state == SESSION_WANT_FINISHED) {
        if (msg->type != NC_PEER_MSG_FINISHED) {
            session_protocol_error(s, g_error_new(NC_ERROR, NC_ERROR_INVALID_DATA,
                                                  "%s sent %s after the ACK", s->remote,
                                                  nc_peer_msg_type_to_string(msg->type)));
            return;
        }
        /* the last word: nothing is answered */
        reply = server->message_func ? server->message_func(s, msg, server->user_data) : NULL;
        nc_peer_msg_free(reply);
        if (session_gone(s, NULL))
            return;
        link_shutdown(s->link);
        session_end(s, NULL);
        return;
    }
    /* SESSION_STREAMING */
    if (msg->type == NC_PEER_MSG_STATE || msg->type == NC_PEER_MSG_ITEMS) {
        /* STATE chunks are numbered (the seal counts them); ITEMS are checked by their class's
         * sums in the seal */
        if (msg->type == NC_PEER_MSG_STATE && msg->state.seq != s->chunks) {
            session_protocol_error(s, g_error_new(NC_ERROR, NC_ERROR_INVALID_DATA,
                                                  "%s sent STATE chunk %u where %u was due",
                                                  s->remote, msg->state.seq, s->chunks));
            return;
        }
        if (msg->type == NC_PEER_MSG_STATE)
            s->chunks++;
        reply = server->message_func ? server->message_func(s, msg, server->user_data) : NULL;
        if (session_gone(s, reply))
            return;
        if (reply) {
            session_finish(s, reply);
            return;
        }
        link_read(s->link, server->idle_ms, "STATE or SEAL");
        return;
    }
    if (msg->type == NC_PEER_MSG_SEAL) {
        reply = server->message_func ? server->message_func(s, msg, server->user_data) : NULL;
        if (session_gone(s, reply))
            return;
        if (!reply || (reply->type != NC_PEER_MSG_ACK && reply->type != NC_PEER_MSG_ABORT)) {
            nc_peer_msg_free(reply);
            reply = nc_peer_msg_new_abort(NC_PEER_ABORT_INTERNAL,
                                          "the destination gave no answer to the seal");
        }
        session_finish(s, reply);
        return;
    }
    session_protocol_error(s, g_error_new(NC_ERROR, NC_ERROR_INVALID_DATA, "%s sent %s after HELLO",
                                          s->remote, nc_peer_msg_type_to_string(msg->type)));
}

static void session_on_failed(gpointer owner, GError *error)
{
    session_end(owner, error);
}

static const LinkOps session_link_ops = {session_on_message, session_on_failed, NULL};

static gboolean session_accept_cert(GTlsConnection *conn, GTlsCertificate *cert,
                                    GTlsCertificateFlags errors, gpointer data)
{
    NcPeerSession *s = data;

    /* glib-networking asks a server about every client certificate, flawless ones too (with
     * @errors 0), and rejects it unless a handler says yes: accept exactly the flawless ones that
     * the CRL does not revoke (GIO's database knows no CRL) */
    if (crls_revoke(s->crls, cert))
        errors |= G_TLS_CERTIFICATE_REVOKED;
    s->cert_errors = errors;
    g_clear_pointer(&s->subject, g_free);
    s->subject = g_tls_certificate_get_subject_name(cert);
    return errors == 0;
}

static void session_handshake_done(GObject *src, GAsyncResult *res, gpointer data)
{
    NcPeerSession *s = data;
    g_autoptr(GError) err = NULL;
    gboolean ok = g_tls_connection_handshake_finish(G_TLS_CONNECTION(src), res, &err);
    gboolean expired = s->hs_timer.expired;
    GTlsCertificate *peer;

    timer_clear(&s->hs_timer);
    if (s->state == SESSION_DONE) { /* the server went away meanwhile; it left @s to us */
        session_free(s);
        return;
    }
    peer = ok ? g_tls_connection_get_peer_certificate(s->tls) : NULL;
    if (!ok || !peer) {
        g_autofree char *why = cert_flags_to_string(s->cert_errors, NULL);

        if (expired)
            session_end(s, g_error_new(NC_ERROR, NC_ERROR_TIMEOUT,
                                       "TLS handshake with %s: no answer within %u ms", s->remote,
                                       s->server->handshake_ms));
        else
            session_end(s, g_error_new(NC_ERROR, NC_ERROR_PERMISSION,
                                       "TLS handshake with %s%s%s%s failed: %s%s%s", s->remote,
                                       s->subject ? " (certificate subject " : "",
                                       s->subject ? s->subject : "", s->subject ? ")" : "",
                                       !ok ? err->message : "the client sent no certificate",
                                       why ? ": its certificate is " : "", why ? why : ""));
        return;
    }
    g_free(s->subject);
    s->subject = g_tls_certificate_get_subject_name(peer);
    g_autofree char *suite = g_tls_connection_get_ciphersuite_name(s->tls); /* (transfer full) */
    g_debug("peer %s authenticated as %s (%s, %s)", s->remote, s->subject,
            tls_version_name(g_tls_connection_get_protocol_version(s->tls)), suite);
    s->link = link_new(G_IO_STREAM(s->tls), s->remote, s->server->io_ms, &session_link_ops, s);
    s->state = SESSION_WANT_HELLO;
    link_read(s->link, s->server->io_ms, "HELLO");
}

static gboolean server_incoming(GSocketService *service, GSocketConnection *conn,
                                GObject *source_object, gpointer data)
{
    NcPeerServer *server = data;
    NcPeerSession *s = g_new0(NcPeerSession, 1);
    g_autoptr(GSocketAddress) addr = g_socket_connection_get_remote_address(conn, NULL);
    g_autoptr(GError) err = NULL;
    GIOStream *tls;

    s->server = server;
    if (server->creds.crls)
        s->crls = g_atomic_rc_box_acquire(server->creds.crls);
    s->remote = addr ? describe_address(addr) : g_strdup("(unknown)");
    server->sessions = g_list_prepend(server->sessions, s);
    socket_no_delay(conn);
    tls = tls_new(TRUE, G_IO_STREAM(conn), NULL, &server->creds, &err);
    if (!tls) {
        session_end(
            s, g_error_new(NC_ERROR, NC_ERROR_FAILED, "TLS for %s: %s", s->remote, err->message));
        return TRUE;
    }
    s->tls = G_TLS_CONNECTION(tls);
    g_signal_connect(tls, "accept-certificate", G_CALLBACK(session_accept_cert), s);
    g_tls_connection_handshake_async(s->tls, G_PRIORITY_DEFAULT,
                                     timer_start(&s->hs_timer, server->handshake_ms),
                                     session_handshake_done, s);
    return TRUE;
}

/**
 * nc_peer_server_new() - a destination's listener, not yet listening
 * @ca_file:   CA certificates that a client's certificate must chain to
 * @cert_file: this host's server certificate (PEM)
 * @key_file:  its private key (PEM)
 * @error:     NC_ERROR_UNSUPPORTED without a TLS backend, NC_ERROR_INVALID_ARG for a file that
 *             cannot be loaded (named in the message)
 *
 * Return: (transfer full): the server, or NULL
 */
NcPeerServer *nc_peer_server_new(const char *ca_file, const char *cert_file, const char *key_file,
                                 GError **error)
{
    NcPeerServer *server = g_new0(NcPeerServer, 1);

    server->handshake_ms = NC_PEER_DEFAULT_CONNECT_TIMEOUT_MS;
    server->io_ms = NC_PEER_DEFAULT_IO_TIMEOUT_MS;
    server->idle_ms = NC_PEER_DEFAULT_IDLE_TIMEOUT_MS;
    server->host = g_strdup(g_get_host_name());
    if (!creds_load(&server->creds, ca_file, cert_file, key_file, error)) {
        nc_peer_server_free(server);
        return NULL;
    }
    return server;
}

/**
 * nc_peer_server_adopt() - run a receiving session over a connection the daemon dialled itself
 * @server: a server (it need not listen)
 * @conn:   a connected TCP connection; the session takes a reference
 *
 * The session is the same as for an accepted connection: TLS server handshake (this host's
 * server certificate, the peer's client certificate required), then HELLO, STATE ..., SEAL.
 * netcarryd's destination dials its source this way (nc-carry.c: the rendezvous).
 */
void nc_peer_server_adopt(NcPeerServer *server, GSocketConnection *conn)
{
    server_incoming(NULL, conn, NULL, server);
}

/**
 * nc_peer_server_set_crl() - refuse client certificates that @crl_file revokes
 * @server:   the server
 * @crl_file: (nullable): PEM CRL signed by the CA; NULL or a missing file: no CRL (as libvirt)
 * @error:    as creds_load_crl()
 */
gboolean nc_peer_server_set_crl(NcPeerServer *server, const char *crl_file, const char *ca_file,
                                GError **error)
{
    return creds_load_crl(&server->creds, ca_file, crl_file, error);
}

void nc_peer_server_set_handlers(NcPeerServer *server, NcPeerMessageFunc message_func,
                                 NcPeerClosedFunc closed_func, gpointer user_data)
{
    server->message_func = message_func;
    server->closed_func = closed_func;
    server->user_data = user_data;
}

void nc_peer_server_set_timeouts(NcPeerServer *server, guint handshake_ms, guint io_ms,
                                 guint idle_ms)
{
    server->handshake_ms = handshake_ms;
    server->io_ms = io_ms;
    server->idle_ms = idle_ms;
}

void nc_peer_server_set_host_name(NcPeerServer *server, const char *host)
{
    g_free(server->host);
    server->host = g_strdup(host);
}

/**
 * nc_peer_server_listen() - accept peers on @address:@port
 * @server:     the server
 * @address:    an IPv4 or IPv6 address ("0.0.0.0", "::", "127.0.0.1")
 * @port:       the TCP port; 0 picks a free one (tests)
 * @bound_port: (out) (optional): the port actually bound
 * @error:      NC_ERROR_INVALID_ARG for a bad address, NC_ERROR_IO if binding fails
 *
 * Return: TRUE if listening
 */
gboolean nc_peer_server_listen(NcPeerServer *server, const char *address, guint16 port,
                               guint16 *bound_port, GError **error)
{
    g_autoptr(GInetAddress) ia = g_inet_address_new_from_string(address);
    g_autoptr(GSocketAddress) sa = NULL;
    g_autoptr(GSocketAddress) effective = NULL;
    g_autoptr(GError) err = NULL;

    if (!ia) {
        g_set_error(error, NC_ERROR, NC_ERROR_INVALID_ARG,
                    "listen address '%s' is not an IPv4 or IPv6 address", address);
        return FALSE;
    }
    if (!server->service) {
        server->service = g_socket_service_new();
        g_signal_connect(server->service, "incoming", G_CALLBACK(server_incoming), server);
    }
    sa = g_inet_socket_address_new(ia, port);
    if (!g_socket_listener_add_address(G_SOCKET_LISTENER(server->service), sa, G_SOCKET_TYPE_STREAM,
                                       G_SOCKET_PROTOCOL_TCP, NULL, &effective, &err)) {
        g_set_error(error, NC_ERROR, NC_ERROR_IO, "cannot listen on %s port %u: %s", address, port,
                    err->message);
        return FALSE;
    }
    if (bound_port)
        *bound_port = g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(effective));
    g_socket_service_start(server->service);
    return TRUE;
}

void nc_peer_server_free(NcPeerServer *server)
{
    if (!server)
        return;
    if (server->service) {
        g_socket_service_stop(server->service);
        g_socket_listener_close(G_SOCKET_LISTENER(server->service));
        g_signal_handlers_disconnect_by_data(server->service, server);
        g_clear_object(&server->service);
    }
    while (server->sessions) {
        NcPeerSession *s = server->sessions->data;

        server->sessions = g_list_delete_link(server->sessions, server->sessions);
        if (s->state == SESSION_HANDSHAKE && s->hs_timer.cancellable) {
            /* the handshake callback still holds @s: let it find the session done */
            s->state = SESSION_DONE;
            g_cancellable_cancel(s->hs_timer.cancellable);
            continue;
        }
        /* maybe called from inside this session's callback into the daemon (a carry that ended
         * frees its server): the session stays valid until an idle, hears nothing more, and
         * may still send the answer it was about to send (session_gone()) */
        s->state = SESSION_DONE;
        if (s->link)
            s->link->owner = NULL;
        g_idle_add(session_free_idle, s);
    }
    creds_clear(&server->creds);
    g_free(server->host);
    g_free(server);
}

const char *nc_peer_session_get_remote(NcPeerSession *session)
{
    return session->remote;
}

const char *nc_peer_session_get_peer_subject(NcPeerSession *session)
{
    return session->subject;
}

/**
 * nc_peer_session_set_secret() - what this side's HELLO answer proves: the rendezvous secret
 * @session: a session whose client's HELLO the message function is deciding on
 * @secret:  (nullable): sent inside TLS in the answer, to the peer whose certificate the daemon
 *           has just checked; copied
 */
void nc_peer_session_set_secret(NcPeerSession *session, const char *secret)
{
    g_free(session->secret);
    session->secret = g_strdup(secret);
}

/* The classes beside conntrack this destination takes, for its HELLO answer (version 4);
 * NULL-terminated, copied. */
void nc_peer_session_set_classes(NcPeerSession *session, const char *const *classes)
{
    g_strfreev(session->classes);
    session->classes = g_strdupv((char **)classes);
}

/* The negotiated protocol version (valid once the client's HELLO was accepted). */
guint32 nc_peer_session_get_version(NcPeerSession *session)
{
    return session->version;
}

const NcPeerHello *nc_peer_session_get_hello(NcPeerSession *session)
{
    return session->hello ? &session->hello->hello : NULL;
}

guint nc_peer_session_get_chunks(NcPeerSession *session)
{
    return session->chunks;
}

/* ---- client ---- */

struct _NcPeerClient {
    Creds creds;
    char *host_name;
    guint connect_ms, io_ms;
    guint32 version, compat_version;
    NcPeerClientFailedFunc failed_func;
    gpointer failed_data;

    GSocketClient *socket_client;
    GSocketConnectable *peer_addr;
    char *remote;
    char *domain_uuid;
    GSocketConnection *conn;
    GTlsConnection *tls;
    GTlsCertificateFlags cert_errors;
    Timer timer; /* connect, handshake, seal */
    Link *link;
    GTask *connect_task;
    GTask *seal_task;
    NcPeerMsg *peer_hello;
    guint32 chunks;
    GError *failure;           /* once set, the client is unusable */
    guint pending;             /* GIO operations whose callbacks still hold the client */
    gboolean freed;            /* nc_peer_client_free() ran while @pending */
    GCancellable *cancellable; /* the caller's, for connect */
    gulong cancel_id;
    NcPeerSealStep *seal_steps; /* sent with the seal */
    guint n_seal_steps;
    GArray *seal_classes; /* NcPeerClassSum: sent with the seal (version 4) */
    gboolean acked;     /* a good ACK came; in version 2 the link stays for FINISHED */
    char *peer_subject; /* the server certificate's subject, once the handshake is done */
};

static void client_really_free(NcPeerClient *c);

/* Called first in every GIO callback that holds the client: FALSE if it was freed meanwhile. */
static gboolean client_callback_begin(NcPeerClient *c)
{
    c->pending--;
    if (c->freed) {
        if (!c->pending)
            client_really_free(c);
        return FALSE;
    }
    return TRUE;
}

void nc_peer_ack_free(NcPeerAck *ack)
{
    if (!ack)
        return;
    g_free(ack->reason);
    g_clear_pointer(&ack->classes, g_array_unref);
    g_free(ack);
}

/* Fail whatever waits (connect or seal), or tell the failed callback. Takes @error. */
static void client_fail(NcPeerClient *c, GError *error)
{
    GTask *task;

    timer_stop(&c->timer);
    if (!c->failure)
        c->failure = g_error_copy(error);
    if (c->link && !c->link->dead)
        link_shutdown(c->link);
    if ((task = g_steal_pointer(&c->connect_task)) || (task = g_steal_pointer(&c->seal_task))) {
        g_task_return_error(task, error);
        g_object_unref(task);
        return;
    }
    if (c->failed_func)
        c->failed_func(c, error, c->failed_data);
    g_error_free(error);
}

static GError *abort_error(NcPeerClient *c, const NcPeerAbort *a)
{
    NcErrorCode code = a->code == NC_PEER_ABORT_VERSION    ? NC_ERROR_UNSUPPORTED
                       : a->code == NC_PEER_ABORT_REFUSED  ? NC_ERROR_PERMISSION
                       : a->code == NC_PEER_ABORT_TIMEOUT  ? NC_ERROR_TIMEOUT
                       : a->code == NC_PEER_ABORT_PROTOCOL ? NC_ERROR_INVALID_DATA
                                                           : NC_ERROR_FAILED;

    return g_error_new(NC_ERROR, code, "netcarryd at %s aborted (%s): %s", c->remote,
                       nc_peer_abort_code_to_string(a->code), a->reason);
}

static void client_on_message(gpointer owner, NcPeerMsg *msg_)
{
    g_autoptr(NcPeerMsg) msg = msg_;
    NcPeerClient *c = owner;
    g_autoptr(GError) err = NULL;
    guint32 version;

    if (msg->type == NC_PEER_MSG_ABORT) {
        client_fail(c, abort_error(c, &msg->abort));
        return;
    }
    if (c->connect_task && msg->type == NC_PEER_MSG_HELLO) {
        GTask *task;

        timer_stop(&c->timer);
        if (!nc_peer_hello_negotiate(&msg->hello, c->version, c->compat_version, &version, &err)) {
            client_fail(c, g_steal_pointer(&err));
            return;
        }
        c->link->version = version;
        if (g_strcmp0(msg->hello.domain_uuid, c->domain_uuid) != 0) {
            client_fail(c, g_error_new(NC_ERROR, NC_ERROR_INVALID_DATA,
                                       "netcarryd at %s answered for domain %s, not %s", c->remote,
                                       msg->hello.domain_uuid, c->domain_uuid));
            return;
        }
        c->peer_hello = g_steal_pointer(&msg);
        /* from now on: wait without bound for an ABORT or the ACK (the seal has its timer) */
        link_read(c->link, 0, "ACK");
        task = g_steal_pointer(&c->connect_task);
        g_task_return_boolean(task, TRUE);
        g_object_unref(task);
        return;
    }
    if (c->seal_task && msg->type == NC_PEER_MSG_ACK) {
        NcPeerAck *ack = g_new0(NcPeerAck, 1);
        GTask *task = g_steal_pointer(&c->seal_task);

        timer_stop(&c->timer);
        ack->ok = msg->ack.ok;
        ack->installed = msg->ack.installed;
        ack->reason = g_steal_pointer(&msg->ack.reason);
        ack->classes = g_steal_pointer(&msg->ack.classes);
        c->acked = ack->ok;
        /* the link stays open (no read: the server says nothing more) for FINISHED */
        if (!ack->ok)
            link_shutdown(c->link);
        g_task_return_pointer(task, ack, (GDestroyNotify)nc_peer_ack_free);
        g_object_unref(task);
        return;
    }
    err = g_error_new(NC_ERROR, NC_ERROR_INVALID_DATA, "netcarryd at %s sent %s unexpectedly",
                      c->remote, nc_peer_msg_type_to_string(msg->type));
    {
        g_autoptr(NcPeerMsg) abort_ = nc_peer_msg_new_abort(NC_PEER_ABORT_PROTOCOL, err->message);

        link_send_last(c->link, abort_);
    }
    client_fail(c, g_steal_pointer(&err));
}

static void client_on_failed(gpointer owner, GError *error)
{
    NcPeerClient *c = owner;

    /* TLS 1.3: a server that refuses our certificate closes right after the handshake */
    if (c->connect_task && g_error_matches(error, NC_ERROR, NC_ERROR_IO)) {
        GError *e = g_error_new(NC_ERROR, NC_ERROR_PERMISSION,
                                "netcarryd at %s dropped the connection right after the TLS "
                                "handshake, so it most likely refused this host's certificate "
                                "(check that both hosts' certificates come from the CA in its "
                                "ca-file, and its log): %s",
                                c->remote, error->message);

        g_error_free(error);
        error = e;
    }
    client_fail(c, error);
}

static const LinkOps client_link_ops = {client_on_message, client_on_failed, NULL};

static gboolean client_accept_cert(GTlsConnection *conn, GTlsCertificate *cert,
                                   GTlsCertificateFlags errors, gpointer data)
{
    NcPeerClient *c = data;

    /* over an adopted connection there is no name to check: the server's certificate must only
     * chain to the CA (the server checks ours, and the daemon decides by the HELLO) */
    if (!c->peer_addr)
        errors &= ~G_TLS_CERTIFICATE_BAD_IDENTITY;
    c->cert_errors = errors;
    return errors == 0;
}

static void client_handshake_done(GObject *src, GAsyncResult *res, gpointer data)
{
    NcPeerClient *c = data;
    g_autoptr(GError) err = NULL;
    g_autoptr(NcPeerMsg) hello = NULL;
    gboolean ok = g_tls_connection_handshake_finish(G_TLS_CONNECTION(src), res, &err);

    if (!client_callback_begin(c))
        return;
    if (!ok) {
        g_autofree char *why = cert_flags_to_string(c->cert_errors, c->remote);

        if (c->timer.expired)
            client_fail(c, g_error_new(NC_ERROR, NC_ERROR_TIMEOUT,
                                       "TLS handshake with netcarryd at %s: no answer within %u "
                                       "ms",
                                       c->remote, c->connect_ms));
        else
            client_fail(c, g_error_new(NC_ERROR, NC_ERROR_PERMISSION,
                                       "TLS handshake with netcarryd at %s failed: %s%s%s",
                                       c->remote, err->message, why ? ": its certificate is " : "",
                                       why ? why : ""));
        return;
    }
    if (!c->connect_task) /* cancelled meanwhile */
        return;
    {
        GTlsCertificate *peer = g_tls_connection_get_peer_certificate(c->tls);

        g_free(c->peer_subject);
        c->peer_subject = peer ? g_tls_certificate_get_subject_name(peer) : NULL;
        /* GIO's database knows no CRL: a revoked server is refused before a byte is sent */
        if (crls_revoke(c->creds.crls, peer)) {
            client_fail(c, g_error_new(NC_ERROR, NC_ERROR_PERMISSION,
                                       "TLS handshake with netcarryd at %s (certificate subject "
                                       "%s) refused: its certificate is revoked (in %s)",
                                       c->remote, c->peer_subject ? c->peer_subject : "unknown",
                                       c->creds.crl_file));
            return;
        }
        g_autofree char *suite =
            g_tls_connection_get_ciphersuite_name(c->tls); /* (transfer full) */
        g_debug("netcarryd at %s authenticated as %s (%s, %s)", c->remote,
                c->peer_subject ? c->peer_subject : "?",
                tls_version_name(g_tls_connection_get_protocol_version(c->tls)), suite);
    }
    c->link = link_new(G_IO_STREAM(c->tls), c->remote, c->io_ms, &client_link_ops, c);
    hello = nc_peer_msg_new_hello(c->domain_uuid, c->host_name);
    hello->hello.version = c->version;
    hello->hello.compat_version = c->compat_version;
    link_send(c->link, nc_peer_msg_encode(hello, NULL));
    /* the answer is bounded by the connect timer as well */
    link_read(c->link, c->connect_ms, "HELLO");
}

static void client_start_tls(NcPeerClient *c);
static GCancellable *client_timer_start(NcPeerClient *c);

static void client_connected(GObject *src, GAsyncResult *res, gpointer data)
{
    NcPeerClient *c = data;
    g_autoptr(GError) err = NULL;
    GSocketConnection *conn = g_socket_client_connect_finish(G_SOCKET_CLIENT(src), res, &err);

    if (!client_callback_begin(c)) {
        g_clear_object(&conn);
        return;
    }
    c->conn = conn;
    if (!c->conn) {
        if (c->timer.expired)
            client_fail(c, g_error_new(NC_ERROR, NC_ERROR_TIMEOUT,
                                       "cannot reach netcarryd at %s: no answer within %u ms",
                                       c->remote, c->connect_ms));
        else if (!c->connect_task)
            return;
        else
            client_fail(c, g_error_new(NC_ERROR, NC_ERROR_NOT_FOUND,
                                       "cannot reach netcarryd at %s: %s (is netcarryd running "
                                       "there, and its port open?)",
                                       c->remote, err->message));
        return;
    }
    client_start_tls(c);
}

static void client_start_tls(NcPeerClient *c)
{
    g_autoptr(GError) err = NULL;
    GIOStream *tls;

    socket_no_delay(c->conn);
    tls = tls_new(FALSE, G_IO_STREAM(c->conn), c->peer_addr, &c->creds, &err);
    if (!tls) {
        client_fail(
            c, g_error_new(NC_ERROR, NC_ERROR_FAILED, "TLS to %s: %s", c->remote, err->message));
        return;
    }
    c->tls = G_TLS_CONNECTION(tls);
    g_signal_connect(tls, "accept-certificate", G_CALLBACK(client_accept_cert), c);
    c->pending++;
    g_tls_connection_handshake_async(c->tls, G_PRIORITY_DEFAULT, client_timer_start(c),
                                     client_handshake_done, c);
}

/**
 * nc_peer_client_new() - a source's link to one destination, not yet connected
 * @ca_file:   CA certificates that the server's certificate must chain to
 * @cert_file: this host's client certificate (PEM), or NULL to present none
 * @key_file:  its private key (PEM)
 * @error:     as nc_peer_server_new()
 *
 * Return: (transfer full): the client, or NULL
 */
NcPeerClient *nc_peer_client_new(const char *ca_file, const char *cert_file, const char *key_file,
                                 GError **error)
{
    NcPeerClient *c = g_new0(NcPeerClient, 1);

    c->connect_ms = NC_PEER_DEFAULT_CONNECT_TIMEOUT_MS;
    c->io_ms = NC_PEER_DEFAULT_IO_TIMEOUT_MS;
    c->version = NC_PEER_PROTO_VERSION;
    c->compat_version = NC_PEER_PROTO_COMPAT_VERSION;
    c->host_name = g_strdup(g_get_host_name());
    if (!creds_load(&c->creds, ca_file, cert_file, key_file, error)) {
        nc_peer_client_free(c);
        return NULL;
    }
    return c;
}

/* As nc_peer_server_set_crl(), for the server certificate a client is shown. */
gboolean nc_peer_client_set_crl(NcPeerClient *client, const char *crl_file, const char *ca_file,
                                GError **error)
{
    return creds_load_crl(&client->creds, ca_file, crl_file, error);
}

void nc_peer_client_set_timeouts(NcPeerClient *client, guint connect_ms, guint io_ms)
{
    client->connect_ms = connect_ms;
    client->io_ms = io_ms;
}

void nc_peer_client_set_host_name(NcPeerClient *client, const char *host)
{
    g_free(client->host_name);
    client->host_name = g_strdup(host);
}

/* Tests only: announce other versions than this build's. */
void nc_peer_client_set_versions(NcPeerClient *client, guint32 version, guint32 compat_version)
{
    client->version = version;
    client->compat_version = compat_version;
}

void nc_peer_client_set_failed_func(NcPeerClient *client, NcPeerClientFailedFunc func,
                                    gpointer user_data)
{
    client->failed_func = func;
    client->failed_data = user_data;
}

static void client_cancelled(GCancellable *cancellable, gpointer data)
{
    NcPeerClient *c = data;

    if (c->timer.cancellable)
        g_cancellable_cancel(c->timer.cancellable);
}

/* The connect steps' timer; a caller's cancellable that was cancelled before the step began
 * (client_cancelled had no timer to cancel then) cancels it at once. */
static GCancellable *client_timer_start(NcPeerClient *c)
{
    GCancellable *step = timer_start(&c->timer, c->connect_ms);

    if (c->cancellable && g_cancellable_is_cancelled(c->cancellable))
        g_cancellable_cancel(step);
    return step;
}

/* The start both ways of connecting share: a client connects once (else @task fails). */
static gboolean client_begin(NcPeerClient *c, GTask *task, const char *domain_uuid)
{
    g_task_set_source_tag(task, nc_peer_client_connect_async);
    if (c->socket_client || c->conn || c->failure) {
        g_task_return_new_error(task, NC_ERROR, NC_ERROR_INVALID_ARG,
                                "a peer client connects once; make a new one");
        g_object_unref(task);
        return FALSE;
    }
    c->connect_task = task;
    c->domain_uuid = g_strdup(domain_uuid);
    return TRUE;
}

/* @cancellable cancels the connect step under way (see client_timer_start()). */
static void client_watch_cancel(NcPeerClient *c, GCancellable *cancellable)
{
    if (cancellable)
        c->cancel_id = g_cancellable_connect(cancellable, G_CALLBACK(client_cancelled), c, NULL);
    c->cancellable = cancellable ? g_object_ref(cancellable) : NULL;
}

/**
 * nc_peer_client_connect_async() - connect, authenticate and exchange HELLOs
 * @client:      a new client (one connection per client)
 * @host:        the destination: a name or an address (its certificate must name it)
 * @port:        its netcarryd port
 * @domain_uuid: the migrating domain
 * @cancellable: (nullable): to give up early
 * @callback:    called on the thread-default main context when done
 * @user_data:   for @callback
 *
 * TCP connect and TLS handshake each get the connect timeout, and the HELLO answer too.
 */
void nc_peer_client_connect_async(NcPeerClient *client, const char *host, guint16 port,
                                  const char *domain_uuid, GCancellable *cancellable,
                                  GAsyncReadyCallback callback, gpointer user_data)
{
    GTask *task = g_task_new(NULL, cancellable, callback, user_data);
    NcPeerClient *c = client;

    if (!client_begin(c, task, domain_uuid))
        return;
    /* An address literal becomes a GInetSocketAddress: as a server identity it makes
     * glib-networking check the certificate's IP SAN and send no SNI (with "::1" as a
     * GNetworkAddress it sends one, and GnuTLS servers refuse it: "disallowed SNI server name") */
    if (g_hostname_is_ip_address(host))
        c->peer_addr = G_SOCKET_CONNECTABLE(g_inet_socket_address_new_from_string(host, port));
    else
        c->peer_addr = g_network_address_new(host, port);
    c->remote = strchr(host, ':') ? g_strdup_printf("[%s]:%u", host, port)
                                  : g_strdup_printf("%s:%u", host, port);
    c->socket_client = g_socket_client_new();
    /* a daemon-to-daemon link on a migration network goes direct, never through a proxy */
    g_socket_client_set_enable_proxy(c->socket_client, FALSE);
    client_watch_cancel(c, cancellable);
    c->pending++;
    g_socket_client_connect_async(c->socket_client, c->peer_addr, client_timer_start(c),
                                  client_connected, c);
}

/**
 * nc_peer_client_connect_stream_async() - as nc_peer_client_connect_async(), over a connection
 *                                         the peer dialled (the daemon accepted it)
 * @client:      a new client
 * @conn:        the connection; the client takes a reference
 * @domain_uuid: the migrating domain
 * @cancellable: (nullable): to give up early
 * @callback:    called on the thread-default main context when done
 * @user_data:   for @callback
 *
 * TLS client handshake (the server's certificate must chain to the CA; no name is checked, as
 * the client did not choose whom to dial), HELLO, each step within the connect timeout.
 */
void nc_peer_client_connect_stream_async(NcPeerClient *client, GSocketConnection *conn,
                                         const char *domain_uuid, GCancellable *cancellable,
                                         GAsyncReadyCallback callback, gpointer user_data)
{
    GTask *task = g_task_new(NULL, cancellable, callback, user_data);
    NcPeerClient *c = client;
    g_autoptr(GSocketAddress) addr = g_socket_connection_get_remote_address(conn, NULL);

    if (!client_begin(c, task, domain_uuid))
        return;
    c->remote = addr ? describe_address(addr) : g_strdup("(unknown)");
    c->conn = g_object_ref(conn);
    client_watch_cancel(c, cancellable);
    client_start_tls(c);
}

/* The source's timeline to send with the seal (copied). */
void nc_peer_client_set_seal_steps(NcPeerClient *client, const NcPeerSealStep *steps, guint n)
{
    g_free(client->seal_steps);
    client->seal_steps = n ? g_memdup2(steps, n * sizeof(*steps)) : NULL;
    client->n_seal_steps = n;
}

/* Version 4: each other class's whole set as sent in ITEMS, for the seal; (element-type
 * NcPeerClassSum) (transfer none: referenced) (nullable) */
void nc_peer_client_set_seal_classes(NcPeerClient *client, GArray *sums)
{
    g_clear_pointer(&client->seal_classes, g_array_unref);
    client->seal_classes = sums ? g_array_ref(sums) : NULL;
}

/* The negotiated protocol version, once connected (else 0). */
guint32 nc_peer_client_get_version(NcPeerClient *client)
{
    return client->peer_hello && client->link ? client->link->version : 0;
}

/* Whether state may go out now: connected, not failed, not sealing. */
static gboolean client_may_send(NcPeerClient *client, GError **error)
{
    if (client->failure) {
        g_propagate_error(error, g_error_copy(client->failure));
        return FALSE;
    }
    if (!client->peer_hello || client->seal_task || client->link->dead) {
        g_set_error(error, NC_ERROR, NC_ERROR_INVALID_ARG,
                    "no open peer connection to %s to send state on",
                    client->remote ? client->remote : "a destination");
        return FALSE;
    }
    return TRUE;
}

/**
 * nc_peer_client_send_items() - queue one ITEMS message (version 4: a class beside conntrack)
 * @client: a connected client
 * @items:  the class's items (borrowed for the encoding)
 * @error:  the link's failure, NC_ERROR_UNSUPPORTED in a session older than version 4, or
 *          NC_ERROR_INVALID_ARG (bad class name, over the size limit: send fewer items at once)
 *
 * Return: TRUE if queued
 */
gboolean nc_peer_client_send_items(NcPeerClient *client, const NcPeerItems *items, GError **error)
{
    NcPeerMsg msg = {.type = NC_PEER_MSG_ITEMS};
    GBytes *frame;

    if (!client_may_send(client, error))
        return FALSE;
    msg.items = *items;
    frame = nc_peer_msg_encode_version(&msg, client->link->version, error);
    if (!frame)
        return FALSE;
    link_send(client->link, frame);
    return TRUE;
}

/**
 * nc_peer_client_connect_finish() - the outcome of nc_peer_client_connect_async()
 * @client: the client
 * @result: as passed to the callback
 * @error:  NC_ERROR_NOT_FOUND (peer unreachable), NC_ERROR_TIMEOUT, NC_ERROR_PERMISSION
 *          (handshake failed: another CA, expired, wrong host, our certificate refused; or the
 *          daemon refused the domain), NC_ERROR_UNSUPPORTED (no common protocol version),
 *          NC_ERROR_INVALID_DATA, NC_ERROR_IO
 *
 * Return: TRUE if the destination accepted the HELLO; then send state
 */
gboolean nc_peer_client_connect_finish(NcPeerClient *client, GAsyncResult *result, GError **error)
{
    return g_task_propagate_boolean(G_TASK(result), error);
}

const NcPeerHello *nc_peer_client_get_peer_hello(NcPeerClient *client)
{
    return client->peer_hello ? &client->peer_hello->hello : NULL;
}

/* The server certificate's subject (who the client talks to), or NULL before the handshake. */
const char *nc_peer_client_get_peer_subject(NcPeerClient *client)
{
    return client->peer_subject;
}

const char *nc_peer_client_get_remote(NcPeerClient *client)
{
    return client->remote;
}

/**
 * nc_peer_client_abort() - refuse the server after its HELLO: send ABORT, then close
 * @client: a connected client (its connect finished)
 * @code:   why, for the other side's log and error
 * @reason: one line; the server's daemon shows it (e.g. in virsh's refusal)
 *
 * Nothing else is sent; the client is unusable afterwards.
 */
void nc_peer_client_abort(NcPeerClient *client, NcPeerAbortCode code, const char *reason)
{
    g_autoptr(NcPeerMsg) abort_ = nc_peer_msg_new_abort(code, reason);

    if (!client->failure)
        client->failure = g_error_new(NC_ERROR, NC_ERROR_FAILED, "refused: %s", reason);
    if (client->link && !client->link->dead)
        link_send_last(client->link, abort_);
}

/**
 * nc_peer_client_send_state() - queue one STATE chunk (it leaves in order, without waiting)
 * @client:  a connected client
 * @upserts: (element-type NcCtEntry) (nullable): entries to create or replace
 * @deletes: (element-type NcCtKey) (nullable): keys to remove
 * @error:   the link's failure if it has failed, or NC_ERROR_INVALID_ARG for an entry that
 *           cannot be encoded or a chunk over the size limit (split at NC_PEER_CHUNK_ENTRIES)
 *
 * An empty chunk keeps a quiet connection alive under the server's idle timeout.
 *
 * Return: TRUE if queued
 */
gboolean nc_peer_client_send_state(NcPeerClient *client, GArray *upserts, GArray *deletes,
                                   GError **error)
{
    g_autoptr(NcPeerMsg) msg = nc_peer_msg_new(NC_PEER_MSG_STATE);
    GBytes *frame;

    if (!client_may_send(client, error))
        return FALSE;
    msg->state.seq = client->chunks;
    /* borrow the caller's arrays for encoding */
    g_array_unref(msg->state.upserts);
    g_array_unref(msg->state.deletes);
    msg->state.upserts =
        upserts ? g_array_ref(upserts) : g_array_new(FALSE, TRUE, sizeof(NcCtEntry));
    msg->state.deletes =
        deletes ? g_array_ref(deletes) : g_array_new(FALSE, TRUE, sizeof(NcCtKey));
    frame = nc_peer_msg_encode_version(msg, client->link->version, error);
    if (!frame)
        return FALSE;
    client->chunks++;
    link_send(client->link, frame);
    return TRUE;
}

static gboolean seal_timeout(gpointer data)
{
    NcPeerClient *c = data;
    guint ms = GPOINTER_TO_UINT(g_object_get_data(G_OBJECT(c->seal_task), "nc-timeout"));

    g_source_unref(c->timer.source);
    c->timer.source = NULL;
    c->timer.expired = TRUE;
    client_fail(c,
                g_error_new(NC_ERROR, NC_ERROR_TIMEOUT,
                            "netcarryd at %s did not answer the seal within %u ms", c->remote, ms));
    return G_SOURCE_REMOVE;
}

/**
 * nc_peer_client_seal_async() - send SEAL and wait for the destination's ACK
 * @client:      a connected client
 * @count:       entries in the final set
 * @digest:      its digest (the source's sent set's: nc_item_set_digest())
 * @timeout_ms:  the longest wait for the answer, from now (the seal-ms setting)
 * @cancellable: (nullable): to give up early
 * @callback:    called when done
 * @user_data:   for @callback
 */
void nc_peer_client_seal_async(NcPeerClient *client, guint64 count, const NcDigest *digest,
                               guint timeout_ms, GCancellable *cancellable,
                               GAsyncReadyCallback callback, gpointer user_data)
{
    GTask *task = g_task_new(NULL, cancellable, callback, user_data);
    g_autoptr(NcPeerMsg) seal = nc_peer_msg_new(NC_PEER_MSG_SEAL);
    NcPeerClient *c = client;

    g_task_set_source_tag(task, nc_peer_client_seal_async);
    if (c->failure || !c->peer_hello || c->seal_task || c->link->dead) {
        if (c->failure)
            g_task_return_error(task, g_error_copy(c->failure));
        else
            g_task_return_new_error(task, NC_ERROR, NC_ERROR_INVALID_ARG,
                                    "no open peer connection to seal");
        g_object_unref(task);
        return;
    }
    seal->seal.chunks = c->chunks;
    seal->seal.count = count;
    memcpy(seal->seal.digest, digest->sum, NC_PEER_DIGEST_SIZE);
    if (c->n_seal_steps) {
        seal->seal.n_steps = c->n_seal_steps;
        seal->seal.steps = g_memdup2(c->seal_steps, c->n_seal_steps * sizeof(NcPeerSealStep));
    }
    if (c->seal_classes)
        seal->seal.classes = g_array_ref(c->seal_classes);
    c->seal_task = task;
    g_object_set_data(G_OBJECT(task), "nc-timeout", GUINT_TO_POINTER(timeout_ms));
    timer_stop(&c->timer);
    c->timer.source = g_timeout_source_new(timeout_ms);
    g_source_set_callback(c->timer.source, seal_timeout, c, NULL);
    g_source_attach(c->timer.source, g_main_context_get_thread_default());
    link_send_msg(c->link, seal);
}

/**
 * nc_peer_client_seal_finish() - the destination's answer to the seal
 * @client: the client
 * @result: as passed to the callback
 * @error:  NC_ERROR_TIMEOUT, or the destination's ABORT as an error, or the link's failure
 *
 * Return: (transfer full): the ACK (check ->ok: a failed install is an answer, not an error),
 *         or NULL
 */
NcPeerAck *nc_peer_client_seal_finish(NcPeerClient *client, GAsyncResult *result, GError **error)
{
    return g_task_propagate_pointer(G_TASK(result), error);
}

/**
 * nc_peer_client_send_finished() - the source's last word after a good ACK (version 2)
 * @client:   a client whose seal was answered with an ACK that said "installed"
 * @finished: the source's outcome, whole timeline, downtime and clean-up count (copied)
 * @error:    NC_ERROR_UNSUPPORTED if the destination speaks only version 1 (it expects nothing
 *            after the ACK), NC_ERROR_INVALID_ARG before a good ACK, or the link's failure
 *
 * Queues FINISHED and closes the link once it left; a write failure after that is not reported
 * (the destination then says in its report that the source's end is unknown).
 *
 * Return: TRUE if queued
 */
gboolean nc_peer_client_send_finished(NcPeerClient *client, const NcPeerFinished *finished,
                                      GError **error)
{
    NcPeerMsg msg = {.type = NC_PEER_MSG_FINISHED};
    GBytes *frame;

    if (client->failure) {
        g_propagate_error(error, g_error_copy(client->failure));
        return FALSE;
    }
    if (!client->acked || !client->link) {
        g_set_error(error, NC_ERROR, NC_ERROR_INVALID_ARG,
                    "FINISHED before the destination %s acknowledged the seal",
                    client->remote ? client->remote : "(none)");
        return FALSE;
    }
    if (client->link->dead) {
        g_set_error(error, NC_ERROR, NC_ERROR_IO, "the link to %s is closed", client->remote);
        return FALSE;
    }
    msg.finished = *finished; /* borrows the caller's timeline and reason for encoding */
    frame = nc_peer_msg_encode_version(&msg, client->link->version, error);
    if (!frame)
        return FALSE;
    client->acked = FALSE; /* once */
    link_send_frame_last(client->link, frame);
    return TRUE;
}

void nc_peer_client_free(NcPeerClient *client)
{
    NcPeerClient *c = client;

    if (!c)
        return;
    if (c->connect_task || c->seal_task)
        client_fail(c, g_error_new(NC_ERROR, NC_ERROR_FAILED, "the peer client was closed"));
    if (c->cancellable) {
        g_cancellable_disconnect(c->cancellable, c->cancel_id);
        g_clear_object(&c->cancellable);
    }
    timer_clear(&c->timer); /* cancels a pending connect or handshake */
    c->freed = TRUE;
    if (!c->pending)
        client_really_free(c);
}

static void client_really_free(NcPeerClient *c)
{
    if (c->link) {
        if (!c->link->dead)
            link_shutdown(c->link);
        c->link->owner = NULL;
        link_unref(c->link);
    }
    if (c->tls)
        g_signal_handlers_disconnect_by_data(c->tls, c);
    g_clear_object(&c->tls);
    g_clear_object(&c->conn);
    g_clear_object(&c->socket_client);
    g_clear_object(&c->peer_addr);
    nc_peer_msg_free(c->peer_hello);
    g_clear_error(&c->failure);
    creds_clear(&c->creds);
    g_free(c->remote);
    g_free(c->peer_subject);
    g_free(c->domain_uuid);
    g_free(c->host_name);
    g_free(c->seal_steps);
    g_clear_pointer(&c->seal_classes, g_array_unref);
    g_free(c);
}

/* Frames waiting in the link's write queue, the one being written included: a producer that can
 * wait (the source's first copy, read from the kernel's dump) reads on only while few do, so the
 * table is not copied into the queue when the link is slower than the dump. */
guint nc_peer_client_backlog(const NcPeerClient *client)
{
    return client->link ? g_queue_get_length(&client->link->wqueue) : 0;
}

/* nc-hook-server.c - netcarryd's side of the hook socket: admission at `migrate begin`, the
 * destination's tap from the start hooks, hook calls into the phase tracker, and status queries
 *
 * Theory of operation
 * -------------------
 * libvirt runs the qemu hook drop-in synchronously with the domain locked, and the drop-in
 * waits at most [timeouts] hook-ms for us (nc-hook-proto.c). So every request is answered from
 * what the daemon knows already, without calling libvirt, with one exception bounded by the
 * engine's own timeouts: the destination's `migrate begin`, where the engine checks the kernel
 * and reaches the source daemon before we say accept or refuse. That answer goes out when the
 * engine's asynchronous admission finishes (handlers.admit_async), and every other hook call is
 * served meanwhile: two migrations arriving at once are admitted side by side, neither waiting
 * for the other's source.
 *
 *   migrate begin (destination)  parse the XML libvirt is about to start (it carries the source's
 *                                live metadata, hence the rendezvous); open the destination's
 *                                phase timeline; ask the engine. Accept, or by the admission
 *                                policy refuse with its one-line reason / accept and record the
 *                                risk. A refused migration's timeline ends "failed" at once.
 *   prepare|start|started begin  only while this host is the destination of a migration of the
 *                                domain: feed the tracker, and once the XML names the tap hand it
 *                                to the engine (the gate closes on it).
 *   stopped|release end          fed to whichever side has a migration open (the source's
 *                                completion rule needs them).
 *   anything else                accepted at once: a hook must never break a VM's start or stop.
 *   netcarry-status              not a libvirt operation: `netcarry status` asks for the engine's
 *                                status text; answered with a frame of type
 *                                NC_HOOK_MSG_STATUS_ANSWER (3) whose payload is that text. The
 *                                request is an ordinary request frame, so the protocol version
 *                                stays 1; an older daemon answers type 2, which the client
 *                                reports as a daemon too old for status.
 * Each connection is read and written asynchronously on the main loop and dropped if the
 * whole exchange takes longer than hook-ms: a stuck client cannot hold the daemon.
 *
 * A long admission (the source's first copy streaming in, however large the table): while the
 * engine decides, a hook that sent the "progress" option (nc-hook-proto.c) gets a progress frame
 * every third of hook-ms, and each one gives both the hook and its connection hook-ms more. The
 * engine bounds the wait itself (a first copy that stalls for 90 % of hook-ms, admission-max-ms
 * in all: nc-carry-dest.c), so the keep-alives only say this daemon is alive and deciding. A
 * hook without the option (an older one) is still bound by hook-ms alone: at 90 % of it the
 * engine is hurried (handlers.admit_hurry) and answers with what it has, as it did before.
 * The options frame follows the request on the same socket; it is looked for (without
 * blocking) when a keep-alive is due, by which time the hook wrote it long ago.
 */
#define G_LOG_DOMAIN "netcarry-hook-server"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <gio/gio.h>
#include <gio/gunixsocketaddress.h>
#include <glib/gstdio.h>

#include "nc-hook-server.h"
#include "util/nc-error.h"

struct NcHookServer {
    const NcConfig *config;
    NcPhaseTracker *phases;
    NcHookHandlers handlers;
    gpointer user_data;
    GSocketService *service;
    char *path;
    GPtrArray *admissions; /* NcHookAdmission*: migrate begin calls the engine still decides */
};

/* One client connection: its buffers and its deadline. */
typedef struct {
    NcHookServer *server;
    GSocketConnection *conn;
    GCancellable *cancellable;
    guint timeout_id;
    guint8 header[NC_HOOK_PROTO_HEADER_SIZE];
    guint8 *payload;
    guint32 payload_len;
    GBytes *answer;
    /* a `migrate begin` the engine decides (admission_begin()) */
    char *uuid;
    gint64 started_us;
    gboolean options_read; /* the options frame was looked at for good */
    gboolean patient;      /* the hook waits on while it gets progress frames */
    guint keepalive_id, hurry_id;
} NcHookClient;

static void client_stop_waiting(NcHookClient *c)
{
    g_clear_handle_id(&c->keepalive_id, g_source_remove);
    g_clear_handle_id(&c->hurry_id, g_source_remove);
}

static void client_free(NcHookClient *c)
{
    client_stop_waiting(c);
    g_free(c->uuid);
    if (c->timeout_id)
        g_source_remove(c->timeout_id);
    g_io_stream_close(G_IO_STREAM(c->conn), NULL, NULL);
    g_object_unref(c->conn);
    g_object_unref(c->cancellable);
    g_free(c->payload);
    g_clear_pointer(&c->answer, g_bytes_unref);
    g_free(c);
}

static gboolean client_timeout(gpointer data)
{
    NcHookClient *c = data;

    g_message("hook connection took longer than %u ms; dropped",
              c->server->config->hook_timeout_ms);
    c->timeout_id = 0;
    g_clear_handle_id(&c->keepalive_id, g_source_remove);
    g_cancellable_cancel(c->cancellable);
    return G_SOURCE_REMOVE;
}

/* A frame of @type around @text (the status answer; the hook's answers use nc-hook-proto). */
static GBytes *frame_text(NcHookMsgType type, const char *text)
{
    GByteArray *b = g_byte_array_new();
    guint32 magic = GUINT32_TO_BE(NC_HOOK_PROTO_MAGIC), len = GUINT32_TO_BE(strlen(text));
    guint16 version = GUINT16_TO_BE(NC_HOOK_PROTO_VERSION), t = GUINT16_TO_BE(type);

    g_byte_array_append(b, (const guint8 *)&magic, 4);
    g_byte_array_append(b, (const guint8 *)&version, 2);
    g_byte_array_append(b, (const guint8 *)&t, 2);
    g_byte_array_append(b, (const guint8 *)&len, 4);
    g_byte_array_append(b, (const guint8 *)text, strlen(text));
    return g_byte_array_free_to_bytes(b);
}

static gboolean side_open(NcHookServer *s, const char *uuid, NcSide side)
{
    NcPhase p = nc_phase_tracker_current(s->phases, uuid, side, NULL);

    return p != NC_PHASE_NONE && !nc_phase_is_terminal(p);
}

static void feed(NcHookServer *s, NcPhaseInput input, NcSide side, const char *uuid,
                 const char *reason)
{
    NcPhaseEvent ev = {.type = input,
                       .side = side,
                       .domain = uuid,
                       .time_us = g_get_real_time(),
                       .downtime_ms = -1,
                       .reason = reason};

    nc_phase_tracker_feed(s->phases, &ev);
}

/**
 * admission_answer() - the destination's `migrate begin` answer, once the engine decided
 * @s:      the server
 * @req:    the hook call (its XML is the domain about to arrive)
 * @domain: (nullable): the domain it parsed to (NULL: @error says why not)
 * @ok:     the engine admitted it
 * @error:  why not; may be NULL
 *
 * Accept (with the learned addresses pinned), or by the admission policy refuse with the one-line
 * reason / accept and record the risk.
 *
 * Return: (transfer full): the answer
 */
static NcHookAnswer *admission_answer(NcHookServer *s, const NcHookRequest *req,
                                      const NcDomain *domain, gboolean ok, GError *error)
{
    g_autoptr(NcHookAnswer) answer = g_new0(NcHookAnswer, 1);
    g_autoptr(GError) err = error;

    if (!ok && !err)
        g_set_error_literal(&err, NC_ERROR, NC_ERROR_FAILED, "the carry engine gave no reason");
    if (ok) {
        g_message("%s/destination: migrate begin: admitted", domain->uuid);
        answer->verdict = NC_HOOK_ACCEPT;
        if (s->handlers.pin) {
            answer->xml = s->handlers.pin(s->user_data, domain, req->xml, &err);
            /* unpinned, the guest waits here for nwfilter to learn its address again, as it
             * would without netcarry: not a reason to refuse a migration that carries the rest */
            if (!answer->xml && err)
                g_warning("%s/destination: migrate begin: the learned addresses are not pinned: %s",
                          domain->uuid, err->message);
        }
        return g_steal_pointer(&answer);
    }
    if (s->config->admission == NC_ADMISSION_PROCEED) {
        g_message("%s/destination: migrate begin: %s; admitted anyway (admission = proceed)",
                  domain ? domain->uuid : req->domain, err->message);
        if (domain)
            s->handlers.admit_anyway(s->user_data, domain, err->message);
        answer->verdict = NC_HOOK_ACCEPT;
        return g_steal_pointer(&answer);
    }
    g_message("%s/destination: migrate begin: refused: %s", domain ? domain->uuid : req->domain,
              err->message);
    if (domain)
        feed(s, NC_EV_CARRY_FAILED, NC_SIDE_DESTINATION, domain->uuid, err->message);
    answer->verdict = NC_HOOK_REFUSE;
    answer->reason = g_strdup(err->message);
    return g_steal_pointer(&answer);
}

/* prepare/start/started begin and stopped/release end: feed the open side; the tap to the gate. */
static void follow(NcHookServer *s, const NcHookRequest *req, NcPhaseInput input)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(NcDomain) domain =
        nc_domain_parse_buffer(req->xml, strlen(req->xml), req->domain, &error);
    NcSide side;

    if (!domain) {
        g_debug("hook %s %s %s: XML not read (%s); ignored", req->domain, req->op, req->sub_op,
                error->message);
        return;
    }
    if (side_open(s, domain->uuid, NC_SIDE_DESTINATION))
        side = NC_SIDE_DESTINATION;
    else if (side_open(s, domain->uuid, NC_SIDE_SOURCE) &&
             (input == NC_EV_HOOK_STOPPED_END || input == NC_EV_HOOK_RELEASE_END))
        side = NC_SIDE_SOURCE;
    else
        return; /* an ordinary start or stop: not ours */
    feed(s, input, side, domain->uuid, NULL);
    if (side != NC_SIDE_DESTINATION || input == NC_EV_HOOK_STOPPED_END ||
        input == NC_EV_HOOK_RELEASE_END)
        return;
    for (guint i = 0; i < domain->interfaces->len; i++) {
        const NcDomainIface *iface = g_ptr_array_index(domain->interfaces, i);

        if (!iface->target_dev)
            continue;
        /* the engine keeps one tap per domain: the first interface that has one */
        if (!s->handlers.set_tap(s->user_data, domain->uuid, iface->target_dev, &error))
            g_warning("%s/destination: cannot hold the traffic of tap %s: %s", domain->uuid,
                      iface->target_dev, error->message);
        break;
    }
}

/* handle() - one decoded request but `migrate begin` (admission_begin()); Return: (transfer full)
 * the answer frame */
static GBytes *handle(NcHookServer *s, const NcHookRequest *req)
{
    g_autoptr(NcHookAnswer) answer = NULL;
    NcPhaseInput input;

    g_debug("hook %s %s %s %s (%zu bytes of XML)", req->domain, req->op, req->sub_op, req->extra,
            strlen(req->xml));
    if (g_str_equal(req->op, NC_HOOK_STATUS_OP)) {
        g_autofree char *text = s->handlers.status(s->user_data);

        return frame_text(NC_HOOK_MSG_STATUS_ANSWER, text ? text : "");
    }
    if (nc_phase_input_from_hook(req->op, req->sub_op, &input))
        follow(s, req, input);
    answer = g_new0(NcHookAnswer, 1);
    answer->verdict = NC_HOOK_ACCEPT;
    return nc_hook_answer_encode(answer);
}

static void written(GObject *stream, GAsyncResult *res, gpointer data);

/* Sends c->answer; the client is freed once it is written (or cannot be). */
static void client_answer(NcHookClient *c)
{
    g_output_stream_write_all_async(g_io_stream_get_output_stream(G_IO_STREAM(c->conn)),
                                    g_bytes_get_data(c->answer, NULL), g_bytes_get_size(c->answer),
                                    G_PRIORITY_DEFAULT, c->cancellable, written, c);
}

/* `migrate begin`: the engine admits asynchronously; the answer goes out when this
 * domain's admission is decided, and the main loop serves every other hook call meanwhile (two
 * migrations arriving at once are admitted side by side, neither waiting for the other's source).
 * The client stays until its answer is written: hook-ms only cancels its I/O. */
typedef struct {
    NcHookClient *client; /* NULL once the server is gone (its client with it) */
    NcHookRequest *req;
    NcDomain *domain;
} NcHookAdmission;

/* Looks (without blocking) for the options frame that a hook sends after its request. A frame
 * not yet whole is looked for again next time; anything else there means no options. */
static void client_read_options(NcHookClient *c)
{
    int fd = g_socket_get_fd(g_socket_connection_get_socket(c->conn));
    guint8 buf[NC_HOOK_PROTO_HEADER_SIZE + 64];
    g_autoptr(GError) error = NULL;
    guint32 len;
    ssize_t n;

    if (c->options_read)
        return;
    n = recv(fd, buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT);
    if (n < NC_HOOK_PROTO_HEADER_SIZE) {
        /* nothing (yet), or the hook closed its side: an older hook waits without options */
        c->options_read = n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR);
        return;
    }
    if (!nc_hook_header_parse(buf, NC_HOOK_MSG_OPTIONS, &len, &error) ||
        len > sizeof(buf) - NC_HOOK_PROTO_HEADER_SIZE) {
        g_message("hook connection: no options after the request: %s",
                  error ? error->message : "too long");
        c->options_read = TRUE;
        return;
    }
    if ((gsize)n < NC_HOOK_PROTO_HEADER_SIZE + len)
        return;
    c->options_read = TRUE;
    if (recv(fd, buf, NC_HOOK_PROTO_HEADER_SIZE + len, MSG_DONTWAIT) !=
            (ssize_t)(NC_HOOK_PROTO_HEADER_SIZE + len) ||
        !nc_hook_options_decode(buf + NC_HOOK_PROTO_HEADER_SIZE, len, &c->patient, &error))
        g_message("hook connection: options unread: %s",
                  error ? error->message : g_strerror(errno));
}

/* Every third of hook-ms while the engine decides: a hook that waits on progress hears that the
 * daemon is alive and deciding, and it and its connection get hook-ms more. */
static gboolean client_keepalive(gpointer data)
{
    NcHookClient *c = data;
    guint hook_ms = c->server->config->hook_timeout_ms;
    int fd = g_socket_get_fd(g_socket_connection_get_socket(c->conn));
    g_autofree char *text = NULL;
    g_autoptr(GBytes) frame = NULL;
    gsize len;
    const guint8 *bytes;
    ssize_t n;

    client_read_options(c);
    if (!c->patient && c->options_read) { /* an older hook: hook-ms bounds it (client_hurry()) */
        c->keepalive_id = 0;
        return G_SOURCE_REMOVE;
    }
    if (!c->patient)
        return G_SOURCE_CONTINUE;
    text = g_strdup_printf("admission of %s under way for %" G_GINT64_FORMAT " ms", c->uuid,
                           (g_get_monotonic_time() - c->started_us) / 1000);
    frame = nc_hook_progress_encode(text);
    bytes = g_bytes_get_data(frame, &len);
    /* a few dozen bytes to a hook that reads: they fit whole, or (a hook that stopped reading)
     * not at all and the connection's own bound ends it */
    n = send(fd, bytes, len, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n == (ssize_t)len) {
        g_clear_handle_id(&c->timeout_id, g_source_remove);
        c->timeout_id = g_timeout_add(hook_ms, client_timeout, c);
        return G_SOURCE_CONTINUE;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return G_SOURCE_CONTINUE;
    g_message("%s/destination: migrate begin: the hook no longer listens (%s)", c->uuid,
              n < 0 ? g_strerror(errno) : "a progress report cut short");
    c->keepalive_id = 0;
    g_cancellable_cancel(c->cancellable);
    return G_SOURCE_REMOVE;
}

/* At 90 % of hook-ms: a hook without progress reports gives up at hook-ms, so its admission is
 * decided now with what the engine knows (as it was before such reports existed). */
static gboolean client_hurry(gpointer data)
{
    NcHookClient *c = data;

    c->hurry_id = 0;
    client_read_options(c);
    if (!c->patient && c->server->handlers.admit_hurry) {
        g_message("%s/destination: migrate begin: the hook cannot wait past hook-ms (no progress "
                  "reports): deciding now",
                  c->uuid);
        c->server->handlers.admit_hurry(c->server->user_data, c->uuid);
    }
    return G_SOURCE_REMOVE;
}

static void admission_done(GObject *source, GAsyncResult *res, gpointer data)
{
    NcHookAdmission *a = data;
    NcHookServer *s = a->client ? a->client->server : NULL;
    g_autoptr(NcHookAnswer) answer = NULL;
    GError *error = NULL;
    gboolean ok;

    if (s) {
        client_stop_waiting(a->client);
        g_ptr_array_remove(s->admissions, a);
        ok = s->handlers.admit_finish(s->user_data, res, &error);
        answer = admission_answer(s, a->req, a->domain, ok, error);
        a->client->answer = nc_hook_answer_encode(answer);
        client_answer(a->client);
    }
    nc_hook_request_free(a->req);
    nc_domain_free(a->domain);
    g_free(a);
}

static void admission_begin(NcHookClient *c, NcHookRequest *req)
{
    NcHookServer *s = c->server;
    GError *error = NULL;
    NcDomain *domain = nc_domain_parse_buffer(req->xml, strlen(req->xml), req->domain, &error);
    NcHookAdmission *a;

    g_debug("hook %s %s %s %s (%zu bytes of XML)", req->domain, req->op, req->sub_op, req->extra,
            strlen(req->xml));
    if (!domain) {
        g_autoptr(NcHookAnswer) answer = admission_answer(s, req, NULL, FALSE, error);

        c->answer = nc_hook_answer_encode(answer);
        nc_hook_request_free(req);
        client_answer(c);
        return;
    }
    feed(s, NC_EV_HOOK_MIGRATE_BEGIN, NC_SIDE_DESTINATION, domain->uuid, NULL);
    a = g_new0(NcHookAdmission, 1);
    a->client = c;
    a->req = req;
    a->domain = domain;
    g_ptr_array_add(s->admissions, a);
    c->uuid = g_strdup(domain->uuid);
    c->keepalive_id = g_timeout_add(MAX(s->config->hook_timeout_ms / 3, 1), client_keepalive, c);
    c->hurry_id = g_timeout_add(s->config->hook_timeout_ms - s->config->hook_timeout_ms / 10,
                                client_hurry, c);
    s->handlers.admit_async(s->user_data, domain, admission_done, a);
}

static void written(GObject *stream, GAsyncResult *res, gpointer data)
{
    NcHookClient *c = data;
    g_autoptr(GError) error = NULL;

    if (!g_output_stream_write_all_finish(G_OUTPUT_STREAM(stream), res, NULL, &error))
        g_message("hook connection: cannot send the answer: %s", error->message);
    client_free(c);
}

static void payload_read(GObject *stream, GAsyncResult *res, gpointer data)
{
    NcHookClient *c = data;
    g_autoptr(GError) error = NULL;
    g_autoptr(NcHookRequest) req = NULL;
    gsize n;

    if (!g_input_stream_read_all_finish(G_INPUT_STREAM(stream), res, &n, &error) ||
        n != c->payload_len) {
        g_message("hook connection: request cut short: %s", error ? error->message : "EOF");
        client_free(c);
        return;
    }
    req = nc_hook_request_decode(c->payload, c->payload_len, &error);
    if (!req) {
        g_message("hook connection: %s", error->message);
        client_free(c);
        return;
    }
    if (g_str_equal(req->op, "migrate") && g_str_equal(req->sub_op, "begin")) {
        admission_begin(c, g_steal_pointer(&req));
        return;
    }
    c->answer = handle(c->server, req);
    client_answer(c);
}

static void header_read(GObject *stream, GAsyncResult *res, gpointer data)
{
    NcHookClient *c = data;
    g_autoptr(GError) error = NULL;
    gsize n;

    if (!g_input_stream_read_all_finish(G_INPUT_STREAM(stream), res, &n, &error) ||
        n != sizeof(c->header) ||
        !nc_hook_header_parse(c->header, NC_HOOK_MSG_REQUEST, &c->payload_len, &error)) {
        /* a version we do not speak: closing is the protocol's answer */
        if (error || n)
            g_message("hook connection: %s", error ? error->message : "header cut short");
        client_free(c);
        return;
    }
    c->payload = g_malloc(c->payload_len ? c->payload_len : 1);
    g_input_stream_read_all_async(G_INPUT_STREAM(stream), c->payload, c->payload_len,
                                  G_PRIORITY_DEFAULT, c->cancellable, payload_read, c);
}

static gboolean incoming(GSocketService *service, GSocketConnection *conn, GObject *source,
                         gpointer data)
{
    NcHookServer *s = data;
    NcHookClient *c = g_new0(NcHookClient, 1);

    c->server = s;
    c->conn = g_object_ref(conn);
    c->cancellable = g_cancellable_new();
    c->started_us = g_get_monotonic_time();
    c->timeout_id = g_timeout_add(s->config->hook_timeout_ms, client_timeout, c);
    g_input_stream_read_all_async(g_io_stream_get_input_stream(G_IO_STREAM(conn)), c->header,
                                  sizeof(c->header), G_PRIORITY_DEFAULT, c->cancellable,
                                  header_read, c);
    return TRUE;
}

/**
 * nc_hook_server_new() - listen on config->hook_socket (mode 0600, directory created)
 * @config:    (not owned) the socket path and hook-ms; must outlive the server
 * @phases:    (not owned) the tracker hook calls are fed into
 * @handlers:  the engine's side (copied)
 * @user_data: for @handlers
 * @error:     NC_ERROR_IO naming the path
 *
 * A stale socket left by a previous daemon is replaced; a live one (another netcarryd answers on
 * it) is an error, so two daemons never split the hook's calls.
 *
 * Return: (transfer full): the server, or NULL
 */
NcHookServer *nc_hook_server_new(const NcConfig *config, NcPhaseTracker *phases,
                                 const NcHookHandlers *handlers, gpointer user_data, GError **error)
{
    g_autoptr(NcHookServer) s = g_new0(NcHookServer, 1);
    g_autofree char *dir = g_path_get_dirname(config->hook_socket);
    g_autoptr(GSocketAddress) addr = NULL;
    g_autoptr(GError) local = NULL;
    g_autofree char *probe = NULL;

    g_return_val_if_fail(handlers->admit_async && handlers->admit_finish, NULL);
    s->config = config;
    s->phases = phases;
    s->handlers = *handlers;
    s->user_data = user_data;
    s->path = g_strdup(config->hook_socket);
    s->admissions = g_ptr_array_new();

    if (g_mkdir_with_parents(dir, 0755) < 0) {
        g_set_error(error, NC_ERROR, nc_error_code_from_errno(errno),
                    "cannot create the directory %s of the hook socket: %s", dir,
                    g_strerror(errno));
        return NULL;
    }
    probe = nc_hook_status_call(s->path, g_get_monotonic_time() + 500 * 1000, &local);
    if (probe || g_error_matches(local, NC_ERROR, NC_ERROR_TIMEOUT)) {
        g_set_error(error, NC_ERROR, NC_ERROR_EXISTS,
                    "another netcarryd answers on %s: stop it first, or set [daemon] hook-socket",
                    s->path);
        return NULL;
    }
    if (g_unlink(s->path) < 0 && errno != ENOENT) {
        g_set_error(error, NC_ERROR, nc_error_code_from_errno(errno), "cannot remove %s: %s",
                    s->path, g_strerror(errno));
        return NULL;
    }
    s->service = g_socket_service_new();
    addr = g_unix_socket_address_new(s->path);
    /* created 0600 at once (umask), not chmod-ed after: the socket admits migrations */
    mode_t old = umask(0177);
    gboolean ok =
        g_socket_listener_add_address(G_SOCKET_LISTENER(s->service), addr, G_SOCKET_TYPE_STREAM,
                                      G_SOCKET_PROTOCOL_DEFAULT, NULL, NULL, &local);
    umask(old);
    if (!ok) {
        g_set_error(error, NC_ERROR, NC_ERROR_IO, "cannot listen on the hook socket %s: %s",
                    s->path, local->message);
        return NULL;
    }
    g_signal_connect(s->service, "incoming", G_CALLBACK(incoming), s);
    g_socket_service_start(s->service);
    g_info("hook socket %s", s->path);
    return g_steal_pointer(&s);
}

/* Stops listening and removes the socket; connections in flight are dropped (the hook then
 * treats the daemon as absent, by the admission policy). */
void nc_hook_server_free(NcHookServer *s)
{
    if (!s)
        return;
    if (s->service) {
        g_socket_service_stop(s->service);
        g_socket_listener_close(G_SOCKET_LISTENER(s->service));
        g_object_unref(s->service);
        g_unlink(s->path);
    }
    /* admissions the engine still decides: their hook calls get no answer (closing is the
     * protocol's "daemon absent"), and their end finds no server */
    for (guint i = 0; s->admissions && i < s->admissions->len; i++) {
        NcHookAdmission *a = g_ptr_array_index(s->admissions, i);

        client_free(a->client);
        a->client = NULL;
    }
    g_clear_pointer(&s->admissions, g_ptr_array_unref);
    g_free(s->path);
    g_free(s);
}

/**
 * nc_hook_status_call() - ask the daemon on @socket_path for its status text
 * @socket_path: the hook socket
 * @deadline_us: g_get_monotonic_time() value at which to give up
 * @error:       NC_ERROR_NOT_FOUND (no daemon), NC_ERROR_TIMEOUT, NC_ERROR_IO,
 *               NC_ERROR_INVALID_DATA / NC_ERROR_UNSUPPORTED (a daemon that does not know status)
 *
 * Return: (transfer full): the text, or NULL
 */
char *nc_hook_status_call(const char *socket_path, gint64 deadline_us, GError **error)
{
    NcHookRequest req = {"-", NC_HOOK_STATUS_OP, "-", "-", ""};
    g_autoptr(GBytes) request = nc_hook_request_encode(&req);
    g_autoptr(GBytes) payload = NULL;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd, err;
    gboolean ok;

    if (strlen(socket_path) >= sizeof(sa.sun_path)) {
        g_set_error(error, NC_ERROR, NC_ERROR_INVALID_ARG, "socket path %s is too long",
                    socket_path);
        return NULL;
    }
    strcpy(sa.sun_path, socket_path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        g_set_error(error, NC_ERROR, NC_ERROR_IO, "socket: %s", g_strerror(errno));
        return NULL;
    }
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        err = errno;
        close(fd);
        g_set_error(error, NC_ERROR,
                    err == ENOENT || err == ECONNREFUSED ? NC_ERROR_NOT_FOUND
                                                         : nc_error_code_from_errno(err),
                    "nothing listens on %s (%s)", socket_path, g_strerror(err));
        return NULL;
    }
    ok = nc_hook_fd_write_all(fd, request, deadline_us, error) &&
         nc_hook_fd_read_frame(fd, NC_HOOK_MSG_STATUS_ANSWER, deadline_us, &payload, error);
    close(fd);
    if (!ok)
        return NULL;
    return g_strndup(g_bytes_get_data(payload, NULL), g_bytes_get_size(payload));
}

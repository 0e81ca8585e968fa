/* nc-rv-probe.c - a requester that is not a real destination, for the harness's trust scenarios
 * It dials a source's netcarryd rendezvous as anyone on the migration network could, and says on
 * one line what it got: the plain answer, and, with a certificate, what came over TLS.
 *
 *   nc-rv-probe [--hold MS] HOST PORT UUID        a stranger: request, answer, then hold silent
 *   nc-rv-probe --silent [--hold MS] HOST PORT    a stranger that sends nothing at all
 *   nc-rv-probe --ca F --cert F --key F [--secret HEX] [--wait MS] HOST PORT UUID
 *                                                 a host with a certificate (the destination's
 *                                                 role: the TLS server), presenting a secret
 * Output: answer=OK|... closed_after_ms=N (plain), or answer=... hello=0|1 chunks=N entries=N
 * end="why the session ended" (TLS). Exit 0 whenever it could ask; 2 on usage or connect errors.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gio/gio.h>

#include "nc-peer.h"

typedef struct {
    const char *secret;
    guint hellos, chunks, entries;
    gboolean closed;
    char *end;
} Probe;

static NcPeerMsg *on_message(NcPeerSession *session, const NcPeerMsg *msg, gpointer data)
{
    Probe *p = data;

    if (msg->type == NC_PEER_MSG_HELLO) {
        p->hellos++;
        nc_peer_session_set_secret(session, p->secret);
    } else if (msg->type == NC_PEER_MSG_STATE) {
        p->chunks++;
        p->entries += msg->state.upserts->len;
    }
    return NULL;
}

static void on_closed(NcPeerSession *session, const GError *error, gpointer data)
{
    Probe *p = data;

    p->closed = TRUE;
    p->end = g_strdup(error ? error->message : "ended well");
}

static gboolean tick(gpointer data)
{
    return G_SOURCE_CONTINUE;
}

int main(int argc, char **argv)
{
    g_autofree char *ca = NULL, *cert = NULL, *key = NULL, *secret = NULL;
    gint hold_ms = 3000, wait_ms = 5000;
    gboolean silent = FALSE;
    GOptionEntry entries[] = {
        {"ca", 0, 0, G_OPTION_ARG_FILENAME, &ca, "CA file (with --cert)", "F"},
        {"cert", 0, 0, G_OPTION_ARG_FILENAME, &cert, "server certificate: speak TLS", "F"},
        {"key", 0, 0, G_OPTION_ARG_FILENAME, &key, "its key", "F"},
        {"secret", 0, 0, G_OPTION_ARG_STRING, &secret, "rendezvous secret to present", "HEX"},
        {"hold", 0, 0, G_OPTION_ARG_INT, &hold_ms, "plain: hold at most MS (3000)", "MS"},
        {"wait", 0, 0, G_OPTION_ARG_INT, &wait_ms, "TLS: wait at most MS for the end", "MS"},
        {"silent", 0, 0, G_OPTION_ARG_NONE, &silent, "send nothing", NULL},
        {NULL}};
    g_autoptr(GOptionContext) ctx = g_option_context_new("HOST PORT [UUID]");
    g_autoptr(GError) error = NULL;
    g_autoptr(GSocketClient) sc = g_socket_client_new();
    g_autoptr(GSocketConnection) conn = NULL;
    char req[64], ans[65] = {0};
    gsize n = 0;
    gint64 t0, end;
    Probe p = {0};

    g_option_context_add_main_entries(ctx, entries, NULL);
    if (!g_option_context_parse(ctx, &argc, &argv, &error) || argc < (silent ? 3 : 4)) {
        fprintf(stderr, "nc-rv-probe: %s\n", error ? error->message : "HOST PORT UUID expected");
        return 2;
    }
    if (!nc_peer_tls_set_priority(NC_PEER_DEFAULT_TLS_PRIORITY, &error)) {
        fprintf(stderr, "nc-rv-probe: %s\n", error->message);
        return 2;
    }
    g_socket_client_set_timeout(sc, 5);
    conn = g_socket_client_connect_to_host(sc, argv[1], (guint16)atoi(argv[2]), NULL, &error);
    if (!conn) {
        fprintf(stderr, "nc-rv-probe: %s\n", error->message);
        return 2;
    }
    t0 = g_get_monotonic_time();
    if (!silent) {
        memset(req, ' ', sizeof(req));
        memcpy(req, "NETCARRY-RV 1 ", 14);
        memcpy(req + 14, argv[3], MIN(strlen(argv[3]), sizeof(req) - 15));
        req[sizeof(req) - 1] = '\n';
        g_output_stream_write_all(g_io_stream_get_output_stream(G_IO_STREAM(conn)), req,
                                  sizeof(req), &n, NULL, NULL);
        g_input_stream_read_all(g_io_stream_get_input_stream(G_IO_STREAM(conn)), ans, 64, &n,
                                NULL, NULL);
        g_strstrip(ans);
    }
    if (!cert) {
        /* hold, silent, until the source lets go (or hold_ms) */
        GSocket *s = g_socket_connection_get_socket(conn);
        gint64 closed = -1;
        char sink[256];

        g_socket_set_timeout(s, 0);
        while (g_get_monotonic_time() - t0 < hold_ms * (gint64)1000) {
            if (g_socket_condition_timed_wait(s, G_IO_IN, 100 * 1000, NULL, NULL)) {
                if (g_socket_receive(s, sink, sizeof(sink), NULL, NULL) <= 0) {
                    closed = (g_get_monotonic_time() - t0) / 1000;
                    break;
                }
            }
        }
        printf("answer=%s closed_after_ms=%" G_GINT64_FORMAT "\n", *ans ? ans : "-", closed);
        return 0;
    }
    {
        g_autoptr(NcPeerServer) server = nc_peer_server_new(ca, cert, key, &error);

        if (!server) {
            fprintf(stderr, "nc-rv-probe: %s\n", error->message);
            return 2;
        }
        p.secret = secret;
        nc_peer_server_set_handlers(server, on_message, on_closed, &p);
        nc_peer_server_set_host_name(server, g_get_host_name());
        nc_peer_server_adopt(server, conn);
        end = g_get_monotonic_time() + wait_ms * (gint64)1000;
        g_timeout_add(20, tick, NULL);
        while (!p.closed && g_get_monotonic_time() < end)
            g_main_context_iteration(NULL, TRUE);
        printf("answer=%s hello=%u chunks=%u entries=%u end=\"%s\"\n", *ans ? ans : "-", p.hellos,
               p.chunks, p.entries, p.end ? p.end : "still open");
        g_free(p.end);
    }
    return 0;
}

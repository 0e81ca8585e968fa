/* test-peer.c - the daemon <-> daemon TLS link on loopback: a full exchange, the trust checks,
 * timeouts, versions and garbage. Makes its own PKI (make-test-pki.sh) in a temp dir; no root.
 */
#include <string.h>
#include <arpa/inet.h>
#include <sys/wait.h>
#include <glib/gstdio.h>

#include "conf/nc-ct-items.h"
#include "nc-peer.h"
#include "util/nc-error.h"

#define UUID "5a3c1f5e-0b7e-4c55-9f0e-000000000042"

typedef struct {
    char *dir;
    NcPeerServer *server;
    guint16 port;
    const char *address;
    /* server side */
    NcItemSet *set; /* nc_ct_class: what the chunks made */
    guint hellos, chunks, seals, finisheds, items;
    NcPeerOutcome fin_outcome;
    guint32 fin_downtime, fin_removed, fin_steps;
    gboolean fin_has_downtime;
    char *hello_host, *subject;
    NcPeerAbortCode refuse_hello; /* 0: accept */
    gboolean closed;
    GError *closed_error;
    /* client side */
    gboolean done;
    GError *error;
    NcPeerAck *ack;
} Fixture;

static char *pki(Fixture *f, const char *name)
{
    return g_build_filename(f->dir, name, NULL);
}

static NcPeerMsg *on_message(NcPeerSession *session, const NcPeerMsg *msg, gpointer data)
{
    Fixture *f = data;
    g_autoptr(GError) error = NULL;

    switch (msg->type) {
    case NC_PEER_MSG_HELLO:
        f->hellos++;
        g_free(f->hello_host);
        f->hello_host = g_strdup(msg->hello.host);
        g_free(f->subject);
        f->subject = g_strdup(nc_peer_session_get_peer_subject(session));
        g_assert_cmpstr(msg->hello.domain_uuid, ==, UUID);
        if (f->refuse_hello)
            return nc_peer_msg_new_abort(f->refuse_hello, "domain is not migrating to this host");
        {
            static const char *const classes[] = {"nft-set", "nft-object", NULL};

            nc_peer_session_set_classes(session, classes);
        }
        return NULL;
    case NC_PEER_MSG_ITEMS:
        f->items += msg->items.items->len;
        return NULL;
    case NC_PEER_MSG_STATE:
        f->chunks++;
        g_assert_true(nc_peer_state_apply(f->set, &msg->state, NULL));
        return NULL;
    case NC_PEER_MSG_SEAL:
        f->seals++;
        if (!nc_peer_seal_check(f->set, &msg->seal, nc_peer_session_get_chunks(session), &error))
            return nc_peer_msg_new_ack(FALSE, 0, error->message);
        return nc_peer_msg_new_ack(TRUE, nc_item_set_count(f->set), NULL);
    case NC_PEER_MSG_FINISHED:
        f->finisheds++;
        f->fin_outcome = msg->finished.outcome;
        f->fin_has_downtime = msg->finished.has_downtime;
        f->fin_downtime = msg->finished.downtime_ms;
        f->fin_removed = msg->finished.removed;
        f->fin_steps = msg->finished.n_steps;
        return NULL;
    default:
        g_assert_not_reached();
    }
}

static void on_closed(NcPeerSession *session, const GError *error, gpointer data)
{
    Fixture *f = data;

    g_assert_false(f->closed);
    f->closed = TRUE;
    f->closed_error = error ? g_error_copy(error) : NULL;
}

static gboolean pki_ok(Fixture *f)
{
    return f->dir != NULL;
}

static void setup(Fixture *f, gconstpointer data)
{
    g_autofree char *script = NULL, *out = NULL, *err = NULL;
    g_autofree char *ca = NULL, *cert = NULL, *key = NULL;
    const char *root = g_getenv("NETCARRY_SOURCE_ROOT");
    g_autoptr(GError) error = NULL;
    int status = 0;

    f->address = data ? data : "127.0.0.1";
    f->set = nc_item_set_new(&nc_ct_class);
    if (!g_tls_backend_supports_tls(g_tls_backend_get_default())) {
        g_test_skip("GIO has no TLS backend: apt-get install glib-networking");
        return;
    }
    script = g_build_filename(root ? root : "..", "tests", "daemon", "make-test-pki.sh", NULL);
    f->dir = g_dir_make_tmp("nc-test-peer-XXXXXX", &error);
    g_assert_no_error(error);
    {
        const char *argv[] = {"/bin/sh", script, f->dir, NULL};

        g_assert_true(g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out,
                                   &err, &status, &error));
    }
    if (g_spawn_check_wait_status(status, NULL) == FALSE) {
        if (WIFEXITED(status) && WEXITSTATUS(status) == 77) {
            g_test_skip(err);
            g_clear_pointer(&f->dir, g_free);
            return;
        }
        g_error("make-test-pki.sh failed: %s", err);
    }
    ca = pki(f, "ca1.pem");
    cert = pki(f, "server.pem");
    key = pki(f, "server-key.pem");
    f->server = nc_peer_server_new(ca, cert, key, &error);
    g_assert_no_error(error);
    nc_peer_server_set_handlers(f->server, on_message, on_closed, f);
    nc_peer_server_set_host_name(f->server, "host-b");
    nc_peer_server_set_timeouts(f->server, 2000, 2000, 5000);
    if (!nc_peer_server_listen(f->server, f->address, 0, &f->port, &error)) {
        if (strchr(f->address, ':')) {
            g_test_skip_printf("no IPv6 loopback here: %s", error->message);
            return;
        }
        g_assert_no_error(error);
    }
}

static void rm_rf(const char *dir)
{
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    const char *name;

    while (d && (name = g_dir_read_name(d))) {
        g_autofree char *p = g_build_filename(dir, name, NULL);

        g_unlink(p);
    }
    g_rmdir(dir);
}

static gboolean stop_flag(gpointer data)
{
    *(gboolean *)data = TRUE;
    return G_SOURCE_REMOVE;
}

/* Iterate the main loop until *@flag, or fail the test after @max_ms. */
static void run_until(gboolean *flag, guint max_ms, const char *what)
{
    gboolean expired = FALSE;
    guint id = g_timeout_add(max_ms, stop_flag, &expired);

    while (!*flag && !expired)
        g_main_context_iteration(NULL, TRUE);
    if (!expired)
        g_source_remove(id);
    if (!*flag)
        g_error("%s did not happen within %u ms", what, max_ms);
}

/* Let queued idles (session clean-up) run. */
static void drain(void)
{
    gboolean t = FALSE;

    g_timeout_add(20, stop_flag, &t);
    while (!t)
        g_main_context_iteration(NULL, TRUE);
}

static void teardown(Fixture *f, gconstpointer data)
{
    nc_peer_server_free(f->server);
    drain();
    nc_item_set_free(f->set);
    g_clear_error(&f->closed_error);
    g_clear_error(&f->error);
    nc_peer_ack_free(f->ack);
    g_free(f->hello_host);
    g_free(f->subject);
    if (f->dir)
        rm_rf(f->dir);
    g_free(f->dir);
}

static NcPeerClient *make_client(Fixture *f, const char *ca_name, const char *cert_name)
{
    g_autofree char *ca = pki(f, ca_name);
    g_autofree char *cert = cert_name ? g_strdup_printf("%s/%s.pem", f->dir, cert_name) : NULL;
    g_autofree char *key = cert_name ? g_strdup_printf("%s/%s-key.pem", f->dir, cert_name) : NULL;
    g_autoptr(GError) error = NULL;
    NcPeerClient *c = nc_peer_client_new(ca, cert, key, &error);

    g_assert_no_error(error);
    nc_peer_client_set_host_name(c, "host-a");
    nc_peer_client_set_timeouts(c, 2000, 2000);
    return c;
}

static void connect_done(GObject *src, GAsyncResult *res, gpointer data)
{
    Fixture *f = data;

    f->done = TRUE;
    g_task_propagate_boolean(G_TASK(res), &f->error);
}

static void seal_done(GObject *src, GAsyncResult *res, gpointer data)
{
    Fixture *f = data;

    f->done = TRUE;
    f->ack = g_task_propagate_pointer(G_TASK(res), &f->error);
}

/* Connect @c to the fixture's server (or @port on @address); leaves the result in f->error. */
static void do_connect(Fixture *f, NcPeerClient *c, const char *address, guint16 port)
{
    f->done = FALSE;
    g_clear_error(&f->error);
    nc_peer_client_connect_async(c, address ? address : f->address, port ? port : f->port, UUID,
                                 NULL, connect_done, f);
    run_until(&f->done, 10000, "connect");
}

static void make_entry(guint i, NcCtEntry *e)
{
    guint32 a = htonl(0x0a000001), b = htonl(0xc0000000u + i);

    memset(e, 0, sizeof(*e));
    e->orig.src.family = e->orig.dst.family = AF_INET;
    memcpy(e->orig.src.bytes, &a, 4);
    memcpy(e->orig.dst.bytes, &b, 4);
    e->reply.src = e->orig.dst;
    e->reply.dst = e->orig.src;
    e->orig.proto = e->reply.proto = 6;
    e->orig.sport = 30000 + i % 30000;
    e->orig.dport = 443;
    e->reply.sport = 443;
    e->reply.dport = e->orig.sport;
    e->status = 0x18e;
    e->timeout = 432000;
    e->mark = i;
    e->has_tcp = TRUE;
    e->tcp_state = 3;
    e->tcp_flags[0] = e->tcp_flags[1] = 0x0a;
}

/* The source's digest of @n entries: its sent set's (an NcItemSet of conntrack's class) */
static void digest_of_entries(const NcCtEntry *e, guint n, NcDigest *digest)
{
    g_autoptr(NcItemSet) set = nc_item_set_new(&nc_ct_class);

    for (guint i = 0; i < n; i++)
        g_assert_true(nc_item_set_upsert(set, g_memdup2(&e[i], sizeof(e[i])), NULL, NULL));
    *digest = *nc_item_set_digest(set);
}

/* Stream @n entries in chunks of @chunk, then (optionally) change a few and delete a few, then
 * seal with the source's own digest of its final set. Returns the source's final count. */
static guint stream_and_seal(Fixture *f, NcPeerClient *c, guint n, guint chunk, gboolean changes,
                             NcDigest *digest)
{
    g_autoptr(GArray) all = g_array_sized_new(FALSE, TRUE, sizeof(NcCtEntry), n);
    g_autoptr(GError) error = NULL;
    guint count = n;

    g_array_set_size(all, n);
    for (guint i = 0; i < n; i++)
        make_entry(i, &g_array_index(all, NcCtEntry, i));
    for (guint off = 0; off < n; off += chunk) {
        g_autoptr(GArray) part = g_array_sized_new(FALSE, TRUE, sizeof(NcCtEntry), chunk);

        g_array_append_vals(part, &g_array_index(all, NcCtEntry, off), MIN(chunk, n - off));
        g_assert_true(nc_peer_client_send_state(c, part, NULL, &error));
        g_assert_no_error(error);
    }
    if (changes) { /* stop-and-copy: entry 7 changed, entries 10..14 gone */
        g_autoptr(GArray) up = g_array_new(FALSE, TRUE, sizeof(NcCtEntry));
        g_autoptr(GArray) del = g_array_new(FALSE, TRUE, sizeof(NcCtKey));

        g_array_index(all, NcCtEntry, 7).timeout = 99;
        g_array_index(all, NcCtEntry, 7).tcp_state = 4;
        g_array_append_val(up, g_array_index(all, NcCtEntry, 7));
        for (guint i = 10; i < 15; i++) {
            NcCtKey k;

            nc_ct_key_of(&g_array_index(all, NcCtEntry, i), &k);
            g_array_append_val(del, k);
        }
        g_array_remove_range(all, 10, 5);
        count -= 5;
        g_assert_true(nc_peer_client_send_state(c, up, del, &error));
    }
    digest_of_entries((NcCtEntry *)all->data, all->len, digest);
    f->done = FALSE;
    nc_peer_client_seal_async(c, count, digest, 5000, NULL, seal_done, f);
    return count;
}

static void test_full_exchange(Fixture *f, gconstpointer data)
{
    g_autoptr(NcPeerClient) c = NULL;
    NcDigest digest;
    guint count;

    if (!pki_ok(f) || g_test_failed() || !f->port)
        return;
    c = make_client(f, "ca1.pem", "client");
    do_connect(f, c, NULL, 0);
    g_assert_no_error(f->error);
    g_assert_cmpstr(nc_peer_client_get_peer_hello(c)->host, ==, "host-b");
    g_assert_cmpstr(nc_peer_client_get_peer_hello(c)->domain_uuid, ==, UUID);

    count = stream_and_seal(f, c, 1000, 300, TRUE, &digest);
    run_until(&f->done, 10000, "the ACK");
    g_assert_no_error(f->error);
    g_assert_nonnull(f->ack);
    if (!f->ack->ok)
        g_error("destination refused the seal: %s", f->ack->reason);
    g_assert_cmpuint(f->ack->installed, ==, count);
    g_assert_cmpuint(count, ==, 995);

    /* what arrived is exactly what was sent */
    g_assert_cmpuint(f->hellos, ==, 1);
    g_assert_cmpuint(f->chunks, ==, 5); /* 4 chunks of <= 300, and the changes */
    g_assert_cmpuint(f->seals, ==, 1);
    g_assert_cmpstr(f->hello_host, ==, "host-a");
    g_assert_nonnull(strstr(f->subject, "client.test"));
    g_assert_cmpuint(nc_item_set_count(f->set), ==, 995);
    g_assert_cmpmem(nc_item_set_digest(f->set)->sum, 32, digest.sum, 32);
    {
        NcCtEntry e7;
        const NcCtEntry *found;

        make_entry(7, &e7);
        found = nc_item_set_lookup(f->set, &e7);
        g_assert_nonnull(found);
        g_assert_cmpuint(found->timeout, ==, 99);
        make_entry(12, &e7);
        g_assert_null(nc_item_set_lookup(f->set, &e7));
    }
    /* version 2: the session waits for the source's end after the ACK */
    drain();
    g_assert_false(f->closed);
    {
        NcPeerSealStep steps[2] = {{3, 13, 0, 1795000000000000}, {7, 5, 0, 1795000002000000}};
        NcPeerFinished fin = {.outcome = NC_PEER_OUTCOME_COMPLETED,
                              .has_downtime = TRUE,
                              .downtime_ms = 150,
                              .has_removed = TRUE,
                              .removed = 995,
                              .n_steps = 2,
                              .steps = steps,
                              .reason = (char *)""};
        g_autoptr(GError) error = NULL;

        g_assert_true(nc_peer_client_send_finished(c, &fin, &error));
        g_assert_no_error(error);
        /* once */
        g_assert_false(nc_peer_client_send_finished(c, &fin, &error));
        g_assert_error(error, NC_ERROR, NC_ERROR_INVALID_ARG);
    }
    run_until(&f->closed, 2000, "the server's session end");
    g_assert_no_error(f->closed_error);
    g_assert_cmpuint(f->finisheds, ==, 1);
    g_assert_cmpint(f->fin_outcome, ==, NC_PEER_OUTCOME_COMPLETED);
    g_assert_true(f->fin_has_downtime);
    g_assert_cmpuint(f->fin_downtime, ==, 150);
    g_assert_cmpuint(f->fin_removed, ==, 995);
    g_assert_cmpuint(f->fin_steps, ==, 2);
}

/* FINISHED only after a good ACK; a source that leaves without it ends the session with an
 * error the daemon can tell apart (the state is installed; only the source's end is unknown). */
static void test_finished_missing(Fixture *f, gconstpointer data)
{
    g_autoptr(NcPeerClient) c = NULL;
    NcDigest digest;
    NcPeerFinished fin = {.outcome = NC_PEER_OUTCOME_COMPLETED, .reason = (char *)""};
    g_autoptr(GError) error = NULL;

    if (!pki_ok(f) || !f->port)
        return;
    c = make_client(f, "ca1.pem", "client");
    do_connect(f, c, NULL, 0);
    g_assert_no_error(f->error);
    g_assert_false(nc_peer_client_send_finished(c, &fin, &error));
    g_assert_error(error, NC_ERROR, NC_ERROR_INVALID_ARG);
    g_clear_error(&error);
    stream_and_seal(f, c, 10, 10, FALSE, &digest);
    run_until(&f->done, 10000, "the ACK");
    g_assert_true(f->ack->ok);
    drain();
    g_assert_false(f->closed);
    g_clear_pointer(&c, nc_peer_client_free);
    run_until(&f->closed, 2000, "the server's session end");
    g_assert_error(f->closed_error, NC_ERROR, NC_ERROR_IO);
    g_test_message("server sees: %s", f->closed_error->message);
    g_assert_nonnull(strstr(f->closed_error->message, "FINISHED"));
    g_assert_cmpuint(f->finisheds, ==, 0);
}

/* A cancellable cancelled before the connect starts ends it at once: no HELLO reaches the
 * server, and the caller hears "cancelled". */
static void test_cancelled_before(Fixture *f, gconstpointer data)
{
    g_autoptr(NcPeerClient) c = NULL;
    g_autoptr(GCancellable) cancel = g_cancellable_new();

    if (!pki_ok(f) || !f->port)
        return;
    c = make_client(f, "ca1.pem", "client");
    g_cancellable_cancel(cancel);
    f->done = FALSE;
    nc_peer_client_connect_async(c, f->address, f->port, UUID, cancel, connect_done, f);
    run_until(&f->done, 10000, "connect");
    g_assert_error(f->error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
    drain();
    g_assert_cmpuint(f->hellos, ==, 0);
}

/* A version 1 source (its SEAL had no timeline, and it had no FINISHED; never released) is
 * refused at HELLO with a clear error, not half-understood. */
static void test_version_1_refused(Fixture *f, gconstpointer data)
{
    g_autoptr(NcPeerClient) c = NULL;

    if (!pki_ok(f) || !f->port)
        return;
    c = make_client(f, "ca1.pem", "client");
    nc_peer_client_set_versions(c, 1, 1);
    do_connect(f, c, NULL, 0);
    g_assert_error(f->error, NC_ERROR, NC_ERROR_UNSUPPORTED);
    g_assert_nonnull(strstr(f->error->message, "versions 1-1, this host 3-4"));
    run_until(&f->closed, 2000, "the server's session end");
    g_assert_cmpuint(f->hellos, ==, 0);
}

/* A digest that does not match is answered with a failed ACK, not an installed one. */
static void test_digest_mismatch(Fixture *f, gconstpointer data)
{
    g_autoptr(NcPeerClient) c = NULL;
    NcDigest digest;

    if (!pki_ok(f) || !f->port)
        return;
    c = make_client(f, "ca1.pem", "client");
    do_connect(f, c, NULL, 0);
    g_assert_no_error(f->error);
    {
        g_autoptr(GArray) part = g_array_new(FALSE, TRUE, sizeof(NcCtEntry));
        NcCtEntry e;

        make_entry(1, &e);
        g_array_append_val(part, e);
        g_assert_true(nc_peer_client_send_state(c, part, NULL, NULL));
        e.mark ^= 1; /* the source believes it sent this */
        digest_of_entries(&e, 1, &digest);
    }
    f->done = FALSE;
    nc_peer_client_seal_async(c, 1, &digest, 5000, NULL, seal_done, f);
    run_until(&f->done, 10000, "the ACK");
    g_assert_no_error(f->error);
    g_assert_false(f->ack->ok);
    g_assert_nonnull(strstr(f->ack->reason, "digest"));
    run_until(&f->closed, 2000, "the server's session end");
    g_assert_error(f->closed_error, NC_ERROR, NC_ERROR_FAILED);
}

static void expect_refused(Fixture *f, const char *ca, const char *cert, const char *server_says)
{
    g_autoptr(NcPeerClient) c = NULL;

    if (!pki_ok(f) || !f->port)
        return;
    c = make_client(f, ca, cert);
    do_connect(f, c, NULL, 0);
    g_assert_error(f->error, NC_ERROR, NC_ERROR_PERMISSION);
    g_test_message("client sees: %s", f->error->message);
    run_until(&f->closed, 5000, "the server's session end");
    g_assert_error(f->closed_error, NC_ERROR, NC_ERROR_PERMISSION);
    g_test_message("server sees: %s", f->closed_error->message);
    if (server_says && !strstr(f->closed_error->message, server_says))
        g_error("expected '%s' in the server's error: %s", server_says, f->closed_error->message);
    g_assert_cmpuint(f->hellos, ==, 0); /* nothing reached the daemon */
}

/* A CRL at the server: the certificate it lists is refused at the handshake; the others pass. */
static void set_server_crl(Fixture *f, const char *name)
{
    g_autofree char *crl = pki(f, name);
    g_autofree char *ca = pki(f, "ca1.pem");
    g_autoptr(GError) error = NULL;

    nc_peer_server_set_crl(f->server, crl, ca, &error);
    g_assert_no_error(error);
}

static void test_revoked_client(Fixture *f, gconstpointer data)
{
    if (!pki_ok(f) || !f->port)
        return;
    set_server_crl(f, "crl1.pem");
    expect_refused(f, "ca1.pem", "revoked", "revoked (in the certificate revocation list)");
    g_assert_nonnull(strstr(f->closed_error->message, "revoked.test")); /* who asked */
}

/* The control: without a CRL the same certificate is accepted (so the refusal is the CRL's). */
static void test_revoked_without_crl(Fixture *f, gconstpointer data)
{
    g_autoptr(NcPeerClient) c = NULL;

    if (!pki_ok(f) || !f->port)
        return;
    c = make_client(f, "ca1.pem", "revoked");
    do_connect(f, c, NULL, 0);
    g_assert_no_error(f->error);
    g_assert_cmpuint(f->hellos, ==, 1);
}

static void test_crl_spares_others(Fixture *f, gconstpointer data)
{
    g_autoptr(NcPeerClient) c = NULL;

    if (!pki_ok(f) || !f->port)
        return;
    set_server_crl(f, "crl1.pem");
    c = make_client(f, "ca1.pem", "client");
    do_connect(f, c, NULL, 0);
    g_assert_no_error(f->error);
}

/* A CRL that the CA did not sign, or that is not a CRL, stops the set-up instead of being
 * ignored; a missing file is no CRL (libvirt's rule for cacrl.pem). */
static void test_crl_untrusted(Fixture *f, gconstpointer data)
{
    g_autofree char *ca = NULL, *crl2 = NULL, *junk = NULL, *missing = NULL;
    g_autoptr(GError) error = NULL;

    if (!pki_ok(f) || !f->port)
        return;
    ca = pki(f, "ca1.pem");
    crl2 = pki(f, "crl2.pem");
    junk = pki(f, "client.pem");
    missing = pki(f, "no-such-crl.pem");
    g_assert_false(nc_peer_server_set_crl(f->server, crl2, ca, &error));
    g_assert_error(error, NC_ERROR, NC_ERROR_INVALID_ARG);
    g_assert_nonnull(strstr(error->message, "not signed by the CA"));
    g_clear_error(&error);
    g_assert_false(nc_peer_server_set_crl(f->server, junk, ca, &error));
    g_assert_error(error, NC_ERROR, NC_ERROR_INVALID_ARG);
    g_clear_error(&error);
    g_assert_true(nc_peer_server_set_crl(f->server, missing, ca, &error));
    g_assert_no_error(error);
}

/* The source checks the destination's server certificate against its CRL too. */
static void test_revoked_server(Fixture *f, gconstpointer data)
{
    g_autoptr(NcPeerClient) c = NULL;
    g_autofree char *crl = NULL, *ca = NULL;
    g_autoptr(GError) error = NULL;

    if (!pki_ok(f) || !f->port)
        return;
    /* crl1 lists revoked.pem's serial; certtool numbers serials randomly, so make a list that
     * revokes the server's own certificate */
    {
        g_autofree char *cmd = g_strdup_printf(
            "sh -c 'cd %s && printf \"crl_next_update = 30\\ncrl_number = 2\\n\" > s.tmpl && "
            "certtool --generate-crl --load-ca-privkey ca1-key.pem --load-ca-certificate ca1.pem "
            "--load-certificate server.pem --template s.tmpl --outfile crl-server.pem'",
            f->dir);
        int status = 0;

        g_assert_true(g_spawn_command_line_sync(cmd, NULL, NULL, &status, &error));
        g_assert_true(g_spawn_check_wait_status(status, NULL));
    }
    c = make_client(f, "ca1.pem", "client");
    crl = pki(f, "crl-server.pem");
    ca = pki(f, "ca1.pem");
    g_assert_true(nc_peer_client_set_crl(c, crl, ca, &error));
    do_connect(f, c, NULL, 0);
    g_assert_error(f->error, NC_ERROR, NC_ERROR_PERMISSION);
    g_test_message("client sees: %s", f->error->message);
    g_assert_nonnull(strstr(f->error->message, "revoked"));
    g_assert_cmpuint(f->hellos, ==, 0); /* the client sent no HELLO */
}

/* The secret the destination sets reaches the source in the server's HELLO, inside TLS. */
static NcPeerMsg *on_message_with_secret(NcPeerSession *session, const NcPeerMsg *msg,
                                         gpointer data)
{
    if (msg->type == NC_PEER_MSG_HELLO)
        nc_peer_session_set_secret(session, "00ff00ff00ff00ff00ff00ff00ff00ff"
                                            "00ff00ff00ff00ff00ff00ff00ff00ff");
    return on_message(session, msg, data);
}

static void test_hello_secret(Fixture *f, gconstpointer data)
{
    g_autoptr(NcPeerClient) c = NULL;

    if (!pki_ok(f) || !f->port)
        return;
    nc_peer_server_set_handlers(f->server, on_message_with_secret, on_closed, f);
    c = make_client(f, "ca1.pem", "client");
    do_connect(f, c, NULL, 0);
    g_assert_no_error(f->error);
    g_assert_cmpstr(nc_peer_client_get_peer_hello(c)->secret, ==,
                    "00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff");
    g_assert_nonnull(strstr(nc_peer_client_get_peer_subject(c), "localhost"));
    /* the client refuses: the server's daemon hears why */
    nc_peer_client_abort(c, NC_PEER_ABORT_REFUSED, "not authorised");
    run_until(&f->closed, 5000, "the server's session end");
    g_assert_error(f->closed_error, NC_ERROR, NC_ERROR_FAILED);
    g_assert_nonnull(strstr(f->closed_error->message, "not authorised"));
    g_assert_cmpuint(f->chunks, ==, 0);
}

/* gnutls-cli as a client that offers only @versions (a GnuTLS priority string), with a
 * certificate from CA1: does the server's handshake succeed? The server's priority is this
 * process's (main(): NC_PEER_DEFAULT_TLS_PRIORITY). */
static void cli_done(GObject *src, GAsyncResult *res, gpointer data)
{
    char *out = NULL;

    g_subprocess_communicate_utf8_finish(G_SUBPROCESS(src), res, &out, NULL, NULL);
    g_object_set_data_full(src, "nc-out", out ? out : g_strdup(""), g_free);
    *(gboolean *)data = TRUE;
}

static gboolean gnutls_cli_handshake(Fixture *f, const char *priority, char **out)
{
    g_autofree char *ca = pki(f, "ca1.pem"), *cert = pki(f, "client.pem");
    g_autofree char *key = pki(f, "client-key.pem");
    g_autofree char *port = g_strdup_printf("%u", f->port);
    g_autofree char *prio = g_strdup_printf("--priority=%s", priority);
    const char *argv[] = {"gnutls-cli", "--x509cafile", ca,   "--x509certfile", cert,
                          "--x509keyfile", key,     prio, "-p",             port,
                          "127.0.0.1",   NULL};
    g_autoptr(GSubprocessLauncher) l = g_subprocess_launcher_new(
        G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE |
        G_SUBPROCESS_FLAGS_STDERR_MERGE);
    g_autoptr(GSubprocess) p = NULL;
    g_autoptr(GError) error = NULL;
    gboolean done = FALSE;

    p = g_subprocess_launcher_spawnv(l, argv, &error);
    if (!p) {
        *out = g_strdup(error->message);
        return FALSE;
    }
    /* stdin at EOF: it quits after the handshake; the loop runs the server meanwhile */
    g_subprocess_communicate_utf8_async(p, "", NULL, cli_done, &done);
    run_until(&done, 10000, "gnutls-cli");
    *out = g_strdup(g_object_get_data(G_OBJECT(p), "nc-out"));
    return strstr(*out, "Handshake was completed") != NULL;
}

static void test_tls_priority(Fixture *f, gconstpointer data)
{
    g_autofree char *out12 = NULL, *out13 = NULL;
    g_autoptr(GError) error = NULL;

    if (!pki_ok(f) || !f->port)
        return;
    if (!g_find_program_in_path("gnutls-cli")) {
        g_test_skip("gnutls-cli not found: apt-get install gnutls-bin");
        return;
    }
    /* TLS 1.2 only: refused by the default priority (TLS 1.3 minimum) */
    g_assert_false(gnutls_cli_handshake(f, "NORMAL:-VERS-ALL:+VERS-TLS1.2", &out12));
    g_test_message("TLS 1.2 client: %s", out12);
    run_until(&f->closed, 5000, "the server's session end");
    g_assert_error(f->closed_error, NC_ERROR, NC_ERROR_PERMISSION);
    g_test_message("server: %s", f->closed_error->message);
    f->closed = FALSE;
    g_clear_error(&f->closed_error);
    /* the test can fail: a TLS 1.3 client completes the same handshake */
    g_assert_true(gnutls_cli_handshake(f, "NORMAL:-VERS-ALL:+VERS-TLS1.3", &out13));
    g_assert_nonnull(strstr(out13, "TLS1.3"));
    /* the priority applies before the first connection only, and must parse */
    g_assert_false(nc_peer_tls_set_priority("NORMAL:-VERS-ALL:+VERS-TLS1.2", &error));
    g_assert_error(error, NC_ERROR, NC_ERROR_FAILED);
    g_clear_error(&error);
    g_assert_false(nc_peer_tls_set_priority("NORMAL:+NO-SUCH-THING", &error));
    g_assert_error(error, NC_ERROR, NC_ERROR_INVALID_ARG);
    g_assert_nonnull(strstr(error->message, "NO-SUCH-THING"));
    g_assert_true(nc_peer_tls_set_priority(NC_PEER_DEFAULT_TLS_PRIORITY, NULL)); /* unchanged */
}

static void test_other_ca(Fixture *f, gconstpointer data)
{
    expect_refused(f, "ca1.pem", "client2", "not signed by the configured CA");
}

static void test_no_cert(Fixture *f, gconstpointer data)
{
    expect_refused(f, "ca1.pem", NULL, NULL);
}

static void test_expired_cert(Fixture *f, gconstpointer data)
{
    expect_refused(f, "ca1.pem", "expired", "expired");
}

/* The client trusts only CA2: the server's CA1 certificate is refused on the client's side. */
static void test_server_from_other_ca(Fixture *f, gconstpointer data)
{
    g_autoptr(NcPeerClient) c = NULL;

    if (!pki_ok(f) || !f->port)
        return;
    c = make_client(f, "ca2.pem", "client2");
    do_connect(f, c, NULL, 0);
    g_assert_error(f->error, NC_ERROR, NC_ERROR_PERMISSION);
    g_assert_nonnull(strstr(f->error->message, "not signed by the configured CA"));
}

/* A server whose certificate names another host is refused by the client. */
static void test_wrong_host(Fixture *f, gconstpointer data)
{
    g_autofree char *ca = pki(f, "ca1.pem"), *cert = pki(f, "wronghost.pem"),
                    *key = pki(f, "wronghost-key.pem");
    g_autoptr(NcPeerServer) other = NULL;
    g_autoptr(NcPeerClient) c = NULL;
    g_autoptr(GError) error = NULL;
    guint16 port = 0;

    if (!pki_ok(f) || !f->port)
        return;
    other = nc_peer_server_new(ca, cert, key, &error);
    g_assert_no_error(error);
    g_assert_true(nc_peer_server_listen(other, f->address, 0, &port, &error));
    c = make_client(f, "ca1.pem", "client");
    do_connect(f, c, NULL, port);
    g_assert_error(f->error, NC_ERROR, NC_ERROR_PERMISSION);
    g_test_message("client sees: %s", f->error->message);
    g_assert_nonnull(strstr(f->error->message, "not issued for 127.0.0.1"));
}

static gboolean hold_connection(GSocketService *service, GSocketConnection *conn, GObject *source,
                                gpointer data)
{
    g_ptr_array_add(data, g_object_ref(conn));
    return TRUE;
}

/* A peer that accepts TCP and then says nothing: the client gives up at its timeout. */
static void test_silent_server(Fixture *f, gconstpointer data)
{
    g_autoptr(GSocketService) silent = g_socket_service_new();
    g_autoptr(GPtrArray) held = g_ptr_array_new_with_free_func(g_object_unref);
    g_autoptr(GInetAddress) lo = g_inet_address_new_from_string(f->address);
    g_autoptr(GSocketAddress) sa = g_inet_socket_address_new(lo, 0);
    g_autoptr(GSocketAddress) bound = NULL;
    g_autoptr(NcPeerClient) c = NULL;
    g_autoptr(GError) error = NULL;
    gint64 t0;
    double ms;

    if (!pki_ok(f) || !f->port)
        return;
    g_assert_true(g_socket_listener_add_address(G_SOCKET_LISTENER(silent), sa, G_SOCKET_TYPE_STREAM,
                                                G_SOCKET_PROTOCOL_TCP, NULL, &bound, &error));
    g_signal_connect(silent, "incoming", G_CALLBACK(hold_connection), held);
    c = make_client(f, "ca1.pem", "client");
    nc_peer_client_set_timeouts(c, 300, 300);
    t0 = g_get_monotonic_time();
    do_connect(f, c, NULL, g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(bound)));
    ms = (g_get_monotonic_time() - t0) / 1000.0;
    g_assert_error(f->error, NC_ERROR, NC_ERROR_TIMEOUT);
    g_test_message("silent server: '%s' after %.0f ms (timeout 300 ms)", f->error->message, ms);
    g_assert_cmpuint(held->len, ==, 1);
    g_assert_cmpfloat(ms, >=, 250);
    g_assert_cmpfloat(ms, <, 3000); /* bounded: loose, the machine is shared */
    g_socket_service_stop(silent);
    g_socket_listener_close(G_SOCKET_LISTENER(silent));
}

/* Nothing listens: a clear "cannot reach", quickly. */
static void test_unreachable(Fixture *f, gconstpointer data)
{
    g_autoptr(NcPeerClient) c = NULL;
    guint16 port;

    if (!pki_ok(f) || !f->port)
        return;
    /* a port that was just free: our own server's, closed */
    port = f->port;
    g_clear_pointer(&f->server, nc_peer_server_free);
    c = make_client(f, "ca1.pem", "client");
    do_connect(f, c, NULL, port);
    g_assert_error(f->error, NC_ERROR, NC_ERROR_NOT_FOUND);
    g_assert_nonnull(strstr(f->error->message, "cannot reach netcarryd"));
}

/* Peer protocol 4 carries the classes beside conntrack (ITEMS, the destination's class list in
 * its HELLO); a version 3 source still talks to a version 4 destination, in version 3: it hears
 * no class list and cannot send ITEMS (its daemon then carries conntrack only). */
static void test_classes_versions(Fixture *f, gconstpointer data)
{
    for (guint32 v = 3; v <= 4; v++) {
        g_autoptr(NcPeerClient) c = NULL;
        g_autoptr(GError) error = NULL;
        g_autoptr(NcPeerMsg) m = nc_peer_msg_new(NC_PEER_MSG_ITEMS);
        NcDigest digest;

        if (!pki_ok(f) || !f->port)
            return;
        c = make_client(f, "ca1.pem", "client");
        nc_peer_client_set_versions(c, v, 3);
        do_connect(f, c, NULL, 0);
        g_assert_no_error(f->error);
        g_assert_cmpuint(nc_peer_client_get_version(c), ==, v);
        m->items.klass = g_strdup("nft-set");
        m->items.replace = TRUE;
        g_ptr_array_add(m->items.items, g_bytes_new_static("x", 1));
        f->items = 0;
        if (v == 3) {
            g_assert_null(nc_peer_client_get_peer_hello(c)->classes);
            g_assert_false(nc_peer_client_send_items(c, &m->items, &error));
            g_assert_error(error, NC_ERROR, NC_ERROR_UNSUPPORTED);
        } else {
            g_assert_nonnull(nc_peer_client_get_peer_hello(c)->classes);
            g_assert_true(g_strv_contains(
                (const char *const *)nc_peer_client_get_peer_hello(c)->classes, "nft-object"));
            g_assert_true(nc_peer_client_send_items(c, &m->items, &error));
            g_assert_no_error(error);
        }
        stream_and_seal(f, c, 10, 300, FALSE, &digest);
        run_until(&f->done, 10000, "the ACK");
        g_assert_no_error(f->error);
        g_assert_true(f->ack->ok);
        g_assert_cmpuint(f->items, ==, v == 3 ? 0 : 1);
        g_clear_pointer(&f->ack, nc_peer_ack_free);
    }
}

/* A source that speaks only versions 5-6 gets a clear error; so does the destination. */
static void test_wrong_version(Fixture *f, gconstpointer data)
{
    g_autoptr(NcPeerClient) c = NULL;

    if (!pki_ok(f) || !f->port)
        return;
    c = make_client(f, "ca1.pem", "client");
    nc_peer_client_set_versions(c, 6, 5);
    do_connect(f, c, NULL, 0);
    g_assert_error(f->error, NC_ERROR, NC_ERROR_UNSUPPORTED);
    g_test_message("client sees: %s", f->error->message);
    g_assert_nonnull(strstr(f->error->message, "versions 5-6, this host 3-4"));
    run_until(&f->closed, 2000, "the server's session end");
    g_assert_error(f->closed_error, NC_ERROR, NC_ERROR_UNSUPPORTED);
    g_assert_cmpuint(f->hellos, ==, 0);
}

/* The daemon refuses the domain at HELLO: the source hears why. */
static void test_refused_domain(Fixture *f, gconstpointer data)
{
    g_autoptr(NcPeerClient) c = NULL;

    if (!pki_ok(f) || !f->port)
        return;
    f->refuse_hello = NC_PEER_ABORT_REFUSED;
    c = make_client(f, "ca1.pem", "client");
    do_connect(f, c, NULL, 0);
    g_assert_error(f->error, NC_ERROR, NC_ERROR_PERMISSION);
    g_assert_nonnull(strstr(f->error->message, "not migrating to this host"));
}

typedef struct {
    Fixture *f;
    char *error;
    guint8 reply[512];
    gsize reply_len;
    gint finished;
} RawClient;

/* A thread with blocking GIO: authenticate properly, then send bytes that are not a frame. */
static gpointer raw_client(gpointer data)
{
    RawClient *r = data;
    g_autoptr(GMainContext) ctx = g_main_context_new();
    g_autofree char *ca = pki(r->f, "ca1.pem"), *cert = pki(r->f, "client.pem"),
                    *key = pki(r->f, "client-key.pem");
    g_autoptr(GSocketClient) sc = g_socket_client_new();
    g_autoptr(GSocketConnectable) addr = g_network_address_new(r->f->address, r->f->port);
    g_autoptr(GSocketConnection) conn = NULL;
    g_autoptr(GIOStream) tls = NULL;
    g_autoptr(GTlsDatabase) db = NULL;
    g_autoptr(GTlsCertificate) crt = NULL;
    g_autoptr(GError) error = NULL;
    const char garbage[] = "GET / HTTP/1.1\r\nHost: netcarry\r\n\r\n";

    g_main_context_push_thread_default(ctx);
    g_socket_client_set_timeout(sc, 5);
    g_socket_client_set_enable_proxy(sc, FALSE);
    if (!(conn = g_socket_client_connect(sc, addr, NULL, &error)) ||
        !(tls = g_tls_client_connection_new(G_IO_STREAM(conn), addr, &error)) ||
        !(db = g_tls_file_database_new(ca, &error)) ||
        !(crt = g_tls_certificate_new_from_files(cert, key, &error)))
        goto out;
    g_tls_connection_set_database(G_TLS_CONNECTION(tls), db);
    g_tls_connection_set_certificate(G_TLS_CONNECTION(tls), crt);
    if (!g_tls_connection_handshake(G_TLS_CONNECTION(tls), NULL, &error) ||
        !g_output_stream_write_all(g_io_stream_get_output_stream(tls), garbage, sizeof(garbage),
                                   NULL, NULL, &error) ||
        !g_input_stream_read_all(g_io_stream_get_input_stream(tls), r->reply, sizeof(r->reply),
                                 &r->reply_len, NULL, &error))
        goto out;
out:
    if (error)
        r->error = g_strdup(error->message);
    g_main_context_pop_thread_default(ctx);
    g_atomic_int_set(&r->finished, 1);
    g_main_context_wakeup(NULL);
    return NULL;
}

static void test_garbage_after_handshake(Fixture *f, gconstpointer data)
{
    RawClient r = {.f = f};
    GThread *t;
    g_autoptr(NcPeerMsg) answer = NULL;
    g_autoptr(GError) error = NULL;

    if (!pki_ok(f) || !f->port)
        return;
    t = g_thread_new("raw-client", raw_client, &r);
    run_until(&f->closed, 10000, "the server's session end");
    /* the server still has to write its ABORT and close: keep its loop running meanwhile */
    for (gint64 end = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
         !g_atomic_int_get(&r.finished) && g_get_monotonic_time() < end;)
        g_main_context_iteration(NULL, FALSE) || (g_usleep(1000), TRUE);
    g_thread_join(t);
    g_assert_error(f->closed_error, NC_ERROR, NC_ERROR_INVALID_DATA);
    g_test_message("server sees: %s", f->closed_error->message);
    g_assert_nonnull(strstr(f->closed_error->message, "field magic"));
    g_assert_cmpuint(f->hellos, ==, 0);
    /* and the sender was told why, in an ABORT, before the close */
    if (r.error)
        g_error("raw client: %s (after %zu bytes)", r.error, r.reply_len);
    answer = nc_peer_frame_decode(r.reply, r.reply_len, &error);
    g_assert_no_error(error);
    g_assert_cmpint(answer->type, ==, NC_PEER_MSG_ABORT);
    g_assert_cmpint(answer->abort.code, ==, NC_PEER_ABORT_PROTOCOL);
    g_free(r.error);
}

/* Not an assertion: 10,000 entries encoded, sent over TLS on loopback, decoded and applied. */
static void test_timing(Fixture *f, gconstpointer data)
{
    g_autoptr(NcPeerClient) c = NULL;
    NcDigest digest;
    gint64 t0, t1;

    if (!pki_ok(f) || !f->port)
        return;
    c = make_client(f, "ca1.pem", "client");
    do_connect(f, c, NULL, 0);
    g_assert_no_error(f->error);
    t0 = g_get_monotonic_time();
    stream_and_seal(f, c, 10000, NC_PEER_CHUNK_ENTRIES, FALSE, &digest);
    t1 = g_get_monotonic_time();
    run_until(&f->done, 30000, "the ACK");
    g_assert_no_error(f->error);
    g_assert_true(f->ack->ok);
    g_assert_cmpuint(f->ack->installed, ==, 10000);
    g_test_message("10000 entries in %u chunks: encode + source digest %.1f ms, then TLS send + "
                   "decode + set apply + seal check + ACK, total %.1f ms (%.0f entries/s)",
                   f->chunks, (t1 - t0) / 1000.0, (g_get_monotonic_time() - t0) / 1000.0,
                   10000 / ((g_get_monotonic_time() - t0) / 1e6));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
    /* as netcarryd does before any peer link */
    if (!nc_peer_tls_set_priority(NC_PEER_DEFAULT_TLS_PRIORITY, NULL))
        g_error("the default TLS priority string is not accepted");
#define ADD(path, fn, data) g_test_add(path, Fixture, data, setup, fn, teardown)
    ADD("/peer/full-exchange/ipv4", test_full_exchange, "127.0.0.1");
    ADD("/peer/full-exchange/ipv6", test_full_exchange, "::1");
    ADD("/peer/finished/missing", test_finished_missing, NULL);
    ADD("/peer/version-1-refused", test_version_1_refused, NULL);
    ADD("/peer/cancelled-before-connect", test_cancelled_before, NULL);
    ADD("/peer/digest-mismatch", test_digest_mismatch, NULL);
    ADD("/peer/refused/client-from-other-ca", test_other_ca, NULL);
    ADD("/peer/refused/client-without-certificate", test_no_cert, NULL);
    ADD("/peer/refused/client-certificate-expired", test_expired_cert, NULL);
    ADD("/peer/refused/server-from-other-ca", test_server_from_other_ca, NULL);
    ADD("/peer/refused/server-names-other-host", test_wrong_host, NULL);
    ADD("/peer/refused/domain", test_refused_domain, NULL);
    ADD("/peer/timeout/silent-server", test_silent_server, NULL);
    ADD("/peer/unreachable", test_unreachable, NULL);
    ADD("/peer/wrong-version", test_wrong_version, NULL);
    ADD("/peer/classes-versions", test_classes_versions, NULL);
    ADD("/peer/garbage-after-handshake", test_garbage_after_handshake, NULL);
    ADD("/peer/timing-10000", test_timing, NULL);
    ADD("/peer/refused/client-certificate-revoked", test_revoked_client, NULL);
    ADD("/peer/refused/server-certificate-revoked", test_revoked_server, NULL);
    ADD("/peer/crl/spares-other-certificates", test_crl_spares_others, NULL);
    ADD("/peer/crl/none-accepts-that-certificate", test_revoked_without_crl, NULL);
    ADD("/peer/crl/untrusted-or-broken", test_crl_untrusted, NULL);
    ADD("/peer/hello/secret-and-abort", test_hello_secret, NULL);
    ADD("/peer/tls/priority-tls13-minimum", test_tls_priority, NULL);
    return g_test_run();
}

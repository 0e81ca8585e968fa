/* test-peer-proto.c - the netcarryd <-> netcarryd wire format: round trips, every malformed frame,
 * versions, the set digest, and random bytes. A destination decodes what the network hands it.
 */
#include <string.h>
#include <arpa/inet.h>

#include "conf/nc-ct-items.h"
#include "nc-peer-proto.h"
#include "util/nc-error.h"

#define UUID "5a3c1f5e-0b7e-4c55-9f0e-000000000001"

/* A varied entry: IPv4 or IPv6, TCP with labels, UDP, ICMP, NAT'ed reply. */
static void make_entry(guint i, NcCtEntry *e)
{
    memset(e, 0, sizeof(*e));
    if (i % 3 == 2) {
        guint8 a[16] = {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
        guint8 b[16] = {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};

        b[12] = i >> 24, b[13] = i >> 16, b[14] = i >> 8, b[15] = i;
        e->orig.src.family = e->orig.dst.family = AF_INET6;
        memcpy(e->orig.src.bytes, a, 16);
        memcpy(e->orig.dst.bytes, b, 16);
    } else {
        guint32 a = htonl(0x0a000001), b = htonl(0xc0a80000u + i);

        e->orig.src.family = e->orig.dst.family = AF_INET;
        memcpy(e->orig.src.bytes, &a, 4);
        memcpy(e->orig.dst.bytes, &b, 4);
    }
    e->reply.src = e->orig.dst;
    e->reply.dst = e->orig.src;
    switch (i % 4) {
    case 0: /* TCP with everything */
        e->orig.proto = e->reply.proto = 6;
        e->orig.sport = 40000 + i % 20000;
        e->orig.dport = 80;
        e->has_tcp = TRUE;
        e->tcp_state = 3;
        e->tcp_wscale[0] = 7;
        e->tcp_wscale[1] = 9;
        e->tcp_flags[0] = 0x0a;
        e->tcp_flags[1] = 0x0a;
        e->has_labels = TRUE;
        e->labels[15] = i;
        break;
    case 1: /* UDP */
    case 3:
        e->orig.proto = e->reply.proto = 17;
        e->orig.sport = 5000 + i % 1000;
        e->orig.dport = 53;
        break;
    case 2: /* ICMPv6 */
        e->orig.proto = e->reply.proto = 58;
        e->orig.icmp_id = i;
        e->orig.icmp_type = 128;
        e->reply.icmp_id = i;
        e->reply.icmp_type = 129;
        break;
    }
    e->reply.sport = e->orig.dport;
    e->reply.dport = e->orig.sport;
    e->zone = i % 7;
    e->status = 0x18e;
    e->timeout = 431999 - i;
    e->mark = i * 3;
}

static NcPeerMsg *make_state(guint seq, guint n_up, guint n_del)
{
    NcPeerMsg *m = nc_peer_msg_new(NC_PEER_MSG_STATE);

    m->state.seq = seq;
    for (guint i = 0; i < n_up; i++) {
        NcCtEntry e;

        make_entry(i, &e);
        g_array_append_val(m->state.upserts, e);
    }
    for (guint i = 0; i < n_del; i++) {
        NcCtEntry e;
        NcCtKey k;

        make_entry(1000 + i, &e);
        nc_ct_key_of(&e, &k);
        g_array_append_val(m->state.deletes, k);
    }
    return m;
}

static NcPeerMsg *round_trip(const NcPeerMsg *m)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GBytes) frame = nc_peer_msg_encode(m, &error);
    NcPeerMsg *got;

    g_assert_no_error(error);
    got = nc_peer_frame_decode(g_bytes_get_data(frame, NULL), g_bytes_get_size(frame), &error);
    g_assert_no_error(error);
    g_assert_nonnull(got);
    g_assert_cmpint(got->type, ==, m->type);
    return got;
}

static void test_round_trip(void)
{
    g_autoptr(NcPeerMsg) hello = nc_peer_msg_new_hello(UUID, "host-a.example");
    g_autofree char *secret = nc_peer_secret_new();
    g_autoptr(NcPeerMsg) state = make_state(7, 40, 5);
    g_autoptr(NcPeerMsg) seal = nc_peer_msg_new(NC_PEER_MSG_SEAL);
    g_autoptr(NcPeerMsg) ack = nc_peer_msg_new_ack(TRUE, 1000, NULL);
    g_autoptr(NcPeerMsg) nack = nc_peer_msg_new_ack(FALSE, 3, "conntrack table full");
    g_autoptr(NcPeerMsg) abort_ = nc_peer_msg_new_abort(NC_PEER_ABORT_REFUSED, "not migrating");
    g_autoptr(NcPeerMsg) h2 = NULL, s2 = round_trip(state), se2 = NULL, a2 = NULL, n2 = NULL,
                         ab2 = NULL;

    hello->hello.secret = g_strdup(secret);
    h2 = round_trip(hello);
    g_assert_cmpstr(h2->hello.secret, ==, secret);

    g_assert_cmpuint(h2->hello.version, ==, NC_PEER_PROTO_VERSION);
    g_assert_cmpuint(h2->hello.compat_version, ==, NC_PEER_PROTO_COMPAT_VERSION);
    g_assert_cmpstr(h2->hello.domain_uuid, ==, UUID);
    g_assert_cmpstr(h2->hello.host, ==, "host-a.example");

    g_assert_cmpuint(s2->state.seq, ==, 7);
    g_assert_cmpuint(s2->state.upserts->len, ==, 40);
    g_assert_cmpuint(s2->state.deletes->len, ==, 5);
    /* the decoder zeroes what the encoding omits, so equal structs mean an exact round trip */
    g_assert_cmpmem(s2->state.upserts->data, 40 * sizeof(NcCtEntry), state->state.upserts->data,
                    40 * sizeof(NcCtEntry));
    g_assert_cmpmem(s2->state.deletes->data, 5 * sizeof(NcCtKey), state->state.deletes->data,
                    5 * sizeof(NcCtKey));

    seal->seal.chunks = 3;
    seal->seal.count = G_MAXUINT64 - 1;
    for (int i = 0; i < NC_PEER_DIGEST_SIZE; i++)
        seal->seal.digest[i] = i * 7;
    se2 = round_trip(seal);
    g_assert_cmpuint(se2->seal.chunks, ==, 3);
    g_assert_cmpuint(se2->seal.count, ==, G_MAXUINT64 - 1);
    g_assert_cmpmem(se2->seal.digest, 32, seal->seal.digest, 32);

    a2 = round_trip(ack);
    g_assert_true(a2->ack.ok);
    g_assert_cmpuint(a2->ack.installed, ==, 1000);
    g_assert_cmpstr(a2->ack.reason, ==, "");
    n2 = round_trip(nack);
    g_assert_false(n2->ack.ok);
    g_assert_cmpuint(n2->ack.installed, ==, 3);
    g_assert_cmpstr(n2->ack.reason, ==, "conntrack table full");
    ab2 = round_trip(abort_);
    g_assert_cmpint(ab2->abort.code, ==, NC_PEER_ABORT_REFUSED);
    g_assert_cmpstr(ab2->abort.reason, ==, "not migrating");
}

static NcPeerMsg *make_finished(gboolean full)
{
    NcPeerMsg *m = nc_peer_msg_new(NC_PEER_MSG_FINISHED);

    if (!full) {
        m->finished.outcome = NC_PEER_OUTCOME_CANCELLED;
        m->finished.reason = g_strdup("domjobabort");
        return m;
    }
    m->finished.outcome = NC_PEER_OUTCOME_COMPLETED;
    m->finished.has_downtime = TRUE;
    m->finished.downtime_ms = 150;
    m->finished.has_removed = TRUE;
    m->finished.removed = 1000;
    m->finished.precopied = 998;
    m->finished.changed_at_stop = 3;
    m->finished.n_steps = 3;
    m->finished.steps = g_new0(NcPeerSealStep, 3);
    for (guint i = 0; i < 3; i++) {
        m->finished.steps[i].phase = 2 + i;
        m->finished.steps[i].cause = 20 + i;
        m->finished.steps[i].pass = i == 0 ? 7 : 0;
        m->finished.steps[i].time_us = G_GINT64_CONSTANT(1795000000000000) + i * 1000;
    }
    m->finished.reason = g_strdup("");
    return m;
}

/* A timeline longer than the wire allows keeps its beginning and its end (the stop, the seal, the
 * outcome): only steps from the middle (pre-copy passes) are dropped. */
static void test_long_timeline(void)
{
    const guint n = NC_PEER_SEAL_STEPS_MAX + 44;
    g_autoptr(NcPeerMsg) m = make_finished(TRUE);
    g_autoptr(NcPeerMsg) got = NULL;
    const guint half = NC_PEER_SEAL_STEPS_MAX / 2;

    g_free(m->finished.steps);
    m->finished.steps = g_new0(NcPeerSealStep, n);
    m->finished.n_steps = n;
    for (guint i = 0; i < n; i++)
        m->finished.steps[i].pass = i;
    got = round_trip(m);
    g_assert_cmpuint(got->finished.n_steps, ==, NC_PEER_SEAL_STEPS_MAX);
    g_assert_cmpuint(got->finished.steps[0].pass, ==, 0);
    g_assert_cmpuint(got->finished.steps[half - 1].pass, ==, half - 1);
    g_assert_cmpuint(got->finished.steps[half].pass, ==, n - half);
    g_assert_cmpuint(got->finished.steps[NC_PEER_SEAL_STEPS_MAX - 1].pass, ==, n - 1);
}

/* FINISHED (version 2): every field survives, "unknown" included (no downtime, no clean-up). */
static void test_round_trip_finished(void)
{
    g_autoptr(NcPeerMsg) full = make_finished(TRUE);
    g_autoptr(NcPeerMsg) bare = make_finished(FALSE);
    g_autoptr(NcPeerMsg) f2 = round_trip(full), b2 = round_trip(bare);

    g_assert_cmpint(f2->finished.outcome, ==, NC_PEER_OUTCOME_COMPLETED);
    g_assert_true(f2->finished.has_downtime);
    g_assert_cmpuint(f2->finished.downtime_ms, ==, 150);
    g_assert_true(f2->finished.has_removed);
    g_assert_cmpuint(f2->finished.removed, ==, 1000);
    g_assert_cmpuint(f2->finished.precopied, ==, 998);
    g_assert_cmpuint(f2->finished.changed_at_stop, ==, 3);
    g_assert_cmpuint(f2->finished.n_steps, ==, 3);
    g_assert_cmpmem(f2->finished.steps, 3 * sizeof(NcPeerSealStep), full->finished.steps,
                    3 * sizeof(NcPeerSealStep));
    g_assert_cmpstr(f2->finished.reason, ==, "");

    g_assert_cmpint(b2->finished.outcome, ==, NC_PEER_OUTCOME_CANCELLED);
    g_assert_false(b2->finished.has_downtime);
    g_assert_false(b2->finished.has_removed);
    g_assert_cmpuint(b2->finished.n_steps, ==, 0);
    g_assert_nonnull(b2->finished.steps);
    g_assert_cmpstr(b2->finished.reason, ==, "domjobabort");
    g_assert_cmpstr(nc_peer_msg_type_to_string(NC_PEER_MSG_FINISHED), ==, "FINISHED");
    g_assert_cmpstr(nc_peer_outcome_to_string(NC_PEER_OUTCOME_CANCELLED), ==, "cancelled");

    /* an outcome that does not exist is not sent */
    {
        g_autoptr(GError) error = NULL;

        bare->finished.outcome = NC_PEER_OUTCOME_LAST;
        g_assert_null(nc_peer_msg_encode(bare, &error));
        g_assert_error(error, NC_ERROR, NC_ERROR_INVALID_ARG);
    }
}

/* The encoding is fixed by the Theory of operation: check one IPv4 TCP entry byte by byte. */
static void test_entry_encoding(void)
{
    NcCtEntry e;
    g_autoptr(GBytes) b = NULL;
    const guint8 *p;
    gsize n;

    make_entry(4, &e); /* IPv4, TCP, labels */
    b = nc_peer_ct_entry_canonical(&e, NULL);
    p = g_bytes_get_data(b, &n);
    g_assert_cmpuint(n, ==, 50 + 16 + 5);
    g_assert_cmpuint(p[0], ==, 4);
    g_assert_cmpuint(p[1], ==, 3);                              /* labels | tcp */
    g_assert_cmpmem(p + 2, 2, "\0\4", 2);                       /* zone 4 */
    g_assert_cmpmem(p + 4, 8, "\x0a\0\0\x01\xc0\xa8\0\x04", 8); /* 10.0.0.1 -> 192.168.0.4 */
    g_assert_cmpuint(p[12], ==, 6);                             /* proto */
    g_assert_cmpmem(p + 13, 4, "\x9c\x44\0\x50", 4);            /* 40004 -> 80, big-endian */
}

static void test_bad_entry_refused_by_encoder(void)
{
    g_autoptr(NcPeerMsg) m = make_state(0, 2, 0);
    g_autoptr(GError) error = NULL;

    g_array_index(m->state.upserts, NcCtEntry, 1).reply.dst.family = AF_INET6;
    g_assert_null(nc_peer_msg_encode(m, &error));
    g_assert_error(error, NC_ERROR, NC_ERROR_INVALID_ARG);
}

static void assert_rejected(const guint8 *p, gsize n, const char *needle)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(NcPeerMsg) m = nc_peer_frame_decode(p, n, &error);

    g_assert_null(m);
    g_assert_error(error, NC_ERROR, NC_ERROR_INVALID_DATA);
    if (needle && !strstr(error->message, needle))
        g_error("expected '%s' in: %s", needle, error->message);
}

/* Every truncation of every message type fails, naming a field; so does every extra byte. */
static NcPeerMsg *make_items(void)
{
    NcPeerMsg *m = nc_peer_msg_new(NC_PEER_MSG_ITEMS);

    m->items.klass = g_strdup("nft-set");
    m->items.replace = TRUE;
    g_ptr_array_add(m->items.items, g_bytes_new_static("abc", 3));
    g_ptr_array_add(m->items.items, g_bytes_new_static("defg", 4));
    nc_not_carried_add(m->items.not_carried, "nft-set", "inet/fw/perip element 10.0.0.5",
                       "a ct count list");
    return m;
}

static NcPeerMsg *make_hello_classes(void)
{
    NcPeerMsg *m = nc_peer_msg_new_hello(UUID, "h");
    const char *const classes[] = {"nft-set", "nft-object", NULL};

    m->hello.secret = g_strdup("s");
    m->hello.classes = g_strdupv((char **)classes);
    return m;
}

static NcPeerMsg *make_seal_classes(void)
{
    NcPeerMsg *m = nc_peer_msg_new(NC_PEER_MSG_SEAL);
    guint8 d[NC_PEER_DIGEST_SIZE];

    memset(d, 0xab, sizeof(d));
    m->seal.classes = nc_peer_class_sums_new();
    nc_peer_class_sums_add(m->seal.classes, "nft-set", 3, d);
    nc_peer_class_sums_add(m->seal.classes, "nft-object", 1, NULL);
    return m;
}

/* Version 4: ITEMS, the HELLO's class list and the per-class sums round trip; a version 3 codec
 * leaves the sums out, refuses ITEMS, and cannot read a version 4 SEAL. */
static void test_classes(void)
{
    g_autoptr(NcPeerMsg) items = make_items();
    g_autoptr(NcPeerMsg) hello = make_hello_classes();
    g_autoptr(NcPeerMsg) seal = make_seal_classes();
    g_autoptr(NcPeerMsg) a = NULL, b = NULL, c = NULL, s3 = NULL;
    g_autoptr(GBytes) f3 = NULL, f4 = NULL, i3 = NULL;
    g_autoptr(GError) error = NULL;
    const NcPeerClassSum *cs;
    gsize len = 0;
    const guint8 *p;

    a = round_trip(items);
    g_assert_cmpstr(a->items.klass, ==, "nft-set");
    g_assert_true(a->items.replace);
    g_assert_cmpuint(a->items.items->len, ==, 2);
    g_assert_true(g_bytes_equal(a->items.items->pdata[1], items->items.items->pdata[1]));
    g_assert_cmpuint(a->items.not_carried->len, ==, 1);
    g_assert_cmpstr(((NcNotCarried *)a->items.not_carried->pdata[0])->reason, ==,
                    "a ct count list");
    b = round_trip(hello);
    g_assert_cmpuint(g_strv_length(b->hello.classes), ==, 2);
    g_assert_cmpstr(b->hello.classes[1], ==, "nft-object");
    c = round_trip(seal);
    g_assert_cmpuint(c->seal.classes->len, ==, 2);
    cs = nc_peer_class_sums_find(c->seal.classes, "nft-set");
    g_assert_cmpuint(cs->count, ==, 3);
    g_assert_cmpuint(cs->digest[31], ==, 0xab);

    /* version 3 */
    i3 = nc_peer_msg_encode_version(items, 3, &error);
    g_assert_null(i3);
    g_assert_error(error, NC_ERROR, NC_ERROR_UNSUPPORTED);
    g_clear_error(&error);
    f3 = nc_peer_msg_encode_version(seal, 3, &error);
    g_assert_no_error(error);
    p = g_bytes_get_data(f3, &len);
    s3 = nc_peer_msg_decode_version(3, NC_PEER_MSG_SEAL, p + NC_PEER_PROTO_HEADER_SIZE,
                                    len - NC_PEER_PROTO_HEADER_SIZE, &error);
    g_assert_no_error(error);
    g_assert_null(s3->seal.classes);
    f4 = nc_peer_msg_encode_version(seal, 4, &error);
    p = g_bytes_get_data(f4, &len);
    g_assert_null(nc_peer_msg_decode_version(3, NC_PEER_MSG_SEAL, p + NC_PEER_PROTO_HEADER_SIZE,
                                             len - NC_PEER_PROTO_HEADER_SIZE, &error));
    g_assert_error(error, NC_ERROR, NC_ERROR_INVALID_DATA);
    g_clear_error(&error);
    g_assert_null(nc_peer_msg_decode_version(3, NC_PEER_MSG_ITEMS, (const guint8 *)"", 0, &error));
    g_assert_error(error, NC_ERROR, NC_ERROR_INVALID_DATA);
    g_clear_error(&error);
    /* a bad class name is refused both ways */
    g_free(items->items.klass);
    items->items.klass = g_strdup("NFT set");
    g_assert_null(nc_peer_msg_encode(items, &error));
    g_assert_error(error, NC_ERROR, NC_ERROR_INVALID_ARG);
}

static void test_truncation(void)
{
    NcPeerMsg *msgs[] = {
        make_hello_classes(),
        make_items(),
        make_seal_classes(),
        make_state(1, 9, 3),
        nc_peer_msg_new(NC_PEER_MSG_SEAL),
        nc_peer_msg_new_ack(FALSE, 1, "x"),
        nc_peer_msg_new_abort(NC_PEER_ABORT_PROTOCOL, "bad"),
        make_finished(TRUE),
        make_finished(FALSE),
    };

    for (gsize m = 0; m < G_N_ELEMENTS(msgs); m++) {
        g_autoptr(GBytes) frame = nc_peer_msg_encode(msgs[m], NULL);
        gsize len;
        const guint8 *p = g_bytes_get_data(frame, &len);
        g_autofree guint8 *buf = g_malloc(len + 1);

        for (gsize n = 0; n < len; n++) {
            g_autoptr(GError) error = NULL;
            guint32 plen =
                GUINT32_TO_BE(n > NC_PEER_PROTO_HEADER_SIZE ? n - NC_PEER_PROTO_HEADER_SIZE : 0);

            /* as cut off in transit: the length disagrees */
            assert_rejected(p, n, NULL);
            /* as sent by a broken peer: the length matches the short payload */
            if (n < NC_PEER_PROTO_HEADER_SIZE)
                continue;
            memcpy(buf, p, n);
            memcpy(buf + 8, &plen, 4);
            g_autoptr(NcPeerMsg) got = nc_peer_frame_decode(buf, n, &error);
            /* the class list (u16 2, "nft-set", "nft-object") is optional: a HELLO that ends
             * after the secret is a client's, or a version 3 server's */
            if (msgs[m]->type == NC_PEER_MSG_HELLO && n == len - 2 - 2 - 7 - 2 - 10) {
                g_assert_no_error(error);
                g_assert_null(got->hello.classes);
                continue;
            }
            /* ... and so is the secret ("s") */
            if (msgs[m]->type == NC_PEER_MSG_HELLO && n == len - 2 - 2 - 7 - 2 - 10 - 3) {
                /* a HELLO that ends after the host is version 2's: decoded with no secret, so
                 * that negotiation can name both versions instead of "truncated" */
                g_assert_no_error(error);
                g_assert_cmpstr(got->hello.secret, ==, "");
                continue;
            }
            g_assert_null(got);
            g_assert_error(error, NC_ERROR, NC_ERROR_INVALID_DATA);
            g_assert_nonnull(strstr(error->message, "field"));
        }
        memcpy(buf, p, len);
        buf[len] = 0;
        {
            guint32 plen = GUINT32_TO_BE(len + 1 - NC_PEER_PROTO_HEADER_SIZE);

            memcpy(buf + 8, &plen, 4);
            assert_rejected(buf, len + 1, "after the last field");
        }
        nc_peer_msg_free(msgs[m]);
    }
}

static GBytes *encode(const NcPeerMsg *m)
{
    return nc_peer_msg_encode(m, NULL);
}

/* Corruptions that keep the size: each is named by its field. */
static void test_corruption(void)
{
    g_autoptr(NcPeerMsg) hello = nc_peer_msg_new_hello(UUID, "h");
    g_autoptr(NcPeerMsg) state = make_state(0, 3, 1);
    g_autoptr(NcPeerMsg) ack = nc_peer_msg_new_ack(FALSE, 0, "why");
    g_autoptr(NcPeerMsg) abort_ = nc_peer_msg_new_abort(NC_PEER_ABORT_TIMEOUT, "t");
    g_autoptr(NcPeerMsg) fin = make_finished(TRUE);
    g_autoptr(GBytes) hf = encode(hello), sf = encode(state), af = encode(ack), bf = encode(abort_),
                      ff = encode(fin);
    gsize hl, sl, al, bl, fl;
    g_autofree guint8 *h = g_memdup2(g_bytes_get_data(hf, &hl), g_bytes_get_size(hf));
    g_autofree guint8 *s = g_memdup2(g_bytes_get_data(sf, &sl), g_bytes_get_size(sf));
    g_autofree guint8 *a = g_memdup2(g_bytes_get_data(af, &al), g_bytes_get_size(af));
    g_autofree guint8 *b = g_memdup2(g_bytes_get_data(bf, &bl), g_bytes_get_size(bf));
    g_autofree guint8 *fi = g_memdup2(g_bytes_get_data(ff, &fl), g_bytes_get_size(ff));
    struct {
        guint8 *buf;
        gsize len, off;
        guint8 value;
        const char *needle;
    } cases[] = {
        {h, hl, 0, 'X', "field magic"},
        {h, hl, 5, 99, "field type"},
        {h, hl, 5, 0, "field type"},
        {h, hl, 7, 1, "field reserved"},
        {h, hl, 8, 0x7f, "field length"},
        {h, hl, 12 + 7, 5, "field compat_version"}, /* compat 5 > version 4 */
        {h, hl, 12 + 8 + 2, 'z', "field domain_uuid"},
        {h, hl, 12 + 8 + 2 + 36 + 2, 0xff, "field host"},        /* not UTF-8 */
        {s, sl, 12 + 4 + 3, 200, "field n_upserts"},             /* cannot fit */
        {s, sl, 12 + 12, 5, "upsert 0 field family"},            /* neither 4 nor 6 */
        {s, sl, 12 + 12 + 1, 0x80, "upsert 0 field flags"},      /* unknown bit */
        {s, sl, 12 + 12 + 71 + 1, 0x04, "upsert 1 field flags"}, /* unknown bit */
        {s, sl, sl - 21 + 1, 1, "delete 0 field reserved"},
        {s, sl, sl - 21, 6, "delete 0 field orig."}, /* IPv6 key: its tuple runs out */
        {a, al, 12, 2, "field result"},
        {b, bl, 12 + 1, 0, "field code"},
        {b, bl, 12 + 1, 77, "field code"},
        {fi, fl, 12, 3, "field outcome"},
        {fi, fl, 12 + 1, 0x07, "field flags"},                 /* unknown bit */
        {fi, fl, 12 + 18 + 1, 200, "field n_steps"},           /* cannot fit */
        {fi, fl, 12 + 18 + 2 + 3 * 14 + 1, 9, "field reason"}, /* runs past the end */
    };

    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        guint8 saved = cases[i].buf[cases[i].off];

        cases[i].buf[cases[i].off] = cases[i].value;
        assert_rejected(cases[i].buf, cases[i].len, cases[i].needle);
        cases[i].buf[cases[i].off] = saved;
    }
    /* a failed ACK must carry a reason */
    {
        g_autoptr(NcPeerMsg) m = nc_peer_msg_new_ack(FALSE, 0, "x");
        g_autoptr(GBytes) f = encode(m);
        g_autofree guint8 *p = g_memdup2(g_bytes_get_data(f, NULL), g_bytes_get_size(f));
        guint32 plen = GUINT32_TO_BE(13);

        p[12 + 9 + 1] = 0;                 /* reason length 0 */
        p[12 + 11] = p[12 + 12] = 0;       /* no classes (version 4) */
        memcpy(p + 8, &plen, 4);
        assert_rejected(p, 12 + 13, "field reason");
    }
}

/* The rendezvous secret: fresh each time, 64 hex digits, and only an exact copy matches. */
static void test_secret(void)
{
    g_autofree char *a = nc_peer_secret_new();
    g_autofree char *b = nc_peer_secret_new();
    g_autofree char *flipped = g_strdup(a);

    g_assert_cmpuint(strlen(a), ==, NC_PEER_SECRET_HEX_LEN);
    for (const char *p = a; *p; p++)
        g_assert_true(g_ascii_isxdigit(*p) && !g_ascii_isupper(*p));
    g_assert_cmpstr(a, !=, b);
    g_assert_true(nc_peer_secret_equal(a, a));
    g_assert_false(nc_peer_secret_equal(a, b));
    flipped[NC_PEER_SECRET_HEX_LEN - 1] ^= 1; /* the last digit differs */
    g_assert_false(nc_peer_secret_equal(a, flipped));
    flipped[NC_PEER_SECRET_HEX_LEN - 1] = '\0'; /* a prefix */
    g_assert_false(nc_peer_secret_equal(a, flipped));
    g_assert_false(nc_peer_secret_equal(a, ""));
    g_assert_false(nc_peer_secret_equal(a, NULL));
    g_assert_false(nc_peer_secret_equal(NULL, a)); /* no secret published: nobody matches */
    g_assert_false(nc_peer_secret_equal("", ""));
}

static void test_versions(void)
{
    NcPeerHello same = {1, 1, (char *)UUID, (char *)"b"};
    NcPeerHello newer = {3, 2, (char *)UUID, (char *)"b"};
    NcPeerHello overlap = {4, 1, (char *)UUID, (char *)"b"};
    NcPeerHello older = {1, 1, (char *)UUID, (char *)"old-host"};
    guint32 v = 0;
    g_autoptr(GError) error = NULL;

    g_assert_true(nc_peer_hello_negotiate(&same, 1, 1, &v, NULL));
    g_assert_cmpuint(v, ==, 1);
    g_assert_true(nc_peer_hello_negotiate(&overlap, 2, 1, &v, NULL));
    g_assert_cmpuint(v, ==, 2);
    g_assert_false(nc_peer_hello_negotiate(&newer, 1, 1, &v, &error));
    g_assert_error(error, NC_ERROR, NC_ERROR_UNSUPPORTED);
    g_assert_nonnull(strstr(error->message, "versions 2-3, this host 1-1"));
    g_clear_error(&error);
    g_assert_false(nc_peer_hello_negotiate(&older, 3, 2, &v, &error));
    g_assert_error(error, NC_ERROR, NC_ERROR_UNSUPPORTED);
    g_assert_nonnull(strstr(error->message, "old-host"));
}

static void shuffle(NcCtEntry *e, guint n, GRand *rand)
{
    for (guint i = n - 1; i > 0; i--) {
        guint j = g_rand_int_range(rand, 0, i + 1);
        NcCtEntry t = e[i];

        e[i] = e[j];
        e[j] = t;
    }
}

/* The SEAL's digest of @n entries: an NcItemSet of conntrack's class, as both sides keep it */
static gboolean digest_of_entries(const NcCtEntry *e, guint n, NcDigest *digest)
{
    g_autoptr(NcItemSet) set = nc_item_set_new(&nc_ct_class);

    for (guint i = 0; i < n; i++)
        if (!nc_item_set_upsert(set, g_memdup2(&e[i], sizeof(e[i])), NULL, NULL))
            return FALSE;
    *digest = *nc_item_set_digest(set);
    return TRUE;
}

/* Same set in any order: same digest. Any encoded field of any entry changed: another digest.
 * (An entry counted twice: /item-set/digest/counted-twice.) */
static void test_digest(void)
{
    enum { N = 200 };
    g_autofree NcCtEntry *e = g_new(NcCtEntry, N);
    g_autoptr(GRand) rand = g_rand_new_with_seed(42);
    NcDigest ref, d;

    for (guint i = 0; i < N; i++)
        make_entry(i, &e[i]);
    g_assert_true(digest_of_entries(e, N, &ref));
    for (int round = 0; round < 5; round++) {
        shuffle(e, N, rand);
        g_assert_true(digest_of_entries(e, N, &d));
        g_assert_cmpmem(d.sum, 32, ref.sum, 32);
    }
    /* every byte of every entry's encoding is a field: flip each bit pattern in turn, by
     * mutating the struct field it comes from (checked through the canonical bytes) */
    for (guint i = 0; i < N; i += 37) {
        NcCtEntry saved = e[i];
        guint8 *fields[] = {
            &e[i].orig.src.bytes[0],     &e[i].orig.src.bytes[3],     &e[i].orig.dst.bytes[3],
            &e[i].reply.src.bytes[3],    &e[i].reply.dst.bytes[0],    &e[i].orig.proto,
            &e[i].reply.proto,           (guint8 *)&e[i].orig.sport,  (guint8 *)&e[i].orig.dport,
            (guint8 *)&e[i].reply.sport, (guint8 *)&e[i].reply.dport, (guint8 *)&e[i].orig.icmp_id,
            &e[i].orig.icmp_type,        &e[i].orig.icmp_code,        (guint8 *)&e[i].reply.icmp_id,
            &e[i].reply.icmp_type,       &e[i].reply.icmp_code,       (guint8 *)&e[i].zone,
            (guint8 *)&e[i].status,      (guint8 *)&e[i].timeout,     (guint8 *)&e[i].mark,
            (guint8 *)&e[i].has_labels,  (guint8 *)&e[i].has_tcp,
        };

        for (gsize f = 0; f < G_N_ELEMENTS(fields); f++) {
            *fields[f] ^= 0x01;
            g_assert_true(digest_of_entries(e, N, &d));
            if (memcmp(d.sum, ref.sum, 32) == 0)
                g_error("entry %u field #%zu changed but the digest did not", i, f);
            e[i] = saved;
        }
        if (e[i].has_tcp || e[i].has_labels) {
            guint8 *opt[] = {&e[i].labels[0],     &e[i].labels[15],    &e[i].tcp_state,
                             &e[i].tcp_wscale[0], &e[i].tcp_wscale[1], &e[i].tcp_flags[0],
                             &e[i].tcp_flags[1]};

            for (gsize f = 0; f < G_N_ELEMENTS(opt); f++) {
                *opt[f] ^= 0x80;
                g_assert_true(digest_of_entries(e, N, &d));
                if (memcmp(d.sum, ref.sum, 32) == 0)
                    g_error("entry %u optional field #%zu changed but the digest did not", i, f);
                e[i] = saved;
            }
        }
    }
}

/* The receiver's set: chunks in, same count and digest as the source's flat list. */
static void test_set(void)
{
    enum { N = 300 };
    g_autoptr(NcItemSet) set = nc_item_set_new(&nc_ct_class);
    g_autoptr(NcPeerMsg) c1 = nc_peer_msg_new(NC_PEER_MSG_STATE);
    g_autoptr(NcPeerMsg) c2 = nc_peer_msg_new(NC_PEER_MSG_STATE);
    g_autofree NcCtEntry *final = g_new(NcCtEntry, N);
    NcDigest want;
    NcPeerSeal seal = {.chunks = 2, .count = N};
    g_autoptr(GError) error = NULL;

    for (guint i = 0; i < N; i++) {
        make_entry(i, &final[i]);
        g_array_append_val(c1->state.upserts, final[i]);
    }
    /* chunk 2: entry 5 changed its timeout, entry 6 deleted, entry 6 ... re-added later */
    final[5].timeout = 17;
    g_array_append_val(c2->state.upserts, final[5]);
    {
        NcCtKey k;

        nc_ct_key_of(&final[6], &k);
        g_array_append_val(c2->state.deletes, k);
    }
    g_assert_true(nc_peer_state_apply(set, &c1->state, NULL));
    g_assert_true(nc_peer_state_apply(set, &c2->state, NULL));
    g_assert_cmpuint(nc_item_set_count(set), ==, N - 1);
    final[6] = final[N - 1];
    g_assert_true(digest_of_entries(final, N - 1, &want));
    g_assert_cmpmem(nc_item_set_digest(set)->sum, 32, want.sum, 32);

    memcpy(seal.digest, want.sum, 32);
    seal.count = N - 1;
    g_assert_true(nc_peer_seal_check(set, &seal, 2, &error));
    g_assert_no_error(error);
    g_assert_false(nc_peer_seal_check(set, &seal, 1, &error));
    g_assert_error(error, NC_ERROR, NC_ERROR_INVALID_DATA);
    g_assert_nonnull(strstr(error->message, "chunks"));
    g_clear_error(&error);
    seal.count = N;
    g_assert_false(nc_peer_seal_check(set, &seal, 2, &error));
    g_assert_error(error, NC_ERROR, NC_ERROR_INVALID_DATA);
    g_assert_nonnull(strstr(error->message, "items"));
    g_clear_error(&error);
    seal.count = N - 1;
    seal.digest[31] ^= 1;
    g_assert_false(nc_peer_seal_check(set, &seal, 2, &error));
    g_assert_nonnull(strstr(error->message, "digest"));
}

/* Random bytes, and valid frames with random bytes changed, never crash the decoder. */
static void test_fuzz(void)
{
    g_autoptr(GRand) rand = g_rand_new_with_seed(g_test_rand_int());
    g_autoptr(NcPeerMsg) state = make_state(0, 12, 4);
    g_autoptr(NcPeerMsg) hello = nc_peer_msg_new_hello(UUID, "h");
    g_autoptr(GBytes) sf = encode(state), hf = encode(hello);
    GBytes *seeds[] = {sf, hf};
    guint accepted = 0;

    for (int it = 0; it < 20000; it++) {
        guint8 buf[1024];
        gsize n;
        g_autoptr(GError) error = NULL;
        g_autoptr(NcPeerMsg) m = NULL;

        if (it % 2) {
            GBytes *seed = seeds[it % 4 == 1];

            n = g_bytes_get_size(seed);
            g_assert_cmpuint(n, <=, sizeof(buf));
            memcpy(buf, g_bytes_get_data(seed, NULL), n);
            for (int k = g_rand_int_range(rand, 1, 4); k > 0; k--)
                buf[g_rand_int_range(rand, 0, n)] = g_rand_int_range(rand, 0, 256);
            if (g_rand_boolean(rand))
                n = g_rand_int_range(rand, 0, n + 1);
        } else {
            n = g_rand_int_range(rand, 0, sizeof(buf));
            for (gsize i = 0; i < n; i++)
                buf[i] = g_rand_int_range(rand, 0, 256);
            if (n >= 12 && g_rand_boolean(rand)) { /* a plausible header over random bytes */
                guint32 magic = GUINT32_TO_BE(NC_PEER_PROTO_MAGIC), plen = GUINT32_TO_BE(n - 12);

                memcpy(buf, &magic, 4);
                buf[4] = 0, buf[5] = g_rand_int_range(rand, 1, 6), buf[6] = buf[7] = 0;
                memcpy(buf + 8, &plen, 4);
            }
        }
        m = nc_peer_frame_decode(buf, n, &error);
        g_assert_true((m == NULL) != (error == NULL));
        accepted += m != NULL;
    }
    g_test_message("fuzz: %u of 20000 inputs decoded as valid messages", accepted);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/peer-proto/round-trip", test_round_trip);
    g_test_add_func("/peer-proto/round-trip-finished", test_round_trip_finished);
    g_test_add_func("/peer-proto/long-timeline", test_long_timeline);
    g_test_add_func("/peer-proto/entry-encoding", test_entry_encoding);
    g_test_add_func("/peer-proto/encoder-refuses-mixed-families",
                    test_bad_entry_refused_by_encoder);
    g_test_add_func("/peer-proto/truncation", test_truncation);
    g_test_add_func("/peer-proto/classes", test_classes);
    g_test_add_func("/peer-proto/corruption", test_corruption);
    g_test_add_func("/peer-proto/versions", test_versions);
    g_test_add_func("/peer-proto/secret", test_secret);
    g_test_add_func("/peer-proto/digest", test_digest);
    g_test_add_func("/peer-proto/set", test_set);
    g_test_add_func("/peer-proto/fuzz", test_fuzz);
    return g_test_run();
}

/* make-seeds.c - writes the binary seed corpora of the protocol fuzzers (tests/fuzz/corpus/)
 * Well-formed frames of every message type, made by netcarry's own encoders, so that libFuzzer
 * starts past the magic and lengths. Run by hand after a protocol change:
 *     build-fuzz/tests/fuzz/make-seeds tests/fuzz/corpus
 */
#include <string.h>
#include <arpa/inet.h>

#include "conf/nc-ct-items.h"
#include "nc-hook-proto.h"
#include "nc-peer-proto.h"

static void save(const char *dir, const char *target, const char *name, GBytes *bytes)
{
    g_autofree char *sub = g_build_filename(dir, target, NULL);
    g_autofree char *path = g_build_filename(sub, name, NULL);
    g_autoptr(GError) error = NULL;

    g_mkdir_with_parents(sub, 0755);
    if (!g_file_set_contents(path, g_bytes_get_data(bytes, NULL), g_bytes_get_size(bytes), &error))
        g_error("%s", error->message);
}

static void save_peer(const char *dir, const char *name, const NcPeerMsg *msg)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GBytes) frame = nc_peer_msg_encode(msg, &error);

    if (!frame)
        g_error("%s: %s", name, error->message);
    save(dir, "peer-proto", name, frame);
}

static void entry(guint i, NcCtEntry *e)
{
    memset(e, 0, sizeof(*e));
    if (i % 2) {
        guint8 a[16] = {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
        guint8 b[16] = {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};

        e->orig.src.family = e->orig.dst.family = AF_INET6;
        memcpy(e->orig.src.bytes, a, 16);
        memcpy(e->orig.dst.bytes, b, 16);
        e->orig.proto = 58;
        e->orig.icmp_id = 7;
        e->orig.icmp_type = 128;
        e->reply.icmp_id = 7;
        e->reply.icmp_type = 129;
        e->reply.proto = 58;
    } else {
        guint32 a = htonl(0x0a000001), b = htonl(0xc0a80001), n = htonl(0xcb007101);

        e->orig.src.family = e->orig.dst.family = AF_INET;
        memcpy(e->orig.src.bytes, &a, 4);
        memcpy(e->orig.dst.bytes, &b, 4);
        e->orig.proto = e->reply.proto = 6;
        e->orig.sport = 40000;
        e->orig.dport = 80;
        e->has_tcp = TRUE;
        e->tcp_state = 3;
        e->tcp_wscale[0] = 7;
        e->tcp_flags[0] = 0x0a;
        e->has_labels = TRUE;
        e->labels[15] = 1;
        e->reply.sport = 80;
        e->reply.dport = 40000;
        e->reply.src = e->orig.dst;
        e->reply.dst.family = AF_INET;
        memcpy(e->reply.dst.bytes, &n, 4); /* SNAT'ed */
    }
    if (i % 2) {
        e->reply.src = e->orig.dst;
        e->reply.dst = e->orig.src;
    }
    e->zone = i;
    e->status = 0x18e;
    e->timeout = 431999;
    e->mark = 3;
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "tests/fuzz/corpus";
    g_autoptr(NcPeerMsg) hello = nc_peer_msg_new_hello("5a3c1f5e-0b7e-4c55-9f0e-000000000001",
                                                       "host-a.example");
    g_autoptr(NcPeerMsg) state = nc_peer_msg_new(NC_PEER_MSG_STATE);
    g_autoptr(NcPeerMsg) seal = nc_peer_msg_new(NC_PEER_MSG_SEAL);
    g_autoptr(NcPeerMsg) ack = nc_peer_msg_new_ack(TRUE, 2, NULL);
    g_autoptr(NcPeerMsg) nack = nc_peer_msg_new_ack(FALSE, 1, "conntrack table full");
    g_autoptr(NcPeerMsg) abort_ = nc_peer_msg_new_abort(NC_PEER_ABORT_REFUSED, "not migrating");
    g_autoptr(NcPeerMsg) finished = nc_peer_msg_new(NC_PEER_MSG_FINISHED);
    g_autoptr(NcPeerMsg) items = nc_peer_msg_new(NC_PEER_MSG_ITEMS);
    g_autoptr(NcPeerMsg) hello4 = nc_peer_msg_new_hello("5a3c1f5e-0b7e-4c55-9f0e-000000000001",
                                                        "host-b.example");
    const char *const classes[] = {"nft-set", "nft-object", NULL};
    NcPeerSealStep steps[3] = {{1, 1, 0, 1700000000000000}, {2, 3, 1, 1700000000100000},
                               {5, 6, 0, 1700000000200000}};
    g_autoptr(NcItemSet) sent = nc_item_set_new(&nc_ct_class);
    NcCtEntry e[2];
    NcCtKey k;

    entry(0, &e[0]);
    entry(1, &e[1]);
    g_array_append_vals(state->state.upserts, e, 2);
    nc_ct_key_of(&e[1], &k);
    k.zone = 9;
    g_array_append_val(state->state.deletes, k);
    state->state.seq = 3;
    for (guint i = 0; i < 2; i++)
        nc_item_set_upsert(sent, g_memdup2(&e[i], sizeof(e[i])), NULL, NULL);
    seal->seal.chunks = 4;
    seal->seal.count = 2;
    memcpy(seal->seal.digest, nc_item_set_digest(sent)->sum, NC_DIGEST_SIZE);
    seal->seal.n_steps = 3;
    seal->seal.steps = g_memdup2(steps, sizeof(steps));
    finished->finished.outcome = NC_PEER_OUTCOME_FAILED;
    finished->finished.has_downtime = TRUE;
    finished->finished.downtime_ms = 120;
    finished->finished.has_removed = TRUE;
    finished->finished.removed = 2;
    finished->finished.precopied = 2;
    finished->finished.changed_at_stop = 1;
    finished->finished.n_steps = 3;
    finished->finished.steps = g_memdup2(steps, sizeof(steps));
    finished->finished.reason = g_strdup("job aborted");

    items->items.klass = g_strdup("nft-set");
    items->items.replace = TRUE;
    g_ptr_array_add(items->items.items, g_bytes_new_static("\x01\x02fw\x00", 5));
    g_ptr_array_add(items->items.items, g_bytes_new_static("\x0a\x00\x00\x05", 4));
    nc_not_carried_add(items->items.not_carried, "nft-set", "inet/fw/perip element 10.0.0.5",
                       "a ct count list");
    hello4->hello.secret = g_strdup("00");
    hello4->hello.classes = g_strdupv((char **)classes);
    seal->seal.classes = nc_peer_class_sums_new();
    nc_peer_class_sums_add(seal->seal.classes, "nft-set", 3, nc_item_set_digest(sent)->sum);
    ack->ack.classes = nc_peer_class_sums_new();
    nc_peer_class_sums_add(ack->ack.classes, "nft-set", 3, NULL);
    finished->finished.classes = nc_peer_class_sums_new();
    nc_peer_class_sums_add(finished->finished.classes, "nft-object", 1, NULL);

    save_peer(dir, "hello", hello);
    save_peer(dir, "hello-classes", hello4);
    save_peer(dir, "items", items);
    save_peer(dir, "state", state);
    save_peer(dir, "seal", seal);
    save_peer(dir, "ack", ack);
    save_peer(dir, "nack", nack);
    save_peer(dir, "abort", abort_);
    save_peer(dir, "finished", finished);

    {
        NcHookRequest begin = {"guest-1", "migrate", "begin", "-",
                               "<domain type='kvm'><name>guest-1</name></domain>\n"};
        NcHookRequest prepare = {"guest-1", "prepare", "begin", "-", ""};
        NcHookAnswer refuse = {NC_HOOK_REFUSE, "source unreachable"};
        g_autoptr(GBytes) b = nc_hook_request_encode(&begin);
        g_autoptr(GBytes) p = nc_hook_request_encode(&prepare);
        g_autoptr(GBytes) r = nc_hook_answer_encode(&refuse);
        g_autoptr(GBytes) rp = g_bytes_new_from_bytes(r, NC_HOOK_PROTO_HEADER_SIZE,
                                                      g_bytes_get_size(r) -
                                                          NC_HOOK_PROTO_HEADER_SIZE);

        save(dir, "hook-proto", "request-migrate-begin", b);
        save(dir, "hook-proto", "request-prepare", p);
        save(dir, "hook-proto", "answer-refuse-payload", rp);
    }
    {
        g_autoptr(GBytes) o = nc_hook_options_encode(TRUE);
        g_autoptr(GBytes) g = nc_hook_progress_encode("admission of guest-1 under way for 1234 ms");
        g_autoptr(GBytes) op = g_bytes_new_from_bytes(
            o, NC_HOOK_PROTO_HEADER_SIZE, g_bytes_get_size(o) - NC_HOOK_PROTO_HEADER_SIZE);
        g_autoptr(GBytes) gp = g_bytes_new_from_bytes(
            g, NC_HOOK_PROTO_HEADER_SIZE, g_bytes_get_size(g) - NC_HOOK_PROTO_HEADER_SIZE);

        save(dir, "hook-proto", "options-payload", op);
        save(dir, "hook-proto", "progress-payload", gp);
    }
    return 0;
}

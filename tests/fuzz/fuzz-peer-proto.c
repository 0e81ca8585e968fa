/* fuzz-peer-proto.c - libFuzzer target: the peer protocol's decoder (what another host sends)
 * Decodes any bytes as a whole frame, and (first byte = message type) as a bare payload; what
 * decodes must encode, and the encoding must decode and encode to the same bytes. A STATE is
 * applied to a receiver's set, a SEAL checked against it, as the destination does.
 */
#include <string.h>

#include "conf/nc-ct-items.h"
#include "nc-peer-proto.h"
#include "nc-fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    nc_fuzz_init();
    return 0;
}

static void fuzz_msg(const NcPeerMsg *msg, const GError *error)
{
    g_autoptr(GBytes) frame = NULL;
    g_autoptr(GBytes) frame2 = NULL;
    g_autoptr(NcPeerMsg) back = NULL;
    g_autoptr(NcItemSet) set = NULL;
    g_autoptr(GError) local = NULL;

    nc_fuzz_check(msg || (error && error->message && *error->message));
    if (!msg)
        return;
    frame = nc_peer_msg_encode(msg, &local);
    if (!frame)
        g_printerr("decoded %s does not encode: %s\n", nc_peer_msg_type_to_string(msg->type),
                   local->message);
    nc_fuzz_check(frame != NULL);
    back = nc_peer_frame_decode(g_bytes_get_data(frame, NULL), g_bytes_get_size(frame), &local);
    if (!back)
        g_printerr("re-encoded %s does not decode: %s\n", nc_peer_msg_type_to_string(msg->type),
                   local->message);
    nc_fuzz_check(back != NULL && back->type == msg->type);
    frame2 = nc_peer_msg_encode(back, &local);
    nc_fuzz_check(frame2 != NULL && g_bytes_equal(frame, frame2));

    set = nc_item_set_new(&nc_ct_class);
    switch (msg->type) {
    case NC_PEER_MSG_HELLO: {
        guint32 v;
        (void)nc_peer_hello_negotiate(&msg->hello, NC_PEER_PROTO_VERSION,
                                      NC_PEER_PROTO_COMPAT_VERSION, &v, &local);
        break;
    }
    case NC_PEER_MSG_STATE:
        if (nc_peer_state_apply(set, &msg->state, &local)) {
            /* the set holds each upserted key, and its digest is the entries' */
            g_autofree char *hex = NULL;

            for (guint i = 0; i < msg->state.upserts->len; i++)
                nc_fuzz_check(nc_item_set_lookup(
                                  set, &g_array_index(msg->state.upserts, NcCtEntry, i)) != NULL);
            nc_fuzz_check(nc_item_set_count(set) <= msg->state.upserts->len);
            hex = nc_digest_to_string(nc_item_set_digest(set));
        }
        break;
    case NC_PEER_MSG_SEAL:
        (void)nc_peer_seal_check(set, &msg->seal, msg->seal.chunks, &local);
        break;
    default:
        break;
    }
    g_clear_error(&local);
}

int LLVMFuzzerTestOneInput(const guint8 *data, size_t size)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(NcPeerMsg) msg = nc_peer_frame_decode(data, size, &error);

    fuzz_msg(msg, error);
    if (size >= 1) {
        /* the payload decoder on its own: no need to find the magic and length first */
        NcPeerMsgType type = 1 + data[0] % (NC_PEER_MSG_LAST - 1);
        g_autoptr(GError) error2 = NULL;
        g_autoptr(NcPeerMsg) msg2 = nc_peer_msg_decode(type, data + 1, size - 1, &error2);

        fuzz_msg(msg2, error2);
    }
    return 0;
}

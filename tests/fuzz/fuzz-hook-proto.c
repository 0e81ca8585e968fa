/* fuzz-hook-proto.c - libFuzzer target: the hook protocol as netcarryd's hook server reads it
 * Any bytes arrive on a socket and are read as one request frame with the daemon's own reader,
 * then decoded; the same bytes are also decoded as bare request, answer, options and progress
 * payloads. What decodes must encode and decode to the same fields.
 */
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "nc-hook-proto.h"
#include "util/nc-error.h"
#include "nc-fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    nc_fuzz_init();
    return 0;
}

static void fuzz_request(const guint8 *payload, gsize len)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(NcHookRequest) req = nc_hook_request_decode(payload, len, &error);
    g_autoptr(GBytes) frame = NULL;
    g_autoptr(NcHookRequest) back = NULL;
    guint32 plen = 0;
    const guint8 *f;

    nc_fuzz_check(req || (error && error->message && *error->message));
    if (!req)
        return;
    frame = nc_hook_request_encode(req);
    f = g_bytes_get_data(frame, NULL);
    nc_fuzz_check(nc_hook_header_parse(f, NC_HOOK_MSG_REQUEST, &plen, &error));
    nc_fuzz_check(plen + NC_HOOK_PROTO_HEADER_SIZE == g_bytes_get_size(frame));
    back = nc_hook_request_decode(f + NC_HOOK_PROTO_HEADER_SIZE, plen, &error);
    nc_fuzz_check(back != NULL);
    nc_fuzz_check(strcmp(req->domain, back->domain) == 0 && strcmp(req->op, back->op) == 0 &&
                  strcmp(req->sub_op, back->sub_op) == 0 &&
                  strcmp(req->extra, back->extra) == 0 && strcmp(req->xml, back->xml) == 0);
}

static void fuzz_answer(const guint8 *payload, gsize len)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(NcHookAnswer) answer = nc_hook_answer_decode(payload, len, &error);
    g_autoptr(GBytes) frame = NULL;
    g_autoptr(NcHookAnswer) back = NULL;
    guint32 plen = 0;
    const guint8 *f;

    nc_fuzz_check(answer || (error && error->message && *error->message));
    if (!answer)
        return;
    frame = nc_hook_answer_encode(answer);
    f = g_bytes_get_data(frame, NULL);
    nc_fuzz_check(nc_hook_header_parse(f, NC_HOOK_MSG_ANSWER, &plen, &error));
    back = nc_hook_answer_decode(f + NC_HOOK_PROTO_HEADER_SIZE, plen, &error);
    nc_fuzz_check(back != NULL && back->verdict == answer->verdict &&
                  g_strcmp0(back->reason, answer->reason) == 0);
}

/* the hook's options (the daemon reads them) and the daemon's progress reports (the hook reads
 * them) */
static void fuzz_options_progress(const guint8 *payload, gsize len)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *text = nc_hook_progress_decode(payload, len, &error);
    gboolean progress = FALSE;
    guint32 plen = 0;

    nc_fuzz_check(text || (error && error->message && *error->message));
    if (text) {
        g_autoptr(GBytes) frame = nc_hook_progress_encode(text);
        const guint8 *f = g_bytes_get_data(frame, NULL);
        g_autofree char *back = NULL;

        nc_fuzz_check(nc_hook_header_parse(f, NC_HOOK_MSG_PROGRESS, &plen, NULL));
        back = nc_hook_progress_decode(f + NC_HOOK_PROTO_HEADER_SIZE, plen, NULL);
        nc_fuzz_check(back && strcmp(back, text) == 0);
    }
    g_clear_error(&error);
    if (nc_hook_options_decode(payload, len, &progress, &error)) {
        g_autoptr(GBytes) frame = nc_hook_options_encode(progress);
        const guint8 *f = g_bytes_get_data(frame, NULL);
        gboolean again = !progress;

        nc_fuzz_check(nc_hook_header_parse(f, NC_HOOK_MSG_OPTIONS, &plen, NULL));
        nc_fuzz_check(nc_hook_options_decode(f + NC_HOOK_PROTO_HEADER_SIZE, plen, &again, NULL));
        nc_fuzz_check(again == progress);
    } else {
        nc_fuzz_check(error && error->message && *error->message);
    }
}

/* the daemon's reader, on a socket that holds exactly @data and then end-of-file */
static void fuzz_read_frame(const guint8 *data, gsize size)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GBytes) payload = NULL;
    int sv[2];

    if (size > 64 * 1024 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return;
    if (size && write(sv[1], data, size) != (ssize_t)size) {
        close(sv[0]);
        close(sv[1]);
        return;
    }
    shutdown(sv[1], SHUT_WR);
    if (nc_hook_fd_read_frame(sv[0], NC_HOOK_MSG_REQUEST, g_get_monotonic_time() + G_USEC_PER_SEC,
                              &payload, &error)) {
        nc_fuzz_check(g_bytes_get_size(payload) + NC_HOOK_PROTO_HEADER_SIZE <= size);
        fuzz_request(g_bytes_get_data(payload, NULL), g_bytes_get_size(payload));
    } else {
        /* never a timeout: the whole input is there, then end-of-file */
        nc_fuzz_check(error && !g_error_matches(error, NC_ERROR, NC_ERROR_TIMEOUT));
    }
    close(sv[0]);
    close(sv[1]);
}

int LLVMFuzzerTestOneInput(const guint8 *data, size_t size)
{
    fuzz_read_frame(data, size);
    fuzz_request(data, size);
    fuzz_answer(data, size);
    fuzz_options_progress(data, size);
    return 0;
}

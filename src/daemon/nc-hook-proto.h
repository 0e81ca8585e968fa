/* nc-hook-proto.h - the wire protocol between the libvirt hook drop-in and the local netcarryd
 * One request, one answer, over a unix stream socket; theory of operation in nc-hook-proto.c.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define NC_HOOK_PROTO_MAGIC 0x4e43484bu /* "NCHK" */
#define NC_HOOK_PROTO_VERSION 1
#define NC_HOOK_PROTO_HEADER_SIZE 12
#define NC_HOOK_PROTO_MAX_PAYLOAD (16u * 1024 * 1024)

typedef enum {
    NC_HOOK_MSG_REQUEST = 1,
    NC_HOOK_MSG_ANSWER = 2,
    /* 3 is the status answer (nc-hook-server.h) */
    NC_HOOK_MSG_OPTIONS = 4,  /* hook -> daemon, after a request: what the hook also understands */
    NC_HOOK_MSG_PROGRESS = 5, /* daemon -> hook, before the answer: still deciding, keep waiting */
} NcHookMsgType;

/* the option word a hook sends when it extends its wait on NC_HOOK_MSG_PROGRESS */
#define NC_HOOK_OPTION_PROGRESS "progress"
/* the longest progress text (one line) */
#define NC_HOOK_PROGRESS_MAX 256

/**
 * NcHookRequest - one call of the hook, as libvirt made it
 * @domain: argv[1], the domain name
 * @op:     argv[2], e.g. "migrate"
 * @sub_op: argv[3], e.g. "begin"
 * @extra:  argv[4], usually "-"
 * @xml:    the domain XML libvirt wrote to the hook's stdin ("" if none)
 */
typedef struct {
    char *domain;
    char *op;
    char *sub_op;
    char *extra;
    char *xml;
} NcHookRequest;

typedef enum {
    NC_HOOK_ACCEPT,
    NC_HOOK_REFUSE,
} NcHookVerdict;

/**
 * NcHookAnswer - the daemon's answer
 * @verdict: accept, or refuse (meaningful for `migrate begin` only; the hook ignores it otherwise)
 * @reason:  for NC_HOOK_REFUSE: one line that completes "cannot carry ... to HOST: "; else NULL
 * @xml:     for NC_HOOK_ACCEPT of `migrate begin`: the domain XML libvirt is to start instead of
 *           the one it gave (the hook prints it), or NULL: unchanged (the hook prints nothing)
 */
typedef struct {
    NcHookVerdict verdict;
    char *reason;
    char *xml;
} NcHookAnswer;

void nc_hook_request_free(NcHookRequest *req);
void nc_hook_answer_free(NcHookAnswer *answer);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(NcHookRequest, nc_hook_request_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(NcHookAnswer, nc_hook_answer_free)

GBytes *nc_hook_request_encode(const NcHookRequest *req);
NcHookRequest *nc_hook_request_decode(const guint8 *payload, gsize len, GError **error);
GBytes *nc_hook_answer_encode(const NcHookAnswer *answer);
NcHookAnswer *nc_hook_answer_decode(const guint8 *payload, gsize len, GError **error);
gboolean nc_hook_header_parse(const guint8 *header, NcHookMsgType expect, guint32 *payload_len,
                              GError **error);
GBytes *nc_hook_options_encode(gboolean progress);
gboolean nc_hook_options_decode(const guint8 *payload, gsize len, gboolean *progress,
                                GError **error);
GBytes *nc_hook_progress_encode(const char *text);
char *nc_hook_progress_decode(const guint8 *payload, gsize len, GError **error);

gboolean nc_hook_fd_read_frame(int fd, NcHookMsgType expect, gint64 deadline_us, GBytes **payload,
                               GError **error);
gboolean nc_hook_fd_write_all(int fd, GBytes *frame, gint64 deadline_us, GError **error);
NcHookAnswer *nc_hook_call(const char *socket_path, const NcHookRequest *req, gint64 deadline_us,
                           GError **error);
NcHookAnswer *nc_hook_call_patient(const char *socket_path, const NcHookRequest *req,
                                   guint silence_ms, gint64 cap_us, guint *progress_seen,
                                   GError **error);

G_END_DECLS

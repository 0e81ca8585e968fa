/* nc-hook-proto.c - encode, decode and carry hook <-> netcarryd messages, every wait bounded
 * Shared by the hook (hooks/netcarry-hook.c, blocking client) and the daemon (server side).
 *
 * Theory of operation
 * -------------------
 * libvirt runs /etc/libvirt/hooks/qemu.d/netcarry synchronously, with the domain's lock held:
 * while the hook runs, libvirt waits. The hook therefore does one thing: it connects to the
 * daemon's unix socket, sends one request, reads one answer, and exits. The daemon never
 * calls libvirt on the hook's behalf while the hook waits (that would deadlock), and the hook
 * gives up at a deadline that covers connecting, sending and reading together.
 *
 * Both messages are frames: a 12-byte header, then the payload.
 *
 *   offset 0  u32 magic    0x4e43484b ("NCHK"), big-endian like every integer here
 *          4  u16 version  NC_HOOK_PROTO_VERSION; a peer answers a version it does not speak
 *                          by closing the connection (the hook then treats the daemon as
 *                          unreachable), so a mixed upgrade fails safe under the admission policy
 *          6  u16 type     NC_HOOK_MSG_REQUEST (hook -> daemon) or NC_HOOK_MSG_ANSWER
 *          8  u32 length   of the payload, at most NC_HOOK_PROTO_MAX_PAYLOAD
 *
 * Request payload: five strings, each a u32 length and that many bytes (UTF-8, no NUL):
 *   domain, operation, sub-operation, extra (the hook's argv[1..4]), and the domain XML
 *   from its stdin.
 * Answer payload: UTF-8 text, exactly "accept" or "refuse: REASON" where REASON is one
 *   non-empty line without control characters (the encoder turns them into spaces), or, for an
 *   admitted `migrate begin` whose domain XML netcarry changes (learned addresses pinned,
 *   conf/nc-ip-learn.h), "accept-xml\n" followed by the whole new XML, which the hook prints
 *   for libvirt. Anything else is an invalid answer; the hook treats it like an unreachable
 *   daemon. (A hook older than "accept-xml" therefore treats such an answer by the admission
 *   policy; the daemon sends it only when there is something to pin, so every other answer
 *   stays what older hooks read.)
 * One connection carries one request and one answer; then both sides close.
 *
 * Waiting for a long admission (`migrate begin` while the source's first copy streams in):
 * the hook bounds the daemon's SILENCE, not the call's total time. After its `migrate begin`
 * request a hook that can wait longer sends a second frame, NC_HOOK_MSG_OPTIONS, whose payload
 * is words separated by spaces ("progress"; unknown words are ignored). A daemon that knows the
 * word may then send NC_HOOK_MSG_PROGRESS frames (payload: one line of text, at most
 * NC_HOOK_PROGRESS_MAX bytes, saying what it waits for) before the answer; on each the hook
 * waits hook-ms more, never beyond [timeouts] admission-max-ms + hook-ms from its start, so no
 * hook waits forever. Versions mix safely without a new protocol version:
 * - an older daemon never reads the options frame (it reads one request, answers, closes): it
 *   sends no progress and answers within hook-ms as before; the hook ignores a failure to write
 *   its options to a daemon that already answered;
 * - an older hook sends no options: the daemon sends it no progress and answers within 90 % of
 *   hook-ms (nc-hook-server.c), as before.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "nc-hook-proto.h"
#include "util/nc-error.h"

void nc_hook_request_free(NcHookRequest *req)
{
    if (!req)
        return;
    g_free(req->domain);
    g_free(req->op);
    g_free(req->sub_op);
    g_free(req->extra);
    g_free(req->xml);
    g_free(req);
}

void nc_hook_answer_free(NcHookAnswer *answer)
{
    if (!answer)
        return;
    g_free(answer->reason);
    g_free(answer->xml);
    g_free(answer);
}

static void put_u32(GByteArray *b, guint32 v)
{
    guint32 be = GUINT32_TO_BE(v);

    g_byte_array_append(b, (const guint8 *)&be, 4);
}

static guint32 get_u32(const guint8 *p)
{
    guint32 be;

    memcpy(&be, p, 4);
    return GUINT32_FROM_BE(be);
}

/* Wrap @payload (consumed) into a frame of @type. */
static GBytes *frame(NcHookMsgType type, GByteArray *payload)
{
    GByteArray *b = g_byte_array_sized_new(NC_HOOK_PROTO_HEADER_SIZE + payload->len);
    guint16 version = GUINT16_TO_BE(NC_HOOK_PROTO_VERSION), t = GUINT16_TO_BE(type);

    put_u32(b, NC_HOOK_PROTO_MAGIC);
    g_byte_array_append(b, (const guint8 *)&version, 2);
    g_byte_array_append(b, (const guint8 *)&t, 2);
    put_u32(b, payload->len);
    g_byte_array_append(b, payload->data, payload->len);
    g_byte_array_unref(payload);
    return g_byte_array_free_to_bytes(b);
}

/**
 * nc_hook_request_encode() - a request as a complete frame
 * @req: the request; NULL fields are sent as ""
 *
 * Return: (transfer full): header + payload
 */
GBytes *nc_hook_request_encode(const NcHookRequest *req)
{
    const char *fields[] = {req->domain, req->op, req->sub_op, req->extra, req->xml};
    GByteArray *p = g_byte_array_new();

    for (gsize i = 0; i < G_N_ELEMENTS(fields); i++) {
        const char *s = fields[i] ? fields[i] : "";

        put_u32(p, strlen(s));
        g_byte_array_append(p, (const guint8 *)s, strlen(s));
    }
    return frame(NC_HOOK_MSG_REQUEST, p);
}

/**
 * nc_hook_request_decode() - parse a request's payload
 * @payload: the bytes after the header
 * @len:     their number
 * @error:   NC_ERROR_INVALID_DATA when a length overruns, bytes are left over, or a string is
 *           not UTF-8 or holds a NUL
 *
 * Return: (transfer full): the request, or NULL
 */
NcHookRequest *nc_hook_request_decode(const guint8 *payload, gsize len, GError **error)
{
    g_autoptr(NcHookRequest) req = g_new0(NcHookRequest, 1);
    char **fields[] = {&req->domain, &req->op, &req->sub_op, &req->extra, &req->xml};
    gsize off = 0;

    for (gsize i = 0; i < G_N_ELEMENTS(fields); i++) {
        guint32 n;

        if (len - off < 4 || (n = get_u32(payload + off)) > len - off - 4) {
            g_set_error(error, NC_ERROR, NC_ERROR_INVALID_DATA,
                        "hook request: field %zu overruns the %zu-byte payload", i, len);
            return NULL;
        }
        off += 4;
        if (memchr(payload + off, 0, n) || !g_utf8_validate((const char *)payload + off, n, NULL)) {
            g_set_error(error, NC_ERROR, NC_ERROR_INVALID_DATA,
                        "hook request: field %zu is not UTF-8 text", i);
            return NULL;
        }
        *fields[i] = g_strndup((const char *)payload + off, n);
        off += n;
    }
    if (off != len) {
        g_set_error(error, NC_ERROR, NC_ERROR_INVALID_DATA,
                    "hook request: %zu bytes after the last field", len - off);
        return NULL;
    }
    return g_steal_pointer(&req);
}

/**
 * nc_hook_answer_encode() - an answer as a complete frame
 * @answer: the answer; a refusal's reason is flattened to one line
 *
 * Return: (transfer full): header + payload
 */
GBytes *nc_hook_answer_encode(const NcHookAnswer *answer)
{
    GByteArray *p = g_byte_array_new();

    if (answer->verdict == NC_HOOK_ACCEPT && answer->xml) {
        g_byte_array_append(p, (const guint8 *)"accept-xml\n", 11);
        g_byte_array_append(p, (const guint8 *)answer->xml, strlen(answer->xml));
    } else if (answer->verdict == NC_HOOK_ACCEPT) {
        g_byte_array_append(p, (const guint8 *)"accept", 6);
    } else {
        g_autofree char *reason =
            g_strdup(answer->reason && *answer->reason ? answer->reason : "no reason given");

        /* one line of plain text: virsh prints it to a terminal, and part of it may come from
         * the peer host (its abort reason) */
        for (char *c = reason; *c; c++)
            if ((guchar)*c < 0x20 || *c == 0x7f)
                *c = ' ';
        g_byte_array_append(p, (const guint8 *)"refuse: ", 8);
        g_byte_array_append(p, (const guint8 *)reason, strlen(reason));
    }
    return frame(NC_HOOK_MSG_ANSWER, p);
}

/* whether @text holds an ASCII control character (a tab, a line break, an escape) */
static gboolean nc_hook_has_control(const char *text)
{
    for (const char *c = text; *c; c++)
        if ((guchar)*c < 0x20 || *c == 0x7f)
            return TRUE;
    return FALSE;
}

/**
 * nc_hook_answer_decode() - parse an answer's payload
 * @payload: the bytes after the header
 * @len:     their number
 * @error:   NC_ERROR_INVALID_DATA unless it is "accept", "accept-xml\n" + a non-empty XML,
 *           or "refuse: " + one non-empty line without control characters (what
 *           nc_hook_answer_encode() makes of any reason)
 *
 * Return: (transfer full): the answer, or NULL
 */
NcHookAnswer *nc_hook_answer_decode(const guint8 *payload, gsize len, GError **error)
{
    g_autofree char *text = g_strndup((const char *)payload, len);
    g_autoptr(NcHookAnswer) answer = g_new0(NcHookAnswer, 1);

    if (strlen(text) != len || !g_utf8_validate(text, len, NULL))
        goto invalid;
    if (g_str_equal(text, "accept")) {
        answer->verdict = NC_HOOK_ACCEPT;
        return g_steal_pointer(&answer);
    }
    if (g_str_has_prefix(text, "accept-xml\n") && text[11]) {
        answer->verdict = NC_HOOK_ACCEPT;
        answer->xml = g_strdup(text + 11);
        return g_steal_pointer(&answer);
    }
    if (g_str_has_prefix(text, "refuse: ") && text[8] && !nc_hook_has_control(text)) {
        answer->verdict = NC_HOOK_REFUSE;
        answer->reason = g_strdup(text + 8);
        return g_steal_pointer(&answer);
    }
invalid:
    g_set_error(error, NC_ERROR, NC_ERROR_INVALID_DATA,
                "hook answer is neither 'accept', 'accept-xml' nor 'refuse: REASON' (%zu bytes)",
                len);
    return NULL;
}

static gboolean header_parse_of(const guint8 *header, const NcHookMsgType *expect, gsize n_expect,
                                NcHookMsgType *type_out, guint32 *payload_len, GError **error);

/**
 * nc_hook_options_encode() - the options frame a hook sends after its request
 * @progress: the hook extends its wait on each NC_HOOK_MSG_PROGRESS
 *
 * Return: (transfer full): header + payload
 */
GBytes *nc_hook_options_encode(gboolean progress)
{
    GByteArray *p = g_byte_array_new();

    if (progress)
        g_byte_array_append(p, (const guint8 *)NC_HOOK_OPTION_PROGRESS,
                            strlen(NC_HOOK_OPTION_PROGRESS));
    return frame(NC_HOOK_MSG_OPTIONS, p);
}

/**
 * nc_hook_options_decode() - parse an options frame's payload
 * @payload:  the bytes after the header
 * @len:      their number
 * @progress: (out): the hook named NC_HOOK_OPTION_PROGRESS
 * @error:    NC_ERROR_INVALID_DATA unless it is printable ASCII words separated by spaces
 *            (words this daemon does not know are ignored: a newer hook may name more)
 *
 * Return: TRUE if @progress was set
 */
gboolean nc_hook_options_decode(const guint8 *payload, gsize len, gboolean *progress,
                                GError **error)
{
    g_autofree char *text = NULL;
    g_auto(GStrv) words = NULL;

    for (gsize i = 0; i < len; i++)
        if (payload[i] < 0x20 || payload[i] >= 0x7f) {
            g_set_error(error, NC_ERROR, NC_ERROR_INVALID_DATA,
                        "hook options: byte %zu is not printable ASCII", i);
            return FALSE;
        }
    text = g_strndup((const char *)payload, len);
    words = g_strsplit(text, " ", -1);
    *progress = g_strv_contains((const char *const *)words, NC_HOOK_OPTION_PROGRESS);
    return TRUE;
}

/**
 * nc_hook_progress_encode() - a progress frame: the daemon still decides, the hook waits on
 * @text: what it waits for; flattened to one line of at most NC_HOOK_PROGRESS_MAX bytes
 *
 * Return: (transfer full): header + payload
 */
GBytes *nc_hook_progress_encode(const char *text)
{
    g_autofree char *line = g_utf8_make_valid(text ? text : "", -1);
    GByteArray *p = g_byte_array_new();
    gsize len;

    for (char *c = line; *c; c++)
        if ((guchar)*c < 0x20 || *c == 0x7f)
            *c = ' ';
    len = strlen(line);
    if (len > NC_HOOK_PROGRESS_MAX)
        len = g_utf8_find_prev_char(line, line + NC_HOOK_PROGRESS_MAX + 1) - line;
    g_byte_array_append(p, (const guint8 *)line, len);
    return frame(NC_HOOK_MSG_PROGRESS, p);
}

/**
 * nc_hook_progress_decode() - parse a progress frame's payload
 * @payload: the bytes after the header
 * @len:     their number
 * @error:   NC_ERROR_INVALID_DATA unless it is one line of UTF-8 text of at most
 *           NC_HOOK_PROGRESS_MAX bytes without control characters
 *
 * Return: (transfer full): the text, or NULL
 */
char *nc_hook_progress_decode(const guint8 *payload, gsize len, GError **error)
{
    g_autofree char *text = g_strndup((const char *)payload, len);

    if (len > NC_HOOK_PROGRESS_MAX || strlen(text) != len || !g_utf8_validate(text, len, NULL) ||
        nc_hook_has_control(text)) {
        g_set_error(error, NC_ERROR, NC_ERROR_INVALID_DATA,
                    "hook progress is not one line of text (%zu bytes)", len);
        return NULL;
    }
    return g_steal_pointer(&text);
}

/**
 * nc_hook_header_parse() - check a frame header
 * @header:      NC_HOOK_PROTO_HEADER_SIZE bytes
 * @expect:      the message type the caller waits for
 * @payload_len: (out): the payload's length
 * @error:       NC_ERROR_INVALID_DATA for a bad magic, version, type or length
 *
 * Return: TRUE if the payload may be read
 */
gboolean nc_hook_header_parse(const guint8 *header, NcHookMsgType expect, guint32 *payload_len,
                              GError **error)
{
    return header_parse_of(header, &expect, 1, NULL, payload_len, error);
}

/* nc_hook_header_parse() for any of @n_expect types; @type: (out) (optional): the one it is */
static gboolean header_parse_of(const guint8 *header, const NcHookMsgType *expect, gsize n_expect,
                                NcHookMsgType *type_out, guint32 *payload_len, GError **error)
{
    guint16 version = header[4] << 8 | header[5];
    guint16 type = header[6] << 8 | header[7];
    gboolean known = FALSE;

    if (get_u32(header) != NC_HOOK_PROTO_MAGIC) {
        g_set_error(error, NC_ERROR, NC_ERROR_INVALID_DATA, "not a netcarry hook message");
        return FALSE;
    }
    if (version != NC_HOOK_PROTO_VERSION) {
        g_set_error(error, NC_ERROR, NC_ERROR_UNSUPPORTED,
                    "hook protocol version %u is not supported (this side speaks %u): install "
                    "the same netcarry version for the hook and the daemon",
                    version, NC_HOOK_PROTO_VERSION);
        return FALSE;
    }
    for (gsize i = 0; i < n_expect; i++)
        known |= type == expect[i];
    if (!known) {
        g_set_error(error, NC_ERROR, NC_ERROR_INVALID_DATA,
                    "hook message of type %u where %u was expected", type, expect[0]);
        return FALSE;
    }
    if (type_out)
        *type_out = type;
    *payload_len = get_u32(header + 8);
    if (*payload_len > NC_HOOK_PROTO_MAX_PAYLOAD) {
        g_set_error(error, NC_ERROR, NC_ERROR_INVALID_DATA,
                    "hook message of %u bytes exceeds the limit of %u", *payload_len,
                    NC_HOOK_PROTO_MAX_PAYLOAD);
        return FALSE;
    }
    /* a progress line is short: refused before its payload is read, not after */
    if (type == NC_HOOK_MSG_PROGRESS && *payload_len > NC_HOOK_PROGRESS_MAX) {
        g_set_error(error, NC_ERROR, NC_ERROR_INVALID_DATA,
                    "hook progress message of %u bytes exceeds the limit of %u", *payload_len,
                    NC_HOOK_PROGRESS_MAX);
        return FALSE;
    }
    return TRUE;
}

/* Wait until @fd is ready for @events or the deadline passes; FALSE with @error on timeout. */
static gboolean wait_fd(int fd, short events, gint64 deadline_us, GError **error)
{
    for (;;) {
        gint64 left = deadline_us - g_get_monotonic_time();
        struct pollfd p = {fd, events, 0};
        int r;

        if (left <= 0) {
            g_set_error(error, NC_ERROR, NC_ERROR_TIMEOUT, "no progress before the deadline");
            return FALSE;
        }
        r = poll(&p, 1, (int)((left + 999) / 1000));
        if (r > 0)
            return TRUE;
        if (r < 0 && errno != EINTR) {
            g_set_error(error, NC_ERROR, NC_ERROR_IO, "poll: %s", g_strerror(errno));
            return FALSE;
        }
    }
}

static gboolean read_exact(int fd, guint8 *buf, gsize len, gint64 deadline_us, GError **error)
{
    gsize done = 0;

    while (done < len) {
        ssize_t n;

        if (!wait_fd(fd, POLLIN, deadline_us, error))
            return FALSE;
        n = recv(fd, buf + done, len - done, MSG_DONTWAIT);
        if (n == 0) {
            g_set_error(error, NC_ERROR, NC_ERROR_IO, "connection closed after %zu of %zu bytes",
                        done, len);
            return FALSE;
        }
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            g_set_error(error, NC_ERROR, NC_ERROR_IO, "recv: %s", g_strerror(errno));
            return FALSE;
        }
        done += n;
    }
    return TRUE;
}

static gboolean read_frame_of(int fd, const NcHookMsgType *expect, gsize n_expect,
                              NcHookMsgType *type, gint64 deadline_us, GBytes **payload,
                              GError **error);

/**
 * nc_hook_fd_read_frame() - read one whole frame from a stream socket, before a deadline
 * @fd:          the socket
 * @expect:      the message type expected
 * @deadline_us: g_get_monotonic_time() value at which to give up
 * @payload:     (out) (transfer full): the payload
 * @error:       NC_ERROR_TIMEOUT, NC_ERROR_IO, NC_ERROR_INVALID_DATA or NC_ERROR_UNSUPPORTED
 *
 * Return: TRUE if @payload was set
 */
gboolean nc_hook_fd_read_frame(int fd, NcHookMsgType expect, gint64 deadline_us, GBytes **payload,
                               GError **error)
{
    return read_frame_of(fd, &expect, 1, NULL, deadline_us, payload, error);
}

/* nc_hook_fd_read_frame() for any of @n_expect types; @type: (out) (optional): which came */
static gboolean read_frame_of(int fd, const NcHookMsgType *expect, gsize n_expect,
                              NcHookMsgType *type, gint64 deadline_us, GBytes **payload,
                              GError **error)
{
    guint8 header[NC_HOOK_PROTO_HEADER_SIZE];
    guint32 len;
    g_autofree guint8 *buf = NULL;

    if (!read_exact(fd, header, sizeof(header), deadline_us, error) ||
        !header_parse_of(header, expect, n_expect, type, &len, error))
        return FALSE;
    buf = g_malloc(len ? len : 1);
    if (!read_exact(fd, buf, len, deadline_us, error))
        return FALSE;
    *payload = g_bytes_new_take(g_steal_pointer(&buf), len);
    return TRUE;
}

/**
 * nc_hook_fd_write_all() - write a frame to a stream socket, before a deadline
 * @fd:          the socket
 * @frame:       the bytes
 * @deadline_us: g_get_monotonic_time() value at which to give up
 * @error:       NC_ERROR_TIMEOUT or NC_ERROR_IO
 *
 * Return: TRUE if everything was written
 */
gboolean nc_hook_fd_write_all(int fd, GBytes *frame, gint64 deadline_us, GError **error)
{
    gsize len, done = 0;
    const guint8 *data = g_bytes_get_data(frame, &len);

    while (done < len) {
        ssize_t n;

        if (!wait_fd(fd, POLLOUT, deadline_us, error))
            return FALSE;
        n = send(fd, data + done, len - done, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            g_set_error(error, NC_ERROR, NC_ERROR_IO, "send: %s", g_strerror(errno));
            return FALSE;
        }
        done += n;
    }
    return TRUE;
}

/* Connect to a unix socket before the deadline (a full backlog is retried, not waited on blindly).
 */
static int connect_unix(const char *path, gint64 deadline_us, GError **error)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};

    if (strlen(path) >= sizeof(sa.sun_path)) {
        g_set_error(error, NC_ERROR, NC_ERROR_INVALID_ARG, "socket path %s is too long", path);
        return -1;
    }
    strcpy(sa.sun_path, path);
    for (;;) {
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        int err;

        if (fd < 0) {
            g_set_error(error, NC_ERROR, NC_ERROR_IO, "socket: %s", g_strerror(errno));
            return -1;
        }
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
            return fd;
        err = errno;
        close(fd);
        if (err == ENOENT || err == ECONNREFUSED) {
            g_set_error(error, NC_ERROR, NC_ERROR_NOT_FOUND, "nothing listens on %s (%s)", path,
                        g_strerror(err));
            return -1;
        }
        if (err != EAGAIN && err != EINTR) {
            g_set_error(error, NC_ERROR, nc_error_code_from_errno(err), "connect %s: %s", path,
                        g_strerror(err));
            return -1;
        }
        if (g_get_monotonic_time() + 10000 >= deadline_us) {
            g_set_error(error, NC_ERROR, NC_ERROR_TIMEOUT, "connect %s: backlog full", path);
            return -1;
        }
        g_usleep(10000);
    }
}

/**
 * nc_hook_call() - send one request to the daemon and wait for its answer, all before a deadline
 * @socket_path: the daemon's unix socket
 * @req:         the request
 * @deadline_us: g_get_monotonic_time() value at which to give up
 * @error:       NC_ERROR_NOT_FOUND (no daemon), NC_ERROR_TIMEOUT, NC_ERROR_IO (connection
 *               dropped), NC_ERROR_INVALID_DATA / NC_ERROR_UNSUPPORTED (bad answer)
 *
 * Return: (transfer full): the answer, or NULL
 */
NcHookAnswer *nc_hook_call(const char *socket_path, const NcHookRequest *req, gint64 deadline_us,
                           GError **error)
{
    g_autoptr(GBytes) request = nc_hook_request_encode(req);
    g_autoptr(GBytes) payload = NULL;
    int fd = connect_unix(socket_path, deadline_us, error);
    gboolean ok;

    if (fd < 0)
        return NULL;
    ok = nc_hook_fd_write_all(fd, request, deadline_us, error) &&
         nc_hook_fd_read_frame(fd, NC_HOOK_MSG_ANSWER, deadline_us, &payload, error);
    close(fd);
    if (!ok)
        return NULL;
    return nc_hook_answer_decode(g_bytes_get_data(payload, NULL), g_bytes_get_size(payload), error);
}

/**
 * nc_hook_call_patient() - nc_hook_call() for `migrate begin`: waits while the daemon reports
 * progress
 * @socket_path:   the daemon's unix socket
 * @req:           the request
 * @silence_ms:    the longest wait for the daemon's next frame ([timeouts] hook-ms); connecting
 *                 and sending are bounded by it too
 * @cap_us:        g_get_monotonic_time() value beyond which no progress extends the wait
 * @progress_seen: (out) (optional): how many progress frames came
 * @error:         as nc_hook_call(); NC_ERROR_TIMEOUT says whether the daemon went silent or
 *                 the cap ran out
 *
 * Sends the options frame (NC_HOOK_OPTION_PROGRESS) after the request; a daemon that does not
 * know it answers as to nc_hook_call(), and a failure to send the options to a daemon that
 * answered already is no failure (its answer is read all the same).
 *
 * Return: (transfer full): the answer, or NULL
 */
NcHookAnswer *nc_hook_call_patient(const char *socket_path, const NcHookRequest *req,
                                   guint silence_ms, gint64 cap_us, guint *progress_seen,
                                   GError **error)
{
    static const NcHookMsgType expect[] = {NC_HOOK_MSG_ANSWER, NC_HOOK_MSG_PROGRESS};
    g_autoptr(GBytes) request = nc_hook_request_encode(req);
    g_autoptr(GBytes) options = nc_hook_options_encode(TRUE);
    gint64 deadline_us = MIN(g_get_monotonic_time() + silence_ms * (gint64)1000, cap_us);
    guint seen = 0;
    g_autoptr(GError) early = NULL;
    int fd = connect_unix(socket_path, deadline_us, &early);

    if (progress_seen)
        *progress_seen = 0;
    if (fd >= 0 && !nc_hook_fd_write_all(fd, request, deadline_us, &early)) {
        close(fd);
        fd = -1;
    }
    if (fd < 0) {
        /* completes "netcarryd did not answer ..." as below */
        if (g_error_matches(early, NC_ERROR, NC_ERROR_TIMEOUT))
            g_set_error(error, NC_ERROR, NC_ERROR_TIMEOUT, "within %u ms (%s)", silence_ms,
                        early->message);
        else
            g_propagate_error(error, g_steal_pointer(&early));
        return NULL;
    }
    /* an older daemon never reads it, and may have answered and closed already */
    nc_hook_fd_write_all(fd, options, deadline_us, NULL);
    for (;;) {
        g_autoptr(GBytes) payload = NULL;
        g_autoptr(GError) local = NULL;
        g_autofree char *text = NULL;
        NcHookMsgType type;

        if (!read_frame_of(fd, expect, G_N_ELEMENTS(expect), &type, deadline_us, &payload,
                           &local)) {
            close(fd);
            /* completes "netcarryd did not answer ..." */
            if (g_error_matches(local, NC_ERROR, NC_ERROR_TIMEOUT) && seen &&
                g_get_monotonic_time() >= cap_us)
                g_set_error(error, NC_ERROR, NC_ERROR_TIMEOUT,
                            "within admission-max-ms + hook-ms (%u progress reports)", seen);
            else if (g_error_matches(local, NC_ERROR, NC_ERROR_TIMEOUT) && seen)
                g_set_error(error, NC_ERROR, NC_ERROR_TIMEOUT,
                            "within %u ms of its last progress report (%u reports)", silence_ms,
                            seen);
            else if (g_error_matches(local, NC_ERROR, NC_ERROR_TIMEOUT))
                g_set_error(error, NC_ERROR, NC_ERROR_TIMEOUT, "within %u ms", silence_ms);
            else
                g_propagate_error(error, g_steal_pointer(&local));
            return NULL;
        }
        if (type == NC_HOOK_MSG_ANSWER) {
            close(fd);
            return nc_hook_answer_decode(g_bytes_get_data(payload, NULL), g_bytes_get_size(payload),
                                         error);
        }
        text = nc_hook_progress_decode(g_bytes_get_data(payload, NULL), g_bytes_get_size(payload),
                                       error);
        if (!text) {
            close(fd);
            return NULL;
        }
        seen++;
        if (progress_seen)
            *progress_seen = seen;
        deadline_us = MIN(g_get_monotonic_time() + silence_ms * (gint64)1000, cap_us);
    }
}

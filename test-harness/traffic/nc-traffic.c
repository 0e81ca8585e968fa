/* nc-traffic - a small static traffic server and checker for netcarry's tests.
 * It runs inside test guests, in namespaces and in the kernel scenarios; one poll() loop per mode.
 *
 * Theory of operation
 *
 * The server ("serve") answers four kinds of traffic on any number of ports:
 * TCP echo, a TCP sink, a TCP source and UDP echo. It may also join multicast
 * groups so that IGMP/MLD snooping has something to carry, and answer what is sent to
 * such a group (--join GROUP --iface IF --echo PORT): each datagram to GROUP:PORT goes
 * back, unicast, to its sender. So a udp-echo client that sends to the group (ADDR a
 * multicast address, --iface naming its way out) measures, from outside, whether the
 * group reaches the guest: the guest prints nothing anybody could read. --member GROUP
 * --iface IF --echo PORT answers the same way as a member that IGMP-reports only when it
 * starts and when a query asks (struct member says why not with the kernel's membership).
 *
 * Each client mode opens its flows, checks every byte that comes back, and ends
 * with exactly one line on stdout:
 *
 *   result mode=tcp-echo ok=1 connections=1 sent=500 received=500 bytes=7500 in_order=1
 *          max_stall_ms=143 resets=0 timeouts=0 first_error=none
 *
 * (one line; wrapped here). Units of sent/received: lines for tcp-echo and
 * tcp-idle, bytes for tcp-bulk, datagrams for udp-echo (which adds lost= and
 * reordered=), transactions sent and completed for tcp-churn. first_error has its spaces replaced
 * by '_' so that the line splits on spaces; the full message goes to stderr.
 *
 * What "a stall" means: the longest time the client waited for the flow to move,
 * that is the longest gap between two received echoes (tcp-echo, udp-echo), between two
 * successful reads or writes (tcp-bulk), or the longest echo round trip
 * (tcp-idle). A flow that does not move for longer than --stall-timeout-s is
 * declared broken; so every wait in this program is bounded, except waiting
 * for a signal that the caller asked for (serve; --check-on; no --duration-s).
 *
 * The byte stream of tcp-source / tcp-sink / tcp-bulk is derived from the
 * stream position alone (pattern_fill()), so a lost, duplicated or reordered
 * byte anywhere is detected at its exact offset. The sink, which echoes
 * nothing, answers the sender's end of stream (FIN) with one report line
 * "nc-traffic sink received=N ok=1" so that the sender can check that every
 * byte arrived.
 *
 * Exit status of a client: 0 if every flow stayed alive and every byte came
 * back complete and in order, 1 if anything broke (reset, EOF, stall, corruption,
 * send error), 2 for usage errors.
 */

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define EXIT_BROKEN 1
#define EXIT_USAGE 2

#define MAX_PORTS 32
#define MAX_JOINS 32
#define MAX_CLIENT_CONNS 4096
#define MAX_CHURN_BINDS 8
#define IO_CHUNK (256 * 1024)
#define ECHO_BUF (64 * 1024)
#define LINE_MAX_LEN 64

static const char *prog = "nc-traffic";

/* ---------------------------------------------------------------------------
 * Signals: blocked at all times except inside ppoll(), so a signal can never
 * slip in between checking a flag and going to sleep.
 */

static volatile sig_atomic_t got_stop;  /* SIGTERM / SIGINT */
static volatile sig_atomic_t got_check; /* --check-on SIGNAL (tcp-idle) */
static int check_signal = SIGUSR1;
static sigset_t poll_sigmask;

static void on_signal(int sig)
{
    if (sig == SIGTERM || sig == SIGINT)
        got_stop = 1;
    else
        got_check = 1;
}

static void signals_setup(void)
{
    struct sigaction sa = {.sa_handler = on_signal};
    sigset_t block;

    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    sigaddset(&block, check_signal);
    sigprocmask(SIG_BLOCK, &block, &poll_sigmask);
    sigdelset(&poll_sigmask, SIGTERM);
    sigdelset(&poll_sigmask, SIGINT);
    sigdelset(&poll_sigmask, check_signal);

    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(check_signal, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

/**
 * wait_fds() - poll() with signals deliverable and a timeout in milliseconds
 * @fds: the descriptors
 * @n: how many
 * @timeout_ms: at most this long; negative waits for an event or a signal
 *
 * Return: poll()'s result; 0 on timeout or when a signal arrived.
 */
static int wait_fds(struct pollfd *fds, nfds_t n, int64_t timeout_ms)
{
    struct timespec ts, *tsp = NULL;
    int r;

    if (timeout_ms >= 0) {
        ts.tv_sec = timeout_ms / 1000;
        ts.tv_nsec = (timeout_ms % 1000) * 1000000;
        tsp = &ts;
    }
    r = ppoll(fds, n, tsp, &poll_sigmask);
    if (r < 0 && errno == EINTR)
        return 0;
    if (r < 0) {
        fprintf(stderr, "%s: poll: %s\n", prog, strerror(errno));
        exit(EXIT_BROKEN);
    }
    return r;
}

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---------------------------------------------------------------------------
 * Usage errors: one line naming the bad argument, exit 2.
 */

static void usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void usage_error(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "%s: ", prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (see '%s --help')\n", prog);
    exit(EXIT_USAGE);
}

static uint64_t parse_uint(const char *opt, const char *s, uint64_t min, uint64_t max)
{
    char *end;
    unsigned long long v;

    errno = 0;
    if (!s)
        usage_error("%s needs a value", opt);
    v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-' || v < min || v > max)
        usage_error("bad value for %s: '%s' (expected an integer from %llu to %llu)", opt, s,
                    (unsigned long long)min, (unsigned long long)max);
    return v;
}

static uint16_t parse_port(const char *opt, const char *s)
{
    return (uint16_t)parse_uint(opt, s, 1, 65535);
}

/**
 * parse_addr() - a numeric IPv4 or IPv6 address (IPv6 may carry %IFNAME) into a sockaddr
 * @opt: what to name in an error
 * @s: the text
 * @port: port in host order
 * @ss: filled in
 *
 * Return: the sockaddr's length. Exits with a usage error when @s is not numeric.
 */
static socklen_t parse_addr(const char *opt, const char *s, uint16_t port,
                            struct sockaddr_storage *ss)
{
    struct sockaddr_in *sin = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
    char buf[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
    char *scope;

    memset(ss, 0, sizeof(*ss));
    if (!s)
        usage_error("%s needs an address", opt);
    if (inet_pton(AF_INET, s, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons(port);
        return sizeof(*sin);
    }
    if (strlen(s) >= sizeof(buf))
        usage_error("bad address for %s: '%s'", opt, s);
    strcpy(buf, s);
    scope = strchr(buf, '%');
    if (scope)
        *scope++ = '\0';
    if (inet_pton(AF_INET6, buf, &sin6->sin6_addr) != 1)
        usage_error("bad address for %s: '%s' (numeric IPv4 or IPv6 only)", opt, s);
    if (scope && !(sin6->sin6_scope_id = if_nametoindex(scope)))
        usage_error("bad interface in %s: '%s'", opt, s);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(port);
    return sizeof(*sin6);
}

static int parse_signal(const char *opt, const char *s)
{
    static const struct {
        const char *name;
        int sig;
    } names[] = {{"USR1", SIGUSR1}, {"USR2", SIGUSR2}, {"HUP", SIGHUP}, {"CONT", SIGCONT}};

    if (!s)
        usage_error("%s needs a signal name", opt);
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (!strcasecmp(s, names[i].name) ||
            (!strncasecmp(s, "SIG", 3) && !strcasecmp(s + 3, names[i].name)))
            return names[i].sig;
    }
    usage_error("bad value for %s: '%s' (expected USR1, USR2, HUP or CONT)", opt, s);
}

/* ---------------------------------------------------------------------------
 * The byte stream: byte p is byte (p mod 8) of the little-endian 64-bit word
 * (p div 8) * golden-ratio constant. Cheap to make, and no two nearby
 * offsets look alike, so a shift by any amount is caught.
 */

static inline uint64_t pattern_word(uint64_t word_index)
{
    return htole64(word_index * 0x9E3779B97F4A7C15ull);
}

static void pattern_fill(uint8_t *buf, size_t len, uint64_t pos)
{
    size_t i = 0;

    while (i < len && ((pos + i) & 7)) {
        uint64_t w = pattern_word((pos + i) >> 3);
        buf[i] = ((const uint8_t *)&w)[(pos + i) & 7];
        i++;
    }
    for (; i + 8 <= len; i += 8) {
        uint64_t w = pattern_word((pos + i) >> 3);
        memcpy(buf + i, &w, 8);
    }
    for (; i < len; i++) {
        uint64_t w = pattern_word((pos + i) >> 3);
        buf[i] = ((const uint8_t *)&w)[(pos + i) & 7];
    }
}

/**
 * pattern_check() - check @len received bytes that start at stream offset @pos
 * @buf: the bytes
 * @len: how many
 * @pos: their offset in the stream
 *
 * Return: -1 if all match, else the index in @buf of the first wrong byte.
 */
static ssize_t pattern_check(const uint8_t *buf, size_t len, uint64_t pos)
{
    static uint8_t expect[IO_CHUNK];

    for (size_t off = 0; off < len; off += sizeof(expect)) {
        size_t n = len - off < sizeof(expect) ? len - off : sizeof(expect);

        pattern_fill(expect, n, pos + off);
        if (memcmp(expect, buf + off, n)) {
            for (size_t i = 0; i < n; i++)
                if (expect[i] != buf[off + i])
                    return (ssize_t)(off + i);
        }
    }
    return -1;
}

/* ---------------------------------------------------------------------------
 * Sockets.
 */

static void set_nonblock(int fd)
{
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

static const char *addr_str(const struct sockaddr_storage *ss, char *buf, size_t len)
{
    const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
    const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;
    char a[INET6_ADDRSTRLEN] = "?";

    if (ss->ss_family == AF_INET) {
        inet_ntop(AF_INET, &sin->sin_addr, a, sizeof(a));
        snprintf(buf, len, "%s:%u", a, ntohs(sin->sin_port));
    } else {
        inet_ntop(AF_INET6, &sin6->sin6_addr, a, sizeof(a));
        snprintf(buf, len, "[%s]:%u", a, ntohs(sin6->sin6_port));
    }
    return buf;
}

/**
 * listen_any() - a dual-stack listening (TCP) or bound (UDP) socket on @port
 * @type: SOCK_STREAM or SOCK_DGRAM
 * @port: host order
 *
 * Falls back to IPv4 only where IPv6 is absent (a guest kernel without it).
 *
 * Return: the descriptor (non-blocking); exits on failure.
 */
static int listen_any(int type, uint16_t port)
{
    struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6, .sin6_port = htons(port),
                                .sin6_addr = IN6ADDR_ANY_INIT};
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port),
                              .sin_addr.s_addr = htonl(INADDR_ANY)};
    int one = 1, zero = 0;
    int fd = socket(AF_INET6, type | SOCK_CLOEXEC, 0);
    int r;

    if (fd >= 0) {
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        r = bind(fd, (struct sockaddr *)&sin6, sizeof(sin6));
    } else {
        fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            fprintf(stderr, "%s: socket: %s\n", prog, strerror(errno));
            exit(EXIT_BROKEN);
        }
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        r = bind(fd, (struct sockaddr *)&sin, sizeof(sin));
    }
    if (r < 0 || (type == SOCK_STREAM && listen(fd, 1024) < 0)) {
        fprintf(stderr, "%s: cannot listen on %s port %u: %s\n", prog,
                type == SOCK_STREAM ? "TCP" : "UDP", port, strerror(errno));
        exit(EXIT_BROKEN);
    }
    set_nonblock(fd);
    return fd;
}

/**
 * connect_timeout() - a non-blocking TCP connection to @peer, established within @timeout_ms
 * @peer: where to
 * @peerlen: its length
 * @bind_addr: local address to bind, or NULL
 * @timeout_ms: how long the handshake may take
 * @err: on failure, what went wrong (an errno value)
 *
 * Return: the connected, non-blocking descriptor, or -1.
 */
static int connect_timeout(const struct sockaddr_storage *peer, socklen_t peerlen,
                           const struct sockaddr_storage *bind_addr, int64_t timeout_ms, int *err)
{
    int fd = socket(peer->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    socklen_t len = sizeof(*err);
    struct pollfd p;
    int64_t deadline = now_ms() + timeout_ms;

    if (fd < 0) {
        *err = errno;
        return -1;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (bind_addr && bind(fd, (const struct sockaddr *)bind_addr,
                          bind_addr->ss_family == AF_INET ? sizeof(struct sockaddr_in)
                                                          : sizeof(struct sockaddr_in6)) < 0)
        goto fail;
    if (connect(fd, (const struct sockaddr *)peer, peerlen) == 0)
        return fd;
    if (errno != EINPROGRESS)
        goto fail;
    p = (struct pollfd){.fd = fd, .events = POLLOUT};
    while (now_ms() < deadline && !got_stop) {
        if (wait_fds(&p, 1, deadline - now_ms()) > 0) {
            if (getsockopt(fd, SOL_SOCKET, SO_ERROR, err, &len) < 0)
                *err = errno;
            if (*err) {
                close(fd);
                return -1;
            }
            return fd;
        }
    }
    errno = ETIMEDOUT;
fail:
    *err = errno;
    close(fd);
    return -1;
}

/* ---------------------------------------------------------------------------
 * The client's report.
 */

struct report {
    const char *mode;
    unsigned connections;
    uint64_t sent, received, bytes;
    bool in_order;
    int64_t max_stall_ms;
    unsigned resets, timeouts;
    bool udp; /* adds lost= and reordered= */
    uint64_t lost, reordered;
    char first_error[200];
};

/* fail() - record a broken flow; only the first error is kept for the report. */
static void fail(struct report *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void fail(struct report *r, const char *fmt, ...)
{
    char msg[sizeof(r->first_error)];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s: %s: %s\n", prog, r->mode, msg);
    if (!r->first_error[0])
        memcpy(r->first_error, msg, sizeof(msg));
}

/* Count a socket error by kind, then fail with it. */
static void fail_errno(struct report *r, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void fail_errno(struct report *r, int err, const char *fmt, ...)
{
    char what[128];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    if (err == ECONNRESET || err == EPIPE)
        r->resets++;
    else if (err == ETIMEDOUT)
        r->timeouts++;
    fail(r, "%s: %s", what, strerror(err));
}

static void note_stall(struct report *r, int64_t gap_ms)
{
    if (gap_ms > r->max_stall_ms)
        r->max_stall_ms = gap_ms;
}

/**
 * report_finish() - print the one result line and return the exit status
 * @r: the report
 *
 * Return: 0 when no error was recorded, else 1.
 */
static int report_finish(struct report *r)
{
    char err[sizeof(r->first_error)];
    bool ok = !r->first_error[0];

    snprintf(err, sizeof(err), "%s", ok ? "none" : r->first_error);
    for (char *c = err; *c; c++)
        if (*c == ' ' || *c == '\t' || *c == '\n')
            *c = '_';
    printf("result mode=%s ok=%d connections=%u sent=%llu received=%llu bytes=%llu in_order=%d "
           "max_stall_ms=%lld resets=%u timeouts=%u",
           r->mode, ok, r->connections, (unsigned long long)r->sent,
           (unsigned long long)r->received, (unsigned long long)r->bytes, r->in_order,
           (long long)r->max_stall_ms, r->resets, r->timeouts);
    if (r->udp)
        printf(" lost=%llu reordered=%llu", (unsigned long long)r->lost,
               (unsigned long long)r->reordered);
    printf(" first_error=%s\n", err);
    fflush(stdout);
    return ok ? 0 : EXIT_BROKEN;
}

static bool addr_is_multicast(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET)
        return IN_MULTICAST(ntohl(((const struct sockaddr_in *)ss)->sin_addr.s_addr));
    return IN6_IS_ADDR_MULTICAST(&((const struct sockaddr_in6 *)ss)->sin6_addr);
}

/* The wall clock in ms (what a gap line says, so that a script can set it beside its events). */
static int64_t wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---------------------------------------------------------------------------
 * Client options shared by all client modes.
 */

struct client_opts {
    struct sockaddr_storage peer;
    socklen_t peerlen;
    struct sockaddr_storage bind_addr;
    bool has_bind;
    struct sockaddr_storage churn_bind[MAX_CHURN_BINDS]; /* tcp-churn: its local addresses */
    unsigned n_churn_bind;
    int64_t interval_ms;
    int64_t duration_ms; /* 0: until SIGTERM/SIGINT */
    int64_t stall_timeout_ms;
    unsigned connections;
    bool direction_send;
    const char *ready_file;
    int64_t hold_ms; /* tcp-idle: -1 waits for the check signal */
    bool repeat;     /* tcp-idle: check on every signal, until SIGTERM */
    unsigned parallel;         /* tcp-churn: transactions at once */
    unsigned rate;             /* tcp-churn: at most this many started per second (0: no cap) */
    uint16_t port_lo, port_hi; /* tcp-churn: local ports, used in turn */
    int64_t progress_ms;       /* tcp-churn: a progress line this often */
    unsigned mcast_ifindex;    /* udp-echo to a group: --iface, the way out */
};

/**
 * parse_client() - the client modes' arguments
 * @mode: the mode name
 * @argc: arguments after the mode
 * @argv: ditto
 * @o: filled in
 *
 * Options a mode does not take are usage errors, so a typo never goes unnoticed.
 */
static void parse_client(const char *mode, int argc, char **argv, struct client_opts *o)
{
    const char *addr = NULL, *port = NULL;
    bool is_echo = !strcmp(mode, "tcp-echo"), is_bulk = !strcmp(mode, "tcp-bulk");
    bool is_udp = !strcmp(mode, "udp-echo"), is_idle = !strcmp(mode, "tcp-idle");
    bool is_churn = !strcmp(mode, "tcp-churn");

    *o = (struct client_opts){.interval_ms = 20,
                              .stall_timeout_ms = 5000,
                              .connections = 1,
                              .hold_ms = -1,
                              .parallel = 16,
                              .port_lo = 1024,
                              .port_hi = 32767,
                              .progress_ms = 1000};
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

        if (!strcmp(a, "--interval-ms") && (is_echo || is_udp)) {
            o->interval_ms = (int64_t)parse_uint(a, v, 1, 60000);
            i++;
        } else if (!strcmp(a, "--duration-s") && !is_idle) {
            o->duration_ms = (int64_t)parse_uint(a, v, 1, 86400) * 1000;
            i++;
        } else if (!strcmp(a, "--stall-timeout-s")) {
            o->stall_timeout_ms = (int64_t)parse_uint(a, v, 1, 3600) * 1000;
            i++;
        } else if (!strcmp(a, "--connections") && (is_echo || is_idle)) {
            o->connections = (unsigned)parse_uint(a, v, 1, MAX_CLIENT_CONNS);
            i++;
        } else if (!strcmp(a, "--bind") && is_echo) {
            parse_addr(a, v, 0, &o->bind_addr);
            o->has_bind = true;
            i++;
        } else if (!strcmp(a, "--bind") && is_churn) {
            if (o->n_churn_bind == MAX_CHURN_BINDS)
                usage_error("at most %d --bind addresses", MAX_CHURN_BINDS);
            parse_addr(a, v, 0, &o->churn_bind[o->n_churn_bind++]);
            i++;
        } else if (!strcmp(a, "--direction") && is_bulk) {
            if (!v || (strcmp(v, "recv") && strcmp(v, "send")))
                usage_error("bad value for --direction: '%s' (expected recv or send)",
                            v ? v : "");
            o->direction_send = !strcmp(v, "send");
            i++;
        } else if (!strcmp(a, "--ready-file") && is_idle) {
            if (!v)
                usage_error("--ready-file needs a file name");
            o->ready_file = v;
            i++;
        } else if (!strcmp(a, "--check-on") && is_idle) {
            check_signal = parse_signal(a, v);
            i++;
        } else if (!strcmp(a, "--hold-s") && is_idle) {
            o->hold_ms = (int64_t)parse_uint(a, v, 0, 86400) * 1000;
            i++;
        } else if (!strcmp(a, "--repeat") && is_idle) {
            o->repeat = true;
        } else if (!strcmp(a, "--parallel") && is_churn) {
            o->parallel = (unsigned)parse_uint(a, v, 1, 1024);
            i++;
        } else if (!strcmp(a, "--rate") && is_churn) {
            o->rate = (unsigned)parse_uint(a, v, 1, 1000000);
            i++;
        } else if (!strcmp(a, "--ports") && is_churn) {
            unsigned lo, hi;
            char tail;

            if (!v || sscanf(v, "%u-%u%c", &lo, &hi, &tail) != 2 || lo < 1024 || hi > 65535 ||
                lo > hi)
                usage_error("bad value for --ports: '%s' (expected LO-HI within 1024-65535)",
                            v ? v : "");
            o->port_lo = (uint16_t)lo;
            o->port_hi = (uint16_t)hi;
            i++;
        } else if (!strcmp(a, "--iface") && is_udp) {
            if (!v || !(o->mcast_ifindex = if_nametoindex(v)))
                usage_error("bad value for --iface: '%s' (no such interface)", v ? v : "");
            i++;
        } else if (!strcmp(a, "--progress-ms") && is_churn) {
            o->progress_ms = (int64_t)parse_uint(a, v, 10, 60000);
            i++;
        } else if (a[0] == '-' && a[1] == '-') {
            usage_error("%s does not take option '%s'", mode, a);
        } else if (!addr) {
            addr = a;
        } else if (!port) {
            port = a;
        } else {
            usage_error("unexpected argument '%s'", a);
        }
    }
    if (!addr || !port)
        usage_error("%s needs ADDR and PORT", mode);
    o->peerlen = parse_addr("ADDR", addr, parse_port("PORT", port), &o->peer);
    if (o->has_bind && o->bind_addr.ss_family != o->peer.ss_family)
        usage_error("--bind address family differs from ADDR's");
    for (unsigned i = 0; i < o->n_churn_bind; i++)
        if (o->churn_bind[i].ss_family != o->peer.ss_family)
            usage_error("--bind address family differs from ADDR's");
    if (o->mcast_ifindex && !addr_is_multicast(&o->peer))
        usage_error("--iface is for a multicast ADDR only ('%s' is not one)", addr);
}

/* Has the run's time (or patience) run out? */
static bool run_over(const struct client_opts *o, int64_t start)
{
    return got_stop || (o->duration_ms && now_ms() - start >= o->duration_ms);
}

/* ---------------------------------------------------------------------------
 * tcp-echo and tcp-idle: numbered lines, each echo checked by number.
 */

struct echo_conn {
    int fd;
    uint64_t next_send;   /* number of the next line to send */
    uint64_t next_expect; /* number of the next echo expected */
    int64_t last_rx_ms;   /* when the last echo arrived, or the first line left */
    char rbuf[LINE_MAX_LEN * 4];
    size_t rlen;
    char wbuf[LINE_MAX_LEN * 64]; /* lines the socket did not take yet */
    size_t wlen;
};

/* Send line number c->next_send (or queue it). Return: false after a send error. */
static bool echo_send_line(struct report *r, struct echo_conn *c, unsigned idx, int64_t now)
{
    char line[LINE_MAX_LEN];
    int n = snprintf(line, sizeof(line), "nc-traffic %u %012llu\n", idx,
                     (unsigned long long)c->next_send);
    ssize_t w;

    if (c->wlen + (size_t)n > sizeof(c->wbuf))
        return true; /* the peer is not taking data: the stall check will say so */
    memcpy(c->wbuf + c->wlen, line, (size_t)n);
    c->wlen += (size_t)n;
    if (c->next_send == c->next_expect)
        c->last_rx_ms = now; /* the clock for "waiting for an echo" starts now */
    c->next_send++;
    r->sent++;
    w = send(c->fd, c->wbuf, c->wlen, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w < 0 && errno != EAGAIN) {
        fail_errno(r, errno, "connection %u: send of line %llu", idx,
                   (unsigned long long)(c->next_send - 1));
        return false;
    }
    if (w > 0) {
        memmove(c->wbuf, c->wbuf + w, c->wlen - (size_t)w);
        c->wlen -= (size_t)w;
    }
    return true;
}

/* Flush queued lines. Return: false after a send error. */
static bool echo_flush(struct report *r, struct echo_conn *c, unsigned idx)
{
    ssize_t w;

    if (!c->wlen)
        return true;
    w = send(c->fd, c->wbuf, c->wlen, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w < 0 && errno != EAGAIN) {
        fail_errno(r, errno, "connection %u: send", idx);
        return false;
    }
    if (w > 0) {
        memmove(c->wbuf, c->wbuf + w, c->wlen - (size_t)w);
        c->wlen -= (size_t)w;
    }
    return true;
}

/**
 * echo_receive() - read what is there and check each complete echo line
 * @r: the report
 * @c: the connection
 * @idx: its index (it is part of every line)
 * @now: the time
 *
 * Return: false if the connection broke or an echo was wrong.
 */
static bool echo_receive(struct report *r, struct echo_conn *c, unsigned idx, int64_t now)
{
    ssize_t n = recv(c->fd, c->rbuf + c->rlen, sizeof(c->rbuf) - c->rlen, MSG_DONTWAIT);
    char *line, *nl;

    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return true;
    if (n < 0) {
        fail_errno(r, errno, "connection %u: receive after %llu echoes", idx,
                   (unsigned long long)c->next_expect);
        return false;
    }
    if (n == 0) {
        fail(r, "connection %u: closed by the peer (EOF) after %llu echoes", idx,
             (unsigned long long)c->next_expect);
        return false;
    }
    r->bytes += (uint64_t)n;
    c->rlen += (size_t)n;
    line = c->rbuf;
    while ((nl = memchr(line, '\n', c->rlen - (size_t)(line - c->rbuf)))) {
        unsigned got_idx;
        unsigned long long got;

        *nl = '\0';
        if (sscanf(line, "nc-traffic %u %llu", &got_idx, &got) != 2 || got_idx != idx ||
            got != c->next_expect) {
            r->in_order = false;
            fail(r, "connection %u: expected echo of line %llu, got '%.40s'", idx,
                 (unsigned long long)c->next_expect, line);
            return false;
        }
        if (c->next_expect >= c->next_send) {
            fail(r, "connection %u: echo of line %llu that was never sent", idx, got);
            return false;
        }
        note_stall(r, now - c->last_rx_ms);
        c->last_rx_ms = now;
        c->next_expect++;
        r->received++;
        line = nl + 1;
    }
    c->rlen -= (size_t)(line - c->rbuf);
    memmove(c->rbuf, line, c->rlen);
    if (c->rlen == sizeof(c->rbuf)) {
        fail(r, "connection %u: garbage instead of echo lines", idx);
        return false;
    }
    return true;
}

/* Fail the run if a connection has waited for an echo longer than the stall timeout. */
static bool echo_check_stall(struct report *r, const struct client_opts *o, struct echo_conn *c,
                             unsigned idx, int64_t now)
{
    if (c->next_expect < c->next_send && now - c->last_rx_ms > o->stall_timeout_ms) {
        note_stall(r, now - c->last_rx_ms);
        r->timeouts++;
        fail(r, "connection %u: no echo for %lld ms (stall timeout), %llu lines outstanding", idx,
             (long long)(now - c->last_rx_ms),
             (unsigned long long)(c->next_send - c->next_expect));
        return false;
    }
    return true;
}

static struct echo_conn *echo_open_all(struct report *r, const struct client_opts *o)
{
    struct echo_conn *conns = calloc(o->connections, sizeof(*conns));
    char peer[INET6_ADDRSTRLEN + 10];

    if (!conns) {
        fail(r, "out of memory");
        return NULL;
    }
    for (unsigned i = 0; i < o->connections; i++)
        conns[i].fd = -1;
    for (unsigned i = 0; i < o->connections; i++) {
        int err = 0;

        conns[i].fd = connect_timeout(&o->peer, o->peerlen, o->has_bind ? &o->bind_addr : NULL,
                                      o->stall_timeout_ms, &err);
        if (conns[i].fd < 0) {
            fail_errno(r, err ? err : ETIMEDOUT, "connection %u: connect to %s", i,
                       addr_str(&o->peer, peer, sizeof(peer)));
            return conns;
        }
        r->connections++;
    }
    return conns;
}

static void echo_close_all(struct echo_conn *conns, unsigned n)
{
    for (unsigned i = 0; conns && i < n; i++)
        if (conns[i].fd >= 0)
            close(conns[i].fd);
    free(conns);
}

/**
 * echo_round() - wait until every connection's outstanding lines are echoed
 * @r: the report
 * @o: the options
 * @conns: the connections
 *
 * Return: false if a connection broke or stalled.
 */
static bool echo_round(struct report *r, const struct client_opts *o, struct echo_conn *conns)
{
    struct pollfd *fds = calloc(o->connections, sizeof(*fds));
    bool ok = true;

    for (;;) {
        unsigned waiting = 0;
        int64_t now = now_ms();

        for (unsigned i = 0; i < o->connections && ok; i++) {
            struct echo_conn *c = &conns[i];

            fds[i] = (struct pollfd){.fd = c->fd, .events = POLLIN};
            if (c->wlen)
                fds[i].events |= POLLOUT;
            if (c->next_expect < c->next_send) {
                waiting++;
                ok = echo_check_stall(r, o, c, i, now);
            } else {
                fds[i].fd = -1;
            }
        }
        if (!ok || !waiting)
            break;
        wait_fds(fds, o->connections, 50);
        now = now_ms();
        for (unsigned i = 0; i < o->connections && ok; i++) {
            if (fds[i].revents & POLLOUT)
                ok = echo_flush(r, &conns[i], i);
            if (ok && fds[i].revents & (POLLIN | POLLERR | POLLHUP))
                ok = echo_receive(r, &conns[i], i, now);
        }
        if (!ok)
            break;
    }
    free(fds);
    return ok;
}

/**
 * run_tcp_echo() - numbered lines every interval on every connection, each echo checked
 * @o: the options
 *
 * Return: the exit status.
 */
static int run_tcp_echo(const struct client_opts *o)
{
    struct report r = {.mode = "tcp-echo", .in_order = true};
    struct echo_conn *conns = echo_open_all(&r, o);
    struct pollfd *fds = calloc(o->connections, sizeof(*fds));
    int64_t start = now_ms(), next_tick = start;
    bool ok = conns && fds && !r.first_error[0];

    while (ok && !run_over(o, start)) {
        int64_t now = now_ms();

        if (now >= next_tick) {
            for (unsigned i = 0; i < o->connections && ok; i++)
                ok = echo_send_line(&r, &conns[i], i, now);
            next_tick += o->interval_ms;
            if (next_tick < now) /* we were starved: do not burst to catch up */
                next_tick = now + o->interval_ms;
        }
        for (unsigned i = 0; i < o->connections && ok; i++) {
            fds[i] = (struct pollfd){.fd = conns[i].fd, .events = POLLIN};
            if (conns[i].wlen)
                fds[i].events |= POLLOUT;
            ok = echo_check_stall(&r, o, &conns[i], i, now);
        }
        if (!ok)
            break;
        wait_fds(fds, o->connections, next_tick - now_ms() > 0 ? next_tick - now_ms() : 0);
        now = now_ms();
        for (unsigned i = 0; i < o->connections && ok; i++) {
            if (fds[i].revents & POLLOUT)
                ok = echo_flush(&r, &conns[i], i);
            if (ok && fds[i].revents & (POLLIN | POLLERR | POLLHUP))
                ok = echo_receive(&r, &conns[i], i, now);
        }
    }
    got_stop = 0; /* a stop ends the sending; the last echoes are still awaited */
    if (ok)
        echo_round(&r, o, conns);
    free(fds);
    echo_close_all(conns, o->connections);
    return report_finish(&r);
}

/* Send one line on every connection and await every echo. */
static bool echo_check_all(struct report *r, const struct client_opts *o, struct echo_conn *conns)
{
    int64_t now = now_ms(), t0 = now;
    bool ok = true;

    for (unsigned i = 0; i < o->connections && ok; i++)
        ok = echo_send_line(r, &conns[i], i, now);
    ok = ok && echo_round(r, o, conns);
    note_stall(r, now_ms() - t0);
    return ok;
}

/**
 * run_tcp_idle() - N quiet connections checked before and after a pause
 * @o: the options
 *
 * The pause is where a test migrates the guest: the connections carry no
 * traffic then, which is the case that tests state carried at the firewall
 * rather than state relearned from traffic. During the pause a reset or EOF
 * is noticed (and reported) at once.
 *
 * Return: the exit status.
 */
static int run_tcp_idle(const struct client_opts *o)
{
    struct report r = {.mode = "tcp-idle", .in_order = true};
    struct echo_conn *conns = echo_open_all(&r, o);
    struct pollfd *fds = calloc(o->connections, sizeof(*fds));
    bool ok = conns && fds && !r.first_error[0];
    int64_t until;

    ok = ok && echo_check_all(&r, o, conns);
    if (ok) {
        if (o->ready_file) {
            int fd = open(o->ready_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

            if (fd < 0)
                fail(&r, "cannot create ready file %s: %s", o->ready_file, strerror(errno));
            else
                close(fd);
        }
        printf("ready\n");
        fflush(stdout);
    }
    until = o->hold_ms >= 0 ? now_ms() + o->hold_ms : -1;
    for (unsigned round = 1;; round++) {
        while (ok && !got_check && !got_stop && (until < 0 || now_ms() < until)) {
            for (unsigned i = 0; i < o->connections; i++)
                fds[i] = (struct pollfd){.fd = conns[i].fd, .events = POLLIN};
            wait_fds(fds, o->connections, until < 0 ? -1 : until - now_ms());
            for (unsigned i = 0; i < o->connections && ok; i++)
                if (fds[i].revents)
                    ok = echo_receive(&r, &conns[i], i, now_ms());
        }
        if (!o->repeat || !ok || got_stop)
            break;
        /* --repeat: one check round per signal, each said on stdout, until SIGTERM */
        {
            int64_t t0 = now_ms();

            got_check = 0;
            ok = echo_check_all(&r, o, conns);
            if (ok) {
                printf("checked round=%u connections=%u round_ms=%lld\n", round, o->connections,
                       (long long)(now_ms() - t0));
                fflush(stdout);
            }
        }
    }
    ok = ok && echo_check_all(&r, o, conns);
    free(fds);
    echo_close_all(conns, o->connections);
    return report_finish(&r);
}

/* ---------------------------------------------------------------------------
 * tcp-bulk: a position-checked stream at full speed, either direction.
 */

static int run_tcp_bulk(const struct client_opts *o)
{
    struct report r = {.mode = "tcp-bulk", .in_order = true};
    static uint8_t buf[IO_CHUNK];
    char peer[INET6_ADDRSTRLEN + 10];
    int64_t start = now_ms(), last_move, ended = -1;
    int err = 0;
    int fd = connect_timeout(&o->peer, o->peerlen, NULL, o->stall_timeout_ms, &err);
    bool ok = fd >= 0;

    if (!ok) {
        fail_errno(&r, err ? err : ETIMEDOUT, "connect to %s",
                   addr_str(&o->peer, peer, sizeof(peer)));
        return report_finish(&r);
    }
    r.connections = 1;
    last_move = now_ms();
    for (;;) {
        struct pollfd p = {.fd = fd, .events = o->direction_send ? POLLOUT : POLLIN};
        int64_t now = now_ms();
        ssize_t n;

        /* The run ends with proof of life: one more move after the end of the duration. */
        if (ended < 0 && run_over(o, start))
            ended = now;
        if (ended >= 0 && last_move > ended)
            break;

        if (now - last_move > o->stall_timeout_ms) {
            note_stall(&r, now - last_move);
            r.timeouts++;
            fail(&r, "no progress for %lld ms (stall timeout) at byte %llu",
                 (long long)(now - last_move),
                 (unsigned long long)(o->direction_send ? r.sent : r.received));
            break;
        }
        if (wait_fds(&p, 1, 100) <= 0)
            continue;
        if (o->direction_send) {
            pattern_fill(buf, sizeof(buf), r.sent);
            n = send(fd, buf, sizeof(buf), MSG_NOSIGNAL | MSG_DONTWAIT);
        } else {
            n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        if (n < 0) {
            fail_errno(&r, errno, "%s at byte %llu", o->direction_send ? "send" : "receive",
                       (unsigned long long)(o->direction_send ? r.sent : r.received));
            break;
        }
        if (n == 0) {
            fail(&r, "closed by the peer (EOF) at byte %llu", (unsigned long long)r.received);
            break;
        }
        now = now_ms();
        note_stall(&r, now - last_move);
        last_move = now;
        if (o->direction_send) {
            r.sent += (uint64_t)n;
        } else {
            ssize_t bad = pattern_check(buf, (size_t)n, r.received);

            if (bad >= 0) {
                r.in_order = false;
                fail(&r, "corrupt stream at byte %llu", (unsigned long long)r.received + bad);
                break;
            }
            r.received += (uint64_t)n;
            r.bytes = r.received;
        }
    }
    if (ok && !r.first_error[0] && o->direction_send) {
        /* End of stream: the sink answers our FIN with how much it saw. */
        char line[128] = "";
        size_t len = 0;
        int64_t deadline = now_ms() + o->stall_timeout_ms;
        unsigned long long got = 0;
        int sink_ok = 0;

        shutdown(fd, SHUT_WR);
        while (now_ms() < deadline && len < sizeof(line) - 1 && !strchr(line, '\n')) {
            struct pollfd p = {.fd = fd, .events = POLLIN};
            ssize_t n;

            if (wait_fds(&p, 1, deadline - now_ms()) <= 0)
                continue;
            n = recv(fd, line + len, sizeof(line) - 1 - len, MSG_DONTWAIT);
            if (n <= 0)
                break;
            len += (size_t)n;
            line[len] = '\0';
        }
        if (sscanf(line, "nc-traffic sink received=%llu ok=%d", &got, &sink_ok) != 2)
            fail(&r, "no report from the sink within %lld ms after the end of the stream",
                 (long long)o->stall_timeout_ms);
        else if (!sink_ok || got != r.sent)
            fail(&r, "the sink saw %llu of %llu bytes (ok=%d): %.60s", got,
                 (unsigned long long)r.sent, sink_ok, line);
        r.received = got;
        r.bytes = got;
        r.in_order = sink_ok;
    }
    close(fd);
    return report_finish(&r);
}

/* ---------------------------------------------------------------------------
 * udp-echo: numbered datagrams; losses are counted, the flow must keep being answered.
 * To a multicast ADDR the socket stays unconnected (the answers come from the members'
 * own addresses) and sends out of --iface, without looping its datagrams back to itself.
 * Each silence of a second or more is told, when it ends, in a line
 * "gap ms=N resumed_at_ms=WALL" (wall clock, ms since the epoch).
 */

#define UDP_GAP_LINE_MS 1000

/**
 * udp_socket() - the udp-echo client's socket: connected to a unicast peer, or set up to send
 * to a group
 * @o: the options
 *
 * Return: the descriptor, or -1 with errno set.
 */
static int udp_socket(const struct client_opts *o)
{
    int fd = socket(o->peer.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int zero = 0, one = 1, r;

    if (fd < 0)
        return -1;
    if (!addr_is_multicast(&o->peer)) {
        r = connect(fd, (const struct sockaddr *)&o->peer, o->peerlen);
    } else if (o->peer.ss_family == AF_INET) {
        struct ip_mreqn m = {.imr_ifindex = (int)o->mcast_ifindex};

        r = setsockopt(fd, IPPROTO_IP, IP_MULTICAST_LOOP, &zero, sizeof(zero));
        if (!r)
            r = setsockopt(fd, IPPROTO_IP, IP_MULTICAST_TTL, &one, sizeof(one));
        if (!r && o->mcast_ifindex)
            r = setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &m, sizeof(m));
    } else {
        r = setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, &zero, sizeof(zero));
        if (!r && o->mcast_ifindex)
            r = setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, &o->mcast_ifindex,
                           sizeof(o->mcast_ifindex));
    }
    if (r < 0) {
        int e = errno;

        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

static int run_udp_echo(const struct client_opts *o)
{
    struct report r = {.mode = "udp-echo", .in_order = true, .udp = true};
    uint8_t *seen = NULL; /* one byte per datagram sent: was it answered? */
    size_t seen_cap = 0;
    uint64_t highest = 0;
    int64_t start = now_ms(), next_tick = start, last_rx = start, grace_until = -1, send_end = 0;
    int fd = udp_socket(o);
    char peer[INET6_ADDRSTRLEN + 10];

    if (fd < 0) {
        fail_errno(&r, errno, "UDP socket to %s", addr_str(&o->peer, peer, sizeof(peer)));
        return report_finish(&r);
    }
    r.connections = 1;
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int64_t now = now_ms();
        char buf[LINE_MAX_LEN];
        unsigned long long seq;
        ssize_t n;

        if (now - last_rx > o->stall_timeout_ms) {
            note_stall(&r, now - last_rx);
            r.timeouts++;
            fail(&r, "no answer for %lld ms (stall timeout) after %llu datagrams",
                 (long long)(now - last_rx), (unsigned long long)r.sent);
            break;
        }
        if (grace_until < 0 && run_over(o, start)) {
            /* Stop sending; give the last answers a moment (a few intervals) to arrive. */
            int64_t grace = o->interval_ms * 10 > 500 ? o->interval_ms * 10 : 500;
            grace_until = now + (grace < o->stall_timeout_ms ? grace : o->stall_timeout_ms);
            send_end = now;
        }
        if (grace_until >= 0 && (now >= grace_until || r.received == r.sent))
            break;
        if (grace_until < 0 && now >= next_tick) {
            int len = snprintf(buf, sizeof(buf), "nc-traffic %012llu\n",
                               (unsigned long long)r.sent);

            if (r.sent >= seen_cap) {
                size_t cap = seen_cap ? seen_cap * 2 : 4096;
                uint8_t *s = realloc(seen, cap);

                if (!s) {
                    fail(&r, "out of memory");
                    break;
                }
                memset(s + seen_cap, 0, cap - seen_cap);
                seen = s;
                seen_cap = cap;
            }
            /* A refused or unreachable send is a loss, not the end: the answer tells. */
            if (sendto(fd, buf, (size_t)len, MSG_NOSIGNAL, (const struct sockaddr *)&o->peer,
                       o->peerlen) < 0 &&
                errno != ECONNREFUSED && errno != EHOSTUNREACH && errno != ENETUNREACH &&
                errno != EAGAIN) {
                fail_errno(&r, errno, "send of datagram %llu", (unsigned long long)r.sent);
                break;
            }
            r.sent++;
            next_tick += o->interval_ms;
            if (next_tick < now)
                next_tick = now + o->interval_ms;
        }
        wait_fds(&p, 1, grace_until >= 0 ? grace_until - now_ms()
                        : next_tick - now_ms() > 0 ? next_tick - now_ms() : 0);
        while ((n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT)) >= 0 ||
               errno == ECONNREFUSED) {
            if (n < 0)
                continue; /* an ICMP error for an earlier datagram: counted as lost */
            buf[n] = '\0';
            now = now_ms();
            if (sscanf(buf, "nc-traffic %llu", &seq) != 1 || seq >= r.sent) {
                fail(&r, "an answer that is no echo of ours: '%.30s'", buf);
                break;
            }
            r.bytes += (uint64_t)n;
            if (seen[seq])
                continue; /* a duplicate answers nothing new */
            seen[seq] = 1;
            if (seq < highest) {
                r.reordered++;
                r.in_order = false;
            }
            highest = seq > highest ? seq : highest;
            r.received++;
            note_stall(&r, now - last_rx);
            if (now - last_rx >= UDP_GAP_LINE_MS)
                printf("gap ms=%lld resumed_at_ms=%lld\n", (long long)(now - last_rx),
                       (long long)wall_ms());
            last_rx = now;
        }
        if (r.first_error[0])
            break;
    }
    /* Losses during an interruption are allowed; a flow that is not answered at the end is not. */
    if (!r.first_error[0] && grace_until >= 0 && r.sent) {
        int64_t quiet = send_end - last_rx;
        int64_t allowed = o->interval_ms * 10 > 500 ? o->interval_ms * 10 : 500;

        note_stall(&r, quiet);
        if (quiet > allowed)
            fail(&r, "no answer in the last %lld ms before the end", (long long)quiet);
    }
    r.lost = r.sent - r.received;
    free(seen);
    close(fd);
    return report_finish(&r);
}

/* ---------------------------------------------------------------------------
 * tcp-churn: short transactions against a tcp-sink, as many as the peer serves.
 */

enum churn_step { CH_FREE, CH_CONNECTING, CH_AWAIT_REPORT };

struct churn_conn {
    int fd;
    enum churn_step step;
    uint16_t port;
    int64_t since_ms; /* when this transaction began */
    char rbuf[96];
    size_t rlen;
};

#define CHURN_PAYLOAD 64

/**
 * churn_begin() - start one transaction from the next local address and port
 * @o: the options (peer, --bind addresses, port range)
 * @c: a free slot
 * @next: (inout): how many pairs were tried before (it only grows: a checker can tell which
 *        pairs a stretch of time used); try number N uses pair N mod (ports x addresses), which is
 *        port lo + pair / addresses on address pair % addresses
 *
 * A pair still held by an earlier transaction (EADDRINUSE, or its 4-tuple still in TIME_WAIT
 * here) is skipped; at most one pass over all pairs is tried.
 *
 * Return: 0, or an errno value when no transaction could be started.
 */
static int churn_begin(const struct client_opts *o, struct churn_conn *c, uint64_t *next)
{
    unsigned naddr = o->n_churn_bind ? o->n_churn_bind : 1;
    uint64_t span = ((uint64_t)o->port_hi - o->port_lo + 1) * naddr;
    int one = 1, err = EADDRINUSE;

    for (uint64_t tries = 0; tries < span && err == EADDRINUSE; tries++) {
        struct sockaddr_storage local = {0};
        uint64_t pair = *next % span;
        uint16_t port = (uint16_t)(o->port_lo + pair / naddr);
        int fd;

        *next = *next + 1;
        if (o->n_churn_bind)
            local = o->churn_bind[pair % naddr];
        else
            local.ss_family = o->peer.ss_family;
        if (local.ss_family == AF_INET)
            ((struct sockaddr_in *)&local)->sin_port = htons(port);
        else
            ((struct sockaddr_in6 *)&local)->sin6_port = htons(port);
        fd = socket(o->peer.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
            return errno;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (bind(fd, (struct sockaddr *)&local,
                 local.ss_family == AF_INET ? sizeof(struct sockaddr_in)
                                            : sizeof(struct sockaddr_in6)) < 0 ||
            (connect(fd, (const struct sockaddr *)&o->peer, o->peerlen) < 0 &&
             errno != EINPROGRESS)) {
            err = errno;
            close(fd);
            if (err == EADDRNOTAVAIL)
                err = EADDRINUSE; /* the 4-tuple is still in TIME_WAIT here: next pair */
            continue;
        }
        *c = (struct churn_conn){
            .fd = fd, .step = CH_CONNECTING, .port = port, .since_ms = now_ms()};
        return 0;
    }
    return err;
}

/**
 * churn_io() - advance one transaction: connected -> send the payload and half-close -> read the
 * sink's report line -> EOF
 * @r: the report (failures are recorded in it, the run goes on)
 * @c: the transaction
 *
 * Return: 1 when it completed, -1 when it failed, 0 while it goes on.
 */
static int churn_io(struct report *r, struct churn_conn *c)
{
    uint8_t payload[CHURN_PAYLOAD];
    unsigned long long got;
    int ok_flag, err = 0;
    socklen_t len = sizeof(err);
    ssize_t n;

    if (c->step == CH_CONNECTING) {
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
            err = errno;
        if (err) {
            fail_errno(r, err, "churn port %u: connect", c->port);
            return -1;
        }
        pattern_fill(payload, sizeof(payload), 0);
        n = send(c->fd, payload, sizeof(payload), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n != (ssize_t)sizeof(payload) || shutdown(c->fd, SHUT_WR) < 0) {
            fail_errno(r, n < 0 ? errno : EIO, "churn port %u: send", c->port);
            return -1;
        }
        r->sent++;
        c->step = CH_AWAIT_REPORT;
        return 0;
    }
    n = recv(c->fd, c->rbuf + c->rlen, sizeof(c->rbuf) - 1 - c->rlen, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return 0;
    if (n < 0) {
        fail_errno(r, errno, "churn port %u: receive", c->port);
        return -1;
    }
    if (n > 0) {
        c->rlen += (size_t)n;
        r->bytes += (uint64_t)n;
        if (c->rlen == sizeof(c->rbuf) - 1) {
            fail(r, "churn port %u: more than a report line from the sink", c->port);
            return -1;
        }
        return 0;
    }
    c->rbuf[c->rlen] = '\0';
    if (sscanf(c->rbuf, "nc-traffic sink received=%llu ok=%d", &got, &ok_flag) != 2 ||
        got != CHURN_PAYLOAD || ok_flag != 1) {
        fail(r, "churn port %u: the sink answered '%.60s' instead of received=%d ok=1", c->port,
             c->rbuf, CHURN_PAYLOAD);
        return -1;
    }
    r->received++;
    return 1;
}

/**
 * run_tcp_churn() - open and close connections to a tcp-sink continuously
 * @o: the options
 *
 * Up to --parallel transactions at once, each from its own local address and port (every
 * --bind address with every port of the range, used in turn, so a 4-tuple comes back only after
 * all pairs: the firewall's conntrack entry of the previous one, TIME_WAIT for 120 s, is then
 * gone), at most --rate started per second.
 * A transaction: connect, 64 pattern bytes, half-close, the sink's report line, EOF, close.
 * A transaction that fails (refused, reset, no progress for --stall-timeout-s, a wrong report)
 * is counted and the run goes on: the churn must not stop because one connection broke. Every
 * --progress-ms one line "churn t_ms=T started=N completed=N failed=N inflight=N pairs=N" on
 * stdout (pairs: how many pairs were tried so far, so which 4-tuples a stretch of time used).
 *
 * Return: the exit status: 0 when no transaction failed.
 */
static int run_tcp_churn(const struct client_opts *o)
{
    struct report r = {.mode = "tcp-churn", .in_order = true};
    struct churn_conn *cs = calloc(o->parallel, sizeof(*cs));
    struct pollfd *fds = calloc(o->parallel, sizeof(*fds));
    int64_t start = now_ms(), next_progress = start + o->progress_ms;
    uint64_t started = 0, failed = 0;
    uint64_t next_pair = 0;
    unsigned inflight = 0;

    if (!cs || !fds) {
        fail(&r, "out of memory");
        return report_finish(&r);
    }
    for (;;) {
        int64_t now = now_ms();
        bool over = run_over(o, start);
        int64_t wait = next_progress - now;

        if (over && !inflight)
            break;
        /* start what the cap allows */
        for (unsigned i = 0; i < o->parallel && !over; i++) {
            int err;

            if (cs[i].step != CH_FREE)
                continue;
            if (o->rate && started >= (uint64_t)(now - start) * o->rate / 1000 + 1) {
                int64_t due = start + (int64_t)(started * 1000 / o->rate);

                wait = due - now < wait ? due - now : wait;
                break;
            }
            err = churn_begin(o, &cs[i], &next_pair);
            if (err) {
                fail_errno(&r, err, "churn: no connection could be started");
                failed++;
                wait = 100 < wait ? 100 : wait;
                break;
            }
            started++;
            inflight++;
        }
        for (unsigned i = 0; i < o->parallel; i++) {
            fds[i] = (struct pollfd){.fd = -1};
            if (cs[i].step == CH_FREE)
                continue;
            if (now - cs[i].since_ms > o->stall_timeout_ms) {
                r.timeouts++;
                note_stall(&r, now - cs[i].since_ms);
                fail(&r, "churn port %u: no progress for %lld ms (stall timeout)", cs[i].port,
                     (long long)(now - cs[i].since_ms));
                close(cs[i].fd);
                cs[i].step = CH_FREE;
                failed++;
                inflight--;
                continue;
            }
            fds[i] = (struct pollfd){.fd = cs[i].fd,
                                     .events = cs[i].step == CH_CONNECTING ? POLLOUT : POLLIN};
        }
        wait_fds(fds, o->parallel, wait > 0 ? wait : 0);
        now = now_ms();
        for (unsigned i = 0; i < o->parallel; i++) {
            int done;

            if (fds[i].fd < 0 || !fds[i].revents)
                continue;
            done = churn_io(&r, &cs[i]);
            if (!done)
                continue;
            if (done > 0)
                note_stall(&r, now - cs[i].since_ms);
            else
                failed++;
            close(cs[i].fd);
            cs[i].step = CH_FREE;
            inflight--;
        }
        if (now >= next_progress) {
            printf("churn t_ms=%lld started=%llu completed=%llu failed=%llu inflight=%u "
                   "pairs=%llu\n",
                   (long long)(now - start), (unsigned long long)started,
                   (unsigned long long)r.received, (unsigned long long)failed, inflight,
                   (unsigned long long)next_pair);
            fflush(stdout);
            next_progress += o->progress_ms;
            if (next_progress < now)
                next_progress = now + o->progress_ms;
        }
    }
    r.connections = (unsigned)(started > UINT_MAX ? UINT_MAX : started);
    printf("churn t_ms=%lld started=%llu completed=%llu failed=%llu inflight=0 pairs=%llu\n",
           (long long)(now_ms() - start), (unsigned long long)started,
           (unsigned long long)r.received, (unsigned long long)failed,
           (unsigned long long)next_pair);
    free(fds);
    free(cs);
    return report_finish(&r);
}

/* ---------------------------------------------------------------------------
 * serve: all listeners and connections in one poll() loop.
 */

enum kind { K_TCP_ECHO, K_TCP_SINK, K_TCP_SOURCE, K_UDP_ECHO, K_JOIN, K_MEMBER };

static const char *const kind_names[] = {"tcp-echo", "tcp-sink", "tcp-source",
                                         "udp-echo", "join",     "member"};
_Static_assert(sizeof(kind_names) / sizeof(kind_names[0]) == K_MEMBER + 1, "one name per kind");

/*
 * A group member in userspace (--member GROUP --iface IF --echo PORT), IPv4 only. The kernel
 * holds no membership: the group's datagrams come from a packet socket (the link layer takes
 * the group's MAC, PACKET_MR_MULTICAST; IP, which is no member, drops its own copy), and IGMPv2
 * reports go out of a raw socket, one when the member starts and one in answer to each query
 * that asks for the group (general or for it), at once. So it reports what a host must, and
 * no more. A kernel membership (--join) also reports when the NIC announces that it moved
 * (virtio-net's guest announce after a migration: netdev_notify_peers() sends
 * NETDEV_RESEND_IGMP), so its new bridge port learns it at once; a guest that does not
 * (another NIC, another OS) waits for the next query, which is what carrying IGMP snooping's
 * state is for (docs/test-bed.md, "Multicast").
 */
struct member {
    int pkt_fd;  /* packet socket: the group's datagrams and IGMP queries */
    int igmp_fd; /* raw IGMP: reports (its input is filtered away) */
    int udp_fd;  /* the answers */
    struct in_addr group;
    uint16_t port;
};

struct listener {
    int fd;
    enum kind kind;
    uint16_t port;
    struct member *member; /* K_MEMBER */
};

struct sconn {
    int fd;
    enum kind kind;
    uint64_t pos;      /* sink/source: stream offset */
    uint8_t *buf;      /* echo: bytes not yet sent back */
    size_t off, len;
};

struct server {
    struct listener lst[MAX_PORTS + MAX_JOINS];
    unsigned nlst;
    struct sconn *conns;
    unsigned nconns, capconns;
    uint64_t accepted;
};

/**
 * join_group() - join a multicast group on an interface and keep the socket open
 * @group: numeric IPv4 or IPv6 group
 * @ifname: the interface
 * @port: 0, or the port (host order) whose datagrams to @group the socket receives (bound to
 *        GROUP:PORT, so that nothing sent to another group or unicast reaches it)
 *
 * Return: the socket that holds the membership (non-blocking); exits on failure.
 */
static int join_group(const char *group, const char *ifname, uint16_t port)
{
    struct sockaddr_storage ss;
    unsigned ifindex = if_nametoindex(ifname);
    int one = 1;
    int fd, r;

    parse_addr("--join", group, port, &ss);
    if (!ifindex)
        usage_error("bad value for --iface: '%s' (no such interface)", ifname);
    fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        fprintf(stderr, "%s: socket: %s\n", prog, strerror(errno));
        exit(EXIT_BROKEN);
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (port && bind(fd, (struct sockaddr *)&ss,
                     ss.ss_family == AF_INET ? sizeof(struct sockaddr_in)
                                             : sizeof(struct sockaddr_in6)) < 0) {
        fprintf(stderr, "%s: cannot bind %s port %u: %s\n", prog, group, port, strerror(errno));
        exit(EXIT_BROKEN);
    }
    if (ss.ss_family == AF_INET) {
        struct ip_mreqn m = {.imr_multiaddr = ((struct sockaddr_in *)&ss)->sin_addr,
                             .imr_ifindex = (int)ifindex};
        r = setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &m, sizeof(m));
    } else {
        struct ipv6_mreq m = {.ipv6mr_multiaddr = ((struct sockaddr_in6 *)&ss)->sin6_addr,
                              .ipv6mr_interface = ifindex};
        r = setsockopt(fd, IPPROTO_IPV6, IPV6_JOIN_GROUP, &m, sizeof(m));
    }
    if (r < 0) {
        fprintf(stderr, "%s: cannot join %s on %s: %s\n", prog, group, ifname, strerror(errno));
        exit(EXIT_BROKEN);
    }
    return fd;
}

/* The Internet checksum of @len bytes, in network order. */
static uint16_t inet_csum(const uint8_t *p, size_t len)
{
    uint32_t sum = 0;

    for (size_t i = 0; i + 1 < len; i += 2)
        sum += (uint32_t)(p[i] << 8 | p[i + 1]);
    if (len & 1)
        sum += (uint32_t)p[len - 1] << 8;
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return htons((uint16_t)~sum);
}

/* One IGMPv2 membership report of the member's group, sent to the group. */
static void member_report(const struct member *m)
{
    uint8_t b[8] = {0x16, 0, 0, 0};
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_addr = m->group};
    uint16_t c;

    memcpy(b + 4, &m->group, 4);
    c = inet_csum(b, sizeof(b));
    memcpy(b + 2, &c, 2);
    if (sendto(m->igmp_fd, b, sizeof(b), 0, (struct sockaddr *)&to, sizeof(to)) < 0)
        fprintf(stderr, "%s: member: IGMP report: %s\n", prog, strerror(errno));
}

static void member_fail(const char *what) __attribute__((noreturn));

static void member_fail(const char *what)
{
    fprintf(stderr, "%s: member: %s: %s\n", prog, what, strerror(errno));
    exit(EXIT_BROKEN);
}

/**
 * member_open() - a userspace member of @group on @ifname, answering datagrams to @port
 * @group: numeric IPv4 group
 * @ifname: the interface
 * @port: host order
 *
 * Sends the member's first report. Return: the member; exits on failure.
 */
static struct member *member_open(const char *group, const char *ifname, uint16_t port)
{
    struct sockaddr_storage ss;
    struct member *m;
    unsigned ifindex = if_nametoindex(ifname);
    struct sockaddr_ll sll = {.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_IP)};
    struct packet_mreq mr = {.mr_type = PACKET_MR_MULTICAST, .mr_alen = 6};
    struct sock_filter drop_all = BPF_STMT(BPF_RET | BPF_K, 0);
    struct sock_fprog prog_drop = {.len = 1, .filter = &drop_all};
    struct ip_mreqn mif = {.imr_ifindex = (int)ifindex};
    uint8_t ra[4] = {IPOPT_RA, 4, 0, 0}; /* router alert, as RFC 2236 asks of reports */
    int one = 1, zero = 0;
    const uint8_t *g;

    parse_addr("--member", group, port, &ss);
    if (ss.ss_family != AF_INET ||
        !IN_MULTICAST(ntohl(((struct sockaddr_in *)&ss)->sin_addr.s_addr)))
        usage_error("bad value for --member: '%s' (an IPv4 multicast group)", group);
    if (!ifindex)
        usage_error("bad value for --iface: '%s' (no such interface)", ifname);
    m = calloc(1, sizeof(*m));
    if (!m)
        member_fail("out of memory");
    m->group = ((struct sockaddr_in *)&ss)->sin_addr;
    m->port = port;
    g = (const uint8_t *)&m->group;
    /* the group's MAC: 01:00:5e and the group's low 23 bits */
    mr.mr_ifindex = (int)ifindex;
    memcpy(mr.mr_address, (const uint8_t[]){0x01, 0x00, 0x5e, g[1] & 0x7f, g[2], g[3]}, 6);
    sll.sll_ifindex = (int)ifindex;
    m->pkt_fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, htons(ETH_P_IP));
    if (m->pkt_fd < 0 || bind(m->pkt_fd, (struct sockaddr *)&sll, sizeof(sll)) < 0 ||
        setsockopt(m->pkt_fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof(mr)) < 0)
        member_fail("packet socket");
    m->igmp_fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_IGMP);
    if (m->igmp_fd < 0 ||
        setsockopt(m->igmp_fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog_drop, sizeof(prog_drop)) < 0 ||
        setsockopt(m->igmp_fd, IPPROTO_IP, IP_MULTICAST_IF, &mif, sizeof(mif)) < 0 ||
        setsockopt(m->igmp_fd, IPPROTO_IP, IP_MULTICAST_TTL, &one, sizeof(one)) < 0 ||
        setsockopt(m->igmp_fd, IPPROTO_IP, IP_MULTICAST_LOOP, &zero, sizeof(zero)) < 0 ||
        setsockopt(m->igmp_fd, IPPROTO_IP, IP_OPTIONS, ra, sizeof(ra)) < 0)
        member_fail("raw IGMP socket");
    m->udp_fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (m->udp_fd < 0)
        member_fail("UDP socket");
    member_report(m);
    return m;
}

/* What the member's packet socket got: answer the group's datagrams, report on a query. */
static void member_input(const struct member *m)
{
    uint8_t buf[65536];
    struct sockaddr_ll from;
    socklen_t flen = sizeof(from);
    ssize_t n;

    while ((n = recvfrom(m->pkt_fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&from,
                         &flen)) >= 0) {
        struct iphdr ip;
        size_t hl;
        const uint8_t *l4;

        flen = sizeof(from);
        if (from.sll_pkttype == PACKET_OUTGOING || (size_t)n < sizeof(ip))
            continue;
        memcpy(&ip, buf, sizeof(ip));
        hl = (size_t)ip.ihl * 4;
        l4 = buf + hl;
        if (ip.version != 4 || hl < sizeof(ip) || (size_t)n < hl + 8)
            continue;
        if (ip.protocol == IPPROTO_IGMP && l4[0] == 0x11 &&
            (!memcmp(l4 + 4, "\0\0\0\0", 4) || !memcmp(l4 + 4, &m->group, 4))) {
            member_report(m);
        } else if (ip.protocol == IPPROTO_UDP && ip.daddr == m->group.s_addr &&
                   (l4[2] << 8 | l4[3]) == m->port) {
            struct sockaddr_in to = {.sin_family = AF_INET, .sin_addr.s_addr = ip.saddr};
            size_t ulen = (size_t)(l4[4] << 8 | l4[5]);

            if (ulen < 8 || hl + ulen > (size_t)n)
                continue;
            memcpy(&to.sin_port, l4, 2);
            sendto(m->udp_fd, l4 + 8, ulen - 8, MSG_DONTWAIT, (struct sockaddr *)&to, sizeof(to));
        }
    }
}

static void server_drop(struct server *s, unsigned i)
{
    close(s->conns[i].fd);
    free(s->conns[i].buf);
    s->conns[i] = s->conns[--s->nconns];
}

static void server_accept(struct server *s, const struct listener *l)
{
    int one = 1;
    int fd;

    while ((fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
        if (s->nconns == s->capconns) {
            unsigned cap = s->capconns ? s->capconns * 2 : 64;
            struct sconn *c = realloc(s->conns, cap * sizeof(*c));

            if (!c) {
                close(fd);
                return;
            }
            s->conns = c;
            s->capconns = cap;
        }
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        s->conns[s->nconns++] = (struct sconn){.fd = fd, .kind = l->kind};
        s->accepted++;
    }
}

/* One UDP echo: every datagram goes back to where it came from (from a group's socket too:
 * bound to a multicast address, it sends from the interface's own address). */
static void server_udp(const struct listener *l)
{
    uint8_t buf[65536];
    struct sockaddr_storage from;
    socklen_t len = sizeof(from);
    ssize_t n;

    while ((n = recvfrom(l->fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&from,
                         &len)) >= 0) {
        sendto(l->fd, buf, (size_t)n, MSG_DONTWAIT, (struct sockaddr *)&from, len);
        len = sizeof(from);
    }
}

/* The sink's one reply: how much it received, and whether all of it was right. */
static void sink_report(struct sconn *c, bool ok)
{
    char line[96];
    int n = snprintf(line, sizeof(line), "nc-traffic sink received=%llu ok=%d\n",
                     (unsigned long long)c->pos, ok);

    send(c->fd, line, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
}

/**
 * server_io() - serve one ready connection
 * @c: the connection
 * @revents: what poll() said
 *
 * Return: false when the connection is finished and must be dropped.
 */
static bool server_io(struct sconn *c, short revents)
{
    static uint8_t buf[IO_CHUNK];
    ssize_t n;

    switch (c->kind) {
    case K_TCP_ECHO:
        if (c->len) { /* flush first; we read again only once all went back */
            n = send(c->fd, c->buf + c->off, c->len, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n < 0)
                return errno == EAGAIN;
            c->off += (size_t)n;
            c->len -= (size_t)n;
            return true;
        }
        n = recv(c->fd, buf, ECHO_BUF, MSG_DONTWAIT);
        if (n <= 0)
            return n < 0 && errno == EAGAIN;
        {
            ssize_t w = send(c->fd, buf, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);

            if (w < 0 && errno != EAGAIN)
                return false;
            w = w < 0 ? 0 : w;
            if (w < n) {
                if (!c->buf && !(c->buf = malloc(ECHO_BUF)))
                    return false;
                memcpy(c->buf, buf + w, (size_t)(n - w));
                c->off = 0;
                c->len = (size_t)(n - w);
            }
        }
        return true;
    case K_TCP_SINK:
        n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (n < 0)
            return errno == EAGAIN;
        if (n == 0) {
            sink_report(c, true);
            return false;
        }
        {
            ssize_t bad = pattern_check(buf, (size_t)n, c->pos);

            if (bad >= 0) {
                fprintf(stderr, "%s: tcp-sink: corrupt stream at byte %llu\n", prog,
                        (unsigned long long)(c->pos + (uint64_t)bad));
                c->pos += (uint64_t)bad;
                sink_report(c, false);
                return false;
            }
        }
        c->pos += (uint64_t)n;
        return true;
    case K_TCP_SOURCE:
        if (revents & POLLIN) { /* the client says nothing; EOF or an error ends it */
            n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);
            if (n == 0 || (n < 0 && errno != EAGAIN))
                return false;
        }
        if (revents & POLLOUT) {
            pattern_fill(buf, sizeof(buf), c->pos);
            n = send(c->fd, buf, sizeof(buf), MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n < 0)
                return errno == EAGAIN;
            c->pos += (uint64_t)n;
        }
        return true;
    default:
        return false;
    }
}

static int run_serve(int argc, char **argv)
{
    struct server s = {0};
    char banner[1024] = "";
    size_t blen = 0;
    struct pollfd *fds = NULL;
    unsigned capfds = 0;

    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        enum kind k;

        if (!strcmp(a, "--tcp-echo"))
            k = K_TCP_ECHO;
        else if (!strcmp(a, "--tcp-sink"))
            k = K_TCP_SINK;
        else if (!strcmp(a, "--tcp-source"))
            k = K_TCP_SOURCE;
        else if (!strcmp(a, "--udp-echo"))
            k = K_UDP_ECHO;
        else if (!strcmp(a, "--join"))
            k = K_JOIN;
        else if (!strcmp(a, "--member"))
            k = K_MEMBER;
        else if (!strcmp(a, "--iface"))
            usage_error("--iface must follow a --join or --member GROUP");
        else if (!strcmp(a, "--echo"))
            usage_error("--echo must follow --join or --member GROUP --iface IF");
        else
            usage_error("serve does not take '%s'", a);
        i++;
        if (s.nlst == sizeof(s.lst) / sizeof(s.lst[0]))
            usage_error("too many ports and groups (at most %d)", MAX_PORTS + MAX_JOINS);
        if (k == K_JOIN || k == K_MEMBER) {
            struct sockaddr_storage ss;
            uint16_t port = 0;

            parse_addr(a, v, 0, &ss); /* a usage error before anything is opened */
            if (i + 2 >= argc || strcmp(argv[i + 1], "--iface"))
                usage_error("%s %s needs --iface IF right after it", a, v);
            if (i + 3 < argc && !strcmp(argv[i + 3], "--echo"))
                port = parse_port("--echo", i + 4 < argc ? argv[i + 4] : NULL);
            if (k == K_MEMBER && !port)
                usage_error("--member %s --iface %s needs --echo PORT right after it", v,
                            argv[i + 2]);
            if (k == K_MEMBER) {
                struct member *m = member_open(v, argv[i + 2], port);

                s.lst[s.nlst++] =
                    (struct listener){.fd = m->pkt_fd, .kind = k, .port = port, .member = m};
            } else {
                s.lst[s.nlst++] = (struct listener){
                    .fd = join_group(v, argv[i + 2], port), .kind = k, .port = port};
            }
            blen += (size_t)snprintf(banner + blen, sizeof(banner) - blen, " %s %s%%%s",
                                     kind_names[k], v, argv[i + 2]);
            if (port && blen < sizeof(banner))
                blen += (size_t)snprintf(banner + blen, sizeof(banner) - blen, " echo %u", port);
            if (blen >= sizeof(banner))
                blen = sizeof(banner) - 1;
            i += port ? 4 : 2;
            continue;
        }
        s.lst[s.nlst++] = (struct listener){
            .fd = listen_any(k == K_UDP_ECHO ? SOCK_DGRAM : SOCK_STREAM, parse_port(a, v)),
            .kind = k,
            .port = parse_port(a, v)};
        blen += (size_t)snprintf(banner + blen, sizeof(banner) - blen, " %s %s", kind_names[k],
                                 v);
        if (blen >= sizeof(banner))
            blen = sizeof(banner) - 1;
    }
    if (!s.nlst)
        usage_error("serve needs at least one of --tcp-echo, --tcp-sink, --tcp-source, "
                    "--udp-echo, --join, --member");
    printf("nc-traffic: serving%s\n", banner);
    fflush(stdout);

    while (!got_stop) {
        unsigned n = s.nlst + s.nconns;

        if (n > capfds) {
            capfds = n * 2;
            fds = realloc(fds, capfds * sizeof(*fds));
            if (!fds) {
                fprintf(stderr, "%s: out of memory\n", prog);
                return EXIT_BROKEN;
            }
        }
        for (unsigned i = 0; i < s.nlst; i++)
            fds[i] =
                (struct pollfd){.fd = s.lst[i].kind == K_JOIN && !s.lst[i].port ? -1 : s.lst[i].fd,
                                .events = POLLIN};
        for (unsigned i = 0; i < s.nconns; i++) {
            struct sconn *c = &s.conns[i];
            short ev = POLLIN;

            if (c->kind == K_TCP_ECHO && c->len)
                ev = POLLOUT;
            else if (c->kind == K_TCP_SOURCE)
                ev = POLLIN | POLLOUT;
            fds[s.nlst + i] = (struct pollfd){.fd = c->fd, .events = ev};
        }
        if (wait_fds(fds, n, -1) <= 0)
            continue;
        /* Connections first, from the end, so that dropping one (which moves the last
         * into its slot) never skips a descriptor that poll() reported. */
        for (unsigned i = s.nconns; i-- > 0;) {
            short re = fds[s.nlst + i].revents;

            if (re && !server_io(&s.conns[i], re))
                server_drop(&s, i);
        }
        for (unsigned i = 0; i < s.nlst; i++) {
            if (!fds[i].revents)
                continue;
            if (s.lst[i].kind == K_UDP_ECHO || s.lst[i].kind == K_JOIN)
                server_udp(&s.lst[i]);
            else if (s.lst[i].kind == K_MEMBER)
                member_input(s.lst[i].member);
            else
                server_accept(&s, &s.lst[i]);
        }
    }
    printf("nc-traffic: stopped after %llu connections\n", (unsigned long long)s.accepted);
    fflush(stdout);
    while (s.nconns)
        server_drop(&s, s.nconns - 1);
    for (unsigned i = 0; i < s.nlst; i++) {
        close(s.lst[i].fd);
        if (s.lst[i].member) {
            close(s.lst[i].member->igmp_fd);
            close(s.lst[i].member->udp_fd);
            free(s.lst[i].member);
        }
    }
    free(s.conns);
    free(fds);
    return 0;
}

/* ---------------------------------------------------------------------------
 * main
 */

static const char help_text[] =
    "Usage:\n"
    "  nc-traffic serve [--tcp-echo PORT]... [--tcp-sink PORT] [--tcp-source PORT]\n"
    "                   [--udp-echo PORT] [--join GROUP --iface IF [--echo PORT]]...\n"
    "                   [--member GROUP --iface IF --echo PORT]...\n"
    "      Serve until SIGTERM/SIGINT; prints \"nc-traffic: serving ...\" once listening.\n"
    "      --join holds a membership of GROUP on IF; with --echo, every datagram to\n"
    "      GROUP:PORT is answered, unicast, to its sender. --member answers the same way\n"
    "      without the kernel's membership: it IGMPv2-reports (raw socket) when it starts\n"
    "      and when a query asks, never else (IPv4; needs CAP_NET_RAW).\n"
    "      tcp-source sends a position-checked byte stream as fast as the peer takes it;\n"
    "      tcp-sink checks such a stream and, at its end, answers one report line.\n"
    "  nc-traffic tcp-echo ADDR PORT [--interval-ms 20] [--duration-s S] [--connections N]\n"
    "                   [--bind ADDR] [--stall-timeout-s 5]\n"
    "  nc-traffic tcp-bulk ADDR PORT [--direction recv|send] [--duration-s S]\n"
    "                   [--stall-timeout-s 5]\n"
    "  nc-traffic udp-echo ADDR PORT [--interval-ms 20] [--duration-s S] [--stall-timeout-s 5]\n"
    "                   [--iface IF]\n"
    "      To a multicast ADDR (sent out of IF), every member's answer counts. Prints\n"
    "      \"gap ms=N resumed_at_ms=WALL\" when answers resume after a second or more.\n"
    "  nc-traffic tcp-idle ADDR PORT --connections N [--ready-file F]\n"
    "                   [--check-on SIGNAL [--repeat] | --hold-s S] [--stall-timeout-s 5]\n"
    "      Checks each connection once, prints \"ready\" (and creates F), waits for SIGNAL\n"
    "      (default USR1) or S seconds, then checks every connection again. With --repeat,\n"
    "      every SIGNAL starts a check round (\"checked round=N ...\" once done), until SIGTERM.\n"
    "  nc-traffic tcp-churn ADDR PORT [--parallel 16] [--rate N] [--ports 1024-32767]\n"
    "                   [--bind ADDR]... [--duration-s S] [--progress-ms 1000] [--stall-timeout-s "
    "5]\n"
    "      Against a tcp-sink: connections opened and closed continuously, each sending 64\n"
    "      bytes and checking the sink's report; failures are counted, the churn goes on.\n"
    "      Prints \"churn t_ms=T started=N completed=N failed=N inflight=N pairs=N\" as it\n"
    "      goes (pairs: (address, port) pairs tried so far; try N used pair N mod their number).\n"
    "\n"
    "Addresses are numeric IPv4 or IPv6 (fe80::1%IF allowed). Without --duration-s a client\n"
    "runs until SIGTERM/SIGINT, then awaits its last echoes and reports. A flow that does not\n"
    "move for --stall-timeout-s is broken.\n"
    "\n"
    "Clients print one line:\n"
    "  result mode=M ok=0|1 connections=N sent=N received=N bytes=N in_order=0|1\n"
    "         max_stall_ms=N resets=N timeouts=N [lost=N reordered=N] first_error=TEXT|none\n"
    "(units of sent/received: lines, bytes for tcp-bulk, datagrams for udp-echo, transactions\n"
    "for tcp-churn; spaces in first_error are written as '_').\n"
    "Exit status: 0 all flows alive and all data complete and in order; 1 something broke;\n"
    "2 usage error.\n";

int main(int argc, char **argv)
{
    struct client_opts o;
    const char *mode;

    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 2)
        usage_error("which mode? serve, tcp-echo, tcp-bulk, udp-echo, tcp-idle or tcp-churn");
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(help_text, stdout);
            return 0;
        }
    }
    mode = argv[1];
    if (!strcmp(mode, "serve")) {
        signals_setup();
        return run_serve(argc - 2, argv + 2);
    }
    if (strcmp(mode, "tcp-echo") && strcmp(mode, "tcp-bulk") && strcmp(mode, "udp-echo") &&
        strcmp(mode, "tcp-idle") && strcmp(mode, "tcp-churn"))
        usage_error("unknown mode '%s'", mode);
    parse_client(mode, argc - 2, argv + 2, &o);
    signals_setup(); /* after parsing: --check-on picks the signal */
    if (!strcmp(mode, "tcp-echo"))
        return run_tcp_echo(&o);
    if (!strcmp(mode, "tcp-bulk"))
        return run_tcp_bulk(&o);
    if (!strcmp(mode, "udp-echo"))
        return run_udp_echo(&o);
    if (!strcmp(mode, "tcp-churn"))
        return run_tcp_churn(&o);
    return run_tcp_idle(&o);
}

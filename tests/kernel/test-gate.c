/* test-gate.c - the gate against the real kernel: real traffic over a veth between two namespaces
 *
 * Suite 'kernel': needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN), netdev egress hooks and busybox.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "drivers/nc-gate.h"
#include "nc-ktest.h"
#include "util/nc-error.h"
#include "util/nc-netns.h"

#define UUID "6f1c2b4e-93a0-4d1e-8c55-0b7e2f9a1d30"
#define UUID2 "0a1b2c3d-4e5f-4a6b-9c8d-7e6f5a4b3c2d"
#define TAP "vnetg0"   /* the VM's tap, in the host namespace */
#define LATE "vnetgl"  /* a tap that appears after its gate was closed */
#define H4 "10.77.0.1" /* host side of the tap */
#define V4 "10.77.0.2" /* the VM */
#define H6 "fd00:77::1"
#define V6 "fd00:77::2"
#define N_DGRAMS 3
#define ETH_P_RARP_ 0x8035

typedef struct {
    char ns_h[64]; /* destination host: the tap and the gate */
    char ns_v[64]; /* the VM */
    gboolean ready;
    gboolean usable;
} Fixture;

static void check_run(const char *what, gboolean ok, GError *error)
{
    if (!ok) {
        g_test_message("%s: %s", what, error ? error->message : "failed");
        g_test_fail();
    }
}

#define RUN(...)                                                                                   \
    do {                                                                                           \
        g_autoptr(GError) e_ = NULL;                                                               \
        check_run(#__VA_ARGS__, nc_ktest_run(NULL, &e_, __VA_ARGS__), e_);                         \
    } while (0)

/* Joins the namespaces with a veth: @tap in the host, @peer in the VM, addresses in @net. */
static gboolean link_up(Fixture *f, const char *tap, const char *peer, int net, GError **error)
{
    return nc_ktest_run(NULL, error, "ip -n %s link add %s type veth peer name %s netns %s",
                        f->ns_h, tap, peer, f->ns_v) &&
           nc_ktest_run(NULL, error, "ip -n %s addr add 10.%d.0.1/24 dev %s", f->ns_h, net, tap) &&
           nc_ktest_run(NULL, error, "ip -n %s addr add 10.%d.0.2/24 dev %s", f->ns_v, net, peer) &&
           nc_ktest_run(NULL, error, "ip -n %s addr add fd00:%d::1/64 dev %s nodad", f->ns_h, net,
                        tap) &&
           nc_ktest_run(NULL, error, "ip -n %s addr add fd00:%d::2/64 dev %s nodad", f->ns_v, net,
                        peer) &&
           nc_ktest_run(NULL, error, "ip -n %s link set %s up", f->ns_h, tap) &&
           nc_ktest_run(NULL, error, "ip -n %s link set %s up", f->ns_v, peer);
}

static void fixture_setup(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) error = NULL;

    if (geteuid() != 0) {
        g_test_skip("needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN) to create network namespaces");
        return;
    }
    g_snprintf(f->ns_h, sizeof(f->ns_h), "nc-gate-%d-h", (int)getpid());
    g_snprintf(f->ns_v, sizeof(f->ns_v), "nc-gate-%d-v", (int)getpid());
    if (!nc_ktest_ns_add(f->ns_h, &error)) {
        g_autofree char *msg =
            g_strdup_printf("cannot create network namespaces: %s", error->message);
        g_test_skip(msg);
        return;
    }
    f->ready = TRUE;
    if (!nc_ktest_ns_add(f->ns_v, &error) || !link_up(f, TAP, "eth0", 77, &error)) {
        g_autofree char *msg = g_strdup_printf("cannot set up the veth: %s", error->message);
        g_test_skip(msg);
        return;
    }
    /* probe: can this kernel hook netdev egress? */
    if (!nc_gate_close(f->ns_h, UUID2, "probe0", NC_GATE_LAPSE_DEFAULT_MS, &error) ||
        !nc_gate_open(f->ns_h, UUID2, NULL, &error)) {
        g_autofree char *msg = g_strdup_printf("no nftables netdev gate: %s", error->message);
        g_test_skip(msg);
        return;
    }
    f->usable = TRUE;
}

static void fixture_teardown(Fixture *f, gconstpointer data)
{
    if (!f->ready)
        return;
    nc_ktest_ns_del(f->ns_h);
    nc_ktest_ns_del(f->ns_v);
}

/* ---- traffic ---- */

static gboolean parse_sockaddr(const char *addr, guint16 port, struct sockaddr_storage *ss,
                               socklen_t *len)
{
    struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

    memset(ss, 0, sizeof(*ss));
    if (inet_pton(AF_INET, addr, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        s4->sin_port = htons(port);
        *len = sizeof(*s4);
        return TRUE;
    }
    if (inet_pton(AF_INET6, addr, &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(port);
        *len = sizeof(*s6);
        return TRUE;
    }
    return FALSE;
}

/* Waits up to @ms for @fd to be readable. */
static gboolean wait_readable(int fd, int ms)
{
    struct pollfd p = {fd, POLLIN, 0};
    int r;

    do
        r = poll(&p, 1, ms);
    while (r < 0 && errno == EINTR);
    return r > 0;
}

/**
 * udp_delivered() - send N_DGRAMS datagrams from @from_ns to @to_addr in @to_ns
 * @wait_ms: how long to wait for them after sending
 *
 * Return: how many arrived
 */
static guint udp_delivered(const char *from_ns, const char *to_ns, const char *to_addr, int wait_ms)
{
    static guint16 port = 7000;
    g_autoptr(GError) error = NULL;
    struct sockaddr_storage ss;
    socklen_t len = 0;
    guint got = 0;
    char buf[64];

    port++;
    g_assert_true(parse_sockaddr(to_addr, port, &ss, &len));
    int rx = nc_netns_socket(to_ns, ss.ss_family, SOCK_DGRAM, 0, &error);
    g_assert_no_error(error);
    int tx = nc_netns_socket(from_ns, ss.ss_family, SOCK_DGRAM, 0, &error);
    g_assert_no_error(error);
    if (rx < 0 || tx < 0)
        goto out;
    if (bind(rx, (struct sockaddr *)&ss, len) < 0) {
        g_test_message("bind %s:%u: %s", to_addr, port, g_strerror(errno));
        g_test_fail();
        goto out;
    }
    for (int i = 0; i < N_DGRAMS; i++) {
        g_snprintf(buf, sizeof(buf), "netcarry gate test %d", i);
        /* an unresolved neighbour queues the datagram; a failed one reports an error: fine */
        sendto(tx, buf, strlen(buf), 0, (struct sockaddr *)&ss, len);
    }
    gint64 deadline = g_get_monotonic_time() + wait_ms * 1000;
    while (got < N_DGRAMS) {
        gint64 left = (deadline - g_get_monotonic_time()) / 1000;
        if (left <= 0 || !wait_readable(rx, (int)left))
            break;
        if (recv(rx, buf, sizeof(buf), MSG_DONTWAIT) > 0)
            got++;
    }
out:
    if (rx >= 0)
        close(rx);
    if (tx >= 0)
        close(tx);
    return got;
}

/* IP passes both ways, IPv4 and IPv6, between the VM and its host (over @net's addresses). */
static void assert_ip_passes(Fixture *f, int net)
{
    g_autofree char *h4 = g_strdup_printf("10.%d.0.1", net);
    g_autofree char *v4 = g_strdup_printf("10.%d.0.2", net);
    g_autofree char *h6 = g_strdup_printf("fd00:%d::1", net);
    g_autofree char *v6 = g_strdup_printf("fd00:%d::2", net);

    g_assert_cmpuint(udp_delivered(f->ns_v, f->ns_h, h4, 3000), ==, N_DGRAMS);
    g_assert_cmpuint(udp_delivered(f->ns_h, f->ns_v, v4, 3000), ==, N_DGRAMS);
    g_assert_cmpuint(udp_delivered(f->ns_v, f->ns_h, h6, 3000), ==, N_DGRAMS);
    g_assert_cmpuint(udp_delivered(f->ns_h, f->ns_v, v6, 3000), ==, N_DGRAMS);
}

static NcGateHeld held_now(Fixture *f, const char *uuid)
{
    g_autoptr(GError) error = NULL;
    NcGateHeld held = {0};

    g_assert_true(nc_gate_held(f->ns_h, uuid, &held, &error));
    g_assert_no_error(error);
    g_test_message("held: from VM %" G_GUINT64_FORMAT " packets / %" G_GUINT64_FORMAT
                   " bytes, to VM %" G_GUINT64_FORMAT " / %" G_GUINT64_FORMAT,
                   held.packets_from_vm, held.bytes_from_vm, held.packets_to_vm, held.bytes_to_vm);
    return held;
}

/* ---- raw frames (RARP, and IPv4 as the control) ---- */

/* A packet socket for @ethertype bound to @ifname in @ns; its MAC in @mac. */
static int packet_socket(const char *ns, const char *ifname, guint16 ethertype, guint8 mac[6])
{
    g_autoptr(GError) error = NULL;
    struct ifreq ifr = {0};
    int fd = nc_netns_socket(ns, AF_PACKET, SOCK_RAW, htons(ethertype), &error);

    g_assert_no_error(error);
    if (fd < 0)
        return -1;
    g_strlcpy(ifr.ifr_name, ifname, sizeof(ifr.ifr_name));
    /* interface ioctls resolve in the socket's namespace, not the thread's */
    if (ioctl(fd, SIOCGIFHWADDR, &ifr) == 0)
        memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
    struct sockaddr_ll sll = {.sll_family = AF_PACKET, .sll_protocol = htons(ethertype)};
    if (ioctl(fd, SIOCGIFINDEX, &ifr) < 0 ||
        (sll.sll_ifindex = ifr.ifr_ifindex, bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0)) {
        g_test_message("packet socket on %s in %s: %s", ifname, ns, g_strerror(errno));
        g_test_fail();
        close(fd);
        return -1;
    }
    return fd;
}

/**
 * frame_delivered() - send one broadcast frame of @ethertype from @from_if in @from_ns and
 * report whether a socket for that ethertype on @to_if in @to_ns receives it
 *
 * The frame is laid out as QEMU's RARP announcement (reverse request, sender = target = the
 * MAC), with a random tag as target protocol address to recognise it. A socket bound to one
 * ethertype (not ETH_P_ALL) is served after the netdev ingress hook, so it sees what the gate let
 * through, not what reached the wire.
 */
static gboolean frame_delivered(const char *from_ns, const char *from_if, const char *to_ns,
                                const char *to_if, guint16 ethertype)
{
    guint8 mac[6] = {0}, dummy[6], frame[ETH_ZLEN + 4] = {0}, buf[2048];
    guint32 tag = g_random_int();
    gboolean seen = FALSE;
    int rx = packet_socket(to_ns, to_if, ethertype, dummy);
    int tx = packet_socket(from_ns, from_if, ethertype, mac);

    if (rx < 0 || tx < 0)
        goto out;
    memset(frame, 0xff, 6);
    memcpy(frame + 6, mac, 6);
    frame[12] = ethertype >> 8;
    frame[13] = ethertype & 0xff;
    guint8 *p = frame + 14;
    p[1] = 1;                /* htype Ethernet */
    p[2] = 0x08;             /* ptype IPv4 */
    p[4] = 6;                /* hlen */
    p[5] = 4;                /* plen */
    p[7] = 3;                /* op: reverse request */
    memcpy(p + 8, mac, 6);   /* sha */
    memcpy(p + 18, mac, 6);  /* tha */
    memcpy(p + 24, &tag, 4); /* tpa: our tag */
    if (send(tx, frame, sizeof(frame), 0) < 0) {
        if (errno == ENOBUFS) {
            /* the egress hook dropped it inside send(): held, as the caller may expect */
            g_test_message("frame 0x%04x on %s: dropped at egress (ENOBUFS)", ethertype, from_if);
            goto out;
        }
        g_test_message("sending a frame on %s: %s", from_if, g_strerror(errno));
        g_test_fail();
        goto out;
    }
    gint64 deadline = g_get_monotonic_time() + 1000 * 1000;
    while (!seen) {
        gint64 left = (deadline - g_get_monotonic_time()) / 1000;
        if (left <= 0 || !wait_readable(rx, (int)left))
            break;
        ssize_t n = recv(rx, buf, sizeof(buf), MSG_DONTWAIT);
        seen = n >= 14 + 28 && memcmp(buf + 14 + 24, &tag, 4) == 0;
    }
out:
    if (rx >= 0)
        close(rx);
    if (tx >= 0)
        close(tx);
    return seen;
}

static gboolean arping(const char *ns, const char *ifname, const char *target)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *out = NULL; /* not on stdout: that is the TAP stream */
    gboolean ok = nc_ktest_run(&out, &error, "ip netns exec %s busybox arping -c 1 -w 2 -I %s %s",
                               ns, ifname, target);

    if (!ok)
        g_test_message("arping %s from %s: %s", target, ns, error->message);
    return ok;
}

static const NcGate *find_gate(GPtrArray *gates, const char *uuid)
{
    for (guint i = 0; gates && i < gates->len; i++) {
        const NcGate *g = g_ptr_array_index(gates, i);
        if (strcmp(g->domain_uuid, uuid) == 0)
            return g;
    }
    return NULL;
}

static GPtrArray *list_gates(Fixture *f)
{
    g_autoptr(GError) error = NULL;
    GPtrArray *gates = nc_gate_list(f->ns_h, &error);

    g_assert_no_error(error);
    g_assert_nonnull(gates);
    return gates;
}

/* ---- tests ---- */

/* The whole life of a gate on a live tap: IP held both ways and counted, ARP and RARP pass. */
static void test_hold(Fixture *f, gconstpointer data)
{
    if (!f->usable)
        return;
    g_autoptr(GError) error = NULL;

    assert_ip_passes(f, 77);

    g_assert_true(nc_gate_close(f->ns_h, UUID, TAP, NC_GATE_LAPSE_DEFAULT_MS, &error));
    g_assert_no_error(error);
    g_autoptr(GPtrArray) gates = list_gates(f);
    const NcGate *g = find_gate(gates, UUID);
    g_assert_nonnull(g);
    if (g) {
        g_assert_cmpstr(g->ifname, ==, TAP);
        g_assert_cmpstr(g->table, ==, NC_GATE_TABLE_PREFIX "6f1c2b4e93a04d1e8c550b7e2f9a1d30");
    }

    /* IPv4, both ways: nothing arrives, and the gate counts what it held */
    NcGateHeld h0 = held_now(f, UUID);
    g_assert_cmpuint(udp_delivered(f->ns_v, f->ns_h, H4, 300), ==, 0);
    NcGateHeld h1 = held_now(f, UUID);
    g_assert_cmpuint(h1.packets_from_vm, >=, h0.packets_from_vm + N_DGRAMS);
    g_assert_cmpuint(h1.bytes_from_vm, >, h0.bytes_from_vm);
    g_assert_cmpuint(udp_delivered(f->ns_h, f->ns_v, V4, 300), ==, 0);
    NcGateHeld h2 = held_now(f, UUID);
    g_assert_cmpuint(h2.packets_to_vm, >=, h1.packets_to_vm + N_DGRAMS);
    g_assert_cmpuint(h2.bytes_to_vm, >, h1.bytes_to_vm);

    /* IPv6, both ways (neighbour discovery is IPv6 too, and held with it) */
    g_assert_cmpuint(udp_delivered(f->ns_v, f->ns_h, H6, 300), ==, 0);
    g_assert_cmpuint(udp_delivered(f->ns_h, f->ns_v, V6, 300), ==, 0);
    NcGateHeld h3 = held_now(f, UUID);
    g_assert_cmpuint(h3.packets_from_vm, >, h2.packets_from_vm);
    g_assert_cmpuint(h3.packets_to_vm, >, h2.packets_to_vm);

    /* ARP resolves both ways through the closed gate */
    RUN("ip -n %s neigh flush dev %s", f->ns_h, TAP);
    RUN("ip -n %s neigh flush dev eth0", f->ns_v);
    g_assert_true(arping(f->ns_h, TAP, V4));
    g_assert_true(arping(f->ns_v, "eth0", H4));

    /* RARP passes both ways; the same frame as IPv4 is held, so the path is really gated */
    g_assert_true(frame_delivered(f->ns_v, "eth0", f->ns_h, TAP, ETH_P_RARP_));
    g_assert_true(frame_delivered(f->ns_h, TAP, f->ns_v, "eth0", ETH_P_RARP_));
    NcGateHeld h4 = held_now(f, UUID);
    g_assert_false(frame_delivered(f->ns_v, "eth0", f->ns_h, TAP, ETH_P_IP));
    g_assert_false(frame_delivered(f->ns_h, TAP, f->ns_v, "eth0", ETH_P_IP));
    NcGateHeld h5 = held_now(f, UUID);
    g_assert_cmpuint(h5.packets_from_vm, >=, h4.packets_from_vm + 1);
    g_assert_cmpuint(h5.packets_to_vm, >=, h4.packets_to_vm + 1);

    /* open: the final counts come back, the gate is gone, IP passes again */
    NcGateHeld fin = {0};
    g_assert_true(nc_gate_open(f->ns_h, UUID, &fin, &error));
    g_assert_no_error(error);
    g_assert_cmpuint(fin.packets_from_vm, >=, h5.packets_from_vm);
    g_assert_cmpuint(fin.packets_to_vm, >=, h5.packets_to_vm);
    g_autoptr(GPtrArray) after = list_gates(f);
    g_assert_null(find_gate(after, UUID));
    NcGateHeld none;
    g_assert_false(nc_gate_held(f->ns_h, UUID, &none, &error));
    g_assert_error(error, NC_ERROR, NC_ERROR_NOT_FOUND);
    assert_ip_passes(f, 77);
}

/* A gate closed before its tap exists holds the tap from the moment it appears, and stays
 * (re-attaching) when the tap goes and comes back: why the daemon must list and remove gates. */
static void test_late_device(Fixture *f, gconstpointer data)
{
    if (!f->usable)
        return;
    g_autoptr(GError) error = NULL;

    g_assert_true(nc_gate_close(f->ns_h, UUID, LATE, NC_GATE_LAPSE_DEFAULT_MS, &error));
    g_assert_no_error(error);
    {
        g_autoptr(GPtrArray) gates = list_gates(f);
        const NcGate *g = find_gate(gates, UUID);
        g_assert_nonnull(g);
        if (g)
            g_assert_cmpstr(g->ifname, ==, LATE);
    }

    for (int round = 0; round < 2; round++) {
        g_assert_true(link_up(f, LATE, "eth1", 78, &error));
        g_assert_no_error(error);
        g_clear_error(&error);
        NcGateHeld h0 = held_now(f, UUID);
        g_assert_cmpuint(udp_delivered(f->ns_v, f->ns_h, "10.78.0.1", 300), ==, 0);
        g_assert_cmpuint(udp_delivered(f->ns_h, f->ns_v, "10.78.0.2", 300), ==, 0);
        NcGateHeld h1 = held_now(f, UUID);
        g_assert_cmpuint(h1.packets_from_vm, >=, h0.packets_from_vm + N_DGRAMS);
        g_assert_cmpuint(h1.packets_to_vm, >=, h0.packets_to_vm + N_DGRAMS);
        if (round == 0) {
            /* the device vanishes: the gate stays, silently */
            RUN("ip -n %s link del %s", f->ns_h, LATE);
            g_autoptr(GPtrArray) gates = list_gates(f);
            g_assert_nonnull(find_gate(gates, UUID));
        }
    }
    g_assert_true(nc_gate_open(f->ns_h, UUID, NULL, &error));
    g_assert_no_error(error);
    assert_ip_passes(f, 78);
}

/* Open is idempotent; close again replaces (moves) the domain's gate in one step. */
static void test_idempotent(Fixture *f, gconstpointer data)
{
    if (!f->usable)
        return;
    g_autoptr(GError) error = NULL;

    g_assert_true(nc_gate_open(f->ns_h, UUID, NULL, &error)); /* never closed */
    g_assert_no_error(error);

    g_assert_true(nc_gate_close(f->ns_h, UUID, "vnetold", NC_GATE_LAPSE_DEFAULT_MS, &error));
    g_assert_true(nc_gate_close(f->ns_h, UUID, TAP, NC_GATE_LAPSE_DEFAULT_MS, &error));
    g_assert_true(nc_gate_close(f->ns_h, UUID2, "vnetother", NC_GATE_LAPSE_DEFAULT_MS, &error));
    g_assert_no_error(error);
    {
        g_autoptr(GPtrArray) gates = list_gates(f);
        g_assert_cmpuint(gates->len, ==, 2);
        const NcGate *g = find_gate(gates, UUID);
        g_assert_nonnull(g);
        if (g)
            g_assert_cmpstr(g->ifname, ==, TAP);
        g = find_gate(gates, UUID2);
        g_assert_nonnull(g);
        if (g)
            g_assert_cmpstr(g->ifname, ==, "vnetother");
    }
    /* the replaced gate holds the new tap */
    g_assert_cmpuint(udp_delivered(f->ns_v, f->ns_h, H4, 300), ==, 0);

    NcGateHeld held = {1, 1, 1, 1};
    for (int i = 0; i < 2; i++) {
        g_assert_true(nc_gate_open(f->ns_h, UUID, &held, &error));
        g_assert_no_error(error);
    }
    /* the second open found no gate: nothing held */
    g_assert_cmpuint(held.packets_from_vm + held.packets_to_vm, ==, 0);
    {
        g_autoptr(GPtrArray) gates = list_gates(f);
        g_assert_cmpuint(gates->len, ==, 1);
        g_assert_nonnull(find_gate(gates, UUID2));
    }
    g_assert_true(nc_gate_open(f->ns_h, UUID2, NULL, &error));
    g_assert_no_error(error);
    assert_ip_passes(f, 77);
}

static void expect_invalid(Fixture *f, const char *uuid, const char *ifname, const char *named)
{
    g_autoptr(GError) error = NULL;

    g_assert_false(nc_gate_close(f->ns_h, uuid, ifname, NC_GATE_LAPSE_DEFAULT_MS, &error));
    g_assert_error(error, NC_ERROR, NC_ERROR_INVALID_ARG);
    if (error) {
        g_test_message("refused: %s", error->message);
        g_assert_nonnull(strstr(error->message, named));
    }
}

/* Bad arguments are refused with the value named, and nothing reaches the kernel. */
static void test_invalid(Fixture *f, gconstpointer data)
{
    if (!f->usable)
        return;
    g_autoptr(GError) error = NULL;

    expect_invalid(f, "not-a-uuid", TAP, "'not-a-uuid'");
    expect_invalid(f, "6f1c2b4e93a04d1e8c550b7e2f9a1d30", TAP,
                   "'6f1c2b4e93a04d1e8c550b7e2f9a1d30'");
    expect_invalid(f, "", TAP, "''");
    expect_invalid(f, UUID, "", "''");
    expect_invalid(f, UUID, "vnet0123456789ab", "'vnet0123456789ab'"); /* 16 bytes */
    expect_invalid(f, UUID, "a/b", "'a/b'");
    expect_invalid(f, UUID, "a b", "'a b'");
    expect_invalid(f, UUID, "vnet*", "'vnet*'");
    expect_invalid(f, UUID, "a\"b", "'a\\\"b'");
    expect_invalid(f, UUID, "..", "'..'");

    g_assert_false(nc_gate_open(f->ns_h, "nope", NULL, &error));
    g_assert_error(error, NC_ERROR, NC_ERROR_INVALID_ARG);
    g_clear_error(&error);
    NcGateHeld held;
    g_assert_false(nc_gate_held(f->ns_h, "nope", &held, &error));
    g_assert_error(error, NC_ERROR, NC_ERROR_INVALID_ARG);
    g_clear_error(&error);

    g_autoptr(GPtrArray) gates = list_gates(f);
    g_assert_cmpuint(gates->len, ==, 0);
    g_autofree char *ruleset = NULL;
    g_assert_true(nc_ktest_run(&ruleset, &error, "ip netns exec %s nft list ruleset", f->ns_h));
    g_assert_no_error(error);
    g_assert_cmpstr(g_strstrip(ruleset), ==, "");
}

static void test_missing_netns(void)
{
    g_autoptr(GError) error = NULL;

    if (geteuid() != 0) {
        g_test_skip("needs root");
        return;
    }
    g_autoptr(GPtrArray) gates = nc_gate_list("nc-gate-no-such-namespace", &error);
    g_assert_null(gates);
    g_assert_error(error, NC_ERROR, NC_ERROR_NOT_FOUND);
    if (error)
        g_assert_nonnull(strstr(error->message, "nc-gate-no-such-namespace"));
    g_clear_error(&error);
    g_assert_false(nc_gate_close("nc-gate-no-such-namespace", UUID, TAP, NC_GATE_LAPSE_DEFAULT_MS, &error));
    g_assert_error(error, NC_ERROR, NC_ERROR_NOT_FOUND);
}

/* ---- lapse ---- */

/* The bound the lapse tests use: short, so that the suite stays quick; the kernel's mechanism is
 * the same for every bound (docs/kernel-facts.md has the default's). */
#define LAPSE_MS 3000
/* how late after its deadline a lapse may be seen: one probe (below) plus a loaded machine */
#define LAPSE_SLACK_MS 700

/* One probe: a datagram from the VM to its host and one back, each given 100 ms. */
static gboolean ip_passes_now(Fixture *f)
{
    return udp_delivered(f->ns_v, f->ns_h, H4, 100) > 0 && udp_delivered(f->ns_h, f->ns_v, V4, 100) > 0;
}

/**
 * wait_lapse() - probe until IP passes both ways, at most @max_ms
 * @since_us: when the gate's deadline was set (its close or last renewal)
 *
 * Return: microseconds from @since_us to the first probe that passed, or -1
 */
static gint64 wait_lapse(Fixture *f, gint64 since_us, int max_ms)
{
    while (g_get_monotonic_time() - since_us < (gint64)max_ms * 1000) {
        gint64 t = g_get_monotonic_time();

        if (ip_passes_now(f))
            return t - since_us;
        g_usleep(20 * 1000);
    }
    return -1;
}

/* Nobody renews the gate (its daemon died): the kernel opens it by itself at the bound, not
 * before, and not long after. The same code without the timed set fails here (never lapses). */
static void test_lapse(Fixture *f, gconstpointer data)
{
    if (!f->usable)
        return;
    g_autoptr(GError) error = NULL;

    assert_ip_passes(f, 77);
    g_assert_true(nc_gate_close(f->ns_h, UUID, TAP, LAPSE_MS, &error));
    g_assert_no_error(error);
    gint64 closed = g_get_monotonic_time();

    /* held for most of the bound */
    while (g_get_monotonic_time() - closed < (LAPSE_MS - 500) * 1000) {
        g_assert_false(ip_passes_now(f));
        g_usleep(200 * 1000);
    }
    gint64 lapsed = wait_lapse(f, closed, LAPSE_MS + LAPSE_SLACK_MS);
    g_test_message("an unrenewed gate with a %d ms bound let IP through after %.0f ms%s", LAPSE_MS,
                   lapsed / 1000.0, lapsed < 0 ? " (never, within the bound and slack)" : "");
    g_assert_cmpint(lapsed, >=, (LAPSE_MS - 500) * 1000);
    g_assert_cmpint(lapsed, >, 0);
    assert_ip_passes(f, 77);

    /* the lapsed gate is still there (until the daemon removes it), empty and harmless */
    g_autoptr(GPtrArray) gates = list_gates(f);
    g_assert_nonnull(find_gate(gates, UUID));
    NcGateHeld held = held_now(f, UUID);
    g_assert_cmpuint(held.packets_from_vm, >, 0);
    g_assert_true(nc_gate_open(f->ns_h, UUID, NULL, &error));
    g_assert_no_error(error);
}

/* A live daemon renews every third of the bound: the gate stays closed well past the bound,
 * then lapses one bound after the last renewal. */
static void test_renewed(Fixture *f, gconstpointer data)
{
    if (!f->usable)
        return;
    g_autoptr(GError) error = NULL;

    g_assert_true(nc_gate_close(f->ns_h, UUID, TAP, LAPSE_MS, &error));
    g_assert_no_error(error);
    gint64 closed = g_get_monotonic_time(), renewed = closed;

    while (g_get_monotonic_time() - closed < (gint64)LAPSE_MS * 2500) {
        if (g_get_monotonic_time() - renewed >= LAPSE_MS / 3 * 1000) {
            g_assert_true(nc_gate_renew(f->ns_h, UUID, LAPSE_MS, &error));
            g_assert_no_error(error);
            renewed = g_get_monotonic_time();
        }
        g_assert_false(ip_passes_now(f));
        g_usleep(100 * 1000);
    }
    g_test_message("a gate renewed every %d ms stayed closed for %.0f ms (bound %d ms)",
                   LAPSE_MS / 3, (g_get_monotonic_time() - closed) / 1000.0, LAPSE_MS);
    gint64 lapsed = wait_lapse(f, renewed, LAPSE_MS + LAPSE_SLACK_MS);
    g_test_message("after its last renewal it let IP through after %.0f ms", lapsed / 1000.0);
    g_assert_cmpint(lapsed, >=, (LAPSE_MS - 500) * 1000);
    g_assert_cmpint(lapsed, >, 0);

    /* a renewal after the lapse closes the gate again (a live carry wants it closed) */
    g_assert_true(nc_gate_renew(f->ns_h, UUID, LAPSE_MS, &error));
    g_assert_no_error(error);
    g_assert_false(ip_passes_now(f));

    /* and opening does not wait for any deadline */
    gint64 t0 = g_get_monotonic_time();
    g_assert_true(nc_gate_open(f->ns_h, UUID, NULL, &error));
    g_assert_no_error(error);
    gint64 opened = wait_lapse(f, t0, 1000);
    g_test_message("an opened gate let IP through after %.0f ms", opened / 1000.0);
    g_assert_cmpint(opened, >=, 0);
    g_assert_cmpint(opened, <, 500 * 1000);
}

/* Renewing a gate that is not there, or a bound out of range, fails and changes nothing. */
static void test_renew_errors(Fixture *f, gconstpointer data)
{
    if (!f->usable)
        return;
    g_autoptr(GError) error = NULL;

    g_assert_false(nc_gate_renew(f->ns_h, UUID, LAPSE_MS, &error));
    g_assert_error(error, NC_ERROR, NC_ERROR_NOT_FOUND);
    if (error)
        g_assert_nonnull(strstr(error->message, UUID));
    g_clear_error(&error);
    g_autoptr(GPtrArray) none = list_gates(f);
    g_assert_null(find_gate(none, UUID));

    g_assert_false(nc_gate_close(f->ns_h, UUID, TAP, NC_GATE_LAPSE_MAX_MS + 1, &error));
    g_assert_error(error, NC_ERROR, NC_ERROR_INVALID_ARG);
    if (error)
        g_assert_nonnull(strstr(error->message, "10001 ms"));
    g_clear_error(&error);
    g_assert_false(nc_gate_close(f->ns_h, UUID, TAP, NC_GATE_LAPSE_MIN_MS - 1, &error));
    g_assert_error(error, NC_ERROR, NC_ERROR_INVALID_ARG);
    g_clear_error(&error);
    g_autoptr(GPtrArray) still_none = list_gates(f);
    g_assert_null(find_gate(still_none, UUID));
    assert_ip_passes(f, 77);
}

static int cmp_gint64(gconstpointer a, gconstpointer b)
{
    gint64 x = *(const gint64 *)a, y = *(const gint64 *)b;
    return x < y ? -1 : x > y;
}

static void print_times(const char *what, gint64 *t, int n)
{
    qsort(t, n, sizeof(gint64), cmp_gint64);
    g_test_message("%s: median %.2f ms, min %.2f, max %.2f (%d rounds)", what, t[n / 2] / 1000.0,
                   t[0] / 1000.0, t[n - 1] / 1000.0, n);
}

/* Not asserted: how long close and open take on a live tap (printed as TAP comments). Spaced
 * is how a migration uses them (seconds apart); back to back, each call also waits for the
 * previous call's libnftables clean-up (see nc-gate.c). */
static void test_timing(Fixture *f, gconstpointer data)
{
    if (!f->usable)
        return;
    enum { ROUNDS = 15 };
    gint64 closes[ROUNDS], opens[ROUNDS], closes_b2b[ROUNDS], opens_b2b[ROUNDS];
    g_autoptr(GError) error = NULL;

    for (int i = 0; i < ROUNDS; i++) {
        g_usleep(60 * 1000);
        gint64 t0 = g_get_monotonic_time();
        g_assert_true(nc_gate_close(f->ns_h, UUID, TAP, NC_GATE_LAPSE_DEFAULT_MS, &error));
        closes[i] = g_get_monotonic_time() - t0;
        g_usleep(60 * 1000);
        t0 = g_get_monotonic_time();
        g_assert_true(nc_gate_open(f->ns_h, UUID, NULL, &error));
        opens[i] = g_get_monotonic_time() - t0;
        g_assert_no_error(error);
    }
    for (int i = 0; i < ROUNDS; i++) {
        gint64 t0 = g_get_monotonic_time();
        g_assert_true(nc_gate_close(f->ns_h, UUID, TAP, NC_GATE_LAPSE_DEFAULT_MS, &error));
        gint64 t1 = g_get_monotonic_time();
        g_assert_true(nc_gate_open(f->ns_h, UUID, NULL, &error));
        gint64 t2 = g_get_monotonic_time();
        g_assert_no_error(error);
        closes_b2b[i] = t1 - t0;
        opens_b2b[i] = t2 - t1;
    }
    print_times("gate close (spaced)", closes, ROUNDS);
    print_times("gate open (spaced)", opens, ROUNDS);
    print_times("gate close (back to back)", closes_b2b, ROUNDS);
    print_times("gate open (back to back)", opens_b2b, ROUNDS);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    /* a failed check must not skip the teardown that removes the namespaces */
    g_test_set_nonfatal_assertions();

#define ADD(path, fn) g_test_add(path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
    ADD("/gate/hold", test_hold);
    ADD("/gate/late-device", test_late_device);
    ADD("/gate/idempotent", test_idempotent);
    ADD("/gate/invalid", test_invalid);
    ADD("/gate/timing", test_timing);
    ADD("/gate/lapse", test_lapse);
    ADD("/gate/renewed", test_renewed);
    ADD("/gate/renew-errors", test_renew_errors);
    g_test_add_func("/gate/missing-netns", test_missing_netns);
    return g_test_run();
}

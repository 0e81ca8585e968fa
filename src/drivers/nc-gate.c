/* nc-gate.c - the gate: a per-domain nftables netdev table that holds a VM's IP traffic on its tap
 *
 * Writes and reads its tables through libnftables, run on a short-lived thread inside the target
 * network namespace.
 */
#define _GNU_SOURCE
#define G_LOG_DOMAIN "nc-gate"
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>

#include <nftables/libnftables.h>

#include "nc-gate.h"
#include "util/nc-error.h"
#include "util/nc-netns.h"

/*
 * Theory of operation
 * ===================
 * What the gate is. For domain U on tap D, the table `netdev netcarry_gate_<U's 32 hex digits>`:
 *
 *     table netdev netcarry_gate_<hex> {
 *         comment "netcarry gate: domain <U> on <D>"
 *         counter held_from_vm { }
 *         counter held_to_vm { }
 *         set closed { type ether_type; flags timeout;
 *             elements = { ip timeout <L>ms, ip6 timeout <L>ms } }
 *         chain from_vm {  type filter hook ingress device "<D>" priority -2147483648; ...
 *             meta protocol @closed counter name "held_from_vm" drop }
 *         chain to_vm {    type filter hook egress device "<D>" priority -2147483648; ...
 *             meta protocol @closed counter name "held_to_vm" drop }
 *     }
 *
 * Both chains' policy is accept: ARP, RARP (0x8035, QEMU's announcement after a migration) and
 * any other non-IP frame pass, so the bridges learn the VM's new port while no IPv4/IPv6 frame of
 * the VM moves. The ingress hook runs before the bridge's rx handler (and so before br_netfilter
 * and conntrack): what the VM sends is held before anything on the host sees it. The egress hook
 * runs in dev_queue_xmit on the tap, i.e. after the bridge forwarded a frame to the VM: frames to
 * the VM have already crossed the bridge's own netfilter hooks (where a default-deny firewall
 * without the VM's state drops or counts them) and are held only at the last step. The priority
 * is the lowest there is so the gate's counters see a frame before any other netdev chain. Only
 * tc (clsact) filters on the tap run before a netdev ingress chain; netcarry installs none.
 *
 * Lapse: the gate never outlives its daemon for long. The drop rules match the ethertypes in
 * the set `closed`, and its two elements (IPv4, IPv6) carry a timeout of L ms (the lapse bound,
 * NC_GATE_LAPSE_DEFAULT_MS unless configured). When they expire, the set is empty, nothing
 * matches, and the VM's IP traffic passes again: the kernel does it by itself, with no process
 * involved, so a netcarryd that was killed, crashed, or hangs (its main loop stuck, so it renews
 * nothing) costs the guest at most L ms of stall, never a lasting cut-off. While its carry lives
 * the daemon renews the gate (nc_gate_renew(), every L/3 from the engine's main loop, so two
 * renewals can fail or come late before it lapses): one batch `flush set; add element { ip
 * timeout L, ip6 timeout L }`. The batch is one transaction: packets see the old elements or the
 * new ones, never an empty set in between; and the flush also works when the elements already
 * expired (a renewal after a lapse closes the gate again, which is what a live carry wants).
 * The kernel checks an element's expiry on every lookup, not only when its garbage collector
 * runs, so the gate opens within a jiffy of the deadline; the deadline is on the kernel's
 * monotonic clock (jiffies), so a wall-clock step changes nothing (unlike a `meta time` rule).
 * docs/kernel-facts.md has the measurements. A lapsed gate stays in place, empty and harmless,
 * until the daemon opens (removes) it or sweeps it at its next start.
 *
 * Names. The table name is derived from the domain UUID alone, so a gate is found again without
 * knowing its tap (the tap name changes on migration and is learnt late), and one domain has at
 * most one gate. nc_gate_list() finds gates by that name pattern; the daemon removes any it does
 * not own at start, because a netdev chain outlives its device and re-attaches to a later device
 * of the same name (FINDINGS): a forgotten gate would silently cut off a later guest.
 *
 * Transactions. Each change is one libnftables buffer, which nft sends as one nf_tables batch:
 * the kernel applies all of it or nothing. Close is `add table T; delete table T; table T {...}`:
 * an existing gate of the domain (on any device) is replaced atomically, with no instant where
 * the VM's traffic passes; counters restart. Open is `add table T; delete table T`: the same
 * batch works whether or not the gate exists, which makes it idempotent without a racy "does it
 * exist" query (nft 1.0.6 has no `destroy`). A chain may name a device that does not exist yet:
 * the kernel attaches it when the device appears, which is what a gate closed at prepare needs.
 *
 * Why libnftables, and why a thread. The rules need nft's compiler (meta/cmp/objref/verdict
 * expressions in an nf_tables batch); encoding those by hand would be more code than the driver.
 * libnftables, though, opens its netlink socket, and may resolve names, in whatever namespace the
 * calling thread is in at that moment, so a socket from nc_netns_socket() cannot be handed to it.
 * Each call therefore runs the whole libnftables session on a new thread that setns()'d into
 * /run/netns/NAME and ends there: setns(2) is per thread, the caller's thread never changes
 * namespace, and a thread that could not come back cannot leak into later work. A global mutex
 * serialises libnftables sessions, whose library state is not documented as thread-safe.
 *
 * Cost (measured, kernel 6.18, nft 1.0.6): the close batch takes ~0.4 ms and the open batch
 * ~0.25 ms, but closing nft's netlink socket (nft_ctx_free) takes 15-30 ms, the kernel waiting
 * for an RCU grace period. The caller is answered as soon as the batch is acknowledged and the
 * worker thread frees the context afterwards; a call that follows within those milliseconds
 * waits for it (the global mutex). The test prints the measured close and open times.
 *
 * Reading. nc_gate_list() and nc_gate_held() parse nft's text listing (`list chains netdev`,
 * `list counters table ...`), the format nft has printed unchanged for years; a line that does
 * not parse is an NC_ERROR_INVALID_DATA, never a silent zero.
 */

#define NC_GATE_PRIORITY "-2147483648"
#define NC_GATE_CHAIN_IN "from_vm"
#define NC_GATE_CHAIN_OUT "to_vm"
#define NC_GATE_COUNTER_IN "held_from_vm"
#define NC_GATE_COUNTER_OUT "held_to_vm"
#define NC_GATE_SET "closed"
#define NC_GATE_IFNAMSIZ 16 /* IFNAMSIZ, including the NUL */

static GMutex nc_gate_nft_lock;

void nc_gate_free(NcGate *gate)
{
    if (!gate)
        return;
    g_free(gate->domain_uuid);
    g_free(gate->ifname);
    g_free(gate->table);
    g_free(gate);
}

static const char *nc_gate_ns_name(const char *netns)
{
    return netns ? netns : "(own)";
}

/* ---- arguments ---- */

/**
 * nc_gate_check_uuid() - is @domain_uuid a UUID (libvirt's 8-4-4-4-12 hex form)?
 * @domain_uuid: the text to check
 * @error:       NC_ERROR_INVALID_ARG naming the value
 *
 * Return: TRUE if it is
 */
gboolean nc_gate_check_uuid(const char *domain_uuid, GError **error)
{
    if (!domain_uuid || !g_uuid_string_is_valid(domain_uuid)) {
        g_set_error(error, NC_ERROR, NC_ERROR_INVALID_ARG,
                    "'%s' is not a domain UUID (expected 8-4-4-4-12 hex digits, as 'virsh "
                    "domuuid' prints)",
                    domain_uuid ? domain_uuid : "(null)");
        return FALSE;
    }
    return TRUE;
}

/**
 * nc_gate_check_ifname() - may @ifname be the tap a gate hooks?
 * @ifname: the text to check
 * @error:  NC_ERROR_INVALID_ARG naming the value
 *
 * The kernel's dev_valid_name() (1-15 bytes, not "." or "..", no '/', ':' or white space),
 * narrowed to printable ASCII without '"', '\\' and '*': the name is quoted inside nft syntax,
 * and a kernel with wildcard hook names must never see a pattern that would gate several guests.
 *
 * Return: TRUE if it may
 */
gboolean nc_gate_check_ifname(const char *ifname, GError **error)
{
    const char *why = NULL;
    gsize len = ifname ? strlen(ifname) : 0;

    if (!ifname || len == 0)
        why = "it is empty";
    else if (len >= NC_GATE_IFNAMSIZ)
        why = "it is longer than 15 bytes";
    else if (strcmp(ifname, ".") == 0 || strcmp(ifname, "..") == 0)
        why = "'.' and '..' are not interface names";
    for (const char *p = ifname; !why && p && *p; p++) {
        if (*p <= ' ' || *p >= 0x7f)
            why = "it contains white space, a control or a non-ASCII character";
        else if (strchr("/:\"\\*", *p))
            why = "it contains one of / : \" \\ *";
    }
    if (why) {
        g_autofree char *shown = ifname ? g_strescape(ifname, NULL) : g_strdup("(null)");
        g_set_error(error, NC_ERROR, NC_ERROR_INVALID_ARG,
                    "'%s' is not a valid interface name for a gate: %s", shown, why);
        return FALSE;
    }
    return TRUE;
}

/**
 * nc_gate_check_lapse() - may a gate lapse after @lapse_ms?
 * @lapse_ms: the bound
 * @error:    NC_ERROR_INVALID_ARG naming the value and the range
 *
 * At least NC_GATE_LAPSE_MIN_MS (the daemon renews every third of it, each renewal a
 * libnftables session), at most NC_GATE_LAPSE_MAX_MS (the stall a dead daemon may cost a guest).
 *
 * Return: TRUE if it may
 */
gboolean nc_gate_check_lapse(guint lapse_ms, GError **error)
{
    if (lapse_ms < NC_GATE_LAPSE_MIN_MS || lapse_ms > NC_GATE_LAPSE_MAX_MS) {
        g_set_error(error, NC_ERROR, NC_ERROR_INVALID_ARG,
                    "a gate lapse of %u ms is outside %u-%u ms", lapse_ms, NC_GATE_LAPSE_MIN_MS,
                    NC_GATE_LAPSE_MAX_MS);
        return FALSE;
    }
    return TRUE;
}

/* "6f1c...-..." -> "netcarry_gate_6f1c..." (lower case, no dashes); @uuid must be valid */
static char *nc_gate_table_name(const char *uuid)
{
    GString *s = g_string_new(NC_GATE_TABLE_PREFIX);

    for (const char *p = uuid; *p; p++)
        if (*p != '-')
            g_string_append_c(s, g_ascii_tolower(*p));
    return g_string_free(s, FALSE);
}

/* the inverse, or NULL if @table is not a gate's name */
static char *nc_gate_uuid_from_table(const char *table)
{
    const char *hex;

    if (!g_str_has_prefix(table, NC_GATE_TABLE_PREFIX))
        return NULL;
    hex = table + strlen(NC_GATE_TABLE_PREFIX);
    if (strlen(hex) != 32)
        return NULL;
    for (const char *p = hex; *p; p++)
        if (!g_ascii_isxdigit(*p) || g_ascii_isupper(*p))
            return NULL;
    return g_strdup_printf("%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16, hex + 20);
}

/* ---- running libnftables in a namespace ---- */

typedef gboolean (*NcGateNftFunc)(struct nft_ctx *nft, gpointer data, GError **error);

/* Shared by the caller and the worker thread, which outlives the caller's wait (see
 * nc_gate_in_netns()); the caller's fields (netns, func, data) are used only until done. */
typedef struct {
    gint ref;
    const char *netns;
    NcGateNftFunc func;
    gpointer data;
    gboolean ok;
    GError *error;
    GMutex lock;
    GCond cond;
    gboolean done;
} NcGateJob;

static void nc_gate_job_unref(NcGateJob *job)
{
    if (!g_atomic_int_dec_and_test(&job->ref))
        return;
    g_clear_error(&job->error);
    g_mutex_clear(&job->lock);
    g_cond_clear(&job->cond);
    g_free(job);
}

/**
 * nc_gate_run() - run one nft command buffer (one transaction) in @nft's session
 * @nft:    the session (output and errors buffered)
 * @cmds:   nft commands
 * @what:   what the commands do, for the error message ("closing the gate of domain U")
 * @out:    (out) (optional): nft's output (listings)
 * @error:  the nft boundary: nft's first error line, coded by the errno text it names
 *
 * Return: TRUE if nft accepted the whole buffer
 */
static gboolean nc_gate_run(struct nft_ctx *nft, const char *cmds, const char *what, char **out,
                            GError **error)
{
    int rc = nft_run_cmd_from_buffer(nft, cmds);
    const char *errors = nft_ctx_get_error_buffer(nft);

    if (rc != 0) {
        g_autofree char *all = g_strdup(errors && *errors ? errors : "nft failed, no message");
        g_auto(GStrv) lines = g_strsplit(g_strstrip(all), "\n", 2);
        NcErrorCode code = NC_ERROR_NETLINK;

        if (strstr(all, g_strerror(EPERM)) || strstr(all, g_strerror(EACCES)))
            code = NC_ERROR_PERMISSION;
        else if (strstr(all, g_strerror(ENOENT)))
            code = NC_ERROR_NOT_FOUND;
        else if (strstr(all, g_strerror(EOPNOTSUPP)))
            code = NC_ERROR_UNSUPPORTED;
        g_debug("nft failed (%s):\n%s\n-- on --\n%s", what, errors ? errors : "", cmds);
        g_set_error(error, NC_ERROR, code, "%s failed: nft: %s%s", what, lines[0],
                    code == NC_ERROR_UNSUPPORTED
                        ? " (the gate needs netdev ingress and egress hooks: kernel >= 5.16)"
                        : "");
        return FALSE;
    }
    if (out)
        *out = g_strdup(nft_ctx_get_output_buffer(nft));
    return TRUE;
}

/* The worker: one libnftables session in the job's namespace, then the slow clean-up. */
static gpointer nc_gate_thread(gpointer data, GError *entered)
{
    NcGateJob *job = data;
    struct nft_ctx *nft = NULL;
    gboolean locked = FALSE;
    gboolean ok = FALSE;
    GError *error = entered;

    if (!error) {
        g_mutex_lock(&nc_gate_nft_lock);
        locked = TRUE;
        nft = nft_ctx_new(NFT_CTX_DEFAULT);
        if (!nft) {
            g_set_error(&error, NC_ERROR, NC_ERROR_FAILED,
                        "cannot create a libnftables context in network namespace %s",
                        nc_gate_ns_name(job->netns));
        } else {
            nft_ctx_buffer_output(nft);
            nft_ctx_buffer_error(nft);
            ok = job->func(nft, job->data, &error);
        }
    }

    g_mutex_lock(&job->lock);
    job->ok = ok;
    job->error = error;
    job->done = TRUE;
    g_cond_signal(&job->cond);
    g_mutex_unlock(&job->lock);

    /* The caller has its answer. Closing nft's netlink socket takes 15-30 ms here (the kernel
     * waits for an RCU grace period), so it happens after, still under the lock so that the
     * next session starts only once this one is gone. */
    if (nft)
        nft_ctx_free(nft);
    if (locked)
        g_mutex_unlock(&nc_gate_nft_lock);
    nc_gate_job_unref(job);
    return NULL;
}

/**
 * nc_gate_in_netns() - run @func with a libnftables session inside network namespace @netns
 * @netns: a name under /run/netns, or NULL for the caller's own namespace
 * @func:  the work; runs on a new thread (see Theory of operation)
 * @data:  passed to @func
 * @error: namespace errors (NC_ERROR_NOT_FOUND, NC_ERROR_PERMISSION) or @func's
 *
 * Returns as soon as @func has, without waiting for the session's clean-up. The wait has no
 * timeout: @func only exchanges netlink messages with the local kernel, and the caller's @data
 * must stay valid until @func is done.
 *
 * Return: what @func returned, FALSE if it could not run
 */
static gboolean nc_gate_in_netns(const char *netns, NcGateNftFunc func, gpointer data,
                                 GError **error)
{
    NcGateJob *job = g_new0(NcGateJob, 1);
    GThread *t;
    gboolean ok;

    job->ref = 2;
    job->netns = netns;
    job->func = func;
    job->data = data;
    g_mutex_init(&job->lock);
    g_cond_init(&job->cond);
    t = nc_netns_thread_new("nc-gate-netns", netns, nc_gate_thread, job, error);
    if (!t) {
        job->ref = 1;
        nc_gate_job_unref(job);
        return FALSE;
    }
    g_thread_unref(t); /* detached: it finishes its clean-up on its own */

    g_mutex_lock(&job->lock);
    while (!job->done)
        g_cond_wait(&job->cond, &job->lock);
    ok = job->ok;
    if (job->error) {
        g_propagate_error(error, g_steal_pointer(&job->error));
        ok = FALSE;
    }
    g_mutex_unlock(&job->lock);
    nc_gate_job_unref(job);
    return ok;
}

/* ---- reading nft's listings ---- */

/* Fills @held from `list counters table netdev T` output. */
static gboolean nc_gate_parse_counters(const char *out, const char *table, NcGateHeld *held,
                                       GError **error)
{
    g_auto(GStrv) lines = g_strsplit(out, "\n", -1);
    const char *counter = NULL;
    gboolean got_in = FALSE, got_out = FALSE;

    memset(held, 0, sizeof(*held));
    for (char **l = lines; *l; l++) {
        char *line = g_strstrip(*l);
        guint64 packets, bytes;

        if (g_str_has_prefix(line, "counter ")) {
            counter = strstr(line, NC_GATE_COUNTER_IN " ")    ? NC_GATE_COUNTER_IN
                      : strstr(line, NC_GATE_COUNTER_OUT " ") ? NC_GATE_COUNTER_OUT
                                                              : NULL;
        } else if (counter && sscanf(line, "packets %" G_GUINT64_FORMAT " bytes %" G_GUINT64_FORMAT,
                                     &packets, &bytes) == 2) {
            if (strcmp(counter, NC_GATE_COUNTER_IN) == 0) {
                held->packets_from_vm = packets;
                held->bytes_from_vm = bytes;
                got_in = TRUE;
            } else {
                held->packets_to_vm = packets;
                held->bytes_to_vm = bytes;
                got_out = TRUE;
            }
            counter = NULL;
        }
    }
    if (!got_in || !got_out) {
        g_set_error(error, NC_ERROR, NC_ERROR_INVALID_DATA,
                    "table netdev %s lacks the counter %s: it was not made by this netcarry; "
                    "remove it with 'nft delete table netdev %s'",
                    table, got_in ? NC_GATE_COUNTER_OUT : NC_GATE_COUNTER_IN, table);
        return FALSE;
    }
    return TRUE;
}

/* Gates from `list chains netdev` output: "table netdev T {" then chains with 'device "D"'. */
static GPtrArray *nc_gate_parse_chains(const char *out)
{
    g_autoptr(GPtrArray) gates = g_ptr_array_new_with_free_func((GDestroyNotify)nc_gate_free);
    g_auto(GStrv) lines = g_strsplit(out, "\n", -1);
    NcGate *cur = NULL;

    for (char **l = lines; *l; l++) {
        char *line = g_strstrip(*l);
        const char *dev;

        if (g_str_has_prefix(line, "table netdev ")) {
            g_autofree char *name = g_strdup(line + strlen("table netdev "));
            char *end = strchr(name, ' ');
            char *uuid;

            if (end)
                *end = '\0';
            cur = NULL;
            uuid = nc_gate_uuid_from_table(name);
            if (uuid) {
                cur = g_new0(NcGate, 1);
                cur->domain_uuid = uuid;
                cur->table = g_steal_pointer(&name);
                g_ptr_array_add(gates, cur);
            }
        } else if (cur && !cur->ifname && (dev = strstr(line, " device \""))) {
            dev += strlen(" device \"");
            const char *q = strchr(dev, '"');
            if (q)
                cur->ifname = g_strndup(dev, q - dev);
        }
    }
    return g_steal_pointer(&gates);
}

/* ---- operations ---- */

typedef struct {
    const char *netns;
    const char *uuid;
    const char *ifname;
    char *table;
    NcGateHeld *held;
    GPtrArray *gates;
    guint lapse_ms;
} NcGateOp;

static gboolean nc_gate_do_close(struct nft_ctx *nft, gpointer data, GError **error)
{
    NcGateOp *op = data;
    g_autofree char *what = g_strdup_printf("closing the gate of domain %s on %s in network "
                                            "namespace %s",
                                            op->uuid, op->ifname, nc_gate_ns_name(op->netns));
    g_autofree char *cmds = g_strdup_printf(
        "add table netdev %1$s\n"
        "delete table netdev %1$s\n"
        "table netdev %1$s {\n"
        "  comment \"netcarry gate: domain %2$s on %3$s\"\n"
        "  counter " NC_GATE_COUNTER_IN " { }\n"
        "  counter " NC_GATE_COUNTER_OUT " { }\n"
        "  set " NC_GATE_SET " {\n"
        "    type ether_type; flags timeout;\n"
        "    elements = { ip timeout %4$ums, ip6 timeout %4$ums }\n"
        "  }\n"
        "  chain " NC_GATE_CHAIN_IN " {\n"
        "    type filter hook ingress device \"%3$s\" priority " NC_GATE_PRIORITY
        "; policy accept;\n"
        "    meta protocol @" NC_GATE_SET " counter name \"" NC_GATE_COUNTER_IN "\" drop\n"
        "  }\n"
        "  chain " NC_GATE_CHAIN_OUT " {\n"
        "    type filter hook egress device \"%3$s\" priority " NC_GATE_PRIORITY
        "; policy accept;\n"
        "    meta protocol @" NC_GATE_SET " counter name \"" NC_GATE_COUNTER_OUT "\" drop\n"
        "  }\n"
        "}\n",
        op->table, op->uuid, op->ifname, op->lapse_ms);

    return nc_gate_run(nft, cmds, what, NULL, error);
}

static gboolean nc_gate_do_renew(struct nft_ctx *nft, gpointer data, GError **error)
{
    NcGateOp *op = data;
    g_autofree char *what = g_strdup_printf("renewing the gate of domain %s in network "
                                            "namespace %s",
                                            op->uuid, nc_gate_ns_name(op->netns));
    g_autofree char *cmds = g_strdup_printf(
        "flush set netdev %1$s " NC_GATE_SET "\n"
        "add element netdev %1$s " NC_GATE_SET " { ip timeout %2$ums, ip6 timeout %2$ums }\n",
        op->table, op->lapse_ms);
    g_autoptr(GError) local = NULL;

    if (!nc_gate_run(nft, cmds, what, NULL, &local)) {
        if (g_error_matches(local, NC_ERROR, NC_ERROR_NOT_FOUND)) {
            g_set_error(error, NC_ERROR, NC_ERROR_NOT_FOUND,
                        "domain %s has no gate to renew in network namespace %s (no set %s in "
                        "table netdev %s)",
                        op->uuid, nc_gate_ns_name(op->netns), NC_GATE_SET, op->table);
            return FALSE;
        }
        g_propagate_error(error, g_steal_pointer(&local));
        return FALSE;
    }
    return TRUE;
}

static gboolean nc_gate_do_held(struct nft_ctx *nft, gpointer data, GError **error)
{
    NcGateOp *op = data;
    g_autofree char *what = g_strdup_printf("reading the gate counters of domain %s in network "
                                            "namespace %s",
                                            op->uuid, nc_gate_ns_name(op->netns));
    g_autofree char *cmds = g_strdup_printf("list counters table netdev %s\n", op->table);
    g_autofree char *out = NULL;
    g_autoptr(GError) local = NULL;

    if (!nc_gate_run(nft, cmds, what, &out, &local)) {
        if (g_error_matches(local, NC_ERROR, NC_ERROR_NOT_FOUND)) {
            g_set_error(error, NC_ERROR, NC_ERROR_NOT_FOUND,
                        "domain %s has no gate in network namespace %s (no table netdev %s)",
                        op->uuid, nc_gate_ns_name(op->netns), op->table);
            return FALSE;
        }
        g_propagate_error(error, g_steal_pointer(&local));
        return FALSE;
    }
    return nc_gate_parse_counters(out, op->table, op->held, error);
}

static gboolean nc_gate_do_open(struct nft_ctx *nft, gpointer data, GError **error)
{
    NcGateOp *op = data;
    g_autofree char *what = g_strdup_printf("opening the gate of domain %s in network namespace %s",
                                            op->uuid, nc_gate_ns_name(op->netns));
    g_autofree char *cmds =
        g_strdup_printf("add table netdev %1$s\ndelete table netdev %1$s\n", op->table);

    if (op->held) {
        g_autoptr(GError) local = NULL;
        /* read just before the delete; what arrives in between is dropped uncounted */
        if (!nc_gate_do_held(nft, op, &local)) {
            if (!g_error_matches(local, NC_ERROR, NC_ERROR_NOT_FOUND)) {
                g_propagate_error(error, g_steal_pointer(&local));
                return FALSE;
            }
            memset(op->held, 0, sizeof(*op->held));
        }
    }
    return nc_gate_run(nft, cmds, what, NULL, error);
}

static gboolean nc_gate_do_list(struct nft_ctx *nft, gpointer data, GError **error)
{
    NcGateOp *op = data;
    g_autofree char *what =
        g_strdup_printf("listing gates in network namespace %s", nc_gate_ns_name(op->netns));
    g_autofree char *out = NULL;

    if (!nc_gate_run(nft, "list chains netdev\n", what, &out, error))
        return FALSE;
    op->gates = nc_gate_parse_chains(out);
    return TRUE;
}

typedef struct {
    const char *netns;
    const char *cmd;
    char *out;
} NcNftListOp;

static gboolean nc_nft_do_list_stateless(struct nft_ctx *nft, gpointer data, GError **error)
{
    NcNftListOp *op = data;
    g_autofree char *what =
        g_strdup_printf("'%s' in network namespace %s", op->cmd, nc_gate_ns_name(op->netns));

    nft_ctx_output_set_flags(nft, nft_ctx_output_get_flags(nft) | NFT_CTX_OUTPUT_STATELESS);
    return nc_gate_run(nft, op->cmd, what, &op->out, error);
}

/**
 * nc_nft_list_stateless() - one nft listing command in @netns, without stateful values
 * @netns: a name under /run/netns, or NULL for the caller's namespace
 * @cmd:   e.g. "list chain inet fw vm50-in"
 * @out:   (out) (transfer full): nft's output: no handles, no counter or quota values
 * @error: NC_ERROR_NOT_FOUND (no such object, or namespace), NC_ERROR_PERMISSION, ...
 *
 * The gate's libnftables sessions (one thread per call, inside the namespace) serve the static
 * chain check too (src/drivers/nc-policy-drv.c).
 *
 * Return: TRUE with @out set
 */
gboolean nc_nft_list_stateless(const char *netns, const char *cmd, char **out, GError **error)
{
    NcNftListOp op = {netns, cmd, NULL};

    if (!nc_gate_in_netns(netns, nc_nft_do_list_stateless, &op, error))
        return FALSE;
    *out = op.out;
    return TRUE;
}

/**
 * nc_gate_close() - hold domain @domain_uuid's IP traffic on @ifname, both ways, for a while
 * @netns:       a name under /run/netns, or NULL for the caller's namespace
 * @domain_uuid: the domain's UUID
 * @ifname:      its tap; need not exist yet (the gate attaches when it appears)
 * @lapse_ms:    the gate lapses by itself this long after now unless nc_gate_renew() pushes the
 *               deadline on (NC_GATE_LAPSE_MIN_MS to NC_GATE_LAPSE_MAX_MS)
 * @error:       NC_ERROR_INVALID_ARG (naming the bad value; nothing is installed),
 *               NC_ERROR_NOT_FOUND (no such namespace), NC_ERROR_PERMISSION,
 *               NC_ERROR_UNSUPPORTED (no netdev egress hook), NC_ERROR_NETLINK
 *
 * Replaces any gate the domain already has (e.g. on an earlier tap name) in the same
 * transaction, so the traffic is held throughout; its counters restart at zero.
 *
 * Return: TRUE if the gate is closed
 */
gboolean nc_gate_close(const char *netns, const char *domain_uuid, const char *ifname,
                       guint lapse_ms, GError **error)
{
    if (!nc_gate_check_uuid(domain_uuid, error) || !nc_gate_check_ifname(ifname, error) ||
        !nc_gate_check_lapse(lapse_ms, error))
        return FALSE;
    g_autofree char *table = nc_gate_table_name(domain_uuid);
    NcGateOp op = {netns, domain_uuid, ifname, table, NULL, NULL, lapse_ms};
    gint64 t0 = g_get_monotonic_time();

    if (!nc_gate_in_netns(netns, nc_gate_do_close, &op, error))
        return FALSE;
    g_debug("domain %s: gate closed on %s in network namespace %s, lapses in %u ms (%.2f ms)",
            domain_uuid, ifname, nc_gate_ns_name(netns), lapse_ms,
            (g_get_monotonic_time() - t0) / 1000.0);
    return TRUE;
}

/**
 * nc_gate_renew() - keep domain @domain_uuid's gate closed for @lapse_ms from now
 * @netns:       a name under /run/netns, or NULL for the caller's namespace
 * @domain_uuid: the domain's UUID
 * @lapse_ms:    the new deadline, from now (NC_GATE_LAPSE_MIN_MS to NC_GATE_LAPSE_MAX_MS)
 * @error:       NC_ERROR_NOT_FOUND if the domain has no gate (or no such namespace),
 *               NC_ERROR_INVALID_ARG, NC_ERROR_PERMISSION, NC_ERROR_NETLINK
 *
 * Closes a gate that already lapsed again. Call it well within every @lapse_ms for as long as
 * the traffic must be held (see Theory of operation).
 *
 * Return: TRUE if the gate holds the traffic until @lapse_ms from now
 */
gboolean nc_gate_renew(const char *netns, const char *domain_uuid, guint lapse_ms, GError **error)
{
    if (!nc_gate_check_uuid(domain_uuid, error) || !nc_gate_check_lapse(lapse_ms, error))
        return FALSE;
    g_autofree char *table = nc_gate_table_name(domain_uuid);
    NcGateOp op = {netns, domain_uuid, NULL, table, NULL, NULL, lapse_ms};

    return nc_gate_in_netns(netns, nc_gate_do_renew, &op, error);
}

/**
 * nc_gate_open() - remove domain @domain_uuid's gate; nothing to do if it has none
 * @netns:       a name under /run/netns, or NULL for the caller's namespace
 * @domain_uuid: the domain's UUID
 * @held:        (out) (optional): what the gate held until just before it opened (zero if
 *               there was no gate)
 * @error:       NC_ERROR_INVALID_ARG, NC_ERROR_NOT_FOUND (namespace), NC_ERROR_PERMISSION, ...
 *
 * Return: TRUE if the domain has no gate any more
 */
gboolean nc_gate_open(const char *netns, const char *domain_uuid, NcGateHeld *held, GError **error)
{
    if (!nc_gate_check_uuid(domain_uuid, error))
        return FALSE;
    g_autofree char *table = nc_gate_table_name(domain_uuid);
    NcGateOp op = {netns, domain_uuid, NULL, table, held, NULL, 0};
    gint64 t0 = g_get_monotonic_time();

    if (!nc_gate_in_netns(netns, nc_gate_do_open, &op, error))
        return FALSE;
    g_debug("domain %s: gate open in network namespace %s (%.2f ms)", domain_uuid,
            nc_gate_ns_name(netns), (g_get_monotonic_time() - t0) / 1000.0);
    return TRUE;
}

/**
 * nc_gate_held() - what domain @domain_uuid's gate has held back since it closed
 * @netns:       a name under /run/netns, or NULL for the caller's namespace
 * @domain_uuid: the domain's UUID
 * @held:        (out): the counters
 * @error:       NC_ERROR_NOT_FOUND if the domain has no gate (or no such namespace),
 *               NC_ERROR_INVALID_DATA if the table was not made by netcarry, ...
 *
 * Return: TRUE if @held is filled
 */
gboolean nc_gate_held(const char *netns, const char *domain_uuid, NcGateHeld *held, GError **error)
{
    g_return_val_if_fail(held != NULL, FALSE);
    if (!nc_gate_check_uuid(domain_uuid, error))
        return FALSE;
    g_autofree char *table = nc_gate_table_name(domain_uuid);
    NcGateOp op = {netns, domain_uuid, NULL, table, held, NULL, 0};

    return nc_gate_in_netns(netns, nc_gate_do_held, &op, error);
}

/**
 * nc_gate_list() - the gates that exist in a network namespace
 * @netns: a name under /run/netns, or NULL for the caller's namespace
 * @error: NC_ERROR_NOT_FOUND (no such namespace), NC_ERROR_PERMISSION, ...
 *
 * Finds every netdev table named like a gate, whoever made it and whether or not its device
 * exists: the daemon opens those it does not own when it starts.
 *
 * Return: (transfer full) (element-type NcGate): the gates (possibly none), or NULL on error
 */
GPtrArray *nc_gate_list(const char *netns, GError **error)
{
    NcGateOp op = {netns, NULL, NULL, NULL, NULL, NULL, 0};

    if (!nc_gate_in_netns(netns, nc_gate_do_list, &op, error)) {
        g_clear_pointer(&op.gates, g_ptr_array_unref);
        return NULL;
    }
    return op.gates;
}

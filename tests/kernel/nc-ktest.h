/* nc-ktest.h - what the kernel tests share: running commands, namespaces, test entries
 *
 * Commands are split on spaces (these tests need no quoting); their stdout is always captured, so
 * nothing a tool prints reaches the TAP stream, and a failure's error names the whole command and
 * what it said on stderr.
 */
#pragma once

#include <glib.h>

#include "conf/nc-item-set.h"
#include "conf/nc-owner.h"
#include "drivers/nc-ct.h"

/* For tests with nonfatal assertions: fail on @error and leave the test if !@ok. */
#define NC_KTEST_CHECK_OK(ok, error)                                                               \
    do {                                                                                           \
        g_assert_no_error(error);                                                                  \
        if (!(ok))                                                                                 \
            return;                                                                                \
    } while (0)

/* Runs @argv (searched in PATH); @out (may be NULL) gets its stdout. */
gboolean nc_ktest_run_argv(const char *const *argv, char **out, GError **error);

/* Runs the command line printf(@fmt, ...) split on spaces. */
gboolean nc_ktest_run(char **out, GError **error, const char *fmt, ...) G_GNUC_PRINTF(3, 4);

/* Runs "ip netns exec @ns conntrack @args". */
gboolean nc_ktest_conntrack(const char *ns, const char *args, char **out, GError **error);

/* Sets up a test between two namespaces of its own, "@tag-PID-s" and "@tag-PID-d" (written to
 * @src and @dst, @len bytes each), where nft writes the rulesets. Returns FALSE with the test
 * skipped, saying why, when not root, when namespaces cannot be made, or without nft. *@ready
 * becomes TRUE as soon as there is something to tear down (nc_ktest_ns_del() both). */
gboolean nc_ktest_ns_pair(const char *tag, char *src, char *dst, gsize len, gboolean *ready);

/**
 * NcKtestPair - the fixture of a test between a source and a destination namespace
 * @src, @dst: their names (nc_ktest_ns_pair())
 * @ready:     whether there is something to tear down
 * @owner:     the domain the test carries for (set up by the test; NULL: skipped)
 */
typedef struct {
    char src[32];
    char dst[32];
    gboolean ready;
    NcOwner *owner;
} NcKtestPair;

/* Frees @f->owner and removes both namespaces (a GTest fixture teardown). */
void nc_ktest_pair_teardown(NcKtestPair *f, gconstpointer data);

/* Loads @text (an nft script) into namespace @ns with `nft -f`. */
gboolean nc_ktest_nft_load(const char *ns, const char *text, GError **error);

/* `nft list @what` in @ns: its output, or the error's message (for asserting on either). */
char *nc_ktest_nft_list(const char *ns, const char *what);

/* Creates namespace @ns and registers it for removal on every exit path: nc_ktest_ns_del(), or,
 * if the test dies (an assertion's abort, g_error(), a crash, meson's SIGTERM at its timeout),
 * a signal handler that removes every registered namespace before the process ends. */
gboolean nc_ktest_ns_add(const char *ns, GError **error);

/* Removes directory @dir and the files in it (no subdirectories); quiet if it is not there. */
void nc_ktest_rm_dir(const char *dir);

/* Removes namespace @ns; quiet if it is not there. */
void nc_ktest_ns_del(const char *ns);

/* An established, assured TCP entry from @src:@sport to 192.0.2.10:80 (timeout 600 s), for
 * nc_ct_install(). */
NcCtEntry nc_ktest_tcp_entry(const char *src, guint16 sport);

/* Installs @n entries nc_ktest_tcp_entry(@src, @first ... @first + @n - 1) into @ns in one batch
 * (asserting it worked). */
void nc_ktest_ct_add(const char *ns, const char *src, guint16 first, guint n);

/* The entry of @entries whose original source port is @sport, or NULL. */
const NcCtEntry *nc_ktest_find_sport(GArray *entries, guint16 sport);

/* A bridge br0 in @ns, up, snooping IGMPv3/MLDv2 (or, @snooping FALSE, not snooping), with IPv6
 * off in @ns so that no port learns a group of its own: tests count only the entries they make. */
gboolean nc_ktest_snooping_bridge(const char *ns, gboolean snooping, GError **error);

/* A port @name of br0 in @ns (@mac unless NULL), a veth whose peer p-@name is up, once the bridge
 * forwards on it (within 5 s): the port is "disabled" until the kernel's link watch saw its
 * carrier, which under load comes late, and an mdb entry on a disabled port is refused. */
gboolean nc_ktest_bridge_port(const char *ns, const char *name, const char *mac, GError **error);

/* Runs the CLI ($NETCARRY_CLI) with the arguments (NULL-terminated) as an operator does: its exit
 * status (-1: killed), its stderr in @err (logged with the status). */
int nc_ktest_cli(char **err, const char *first, ...) G_GNUC_NULL_TERMINATED;

/* The mdb entries in @ns of interface @mac's bridge port: @port names it, or (NULL) it is found by
 * the MAC as the driver finds a domain's tap (src/drivers/nc-mdb.c). */
NcItemSet *nc_ktest_mdb(const char *ns, const char *mac, const char *port);

/* The gates (nftables netdev tables of netcarry) in @ns. */
guint nc_ktest_gate_count(const char *ns);

/* Runs the default main loop for @ms whatever happens. */
void nc_ktest_spin(guint ms);

/* Runs the default main loop until @pred(@data) holds; fails the test (g_error, naming @what)
 * after @max_ms. */
void nc_ktest_wait(gboolean (*pred)(gpointer data), gpointer data, guint max_ms, const char *what);

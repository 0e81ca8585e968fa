/* netcarry-hook.c - libvirt's qemu hook drop-in (qemu.d/netcarry): forwards each call to netcarryd
 * The admission point of a migration on the destination; for every other call a harmless no-op.
 *
 * libvirt runs it as `netcarry DOMAIN OPERATION SUB-OPERATION EXTRA` with the domain XML on
 * stdin, synchronously, and treats a non-zero exit as a veto (for `migrate begin`, virsh
 * shows our stderr). Rules:
 * - It never calls libvirt (libvirt waits for us with the domain locked: deadlock).
 * - One deadline, [timeouts] hook-ms from netcarry.conf, bounds reading stdin, connecting,
 *   sending and reading the answer together; for `migrate begin` it bounds netcarryd's
 *   silence instead: each progress report (the source's first copy still streaming in) gives
 *   netcarryd hook-ms more, up to [timeouts] admission-max-ms + hook-ms in all
 *   (nc-hook-proto.c). libvirt itself puts no bound on a hook (docs/libvirt-migration.md).
 * - Only `migrate begin` can fail: on a refusal from the daemon, or when the daemon cannot be
 *   asked (absent, silent, garbled, or the configuration is broken) and the admission policy
 *   is refuse. Every other operation exits 0 whatever happens: a hook must never break a
 *   VM's start or stop.
 * - stdout stays empty (for `migrate begin` that tells libvirt the XML is unchanged), unless
 *   the daemon admits a `migrate begin` with a changed domain XML (learned addresses pinned in
 *   their interfaces' filterrefs: docs/nwfilter.md): then that XML, whole, for libvirt to start.
 * NETCARRY_CONF overrides the configuration path (for tests; libvirt clears the environment).
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "nc-config.h"
#include "nc-hook-proto.h"
#include "util/nc-error.h"

/* bounds reading stdin when the configuration (and so [timeouts] hook-ms) is unreadable */
#define NC_HOOK_FALLBACK_TIMEOUT_MS 5000

/* Read all of stdin before the deadline; a closed or absent stdin is just empty. */
static char *read_stdin(gint64 deadline_us)
{
    g_autoptr(GString) buf = g_string_new(NULL);
    char chunk[65536];

    for (;;) {
        gint64 left = deadline_us - g_get_monotonic_time();
        struct pollfd p = {STDIN_FILENO, POLLIN, 0};
        ssize_t n;

        if (left <= 0 || buf->len > NC_HOOK_PROTO_MAX_PAYLOAD / 2)
            break;
        if (poll(&p, 1, (int)((left + 999) / 1000)) < 0 && errno != EINTR)
            break;
        if (!p.revents)
            continue;
        n = read(STDIN_FILENO, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        g_string_append_len(buf, chunk, n);
    }
    return g_string_free(g_steal_pointer(&buf), FALSE);
}

static int refuse(const char *domain, const char *reason)
{
    g_printerr("netcarry: cannot carry the network state of %s to %s: %s\n", domain,
               g_get_host_name(), reason);
    return 1;
}

/* The daemon could not be asked: the admission policy decides. */
static int unanswered(const char *domain, const NcConfig *config, const GError *error)
{
    g_autofree char *reason = NULL;

    if (g_error_matches(error, NC_ERROR, NC_ERROR_NOT_FOUND))
        reason = g_strdup_printf("netcarryd is not running on %s", g_get_host_name());
    else if (g_error_matches(error, NC_ERROR, NC_ERROR_TIMEOUT))
        reason =
            g_strdup_printf("netcarryd on %s did not answer %s", g_get_host_name(), error->message);
    else if (error->domain == NC_ERROR &&
             (error->code == NC_ERROR_INVALID_DATA || error->code == NC_ERROR_UNSUPPORTED))
        reason = g_strdup_printf("netcarryd on %s gave an invalid answer: %s", g_get_host_name(),
                                 error->message);
    else
        reason = g_strdup_printf("netcarryd on %s could not be asked: %s", g_get_host_name(),
                                 error->message);
    if (config->admission == NC_ADMISSION_PROCEED) {
        g_printerr("netcarry: warning: %s; the migration of %s proceeds without its network "
                   "state (admission = proceed)\n",
                   reason, domain);
        return 0;
    }
    return refuse(domain, reason);
}

int main(int argc, char **argv)
{
    const char *conf_path = g_getenv("NETCARRY_CONF");
    g_autoptr(NcConfig) config = NULL;
    g_autoptr(NcHookAnswer) answer = NULL;
    g_autoptr(GError) error = NULL;
    g_autofree char *xml = NULL;
    NcHookRequest req;
    gboolean admission;
    gint64 started, deadline;

    if (argc < 3) {
        g_printerr("usage: %s DOMAIN OPERATION [SUB-OPERATION [EXTRA]] < domain.xml\n"
                   "(run by libvirtd as /etc/libvirt/hooks/qemu.d/netcarry)\n",
                   argv[0]);
        return 0;
    }
    req =
        (NcHookRequest){argv[1], argv[2], argc > 3 ? argv[3] : "-", argc > 4 ? argv[4] : "-", NULL};
    admission = g_str_equal(req.op, "migrate") && g_str_equal(req.sub_op, "begin");

    config = nc_config_load(conf_path ? conf_path : NC_CONFIG_DEFAULT_PATH, &error);
    /* Read stdin even when the configuration is broken: libvirt writes the
     * whole XML before it looks at the exit status, and a hook that leaves
     * early hands it EPIPE instead of our one clear line. */
    started = g_get_monotonic_time();
    deadline =
        started + (gint64)(config ? config->hook_timeout_ms : NC_HOOK_FALLBACK_TIMEOUT_MS) * 1000;
    xml = read_stdin(deadline);
    if (!config) {
        if (!admission)
            return 0;
        g_autofree char *reason = g_strdup_printf("invalid configuration: %s", error->message);
        return refuse(req.domain, reason);
    }

    req.xml = xml;
    if (admission)
        answer = nc_hook_call_patient(
            config->hook_socket, &req, config->hook_timeout_ms,
            started + (gint64)(config->admission_max_ms + config->hook_timeout_ms) * 1000, NULL,
            &error);
    else
        answer = nc_hook_call(config->hook_socket, &req, deadline, &error);
    if (!admission)
        return 0;
    if (!answer)
        return unanswered(req.domain, config, error);
    if (answer->verdict == NC_HOOK_REFUSE)
        return refuse(req.domain, answer->reason);
    /* a half-written XML would abort the migration with a parse error: say why instead */
    if (answer->xml && (fputs(answer->xml, stdout) < 0 || fflush(stdout) != 0))
        return refuse(req.domain, "cannot write the domain XML (learned addresses pinned) for "
                                  "libvirt");
    return 0;
}

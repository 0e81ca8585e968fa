/* nc-netns.c - open a socket inside a named network namespace
 *
 * A socket stays in the namespace it was created in, so the thread only has to visit it briefly.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "nc-error.h"
#include "nc-netns.h"

static gboolean nc_netns_name_valid(const char *name)
{
    return name[0] && strchr(name, '/') == NULL && strcmp(name, ".") != 0 &&
           strcmp(name, "..") != 0;
}

/**
 * nc_netns_enter() - move the calling thread into the network namespace /run/netns/@name
 * @name:  namespace name as `ip netns` knows it
 * @error: NC_ERROR_INVALID_ARG (not a plain name), NC_ERROR_NOT_FOUND, NC_ERROR_PERMISSION, ...
 *
 * setns(2) is per thread: only the caller moves, and it stays there. Callers
 * either return (see nc_netns_socket()) or are threads of their own that end.
 *
 * Return: TRUE when the thread is in @name
 */
gboolean nc_netns_enter(const char *name, GError **error)
{
    g_autofree char *path = NULL;
    int target, saved;

    if (!nc_netns_name_valid(name)) {
        g_set_error(error, NC_ERROR, NC_ERROR_INVALID_ARG,
                    "'%s' is not a network namespace name (a plain name under /run/netns)", name);
        return FALSE;
    }

    path = g_strdup_printf("/run/netns/%s", name);
    target = open(path, O_RDONLY | O_CLOEXEC);
    if (target < 0) {
        saved = errno;
        if (saved == ENOENT)
            g_set_error(error, NC_ERROR, NC_ERROR_NOT_FOUND,
                        "network namespace '%s' not found (%s does not exist): create it with "
                        "'ip netns add %s' or check the name",
                        name, path, name);
        else
            g_set_error(error, NC_ERROR, nc_error_code_from_errno(saved),
                        "cannot open network namespace '%s' (%s): %s", name, path,
                        g_strerror(saved));
        return FALSE;
    }

    if (setns(target, CLONE_NEWNET) < 0) {
        saved = errno;
        close(target);
        if (saved == EPERM)
            g_set_error(error, NC_ERROR, NC_ERROR_PERMISSION,
                        "cannot enter network namespace '%s': permission denied (needs "
                        "CAP_SYS_ADMIN; run as root)",
                        name);
        else
            g_set_error(error, NC_ERROR, nc_error_code_from_errno(saved),
                        "cannot enter network namespace '%s': %s", name, g_strerror(saved));
        return FALSE;
    }
    close(target);
    return TRUE;
}

/**
 * nc_netns_socket() - create a socket in the network namespace /run/netns/@name
 * @name:     namespace name as `ip netns` knows it, or NULL for the caller's namespace
 * @domain:   socket(2) domain
 * @type:     socket(2) type (SOCK_CLOEXEC is added)
 * @protocol: socket(2) protocol
 * @error:    NC_ERROR_NOT_FOUND (no such namespace), NC_ERROR_PERMISSION, NC_ERROR_IO
 *
 * Only the calling thread changes namespace (setns(2) is per thread), and it is moved back to
 * the namespace it was in (saved from /proc/thread-self/ns/net) before this returns.
 *
 * Return: the socket's fd, or -1 with @error set
 */
int nc_netns_socket(const char *name, int domain, int type, int protocol, GError **error)
{
    int self, fd, saved;

    if (name == NULL) {
        fd = socket(domain, type | SOCK_CLOEXEC, protocol);
        if (fd < 0) {
            saved = errno;
            g_set_error(error, NC_ERROR, nc_error_code_from_errno(saved),
                        "cannot create a socket (domain %d, protocol %d): %s", domain, protocol,
                        g_strerror(saved));
        }
        return fd;
    }

    self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (self < 0) {
        saved = errno;
        g_set_error(error, NC_ERROR, nc_error_code_from_errno(saved),
                    "cannot save the current network namespace (/proc/thread-self/ns/net): %s; "
                    "is /proc mounted?",
                    g_strerror(saved));
        return -1;
    }
    if (!nc_netns_enter(name, error)) {
        close(self);
        return -1;
    }

    fd = socket(domain, type | SOCK_CLOEXEC, protocol);
    saved = errno;

    if (setns(self, CLONE_NEWNET) < 0) {
        /* The thread is stranded in the wrong namespace; every later socket it opens would be
         * in @name. Nothing sane can continue on this thread. */
        g_critical("cannot return to the original network namespace after visiting '%s': %s", name,
                   g_strerror(errno));
        if (fd >= 0)
            close(fd);
        close(self);
        g_set_error(error, NC_ERROR, NC_ERROR_FAILED,
                    "cannot return to the original network namespace after visiting '%s'", name);
        return -1;
    }
    close(self);

    if (fd < 0)
        g_set_error(error, NC_ERROR, nc_error_code_from_errno(saved),
                    "cannot create a socket (domain %d, protocol %d) in network namespace '%s': "
                    "%s",
                    domain, protocol, name, g_strerror(saved));
    return fd;
}

typedef struct {
    char *netns;
    NcNetnsThreadFunc func;
    gpointer data;
} NcNetnsThread;

static gpointer nc_netns_thread_main(gpointer data)
{
    NcNetnsThread *t = data;
    GError *error = NULL;
    gpointer ret;

    if (t->netns)
        nc_netns_enter(t->netns, &error);
    ret = t->func(t->data, error);
    g_free(t->netns);
    g_free(t);
    return ret;
}

GThread *nc_netns_thread_new(const char *thread_name, const char *netns, NcNetnsThreadFunc func,
                             gpointer data, GError **error)
{
    NcNetnsThread *t = g_new0(NcNetnsThread, 1);
    GThread *th;

    t->netns = g_strdup(netns);
    t->func = func;
    t->data = data;
    th = g_thread_try_new(thread_name, nc_netns_thread_main, t, error);
    if (!th) {
        g_free(t->netns);
        g_free(t);
    }
    return th;
}

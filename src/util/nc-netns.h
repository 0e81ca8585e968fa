/* nc-netns.h - run a piece of work inside a named network namespace
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Creates a socket (socket(2) arguments) in the namespace /run/netns/@name,
 * or in the caller's own when @name is NULL, and returns its fd (-1 on error).
 * The calling thread is back in its own namespace when this returns. */
int nc_netns_socket(const char *name, int domain, int type, int protocol, GError **error);

/* Moves the calling thread into /run/netns/@name for good (setns(2) is per
 * thread): for worker threads whose library opens its own sockets. */
gboolean nc_netns_enter(const char *name, GError **error);

/**
 * NcNetnsThreadFunc - the body of a thread started by nc_netns_thread_new()
 * @data:  as given
 * @error: (transfer full) (nullable): why the thread could not enter the namespace (the body then
 *         only reports it), or NULL: the thread is in it
 */
typedef gpointer (*NcNetnsThreadFunc)(gpointer data, GError *error);

/* A thread that first enters /run/netns/@netns (NULL: stays in the caller's), then runs @func:
 * setns(2) moves only its caller, so work inside a namespace gets a thread of its own and the
 * main loop's thread never moves. NULL (with @error) if no thread could be made. */
GThread *nc_netns_thread_new(const char *thread_name, const char *netns, NcNetnsThreadFunc func,
                             gpointer data, GError **error);

G_END_DECLS

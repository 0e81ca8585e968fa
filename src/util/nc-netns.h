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

G_END_DECLS

/* nc-kcarry.h - what runs two carry engines in two namespaces needs: the test PKI, an engine's
 * configuration, the veth between the "hosts"; shared by test-carry and bench-side-by-side
 */
#pragma once

#include <glib.h>

#include "daemon/nc-config.h"

/* Makes the test PKI once per process (tests/daemon/make-test-pki.sh, found through
 * $NETCARRY_SOURCE_ROOT, into a temporary directory). FALSE when it cannot be made here: *@skip
 * (owned by this module) then says why (no TLS backend, no certtool); a broken script aborts. */
gboolean nc_kcarry_pki_make(const char **skip);

/* (transfer full): the path of PEM file @name ("ca1", "server", "client-key", ...) of the PKI. */
char *nc_kcarry_pki(const char *name);

/* Removes the PKI's files and directory (at the end of main()). */
void nc_kcarry_pki_cleanup(void);

/* An engine's configuration: listens on @listen (any port), the PKI's CA 1 and server certificate,
 * @client_cert ("client" or "client2") as its client certificate, gate mode "gate", clean-up of
 * the source on, short timeouts for the peer link. Return: (transfer full). */
NcConfig *nc_kcarry_config(const char *listen, const char *client_cert);

/* Joins namespaces @ns_a and @ns_b with a veth (interface nc0 in each), with @ip_a and @ip_b (/24)
 * on it, both ends and the loopbacks up. FALSE (a reason to skip) only if the veth cannot be
 * made; a later step that fails aborts the test. */
gboolean nc_kcarry_link(const char *ns_a, const char *ip_a, const char *ns_b, const char *ip_b,
                        GError **error);

/* nc-kcarry.c - what runs two carry engines in two namespaces needs (see nc-kcarry.h) */
#include "nc-kcarry.h"

#include <sys/wait.h>

#include <gio/gio.h>
#include <glib/gstdio.h>

#include "nc-ktest.h"

static char *pki_dir;
static char *pki_skip; /* why there is none */

void nc_kcarry_pki_cleanup(void)
{
    nc_ktest_rm_dir(pki_dir);
    g_clear_pointer(&pki_dir, g_free);
}

gboolean nc_kcarry_pki_make(const char **skip)
{
    const char *root = g_getenv("NETCARRY_SOURCE_ROOT");
    g_autofree char *script =
        g_build_filename(root ? root : "..", "tests", "daemon", "make-test-pki.sh", NULL);
    g_autofree char *out = NULL, *err = NULL;
    g_autoptr(GError) error = NULL;
    int status = 0;

    *skip = pki_skip;
    if (pki_dir || pki_skip)
        return pki_dir != NULL;
    if (!g_tls_backend_supports_tls(g_tls_backend_get_default())) {
        *skip = pki_skip = g_strdup("GIO has no TLS backend: apt-get install glib-networking");
        return FALSE;
    }
    pki_dir = g_dir_make_tmp("nc-test-carry-XXXXXX", &error);
    g_assert_no_error(error);
    {
        const char *argv[] = {"/bin/sh", script, pki_dir, NULL};

        g_assert_true(g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out,
                                   &err, &status, &error));
    }
    if (!g_spawn_check_wait_status(status, NULL)) {
        if (WIFEXITED(status) && WEXITSTATUS(status) == 77) {
            *skip = pki_skip = g_strdup(g_strstrip(err));
            nc_kcarry_pki_cleanup();
            return FALSE;
        }
        g_error("make-test-pki.sh failed: %s", err);
    }
    return TRUE;
}

char *nc_kcarry_pki(const char *name)
{
    return g_strdup_printf("%s/%s.pem", pki_dir, name);
}

static void set_str(char **field, const char *value)
{
    g_free(*field);
    *field = g_strdup(value);
}

NcConfig *nc_kcarry_config(const char *listen, const char *client_cert)
{
    NcConfig *c = nc_config_new_default();
    g_autofree char *ca = nc_kcarry_pki("ca1"), *scert = nc_kcarry_pki("server");
    g_autofree char *skey = nc_kcarry_pki("server-key"), *ccert = nc_kcarry_pki(client_cert);
    g_autofree char *ckey = g_strdup_printf("%s/%s-key.pem", pki_dir, client_cert);

    set_str(&c->listen_address, listen);
    c->listen_port = 0;
    set_str(&c->tls_ca_file, ca);
    set_str(&c->tls_server_cert, scert);
    set_str(&c->tls_server_key, skey);
    set_str(&c->tls_client_cert, ccert);
    set_str(&c->tls_client_key, ckey);
    c->gate_mode = NC_GATE_MODE_GATE;
    c->cleanup_source = TRUE;
    c->peer_connect_timeout_ms = 2000;
    c->seal_timeout_ms = 2000;
    c->authenticate_timeout_ms = 600; /* short: the holders' cases wait it out */
    return c;
}

gboolean nc_kcarry_link(const char *ns_a, const char *ip_a, const char *ns_b, const char *ip_b,
                        GError **error)
{
    const char *ns[2] = {ns_a, ns_b};
    const char *ips[2] = {ip_a, ip_b};

    if (!nc_ktest_run(NULL, error, "ip -n %s link add nc0 type veth peer name nc0 netns %s", ns_a,
                      ns_b))
        return FALSE;
    /* only a kernel without veth is a reason to skip: once the pair exists, a step that fails is
     * the test bed's failure, not a missing capability */
    for (guint i = 0; i < 2; i++) {
        g_autoptr(GError) err = NULL;

        if (!nc_ktest_run(NULL, &err, "ip -n %s link set lo up", ns[i]) ||
            !nc_ktest_run(NULL, &err, "ip -n %s link set nc0 up", ns[i]) ||
            !nc_ktest_run(NULL, &err, "ip -n %s addr add %s/24 dev nc0", ns[i], ips[i]))
            g_error("the peer link in %s: %s", ns[i], err->message);
    }
    return TRUE;
}

/* test-status.c - `netcarry status --json`: the daemon's status text read back into the fields
 * netcarry(1) documents (data/status.txt -> data/status.json, which tests/unit/test-outputs.py
 * checks against the man page); NETCARRY_REGENERATE=1 rewrites the expected file
 */
#include <string.h>

#include "nc-status.h"
#include "util/nc-error.h"

static char *data_path(const char *name)
{
    return g_build_filename(g_getenv("NETCARRY_SOURCE_ROOT"), "tests", "daemon", "data", name,
                            NULL);
}

static void test_fixture(void)
{
    g_autofree char *in_path = data_path("status.txt");
    g_autofree char *out_path = data_path("status.json");
    g_autofree char *text = NULL;
    g_autofree char *expected = NULL;
    g_autofree char *json = NULL;
    g_autoptr(GError) error = NULL;

    g_assert_true(g_file_get_contents(in_path, &text, NULL, NULL));
    json = nc_status_text_to_json(text, &error);
    g_assert_no_error(error);
    if (g_strcmp0(g_getenv("NETCARRY_REGENERATE"), "1") == 0) {
        g_assert_true(g_file_set_contents(out_path, json, -1, NULL));
        return;
    }
    g_assert_true(g_file_get_contents(out_path, &expected, NULL, NULL));
    g_assert_cmpstr(json, ==, expected);
}

/* a daemon with no carry, and one whose libvirt is down */
static void test_idle(void)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *json = nc_status_text_to_json(
        "netcarryd 0.1.0 on hosta: libvirt qemu:///system NOT connected, peers on port 1\n",
        &error);

    g_assert_no_error(error);
    g_assert_nonnull(strstr(json, "\"libvirt_connected\": false"));
    g_assert_nonnull(strstr(json, "\"peer_port\": 1"));
    g_assert_nonnull(strstr(json, "\"carries\": []"));
}

static void test_not_status(void)
{
    static const char *const bad[] = {"", "hello\n", "netcarryd 1 on h: libvirt x maybe, peers"};

    for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autoptr(GError) error = NULL;
        g_autofree char *json = nc_status_text_to_json(bad[i], &error);

        g_assert_null(json);
        g_assert_error(error, NC_ERROR, NC_ERROR_INVALID_DATA);
        g_assert_nonnull(strstr(error->message, "header"));
    }
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/status/fixture", test_fixture);
    g_test_add_func("/status/idle", test_idle);
    g_test_add_func("/status/not-status", test_not_status);
    return g_test_run();
}

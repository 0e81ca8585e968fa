/* test-cli.c - the netcarry command as a user meets it: `validate` agrees with
 * the examples, and every misuse is one line on stderr and exit status 2
 */
#include <string.h>

#include "test-common.h"

typedef struct {
    int status;
    char *out;
    char *err;
} CliRun;

static void cli_run_clear(CliRun *r)
{
    g_free(r->out);
    g_free(r->err);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(CliRun, cli_run_clear)

/* run_cli() - run $NETCARRY_CLI with @args (NULL-terminated) and collect what it said */
static void run_cli(CliRun *r, const char *const *args)
{
    g_autoptr(GPtrArray) argv = g_ptr_array_new();
    g_autoptr(GError) error = NULL;
    int wait_status;

    g_ptr_array_add(argv, (gpointer)g_getenv("NETCARRY_CLI"));
    for (; *args; args++)
        g_ptr_array_add(argv, (gpointer)*args);
    g_ptr_array_add(argv, NULL);
    g_assert_true(g_spawn_sync(NULL, (char **)argv->pdata, NULL, G_SPAWN_DEFAULT, NULL, NULL,
                               &r->out, &r->err, &wait_status, &error));
    g_assert_no_error(error);
    g_assert_true(WIFEXITED(wait_status));
    r->status = WEXITSTATUS(wait_status);
}

/* one line, "netcarry: ...", that names @what */
static void assert_one_line_error(const CliRun *r, const char *what)
{
    g_test_message("stderr: %s", r->err);
    g_assert_cmpint(r->status, ==, 2);
    g_assert_true(g_str_has_prefix(r->err, "netcarry: "));
    g_assert_cmpstr(strchr(r->err, '\n'), ==, "\n");
    g_assert_nonnull(strstr(r->err, what));
}

static void test_validate_valid(gconstpointer data)
{
    const char *path = data;
    const char *args[] = {"validate", path, NULL};
    g_auto(CliRun) r = {0};
    g_autofree char *expected = g_strdup_printf("%s: valid\n", path);

    run_cli(&r, args);
    g_assert_cmpint(r.status, ==, 0);
    g_assert_cmpstr(r.out, ==, expected);
}

static void test_validate_invalid(gconstpointer data)
{
    const char *path = data;
    const char *args[] = {"validate", path, NULL};
    g_auto(CliRun) r = {0};
    g_autofree char *where = g_strdup_printf("%s:", path); /* file:line */

    run_cli(&r, args);
    assert_one_line_error(&r, where);
    g_assert_cmpstr(r.out, ==, "");
}

static void test_misuse(void)
{
    static const struct {
        const char *args[6];
        const char *named;
    } cases[] = {
        {{"frobnicate", NULL}, "'frobnicate'"},
        {{"capture", NULL}, "--address"},
        {{"capture", "--address", "192.0.2.300", NULL}, "192.0.2.300"},
        {{"capture", "--address", "192.0.2.5", "--zone", "65536", NULL}, "--zone '65536'"},
        {{"capture", "--address", "192.0.2.5", "--mark", "0x1g", NULL}, "--mark '0x1g'"},
        {{"capture", "--address", "192.0.2.5", "--uuid", "nope", NULL}, "--uuid 'nope'"},
        {{"capture", "--address", "192.0.2.5", "--netns", "a/b", NULL}, "'a/b'"},
        {{"install", NULL}, "takes 1 argument"},
        {{"install", "/nonexistent/bundle.xml", NULL}, "/nonexistent/bundle.xml"},
        {{"diff", "only-one.xml", NULL}, "takes 2 arguments"},
        {{"remove", "--netns", "x", NULL}, "--address"},
    };

    for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_auto(CliRun) r = {0};

        run_cli(&r, cases[i].args);
        assert_one_line_error(&r, cases[i].named);
    }
}

static void test_help(void)
{
    static const char *const commands[] = {"capture", "install", "remove", "diff", "validate"};

    for (guint i = 0; i < G_N_ELEMENTS(commands); i++) {
        const char *args[] = {commands[i], "--help", NULL};
        g_auto(CliRun) r = {0};

        run_cli(&r, args);
        g_assert_cmpint(r.status, ==, 0);
        g_assert_nonnull(strstr(r.out, commands[i]));
    }
}

int main(int argc, char **argv)
{
    g_autoptr(GPtrArray) valid = NULL;
    g_autoptr(GPtrArray) invalid = NULL;

    g_test_init(&argc, &argv, NULL);
    if (!g_getenv("NETCARRY_CLI")) {
        g_printerr("NETCARRY_CLI is not set: run through meson test\n");
        return 1;
    }
    valid = nc_test_list_examples(FALSE);
    invalid = nc_test_list_examples(TRUE);
    for (guint i = 0; i < valid->len; i++) {
        g_autofree char *base = g_path_get_basename(valid->pdata[i]);
        g_autofree char *name = g_strdup_printf("/cli/validate/valid/%s", base);

        g_test_add_data_func(name, valid->pdata[i], test_validate_valid);
    }
    for (guint i = 0; i < invalid->len; i++) {
        g_autofree char *base = g_path_get_basename(invalid->pdata[i]);
        g_autofree char *name = g_strdup_printf("/cli/validate/invalid/%s", base);

        g_test_add_data_func(name, invalid->pdata[i], test_validate_invalid);
    }
    g_test_add_func("/cli/misuse", test_misuse);
    g_test_add_func("/cli/help", test_help);
    return g_test_run();
}

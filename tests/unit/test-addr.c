/* test-addr.c - unit tests for NcAddr: parsing, printing, comparing
 */
#include <string.h>

#include "util/nc-addr.h"
#include "util/nc-error.h"

typedef struct {
    const char *text;
    int family;          /* 0: must be refused */
    const char *printed; /* canonical form */
} AddrCase;

static const AddrCase addr_cases[] = {
    {"192.0.2.5", AF_INET, "192.0.2.5"},
    {"0.0.0.0", AF_INET, "0.0.0.0"},
    {"255.255.255.255", AF_INET, "255.255.255.255"},
    {"2001:db8::5", AF_INET6, "2001:db8::5"},
    {"2001:DB8:0:0:0:0:0:5", AF_INET6, "2001:db8::5"},
    {"::", AF_INET6, "::"},
    {"::ffff:192.0.2.5", AF_INET6, "::ffff:192.0.2.5"},
    {"192.0.2.300", 0, NULL},
    {"192.0.2", 0, NULL},
    /* "::" must stand for at least one group (RFC 4291); glibc agrees */
    {"1:2:3:4:5:6:7::8", 0, NULL},
    {"1:2:3:4:5:6:7:8:9", 0, NULL},
    {"", 0, NULL},
    {" 192.0.2.5", 0, NULL},
    {"fe80::1%eth0", 0, NULL},
};

static void test_addr_parse(gconstpointer data)
{
    const AddrCase *c = data;
    g_autoptr(GError) error = NULL;
    NcAddr addr;
    gboolean ok = nc_addr_parse(c->text, &addr, &error);

    if (!c->family) {
        g_assert_false(ok);
        g_assert_error(error, NC_ERROR, NC_ERROR_INVALID_DATA);
        /* the message names the offending text so a user can find it */
        g_assert_nonnull(strstr(error->message, c->text));
        g_assert_cmpint(addr.family, ==, 0);
    } else {
        g_autofree char *printed = NULL;

        g_assert_no_error(error);
        g_assert_true(ok);
        g_assert_cmpint(addr.family, ==, c->family);
        printed = nc_addr_to_string(&addr);
        g_assert_cmpstr(printed, ==, c->printed);
        g_assert_cmpuint(nc_addr_len(&addr), ==, c->family == AF_INET ? 4 : 16);
    }
}

static void test_addr_equal(void)
{
    NcAddr a, b, c, d;

    g_assert_true(nc_addr_parse("2001:db8::5", &a, NULL));
    g_assert_true(nc_addr_parse("2001:db8:0::5", &b, NULL));
    g_assert_true(nc_addr_parse("2001:db8::6", &c, NULL));
    g_assert_true(nc_addr_parse("0.0.0.0", &d, NULL));
    g_assert_true(nc_addr_equal(&a, &b));
    g_assert_false(nc_addr_equal(&a, &c));

    /* 0.0.0.0 and :: share their bytes but not their family */
    g_assert_true(nc_addr_parse("::", &c, NULL));
    g_assert_false(nc_addr_equal(&c, &d));
}

static void test_addr_unset(void)
{
    NcAddr unset = {0};
    char buf[NC_ADDR_STRLEN];

    nc_addr_format(&unset, buf, sizeof(buf));
    g_assert_cmpstr(buf, ==, "?");
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    for (guint i = 0; i < G_N_ELEMENTS(addr_cases); i++) {
        g_autofree char *path = g_strdup_printf("/addr/parse/%u", i);

        g_test_add_data_func(path, &addr_cases[i], test_addr_parse);
    }
    g_test_add_func("/addr/equal", test_addr_equal);
    g_test_add_func("/addr/unset", test_addr_unset);
    return g_test_run();
}

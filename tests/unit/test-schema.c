/* test-schema.c - every file in xml/examples against its schema: valid files
 * pass, `*-invalid.*` files fail (libvirt's virschematest, for netcarry)
 */
#include <string.h>

#include "conf/nc-document.h"
#include "util/nc-error.h"
#include "util/nc-xml.h"

#include "test-common.h"

/* These invalid examples break rules that RelaxNG cannot state (see the
 * theory of operation in nc-bundle.c, nc-domain.c, nc-report.c); the schema accepts them and
 * the reader for their root must refuse them. Every other invalid file must fail the schema. */
static const char *const semantic_only[] = {
    "family-mismatch-invalid.xml",
    "icmp-family-invalid.xml",
    "tcp-on-udp-invalid.xml",
    "ipv6-groups-invalid.xml",
    "proto-mismatch-invalid.xml",
    "missing-ports-invalid.xml",
    "profile-ipv6-groups-invalid.xml",
    "profile-learn-length-invalid.xml",
    "report-figures-mismatch-invalid.xml",
    "report-pass-on-stop-invalid.xml",
    "report-two-timelines-invalid.xml",
    "report-class-twice-invalid.xml",
    /* format 2: the count, the digest and a key's fields against its set's shape */
    "bundle2-count-invalid.xml",
    "bundle2-digest-invalid.xml",
    "bundle2-edited-invalid.xml",
    "bundle2-key-fields-invalid.xml",
    /* an mdb entry's group must be multicast */
    "bundle2-mdb-group-invalid.xml",
};

static gboolean is_semantic_only(const char *path)
{
    g_autofree char *base = g_path_get_basename(path);

    /* not g_strv_contains(): the table has no NULL at its end */
    for (guint i = 0; i < G_N_ELEMENTS(semantic_only); i++) {
        if (strcmp(semantic_only[i], base) == 0)
            return TRUE;
    }
    return FALSE;
}

static void test_valid(gconstpointer data)
{
    const char *path = data;
    g_autoptr(GError) error = NULL;
    const char *schema = NULL;

    g_assert_true(nc_xml_validate_file(path, &schema, &error));
    g_assert_no_error(error);
    g_assert_nonnull(schema);
    g_assert_true(nc_document_read_file(schema, path, &error));
    g_assert_no_error(error);
}

static void test_invalid(gconstpointer data)
{
    const char *path = data;
    g_autoptr(GError) error = NULL;
    g_autoptr(GError) parse_error = NULL;
    const char *schema = NULL;
    gboolean schema_ok = nc_xml_validate_file(path, &schema, &error);

    if (is_semantic_only(path)) {
        g_assert_no_error(error);
        g_assert_true(schema_ok);
    } else {
        g_assert_false(schema_ok);
        g_assert_error(error, NC_ERROR, NC_ERROR_INVALID_DATA);
        g_test_message("%s", error->message);
        /* "PATH:LINE: does not follow bundle.rng: ..." */
        g_assert_true(g_str_has_prefix(error->message, path));
        g_assert_true(g_ascii_isdigit(error->message[strlen(path) + 1]));
        g_assert_nonnull(schema);
        g_assert_nonnull(strstr(error->message, schema));
    }
    /* and in every case the reader for its root refuses it */
    g_assert_false(nc_document_read_file(schema, path, &parse_error));
    g_assert_error(parse_error, NC_ERROR, NC_ERROR_INVALID_DATA);
}

/* the examples must cover both kinds and the semantic list must not go stale */
static void test_inventory(void)
{
    g_autoptr(GPtrArray) valid = nc_test_list_examples(FALSE);
    g_autoptr(GPtrArray) invalid = nc_test_list_examples(TRUE);

    g_assert_cmpuint(valid->len, >=, 7);
    g_assert_cmpuint(invalid->len, >=, 10);
    for (guint i = 0; i < G_N_ELEMENTS(semantic_only); i++) {
        g_autofree char *path = g_build_filename(nc_test_source_root(), "xml", "examples",
                                                 semantic_only[i], NULL);

        g_assert_true(g_file_test(path, G_FILE_TEST_IS_REGULAR));
    }
}

static void test_unknown_root(void)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *path = g_build_filename(nc_test_scratch_dir(), "other.xml", NULL);

    g_assert_true(g_file_set_contents(path, "<?xml version=\"1.0\"?>\n<domain/>\n", -1, NULL));
    g_assert_false(nc_xml_validate_file(path, NULL, &error));
    g_assert_error(error, NC_ERROR, NC_ERROR_INVALID_DATA);
    g_assert_nonnull(strstr(error->message, "<domain>"));
    g_assert_true(g_str_has_prefix(error->message, path));
}

static void test_schema_lookup(void)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *path = nc_xml_schema_path("bundle.rng", &error);
    g_autofree char *missing = NULL;

    g_assert_no_error(error);
    g_assert_true(g_file_test(path, G_FILE_TEST_IS_REGULAR));
    missing = nc_xml_schema_path("no-such-schema.rng", &error);
    g_assert_null(missing);
    g_assert_error(error, NC_ERROR, NC_ERROR_NOT_FOUND);
    g_assert_nonnull(strstr(error->message, "NETCARRY_SCHEMA_DIR"));
}

int main(int argc, char **argv)
{
    g_autoptr(GPtrArray) valid = NULL;
    g_autoptr(GPtrArray) invalid = NULL;

    g_test_init(&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
    valid = nc_test_list_examples(FALSE);
    invalid = nc_test_list_examples(TRUE);
    for (guint i = 0; i < valid->len; i++) {
        g_autofree char *base = g_path_get_basename(valid->pdata[i]);
        g_autofree char *path = g_strdup_printf("/schema/valid/%s", base);

        g_test_add_data_func(path, valid->pdata[i], test_valid);
    }
    for (guint i = 0; i < invalid->len; i++) {
        g_autofree char *base = g_path_get_basename(invalid->pdata[i]);
        g_autofree char *path = g_strdup_printf("/schema/invalid/%s", base);

        g_test_add_data_func(path, invalid->pdata[i], test_invalid);
    }
    g_test_add_func("/schema/inventory", test_inventory);
    g_test_add_func("/schema/unknown-root", test_unknown_root);
    g_test_add_func("/schema/lookup", test_schema_lookup);
    return g_test_run();
}

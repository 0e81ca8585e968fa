/* nc-document.c - the schema -> reader table behind `netcarry validate`
 *
 * A reader names the bad value where RelaxNG's messages are vague, and checks
 * what no schema can say (one address family per tuple, figures that agree
 * with the timeline, ...); so both must accept a file for it to be valid.
 */
#include "nc-document.h"

#include "conf/nc-bundle.h"
#include "conf/nc-domain.h"
#include "conf/nc-report.h"
#include "util/nc-error.h"
#include "util/nc-xml.h"

static gboolean nc_document_read_bundle(const char *path, GError **error)
{
    g_autoptr(NcBundle) doc = nc_bundle_parse_file(path, error);

    return doc != NULL;
}

static gboolean nc_document_read_profile(const char *path, GError **error)
{
    g_autoptr(NcProfile) doc = nc_profile_parse_file(path, error);

    return doc != NULL;
}

static gboolean nc_document_read_report(const char *path, GError **error)
{
    g_autoptr(NcReport) doc = nc_report_parse_file(path, error);

    return doc != NULL;
}

static const struct {
    const char *schema;
    gboolean (*read)(const char *path, GError **error);
} nc_document_readers[] = {
    {"bundle.rng", nc_document_read_bundle},
    {"profile.rng", nc_document_read_profile},
    {"report.rng", nc_document_read_report},
};

/**
 * nc_document_read_file() - run the reader that goes with @schema on @path
 * @schema: a schema file name as nc_xml_schema_for_root() gives it
 *
 * Return: TRUE if the reader accepts the file
 */
gboolean nc_document_read_file(const char *schema, const char *path, GError **error)
{
    for (guint i = 0; i < G_N_ELEMENTS(nc_document_readers); i++) {
        if (g_strcmp0(schema, nc_document_readers[i].schema) == 0)
            return nc_document_readers[i].read(path, error);
    }
    g_set_error(error, NC_ERROR, NC_ERROR_INVALID_ARG, "%s: no reader for schema %s", path,
                schema ? schema : "(none)");
    return FALSE;
}

/**
 * nc_document_validate_file() - is @path a document netcarry would accept?
 *
 * When both fail, the reader's error wins: it names the value.
 *
 * Return: TRUE if valid
 */
gboolean nc_document_validate_file(const char *path, GError **error)
{
    g_autoptr(GError) schema_error = NULL;
    const char *schema = NULL;
    gboolean valid = nc_xml_validate_file(path, &schema, &schema_error);

    if (schema && !nc_document_read_file(schema, path, error))
        return FALSE;
    if (!valid) {
        g_propagate_error(error, g_steal_pointer(&schema_error));
        return FALSE;
    }
    return TRUE;
}

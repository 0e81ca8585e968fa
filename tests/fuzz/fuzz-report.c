/* fuzz-report.c - libFuzzer target: the migration report (a domain's metadata, `netcarry report`)
 * Parses any bytes as a report document and as libvirt's metadata element; what parses must
 * format, read back to the same text, and print.
 */
#include <string.h>

#include "conf/nc-report.h"
#include "nc-fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    nc_fuzz_init();
    return 0;
}

static void fuzz_report(NcReport *(*parse)(const char *, gsize, const char *, GError **),
                        const char *data, gsize size)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(NcReport) report = parse(data, size, "fuzz", &error);
    g_autoptr(NcReport) reparsed = NULL;
    g_autofree char *text = NULL;
    g_autofree char *again = NULL;
    g_autofree char *element = NULL;
    g_autofree char *human = NULL;
    NcReportFigures figures;

    nc_fuzz_check(report || (error && error->message && *error->message));
    if (!report)
        return;
    nc_report_figures(report, &figures);
    human = nc_report_to_text(report);
    element = nc_report_format_element(report);
    text = nc_report_format(report);
    reparsed = nc_report_parse_buffer(text, strlen(text), "fuzz (formatted)", &error);
    if (!reparsed)
        g_printerr("formatted report refused: %s\n%s\n", error->message, text);
    nc_fuzz_check(reparsed != NULL);
    again = nc_report_format(reparsed);
    nc_fuzz_check(strcmp(text, again) == 0);
}

int LLVMFuzzerTestOneInput(const guint8 *data, size_t size)
{
    fuzz_report(nc_report_parse_buffer, (const char *)data, size);
    fuzz_report(nc_report_parse_metadata, (const char *)data, size);
    return 0;
}

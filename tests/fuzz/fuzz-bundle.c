/* fuzz-bundle.c - libFuzzer target: a bundle document (netcarry capture / the CLI's input files)
 * Parses any bytes; what parses must format, and the formatted text must parse to the same text.
 */
#include <string.h>

#include "conf/nc-bundle.h"
#include "conf/nc-ct-items.h"
#include "conf/nc-nft-items.h"
#include "nc-fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    nc_fuzz_init();
    return 0;
}

int LLVMFuzzerTestOneInput(const guint8 *data, size_t size)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(NcBundle) bundle = nc_bundle_parse_buffer((const char *)data, size, "fuzz", &error);
    g_autofree char *text = NULL;
    g_autofree char *again = NULL;
    g_autoptr(NcBundle) reparsed = NULL;

    /* a refusal always says why */
    nc_fuzz_check(bundle || (error && error->message && *error->message));
    if (!bundle)
        return 0;
    for (guint i = 0; i < bundle->conntrack->len; i++)
        (void)nc_ct_entry_belongs_to(&g_array_index(bundle->conntrack, NcCtEntry, i),
                                     bundle->addresses);
    /* what install does with each class: its items as a set, judged against the bundle's owner */
    {
        static const NcClassOps *const classes[] = {&nc_ct_class, &nc_nft_set_class,
                                                    &nc_nft_obj_class};
        g_autoptr(NcOwner) owner = nc_bundle_owner(bundle);

        for (guint i = 0; i < G_N_ELEMENTS(classes); i++) {
            g_autoptr(NcItemSet) items = nc_bundle_class_items(bundle, classes[i], &error);

            nc_fuzz_check(items != NULL);
            (void)nc_item_set_check_owned(items, owner, NULL);
        }
    }
    /* netcarry must read back whatever it writes (the CLI saves what it parsed) */
    text = nc_bundle_format(bundle);
    reparsed = nc_bundle_parse_buffer(text, strlen(text), "fuzz (formatted)", &error);
    if (!reparsed)
        g_printerr("formatted bundle refused: %s\n%s\n", error->message, text);
    nc_fuzz_check(reparsed != NULL);
    again = nc_bundle_format(reparsed);
    nc_fuzz_check(strcmp(text, again) == 0);
    return 0;
}

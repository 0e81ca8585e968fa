/* fuzz-nft-items.c - libFuzzer target: the registry's classes' canonical bytes, as a peer sends
 * them. The first byte picks the class (modulo 3: nft-set, nft-object, mdb), the rest is the item.
 * What decodes must encode to the same bytes; a refusal always says why.
 */
#include <string.h>

#include "conf/nc-mdb-items.h"
#include "conf/nc-nft-items.h"
#include "nc-fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    nc_fuzz_init();
    return 0;
}

int LLVMFuzzerTestOneInput(const guint8 *data, size_t size)
{
    static const NcClassOps *const classes[] = {&nc_nft_set_class, &nc_nft_obj_class,
                                                &nc_mdb_class};
    const NcClassOps *ops;
    g_autoptr(GError) error = NULL;
    g_autoptr(GByteArray) again = g_byte_array_new();
    g_autoptr(NcOwner) owner = nc_owner_new();
    gpointer item;

    if (size < 1)
        return 0;
    ops = classes[data[0] % G_N_ELEMENTS(classes)];
    item = ops->decode(data + 1, size - 1, &error);
    nc_fuzz_check(item || (error && error->message && *error->message));
    if (!item)
        return 0;
    nc_fuzz_check(ops->encode(item, again, NULL));
    nc_fuzz_check(again->len == size - 1 && memcmp(again->data, data + 1, size - 1) == 0);
    g_free(ops->describe(item));
    /* an owner with an address and a MAC, so that an element may be the domain's, or bind its
     * address or MAC to a foreign one (the refusal's reason formats fields of any length) */
    {
        NcAddr a;
        g_autofree char *why = NULL;

        nc_addr_parse("10.0.0.5", &a, NULL);
        g_array_append_val(owner->addresses, a);
        g_array_append_vals(owner->macs, (const guint8[]){0x52, 0x54, 0, 0, 0, 5}, 1);
        if (!ops->owns(owner, item, &why))
            nc_fuzz_check(why && *why);
    }
    ops->free(item);
    return 0;
}

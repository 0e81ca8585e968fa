/* fuzz-profile.c - libFuzzer target: netcarry's profile and the libvirt domain XML around it
 * The destination's hook hands netcarryd the domain XML libvirt got from the source, profile
 * included: parse it as a profile document and as a domain, derive the addresses, rewrite the
 * profile. What parses must format and read back.
 */
#include <string.h>

#include "conf/nc-domain.h"
#include "nc-fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    nc_fuzz_init();
    return 0;
}

static void fuzz_profile(const char *data, gsize size)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(NcProfile) profile = nc_profile_parse_buffer(data, size, "fuzz", &error);
    g_autoptr(NcProfile) copy = NULL;
    g_autoptr(NcProfile) reparsed = NULL;
    g_autofree char *text = NULL;
    g_autofree char *again = NULL;

    nc_fuzz_check(profile || (error && error->message && *error->message));
    if (!profile)
        return;
    copy = nc_profile_copy(profile);
    text = nc_profile_format(copy);
    reparsed = nc_profile_parse_buffer(text, strlen(text), "fuzz (formatted)", &error);
    if (!reparsed)
        g_printerr("formatted profile refused: %s\n%s\n", error->message, text);
    nc_fuzz_check(reparsed != NULL);
    again = nc_profile_format(reparsed);
    nc_fuzz_check(strcmp(text, again) == 0);
}

static void fuzz_domain(const char *data, gsize size)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(NcDomain) domain = nc_domain_parse_buffer(data, size, "fuzz", &error);
    g_autoptr(GArray) addresses = NULL;
    g_autoptr(NcProfile) profile = NULL;
    g_autofree char *described = NULL;
    g_autofree char *with = NULL;
    g_autofree char *without = NULL;

    nc_fuzz_check(domain || (error && error->message && *error->message));
    if (!domain)
        return;
    described = nc_domain_describe(domain);
    addresses = nc_domain_addresses(domain, &error);
    g_clear_error(&error);
    for (guint i = 0; i < domain->interfaces->len; i++) {
        const NcDomainIface *iface = g_ptr_array_index(domain->interfaces, i);
        if (iface->mac)
            nc_fuzz_check(nc_domain_find_iface(domain, iface->mac) != NULL);
    }

    /* what netcarryd does to a running domain's XML: publish a rendezvous, and take it away */
    profile = domain->profile ? nc_profile_copy(domain->profile) : nc_profile_new();
    g_clear_pointer(&profile->rendezvous, nc_rendezvous_free);
    profile->rendezvous =
        nc_rendezvous_new("host-a.example", 16520, "host-a.example", NULL);
    with = nc_domain_xml_set_profile(data, size, "fuzz", profile, &error);
    g_clear_error(&error);
    without = nc_domain_xml_set_profile(data, size, "fuzz", NULL, &error);
    g_clear_error(&error);
    if (with) {
        /* a document netcarryd hands to libvirt parses, with the profile it put there */
        g_autoptr(NcDomain) back = nc_domain_parse_buffer(with, strlen(with), "fuzz (set)", &error);
        if (!back)
            g_printerr("rewritten domain refused: %s\n%s\n", error->message, with);
        nc_fuzz_check(back != NULL);
        nc_fuzz_check(back->profile && back->profile->rendezvous);
        nc_fuzz_check(strcmp(back->uuid, domain->uuid) == 0);
    }
}

int LLVMFuzzerTestOneInput(const guint8 *data, size_t size)
{
    fuzz_profile((const char *)data, size);
    fuzz_domain((const char *)data, size);
    return 0;
}

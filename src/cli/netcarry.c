/* netcarry.c - the operator's command line: capture, install, remove, diff, validate, report,
 * status
 *
 * Every command exits 0 on success and non-zero with one line on stderr that
 * says what failed; `diff` exits 1 when the bundles differ, like diff(1).
 *
 * capture, install and diff know the classes of state only through the state-driver seam
 * (src/drivers/nc-state-driver.h): conntrack (nc_ct_state_driver) and the registry's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/nc-bundle.h"
#include "conf/nc-document.h"
#include "conf/nc-mdb-items.h"
#include "conf/nc-nft-items.h"
#include "conf/nc-report-svg.h"
#include "conf/nc-report.h"
#include "daemon/nc-hook-server.h"
#include "daemon/nc-status.h"
#include "daemon/nc-ct-class.h"
#include "drivers/nc-ct.h"
#include "drivers/nc-mdb.h"
#include "drivers/nc-state-driver.h"
#include "nc-config.h"
#include "util/nc-error.h"
#include "util/nc-xml.h"

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#define NC_EXIT_OK 0
#define NC_EXIT_DIFFERENT 1
#define NC_EXIT_FAILED 2

/* Options shared by the commands that select a VM's entries. */
typedef struct {
    char *netns;
    char **addresses;
    char **macs;
    char *zone;
    char *mark;
    char *output;
    char *domain_name;
    char *domain_uuid;
    char **objects;
    char **classes;
    char **ports;
} NcCliOptions;

static void nc_cli_options_clear(NcCliOptions *o)
{
    g_free(o->netns);
    g_strfreev(o->addresses);
    g_strfreev(o->macs);
    g_free(o->zone);
    g_free(o->mark);
    g_free(o->output);
    g_free(o->domain_name);
    g_free(o->domain_uuid);
    g_strfreev(o->objects);
    g_strfreev(o->classes);
    g_strfreev(o->ports);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(NcCliOptions, nc_cli_options_clear)

/**
 * nc_cli_parse_uint() - parse a decimal or 0x-hex number no larger than @max
 * @what:  the option's name, for the message
 *
 * Return: TRUE on success
 */
static gboolean nc_cli_parse_uint(const char *what, const char *text, guint64 max, guint64 *out,
                                  GError **error)
{
    guint base = 10;
    const char *digits = text;

    if (g_str_has_prefix(text, "0x") || g_str_has_prefix(text, "0X")) {
        base = 16;
        digits = text + 2;
    }
    if (!g_ascii_string_to_unsigned(digits, base, 0, max, out, NULL)) {
        g_set_error(error, NC_ERROR, NC_ERROR_INVALID_ARG,
                    "%s '%s' is not a number from 0 to %" G_GUINT64_FORMAT, what, text, max);
        return FALSE;
    }
    return TRUE;
}

/**
 * nc_cli_selector_init() - turn --address, --zone and --mark into a selector
 * @sel:   filled; sel->addresses is newly allocated
 *
 * Return: TRUE on success; FALSE with an error naming the bad option value
 */
static gboolean nc_cli_selector_init(const NcCliOptions *o, NcCtSelector *sel, GError **error)
{
    guint64 v;

    memset(sel, 0, sizeof(*sel));
    sel->addresses = g_array_new(FALSE, TRUE, sizeof(NcAddr));
    if (!o->addresses || !o->addresses[0]) {
        g_set_error_literal(error, NC_ERROR, NC_ERROR_INVALID_ARG,
                            "at least one --address is required");
        return FALSE;
    }
    for (char **a = o->addresses; *a; a++) {
        NcAddr addr;
        g_autoptr(GError) local = NULL;

        if (!nc_addr_parse(*a, &addr, &local)) {
            g_set_error(error, NC_ERROR, NC_ERROR_INVALID_ARG, "--address: %s", local->message);
            return FALSE;
        }
        g_array_append_val(sel->addresses, addr);
    }
    if (o->zone) {
        if (!nc_cli_parse_uint("--zone", o->zone, G_MAXUINT16, &v, error))
            return FALSE;
        sel->has_zone = TRUE;
        sel->zone = v;
    }
    if (o->mark) {
        if (!nc_cli_parse_uint("--mark", o->mark, G_MAXUINT32, &v, error))
            return FALSE;
        sel->has_mark = TRUE;
        sel->mark = v;
    }
    return TRUE;
}

static const char *nc_cli_netns_name(const NcCliOptions *o)
{
    return o->netns ? o->netns : "the current network namespace";
}

/**
 * nc_cli_parse_args_range() - parse one command's options; print its --help
 * @summary:   one line on what the command does
 * @params:    the positional arguments, for the usage line
 * @min, @max: how many positional arguments are allowed (some options replace one)
 *
 * Return: TRUE when the command should run
 */
static gboolean nc_cli_parse_args_range(const char *command, const char *params,
                                        const char *summary, GOptionEntry *entries, guint min,
                                        guint max, int *argc, char ***argv, GError **error)
{
    g_autofree char *usage = g_strdup_printf("%s %s", command, params);
    g_autoptr(GOptionContext) ctx = g_option_context_new(usage);

    g_option_context_set_summary(ctx, summary);
    g_option_context_add_main_entries(ctx, entries, NULL);
    if (!g_option_context_parse(ctx, argc, argv, error))
        return FALSE;
    /* argv[0] is "netcarry", argv[1] the command */
    if ((guint)*argc < min + 2 || (guint)*argc > max + 2) {
        if (min == max)
            g_set_error(error, NC_ERROR, NC_ERROR_INVALID_ARG,
                        "'%s' takes %u argument%s (%s); see 'netcarry %s --help'", command, min,
                        min == 1 ? "" : "s", *params ? params : "none", command);
        else
            g_set_error(error, NC_ERROR, NC_ERROR_INVALID_ARG,
                        "'%s' takes %u to %u arguments (%s); see 'netcarry %s --help'", command,
                        min, max, params, command);
        return FALSE;
    }
    return TRUE;
}

/* nc_cli_parse_args() - nc_cli_parse_args_range() for exactly @n_params arguments */
static gboolean nc_cli_parse_args(const char *command, const char *params, const char *summary,
                                  GOptionEntry *entries, guint n_params, int *argc, char ***argv,
                                  GError **error)
{
    return nc_cli_parse_args_range(command, params, summary, entries, n_params, n_params, argc,
                                   argv, error);
}

#define NC_OPT_NETNS(o)                                                                            \
    {"netns", 'n', 0, G_OPTION_ARG_STRING, &(o).netns,                                             \
     "Network namespace under /run/netns (default: the caller's own)", "NAME"}
#define NC_OPT_SELECTOR(o)                                                                         \
    {"address", 'a', 0, G_OPTION_ARG_STRING_ARRAY, &(o).addresses,                                 \
     "An address of the VM (IPv4 or IPv6; repeat for more)", "ADDR"},                              \
        {"zone", 'z', 0, G_OPTION_ARG_STRING, &(o).zone, "Only entries in this conntrack zone",    \
         "N"},                                                                                     \
    {                                                                                              \
        "mark", 'm', 0, G_OPTION_ARG_STRING, &(o).mark, "Only entries with this connmark", "MARK"  \
    }

/* ---- the classes ---- */

/* Every class the CLI knows, in the bundle's order: conntrack, then the registry's. The checked
 * classes (static policy) are compared at a migration's admission and have nothing to capture
 * into a bundle. */
static GPtrArray *nc_cli_classes(void)
{
    GPtrArray *list = g_ptr_array_new();
    guint n;
    const NcStateDriver *const *drivers = nc_state_drivers(&n);

    g_ptr_array_add(list, (gpointer)&nc_ct_state_driver);
    for (guint i = 0; i < n; i++)
        if (!drivers[i]->checked)
            g_ptr_array_add(list, (gpointer)drivers[i]);
    return list;
}

static const NcStateDriver *nc_cli_class_lookup(const char *name)
{
    g_autoptr(GPtrArray) all = nc_cli_classes();

    for (guint i = 0; i < all->len; i++) {
        const NcStateDriver *d = all->pdata[i];

        if (g_strcmp0(d->ops->name, name) == 0)
            return d;
    }
    return NULL;
}

/* "conntrack, nft-set, nft-object" (transfer full) */
static char *nc_cli_class_names(void)
{
    g_autoptr(GPtrArray) all = nc_cli_classes();
    GString *s = g_string_new(NULL);

    for (guint i = 0; i < all->len; i++)
        g_string_append_printf(s, "%s%s", i ? ", " : "",
                               ((const NcStateDriver *)all->pdata[i])->ops->name);
    return g_string_free(s, FALSE);
}

/**
 * nc_cli_selected_classes() - the classes --class names, or every class
 * @names: (nullable): the --class values
 * @error: NC_ERROR_INVALID_ARG for an unknown name, listing the known ones
 *
 * Return: (transfer container) (element-type NcStateDriver): in the bundle's order, or NULL
 */
static GPtrArray *nc_cli_selected_classes(char **names, GError **error)
{
    g_autoptr(GPtrArray) all = nc_cli_classes();
    GPtrArray *out;

    for (char **n = names; n && *n; n++) {
        if (!nc_cli_class_lookup(*n)) {
            g_autofree char *known = nc_cli_class_names();

            g_set_error(error, NC_ERROR, NC_ERROR_INVALID_ARG,
                        "--class '%s' is not a class of state; the classes are %s", *n, known);
            return NULL;
        }
    }
    if (!names || !names[0])
        return g_steal_pointer(&all);
    out = g_ptr_array_new();
    for (guint i = 0; i < all->len; i++) {
        const NcStateDriver *d = all->pdata[i];

        if (g_strv_contains((const char *const *)names, d->ops->name))
            g_ptr_array_add(out, (gpointer)d);
    }
    return out;
}

/* A driver's handle, closed with its driver. */
typedef struct {
    const NcStateDriver *driver;
    gpointer handle;
} NcCliHandle;

static void nc_cli_handle_clear(NcCliHandle *h)
{
    if (h->handle)
        h->driver->close(h->handle);
    h->handle = NULL;
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(NcCliHandle, nc_cli_handle_clear)

static void nc_cli_not_carried_print(const NcBundle *bundle, const char *path)
{
    for (guint i = 0; i < bundle->not_carried->len; i++) {
        const NcNotCarried *nc = g_ptr_array_index(bundle->not_carried, i);

        g_printerr("netcarry: %s: not carried (%s): %s: %s\n", path, nc->class_name, nc->what,
                   nc->reason);
    }
}

/* "3 conntrack, 2 nft-set, 0 nft-object" for the classes in @bundle (transfer full) */
static char *nc_cli_counts(const NcBundle *bundle, GPtrArray *classes)
{
    GString *s = g_string_new(NULL);

    for (guint i = 0; i < classes->len; i++) {
        const NcStateDriver *d = classes->pdata[i];
        g_autoptr(NcItemSet) items = NULL;

        if (!nc_bundle_has_class(bundle, d->ops->name))
            continue;
        items = nc_bundle_class_items(bundle, d->ops, NULL);
        g_string_append_printf(s, "%s%u %s", s->len ? ", " : "",
                               items ? nc_item_set_count(items) : 0, d->ops->name);
    }
    return g_string_free(s, FALSE);
}

/* --port: each port's MAC (what keys its mdb entries) into the bundle */
static gboolean nc_cli_ports_resolve(const NcCliOptions *o, NcBundle *bundle, GError **error)
{
    g_autoptr(NcMdb) mdb = nc_mdb_open(o->netns, error);

    if (!mdb)
        return FALSE;
    for (char **name = o->ports; *name; name++) {
        NcOwnerPort *p = g_new0(NcOwnerPort, 1);

        p->ifname = g_strdup(*name);
        g_ptr_array_add(bundle->ports, p);
        if (!nc_mdb_port_mac(mdb, *name, p->mac, error)) {
            g_prefix_error(error, "--port: ");
            return FALSE;
        }
    }
    return TRUE;
}

/* install --port IFNAME: the bundle's mdb entries go onto this port, whatever its name or MAC
 * (they must be of one interface) */
static gboolean nc_cli_install_port(const NcBundle *bundle, const char *ifname, NcOwner *owner,
                                    GError **error)
{
    g_autoptr(NcItemSet) items = nc_bundle_class_items(bundle, &nc_mdb_class, error);
    g_autoptr(GPtrArray) list = NULL;

    if (!items)
        return FALSE;
    list = nc_item_set_items(items);
    for (guint i = 0; i < list->len; i++) {
        const NcMdbEntry *e = list->pdata[i];
        const NcOwnerPort *p = nc_owner_find_port(owner, e->mac);

        if (p && p->ifname)
            continue;
        if (owner->ports->len) {
            g_set_error(error, NC_ERROR, NC_ERROR_INVALID_ARG,
                        "--port %s: the bundle's mdb entries are of more than one interface; "
                        "install them by their MACs (without --port)",
                        ifname);
            return FALSE;
        }
        nc_owner_add_port(owner, e->mac, ifname, NULL);
    }
    return TRUE;
}

static gboolean nc_cmd_capture(int argc, char **argv, GError **error)
{
    g_auto(NcCliOptions) o = {0};
    GOptionEntry entries[] = {
        NC_OPT_NETNS(o),
        NC_OPT_SELECTOR(o),
        {"mac", 0, 0, G_OPTION_ARG_STRING_ARRAY, &o.macs,
         "A MAC address of the VM, for its anti-spoofing set elements (repeat for more)", "MAC"},
        {"object", 0, 0, G_OPTION_ARG_STRING_ARRAY, &o.objects,
         "A named counter or quota of the VM (repeat for more)", "FAMILY/TABLE/NAME"},
        {"port", 0, 0, G_OPTION_ARG_STRING_ARRAY, &o.ports,
         "A bridge port of the VM: its mdb (IGMP/MLD snooping) entries are captured, keyed by "
         "the port's MAC (repeat for more)",
         "IFNAME"},
        {"class", 0, 0, G_OPTION_ARG_STRING_ARRAY, &o.classes,
         "Capture only this class: conntrack, nft-set, nft-object, mdb (repeat for more; "
         "default: every class this host can capture)",
         "CLASS"},
        {"output", 'o', 0, G_OPTION_ARG_FILENAME, &o.output,
         "Write the bundle here (default: stdout)", "FILE"},
        {"domain", 0, 0, G_OPTION_ARG_STRING, &o.domain_name, "Record this VM name in the bundle",
         "NAME"},
        {"uuid", 0, 0, G_OPTION_ARG_STRING, &o.domain_uuid, "Record this VM UUID in the bundle",
         "UUID"},
        {NULL}};
    NcCtSelector sel;
    g_autoptr(NcBundle) bundle = nc_bundle_new();
    g_autoptr(NcOwner) owner = NULL;
    g_autoptr(GPtrArray) classes = NULL;
    g_autofree char *counts = NULL;

    if (!nc_cli_parse_args("capture", "",
                           "Capture a VM's network state (every class, or those named) into a "
                           "bundle.",
                           entries, 0, &argc, &argv, error))
        return FALSE;
    if (!nc_cli_selector_init(&o, &sel, error)) {
        g_array_unref(sel.addresses);
        return FALSE;
    }
    bundle->has_zone = sel.has_zone;
    bundle->zone = sel.zone;
    bundle->has_mark = sel.has_mark;
    bundle->mark = sel.mark;
    g_array_unref(bundle->addresses);
    bundle->addresses = sel.addresses; /* the bundle owns them from here */
    if (o.domain_uuid && !g_uuid_string_is_valid(o.domain_uuid)) {
        g_set_error(error, NC_ERROR, NC_ERROR_INVALID_ARG, "--uuid '%s' is not a UUID",
                    o.domain_uuid);
        return FALSE;
    }
    for (char **m = o.macs; m && *m; m++) {
        guint8 mac[6];

        if (!nc_mac_parse(*m, mac)) {
            g_set_error(error, NC_ERROR, NC_ERROR_INVALID_ARG,
                        "--mac: '%s' is not a MAC address (six hexadecimal bytes separated by "
                        "colons, e.g. 52:54:00:ab:cd:01)",
                        *m);
            return FALSE;
        }
        g_array_append_vals(bundle->macs, mac, 1);
    }
    for (char **ref = o.objects; ref && *ref; ref++) {
        g_autoptr(GError) local = NULL;
        NcObjectRef *r = nc_object_ref_parse(*ref, NULL, &local);
        guint8 family;

        if (r && !nc_nft_family_parse(r->family, &family)) {
            g_set_error(&local, NC_ERROR, NC_ERROR_INVALID_ARG,
                        "'%s' is not an nftables family (ip, ip6, inet, arp, bridge, netdev)",
                        r->family);
            g_clear_pointer(&r, nc_object_ref_free);
        }
        if (!r) {
            g_set_error(error, NC_ERROR, NC_ERROR_INVALID_ARG, "--object: %s", local->message);
            return FALSE;
        }
        g_ptr_array_add(bundle->objects, r);
    }
    classes = nc_cli_selected_classes(o.classes, error);
    if (!classes)
        return FALSE;
    if (o.ports && o.ports[0] && !nc_cli_ports_resolve(&o, bundle, error))
        return FALSE;

    bundle->host = g_strdup(o.netns ? o.netns : g_get_host_name());
    bundle->domain_name = g_steal_pointer(&o.domain_name);
    bundle->domain_uuid = g_steal_pointer(&o.domain_uuid);
    bundle->phase = NC_CAPTURE_MANUAL;
    bundle->captured_us = g_get_real_time();
    bundle->has_conntrack = FALSE;
    owner = nc_bundle_owner(bundle);
    /* each port by its name here, not by its MAC */
    for (guint i = 0; i < bundle->ports->len; i++) {
        const NcOwnerPort *p = g_ptr_array_index(bundle->ports, i);

        nc_owner_add_port(owner, p->mac, p->ifname, NULL);
    }

    for (guint i = 0; i < classes->len; i++) {
        const NcStateDriver *d = classes->pdata[i];
        gboolean named = o.classes && o.classes[0];
        g_auto(NcCliHandle) h = {d, NULL};
        g_autoptr(NcItemSet) items = nc_item_set_new(d->ops);
        g_autoptr(GError) local = NULL;

        h.handle = d->open(o.netns, error);
        if (!h.handle) {
            g_prefix_error(error, "class %s: ", d->ops->name);
            return FALSE;
        }
        /* a class this host cannot capture (its probe fails) is left out, unless asked for */
        if (!d->probe(h.handle, owner, NULL, &local)) {
            if (named) {
                g_propagate_prefixed_error(error, g_steal_pointer(&local),
                                           "class %s: ", d->ops->name);
                return FALSE;
            }
            g_printerr("netcarry: class %s not captured: %s\n", d->ops->name, local->message);
            continue;
        }
        if (!d->capture(h.handle, owner, items, bundle->not_carried, error)) {
            g_prefix_error(error, "class %s: ", d->ops->name);
            return FALSE;
        }
        nc_bundle_take_class_items(bundle, g_steal_pointer(&items));
    }

    counts = nc_cli_counts(bundle, classes);
    if (o.output) {
        if (!nc_bundle_save(bundle, o.output, error))
            return FALSE;
        g_printerr("netcarry: captured %s from %s into %s\n", *counts ? counts : "nothing",
                   nc_cli_netns_name(&o), o.output);
    } else {
        g_autofree char *xml = nc_bundle_format(bundle);

        if (fputs(xml, stdout) == EOF || fflush(stdout) != 0) {
            g_set_error_literal(error, NC_ERROR, NC_ERROR_IO, "cannot write the bundle to stdout");
            return FALSE;
        }
    }
    nc_cli_not_carried_print(bundle, o.output ? o.output : "stdout");
    return TRUE;
}

/* the order classes install in: the pre-copy classes (sets before conntrack, whose entries the
 * sets' rules may have made), then the values taken at the seal (nc-state-driver.h) */
static guint nc_cli_install_rank(const NcStateDriver *d)
{
    if (d->at == NC_DRIVER_AT_SEAL)
        return 2;
    return d == &nc_ct_state_driver ? 1 : 0;
}

static gint nc_cli_install_order(gconstpointer a, gconstpointer b)
{
    guint ra = nc_cli_install_rank(*(const NcStateDriver *const *)a);
    guint rb = nc_cli_install_rank(*(const NcStateDriver *const *)b);

    return ra < rb ? -1 : ra > rb;
}

/**
 * nc_cmd_install() - install every class of a bundle, all or nothing across classes
 *
 * Ownership is the bundle's: its addresses (conntrack entries, set elements) and the objects it
 * names. A bundle names what it was captured for; an item that is not the domain's by them
 * would let one VM's bundle open another's connections, so nothing is installed then.
 */
static gboolean nc_cmd_install(int argc, char **argv, GError **error)
{
    g_auto(NcCliOptions) o = {0};
    GOptionEntry entries[] = {
        NC_OPT_NETNS(o),
        {"port", 0, 0, G_OPTION_ARG_STRING_ARRAY, &o.ports,
         "Put the bundle's mdb entries on this bridge port (default: the port whose MAC is "
         "theirs, or libvirt's tap for it)",
         "IFNAME"},
        {NULL}};
    g_autoptr(NcBundle) bundle = NULL;
    g_autoptr(NcOwner) owner = NULL;
    g_autoptr(GPtrArray) all = nc_cli_classes();
    g_autoptr(GPtrArray) classes = g_ptr_array_new();
    g_autoptr(GArray) carry = g_array_new(FALSE, TRUE, sizeof(NcClassCarry));
    g_autoptr(GPtrArray) sets = g_ptr_array_new_with_free_func((GDestroyNotify)nc_item_set_free);
    NcCliHandle handles[8] = {{0}};
    g_autoptr(GError) local = NULL;
    g_autoptr(GString) counts_text = NULL;
    const char *path;
    gboolean ok = FALSE;

    if (!nc_cli_parse_args("install", "FILE",
                           "Install every class of a bundle's state, all or nothing across "
                           "classes.",
                           entries, 1, &argc, &argv, error))
        return FALSE;
    path = argv[2];
    bundle = nc_bundle_parse_file(path, error);
    if (!bundle)
        return FALSE;
    owner = nc_bundle_owner(bundle);
    if (o.ports && o.ports[0]) {
        if (o.ports[1]) {
            g_set_error_literal(error, NC_ERROR, NC_ERROR_INVALID_ARG, "install takes one --port");
            return FALSE;
        }
        if (!nc_cli_install_port(bundle, o.ports[0], owner, error))
            return FALSE;
    }
    for (guint i = 0; i < all->len; i++) {
        if (nc_bundle_has_class(bundle, ((const NcStateDriver *)all->pdata[i])->ops->name))
            g_ptr_array_add(classes, all->pdata[i]);
    }
    g_ptr_array_sort(classes, nc_cli_install_order);
    g_assert(classes->len <= G_N_ELEMENTS(handles));

    for (guint i = 0; i < classes->len; i++) {
        const NcStateDriver *d = classes->pdata[i];
        NcItemSet *items = nc_bundle_class_items(bundle, d->ops, error);
        NcClassCarry c = {d, NULL, items, NULL};

        if (!items)
            goto out;
        g_ptr_array_add(sets, items);
        if (!nc_item_set_count(items))
            continue; /* nothing of the class to install: no handle needed */
        handles[i].driver = d;
        handles[i].handle = d->open(o.netns, error);
        if (!handles[i].handle) {
            g_prefix_error(error, "class %s: ", d->ops->name);
            goto out;
        }
        c.handle = handles[i].handle;
        g_array_append_val(carry, c);
    }
    if (!nc_state_drivers_install_all((NcClassCarry *)(gpointer)carry->data, carry->len, owner,
                                      &local)) {
        g_set_error(error, NC_ERROR, local->code, "%s: %s (nothing of any class was installed)",
                    path, local->message);
        goto out;
    }
    /* per class, what went in; an item the destination held already is not the install's */
    counts_text = g_string_new(NULL);
    for (guint i = 0; i < carry->len; i++) {
        NcClassCarry *c = &g_array_index(carry, NcClassCarry, i);
        guint sent = nc_item_set_count(c->items), put = nc_item_set_count(c->installed);

        g_string_append_printf(counts_text, "%s%u %s", i ? ", " : "", put, c->driver->ops->name);
        if (put < sent)
            g_string_append_printf(counts_text, " (%u there already)", sent - put);
        g_clear_pointer(&c->installed, nc_item_set_free);
    }
    g_printerr("netcarry: installed %s into %s\n", counts_text->len ? counts_text->str : "nothing",
               nc_cli_netns_name(&o));
    ok = TRUE;
out:
    nc_cli_not_carried_print(bundle, path);
    for (guint i = 0; i < G_N_ELEMENTS(handles); i++)
        nc_cli_handle_clear(&handles[i]);
    return ok;
}

static gboolean nc_cmd_remove(int argc, char **argv, GError **error)
{
    g_auto(NcCliOptions) o = {0};
    GOptionEntry entries[] = {NC_OPT_NETNS(o), NC_OPT_SELECTOR(o), {NULL}};
    g_autoptr(NcCt) ct = NULL;
    g_autoptr(GArray) addresses = NULL;
    NcCtSelector sel;
    guint removed = 0;
    gboolean ok;

    if (!nc_cli_parse_args("remove", "", "Remove the conntrack entries of a VM's addresses.",
                           entries, 0, &argc, &argv, error))
        return FALSE;
    ok = nc_cli_selector_init(&o, &sel, error);
    addresses = sel.addresses;
    if (!ok)
        return FALSE;
    ct = nc_ct_open(o.netns, error);
    if (!ct || !nc_ct_remove(ct, &sel, &removed, error))
        return FALSE;
    g_printerr("netcarry: removed %u conntrack entries from %s\n", removed, nc_cli_netns_name(&o));
    return TRUE;
}

static void nc_cli_print_lines(const char *sign, GPtrArray *lines)
{
    for (guint i = 0; i < lines->len; i++)
        g_print("%s %s\n", sign, (const char *)g_ptr_array_index(lines, i));
}

/* Set elements of two captures @ms apart (@a the older): timeouts tick between them, and an
 * install lands some ms after its capture; so @a's remaining times are taken to @b's instant, and
 * within NC_CLI_EXPIRES_SLACK_MS of @b's they count as the same (they take @b's value).
 * (transfer full): @a so adjusted */
#define NC_CLI_EXPIRES_SLACK_MS 1000
static NcItemSet *nc_cli_aged(const NcItemSet *a, const NcItemSet *b, gint64 ms)
{
    NcItemSet *out = nc_item_set_new(nc_item_set_ops(a));
    g_autoptr(GPtrArray) items = nc_item_set_items(a);

    for (guint i = 0; i < items->len; i++) {
        NcNftSetElem *e = nc_nft_set_elem_copy(items->pdata[i]);
        const NcNftSetElem *other = nc_item_set_lookup(b, e);

        if (e->has_timeout) {
            e->expires_ms = e->expires_ms > (guint64)ms ? e->expires_ms - (guint64)ms : 0;
            if (other && other->has_timeout &&
                ABS((gint64)other->expires_ms - (gint64)e->expires_ms) <= NC_CLI_EXPIRES_SLACK_MS)
                e->expires_ms = other->expires_ms;
        }
        nc_item_set_upsert(out, e, NULL, NULL);
    }
    return out;
}

/* Per class: what FILE1 has that FILE2 lacks (-), the reverse (+), and what differs (~), with
 * the class's own comparison (nc-item-set.h). A class in one bundle only is all - or all +.
 * Set elements' remaining times are compared as at the later capture, within 1 s. */
static gboolean nc_cmd_diff(int argc, char **argv, gboolean *different, GError **error)
{
    GOptionEntry entries[] = {{NULL}};
    g_autoptr(NcBundle) a = NULL;
    g_autoptr(NcBundle) b = NULL;
    g_autoptr(GPtrArray) classes = nc_cli_classes();

    if (!nc_cli_parse_args("diff", "FILE1 FILE2",
                           "Compare two bundles class by class (exit 1 if they differ).", entries,
                           2, &argc, &argv, error))
        return FALSE;
    if (!(a = nc_bundle_parse_file(argv[2], error)) || !(b = nc_bundle_parse_file(argv[3], error)))
        return FALSE;
    *different = FALSE;
    for (guint i = 0; i < classes->len; i++) {
        const NcStateDriver *d = classes->pdata[i];
        g_autoptr(NcItemSet) ia = NULL;
        g_autoptr(NcItemSet) ib = NULL;
        g_autoptr(NcItemDiff) diff = NULL;

        if (!nc_bundle_has_class(a, d->ops->name) && !nc_bundle_has_class(b, d->ops->name))
            continue;
        if (!(ia = nc_bundle_class_items(a, d->ops, error)) ||
            !(ib = nc_bundle_class_items(b, d->ops, error)))
            return FALSE;
        if (d->ops == &nc_nft_set_class && a->captured_us && b->captured_us) {
            gint64 ms = (b->captured_us - a->captured_us) / 1000;
            NcItemSet **older = ms >= 0 ? &ia : &ib;
            NcItemSet *aged = nc_cli_aged(*older, ms >= 0 ? ib : ia, ABS(ms));

            nc_item_set_free(*older);
            *older = aged;
        }
        diff = nc_item_set_diff(ia, ib);
        if (nc_item_diff_is_empty(diff))
            continue;
        *different = TRUE;
        nc_cli_print_lines("-", diff->missing);
        nc_cli_print_lines("+", diff->extra);
        nc_cli_print_lines("~", diff->changed);
        g_printerr("netcarry: %s: %u missing from %s, %u extra, %u changed\n", d->ops->name,
                   diff->missing->len, argv[3], diff->extra->len, diff->changed->len);
    }
    return TRUE;
}

static gboolean nc_cmd_validate(int argc, char **argv, GError **error)
{
    GOptionEntry entries[] = {{NULL}};

    if (!nc_cli_parse_args("validate", "FILE",
                           "Check a file against its netcarry schema (bundles of format 1 and 2, "
                           "profiles, reports).",
                           entries, 1, &argc, &argv, error))
        return FALSE;
    if (!nc_document_validate_file(argv[2], error))
        return FALSE;
    g_print("%s: valid\n", argv[2]);
    return TRUE;
}

/* libvirt prints every error to stderr by default; the CLI says one line of its own instead. */
static void nc_cli_quiet_libvirt(void *user_data, virErrorPtr error)
{
}

/**
 * nc_cli_read_report() - the report XML stored in a domain's metadata
 * @uri:    libvirt URI
 * @name:   the domain's name or UUID
 * @error:  names the domain (or the URI) and what to do
 *
 * Return: (transfer full): the element, or NULL
 */
static char *nc_cli_read_report(const char *uri, const char *name, GError **error)
{
    virConnectPtr conn;
    virDomainPtr dom;
    char *xml;
    g_autofree char *result = NULL;

    virSetErrorFunc(NULL, nc_cli_quiet_libvirt);
    conn = virConnectOpenReadOnly(uri);
    if (!conn) {
        g_set_error(error, NC_ERROR, NC_ERROR_IO, "cannot connect to libvirt at %s: %s", uri,
                    virGetLastErrorMessage());
        return NULL;
    }
    dom = virDomainLookupByName(conn, name);
    if (!dom)
        dom = virDomainLookupByUUIDString(conn, name);
    if (!dom) {
        g_set_error(error, NC_ERROR, NC_ERROR_NOT_FOUND,
                    "no domain named '%s' at %s; see 'virsh -c %s list --all'", name, uri, uri);
        virConnectClose(conn);
        return NULL;
    }
    xml = virDomainGetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, NC_REPORT_NS,
                               VIR_DOMAIN_AFFECT_CURRENT);
    if (!xml) {
        virErrorPtr err = virGetLastError();

        if (err && err->code == VIR_ERR_NO_DOMAIN_METADATA)
            g_set_error(error, NC_ERROR, NC_ERROR_NOT_FOUND,
                        "domain '%s' has no netcarry report: it has not arrived here by a "
                        "migration that netcarryd followed",
                        name);
        else
            g_set_error(error, NC_ERROR, NC_ERROR_IO, "cannot read the metadata of domain '%s': %s",
                        name, virGetLastErrorMessage());
    } else {
        result = g_strdup(xml);
        free(xml);
    }
    virDomainFree(dom);
    virConnectClose(conn);
    return g_steal_pointer(&result);
}

/* nc_cli_write() - @text to @path ("-": stdout), whole or not at all */
static gboolean nc_cli_write(const char *path, const char *text, const char *what, GError **error)
{
    g_autoptr(GError) local = NULL;

    if (g_str_equal(path, "-")) {
        if (fputs(text, stdout) == EOF || fflush(stdout) != 0) {
            g_set_error(error, NC_ERROR, NC_ERROR_IO, "cannot write the %s to stdout", what);
            return FALSE;
        }
        return TRUE;
    }
    if (!g_file_set_contents(path, text, -1, &local)) {
        g_set_error(error, NC_ERROR, NC_ERROR_IO, "cannot write the %s to %s: %s", what, path,
                    local->message);
        return FALSE;
    }
    return TRUE;
}

static gboolean nc_cmd_report(int argc, char **argv, GError **error)
{
    g_autofree char *uri = NULL;
    g_autofree char *file = NULL;
    g_autofree char *svg_path = NULL;
    gboolean as_xml = FALSE, as_json = FALSE;
    GOptionEntry entries[] = {
        {"connect", 'c', 0, G_OPTION_ARG_STRING, &uri, "libvirt URI (default qemu:///system)",
         "URI"},
        {"xml", 0, 0, G_OPTION_ARG_NONE, &as_xml, "Print the report's XML (xml/report.rng)", NULL},
        {"json", 0, 0, G_OPTION_ARG_NONE, &as_json,
         "Print the report as JSON (fields in netcarry(1))", NULL},
        {"svg", 0, 0, G_OPTION_ARG_FILENAME, &svg_path,
         "Draw the migration's timeline into FILE (SVG; - for stdout)", "FILE"},
        {"file", 'f', 0, G_OPTION_ARG_FILENAME, &file,
         "Read the report from FILE (its XML) instead of a domain's metadata", "FILE"},
        {NULL}};
    g_autofree char *xml = NULL;
    g_autofree char *where = NULL;
    g_autoptr(NcReport) report = NULL;

    if (!nc_cli_parse_args_range("report", "DOMAIN | --file FILE",
                                 "Print the report of a domain's last migration to this host.",
                                 entries, 0, 1, &argc, &argv, error))
        return FALSE;
    if ((argc == 3) == (file != NULL)) {
        g_set_error_literal(error, NC_ERROR, NC_ERROR_INVALID_ARG,
                            "'report' takes a DOMAIN or --file FILE, not both or neither; see "
                            "'netcarry report --help'");
        return FALSE;
    }
    if (as_xml && as_json) {
        g_set_error_literal(error, NC_ERROR, NC_ERROR_INVALID_ARG,
                            "--xml and --json exclude each other");
        return FALSE;
    }
    if (file) {
        report = nc_report_parse_file(file, error);
    } else {
        xml = nc_cli_read_report(uri ? uri : "qemu:///system", argv[2], error);
        if (!xml)
            return FALSE;
        where = g_strdup_printf("the report of domain '%s'", argv[2]);
        report = nc_report_parse_metadata(xml, strlen(xml), where, error);
    }
    if (!report)
        return FALSE;
    if (svg_path) {
        g_autofree char *svg = nc_report_to_svg(report);

        if (!nc_cli_write(svg_path, svg, "timeline", error))
            return FALSE;
        if (!g_str_equal(svg_path, "-"))
            g_printerr("netcarry: the timeline of %s's migration is in %s\n",
                       report->domain_name ? report->domain_name : "?", svg_path);
        /* the picture is what was asked for; a printed form only when one is named too */
        if (!as_xml && !as_json)
            return TRUE;
    }
    {
        g_autofree char *out = as_xml    ? nc_report_format(report)
                               : as_json ? nc_report_to_json(report)
                                         : nc_report_to_text(report);

        return nc_cli_write("-", out, "report", error);
    }
}

static gboolean nc_cmd_status(int argc, char **argv, GError **error)
{
    g_autofree char *path = NULL;
    gboolean as_json = FALSE;
    GOptionEntry entries[] = {{"config", 'c', 0, G_OPTION_ARG_FILENAME, &path,
                               "netcarryd's configuration (default " NC_CONFIG_DEFAULT_PATH ")",
                               "FILE"},
                              {"json", 0, 0, G_OPTION_ARG_NONE, &as_json,
                               "Print the status as JSON (fields in netcarry(1))", NULL},
                              {NULL}};
    g_autoptr(NcConfig) config = NULL;
    g_autoptr(GError) local = NULL;
    g_autofree char *text = NULL;
    g_autofree char *json = NULL;

    if (!nc_cli_parse_args("status", "", "List the domains netcarryd follows, with their phase.",
                           entries, 0, &argc, &argv, error))
        return FALSE;
    config = nc_config_load(path ? path : NC_CONFIG_DEFAULT_PATH, error);
    if (!config)
        return FALSE;
    text = nc_hook_status_call(config->hook_socket,
                               g_get_monotonic_time() + (gint64)config->hook_timeout_ms * 1000,
                               &local);
    if (!text) {
        if (g_error_matches(local, NC_ERROR, NC_ERROR_NOT_FOUND))
            g_set_error(error, NC_ERROR, NC_ERROR_NOT_FOUND,
                        "netcarryd is not running: nothing listens on %s", config->hook_socket);
        else
            g_set_error(error, NC_ERROR, local->code, "netcarryd on %s did not answer: %s",
                        config->hook_socket, local->message);
        return FALSE;
    }
    if (!as_json) {
        g_print("%s", text);
        return TRUE;
    }
    json = nc_status_text_to_json(text, error);
    return json && nc_cli_write("-", json, "status", error);
}

static const char nc_cli_usage[] =
    "Usage: netcarry COMMAND [OPTION...]\n"
    "\n"
    "Carry a VM's network state from one host's kernel to another's.\n"
    "\n"
    "Commands:\n"
    "  capture   capture a VM's state (conntrack, nft-set, nft-object, mdb) into a bundle\n"
    "  install   install every class of a bundle (all or nothing across classes)\n"
    "  remove    remove the conntrack entries of a VM's addresses\n"
    "  diff      compare two bundles class by class\n"
    "  validate  check a file against its netcarry schema\n"
    "  report    print or draw the report of a domain's last migration (its libvirt metadata)\n"
    "  status    list the domains netcarryd follows, with their phase\n"
    "\n"
    "'netcarry COMMAND --help' describes a command's options.\n";

int main(int argc, char **argv)
{
    g_autoptr(GError) error = NULL;
    const char *command = argc > 1 ? argv[1] : NULL;
    gboolean different = FALSE;
    gboolean ok;

    if (!command || g_str_equal(command, "--help") || g_str_equal(command, "-h") ||
        g_str_equal(command, "help")) {
        fputs(nc_cli_usage, command ? stdout : stderr);
        return command ? NC_EXIT_OK : NC_EXIT_FAILED;
    }
    if (g_str_equal(command, "--version")) {
        g_print("netcarry %s\n", NC_VERSION);
        return NC_EXIT_OK;
    }

    if (g_str_equal(command, "capture"))
        ok = nc_cmd_capture(argc, argv, &error);
    else if (g_str_equal(command, "install"))
        ok = nc_cmd_install(argc, argv, &error);
    else if (g_str_equal(command, "remove"))
        ok = nc_cmd_remove(argc, argv, &error);
    else if (g_str_equal(command, "diff"))
        ok = nc_cmd_diff(argc, argv, &different, &error);
    else if (g_str_equal(command, "validate"))
        ok = nc_cmd_validate(argc, argv, &error);
    else if (g_str_equal(command, "report"))
        ok = nc_cmd_report(argc, argv, &error);
    else if (g_str_equal(command, "status"))
        ok = nc_cmd_status(argc, argv, &error);
    else {
        g_printerr("netcarry: unknown command '%s'; see 'netcarry --help'\n", command);
        return NC_EXIT_FAILED;
    }

    if (!ok) {
        g_printerr("netcarry: %s\n", error ? error->message : "failed (no reason given)");
        return NC_EXIT_FAILED;
    }
    return different ? NC_EXIT_DIFFERENT : NC_EXIT_OK;
}

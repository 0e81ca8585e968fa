/* nc-policy-drv.c - the checked classes: the source reads its nwfilter tree (libvirt) and its
 * per-VM chains (nft); the destination compares them with its own and probes its ports' needs
 *
 * Theory of operation
 * -------------------
 * A checked driver's capture reads definitions on the source; its probe, at the destination's
 * admission, walks what the destination's own domain XML and profile reference (never the
 * source's word), reads its own definitions and compares them with what arrived
 * (nc_policy_def_compare()). The first difference is the error, and the caller decides by policy.
 * install and remove do nothing: policy is the operator's, never netcarry's to write.
 *
 * Where each reads:
 *  - nwfilter: libvirt (virNWFilterLookupByName/GetXMLDesc), through the lookups netcarryd
 *    registers (NcPolicyLibvirt, bounded there). The tree is followed through <filterref>s, at
 *    most NC_POLICY_TREE_MAX filters. Without a registered lookup (the command line, the kernel
 *    tests) a domain that references a filter cannot be checked: NC_ERROR_IO.
 *  - nft-chain: `nft --stateless list chain` in the engine's namespace (nc_nft_list_stateless()).
 *  - port: the bridge exists in the namespace (SIOCGIFINDEX); a libvirt network is active
 *    (NcPolicyLibvirt); <vlan> needs 802.1q or bridge VLAN filtering and <bandwidth> tc's htb,
 *    sfq, ingress and police: both probed once per process by trying them in a network
 *    namespace of a thread's own (unshare(2)), which disappears with the thread.
 * Error codes: NC_ERROR_NOT_FOUND (missing here) or NC_ERROR_FAILED (differs) are differences;
 * NC_ERROR_UNSUPPORTED: this host cannot apply what the domain needs (a VLAN, bandwidth), like a
 * difference. NC_ERROR_IO and NC_ERROR_TIMEOUT: the class cannot be checked here (no libvirt
 * connection in this process, libvirtd not answering in time): reported, never a veto.
 */
#define G_LOG_DOMAIN "nc-policy"
#define _GNU_SOURCE
#include <errno.h>
#include <net/if.h>
#include <sched.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "conf/nc-policy.h"
#include "drivers/nc-gate.h"
#include "drivers/nc-policy-drv.h"
#include "util/nc-addr.h"
#include "util/nc-error.h"
#include "util/nc-netns.h"

/* the most filters one domain's tree may hold (libvirt's own filters: about 20) */
#define NC_POLICY_TREE_MAX 256
/* each probe command's bound, in seconds (timeout(1)) */
#define NC_POLICY_PROBE_S "5"

static GMutex nc_policy_lock;
static NcPolicyLibvirt nc_policy_lv;
static gboolean nc_policy_has_lv;

void nc_policy_set_libvirt(const NcPolicyLibvirt *lv)
{
    g_mutex_lock(&nc_policy_lock);
    nc_policy_has_lv = lv != NULL;
    if (lv)
        nc_policy_lv = *lv;
    g_mutex_unlock(&nc_policy_lock);
}

static gboolean nc_policy_get_libvirt(NcPolicyLibvirt *lv, const char *what, GError **error)
{
    gboolean has;

    g_mutex_lock(&nc_policy_lock);
    has = nc_policy_has_lv;
    *lv = nc_policy_lv;
    g_mutex_unlock(&nc_policy_lock);
    if (!has)
        g_set_error(error, NC_ERROR, NC_ERROR_IO,
                    "%s cannot be read here: this process has no libvirt connection (netcarryd "
                    "has one; the command line does not)",
                    what);
    return has;
}

typedef struct {
    char *netns;
} NcPolicyHandle;

static gpointer nc_policy_open(const char *netns, GError **error)
{
    NcPolicyHandle *h = g_new0(NcPolicyHandle, 1);

    h->netns = g_strdup(netns);
    return h;
}

static void nc_policy_close(gpointer handle)
{
    NcPolicyHandle *h = handle;

    if (!h)
        return;
    g_free(h->netns);
    g_free(h);
}

static gboolean nc_policy_install(gpointer handle, const NcOwner *owner, const NcItemSet *items,
                                  NcItemSet **installed, GError **error)
{
    *installed = nc_item_set_new_without_digest(nc_item_set_ops(items));
    return TRUE;
}

static gboolean nc_policy_remove(gpointer handle, const NcItemSet *items, guint *n_removed,
                                 GError **error)
{
    if (n_removed)
        *n_removed = 0;
    return TRUE;
}

static const NcPolicyDef *nc_policy_expected(const NcItemSet *expected, const char *name)
{
    NcPolicyDef key = {(char *)name, NULL};

    return expected ? nc_item_set_lookup(expected, &key) : NULL;
}

/* ---- nwfilter ---- */

/* This host's definition of filter @name, or NULL (NOT_FOUND: none; else libvirt's error). */
static NcPolicyDef *nc_nwfilter_read(const NcPolicyLibvirt *lv, const char *name, GError **error)
{
    g_autofree char *xml = lv->nwfilter_xml(lv->data, name, error);
    g_autofree char *what = g_strdup_printf("nwfilter %s", name);

    if (!xml)
        return NULL;
    return nc_nwfilter_def_parse(xml, strlen(xml), what, error);
}

/* The roots: every interface's <filterref filter=>, once each. */
static GPtrArray *nc_nwfilter_roots(const NcOwner *owner)
{
    GPtrArray *roots = g_ptr_array_new_with_free_func(g_free);

    for (guint i = 0; owner->ports && i < owner->ports->len; i++) {
        const NcOwnerPort *p = owner->ports->pdata[i];

        if (p->filter && !g_ptr_array_find_with_equal_func(roots, p->filter, g_str_equal, NULL))
            g_ptr_array_add(roots, g_strdup(p->filter));
    }
    return roots;
}

/* Queues the filters @def references that are not queued yet. */
static void nc_nwfilter_queue_refs(GPtrArray *queue, const NcPolicyDef *def)
{
    g_autoptr(GPtrArray) refs = def ? nc_nwfilter_def_refs(def) : NULL;

    for (guint i = 0; refs && i < refs->len; i++)
        if (!g_ptr_array_find_with_equal_func(queue, refs->pdata[i], g_str_equal, NULL))
            g_ptr_array_add(queue, g_strdup(refs->pdata[i]));
}

static gboolean nc_nwfilter_capture(gpointer handle, const NcOwner *owner, NcItemSet *out,
                                    GPtrArray *not_carried, GError **error)
{
    g_autoptr(GPtrArray) queue = nc_nwfilter_roots(owner);
    NcPolicyLibvirt lv;

    if (!queue->len)
        return TRUE;
    if (!nc_policy_get_libvirt(&lv, "nwfilter definitions", error))
        return FALSE;
    for (guint i = 0; i < queue->len && i < NC_POLICY_TREE_MAX; i++) {
        g_autoptr(GError) err = NULL;
        g_autoptr(NcPolicyDef) def = nc_nwfilter_read(&lv, queue->pdata[i], &err);

        if (!def) {
            if (!g_error_matches(err, NC_ERROR, NC_ERROR_NOT_FOUND)) {
                g_propagate_error(error, g_steal_pointer(&err));
                return FALSE;
            }
            nc_not_carried_add(not_carried, nc_nwfilter_class.name, queue->pdata[i],
                               "the domain references it and the source has no such nwfilter");
            continue;
        }
        nc_nwfilter_queue_refs(queue, def);
        if (!nc_item_set_upsert(out, g_steal_pointer(&def), NULL, error))
            return FALSE;
    }
    return TRUE;
}

/*
 * The destination's tree, from its own XML: each filter must exist here and, when the source
 * sent it, be the same; the children of both definitions are followed.
 */
static gboolean nc_nwfilter_probe(gpointer handle, const NcOwner *owner, const NcItemSet *expected,
                                  GError **error)
{
    g_autoptr(GPtrArray) queue = nc_nwfilter_roots(owner);
    NcPolicyLibvirt lv;

    if (!queue->len)
        return TRUE;
    if (!nc_policy_get_libvirt(&lv, "nwfilter definitions", error))
        return FALSE;
    for (guint i = 0; i < queue->len; i++) {
        const char *name = queue->pdata[i];
        const NcPolicyDef *src = nc_policy_expected(expected, name);
        g_autoptr(GError) err = NULL;
        g_autoptr(NcPolicyDef) here = NULL;
        g_autofree char *diff = NULL;

        if (i >= NC_POLICY_TREE_MAX) {
            g_set_error(error, NC_ERROR, NC_ERROR_UNSUPPORTED,
                        "the domain's nwfilter tree holds more than %u filters",
                        NC_POLICY_TREE_MAX);
            return FALSE;
        }
        here = nc_nwfilter_read(&lv, name, &err);
        if (!here) {
            if (g_error_matches(err, NC_ERROR, NC_ERROR_NOT_FOUND))
                g_set_error(error, NC_ERROR, NC_ERROR_NOT_FOUND,
                            "nwfilter %s missing on this host (the domain's interfaces reference "
                            "it%s)",
                            name, i ? " through a filterref" : "");
            else
                g_propagate_prefixed_error(error, g_steal_pointer(&err),
                                           "nwfilter %s cannot be read on this host: ", name);
            return FALSE;
        }
        if (src && (diff = nc_policy_def_compare("nwfilter", src, here))) {
            g_set_error(error, NC_ERROR, NC_ERROR_FAILED, "%s", diff);
            return FALSE;
        }
        nc_nwfilter_queue_refs(queue, here);
        nc_nwfilter_queue_refs(queue, src);
    }
    return TRUE;
}

/* ---- per-VM static nftables chains ---- */

static char *nc_chain_name(const NcObjectRef *r)
{
    return g_strdup_printf("%s/%s/%s", r->family, r->table, r->name);
}

/* Chain @r as nft lists it here, canonical; NOT_FOUND if the chain (or its table) is not here. */
static NcPolicyDef *nc_chain_read(const NcPolicyHandle *h, const NcObjectRef *r, GError **error)
{
    g_autofree char *name = nc_chain_name(r);
    g_autofree char *cmd = NULL;
    g_autofree char *out = NULL;
    g_autoptr(GError) err = NULL;

    /* names go to nft's parser: only what an nftables identifier may hold */
    for (const char *p = name; *p; p++)
        if (!g_ascii_isalnum(*p) && !strchr("_./-", *p)) {
            g_set_error(error, NC_ERROR, NC_ERROR_INVALID_ARG,
                        "chain %s: not an nftables family/table/chain name", name);
            return NULL;
        }
    cmd = g_strdup_printf("list chain %s %s %s\n", r->family, r->table, r->name);
    if (!nc_nft_list_stateless(h->netns, cmd, &out, &err)) {
        /* nft says "No such file or directory" for a missing chain or table */
        if (g_error_matches(err, NC_ERROR, NC_ERROR_NOT_FOUND))
            g_set_error(error, NC_ERROR, NC_ERROR_NOT_FOUND, "chain %s missing", name);
        else
            g_propagate_prefixed_error(error, g_steal_pointer(&err), "chain %s: ", name);
        return NULL;
    }
    return nc_nft_chain_def_parse(name, out, error);
}

static gboolean nc_chain_capture(gpointer handle, const NcOwner *owner, NcItemSet *out,
                                 GPtrArray *not_carried, GError **error)
{
    for (guint i = 0; owner->chains && i < owner->chains->len; i++) {
        const NcObjectRef *r = owner->chains->pdata[i];
        g_autoptr(GError) err = NULL;
        g_autoptr(NcPolicyDef) def = nc_chain_read(handle, r, &err);

        if (!def) {
            g_autofree char *name = nc_chain_name(r);

            if (!g_error_matches(err, NC_ERROR, NC_ERROR_NOT_FOUND)) {
                g_propagate_error(error, g_steal_pointer(&err));
                return FALSE;
            }
            nc_not_carried_add(not_carried, nc_nft_chain_class.name, name,
                               "the domain's profile names this chain and the source has none");
            continue;
        }
        if (!nc_item_set_upsert(out, g_steal_pointer(&def), NULL, error))
            return FALSE;
    }
    return TRUE;
}

static gboolean nc_chain_probe(gpointer handle, const NcOwner *owner, const NcItemSet *expected,
                               GError **error)
{
    for (guint i = 0; owner->chains && i < owner->chains->len; i++) {
        const NcObjectRef *r = owner->chains->pdata[i];
        g_autofree char *name = nc_chain_name(r);
        const NcPolicyDef *src = nc_policy_expected(expected, name);
        g_autoptr(NcPolicyDef) here = NULL;
        g_autofree char *diff = NULL;
        g_autoptr(GError) err = NULL;

        here = nc_chain_read(handle, r, &err);
        if (!here) {
            if (g_error_matches(err, NC_ERROR, NC_ERROR_NOT_FOUND))
                g_set_error(error, NC_ERROR, NC_ERROR_NOT_FOUND,
                            "chain %s missing on this host (the domain's profile names it)", name);
            else
                g_propagate_error(error, g_steal_pointer(&err));
            return FALSE;
        }
        if (src && (diff = nc_policy_def_compare("chain", src, here))) {
            g_set_error(error, NC_ERROR, NC_ERROR_FAILED, "%s", diff);
            return FALSE;
        }
    }
    return TRUE;
}

/* ---- the ports' needs ---- */

typedef struct {
    gboolean done;
    char *vlan;      /* NULL: 802.1q or bridge VLAN filtering works; else why neither does */
    char *bandwidth; /* NULL: tc can shape and police; else why not */
} NcHostCaps;

static NcHostCaps nc_host_caps;

/* Runs @argv (with a bound); NULL if it succeeded, else its first line of complaint. */
static char *nc_caps_try(const char *const *argv)
{
    g_autofree char *err = NULL;
    g_autoptr(GError) gerr = NULL;
    g_autoptr(GPtrArray) full = g_ptr_array_new();
    int status = 0;

    g_ptr_array_add(full, (gpointer) "timeout");
    g_ptr_array_add(full, (gpointer)NC_POLICY_PROBE_S);
    for (const char *const *a = argv; *a; a++)
        g_ptr_array_add(full, (gpointer)*a);
    g_ptr_array_add(full, NULL);
    if (!g_spawn_sync(NULL, (char **)full->pdata, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, &err,
                      &status, &gerr))
        return g_strdup_printf("`%s` did not run: %s", argv[0], gerr->message);
    if (g_spawn_check_wait_status(status, NULL))
        return NULL;
    {
        g_autofree char *cmd = g_strjoinv(" ", (char **)argv);
        g_auto(GStrv) lines = g_strsplit(err ? g_strstrip(err) : "", "\n", 2);

        return g_strdup_printf("`%s` failed: %s", cmd, lines[0] && *lines[0] ? lines[0] : "?");
    }
}

/* In a network namespace of its own (this thread's alone, gone with it): can the kernel make a
 * VLAN link, a VLAN-filtering bridge, and the qdiscs and filters libvirt's <bandwidth> uses? */
static gpointer nc_caps_thread(gpointer data)
{
    NcHostCaps *caps = data;
    static const char *const veth[] = {"ip",   "link", "add",  "nc0", "type",
                                       "veth", "peer", "name", "nc1", NULL};
    static const char *const vlan[] = {"ip",     "link", "add",  "link", "nc0", "name",
                                       "nc0.10", "type", "vlan", "id",   "10",  NULL};
    static const char *const brvlan[] = {"ip",     "link",           "add", "ncbr", "type",
                                         "bridge", "vlan_filtering", "1",   NULL};
    static const char *const bw1[] = {"tc",     "qdisc", "add", "dev",     "nc0", "root",
                                      "handle", "1:",    "htb", "default", "1",   NULL};
    static const char *const bw2[] = {"tc",      "class", "add", "dev",  "nc0",   "parent", "1:",
                                      "classid", "1:1",   "htb", "rate", "1mbit", NULL};
    static const char *const bw3[] = {"tc",     "qdisc", "add", "dev",     "nc0", "parent", "1:1",
                                      "handle", "2:",    "sfq", "perturb", "10",  NULL};
    static const char *const bw3f[] = {"tc",  "filter",   "add",    "dev",  "nc0", "parent",
                                       "1:0", "protocol", "all",    "prio", "1",   "handle",
                                       "1",   "fw",       "flowid", "1",    NULL};
    static const char *const bw4[] = {"tc", "qdisc", "add", "dev", "nc0", "ingress", NULL};
    static const char *const bw5[] = {"tc",    "filter",   "add",    "dev",  "nc0",   "parent",
                                      "ffff:", "protocol", "all",    "u32",  "match", "u32",
                                      "0",     "0",        "police", "rate", "1mbit", "burst",
                                      "10k",   "drop",     "flowid", ":1",   NULL};
    /* what libvirt's <bandwidth> runs (virNetDevBandwidthSet): htb, sfq and an fw filter for
     * inbound, an ingress qdisc with a u32 police filter for outbound */
    const char *const *const bw[] = {bw1, bw2, bw3, bw3f, bw4, bw5};
    char *why;

    if (unshare(CLONE_NEWNET) != 0) {
        caps->vlan = g_strdup_printf("cannot probe (unshare: %s)", g_strerror(errno));
        caps->bandwidth = g_strdup(caps->vlan);
        return NULL;
    }
    if ((why = nc_caps_try(veth))) {
        caps->vlan = g_strdup_printf("cannot probe: %s", why);
        caps->bandwidth = why;
        return NULL;
    }
    if ((why = nc_caps_try(vlan))) {
        char *br = nc_caps_try(brvlan);

        if (br)
            caps->vlan =
                g_strdup_printf("no 802.1q (%s) and no bridge VLAN filtering (%s)", why, br);
        g_free(br);
        g_free(why);
    }
    for (guint i = 0; i < G_N_ELEMENTS(bw) && !caps->bandwidth; i++)
        caps->bandwidth = nc_caps_try(bw[i]);
    return NULL;
}

static const NcHostCaps *nc_host_caps_get(void)
{
    g_mutex_lock(&nc_policy_lock);
    if (!nc_host_caps.done) {
        GThread *t = g_thread_new("nc-policy-caps", nc_caps_thread, &nc_host_caps);

        g_thread_join(t);
        nc_host_caps.done = TRUE;
        g_info("this host's kernel: VLAN %s; bandwidth %s",
               nc_host_caps.vlan ? nc_host_caps.vlan : "can be applied",
               nc_host_caps.bandwidth ? nc_host_caps.bandwidth : "can be applied");
    }
    g_mutex_unlock(&nc_policy_lock);
    return &nc_host_caps;
}

static gboolean nc_port_has_link(const char *netns, const char *ifname, GError **error)
{
    struct ifreq ifr = {0};
    int fd = nc_netns_socket(netns, AF_INET, SOCK_DGRAM, 0, error);
    int rc;

    if (fd < 0)
        return FALSE;
    g_strlcpy(ifr.ifr_name, ifname, sizeof(ifr.ifr_name));
    rc = ioctl(fd, SIOCGIFINDEX, &ifr);
    close(fd);
    return rc == 0;
}

static gboolean nc_port_capture(gpointer handle, const NcOwner *owner, NcItemSet *out,
                                GPtrArray *not_carried, GError **error)
{
    return TRUE; /* nothing to send: the destination checks its own XML */
}

static gboolean nc_port_probe(gpointer handle, const NcOwner *owner, const NcItemSet *expected,
                              GError **error)
{
    const NcPolicyHandle *h = handle;

    for (guint i = 0; owner->ports && i < owner->ports->len; i++) {
        const NcOwnerPort *p = owner->ports->pdata[i];
        g_autofree char *mac = nc_mac_to_string(p->mac);
        g_autoptr(GError) err = NULL;

        if (p->bridge && !nc_port_has_link(h->netns, p->bridge, &err)) {
            if (err)
                g_propagate_prefixed_error(
                    error, g_steal_pointer(&err),
                    "bridge %s (interface %s) cannot be looked up: ", p->bridge, mac);
            else
                g_set_error(error, NC_ERROR, NC_ERROR_NOT_FOUND,
                            "bridge %s missing on this host (interface %s)", p->bridge, mac);
            return FALSE;
        }
        if (p->network) {
            NcPolicyLibvirt lv;

            if (!nc_policy_get_libvirt(&lv, "libvirt networks", error))
                return FALSE;
            if (!lv.network_active(lv.data, p->network, &err)) {
                if (!err || g_error_matches(err, NC_ERROR, NC_ERROR_NOT_FOUND))
                    g_set_error(error, NC_ERROR, NC_ERROR_NOT_FOUND,
                                "libvirt network %s %s on this host (interface %s)", p->network,
                                err ? "missing" : "not active", mac);
                else
                    g_propagate_prefixed_error(error, g_steal_pointer(&err),
                                               "libvirt network %s (interface %s): ", p->network,
                                               mac);
                return FALSE;
            }
        }
        if (p->vlan && nc_host_caps_get()->vlan) {
            g_set_error(error, NC_ERROR, NC_ERROR_UNSUPPORTED,
                        "interface %s has <vlan> (tag %s) and this host's kernel cannot apply it: "
                        "%s",
                        mac, p->vlan, nc_host_caps_get()->vlan);
            return FALSE;
        }
        if (p->bandwidth && nc_host_caps_get()->bandwidth) {
            g_set_error(error, NC_ERROR, NC_ERROR_UNSUPPORTED,
                        "interface %s has <bandwidth> and this host's kernel cannot apply it: %s",
                        mac, nc_host_caps_get()->bandwidth);
            return FALSE;
        }
    }
    return TRUE;
}

const NcStateDriver nc_nwfilter_driver = {
    .ops = &nc_nwfilter_class,
    .at = NC_DRIVER_AT_PRECOPY,
    .checked = TRUE,
    .open = nc_policy_open,
    .close = nc_policy_close,
    .probe = nc_nwfilter_probe,
    .capture = nc_nwfilter_capture,
    .install = nc_policy_install,
    .remove = nc_policy_remove,
};

const NcStateDriver nc_nft_chain_driver = {
    .ops = &nc_nft_chain_class,
    .at = NC_DRIVER_AT_PRECOPY,
    .checked = TRUE,
    .open = nc_policy_open,
    .close = nc_policy_close,
    .probe = nc_chain_probe,
    .capture = nc_chain_capture,
    .install = nc_policy_install,
    .remove = nc_policy_remove,
};

const NcStateDriver nc_port_driver = {
    .ops = &nc_port_class,
    .at = NC_DRIVER_AT_PRECOPY,
    .checked = TRUE,
    .open = nc_policy_open,
    .close = nc_policy_close,
    .probe = nc_port_probe,
    .capture = nc_port_capture,
    .install = nc_policy_install,
    .remove = nc_policy_remove,
};

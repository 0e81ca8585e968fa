/* bench-nft-set.c - nft set element capture and install rates: the set driver (nf_tables netlink)
 * against libnftables doing the same work as one batch, in the same run
 *
 * Needs root; works in two namespaces of its own (nc-nset-bench-PID-s/-d), removed on exit.
 * The source's map holds 10,000 elements of the VM (client -> the VM's address, with a timeout
 * and a counter) among 10,000 foreign ones. Capture: the driver's filtered capture against
 * libnftables listing the same map as JSON and as text (output only, nothing parsed). Install:
 * the driver's one-transaction install of the VM's elements against libnftables adding the same
 * elements (with timeout, remaining time and counter) from one text buffer, the batch nft -f
 * makes. Rates are medians of alternating rounds; the ratio is driver / libnftables.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <nftables/libnftables.h>

#include "drivers/nc-nft-set.h"
#include "util/nc-netns.h"

#define ROUNDS 5
#define VM_ELEMENTS 10000
#define FOREIGN_ELEMENTS 10000

static char ns_src[64], ns_dst[64];

static void ns_cleanup(void)
{
    const char *names[] = {ns_src, ns_dst};

    for (int i = 0; i < 2; i++) {
        const char *argv[] = {"ip", "netns", "del", names[i], NULL};

        if (names[i][0])
            g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL,
                         NULL, NULL);
    }
}

/* ---- libnftables, on a thread inside the namespace ---- */

typedef struct {
    const char *ns;
    const char *cmds;
    gboolean json;
    double seconds;
    gsize out_len;
    char *error;
} NftJob;

static gpointer nft_job_thread(gpointer data)
{
    NftJob *job = data;
    g_autoptr(GError) error = NULL;
    struct nft_ctx *nft;
    gint64 t0;
    int rc;

    if (!nc_netns_enter(job->ns, &error)) {
        job->error = g_strdup(error->message);
        return NULL;
    }
    nft = nft_ctx_new(NFT_CTX_DEFAULT);
    nft_ctx_buffer_output(nft);
    nft_ctx_buffer_error(nft);
    if (job->json)
        nft_ctx_output_set_flags(nft, NFT_CTX_OUTPUT_JSON);
    t0 = g_get_monotonic_time();
    rc = nft_run_cmd_from_buffer(nft, job->cmds);
    job->seconds = (g_get_monotonic_time() - t0) / 1e6;
    job->out_len = strlen(nft_ctx_get_output_buffer(nft));
    if (rc != 0)
        job->error = g_strdup(nft_ctx_get_error_buffer(nft));
    nft_ctx_free(nft);
    return NULL;
}

static double nft_run(const char *ns, const char *cmds, gboolean json, gsize *out_len)
{
    NftJob job = {ns, cmds, json, 0, 0, NULL};
    GThread *t = g_thread_new("nft", nft_job_thread, &job);

    g_thread_join(t);
    if (job.error) {
        fprintf(stderr, "bench-nft-set: libnftables in %s: %s\n", ns, job.error);
        exit(1);
    }
    if (out_len)
        *out_len = job.out_len;
    return job.seconds;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, n, sizeof(double), cmp_double);
    return v[n / 2];
}

/* ---- the raw baseline: one GETSETELEM dump with libmnl, elements counted, nothing decoded ---- */

static int raw_count_cb(const struct nlmsghdr *nlh, void *data)
{
    struct nlattr *a, *list = NULL;

    mnl_attr_for_each(a, nlh, sizeof(struct nfgenmsg)) if (mnl_attr_get_type(a) ==
                                                           NFTA_SET_ELEM_LIST_ELEMENTS) list = a;
    if (list)
        mnl_attr_for_each_nested(a, list)(*(guint *)data)++;
    return MNL_CB_OK;
}

static double raw_dump(NcNftNl *nl, guint *count)
{
    char buf[MNL_SOCKET_BUFFER_SIZE];
    struct nlmsghdr *nlh = nc_nft_nl_request(buf, NFT_MSG_GETSETELEM, NFPROTO_INET, NLM_F_DUMP, 0);
    g_autoptr(GError) error = NULL;
    gint64 t0 = g_get_monotonic_time();

    *count = 0;
    mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_TABLE, "lb");
    mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_SET, "sticky");
    if (!nc_nft_nl_query(nl, nlh, raw_count_cb, count, "map inet/lb/sticky", NULL, &error)) {
        fprintf(stderr, "bench-nft-set: raw dump: %s\n", error->message);
        exit(1);
    }
    return (g_get_monotonic_time() - t0) / 1e6;
}

static const char RULESET[] = "table inet lb {\n"
                              "  map sticky { type ipv4_addr : ipv4_addr; flags timeout; "
                              "counter; size 100000; }\n"
                              "}\n";

/* "add element" lines: clients 100.64.x.y -> @backend, @n of them from @first */
static char *elements_text(guint first, guint n, const char *backend)
{
    GString *s = g_string_new(NULL);

    for (guint i = first; i < first + n; i++)
        g_string_append_printf(s,
                               "add element inet lb sticky { 100.%u.%u.%u counter packets %u "
                               "bytes %u timeout 1h expires 50m : %s }\n",
                               64 + (i >> 16), (i >> 8) & 255, i & 255, i, 100 * i, backend);
    return g_string_free(s, FALSE);
}

int main(int argc, char **argv)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(NcOwner) owner = nc_owner_new();
    g_autoptr(NcNftNl) src = NULL, dst = NULL;
    g_autofree char *vm_text = NULL, *foreign_text = NULL;
    double cap_drv[ROUNDS], cap_json[ROUNDS], cap_text[ROUNDS], ins_drv[ROUNDS], ins_nft[ROUNDS];
    double del_drv[ROUNDS], cap_raw[ROUNDS];
    guint raw_count = 0;
    gsize json_len = 0, text_len = 0;
    NcAddr vm;

    if (geteuid() != 0) {
        fprintf(stderr, "bench-nft-set: needs root (creates network namespaces); skipped\n");
        return 77;
    }
    g_snprintf(ns_src, sizeof(ns_src), "nc-nset-bench-%d-s", (int)getpid());
    g_snprintf(ns_dst, sizeof(ns_dst), "nc-nset-bench-%d-d", (int)getpid());
    atexit(ns_cleanup);
    for (int i = 0; i < 2; i++) {
        const char *a[] = {"ip", "netns", "add", i ? ns_dst : ns_src, NULL};
        int status = 0;

        if (!g_spawn_sync(NULL, (char **)a, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL,
                          &status, NULL) ||
            status != 0) {
            fprintf(stderr, "bench-nft-set: cannot create namespace %s\n", a[3]);
            return 1;
        }
    }
    nc_addr_parse("10.0.0.5", &vm, NULL);
    g_array_append_val(owner->addresses, vm);
    g_ptr_array_add(owner->objects, nc_object_ref_new("inet", "lb", "sticky", "map"));

    vm_text = elements_text(0, VM_ELEMENTS, "10.0.0.5");
    foreign_text = elements_text(VM_ELEMENTS, FOREIGN_ELEMENTS, "10.0.0.6");
    nft_run(ns_src, RULESET, FALSE, NULL);
    nft_run(ns_src, vm_text, FALSE, NULL);
    nft_run(ns_src, foreign_text, FALSE, NULL);
    nft_run(ns_dst, RULESET, FALSE, NULL);
    src = nc_nft_nl_open(ns_src, &error);
    dst = src ? nc_nft_nl_open(ns_dst, &error) : NULL;
    if (!dst) {
        fprintf(stderr, "bench-nft-set: %s\n", error->message);
        return 1;
    }

    for (int r = 0; r < ROUNDS; r++) {
        g_autoptr(NcItemSet) got = nc_item_set_new(&nc_nft_set_class);
        g_autoptr(NcItemSet) installed = NULL;
        gint64 t0;
        guint n = 0;

        /* the raw dump first: whoever runs first after the previous round's flush shares the
         * CPU with the kernel freeing those elements */
        cap_raw[r] = raw_dump(src, &raw_count);
        t0 = g_get_monotonic_time();

        if (!nc_nft_set_capture(src, owner, got, NULL, &error)) {
            fprintf(stderr, "bench-nft-set: capture: %s\n", error->message);
            return 1;
        }
        cap_drv[r] = (g_get_monotonic_time() - t0) / 1e6;
        if (nc_item_set_count(got) != VM_ELEMENTS) {
            fprintf(stderr, "bench-nft-set: captured %u elements, expected %u\n",
                    nc_item_set_count(got), VM_ELEMENTS);
            return 1;
        }
        cap_json[r] = nft_run(ns_src, "list map inet lb sticky", TRUE, &json_len);
        cap_text[r] = nft_run(ns_src, "list map inet lb sticky", FALSE, &text_len);

        t0 = g_get_monotonic_time();
        if (!nc_nft_set_install(dst, owner, got, &installed, &error)) {
            fprintf(stderr, "bench-nft-set: install: %s\n", error->message);
            return 1;
        }
        ins_drv[r] = (g_get_monotonic_time() - t0) / 1e6;
        t0 = g_get_monotonic_time();
        if (!nc_nft_set_remove(dst, installed, &n, &error)) {
            fprintf(stderr, "bench-nft-set: remove: %s\n", error->message);
            return 1;
        }
        del_drv[r] = (g_get_monotonic_time() - t0) / 1e6;
        ins_nft[r] = nft_run(ns_dst, vm_text, FALSE, NULL);
        nft_run(ns_dst, "flush map inet lb sticky", FALSE, NULL);
    }

    printf("nft map elements of one VM: %u of %u in the source's map; medians of %d rounds\n",
           VM_ELEMENTS, VM_ELEMENTS + FOREIGN_ELEMENTS, ROUNDS);
    printf("%-58s %10s %12s %7s\n", "", "seconds", "elements/s", "ratio");
    {
        double cd = median(cap_drv, ROUNDS), cj = median(cap_json, ROUNDS);
        double ct = median(cap_text, ROUNDS), id = median(ins_drv, ROUNDS);
        double in = median(ins_nft, ROUNDS), dd = median(del_drv, ROUNDS);

        printf("%-58s %10.4f %12.0f\n", "capture: libnftables list map, JSON (output only)", cj,
               VM_ELEMENTS / cj);
        printf("%-58s %10.4f %12.0f\n", "capture: libnftables list map, text (output only)", ct,
               VM_ELEMENTS / ct);
        double cr = median(cap_raw, ROUNDS);

        printf("%-58s %10.4f %12.0f\n", "capture: raw libmnl dump of the map, counted only", cr,
               VM_ELEMENTS / cr);
        printf("%-58s %10.4f %12.0f %6.2fx\n", "capture: nc_nft_set_capture (netlink, filtered)",
               cd, VM_ELEMENTS / cd, cj / cd);
        printf("%-58s %10.4f %12.0f\n", "install: libnftables, one text batch", in,
               VM_ELEMENTS / in);
        printf("%-58s %10.4f %12.0f %6.2fx\n", "install: nc_nft_set_install (netlink, one batch)",
               id, VM_ELEMENTS / id, in / id);
        printf("%-58s %10.4f %12.0f\n", "remove: nc_nft_set_remove (netlink, one batch)", dd,
               VM_ELEMENTS / dd);
        printf("(capture ratio: against the JSON listing, which lists the whole map of %u and "
               "parses nothing; %zu bytes of JSON, %zu of text; the raw dump saw %u elements and "
               "took %.0f%% of the driver's capture)\n",
               VM_ELEMENTS + FOREIGN_ELEMENTS, json_len, text_len, raw_count, 100.0 * cr / cd);
    }
    return 0;
}

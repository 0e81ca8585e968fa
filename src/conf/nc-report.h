/* nc-report.h - the per-migration report: what was carried, each host's phase timeline, and the
 * margin by which the state beat the guest's resume; its XML form (xml/report.rng) and text form
 *
 * The destination daemon builds it from both timelines (its own and the one the source sends),
 * stores it in the domain's metadata (namespace NC_REPORT_NS) and `netcarry report DOMAIN`
 * prints nc_report_to_text(). Times are wall-clock microseconds since the epoch (UTC) as each
 * host's clock read them, so figures that mix the two hosts (source stop -> installed) are
 * only as good as their clock synchronisation; the margin is read on one host.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define NC_REPORT_VERSION 1
#define NC_REPORT_NS "https://netcarry.dev/xmlns/report/1"
/* the prefix the report is stored under in the domain's metadata */
#define NC_REPORT_PREFIX "netcarry-report"

/**
 * NcReportOutcome - how the migration ended, as far as netcarry is concerned
 */
typedef enum {
    NC_REPORT_COMPLETED,
    NC_REPORT_FAILED,
    NC_REPORT_CANCELLED,
    NC_REPORT_OUTCOME_LAST,
} NcReportOutcome;

/**
 * NcReportSide - whose timeline (same order and names as the daemon's NcSide)
 */
typedef enum {
    NC_REPORT_SOURCE,
    NC_REPORT_DESTINATION,
    NC_REPORT_SIDE_LAST,
} NcReportSide;

/**
 * NcReportPhase - a timeline step's phase. Same names, in the same order, as the daemon's
 * NcPhase (src/daemon/nc-phase.h) without "none": the daemon converts by offset, asserted at
 * compile time (report_phase() in src/daemon/nc-carry-dest.c; conf/ cannot include daemon/).
 */
typedef enum {
    NC_REPORT_PHASE_PREPARE,
    NC_REPORT_PHASE_PRECOPY,
    NC_REPORT_PHASE_STOP_AND_COPY,
    NC_REPORT_PHASE_SEALED,
    NC_REPORT_PHASE_INSTALLED,
    NC_REPORT_PHASE_RESUMED,
    NC_REPORT_PHASE_COMPLETED,
    NC_REPORT_PHASE_FAILED,
    NC_REPORT_PHASE_CANCELLED,
    NC_REPORT_PHASE_LAST,
} NcReportPhase;

/**
 * NcReportClass - a state class (docs/architecture.md) the report counts. Its name is the
 * class's NcClassOps.name (src/conf/nc-item-set.h), the same in the report's XML and JSON.
 */
typedef enum {
    NC_REPORT_CLASS_CONNTRACK,  /* "conntrack" */
    NC_REPORT_CLASS_NFT_SET,    /* "nft-set": nftables set and map elements */
    NC_REPORT_CLASS_NFT_OBJECT, /* "nft-object": named counters and quotas */
    NC_REPORT_CLASS_MDB,        /* "mdb": bridge multicast (IGMP/MLD snooping) memberships */
    NC_REPORT_CLASS_IP_BINDING, /* "ip-binding": addresses nwfilter learned, pinned in the XML */
    NC_REPORT_CLASS_NWFILTER,   /* "nwfilter": nwfilter definitions, checked (conf/nc-policy.h) */
    NC_REPORT_CLASS_NFT_CHAIN,  /* "nft-chain": per-VM static nftables chains, checked */
    NC_REPORT_CLASS_PORT,       /* "port": bridge or network, VLAN, bandwidth, checked */
    NC_REPORT_CLASS_LAST,
} NcReportClass;

/**
 * NcReportClassStatus - what became of a class: its state carried, or (static policy) checked
 * at admission, or not available on the destination (NcReportCarried.why says why)
 */
typedef enum {
    NC_REPORT_CARRIED,
    NC_REPORT_CHECKED,
    NC_REPORT_NOT_AVAILABLE,
    NC_REPORT_STATUS_LAST,
} NcReportClassStatus;

/**
 * NcReportStep - one step of a host's timeline
 * @phase:   the phase entered
 * @pass:    the pre-copy pass (1 = first) for NC_REPORT_PHASE_PRECOPY, else 0
 * @time_us: when, microseconds since the epoch (UTC), by that host's clock
 * @cause:   what witnessed it ("QMP STOP", ...), or NULL
 */
typedef struct {
    NcReportPhase phase;
    guint pass;
    gint64 time_us;
    char *cause;
} NcReportStep;

/**
 * NcReportCarried - the entries of one class, counted along the migration
 * @present:           whether this class was carried at all
 * @precopied:         sent while the guest ran (pre-copy)
 * @changed_at_stop:   sent after the source stopped (the stop-and-copy delta)
 * @installed:         installed on the destination
 * @failed:            refused by the destination's kernel or by netcarry's checks
 * @removed_at_source: removed from the source after completion (always 0 for nft-object: a
 *                     named counter or quota is part of the source's ruleset and stays; and for
 *                     mdb: the entries go with the source's tap)
 * @status:            carried (the counts above), checked (static policy: @precopied counts the
 *                     definitions the source sent, @failed is 1 if one differed and the
 *                     migration went on), or not available on the destination
 * @why:               (nullable): for not available, why
 */
typedef struct {
    gboolean present;
    guint32 precopied;
    guint32 changed_at_stop;
    guint32 installed;
    guint32 failed;
    guint32 removed_at_source;
    NcReportClassStatus status;
    char *why;
} NcReportCarried;

/**
 * NcReportFailure - one entry that was not carried: refused (NcReport.failures), or one that
 * cannot be carried at all (NcReport.not_carried)
 * @klass:  its class
 * @entry:  a description of the entry ("tcp 10.0.0.5:40000 -> 198.51.100.7:443 zone 0"); for
 *          a not-carried one, what it is ("inet/fw/perip element 10.0.0.5 (ct count)")
 * @reason: why ("EEXIST from the kernel", "address not the domain's", ...)
 */
typedef struct {
    NcReportClass klass;
    char *entry;
    char *reason;
} NcReportFailure;

/**
 * NcReport - one migration of one domain, as the destination records it
 * @domain_uuid, @domain_name: the domain
 * @migration_id:      the rendezvous' migration UUID, or NULL
 * @source_host, @destination_host: the hosts (their identities)
 * @outcome:           how it ended
 * @reason:            why it failed or was cancelled (or a completed one's warning), or NULL
 * @has_downtime:      whether @downtime_ms is set
 * @downtime_ms:       libvirt's reported downtime (job-completed event on the source)
 * @steps:             (element-type NcReportStep): per side, in the order recorded
 * @carried:           per class
 * @failures:          (element-type NcReportFailure): entries refused (by the destination's
 *                     kernel or netcarry's checks): what and why
 * @not_carried:       (element-type NcReportFailure): belongs to the domain, cannot be
 *                     carried (a `ct count` list, a `limit` bucket, ...): what and why
 * @has_gate:          whether the gate section is set
 * @gate_mode:         "gate" or "suspend" (the daemon's NcGateMode names)
 * @held_packets:      packets the gate held back (dropped) while closed
 * @gate_opened_us:    when the gate opened; 0: it never opened
 */
typedef struct {
    char *domain_uuid;
    char *domain_name;
    char *migration_id;
    char *source_host;
    char *destination_host;
    NcReportOutcome outcome;
    char *reason;
    gboolean has_downtime;
    gint64 downtime_ms;
    GArray *steps[NC_REPORT_SIDE_LAST];
    NcReportCarried carried[NC_REPORT_CLASS_LAST];
    GPtrArray *failures;
    GPtrArray *not_carried; /* (element-type NcReportFailure) */
    gboolean has_gate;
    char *gate_mode;
    guint64 held_packets;
    gint64 gate_opened_us;
} NcReport;

/**
 * NcReportFigures - what the timeline says, computed by nc_report_figures() only
 * @margin_us:             destination resumed minus destination installed: how long before
 *                         the guest ran its state was there; negative: installed too late
 * @stop_to_installed_us:  destination installed minus source stop (two clocks)
 * @stop_to_resumed_us:    destination resumed minus source stop: the window (two clocks)
 * @downtime_ms:           libvirt's reported downtime
 * @has_*:                 whether the timeline (or libvirt) gave the figure
 */
typedef struct {
    gboolean has_margin;
    gint64 margin_us;
    gboolean has_stop_to_installed;
    gint64 stop_to_installed_us;
    gboolean has_stop_to_resumed;
    gint64 stop_to_resumed_us;
    gboolean has_downtime;
    gint64 downtime_ms;
} NcReportFigures;

const char *nc_report_outcome_to_string(NcReportOutcome outcome);
int nc_report_outcome_from_string(const char *str); /* -1 if unknown */
const char *nc_report_side_to_string(NcReportSide side);
const char *nc_report_phase_to_string(NcReportPhase phase);
int nc_report_phase_from_string(const char *str); /* -1 if unknown (also for "none") */
const char *nc_report_class_to_string(NcReportClass klass);
const char *nc_report_class_status_to_string(NcReportClassStatus status);
int nc_report_class_from_string(const char *str); /* -1 if unknown */

NcReport *nc_report_new(void);
void nc_report_free(NcReport *report);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(NcReport, nc_report_free)

void nc_report_add_step(NcReport *report, NcReportSide side, NcReportPhase phase, guint pass,
                        gint64 time_us, const char *cause);
void nc_report_add_failure(NcReport *report, NcReportClass klass, const char *entry,
                           const char *reason);
void nc_report_add_not_carried(NcReport *report, NcReportClass klass, const char *what,
                               const char *reason);

/* The first step of @phase (and @pass, for pre-copy; 0: any) on @side, or NULL. */
const NcReportStep *nc_report_find_step(const NcReport *report, NcReportSide side,
                                        NcReportPhase phase, guint pass);

void nc_report_figures(const NcReport *report, NcReportFigures *figures);

/* Validated against report.rng, then read strictly; errors "@name:LINE: ...". The derived
 * figures in the XML must match the timeline. */
NcReport *nc_report_parse_buffer(const char *data, gsize len, const char *name, GError **error);
NcReport *nc_report_parse_file(const char *path, GError **error);
/* The same for what virDomainGetMetadata(VIR_DOMAIN_METADATA_ELEMENT) returns: libvirt hands
 * the element back with its namespace taken off (<report xmlns:KEY="URI">, the elements
 * unqualified), so a <report> in no namespace is read as netcarry's. */
NcReport *nc_report_parse_metadata(const char *data, gsize len, const char *name, GError **error);
/* The canonical document (XML declaration, trailing newline). (transfer full) */
char *nc_report_format(const NcReport *report);
/* The same element without the declaration or trailing newline, for virDomainSetMetadata
 * (key NC_REPORT_PREFIX, uri NC_REPORT_NS). (transfer full) */
char *nc_report_format_element(const NcReport *report);
/* For people: `netcarry report DOMAIN`. (transfer full) */
char *nc_report_to_text(const NcReport *report);
/* For programs: `netcarry report DOMAIN --json`; field names in netcarry(1). (transfer full) */
char *nc_report_to_json(const NcReport *report);

G_END_DECLS

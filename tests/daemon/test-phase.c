/* test-phase.c - the phase tracker fed with the event sequences measured in
 * docs/libvirt-migration.md and with the awkward ones: cancel, failure, duplicates, out of order,
 * --suspend.
 */
#include <string.h>

#include <libvirt/libvirt.h>

#include "nc-phase.h"

#define DOM "5a3c1f5e-0b7e-4c55-9f0e-000000000001"

/* one fed input: time in ms from the destination's migrate begin, type, and its argument */
typedef struct {
    double ms;
    NcPhaseInput type;
    guint arg; /* pass, NcQmpMigStatus, or downtime in ms */
} Row;

/* clang-format off */
#define QMP(ms, st) {ms, NC_EV_QMP_MIGRATION, NC_QMP_MIG_##st}
/* clang-format on */

typedef struct {
    NcPhaseTracker *t;
    GString *seen[NC_SIDE_LAST]; /* "phase[pass]," per notification */
} Fixture;

static void on_step(const char *domain, NcSide side, const NcPhaseStep *step, gpointer data)
{
    Fixture *f = data;

    g_assert_cmpstr(domain, ==, DOM);
    g_string_append(f->seen[side], nc_phase_to_string(step->phase));
    if (step->phase == NC_PHASE_PRECOPY)
        g_string_append_printf(f->seen[side], "%u", step->pass);
    g_string_append_c(f->seen[side], ',');
}

static void setup(Fixture *f, gconstpointer data)
{
    f->t = nc_phase_tracker_new();
    for (int s = 0; s < NC_SIDE_LAST; s++)
        f->seen[s] = g_string_new(NULL);
    nc_phase_tracker_subscribe(f->t, on_step, f);
}

static void teardown(Fixture *f, gconstpointer data)
{
    nc_phase_tracker_free(f->t);
    for (int s = 0; s < NC_SIDE_LAST; s++)
        g_string_free(f->seen[s], TRUE);
}

static void feed(Fixture *f, NcSide side, const Row *rows, gsize n)
{
    for (gsize i = 0; i < n; i++) {
        NcPhaseEvent ev = {
            .type = rows[i].type,
            .side = side,
            .domain = DOM,
            .time_us = (gint64)(1700000000000000.0 + rows[i].ms * 1000),
            .pass = rows[i].arg,
            .mig_status = rows[i].arg,
            .downtime_ms = rows[i].arg,
        };
        nc_phase_tracker_feed(f->t, &ev);
    }
}

static double step_ms(Fixture *f, NcSide side, NcPhase phase)
{
    guint n;
    const NcPhaseStep *steps = nc_phase_tracker_steps(f->t, DOM, side, &n);

    for (guint i = 0; i < n; i++) {
        if (steps[i].phase == phase)
            return (steps[i].time_us - 1700000000000000) / 1000.0;
    }
    g_assert_not_reached();
}

/* docs/libvirt-migration.md's A->B run, source side (host A), with netcarry's own milestones added
 */
static const Row measured_source[] = {
    {60, NC_EV_PEER_CONNECTED},
    QMP(1300, SETUP),
    QMP(1314, ACTIVE),
    {1314, NC_EV_QMP_MIGRATION_PASS, 1},
    {1315, NC_EV_LV_MIGRATION_ITERATION, 1},
    {1821, NC_EV_QMP_MIGRATION_PASS, 2},
    {1821, NC_EV_LV_MIGRATION_ITERATION, 2},
    {1822, NC_EV_QMP_STOP},
    {1822, NC_EV_LV_SUSPENDED_MIGRATED},
    QMP(1827, PRE_SWITCHOVER),
    {1828, NC_EV_SEALED},
    QMP(1832, DEVICE),
    {1832, NC_EV_QMP_MIGRATION_PASS, 3},
    {1832, NC_EV_LV_MIGRATION_ITERATION, 3},
    {1840, NC_EV_INSTALLED},
    QMP(1852, COMPLETED),
    {3911, NC_EV_HOOK_STOPPED_END},
    {3912, NC_EV_LV_STOPPED_MIGRATED},
    {3961, NC_EV_HOOK_RELEASE_END},
    {3997, NC_EV_LV_JOB_COMPLETED, 72},
};

/* the same run, destination side (host B) */
static const Row measured_destination[] = {
    {0, NC_EV_HOOK_MIGRATE_BEGIN},
    {20, NC_EV_PEER_CONNECTED},
    {51, NC_EV_HOOK_PREPARE_BEGIN},
    {130, NC_EV_HOOK_START_BEGIN},
    QMP(1222, SETUP),
    {1241, NC_EV_HOOK_STARTED_BEGIN},
    {1283, NC_EV_LV_STARTED_MIGRATED},
    QMP(1300, ACTIVE),
    {1823, NC_EV_PEER_STOPPED},
    {1829, NC_EV_SEALED},
    {1838, NC_EV_INSTALLED},
    QMP(1852, COMPLETED),
    {1894, NC_EV_QMP_RESUME},
    {1894, NC_EV_LV_RESUMED_MIGRATED},
};

static void test_measured_source(Fixture *f, gconstpointer data)
{
    guint pass = 99;

    feed(f, NC_SIDE_SOURCE, measured_source, G_N_ELEMENTS(measured_source));
    g_assert_cmpstr(f->seen[NC_SIDE_SOURCE]->str, ==,
                    "prepare,precopy1,precopy2,stop-and-copy,sealed,installed,completed,");
    g_assert_cmpstr(f->seen[NC_SIDE_DESTINATION]->str, ==, "");
    g_assert_cmpint(nc_phase_tracker_current(f->t, DOM, NC_SIDE_SOURCE, &pass), ==,
                    NC_PHASE_COMPLETED);
    g_assert_cmpuint(pass, ==, 0);
    g_assert_cmpfloat(step_ms(f, NC_SIDE_SOURCE, NC_PHASE_STOP_AND_COPY), ==, 1822);
    g_assert_cmpfloat(step_ms(f, NC_SIDE_SOURCE, NC_PHASE_COMPLETED), ==, 3911);
    /* job-completed arrives after the stopped hook completed it: its downtime still counts */
    g_assert_cmpint(nc_phase_tracker_downtime_ms(f->t, DOM, NC_SIDE_SOURCE), ==, 72);
    g_assert_cmpint(nc_phase_tracker_current(f->t, DOM, NC_SIDE_DESTINATION, NULL), ==,
                    NC_PHASE_NONE);

    g_autofree char *dump = nc_phase_tracker_dump(f->t, DOM, NC_SIDE_SOURCE);
    g_test_message("%s", dump);
    g_assert_nonnull(strstr(dump, "+1762.000 ms stop-and-copy (QMP STOP)\n"));
    g_assert_nonnull(strstr(dump, "precopy pass 2 (QMP MIGRATION_PASS)\n"));
    g_assert_nonnull(strstr(dump, "downtime 72 ms"));
}

static void test_measured_destination(Fixture *f, gconstpointer data)
{
    feed(f, NC_SIDE_DESTINATION, measured_destination, G_N_ELEMENTS(measured_destination));
    g_assert_cmpstr(f->seen[NC_SIDE_DESTINATION]->str, ==,
                    "prepare,precopy1,stop-and-copy,sealed,installed,resumed,completed,");
    g_assert_cmpfloat(step_ms(f, NC_SIDE_DESTINATION, NC_PHASE_PREPARE), ==, 0);
    g_assert_cmpfloat(step_ms(f, NC_SIDE_DESTINATION, NC_PHASE_INSTALLED), ==, 1838);
    g_assert_cmpfloat(step_ms(f, NC_SIDE_DESTINATION, NC_PHASE_RESUMED), ==, 1894);
    g_assert_cmpint(nc_phase_tracker_current(f->t, DOM, NC_SIDE_DESTINATION, NULL), ==,
                    NC_PHASE_COMPLETED);

    /* the VM is shut down later on B: not a failure of the finished migration */
    Row later[] = {{90000, NC_EV_LV_STOPPED_OTHER}, {90001, NC_EV_HOOK_STOPPED_END}};
    feed(f, NC_SIDE_DESTINATION, later, G_N_ELEMENTS(later));
    g_assert_cmpint(nc_phase_tracker_current(f->t, DOM, NC_SIDE_DESTINATION, NULL), ==,
                    NC_PHASE_COMPLETED);
}

/* The gate's case: the guest resumed before the seal was installed. */
static void test_resumed_before_installed(Fixture *f, gconstpointer data)
{
    const Row rows[] = {
        {0, NC_EV_HOOK_MIGRATE_BEGIN}, QMP(1300, ACTIVE),    {1823, NC_EV_PEER_STOPPED},
        {1894, NC_EV_QMP_RESUME},      {1900, NC_EV_SEALED}, {1905, NC_EV_INSTALLED},
    };

    feed(f, NC_SIDE_DESTINATION, rows, 4);
    g_assert_cmpint(nc_phase_tracker_current(f->t, DOM, NC_SIDE_DESTINATION, NULL), ==,
                    NC_PHASE_RESUMED);
    feed(f, NC_SIDE_DESTINATION, rows + 4, 2);
    g_assert_cmpstr(f->seen[NC_SIDE_DESTINATION]->str, ==,
                    "prepare,precopy1,stop-and-copy,resumed,sealed,installed,completed,");
    g_assert_cmpfloat(step_ms(f, NC_SIDE_DESTINATION, NC_PHASE_INSTALLED) -
                          step_ms(f, NC_SIDE_DESTINATION, NC_PHASE_RESUMED),
                      ==, 11);
}

/* virsh domjobabort during pre-copy */
static void test_cancelled(Fixture *f, gconstpointer data)
{
    const Row src[] = {
        {60, NC_EV_PEER_CONNECTED},
        QMP(1300, SETUP),
        QMP(1314, ACTIVE),
        {1314, NC_EV_QMP_MIGRATION_PASS, 1},
        QMP(1500, CANCELLING),
        QMP(1510, CANCELLED),
        {1511, NC_EV_QMP_MIGRATION_PASS, 2}, /* late: must not reopen */
        {1512, NC_EV_QMP_RESUME},
    };
    const Row dst[] = {
        {0, NC_EV_HOOK_MIGRATE_BEGIN},
        {51, NC_EV_HOOK_PREPARE_BEGIN},
        {1283, NC_EV_LV_STARTED_MIGRATED},
        QMP(1300, ACTIVE),
        QMP(1511, FAILED),
        {1520, NC_EV_LV_STOPPED_FAILED},
        {1530, NC_EV_HOOK_STOPPED_END},
        {1540, NC_EV_HOOK_RELEASE_END},
    };

    feed(f, NC_SIDE_SOURCE, src, G_N_ELEMENTS(src));
    feed(f, NC_SIDE_DESTINATION, dst, G_N_ELEMENTS(dst));
    g_assert_cmpstr(f->seen[NC_SIDE_SOURCE]->str, ==, "prepare,precopy1,cancelled,");
    g_assert_cmpstr(f->seen[NC_SIDE_DESTINATION]->str, ==, "prepare,precopy1,failed,");
    g_assert_cmpstr(nc_phase_tracker_reason(f->t, DOM, NC_SIDE_DESTINATION), ==, "QMP MIGRATION");
}

/* The switchover failed after the source stopped: QEMU says failed, libvirt resumes the source. */
static void test_failed_after_stop(Fixture *f, gconstpointer data)
{
    const Row src[] = {
        QMP(1314, ACTIVE),    {1822, NC_EV_QMP_STOP},   QMP(1827, PRE_SWITCHOVER),
        QMP(1830, FAILED),    {1835, NC_EV_QMP_RESUME}, {1835, NC_EV_LV_RESUMED_MIGRATED},
        {1900, NC_EV_SEALED},
    };

    feed(f, NC_SIDE_SOURCE, src, G_N_ELEMENTS(src));
    g_assert_cmpstr(f->seen[NC_SIDE_SOURCE]->str, ==, "precopy1,stop-and-copy,failed,");
    g_assert_cmpint(nc_phase_tracker_current(f->t, DOM, NC_SIDE_SOURCE, NULL), ==, NC_PHASE_FAILED);
}

/* QEMU completed but the destination's Finish failed: the only witness is the source resuming. */
static void test_failed_finish(Fixture *f, gconstpointer data)
{
    const Row src[] = {
        QMP(1314, ACTIVE),
        {1822, NC_EV_LV_SUSPENDED_MIGRATED},
        QMP(1852, COMPLETED),
        {2500, NC_EV_LV_RESUMED_MIGRATED},
    };

    feed(f, NC_SIDE_SOURCE, src, G_N_ELEMENTS(src));
    g_assert_cmpstr(f->seen[NC_SIDE_SOURCE]->str, ==, "precopy1,stop-and-copy,failed,");
    g_assert_cmpstr(nc_phase_tracker_reason(f->t, DOM, NC_SIDE_SOURCE), ==,
                    "libvirt Resumed/Migrated");
}

/* The carrying itself failed on the destination (seal timeout): failed, with the daemon's reason.
 */
static void test_carry_failed(Fixture *f, gconstpointer data)
{
    NcPhaseEvent ev = {NC_EV_HOOK_MIGRATE_BEGIN, NC_SIDE_DESTINATION, DOM, 1000};

    g_assert_true(nc_phase_tracker_feed(f->t, &ev));
    ev.type = NC_EV_CARRY_FAILED;
    ev.reason = "no seal from the source within 2000 ms";
    g_assert_true(nc_phase_tracker_feed(f->t, &ev));
    g_assert_cmpstr(nc_phase_tracker_reason(f->t, DOM, NC_SIDE_DESTINATION), ==, ev.reason);
    /* a terminal record is closed: the guest resuming afterwards changes nothing */
    ev.type = NC_EV_QMP_RESUME;
    g_assert_false(nc_phase_tracker_feed(f->t, &ev));
    g_assert_cmpstr(f->seen[NC_SIDE_DESTINATION]->str, ==, "prepare,failed,");
}

/* netcarry gave up on the state while the migration went on (its link lost, say): that is no
 * phase, and ends nothing; the destination completes on the resume, and a source that gave up
 * still completes (its clean-up runs) or fails as libvirt says. */
static void test_carry_abandoned(Fixture *f, gconstpointer data)
{
    const Row dst[] = {
        {1000, NC_EV_HOOK_MIGRATE_BEGIN},
        {1100, NC_EV_PEER_CONNECTED},
        {1500, NC_EV_CARRY_ABANDONED},
        {2500, NC_EV_QMP_RESUME},
        {2600, NC_EV_CARRY_ABANDONED}, /* after the end: ignored */
    };
    const Row src[] = {
        QMP(1000, ACTIVE),
        {1400, NC_EV_CARRY_ABANDONED},
        {2000, NC_EV_QMP_STOP},
        {2700, NC_EV_LV_STOPPED_MIGRATED},
    };

    feed(f, NC_SIDE_DESTINATION, dst, G_N_ELEMENTS(dst));
    g_assert_cmpstr(f->seen[NC_SIDE_DESTINATION]->str, ==, "prepare,resumed,completed,");
    g_assert_true(nc_phase_tracker_abandoned(f->t, DOM, NC_SIDE_DESTINATION));
    feed(f, NC_SIDE_SOURCE, src, G_N_ELEMENTS(src));
    g_assert_cmpstr(f->seen[NC_SIDE_SOURCE]->str, ==, "precopy1,stop-and-copy,completed,");
    g_assert_true(nc_phase_tracker_abandoned(f->t, DOM, NC_SIDE_SOURCE));
}

/* Two witnesses of one moment, in either order, and repeats: one step, the earliest time. */
static void test_duplicates_out_of_order(Fixture *f, gconstpointer data)
{
    const Row src[] = {
        QMP(1314, ACTIVE),
        {1314, NC_EV_LV_MIGRATION_ITERATION, 1},
        {1821, NC_EV_LV_MIGRATION_ITERATION, 2},
        {1821, NC_EV_QMP_MIGRATION_PASS, 2},
        {1315, NC_EV_QMP_MIGRATION_PASS, 1}, /* late, older pass */
        {1824, NC_EV_LV_SUSPENDED_MIGRATED}, /* libvirt's event arrives first... */
        {1822, NC_EV_QMP_STOP},              /* ...QMP's, stamped by QEMU, earlier */
        {1822, NC_EV_QMP_STOP},              /* twice */
        QMP(1827, PRE_SWITCHOVER),
        {1832, NC_EV_QMP_MIGRATION_PASS, 3}, /* the final pass belongs to stop-and-copy */
        {3912, NC_EV_LV_STOPPED_MIGRATED},
        {3912, NC_EV_LV_STOPPED_MIGRATED},
        {3997, NC_EV_LV_JOB_COMPLETED, 50},
    };
    const Row dst[] = {
        {0, NC_EV_HOOK_MIGRATE_BEGIN}, {1894, NC_EV_LV_RESUMED_MIGRATED}, {1893, NC_EV_QMP_RESUME},
        {1838, NC_EV_INSTALLED},       {1839, NC_EV_INSTALLED},           {1829, NC_EV_SEALED},
    };

    feed(f, NC_SIDE_SOURCE, src, G_N_ELEMENTS(src));
    g_assert_cmpstr(f->seen[NC_SIDE_SOURCE]->str, ==, "precopy1,precopy2,stop-and-copy,completed,");
    g_assert_cmpfloat(step_ms(f, NC_SIDE_SOURCE, NC_PHASE_STOP_AND_COPY), ==, 1822);

    feed(f, NC_SIDE_DESTINATION, dst, G_N_ELEMENTS(dst));
    g_assert_cmpstr(f->seen[NC_SIDE_DESTINATION]->str, ==, "prepare,resumed,installed,completed,");
    g_assert_cmpfloat(step_ms(f, NC_SIDE_DESTINATION, NC_PHASE_RESUMED), ==, 1893);
}

/* virsh migrate --live --suspend: the guest arrives paused; resumed waits for a real resume. */
static void test_suspend(Fixture *f, gconstpointer data)
{
    const Row dst[] = {
        {0, NC_EV_HOOK_MIGRATE_BEGIN},
        {51, NC_EV_HOOK_PREPARE_BEGIN},
        {130, NC_EV_HOOK_START_BEGIN},
        QMP(1222, SETUP),
        {1241, NC_EV_HOOK_STARTED_BEGIN},
        {1283, NC_EV_LV_STARTED_MIGRATED},
        QMP(1300, ACTIVE),
        {1823, NC_EV_PEER_STOPPED},
        {1829, NC_EV_SEALED},
        QMP(1852, COMPLETED),
        {1860, NC_EV_LV_SUSPENDED_PAUSED},
        {1870, NC_EV_INSTALLED},
        /* netcarry (gate mode suspend) or the operator resumes the guest */
        {1880, NC_EV_QMP_RESUME},
        {1881, NC_EV_LV_RESUMED_UNPAUSED},
    };

    feed(f, NC_SIDE_DESTINATION, dst, 12);
    g_assert_cmpint(nc_phase_tracker_current(f->t, DOM, NC_SIDE_DESTINATION, NULL), ==,
                    NC_PHASE_INSTALLED);
    feed(f, NC_SIDE_DESTINATION, dst + 12, 2);
    g_assert_cmpstr(f->seen[NC_SIDE_DESTINATION]->str, ==,
                    "prepare,precopy1,stop-and-copy,sealed,installed,resumed,completed,");
    g_assert_cmpfloat(step_ms(f, NC_SIDE_DESTINATION, NC_PHASE_RESUMED), ==, 1880);
}

/* A domain that is not migrating: pauses, resumes and stops are not a migration. */
static void test_not_migrating(Fixture *f, gconstpointer data)
{
    const Row rows[] = {
        {0, NC_EV_QMP_STOP},
        {1, NC_EV_LV_SUSPENDED_PAUSED},
        {2, NC_EV_QMP_RESUME},
        {3, NC_EV_LV_RESUMED_UNPAUSED},
        {4, NC_EV_LV_STOPPED_OTHER},
        {5, NC_EV_HOOK_STOPPED_END},
        {6, NC_EV_LV_JOB_COMPLETED, 5},
        {7, NC_EV_INSTALLED},
    };

    for (int s = 0; s < NC_SIDE_LAST; s++)
        feed(f, s, rows, G_N_ELEMENTS(rows));
    g_assert_cmpstr(f->seen[NC_SIDE_SOURCE]->str, ==, "");
    g_assert_cmpstr(f->seen[NC_SIDE_DESTINATION]->str, ==, "");
    g_autofree char *dump = nc_phase_tracker_dump(f->t, DOM, NC_SIDE_SOURCE);
    g_assert_cmpstr(dump, ==, "");
}

/* A->B->A->B: each migration of the same domain on the same side opens a fresh record. */
static void test_next_migration(Fixture *f, gconstpointer data)
{
    feed(f, NC_SIDE_SOURCE, measured_source, G_N_ELEMENTS(measured_source));
    Row again[] = {QMP(10000, SETUP), QMP(10010, ACTIVE)};
    feed(f, NC_SIDE_SOURCE, again, G_N_ELEMENTS(again));
    guint n;
    const NcPhaseStep *steps = nc_phase_tracker_steps(f->t, DOM, NC_SIDE_SOURCE, &n);
    g_assert_cmpuint(n, ==, 2);
    g_assert_cmpint(steps[0].phase, ==, NC_PHASE_PREPARE);
    g_assert_cmpint(steps[0].time_us, ==, 1700000000000000 + 10000000);
    g_assert_cmpint(nc_phase_tracker_downtime_ms(f->t, DOM, NC_SIDE_SOURCE), ==, -1);
    nc_phase_tracker_forget(f->t, DOM, NC_SIDE_SOURCE);
    g_assert_cmpint(nc_phase_tracker_current(f->t, DOM, NC_SIDE_SOURCE, NULL), ==, NC_PHASE_NONE);
}

static void test_unsubscribe(Fixture *f, gconstpointer data)
{
    g_autoptr(GString) mine = g_string_new(NULL);
    Fixture other = {.seen = {mine, mine}};
    guint id = nc_phase_tracker_subscribe(f->t, on_step, &other);
    Row r[] = {{0, NC_EV_HOOK_MIGRATE_BEGIN}, QMP(1, ACTIVE)};

    g_assert_cmpuint(id, !=, 0);
    feed(f, NC_SIDE_DESTINATION, r, 1);
    nc_phase_tracker_unsubscribe(f->t, id);
    feed(f, NC_SIDE_DESTINATION, r + 1, 1);
    g_assert_cmpstr(mine->str, ==, "prepare,");
    g_assert_cmpstr(f->seen[NC_SIDE_DESTINATION]->str, ==, "prepare,precopy1,");
}

static void test_mappings(void)
{
    NcPhaseInput in;

    g_assert_true(nc_phase_input_from_lifecycle(VIR_DOMAIN_EVENT_STARTED,
                                                VIR_DOMAIN_EVENT_STARTED_MIGRATED, &in));
    g_assert_cmpint(in, ==, NC_EV_LV_STARTED_MIGRATED);
    g_assert_false(nc_phase_input_from_lifecycle(VIR_DOMAIN_EVENT_STARTED,
                                                 VIR_DOMAIN_EVENT_STARTED_BOOTED, &in));
    g_assert_true(nc_phase_input_from_lifecycle(VIR_DOMAIN_EVENT_SUSPENDED,
                                                VIR_DOMAIN_EVENT_SUSPENDED_MIGRATED, &in));
    g_assert_cmpint(in, ==, NC_EV_LV_SUSPENDED_MIGRATED);
    g_assert_true(nc_phase_input_from_lifecycle(VIR_DOMAIN_EVENT_RESUMED,
                                                VIR_DOMAIN_EVENT_RESUMED_MIGRATED, &in));
    g_assert_cmpint(in, ==, NC_EV_LV_RESUMED_MIGRATED);
    g_assert_true(nc_phase_input_from_lifecycle(VIR_DOMAIN_EVENT_STOPPED,
                                                VIR_DOMAIN_EVENT_STOPPED_FAILED, &in));
    g_assert_cmpint(in, ==, NC_EV_LV_STOPPED_FAILED);
    g_assert_true(nc_phase_input_from_lifecycle(VIR_DOMAIN_EVENT_STOPPED,
                                                VIR_DOMAIN_EVENT_STOPPED_DESTROYED, &in));
    g_assert_cmpint(in, ==, NC_EV_LV_STOPPED_OTHER);
    g_assert_false(nc_phase_input_from_lifecycle(VIR_DOMAIN_EVENT_DEFINED, 0, &in));

    g_assert_true(nc_phase_input_from_hook("migrate", "begin", &in));
    g_assert_cmpint(in, ==, NC_EV_HOOK_MIGRATE_BEGIN);
    g_assert_true(nc_phase_input_from_hook("release", "end", &in));
    g_assert_cmpint(in, ==, NC_EV_HOOK_RELEASE_END);
    g_assert_false(nc_phase_input_from_hook("stopped", "begin", &in));
    g_assert_false(nc_phase_input_from_hook("reconnect", "begin", &in));

    g_assert_cmpint(nc_qmp_mig_status_from_string("pre-switchover"), ==, NC_QMP_MIG_PRE_SWITCHOVER);
    g_assert_cmpint(nc_qmp_mig_status_from_string("cancelled"), ==, NC_QMP_MIG_CANCELLED);
    g_assert_cmpint(nc_qmp_mig_status_from_string("postcopy-active"), ==,
                    NC_QMP_MIG_POSTCOPY_ACTIVE);
    g_assert_cmpint(nc_qmp_mig_status_from_string("postcopy-paused"), ==, NC_QMP_MIG_OTHER);
    g_assert_cmpint(nc_qmp_mig_status_from_string(NULL), ==, NC_QMP_MIG_OTHER);
    g_assert_cmpstr(nc_phase_to_string(NC_PHASE_STOP_AND_COPY), ==, "stop-and-copy");
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
#define ADD(path, fn) g_test_add(path, Fixture, NULL, setup, fn, teardown)
    ADD("/phase/measured/source", test_measured_source);
    ADD("/phase/measured/destination", test_measured_destination);
    ADD("/phase/resumed-before-installed", test_resumed_before_installed);
    ADD("/phase/cancelled", test_cancelled);
    ADD("/phase/failed/after-stop", test_failed_after_stop);
    ADD("/phase/failed/finish", test_failed_finish);
    ADD("/phase/failed/carry", test_carry_failed);
    ADD("/phase/abandoned/carry", test_carry_abandoned);
    ADD("/phase/duplicates-out-of-order", test_duplicates_out_of_order);
    ADD("/phase/suspend", test_suspend);
    ADD("/phase/not-migrating", test_not_migrating);
    ADD("/phase/next-migration", test_next_migration);
    ADD("/phase/unsubscribe", test_unsubscribe);
    g_test_add_func("/phase/mappings", test_mappings);
    return g_test_run();
}

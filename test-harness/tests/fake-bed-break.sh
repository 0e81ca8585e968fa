# test-harness/tests/fake-bed-break.sh - a scenario for the harness's own broken-bed rule, end to
# end: its first try plants a broken kernel's words in the guest's console and fails; the harness
# must call the bed broken (not netcarry), boot a fresh guest and run it again, where it passes
# only if that fresh guest answers. It passes as a whole only through that retry.
SCENARIO_DESC="the harness retries a scenario whose guest broke, once, on a fresh guest"
scenario_run() {
    if [ ! -f "$RUN/.fake-bed-broke" ]; then
        touch "$RUN/.fake-bed-broke"
        echo "[   99.0] list_add corruption. next->prev should be prev (planted by fake-bed-break)" \
            >> "$(guest_console "$(guest_where)")"
        sc_check "the first try fails, its guest 'broken'" false
    else
        sc_check "the retry runs on a fresh guest that answers a new connection" guest_answers
    fi
}

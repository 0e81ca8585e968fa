# test-harness/scenarios/17-quota.sh - issue 11's cumulative data: on both hosts the guest's
# egress is metered by a named quota (`quota vm50 { over 200 mbytes }`: past it, its traffic is
# dropped) and a named counter (vm50_sent), both referenced through object maps keyed by its
# address, as nc-nft-obj.c requires (an object a rule names directly cannot be set; the probe
# refuses it). The guest's profile names both (`<netcarry:object family="inet"
# table="nch_meter" type="quota|counter" .../>`). A bulk transfer from the guest uses 80 % of
# the quota on the source.
#  1. without netcarry (stopped, hook removed): after `virsh migrate --live` the destination's
#     quota and counter start from zero;
#  2. with netcarry: the destination's quota shows at least the source's used bytes at its stop
#     (>= 80 % of the limit), its counter at least the source's packets and bytes, and each no
#     more than that plus what the guest sent since (under 1 MiB: only an echo runs): they continue,
#     they are not added twice; the destination's limit stays its own; the echo lives on.
# Only the guest's egress is metered (`ip saddr`), so that the source's objects stop moving when
# the guest stops there: read after the migration, they hold their values at the stop.
SCENARIO_DESC="named quota (80 % used) and counter of the guest, named in its profile: without netcarry the destination's start from zero; with netcarry they continue from the source's values at the stop"

NCH_MAX_STALL_MS=${NCH_MAX_STALL_MS:-1000}
Q_TABLE=nch_meter
Q_LIMIT=$((200 * 1024 * 1024))
Q_FILL=$((Q_LIMIT * 80 / 100))
Q_SLACK=$((1024 * 1024))

meter_rules() {
    cat <<EOT
table inet $Q_TABLE {
    quota vm50 { over $((Q_LIMIT / 1024 / 1024)) mbytes }
    counter vm50_sent { }
    map vm_quota { type ipv4_addr : quota; elements = { $NCH_GUEST_IP : "vm50" } }
    map vm_counter { type ipv4_addr : counter; elements = { $NCH_GUEST_IP : "vm50_sent" } }
    chain forward {
        type filter hook forward priority filter - 5; policy accept;
        counter name ip saddr map @vm_counter
        quota name ip saddr map @vm_quota drop
    }
}
EOT
}

meter_load() { meter_rules | fw_table_load "$1" inet "$Q_TABLE"; }
q_used() { fw_obj "$1" inet "$Q_TABLE" quota vm50 used; }
q_limit() { fw_obj "$1" inet "$Q_TABLE" quota vm50 bytes; }
c_val() { fw_obj "$1" inet "$Q_TABLE" counter vm50_sent "$2"; }
# q_used_fast HOST - the quota's used bytes, cheaply enough to poll (no python)
q_used_fast() {
    fw_nft "$1" -j list quota inet "$Q_TABLE" vm50 2>/dev/null | sed -n 's/.*"used": \([0-9]*\).*/\1/p'
}

# meter_fill HOST - a bulk transfer from the guest until HOST's quota has Q_FILL bytes used
meter_fill() {
    local limit=$(( $(now_ms) + 120000 )) u=0
    sc_client fill tcp-bulk 9000 --direction recv --stall-timeout-s 5
    while [ "${u:-0}" -lt "$Q_FILL" ] && [ "$(now_ms)" -lt "$limit" ]; do
        sleep 0.05; u=$(q_used_fast "$1")
    done
    sc_client_stop fill
    sleep 0.5
    sc_note "host $1: quota vm50 used $(q_used "$1") of $(q_limit "$1") bytes after the fill"
}

Q_OBJECTS="<object family='inet' table='$Q_TABLE' type='quota' name='vm50'/><object family='inet' table='$Q_TABLE' type='counter' name='vm50_sent'/>"
profile_has_objects() { nc_profile_objects "$1" | grep -c "table=.$Q_TABLE"; }

# between V LO HI - LO <= V <= HI
between() { [ -n "$1" ] && [ "$1" -ge "$2" ] && [ "$1" -le "$3" ]; }
# counter_continues P_SRC B_SRC P_DST B_DST - the destination's counter is the source's, plus
# what passed since (at most Q_SLACK bytes)
counter_continues() { [ "$3" -ge "$1" ] && between "$4" "$2" "$(($2 + Q_SLACK))"; }

without_netcarry() {
    local h src dst u_src u_dst c_dst
    for h in $NCH_HOSTS; do nc_down "$h" --purge; fw_on "$h"; meter_load "$h"; done
    src=$(guest_where) || die "the guest is not running anywhere"
    dst=$(sc_other_host "$src")
    meter_fill "$src"
    u_src=$(q_used "$src")
    sc_check "without netcarry: the guest used 80 % of its quota on $src ($u_src of $Q_LIMIT bytes)" \
        between "$u_src" "$Q_FILL" "$((Q_LIMIT - 1))"
    sc_check "without netcarry: live migration $src->$dst succeeds" sc_migrate "$src" "$dst"
    sc_client echo tcp-echo 7 --interval-ms 20 --duration-s 2 --stall-timeout-s 5
    sc_client_wait echo 20
    u_dst=$(q_used "$dst"); c_dst=$(c_val "$dst" bytes)
    sc_check "without netcarry: $dst's quota starts from zero: $u_dst bytes used (< 1 MiB; the source had $u_src)" \
        between "$u_dst" 0 "$Q_SLACK"
    sc_check "without netcarry: $dst's counter starts from zero: $c_dst bytes (< 1 MiB; the source's $(c_val "$src" bytes))" \
        between "$c_dst" 0 "$Q_SLACK"
}

with_netcarry() {
    local h src dst t0 u_src u_dst p_src p_dst b_src b_dst l_dst
    for h in $NCH_HOSTS; do meter_load "$h"; nc_up "$h" || die "netcarryd did not start on $h"; done
    src=$(guest_where) || die "the guest is not running anywhere"
    dst=$(sc_other_host "$src")
    nc_wait_rendezvous "$src" || die "netcarryd on $src never published the guest's rendezvous"
    nc_set_profile "$src" "$Q_OBJECTS" || die "cannot name the meter's objects in the guest's profile on $src"
    sc_check "the guest's profile on $src names its quota and counter ($(profile_has_objects "$src") objects)" \
        [ "$(profile_has_objects "$src")" = 2 ]
    nc_guest_ct_flush "$dst"
    meter_fill "$src"
    sc_check "the guest used 80 % of its quota on $src ($(q_used "$src") of $Q_LIMIT bytes)" \
        between "$(q_used "$src")" "$Q_FILL" "$((Q_LIMIT - 1))"
    sc_check "$dst's quota and counter are at zero before the migration (used $(q_used "$dst"), $(c_val "$dst" bytes) bytes)" \
        [ "$(q_used "$dst")" = 0 -a "$(c_val "$dst" bytes)" = 0 ]
    sc_client echo tcp-echo 7 --interval-ms 20 --stall-timeout-s 5
    sleep 1
    sc_drops_mark "$dst"
    t0=$(now_ms)
    sc_check "live migration $src->$dst succeeds" sc_migrate "$src" "$dst"
    sc_report Q "$dst" "$t0" 1
    sc_check "$dst's report counts the carried objects ($(grep '^nft-object' "$ART/report-Q.txt" | head -n 1))" \
        grep -Eq '^nft-object: (.*, )?[1-9][0-9]* installed, 0 failed' "$ART/report-Q.txt"
    sc_check_no_drops "$dst"
    sc_check_echo_intact echo
    # the source's objects stopped when the guest stopped there: their values at its stop
    u_src=$(q_used "$src"); p_src=$(c_val "$src" packets); b_src=$(c_val "$src" bytes)
    u_dst=$(q_used "$dst"); p_dst=$(c_val "$dst" packets); b_dst=$(c_val "$dst" bytes)
    l_dst=$(q_limit "$dst")
    sc_check "$dst's quota continues from the source's: $u_dst bytes used, the source's $u_src at its stop (>= 80 % of $Q_LIMIT) plus at most 1 MiB" \
        between "$u_dst" "$(( u_src > Q_FILL ? u_src : Q_FILL ))" "$((u_src + Q_SLACK))"
    sc_check "$dst's quota kept its own limit ($l_dst bytes, over)" \
        [ "$l_dst" = "$Q_LIMIT" ]
    sc_check "$dst's counter continues from the source's: $p_dst packets, $b_dst bytes; the source's $p_src, $b_src at its stop (plus at most 1 MiB)" \
        counter_continues "$p_src" "$b_src" "$p_dst" "$b_dst"
    timing "17-quota used on the destination - the source's (bytes)" $(( u_dst - u_src ))
    nc_set_profile "$dst" || die "cannot restore the guest's profile on $dst"
}

scenario_run() {
    local h
    sc_need_netcarry
    without_netcarry
    with_netcarry
    for h in $NCH_HOSTS; do fw_table_off "$h" inet "$Q_TABLE"; done
}

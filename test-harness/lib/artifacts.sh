# test-harness/lib/artifacts.sh - per-scenario artifact folders: the part of every host log that
# was written during the scenario, firewall state, client output, and a merged timeline.

# Logs of a host (relative to its directory) that are cut to the scenario's window.
NCH_HOST_LOGS="events.log qmp.log netcarryd.log var/log/libvirt/libvirtd.log
    var/log/libvirt/nch-hooks.log var/log/libvirt/qemu/$NCH_GUEST.log"

# art_mark [OFFSETS] - remember every host log's current size (in OFFSETS, by default the
# scenario's $ART/.offsets); art_collect copies from the scenario's marks on, sc_log_since reads
# from any.
art_mark() {
    local h f o=${1:-$ART/.offsets}
    : > "$o"
    for h in $NCH_HOSTS; do
        for f in $NCH_HOST_LOGS; do
            echo "$h $f $(stat -c %s "$(host_dir "$h")/$f" 2>/dev/null || echo 0)" >> "$o"
        done
    done
}

art_collect() {
    local h f off d
    while read -r h f off; do
        d=$ART/host$h; mkdir -p "$d"
        [ -f "$(host_dir "$h")/$f" ] && tail -c +$((off + 1)) "$(host_dir "$h")/$f" > "$d/$(basename "$f")"
    done < "$ART/.offsets"
    for h in $NCH_HOSTS; do      # the whole console (boot included): it is short
        cp "$(guest_console "$h")" "$ART/host$h/" 2>/dev/null
    done
    sc_fw_snapshot end
    "$NCH_PY" "$NCH_LIB/timeline.py" "$ART" > "$ART/migrations.txt" 2>"$ART/timeline.err" ||
        log "building the timeline failed: $ART/timeline.err"
    [ -s "$ART/timeline.err" ] || rm -f "$ART/timeline.err"
}

# sc_fw_snapshot LABEL - every host's firewall ruleset with its counters, as it is now.
sc_fw_snapshot() {
    local h
    for h in $NCH_HOSTS; do
        mkdir -p "$ART/host$h"
        fw_dump "$h" > "$ART/host$h/firewall-$1.txt"
    done
}

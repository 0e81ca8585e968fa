# test-harness/scenarios/10-requesters.sh - trust: who may ask a source for a guest's state. From
# the fabric (192.168.77.1, not a libvirt host): a stranger without a certificate gets the same
# answer for the running guest and for a UUID that runs nowhere, and a stranger holding its
# connection blocks no migration; a third host with a certificate from the run's CA is refused,
# with nothing sent, without the rendezvous secret, and with it while no migration runs; a revoked
# certificate is refused at the handshake; every refusal is logged with who asked and counted.
# Meanwhile a real migration carries the guest's connection.
SCENARIO_DESC="stranger, third host, revoked certificate: refused, nothing sent, no migration blocked"

NCH_MAX_STALL_MS=${NCH_MAX_STALL_MS:-1000}

# a server certificate for a host "CN" from the run's CA, in the scenario's artifacts
req_cert() {
    local d; d=$(pki_dir)
    certtool --generate-privkey --key-type=ecdsa --outfile "$ART/$1-key.pem" 2>/dev/null &&
        printf 'cn = "%s"\ntls_www_server\nsigning_key\nexpiration_days = 1\n' "$1" > "$ART/$1.tmpl" &&
        certtool --generate-certificate --load-privkey "$ART/$1-key.pem" \
            --load-ca-certificate "$d/ca.pem" --load-ca-privkey "$d/ca-key.pem" \
            --template "$ART/$1.tmpl" --outfile "$ART/$1.pem" >/dev/null 2>&1
}

field() { sed -n "s/.*$1=\([^ ]*\).*/\1/p"; }

# has TEXT PATTERN... - TEXT matches every PATTERN
has() { local t=$1 p; shift; for p in "$@"; do grep -- "$p" <<< "$t" >/dev/null || return 1; done; }

# src_log_has PATTERN - the source's netcarryd log of this scenario has a line matching PATTERN
src_log_has() { sc_log_since "$SRC" netcarryd.log | grep -- "$1" >/dev/null; } # no -q: see 09

scenario_run() {
    local src dst sip uuid probe secret out a1 a2 rc crl n holder third
    sc_need_netcarry
    for h in $NCH_HOSTS; do fw_on "$h"; done
    src=$(guest_where) || die "the guest is not running anywhere"
    dst=$(sc_other_host "$src")
    SRC=$src
    nc_up "$src" || die "netcarryd did not start on $src"
    nc_up "$dst" || die "netcarryd did not start on $dst"
    nc_wait_rendezvous "$src" || die "netcarryd on $src never published the guest's rendezvous"
    nc_guest_ct_flush "$dst"
    probe=$(nc_build)/test-harness/traffic/nc-rv-probe
    [ -x "$probe" ] || sc_skip "nc-rv-probe is not built in $(nc_build)"
    sip=$(host_ip "$src")
    uuid=$(vsh "$src" domuuid "$NCH_GUEST")
    req_cert hostC && req_cert hostD || die "certtool: cannot make the third hosts' certificates"
    # hostD's certificate is revoked in a CRL at libvirt's location on the source
    crl=$(host_dir "$src")/etc/pki/CA/cacrl.pem
    printf 'crl_next_update = 1\ncrl_number = 1\n' > "$ART/crl.tmpl"
    certtool --generate-crl --load-ca-privkey "$(pki_dir)/ca-key.pem" \
        --load-ca-certificate "$(pki_dir)/ca.pem" --load-certificate "$ART/hostD.pem" \
        --template "$ART/crl.tmpl" --outfile "$crl" >/dev/null 2>&1 || die "certtool: no CRL"

    # 1. a stranger learns nothing: the same answer for the running guest and for nobody
    a1=$(fabric_exec "$probe" --hold 50 "$sip" 16520 "$uuid" | field answer)
    a2=$(fabric_exec "$probe" --hold 50 "$sip" 16520 "$(cat /proc/sys/kernel/random/uuid)" | field answer)
    sc_check "a stranger gets the same plain answer for the running guest ($a1) and an unknown UUID ($a2)" \
        [ "$a1" = OK -a "$a1" = "$a2" ]

    # 2. who can read the secret: libvirt's read-only connections see the live metadata
    secret=$(fabric_exec virsh -r -c "$(host_uri "$src")" dumpxml "$NCH_GUEST" 2>/dev/null |
        grep -o 'secret="[0-9a-f]*"' | head -n 1 | cut -d'"' -f2)
    sc_check "a read-only libvirt connection (virsh -r dumpxml) shows the rendezvous secret (${#secret} hex digits; README says so)" \
        [ "${#secret}" = 64 ]

    # 3. a third host with a valid certificate, no migration under way
    out=$(fabric_exec "$probe" --ca "$(pki_dir)/ca.pem" --cert "$ART/hostC.pem" \
        --key "$ART/hostC-key.pem" --wait 4000 "$sip" 16520 "$uuid")
    echo "no secret: $out" >> "$ART/probes.txt"
    sc_check "a third host with the CA's certificate but no secret is refused, nothing sent ($out)" \
        has "$out" 'chunks=0 entries=0' 'not authorised'

    out=$(fabric_exec "$probe" --ca "$(pki_dir)/ca.pem" --cert "$ART/hostC.pem" \
        --key "$ART/hostC-key.pem" --secret "$secret" --wait 4000 "$sip" 16520 "$uuid")
    echo "current secret, no migration: $out" >> "$ART/probes.txt"
    sc_check "with the current secret but no migration under way: refused, nothing sent ($out)" \
        has "$out" 'chunks=0 entries=0' 'no outgoing migration'

    # 4. a revoked certificate
    out=$(fabric_exec "$probe" --ca "$(pki_dir)/ca.pem" --cert "$ART/hostD.pem" \
        --key "$ART/hostD-key.pem" --secret "$secret" --wait 4000 "$sip" 16520 "$uuid")
    echo "revoked: $out" >> "$ART/probes.txt"
    sc_check "a certificate revoked in $src's /etc/pki/CA/cacrl.pem is refused at the handshake ($out)" \
        has "$out" 'hello=0 chunks=0 entries=0'

    sleep 0.3
    sc_check "$src logs the refusal of hostC without a secret: address, certificate subject, reason" \
        src_log_has 'refused 192.168.77.1:[0-9]* (certificate subject CN=hostC).*(secret)'
    sc_check "$src logs the refusal of hostC with the secret but no migration" \
        src_log_has 'refused 192.168.77.1:[0-9]* (certificate subject CN=hostC).*(not-migrating)'
    sc_check "$src logs the revoked certificate ($(sc_log_since "$src" netcarryd.log | grep -m1 -o 'CN=hostD.*' | cut -c1-160))" \
        src_log_has 'CN=hostD.*revoked'

    # 5. a real migration while a stranger holds a connection and a third host asks
    sc_client echo tcp-echo 7 --interval-ms 20 --stall-timeout-s 5
    sleep 1
    fabric_exec "$probe" --hold 5000 "$sip" 16520 "$uuid" > "$ART/holder.out" &
    holder=$!
    sleep 0.2
    ( sleep 0.6; fabric_exec "$probe" --ca "$(pki_dir)/ca.pem" --cert "$ART/hostC.pem" \
        --key "$ART/hostC-key.pem" --wait 4000 "$sip" 16520 "$uuid" > "$ART/third.out" ) &
    third=$!
    sc_migrate "$src" "$dst"; rc=$?
    wait "$holder" "$third"
    sc_check "the migration succeeds while a stranger holds a connection (virsh exit $rc; holder: $(cat "$ART/holder.out"))" \
        [ "$rc" = 0 ]
    n=$(field closed_after_ms < "$ART/holder.out")
    sc_check "the source dropped the silent holder within its authentication bound (2 s; after ${n:-?} ms)" \
        [ "${n:--1}" -ge 0 -a "${n:--1}" -le 3000 ]
    sc_check "a third host asking during the migration is refused, nothing sent ($(cat "$ART/third.out"))" \
        grep -q 'chunks=0 entries=0.*not authorised' "$ART/third.out"
    sc_check "the guest now runs on $dst" [ "$(vsh "$dst" domstate "$NCH_GUEST" 2>/dev/null)" = running ]
    sc_check_echo_intact
    nc_cli "$src" status > "$ART/status-$src.txt" 2>&1
    sc_check "'netcarry status' on $src counts the refusals ($(grep -m1 '^refused' "$ART/status-$src.txt"))" \
        grep -q '^refused: [1-9].*secret=[1-9].*not-migrating=[1-9]' "$ART/status-$src.txt"
    rm -f "$crl"
}

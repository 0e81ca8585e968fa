# test-harness/scenarios/06-trust.sh - trust: the destination's netcarryd presents a certificate
# from another CA (same names, wrong issuer), so the source's netcarryd must not deliver the
# guest's state to it. With the default policy (refuse) the migration is refused at admission;
# the destination installs nothing, keeps no gate, and the guest's connection stays intact.
SCENARIO_DESC="destination's certificate from a foreign CA: no state delivered, migration refused, nothing installed"

NCH_MAX_STALL_MS=${NCH_MAX_STALL_MS:-1000}

scenario_run() {
    local h src dst rc n tls
    sc_need_netcarry
    for h in $NCH_HOSTS; do fw_on "$h"; done
    src=$(guest_where) || die "the guest is not running anywhere"
    dst=$(sc_other_host "$src")
    nc_up "$src" || die "netcarryd did not start on $src"
    nc_up "$dst" --cert foreign || die "netcarryd did not start on $dst"
    sc_check "$dst's certificate is the foreign CA's ($(host_exec "$dst" certtool -i --infile /etc/pki/libvirt/servercert.pem 2>/dev/null | sed -n 's/^[[:space:]]*Issuer: //p' | head -n 1))" \
        [ "$(pki_issuer "$dst")" = foreign-ca ]
    nc_wait_rendezvous "$src" || die "netcarryd on $src never published the guest's rendezvous"
    nc_guest_ct_flush "$dst"

    sc_client echo tcp-echo 7 --interval-ms 20 --stall-timeout-s 5
    sleep 1
    sc_migrate "$src" "$dst"; rc=$?
    sc_check "the migration is refused (policy refuse; virsh exit $rc: $(grep -o 'netcarry: .*' "$ART/migrate-$src$dst.out" | head -n 1))" \
        grep -q "netcarry: cannot carry the network state of $NCH_GUEST" "$ART/migrate-$src$dst.out"
    tls=$( { sc_log_since "$src" netcarryd.log; sc_log_since "$dst" netcarryd.log; } |
        grep -iE '(certificate|handshake|tls|x509).*(fail|refus|trust|invalid|unknown|error|signer)|(fail|refus).*(certificate|handshake|tls)' |
        head -n 2 | cut -c1-240 | tr '\n' ' ')
    sc_check "a daemon logs why: the peer's certificate ($tls)" [ -n "$tls" ]
    sc_check "the guest still runs on $src" [ "$(vsh "$src" domstate "$NCH_GUEST" 2>/dev/null)" = running ]
    n=$(nc_guest_ct "$dst" | wc -l)
    sc_check "$dst installed no conntrack entry of the guest ($n)" [ "$n" = 0 ]
    sc_check "$dst keeps no gate ($(nc_gates "$dst" | tr '\n' ' '))" [ -z "$(nc_gates "$dst")" ]
    sleep 1
    sc_client_stop echo; rc=$?
    sc_check "the connection is intact on $src ($(cat "$ART/client-echo.result"))" \
        sc_client_intact echo "$rc" "$NCH_MAX_STALL_MS"
    nc_up "$dst" || die "netcarryd did not restart on $dst with the run's certificate"
}

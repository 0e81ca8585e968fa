# test-harness/lib/pki.sh - a per-run x509 PKI for netcarryd's mutual TLS, at libvirt's locations.
# The run's CA signs a server and a client certificate for every host; a second, foreign CA signs
# a look-alike certificate for the trust scenario. ECDSA keys: the whole PKI takes well under 1 s.
#
# Inside host H (its private mount namespace binds $RUN/hosts/H/etc/pki over /etc/pki):
#   /etc/pki/CA/cacert.pem                 the run's CA (what every host trusts)
#   /etc/pki/libvirt/servercert.pem        CN = hostH, SAN dNSName hostH + iPAddress 192.168.77.1x
#   /etc/pki/libvirt/private/serverkey.pem
#   /etc/pki/libvirt/clientcert.pem        same names, TLS web client usage
#   /etc/pki/libvirt/private/clientkey.pem
# These are netcarry.conf's [tls] defaults, so the harness's config names no TLS file at all.

pki_dir() { echo "$RUN/pki"; }

pki_key() { certtool --generate-privkey --key-type=ecdsa --outfile "$1" 2>/dev/null; }

# pki_ca NAME CN - a self-signed CA: NAME.pem, NAME-key.pem in the PKI directory.
pki_ca() {
    local d; d=$(pki_dir)
    pki_key "$d/$1-key.pem" || return 1
    printf 'cn = "%s"\nca\ncert_signing_key\nexpiration_days = 7\n' "$2" > "$d/$1.tmpl"
    certtool --generate-self-signed --load-privkey "$d/$1-key.pem" --template "$d/$1.tmpl" \
        --outfile "$d/$1.pem" >/dev/null 2>"$d/$1.err"
}

# pki_cert CA NAME HOST USAGE - NAME.pem/NAME-key.pem for HOST (its name and address), signed by CA.
pki_cert() {
    local d ca=$1 name=$2 h=$3 usage=$4; d=$(pki_dir)
    pki_key "$d/$name-key.pem" || return 1
    printf 'cn = "host%s"\ndns_name = "host%s"\nip_address = "%s"\n%s\nsigning_key\nencryption_key\nexpiration_days = 7\n' \
        "$h" "$h" "$(host_ip "$h")" "$usage" > "$d/$name.tmpl"
    certtool --generate-certificate --load-privkey "$d/$name-key.pem" \
        --load-ca-certificate "$d/$ca.pem" --load-ca-privkey "$d/$ca-key.pem" \
        --template "$d/$name.tmpl" --outfile "$d/$name.pem" >/dev/null 2>"$d/$name.err"
}

# pki_make - the run's CA, every host's certificates, and the foreign CA's look-alikes.
pki_make() {
    local d h; d=$(pki_dir)
    command -v certtool >/dev/null || die "certtool not found (gnutls-bin; run test-harness/deps)"
    mkdir -p "$d"
    pki_ca ca "netcarry harness CA $NCH_ID" || die "certtool: making the harness CA failed ($d/ca.err)"
    pki_ca foreign-ca "foreign CA $NCH_ID" || die "certtool: making the foreign CA failed"
    for h in $NCH_HOSTS; do
        pki_cert ca "server-$h" "$h" tls_www_server &&
            pki_cert ca "client-$h" "$h" tls_www_client &&
            pki_cert foreign-ca "foreign-server-$h" "$h" tls_www_server &&
            pki_cert foreign-ca "foreign-client-$h" "$h" tls_www_client ||
            die "certtool: making host $h's certificates failed (see $d/*.err)"
    done
    rm -f "$d"/*.tmpl "$d"/*.err
}

# pki_install HOST [foreign] - put HOST's certificates at libvirt's PKI paths inside the host;
# 'foreign': its own certificates come from the foreign CA (it still trusts the run's CA).
pki_install() {
    local h=$1 d p=""; d=$(pki_dir)
    local pki; pki=$(host_dir "$h")/etc/pki
    [ "${2:-}" = foreign ] && p=foreign-
    [ -f "$d/ca.pem" ] || die "no PKI in this run ($d); it is made by 'nch up'"
    mkdir -p "$pki/CA" "$pki/libvirt/private"
    install -m 0644 "$d/ca.pem" "$pki/CA/cacert.pem"
    install -m 0644 "$d/${p}server-$h.pem" "$pki/libvirt/servercert.pem"
    install -m 0600 "$d/${p}server-$h-key.pem" "$pki/libvirt/private/serverkey.pem"
    install -m 0644 "$d/${p}client-$h.pem" "$pki/libvirt/clientcert.pem"
    install -m 0600 "$d/${p}client-$h-key.pem" "$pki/libvirt/private/clientkey.pem"
    echo "${p:-harness-}ca" > "$pki/.nch-issuer"
}

# pki_issuer HOST - which CA signed HOST's installed certificates: harness-ca or foreign-ca.
pki_issuer() { cat "$(host_dir "$1")/etc/pki/.nch-issuer" 2>/dev/null; }

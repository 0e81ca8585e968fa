#!/bin/sh
# make-test-pki.sh - a throw-away x509 PKI for the peer link's tests, made with certtool
# Usage: make-test-pki.sh DIR. Writes into DIR: ca1.pem, ca2.pem (two unrelated CAs);
# from CA1: server.pem/-key (names localhost, 127.0.0.1, ::1), client.pem/-key,
# client-b.pem/-key (a second host's, for tests with two hosts that each play both sides),
# wronghost.pem/-key (a server cert for other.invalid only), expired.pem/-key (a client cert
# valid in 2001 only), revoked.pem/-key (a client cert that crl1.pem, CA1's revocation list,
# revokes), crl1-empty.pem (CA1's list revoking nothing), crl2.pem (CA2's list, revoking
# revoked.pem's serial: not CA1's to say); from CA2: client2.pem/-key. ECDSA keys: generating them takes milliseconds.
set -eu
dir=$1
cd "$dir"
command -v certtool >/dev/null || { echo "certtool not found: apt-get install gnutls-bin" >&2; exit 77; }

key() { certtool --generate-privkey --key-type=ecdsa --outfile "$1" 2>/dev/null; }

ca() { # name cn
    key "$1-key.pem"
    printf 'cn = "%s"\nca\ncert_signing_key\nexpiration_days = 30\n' "$2" > "$1.tmpl"
    certtool --generate-self-signed --load-privkey "$1-key.pem" --template "$1.tmpl" \
        --outfile "$1.pem" 2>/dev/null
}

cert() { # name ca extra-template-lines...
    name=$1 ca=$2
    shift 2
    key "$name-key.pem"
    : > "$name.tmpl"
    for line in "$@"; do printf '%s\n' "$line" >> "$name.tmpl"; done
    certtool --generate-certificate --load-privkey "$name-key.pem" --load-ca-certificate "$ca.pem" \
        --load-ca-privkey "$ca-key.pem" --template "$name.tmpl" --outfile "$name.pem" 2>/dev/null
}

ca ca1 "netcarry test CA 1"
ca ca2 "netcarry test CA 2"
cert server ca1 'cn = "localhost"' 'dns_name = "localhost"' 'ip_address = "127.0.0.1"' \
    'ip_address = "::1"' tls_www_server signing_key 'expiration_days = 30'
cert client ca1 'cn = "client.test"' tls_www_client signing_key 'expiration_days = 30'
cert client-b ca1 'cn = "client-b.test"' tls_www_client signing_key 'expiration_days = 30'
cert client2 ca2 'cn = "client2.test"' tls_www_client signing_key 'expiration_days = 30'
cert wronghost ca1 'cn = "other.invalid"' 'dns_name = "other.invalid"' tls_www_server \
    signing_key 'expiration_days = 30'
cert expired ca1 'cn = "expired.test"' tls_www_client signing_key \
    'activation_date = "2001-01-01 00:00:00 UTC"' 'expiration_date = "2001-12-31 00:00:00 UTC"'
cert revoked ca1 'cn = "revoked.test"' tls_www_client signing_key 'expiration_days = 30'

crl() { # name ca [certificate to revoke]
    printf 'crl_next_update = 30\ncrl_number = 1\n' > "$1.tmpl"
    if [ -n "${3:-}" ]; then
        certtool --generate-crl --load-ca-privkey "$2-key.pem" --load-ca-certificate "$2.pem" \
            --load-certificate "$3.pem" --template "$1.tmpl" --outfile "$1.pem" 2>/dev/null
    else
        certtool --generate-crl --load-ca-privkey "$2-key.pem" --load-ca-certificate "$2.pem" \
            --template "$1.tmpl" --outfile "$1.pem" 2>/dev/null
    fi
}
crl crl1 ca1 revoked
crl crl1-empty ca1
crl crl2 ca2 revoked
rm -f ./*.tmpl

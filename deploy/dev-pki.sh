#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Makes a throwaway development PKI (CA, agent and client certificates) for tracectl's mutual TLS.
set -euo pipefail

usage() {
	cat <<'USAGE'
usage: dev-pki.sh DIR [--days N] [--client-cn NAME] [--force]

Creates in DIR, with the openssl CLI and EC P-256 keys:
  ca.pem, ca.key          a self-signed CA (basicConstraints CA:TRUE)
  agent.pem, agent.key    the agent's server certificate (serverAuth,
                          CN=tracectl-agent, SAN DNS:localhost, IP:127.0.0.1, IP:::1)
  client.pem, client.key  a client certificate (clientAuth, CN=--client-cn,
                          default "tracectl-dev-client")

  --days N          validity in days (default 30)
  --client-cn NAME  the client identity the agent's policy sees
  --force           overwrite existing files (otherwise refuse)

Keys are written mode 0600. For development and tests only: production CAs
keep their key offline.
USAGE
}

dir=""
days=30
client_cn="tracectl-dev-client"
force=0
while [[ $# -gt 0 ]]; do
	case "$1" in
	-h | --help)
		usage
		exit 0
		;;
	--days)
		[[ $# -ge 2 ]] || { echo "dev-pki.sh: --days needs a value" >&2; exit 2; }
		days="$2"
		shift 2
		;;
	--client-cn)
		[[ $# -ge 2 ]] || { echo "dev-pki.sh: --client-cn needs a value" >&2; exit 2; }
		client_cn="$2"
		shift 2
		;;
	--force)
		force=1
		shift
		;;
	-*)
		echo "dev-pki.sh: unknown option '$1'" >&2
		usage >&2
		exit 2
		;;
	*)
		if [[ -n "$dir" ]]; then
			echo "dev-pki.sh: only one DIR, got '$dir' and '$1'" >&2
			exit 2
		fi
		dir="$1"
		shift
		;;
	esac
done

if [[ -z "$dir" ]]; then
	usage >&2
	exit 2
fi
if ! [[ "$days" =~ ^[1-9][0-9]*$ ]]; then
	echo "dev-pki.sh: --days wants a positive integer, got '$days'" >&2
	exit 2
fi
if ! [[ "$client_cn" =~ ^[A-Za-z0-9._@-]{1,64}$ ]]; then
	echo "dev-pki.sh: --client-cn wants 1-64 of [A-Za-z0-9._@-], got '$client_cn'" >&2
	exit 2
fi
command -v openssl >/dev/null || { echo "dev-pki.sh: openssl not found (apt-get install openssl)" >&2; exit 1; }

files=(ca.pem ca.key agent.pem agent.key client.pem client.key)
mkdir -p "$dir"
if [[ $force -eq 0 ]]; then
	for f in "${files[@]}"; do
		if [[ -e "$dir/$f" ]]; then
			echo "dev-pki.sh: $dir/$f exists; not overwriting (use --force)" >&2
			exit 1
		fi
	done
fi

umask 077
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

newkey() {
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null
	chmod 0600 "$1"
}

# The CA.
newkey "$work/ca.key"
openssl req -new -x509 -key "$work/ca.key" -sha256 -days "$days" \
	-subj "/O=tracectl dev/CN=tracectl dev CA" \
	-addext "basicConstraints=critical,CA:TRUE" \
	-addext "keyUsage=critical,keyCertSign,cRLSign" \
	-addext "subjectKeyIdentifier=hash" \
	-out "$work/ca.pem"

# sign NAME CN EXTFILE: a leaf certificate signed by the CA.
sign() {
	local name="$1" cn="$2" ext="$3"

	newkey "$work/$name.key"
	openssl req -new -key "$work/$name.key" -sha256 -subj "/O=tracectl dev/CN=$cn" -out "$work/$name.csr"
	openssl x509 -req -in "$work/$name.csr" -CA "$work/ca.pem" -CAkey "$work/ca.key" \
		-set_serial "0x$(openssl rand -hex 16)" -days "$days" -sha256 \
		-extfile "$ext" -out "$work/$name.pem" 2>/dev/null
}

cat >"$work/agent.ext" <<'EXT'
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
EXT
cat >"$work/client.ext" <<'EXT'
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
EXT
sign agent tracectl-agent "$work/agent.ext"
sign client "$client_cn" "$work/client.ext"

# Check before installing anything: each leaf verifies against the CA for its purpose.
openssl verify -CAfile "$work/ca.pem" -purpose sslserver "$work/agent.pem" >/dev/null
openssl verify -CAfile "$work/ca.pem" -purpose sslclient "$work/client.pem" >/dev/null

for f in "${files[@]}"; do
	case "$f" in
	*.key) mode=0600 ;;
	*) mode=0644 ;;
	esac
	install -m "$mode" "$work/$f" "$dir/$f"
done

echo "dev-pki.sh: made a development PKI in $dir (valid $days days):"
echo "  $dir/ca.pem, $dir/ca.key        CA (CA:TRUE)"
echo "  $dir/agent.pem, $dir/agent.key  agent: CN=tracectl-agent, serverAuth, SAN DNS:localhost, IP:127.0.0.1, IP:::1"
echo "  $dir/client.pem, $dir/client.key  client: CN=$client_cn, clientAuth"

# fixtures.sh — real components for tests, cached under build/cache (sourced).
#
# fixture_debian_kernel: Debian's cloud kernel .deb (apt-get download, never
#   installed), unpacked once. Sets KDEB (the .deb), KVER, KROOT (the unpacked
#   tree: KROOT/boot/vmlinuz-KVER, KROOT/lib/modules/KVER).
# fixture_ca DIR: a CA and a server certificate for localhost and 127.0.0.1
#   in DIR (ca.pem, srv.pem, srv.key), plus an unrelated CA (wrong-ca.pem).
# fixture_https DIR ROOT: serves ROOT over HTTPS with DIR's certificate on a
#   free 127.0.0.1 port; sets HTTPS_PORT and HTTPS_PID (killed at exit by the
#   caller's trap or fixture_stop).
# shellcheck shell=bash

CACHE=${CACHE:-$TOP/build/cache}

fixture_debian_kernel() {
	local dir=$CACHE/debian-kernel pkg
	mkdir -p "$dir"
	if [ ! -f "$dir/ready" ]; then
		pkg=$(apt-cache depends linux-image-cloud-amd64 |
			awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
		[ -n "$pkg" ] || { echo "fixture: no linux-image-cloud-amd64 in apt" >&2; return 1; }
		rm -rf "${dir:?}"/*
		(cd "$dir" && apt-get download -q "$pkg" >/dev/null 2>&1) || {
			echo "fixture: apt-get download $pkg failed" >&2
			return 1
		}
		dpkg-deb -x "$dir"/"$pkg"_*.deb "$dir/root"
		echo "${pkg#linux-image-}" >"$dir/ready"
	fi
	KVER=$(cat "$dir/ready")
	KDEB=$(ls "$dir"/linux-image-*.deb)
	KROOT=$dir/root
	export KVER KDEB KROOT
}

fixture_ca() {
	local d=$1
	mkdir -p "$d"
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=banger-test-CA \
		-keyout "$d/ca.key" -out "$d/ca.pem" 2>/dev/null
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=wrong-CA \
		-keyout "$d/wrong-ca.key" -out "$d/wrong-ca.pem" 2>/dev/null
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=localhost \
		-keyout "$d/srv.key" -out "$d/srv.csr" 2>/dev/null
	printf '%s\n' 'subjectAltName=DNS:localhost,IP:127.0.0.1' 'basicConstraints=CA:FALSE' \
		'extendedKeyUsage=serverAuth' >"$d/ext.cnf"
	openssl x509 -req -in "$d/srv.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" \
		-CAcreateserial -days 2 -extfile "$d/ext.cnf" -out "$d/srv.pem" 2>/dev/null
}

# A free TCP port on 127.0.0.1 (the kernel picks it; a race is unlikely in tests).
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

fixture_https() {
	local certs=$1 root=$2 i
	HTTPS_PORT=$(free_port)
	python3 "$TOP/tests/https_server.py" "$HTTPS_PORT" "$root" "$certs/srv.pem" "$certs/srv.key" \
		>"$certs/https.log" 2>&1 &
	HTTPS_PID=$!
	for i in $(seq 100); do
		(echo >"/dev/tcp/127.0.0.1/$HTTPS_PORT") 2>/dev/null && break
		sleep 0.05
	done
	[ "$i" -lt 100 ] || { echo "fixture: https server did not start" >&2; return 1; }
	export HTTPS_PORT HTTPS_PID
}

fixture_stop() {
	[ -n "${HTTPS_PID:-}" ] && kill "$HTTPS_PID" 2>/dev/null
	HTTPS_PID=
}

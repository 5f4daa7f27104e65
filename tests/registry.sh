# registry.sh — a real OCI registry for tests, and images to push to it
# (sourced after lib.sh and fixtures.sh). Any test may use it.
#
# registry_init: a CA and server certificate (fixture_ca) in $REG_DIR/certs,
#   a certs.d tree in $REG_DIR/certs.d (skopeo --cert-dir, banger's
#   BANGER_CERTS_D), htpasswd and token-signing material. Exports
#   BANGER_CERTS_D. Call once per test file.
# registry_start MODE: starts docker-registry on a free 127.0.0.1 port with
#   TLS, MODE plain (no auth), http (no auth, no TLS), htpasswd (Basic, $REG_USER:$REG_PASS) or token
#   (Bearer, a token service on another port); sets REG_PORT (the registry is
#   localhost:$REG_PORT, or 127.0.0.1:$REG_PORT by its IP SAN) and
#   adds its pids to REG_PIDS. registry_stop_all kills them.
# registry_push OCI_LAYOUT:TAG HOST:PORT/REPO:TAG [CREDS]: skopeo copy.
# fixture_debian_oci: a debootstrap --variant=minbase bookworm as an OCI
#   layout (one layer), cached under $CACHE; sets DEBIAN_OCI (LAYOUT:bookworm).
# registry_push_debian PORT [CREDS]: pushes it as localhost:PORT/library/debian:bookworm.
# fixture_debian_ext4: the whole path for VM tests — a registry (started
#   here, after registry_init), the Debian image pushed, then
#   `banger image-pull` into $BANGER_HOME; sets DEBIAN_EXT4 (the rootfs.ext4
#   with banger's agent in it). Needs root. The caller's EXIT trap should
#   call registry_stop_all.
# shellcheck shell=bash

REG_USER=banger
REG_PASS=s3cret-pass
REG_PIDS=

registry_init() {
	REG_DIR=$TMP/registry
	mkdir -p "$REG_DIR/certs.d"
	fixture_ca "$REG_DIR/certs"
	htpasswd -Bbn "$REG_USER" "$REG_PASS" >"$REG_DIR/htpasswd" 2>/dev/null
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=banger-test-token-signer \
		-keyout "$REG_DIR/token.key" -out "$REG_DIR/token.pem" 2>/dev/null
	BANGER_CERTS_D=$REG_DIR/certs.d
	export BANGER_CERTS_D REG_DIR
}

# wait_port PORT: until something listens on 127.0.0.1:PORT (5 s).
wait_port() {
	local _
	for _ in $(seq 100); do
		(echo >"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

registry_start() {
	local mode=$1 port tport dir
	port=$(free_port)
	dir=$REG_DIR/reg-$port
	mkdir -p "$dir/data" "$REG_DIR/certs.d/localhost:$port"
	cp "$REG_DIR/certs/ca.pem" "$REG_DIR/certs.d/localhost:$port/ca.crt"
	cat >"$dir/config.yml" <<-YML
		version: 0.1
		log:
		  level: error
		  accesslog:
		    disabled: true
		storage:
		  filesystem:
		    rootdirectory: $dir/data
		  delete:
		    enabled: true
		http:
		  addr: 127.0.0.1:$port
		  secret: banger-test-secret
		  tls:
		    certificate: $REG_DIR/certs/srv.pem
		    key: $REG_DIR/certs/srv.key
	YML
	case $mode in
	htpasswd)
		printf 'auth:\n  htpasswd:\n    realm: banger-test\n    path: %s\n' \
			"$REG_DIR/htpasswd" >>"$dir/config.yml"
		;;
	token)
		tport=$(free_port)
		python3 "$TOP/tests/token_server.py" "$tport" "$REG_DIR/token.key" \
			"$REG_DIR/token.pem" banger-test-issuer "$REG_USER:$REG_PASS" \
			>"$dir/token.log" 2>&1 &
		REG_PIDS="$REG_PIDS $!"
		wait_port "$tport" || { echo "registry: token service did not start" >&2; return 1; }
		printf 'auth:\n  token:\n    realm: http://127.0.0.1:%s/token\n    service: banger-test\n    issuer: banger-test-issuer\n    rootcertbundle: %s\n' \
			"$tport" "$REG_DIR/token.pem" >>"$dir/config.yml"
		;;
	plain) ;;
	http) sed -i '/^  tls:/,$d' "$dir/config.yml" ;;
	*) echo "registry_start: unknown mode $mode" >&2; return 1 ;;
	esac
	docker-registry serve "$dir/config.yml" >"$dir/log" 2>&1 &
	REG_PIDS="$REG_PIDS $!"
	wait_port "$port" || { echo "registry: did not start: $(tail -3 "$dir/log")" >&2; return 1; }
	REG_PORT=$port
	export REG_PORT
}

registry_stop_all() {
	local p
	for p in $REG_PIDS; do kill "$p" 2>/dev/null; done
	REG_PIDS=
}

registry_push() {
	local src=$1 dst=$2 creds=${3:-}
	skopeo copy -q --dest-cert-dir "$REG_DIR/certs.d/${dst%%/*}" \
		${creds:+--dest-creds "$creds"} "oci:$src" "docker://$dst" >/dev/null
}

fixture_debian_oci() {
	local dir=$CACHE/debian-bookworm-minbase-oci w
	if [ ! -f "$dir/ready" ]; then
		rm -rf "$dir"
		mkdir -p "$dir"
		w=$dir/work
		debootstrap --variant=minbase bookworm "$w/rootfs" http://deb.debian.org/debian \
			>"$dir/debootstrap.log" 2>&1 || {
			echo "fixture: debootstrap failed, see $dir/debootstrap.log" >&2
			return 1
		}
		rm -rf "$w/rootfs/var/cache/apt/archives/"*.deb
		if ! { tar --numeric-owner --xattrs --xattrs-include='*' --sort=name \
			-C "$w/rootfs" -cf "$w/layer.tar" . &&
			umoci init --layout "$dir/layout" &&
			umoci new --image "$dir/layout:empty" &&
			umoci raw add-layer --image "$dir/layout:empty" "$w/layer.tar" --tag bookworm &&
			umoci config --image "$dir/layout:bookworm" --os linux --architecture amd64 \
				--config.cmd /bin/bash &&
			umoci gc --layout "$dir/layout"; }; then
			echo "fixture: building the OCI layout failed" >&2
			return 1
		fi
		rm -rf "$w"
		touch "$dir/ready"
	fi
	DEBIAN_OCI=$dir/layout:bookworm
	export DEBIAN_OCI
}

registry_push_debian() {
	fixture_debian_oci || return 1
	registry_push "$DEBIAN_OCI" "localhost:$1/library/debian:bookworm" "${2:-}"
}

fixture_debian_ext4() {
	[ -n "${REG_DIR:-}" ] || registry_init
	if ! { registry_start plain && registry_push_debian "$REG_PORT" &&
		"$BANGER" -q image-pull --name debian-bookworm \
			"localhost:$REG_PORT/library/debian:bookworm" >/dev/null; }; then
		echo "fixture: image-pull of the Debian image failed" >&2
		return 1
	fi
	DEBIAN_EXT4=$BANGER_HOME/images/debian-bookworm/rootfs.ext4
	export DEBIAN_EXT4
}

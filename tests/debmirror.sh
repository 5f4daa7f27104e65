# debmirror.sh — a signed Debian archive laid out as Debian's (dists/SUITE/
# InRelease over the Packages indexes, pool/ beside), for tests and benches.
# Sourced; needs gpg. The test key is the archive keyring banger is given
# ($BANGER_DEB_KEYRING), so only what this file signs is trusted.
# shellcheck shell=bash

# debmirror_key DIR: an RSA signing key in DIR/gnupg, exported (binary, as
# /usr/share/keyrings holds them) to DIR/keyring.gpg.
debmirror_key() {
	export GNUPGHOME=$1/gnupg
	mkdir -p "$GNUPGHOME" && chmod 700 "$GNUPGHOME"
	gpg --batch --quiet --passphrase '' --quick-gen-key \
		'banger test archive <test@banger.invalid>' rsa3072 sign never 2>/dev/null &&
		gpg --batch --export >"$1/keyring.gpg"
}

# debmirror_sign ROOT SUITE [CODENAME]: writes ROOT/dists/SUITE/Release
# listing every file below it (SHA256 and size, as Debian's do) and signs
# it into InRelease with the debmirror_key key.
debmirror_sign() {
	local d=$1/dists/$2 f
	rm -f "$d/Release" "$d/InRelease"
	{
		printf 'Origin: Debian\nLabel: Debian\nSuite: %s\nCodename: %s\n' "$2" "${3:-$2}"
		printf 'Date: Thu, 01 Jan 2026 00:00:00 UTC\nArchitectures: amd64\nComponents: main\n'
		printf 'Description: banger test archive\nSHA256:\n'
		(cd "$d" && find . -type f | sed 's|^\./||' | sort) | while read -r f; do
			printf ' %s %16s %s\n' "$(sha256sum <"$d/$f" | cut -d' ' -f1)" \
				"$(stat -c %s "$d/$f")" "$f"
		done
	} >"$d/Release"
	gpg --batch --quiet --yes --digest-algo SHA256 --clearsign -o "$d/InRelease" "$d/Release"
}

# debmirror_closure PKG…: the names apt would need for PKG… plus Debian's
# Priority required and Essential packages (every alternative, so a
# superset of any resolver's choice), from the host's apt lists.
debmirror_closure() {
	local base
	# shellcheck disable=SC2016 # apt's own $(FILENAME) template
	base=$(apt-get indextargets --format '$(FILENAME)' 'Identifier: Packages' |
		xargs -r /usr/lib/apt/apt-helper cat-file 2>/dev/null |
		awk '/^Package:/ {p=$2} /^Priority: required/ || /^Essential: yes/ {print p}' | sort -u)
	# shellcheck disable=SC2086 # one name a word
	apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
		--no-replaces --no-enhances $base "$@" 2>/dev/null | grep -v '^[ <]' | sort -u
}

# debmirror_fetch DIR PKG…: the .debs of PKG… (apt-get download, cached in
# DIR across runs).
debmirror_fetch() {
	local d=$1 p missing=()
	shift
	mkdir -p "$d"
	for p in "$@"; do
		compgen -G "$d/${p}_*.deb" >/dev/null || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] || (cd "$d" && apt-get download -q "${missing[@]}" >/dev/null 2>&1)
}

# debmirror_make ROOT SUITE DEB…: a one-suite archive of those .debs
# (symlinked into ROOT/pool/main), its Packages index (plain and .xz), signed.
debmirror_make() {
	local root=$1 suite=$2
	shift 2
	mkdir -p "$root/pool/main" "$root/dists/$suite/main/binary-amd64"
	# Debian's pool names carry no epoch (apt-get download writes it as %3a).
	for f in "$@"; do
		ln -sf "$f" "$root/pool/main/$(basename "$f" | sed 's/_[0-9]*%3a/_/')"
	done
	debmirror_index "$root" "$suite"
}

# debmirror_index ROOT SUITE: ROOT/pool indexed again (plain and .xz) and
# signed — after a test changed a package there.
debmirror_index() {
	local idx=$1/dists/$2/main/binary-amd64
	# The plain index too, as Debian's Release lists it (debootstrap wants it).
	(cd "$1" && dpkg-scanpackages -m pool /dev/null 2>/dev/null) >"$idx/Packages"
	xz -T1 -kf "$idx/Packages"
	debmirror_sign "$1" "$2"
}

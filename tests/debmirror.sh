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

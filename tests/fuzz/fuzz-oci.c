/* fuzz-oci — the registry documents lib/oci/registry.c reads: manifests,
 * indexes, image configs and credential files. The first byte picks the
 * document (and the platform or host asked for), the rest is the JSON.
 * Invariants: an accepted manifest has 1..LIMIT_LAYERS layers, each with a
 * sha256 digest of 64 hex digits, a size within LIMIT_DOWNLOAD and a layer
 * type banger unpacks; a selected index entry has a valid digest; found
 * credentials are terminated within their buffers; every refusal says why. */
#include "fuzz.h"

#include "err.h"
#include "exitcode.h"
#include "limits.h"
#include "oci/registry.h"

static const char *const platforms[] = { "linux/amd64", "linux/arm64", "linux/arm/v7", "linux",
					 "" };
static const char *const hosts[] = { "docker.io", "localhost:5000", "127.0.0.1:5443", "quay.io" };

static void digest_ok(const char *d)
{
	FUZZ_CHECK(!strncmp(d, "sha256:", 7) && strlen(d) == 7 + DIGEST_HEX_LEN);
	FUZZ_CHECK(strspn(d + 7, "0123456789abcdef") == DIGEST_HEX_LEN);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct oci_image img;
	struct oci_desc d;
	struct err e;
	char *json, user[256], pass[256], plat[64];
	int rc;

	if (size < 1)
		return 0;
	json = fuzz_cstr(data + 1, size - 1);
	err_init(&e);
	switch (data[0] % 4) {
	case 0:
		memset(&img, 0, sizeof(img));
		if (oci_manifest_parse(json, &img, &e) == 0) {
			FUZZ_CHECK(img.nlayers >= 1 && img.nlayers <= LIMIT_LAYERS);
			digest_ok(img.config.digest);
			for (size_t i = 0; i < img.nlayers; i++) {
				digest_ok(img.layers[i].digest);
				FUZZ_CHECK(img.layers[i].size <= LIMIT_DOWNLOAD);
				FUZZ_CHECK(oci_layer_type_ok(img.layers[i].media_type));
			}
		} else {
			FUZZ_CHECK(e.msg[0] && e.code);
		}
		oci_image_fini(&img);
		break;
	case 1:
		rc = oci_index_select(json, platforms[(data[0] >> 2) % 5], &d, &e);
		if (rc == 0) {
			digest_ok(d.digest);
			FUZZ_CHECK(FUZZ_TERMINATED(d.media_type) && d.size <= LIMIT_DOWNLOAD);
		} else {
			FUZZ_CHECK(e.msg[0] && e.code);
		}
		break;
	case 2:
		rc = oci_config_platform(json, platforms[(data[0] >> 2) % 5], plat, sizeof(plat),
					 &e);
		FUZZ_CHECK(rc == 0 || e.msg[0]);
		if (rc == 0 || e.code == EXIT_NOTFOUND)
			FUZZ_CHECK(FUZZ_TERMINATED(plat) && strchr(plat, '/'));
		break;
	default:
		rc = registry_creds_from_json(json, hosts[(data[0] >> 2) % 4], "auth.json", user,
					      sizeof(user), pass, sizeof(pass), &e);
		FUZZ_CHECK(rc >= -1 && rc <= 1);
		if (rc == 1)
			FUZZ_CHECK(FUZZ_TERMINATED(user) && FUZZ_TERMINATED(pass));
		if (rc < 0)
			FUZZ_CHECK(e.code == EXIT_USAGE && e.msg[0]);
		break;
	}
	free(json);
	return 0;
}

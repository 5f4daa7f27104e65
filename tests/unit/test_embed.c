/* Unit tests: lib/embed.S — embedded files are whole and NUL-terminated. */
#include "harness.h"

#include "embed.h"
#include "err.h"
#include "file.h"

static void same_as_source(void)
{
	struct embedded u = embedded_unit_first_boot();
	char *src;
	size_t len;
	struct err e;

	CHECK(file_read_all("config/systemd/banger-first-boot.service", 1 << 20, &src, &len, &e) ==
	      0);
	CHECK(u.size == len && !memcmp(u.data, src, len) && u.data[u.size] == '\0');
	free(src);
	u = embedded_unit_vsock_agent();
	CHECK(strstr(u.data, "ExecStart=/run/banger/banger-vsock-agent") != NULL);
}

int main(void)
{
	HARNESS_BEGIN("embed");
	RUN(same_as_source);
	HARNESS_END();
}

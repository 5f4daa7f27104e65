/* image-pull — an OCI registry image or catalog entry, as a bootable ext4 root.
 *
 * usage: image-pull [-qv] [--name NAME] REF
 *
 * REF is a catalog name or an OCI reference (docker.io/library/debian:bookworm).
 * Not implemented yet (exit 3).
 */
#include "applet.h"

const char image_pull_usage[] =
	"usage: image-pull [-qv] [--name NAME] REF\n"
	"\n"
	"REF is a catalog name or an OCI reference (docker.io/library/debian:bookworm).\n"
	"Not implemented yet (exit 3).\n";

int image_pull_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return applet_not_implemented();
}

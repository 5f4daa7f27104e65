/* version.c — see version.h. The only object that sees the version macros,
 * so a new commit recompiles one file, not the tree. */
#include "version.h"

#ifndef BANGER_VERSION
#define BANGER_VERSION "0.0.0"
#endif
#ifndef BANGER_SOURCES
#define BANGER_SOURCES "unknown"
#endif

const char *banger_version(void)
{
	return BANGER_VERSION;
}

const char *banger_sources(void)
{
	return BANGER_SOURCES;
}

/* version.h — what this build is: banger's version and the Debian source
 * versions of the libraries linked in. Static strings; never fail. */
#ifndef BANGER_VERSION_H
#define BANGER_VERSION_H

/* "git describe" of the tree that was built, e.g. "v0.1-12-gabc1234". */
const char *banger_version(void);
/* "bearssl=0.6+dfsg.1-3 zlib=… …" from build/deps/.sources. */
const char *banger_sources(void);

#endif

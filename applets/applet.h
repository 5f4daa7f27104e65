/* applet.h — what every applet file sees: its prototypes from the table. */
#ifndef BANGER_APPLET_H
#define BANGER_APPLET_H

#define APPLET(name, ident, where, summary)                                                        \
	int ident##_main(int argc, char **argv);                                                   \
	extern const char ident##_usage[];
#include "applets.h"
#undef APPLET

#endif

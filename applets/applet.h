/* applet.h — what every applet file sees: its prototypes from the table. */
#ifndef BANGER_APPLET_H
#define BANGER_APPLET_H

#define APPLET(name, ident, where, summary)                                                        \
	int ident##_main(int argc, char **argv);                                                   \
	extern const char ident##_usage[];
#include "applets.h"
#undef APPLET

#include <stdbool.h>
#include <stddef.h>

/* The table (applets.h) as data, for the dispatcher and completion. */
struct applet {
	const char *name;
	int (*main)(int argc, char **argv);
	const char *usage;
	const char *summary;
	bool guest; /* runs inside the VM: its stderr is the serial console */
};
extern const struct applet applet_table[];
extern const size_t applet_count;

/* image-prune's and kernel-prune's common body (applets/image-prune.c). */
int prune_applet(int argc, char **argv, bool images);
/* vm-pause's and vm-resume's common body (applets/vm-pause.c). */
int pause_applet(int argc, char **argv, bool pause);

#endif

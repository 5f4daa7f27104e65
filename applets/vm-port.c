/* vm-port — list a microVM's published ports (vm run/create -p).
 *
 * Its usage, the text --help prints, is vm_port_usage[] below.
 */
#include "applet.h"
#include "err.h"
#include "exitcode.h"
#include "store.h"
#include "vm/vm.h"
#include "xfuncs.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char vm_port_usage[] =
	"usage: vm-port NAME [GUESTPORT[/tcp]]\n"
	"\n"
	"One line per published port, as docker port prints them:\n"
	"GUESTPORT/tcp -> HOSTIP:HOSTPORT. With GUESTPORT only its host side;\n"
	"none published for it answers 1. The forwarder runs while the VM does.\n"
	"\n"
	"examples:\n"
	"  banger vm port web\n"
	"  banger vm port web 80\n";

int vm_port_main(int argc, char **argv)
{
	struct vm_config c;
	struct vm_paths p;
	struct store s;
	struct err e;
	unsigned long want = 0;
	int o, shown = 0;

	err_init(&e);
	while ((o = xgetopt(argc, argv, "+")) != -1)
		die_usage("unknown option");
	if (optind >= argc || argc - optind > 2)
		die_usage("give the name of one VM, and a guest port if you like");
	if (argc - optind == 2) {
		char *end;

		want = strtoul(argv[optind + 1], &end, 10);
		if ((*end && strcmp(end, "/tcp")) || !want || want > 65535)
			die_usage("'%s': give a guest port, 1-65535", argv[optind + 1]);
	}
	if (store_init(&s, &e) < 0 || vm_paths_init(&s, argv[optind], &p, &e) < 0 ||
	    vm_config_load(&p, &c, &e) < 0)
		die_err(&e);
	for (int i = 0; i < c.nports; i++) {
		const struct agent_port *q = &c.ports[i];
		bool v6 = strchr(q->host, ':') != NULL;

		if (want && q->guest_port != want)
			continue;
		if (!want)
			printf("%u/tcp -> ", q->guest_port);
		printf("%s%s%s:%u\n", v6 ? "[" : "", q->host, v6 ? "]" : "", q->host_port);
		shown++;
	}
	if (fflush(stdout))
		return EXIT_SYSTEM;
	return want && !shown ? EXIT_NO : EXIT_OK;
}

/* vm-inspect — everything known about microVMs, as JSON (docker inspect's shape).
 *
 * Its usage, the text --help prints, is vm_inspect_usage[] below.
 */
#include "applet.h"
#include "err.h"
#include "exitcode.h"
#include "file.h"
#include "log.h"
#include "path.h"
#include "store.h"
#include "vm/pause.h"
#include "vm/vm.h"
#include "xfuncs.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char vm_inspect_usage[] =
	"usage: vm-inspect NAME...\n"
	"\n"
	"Prints a JSON array, one object a VM: name, state (paused too) and pid\n"
	"(as vm-list sees them), config (its config.json), addresses (guest address, gateway,\n"
	"prefix, MAC, bridge, tap), ports (host ports forwarded to the guest),\n"
	"image (the installed image's manifest.json: digest, source, …) and\n"
	"kernel (the kernel's manifest.json), and paths (its directory, console\n"
	"log, disk). A missing image or kernel is null. Exits 7 when a VM does\n"
	"not exist (the others are still printed).\n"
	"\n"
	"examples:\n"
	"  banger vm inspect web\n"
	"  banger vm inspect web | jq -r '.[0].addresses.ip'\n"
	"  banger vm inspect web | jq -r '.[0].image.digest'\n";

/* kind/name/manifest.json parsed, or a JSON null when it cannot be read. */
static cJSON *manifest(const struct store *s, const char *kind, const char *name)
{
	char dir[LIMIT_PATH], path[LIMIT_PATH], *text;
	struct err e;
	size_t len;
	cJSON *o;

	err_init(&e);
	if (store_object_dir(s, kind, name, dir, sizeof(dir), &e) < 0 ||
	    path_join(path, sizeof(path), dir, "manifest.json", &e) < 0 ||
	    file_read_all(path, LIMIT_JSON_DOC, &text, &len, &e) < 0)
		return cJSON_CreateNull();
	o = cJSON_ParseWithLength(text, len);
	free(text);
	return o ? o : cJSON_CreateNull();
}

static void add(cJSON *o, const char *key, cJSON *v)
{
	if (!v || !cJSON_AddItemToObject(o, key, v))
		die(EXIT_SYSTEM, "out of memory");
}

static cJSON *inspect(const struct store *s, const struct vm_paths *p, const struct vm_config *c)
{
	struct err e;
	pid_t pid;
	enum vm_status st = vm_status_get(p, &pid);
	char *text;
	cJSON *o = cJSON_CreateObject(), *a, *paths, *ports, *port;

	err_init(&e);
	if (!o || !(text = vm_config_to_json(c, &e)))
		die(EXIT_SYSTEM, "out of memory");
	add(o, "name", cJSON_CreateString(c->name));
	add(o, "state", cJSON_CreateString(vm_state_shown(p, c, st)));
	add(o, "pid", cJSON_CreateNumber(st == VM_RUNNING ? pid : 0));
	add(o, "config", cJSON_Parse(text));
	free(text);
	add(o, "addresses", a = cJSON_CreateObject());
	add(a, "net", cJSON_CreateString(c->net));
	add(a, "ip", !strcmp(c->net, "tap") ? cJSON_CreateString(c->ip) : cJSON_CreateNull());
	add(a, "gateway",
	    !strcmp(c->net, "tap") ? cJSON_CreateString(c->gateway) : cJSON_CreateNull());
	add(a, "prefix", cJSON_CreateNumber(c->prefix));
	add(a, "mac", cJSON_CreateString(c->mac));
	add(a, "bridge", cJSON_CreateString(strcmp(c->net, "tap") ? "" : c->bridge));
	add(a, "tap", cJSON_CreateString(strcmp(c->net, "tap") ? "" : c->tap));
	add(a, "vsock_cid", cJSON_CreateNumber(c->cid));
	add(o, "ports", ports = cJSON_CreateArray());
	/* QEMU's own ssh forward, then what -p publishes through the agent. */
	for (int i = c->ssh_port ? -1 : 0; i < c->nports; i++) {
		if (!(port = cJSON_CreateObject()) || !cJSON_AddItemToArray(ports, port))
			die(EXIT_SYSTEM, "out of memory");
		add(port, "host", cJSON_CreateString(i < 0 ? "127.0.0.1" : c->ports[i].host));
		add(port, "host_port",
		    cJSON_CreateNumber(i < 0 ? c->ssh_port : c->ports[i].host_port));
		add(port, "guest_port", cJSON_CreateNumber(i < 0 ? 22 : c->ports[i].guest_port));
		add(port, "proto", cJSON_CreateString("tcp"));
	}
	add(o, "image", manifest(s, "images", c->image));
	add(o, "kernel", manifest(s, "kernels", c->kernel));
	add(o, "paths", paths = cJSON_CreateObject());
	add(paths, "dir", cJSON_CreateString(p->dir));
	add(paths, "console", cJSON_CreateString(p->console));
	if (strcmp(c->disk, "overlay")) {
		add(paths, "rootfs", cJSON_CreateString(p->rootfs));
	} else {
		add(paths, "base", cJSON_CreateString(p->base));
		add(paths, "upper", cJSON_CreateString(p->upper));
	}
	return o;
}

int vm_inspect_main(int argc, char **argv)
{
	cJSON *arr = cJSON_CreateArray();
	struct store s;
	struct err e;
	int rc = EXIT_OK;
	char *text;

	err_init(&e);
	if (xgetopt(argc, argv, "+") != -1)
		die_usage("unknown option");
	if (optind >= argc)
		die_usage("give the name of a VM");
	if (!arr || store_init(&s, &e) < 0)
		die_err(&e);
	for (int i = optind; i < argc; i++) {
		struct vm_config c;
		struct vm_paths p;

		err_init(&e);
		if (vm_paths_init(&s, argv[i], &p, &e) < 0 || vm_config_load(&p, &c, &e) < 0) {
			log_error("%s", e.msg);
			rc = e.code;
			continue;
		}
		cJSON_AddItemToArray(arr, inspect(&s, &p, &c));
	}
	if (!(text = cJSON_Print(arr)))
		die(EXIT_SYSTEM, "out of memory");
	printf("%s\n", text);
	free(text);
	cJSON_Delete(arr);
	return fflush(stdout) ? EXIT_SYSTEM : rc;
}

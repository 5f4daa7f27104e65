/* pause.c — see pause.h. */
#include "vm/pause.h"
#include "err.h"
#include "exitcode.h"
#include "path.h"
#include "vm/firecracker.h"
#include "vm/qemu.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

int vm_api_sock(const struct vm_paths *p, const struct vm_config *c, char *out, size_t size,
		struct err *e)
{
	char root[LIMIT_PATH];

	if (!c->jail)
		return path_join(out, size, p->api_sock, "", e);
	if (fc_jail_root(p->jail, c->name, root, sizeof(root), e) < 0)
		return -1;
	return path_join(out, size, root, "firecracker.socket", e);
}

/* A string field of a JSON answer into out ("" when absent). */
static void answer_field(const char *json, const char *key, char *out, size_t size)
{
	cJSON *j = cJSON_Parse(json);
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);

	snprintf(out, size, "%s", cJSON_IsString(v) ? v->valuestring : "");
	cJSON_Delete(j);
}

enum vm_run_state vm_run_state_get(const struct vm_paths *p, const struct vm_config *c,
				   int timeout_ms, struct err *e)
{
	char answer[LIMIT_QMP_ANSWER], state[32], api[LIMIT_PATH];

	if (!strcmp(c->vmm, "qemu")) {
		struct qmp q;
		int r;

		if (qemu_qmp_open(&q, p->qmp_sock, timeout_ms, e) < 0)
			return VM_RUN_UNKNOWN;
		r = qemu_qmp_call(&q, "query-status", NULL, -1, answer, sizeof(answer), e);
		qemu_qmp_close(&q);
		if (r < 0)
			return VM_RUN_UNKNOWN;
		/* "running" is the one state whose vCPUs run; paused, postmigrate,
		 * inmigrate, prelaunch… all hold them. */
		answer_field(answer, "status", state, sizeof(state));
		if (!state[0]) {
			err_set(e, EXIT_GUEST, "%s: QEMU's query-status gave no status", c->name);
			return VM_RUN_UNKNOWN;
		}
		return strcmp(state, "running") ? VM_RUN_PAUSED : VM_RUN_RUNNING;
	}
	if (vm_api_sock(p, c, api, sizeof(api), e) < 0 ||
	    fc_call(api, "GET", "/", NULL, timeout_ms, answer, sizeof(answer), e) < 0)
		return VM_RUN_UNKNOWN;
	answer_field(answer, "state", state, sizeof(state));
	if (!strcmp(state, "Paused"))
		return VM_RUN_PAUSED;
	if (!strcmp(state, "Running"))
		return VM_RUN_RUNNING;
	err_set(e, EXIT_GUEST, "%s: Firecracker says its state is '%s'", c->name, state);
	return VM_RUN_UNKNOWN;
}

const char *vm_state_shown(const struct vm_paths *p, const struct vm_config *c, enum vm_status st)
{
	struct err e;

	err_init(&e);
	if (st == VM_RUNNING && vm_run_state_get(p, c, VM_QUERY_TIMEOUT_MS, &e) == VM_RUN_PAUSED)
		return "paused";
	return vm_status_name(st);
}

/* Pause (true) or resume (false): checks the VM's state first, so the
 * second pause of a VM says so instead of succeeding silently. */
static int set_paused(const struct vm_paths *p, const struct vm_config *c, bool pause,
		      struct err *e)
{
	const char *verb = pause ? "pause" : "resume";
	char api[LIMIT_PATH];
	enum vm_run_state rs;

	if (vm_status_get(p, NULL) != VM_RUNNING)
		return err_set(e, EXIT_NO,
			       "VM '%s' is not running — nothing to %s ('banger vm "
			       "start %s' boots it)",
			       c->name, verb, c->name);
	rs = vm_run_state_get(p, c, QMP_TIMEOUT_MS, e);
	if (rs == VM_RUN_UNKNOWN)
		return err_prefix(e, "cannot %s VM '%s'", verb, c->name);
	if (pause && rs == VM_RUN_PAUSED)
		return err_set(e, EXIT_NO, "VM '%s' is already paused ('banger vm resume %s')",
			       c->name, c->name);
	if (!pause && rs == VM_RUN_RUNNING)
		return err_set(e, EXIT_NO, "VM '%s' is not paused", c->name);
	if (!strcmp(c->vmm, "qemu"))
		return qemu_qmp(p->qmp_sock, pause ? "stop" : "cont", e);
	if (vm_api_sock(p, c, api, sizeof(api), e) < 0)
		return -1;
	{
		cJSON *body = fc_body_vm_state(pause ? "Paused" : "Resumed");
		int r = body ? fc_request(api, "PATCH", "/vm", body, e)
			     : err_set(e, EXIT_SYSTEM, "out of memory");

		cJSON_Delete(body);
		return r;
	}
}

int vm_pause(const struct vm_paths *p, const struct vm_config *c, struct err *e)
{
	return set_paused(p, c, true, e);
}

int vm_resume(const struct vm_paths *p, const struct vm_config *c, struct err *e)
{
	return set_paused(p, c, false, e);
}

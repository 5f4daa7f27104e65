/* firecracker.c — see firecracker.h. */
#include "vm/firecracker.h"
#include "http.h"
#include "buf.h"
#include "err.h"
#include "exitcode.h"
#include "limits.h"
#include "path.h"
#include "proc.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

cJSON *fc_body_machine(const struct fc_vm *vm)
{
	cJSON *o = cJSON_CreateObject();

	if (!o || !cJSON_AddNumberToObject(o, "vcpu_count", vm->vcpus) ||
	    !cJSON_AddNumberToObject(o, "mem_size_mib", vm->mem_mib) ||
	    !cJSON_AddFalseToObject(o, "smt")) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

cJSON *fc_body_boot(const struct fc_vm *vm)
{
	cJSON *o = cJSON_CreateObject();

	if (!o || !cJSON_AddStringToObject(o, "kernel_image_path", vm->kernel) ||
	    (vm->boot_args && !cJSON_AddStringToObject(o, "boot_args", vm->boot_args)) ||
	    (vm->initrd && !cJSON_AddStringToObject(o, "initrd_path", vm->initrd))) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

static cJSON *drive(const char *id, const char *path, bool root, bool ro)
{
	cJSON *o = cJSON_CreateObject();

	if (!o || !cJSON_AddStringToObject(o, "drive_id", id) ||
	    !cJSON_AddStringToObject(o, "path_on_host", path) ||
	    !cJSON_AddBoolToObject(o, "is_root_device", root) ||
	    !cJSON_AddBoolToObject(o, "is_read_only", ro)) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

/* With an upper layer the base is shared by every VM of the image: the
 * VMM opens it read-only, so no guest can write it whatever it does. */
cJSON *fc_body_rootfs(const struct fc_vm *vm)
{
	return drive("rootfs", vm->rootfs, true, vm->upper != NULL);
}

cJSON *fc_body_upper(const struct fc_vm *vm)
{
	return drive("upper", vm->upper, false, false);
}

cJSON *fc_body_net(const struct fc_vm *vm)
{
	cJSON *o = cJSON_CreateObject();

	if (!o || !cJSON_AddStringToObject(o, "iface_id", "eth0") ||
	    !cJSON_AddStringToObject(o, "host_dev_name", vm->tap) ||
	    (vm->mac && !cJSON_AddStringToObject(o, "guest_mac", vm->mac))) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

cJSON *fc_body_vsock(const struct fc_vm *vm)
{
	cJSON *o = cJSON_CreateObject();

	if (!o || !cJSON_AddNumberToObject(o, "guest_cid", vm->vsock_cid) ||
	    !cJSON_AddStringToObject(o, "uds_path", vm->vsock_uds)) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

cJSON *fc_body_action(const char *action_type)
{
	cJSON *o = cJSON_CreateObject();

	if (!o || !cJSON_AddStringToObject(o, "action_type", action_type)) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

cJSON *fc_body_vm_state(const char *state)
{
	cJSON *o = cJSON_CreateObject();

	if (!o || !cJSON_AddStringToObject(o, "state", state)) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

cJSON *fc_body_snapshot_create(const char *state_path, const char *mem_path)
{
	cJSON *o = cJSON_CreateObject();

	if (!o || !cJSON_AddStringToObject(o, "snapshot_type", "Full") ||
	    !cJSON_AddStringToObject(o, "snapshot_path", state_path) ||
	    !cJSON_AddStringToObject(o, "mem_file_path", mem_path)) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

cJSON *fc_body_snapshot_load(const char *state_path, const char *mem_path, const char *tap,
			     const char *vsock_uds, bool resume)
{
	cJSON *o = cJSON_CreateObject(), *mem, *nets, *net, *vs;

	if (!o || !cJSON_AddStringToObject(o, "snapshot_path", state_path) ||
	    !(mem = cJSON_AddObjectToObject(o, "mem_backend")) ||
	    !cJSON_AddStringToObject(mem, "backend_type", "File") ||
	    !cJSON_AddStringToObject(mem, "backend_path", mem_path) ||
	    !cJSON_AddBoolToObject(o, "resume_vm", resume))
		goto fail;
	if (tap && (!(nets = cJSON_AddArrayToObject(o, "network_overrides")) ||
		    !(net = cJSON_CreateObject()) || !cJSON_AddItemToArray(nets, net) ||
		    !cJSON_AddStringToObject(net, "iface_id", "eth0") ||
		    !cJSON_AddStringToObject(net, "host_dev_name", tap)))
		goto fail;
	if (vsock_uds && (!(vs = cJSON_AddObjectToObject(o, "vsock_override")) ||
			  !cJSON_AddStringToObject(vs, "uds_path", vsock_uds)))
		goto fail;
	return o;
fail:
	cJSON_Delete(o);
	return NULL;
}

static void one_line(char *s)
{
	for (; *s; s++)
		if (*s == '\n' || *s == '\r' || *s == '\t')
			*s = ' ';
}

void fc_fault_message(const char *body, size_t len, char *out, size_t size)
{
	cJSON *j = body && len ? cJSON_ParseWithLength(body, len) : NULL;
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "fault_message");

	if (!size)
		return;
	if (cJSON_IsString(m))
		snprintf(out, size, "%s", m->valuestring);
	else if (body && len)
		snprintf(out, size, "%.*s", (int)(len > 400 ? 400 : len), body);
	else
		out[0] = '\0';
	cJSON_Delete(j);
	one_line(out);
}

/* The fix to suggest for a refused request, by what it configured. */
static const char *fix_for(const char *path)
{
	if (!strcmp(path, "/machine-config"))
		return "use --cpus 1 or an even number up to 32 and a --memory the host can give";
	if (!strcmp(path, "/boot-source"))
		return "check the kernel: Firecracker needs an uncompressed ELF vmlinux";
	if (!strncmp(path, "/drives/", 8))
		return "check the VM's rootfs.ext4 exists and is readable";
	if (!strncmp(path, "/network-interfaces/", 20))
		return "check the tap device exists and is not in use ('banger doctor')";
	if (!strcmp(path, "/vsock"))
		return "check /dev/vhost-vsock ('banger doctor') and that the CID is unused";
	if (!strcmp(path, "/vm"))
		return "the VM must be running ('banger vm list')";
	if (!strcmp(path, "/snapshot/create"))
		return "check the store has room for the VM's memory";
	if (!strcmp(path, "/snapshot/load"))
		return "take the snapshot again with this Firecracker";
	return "see the VM's console log ('banger vm logs NAME')";
}

int fc_call(const char *sock, const char *method, const char *path, const cJSON *body,
	    int timeout_ms, char *out, size_t size, struct err *e)
{
	char url[LIMIT_PATH], fault[300];
	struct http_req req = { 0 };
	struct http_resp resp;
	struct buf answer;
	char *json = NULL;
	int ret = -1;

	if (snprintf(url, sizeof(url), "http://localhost%s", path) >= (int)sizeof(url))
		return err_set(e, EXIT_VERIFY, "firecracker: %s: path too long", path);
	if (body && !(json = cJSON_PrintUnformatted(body)))
		return err_set(e, EXIT_SYSTEM, "firecracker: %s %s: out of memory", method, path);
	req.url = url;
	req.method = method;
	req.unix_socket = sock;
	req.headers[0] = "Content-Type: application/json";
	req.headers[1] = "Accept: application/json";
	req.body = json;
	req.body_len = json ? strlen(json) : 0;
	req.retries = -1; /* InstanceStart and friends are not ours to repeat */
	req.timeout_s = (timeout_ms > 0 ? timeout_ms : FC_REQUEST_TIMEOUT_MS) / 1000;
	buf_init(&answer, LIMIT_HTTP_ERROR_BODY, "Firecracker answer");
	if (http_fetch(&req, &answer, &resp, e) < 0) {
		char why[ERR_MSG_MAX];

		memcpy(why, e->msg, sizeof(why));
		err_set(e, EXIT_GUEST, "firecracker: %s %s via %s: %.200s — is the VMM running?",
			method, path, sock, why);
		goto out;
	}
	if (resp.status < 200 || resp.status > 299) {
		fc_fault_message(answer.data, answer.len, fault, sizeof(fault));
		err_set(e, EXIT_GUEST, "firecracker refused %s %s (%ld): %s — %s", method, path,
			resp.status, fault[0] ? fault : "no fault message", fix_for(path));
		goto out;
	}
	if (out && size)
		snprintf(out, size, "%.*s", (int)(answer.len < size ? answer.len : size - 1),
			 answer.data ? answer.data : "");
	ret = 0;
out:
	buf_fini(&answer);
	free(json);
	return ret;
}

int fc_request(const char *sock, const char *method, const char *path, const cJSON *body,
	       struct err *e)
{
	return fc_call(sock, method, path, body, 0, NULL, 0, e);
}

static int put(const char *sock, const char *path, cJSON *body, struct err *e)
{
	int r;

	if (!body)
		return err_set(e, EXIT_SYSTEM, "firecracker: %s: out of memory", path);
	r = fc_request(sock, "PUT", path, body, e);
	cJSON_Delete(body);
	return r;
}

int fc_configure(const char *sock, const struct fc_vm *vm, struct err *e)
{
	if (put(sock, "/machine-config", fc_body_machine(vm), e) < 0 ||
	    put(sock, "/boot-source", fc_body_boot(vm), e) < 0 ||
	    put(sock, "/drives/rootfs", fc_body_rootfs(vm), e) < 0 ||
	    (vm->upper && put(sock, "/drives/upper", fc_body_upper(vm), e) < 0))
		return -1;
	if (vm->tap && put(sock, "/network-interfaces/eth0", fc_body_net(vm), e) < 0)
		return -1;
	if (vm->vsock_cid && put(sock, "/vsock", fc_body_vsock(vm), e) < 0)
		return -1;
	return 0;
}

int fc_action(const char *sock, const char *action_type, struct err *e)
{
	return put(sock, "/actions", fc_body_action(action_type), e);
}

int fc_jail_root(const char *jail_base, const char *id, char *out, size_t size, struct err *e)
{
	return path_joinf(out, size, e, jail_base, "firecracker/%s/root", id);
}

int fc_launch(const struct fc_launch *l, int timeout_ms, pid_t *pid, struct err *e)
{
	char uid[16], gid[16];
	const char *argv[20];
	int n = 0;
	pid_t p;

	if (l->jailer) {
		snprintf(uid, sizeof(uid), "%u", (unsigned)l->uid);
		snprintf(gid, sizeof(gid), "%u", (unsigned)l->gid);
		argv[n++] = l->jailer;
		argv[n++] = "--id";
		argv[n++] = l->jail_id;
		argv[n++] = "--exec-file";
		argv[n++] = l->firecracker;
		argv[n++] = "--uid";
		argv[n++] = uid;
		argv[n++] = "--gid";
		argv[n++] = gid;
		argv[n++] = "--chroot-base-dir";
		argv[n++] = l->jail_base;
		argv[n++] = "--";
		argv[n++] = "--api-sock";
		argv[n++] = "/firecracker.socket";
	} else {
		argv[n++] = l->firecracker;
		argv[n++] = "--api-sock";
		argv[n++] = l->api_sock;
	}
	argv[n] = NULL;

	unlink(l->api_sock);
	if (proc_spawn_detached(argv, l->log, &p, e) < 0) {
		char msg[ERR_MSG_MAX];

		snprintf(msg, sizeof(msg), "%s", e->msg);
		return err_set(e, e->code, "%.400s — install Firecracker or set BANGER_FIRECRACKER",
			       msg);
	}
	*pid = p;
	if (proc_wait_socket(l->api_sock, p, timeout_ms, e) < 0) {
		proc_kill(p);
		return -1;
	}
	return 0;
}

int fc_parse_version(const char *line, int *major, int *minor, int *patch)
{
	const char *v = strstr(line, "Firecracker v");

	if (!v)
		return -1;
	*patch = 0;
	if (sscanf(v + 13, "%d.%d.%d", major, minor, patch) < 2)
		return -1;
	return 0;
}

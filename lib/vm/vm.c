/* vm.c — see vm.h. */
#include "vm/vm.h"
#include "agent/agent.h"
#include "base64.h"
#include "units.h"
#include "err.h"
#include "exitcode.h"
#include "ext4/ext4.h"
#include "file.h"
#include "kernel/initramfs.h"
#include "vm/firecracker.h"
#include "lock.h"
#include "vm/net.h"
#include "path.h"
#include "proc.h"
#include "vm/qemu.h"
#include "vm/snapshot.h"
#include "store.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int vm_paths_init(const struct store *s, const char *name, struct vm_paths *p, struct err *e)
{
	static const struct {
		size_t off;
		const char *file;
	} files[] = {
		{ offsetof(struct vm_paths, config), "config.json" },
		{ offsetof(struct vm_paths, rootfs), "rootfs.ext4" },
		{ offsetof(struct vm_paths, base), "base.ext4" },
		{ offsetof(struct vm_paths, upper), "upper.ext4" },
		{ offsetof(struct vm_paths, console), "console.log" },
		{ offsetof(struct vm_paths, pid), "pid" },
		{ offsetof(struct vm_paths, state), "state" },
		{ offsetof(struct vm_paths, api_sock), "api.sock" },
		{ offsetof(struct vm_paths, vsock), "vsock.sock" },
		{ offsetof(struct vm_paths, agent_sock), "agent.sock" },
		{ offsetof(struct vm_paths, fwd_sock), "forward.sock" },
		{ offsetof(struct vm_paths, qmp_sock), "qmp.sock" },
		{ offsetof(struct vm_paths, jail), "jail" },
		{ offsetof(struct vm_paths, forward), "forward.pid" },
	};

	if (store_object_dir(s, "vms", name, p->dir, sizeof(p->dir), e) < 0)
		return -1;
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		if (path_join((char *)p + files[i].off, LIMIT_PATH, p->dir, files[i].file, e) < 0)
			return -1;
	return path_join(p->leases, sizeof(p->leases), s->home, "net/leases", e);
}

void vm_config_defaults(struct vm_config *c, const char *name)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->name, sizeof(c->name), "%s", name);
	snprintf(c->vmm, sizeof(c->vmm), "firecracker");
	c->cpus = VM_DEFAULT_CPUS;
	c->mem_mib = VM_DEFAULT_MEM_MIB;
	snprintf(c->net, sizeof(c->net), "none");
	snprintf(c->disk, sizeof(c->disk), "overlay");
	c->prefix = 24;
}

/* What commands run with: "env", "workdir", "user". */
static bool run_to_json(cJSON *o, const struct vm_config *c)
{
	cJSON *a = cJSON_AddArrayToObject(o, "env");

	if (!a)
		return false;
	for (const char *p = strlist_next(&c->env, NULL); p; p = strlist_next(&c->env, p))
		if (!cJSON_AddItemToArray(a, cJSON_CreateString(p)))
			return false;
	return cJSON_AddStringToObject(o, "workdir", c->workdir) &&
	       cJSON_AddStringToObject(o, "user", c->user);
}

static bool ports_to_json(cJSON *o, const struct vm_config *c)
{
	cJSON *a = cJSON_AddArrayToObject(o, "ports");

	for (int i = 0; a && i < c->nports; i++) {
		char v[80];

		agent_port_format(&c->ports[i], v, sizeof(v));
		if (!cJSON_AddItemToArray(a, cJSON_CreateString(v)))
			return false;
	}
	return a != NULL;
}

/* "ports": ["HOSTIP:HOSTPORT:GUESTPORT", ...], absent in older configs. */
static int ports_from_json(const cJSON *o, struct vm_config *c, struct err *e)
{
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, "ports"), *v;

	c->nports = 0;
	if (!a)
		return 0;
	if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) > AGENT_PORTS_MAX)
		return err_set(e, EXIT_VERIFY, "config.json: \"ports\" must be at most %d strings",
			       AGENT_PORTS_MAX);
	cJSON_ArrayForEach(v, a)
	{
		if (!cJSON_IsString(v) ||
		    agent_port_parse(&c->ports[c->nports], v->valuestring, e) < 0)
			return err_set(e, EXIT_VERIFY, "config.json: a bad entry in \"ports\"");
		c->nports++;
	}
	return 0;
}

char *vm_config_to_json(const struct vm_config *c, struct err *e)
{
	cJSON *o = cJSON_CreateObject();
	char *s = NULL;

	if (o && cJSON_AddStringToObject(o, "name", c->name) &&
	    cJSON_AddStringToObject(o, "vmm", c->vmm) &&
	    cJSON_AddStringToObject(o, "kernel", c->kernel) &&
	    cJSON_AddStringToObject(o, "image", c->image) &&
	    cJSON_AddNumberToObject(o, "cpus", c->cpus) &&
	    cJSON_AddNumberToObject(o, "memory_mib", c->mem_mib) &&
	    cJSON_AddNumberToObject(o, "disk_bytes", (double)c->disk_bytes) &&
	    cJSON_AddStringToObject(o, "disk", c->disk) &&
	    cJSON_AddStringToObject(o, "net", c->net) && cJSON_AddBoolToObject(o, "nat", c->nat) &&
	    cJSON_AddBoolToObject(o, "jail", c->jail) && cJSON_AddStringToObject(o, "ip", c->ip) &&
	    cJSON_AddStringToObject(o, "gateway", c->gateway) &&
	    cJSON_AddNumberToObject(o, "prefix", c->prefix) &&
	    cJSON_AddStringToObject(o, "bridge", c->bridge) &&
	    cJSON_AddStringToObject(o, "tap", c->tap) &&
	    cJSON_AddStringToObject(o, "mac", c->mac) &&
	    cJSON_AddNumberToObject(o, "vsock_cid", c->cid) &&
	    cJSON_AddNumberToObject(o, "ssh_port", c->ssh_port) &&
	    cJSON_AddStringToObject(o, "ssh_key", c->ssh_key) &&
	    cJSON_AddNumberToObject(o, "created", (double)c->created) &&
	    cJSON_AddStringToObject(o, "init", c->init) &&
	    cJSON_AddStringToObject(o, "tmpfs", c->tmpfs) && run_to_json(o, c) &&
	    ports_to_json(o, c))
		s = cJSON_Print(o);
	cJSON_Delete(o);
	if (!s)
		err_set(e, EXIT_SYSTEM, "%s: config: out of memory", c->name);
	return s;
}

static int get_str(const cJSON *o, const char *key, char *out, size_t size, struct err *e)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!v)
		return 0;
	if (!cJSON_IsString(v) || strlen(v->valuestring) >= size)
		return err_set(e, EXIT_VERIFY,
			       "config.json: \"%s\" must be a string under %zu bytes", key, size);
	memcpy(out, v->valuestring, strlen(v->valuestring) + 1);
	return 0;
}

static int get_num(const cJSON *o, const char *key, double lo, double hi, double *out,
		   struct err *e)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!v)
		return 0;
	if (!cJSON_IsNumber(v) || v->valuedouble < lo || v->valuedouble > hi)
		return err_set(e, EXIT_VERIFY, "config.json: \"%s\" must be a number in %.0f..%.0f",
			       key, lo, hi);
	*out = v->valuedouble;
	return 0;
}

static int get_bool(const cJSON *o, const char *key, bool *out, struct err *e)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!v)
		return 0;
	if (!cJSON_IsBool(v))
		return err_set(e, EXIT_VERIFY, "config.json: \"%s\" must be true or false", key);
	*out = cJSON_IsTrue(v);
	return 0;
}

static int get_env(const cJSON *o, struct strlist *l, struct err *e)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "env"), *it;

	if (!v)
		return 0;
	if (!cJSON_IsArray(v))
		return err_set(e, EXIT_VERIFY, "config.json: \"env\" must be a list of strings");
	memset(l, 0, sizeof(*l));
	cJSON_ArrayForEach(it, v)
	{
		if (!cJSON_IsString(it))
			return err_set(e, EXIT_VERIFY, "config.json: \"env\" holds a non-string");
		if (strlist_add(l, it->valuestring, "config.json: env", e) < 0)
			return -1;
	}
	return 0;
}

int vm_config_from_json(const char *text, size_t len, struct vm_config *c, struct err *e)
{
	cJSON *o = cJSON_ParseWithLength(text, len);
	double cpus = c->cpus, mem = c->mem_mib, disk = (double)c->disk_bytes, prefix = c->prefix,
	       cid = c->cid, created = (double)c->created, ssh_port = c->ssh_port;
	int r = -1;

	if (!cJSON_IsObject(o)) {
		cJSON_Delete(o);
		return err_set(e, EXIT_VERIFY, "config.json: not a JSON object — remove the VM");
	}
	/* VMs from before the layered disk have their own full copy. */
	if (!cJSON_GetObjectItemCaseSensitive(o, "disk"))
		snprintf(c->disk, sizeof(c->disk), "copy");
	if (get_str(o, "name", c->name, sizeof(c->name), e) < 0 ||
	    get_str(o, "vmm", c->vmm, sizeof(c->vmm), e) < 0 ||
	    get_str(o, "kernel", c->kernel, sizeof(c->kernel), e) < 0 ||
	    get_str(o, "image", c->image, sizeof(c->image), e) < 0 ||
	    get_str(o, "net", c->net, sizeof(c->net), e) < 0 ||
	    get_str(o, "disk", c->disk, sizeof(c->disk), e) < 0 ||
	    get_str(o, "ip", c->ip, sizeof(c->ip), e) < 0 ||
	    get_str(o, "gateway", c->gateway, sizeof(c->gateway), e) < 0 ||
	    get_str(o, "bridge", c->bridge, sizeof(c->bridge), e) < 0 ||
	    get_str(o, "tap", c->tap, sizeof(c->tap), e) < 0 ||
	    get_str(o, "mac", c->mac, sizeof(c->mac), e) < 0 ||
	    get_str(o, "ssh_key", c->ssh_key, sizeof(c->ssh_key), e) < 0 ||
	    get_str(o, "init", c->init, sizeof(c->init), e) < 0 ||
	    get_str(o, "tmpfs", c->tmpfs, sizeof(c->tmpfs), e) < 0 ||
	    get_str(o, "workdir", c->workdir, sizeof(c->workdir), e) < 0 ||
	    get_str(o, "user", c->user, sizeof(c->user), e) < 0 || get_env(o, &c->env, e) < 0 ||
	    get_num(o, "cpus", 1, VM_MAX_CPUS, &cpus, e) < 0 ||
	    get_num(o, "memory_mib", 16, VM_MAX_MEM_MIB, &mem, e) < 0 ||
	    get_num(o, "disk_bytes", 0, 9.0e15, &disk, e) < 0 ||
	    get_num(o, "prefix", 1, 30, &prefix, e) < 0 ||
	    get_num(o, "vsock_cid", 0, 4294967295.0, &cid, e) < 0 ||
	    get_num(o, "ssh_port", 0, 65535, &ssh_port, e) < 0 ||
	    get_num(o, "created", 0, 9.0e15, &created, e) < 0 ||
	    get_bool(o, "nat", &c->nat, e) < 0 || get_bool(o, "jail", &c->jail, e) < 0 ||
	    ports_from_json(o, c, e) < 0)
		goto out;
	c->cpus = (int)cpus;
	c->mem_mib = (int)mem;
	c->disk_bytes = (uint64_t)disk;
	c->prefix = (int)prefix;
	c->cid = (unsigned)cid;
	c->ssh_port = (int)ssh_port;
	c->created = (long long)created;
	if (strcmp(c->vmm, "firecracker") && strcmp(c->vmm, "qemu")) {
		err_set(e, EXIT_VERIFY, "config.json: vmm \"%s\" is neither firecracker nor qemu",
			c->vmm);
		goto out;
	}
	if (strcmp(c->net, "tap") && strcmp(c->net, "user") && strcmp(c->net, "none")) {
		err_set(e, EXIT_VERIFY, "config.json: net \"%s\" is not tap, user or none", c->net);
		goto out;
	}
	if (strcmp(c->disk, "overlay") && strcmp(c->disk, "copy")) {
		err_set(e, EXIT_VERIFY, "config.json: disk \"%s\" is neither overlay nor copy",
			c->disk);
		goto out;
	}
	r = 0;
out:
	cJSON_Delete(o);
	return r;
}

int vm_config_load(const struct vm_paths *p, struct vm_config *c, struct err *e)
{
	char *text;
	size_t len;
	int r;

	if (file_read_all(p->config, LIMIT_JSON_DOC, &text, &len, e) < 0) {
		if (e->code == EXIT_NOTFOUND) {
			const char *name = strrchr(p->dir, '/');

			return err_set(e, EXIT_NOTFOUND, "no VM named '%s' — see 'banger vm list'",
				       name ? name + 1 : p->dir);
		}
		return -1;
	}
	vm_config_defaults(c, "");
	r = vm_config_from_json(text, len, c, e);
	free(text);
	if (r < 0)
		err_prefix(e, "%s", p->dir);
	return r;
}

int vm_config_save(const struct vm_paths *p, const struct vm_config *c, struct err *e)
{
	char *s = vm_config_to_json(c, e);
	int r;

	if (!s)
		return -1;
	r = file_write_atomic(p->config, s, strlen(s), 0644, e);
	free(s);
	return r;
}

/* ---- disks -------------------------------------------------------------- */

int vm_copy_disk(const char *src, const char *dst, uint64_t size, enum vm_copy_how *how,
		 struct err *e)
{
	struct stat st;
	int in, out, r = -1;
	bool reflinked;

	if ((in = open(src, O_RDONLY | O_CLOEXEC)) < 0)
		return err_errno(e, 0, "%s: cannot open the image's disk — pull the image again",
				 src);
	if (fstat(in, &st) < 0) {
		err_errno(e, 0, "%s", src);
		close(in);
		return -1;
	}
	if ((out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644)) < 0) {
		err_errno(e, 0, "%s: cannot create", dst);
		close(in);
		return -1;
	}
	if (file_copy_fd(in, out, src, &reflinked, e) < 0)
		goto out;
	if (how)
		*how = reflinked ? VM_COPY_REFLINK : VM_COPY_SPARSE;
	if (size > (uint64_t)st.st_size && ftruncate(out, (off_t)size) < 0) {
		err_errno(e, 0, "%s: cannot grow to %llu bytes", dst, (unsigned long long)size);
		goto out;
	}
	if (fsync(out) < 0) {
		err_errno(e, 0, "%s: sync", dst);
		goto out;
	}
	r = 0;
out:
	close(in);
	if (close(out) < 0 && r == 0)
		r = err_errno(e, 0, "%s: close", dst);
	if (r < 0)
		unlink(dst);
	return r;
}

/* ---- process state ------------------------------------------------------ */

unsigned long long vm_proc_starttime(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long start = 0;
	char state;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* comm may hold spaces and parentheses: fields start after the last ')'. */
	if (!(p = strrchr(buf, ')')))
		return 0;
	if (sscanf(p + 1,
		   " %c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d "
		   "%*d %*d %llu",
		   &state, &start) != 2)
		return 0;
	return state == 'Z' || state == 'X' ? 0 : start;
}

static void read_small(const char *path, char *out, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, out, size - 1) : -1;

	if (fd >= 0)
		close(fd);
	out[n > 0 ? n : 0] = '\0';
	out[strcspn(out, "\n")] = '\0';
}

enum vm_status vm_status_get(const struct vm_paths *p, pid_t *pid)
{
	char state[32], pidline[64];
	unsigned long long start = 0;
	int v = 0;

	read_small(p->state, state, sizeof(state));
	read_small(p->pid, pidline, sizeof(pidline));
	if (sscanf(pidline, "%d %llu", &v, &start) < 1)
		v = 0;
	if (pid)
		*pid = v;
	if (!strcmp(state, "running")) {
		if (v > 0 && start && vm_proc_starttime(v) == start)
			return VM_RUNNING;
		return VM_DEAD;
	}
	if (!strcmp(state, "stopped"))
		return VM_STOPPED;
	return VM_CREATED;
}

const char *vm_status_name(enum vm_status s)
{
	switch (s) {
	case VM_RUNNING:
		return "running";
	case VM_STOPPED:
		return "stopped";
	case VM_DEAD:
		return "dead";
	default:
		return "created";
	}
}

int vm_state_set(const struct vm_paths *p, const char *state, struct err *e)
{
	char line[32];
	int n = snprintf(line, sizeof(line), "%s\n", state);

	return file_write_atomic(p->state, line, (size_t)n, 0644, e);
}

int vm_pid_save(const struct vm_paths *p, pid_t pid, struct err *e)
{
	char line[64];
	int n = snprintf(line, sizeof(line), "%d %llu\n", (int)pid, vm_proc_starttime(pid));

	return file_write_atomic(p->pid, line, (size_t)n, 0644, e);
}

int vm_lock(const struct store *s, const char *name, struct err *e)
{
	return store_lock(s, "vms", name, NULL, e);
}

int vm_open_locked(const struct store *s, const char *name, struct vm_paths *p, struct vm_config *c,
		   struct err *e)
{
	int lock;

	if (vm_paths_init(s, name, p, e) < 0 || (lock = vm_lock(s, name, e)) < 0)
		return -1;
	if (vm_config_load(p, c, e) < 0) {
		lock_release(lock);
		return -1;
	}
	return lock;
}

/* ---- boot --------------------------------------------------------------- */

int vm_boot_args(const struct vm_config *c, bool qemu_tcg, const char *extra, char *out,
		 size_t size, struct err *e)
{
	char ip[128] = "", key[sizeof(c->ssh_key) * 4 / 3 + 8] = "";
	bool overlay = !strcmp(c->disk, "overlay");
	int n;

	if (!strcmp(c->net, "tap") && c->ip[0]) {
		struct in_addr g, gw;

		if (inet_pton(AF_INET, c->ip, &g) != 1 || inet_pton(AF_INET, c->gateway, &gw) != 1)
			return err_set(e, EXIT_VERIFY,
				       "%s: bad address in config.json — remove the "
				       "VM",
				       c->name);
		if (net_ip_arg(ip, sizeof(ip), ntohl(g.s_addr), ntohl(gw.s_addr), c->prefix,
			       c->name, 0, e) < 0)
			return -1;
	} else if (!strcmp(c->net, "user") &&
		   /* QEMU's user network: the address its DHCP would hand out
		    * first, which hostfwd (vm ssh's port) forwards to; first-boot
		    * speaks no DHCP, and a systemd image may have no network config. */
		   net_ip_arg(ip, sizeof(ip), 0x0a00020f, 0x0a000202, 24, c->name, 0, e) < 0) {
		return -1;
	}
	/* The key has spaces: base64 keeps it one parameter (first-boot decodes it). */
	if (c->ssh_key[0] && base64_encode(c->ssh_key, strlen(c->ssh_key), key, sizeof(key)) < 0)
		return err_set(e, EXIT_USAGE, "%s: SSH key too long", c->name);
	/* root= for QEMU; Firecracker adds it itself for the is_root_device
	 * drive (ro when it is read-only). The overlay's upper is the second
	 * drive on both. No init=: banger's initramfs runs its own first-boot. */
	n = snprintf(
		out, size,
		"console=ttyS0 reboot=k panic=1 %s%s%s%s%sbanger.hostname=%s%s%s%s%s%s%s%s%s",
		!strcmp(c->vmm, "qemu") ? overlay ? "root=/dev/vda ro " : "root=/dev/vda rw " : "",
		overlay ? "banger.upper=/dev/vdb " : "", qemu_tcg ? "tsc_early_khz=2000000 " : "",
		ip, ip[0] ? " " : "", c->name, key[0] ? " banger.ssh_key=" : "", key,
		c->init[0] ? " banger.init=" : "", c->init, c->tmpfs[0] ? " banger.tmpfs=" : "",
		c->tmpfs, extra && *extra ? " " : "", extra ? extra : "");
	if (n < 0 || (size_t)n >= size || (size_t)n >= LIMIT_CMDLINE)
		return err_set(e, EXIT_USAGE,
			       "%s: kernel command line longer than %d bytes — shorten it", c->name,
			       LIMIT_CMDLINE - 1);
	return 0;
}

bool vm_kvm_usable(void)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

bool vm_qemu_wants_kvm(void)
{
	const char *accel = getenv("BANGER_ACCEL");

	return vm_kvm_usable() && !(accel && !strcmp(accel, "tcg"));
}

int vm_find_exe(const char *env, const char *name, char *out, size_t size)
{
	const char *v = env ? getenv(env) : NULL;
	const char *path = getenv("PATH");

	if (v && *v) {
		if ((size_t)snprintf(out, size, "%s", v) >= size)
			return -1;
		return access(out, X_OK);
	}
	if (!path)
		path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	while (*path) {
		size_t len = strcspn(path, ":");

		if (len && (size_t)snprintf(out, size, "%.*s/%s", (int)len, path, name) < size &&
		    access(out, X_OK) == 0)
			return 0;
		path += len + (path[len] == ':');
	}
	return -1;
}

const char *vm_pick_vmm(char *reason, size_t size)
{
	char exe[LIMIT_PATH];

	if (vm_find_exe("BANGER_FIRECRACKER", "firecracker", exe, sizeof(exe)) < 0) {
		snprintf(reason, size, "firecracker not found (set BANGER_FIRECRACKER)");
		return "qemu";
	}
	if (!vm_kvm_usable()) {
		snprintf(reason, size, "/dev/kvm is not usable");
		return "qemu";
	}
	reason[0] = '\0';
	return "firecracker";
}

/* The VM's kernel, kernels/NAME/vmlinux, which must be there. */
static int kernel_vmlinux(const struct store *s, const struct vm_config *c, char *vmlinux,
			  struct err *e)
{
	char dir[LIMIT_PATH];

	if (store_object_dir(s, "kernels", c->kernel, dir, sizeof(dir), e) < 0 ||
	    path_join(vmlinux, LIMIT_PATH, dir, "vmlinux", e) < 0)
		return -1;
	if (access(vmlinux, R_OK) < 0)
		return err_errno(e, EXIT_NOTFOUND,
				 "kernel '%s' (%s) — pull it with 'banger kernel pull %s'",
				 c->kernel, vmlinux, c->kernel);
	return 0;
}

/* What a boot needs: the vmlinux and the initramfs it boots with (built
 * here when banger's is missing or stale: initramfs.h). Only a start asks
 * for the initramfs: creating a VM does not hash the binary for it. */
static int kernel_files(const struct store *s, const struct vm_config *c, char *vmlinux,
			char *initrd, struct err *e)
{
	struct initramfs_built b;
	bool built;

	if (kernel_vmlinux(s, c, vmlinux, e) < 0)
		return -1;
	return initramfs_ensure(s, c->kernel, initrd, &built, &b, e);
}

static int net_up(const struct vm_config *c, bool *created, struct err *e)
{
	struct net_config nc;
	struct in_addr g;

	if (strcmp(c->net, "tap"))
		return 0;
	if (net_config_init(&nc, e) < 0)
		return -1;
	/* The bridge of the VM's creation, whatever the environment says now. */
	snprintf(nc.bridge, sizeof(nc.bridge), "%s", c->bridge);
	if (inet_pton(AF_INET, c->gateway, &g) != 1)
		return err_set(e, EXIT_VERIFY, "%s: bad gateway in config.json", c->name);
	nc.gateway = ntohl(g.s_addr);
	nc.prefix = c->prefix;
	if (net_bridge_ensure(&nc, created, e) < 0 ||
	    net_tap_create(c->tap, c->bridge, getuid(), e) < 0)
		return -1;
	if (c->nat) {
		inet_pton(AF_INET, c->ip, &g);
		if (net_nat_add(&nc, ntohl(g.s_addr), c->tap, e) < 0)
			return -1;
	}
	return 0;
}

const char *vm_dns_arg(const struct vm_config *c, char *out, size_t size, const char *resolv)
{
	char line[256];
	size_t n = 0;
	int count = 0;
	FILE *f;

	out[0] = '\0';
	if (!strcmp(c->net, "user")) {
		snprintf(out, size, "banger.dns=10.0.2.3"); /* QEMU's user-mode resolver */
		return out;
	}
	if (strcmp(c->net, "tap") || !c->nat || !(f = fopen(resolv, "re")))
		return out;
	/* The host's own servers, unless they only exist on its loopback
	 * (a local stub resolver the guest cannot reach). */
	while (count < 3 && fgets(line, sizeof(line), f)) {
		char addr[64];

		if (sscanf(line, " nameserver %63s", addr) != 1 || !strncmp(addr, "127.", 4) ||
		    !strcmp(addr, "::1") ||
		    strspn(addr, "0123456789abcdefABCDEF.:") != strlen(addr))
			continue;
		n += (size_t)snprintf(out + n, size > n ? size - n : 0, "%s%s",
				      count ? "," : "banger.dns=", addr);
		count++;
	}
	fclose(f);
	if (n >= size)
		out[0] = '\0';
	return out;
}

/* Hard-links (or copies) a file into the jail root under name. */
static int jail_link(const char *root, const char *src, const char *name, struct err *e)
{
	char dst[LIMIT_PATH];

	if (path_join(dst, sizeof(dst), root, name, e) < 0)
		return -1;
	unlink(dst);
	if (link(src, dst) == 0)
		return 0;
	return vm_copy_disk(src, dst, 0, NULL, e);
}

static int start_firecracker(const struct store *s, const struct vm_paths *p, struct vm_config *c,
			     pid_t *pid, struct err *e)
{
	char fc[LIMIT_PATH], jailer[LIMIT_PATH], vmlinux[LIMIT_PATH], initrd[LIMIT_PATH];
	char args[LIMIT_CMDLINE], api[LIMIT_PATH], root[LIMIT_PATH], dns[160];
	struct fc_launch l = { .firecracker = fc, .log = p->console };
	struct fc_vm vm = { .vcpus = c->cpus, .mem_mib = c->mem_mib };
	bool overlay = !strcmp(c->disk, "overlay");

	if (vm_find_exe("BANGER_FIRECRACKER", "firecracker", fc, sizeof(fc)) < 0)
		return err_set(e, EXIT_NOTFOUND,
			       "firecracker not found on PATH — install it, set BANGER_FIRECRACKER "
			       "or use --vmm qemu");
	if (kernel_files(s, c, vmlinux, initrd, e) < 0 ||
	    vm_boot_args(c, false, vm_dns_arg(c, dns, sizeof(dns), "/etc/resolv.conf"), args,
			 sizeof(args), e) < 0)
		return -1;
	vm.boot_args = args;
	vm.tap = strcmp(c->net, "tap") ? NULL : c->tap;
	vm.mac = vm.tap && c->mac[0] ? c->mac : NULL;
	vm.vsock_cid = c->cid;
	if (c->jail) {
		if (vm_find_exe("BANGER_JAILER", "jailer", jailer, sizeof(jailer)) < 0)
			return err_set(
				e, EXIT_NOTFOUND,
				"jailer not found on PATH — install it beside firecracker or "
				"set BANGER_JAILER, or drop --jail");
		if (fc_jail_root(p->jail, c->name, root, sizeof(root), e) < 0 ||
		    path_join(api, sizeof(api), root, "firecracker.socket", e) < 0 ||
		    path_mkdirs(root, 0755, e) < 0 || jail_link(root, vmlinux, "vmlinux", e) < 0 ||
		    jail_link(root, overlay ? p->base : p->rootfs, "rootfs.ext4", e) < 0 ||
		    (overlay && jail_link(root, p->upper, "upper.ext4", e) < 0) ||
		    jail_link(root, initrd, "initrd.img", e) < 0)
			return -1;
		l.jailer = jailer;
		l.jail_base = p->jail;
		l.jail_id = c->name;
		l.uid = getuid();
		l.gid = getgid();
		l.api_sock = api;
		vm.kernel = "/vmlinux";
		vm.initrd = "/initrd.img";
		vm.rootfs = "/rootfs.ext4";
		vm.upper = overlay ? "/upper.ext4" : NULL;
		vm.vsock_uds = "/vsock.sock";
	} else {
		l.api_sock = p->api_sock;
		vm.kernel = vmlinux;
		vm.initrd = initrd;
		vm.rootfs = overlay ? p->base : p->rootfs;
		vm.upper = overlay ? p->upper : NULL;
		vm.vsock_uds = p->vsock;
		unlink(p->vsock);
	}
	if (fc_launch(&l, 5000, pid, e) < 0)
		return -1;
	if (c->restore
		    ? snap_restore_firecracker(l.api_sock, c->restore, vm.tap, vm.vsock_uds, e) < 0
		    : fc_configure(l.api_sock, &vm, e) < 0 ||
			      fc_action(l.api_sock, "InstanceStart", e) < 0) {
		proc_kill(*pid);
		return -1;
	}
	return 0;
}

/* A free TCP port on 127.0.0.1, chosen by the kernel (0 on failure). */
static int free_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port = 0;

	if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
		port = ntohs(sa.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

/* Whether the guest kernel has spoken on the console (from offset on) within
 * timeout_ms while QEMU lives: a nested KVM that opens and then spins the
 * guest forever (seen on paravirtualised hosts) prints nothing after the
 * boot stub, where a working one prints the kernel's banner at once. */
static bool kernel_spoke(const char *console, off_t offset, pid_t pid, int timeout_ms)
{
	for (int waited = 0; waited < timeout_ms; waited += 50) {
		char buf[4096];
		int fd = open(console, O_RDONLY | O_CLOEXEC);
		ssize_t n = fd < 0 ? -1 : pread(fd, buf, sizeof(buf) - 1, offset);

		if (fd >= 0)
			close(fd);
		if (n > 0) {
			buf[n] = '\0';
			if (memmem(buf, (size_t)n, "Linux version", 13))
				return true;
		}
		if (!vm_proc_starttime(pid))
			return true; /* it exited: qemu_launch's caller sees that */
		usleep(50 * 1000);
	}
	return false;
}

/* The marker of a host whose KVM hangs guests: notices/kvm-hangs holding
 * this boot's ID, so the next start goes to TCG at once (a reboot probes
 * again). */
static int kvm_marker(const struct store *s, char *path, size_t size, char *boot, size_t bsize,
		      struct err *e)
{
	char *text = NULL;
	size_t len = 0;
	struct err ignore;

	err_init(&ignore);
	boot[0] = '\0';
	if (file_read_all("/proc/sys/kernel/random/boot_id", 64, &text, &len, &ignore) == 0)
		snprintf(boot, bsize, "%.*s", (int)strcspn(text, "\n"), text);
	free(text);
	return path_joinf(path, size, e, s->home, "notices/kvm-hangs");
}

bool vm_kvm_hangs(const struct store *s)
{
	char path[LIMIT_PATH], boot[64], *text = NULL;
	size_t len = 0;
	struct err e;
	bool hangs;

	err_init(&e);
	if (kvm_marker(s, path, sizeof(path), boot, sizeof(boot), &e) < 0 || !boot[0] ||
	    file_read_all(path, 64, &text, &len, &e) < 0)
		return false;
	hangs = len >= strlen(boot) && !strncmp(text, boot, strlen(boot));
	free(text);
	return hangs;
}

static void kvm_hangs(const struct store *s)
{
	char path[LIMIT_PATH], dir[LIMIT_PATH], boot[64];
	struct err e;

	err_init(&e);
	if (kvm_marker(s, path, sizeof(path), boot, sizeof(boot), &e) == 0 && boot[0] &&
	    path_joinf(dir, sizeof(dir), &e, s->home, "notices") == 0 &&
	    path_mkdirs(dir, 0755, &e) == 0)
		file_write_atomic(path, boot, strlen(boot), 0644, &e);
}

static int start_qemu(const struct store *s, const struct vm_paths *p, struct vm_config *c,
		      pid_t *pid, char *notice, size_t notice_size, struct err *e)
{
	char exe[LIMIT_PATH], vmlinux[LIMIT_PATH], initrd[LIMIT_PATH], args[LIMIT_CMDLINE];
	char dns[160];
	const char *accel = getenv("BANGER_ACCEL");
	/* BANGER_ACCEL=kvm: KVM or nothing — no probe, no fallback. */
	bool only_kvm = accel && !strcmp(accel, "kvm");
	bool overlay = !strcmp(c->disk, "overlay");
	bool kvm = vm_qemu_wants_kvm();
	struct qemu_vm q = { .qemu = exe, .cpus = c->cpus, .mem_mib = c->mem_mib };

	if (c->restore) /* the snapshot's accelerator: its CPU state is that one's */
		kvm = !strcmp(c->restore->m.accel, "kvm");
	else if (kvm && !only_kvm && vm_kvm_hangs(s))
		kvm = false;
	q.incoming = c->restore != NULL;

	if (vm_find_exe("BANGER_QEMU", "qemu-system-x86_64", exe, sizeof(exe)) < 0)
		return err_set(e, EXIT_NOTFOUND,
			       "qemu-system-x86_64 not found — install qemu-system-x86 or set "
			       "BANGER_QEMU");
	if (kernel_files(s, c, vmlinux, initrd, e) < 0)
		return -1;
	q.kernel = vmlinux;
	q.initrd = initrd;
	q.cmdline = args;
	q.rootfs = overlay ? p->base : p->rootfs;
	q.upper = overlay ? p->upper : NULL;
	q.net = c->net;
	q.tap = c->tap;
	q.mac = c->mac[0] ? c->mac : NULL;
	q.agent_sock = p->agent_sock;
	q.fwd_sock = p->fwd_sock;
	q.qmp_sock = p->qmp_sock;
	if (!strcmp(c->net, "user"))
		q.ssh_port = c->ssh_port = free_port();
	for (;;) {
		q.kvm = kvm;
		if (vm_boot_args(c, !kvm, vm_dns_arg(c, dns, sizeof(dns), "/etc/resolv.conf"), args,
				 sizeof(args), e) < 0)
			return -1;
		struct stat st;
		off_t offset = stat(p->console, &st) == 0 ? st.st_size : 0;

		if (qemu_launch(&q, p->console, 10000, pid, e) == 0) {
			if (c->restore && snap_restore_qemu(q.qmp_sock, c->restore, e) < 0) {
				proc_kill(*pid);
				return -1;
			}
			if (!kvm || c->restore || only_kvm ||
			    kernel_spoke(p->console, offset, *pid, 5000))
				return 0;
			/* KVM that runs the guest nowhere: TCG from now on. */
			proc_kill(*pid);
			kvm_hangs(s);
			err_set(e, EXIT_GUEST,
				"QEMU with KVM: the guest kernel said nothing in 5 s");
		}
		/* /dev/kvm can open and still fail QEMU (broken nested virtualization):
		 * the emulator still works. */
		if (!kvm || c->restore || only_kvm)
			return -1;
		if (notice && notice_size)
			snprintf(notice, notice_size,
				 "QEMU failed with KVM (see %s): using the emulator (TCG) — set "
				 "BANGER_ACCEL=tcg to skip KVM",
				 p->console);
		kvm = false;
		err_init(e);
	}
}

int vm_start(const struct store *s, const struct vm_paths *p, struct vm_config *c, char *notice,
	     size_t notice_size, struct err *e)
{
	enum vm_status st = vm_status_get(p, NULL);
	int fds[AGENT_PORTS_MAX], r;
	bool bridged = false;
	pid_t pid = 0;

	if (notice && notice_size)
		notice[0] = '\0';
	if (st == VM_RUNNING)
		return err_set(e, EXIT_BUSY, "VM '%s' is already running — stop it first", c->name);
	/* Created where Firecracker runs, started where it cannot: QEMU boots the
	 * same kernel and disk. An explicit BANGER_FIRECRACKER means no fallback. */
	if (!strcmp(c->vmm, "firecracker") && notice && !getenv("BANGER_FIRECRACKER")) {
		char reason[128];

		if (strcmp(vm_pick_vmm(reason, sizeof(reason)), "firecracker")) {
			snprintf(notice, notice_size, "%s: starting '%s' with QEMU", reason,
				 c->name);
			snprintf(c->vmm, sizeof(c->vmm), "qemu");
		}
	}
	/* Published ports are taken before the VM boots: one in use fails here. */
	if (vm_forward_listen(c, fds, e) < 0)
		return -1;
	if (net_up(c, &bridged, e) < 0)
		goto fail;
	/* Host network state made on the user's behalf is said, once. */
	if (bridged && notice && notice_size) {
		size_t n = strlen(notice);

		snprintf(notice + n, notice_size - n,
			 "%screated bridge %s (gateway %s/%d) for tap networking; it goes with "
			 "the last VM on it",
			 n ? "; " : "", c->bridge, c->gateway, c->prefix);
	}
	if (!strcmp(c->vmm, "qemu"))
		r = start_qemu(s, p, c, &pid, notice, notice_size, e);
	else
		r = start_firecracker(s, p, c, &pid, e);
	if (r < 0)
		goto fail;
	if (vm_pid_save(p, pid, e) < 0 || vm_config_save(p, c, e) < 0 ||
	    vm_state_set(p, "running", e) < 0) {
		kill(pid, SIGKILL);
		goto fail;
	}
	return vm_forward_spawn(p, c, pid, fds, e);
fail:
	for (int i = 0; i < c->nports; i++)
		close(fds[i]);
	return -1;
}

/* Waits until pid has gone (or is a zombie), up to timeout_ms. */
static bool wait_gone(pid_t pid, unsigned long long start, int timeout_ms)
{
	for (int waited = 0; waited <= timeout_ms; waited += 20) {
		waitpid(pid, NULL, WNOHANG); /* reap it if it is our child */
		if (vm_proc_starttime(pid) != start)
			return true;
		poll(NULL, 0, 20);
	}
	return false;
}

/* What a VMM leaves behind once it is gone. */
static int vm_stopped(const struct vm_paths *p, struct err *e)
{
	vm_forward_stop(p);
	unlink(p->api_sock);
	unlink(p->vsock);
	unlink(p->agent_sock);
	unlink(p->qmp_sock);
	return vm_state_set(p, "stopped", e);
}

int vm_stop(const struct vm_paths *p, const struct vm_config *c, int timeout_ms, bool force,
	    struct err *e)
{
	char pidline[64] = "", api[LIMIT_PATH];
	unsigned long long start = 0;
	pid_t pid = 0;
	int v = 0;
	struct err ignored = { 0 };
	enum vm_status st = vm_status_get(p, &pid);

	if (st != VM_RUNNING) {
		if (st == VM_DEAD)
			return vm_stopped(p, e);
		return err_set(e, EXIT_NO, "VM '%s' is not running", c->name);
	}
	read_small(p->pid, pidline, sizeof(pidline));
	if (sscanf(pidline, "%d %llu", &v, &start) != 2)
		return err_set(e, EXIT_VERIFY, "%s: unreadable pid file", p->pid);
	err_init(&ignored);
	if (!force) {
		int r = -1; /* the agent branch has waited already */

		/* The agent powers the guest off the same way on every VMM and works
		 * where the guest ignores ACPI; the VMM's own button is the fallback. */
		if (vm_agent_shutdown(p, c, 2) == 0) {
			if (wait_gone(pid, start, timeout_ms))
				goto stopped;
		} else if (!strcmp(c->vmm, "qemu")) {
			r = qemu_qmp(p->qmp_sock, "system_powerdown", &ignored);
		} else {
			if (c->jail)
				r = path_joinf(api, sizeof(api), &ignored, p->jail,
					       "firecracker/%s/root/firecracker.socket", c->name);
			else
				r = path_join(api, sizeof(api), p->api_sock, "", &ignored);
			if (r == 0)
				r = fc_action(api, "SendCtrlAltDel", &ignored);
		}
		if (r == 0 && wait_gone(pid, start, timeout_ms))
			goto stopped;
	}
	kill(pid, SIGTERM);
	if (!wait_gone(pid, start, 2000)) {
		kill(pid, SIGKILL);
		if (!wait_gone(pid, start, 5000))
			return err_set(e, EXIT_SYSTEM, "VM '%s' (pid %d) did not die from SIGKILL",
				       c->name, (int)pid);
	}
stopped:
	return vm_stopped(p, e);
}

int vm_kill(const struct vm_paths *p, const struct vm_config *c, int sig, bool *gone, struct err *e)
{
	char pidline[64] = "";
	unsigned long long start = 0;
	pid_t pid = 0;
	int v = 0;

	*gone = false;
	if (vm_status_get(p, &pid) != VM_RUNNING)
		return err_set(e, EXIT_NO, "VM '%s' is not running", c->name);
	read_small(p->pid, pidline, sizeof(pidline));
	if (sscanf(pidline, "%d %llu", &v, &start) != 2)
		return err_set(e, EXIT_VERIFY, "%s: unreadable pid file", p->pid);
	if (kill(pid, sig) < 0)
		return err_errno(e, 0, "VM '%s' (pid %d): cannot signal", c->name, (int)pid);
	/* Signals a VMM survives (SIGSTOP, SIGUSR1) leave it running. */
	if (!wait_gone(pid, start, VM_KILL_WAIT_MS))
		return 0;
	*gone = true;
	return vm_stopped(p, e);
}

/* The owner of a host lease: the VM's directory, absolute, so two stores'
 * VMs of one name stay apart. */
static int lease_owner(const struct store *s, const char *name, char *out, size_t size,
		       struct err *e)
{
	char home[LIMIT_PATH];

	if (!realpath(s->home, home))
		return err_errno(e, 0, "%s", s->home);
	return path_joinf(out, size, e, home, "vms/%s", name);
}

int vm_remove(const struct store *s, const struct vm_paths *p, const struct vm_config *c,
	      struct err *e)
{
	char owner[LIMIT_PATH];
	struct net_config nc;
	struct in_addr g;
	int left = 1;

	if (vm_status_get(p, NULL) == VM_RUNNING && vm_stop(p, c, VM_STOP_TIMEOUT_MS, false, e) < 0)
		return -1;
	if (strcmp(c->net, "tap"))
		return net_lease_put(p->leases, c->name, NULL, e) < 0 ? -1
								      : path_remove_tree(p->dir, e);
	snprintf(nc.bridge, sizeof(nc.bridge), "%s", c->bridge);
	nc.prefix = c->prefix;
	nc.gateway = inet_pton(AF_INET, c->gateway, &g) == 1 ? ntohl(g.s_addr) : 0;
	if (c->nat && inet_pton(AF_INET, c->ip, &g) == 1 &&
	    net_nat_del(&nc, ntohl(g.s_addr), c->tap, e) < 0)
		return -1;
	if (c->tap[0] && net_link_delete(c->tap, e) < 0)
		return -1;
	/* A tap VM of an older store may hold its lease there: drop it too. */
	if (net_lease_put(p->leases, c->name, NULL, e) < 0 ||
	    lease_owner(s, c->name, owner, sizeof(owner), e) < 0 ||
	    net_host_lease_put(c->bridge, owner, &left, e) < 0)
		return -1;
	/* Every store's VMs count: the bridge is the host's, not this store's. */
	if (!left && c->bridge[0] && net_link_delete(c->bridge, e) < 0)
		return -1;
	return path_remove_tree(p->dir, e);
}

/* The VM's disks in staging. overlay: the image's file itself, linked
 * (constant time on any filesystem, and the VM keeps those bytes when the
 * image is pulled again or removed), and an empty sparse ext4 for its
 * writes. copy: a copy of the image of its own. */
static int make_disks(const struct vm_config *c, const char *image, const char *staging,
		      enum vm_copy_how *how, struct err *e)
{
	char base[LIMIT_PATH], upper[LIMIT_PATH];

	if (strcmp(c->disk, "overlay"))
		return path_join(base, sizeof(base), staging, "rootfs.ext4", e) < 0
			       ? -1
			       : vm_copy_disk(image, base, c->disk_bytes, how, e);
	if (c->disk_bytes && c->disk_bytes < VM_MIN_UPPER)
		return err_set(
			e, EXIT_USAGE,
			"--disk-size %llu MiB: the VM's writable layer needs at least %llu MiB",
			(unsigned long long)(c->disk_bytes >> 20),
			(unsigned long long)(VM_MIN_UPPER >> 20));
	if (path_join(base, sizeof(base), staging, "base.ext4", e) < 0 ||
	    path_join(upper, sizeof(upper), staging, "upper.ext4", e) < 0)
		return -1;
	if (link(image, base) == 0) {
		if (how)
			*how = VM_COPY_LINK;
	} else if (errno != EXDEV && errno != EPERM && errno != EMLINK) {
		return err_errno(e, 0, "%s: cannot link the image's disk", image);
	} else if (vm_copy_disk(image, base, 0, how, e) < 0) {
		return -1;
	}
	return ext4_make_empty(upper, c->disk_bytes ? c->disk_bytes : VM_DEFAULT_UPPER,
			       "banger-upper", e);
}

int vm_create(const struct store *s, struct vm_config *c, enum vm_copy_how *how, struct err *e)
{
	char image[LIMIT_PATH], staging[LIMIT_PATH], file[LIMIT_PATH], vmlinux[LIMIT_PATH];
	char owner[LIMIT_PATH];
	struct vm_paths p;
	struct net_config nc;
	struct stat st;
	uint32_t addr;
	bool leased = false;
	char *json = NULL;
	int lock, r = -1;

	if (vm_paths_init(s, c->name, &p, e) < 0 ||
	    store_object_dir(s, "images", c->image, file, sizeof(file), e) < 0 ||
	    path_join(image, sizeof(image), file, "rootfs.ext4", e) < 0)
		return -1;
	if (c->base_disk &&
	    (size_t)snprintf(image, sizeof(image), "%s", c->base_disk) >= sizeof(image))
		return err_set(e, EXIT_USAGE, "%s: path too long", c->base_disk);
	if (!strcmp(c->disk, "copy") && stat(image, &st) == 0 && c->disk_bytes &&
	    c->disk_bytes < (uint64_t)st.st_size)
		return err_set(e, EXIT_USAGE,
			       "--disk-size %llu is smaller than image '%s' (%llu bytes) — give at "
			       "least its size",
			       (unsigned long long)c->disk_bytes, c->image,
			       (unsigned long long)st.st_size);
	if (stat(image, &st) < 0)
		return err_errno(e, EXIT_NOTFOUND,
				 "image '%s' (%s) — pull it with 'banger image "
				 "pull %s'",
				 c->image, image, c->image);
	if (kernel_vmlinux(s, c, vmlinux, e) < 0)
		return -1;
	if (net_config_init(&nc, e) < 0)
		return -1;
	if ((lock = vm_lock(s, c->name, e)) < 0)
		return -1;
	if (access(p.dir, F_OK) == 0) {
		err_set(e, EXIT_BUSY,
			"VM '%s' already exists — pick another --name or 'banger vm rm %s'",
			c->name, c->name);
		goto out;
	}
	store_sweep_staging(s, "vms", c->name);
	if (store_staging(s, "vms", c->name, staging, sizeof(staging), e) < 0)
		goto out;
	if (make_disks(c, image, staging, how, e) < 0)
		goto fail;
	if (!strcmp(c->net, "tap") ? lease_owner(s, c->name, owner, sizeof(owner), e) < 0 ||
					     net_host_lease_get(&nc, owner, &addr, e) < 0
				   : net_lease_get(p.leases, &nc, c->name, &addr, e) < 0)
		goto fail;
	leased = true;
	net_ntoa(addr, c->ip, sizeof(c->ip));
	net_ntoa(nc.gateway, c->gateway, sizeof(c->gateway));
	c->prefix = nc.prefix;
	snprintf(c->bridge, sizeof(c->bridge), "%s", nc.bridge);
	net_tap_name(&nc, addr, c->tap, sizeof(c->tap));
	net_mac(addr, c->mac, sizeof(c->mac));
	c->cid = 2 + (addr & ~net_mask(nc.prefix));
	if (!c->created)
		c->created = (long long)time(NULL);
	if (!(json = vm_config_to_json(c, e)) ||
	    path_join(file, sizeof(file), staging, "config.json", e) < 0 ||
	    file_write_atomic(file, json, strlen(json), 0644, e) < 0 ||
	    path_join(file, sizeof(file), staging, "state", e) < 0 ||
	    file_write_atomic(file, "created\n", 8, 0644, e) < 0 ||
	    file_commit_dir(staging, p.dir, e) < 0)
		goto fail;
	r = 0;
	goto out;
fail : {
	struct err ignored = { 0 };

	path_remove_tree(staging, &ignored);
	if (leased && !strcmp(c->net, "tap"))
		net_host_lease_put(nc.bridge, owner, NULL, &ignored);
	else if (leased)
		net_lease_put(p.leases, c->name, NULL, &ignored);
}
out:
	free(json);
	lock_release(lock);
	return r;
}

/* --mount type=tmpfs,destination=DIR[,tmpfs-size=SIZE][,tmpfs-mode=OCTAL]
 * (docker's keys; dst and target name the destination too), appended to
 * c->tmpfs as banger.tmpfs's DIR:BYTES:MODE. */
static int mount_option(struct vm_config *c, const char *arg, struct err *e)
{
	char spec[LIMIT_PATH], *field, *next, *dir = NULL;
	uint64_t bytes = 0, mode = 01777;
	bool tmpfs = false;
	size_t used = strlen(c->tmpfs);
	int n, count = used ? 1 : 0;

	for (const char *p = c->tmpfs; *p; p++)
		count += *p == ',';
	if ((size_t)snprintf(spec, sizeof(spec), "%s", arg) >= sizeof(spec))
		return err_set(e, EXIT_USAGE, "--mount: too long");
	for (field = spec; field; field = next) {
		char *eq = strchr(field, '=');

		if ((next = strchr(field, ',')))
			*next++ = '\0';
		if (!eq)
			return err_set(e, EXIT_USAGE, "--mount '%s': want KEY=VALUE fields", arg);
		*eq++ = '\0';
		if (!strcmp(field, "type")) {
			if (strcmp(eq, "tmpfs"))
				return err_set(e, EXIT_USAGE,
					       "--mount type=%s: only type=tmpfs is supported", eq);
			tmpfs = true;
		} else if (!strcmp(field, "destination") || !strcmp(field, "dst") ||
			   !strcmp(field, "target")) {
			dir = eq;
		} else if (!strcmp(field, "tmpfs-size")) {
			if (parse_size(eq, &bytes, e) < 0)
				return err_prefix(e, "--mount tmpfs-size");
		} else if (!strcmp(field, "tmpfs-mode")) {
			if (parse_u64(eq, 8, 07777, &mode) < 0)
				return err_set(e, EXIT_USAGE,
					       "--mount tmpfs-mode=%s: give octal, e.g. 1777", eq);
		} else {
			return err_set(e, EXIT_USAGE,
				       "--mount: unknown key '%s' (type, destination, "
				       "tmpfs-size, tmpfs-mode)",
				       field);
		}
	}
	if (!tmpfs || !dir)
		return err_set(e, EXIT_USAGE, "--mount '%s': give type=tmpfs,destination=DIR", arg);
	if (dir[0] != '/' || !dir[1] || strpbrk(dir, ",: \t\"") || strstr(dir, ".."))
		return err_set(e, EXIT_USAGE,
			       "--mount destination=%s: an absolute guest path without ',', ':', "
			       "spaces or '..'",
			       dir);
	if (count >= LIMIT_TMPFS)
		return err_set(e, EXIT_USAGE, "--mount: at most %d tmpfs mounts", LIMIT_TMPFS);
	n = snprintf(c->tmpfs + used, sizeof(c->tmpfs) - used, "%s%s:%llu:%llo", used ? "," : "",
		     dir, (unsigned long long)bytes, (unsigned long long)mode);
	if (n < 0 || (size_t)n >= sizeof(c->tmpfs) - used) {
		c->tmpfs[used] = '\0';
		return err_set(e, EXIT_USAGE, "--mount: the tmpfs mounts are too long together");
	}
	return 0;
}

int vm_config_option(struct vm_config *c, const char *opt, const char *arg, struct err *e)
{
	uint64_t v;

	if (!strcmp(opt, "name") || !strcmp(opt, "image") || !strcmp(opt, "kernel")) {
		char *dst = !strcmp(opt, "name")    ? c->name
			    : !strcmp(opt, "image") ? c->image
						    : c->kernel;

		if (!path_is_simple_name(arg))
			return err_set(
				e, EXIT_USAGE,
				"--%s '%s': use letters, digits, '.', '_' and '-' (at most 64, "
				"starting with a letter or digit)",
				opt, arg);
		snprintf(dst, VM_NAME_MAX + 1, "%s", arg);
		return 0;
	}
	if (!strcmp(opt, "cpus")) {
		if (parse_u64(arg, 10, VM_MAX_CPUS, &v) < 0 || !v)
			return err_set(e, EXIT_USAGE, "--cpus '%s': give a number from 1 to %d",
				       arg, VM_MAX_CPUS);
		c->cpus = (int)v; /* what the VMM takes is checked by vm_config_finish */
		return 0;
	}
	if (!strcmp(opt, "disk")) {
		if (strcmp(arg, "overlay") && strcmp(arg, "copy"))
			return err_set(e, EXIT_USAGE, "--disk '%s': give overlay or copy", arg);
		snprintf(c->disk, sizeof(c->disk), "%s", arg);
		return 0;
	}
	if (!strcmp(opt, "memory")) {
		/* A bare number is MiB, as before; 2G, 512M… work as for every size. */
		if (parse_size_in(arg, 1ULL << 20, (uint64_t)VM_MAX_MEM_MIB << 20, &v, e) < 0)
			return err_prefix(e, "--memory");
		if (v < 16ULL << 20)
			return err_set(e, EXIT_USAGE, "--memory '%s': give at least 16 MiB", arg);
		c->mem_mib = (int)(v >> 20);
		return 0;
	}
	if (!strcmp(opt, "init")) {
		if (strcmp(arg, "auto") && strcmp(arg, "systemd") && strcmp(arg, "minimal"))
			return err_set(e, EXIT_USAGE,
				       "--init '%s': use auto (the image as it is), systemd "
				       "(installed if missing) or minimal",
				       arg);
		snprintf(c->init, sizeof(c->init), "%s", strcmp(arg, "auto") ? arg : "");
		return 0;
	}
	if (!strcmp(opt, "mount"))
		return mount_option(c, arg, e);
	if (!strcmp(opt, "disk-size")) {
		if (parse_size(arg, &c->disk_bytes, e) < 0)
			return err_prefix(e, "--disk-size");
		return 0;
	}
	if (!strcmp(opt, "vmm")) {
		if (strcmp(arg, "firecracker") && strcmp(arg, "qemu"))
			return err_set(e, EXIT_USAGE, "--vmm '%s': use firecracker or qemu", arg);
		snprintf(c->vmm, sizeof(c->vmm), "%s", arg);
		return 0;
	}
	if (!strcmp(opt, "net")) {
		if (strcmp(arg, "tap") && strcmp(arg, "user") && strcmp(arg, "none"))
			return err_set(e, EXIT_USAGE, "--net '%s': use tap, user or none", arg);
		snprintf(c->net, sizeof(c->net), "%s", arg);
		return 0;
	}
	if (!strcmp(opt, "ssh-key")) {
		char *text;
		size_t len;

		if (file_read_all(arg, sizeof(c->ssh_key) - 1, &text, &len, e) < 0)
			return err_prefix(e, "--ssh-key");
		text[strcspn(text, "\n")] = '\0';
		if (strncmp(text, "ssh-", 4) && strncmp(text, "ecdsa-", 6)) {
			free(text);
			return err_set(e, EXIT_USAGE,
				       "--ssh-key %s: not an OpenSSH public key "
				       "(give the .pub file)",
				       arg);
		}
		snprintf(c->ssh_key, sizeof(c->ssh_key), "%s", text);
		free(text);
		return 0;
	}
	if (!strcmp(opt, "publish")) {
		if (c->nports >= AGENT_PORTS_MAX)
			return err_set(e, EXIT_USAGE, "-p: at most %d ports", AGENT_PORTS_MAX);
		if (agent_port_parse(&c->ports[c->nports], arg, e) < 0)
			return -1;
		for (int i = 0; i < c->nports; i++)
			if (c->ports[i].host_port == c->ports[c->nports].host_port &&
			    !strcmp(c->ports[i].host, c->ports[c->nports].host))
				return err_set(e, EXIT_USAGE,
					       "-p %s: that host port is published twice", arg);
		c->nports++;
		return 0;
	}
	if (!strcmp(opt, "nat")) {
		c->nat = true;
		return 0;
	}
	if (!strcmp(opt, "jail")) {
		c->jail = true;
		return 0;
	}
	return err_set(e, EXIT_USAGE, "unknown option --%s", opt);
}

int vm_config_finish(struct vm_config *c, char *fallback, size_t size, struct err *e)
{
	char reason[128];
	const char *picked = vm_pick_vmm(reason, sizeof(reason));
	bool vmm_given = c->vmm[0], net_given = c->net[0];

	if (fallback && size)
		fallback[0] = '\0';
	if (c->nat && net_given && strcmp(c->net, "tap"))
		return err_set(e, EXIT_USAGE,
			       "--nat and --net %s conflict: NAT is for --net tap (user networking "
			       "has its own)",
			       c->net);
	if (c->jail && vmm_given && !strcmp(c->vmm, "qemu"))
		return err_set(e, EXIT_USAGE,
			       "--jail and --vmm qemu conflict: the jail is Firecracker's jailer");
	if (vmm_given && !strcmp(c->vmm, "firecracker") && strcmp(picked, "firecracker"))
		return err_set(e, EXIT_NOTFOUND, "--vmm firecracker: %s — or use --vmm qemu",
			       reason);
	if (!vmm_given) {
		snprintf(c->vmm, sizeof(c->vmm), "%s", picked);
		if (c->jail && strcmp(picked, "firecracker"))
			return err_set(e, EXIT_NOTFOUND,
				       "--jail needs Firecracker: %s — or drop --jail", reason);
		if (fallback && size)
			snprintf(fallback, size, "%s", reason);
	}
	if (!strcmp(c->vmm, "firecracker") && c->cpus > 1 && c->cpus % 2)
		return err_set(e, EXIT_USAGE,
			       "--cpus %d: Firecracker takes 1 or an even number of vCPUs (QEMU "
			       "takes any)",
			       c->cpus);
	if (!c->net[0]) {
		if (geteuid() == 0 || c->nat)
			snprintf(c->net, sizeof(c->net), "tap");
		else
			snprintf(c->net, sizeof(c->net), "%s",
				 !strcmp(c->vmm, "qemu") ? "user" : "none");
	}
	if (!c->kernel[0])
		snprintf(c->kernel, sizeof(c->kernel), "%s", VM_DEFAULT_KERNEL);
	if (!c->image[0])
		snprintf(c->image, sizeof(c->image), "%s", VM_DEFAULT_IMAGE);
	if (!c->name[0]) {
		unsigned char r[3] = { 0 };
		int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);

		if (fd >= 0) {
			if (read(fd, r, sizeof(r)) < 0)
				r[0] = (unsigned char)getpid();
			close(fd);
		}
		snprintf(c->name, sizeof(c->name), "vm-%02x%02x%02x", r[0], r[1], r[2]);
	}
	return 0;
}

int vm_agent_address(const struct vm_paths *p, const struct vm_config *c, struct agent_addr *out,
		     struct err *e)
{
	char path[LIMIT_PATH];
	int n;

	if (!strcmp(c->vmm, "qemu"))
		n = snprintf(path, sizeof(path), "%s", p->agent_sock);
	else if (c->jail)
		n = snprintf(path, sizeof(path), "%s/firecracker/%s/root/vsock.sock", p->jail,
			     c->name);
	else
		n = snprintf(path, sizeof(path), "%s", p->vsock);
	if (n < 0 || (size_t)n >= sizeof(out->path))
		return err_set(e, EXIT_USAGE,
			       "%s: agent socket path too long — use a shorter "
			       "BANGER_HOME",
			       c->name);
	memset(out, 0, sizeof(*out));
	out->via = strcmp(c->vmm, "qemu") ? AGENT_FIRECRACKER : AGENT_UNIX;
	out->port = AP_PORT;
	memcpy(out->path, path, (size_t)n + 1);
	return 0;
}

/* What the guest said last before it died: the line before the
 * initramfs' "cannot boot:", else the kernel's panic line; "" if neither. */
static void console_last_error(const char *console, char *out, size_t size)
{
	char buf[16384], *line, *prev = NULL, *found = NULL;
	int fd = open(console, O_RDONLY | O_CLOEXEC);
	ssize_t n = 0;
	off_t end;

	out[0] = '\0';
	if (fd < 0)
		return;
	end = lseek(fd, 0, SEEK_END);
	if (end > (off_t)sizeof(buf) - 1)
		lseek(fd, end - (off_t)sizeof(buf) + 1, SEEK_SET);
	else
		lseek(fd, 0, SEEK_SET);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	for (line = buf; *line;) {
		size_t len = strcspn(line, "\r\n");
		char *next = line + len + strspn(line + len, "\r\n");

		line[len] = '\0';
		if (strstr(line, "cannot boot:") && prev)
			found = prev;
		else if (strstr(line, "Kernel panic"))
			found = line;
		if (len)
			prev = line;
		line = next;
	}
	/* The guest colours its console: keep the words, drop the escapes. */
	for (size_t o = 0; found && *found && o + 1 < size; found++) {
		if (*found == '\x1b' && found[1] == '[') {
			found += 2;
			while (*found && (*found < 0x40 || *found > 0x7e))
				found++;
			if (!*found)
				break;
			continue;
		}
		out[o++] = *found;
		out[o] = '\0';
	}
}

int vm_wait_agent(const struct vm_paths *p, const struct vm_config *c, int timeout_ms,
		  struct err *e)
{
	struct agent_addr addr;
	struct timespec t0, t;
	int left = timeout_ms;

	if (vm_agent_address(p, c, &addr, e) < 0)
		return -1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	/* In slices, so a VMM that died (a kernel panic, a bad disk) ends the
	 * wait at once instead of after the whole timeout. */
	while (left > 0) {
		struct err slice;

		err_init(&slice);
		if (agent_ping(&addr, left < 1000 ? left : 1000, NULL, &slice) == 0)
			return 0;
		if (slice.code > EXIT_SIGNAL) /* interrupted: Ctrl-C ends the wait */
			return err_set(e, slice.code, "%s", slice.msg);
		if (vm_status_get(p, NULL) != VM_RUNNING) {
			char said[512];

			console_last_error(p->console, said, sizeof(said));
			return err_set(
				e, EXIT_GUEST,
				"VM '%s' stopped while booting%s%s — see 'banger vm logs %s'",
				c->name, said[0] ? ": " : "", said, c->name);
		}
		clock_gettime(CLOCK_MONOTONIC, &t);
		left = timeout_ms -
		       (int)((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000);
	}
	return err_set(e, EXIT_GUEST,
		       "the guest agent of '%s' did not answer within %d s — see 'banger vm logs "
		       "%s'",
		       c->name, (timeout_ms + 999) / 1000, c->name);
}

int vm_agent_shutdown(const struct vm_paths *p, const struct vm_config *c, int timeout_s)
{
	struct agent_addr a;
	struct err e;

	err_init(&e);
	/* Firecracker creates its vsock socket itself: none, nobody to ask. */
	if (vm_agent_address(p, c, &a, &e) < 0 || access(a.path, F_OK) < 0)
		return -1;
	return agent_shutdown(&a, timeout_s * 1000, false, &e);
}

int vm_writable_disks(const struct vm_paths *p, const struct vm_config *c,
		      const char *paths[VM_DISKS_MAX])
{
	paths[0] = strcmp(c->disk, "overlay") ? p->rootfs : p->upper;
	return 1;
}

const char *vm_base_disk(const struct vm_paths *p, const struct vm_config *c)
{
	return strcmp(c->disk, "overlay") ? NULL : p->base;
}

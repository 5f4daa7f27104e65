/* Unit tests: lib/vm/vm.c, lib/vm/firecracker.c and lib/vm/qemu.c pure parts — the
 * config JSON, the sparse disk copy, process liveness, the kernel command
 * line, sizes, Firecracker request bodies and fault messages, QEMU's argv. */
#include "harness.h"

#include "units.h"

#include "err.h"
#include "exitcode.h"
#include "file.h"
#include "vm/firecracker.h"
#include "path.h"
#include "vm/qemu.h"
#include "store.h"
#include "strlist.h"
#include "vm/vm.h"
#include "agent/agent.h"

#include <cjson/cJSON.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void config_round_trip(void)
{
	struct vm_config c, d;
	struct err e;
	char *s;

	vm_config_defaults(&c, "web1");
	snprintf(c.kernel, sizeof(c.kernel), "k1");
	snprintf(c.image, sizeof(c.image), "i1");
	snprintf(c.net, sizeof(c.net), "tap");
	snprintf(c.ip, sizeof(c.ip), "172.30.0.9");
	snprintf(c.ssh_key, sizeof(c.ssh_key), "ssh-ed25519 AAAA \"quoted\" key");
	c.cpus = 4;
	c.mem_mib = 2048;
	c.disk_bytes = 3ULL << 30;
	c.nat = true;
	c.cid = 11;
	c.created = 1700000000;
	snprintf(c.init, sizeof(c.init), "systemd");
	snprintf(c.user, sizeof(c.user), "nobody");
	snprintf(c.workdir, sizeof(c.workdir), "/srv");
	CHECK(strlist_add(&c.env, "GREETING=hello world", "env", &e) == 0);
	CHECK(strlist_add(&c.env, "EMPTY=", "env", &e) == 0);
	s = vm_config_to_json(&c, &e);
	CHECK(s != NULL);
	vm_config_defaults(&d, "");
	CHECK(vm_config_from_json(s, strlen(s), &d, &e) == 0);
	CHECK(!memcmp(&c, &d, sizeof(c)));
	free(s);
}

static void config_rejects_bad_input(void)
{
	struct vm_config c;
	struct err e;
	char big[600];
	const char *bad[] = {
		"[]",
		"{\"cpus\": \"two\"}",
		"{\"cpus\": 0}",
		"{\"cpus\": 33}",
		"{\"memory_mib\": 1}",
		"{\"nat\": 1}",
		"{\"vmm\": \"bochs\"}",
		"{\"net\": \"wifi\"}",
		"{\"name\": 7}",
		"not json",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		vm_config_defaults(&c, "x");
		err_init(&e);
		CHECK(vm_config_from_json(bad[i], strlen(bad[i]), &c, &e) == -1 &&
		      e.code == EXIT_VERIFY);
	}
	/* An over-long string is refused, never truncated. */
	snprintf(big, sizeof(big), "{\"name\": \"%0300d\"}", 0);
	CHECK(vm_config_from_json(big, strlen(big), &c, &e) == -1 && e.code == EXIT_VERIFY);
	/* Unknown keys are ignored (newer banger, older reader). */
	vm_config_defaults(&c, "x");
	CHECK(vm_config_from_json("{\"future\": 1, \"cpus\": 2}", 25, &c, &e) == 0 && c.cpus == 2);
}

static void sparse_copy_keeps_holes(void)
{
	const char *t = harness_tmpdir();
	char src[512], dst[512], big[512], buf[4096];
	struct stat st;
	struct err e;
	enum vm_copy_how how;
	int fd;

	path_join(src, sizeof(src), t, "src.img", &e);
	path_join(dst, sizeof(dst), t, "dst.img", &e);
	path_join(big, sizeof(big), t, "big.img", &e);
	fd = open(src, O_RDWR | O_CREAT, 0644);
	CHECK(fd >= 0 && ftruncate(fd, 1LL << 30) == 0);
	/* Three islands of data in 1 GiB of hole. */
	memset(buf, 'a', sizeof(buf));
	CHECK(pwrite(fd, buf, sizeof(buf), 0) == sizeof(buf));
	memset(buf, 'b', sizeof(buf));
	CHECK(pwrite(fd, buf, sizeof(buf), 512LL << 20) == sizeof(buf));
	memset(buf, 'c', sizeof(buf));
	CHECK(pwrite(fd, buf, sizeof(buf), (1LL << 30) - sizeof(buf)) == sizeof(buf));
	close(fd);

	CHECK(vm_copy_disk(src, dst, 0, &how, &e) == 0);
	CHECK(stat(dst, &st) == 0 && st.st_size == 1LL << 30);
	if (how == VM_COPY_SPARSE)
		CHECK(st.st_blocks * 512LL <= 1LL << 20); /* ~12 KiB of data, not 1 GiB */
	fd = open(dst, O_RDONLY);
	CHECK(pread(fd, buf, 1, 0) == 1 && buf[0] == 'a');
	CHECK(pread(fd, buf, 1, (512LL << 20) + 4095) == 1 && buf[0] == 'b');
	CHECK(pread(fd, buf, 1, (1LL << 30) - 1) == 1 && buf[0] == 'c');
	CHECK(pread(fd, buf, 1, 1LL << 20) == 1 && buf[0] == 0);
	close(fd);

	/* Growing makes the tail a hole too; an existing destination is refused. */
	CHECK(vm_copy_disk(src, big, 2LL << 30, NULL, &e) == 0);
	CHECK(stat(big, &st) == 0 && st.st_size == 2LL << 30 && st.st_blocks * 512LL <= 1LL << 20);
	CHECK(vm_copy_disk(src, big, 0, NULL, &e) == -1);
	CHECK(vm_copy_disk("/nonexistent", big, 0, NULL, &e) == -1 && e.code == EXIT_NOTFOUND);
	path_remove_tree(t, &e);
}

static void status_notices_dead_process(void)
{
	const char *t = harness_tmpdir();
	struct store s;
	struct vm_paths p;
	struct err e;
	pid_t pid, got;

	snprintf(s.home, sizeof(s.home), "%s", t);
	CHECK(vm_paths_init(&s, "v", &p, &e) == 0);
	CHECK(path_mkdirs(p.dir, 0755, &e) == 0);
	CHECK(vm_status_get(&p, NULL) == VM_CREATED);
	pid = fork();
	if (pid == 0) {
		pause();
		_exit(0);
	}
	CHECK(vm_pid_save(&p, pid, &e) == 0 && vm_state_set(&p, "running", &e) == 0);
	CHECK(vm_status_get(&p, &got) == VM_RUNNING && got == pid);
	kill(pid, SIGKILL);
	/* A zombie is dead too, before and after it is reaped. */
	usleep(50000);
	CHECK(vm_status_get(&p, NULL) == VM_DEAD);
	waitpid(pid, NULL, 0);
	CHECK(vm_status_get(&p, NULL) == VM_DEAD);
	/* A live process that is not the recorded one (PID reuse) is not ours. */
	CHECK(file_write_atomic(p.pid, "1 12345\n", 8, 0644, &e) == 0);
	CHECK(vm_status_get(&p, NULL) == VM_DEAD);
	CHECK(vm_state_set(&p, "stopped", &e) == 0 && vm_status_get(&p, NULL) == VM_STOPPED);
	CHECK_STR(vm_status_name(VM_DEAD), "dead");
	path_remove_tree(t, &e);
}

static void boot_args(void)
{
	struct vm_config c;
	char out[LIMIT_CMDLINE];
	struct err e;

	vm_config_defaults(&c, "web1");
	CHECK(vm_boot_args(&c, false, NULL, out, sizeof(out), &e) == 0);
	CHECK_STR(out, "console=ttyS0 reboot=k panic=1 banger.upper=/dev/vdb banger.hostname=web1");
	snprintf(c.ssh_key, sizeof(c.ssh_key), "ssh-ed25519 AAAA k@h");
	CHECK(vm_boot_args(&c, false, NULL, out, sizeof(out), &e) == 0);
	CHECK(strstr(out, " banger.hostname=web1 banger.ssh_key=c3NoLWVkMjU1MTkgQUFBQSBrQGg="));
	c.ssh_key[0] = '\0';
	snprintf(c.vmm, sizeof(c.vmm), "qemu");
	snprintf(c.net, sizeof(c.net), "tap");
	snprintf(c.ip, sizeof(c.ip), "172.30.0.2");
	snprintf(c.gateway, sizeof(c.gateway), "172.30.0.1");
	CHECK(vm_boot_args(&c, true, "quiet", out, sizeof(out), &e) == 0);
	CHECK_STR(out,
		  "console=ttyS0 reboot=k panic=1 root=/dev/vda ro banger.upper=/dev/vdb "
		  "tsc_early_khz=2000000 ip=172.30.0.2::172.30.0.1:255.255.255.0:web1:eth0:off "
		  "banger.hostname=web1 quiet");
	/* The flat disk of --disk copy is the writable root itself. */
	snprintf(c.disk, sizeof(c.disk), "copy");
	CHECK(vm_boot_args(&c, true, NULL, out, sizeof(out), &e) == 0);
	CHECK(strstr(out, "console=ttyS0 reboot=k panic=1 root=/dev/vda rw tsc_early_khz") == out &&
	      !strstr(out, "banger.upper"));
	CHECK(vm_boot_args(&c, true, NULL, out, 40, &e) == -1 && e.code == EXIT_USAGE);
	/* QEMU's user network: the guest takes the address hostfwd reaches. */
	snprintf(c.net, sizeof(c.net), "user");
	CHECK(vm_boot_args(&c, true, NULL, out, sizeof(out), &e) == 0);
	CHECK(strstr(out, " ip=10.0.2.15::10.0.2.2:255.255.255.0:web1:eth0:off "));
}

static void agent_addresses(void)
{
	struct store s = { .home = "/h" };
	struct vm_paths p;
	struct vm_config c;
	struct agent_addr a;
	struct err e;

	CHECK(vm_paths_init(&s, "a1", &p, &e) == 0);
	vm_config_defaults(&c, "a1");
	CHECK(vm_agent_address(&p, &c, &a, &e) == 0);
	CHECK(a.via == AGENT_FIRECRACKER && a.port == AP_PORT);
	CHECK_STR(a.path, "/h/vms/a1/vsock.sock");
	c.jail = true;
	CHECK(vm_agent_address(&p, &c, &a, &e) == 0);
	CHECK_STR(a.path, "/h/vms/a1/jail/firecracker/a1/root/vsock.sock");
	snprintf(c.vmm, sizeof(c.vmm), "qemu");
	CHECK(vm_agent_address(&p, &c, &a, &e) == 0);
	CHECK(a.via == AGENT_UNIX);
	CHECK_STR(a.path, "/h/vms/a1/agent.sock");
	/* A home so deep its socket path does not fit sun_path. */
	struct store deep = { .home = "/" };
	memset(deep.home + 1, 'd', 100);
	CHECK(vm_paths_init(&deep, "a1", &p, &e) == 0);
	CHECK(vm_agent_address(&p, &c, &a, &e) == -1 && e.code == EXIT_USAGE);
}

static void dns_for_the_guest(void)
{
	const char *t = harness_tmpdir();
	char f[512], out[160];
	const char *resolv = "# comment\nnameserver 127.0.0.53\nnameserver 10.1.2.3\n"
			     "search x\nnameserver ::1\nnameserver 2001:db8::1\n"
			     "nameserver 9.9.9.9\nnameserver 8.8.8.8\n";
	struct vm_config c;
	struct err e;

	path_join(f, sizeof(f), t, "resolv.conf", &e);
	CHECK(file_write_atomic(f, resolv, strlen(resolv), 0644, &e) == 0);
	vm_config_defaults(&c, "d");
	CHECK_STR(vm_dns_arg(&c, out, sizeof(out), f), "");
	snprintf(c.net, sizeof(c.net), "user");
	CHECK_STR(vm_dns_arg(&c, out, sizeof(out), f), "banger.dns=10.0.2.3");
	snprintf(c.net, sizeof(c.net), "tap");
	CHECK_STR(vm_dns_arg(&c, out, sizeof(out), f), ""); /* no NAT: no way out */
	c.nat = true;
	CHECK_STR(vm_dns_arg(&c, out, sizeof(out), f), "banger.dns=10.1.2.3,2001:db8::1,9.9.9.9");
	CHECK_STR(vm_dns_arg(&c, out, sizeof(out), "/nonexistent"), "");
	path_remove_tree(t, &e);
}

static void sizes_and_options(void)
{
	uint64_t v;
	struct vm_config c;
	struct err e;

	CHECK(parse_size("2G", &v, &e) == 0 && v == 2ULL << 30);
	CHECK(parse_size("512MiB", &v, &e) == 0 && v == 512ULL << 20);
	CHECK(parse_size("4096", &v, &e) == 0 && v == 4096);
	CHECK(parse_size("1.5G", &v, &e) == -1 && e.code == EXIT_USAGE);
	CHECK(parse_size("G", &v, &e) == -1);
	CHECK(parse_size("99999999999T", &v, &e) == -1);
	vm_config_defaults(&c, "");
	CHECK(vm_config_option(&c, "cpus", "2", &e) == 0 && c.cpus == 2);
	CHECK(vm_config_option(&c, "cpus", "64", &e) == -1);
	CHECK(vm_config_option(&c, "memory", "1024", &e) == 0 && c.mem_mib == 1024);
	/* Sizes take suffixes; a bare number stays MiB. */
	CHECK(vm_config_option(&c, "memory", "1g", &e) == 0 && c.mem_mib == 1024);
	CHECK(vm_config_option(&c, "memory", "768M", &e) == 0 && c.mem_mib == 768);
	CHECK(vm_config_option(&c, "memory", "1.5G", &e) == -1 && e.code == EXIT_USAGE);
	CHECK(vm_config_option(&c, "memory", "8", &e) == -1 && e.code == EXIT_USAGE);
	CHECK(vm_config_option(&c, "init", "systemd", &e) == 0);
	CHECK_STR(c.init, "systemd");
	CHECK(vm_config_option(&c, "init", "auto", &e) == 0);
	CHECK_STR(c.init, "");
	CHECK(vm_config_option(&c, "init", "upstart", &e) == -1 && e.code == EXIT_USAGE);
	/* --mount type=tmpfs becomes banger.tmpfs's DIR:BYTES:MODE list. */
	CHECK(vm_config_option(&c, "mount", "type=tmpfs,destination=/scratch,tmpfs-size=16m", &e) ==
	      0);
	CHECK(vm_config_option(&c, "mount", "type=tmpfs,dst=/run/x,tmpfs-mode=700", &e) == 0);
	CHECK_STR(c.tmpfs, "/scratch:16777216:1777,/run/x:0:700");
	CHECK(vm_config_option(&c, "mount", "type=bind,source=/,destination=/x", &e) == -1 &&
	      e.code == EXIT_USAGE);
	CHECK(vm_config_option(&c, "mount", "type=tmpfs,destination=../x", &e) == -1);
	CHECK(vm_config_option(&c, "mount", "type=tmpfs", &e) == -1);
	CHECK(vm_config_option(&c, "mount", "type=tmpfs,destination=/a,bogus=1", &e) == -1);
	CHECK_STR(c.tmpfs, "/scratch:16777216:1777,/run/x:0:700"); /* refusals change nothing */
	c.tmpfs[0] = '\0';
	/* Limits are the VMM's: 3 vCPUs are fine for QEMU, not for Firecracker. */
	CHECK(vm_config_option(&c, "cpus", "3", &e) == 0 && c.cpus == 3);
	snprintf(c.vmm, sizeof(c.vmm), "qemu");
	c.net[0] = '\0';
	CHECK(vm_config_finish(&c, NULL, 0, &e) == 0);
	snprintf(c.vmm, sizeof(c.vmm), "firecracker");
	setenv("BANGER_FIRECRACKER", "/bin/true", 1);
	CHECK(vm_config_finish(&c, NULL, 0, &e) == -1);
	CHECK(e.code == (vm_kvm_usable() ? EXIT_USAGE : EXIT_NOTFOUND));
	/* Conflicts name both options. */
	c.cpus = 1;
	c.nat = true;
	snprintf(c.vmm, sizeof(c.vmm), "qemu");
	snprintf(c.net, sizeof(c.net), "none");
	CHECK(vm_config_finish(&c, NULL, 0, &e) == -1 && e.code == EXIT_USAGE);
	CHECK(strstr(e.msg, "--nat and --net none conflict") != NULL);
	c.nat = false;
	c.jail = true;
	CHECK(vm_config_finish(&c, NULL, 0, &e) == -1 && e.code == EXIT_USAGE);
	CHECK(strstr(e.msg, "--jail and --vmm qemu conflict") != NULL);
	c.jail = false;
	snprintf(c.vmm, sizeof(c.vmm), "qemu");
	CHECK(vm_config_option(&c, "name", "../x", &e) == -1);
	CHECK(vm_config_option(&c, "vmm", "bochs", &e) == -1);
	CHECK(vm_config_option(&c, "net", "user", &e) == 0);
	CHECK_STR(c.net, "user");
}

static void firecracker_bodies(void)
{
	struct fc_vm vm = { .kernel = "/k",
			    .boot_args = "console=ttyS0",
			    .rootfs = "/r",
			    .vcpus = 2,
			    .mem_mib = 256,
			    .tap = "t0",
			    .vsock_cid = 3,
			    .vsock_uds = "/v" };
	cJSON *o;
	char *s;

	o = fc_body_machine(&vm);
	s = cJSON_PrintUnformatted(o);
	CHECK_STR(s, "{\"vcpu_count\":2,\"mem_size_mib\":256,\"smt\":false}");
	free(s);
	cJSON_Delete(o);
	o = fc_body_boot(&vm);
	s = cJSON_PrintUnformatted(o);
	CHECK_STR(s, "{\"kernel_image_path\":\"/k\",\"boot_args\":\"console=ttyS0\"}");
	free(s);
	cJSON_Delete(o);
	o = fc_body_net(&vm);
	s = cJSON_PrintUnformatted(o);
	CHECK_STR(s, "{\"iface_id\":\"eth0\",\"host_dev_name\":\"t0\"}");
	free(s);
	cJSON_Delete(o);
	o = fc_body_action("InstanceStart");
	s = cJSON_PrintUnformatted(o);
	CHECK_STR(s, "{\"action_type\":\"InstanceStart\"}");
	free(s);
	cJSON_Delete(o);
}

static void fault_messages(void)
{
	char out[64];
	const char *j = "{\"fault_message\":\"bad\\nthing\"}";
	int a, b, c;

	fc_fault_message(j, strlen(j), out, sizeof(out));
	CHECK_STR(out, "bad thing");
	fc_fault_message("oops\n", 5, out, sizeof(out));
	CHECK_STR(out, "oops ");
	fc_fault_message(NULL, 0, out, sizeof(out));
	CHECK_STR(out, "");
	CHECK(fc_parse_version("Firecracker v1.16.1", &a, &b, &c) == 0 && a == 1 && b == 16 &&
	      c == 1);
	CHECK(fc_parse_version("Firecracker v1.7", &a, &b, &c) == 0 && b == 7 && c == 0);
	CHECK(fc_parse_version("QEMU emulator", &a, &b, &c) == -1);
}

/* QEMU's argument vector for q, joined by spaces into line. */
static int qemu_line(const struct qemu_vm *q, char *line, size_t size)
{
	char *argv[QEMU_ARGV_MAX], store[QEMU_ARG_BYTES];
	size_t len = 0;
	struct err e;

	if (qemu_argv(q, argv, store, &e) < 0)
		return -1;
	for (int i = 0; argv[i]; i++)
		len += (size_t)snprintf(line + len, size - len, "%s ", argv[i]);
	return 0;
}

static void qemu_command_line(void)
{
	struct qemu_vm q = { .qemu = "/usr/bin/qemu-system-x86_64",
			     .kernel = "/k/vmlinux",
			     .initrd = "/k/initrd.img",
			     .cmdline = "console=ttyS0",
			     .rootfs = "/v/r",
			     .cpus = 1,
			     .mem_mib = 256,
			     .net = "user",
			     .agent_sock = "/v/agent.sock",
			     .qmp_sock = "/v/qmp.sock" };
	char *argv[QEMU_ARGV_MAX], store[QEMU_ARG_BYTES], line[QEMU_ARG_BYTES];
	struct err e;

	CHECK(qemu_line(&q, line, sizeof(line)) == 0);
	CHECK(strstr(line, "-M microvm,") && strstr(line, "-accel tcg "));
	CHECK(strstr(line, "-kernel /k/vmlinux -initrd /k/initrd.img -append console=ttyS0 "));
	CHECK(strstr(line, "id=root,file=/v/r,format=raw"));
	CHECK(strstr(line, "-netdev user,id=n0 "));
	CHECK(strstr(line, "socket,id=agent,path=/v/agent.sock,server=on,wait=off"));
	CHECK(strstr(line, "virtserialport,chardev=agent,name=org.banger.agent"));
	CHECK(!strstr(line, "readonly") && !strstr(line, "id=upper"));
	/* The layered disk: the shared image read-only, the VM's layer second. */
	q.upper = "/v/u";
	CHECK(qemu_line(&q, line, sizeof(line)) == 0);
	CHECK(strstr(line, "id=root,file=/v/r,format=raw,if=none,cache=writeback,readonly=on "
			   "-device virtio-blk-device,drive=root -drive "
			   "id=upper,file=/v/u,format=raw,if=none,cache=writeback -device "
			   "virtio-blk-device,drive=upper "));
	CHECK(!strstr(line, "org.banger.forward"));
	q.fwd_sock = "/v/forward.sock";
	CHECK(qemu_line(&q, line, sizeof(line)) == 0);
	CHECK(strstr(line, "-chardev socket,id=fwd,path=/v/forward.sock,server=on,wait=off -device "
			   "virtserialport,chardev=fwd,name=org.banger.forward "));
	q.fwd_sock = NULL;
	q.upper = "/v/u,x";
	CHECK(qemu_argv(&q, argv, store, &e) == -1 && e.code == EXIT_USAGE);
	q.upper = NULL;
	q.rootfs = "/v/a,b";
	CHECK(qemu_argv(&q, argv, store, &e) == -1 && e.code == EXIT_USAGE);
}

int main(void)
{
	HARNESS_BEGIN("vm");
	RUN(config_round_trip);
	RUN(config_rejects_bad_input);
	RUN(sparse_copy_keeps_holes);
	RUN(status_notices_dead_process);
	RUN(boot_args);
	RUN(agent_addresses);
	RUN(dns_for_the_guest);
	RUN(sizes_and_options);
	RUN(firecracker_bodies);
	RUN(fault_messages);
	RUN(qemu_command_line);
	HARNESS_END();
}

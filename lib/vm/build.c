/* build.c — see build.h. */
#include "vm/build.h"
#include "agent/agent.h"
#include "err.h"
#include "exitcode.h"
#include "kernel/kernel.h"
#include "lock.h"
#include "log.h"
#include "oci/image_debian.h"
#include "store.h"
#include "vm/commit.h"
#include "vm/vm.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* A boot under TCG, with the kernel's modules to load, takes tens of
 * seconds on a loaded host: wait generously, the build is worth it. */
#define BUILD_AGENT_WAIT_MS (300 * 1000)

/* The VM between create and remove: start, run, stop, flatten. */
static int run_job(const struct store *s, const char *name, const struct image_guest_job *j,
		   int *status, struct err *e)
{
	const char *argv[] = { "/bin/sh", "-e", j->script, NULL };
	struct agent_exec_opts x = { .argv = argv, .env = j->env, .in_fd = -1 };
	struct vm_flatten_opts fo = {
		.label = j->label, .seed = j->seed, .size = j->size, .clamp = j->epoch
	};
	struct vm_committed res;
	struct agent_addr addr;
	struct err ignore;
	struct vm_config c;
	struct vm_paths p;
	char notice[256] = "";
	int lock, rc = -1;

	if ((lock = vm_open_locked(s, name, &p, &c, e)) < 0)
		return -1;
	if (vm_start(s, &p, &c, notice, sizeof(notice), e) < 0)
		goto out;
	if (notice[0])
		log_info("%s", notice);
	if (vm_wait_agent(&p, &c, BUILD_AGENT_WAIT_MS, e) < 0 ||
	    vm_agent_address(&p, &c, &addr, e) < 0)
		goto stop;
	x.out_fd = x.err_fd = open(j->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (x.out_fd < 0) {
		err_errno(e, 0, "%s: cannot create", j->log);
		goto stop;
	}
	rc = agent_exec(&addr, VM_AGENT_TIMEOUT_MS, &x, status, e);
	close(x.out_fd);
stop:
	/* Orderly: the guest unmounts, so the layer is clean to read. */
	err_init(&ignore);
	if (vm_stop(&p, &c, VM_STOP_TIMEOUT_MS, false, rc < 0 ? &ignore : e) < 0)
		rc = -1;
	if (rc == 0 && *status == 0) {
		log_info("%s: writing the ext4 image", j->name);
		rc = vm_flatten(p.base, p.upper, j->out, &fo, &res, e);
	}
out:
	lock_release(lock);
	return rc;
}

int vm_build_in_guest(void *ud, const struct image_guest_job *j, int *status, struct err *e)
{
	const struct store *s = ud;
	struct kernel_pull_opts ko = { .if_missing = true };
	enum bundle_outcome kout;
	struct vm_config c;
	struct vm_paths p;
	struct err ignore;
	int rc;

	vm_config_defaults(&c, "");
	c.vmm[0] = c.net[0] = '\0';
	snprintf(c.name, sizeof(c.name), "build-%.40s-%d", j->name, (int)getpid());
	snprintf(c.image, sizeof(c.image), "%s", j->name);
	snprintf(c.disk, sizeof(c.disk), "overlay");
	snprintf(c.net, sizeof(c.net), "none");
	snprintf(c.init, sizeof(c.init), "minimal");
	c.cpus = 2;
	c.mem_mib = 1024;
	c.base_disk = j->base;
	if (j->kernel)
		snprintf(c.kernel, sizeof(c.kernel), "%s", j->kernel);
	*status = 0;
	if (vm_config_finish(&c, NULL, 0, e) < 0 || kernel_pull(s, c.kernel, &ko, &kout, e) < 0)
		return -1;
	if (kout != BUNDLE_ALREADY)
		log_info("kernel %s: pulled", c.kernel);
	if (vm_create(s, &c, NULL, e) < 0)
		return -1;
	log_info("second stage: VM %s (%s)", c.name, c.vmm);
	rc = run_job(s, c.name, j, status, e);
	err_init(&ignore);
	if (vm_paths_init(s, c.name, &p, &ignore) == 0 &&
	    vm_remove(s, &p, &c, rc < 0 ? &ignore : e) < 0)
		rc = -1;
	return rc;
}

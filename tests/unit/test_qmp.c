/* Unit tests: lib/vm/qemu.c's QMP reader (fed bytes, no socket) and its
 * -incoming command line; lib/vm/firecracker.c's pause and snapshot bodies. */
#include "harness.h"

#include "err.h"
#include "exitcode.h"
#include "vm/firecracker.h"
#include "vm/qemu.h"

#include <cjson/cJSON.h>
#include <stdlib.h>

static int feed(struct qmp_reader *r, const char *s, struct err *e)
{
	return qmp_reader_feed(r, s, strlen(s), e);
}

static void reader_answers_and_events(void)
{
	struct qmp_reader r = { .len = 0 };
	struct qmp_msg m;
	struct err e;

	err_init(&e);
	/* The greeting, split across reads. */
	CHECK(feed(&r, "{\"QMP\": {\"version\": {\"qemu\": {\"major\": 7}}, ", &e) == 0);
	CHECK(qmp_reader_take(&r, &m, &e) == 0);
	CHECK(feed(&r, "\"capabilities\": []}}\r\n", &e) == 0);
	CHECK(qmp_reader_take(&r, &m, &e) == 1 && m.kind == QMP_GREETING);
	CHECK(qmp_reader_take(&r, &m, &e) == 0);
	/* Events before the answer are dropped; two lines in one read. */
	CHECK(feed(&r,
		   "{\"timestamp\": {\"seconds\": 1}, \"event\": \"STOP\"}\r\n"
		   "{\"return\": {\"status\": \"paused\", \"running\": false}}\r\n"
		   "{\"return\": {}}\r\n",
		   &e) == 0);
	CHECK(qmp_reader_take(&r, &m, &e) == 1 && m.kind == QMP_RETURN);
	CHECK_STR(m.text, "{\"status\":\"paused\",\"running\":false}");
	CHECK(qmp_reader_take(&r, &m, &e) == 1 && m.kind == QMP_RETURN);
	CHECK_STR(m.text, "{}");
	CHECK(qmp_reader_take(&r, &m, &e) == 0 && r.len == 0);
	/* An error carries QEMU's description. */
	CHECK(feed(&r,
		   "{\"error\": {\"class\": \"GenericError\", \"desc\": \"Migration is "
		   "disabled\"}}\n",
		   &e) == 0);
	CHECK(qmp_reader_take(&r, &m, &e) == 1 && m.kind == QMP_ERROR);
	CHECK_STR(m.text, "Migration is disabled");
	/* Blank lines are nothing. */
	CHECK(feed(&r, "\r\n\n", &e) == 0 && qmp_reader_take(&r, &m, &e) == 0);
}

static void reader_refuses_garbage_and_long_lines(void)
{
	struct qmp_reader r = { .len = 0 };
	struct qmp_msg m;
	struct err e;
	char big[LIMIT_QMP_ANSWER + 8];

	err_init(&e);
	CHECK(feed(&r, "not json\n", &e) == 0);
	CHECK(qmp_reader_take(&r, &m, &e) == -1 && e.code == EXIT_VERIFY);
	err_init(&e);
	CHECK(feed(&r, "[1, 2]\n", &e) == 0);
	CHECK(qmp_reader_take(&r, &m, &e) == -1 && e.code == EXIT_VERIFY);
	/* A line that never ends within the ceiling. */
	memset(big, 'x', sizeof(big));
	r.len = 0;
	err_init(&e);
	CHECK(qmp_reader_feed(&r, big, sizeof(big), &e) == -1 && e.code == EXIT_VERIFY);
	r.len = 0;
	err_init(&e);
	CHECK(qmp_reader_feed(&r, big, LIMIT_QMP_ANSWER - 1, &e) == 0);
	CHECK(qmp_reader_take(&r, &m, &e) == -1 && e.code == EXIT_VERIFY);
}

static void incoming_command_line(void)
{
	struct qemu_vm q = { .qemu = "qemu",
			     .kernel = "/k",
			     .cmdline = "console=ttyS0",
			     .rootfs = "/v/base",
			     .upper = "/v/upper",
			     .cpus = 1,
			     .mem_mib = 256,
			     .net = "none",
			     .agent_sock = "/v/agent.sock",
			     .qmp_sock = "/v/qmp.sock" };
	char *argv[QEMU_ARGV_MAX], store[QEMU_ARG_BYTES], line[QEMU_ARG_BYTES];
	size_t len = 0;
	struct err e;

	err_init(&e);
	CHECK(qemu_argv(&q, argv, store, &e) == 0);
	for (int i = 0; argv[i]; i++)
		len += (size_t)snprintf(line + len, sizeof(line) - len, "%s ", argv[i]);
	CHECK(!strstr(line, "-incoming") && !strstr(line, " -S "));
	q.incoming = true;
	len = 0;
	CHECK(qemu_argv(&q, argv, store, &e) == 0);
	for (int i = 0; argv[i]; i++)
		len += (size_t)snprintf(line + len, sizeof(line) - len, "%s ", argv[i]);
	CHECK(strstr(line, " -S -incoming defer ") != NULL);
}

static char *print(cJSON *o)
{
	char *s = o ? cJSON_PrintUnformatted(o) : NULL;

	cJSON_Delete(o);
	return s;
}

static void firecracker_snapshot_bodies(void)
{
	char *s;

	s = print(fc_body_vm_state("Paused"));
	CHECK_STR(s, "{\"state\":\"Paused\"}");
	free(s);
	s = print(fc_body_snapshot_create("/s/vmstate", "/s/memory"));
	CHECK_STR(s, "{\"snapshot_type\":\"Full\",\"snapshot_path\":\"/s/vmstate\","
		     "\"mem_file_path\":\"/s/memory\"}");
	free(s);
	s = print(fc_body_snapshot_load("/s/vmstate", "/s/memory", NULL, NULL, true));
	CHECK_STR(s, "{\"snapshot_path\":\"/s/vmstate\",\"mem_backend\":{\"backend_type\":"
		     "\"File\",\"backend_path\":\"/s/memory\"},\"resume_vm\":true}");
	free(s);
	s = print(fc_body_snapshot_load("/s/vmstate", "/s/memory", "tap7", "/v/vsock.sock", false));
	CHECK(s &&
	      strstr(s, "\"network_overrides\":[{\"iface_id\":\"eth0\",\"host_dev_name\":"
			"\"tap7\"}]") &&
	      strstr(s, "\"vsock_override\":{\"uds_path\":\"/v/vsock.sock\"}") &&
	      strstr(s, "\"resume_vm\":false"));
	free(s);
}

int main(void)
{
	HARNESS_BEGIN("qmp");
	RUN(reader_answers_and_events);
	RUN(reader_refuses_garbage_and_long_lines);
	RUN(incoming_command_line);
	RUN(firecracker_snapshot_bodies);
	HARNESS_END();
}

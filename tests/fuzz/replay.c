/* replay.c — runs a fuzz target over its corpus without libFuzzer: every
 * file in FUZZ_CORPUS (tests/fuzz/NAME/), in name order, through
 * LLVMFuzzerTestOneInput. Built with the normal toolchain for make test and
 * with ASan for make check-asan; prints one PASS line for tests/run.sh (a
 * broken invariant aborts, which run.sh counts as a failure). Extra
 * arguments are files or directories to replay instead (a crash to check).
 */
#include "fuzz.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef FUZZ_CORPUS
#error FUZZ_CORPUS must name the seed directory
#endif
#ifndef FUZZ_NAME
#define FUZZ_NAME "fuzz"
#endif

int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static int count;

static void replay_file(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	uint8_t *data;
	size_t got = 0;

	if (fd < 0 || fstat(fd, &st) < 0) {
		printf("FAIL: fuzz/%s: cannot read %s\n", FUZZ_NAME, path);
		exit(1);
	}
	data = malloc((size_t)st.st_size + 1);
	if (!data)
		abort();
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, data + got, (size_t)st.st_size - got);

		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	fprintf(stderr, "replay %s\n", path);
	LLVMFuzzerTestOneInput(data, got);
	free(data);
	count++;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static void replay(const char *path)
{
	struct dirent **list;
	struct stat st;
	char sub[4096];
	int n;

	if (stat(path, &st) < 0) {
		printf("FAIL: fuzz/%s: %s is missing\n", FUZZ_NAME, path);
		exit(1);
	}
	if (!S_ISDIR(st.st_mode)) {
		replay_file(path);
		return;
	}
	n = scandir(path, &list, NULL, by_name);
	for (int i = 0; i < n; i++) {
		if (list[i]->d_name[0] != '.') {
			snprintf(sub, sizeof(sub), "%s/%s", path, list[i]->d_name);
			replay(sub);
		}
		free(list[i]);
	}
	if (n >= 0)
		free(list);
}

int main(int argc, char **argv)
{
	if (LLVMFuzzerInitialize)
		LLVMFuzzerInitialize(&argc, &argv);
	if (argc > 1)
		for (int i = 1; i < argc; i++)
			replay(argv[i]);
	else
		replay(FUZZ_CORPUS);
	if (!count) {
		printf("FAIL: fuzz/%s: no inputs in %s\n", FUZZ_NAME, FUZZ_CORPUS);
		return 1;
	}
	printf("PASS: fuzz/%s: %d inputs replayed\n", FUZZ_NAME, count);
	return 0;
}

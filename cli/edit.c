#include "edit.h"
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "cleanup.h"
#include "cli.h"
#include "json.h"
#include "util.h"
#include "yamljson.h"

json_t *edit_document(json_t *doc, isola_error *err)
{
	if (!isatty(0)) {
		_cleanup_free_ char *s = NULL;
		int n = read_all_fd(0, &s, err);
		if (n < 0)
			return NULL;
		return doc_to_json(s, (size_t)n, YAML_STRINGS, "stdin", err);
	}
	char path[] = "/tmp/isola-edit-XXXXXX.yaml";
	_cleanup_close_ int fd = mkstemps(path, 5);
	if (fd < 0)
		return isola_err(err, errno, "mkstemp"), NULL;
	FILE *f = fdopen(dup(fd), "w");
	if (!f) {
		unlink(path);
		return isola_err(err, errno, "fdopen %s", path), NULL;
	}
	fputs("### This is a YAML representation of the configuration.\n"
	      "### Any line starting with a '#' will be ignored. JSON is accepted too.\n",
	      f);
	print_yaml_to(f, doc);
	fclose(f);
	const char *editor = getenv("VISUAL") ?: getenv("EDITOR") ?: "vi";
	for (;;) {
		pid_t pid = fork();
		if (pid == 0) {
			execlp("/bin/sh", "sh", "-c", "exec $0 \"$1\"", editor, path, (char *)NULL);
			_exit(127);
		}
		int st;
		waitpid(pid, &st, 0);
		if (!WIFEXITED(st) || WEXITSTATUS(st)) {
			unlink(path);
			return isola_err(err, ECANCELED, "editor %s failed", editor), NULL;
		}
		_cleanup_free_ char *text = NULL;
		size_t len = 0;
		isola_error pe = {0};
		json_t *j = NULL;
		if (read_file_at(AT_FDCWD, path, &text, &len, &pe) == 0)
			j = doc_to_json(text, len, YAML_STRINGS, path, &pe);
		if (j) {
			unlink(path);
			return j;
		}
		fprintf(stderr, "isola: %s\nPress enter to edit again, ctrl+c to abort ", pe.msg);
		char line[8];
		if (!fgets(line, sizeof line, stdin)) {
			unlink(path);
			return isola_err(err, ECANCELED, "edit aborted"), NULL;
		}
	}
}

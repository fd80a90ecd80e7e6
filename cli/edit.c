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

json_t *edit_document(json_t *doc, isola_error *err)
{
	json_error_t je;
	if (!isatty(0)) {
		_cleanup_free_ char *s = NULL;
		if (read_all_fd(0, &s, err) < 0)
			return NULL;
		json_t *j = json_loads(s, 0, &je);
		if (!j || !json_is_object(j))
			return isola_err(err, EINVAL, "stdin: line %d: %s (expected a JSON object)", je.line,
			                 j ? "not an object" : je.text),
			       json_decref(j), NULL;
		return j;
	}
	char path[] = "/tmp/isola-edit-XXXXXX.json";
	_cleanup_close_ int fd = mkstemps(path, 5);
	if (fd < 0)
		return isola_err(err, errno, "mkstemp"), NULL;
	char *s = json_dumps(doc, JSON_INDENT(2) | JSON_SORT_KEYS);
	(void)!write(fd, s, strlen(s));
	(void)!write(fd, "\n", 1);
	free(s);
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
		json_t *j = json_load_file(path, 0, &je);
		if (j && json_is_object(j)) {
			unlink(path);
			return j;
		}
		json_decref(j);
		fprintf(stderr, "isola: %s line %d: %s\nPress enter to edit again, ctrl+c to abort ", path, je.line,
		        je.text);
		char line[8];
		if (!fgets(line, sizeof line, stdin)) {
			unlink(path);
			return isola_err(err, ECANCELED, "edit aborted"), NULL;
		}
	}
}

/* isola systemd install|uninstall NAME: the isola@.service template (systemd/isola@.service) with this
 * binary's path, enabled for the instance. $ISOLA_SYSTEMD_DIR overrides /etc/systemd/system (tests). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "cleanup.h"
#include "cli.h"
#include "manager/name.h"
#include "util.h"

static const char unit_template[] =
    "# isola@.service: one isola instance as a systemd service (written by `isola systemd install`).\n"
    "# The instance's monitor runs in the foreground as the main process and reports READY=1 once the\n"
    "# instance runs; stopping the unit stops the instance cleanly.\n"
    "[Unit]\n"
    "Description=isola instance %%i\n"
    "Documentation=man:isola(1)\n"
    "After=network-online.target local-fs.target\n"
    "Wants=network-online.target\n"
    "\n"
    "[Service]\n"
    "Type=notify\n"
    "NotifyAccess=main\n"
    "Environment=ISOLA_DIR=%s\n"
    "ExecStart=%s start --foreground %%i\n"
    "ExecStop=%s stop --timeout 30 %%i\n"
    "# the container's processes live in their own cgroup (libisola-runtime); only the monitor is ours\n"
    "KillMode=process\n"
    "TimeoutStartSec=120\n"
    "TimeoutStopSec=60\n"
    "Restart=no\n"
    "\n"
    "[Install]\n"
    "WantedBy=multi-user.target\n";

static bool systemd_running(void)
{
	struct stat st;
	return stat("/run/systemd/system", &st) == 0 && S_ISDIR(st.st_mode);
}

static int systemctl(const char *verb, const char *unit, isola_error *err)
{
	pid_t pid = fork();
	if (pid == 0) {
		execlp("systemctl", "systemctl", verb, unit, (char *)NULL);
		_exit(127);
	}
	int st;
	waitpid(pid, &st, 0);
	if (!WIFEXITED(st) || WEXITSTATUS(st))
		return isola_err(err, EIO, "systemctl %s %s failed", verb, unit);
	return 0;
}

int cmd_systemd(struct cli *c, int argc, char **argv, isola_error *err)
{
	if (argc != 3)
		return usage_err(err, "isola systemd install NAME | isola systemd uninstall NAME");
	const char *name = argv[2];
	if (instance_name_check(name, err) < 0)
		return -1;
	const char *dir = getenv("ISOLA_SYSTEMD_DIR") ?: "/etc/systemd/system";
	char unit[4096], inst[128];
	snprintf(unit, sizeof unit, "%s/isola@.service", dir);
	snprintf(inst, sizeof inst, "isola@%s.service", name);
	if (!strcmp(argv[1], "install")) {
		if (cli_manager(c, err) < 0)
			return -1;
		struct instance_rec r;
		if (db_instance_get(c->m.db, name, &r, err) < 0)
			return -1;
		instance_rec_clear(&r);
		char self[4096];
		ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
		if (n < 0)
			return isola_err(err, errno, "readlink /proc/self/exe");
		self[n] = 0;
		mkdir(dir, 0755);
		char *text = NULL;
		const char *sdir = getenv("ISOLA_DIR") ?: "/var/lib/isola";
		if (asprintf(&text, unit_template, sdir, self, self) < 0)
			return isola_err(err, ENOMEM, "unit");
		int rc = write_file_at(AT_FDCWD, unit, text, strlen(text), false, err);
		free(text);
		if (rc < 0)
			return -1;
		/* an enabled unit: the wants link systemctl enable would make */
		char wants[4096], link[4300];
		snprintf(wants, sizeof wants, "%s/multi-user.target.wants", dir);
		mkdir(wants, 0755);
		snprintf(link, sizeof link, "%s/%s", wants, inst);
		unlink(link);
		if (symlink(unit, link) < 0)
			return isola_err(err, errno, "symlink %s", link);
		printf("Installed %s (enabled: starts %s at boot)\n", inst, name);
		if (systemd_running() && !getenv("ISOLA_SYSTEMD_DIR"))
			return systemctl("daemon-reload", "", err) < 0 ? -1 : 0;
		return 0;
	}
	if (!strcmp(argv[1], "uninstall")) {
		char link[4300];
		snprintf(link, sizeof link, "%s/multi-user.target.wants/%s", dir, inst);
		if (unlink(link) < 0 && errno != ENOENT)
			return isola_err(err, errno, "unlink %s", link);
		return 0;
	}
	return usage_err(err, "isola systemd install NAME | isola systemd uninstall NAME");
}

/* isola-runtime CLI: one file per verb; each verb parses its own flags and calls runtime.h. Only the verbs
 * and main() print; exit codes: 0 ok, 1 error (runtime-spec runtime.md), run/exec: the process's status. */
#pragma once
#include <stdbool.h>
#include "error.h"
#include <jansson.h>
#include "runtime/runtime.h"

struct cli {
	struct runtime_ctx ctx;
	isola_error err;
};

typedef int (*cli_verb_fn)(struct cli *c, int argc, char **argv);

int cmd_spec(struct cli *c, int argc, char **argv);
int cmd_create(struct cli *c, int argc, char **argv);
int cmd_start(struct cli *c, int argc, char **argv);
int cmd_run(struct cli *c, int argc, char **argv);
int cmd_exec(struct cli *c, int argc, char **argv);
int cmd_state(struct cli *c, int argc, char **argv);
int cmd_kill(struct cli *c, int argc, char **argv);
int cmd_delete(struct cli *c, int argc, char **argv);
int cmd_list(struct cli *c, int argc, char **argv);
int cmd_ps(struct cli *c, int argc, char **argv);
int cmd_pause(struct cli *c, int argc, char **argv);
int cmd_resume(struct cli *c, int argc, char **argv);
int cmd_update(struct cli *c, int argc, char **argv);
int cmd_events(struct cli *c, int argc, char **argv);
int cmd_features(struct cli *c, int argc, char **argv);
int cmd_boot(struct cli *c, int argc, char **argv); /* syscont: boot.c */
int cmd_halt(struct cli *c, int argc, char **argv);

/* Report a usage error (exit status 1 follows). */
int cli_usage(struct cli *c, const char *usage);
/* The one id argument every verb but list/spec/features takes. */
const char *cli_id(struct cli *c, int argc, char **argv, const char *usage);
/* "KILL", "SIGKILL", "9" → 9; -1 when unknown. */
int cli_signal(const char *s);
/* Parse --preserve-fds N. */
int cli_uint(struct cli *c, const char *flag, const char *s, unsigned *out);

/* Foreground supervision for run and exec: forward signals to pid, and with master >= 0 put the caller's
 * terminal in raw mode and copy stdin → master → stdout, SIGWINCH resizing the pty. Returns the exit
 * status of pid encoded like a shell (code or 128+signal). */
int cli_supervise(pid_t pid, int master, isola_error *err);
/* Block the signals cli_supervise forwards (call before creating the process, so none is lost). */
void cli_block_signals(void);

/* create and run share their flags */
#include <getopt.h>
extern const struct option cli_create_options[];
void cli_create_defaults(struct runtime_create_opts *co);
int cli_create_flag(struct cli *c, int o, struct runtime_create_opts *co);
json_t *cli_default_spec(bool rootless);

/* The `isola` command: one file per verb group, this header is what they share. Only main() prints
 * errors and exits; verbs return an exit status (>= 0) or -1 with err set. */
#pragma once
#include <stdbool.h>
#include <stdio.h>
#include <jansson.h>
#include "error.h"
#include "manager/manager.h"

enum out_format { FMT_TABLE, FMT_CSV, FMT_JSON, FMT_YAML };

struct cli {
	struct manager m;
	bool opened;
	const char *prog;
};

/* Open the state database (once). */
int cli_manager(struct cli *c, isola_error *err);

typedef int (*verb_fn)(struct cli *c, int argc, char **argv, isola_error *err);

int fmt_parse(const char *s, enum out_format *out, isola_error *err);
/* rows: array of arrays of strings (table/csv); raw: what json/yaml print (Incus objects). */
void print_list(enum out_format f, const char *const *headers, size_t ncols, json_t *rows, json_t *raw);
void print_yaml(json_t *v);
void print_yaml_to(FILE *f, json_t *v);
void print_json(json_t *v);
/* For ipc progress messages: a bar on a terminal, nothing otherwise. */
void progress_bar(json_t *progress, void *ud);
void progress_done(void);
/* "k=v" → key and value (value points into s after '='). */
int split_kv(char *s, char **key, char **value, isola_error *err);
/* Read a whole fd (at most 64 MiB) into a NUL-terminated string; returns its length. */
int read_all_fd(int fd, char **out, isola_error *err);
/* Usage text of a verb group → err (EINVAL). */
int usage_err(isola_error *err, const char *usage);

/* verb groups */
int cmd_launch(struct cli *c, int argc, char **argv, isola_error *err);
int cmd_init(struct cli *c, int argc, char **argv, isola_error *err);
int cmd_start(struct cli *c, int argc, char **argv, isola_error *err);
int cmd_stop(struct cli *c, int argc, char **argv, isola_error *err);
int cmd_restart(struct cli *c, int argc, char **argv, isola_error *err);
int cmd_pause(struct cli *c, int argc, char **argv, isola_error *err);
int cmd_resume(struct cli *c, int argc, char **argv, isola_error *err);
int cmd_delete(struct cli *c, int argc, char **argv, isola_error *err);
int cmd_rename(struct cli *c, int argc, char **argv, isola_error *err);
int cmd_copy(struct cli *c, int argc, char **argv, isola_error *err);
int cmd_list(struct cli *c, int argc, char **argv, isola_error *err);
int cmd_info(struct cli *c, int argc, char **argv, isola_error *err);
int cmd_exec(struct cli *c, int argc, char **argv, isola_error *err);
int cmd_console(struct cli *c, int argc, char **argv, isola_error *err);
int cmd_file(struct cli *c, int argc, char **argv, isola_error *err);
int cmd_config(struct cli *c, int argc, char **argv, isola_error *err);
int cmd_profile(struct cli *c, int argc, char **argv, isola_error *err);
int cmd_snapshot(struct cli *c, int argc, char **argv, isola_error *err);
int cmd_image(struct cli *c, int argc, char **argv, isola_error *err);
int cmd_network(struct cli *c, int argc, char **argv, isola_error *err);
int cmd_storage(struct cli *c, int argc, char **argv, isola_error *err);
int cmd_admin(struct cli *c, int argc, char **argv, isola_error *err);
int cmd_systemd(struct cli *c, int argc, char **argv, isola_error *err);

/* Running the few external tools libarchive and the kernel cannot replace: qemu-img (qcow2 → raw),
 * squashfuse (a squashfs mount without root), fusermount3 (its unmount). No shell: argv is exec'd
 * directly (PATH lookup), stdin is /dev/null, every other fd is closed with close_range(2). */
#pragma once
#include "error.h"

/* Run argv; stdout is returned in *out when out != NULL (NUL-terminated, caller frees). A non-zero exit
 * status is an error carrying the tool's stderr (last line). */
int run_tool(char *const argv[], char **out, isola_error *err);

/* CVE-2019-5736: a container process that manages to execute /proc/self/exe while the runtime enters the
 * container (a "#!/proc/self/exe" binary in the image run by `exec`) becomes the runtime binary and can
 * rewrite it on the host through /proc/self/fd once it exits. The defence (the one runc and crun ship):
 * run from a sealed, read-only copy in memory, so /proc/self/exe names a memfd and never the host file.
 *
 * exesafe_ensure() returns at once when the running binary is already a sealed memfd, or when it lives on
 * a read-only mount (nothing to overwrite: install isola-runtime on one to skip the copy's cost). Otherwise
 * it copies the binary into a memfd, seals it (F_SEAL_SEAL|F_SEAL_SHRINK|F_SEAL_GROW|F_SEAL_WRITE) and
 * re-executes itself from it with fexecve(3); it only returns on failure. */
#pragma once
#include "error.h"

int exesafe_ensure(int argc, char **argv, isola_error *err);
/* Is the current process's executable protected (sealed memfd or read-only mount)? For tests/state. */
int exesafe_is_protected(void);

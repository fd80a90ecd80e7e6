/* libFuzzer target: archive entry names through extract_check_name. Beyond not crashing, checks the
 * invariant the unpacker relies on: an accepted name is relative and has no ".." component. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "imaged/extract.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *name = strndup((const char *)data, size), out[4096];
	isola_error err;
	if (name && extract_check_name(name, out, sizeof out, &err) == 0) {
		if (out[0] == '/')
			abort();
		for (char *p = out; *p;) {
			char *e = strchrnul(p, '/');
			if (e - p == 2 && p[0] == '.' && p[1] == '.')
				abort();
			if (e - p == 0)
				abort(); /* "a//b" must have been collapsed */
			p = *e ? e + 1 : e;
		}
	}
	free(name);
	return 0;
}

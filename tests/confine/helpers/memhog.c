/* memhog MB: allocate and touch MB mebibytes, one at a time, printing "got N" after each; a memory.max
 * lower than MB must end it with SIGKILL from the OOM killer before "all". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
	int mb = argc > 1 ? atoi(argv[1]) : 64;
	for (int i = 1; i <= mb; i++) {
		char *p = malloc(1 << 20);
		if (!p) {
			printf("malloc failed at %d\n", i);
			return 1;
		}
		memset(p, i, 1 << 20);
		if (i % 8 == 0) {
			printf("got %d\n", i);
			fflush(stdout);
		}
	}
	printf("all %d\n", mb);
	return 0;
}

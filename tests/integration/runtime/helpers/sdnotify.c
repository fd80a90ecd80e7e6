/* Minimal sd_notify(3) client for the NOTIFY_SOCKET proxy test: sends argv[1] (default "READY=1") as one
 * datagram to $NOTIFY_SOCKET, then sleeps so the container stays up. Static: the busybox rootfs has no libc. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	const char *path = getenv("NOTIFY_SOCKET");
	const char *msg = argc > 1 ? argv[1] : "READY=1";
	if (!path || strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		fprintf(stderr, "sdnotify: NOTIFY_SOCKET unset or too long\n");
		return 2;
	}
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || sendto(fd, msg, strlen(msg), 0, (struct sockaddr *)&sa, sizeof sa) < 0) {
		perror("sdnotify: sendto");
		return 1;
	}
	sleep(300);
	return 0;
}

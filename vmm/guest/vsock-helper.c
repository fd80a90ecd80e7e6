/* vsock-helper: the guest side of the virtio-vsock tests, for the busybox test initramfs (busybox has no
 * vsock tool). Built static by vmm/build.mk. Prints one marker line per step on stdout (the serial
 * console the host test reads):
 *
 *   vsock-helper cid                       VSOCK-CID N   (IOCTL_VM_SOCKETS_GET_LOCAL_CID on /dev/vsock)
 *   vsock-helper connect CID PORT MARKER [seqpacket]
 *                                          connect, send "MARKER\n", echo back what it reads until EOF
 *                                          (seqpacket: message by message, boundaries kept)
 *   vsock-helper listen PORT MARKER        listen, print VSOCK-LISTENING, accept one, then as connect
 *
 * Exit status 0 when every step worked; each failure prints VSOCK-ERROR with the step and errno. */
#include <errno.h>
#include <fcntl.h>
#include <linux/vm_sockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

static int fail(const char *step)
{
	printf("VSOCK-ERROR %s: %s\n", step, strerror(errno));
	fflush(stdout);
	return 1;
}

/* Send the marker, then echo everything until the peer shuts down its sending side. */
static int talk(int fd, const char *marker)
{
	static char buf[128 * 1024]; /* larger than any test message: SEQPACKET reads never truncate */
	int n = snprintf(buf, sizeof buf, "%s\n", marker);
	if (write(fd, buf, (size_t)n) != n)
		return fail("send marker");
	printf("VSOCK-SENT %s\n", marker);
	fflush(stdout);
	unsigned long long total = 0;
	for (;;) {
		ssize_t r = read(fd, buf, sizeof buf);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return fail("read");
		if (r == 0)
			break;
		for (ssize_t off = 0; off < r;) {
			ssize_t w = write(fd, buf + off, (size_t)(r - off));
			if (w < 0)
				return fail("echo");
			off += w;
		}
		total += (unsigned long long)r;
	}
	printf("VSOCK-ECHOED %llu\n", total);
	fflush(stdout);
	return 0;
}

static unsigned parse_u32(const char *s)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);
	if (*end || v > 0xffffffffUL) {
		printf("VSOCK-ERROR bad number %s\n", s);
		exit(2);
	}
	return (unsigned)v;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 2 && !strcmp(argv[1], "cid")) {
		int fd = open("/dev/vsock", O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return fail("open /dev/vsock");
		unsigned cid = 0;
		if (ioctl(fd, IOCTL_VM_SOCKETS_GET_LOCAL_CID, &cid) < 0)
			return fail("IOCTL_VM_SOCKETS_GET_LOCAL_CID");
		printf("VSOCK-CID %u\n", cid);
		return 0;
	}
	if ((argc == 5 || argc == 6) && !strcmp(argv[1], "connect")) {
		struct sockaddr_vm a = {
		    .svm_family = AF_VSOCK, .svm_cid = parse_u32(argv[2]), .svm_port = parse_u32(argv[3])};
		int type = argc == 6 && !strcmp(argv[5], "seqpacket") ? SOCK_SEQPACKET : SOCK_STREAM;
		int fd = socket(AF_VSOCK, type | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return fail("socket");
		if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0)
			return fail("connect");
		printf("VSOCK-CONNECTED %u:%u\n", a.svm_cid, a.svm_port);
		return talk(fd, argv[4]);
	}
	if (argc == 4 && !strcmp(argv[1], "listen")) {
		struct sockaddr_vm a = {
		    .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY, .svm_port = parse_u32(argv[2])};
		int lfd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (lfd < 0)
			return fail("socket");
		if (bind(lfd, (struct sockaddr *)&a, sizeof a) < 0)
			return fail("bind");
		if (listen(lfd, 1) < 0)
			return fail("listen");
		printf("VSOCK-LISTENING %u\n", a.svm_port);
		struct sockaddr_vm peer;
		socklen_t len = sizeof peer;
		int fd = accept(lfd, (struct sockaddr *)&peer, &len);
		if (fd < 0)
			return fail("accept");
		printf("VSOCK-ACCEPTED %u:%u\n", peer.svm_cid, peer.svm_port);
		return talk(fd, argv[3]);
	}
	fprintf(stderr, "usage: vsock-helper cid | connect CID PORT MARKER [seqpacket] | listen PORT MARKER\n");
	return 2;
}

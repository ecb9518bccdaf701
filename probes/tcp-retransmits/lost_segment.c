/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tcp-retransmits' workload: one connection that sends one small segment on "go" and
 * reports when its peer has acknowledged it. The test drops that segment's copies on the
 * way (between network namespaces it creates) for a while: every copy after the first is
 * a retransmission. Nothing else is sent until the ACK (no FIN, no second segment), so
 * the copies the link dropped, plus the one that got through, are all there is.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define SEGMENT_BYTES 100 /* well under any MSS: one segment */

static void usage(void)
{
	fprintf(stderr, "usage: lost_segment serve IPV4 | lost_segment send IPV4 PORT\n"
			"  serve: listens on IPV4, an ephemeral port; prints \"listening PORT\", accepts one\n"
			"         connection, reads it to its end, prints \"received BYTES\".\n"
			"  send:  connects, prints \"ready LOCAL_PORT\", waits for a line on stdin, sends one\n"
			"         %d-byte segment, prints \"acked TOTAL_RETRANS\" (the kernel's own count,\n"
			"         TCP_INFO) once the peer acknowledged it, then closes.\n"
			"  Killed by SIGALRM after 60 s.\n",
		SEGMENT_BYTES);
}

static int serve(const struct sockaddr_in *sa)
{
	struct sockaddr_in bound;
	socklen_t len = sizeof(bound);
	char buf[4096];
	long long total = 0;
	ssize_t n;
	int lfd = socket(AF_INET, SOCK_STREAM, 0), fd;

	if (lfd < 0 || bind(lfd, (const struct sockaddr *)sa, sizeof(*sa)) || listen(lfd, 1) ||
	    getsockname(lfd, (struct sockaddr *)&bound, &len)) {
		perror("lost_segment: listen");
		return 1;
	}
	printf("listening %u\n", ntohs(bound.sin_port));
	fflush(stdout);
	fd = accept(lfd, NULL, NULL);
	if (fd < 0) {
		perror("lost_segment: accept");
		return 1;
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR))
		total += n > 0 ? n : 0;
	printf("received %lld\n", total);
	close(fd);
	close(lfd);
	return 0;
}

static int send_one(const struct sockaddr_in *sa)
{
	struct sockaddr_in local;
	socklen_t len = sizeof(local);
	char segment[SEGMENT_BYTES], line[16];
	struct tcp_info info;
	const struct timespec tick = { .tv_nsec = 5000000 };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0 || connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) ||
	    getsockname(fd, (struct sockaddr *)&local, &len)) {
		perror("lost_segment: connect");
		return 1;
	}
	printf("ready %u\n", ntohs(local.sin_port));
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin)) {
		fprintf(stderr, "lost_segment: stdin closed before go\n");
		return 1;
	}
	memset(segment, 'r', sizeof(segment));
	if (send(fd, segment, sizeof(segment), MSG_NOSIGNAL) != (ssize_t)sizeof(segment)) {
		perror("lost_segment: send");
		return 1;
	}
	do {
		nanosleep(&tick, NULL);
		len = sizeof(info);
		if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len)) {
			perror("lost_segment: TCP_INFO");
			return 1;
		}
	} while (info.tcpi_unacked > 0);
	printf("acked %u\n", info.tcpi_total_retrans);
	fflush(stdout);
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	int serving = argc == 3 && strcmp(argv[1], "serve") == 0;
	int sending = argc == 4 && strcmp(argv[1], "send") == 0;
	char *end = NULL;
	unsigned long port = 0;

	if (sending)
		port = strtoul(argv[3], &end, 10);
	if ((!serving && !sending) || inet_pton(AF_INET, argv[2], &sa.sin_addr) != 1 ||
	    (sending && (*end || port == 0 || port > 65535))) {
		usage();
		return 2;
	}
	sa.sin_port = htons((unsigned short)port);
	alarm(60);
	return serving ? serve(&sa) : send_one(&sa);
}

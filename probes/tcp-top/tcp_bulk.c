/* SPDX-License-Identifier: Apache-2.0 */
/* Test workload: one loopback TCP connection that sends and receives exact byte counts. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define CHUNK 65536

static void usage(FILE *f)
{
	fprintf(f, "usage: tcp_bulk [--family 4|6] [--send BYTES] [--recv BYTES] [--wait-go] [--timeout-seconds N]\n"
		   "  Connects to a listener of its own on 127.0.0.1 (or ::1) and prints\n"
		   "  \"ready PID CLIENT_PORT SERVER_PORT\" (with --wait-go it then waits for a line on stdin).\n"
		   "  The client sends --send bytes (default 3 MiB), a server thread reads them all and\n"
		   "  answers --recv bytes (default 1 MiB), which the client reads. Prints \"done SENT RECEIVED\"\n"
		   "  as counted by the client.\n");
}

struct side {
	int fd;
	unsigned long long in, out; /* bytes to read first, then to write */
	unsigned long long got, put;
	int err;
};

static int move_bytes(struct side *s)
{
	static __thread char buf[CHUNK];

	memset(buf, 'x', sizeof(buf));
	while (s->got < s->in) {
		size_t want = s->in - s->got < CHUNK ? (size_t)(s->in - s->got) : CHUNK;
		ssize_t n = read(s->fd, buf, want);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EPIPE;
		s->got += (unsigned long long)n;
	}
	while (s->put < s->out) {
		size_t want = s->out - s->put < CHUNK ? (size_t)(s->out - s->put) : CHUNK;
		ssize_t n = write(s->fd, buf, want);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EPIPE;
		s->put += (unsigned long long)n;
	}
	return 0;
}

static void *server_main(void *arg)
{
	struct side *s = arg;

	s->err = move_bytes(s);
	return NULL;
}

static int parse_ull(const char *text, unsigned long long *out)
{
	char *end;

	errno = 0;
	*out = strtoull(text, &end, 10);
	return (errno || *end || end == text) ? -EINVAL : 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "family", required_argument, NULL, 'f' },
		{ "send", required_argument, NULL, 's' },
		{ "recv", required_argument, NULL, 'r' },
		{ "wait-go", no_argument, NULL, 'g' },
		{ "timeout-seconds", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long long send_bytes = 3ull << 20, recv_bytes = 1ull << 20, timeout_s = 60, family = 4;
	struct sockaddr_storage ss;
	socklen_t sslen;
	struct side client = { .fd = -1 }, server = { .fd = -1 };
	int lfd = -1, c, rc = 1, one = 1;
	unsigned int cport, sport;
	bool wait_go = false;
	pthread_t thread;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'g': wait_go = true; break;
		case 'f':
		case 's':
		case 'r':
		case 't': {
			unsigned long long *dst = c == 'f' ? &family : c == 's' ? &send_bytes : c == 'r' ? &recv_bytes : &timeout_s;

			if (parse_ull(optarg, dst)) {
				fprintf(stderr, "tcp_bulk: bad number %s\n", optarg);
				return 2;
			}
			break;
		}
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if ((family != 4 && family != 6) || timeout_s == 0) {
		usage(stderr);
		return 2;
	}
	alarm((unsigned int)timeout_s);

	/* Listener on an ephemeral loopback port, then a connection to it. */
	memset(&ss, 0, sizeof(ss));
	if (family == 4) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		sslen = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_addr = in6addr_loopback;
		sslen = sizeof(*sin6);
	}
	lfd = socket(ss.ss_family, SOCK_STREAM, 0);
	if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(lfd, (struct sockaddr *)&ss, sslen) || listen(lfd, 1) ||
	    getsockname(lfd, (struct sockaddr *)&ss, &sslen)) {
		perror("tcp_bulk: listen");
		goto cleanup;
	}
	client.fd = socket(ss.ss_family, SOCK_STREAM, 0);
	if (client.fd < 0 || connect(client.fd, (struct sockaddr *)&ss, sslen)) {
		perror("tcp_bulk: connect");
		goto cleanup;
	}
	server.fd = accept(lfd, NULL, NULL);
	if (server.fd < 0) {
		perror("tcp_bulk: accept");
		goto cleanup;
	}
	sport = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
					      : ((struct sockaddr_in6 *)&ss)->sin6_port);
	sslen = sizeof(ss);
	if (getsockname(client.fd, (struct sockaddr *)&ss, &sslen)) {
		perror("tcp_bulk: getsockname");
		goto cleanup;
	}
	cport = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
					      : ((struct sockaddr_in6 *)&ss)->sin6_port);

	printf("ready %ld %u %u\n", (long)getpid(), cport, sport);
	fflush(stdout);
	if (wait_go) {
		char line[64];

		if (!fgets(line, sizeof(line), stdin)) {
			fprintf(stderr, "tcp_bulk: stdin closed before go\n");
			goto cleanup;
		}
	}

	/* The client writes first, the server reads all of it, then answers. */
	server.in = send_bytes;
	server.out = recv_bytes;
	client.in = 0;
	client.out = send_bytes;
	if (pthread_create(&thread, NULL, server_main, &server)) {
		fprintf(stderr, "tcp_bulk: pthread_create failed\n");
		goto cleanup;
	}
	client.err = move_bytes(&client);
	if (!client.err) {
		client.in = recv_bytes;
		client.out = client.put;
		client.err = move_bytes(&client);
	}
	pthread_join(thread, NULL);
	if (client.err || server.err) {
		fprintf(stderr, "tcp_bulk: transfer failed: client %s, server %s\n", strerror(-client.err),
			strerror(-server.err));
		goto cleanup;
	}
	printf("done %llu %llu\n", client.put, client.got);
	fflush(stdout);
	rc = 0;
cleanup:
	if (client.fd >= 0)
		close(client.fd);
	if (server.fd >= 0)
		close(server.fd);
	if (lfd >= 0)
		close(lfd);
	return rc;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* Test workload: sends fixed 64-byte requests on one TCP connection and waits for each response. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MSG_LEN 64

static void usage(FILE *f)
{
	fprintf(f, "usage: latency_client --connect ADDR:PORT [--requests N] [--wait-go] [--nonblocking]\n"
		   "                      [--timeout-seconds N]\n"
		   "  Sends N (default 200) 64-byte requests on one connection, each after the\n"
		   "  previous response, then prints \"done N\". --wait-go prints \"ready PID\" and\n"
		   "  waits for a line on stdin first. --nonblocking uses O_NONBLOCK + poll and\n"
		   "  tries a recv right after each send (it fails with EAGAIN). The process is\n"
		   "  killed by SIGALRM after --timeout-seconds (default 120).\n");
}

static int parse_connect(const char *text, struct sockaddr_in *sa)
{
	char host[64];
	const char *colon = strrchr(text, ':');
	char *end;
	unsigned long port;

	if (!colon || colon == text || (size_t)(colon - text) >= sizeof(host))
		return -EINVAL;
	memcpy(host, text, (size_t)(colon - text));
	host[colon - text] = '\0';
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (errno || *end || end == colon + 1 || port == 0 || port > 65535)
		return -EINVAL;
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host, &sa->sin_addr) != 1)
		return -EINVAL;
	return 0;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int wait_fd(int fd, short events)
{
	struct pollfd pfd = { .fd = fd, .events = events };

	for (;;) {
		int rc = poll(&pfd, 1, -1);

		if (rc > 0)
			return 0;
		if (rc < 0 && errno != EINTR)
			return -errno;
	}
}

static int send_full(int fd, const unsigned char *buf, size_t len, bool nonblocking)
{
	size_t put = 0;

	while (put < len) {
		ssize_t n = send(fd, buf + put, len - put, MSG_NOSIGNAL);

		if (n >= 0) {
			put += (size_t)n;
		} else if (errno == EINTR) {
			continue;
		} else if (nonblocking && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			int rc = wait_fd(fd, POLLOUT);

			if (rc < 0)
				return rc;
		} else {
			return -errno;
		}
	}
	return 0;
}

/* Reads exactly len bytes; counts the receives that failed with EAGAIN. */
static int recv_full(int fd, unsigned char *buf, size_t len, bool nonblocking, uint64_t *eagain)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = recv(fd, buf + got, len - got, 0);

		if (n > 0) {
			got += (size_t)n;
		} else if (n == 0) {
			return -EPIPE;
		} else if (errno == EINTR) {
			continue;
		} else if (nonblocking && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			int rc;

			(*eagain)++;
			rc = wait_fd(fd, POLLIN);
			if (rc < 0)
				return rc;
		} else {
			return -errno;
		}
	}
	return 0;
}

/*
 * With nonblocking, first the pitfall on purpose: a receive right after the send,
 * which cannot succeed yet and fails with EAGAIN, then poll and read the response.
 */
static int read_response(int fd, unsigned char resp[MSG_LEN], bool nonblocking, uint64_t *eagain)
{
	ssize_t n = 0;

	if (nonblocking) {
		n = recv(fd, resp, MSG_LEN, 0);
		if (n == 0)
			return -EPIPE;
		if (n < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				return -errno;
			if (errno != EINTR)
				(*eagain)++;
			n = 0;
		}
	}
	return recv_full(fd, resp + n, MSG_LEN - (size_t)n, nonblocking, eagain);
}

/* Each request's latency by 10 us, up to 1 s: the client's own median, to the 10 us. */
#define OWN_BUCKETS 100000
static uint32_t by_10us[OWN_BUCKETS];

static uint64_t own_p50_ns(unsigned long n)
{
	unsigned long seen = 0;

	for (size_t b = 0; b < OWN_BUCKETS; b++) {
		seen += by_10us[b];
		if (seen * 2 >= n)
			return (uint64_t)(b + 1) * 10000;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "connect", required_argument, NULL, 'c' },
		{ "requests", required_argument, NULL, 'n' },
		{ "wait-go", no_argument, NULL, 'g' },
		{ "nonblocking", no_argument, NULL, 'b' },
		{ "timeout-seconds", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *connect_to = NULL;
	unsigned long requests = 200, timeout_s = 120;
	bool wait_go = false, nonblocking = false;
	uint64_t eagain = 0, sum = 0, min = UINT64_MAX, max = 0;
	unsigned char req[MSG_LEN], resp[MSG_LEN];
	struct sockaddr_in sa;
	int fd, one = 1, c, rc;
	unsigned long i;
	char *end;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			connect_to = optarg;
			break;
		case 'n':
		case 't': {
			unsigned long v;

			errno = 0;
			v = strtoul(optarg, &end, 10);
			if (errno || *end || end == optarg || v == 0 || v > 100000000ul) {
				fprintf(stderr, "latency_client: bad --%s '%s'\n",
					c == 'n' ? "requests" : "timeout-seconds", optarg);
				return 2;
			}
			if (c == 'n')
				requests = v;
			else
				timeout_s = v;
			break;
		}
		case 'g':
			wait_go = true;
			break;
		case 'b':
			nonblocking = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!connect_to || optind != argc) {
		usage(stderr);
		return 2;
	}
	if (parse_connect(connect_to, &sa) < 0) {
		fprintf(stderr, "latency_client: bad --connect '%s' (want IPv4:PORT)\n", connect_to);
		return 2;
	}
	/* Never hang a test: the default SIGALRM action ends the process. */
	alarm((unsigned int)timeout_s);
	signal(SIGPIPE, SIG_IGN);

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "latency_client: connect %s: %s\n", connect_to, strerror(errno));
		return 1;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (nonblocking && fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) {
		fprintf(stderr, "latency_client: O_NONBLOCK: %s\n", strerror(errno));
		return 1;
	}

	if (wait_go) {
		char line[64];

		printf("ready %ld\n", (long)getpid());
		fflush(stdout);
		if (!fgets(line, sizeof(line), stdin)) {
			fprintf(stderr, "latency_client: stdin closed before go\n");
			return 1;
		}
	}

	memset(req, 'q', sizeof(req));
	for (i = 0; i < requests; i++) {
		uint64_t t0 = now_ns(), dt;

		memcpy(req, &i, sizeof(i));
		rc = send_full(fd, req, sizeof(req), nonblocking);
		if (rc == 0)
			rc = read_response(fd, resp, nonblocking, &eagain);
		if (rc < 0) {
			fprintf(stderr, "latency_client: request %lu: %s\n", i, strerror(-rc));
			return 1;
		}
		dt = now_ns() - t0;
		by_10us[dt / 10000 < OWN_BUCKETS ? dt / 10000 : OWN_BUCKETS - 1]++;
		sum += dt;
		min = dt < min ? dt : min;
		max = dt > max ? dt : max;
	}
	close(fd);

	printf("done %lu\n", requests);
	fflush(stdout);
	fprintf(stderr, "latency_client: %lu requests, latency min %.3f ms p50 %.3f ms mean %.3f ms max %.3f ms, "
		"%llu EAGAIN receives\n",
		requests, (double)min / 1e6, (double)own_p50_ns(requests) / 1e6, (double)sum / 1e6 / (double)requests,
		(double)max / 1e6, (unsigned long long)eagain);
	return 0;
}

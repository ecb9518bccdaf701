/* SPDX-License-Identifier: Apache-2.0 */
/* Test workload: a loopback TCP server that answers each 64-byte request after exactly --delay-ms. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MSG_LEN 64

static volatile sig_atomic_t stop_requested;
static uint64_t delay_ns = 20ull * 1000 * 1000;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: latency_server --listen ADDR:PORT [--delay-ms N] [--max-seconds N]\n"
		   "  Answers each 64-byte request with a 64-byte response after N ms (default 20).\n"
		   "  PORT 0 picks a free port; \"listening PORT\" is printed on stdout.\n"
		   "  Exits on SIGTERM/SIGINT or after --max-seconds (default 120).\n");
}

/* Splits "a.b.c.d:port" (IPv4 only: the tests run on loopback). */
static int parse_listen(const char *text, struct sockaddr_in *sa)
{
	char host[64];
	const char *colon = strrchr(text, ':');
	char *end;
	unsigned long port;

	if (!colon || (size_t)(colon - text) >= sizeof(host) || colon == text)
		return -EINVAL;
	memcpy(host, text, (size_t)(colon - text));
	host[colon - text] = '\0';
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (errno || *end || end == colon + 1 || port > 65535)
		return -EINVAL;
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host, &sa->sin_addr) != 1)
		return -EINVAL;
	return 0;
}

static int read_full(int fd, unsigned char *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = recv(fd, buf + got, len - got, 0);

		if (n == 0)
			return got == 0 ? 0 : -EPIPE; /* clean close only between messages */
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		got += (size_t)n;
	}
	return 1;
}

static int write_full(int fd, const unsigned char *buf, size_t len)
{
	size_t put = 0;

	while (put < len) {
		ssize_t n = send(fd, buf + put, len - put, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		put += (size_t)n;
	}
	return 0;
}

/* Sleeps until an absolute CLOCK_MONOTONIC deadline, so EINTR cannot stretch it. */
static void sleep_until(const struct timespec *deadline)
{
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, deadline, NULL) == EINTR)
		;
}

static void *serve_connection(void *arg)
{
	int fd = (int)(intptr_t)arg;
	unsigned char buf[MSG_LEN];

	for (;;) {
		struct timespec deadline;
		int rc = read_full(fd, buf, sizeof(buf));

		if (rc <= 0)
			break;
		/* The delay is measured from the moment the whole request arrived. */
		clock_gettime(CLOCK_MONOTONIC, &deadline);
		deadline.tv_sec += (time_t)(delay_ns / 1000000000ull);
		deadline.tv_nsec += (long)(delay_ns % 1000000000ull);
		if (deadline.tv_nsec >= 1000000000L) {
			deadline.tv_sec++;
			deadline.tv_nsec -= 1000000000L;
		}
		sleep_until(&deadline);
		buf[0] ^= 0xff; /* a response differs from its request */
		if (write_full(fd, buf, sizeof(buf)) < 0)
			break;
	}
	close(fd);
	return NULL;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "delay-ms", required_argument, NULL, 'd' },
		{ "max-seconds", required_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *listen_at = NULL;
	unsigned long max_seconds = 120;
	struct sockaddr_in sa;
	socklen_t salen = sizeof(sa);
	struct sigaction act;
	struct timespec start, now;
	pthread_attr_t attr;
	int lfd, one = 1, c;
	char *end;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'l':
			listen_at = optarg;
			break;
		case 'd':
			errno = 0;
			delay_ns = strtoull(optarg, &end, 10) * 1000000ull;
			if (errno || *end || end == optarg || delay_ns > 3600ull * 1000000000ull) {
				fprintf(stderr, "latency_server: bad --delay-ms '%s'\n", optarg);
				return 2;
			}
			break;
		case 'm':
			errno = 0;
			max_seconds = strtoul(optarg, &end, 10);
			if (errno || *end || end == optarg || max_seconds == 0) {
				fprintf(stderr, "latency_server: bad --max-seconds '%s'\n", optarg);
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!listen_at || optind != argc) {
		usage(stderr);
		return 2;
	}
	if (parse_listen(listen_at, &sa) < 0) {
		fprintf(stderr, "latency_server: bad --listen '%s' (want IPv4:PORT)\n", listen_at);
		return 2;
	}

	memset(&act, 0, sizeof(act));
	act.sa_handler = on_signal; /* no SA_RESTART: poll() returns EINTR */
	sigemptyset(&act.sa_mask);
	sigaction(SIGTERM, &act, NULL);
	sigaction(SIGINT, &act, NULL);
	signal(SIGPIPE, SIG_IGN);

	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 64) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&sa, &salen) < 0) {
		fprintf(stderr, "latency_server: listen on %s: %s\n", listen_at, strerror(errno));
		return 1;
	}
	printf("listening %u\n", ntohs(sa.sin_port));
	fflush(stdout);

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	clock_gettime(CLOCK_MONOTONIC, &start);
	while (!stop_requested) {
		struct pollfd pfd = { .fd = lfd, .events = POLLIN };
		pthread_t tid;
		int fd, rc;

		clock_gettime(CLOCK_MONOTONIC, &now);
		if ((unsigned long)(now.tv_sec - start.tv_sec) >= max_seconds) {
			fprintf(stderr, "latency_server: --max-seconds %lu reached, exiting\n", max_seconds);
			break;
		}
		rc = poll(&pfd, 1, 200);
		if (rc <= 0)
			continue; /* timeout or EINTR: re-check the stop conditions */
		fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		rc = pthread_create(&tid, &attr, serve_connection, (void *)(intptr_t)fd);
		if (rc != 0) {
			fprintf(stderr, "latency_server: pthread_create: %s\n", strerror(rc));
			close(fd);
		}
	}
	pthread_attr_destroy(&attr);
	close(lfd);
	/* Connection threads are detached; exiting the process ends them. */
	return 0;
}

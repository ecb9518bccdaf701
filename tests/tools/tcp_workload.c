/* SPDX-License-Identifier: Apache-2.0 */
/* Test workload for the TCP probes: a loopback server and clients making known sends, connects and connections. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BUF_LEN 65536
#define REPLY_FACTOR 2 /* the server answers each connection with twice the bytes it received */

static unsigned char buf[BUF_LEN];

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Sleeps ms milliseconds, resuming after signals: the set length is the ground truth. */
static void sleep_ms(unsigned long ms)
{
	struct timespec req = { .tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000 };

	while (nanosleep(&req, &req) < 0 && errno == EINTR)
		;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: tcp_workload serve --listen ADDR:PORT [--hold-ms H] [--echo-after-ms E]\n"
		"       tcp_workload send --connect ADDR:PORT --count N --size S [--wait-go]\n"
		"       tcp_workload connect --connect ADDR:PORT --count N [--wait-go]\n"
		"       tcp_workload life --connect ADDR:PORT --count N --base B [--wait-go]\n"
		"       tcp_workload pingpong --connect ADDR:PORT --count N --size S [--wait-go]\n"
		"  serve: prints \"listening PORT\"; per connection sleeps H ms (default 0) after\n"
		"         accept(), reads to EOF, answers with %d times the bytes read, closes.\n"
		"         One connection at a time. With --echo-after-ms: sends a 1-byte greeting,\n"
		"         then answers each read with the same bytes E ms later, delaying its ACKs\n"
		"         (TCP_QUICKACK 0), so the peer's RTT samples are E ms and more.\n"
		"  send: one connection, exactly N send() calls of S bytes, then half-close and read to EOF.\n"
		"  connect: N connections, each closed right after connect() returns; prints \"done N\n"
		"        connects connect_ns/rtt_us C0/R0,C1/R1,...\": the time around each connect()\n"
		"        and the handshake's RTT the kernel measured (TCP_INFO, whole us).\n"
		"  life: N connections; connection i sends B+i bytes, half-closes, reads %d*(B+i);\n"
		"        prints \"done N connections lives_ns T0,T1,...\": connection i's time from\n"
		"        before connect() to after close() on CLOCK_MONOTONIC.\n"
		"  pingpong: one connection (to an --echo-after-ms server): reads the greeting, then\n"
		"        N rounds of one S-byte send and a read of the S-byte answer; prints \"done N\n"
		"        rounds connect_ns C srtt_us R rounds_ns T1,...\": the time around connect(),\n"
		"        the kernel's smoothed RTT at the end (TCP_INFO), each round's time.\n"
		"  --wait-go prints \"ready PID\" and waits for a line on stdin before the first connect.\n"
		"  Every mode prints \"done ...\" and is killed by SIGALRM after --timeout-seconds (60).\n",
		REPLY_FACTOR, REPLY_FACTOR);
}

static int parse_addr(const char *text, struct sockaddr_in *sa)
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
	if (errno || *end || end == colon + 1 || port > 65535)
		return -EINVAL;
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)port);
	return inet_pton(AF_INET, host, &sa->sin_addr) == 1 ? 0 : -EINVAL;
}

/* Writes len bytes with as many send() calls as needed; returns the number of calls or -errno. */
static long send_all(int fd, size_t len)
{
	long calls = 0;

	while (len > 0) {
		size_t chunk = len < BUF_LEN ? len : BUF_LEN;
		ssize_t n = send(fd, buf, chunk, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		calls++;
		len -= (size_t)n;
	}
	return calls;
}

/* Reads to EOF; returns the bytes read or -errno. */
static long long recv_all(int fd)
{
	long long total = 0;

	for (;;) {
		ssize_t n = recv(fd, buf, BUF_LEN, 0);

		if (n == 0)
			return total;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		total += n;
	}
}

/* Delayed ACKs from now on: the next request's ACK rides on the answer. */
static void delay_acks(int fd)
{
	int zero = 0;

	setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &zero, sizeof(zero));
}

/* Answers each read with the same bytes after echo_ms: the client's RTT samples are at least that. */
static void echo_after(int fd, unsigned long echo_ms)
{
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	delay_acks(fd);
	/* The client starts its rounds after this, so the first request already finds ACKs delayed. */
	if (send_all(fd, 1) < 0)
		return;
	for (;;) {
		ssize_t n = recv(fd, buf, BUF_LEN, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		sleep_ms(echo_ms);
		if (send_all(fd, (size_t)n) < 0)
			return;
		delay_acks(fd); /* again: a delayed-ACK timer that fired leaves that mode */
	}
}

static int serve(const struct sockaddr_in *sa, unsigned long hold_ms, unsigned long echo_ms)
{
	struct sockaddr_in bound;
	socklen_t blen = sizeof(bound);
	int lfd, one = 1;

	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(lfd, (const struct sockaddr *)sa, sizeof(*sa)) < 0 || listen(lfd, 256) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&bound, &blen) < 0) {
		fprintf(stderr, "tcp_workload: listen: %s\n", strerror(errno));
		return 1;
	}
	printf("listening %u\n", ntohs(bound.sin_port));
	fflush(stdout);
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		long long got;

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			fprintf(stderr, "tcp_workload: accept: %s\n", strerror(errno));
			return 1;
		}
		sleep_ms(hold_ms);
		if (echo_ms) {
			echo_after(fd, echo_ms);
			close(fd);
			continue;
		}
		got = recv_all(fd);
		if (got > 0 && send_all(fd, (size_t)got * REPLY_FACTOR) < 0)
			fprintf(stderr, "tcp_workload: reply: %s\n", strerror(errno));
		close(fd);
	}
}

static int connect_to(const struct sockaddr_in *sa)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

/* Reads exactly len bytes; returns 0, or -1 (error or early EOF). */
static int recv_exact(int fd, size_t len)
{
	while (len > 0) {
		ssize_t n = recv(fd, buf, len < BUF_LEN ? len : BUF_LEN, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		len -= (size_t)n;
	}
	return 0;
}

static int pingpong(const struct sockaddr_in *sa, unsigned long rounds, unsigned long size)
{
	struct tcp_info info;
	socklen_t ilen = sizeof(info);
	uint64_t t0 = now_ns(), connect_ns;
	int fd = connect_to(sa), one = 1;
	char *times, *at; /* each round's time, printed after the kernel's srtt at the end */

	connect_ns = now_ns() - t0;
	if (fd < 0) {
		fprintf(stderr, "tcp_workload: connect: %s\n", strerror(-fd));
		return 1;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (recv_exact(fd, 1) < 0) {
		fprintf(stderr, "tcp_workload: no greeting (is the server's --echo-after-ms set?)\n");
		close(fd);
		return 1;
	}
	times = at = malloc(rounds * 24 + 1);
	if (!times) {
		close(fd);
		return 1;
	}
	for (unsigned long i = 0; i < rounds; i++) {
		uint64_t start = now_ns();

		/* exactly one send() of size bytes: a short write is a test failure */
		if (send(fd, buf, size, MSG_NOSIGNAL) != (ssize_t)size || recv_exact(fd, size) < 0) {
			fprintf(stderr, "tcp_workload: round %lu: %s\n", i, strerror(errno));
			free(times);
			close(fd);
			return 1;
		}
		at += sprintf(at, "%s%llu", i ? "," : "", (unsigned long long)(now_ns() - start));
	}
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &ilen) < 0)
		info.tcpi_rtt = 0;
	close(fd);
	printf("done %lu rounds connect_ns %llu srtt_us %u rounds_ns %s\n", rounds, (unsigned long long)connect_ns,
	       info.tcpi_rtt, times);
	free(times);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "connect", required_argument, NULL, 'c' },
		{ "count", required_argument, NULL, 'n' },
		{ "size", required_argument, NULL, 's' },
		{ "base", required_argument, NULL, 'b' },
		{ "hold-ms", required_argument, NULL, 'H' },
		{ "echo-after-ms", required_argument, NULL, 'E' },
		{ "timeout-seconds", required_argument, NULL, 't' },
		{ "wait-go", no_argument, NULL, 'g' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *mode, *addr = NULL;
	unsigned long count = 0, size = 0, base = 0, hold_ms = 0, echo_ms = 0, timeout_s = 60;
	bool wait_go = false, sized;
	struct sockaddr_in sa;
	int c;

	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	mode = argv[1];
	optind = 2;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		unsigned long *dst = NULL;
		char *end;

		switch (c) {
		case 'l':
		case 'c':
			addr = optarg;
			break;
		case 'n':
			dst = &count;
			break;
		case 's':
			dst = &size;
			break;
		case 'b':
			dst = &base;
			break;
		case 'H':
			dst = &hold_ms;
			break;
		case 'E':
			dst = &echo_ms;
			break;
		case 't':
			dst = &timeout_s;
			break;
		case 'g':
			wait_go = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
		if (dst) {
			errno = 0;
			*dst = strtoul(optarg, &end, 10);
			if (errno || *end || end == optarg || *dst > 100000000ul) {
				fprintf(stderr, "tcp_workload: bad number '%s'\n", optarg);
				return 2;
			}
		}
	}
	if (!addr || optind != argc || parse_addr(addr, &sa) < 0) {
		fprintf(stderr, "tcp_workload: need a valid --listen/--connect IPv4:PORT\n");
		usage(stderr);
		return 2;
	}
	/* Never hang a test: the default SIGALRM action ends the process. */
	alarm((unsigned int)timeout_s);
	signal(SIGPIPE, SIG_IGN);
	memset(buf, 'x', sizeof(buf));

	if (strcmp(mode, "serve") == 0) {
		/* Holds end when asked, not up to the default 50 us of timer slack later. */
		prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
		return serve(&sa, hold_ms, echo_ms);
	}
	if (strcmp(mode, "send") && strcmp(mode, "connect") && strcmp(mode, "life") && strcmp(mode, "pingpong")) {
		fprintf(stderr, "tcp_workload: unknown mode '%s'\n", mode);
		return 2;
	}
	sized = strcmp(mode, "send") == 0 || strcmp(mode, "pingpong") == 0;
	if (count == 0 || (sized && (size == 0 || size > BUF_LEN))) {
		fprintf(stderr, "tcp_workload: %s needs --count > 0%s\n", mode, sized ? " and --size 1..65536" : "");
		return 2;
	}
	if (wait_go) {
		char line[64];

		printf("ready %ld\n", (long)getpid());
		fflush(stdout);
		if (!fgets(line, sizeof(line), stdin)) {
			fprintf(stderr, "tcp_workload: stdin closed before go\n");
			return 1;
		}
	}

	if (strcmp(mode, "send") == 0) {
		int fd = connect_to(&sa);
		long long back;

		if (fd < 0) {
			fprintf(stderr, "tcp_workload: connect %s: %s\n", addr, strerror(-fd));
			return 1;
		}
		for (unsigned long i = 0; i < count; i++) {
			/* exactly one send() per iteration: a short write is a test failure */
			ssize_t n = send(fd, buf, size, MSG_NOSIGNAL);

			if (n != (ssize_t)size) {
				fprintf(stderr, "tcp_workload: send %lu returned %zd (%s)\n", i, n,
					n < 0 ? strerror(errno) : "short");
				return 1;
			}
		}
		shutdown(fd, SHUT_WR);
		back = recv_all(fd);
		close(fd);
		printf("done %lu sends of %lu bytes, %lld bytes back\n", count, size, back);
	} else if (strcmp(mode, "pingpong") == 0) {
		return pingpong(&sa, count, size);
	} else if (strcmp(mode, "connect") == 0) {
		printf("done %lu connects connect_ns/rtt_us ", count);
		for (unsigned long i = 0; i < count; i++) {
			uint64_t start = now_ns(), took;
			int fd = connect_to(&sa);
			struct tcp_info info;
			socklen_t ilen = sizeof(info);

			took = now_ns() - start;
			if (fd < 0) {
				fprintf(stderr, "tcp_workload: connect %lu to %s: %s\n", i, addr, strerror(-fd));
				return 1;
			}
			/* The only RTT sample yet is the handshake's: srtt is that sample. */
			if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &ilen) < 0)
				info.tcpi_rtt = 0;
			close(fd);
			printf("%s%llu/%u", i ? "," : "", (unsigned long long)took, info.tcpi_rtt);
		}
		printf("\n");
	} else {
		printf("done %lu connections lives_ns ", count);
		for (unsigned long i = 0; i < count; i++) {
			uint64_t born = now_ns();
			int fd = connect_to(&sa);
			long sent;
			long long back;

			if (fd < 0) {
				fprintf(stderr, "tcp_workload: connect %lu to %s: %s\n", i, addr, strerror(-fd));
				return 1;
			}
			sent = send_all(fd, base + i);
			shutdown(fd, SHUT_WR);
			back = recv_all(fd);
			close(fd);
			printf("%s%llu", i ? "," : "", (unsigned long long)(now_ns() - born));
			if (sent < 0 || back != (long long)(base + i) * REPLY_FACTOR) {
				fprintf(stderr, "tcp_workload: connection %lu: sent %lu (%ld calls), got %lld back\n",
					i, base + i, sent, back);
				return 1;
			}
		}
		printf("\n");
	}
	fflush(stdout);
	return 0;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* tcp-latency on the real kernel: a loopback server with a known 20 ms service time is ground truth. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <limits.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "catalog.h"
#include "cgroup_identity.h"
#include "duration.h"
#include "hist.h"
#include "kernel_env.h"
#include "tcp_latency.h"

#define SKIP 77
#define MSG_SIZE 64
#define SERVICE_MS 20
#define PEEK_WAIT_MS 10
#define SPLIT_GAP_MS 5
#define NS_PER_MS 1000000ull
#define TOLERANCE 0.05 /* p50 within 5% of the ground truth */

enum client_mode {
	CLIENT_BLOCKING,  /* send, blocking read */
	CLIENT_NONBLOCK,  /* send, recv -> EAGAIN, poll, read */
	CLIENT_PEEK,      /* send, poll, MSG_PEEK, wait PEEK_WAIT_MS, read */
	CLIENT_SPLIT,     /* half a request, wait SPLIT_GAP_MS, the other half, read */
};

#define WORKLOAD_MAX_REQ 128

struct workload {
	int nreq;
	enum client_mode mode;
	int listen_fd;
	uint16_t port; /* the server's port, host order */
	int eagain;    /* receives that failed with EAGAIN (CLIENT_NONBLOCK) */
	int peeked;    /* MSG_PEEK receives that returned data (CLIENT_PEEK) */
	int server_requests;
	/* connected and accepted before the probe is opened: it sees no handshake */
	bool preconnected;
	int client_fd, server_fd;
	bool zero_backlog; /* listen(fd, 0): its children carry no backlog to tell them by */
	/* the client's own time per request, first send to last byte read (CLOCK_MONOTONIC):
	 * every sample the probe takes of it lies inside that */
	uint64_t round_ns[WORKLOAD_MAX_REQ];
	int nrounds;
};

static int failures;

#define CHECK(cond, ...)                                                  \
	do {                                                              \
		if (!(cond)) {                                            \
			fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__,     \
				__LINE__, #cond);                         \
			fprintf(stderr, __VA_ARGS__);                     \
			fputc('\n', stderr);                              \
			failures++;                                       \
		}                                                         \
	} while (0)

/*
 * How much longer than asked the workload's sleeps took, as it measured them: the
 * ground truth is "at least the sleep", and a slow machine (a TCG guest wakes a 20 ms
 * sleeper after 20.9 ms) adds its overshoot, which the checks allow for by the median.
 */
static pthread_mutex_t overshoot_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t overshoot_ns[1024];
static size_t n_overshoot;

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	uint64_t t0 = clock_ns(CLOCK_MONOTONIC), over;

	/* Relative sleeps resume with the remaining time after a signal. */
	while (clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, &ts) == EINTR)
		;
	over = clock_ns(CLOCK_MONOTONIC) - t0 - (uint64_t)ms * 1000000ull;
	pthread_mutex_lock(&overshoot_lock);
	overshoot_ns[n_overshoot++ % (sizeof(overshoot_ns) / sizeof(overshoot_ns[0]))] = over;
	pthread_mutex_unlock(&overshoot_lock);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The median overshoot of the sleeps so far (0 before any). */
static double sleep_overshoot_ns(void)
{
	uint64_t copy[sizeof(overshoot_ns) / sizeof(overshoot_ns[0])];
	size_t n;

	pthread_mutex_lock(&overshoot_lock);
	n = n_overshoot < sizeof(copy) / sizeof(copy[0]) ? n_overshoot : sizeof(copy) / sizeof(copy[0]);
	memcpy(copy, overshoot_ns, n * sizeof(copy[0]));
	pthread_mutex_unlock(&overshoot_lock);
	if (!n)
		return 0;
	qsort(copy, n, sizeof(copy[0]), cmp_u64);
	return (double)copy[n / 2];
}

/* Waits for fd to be readable, at most 5 s so a broken test cannot hang. */
static int wait_readable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int n;

	do
		n = poll(&p, 1, 5000);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return n == 0 ? -ETIMEDOUT : 0;
}

/* Reads exactly len bytes (or EOF: returns 0), polling when fd is non-blocking. */
static ssize_t read_full(int fd, char *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = recv(fd, buf + got, len - got, 0);

		if (n == 0)
			return 0;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				int err = wait_readable(fd);

				if (err)
					return err;
				continue;
			}
			return -errno;
		}
		got += (size_t)n;
	}
	return (ssize_t)got;
}

static int write_full(int fd, const char *buf, size_t len)
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

static void set_socket_options(int fd)
{
	struct timeval tv = { 5, 0 };
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/* Accepts one connection and answers each request exactly SERVICE_MS after reading it. */
static void *server_main(void *arg)
{
	struct workload *w = arg;
	char buf[MSG_SIZE];
	int fd;

	fd = w->preconnected ? w->server_fd : accept(w->listen_fd, NULL, NULL);
	if (fd < 0) {
		perror("accept");
		return NULL;
	}
	set_socket_options(fd);
	for (;;) {
		if (read_full(fd, buf, sizeof(buf)) <= 0)
			break;
		sleep_ms(SERVICE_MS);
		if (write_full(fd, buf, sizeof(buf)) != 0)
			break;
		w->server_requests++;
	}
	close(fd);
	return NULL;
}

static int client_run(struct workload *w)
{
	struct sockaddr_in addr = { .sin_family = AF_INET };
	char req[MSG_SIZE], resp[MSG_SIZE];
	int fd, err = 0;

	memset(req, 'q', sizeof(req));
	fd = w->preconnected ? w->client_fd : socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return -errno;
	set_socket_options(fd);
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	addr.sin_port = htons(w->port);
	if (!w->preconnected && connect(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
		err = -errno;
		perror("connect");
		goto cleanup;
	}
	if (w->mode == CLIENT_NONBLOCK &&
	    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0) {
		err = -errno;
		goto cleanup;
	}
	for (int i = 0; i < w->nreq; i++) {
		uint64_t round_start = clock_ns(CLOCK_MONOTONIC);

		if (w->mode == CLIENT_SPLIT) {
			/* Only the first send of a request may start the sample. */
			err = write_full(fd, req, sizeof(req) / 2);
			if (err)
				goto cleanup;
			sleep_ms(SPLIT_GAP_MS);
			err = write_full(fd, req + sizeof(req) / 2, sizeof(req) / 2);
		} else {
			err = write_full(fd, req, sizeof(req));
		}
		if (err)
			goto cleanup;
		if (w->mode == CLIENT_NONBLOCK) {
			/* The response is 20 ms away: this fails, as under epoll. */
			if (recv(fd, resp, sizeof(resp), 0) < 0 &&
			    (errno == EAGAIN || errno == EWOULDBLOCK))
				w->eagain++;
			err = wait_readable(fd);
			if (err)
				goto cleanup;
		} else if (w->mode == CLIENT_PEEK) {
			err = wait_readable(fd);
			if (err)
				goto cleanup;
			if (recv(fd, resp, sizeof(resp), MSG_PEEK) > 0)
				w->peeked++;
			/* A peek that ended the sample would make it PEEK_WAIT_MS shorter. */
			sleep_ms(PEEK_WAIT_MS);
		}
		ssize_t n = read_full(fd, resp, sizeof(resp));
		if (n != (ssize_t)sizeof(resp)) {
			err = n < 0 ? (int)n : -EPIPE;
			goto cleanup;
		}
		if (w->nrounds < WORKLOAD_MAX_REQ)
			w->round_ns[w->nrounds++] = clock_ns(CLOCK_MONOTONIC) - round_start;
	}
cleanup:
	close(fd);
	return err;
}

/* Binds the server's listener first, so a test can filter on its port. */
static int workload_listen(struct workload *w)
{
	struct sockaddr_in addr = { .sin_family = AF_INET };
	socklen_t alen = sizeof(addr);
	int err;

	w->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
	if (w->listen_fd < 0)
		return -errno;
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(w->listen_fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 ||
	    listen(w->listen_fd, w->zero_backlog ? 0 : 4) != 0 ||
	    getsockname(w->listen_fd, (struct sockaddr *)&addr, &alen) != 0) {
		err = -errno;
		close(w->listen_fd);
		w->listen_fd = -1;
		return err;
	}
	w->port = ntohs(addr.sin_port);
	return 0;
}

/* Runs nreq request/response pairs over one loopback connection; closes the listener. */
static int workload_run(struct workload *w)
{
	pthread_t server;
	int err;

	err = pthread_create(&server, NULL, server_main, w);
	if (err)
		goto cleanup;
	err = client_run(w);
	if (err) {
		/* Unblock accept() if the client never connected. */
		shutdown(w->listen_fd, SHUT_RDWR);
	}
	pthread_join(server, NULL);
cleanup:
	close(w->listen_fd);
	w->listen_fd = -1;
	return err > 0 ? -err : err;
}

/* Listens, connects and accepts now: the probe opened later sees none of it. */
static int workload_preconnect(struct workload *w)
{
	struct sockaddr_in addr = { .sin_family = AF_INET };
	int err = workload_listen(w);

	if (err)
		return err;
	w->client_fd = socket(AF_INET, SOCK_STREAM, 0);
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	addr.sin_port = htons(w->port);
	if (w->client_fd < 0 || connect(w->client_fd, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
		err = -errno;
		goto fail;
	}
	w->server_fd = accept(w->listen_fd, NULL, NULL);
	if (w->server_fd < 0) {
		err = -errno;
		goto fail;
	}
	w->preconnected = true;
	return 0;
fail:
	if (w->client_fd >= 0)
		close(w->client_fd);
	close(w->listen_fd);
	w->listen_fd = -1;
	return err;
}

static void print_series(const char *what, const char *label, const struct hist *h)
{
	printf("  %-28s %-12s count=%llu p1=%.3fms p50=%.3fms p99=%.3fms mean=%.3fms max=%.3fms\n",
	       what, label, (unsigned long long)h->count,
	       hist_percentile(h, 1) / 1e6, hist_percentile(h, 50) / 1e6,
	       hist_percentile(h, 99) / 1e6,
	       h->count ? (double)h->sum / (double)h->count / 1e6 : 0.0, h->max / 1e6);
}

/* Opens the probe, runs the workload, reads both series into out, closes the probe. */
static int measure(const struct probe_params *params, struct workload *w, struct hist *out,
		   const char *what)
{
	static const char *const labels[TCP_LATENCY_NSERIES] = {
		[TCP_LATENCY_CLIENT] = "role=client",
		[TCP_LATENCY_SERVER] = "role=server",
	};
	const struct probe_desc *p = &probe_tcp_latency;
	struct hist_set window;
	char err[256] = "";
	void *state = NULL;
	int rc;

	hist_set_init(&window);
	if (w->listen_fd < 0) {
		rc = workload_listen(w);
		if (rc) {
			fprintf(stderr, "FAIL %s: listen: %s\n", what, strerror(-rc));
			failures++;
			return rc;
		}
	}
	rc = catalog_open(p, params, &state, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "FAIL %s: open: %s\n", what, err);
		failures++;
		close(w->listen_fd);
		w->listen_fd = -1;
		return rc;
	}
	rc = workload_run(w);
	if (rc) {
		fprintf(stderr, "FAIL %s: workload: %s\n", what, strerror(-rc));
		failures++;
		goto cleanup;
	}
	rc = p->read_hist(state, &window);
	if (rc) {
		fprintf(stderr, "FAIL %s: read: %s\n", what, strerror(-rc));
		failures++;
		goto cleanup;
	}
	for (size_t i = 0; i < TCP_LATENCY_NSERIES; i++) {
		const struct hist *h = hist_set_find(&window, labels[i]);

		if (!h) {
			fprintf(stderr, "FAIL %s: no series %s\n", what, labels[i]);
			failures++;
			rc = -ENOENT;
			goto cleanup;
		}
		out[i] = *h;
		print_series(what, labels[i], &out[i]);
	}
cleanup:
	hist_set_free(&window);
	catalog_close(&state);
	return rc;
}

/* The median of the client's own request times (0 when it recorded none). */
static double own_median_ns(const struct workload *w)
{
	uint64_t copy[WORKLOAD_MAX_REQ];

	if (!w->nrounds)
		return 0;
	memcpy(copy, w->round_ns, (size_t)w->nrounds * sizeof(copy[0]));
	qsort(copy, (size_t)w->nrounds, sizeof(copy[0]), cmp_u64);
	return (double)copy[w->nrounds / 2];
}

/* At least target_ns less TOLERANCE (the sleeps set it), and at most target_ns plus
 * TOLERANCE and the overshoot of the (at most two) sleeps a sample spans, or the client's
 * own median request time plus TOLERANCE when that is longer: each sample lies inside a
 * request as the client timed it (an emulated guest's loopback adds milliseconds). */
static bool near(uint64_t value, double target_ns, double own_ns)
{
	double upper = target_ns * (1 + TOLERANCE) + 2 * sleep_overshoot_ns();

	if (own_ns * (1 + TOLERANCE) > upper)
		upper = own_ns * (1 + TOLERANCE);
	return value >= target_ns * (1 - TOLERANCE) && value <= upper;
}

/* Both views saw every request, at the ground-truth latency, with no short samples. */
static void check_views(const char *what, const struct hist *h, const struct workload *w, double client_ns,
			double server_ns)
{
	const struct hist *c = &h[TCP_LATENCY_CLIENT], *s = &h[TCP_LATENCY_SERVER];
	double own_ns = own_median_ns(w);
	int nreq = w->nreq;

	CHECK(c->count == (uint64_t)nreq, "%s: client count %llu, want %d", what,
	      (unsigned long long)c->count, nreq);
	CHECK(near(hist_percentile(c, 50), client_ns, own_ns),
	      "%s: client p50 %.3f ms, want %.1f ms (the client's own median %.3f ms)", what,
	      hist_percentile(c, 50) / 1e6, client_ns / 1e6, own_ns / 1e6);
	/* A receive that wrongly ended a sample shows up as a microsecond sample. */
	CHECK(hist_percentile(c, 1) >= client_ns * (1 - TOLERANCE),
	      "%s: client p1 %.3f ms, samples shorter than %.1f ms", what,
	      hist_percentile(c, 1) / 1e6, client_ns / 1e6);
	CHECK(s->count == (uint64_t)nreq, "%s: server count %llu, want %d", what,
	      (unsigned long long)s->count, nreq);
	CHECK(near(hist_percentile(s, 50), server_ns, own_ns),
	      "%s: server p50 %.3f ms, want %.1f ms (the client's own median %.3f ms)", what,
	      hist_percentile(s, 50) / 1e6, server_ns / 1e6, own_ns / 1e6);
	CHECK(hist_percentile(s, 1) >= server_ns * (1 - TOLERANCE),
	      "%s: server p1 %.3f ms, samples shorter than %.1f ms", what,
	      hist_percentile(s, 1) / 1e6, server_ns / 1e6);
}

static struct hist result[TCP_LATENCY_NSERIES];

static void test_blocking(void)
{
	struct probe_params params = { .pid = (uint32_t)getpid() };
	struct workload w = { .nreq = 100, .mode = CLIENT_BLOCKING, .listen_fd = -1 };

	if (measure(&params, &w, result, "blocking, pid=self") == 0)
		check_views("blocking", result, &w, SERVICE_MS * NS_PER_MS,
			    SERVICE_MS * NS_PER_MS);
}

static void test_nonblocking_eagain(void)
{
	struct probe_params params = { .pid = (uint32_t)getpid() };
	struct workload w = { .nreq = 50, .mode = CLIENT_NONBLOCK, .listen_fd = -1 };

	if (measure(&params, &w, result, "nonblocking EAGAIN") != 0)
		return;
	CHECK(w.eagain == w.nreq, "the workload hit EAGAIN %d times, want %d", w.eagain, w.nreq);
	check_views("nonblocking EAGAIN", result, &w, SERVICE_MS * NS_PER_MS,
		    SERVICE_MS * NS_PER_MS);
}

static void test_peek(void)
{
	struct probe_params params = { .pid = (uint32_t)getpid() };
	struct workload w = { .nreq = 50, .mode = CLIENT_PEEK, .listen_fd = -1 };

	if (measure(&params, &w, result, "MSG_PEEK then read") != 0)
		return;
	CHECK(w.peeked == w.nreq, "the workload peeked %d times, want %d", w.peeked, w.nreq);
	/* The sample ends at the real read, PEEK_WAIT_MS after the peek saw the data. */
	check_views("MSG_PEEK", result, &w, (SERVICE_MS + PEEK_WAIT_MS) * NS_PER_MS,
		    SERVICE_MS * NS_PER_MS);
}

static void test_split_request(void)
{
	struct probe_params params = { .pid = (uint32_t)getpid() };
	struct workload w = { .nreq = 30, .mode = CLIENT_SPLIT, .listen_fd = -1 };
	double want = (SERVICE_MS + SPLIT_GAP_MS) * NS_PER_MS;

	/* Both views start at the first half: the client's first send, the server's
	 * first receive (it waits for the second half before its 20 ms). */
	if (measure(&params, &w, result, "request in two sends") == 0)
		check_views("split request", result, &w, want, want);
}

/* Sockets older than the probe: their side comes from the socket itself. */
static void test_preconnected(void)
{
	struct probe_params params = { .pid = (uint32_t)getpid() };
	struct workload w = { .nreq = 30, .mode = CLIENT_BLOCKING, .listen_fd = -1 };
	struct workload zero = { .nreq = 30, .mode = CLIENT_BLOCKING, .listen_fd = -1, .zero_backlog = true };
	int rc = workload_preconnect(&w);

	CHECK(rc == 0, "connecting before the probe: %s", strerror(-rc));
	if (rc == 0 && measure(&params, &w, result, "connected before the probe") == 0)
		check_views("connected before the probe", result, &w, SERVICE_MS * NS_PER_MS,
			    SERVICE_MS * NS_PER_MS);

	/* A child of listen(fd, 0) looks like neither side: left out, never called a client. */
	rc = workload_preconnect(&zero);
	CHECK(rc == 0, "connecting before the probe (backlog 0): %s", strerror(-rc));
	if (rc != 0 || measure(&params, &zero, result, "accepted by listen(fd, 0)") != 0)
		return;
	CHECK(result[TCP_LATENCY_CLIENT].count == (uint64_t)zero.nreq, "backlog 0: client count %llu, want %d",
	      (unsigned long long)result[TCP_LATENCY_CLIENT].count, zero.nreq);
	CHECK(result[TCP_LATENCY_SERVER].count == 0, "backlog 0: server count %llu, want 0 (side unknown)",
	      (unsigned long long)result[TCP_LATENCY_SERVER].count);
}

static void test_port_filter(void)
{
	struct probe_params params = { .pid = (uint32_t)getpid() };
	struct workload match = { .nreq = 20, .mode = CLIENT_BLOCKING, .listen_fd = -1 };
	struct workload other = { .nreq = 20, .mode = CLIENT_BLOCKING, .listen_fd = -1 };
	struct workload reserved = { .listen_fd = -1 };
	char what[64];
	int rc;

	/* The server's port matches both views: local port on the accepted socket,
	 * remote port on the client's. */
	rc = workload_listen(&match);
	if (rc) {
		fprintf(stderr, "FAIL port filter: listen: %s\n", strerror(-rc));
		failures++;
		return;
	}
	params.port = match.port;
	snprintf(what, sizeof(what), "pid=self, port=%u", params.port);
	if (measure(&params, &match, result, what) == 0)
		check_views(what, result, &match, SERVICE_MS * NS_PER_MS,
			    SERVICE_MS * NS_PER_MS);

	/* A port held by an idle listener of ours is never the workload's. */
	rc = workload_listen(&reserved);
	if (rc) {
		fprintf(stderr, "FAIL port filter: listen: %s\n", strerror(-rc));
		failures++;
		return;
	}
	params.port = reserved.port;
	snprintf(what, sizeof(what), "pid=self, port=%u (idle)", params.port);
	if (measure(&params, &other, result, what) == 0) {
		CHECK(result[TCP_LATENCY_CLIENT].count == 0, "%s: client count %llu, want 0", what,
		      (unsigned long long)result[TCP_LATENCY_CLIENT].count);
		CHECK(result[TCP_LATENCY_SERVER].count == 0, "%s: server count %llu, want 0", what,
		      (unsigned long long)result[TCP_LATENCY_SERVER].count);
	}
	close(reserved.listen_fd);
}

static void test_comm_filter(void)
{
	struct probe_params params = { .pid = (uint32_t)getpid(), .comm = "tcplat-test" };
	struct workload match = { .nreq = 10, .mode = CLIENT_BLOCKING, .listen_fd = -1 };
	struct workload other = { .nreq = 10, .mode = CLIENT_BLOCKING, .listen_fd = -1 };
	char what[64];

	/* The server thread is created after this and inherits the name. */
	if (prctl(PR_SET_NAME, params.comm) != 0) {
		fprintf(stderr, "FAIL comm filter: naming ourselves: %s\n", strerror(errno));
		failures++;
		return;
	}
	snprintf(what, sizeof(what), "pid=self, comm=%s", params.comm);
	if (measure(&params, &match, result, what) == 0)
		check_views(what, result, &match, SERVICE_MS * NS_PER_MS,
			    SERVICE_MS * NS_PER_MS);

	/* A prefix of our comm must not match: the filter is on the whole name. */
	params.comm[strlen(params.comm) - 1] = '\0';
	snprintf(what, sizeof(what), "pid=self, comm=%s", params.comm);
	if (measure(&params, &other, result, what) == 0) {
		CHECK(result[TCP_LATENCY_CLIENT].count == 0, "%s: client count %llu, want 0", what,
		      (unsigned long long)result[TCP_LATENCY_CLIENT].count);
		CHECK(result[TCP_LATENCY_SERVER].count == 0, "%s: server count %llu, want 0", what,
		      (unsigned long long)result[TCP_LATENCY_SERVER].count);
	}
}

static void test_pid_filter(void)
{
	struct probe_params params = { 0 };
	struct workload w = { .nreq = 20, .mode = CLIENT_BLOCKING, .listen_fd = -1 };
	pid_t child;

	/* A live process that does no TCP: nothing of ours may pass its filter. */
	child = fork();
	if (child < 0) {
		perror("fork");
		failures++;
		return;
	}
	if (child == 0) {
		pause();
		_exit(0);
	}
	params.pid = (uint32_t)child;
	if (measure(&params, &w, result, "pid=idle child") == 0) {
		CHECK(result[TCP_LATENCY_CLIENT].count == 0, "pid filter: client count %llu, want 0",
		      (unsigned long long)result[TCP_LATENCY_CLIENT].count);
		CHECK(result[TCP_LATENCY_SERVER].count == 0, "pid filter: server count %llu, want 0",
		      (unsigned long long)result[TCP_LATENCY_SERVER].count);
	}
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
}

/* Writes pid into a cgroup's cgroup.procs (all its threads move): 0 or -errno. */
static int cgroup_enter(const char *dir, pid_t pid)
{
	char path[PATH_MAX];
	FILE *f;
	int rc = 0;

	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	f = fopen(path, "w");
	if (!f)
		return -errno;
	if (fprintf(f, "%d", (int)pid) < 0)
		rc = -EIO;
	if (fclose(f) != 0 && !rc)
		rc = -errno;
	return rc;
}

/* Whether snprintf's result n fit a buffer of size bytes. */
static bool path_fits(size_t size, int n)
{
	return n >= 0 && (size_t)n < size;
}

/* This process's cgroup v2 path below the mount ("0::/a/b" in /proc/self/cgroup). */
static int own_cgroup(char *out, size_t len)
{
	char line[PATH_MAX + 8];
	FILE *f = fopen("/proc/self/cgroup", "r");
	int rc = -ENOENT;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "0::", 3) == 0) {
			int n;

			line[strcspn(line, "\n")] = '\0';
			n = snprintf(out, len, "%s", line + 3);
			rc = n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
			break;
		}
	}
	fclose(f);
	return rc;
}

/*
 * The cgroup filter (--cgroup, --container, --pod, --service) in the kernel: this process
 * (client and server threads) moves into a child of a fresh cgroup v2 directory. That
 * directory's filter sees every request (descendants count); an empty sibling's sees none.
 */
static void test_cgroup_filter(void)
{
	struct probe_params params = { .pid = (uint32_t)getpid() };
	struct workload match = { .nreq = 15, .mode = CLIENT_BLOCKING, .listen_fd = -1 };
	struct workload other = { .nreq = 15, .mode = CLIENT_BLOCKING, .listen_fd = -1 };
	const char *root = cgroup2_root();
	char top[PATH_MAX], inner[PATH_MAX], sibling[PATH_MAX], home[PATH_MAX], back[PATH_MAX], err[256] = "";
	bool moved = false;
	int rc;

	if (!root) {
		printf("SKIP cgroup filter: cgroup v2 is not mounted\n");
		return;
	}
	rc = own_cgroup(home, sizeof(home));
	if (rc) {
		printf("SKIP cgroup filter: no cgroup v2 line in /proc/self/cgroup: %s\n", strerror(-rc));
		return;
	}
	if (!path_fits(sizeof(top), snprintf(top, sizeof(top), "%s/tracectl-tcplat-%d", root, (int)getpid())) ||
	    !path_fits(sizeof(inner), snprintf(inner, sizeof(inner), "%s/in", top)) ||
	    !path_fits(sizeof(sibling),
		       snprintf(sibling, sizeof(sibling), "%s/tracectl-tcplat-%d-empty", root, (int)getpid())) ||
	    !path_fits(sizeof(back),
		       snprintf(back, sizeof(back), "%s%s", root, strcmp(home, "/") == 0 ? "" : home))) {
		printf("SKIP cgroup filter: cgroup paths longer than PATH_MAX under %s\n", root);
		return;
	}
	if (mkdir(top, 0755) || mkdir(inner, 0755) || mkdir(sibling, 0755) || (rc = cgroup_enter(inner, getpid()))) {
		fprintf(stderr, "FAIL cgroup filter: making %s/in and %s: %s\n", top, sibling,
			strerror(rc ? -rc : errno));
		failures++;
		goto cleanup;
	}
	moved = true;
	rc = cgroup_filter_resolve(CGROUP_WORKLOAD_PATH, top + strlen(root), &params.cgroups[0], err, sizeof(err));
	CHECK(rc == 0, "cgroup filter: %s", err);
	if (rc == 0 && measure(&params, &match, result, "pid=self, cgroup=parent of ours") == 0)
		check_views("cgroup=parent of ours", result, &match, SERVICE_MS * NS_PER_MS, SERVICE_MS * NS_PER_MS);
	rc = cgroup_filter_resolve(CGROUP_WORKLOAD_PATH, sibling + strlen(root), &params.cgroups[0], err, sizeof(err));
	CHECK(rc == 0, "cgroup filter: %s", err);
	if (rc == 0 && measure(&params, &other, result, "pid=self, cgroup=an empty sibling") == 0) {
		CHECK(result[TCP_LATENCY_CLIENT].count == 0, "empty cgroup: client count %llu, want 0",
		      (unsigned long long)result[TCP_LATENCY_CLIENT].count);
		CHECK(result[TCP_LATENCY_SERVER].count == 0, "empty cgroup: server count %llu, want 0",
		      (unsigned long long)result[TCP_LATENCY_SERVER].count);
	}
cleanup:
	if (moved && (rc = cgroup_enter(back, getpid()))) {
		fprintf(stderr, "FAIL cgroup filter: moving back to %s: %s\n", back, strerror(-rc));
		failures++;
	}
	rmdir(inner);
	rmdir(top);
	rmdir(sibling);
}

int main(void)
{
	char reason[256] = "";
	int rc;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (geteuid() != 0) {
		printf("SKIP: tcp-latency needs root to load BPF programs\n");
		return SKIP;
	}
	rc = kernel_env_prepare(reason, sizeof(reason));
	if (rc) {
		printf("SKIP: preparing the kernel environment: %s\n", reason);
		return SKIP;
	}
	rc = catalog_supported(&probe_tcp_latency, reason, sizeof(reason));
	if (rc) {
		/* "unsupported:" is what the kernel matrix reports as such (tests/vm) */
		printf("SKIP: unsupported: tcp-latency is not supported on this kernel (%s): %s\n",
		       kernel_env_release(), reason);
		return SKIP;
	}
	printf("kernel %s, ground truth: service time %d ms\n", kernel_env_release(), SERVICE_MS);

	test_blocking();
	test_nonblocking_eagain();
	test_peek();
	test_split_request();
	test_preconnected();
	test_port_filter();
	test_comm_filter();
	test_pid_filter();
	test_cgroup_filter();

	if (failures) {
		printf("%d check(s) failed\n", failures);
		return 1;
	}
	printf("all checks passed\n");
	return 0;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* Workload: 1-byte TCP request/response on loopback over N connections, prints transactions per second. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench_common.h"

#define MAX_CONNS 64

static atomic_int stop;
static unsigned long long counts[MAX_CONNS];

static void nodelay(int fd)
{
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* Server side of one connection: answer each byte with a byte until EOF. */
static void *serve(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char c;

	while (recv(fd, &c, 1, 0) == 1)
		if (send(fd, &c, 1, 0) != 1)
			break;
	close(fd);
	return NULL;
}

struct client {
	int fd;
	unsigned long long *count;
};

static void *run_client(void *arg)
{
	struct client *cl = arg;
	char c = 'x';

	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		if (send(cl->fd, &c, 1, 0) != 1 || recv(cl->fd, &c, 1, 0) != 1) {
			perror("request/response");
			break;
		}
		(*cl->count)++;
	}
	shutdown(cl->fd, SHUT_WR);
	return NULL;
}

int main(int argc, char **argv)
{
	double secs = bench_duration(argc, argv, "bench-tcp-rr [SECONDS] [CONNECTIONS]");
	int nconns = argc > 2 ? atoi(argv[2]) : 4;
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(addr);
	pthread_t servers[MAX_CONNS], clients[MAX_CONNS];
	struct client cls[MAX_CONNS];
	unsigned long long total = 0;
	int lfd, one = 1;
	double t0, t;

	if (nconns < 1 || nconns > MAX_CONNS) {
		fprintf(stderr, "bench-tcp-rr: 1..%d connections\n", MAX_CONNS);
		return 2;
	}
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) || listen(lfd, MAX_CONNS) ||
	    getsockname(lfd, (struct sockaddr *)&addr, &alen)) {
		perror("listen on loopback");
		return 1;
	}
	for (int i = 0; i < nconns; i++) {
		int cfd = socket(AF_INET, SOCK_STREAM, 0), sfd;

		if (cfd < 0 || connect(cfd, (struct sockaddr *)&addr, sizeof(addr))) {
			perror("connect");
			return 1;
		}
		sfd = accept(lfd, NULL, NULL);
		if (sfd < 0) {
			perror("accept");
			return 1;
		}
		nodelay(cfd);
		nodelay(sfd);
		pthread_create(&servers[i], NULL, serve, (void *)(intptr_t)sfd);
		cls[i] = (struct client){ .fd = cfd, .count = &counts[i] };
	}
	t0 = bench_now();
	for (int i = 0; i < nconns; i++)
		pthread_create(&clients[i], NULL, run_client, &cls[i]);
	struct timespec ts = { (time_t)secs, (long)((secs - (double)(time_t)secs) * 1e9) };
	nanosleep(&ts, NULL);
	atomic_store(&stop, 1);
	t = bench_now();
	for (int i = 0; i < nconns; i++) {
		pthread_join(clients[i], NULL);
		total += counts[i];
	}
	for (int i = 0; i < nconns; i++) {
		pthread_join(servers[i], NULL);
		close(cls[i].fd);
	}
	close(lfd);
	bench_report("tcp_rr", total, t - t0);
	return 0;
}

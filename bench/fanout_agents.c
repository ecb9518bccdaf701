/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench-fanout-agents: many virtual agents in one process, for bench/fanout.py. Each listens
 * on its own loopback port (base, base+1, ...) and speaks the real protocol through common/:
 * mutual TLS 1.3, frames, Hello, Attach, then a recording's windows replayed on the client's
 * window boundaries (each send late by a random per-host jitter, as real agents' ticks are),
 * the recording's summary and a Status at the end of the duration or on cancel. No BPF: what
 * is measured is the controller, not the agents.
 *
 * usage: bench-fanout-agents --ca CA --cert CERT --key KEY --recording FILE --port-base P
 *                            --count N [--jitter-ms J] [--seed S]
 * Prints "ready N" on stdout once every port listens; runs until SIGTERM or SIGINT.
 */
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/resource.h>
#include <time.h>

#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "duration.h"
#include "recording.h"
#include "rpc.h"
#include "tls.h"

/* The windows of one recorded host, replayed in a loop. */
struct replay_host {
	Tracectl__Response **windows;
	size_t n, cap;
};

struct replay {
	const char *probe;
	Tracectl__Response *attached; /* the first Attached: hook, provenance, kind */
	Tracectl__Response *summary;  /* the first summary snapshot, or NULL */
	struct replay_host *hosts;
	size_t nhosts;
	struct recording_reader *reader;
};

struct gen {
	struct event_base *base;
	SSL_CTX *tls;
	struct replay rp;
	uint64_t jitter_ns;
	uint64_t next_session_id;
	LIST_HEAD(, vconn) conns; /* freed at exit */
};

struct vagent {
	struct gen *g;
	size_t index;
	struct evconnlistener *listener;
};

struct vconn {
	LIST_ENTRY(vconn) link;
	struct vagent *va;
	struct bufferevent *bev;
	/* one Attach at a time, all the CLI asks of a host */
	bool attached;
	uint32_t stream_id;
	uint64_t interval_ns, phase_ns, duration_ns;
	uint64_t start_mono_ns, start_unix_ns, window_start_ns, seq;
	size_t next_window;
	struct event *tick;
};

static struct evbuffer *vconn_out(struct vconn *c)
{
	return bufferevent_get_output(c->bev);
}

static void vconn_free(struct vconn *c)
{
	LIST_REMOVE(c, link);
	if (c->tick)
		event_free(c->tick);
	if (c->bev)
		bufferevent_free(c->bev);
	free(c);
}

static int replay_load(struct replay *rp, const char *path)
{
	const Tracectl__RecordHeader *hdr;
	Tracectl__Response *resp;
	uint32_t host;
	char err[512];
	int ret;

	if (recording_reader_open(&rp->reader, path, &hdr, err, sizeof(err))) {
		fprintf(stderr, "bench-fanout-agents: %s\n", err);
		return -1;
	}
	rp->probe = hdr->probe;
	rp->nhosts = hdr->n_hosts;
	rp->hosts = calloc(rp->nhosts ? rp->nhosts : 1, sizeof(*rp->hosts));
	if (!rp->hosts)
		return -1;
	while ((ret = recording_next(rp->reader, &host, &resp, err, sizeof(err))) == 1) {
		struct replay_host *h = &rp->hosts[host];
		bool kept = false;

		if (resp->result_case == TRACECTL__RESPONSE__RESULT_ATTACHED && !rp->attached) {
			rp->attached = resp;
			kept = true;
		} else if (resp->result_case == TRACECTL__RESPONSE__RESULT_SNAPSHOT && resp->snapshot->summary) {
			if (!rp->summary) {
				rp->summary = resp;
				kept = true;
			}
		} else if (resp->result_case == TRACECTL__RESPONSE__RESULT_SNAPSHOT) {
			if (h->n == h->cap) {
				size_t cap = h->cap ? h->cap * 2 : 16;
				Tracectl__Response **w = realloc(h->windows, cap * sizeof(*w));

				if (!w) {
					protobuf_c_message_free_unpacked(&resp->base, NULL);
					return -1;
				}
				h->windows = w;
				h->cap = cap;
			}
			h->windows[h->n++] = resp;
			kept = true;
		}
		if (!kept)
			protobuf_c_message_free_unpacked(&resp->base, NULL);
	}
	if (ret < 0) {
		fprintf(stderr, "bench-fanout-agents: %s\n", err);
		return -1;
	}
	/* only hosts with windows are replayed */
	for (size_t i = 0; i < rp->nhosts;) {
		if (rp->hosts[i].n) {
			i++;
			continue;
		}
		rp->hosts[i] = rp->hosts[--rp->nhosts];
	}
	if (!rp->attached || !rp->nhosts) {
		fprintf(stderr, "bench-fanout-agents: %s holds no Attached or no window to replay\n", path);
		return -1;
	}
	return 0;
}

static void replay_free(struct replay *rp)
{
	for (size_t i = 0; rp->hosts && i < rp->nhosts; i++) {
		for (size_t k = 0; k < rp->hosts[i].n; k++)
			protobuf_c_message_free_unpacked(&rp->hosts[i].windows[k]->base, NULL);
		free(rp->hosts[i].windows);
	}
	free(rp->hosts);
	if (rp->attached)
		protobuf_c_message_free_unpacked(&rp->attached->base, NULL);
	if (rp->summary)
		protobuf_c_message_free_unpacked(&rp->summary->base, NULL);
	recording_reader_close(&rp->reader);
}

static uint64_t jitter(const struct gen *g)
{
	return g->jitter_ns ? (uint64_t)random() % g->jitter_ns : 0;
}

/* The next window end on the client's phase, as the agent schedules it (a first window
 * shorter than a tenth of the interval joins the next), plus this host's jitter. */
static uint64_t schedule_tick(struct vconn *c)
{
	uint64_t now = clock_ns(CLOCK_REALTIME);
	uint64_t next = (now - c->phase_ns) / c->interval_ns * c->interval_ns + c->interval_ns + c->phase_ns;
	uint64_t wait;

	if (next - now < c->interval_ns / 10)
		next += c->interval_ns;
	wait = next - now + jitter(c->va->g);
	event_add(c->tick, &(struct timeval){ (time_t)(wait / 1000000000ULL), (suseconds_t)(wait % 1000000000ULL / 1000) });
	return next;
}

/* A recorded snapshot sent as this session's: its payload, our seq, times and window cost. */
static void send_snapshot(struct vconn *c, Tracectl__Snapshot *snap, bool summary, uint64_t start_ns, uint64_t end_ns)
{
	Tracectl__Response resp = TRACECTL__RESPONSE__INIT;
	Tracectl__Snapshot empty = TRACECTL__SNAPSHOT__INIT;

	if (!snap) {
		empty.kind = c->va->g->rp.attached->attached->kind;
		snap = &empty;
	}
	snap->seq = ++c->seq;
	snap->summary = summary;
	snap->start_unix_ns = start_ns;
	snap->end_unix_ns = end_ns;
	if (snap->cost)
		snap->cost->window_ns = end_ns - start_ns;
	resp.result_case = TRACECTL__RESPONSE__RESULT_SNAPSHOT;
	resp.snapshot = snap;
	rpc_send(vconn_out(c), c->stream_id, FRAME_DATA, &resp.base, FRAME_MAX_MESSAGE_DEFAULT);
}

static void session_end(struct vconn *c, enum rpc_status code, const char *why)
{
	const struct replay *rp = &c->va->g->rp;

	send_snapshot(c, rp->summary ? rp->summary->snapshot : NULL, true, c->start_unix_ns, clock_ns(CLOCK_REALTIME));
	rpc_send_status(vconn_out(c), c->stream_id, code, why, FRAME_MAX_MESSAGE_DEFAULT);
	event_del(c->tick);
	c->attached = false;
}

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct vconn *c = arg;
	const struct replay_host *h = &c->va->g->rp.hosts[c->va->index % c->va->g->rp.nhosts];
	uint64_t now = clock_ns(CLOCK_REALTIME), elapsed = clock_ns(CLOCK_MONOTONIC) - c->start_mono_ns;

	(void)fd;
	(void)what;
	send_snapshot(c, h->windows[c->next_window++ % h->n]->snapshot, false, c->window_start_ns, now);
	c->window_start_ns = now;
	if (elapsed + c->interval_ns / 2 >= c->duration_ns)
		session_end(c, RPC_OK, "duration reached");
	else
		schedule_tick(c);
}

static void attach(struct vconn *c, uint32_t stream_id, const Tracectl__AttachRequest *req)
{
	struct gen *g = c->va->g;
	Tracectl__Attached *att = g->rp.attached->attached;

	if (c->attached || strcmp(req->probe, g->rp.probe) != 0 || !req->interval_ns) {
		rpc_send_status(vconn_out(c), stream_id, RPC_INVALID_ARGUMENT,
				c->attached ? "one session per connection here" : "this generator replays another probe",
				FRAME_MAX_MESSAGE_DEFAULT);
		return;
	}
	c->attached = true;
	c->stream_id = stream_id;
	c->seq = 0;
	c->interval_ns = req->interval_ns;
	c->phase_ns = req->align_unix_ns % req->interval_ns;
	c->duration_ns = req->duration_ns ? req->duration_ns : 3600ULL * 1000000000ULL;
	c->start_mono_ns = clock_ns(CLOCK_MONOTONIC);
	c->start_unix_ns = c->window_start_ns = clock_ns(CLOCK_REALTIME);
	/* hosts start at different points of the recording */
	c->next_window = c->va->index * 7;
	att->session_id = ++g->next_session_id;
	att->load_ns = 0;
	att->first_window_end_unix_ns = schedule_tick(c);
	rpc_send(vconn_out(c), stream_id, FRAME_DATA, &g->rp.attached->base, FRAME_MAX_MESSAGE_DEFAULT);
}

static void dispatch(struct vconn *c, uint32_t stream_id, const Tracectl__Request *req)
{
	Tracectl__Response resp = TRACECTL__RESPONSE__INIT;
	Tracectl__HelloResponse hello = TRACECTL__HELLO_RESPONSE__INIT;
	char host[32];

	switch (req->call_case) {
	case TRACECTL__REQUEST__CALL_HELLO:
		snprintf(host, sizeof(host), "virtual%zu", c->va->index);
		hello.protocol_version = RPC_PROTOCOL_VERSION;
		hello.protocol_minor = RPC_PROTOCOL_MINOR;
		hello.agent_version = "bench-fanout-agents";
		hello.kernel_release = "virtual";
		hello.hostname = host;
		hello.max_message_bytes = FRAME_MAX_MESSAGE_DEFAULT;
		resp.result_case = TRACECTL__RESPONSE__RESULT_HELLO;
		resp.hello = &hello;
		rpc_send(vconn_out(c), stream_id, FRAME_DATA, &resp.base, FRAME_MAX_MESSAGE_DEFAULT);
		rpc_send_status(vconn_out(c), stream_id, RPC_OK, "", FRAME_MAX_MESSAGE_DEFAULT);
		return;
	case TRACECTL__REQUEST__CALL_ATTACH:
		attach(c, stream_id, req->attach);
		return;
	default:
		rpc_send_status(vconn_out(c), stream_id, RPC_INVALID_ARGUMENT, "the load generator serves Hello and Attach",
				FRAME_MAX_MESSAGE_DEFAULT);
		return;
	}
}

static void read_cb(struct bufferevent *bev, void *arg)
{
	struct vconn *c = arg;
	struct frame_header hdr;
	ProtobufCMessage *msg;
	char err[256];
	int ret;

	while ((ret = rpc_take_frame(bufferevent_get_input(bev), FRAME_MAX_REQUEST, FRAME_MAX_REQUEST_UNPACKED,
				     &tracectl__request__descriptor, &hdr, &msg, err, sizeof(err))) == 1) {
		if (hdr.kind == FRAME_PING)
			rpc_send(vconn_out(c), hdr.stream_id, FRAME_PONG, NULL, FRAME_MAX_MESSAGE_DEFAULT);
		else if (hdr.kind == FRAME_CANCEL && c->attached && hdr.stream_id == c->stream_id)
			session_end(c, RPC_CANCELLED, "cancelled by the client");
		else if (hdr.kind == FRAME_DATA)
			dispatch(c, hdr.stream_id, (const Tracectl__Request *)msg);
		if (msg)
			protobuf_c_message_free_unpacked(msg, NULL);
	}
	if (ret < 0) {
		fprintf(stderr, "bench-fanout-agents: host %zu: %s; closing\n", c->va->index, err);
		vconn_free(c);
	}
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	/* the client went away (or the handshake failed): its session with it */
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		vconn_free(arg);
}

static void accept_cb(struct evconnlistener *listener, evutil_socket_t fd, struct sockaddr *addr, int addrlen,
		      void *arg)
{
	struct vagent *va = arg;
	struct vconn *c = calloc(1, sizeof(*c));
	SSL *ssl = SSL_new(va->g->tls);

	(void)listener;
	(void)addr;
	(void)addrlen;
	if (!c || !ssl)
		goto fail;
	c->va = va;
	LIST_INSERT_HEAD(&va->g->conns, c, link);
	c->tick = event_new(va->g->base, -1, 0, tick_cb, c);
	/* takes the socket and ssl, even when it fails */
	c->bev = bufferevent_openssl_socket_new(va->g->base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	fd = -1;
	ssl = NULL;
	if (!c->tick || !c->bev)
		goto fail;
	bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
	bufferevent_setcb(c->bev, read_cb, NULL, event_cb, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	return;
fail:
	fprintf(stderr, "bench-fanout-agents: host %zu: out of memory accepting a connection\n", va->index);
	SSL_free(ssl);
	if (fd >= 0)
		evutil_closesocket(fd);
	if (c && c->va)
		vconn_free(c);
	else
		free(c);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	event_base_loopbreak(arg);
}

/* Two descriptors a host (its listener and its connection): raise the soft limit to the hard one. */
static int fit_fd_limit(size_t count)
{
	struct rlimit rl;
	unsigned long long need = 2ULL * count + 16;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return 0;
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur != RLIM_INFINITY && need > rl.rlim_cur) {
		fprintf(stderr, "bench-fanout-agents: %zu hosts need %llu open files, the limit is %llu: run more generators\n",
			count, need, (unsigned long long)rl.rlim_cur);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "ca", required_argument, NULL, 'a' },	       { "cert", required_argument, NULL, 'c' },
		{ "key", required_argument, NULL, 'k' },       { "recording", required_argument, NULL, 'r' },
		{ "port-base", required_argument, NULL, 'p' }, { "count", required_argument, NULL, 'n' },
		{ "jitter-ms", required_argument, NULL, 'j' }, { "seed", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	const char *ca = NULL, *cert = NULL, *key = NULL, *recording = NULL;
	unsigned long port_base = 0, count = 0, jitter_ms = 50, seed = 1;
	struct gen g = { .conns = LIST_HEAD_INITIALIZER(g.conns) };
	struct vagent *agents = NULL;
	struct event *sigterm = NULL, *sigint = NULL;
	char err[512];
	int opt, code = 1;

	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case 'a': ca = optarg; break;
		case 'c': cert = optarg; break;
		case 'k': key = optarg; break;
		case 'r': recording = optarg; break;
		case 'p': port_base = strtoul(optarg, NULL, 10); break;
		case 'n': count = strtoul(optarg, NULL, 10); break;
		case 'j': jitter_ms = strtoul(optarg, NULL, 10); break;
		case 's': seed = strtoul(optarg, NULL, 10); break;
		default: return 2;
		}
	}
	if (!ca || !cert || !key || !recording || !port_base || !count || port_base + count > 65536) {
		fprintf(stderr, "usage: bench-fanout-agents --ca CA --cert CERT --key KEY --recording FILE --port-base P "
				"--count N [--jitter-ms J] [--seed S]\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	srandom((unsigned)seed);
	g.jitter_ns = jitter_ms * 1000000ULL;
	if (fit_fd_limit(count) || replay_load(&g.rp, recording))
		goto cleanup;
	g.tls = tls_server_ctx_new(ca, cert, key, err, sizeof(err));
	if (!g.tls) {
		fprintf(stderr, "bench-fanout-agents: %s\n", err);
		goto cleanup;
	}
	g.base = event_base_new();
	agents = calloc(count, sizeof(*agents));
	sigterm = g.base ? evsignal_new(g.base, SIGTERM, on_signal, g.base) : NULL;
	sigint = g.base ? evsignal_new(g.base, SIGINT, on_signal, g.base) : NULL;
	if (!agents || !sigterm || !sigint || evsignal_add(sigterm, NULL) || evsignal_add(sigint, NULL)) {
		fprintf(stderr, "bench-fanout-agents: cannot set up the event loop\n");
		goto cleanup;
	}
	for (size_t i = 0; i < count; i++) {
		struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)(port_base + i)),
					   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };

		agents[i] = (struct vagent){ .g = &g, .index = i };
		agents[i].listener = evconnlistener_new_bind(g.base, accept_cb, &agents[i],
							     LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
							     64, (struct sockaddr *)&sin, sizeof(sin));
		if (!agents[i].listener) {
			fprintf(stderr, "bench-fanout-agents: cannot listen on 127.0.0.1:%lu: %s\n", port_base + i,
				strerror(errno));
			goto cleanup;
		}
	}
	printf("ready %lu\n", count);
	fflush(stdout);
	event_base_dispatch(g.base);
	code = 0;
cleanup:
	while (!LIST_EMPTY(&g.conns))
		vconn_free(LIST_FIRST(&g.conns));
	for (size_t i = 0; agents && i < count; i++)
		if (agents[i].listener)
			evconnlistener_free(agents[i].listener);
	free(agents);
	if (sigterm)
		event_free(sigterm);
	if (sigint)
		event_free(sigint);
	if (g.base)
		event_base_free(g.base);
	SSL_CTX_free(g.tls);
	replay_free(&g.rp);
	return code;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* One mutual-TLS connection to one agent, several calls multiplexed on it. */
#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <openssl/x509.h>

#include "cli.h"
#include "hostport.h"
#include "log.h"
#include "tls.h"

#define HELLO_STREAM_ID 1u
/* what a port that does not speak our TLS (a web server, a plaintext service) looks like to us */
#define NOT_AGENT_HINT "is this a tracectl-agent? The port does not answer in TLS"

static void conn_fail(struct client_conn *c, enum cli_exit code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void conn_fail(struct client_conn *c, enum cli_exit code, const char *fmt, ...)
{
	char why[512];
	va_list ap;

	if (c->failed)
		return;
	c->failed = true;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (c->ping)
		event_del(c->ping);
	if (c->bev)
		bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	c->on_failure(c, code, why, c->arg);
}

static void send_request(struct client_conn *c, struct client_call *call)
{
	int err = rpc_send(bufferevent_get_output(c->bev), call->stream_id, FRAME_DATA, &call->request->base,
			   FRAME_MAX_MESSAGE_DEFAULT);

	if (err)
		conn_fail(c, CLI_EXIT_FAILURE, "%s: cannot encode request: %s", c->target, strerror(-err));
	call->sent = true;
	call->request = NULL;
}

static void handle_hello(struct client_conn *c, const Tracectl__Response *resp)
{
	struct client_call *call;

	if (resp->result_case == TRACECTL__RESPONSE__RESULT_HELLO) {
		const Tracectl__HelloResponse *h = resp->hello;

		snprintf(c->agent_version, sizeof(c->agent_version), "%s", h->agent_version);
		snprintf(c->kernel_release, sizeof(c->kernel_release), "%s", h->kernel_release);
		snprintf(c->agent_hostname, sizeof(c->agent_hostname), "%s", h->hostname);
		return;
	}
	if (resp->result_case != TRACECTL__RESPONSE__RESULT_STATUS)
		return;
	if (resp->status->code != RPC_OK) {
		conn_fail(c, CLI_EXIT_REJECTED, "%s: agent refused the session: %s", c->target, resp->status->message);
		return;
	}
	c->hello_done = true;
	LIST_FOREACH(call, &c->calls, link)
		if (!call->sent && !call->done) /* done: cancelled before it could be sent */
			send_request(c, call);
	if (c->on_ready)
		c->on_ready(c, c->arg);
}

static struct client_call *find_call(struct client_conn *c, uint32_t stream_id)
{
	struct client_call *call;

	LIST_FOREACH(call, &c->calls, link)
		if (call->stream_id == stream_id)
			return call;
	return NULL;
}

static void read_cb(struct bufferevent *bev, void *arg)
{
	struct client_conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	struct frame_header hdr;
	ProtobufCMessage *msg;
	char err[256];
	int ret;

	while (!c->failed && (ret = rpc_take_frame(in, FRAME_MAX_MESSAGE_DEFAULT, 0, &tracectl__response__descriptor,
						   &hdr, &msg, err, sizeof(err))) == 1) {
		const Tracectl__Response *resp = (const Tracectl__Response *)msg;
		struct client_call *call;

		if (hdr.kind == FRAME_PING) {
			rpc_send(bufferevent_get_output(bev), hdr.stream_id, FRAME_PONG, NULL, FRAME_MAX_MESSAGE_DEFAULT);
			continue;
		}
		if (hdr.kind != FRAME_DATA)
			continue;
		if (hdr.stream_id == HELLO_STREAM_ID) {
			handle_hello(c, resp);
		} else if ((call = find_call(c, hdr.stream_id)) != NULL && !call->done) {
			if (resp->result_case == TRACECTL__RESPONSE__RESULT_STATUS)
				call->done = true;
			/* the callback must not free the connection; it may keep resp */
			if (call->on_response(call, (Tracectl__Response *)resp, call->arg))
				continue;
		}
		protobuf_c_message_free_unpacked(msg, NULL);
	}
	if (!c->failed && ret < 0)
		conn_fail(c, CLI_EXIT_FAILURE, "%s: protocol error from agent: %s", c->target, err);
}

static void ping_cb(evutil_socket_t fd, short what, void *arg)
{
	struct client_conn *c = arg;

	(void)fd;
	(void)what;
	rpc_send(bufferevent_get_output(c->bev), 0, FRAME_PING, NULL, FRAME_MAX_MESSAGE_DEFAULT);
}

/* Turns what OpenSSL and the socket say into one line a user can act on. */
static void describe_tls_failure(struct client_conn *c, unsigned long ssl_err, char *buf, size_t len)
{
	SSL *ssl = bufferevent_openssl_get_ssl(c->bev);
	long verify = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
	char reason[256];

	ERR_error_string_n(ssl_err, reason, sizeof(reason));
	if (ERR_GET_REASON(ssl_err) == SSL_R_CERTIFICATE_VERIFY_FAILED && verify != X509_V_OK)
		snprintf(buf, len, "agent certificate rejected: %s (check --ca and that the certificate names '%s')",
			 X509_verify_cert_error_string(verify), c->host);
	else if (c->handshaken || ERR_GET_REASON(ssl_err) >= SSL_AD_REASON_OFFSET)
		snprintf(buf, len, "agent refused our client certificate (%s)", ERR_reason_error_string(ssl_err)
										 ? ERR_reason_error_string(ssl_err)
										 : reason);
	else
		snprintf(buf, len, "TLS handshake failed: %s (" NOT_AGENT_HINT ")", reason);
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct client_conn *c = arg;
	char why[512];

	if (what & BEV_EVENT_CONNECTED) {
		c->handshaken = true;
		bufferevent_set_timeouts(bev, &(struct timeval){ RPC_IDLE_TIMEOUT_S, 0 }, NULL);
		event_add(c->ping, &(struct timeval){ RPC_PING_INTERVAL_S, 0 });
		return;
	}
	if (what & BEV_EVENT_TIMEOUT) {
		if (!c->handshaken)
			conn_fail(c, CLI_EXIT_UNREACHABLE, "%s: no TLS handshake within %llu ms (" NOT_AGENT_HINT ")",
				  c->target, (unsigned long long)c->connect_timeout_ms);
		else
			conn_fail(c, CLI_EXIT_UNREACHABLE, "%s: agent silent for %d s, giving up", c->target,
				  RPC_IDLE_TIMEOUT_S);
		return;
	}
	if (what & BEV_EVENT_ERROR) {
		unsigned long ssl_err = bufferevent_get_openssl_error(bev);
		int sock_err = EVUTIL_SOCKET_ERROR();

		while (bufferevent_get_openssl_error(bev))
			;
		ERR_clear_error();
		if (ssl_err && ERR_GET_REASON(ssl_err) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
			/* no close_notify: treat as the agent going away (libevent 2.1.12 + OpenSSL 3) */
			ssl_err = 0;
		} else if (ssl_err && !c->hello_done) {
			describe_tls_failure(c, ssl_err, why, sizeof(why));
			conn_fail(c, CLI_EXIT_TLS, "%s: %s", c->target, why);
			return;
		} else if (ssl_err) {
			conn_fail(c, CLI_EXIT_FAILURE, "%s: TLS error: %s", c->target,
				  ERR_error_string(ssl_err, why));
			return;
		}
		if (!c->handshaken && sock_err) {
			/* TCP was up: the peer broke off the handshake */
			conn_fail(c, CLI_EXIT_UNREACHABLE, "%s: TLS handshake failed: %s (" NOT_AGENT_HINT ")",
				  c->target, evutil_socket_error_to_string(sock_err));
			return;
		}
	}
	/* EOF, or an error with nothing more specific */
	if (c->handshaken && !c->hello_done)
		conn_fail(c, CLI_EXIT_TLS, "%s: agent closed the connection right after the handshake "
					   "(our client certificate was probably refused)",
			  c->target);
	else if (!c->handshaken)
		conn_fail(c, CLI_EXIT_UNREACHABLE, "%s: connection closed during the TLS handshake (" NOT_AGENT_HINT ")",
			  c->target);
	else
		conn_fail(c, CLI_EXIT_UNREACHABLE, "%s: agent closed the connection", c->target);
}

/* TCP is up (or failed): start TLS on the socket, Hello first. */
static void connected_cb(evutil_socket_t fd, short what, void *arg)
{
	struct client_conn *c = arg;
	Tracectl__Request req = TRACECTL__REQUEST__INIT;
	Tracectl__HelloRequest hello = TRACECTL__HELLO_REQUEST__INIT;
	struct timeval handshake = { (time_t)(c->connect_timeout_ms / 1000),
				     (suseconds_t)(c->connect_timeout_ms % 1000 * 1000) };
	socklen_t optlen = sizeof(int);
	int sock_err = 0;
	SSL *ssl;

	if (what & EV_TIMEOUT) {
		conn_fail(c, CLI_EXIT_UNREACHABLE, "%s: timed out connecting after %llu ms", c->target,
			  (unsigned long long)c->connect_timeout_ms);
		return;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &sock_err, &optlen) || sock_err) {
		conn_fail(c, CLI_EXIT_UNREACHABLE, "%s: cannot connect: %s", c->target,
			  strerror(sock_err ? sock_err : errno));
		return;
	}
	ssl = SSL_new(c->tls);
	if (!ssl || tls_client_expect_host(ssl, c->host)) {
		SSL_free(ssl);
		conn_fail(c, CLI_EXIT_FAILURE, "%s: cannot set up TLS", c->target);
		return;
	}
	/* takes ownership of ssl and the socket, even when it fails */
	c->bev = bufferevent_openssl_socket_new(c->base, fd, ssl, BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
	c->fd = -1;
	if (!c->bev) {
		conn_fail(c, CLI_EXIT_FAILURE, "%s: out of memory", c->target);
		return;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
	bufferevent_setcb(c->bev, read_cb, NULL, event_cb, c);
	/* the handshake gets the connect timeout; afterwards the idle deadline applies */
	bufferevent_set_timeouts(c->bev, &handshake, &handshake);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	hello.protocol_version = RPC_PROTOCOL_VERSION;
	hello.protocol_minor = RPC_PROTOCOL_MINOR;
	hello.client_version = TRACECTL_VERSION;
	req.call_case = TRACECTL__REQUEST__CALL_HELLO;
	req.hello = &hello;
	rpc_send(bufferevent_get_output(c->bev), HELLO_STREAM_ID, FRAME_DATA, &req.base, FRAME_MAX_MESSAGE_DEFAULT);
}

struct client_conn *client_conn_new(struct event_base *base, SSL_CTX *tls, const struct inventory_host *target,
				     uint64_t connect_timeout_ms, client_failure_cb on_failure, void *arg,
				     char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	struct addrinfo *res = NULL;
	struct client_conn *c = NULL;
	char port_text[8];
	int ret;

	c = calloc(1, sizeof(*c));
	if (!c) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	c->fd = -1;
	c->base = base;
	c->tls = tls;
	c->on_failure = on_failure;
	c->arg = arg;
	c->connect_timeout_ms = connect_timeout_ms;
	c->next_stream_id = HELLO_STREAM_ID + 2; /* client streams are odd, like HTTP/2 */
	LIST_INIT(&c->calls);
	snprintf(c->target, sizeof(c->target), "%s", target->name);
	snprintf(c->host, sizeof(c->host), "%s", target->host);
	c->port = target->port;
	snprintf(port_text, sizeof(port_text), "%u", c->port);
	ret = getaddrinfo(c->host, port_text, &hints, &res);
	if (ret) {
		snprintf(err, errlen, "%s: cannot resolve '%s': %s", c->target, c->host, gai_strerror(ret));
		errno = EHOSTUNREACH;
		goto fail;
	}
	/* TCP first, TLS once connected: a refused or unreachable host is then named
	 * as such instead of surfacing as a failed handshake */
	c->fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0 || (connect(c->fd, res->ai_addr, res->ai_addrlen) && errno != EINPROGRESS)) {
		snprintf(err, errlen, "%s: cannot connect: %s", c->target, strerror(errno));
		errno = EHOSTUNREACH;
		goto fail;
	}
	c->connecting = event_new(base, c->fd, EV_WRITE, connected_cb, c);
	c->ping = event_new(base, -1, EV_PERSIST, ping_cb, c);
	if (!c->connecting || !c->ping ||
	    event_add(c->connecting, &(struct timeval){ (time_t)(connect_timeout_ms / 1000),
							 (suseconds_t)(connect_timeout_ms % 1000 * 1000) })) {
		snprintf(err, errlen, "%s: out of memory", c->target);
		errno = ENOMEM;
		goto fail;
	}
	freeaddrinfo(res);
	return c;
fail:
	ret = errno;
	freeaddrinfo(res);
	client_conn_free(&c);
	errno = ret;
	return NULL;
}

struct client_call *client_conn_call(struct client_conn *c, Tracectl__Request *request,
				      client_response_cb on_response, void *arg)
{
	struct client_call *call = calloc(1, sizeof(*call));

	if (!call)
		return NULL;
	call->conn = c;
	call->stream_id = c->next_stream_id;
	c->next_stream_id += 2;
	call->request = request;
	call->on_response = on_response;
	call->arg = arg;
	LIST_INSERT_HEAD(&c->calls, call, link);
	if (c->hello_done)
		send_request(c, call);
	return call;
}

void client_call_cancel(struct client_call *call)
{
	struct client_conn *c = call->conn;

	if (call->done || c->failed)
		return;
	if (call->sent)
		rpc_send(bufferevent_get_output(c->bev), call->stream_id, FRAME_CANCEL, NULL,
			 FRAME_MAX_MESSAGE_DEFAULT);
	else
		call->done = true;
}

void client_conn_free(struct client_conn **cp)
{
	struct client_conn *c = *cp;
	struct client_call *call;

	if (!c)
		return;
	while ((call = LIST_FIRST(&c->calls)) != NULL) {
		LIST_REMOVE(call, link);
		free(call);
	}
	if (c->ping)
		event_free(c->ping);
	if (c->connecting)
		event_free(c->connecting);
	if (c->fd >= 0)
		close(c->fd);
	if (c->bev) {
		SSL *ssl = bufferevent_openssl_get_ssl(c->bev);

		/* a polite close_notify, so the agent logs a goodbye, not a dropped peer */
		if (c->handshaken && !c->failed && ssl)
			SSL_shutdown(ssl);
		ERR_clear_error();
		/* BEV_OPT_CLOSE_ON_FREE: frees the SSL object and closes the socket */
		bufferevent_free(c->bev);
	}
	free(c);
	*cp = NULL;
}

struct catalog_fetch {
	struct event_base *base;
	Tracectl__Response *resp;
	bool over;
};

static bool catalog_response(struct client_call *call, Tracectl__Response *resp, void *arg)
{
	struct catalog_fetch *cf = arg;

	(void)call;
	if (resp->result_case == TRACECTL__RESPONSE__RESULT_PROBES && !cf->resp) {
		cf->resp = resp;
		return true;
	}
	if (resp->result_case == TRACECTL__RESPONSE__RESULT_STATUS) {
		cf->over = true;
		event_base_loopbreak(cf->base);
	}
	return false;
}

static void catalog_failure(struct client_conn *conn, enum cli_exit code, const char *why, void *arg)
{
	struct catalog_fetch *cf = arg;

	(void)conn;
	(void)code;
	(void)why;
	cf->over = true;
	event_base_loopbreak(cf->base);
}

Tracectl__Response *client_list_probes(SSL_CTX *tls, const struct inventory_host *target, uint64_t connect_timeout_ms)
{
	Tracectl__ListProbesRequest list = TRACECTL__LIST_PROBES_REQUEST__INIT;
	Tracectl__Request req = TRACECTL__REQUEST__INIT;
	struct catalog_fetch cf = { 0 };
	struct client_conn *conn = NULL;
	char err[512];

	/* the names, kinds and parameters: an agent that knows the flag answers before its
	 * trial loads end, so checking a command line does not delay the attach */
	list.catalog_only = true;
	req.call_case = TRACECTL__REQUEST__CALL_LIST_PROBES;
	req.list_probes = &list;
	cf.base = event_base_new();
	if (!cf.base)
		return NULL;
	conn = client_conn_new(cf.base, tls, target, connect_timeout_ms, catalog_failure, &cf, err, sizeof(err));
	if (conn && client_conn_call(conn, &req, catalog_response, &cf))
		event_base_dispatch(cf.base);
	client_conn_free(&conn);
	event_base_free(cf.base);
	return cf.resp;
}

const Tracectl__ProbeInfo *catalog_find(const Tracectl__ListProbesResponse *list, const char *name)
{
	for (size_t i = 0; list && i < list->n_probes; i++)
		if (strcmp(list->probes[i]->name, name) == 0)
			return list->probes[i];
	return NULL;
}

/* Edit distance (insertions, deletions, substitutions, adjacent swaps) over the first 63 bytes. */
static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strnlen(a, 63), lb = strnlen(b, 63);
	size_t d[64][64];

	for (size_t i = 0; i <= la; i++)
		d[i][0] = i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = j;
	for (size_t i = 1; i <= la; i++) {
		for (size_t j = 1; j <= lb; j++) {
			size_t best = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);

			if (d[i - 1][j] + 1 < best)
				best = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < best)
				best = d[i][j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < best)
				best = d[i - 2][j - 2] + 1;
			d[i][j] = best;
		}
	}
	return d[la][lb];
}

const char *catalog_nearest(const Tracectl__ListProbesResponse *list, const char *name)
{
	const char *best = NULL;
	size_t best_distance = SIZE_MAX;

	for (size_t i = 0; list && i < list->n_probes; i++) {
		size_t dist = edit_distance(name, list->probes[i]->name);

		if (dist < best_distance) {
			best_distance = dist;
			best = list->probes[i]->name;
		}
	}
	/* a third of the name wrong is no longer a typo */
	return best && best_distance * 3 <= strlen(name) + 2 ? best : NULL;
}

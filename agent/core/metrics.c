/* SPDX-License-Identifier: Apache-2.0 */
/* Standing probes served as Prometheus metrics over HTTP, for collection past one controller. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>
#include <event2/http.h>

#include "agent.h"
#include "hostport.h"
#include "core_btf.h"
#include "kernel_env.h"
#include "log.h"
#include "metrics.h"
#include "prom.h"
#include "stack_symbols.h"

#define EXPORTER_MAX_PROBES 32
/* Series per count probe and column: the largest rows and one "[other]" row with the rest. */
#define EXPORTER_MAX_ROWS 1000
/* A scrape is one short GET: its request line and headers fit in a few KiB, no body. */
#define EXPORTER_MAX_HEADERS_BYTES 8192
#define EXPORTER_MAX_BODY_BYTES 1024
#define EXPORTER_MAX_INPUT_BYTES (2 * (EXPORTER_MAX_HEADERS_BYTES + EXPORTER_MAX_BODY_BYTES))
#define EXPORTER_TIMEOUT_S 10
/* Scrapers served at once; more wait in the listen backlog until one is done. */
#define EXPORTER_MAX_CONNS 16

struct exported {
	const struct probe_desc *probe;
	void *state;
	struct result window, total; /* cumulative since the agent started */
	struct probe_params params; /* held while attached (catalog_params_release) */
	unsigned long long read_errors;
};

struct exporter {
	struct agent *agent;
	struct evhttp *http;
	/* evhttp (libevent 2.1) has no connection limit and tells nobody when a connection
	 * ends: the exporter holds a reference on each connection's bufferevent, sees it
	 * ended once evhttp freed it (callbacks cleared), and pauses evhttp's listener
	 * while EXPORTER_MAX_CONNS are open */
	struct evconnlistener *listener;
	struct bufferevent *conns[EXPORTER_MAX_CONNS];
	size_t nconns;
	struct event *sweep;
	struct exported probes[EXPORTER_MAX_PROBES];
	size_t n;
	unsigned long long scrapes;
};

/* Brings the cumulative totals up to now: Prometheus wants counters that only grow. */
static void exported_update(struct exported *x)
{
	int err = 0;

	char why[128];

	err = catalog_read_window(x->probe, x->state, &x->window);
	if (!err && result_merge(&x->total, &x->window, NULL, why, sizeof(why)))
		err = -EPROTO;
	if (!err && x->total.have_counts)
		err = count_table_fold(&x->total.counts, 0, EXPORTER_MAX_ROWS);
	if (err) {
		x->read_errors++;
		log_warn("metrics: reading %s: %s", x->probe->name, strerror(-err));
	}
}

static void write_health(FILE *f, enum prom_format format, const struct exporter *e)
{
	const struct agent *a = e->agent;
	unsigned long long dropped = 0, progs = 0;
	struct usyms_stats symbols;
	struct core_btf_stats btf;
	struct conn *c;
	struct session *s;

	usyms_stats_get(&symbols);
	core_btf_stats_get(&btf);
	LIST_FOREACH(c, &a->conns, link) {
		LIST_FOREACH(s, &c->sessions, link) {
			dropped += s->dropped;
			progs += s->nprogs;
		}
	}
	const struct prom_sample samples[] = {
		{ "tracectl_agent_build_info", "Agent version and kernel release.", false, 2,
		  { "version", "kernel" }, { TRACECTL_VERSION, kernel_env_release() }, 1 },
		{ "tracectl_agent_sessions", "Attach sessions of remote clients now.", false, 0, { 0 }, { 0 },
		  a->nsessions },
		{ "tracectl_agent_connections", "Client connections now.", false, 0, { 0 }, { 0 }, a->nconns },
		{ "tracectl_agent_exported_probes", "Standing probes served here.", false, 0, { 0 }, { 0 },
		  (double)e->n },
		{ "tracectl_agent_session_bpf_programs", "BPF programs loaded for client sessions now.", false, 0,
		  { 0 }, { 0 }, (double)progs },
		{ "tracectl_agent_snapshots_dropped", "Snapshots not sent to slow clients, live sessions.", false, 0,
		  { 0 }, { 0 }, (double)dropped },
		{ "tracectl_agent_scrapes_total", "Scrapes of this endpoint.", true, 0, { 0 }, { 0 },
		  (double)e->scrapes },
		{ "tracectl_agent_symbol_tables_parsed_total", "ELF symbol tables parsed to name user stacks.", true, 0,
		  { 0 }, { 0 }, (double)symbols.parses },
		{ "tracectl_agent_symbol_tables_shared_total",
		  "Files whose symbol table was already parsed for another file with their build-id.", true, 0, { 0 },
		  { 0 }, (double)symbols.build_id_hits },
		{ "tracectl_agent_bpf_loads_minimal_btf_total",
		  "BPF objects loaded with their minimal kernel BTF for CO-RE (tp_btf programs still read the whole one).",
		  true, 0,
		  { 0 }, { 0 }, (double)btf.loads },
		{ "tracectl_agent_bpf_loads_minimal_btf_fallbacks_total",
		  "BPF objects that did not load with their minimal kernel BTF and did with the whole one.", true, 0,
		  { 0 }, { 0 }, (double)btf.fallbacks },
		{ "tracectl_agent_minimal_btf_bytes", "Size of the minimal kernel BTFs built, in all.", false, 0, { 0 },
		  { 0 }, (double)btf.bytes },
		{ "tracectl_agent_minimal_btf_build_seconds_total", "Time spent building minimal kernel BTFs.", true, 0,
		  { 0 }, { 0 }, btf.build_ns / 1e9 },
	};

	for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++)
		prom_write_sample(f, format, &samples[i]);
}

static const struct timeval sweep_interval = { 0, 200000 };

/* Lets go of the connections evhttp has freed. */
static void http_conns_sweep(struct exporter *e)
{
	size_t kept = 0;

	for (size_t i = 0; i < e->nconns; i++) {
		bufferevent_event_cb eventcb = NULL;

		bufferevent_getcb(e->conns[i], NULL, NULL, &eventcb, NULL);
		if (eventcb)
			e->conns[kept++] = e->conns[i];
		else
			bufferevent_decref(e->conns[i]); /* the last reference: closes the socket */
	}
	e->nconns = kept;
}

static void http_conns_sweep_cb(evutil_socket_t fd, short what, void *arg)
{
	struct exporter *e = arg;

	(void)fd;
	(void)what;
	http_conns_sweep(e);
	if (e->nconns < EXPORTER_MAX_CONNS)
		evconnlistener_enable(e->listener);
	if (e->nconns)
		event_add(e->sweep, &sweep_interval);
}

/* evhttp's bufferevent for each new connection, counted. */
static struct bufferevent *http_conn_new(struct event_base *base, void *arg)
{
	struct exporter *e = arg;
	struct bufferevent *bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);

	http_conns_sweep(e);
	if (!bev)
		return NULL;
	/* evhttp goes on reading while it answers a request it refused (431, 400): without a
	 * bound, a client streaming an endless header had 120 MB buffered in 0.2 s */
	bufferevent_setwatermark(bev, EV_READ, 0, EXPORTER_MAX_INPUT_BYTES);
	/* the listener may accept a few past the limit in one go: those go uncounted */
	if (e->nconns == EXPORTER_MAX_CONNS)
		return bev;
	bufferevent_incref(bev);
	e->conns[e->nconns++] = bev;
	if (e->nconns == EXPORTER_MAX_CONNS)
		evconnlistener_disable(e->listener);
	if (!event_pending(e->sweep, EV_TIMEOUT, NULL))
		event_add(e->sweep, &sweep_interval);
	return bev;
}

static void on_metrics(struct evhttp_request *req, void *arg)
{
	struct exporter *e = arg;
	/* protobuf (with native histograms) to a scraper that asks for it, text to the rest */
	enum prom_format format =
		prom_negotiate(evhttp_find_header(evhttp_request_get_input_headers(req), "Accept"));
	struct evbuffer *body;
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	if (evhttp_request_get_command(req) != EVHTTP_REQ_GET) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET");
		evhttp_send_error(req, 405, "only GET");
		return;
	}
	body = evbuffer_new();
	f = open_memstream(&text, &len);
	if (!body || !f) {
		if (f)
			fclose(f);
		evbuffer_free(body);
		evhttp_send_error(req, 500, "out of memory");
		return;
	}
	e->scrapes++;
	write_health(f, format, e);
	for (size_t i = 0; i < e->n; i++) {
		struct exported *x = &e->probes[i];

		exported_update(x);
		if (x->total.have_counts && format == PROM_PROTOBUF)
			prom_pb_write_counts(f, x->probe->name, &x->total.counts);
		else if (x->total.have_counts)
			prom_write_counts(f, x->probe->name, &x->total.counts, NULL);
		else if (format == PROM_PROTOBUF)
			prom_pb_write_hists(f, x->probe->name, &x->total.hists);
		else
			prom_write_hists(f, x->probe->name, &x->total.hists, NULL);
	}
	fclose(f);
	evbuffer_add(body, text, len);
	free(text);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			  format == PROM_PROTOBUF ? PROM_PROTOBUF_CONTENT_TYPE : PROM_TEXT_CONTENT_TYPE);
	evhttp_send_reply(req, 200, "OK", body);
	evbuffer_free(body);
}

static void on_other(struct evhttp_request *req, void *arg)
{
	(void)arg;
	evhttp_send_error(req, 404, "try /metrics");
}

#define EXPORT_MAX_PARAMS 8

/* "tcp-latency:port=8080:comm=nginx" -> the probe name (spec cut at the first ':') and
 * its parameters, as an Attach would carry them; values point into spec. */
static int export_params(char *spec, Tracectl__Param *params, Tracectl__Param **ptrs, size_t *n, char *err,
			 size_t errlen)
{
	char *save = NULL, *colon = strchr(spec, ':');

	*n = 0;
	if (!colon)
		return 0;
	*colon = '\0';
	for (char *kv = strtok_r(colon + 1, ":", &save); kv; kv = strtok_r(NULL, ":", &save)) {
		char *eq = strchr(kv, '=');

		if (!eq || *n == EXPORT_MAX_PARAMS) {
			snprintf(err, errlen, "--export %s: parameter '%s' is not KEY=VALUE (at most %d)", spec, kv,
				 EXPORT_MAX_PARAMS);
			return -EINVAL;
		}
		*eq = '\0';
		tracectl__param__init(&params[*n]);
		params[*n].name = kv;
		params[*n].value = eq + 1;
		ptrs[*n] = &params[*n];
		(*n)++;
	}
	return 0;
}

static int export_probe(struct exporter *e, char *spec, char *err, size_t errlen)
{
	Tracectl__Param param_msgs[EXPORT_MAX_PARAMS], *param_ptrs[EXPORT_MAX_PARAMS];
	const struct probe_desc *p;
	const char *name = spec;
	struct exported *x;
	size_t nparams;
	char why[256];

	if (export_params(spec, param_msgs, param_ptrs, &nparams, err, errlen))
		return -EINVAL;
	p = catalog_find(name);
	if (!p) {
		snprintf(err, errlen, "--export: unknown probe '%s'", name);
		return -EINVAL;
	}
	if (p->kind == PROBE_EVENTS) {
		snprintf(err, errlen, "--export: %s streams events; export histogram or count probes", name);
		return -EINVAL;
	}
	if (e->n == EXPORTER_MAX_PROBES) {
		snprintf(err, errlen, "--export: more than %d probes", EXPORTER_MAX_PROBES);
		return -E2BIG;
	}
	if (catalog_supported(p, why, sizeof(why))) {
		snprintf(err, errlen, "--export: %s: %s", name, why);
		return -EOPNOTSUPP;
	}
	x = &e->probes[e->n];
	memset(x, 0, sizeof(*x));
	x->probe = p;
	if (catalog_parse_params(p, param_ptrs, nparams, &x->params, why, sizeof(why)) ||
	    catalog_validate_params(p, &x->params, why, sizeof(why))) {
		catalog_params_release(&x->params);
		snprintf(err, errlen, "--export: %s: bad or missing parameters: %s", name, why);
		return -EINVAL;
	}
	if (catalog_results_init(p, &x->params, &x->window, &x->total, EXPORTER_MAX_ROWS)) {
		catalog_params_release(&x->params);
		snprintf(err, errlen, "--export: %s: a table of %zu keys and %zu values", name, p->nkeys, p->nvalues);
		return -EINVAL;
	}
	e->n++; /* from here exporter_free undoes it */
	if (catalog_open(p, &x->params, &x->state, why, sizeof(why))) {
		snprintf(err, errlen, "--export: %s: %s", name, why);
		return -EIO;
	}
	log_info("metrics: %s attached for export", name);
	return 0;
}

int exporter_start(struct agent *agent, const char *listen, const char *probes, struct exporter **out, char *err,
		   size_t errlen)
{
	struct exporter *e = calloc(1, sizeof(*e));
	struct evhttp_bound_socket *bound = NULL;
	char host[256], list[1024], *save = NULL;
	uint16_t port;
	int ret = 0;

	*out = NULL;
	if (!e) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	e->agent = agent;
	if (hostport_parse(listen, host, sizeof(host), &port, 9464)) {
		snprintf(err, errlen, "bad --metrics address '%s' (expected HOST:PORT)", listen);
		ret = -EINVAL;
		goto fail;
	}
	snprintf(list, sizeof(list), "%s", probes ? probes : "");
	for (char *name = strtok_r(list, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
		ret = export_probe(e, name, err, errlen);
		if (ret)
			goto fail;
	}
	e->http = evhttp_new(agent->base);
	e->sweep = evtimer_new(agent->base, http_conns_sweep_cb, e);
	if (e->http && e->sweep)
		bound = evhttp_bind_socket_with_handle(e->http, host, port);
	if (!bound) {
		snprintf(err, errlen, "cannot serve metrics on %s: %s", listen, strerror(errno));
		ret = -EADDRINUSE;
		goto fail;
	}
	/* every method reaches the callbacks, which answer 405 or 404 (evhttp's own
	 * refusal of a method is 501) */
	evhttp_set_allowed_methods(e->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT |
						    EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE |
						    EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH);
	/* a header past the limit ends the connection (evhttp answers 431/413) */
	evhttp_set_max_headers_size(e->http, EXPORTER_MAX_HEADERS_BYTES);
	evhttp_set_max_body_size(e->http, EXPORTER_MAX_BODY_BYTES);
	e->listener = evhttp_bound_socket_get_listener(bound);
	evhttp_set_bevcb(e->http, http_conn_new, e);
	evhttp_set_cb(e->http, "/metrics", on_metrics, e);
	evhttp_set_gencb(e->http, on_other, e);
	evhttp_set_timeout(e->http, EXPORTER_TIMEOUT_S);
	log_info("metrics: serving http://%s:%u/metrics (%zu standing probe(s))", host, port, e->n);
	*out = e;
	return 0;
fail:
	exporter_free(&e);
	return ret;
}

void exporter_free(struct exporter **ep)
{
	struct exporter *e = *ep;

	if (!e)
		return;
	if (e->http)
		evhttp_free(e->http);
	http_conns_sweep(e); /* evhttp_free freed every connection */
	if (e->sweep)
		event_free(e->sweep);
	for (size_t i = 0; i < e->n; i++) {
		struct exported *x = &e->probes[i];

		catalog_close(&x->state);
		catalog_params_release(&x->params);
		result_free(&x->window);
		result_free(&x->total);
	}
	free(e);
	*ep = NULL;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* Authorization: parses the policy file and decides each Attach before anything is loaded. */
#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509v3.h>

#include "duration.h"
#include "line_reader.h"
#include "policy.h"

#define POLICY_MAX_FILE (1u << 20)
#define POLICY_MAX_SECTIONS 1024
#define POLICY_MAX_WORDS 4096
/* What kernel function names are made of (globs aside). */
#define KFUNC_GLOB_CHARS "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_."

static const char default_text[] =
	"# Built-in policy, used when tracectl-agent runs without --policy.\n"
	"# Any client with a certificate from the fleet CA may use the histogram and count\n"
	"# probes. Event probes (exec, open, tcp-life: paths, argv, addresses of every\n"
	"# process), user-space function probes (func-count, func-latency: any binary on the\n"
	"# host), kernel-function probes (kfunc-count, kfunc-latency: any kernel function,\n"
	"# hit by every process), profile and offcpu (stacks of every process), tcp-top (connection\n"
	"# addresses) and file-top (file names) need an explicit grant in a policy file.\n"
	"[*]\n"
	"allow-kind histogram counts\n"
	"deny func-* kfunc-* profile offcpu tcp-top file-top\n";

const char *policy_default_text(void)
{
	return default_text;
}

void policy_init(struct policy *p)
{
	memset(p, 0, sizeof(*p));
}

static void words_free(struct policy_word **w, size_t *n)
{
	for (size_t i = 0; i < *n; i++)
		free((*w)[i].text);
	free(*w);
	*w = NULL;
	*n = 0;
}

void policy_free(struct policy *p)
{
	for (size_t i = 0; i < p->n; i++) {
		struct policy_section *s = &p->sections[i];

		free(s->id_pattern);
		free(s->header);
		words_free(&s->allow, &s->nallow);
		words_free(&s->deny, &s->ndeny);
		words_free(&s->prefixes, &s->nprefixes);
		words_free(&s->tp_categories, &s->ntp_categories);
		words_free(&s->kfuncs, &s->nkfuncs);
	}
	free(p->sections);
	free(p->name);
	policy_init(p);
}

static int add_word(struct policy_word **list, size_t *n, const char *text, unsigned line)
{
	struct policy_word *bigger;
	char *copy;

	if (*n >= POLICY_MAX_WORDS)
		return -E2BIG;
	copy = strdup(text);
	if (!copy)
		return -ENOMEM;
	bigger = realloc(*list, (*n + 1) * sizeof(**list));
	if (!bigger) {
		free(copy);
		return -ENOMEM;
	}
	*list = bigger;
	(*list)[*n].text = copy;
	(*list)[*n].line = line;
	(*n)++;
	return 0;
}

static int parse_u64(const char *text, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!isdigit((unsigned char)text[0]))
		return -EINVAL;
	errno = 0;
	v = strtoull(text, &end, 10);
	if (errno || *end || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static int parse_kind(const char *text, uint32_t *bits)
{
	if (strcmp(text, "histogram") == 0)
		*bits |= 1u << PROBE_HISTOGRAM;
	else if (strcmp(text, "counts") == 0)
		*bits |= 1u << PROBE_COUNTS;
	else if (strcmp(text, "events") == 0)
		*bits |= 1u << PROBE_EVENTS;
	else
		return -EINVAL;
	return 0;
}

/* "[...]" -> a new section. */
static int parse_header(struct policy *p, char *text, unsigned line, char *err, size_t errlen)
{
	size_t len = strlen(text);
	struct policy_section *s, *bigger;
	char *inner, *pattern;
	enum policy_id_kind kind = POLICY_ID_CN;

	if (len < 3 || text[len - 1] != ']') {
		snprintf(err, errlen, "%s:%u: section header '%.64s' must be [*], [cn:GLOB], [dns:GLOB] or [email:GLOB]",
			 p->name, line, text);
		return -EINVAL;
	}
	if (p->n >= POLICY_MAX_SECTIONS) {
		snprintf(err, errlen, "%s:%u: more than %d sections", p->name, line, POLICY_MAX_SECTIONS);
		return -E2BIG;
	}
	text[len - 1] = '\0';
	inner = text + 1;
	pattern = inner;
	if (strcmp(inner, "*") == 0) {
		kind = POLICY_ID_ANY;
	} else if (strncmp(inner, "cn:", 3) == 0) {
		pattern = inner + 3;
	} else if (strncmp(inner, "dns:", 4) == 0) {
		kind = POLICY_ID_DNS;
		pattern = inner + 4;
	} else if (strncmp(inner, "email:", 6) == 0) {
		kind = POLICY_ID_EMAIL;
		pattern = inner + 6;
	} else if (strchr(inner, ':')) {
		snprintf(err, errlen, "%s:%u: unknown identity kind in '[%.64s]' (want cn:, dns: or email:)", p->name,
			 line, inner);
		return -EINVAL;
	}
	if (kind != POLICY_ID_ANY && (!*pattern || strlen(pattern) >= POLICY_NAME_LEN)) {
		snprintf(err, errlen, "%s:%u: identity pattern in '[%.64s]' must be 1..%d bytes", p->name, line, inner,
			 POLICY_NAME_LEN - 1);
		return -EINVAL;
	}
	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 8;

		bigger = realloc(p->sections, cap * sizeof(*bigger));
		if (!bigger)
			goto nomem;
		p->sections = bigger;
		p->cap = cap;
	}
	s = &p->sections[p->n];
	memset(s, 0, sizeof(*s));
	s->id_kind = kind;
	s->line = line;
	s->freq_max = UINT32_MAX;
	s->header = malloc(strlen(inner) + 3);
	s->id_pattern = kind == POLICY_ID_ANY ? NULL : strdup(pattern);
	if (!s->header || (kind != POLICY_ID_ANY && !s->id_pattern)) {
		free(s->header);
		free(s->id_pattern);
		goto nomem;
	}
	sprintf(s->header, "[%s]", inner);
	p->n++;
	return 0;
nomem:
	snprintf(err, errlen, "%s:%u: out of memory", p->name, line);
	return -ENOMEM;
}

/* Sets a single-valued limit once; a second setting is an error naming the first. */
static int once(const struct policy *p, unsigned *seen, unsigned line, const char *key, char *err, size_t errlen)
{
	if (*seen) {
		snprintf(err, errlen, "%s:%u: '%s' given twice in this section (first at line %u)", p->name, line, key,
			 *seen);
		return -EINVAL;
	}
	*seen = line;
	return 0;
}

/* One directive's words (w[0] its name, n >= 2) in the section being read; -EINVAL with
 * err set, or add_word's -E2BIG / -ENOMEM for the caller to name. */
typedef int directive_fn(struct policy *p, struct policy_section *s, char **w, size_t n, unsigned line, char *err,
			 size_t errlen);

static int directive_allow_deny(struct policy *p, struct policy_section *s, char **w, size_t n, unsigned line,
				char *err, size_t errlen)
{
	bool allow = w[0][0] == 'a';
	int ret = 0;

	(void)p;
	(void)err;
	(void)errlen;
	for (size_t i = 1; i < n && !ret; i++)
		ret = allow ? add_word(&s->allow, &s->nallow, w[i], line) : add_word(&s->deny, &s->ndeny, w[i], line);
	return ret;
}

static int directive_allow_kind(struct policy *p, struct policy_section *s, char **w, size_t n, unsigned line,
				char *err, size_t errlen)
{
	for (size_t i = 1; i < n; i++) {
		if (parse_kind(w[i], &s->allow_kinds)) {
			snprintf(err, errlen, "%s:%u: unknown probe kind '%.32s' (want histogram, counts or events)",
				 p->name, line, w[i]);
			return -EINVAL;
		}
	}
	s->allow_kinds_line = line;
	return 0;
}

static int directive_target_prefix(struct policy *p, struct policy_section *s, char **w, size_t n, unsigned line,
				   char *err, size_t errlen)
{
	int ret = 0;

	for (size_t i = 1; i < n && !ret; i++) {
		if (w[i][0] != '/' || strstr(w[i], "/../") || strlen(w[i]) >= PROBE_TARGET_LEN) {
			snprintf(err, errlen, "%s:%u: target-prefix '%.64s' must be an absolute path without '..'",
				 p->name, line, w[i]);
			return -EINVAL;
		}
		ret = add_word(&s->prefixes, &s->nprefixes, w[i], line);
	}
	return ret;
}

/* which tracefs categories tp-count may count ("sched", "tcp", "sock*") */
static int directive_tp_categories(struct policy *p, struct policy_section *s, char **w, size_t n, unsigned line,
				   char *err, size_t errlen)
{
	int ret = 0;

	for (size_t i = 1; i < n && !ret; i++) {
		if (strchr(w[i], ':') || strchr(w[i], '/')) {
			snprintf(err, errlen, "%s:%u: tracepoint-categories takes category names or globs "
					      "('sched', 'net*'), not '%.64s'",
				 p->name, line, w[i]);
			return -EINVAL;
		}
		ret = add_word(&s->tp_categories, &s->ntp_categories, w[i], line);
	}
	return ret;
}

/* which kernel functions kfunc-* may probe: '*' globs only, so that a request's glob
 * can be judged by matching it as text (kernel_functions_allowed) */
static int directive_kernel_functions(struct policy *p, struct policy_section *s, char **w, size_t n,
				      unsigned line, char *err, size_t errlen)
{
	int ret = 0;

	for (size_t i = 1; i < n && !ret; i++) {
		if (strspn(w[i], KFUNC_GLOB_CHARS "*") != strlen(w[i])) {
			snprintf(err, errlen, "%s:%u: kernel-functions takes function names or '*' globs "
					      "('tcp_*', 'vfs_read'), not '%.64s'",
				 p->name, line, w[i]);
			return -EINVAL;
		}
		ret = add_word(&s->kfuncs, &s->nkfuncs, w[i], line);
	}
	return ret;
}

static int directive_freq(struct policy *p, struct policy_section *s, char **w, size_t n, unsigned line, char *err,
			  size_t errlen)
{
	char *dots = strstr(w[1], "..");
	uint64_t lo, hi;

	if (n != 2 || !dots) {
		snprintf(err, errlen, "%s:%u: freq wants MIN..MAX in Hz, e.g. 1..99", p->name, line);
		return -EINVAL;
	}
	*dots = '\0';
	if (parse_u64(w[1], 1, UINT32_MAX, &lo) || parse_u64(dots + 2, lo, UINT32_MAX, &hi)) {
		*dots = '.';
		snprintf(err, errlen, "%s:%u: freq '%.32s' is not MIN..MAX with 1 <= MIN <= MAX", p->name, line, w[1]);
		return -EINVAL;
	}
	if (once(p, &s->freq_line, line, w[0], err, errlen))
		return -EINVAL;
	s->freq_min = (uint32_t)lo;
	s->freq_max = (uint32_t)hi;
	return 0;
}

/* max-sessions, max-event-rate */
static int directive_max_number(struct policy *p, struct policy_section *s, char **w, size_t n, unsigned line,
				char *err, size_t errlen)
{
	bool sessions = w[0][4] == 's';
	uint64_t v;

	if (n != 2 || parse_u64(w[1], 1, sessions ? 100000 : 100000000, &v)) {
		snprintf(err, errlen, "%s:%u: %s wants one number in 1..%u, got '%.32s'", p->name, line, w[0],
			 sessions ? 100000u : 100000000u, w[1]);
		return -EINVAL;
	}
	if (once(p, sessions ? &s->max_sessions_line : &s->max_event_rate_line, line, w[0], err, errlen))
		return -EINVAL;
	if (sessions)
		s->max_sessions = (uint32_t)v;
	else
		s->max_event_rate = v;
	return 0;
}

static int directive_max_duration(struct policy *p, struct policy_section *s, char **w, size_t n, unsigned line,
				  char *err, size_t errlen)
{
	uint64_t v;

	if (n != 2 || duration_parse(w[1], &v) || v == 0) {
		snprintf(err, errlen, "%s:%u: max-duration wants one duration like 10m, got '%.32s'", p->name, line,
			 w[1]);
		return -EINVAL;
	}
	if (once(p, &s->max_duration_line, line, w[0], err, errlen))
		return -EINVAL;
	s->max_duration_ns = v;
	return 0;
}

static const struct {
	const char *name;
	directive_fn *parse;
} directives[] = {
	{ "allow", directive_allow_deny },
	{ "deny", directive_allow_deny },
	{ "allow-kind", directive_allow_kind },
	{ "target-prefix", directive_target_prefix },
	{ "tracepoint-categories", directive_tp_categories },
	{ "kernel-functions", directive_kernel_functions },
	{ "freq", directive_freq },
	{ "max-sessions", directive_max_number },
	{ "max-event-rate", directive_max_number },
	{ "max-duration", directive_max_duration },
};

static int parse_directive(struct policy *p, char **w, size_t n, unsigned line, char *err, size_t errlen)
{
	struct policy_section *s = &p->sections[p->n - 1];
	directive_fn *parse = NULL;
	int ret;

	if (n < 2) {
		snprintf(err, errlen, "%s:%u: '%.32s' needs a value", p->name, line, w[0]);
		return -EINVAL;
	}
	for (size_t i = 0; i < sizeof(directives) / sizeof(directives[0]) && !parse; i++)
		if (strcmp(w[0], directives[i].name) == 0)
			parse = directives[i].parse;
	if (!parse) {
		snprintf(err, errlen,
			 "%s:%u: unknown directive '%.32s' (want allow, deny, allow-kind, target-prefix, "
			 "tracepoint-categories, kernel-functions, freq, max-sessions, max-duration or "
			 "max-event-rate)",
			 p->name, line, w[0]);
		return -EINVAL;
	}
	ret = parse(p, s, w, n, line, err, errlen);
	if (ret == -E2BIG)
		snprintf(err, errlen, "%s:%u: more than %d words in one list", p->name, line, POLICY_MAX_WORDS);
	else if (ret == -ENOMEM)
		snprintf(err, errlen, "%s:%u: out of memory", p->name, line);
	return ret;
}

int policy_parse(struct policy *p, const char *name, const char *text, size_t len, char *err, size_t errlen)
{
	char buf[POLICY_MAX_LINE];
	char *words[POLICY_MAX_LINE / 2], *line;
	struct line_reader r;
	size_t nwords;
	int ret;

	policy_free(p);
	p->name = strdup(name);
	if (!p->name) {
		snprintf(err, errlen, "%s: out of memory", name);
		return -ENOMEM;
	}
	line_reader_init(&r, name, text, len, buf, sizeof(buf));
	while ((ret = line_reader_next(&r, &line, err, errlen)) > 0) {
		if (line[0] == '[') {
			ret = parse_header(p, line, r.lineno, err, errlen);
			if (ret)
				goto fail;
			continue;
		}
		if (!p->n) {
			line_reader_error(&r, err, errlen, "'%.32s' outside a section (start one with [*] or [cn:NAME])",
					  line);
			ret = -EINVAL;
			goto fail;
		}
		nwords = line_split_words(line, words, sizeof(words) / sizeof(words[0]));
		ret = parse_directive(p, words, nwords, r.lineno, err, errlen);
		if (ret)
			goto fail;
	}
	if (ret)
		goto fail;
	if (!p->n) {
		snprintf(err, errlen, "%s: no sections: nobody could attach anything", name);
		ret = -EINVAL;
		goto fail;
	}
	return 0;
fail:
	policy_free(p);
	return ret;
}

int policy_load(struct policy *p, const char *path, char *err, size_t errlen)
{
	char *text;
	size_t len;
	int ret = line_file_read(path, POLICY_MAX_FILE, &text, &len);

	if (ret == -EFBIG)
		snprintf(err, errlen, "policy '%s' is larger than %u bytes", path, POLICY_MAX_FILE);
	else if (ret)
		snprintf(err, errlen, "cannot read policy '%s': %s", path, strerror(-ret));
	if (ret)
		return ret == -EFBIG ? -EINVAL : ret;
	ret = policy_parse(p, path, text, len, err, errlen);
	free(text);
	return ret;
}

int policy_load_default(struct policy *p, char *err, size_t errlen)
{
	return policy_parse(p, "built-in default policy", default_text, sizeof(default_text) - 1, err, errlen);
}

static void copy_asn1(char *dst, size_t len, const ASN1_STRING *s)
{
	int n = ASN1_STRING_length(s);
	const unsigned char *data = ASN1_STRING_get0_data(s);

	/* names with embedded NULs or overlong ones are not matched at all */
	dst[0] = '\0';
	if (n <= 0 || (size_t)n >= len || memchr(data, '\0', (size_t)n))
		return;
	memcpy(dst, data, (size_t)n);
	dst[n] = '\0';
}

void policy_identity_from_cert(X509 *cert, struct policy_identity *id)
{
	GENERAL_NAMES *sans;
	X509_NAME *subject;
	int idx;

	memset(id, 0, sizeof(*id));
	if (!cert)
		return;
	subject = X509_get_subject_name(cert);
	idx = subject ? X509_NAME_get_index_by_NID(subject, NID_commonName, -1) : -1;
	if (idx >= 0)
		copy_asn1(id->cn, sizeof(id->cn), X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, idx)));
	sans = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	for (int i = 0; sans && i < sk_GENERAL_NAME_num(sans); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(sans, i);

		if (g->type == GEN_DNS && id->ndns < POLICY_MAX_SANS)
			copy_asn1(id->dns[id->ndns++], POLICY_NAME_LEN, g->d.dNSName);
		else if (g->type == GEN_EMAIL && id->nemail < POLICY_MAX_SANS)
			copy_asn1(id->email[id->nemail++], POLICY_NAME_LEN, g->d.rfc822Name);
	}
	GENERAL_NAMES_free(sans);
}

static bool glob_match(const char *pattern, const char *name)
{
	return name[0] && fnmatch(pattern, name, 0) == 0;
}

static bool section_matches(const struct policy_section *s, const struct policy_identity *id)
{
	switch (s->id_kind) {
	case POLICY_ID_ANY:
		return true;
	case POLICY_ID_CN:
		return glob_match(s->id_pattern, id->cn);
	case POLICY_ID_DNS:
		for (size_t i = 0; i < id->ndns; i++)
			if (glob_match(s->id_pattern, id->dns[i]))
				return true;
		return false;
	case POLICY_ID_EMAIL:
		for (size_t i = 0; i < id->nemail; i++)
			if (glob_match(s->id_pattern, id->email[i]))
				return true;
		return false;
	}
	return false;
}

const struct policy_section *policy_match(const struct policy *p, const struct policy_identity *id)
{
	for (size_t i = 0; i < p->n; i++)
		if (section_matches(&p->sections[i], id))
			return &p->sections[i];
	return NULL;
}

static const struct policy_word *find_word(const struct policy_word *w, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (fnmatch(w[i].text, name, 0) == 0)
			return &w[i];
	return NULL;
}

bool policy_grants(const struct policy *p, const struct policy_identity *id, const char *grant)
{
	const struct policy_section *s = policy_match(p, id);

	for (size_t i = 0; s && i < s->nallow; i++)
		if (strcmp(s->allow[i].text, grant) == 0)
			return true;
	return false;
}

/* CATEGORY:PATTERN: the category must be a plain name matching one of the section's globs */
static bool tp_category_allowed(const struct policy_section *s, const char *target)
{
	const char *colon = strchr(target, ':'), *glob = strpbrk(target, "*?[");
	char category[128];
	size_t n = colon ? (size_t)(colon - target) : strlen(target);

	if (n == 0 || n >= sizeof(category) || (glob && glob < target + n))
		return false;
	memcpy(category, target, n);
	category[n] = '\0';
	for (size_t i = 0; i < s->ntp_categories; i++)
		if (fnmatch(s->tp_categories[i].text, category, 0) == 0)
			return true;
	return false;
}

/*
 * A kernel function glob of a request (names and the globs * ?) against the section's
 * '*' globs: matched as text, a policy glob that matches the request's glob matches
 * every name that glob can match (its '*' absorb the request's '*' and '?', its other
 * characters only ever meet the request's literal ones).
 */
static bool kernel_functions_allowed(const struct policy_section *s, const char *target)
{
	if (strspn(target, KFUNC_GLOB_CHARS "*?") != strlen(target))
		return false;
	for (size_t i = 0; i < s->nkfuncs; i++)
		if (fnmatch(s->kfuncs[i].text, target, 0) == 0)
			return true;
	return false;
}

/* A path lies under a prefix: "/opt/app" allows /opt/app and /opt/app/..., not /opt/application. */
static const struct policy_word *prefix_of(const struct policy_section *s, const char *path)
{
	for (size_t i = 0; i < s->nprefixes; i++) {
		const char *prefix = s->prefixes[i].text;
		size_t plen = strlen(prefix);

		if (strncmp(path, prefix, plen) != 0)
			continue;
		if (prefix[plen - 1] == '/' || path[plen] == '\0' || path[plen] == '/')
			return &s->prefixes[i];
	}
	return NULL;
}

/*
 * The binary of "BINARY:PATTERN" (split at the last ':') as written, without
 * looking at the file system (decisions come before any file is touched): it
 * must lie under a prefix and have no "." or ".." component. The file it names
 * is checked again once opened (policy_check_target_file).
 */
static bool target_as_sent_allowed(const struct policy_section *s, const char *target)
{
	char binary[PROBE_TARGET_LEN];
	const char *colon = strrchr(target, ':');
	size_t n = colon ? (size_t)(colon - target) : strlen(target);

	if (n == 0 || n >= sizeof(binary))
		return false;
	memcpy(binary, target, n);
	binary[n] = '\0';
	for (const char *c = binary; (c = strchr(c, '/')); c++) {
		size_t len = strcspn(c + 1, "/");

		if ((len == 1 && c[1] == '.') || (len == 2 && c[1] == '.' && c[2] == '.'))
			return false;
	}
	return prefix_of(s, binary) != NULL;
}

static void deny(struct policy_decision *out, const struct policy *p, unsigned line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void deny(struct policy_decision *out, const struct policy *p, unsigned line, const char *fmt, ...)
{
	char why[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	out->allowed = false;
	if (line)
		snprintf(out->rule, sizeof(out->rule), "%s:%u", p->name, line);
	else
		snprintf(out->rule, sizeof(out->rule), "%s", p->name);
	snprintf(out->message, sizeof(out->message), "denied by policy %s: %s", out->rule, why);
}

void policy_check(const struct policy *p, const struct policy_identity *id, const struct policy_request *req,
		  struct policy_decision *out)
{
	const struct policy_section *s = policy_match(p, id);
	const struct probe_desc *probe = req->probe;
	const struct probe_params *params = req->params;
	const struct policy_word *w;
	char a[32], b[32];

	memset(out, 0, sizeof(*out));
	out->section = s;
	if (!s) {
		deny(out, p, 0, "no section matches client CN '%.64s' (add a [cn:...] or [*] section)", id->cn);
		return;
	}
	w = find_word(s->deny, s->ndeny, probe->name);
	if (w) {
		deny(out, p, w->line, "%s denies probe %s ('deny %s')", s->header, probe->name, w->text);
		return;
	}
	w = find_word(s->allow, s->nallow, probe->name);
	if (!w && !(s->allow_kinds & (1u << probe->kind))) {
		deny(out, p, s->line, "%s does not allow probe %s (%s probes need 'allow %s' or 'allow-kind %s')",
		     s->header, probe->name, result_kind_name((enum result_kind)probe->kind), probe->name, result_kind_name((enum result_kind)probe->kind));
		return;
	}
	/* each kind of target has its own restriction */
	if (params->target[0] && probe->target_kind == PROBE_TARGET_TRACEPOINT && s->ntp_categories &&
	    !tp_category_allowed(s, params->target)) {
		deny(out, p, s->tp_categories[0].line,
		     "%s: tracepoints '%.200s' are outside tracepoint-categories (name one category the policy allows)",
		     s->header, params->target);
		return;
	}
	if (params->target[0] && probe->target_kind == PROBE_TARGET_KERNEL_FUNCTION && s->nkfuncs &&
	    !kernel_functions_allowed(s, params->target)) {
		deny(out, p, s->kfuncs[0].line,
		     "%s: kernel functions '%.200s' are outside kernel-functions (name functions, or a glob, "
		     "that one of its globs covers)", s->header, params->target);
		return;
	}
	if (params->target[0] && probe->target_kind == PROBE_TARGET_BINARY && s->nprefixes &&
	    !target_as_sent_allowed(s, params->target)) {
		deny(out, p, s->prefixes[0].line, "%s: target '%.200s' is outside every target-prefix "
		     "(name the binary by a path under one, without '.' or '..')", s->header, params->target);
		return;
	}
	if (params->freq_hz && s->freq_line && (params->freq_hz < s->freq_min || params->freq_hz > s->freq_max)) {
		deny(out, p, s->freq_line, "%s: freq %u Hz is outside %u..%u", s->header, params->freq_hz, s->freq_min,
		     s->freq_max);
		return;
	}
	if (s->max_duration_ns && (req->duration_ns == 0 || req->duration_ns > s->max_duration_ns)) {
		deny(out, p, s->max_duration_line, "%s: duration %s exceeds max-duration %s", s->header,
		     req->duration_ns ? duration_format(req->duration_ns, a, sizeof(a)) : "unlimited",
		     duration_format(s->max_duration_ns, b, sizeof(b)));
		return;
	}
	if (s->max_sessions && req->identity_sessions >= s->max_sessions) {
		deny(out, p, s->max_sessions_line, "%s: '%.64s' already has %u session(s), max-sessions is %u", s->header,
		     id->cn, req->identity_sessions, s->max_sessions);
		return;
	}
	out->allowed = true;
	snprintf(out->rule, sizeof(out->rule), "%s:%u", p->name, w ? w->line : s->allow_kinds_line);
	out->max_event_rate = probe->kind == PROBE_EVENTS ? s->max_event_rate : 0;
}

void policy_check_target_file(const struct policy *p, const char *resolved, uint64_t ino, struct policy_decision *d)
{
	const struct policy_section *s = d->section;

	if (!d->allowed || !s || !s->nprefixes || prefix_of(s, resolved))
		return;
	deny(d, p, s->prefixes[0].line, "%s: the target binary opened is '%.200s' (inode %llu), outside every "
	     "target-prefix", s->header, resolved, (unsigned long long)ino);
}

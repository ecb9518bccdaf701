/* SPDX-License-Identifier: Apache-2.0 */
/* Authorization: which client identity may attach which probe, with which parameters and limits. */
#ifndef TRACECTL_POLICY_H
#define TRACECTL_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "catalog.h"

/*
 * The file format is documented in docs/POLICY.md (and deploy/policy.example):
 * sections "[*]", "[cn:GLOB]", "[dns:GLOB]", "[email:GLOB]" (a bare "[GLOB]" is a CN),
 * each followed by directives; the first section matching a client applies.
 */

#define POLICY_MAX_SANS 8
#define POLICY_NAME_LEN 128
#define POLICY_MAX_LINE 4096

/* A client as its certificate names it. */
struct policy_identity {
	char cn[POLICY_NAME_LEN];
	size_t ndns, nemail;
	char dns[POLICY_MAX_SANS][POLICY_NAME_LEN];
	char email[POLICY_MAX_SANS][POLICY_NAME_LEN];
};

enum policy_id_kind {
	POLICY_ID_ANY,   /* [*]: any client with a certificate from the CA */
	POLICY_ID_CN,    /* [cn:GLOB] or [GLOB] */
	POLICY_ID_DNS,   /* [dns:GLOB]: a subjectAltName DNS entry */
	POLICY_ID_EMAIL, /* [email:GLOB]: a subjectAltName email entry */
};

/* A word of a directive and the line it came from (rules are named by line). */
struct policy_word {
	char *text;
	unsigned line;
};

struct policy_section {
	enum policy_id_kind id_kind;
	char *id_pattern; /* NULL for [*] */
	char *header;     /* as written, e.g. "[cn:ci-*]" */
	unsigned line;
	struct policy_word *allow, *deny, *prefixes, *tp_categories, *kfuncs;
	size_t nallow, ndeny, nprefixes, ntp_categories, nkfuncs;
	uint32_t allow_kinds; /* bit (1 << enum probe_kind) */
	unsigned allow_kinds_line;
	uint32_t freq_min, freq_max;
	unsigned freq_line;
	uint32_t max_sessions; /* 0: no limit of its own */
	unsigned max_sessions_line;
	uint64_t max_duration_ns; /* 0: no limit of its own */
	unsigned max_duration_line;
	uint64_t max_event_rate; /* events per second per session; 0: no limit */
	unsigned max_event_rate_line;
};

struct policy {
	char *name; /* file name, for "FILE:LINE" in errors and denials */
	struct policy_section *sections;
	size_t n, cap;
};

/* What is asked, with what the agent already knows about it. */
struct policy_request {
	const struct probe_desc *probe;
	const struct probe_params *params; /* validated by catalog_parse_params */
	uint64_t duration_ns;              /* 0: until cancelled */
	uint32_t identity_sessions;        /* sessions this identity already has */
};

struct policy_decision {
	bool allowed;
	char rule[POLICY_NAME_LEN + 32]; /* "FILE:LINE" of the deciding rule */
	char message[768];               /* for the client when denied */
	const struct policy_section *section;
	uint64_t max_event_rate; /* to enforce in the session; 0: none */
};

void policy_init(struct policy *p);
void policy_free(struct policy *p);
/* Parses text (len bytes). Returns 0, or -EINVAL / -ENOMEM with err "NAME:LINE: reason". */
int policy_parse(struct policy *p, const char *name, const char *text, size_t len, char *err, size_t errlen);
/* Reads and parses the file at path. */
int policy_load(struct policy *p, const char *path, char *err, size_t errlen);
/* The policy used without --policy (its text is policy_default_text()). */
int policy_load_default(struct policy *p, char *err, size_t errlen);
const char *policy_default_text(void);

/* Fills id from a verified client certificate: subject CN, SAN DNS and email entries. */
void policy_identity_from_cert(X509 *cert, struct policy_identity *id);
/* The first section whose identity matches, or NULL. */
const struct policy_section *policy_match(const struct policy *p, const struct policy_identity *id);
/* "allow status-all": Status lists every client's sessions, not only the caller's own. */
#define POLICY_GRANT_STATUS_ALL "status-all"
/* True when the section matching id has "allow GRANT", written out (a probe glob
 * such as "allow *" grants no such right). */
bool policy_grants(const struct policy *p, const struct policy_identity *id, const char *grant);

/*
 * Decides req for id from the request alone (no file is looked at); always
 * fills out (message says why when denied). A target binary is judged by the
 * path as sent; once opened, policy_check_target_file judges the file.
 */
void policy_check(const struct policy *p, const struct policy_identity *id, const struct policy_request *req,
		  struct policy_decision *out);
/* Turns an allowed decision into a denial when the opened target binary, at its
 * resolved path, lies outside the section's target-prefix. */
void policy_check_target_file(const struct policy *p, const char *resolved, uint64_t ino, struct policy_decision *d);

#endif

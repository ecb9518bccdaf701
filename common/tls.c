/* SPDX-License-Identifier: Apache-2.0 */
/* Mutual TLS 1.3 contexts for the agent and the CLI, and OpenSSL error text. */
#include <stdio.h>
#include <string.h>

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "tls.h"

const char *tls_drain_errors(char *buf, size_t len)
{
	unsigned long code, first = 0;

	/* ERR_get_error pops oldest first; the first one is usually the root cause */
	while ((code = ERR_get_error()) != 0)
		if (!first)
			first = code;
	if (first)
		ERR_error_string_n(first, buf, len);
	else
		snprintf(buf, len, "no OpenSSL error recorded");
	return buf;
}

static SSL_CTX *ctx_new(const SSL_METHOD *method, const char *ca, const char *cert, const char *key,
			char *err, size_t errlen)
{
	char reason[256];
	SSL_CTX *ctx = SSL_CTX_new(method);

	if (!ctx) {
		snprintf(err, errlen, "creating TLS context: %s", tls_drain_errors(reason, sizeof(reason)));
		return NULL;
	}
	if (!SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) ||
	    !SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION)) {
		snprintf(err, errlen, "TLS 1.3 unavailable: %s", tls_drain_errors(reason, sizeof(reason)));
		goto fail;
	}
	if (SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1) {
		snprintf(err, errlen, "loading CA certificate '%s': %s", ca, tls_drain_errors(reason, sizeof(reason)));
		goto fail;
	}
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		snprintf(err, errlen, "loading certificate '%s': %s", cert, tls_drain_errors(reason, sizeof(reason)));
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
		snprintf(err, errlen, "loading private key '%s': %s", key, tls_drain_errors(reason, sizeof(reason)));
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		snprintf(err, errlen, "private key '%s' does not match certificate '%s'", key, cert);
		tls_drain_errors(reason, sizeof(reason));
		goto fail;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	SSL_CTX_set_verify_depth(ctx, 4);
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

SSL_CTX *tls_server_ctx_new(const char *ca, const char *cert, const char *key, char *err, size_t errlen)
{
	SSL_CTX *ctx = ctx_new(TLS_server_method(), ca, cert, key, err, errlen);
	STACK_OF(X509_NAME) *names;

	if (!ctx)
		return NULL;
	/* tell clients which CA we accept, so they pick the right certificate */
	names = SSL_load_client_CA_file(ca);
	if (names)
		SSL_CTX_set_client_CA_list(ctx, names);
	ERR_clear_error();
	/* a client certificate must be marked for client authentication */
	SSL_CTX_set_purpose(ctx, X509_PURPOSE_SSL_CLIENT);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_num_tickets(ctx, 0);
	return ctx;
}

SSL_CTX *tls_client_ctx_new(const char *ca, const char *cert, const char *key, char *err, size_t errlen)
{
	SSL_CTX *ctx = ctx_new(TLS_client_method(), ca, cert, key, err, errlen);

	if (!ctx)
		return NULL;
	SSL_CTX_set_purpose(ctx, X509_PURPOSE_SSL_SERVER);
	/* a connection idle between windows holds no 2 x 17 KB record buffers: a controller
	 * of a thousand hosts saved ~34 MB (docs/BENCHMARKS.md, fan-out) */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	return ctx;
}

int tls_client_expect_host(SSL *ssl, const char *host)
{
	unsigned char addr[16];
	int is_ip = inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1;

	if (is_ip) {
		X509_VERIFY_PARAM *param = SSL_get0_param(ssl);

		return X509_VERIFY_PARAM_set1_ip_asc(param, host) == 1 ? 0 : -1;
	}
	if (SSL_set_tlsext_host_name(ssl, host) != 1)
		return -1;
	return SSL_set1_host(ssl, host) == 1 ? 0 : -1;
}

const char *tls_peer_identity(SSL *ssl, char *buf, size_t len)
{
	X509 *peer = SSL_get1_peer_certificate(ssl);

	snprintf(buf, len, "?");
	if (peer) {
		X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, buf, (int)len);
		X509_free(peer);
	}
	return buf;
}

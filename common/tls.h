/* SPDX-License-Identifier: Apache-2.0 */
/* Mutual TLS 1.3 contexts for the agent and the CLI, and OpenSSL error text. */
#ifndef TRACECTL_TLS_H
#define TRACECTL_TLS_H

#include <stddef.h>

#include <openssl/ssl.h>

/*
 * Both sides: TLS 1.3 only, peer certificate required and verified against ca.
 * Returns NULL with a reason naming the bad file in err.
 */
SSL_CTX *tls_server_ctx_new(const char *ca, const char *cert, const char *key, char *err, size_t errlen);
SSL_CTX *tls_client_ctx_new(const char *ca, const char *cert, const char *key, char *err, size_t errlen);
/* SNI plus host name (or IP address) verification of the agent's certificate. */
int tls_client_expect_host(SSL *ssl, const char *host);
/*
 * Drains the whole OpenSSL error queue (so one connection's error never
 * surfaces on another) into buf, most specific reason first. Returns buf.
 */
const char *tls_drain_errors(char *buf, size_t len);
/* The peer certificate's subject CN (or "?"), for logs and the audit trail. */
const char *tls_peer_identity(SSL *ssl, char *buf, size_t len);

#endif

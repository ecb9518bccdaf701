/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The TCP probes' send / receive hooks as hook variant rows (hook_variant.h). The
 * tracepoints sock:sock_send_length / sock_recv_length (6.3+) come first: they are the
 * kernel's stable interface and define the probes' semantics. Before 6.3 the same
 * events come from the return of inet(6)_sendmsg / inet(6)_recvmsg (the calls the
 * tracepoints wrap, see bpf/tcp_io_hooks.bpf.h): fexit, else kprobe + kretprobe.
 */
#ifndef TRACECTL_TCP_IO_VARIANTS_H
#define TRACECTL_TCP_IO_VARIANTS_H

#include <stddef.h>
#include <string.h>

#include "hook_variant.h"

#define TCP_IO_FEXIT_SEND_HOOK "fexit inet_sendmsg + inet6_sendmsg"
#define TCP_IO_KPROBE_SEND_HOOK "kprobe + kretprobe inet_sendmsg + inet6_sendmsg"
#define TCP_IO_FEXIT_HOOK "fexit inet_sendmsg + inet6_sendmsg + inet_recvmsg + inet6_recvmsg"
#define TCP_IO_KPROBE_HOOK "kprobe + kretprobe inet_sendmsg + inet6_sendmsg + inet_recvmsg + inet6_recvmsg"

/* Programs (NULL-terminated) of the send hooks only, and of send and receive. */
extern const char *const tcp_io_fexit_send_programs[];
extern const char *const tcp_io_kprobe_send_programs[];
extern const char *const tcp_io_fexit_programs[];
extern const char *const tcp_io_kprobe_programs[];
/* The kprobe rows' own maps (the call in flight per thread). */
extern const char *const tcp_io_kprobe_send_maps[];
extern const char *const tcp_io_kprobe_maps[];

/* The pid / comm / port filters of a TCP probe's rodata, fixed at load. */
#define TCP_IO_SET_FILTERS(rodata, params)                                                                    \
	do {                                                                                                  \
		(rodata)->targ_tgid = (params)->pid;                                                          \
		memset((char *)(rodata)->targ_comm, 0, sizeof((rodata)->targ_comm));                          \
		memcpy((char *)(rodata)->targ_comm, (params)->comm,                                           \
		       strnlen((params)->comm, sizeof((rodata)->targ_comm) - 1));                             \
		(rodata)->targ_port = (params)->port;                                                         \
	} while (0)

/*
 * For a row hooking the tracepoints themselves ("tp_btf", "tracepoint"): 0 when this
 * kernel has all of them, else -EOPNOTSUPP and "kernel has no tracepoint ..." in err
 * (more telling than the attach error, and cheaper than a load). 0 for other rows.
 */
int tcp_io_check_row(const struct hook_variant *row, const char *const *tracepoints, const char *const *btf_types,
		     size_t n, char *err, size_t errlen);

#endif

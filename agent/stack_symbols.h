/* SPDX-License-Identifier: Apache-2.0 */
/* Names for sampled stack addresses: kernel via /proc/kallsyms, user via /proc/PID/maps + ELF symbols. */
#ifndef TRACECTL_STACK_SYMBOLS_H
#define TRACECTL_STACK_SYMBOLS_H

#include <stddef.h>
#include <stdint.h>

/* Kernel text symbols, sorted by address; loaded once per profile session. */
struct ksyms;
/* NULL with errno set and a reason in err. */
struct ksyms *ksyms_load(char *err, size_t errlen);
void ksyms_free(struct ksyms **ks);
/* The kernel function containing addr, or NULL. */
const char *ksyms_lookup(const struct ksyms *ks, uint64_t addr);

/*
 * User-space symbolizer: ELF symbol tables cached for the life of the object per
 * mapped file (device and inode) and per build-id (copies of one binary, as in
 * identical containers, are parsed once), process maps read once per pass (they
 * change: dlopen, exec), so call usyms_new_pass() before each batch of stacks.
 */
struct usyms;
struct usyms *usyms_new(void);
void usyms_free(struct usyms **us);
void usyms_new_pass(struct usyms *us);
/*
 * Writes the name of the user address ip of process tgid into buf: the function,
 * else "[unknown: stripped FILE+0xOFFSET]" when the file has neither .symtab nor
 * MiniDebugInfo, "[unknown: unreadable FILE+0xOFFSET]" when it could not be opened
 * or parsed, "[FILE+0xOFFSET]" for code between its functions (PLT); "[vdso]" and
 * the like for special mappings, "[unknown]" when the process or mapping is gone.
 */
void usyms_name(struct usyms *us, uint32_t tgid, uint64_t ip, char *buf, size_t len);

/* Since the agent started, over all symbolizers: files whose symbol table was parsed,
 * and files that found theirs already parsed for another file with their build-id. */
struct usyms_stats {
	uint64_t parses, build_id_hits;
};
void usyms_stats_get(struct usyms_stats *out);

/*
 * Opens for reading the regular file at path (as /proc/PID/maps names it) inside
 * the root directory of process tgid, following no symlink at any component: the
 * path is the traced process's to choose, and must not lead root elsewhere.
 * Returns a descriptor or -errno (-ELOOP: a symlink; -EINVAL: not a regular file).
 * The fallback when /proc/PID/map_files cannot open a mapping.
 */
int usyms_open_in_root(uint32_t tgid, const char *path);
/* The same walk without openat2 (ENOSYS), an O_PATH descriptor under rootfd or -errno. */
int usyms_open_beneath_nofollow(int rootfd, const char *path);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/* Labelled histograms ("disk=vda op=read"): find-or-add by label, merge by label. */
#ifndef TRACECTL_HIST_SET_H
#define TRACECTL_HIST_SET_H

#include <stddef.h>

#include "hist.h"

#define HIST_SET_MAX 256
#define HIST_LABEL_LEN 96

struct hist_set {
	size_t n, cap;
	char (*labels)[HIST_LABEL_LEN];
	struct hist **hists; /* owned; kept across hist_set_clear for reuse */
};

void hist_set_init(struct hist_set *s);
/* The histogram labelled label, added empty if new. NULL when the set holds
 * HIST_SET_MAX labels already (the caller counts that) or out of memory. */
struct hist *hist_set_get(struct hist_set *s, const char *label);
const struct hist *hist_set_find(const struct hist_set *s, const char *label);
/* dst += src, label by label. 0 or -ENOSPC when dst fills up. */
int hist_set_merge(struct hist_set *dst, const struct hist_set *src);
/* Forgets every label (memory is kept for the next window). */
void hist_set_clear(struct hist_set *s);
void hist_set_free(struct hist_set *s);

#endif

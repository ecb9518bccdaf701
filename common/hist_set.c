/* SPDX-License-Identifier: Apache-2.0 */
/* Labelled histograms ("disk=vda op=read"): find-or-add by label, merge by label. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hist_set.h"

void hist_set_init(struct hist_set *s)
{
	memset(s, 0, sizeof(*s));
}

const struct hist *hist_set_find(const struct hist_set *s, const char *label)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->labels[i], label) == 0)
			return s->hists[i];
	return NULL;
}

struct hist *hist_set_get(struct hist_set *s, const char *label)
{
	struct hist *h = (struct hist *)hist_set_find(s, label);

	if (h)
		return h;
	if (s->n == HIST_SET_MAX)
		return NULL;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 4;
		void *labels = realloc(s->labels, cap * sizeof(*s->labels));
		void *hists;

		if (!labels)
			return NULL;
		s->labels = labels;
		hists = realloc(s->hists, cap * sizeof(*s->hists));
		if (!hists)
			return NULL;
		s->hists = hists;
		memset(s->hists + s->cap, 0, (cap - s->cap) * sizeof(*s->hists));
		s->cap = cap;
	}
	if (!s->hists[s->n]) {
		s->hists[s->n] = malloc(sizeof(struct hist));
		if (!s->hists[s->n])
			return NULL;
	}
	h = s->hists[s->n];
	hist_reset(h);
	snprintf(s->labels[s->n], HIST_LABEL_LEN, "%s", label);
	s->n++;
	return h;
}

int hist_set_merge(struct hist_set *dst, const struct hist_set *src)
{
	for (size_t i = 0; i < src->n; i++) {
		struct hist *h = hist_set_get(dst, src->labels[i]);

		if (!h)
			return -ENOSPC;
		hist_merge(h, src->hists[i]);
	}
	return 0;
}

void hist_set_clear(struct hist_set *s)
{
	s->n = 0;
}

void hist_set_free(struct hist_set *s)
{
	for (size_t i = 0; i < s->cap; i++)
		free(s->hists[i]);
	free(s->hists);
	free(s->labels);
	hist_set_init(s);
}

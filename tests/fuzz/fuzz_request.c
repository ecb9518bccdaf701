/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: a Request decoded and validated as the agent does before loading anything. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "catalog.h"
#include "frame.h"
#include "policy.h"
#include "tracectl.pb-c.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct policy policy;
	static int loaded;
	Tracectl__Request *req;
	bool over_budget;
	char err[512];

	if (!loaded) {
		policy_init(&policy);
		if (policy_load_default(&policy, err, sizeof(err)))
			__builtin_trap();
		loaded = 1;
	}
	/* as the agent takes it: no larger than a request may be, unpacked within its budget */
	if (size > FRAME_MAX_REQUEST)
		return 0;
	req = (Tracectl__Request *)frame_unpack_bounded(&tracectl__request__descriptor, data, size,
							FRAME_MAX_REQUEST_UNPACKED, &over_budget);
	if (!req)
		return 0;
	if (req->call_case == TRACECTL__REQUEST__CALL_ATTACH) {
		const Tracectl__AttachRequest *a = req->attach;
		struct policy_identity id = { .cn = "fuzz" };

		/* against every catalog entry, not only the one named: all validation paths */
		for (size_t i = 0; i < catalog_size(); i++) {
			const struct probe_desc *probe = catalog_at(i);
			struct probe_params params;
			struct policy_request preq = { .probe = probe, .params = &params, .duration_ns = a->duration_ns };
			struct policy_decision decision;

			if (catalog_parse_params(probe, a->params, a->n_params, &params, err, sizeof(err)))
				continue;
			/* parsed strings stay terminated within their buffers */
			if (params.comm[sizeof(params.comm) - 1] || params.target[sizeof(params.target) - 1] ||
			    params.by[sizeof(params.by) - 1])
				__builtin_trap();
			policy_check(&policy, &id, &preq, &decision);
		}
		(void)catalog_find(a->probe);
	}
	tracectl__request__free_unpacked(req, NULL);
	return 0;
}

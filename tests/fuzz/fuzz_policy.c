/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: the policy file parser, and decisions under whatever it accepts. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "catalog.h"
#include "policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct policy p;
	char err[512];
	struct policy_identity id = { .cn = "ops-alice", .ndns = 1, .dns = { "job1.ci.example.com" } };
	struct probe_params params = { .freq_hz = 99, .target = "/usr/bin/true:main" };

	policy_init(&p);
	if (policy_parse(&p, "fuzz", (const char *)data, size, err, sizeof(err)) == 0) {
		for (size_t i = 0; i < catalog_size(); i++) {
			struct policy_request req = { .probe = catalog_at(i), .params = &params, .duration_ns = 1000000000ULL,
						      .identity_sessions = 1 };
			struct policy_decision d;

			policy_check(&p, &id, &req, &d);
			if (!d.allowed && !strstr(d.message, "denied by policy fuzz"))
				__builtin_trap();
		}
	} else if (!strstr(err, "fuzz")) {
		/* every error names the file */
		__builtin_trap();
	}
	policy_free(&p);
	return 0;
}

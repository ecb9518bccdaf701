#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The test command: builds a normal and an ASan/UBSan tree and runs every ctest suite in both,
# then a clang libFuzzer tree whose fuzz targets get a short bounded run each, then the
# probe tests inside Debian's 5.10, 6.1, 6.12 and 7.x kernels under QEMU (tests/vm).
#
# usage: tests/run.sh [normal|asan|fuzz|matrix]...   (default: all four)
# Works from any directory. Tests that need root or a kernel feature they cannot
# find exit 77 and show as "Not Run" (skipped) rather than failing.
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
root="$(pwd)"

suites=("$@")
[[ ${#suites[@]} -gt 0 ]] || suites=(normal asan fuzz matrix)

declare -A result flaky
failed=0

# run_suite NAME BUILD_DIR [cmake args...]
run_suite() {
	local name="$1" dir="$2"
	shift 2

	echo "=== [$name] configure $dir"
	if ! cmake -S "$root" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@"; then
		result[$name]="FAILED (configure)"
		return 1
	fi
	echo "=== [$name] build $dir"
	if ! cmake --build "$dir" -j2 ${BUILD_ARGS:-}; then
		result[$name]="FAILED (build)"
		return 1
	fi
	echo "=== [$name] ctest in $dir"
	# The tests that only check behaviour run two at a time first; then the tests that time
	# 20 ms sleeps to 5% (label "timed": probe ground truths, gate, numbers; RUN_SERIAL)
	# run one at a time, on a machine nothing else of ours loads. (Three at a time loaded
	# the 2 cores enough to hold a session's windows: e2e_output_escapes failed once.)
	# A suite with its own selection (CTEST_ARGS, e.g. the fuzz targets) runs as one phase.
	local phases=("-j2 -LE timed" "-L timed") failed_names="" phase ok=1
	[[ -z ${CTEST_ARGS:-} ]] || phases=("-j2")
	local failed_log="$dir/Testing/Temporary/LastTestsFailed.log"
	for phase in "${phases[@]}"; do
		rm -f "$failed_log"
		# shellcheck disable=SC2086 # the phase's and caller's arguments are word lists
		if ! ctest --test-dir "$dir" --output-on-failure $phase ${CTEST_ARGS:-}; then
			ok=0
			failed_names+=" $(cut -d: -f2 "$failed_log" 2>/dev/null | paste -sd' ')"
		fi
	done
	if [[ $ok == 1 ]]; then
		result[$name]="passed"
		return 0
	fi
	# The failed tests run once more, so one disturbed run on a shared machine shows
	# what it is: a test that passes only on the retry is flaky, named in the summary,
	# and more than one flaky test fails the suite. A real bug fails both runs; the
	# first failure's output stays in the log.
	local retried
	retried="$(xargs <<<"$failed_names")"
	echo "=== [$name] retrying the failed tests once: $retried"
	if [[ -z $retried ]] ||
		! ctest --test-dir "$dir" --output-on-failure -R "^($(tr ' ' '|' <<<"$retried"))\$" ${CTEST_ARGS:-}; then
		result[$name]="FAILED (tests; retried: ${retried:-none named})"
		return 1
	fi
	flaky[$name]="$retried"
	if [[ $(wc -w <<<"$retried") -gt 1 ]]; then
		result[$name]="FAILED (more than one test passed only on retry: $retried)"
		return 1
	fi
	result[$name]="passed, FLAKY: $retried passed only on retry"
	return 0
}

for suite in "${suites[@]}"; do
	case "$suite" in
	normal)
		run_suite normal "$root/build" -DTRACECTL_SANITIZE=OFF || failed=1
		;;
	asan)
		# abort_on_error: a finding fails the test even when the program would exit 0.
		ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
			UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
			run_suite asan "$root/build-asan" -DTRACECTL_SANITIZE=ON || failed=1
		;;
	fuzz)
		# libFuzzer needs clang; only the fuzz targets run here (the other tests ran above).
		if ! command -v clang >/dev/null; then
			result[fuzz]="skipped (no clang)"
			continue
		fi
		CC=clang CTEST_ARGS="-L fuzz" BUILD_ARGS="--target fuzz_all" \
			run_suite fuzz "$root/build-fuzz" -DTRACECTL_SANITIZE=OFF -DTRACECTL_FUZZ=ON || failed=1
		;;
	matrix)
		# The probe ground-truth tests again, inside Debian's kernels under QEMU
		# (tests/vm/matrix.py): needs the normal tree, root, qemu and the archive.
		if [[ ! -x "$root/build/agent/tracectl-agent" ]] &&
			! { cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTRACECTL_SANITIZE=OFF &&
				cmake --build "$root/build" -j2; }; then
			result[matrix]="FAILED (build)"
			failed=1
			continue
		fi
		echo "=== [matrix] kernels ${TRACECTL_VM_KERNELS:-5.10,6.1,6.12,7} under QEMU"
		"$root/tests/vm/matrix.py" --build "$root/build" --kernels "${TRACECTL_VM_KERNELS:-5.10,6.1,6.12,7}"
		# A gate: a test that fails twice in a guest fails the run (one that passes on its
		# retry is reported FLAKY and passes). TRACECTL_MATRIX_GATING=0 is the explicit
		# opt-out: the table and failures are printed, the run does not fail on them.
		case $? in
		0) result[matrix]="passed (each probe passed or is reported unsupported with its reason)" ;;
		77) result[matrix]="skipped (see above why)" ;;
		*)
			if [[ ${TRACECTL_MATRIX_GATING:-1} == 0 ]]; then
				result[matrix]="FAILED in some kernels (see the table above; not gating: TRACECTL_MATRIX_GATING=0)"
			else
				result[matrix]="FAILED"
				failed=1
			fi
			;;
		esac
		;;
	*)
		echo "tests/run.sh: unknown suite '$suite' (want normal, asan, fuzz or matrix)" >&2
		exit 2
		;;
	esac
done

echo
echo "=== summary"
for suite in "${suites[@]}"; do
	printf '  %-7s %s\n' "$suite" "${result[$suite]}"
done
for suite in "${!flaky[@]}"; do
	printf '  FLAKY (passed only on retry) in %s: %s\n' "$suite" "${flaky[$suite]}"
done
if [[ $failed -ne 0 ]]; then
	echo "=== FAILED"
	exit 1
fi
echo "=== all suites passed"

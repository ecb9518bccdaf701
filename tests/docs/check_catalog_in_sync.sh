#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# docs_catalog_in_sync: README's probe table and the man page's probe list are what the
# catalog says (catalog_docs writes them); a probe added, renamed or described anew fails
# here until the docs are regenerated with the command printed.
# usage: check_catalog_in_sync.sh CATALOG_DOCS SOURCE_DIR
gen=$1
src=$2
status=0
for pair in "readme README.md" "man docs/man/tracectl.1"; do
	mode=${pair%% *}
	file=${pair#* }
	out=$(mktemp)
	if ! "$gen" "$mode" "$src/$file" >"$out"; then
		echo "catalog_docs $mode $file failed"
		status=1
	elif ! diff -u "$src/$file" "$out"; then
		echo "$file differs from the catalog; regenerate it (from the source tree):"
		echo "  $gen $mode $file > $file.new && mv $file.new $file"
		status=1
	else
		echo "$file: in sync with the catalog"
	fi
	rm -f "$out"
done
exit $status

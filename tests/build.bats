#!/usr/bin/env bats
# build.bats - installation layout, pkg-config, man pages and scripts lint.
load helper

@test "make install honours DESTDIR; make uninstall removes it again" {
	# The build is configured for the default PREFIX; installing with another PREFIX
	# would reconfigure the build tree shared by the other tests (see the next test).
	run make -C "$TOP" -s BUILD="${ARXIV_BUILD#"$TOP"/}" install DESTDIR="$TMP/root"
	assert_success
	r="$TMP/root/usr/local"
	for p in "$ARXIV_BUILD"/bin/arxiv-*; do
		[ -x "$r/bin/${p##*/}" ] || { echo "missing ${p##*/}"; return 1; }
	done
	[ -f "$r/lib/libarxiv.so.1" ]
	[ -L "$r/lib/libarxiv.so" ]
	[ -f "$r/lib/libarxiv.a" ]
	[ -f "$r/include/arxiv.h" ]
	[ -f "$r/lib/pkgconfig/arxiv.pc" ]
	[ -f "$r/share/man/man7/arxiv.7" ]
	[ -f "$r/share/man/man3/libarxiv.3" ]
	[ -f "$r/share/man/man1/arxiv-map.1" ]
	[ -f "$r/share/arxiv/domains.tsv" ]
	[ -f "$r/share/arxiv/web/index.html" ]
	# an installed program finds its tables without ARXIV_DATADIR
	run sh -c "printf '%s\n' '{\"id\":\"1\",\"title\":\"t\",\"abstract\":\"a\",\"categories\":\"q-fin.CP\"}' |
		env -u ARXIV_DATADIR '$r/bin/arxiv-map' --map '$r/share/arxiv/domains.tsv'"
	assert_success
	assert_output_contains '"label":"Economics"'
	run make -C "$TOP" -s BUILD="${ARXIV_BUILD#"$TOP"/}" uninstall DESTDIR="$TMP/root"
	assert_success
	[ ! -e "$r/lib/libarxiv.so.1" ]
	[ ! -e "$r/include/arxiv.h" ]
	[ ! -e "$r/bin/arxiv-map" ]
}

@test "make install PREFIX=... installs under that prefix and compiles it in" {
	# A private copy of the tree, so the shared build stays configured as it is.
	cp -a "$TOP/Makefile" "$TOP/lib" "$TOP/bin" "$TOP/data" "$TOP/man" "$TOP/pipelines" .
	run make -s -j2 TORCH=0 BUILD=b PREFIX=/opt/ax install DESTDIR="$TMP/root"
	assert_success
	[ -x "$TMP/root/opt/ax/bin/arxiv-map" ]
	[ -f "$TMP/root/opt/ax/lib/libarxiv.so.1" ]
	[ -f "$TMP/root/opt/ax/share/arxiv/domains.tsv" ]
	[ -f "$TMP/root/opt/ax/share/man/man1/arxiv-map.1" ]
	grep -q '^prefix=/opt/ax$' "$TMP/root/opt/ax/lib/pkgconfig/arxiv.pc"
	# without data/ beside it the build tree is not a checkout: the compiled-in DATADIR
	rm -rf data
	run sh -c "env -u ARXIV_DATADIR b/bin/arxiv-map < /dev/null"
	assert_failure "arxiv-map: /opt/ax/share/arxiv/domains.tsv: No such file or directory"
}

@test "programs run from the build tree find data/ with ARXIV_DATADIR unset, from any directory" {
	case $ARXIV_BUILD in "$TOP"/*) ;; *) skip "ARXIV_BUILD=$ARXIV_BUILD is not inside the checkout" ;; esac
	fix=$TOP/tests/cases/arxiv-train
	mkdir elsewhere && cd elsewhere
	# arxiv-map: domains.tsv
	run sh -c "printf '%s\n' '{\"id\":\"1\",\"title\":\"t\",\"abstract\":\"a\",\"categories\":\"q-fin.CP\"}' |
		env -u ARXIV_DATADIR '$ARXIV_BUILD/bin/arxiv-map'"
	assert_success
	assert_output_contains '"label":"Economics"'
	# train and predict: the stop-word list
	env -u ARXIV_DATADIR "$ARXIV_BUILD/bin/arxiv-train" -j 1 -s 1 -o art "$fix/train.jsonl" "$fix/val.jsonl" 2> train.log ||
		{ cat train.log; return 1; }
	run env -u ARXIV_DATADIR "$ARXIV_BUILD/bin/arxiv-predict" -m art "$fix/abstracts.txt"
	assert_success
	[ "${#lines[@]}" -eq 3 ]
	[ "$(grep -c '^{"predicted_category":' <<<"$output")" -eq 3 ]
	# ARXIV_DATADIR still wins
	run env ARXIV_DATADIR="$TMP/nowhere" "$ARXIV_BUILD/bin/arxiv-map" < /dev/null
	assert_failure "arxiv-map: $TMP/nowhere/domains.tsv: No such file or directory"
}

@test "the shared library has the soname libarxiv.so.1 and exports only arxiv_ symbols" {
	run sh -c "objdump -p '$ARXIV_BUILD/lib/libarxiv.so.1' | awk '/SONAME/ {print \$2}'"
	assert_success "libarxiv.so.1"
	run sh -c "nm -D --defined-only '$ARXIV_BUILD/lib/libarxiv.so.1' | awk '\$2 ~ /[TDB]/ {print \$3}' | grep -v '^arxiv_' | grep -v '^_'"
	[ -z "$output" ] || { echo "unprefixed exports: $output"; return 1; }
}

@test "a C program builds against the installed library with pkg-config" {
	make -C "$TOP" -s BUILD="${ARXIV_BUILD#"$TOP"/}" install DESTDIR="$TMP/root" PREFIX=/usr/local >/dev/null
	pc="$TMP/root/usr/local/lib/pkgconfig"
	cat > demo.c <<'C'
#include <arxiv.h>
#include <string.h>
int main(void) {
	struct arxiv_buf b = {0};
	arxiv_buf_append(&b, "ok", 2);
	puts(b.data);
	arxiv_buf_free(&b);
	return strcmp(ARXIV_VERSION, "0.1.0") != 0;
}
C
	san=
	if nm -D "$ARXIV_BUILD/lib/libarxiv.so.1" | grep -q ' U __asan_'; then
		san="-fsanitize=address,undefined"	# a sanitizer build's library needs the runtime
	fi
	run sh -c "cc $san -o demo demo.c -I'$TMP/root/usr/local/include' \$(PKG_CONFIG_PATH='$pc' pkg-config --libs arxiv | sed 's|-L/usr/local/lib|-L$TMP/root/usr/local/lib|') && LD_LIBRARY_PATH='$TMP/root/usr/local/lib' ./demo"
	assert_success "ok"
}

@test "every man page is mandoc -Tlint clean" {
	command -v mandoc >/dev/null || skip "mandoc not installed"
	run mandoc -Tlint -W warning "$TOP"/man/man*/*.[1-9]
	assert_success ""
}

@test "every program has a man page" {
	for p in "$TOP"/bin/arxiv-*.c; do
		n=${p##*/}; n=${n%.c}
		ls "$TOP"/man/man[18]/"$n".[18] >/dev/null 2>&1 || { echo "no man page for $n"; return 1; }
	done
}

@test "shell scripts are shellcheck clean" {
	command -v shellcheck >/dev/null || skip "shellcheck not installed"
	run shellcheck -x -S warning "$TOP"/pipelines/*.sh "$TOP"/tests/run.sh "$TOP"/.ci/run
	assert_success ""
}

#!/usr/bin/env bats
# build.bats - installation layout, pkg-config, man pages and scripts lint.
load helper

@test "make install honours DESTDIR and PREFIX" {
	run make -C "$TOP" -s BUILD="${ARXIV_BUILD#"$TOP"/}" install DESTDIR="$TMP/root" PREFIX=/opt/ax
	assert_success
	for p in "$ARXIV_BUILD"/bin/arxiv-*; do
		[ -x "$TMP/root/opt/ax/bin/${p##*/}" ] || { echo "missing ${p##*/}"; return 1; }
	done
	[ -f "$TMP/root/opt/ax/lib/libarxiv.so.1" ]
	[ -L "$TMP/root/opt/ax/lib/libarxiv.so" ]
	[ -f "$TMP/root/opt/ax/lib/libarxiv.a" ]
	[ -f "$TMP/root/opt/ax/include/arxiv.h" ]
	[ -f "$TMP/root/opt/ax/lib/pkgconfig/arxiv.pc" ]
	[ -f "$TMP/root/opt/ax/share/man/man7/arxiv.7" ]
	[ -f "$TMP/root/opt/ax/share/man/man3/libarxiv.3" ]
	[ -f "$TMP/root/opt/ax/share/arxiv/domains.tsv" ]
	run make -C "$TOP" -s BUILD="${ARXIV_BUILD#"$TOP"/}" uninstall DESTDIR="$TMP/root" PREFIX=/opt/ax
	assert_success
	[ ! -e "$TMP/root/opt/ax/lib/libarxiv.so.1" ]
	[ ! -e "$TMP/root/opt/ax/include/arxiv.h" ]
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
	run sh -c "cc -o demo demo.c -I'$TMP/root/usr/local/include' \$(PKG_CONFIG_PATH='$pc' pkg-config --libs arxiv | sed 's|-L/usr/local/lib|-L$TMP/root/usr/local/lib|') && LD_LIBRARY_PATH='$TMP/root/usr/local/lib' ./demo"
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

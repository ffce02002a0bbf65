#!/usr/bin/env bats
# The PostgreSQL + pgvector backend against a real PostgreSQL 15 started here
# (tests/pg.bash): schema, COPY upsert, hostile titles, refusals, faults.
load helper
load pg

setup_file() { pg_start; }
teardown_file() { pg_stop; }

@test "pgstore unit test against a live PostgreSQL (hostile titles, NUL, upsert, refusal, search)" {
	need_pg
	pg_newdb unit
	ARXIV_TEST_PG_DSN="$PG_DSN" run "$ARXIV_BUILD/tests/test_pgstore"
	echo "$output"
	assert_success
	[[ "$output" != *"not ok"* ]]
	run pg_sql "SELECT count(*) FROM papers"
	assert_success 9
}

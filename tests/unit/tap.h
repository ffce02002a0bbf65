/*
 * tap.h - a minimal TAP producer for the C unit tests (one per library module).
 * Each CHECK is one TAP test point; tests/run.sh counts them with the bats ones.
 */
#ifndef TAP_H
#define TAP_H
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static int tap_n, tap_fail;

#define CHECK(cond, ...) do { \
	int c_ = (cond) ? 1 : 0; \
	tap_n++; \
	if (c_) { printf("ok %d - ", tap_n); } \
	else { tap_fail++; printf("not ok %d - ", tap_n); } \
	printf(__VA_ARGS__); printf("\n"); \
	if (!c_) printf("#   %s:%d: %s\n", __FILE__, __LINE__, #cond); \
} while (0)

#define CHECK_STR(got, want, ...) do { \
	const char *g_ = (got), *w_ = (want); \
	int ok_ = g_ && w_ && strcmp(g_, w_) == 0; \
	CHECK(ok_, __VA_ARGS__); \
	if (!ok_) printf("#   got  [%s]\n#   want [%s]\n", g_ ? g_ : "(null)", w_ ? w_ : "(null)"); \
} while (0)

#define CHECK_NEAR(got, want, tol, ...) do { \
	double g_ = (got), w_ = (want); \
	int ok_ = fabs(g_ - w_) <= (tol); \
	CHECK(ok_, __VA_ARGS__); \
	if (!ok_) printf("#   got %.9g want %.9g\n", g_, w_); \
} while (0)

/* The tests' random stream (xorshift64): deterministic, the same on every
 * machine; a test may seed tap_rng first. */
static uint64_t tap_rng __attribute__((unused)) = 0x9e3779b97f4a7c15ULL;

static inline uint32_t
tap_rnd(uint32_t n)
{
	tap_rng ^= tap_rng << 13;
	tap_rng ^= tap_rng >> 7;
	tap_rng ^= tap_rng << 17;
	return (uint32_t)(tap_rng % n);
}

static inline int
tap_done(void)
{
	printf("1..%d\n", tap_n);
	return tap_fail ? 1 : 0;
}
#endif

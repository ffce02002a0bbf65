/* test_safetensors.c - round trip, alignment, and every validation error on open. */
#include <dirent.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arxiv.h"
#include "tap.h"

static char dir[] = "/tmp/test_st.XXXXXX";

/* Write a raw file: 8-byte LE length, header, data. */
static const char *
raw(const char *name, const char *hdr, const void *data, size_t n)
{
	static char path[256];
	unsigned char len8[8];
	size_t hl = strlen(hdr);
	FILE *fp;
	int i;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	for (i = 0; i < 8; i++)
		len8[i] = (unsigned char)((uint64_t)hl >> (8 * i));
	fp = fopen(path, "wb");
	fwrite(len8, 1, 8, fp);
	fwrite(hdr, 1, hl, fp);
	if (n)
		fwrite(data, 1, n, fp);
	fclose(fp);
	return path;
}

/* Open a bad file; the error text must contain want. */
static void
bad(const char *name, const char *hdr, size_t ndata, const char *want)
{
	static unsigned char zeros[256];
	struct arxiv_error e = {0};
	struct arxiv_st *st = arxiv_st_open(raw(name, hdr, zeros, ndata), &e);

	CHECK(st == NULL && strstr(e.text, want) != NULL, "rejects %s: %s", name, e.text);
	arxiv_st_close(st);
}

int
main(void)
{
	struct arxiv_error e = {0};
	struct arxiv_st_tensor t[3], g;
	struct arxiv_st *st;
	float w[6] = { 1, -2, 3.5f, 0, 1e-3f, 42 };
	uint16_t h[4] = { 0x3c00, 0xc000, 0, 0x7bff };
	int64_t one = 7;
	const char *meta[] = { "format", "pt", "note", "a \"quoted\" value" };
	char path[256];
	FILE *fp;
	long sz;

	if (mkdtemp(dir) == NULL)
		return 1;
	snprintf(path, sizeof(path), "%s/ok.safetensors", dir);
	t[0] = (struct arxiv_st_tensor){ "w.weight", ARXIV_F32, 2, { 2, 3 }, w, sizeof(w) };
	t[1] = (struct arxiv_st_tensor){ "h", ARXIV_F16, 1, { 4 }, h, sizeof(h) };
	t[2] = (struct arxiv_st_tensor){ "scalar", ARXIV_I64, 0, { 0 }, &one, sizeof(one) };
	CHECK(arxiv_st_save(path, t, 3, meta, 2, &e) == 0, "save: %s", e.text);
	CHECK(access(path, F_OK) == 0, "file written");
	{
		DIR *dp = opendir(dir);
		struct dirent *de;
		int ntmp = 0;

		while (dp && (de = readdir(dp)) != NULL)
			ntmp += strstr(de->d_name, ".tmp") != NULL;
		if (dp)
			closedir(dp);
		CHECK(ntmp == 0, "no temporary left behind");
	}

	st = arxiv_st_open(path, &e);
	CHECK(st != NULL, "open: %s", e.text);
	if (st == NULL)
		return tap_done();
	CHECK(arxiv_st_count(st) == 3, "three tensors");
	CHECK(arxiv_st_get(st, 0, &g) == 0 && strcmp(g.name, "w.weight") == 0 && g.dtype == ARXIV_F32 &&
	    g.ndim == 2 && g.shape[0] == 2 && g.shape[1] == 3 && g.nbytes == 24, "tensor 0 in header order");
	CHECK(memcmp(g.data, w, sizeof(w)) == 0, "F32 data round trip");
	CHECK(((uintptr_t)g.data % 8) == 0, "data 8-byte aligned");
	CHECK(arxiv_st_find(st, "h", &g) == 0 && g.dtype == ARXIV_F16 && memcmp(g.data, h, 8) == 0,
	    "find F16 by name");
	CHECK(arxiv_st_find(st, "scalar", &g) == 0 && g.ndim == 0 && *(const int64_t *)g.data == 7,
	    "0-dim I64");
	CHECK(arxiv_st_find(st, "nope", &g) == -1, "missing name -> -1");
	CHECK(arxiv_st_get(st, 3, &g) == -1, "index out of range -> -1");
	CHECK_STR(arxiv_st_meta(st, "format"), "pt", "metadata");
	CHECK_STR(arxiv_st_meta(st, "note"), "a \"quoted\" value", "metadata with quotes");
	CHECK(arxiv_st_meta(st, "x") == NULL, "absent metadata -> NULL");
	arxiv_st_close(st);
	arxiv_st_close(NULL);

	/* the header is padded with spaces to keep the data aligned */
	fp = fopen(path, "rb");
	fseek(fp, 0, SEEK_END);
	sz = ftell(fp);
	fclose(fp);
	CHECK((sz - 24 - 8 - 8) % 8 == 0, "header length a multiple of 8 (file %ld bytes)", sz);

	/* an unaligned header (odd length) still gives aligned data */
	st = arxiv_st_open(raw("odd", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
	    "\0\0\200?", 4), &e);
	CHECK(st && arxiv_st_get(st, 0, &g) == 0 && ((uintptr_t)g.data % 8) == 0 &&
	    *(const float *)g.data == 1.0f, "unaligned header: aligned copy");
	arxiv_st_close(st);
	st = arxiv_st_open(raw("empty", "{}", NULL, 0), &e);
	CHECK(st && arxiv_st_count(st) == 0, "empty header accepted");
	arxiv_st_close(st);

	/* save refuses inconsistent input */
	t[0].nbytes = 20;
	CHECK(arxiv_st_save(path, t, 1, NULL, 0, &e) == -1 && strstr(e.text, "w.weight"),
	    "save: nbytes mismatch names the tensor: %s", e.text);
	t[0].nbytes = 24;
	t[1].name = "w.weight";
	CHECK(arxiv_st_save(path, t, 2, NULL, 0, &e) == -1 && strstr(e.text, "duplicate"),
	    "save: duplicate name: %s", e.text);

	/* open rejects */
	CHECK(arxiv_st_open("/nonexistent/x.safetensors", &e) == NULL &&
	    strstr(e.text, "No such file"), "missing file: %s", e.text);
	snprintf(path, sizeof(path), "%s/short", dir);
	fp = fopen(path, "wb");
	fwrite("\1\0\0", 1, 3, fp);
	fclose(fp);
	CHECK(arxiv_st_open(path, &e) == NULL && strstr(e.text, "shorter"), "3-byte file: %s", e.text);
	snprintf(path, sizeof(path), "%s/huge", dir);
	fp = fopen(path, "wb");
	fwrite("\377\377\377\377\0\0\0\0{}", 1, 10, fp);
	fclose(fp);
	CHECK(arxiv_st_open(path, &e) == NULL && strstr(e.text, "header length"),
	    "header length beyond file: %s", e.text);
	bad("notjson", "{\"a\":", 0, "invalid JSON header");
	bad("array", "[1,2]", 0, "not start with");
	bad("dup", "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
	    "\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]}}", 2, "invalid JSON header");
	bad("dtype", "{\"wq\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[0,8]}}", 8,
	    "tensor 'wq': unsupported dtype 'F64'");
	bad("shape", "{\"ws\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,20]}}", 20,
	    "tensor 'ws': shape needs 24 bytes but data_offsets span 20");
	bad("negshape", "{\"wn\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4,
	    "tensor 'wn': shape[0]");
	bad("bounds", "{\"wb\":{\"dtype\":\"U8\",\"shape\":[16],\"data_offsets\":[0,16]}}", 8,
	    "tensor 'wb': data_offsets [0, 16] out of bounds (data is 8 bytes)");
	bad("reversed", "{\"wr\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[4,0]}}", 4,
	    "tensor 'wr': data_offsets [4, 0] out of bounds");
	bad("overlap", "{\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]},"
	    "\"b\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[2,6]}}", 6,
	    "tensor 'b': data_offsets overlap tensor 'a'");
	bad("gap", "{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]},"
	    "\"b\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[4,6]}}", 6,
	    "tensor 'b': gap of 2 bytes");
	bad("trailing", "{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]}}", 5,
	    "3 bytes of data after the last tensor");
	bad("entry", "{\"we\":[1]}", 0, "tensor 'we': entry is not an object");
	bad("missing", "{\"wm\":{\"dtype\":\"U8\",\"shape\":[1]}}", 1,
	    "tensor 'wm': needs dtype, shape and data_offsets");
	bad("extra", "{\"wx\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1],\"z\":1}}", 1,
	    "tensor 'wx': unexpected key 'z'");
	bad("offsets", "{\"wo\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0]}}", 1,
	    "tensor 'wo': data_offsets is not [begin, end]");
	bad("meta", "{\"__metadata__\":{\"k\":1}}", 0, "__metadata__ value of 'k' is not a string");
	bad("overflow", "{\"wv\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904,8],"
	    "\"data_offsets\":[0,0]}}", 0, "tensor 'wv': shape overflows 64 bits");

	snprintf(path, sizeof(path), "rm -rf %s", dir);
	if (system(path) != 0)
		return 1;
	return tap_done();
}

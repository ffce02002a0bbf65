/* test_jsonscan.c - the fast JSON record scanner against jansson. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "arxiv.h"
#include "tap.h"

/* Scan s for "text" (wanted as a string) and "clean" (absent): the answer. */
static int
scan1(const char *s, struct arxiv_json_key *k)
{
	memset(k, 0, 2 * sizeof(*k));
	k[0].name = "text";
	k[1].name = "clean";
	k[1].want = ARXIV_JSON_ABSENT;
	return arxiv_json_scan(s, strlen(s), k, 2, 0, NULL);
}

/* 1 when the scanner's answer for s is plain and its decoded "text" equals
 * jansson's, or when it is not plain; 0 when it accepted what jansson refuses
 * or decoded another value. */
static int
agrees(const char *s, unsigned flags)
{
	struct arxiv_json_key k[1];
	struct arxiv_buf b = { 0 };
	json_error_t je;
	json_t *o, *v;
	int ok;

	memset(k, 0, sizeof(k));
	k[0].name = "text";
	if (!arxiv_json_scan(s, strlen(s), k, 1, flags, NULL))
		return 1;
	o = json_loadb(s, strlen(s), flags & ARXIV_JSON_NODUP ? JSON_REJECT_DUPLICATES : 0, &je);
	v = o ? json_object_get(o, "text") : NULL;
	ok = json_is_string(v) && arxiv_json_unescape(k[0].val, k[0].len, &b) == 0 &&
	    b.len == json_string_length(v) && memcmp(b.data ? b.data : "", json_string_value(v),
	    b.len) == 0;
	json_decref(o);
	arxiv_buf_free(&b);
	return ok;
}

/*
 * arxiv_map_line on line, and on the same line with a top-level key whose name
 * is escaped (so the scanner declines and jansson reads it): the same output or
 * the same error. Returns 1 when they agree; *plain_out: the first output.
 */
static int
map_agrees(const struct arxiv_domains *d, const char *line, char *first, size_t firstn)
{
	struct arxiv_buf o1 = { 0 }, o2 = { 0 }, alt = { 0 };
	struct arxiv_error e1, e2;
	const char *l1, *l2;
	int r1, r2, ok;

	memset(&e1, 0, sizeof(e1));
	memset(&e2, 0, sizeof(e2));
	r1 = arxiv_map_line(d, NULL, line, strlen(line), &o1, &l1, &e1);
	arxiv_buf_append(&alt, line, strlen(line) - 1);
	arxiv_buf_append(&alt, ",\"\\u0078\":0}", 12);
	r2 = arxiv_map_line(d, NULL, alt.data, alt.len, &o2, &l2, &e2);
	ok = r1 == r2 && (r1 < 0 ? strcmp(e1.text, e2.text) == 0 :
	    strcmp(o1.data, o2.data) == 0 && l1 == l2);
	snprintf(first, firstn, "%s", r1 < 0 ? e1.text : o1.data);
	if (!ok)
		printf("#   fast [%s]\n#   jansson [%s]\n", r1 < 0 ? e1.text : o1.data,
		    r2 < 0 ? e2.text : o2.data);
	arxiv_buf_free(&o1);
	arxiv_buf_free(&o2);
	arxiv_buf_free(&alt);
	return ok;
}

int
main(void)
{
	static const char *const refused[] = {
		"", "{", "[]", "{\"text\":\"a\"", "{\"text\":\"a\"}x", "{\"text\":\"a\",}",
		"{\"text\":'a'}", "{\"text\":\"a\\x\"}", "{\"text\":\"a\tb\"}",
		"{\"text\":\"\xc3\"}", "{\"text\":\"\xed\xa0\x80\"}", "{\"text\":\"\xc0\xaf\"}",
		"{\"text\":\"\\ud800\"}", "{\"text\":\"\\udc00\\ud800\"}", "{\"text\":\"\\u0000\"}",
		"{\"text\":\"a\",\"n\":01}", "{\"text\":\"a\",\"n\":1.}", "{\"text\":\"a\",\"n\":-}",
		"{\"text\":\"a\",\"n\":1e5}", "{\"text\":\"a\",\"n\":12345678901234567890}",
		"{\"text\":\"a\",\"n\":tru}", "{\"text\":\"a\",\"n\":nul}", "{\"text\":1}",
		"{\"text\":null}", "{\"text\":[\"a\"]}", "{\"title\":\"a\"}",
		"{\"text\":\"a\",\"text\":\"b\"}", "{\"te\\u0078t\":\"a\"}",
		"{\"text\":\"a\",\"clean\":\"b\"}", "{\"text\":\"a\"\x01}",
		"{\"text\":\"a\",\"x\":[1,]}", "{\"text\":\"a\",\"x\":{\"a\":1,}}",
	};
	static const char *const plain[] = {
		"{\"text\":\"a\"}", " {\"text\" : \"a\" } ", "{\"id\":\"1\",\"text\":\"a\\nb\"}",
		"{\"text\":\"\\u00e9\\ud83d\\ude00\\/\\\"\\\\\\b\\f\\r\\t\"}",
		"{\"text\":\"caf\xc3\xa9 \xf0\x9f\x98\x80\x7f\"}",
		"{\"a\":[1,-0,0.5,-12.25,true,false,null,{},[],{\"b\":[{}]}],\"text\":\"x\"}",
		"{\"a\":\"\\u0041\",\"text\":\"x\",\"b\":123456789012345678}",
	};
	struct arxiv_json_key k[4];
	struct arxiv_buf b = { 0 };
	char deep[300], buf[256];
	size_t i;
	int compact;

	for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		snprintf(buf, sizeof(buf), "not plain: %s", refused[i]);
		CHECK(scan1(refused[i], k) == 0 && k[0].val == NULL, "%s", buf);
	}
	for (i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
		snprintf(buf, sizeof(buf), "plain, same value as jansson: %s", plain[i]);
		CHECK(scan1(plain[i], k) == 1 && agrees(plain[i], 0), "%s", buf);
	}

	CHECK(scan1("{\"text\":\"abc\",\"x\":\"\\\"}\"}", k) == 1 && k[0].len == 3 &&
	    memcmp(k[0].val, "abc", 3) == 0 && !k[0].escaped, "raw value, no escapes: borrowed as is");
	CHECK(scan1("{\"text\":\"a\\nb\"}", k) == 1 && k[0].escaped && k[0].len == 4,
	    "escaped value reported raw");
	CHECK(arxiv_json_unescape(k[0].val, k[0].len, &b) == 0 && strcmp(b.data, "a\nb") == 0,
	    "unescape decodes \\n");
	arxiv_buf_clear(&b);
	CHECK(arxiv_json_unescape("\\ud83d\\ude00\\u00e9", 18, &b) == 0 &&
	    strcmp(b.data, "\xf0\x9f\x98\x80\xc3\xa9") == 0, "unescape: surrogate pair and BMP to UTF-8");
	arxiv_buf_clear(&b);
	CHECK(arxiv_json_unescape("a\\", 2, &b) < 0 && arxiv_json_unescape("\\u12", 4, &b) < 0 &&
	    arxiv_json_unescape("\\udc00", 6, &b) < 0 && arxiv_json_unescape("\\q", 2, &b) < 0,
	    "unescape refuses malformed escapes");

	/* ARXIV_JSON_OPTIONAL and several keys */
	memset(k, 0, sizeof(k));
	k[0].name = "id";
	k[1].name = "label";
	k[1].want = ARXIV_JSON_OPTIONAL;
	k[2].name = "text";
	k[3].name = "prep";
	k[3].want = ARXIV_JSON_OPTIONAL;
	CHECK(arxiv_json_scan("{\"text\":\"t\",\"label\":\"L\",\"id\":\"7\"}", 33, k, 4, 0, &compact) == 1 &&
	    k[0].len == 1 && k[0].val[0] == '7' && k[1].len == 1 && k[1].val[0] == 'L' &&
	    k[2].val[0] == 't' && k[3].val == NULL && compact == 1, "optional keys: present and absent");
	CHECK(arxiv_json_scan("{\"text\":\"t\",\"label\":3,\"id\":\"7\"}", 31, k, 4, 0, NULL) == 0 &&
	    k[0].val == NULL, "optional key with a non-string value: not plain, vals cleared");
	CHECK(arxiv_json_scan("{\"text\": \"t\",\"id\":\"7\"}", 22, k, 4, 0, &compact) == 1 &&
	    compact == 0, "blank outside strings: not compact");

	/* duplicates */
	CHECK(agrees("{\"text\":\"a\",\"x\":1,\"x\":2}", 0) &&
	    scan1("{\"text\":\"a\",\"x\":1,\"x\":2}", k) == 1, "repeated other key: plain without NODUP");
	memset(k, 0, sizeof(k));
	k[0].name = "text";
	CHECK(arxiv_json_scan("{\"text\":\"a\",\"x\":1,\"x\":2}", 24, k, 1, ARXIV_JSON_NODUP, NULL) == 0,
	    "repeated key with NODUP: not plain");
	CHECK(arxiv_json_scan("{\"text\":\"a\",\"x\":[{\"y\":1,\"y\":2}]}", 32, k, 1, ARXIV_JSON_NODUP,
	    NULL) == 0, "repeated nested key with NODUP: not plain");
	CHECK(arxiv_json_scan("{\"text\":\"a\",\"x\":[{\"y\":1},{\"y\":2}]}", 34, k, 1,
	    ARXIV_JSON_NODUP, NULL) == 1, "same key in sibling objects is no repeat");

	/* nesting: 64 levels are not plain (jansson decides) */
	memset(deep, 0, sizeof(deep));
	strcpy(deep, "{\"text\":\"a\",\"x\":");
	for (i = 0; i < 70; i++)
		strcat(deep, "[");
	for (i = 0; i < 70; i++)
		strcat(deep, "]");
	strcat(deep, "}");
	CHECK(scan1(deep, k) == 0, "deep nesting: not plain");

	/* escaping as jansson's dumper */
	arxiv_buf_clear(&b);
	CHECK(arxiv_json_escape("a\"b\\c\n\x01\x1f\x7f\xc3\xa9/0123456789abcdef", 28, &b) == 0 &&
	    strcmp(b.data, "a\\\"b\\\\c\\n\\u0001\\u001F\x7f\xc3\xa9/0123456789abcdef") == 0,
	    "escape: short escapes, \\u00XX, UTF-8 and '/' as is");
	{
		json_t *s = json_string("x\ty\"\x02\x1b long tail to cross eight bytes\\");
		char *d = json_dumps(s, JSON_ENCODE_ANY);
		arxiv_buf_clear(&b);
		arxiv_buf_putc(&b, '"');
		arxiv_json_escape(json_string_value(s), json_string_length(s), &b);
		arxiv_buf_putc(&b, '"');
		CHECK_STR(b.data, d, "escape equals json_dumps");
		free(d);
		json_decref(s);
	}
	arxiv_buf_free(&b);

	/* arxiv_map_line: the fast path gives what jansson's path gives */
	{
		static const char *const recs[] = {
			"{\"id\":\"0704.0001\",\"title\":\"A title\",\"abstract\":\"An abstract.\",\"categories\":\"hep-ph\"}",
			"{\"id\":\" 1 \",\"title\":\"  T\\n\\tx \\u00e9\\ud83d\\ude00 \\\"q\\\" \\/ \",\"abstract\":\"\\n  a\\u0001b\\u001fc\\r\\n\",\"categories\":\" math.NA  q-fin.CP cs.LG \",\"update_date\":\"2020-01-01\",\"versions\":[{\"version\":\"v1\"},{\"version\":\"v2\"}]}",
			"{ \"id\" : \"x\" , \"title\" : \"t\" , \"abstract\" : \"a\" , \"categories\" : \"zz.XX chao-dyn\" }",
			"{\"id\":\"x\",\"title\":\" \\n \",\"abstract\":\"a\",\"categories\":\"cs.AI\"}",
			"{\"id\":\"x\",\"title\":\"t\",\"abstract\":\"\",\"categories\":\"cs.AI\"}",
			"{\"id\":\"x\",\"title\":\"t\",\"abstract\":\"a\",\"categories\":\"  \"}",
			"{\"id\":\"\",\"abstract\":\"a\",\"categories\":\"cs.AI\"}",
			"{\"id\":\"x\",\"title\":\"t\",\"abstract\":\"a\",\"categories\":\"cs.AI\",\"id\":\"y\"}",
			"{\"id\":\"x\",\"title\":\"t\",\"abstract\":\"a\",\"categories\":\"cs.AI\",\"v\":[{\"a\":1,\"a\":2}]}",
			"{\"id\":\"x\",\"title\":\"t\",\"abstract\":[],\"categories\":\"cs.AI\"}",
			"{\"id\":\"x\",\"title\":\"t\",\"abstract\":\"caf\xc3\xa9\",\"categories\":\"cs.AI\"}",
		};
		struct arxiv_domains *dom;
		struct arxiv_error de;
		char first[2048];

		if ((dom = arxiv_domains_load("data/domains.tsv", &de)) == NULL) {
			CHECK(0, "load data/domains.tsv: %s", de.text);
		} else {
			for (i = 0; i < sizeof(recs) / sizeof(recs[0]); i++) {
				int ok = map_agrees(dom, recs[i], first, sizeof(first));
				CHECK(ok, "map fast path = jansson path: %.60s -> %.60s", recs[i], first);
			}
			arxiv_domains_free(dom);
		}
	}
	return tap_done();
}

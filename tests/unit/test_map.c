/* test_map.c - arxiv_map_line golden outputs and every error; arxiv_text_join. */
#include <jansson.h>
#include <stdlib.h>

#include "arxiv.h"
#include "tap.h"

static struct arxiv_domains *dom;

/* Map line with p; returns the output or "ERR: <text>". */
static const char *
map(const char *line, const struct arxiv_map_params *p, const char **label)
{
	static struct arxiv_buf out;
	static char buf[1024];
	struct arxiv_error e;

	if (line == NULL) {
		arxiv_buf_free(&out);
		return NULL;
	}
	if (arxiv_map_line(dom, p, line, strlen(line), &out, label, &e) < 0) {
		CHECK(out.len == 0, "no output on error");
		snprintf(buf, sizeof(buf), "ERR: %s", e.text);
		return buf;
	}
	return out.data;
}

static void
test_golden(void)
{
	struct arxiv_map_params p = arxiv_map_default_params();
	const char *label = NULL;

	CHECK(p.abstract_only == 0, "default: title and abstract");
	CHECK_STR(map("{\"id\": \"0704.0001\", \"title\": \"  A title \", \"abstract\": \""
	    "  An abstract.\\n  Second line.\\n\", \"categories\": \"hep-ph\", \"authors\": \"X\", "
	    "\"versions\": [1, 2]}", NULL, &label),
	    "{\"id\":\"0704.0001\",\"text\":\"A title\\nAn abstract.\\n  Second line.\","
	    "\"label\":\"Physics\",\"categories\":[\"hep-ph\"],\"fields\":[\"Physics\"]}",
	    "golden: trimmed, joined, other keys dropped, p NULL = defaults");
	CHECK_STR(label, "Physics", "label out-param");
	CHECK(label == arxiv_domains_label(dom, 1), "label borrowed from the table");

	/* cross-listed: fields primary first, in order, no duplicates */
	CHECK_STR(map("{\"id\":\"math/9801057\",\"title\":\"T\",\"abstract\":\"A\","
	    "\"categories\":\"q-fin.CP math.PR  q-fin.ST\\tcs.LG math.NA physics.soc-ph\"}",
	    &p, &label),
	    "{\"id\":\"math/9801057\",\"text\":\"T\\nA\",\"label\":\"Economics\","
	    "\"categories\":[\"q-fin.CP\",\"math.PR\",\"q-fin.ST\",\"cs.LG\",\"math.NA\","
	    "\"physics.soc-ph\"],"
	    "\"fields\":[\"Economics\",\"Mathematics\",\"Computer Science\",\"Physics\"]}",
	    "golden: cross-listed, q-fin is Economics");
	CHECK_STR(label, "Economics", "primary field is the label");

	p.abstract_only = 1;
	CHECK_STR(map("{\"id\":\"1\",\"title\":\"T\",\"abstract\":\" A \",\"categories\":\" cs.AI \"}",
	    &p, NULL),
	    "{\"id\":\"1\",\"text\":\"A\",\"label\":\"Computer Science\","
	    "\"categories\":[\"cs.AI\"],\"fields\":[\"Computer Science\"]}",
	    "golden: abstract only, label may be NULL");
	p.abstract_only = 0;

	CHECK_STR(map("{\"id\":\"1\",\"title\":\"T\",\"abstract\":\"A\",\"categories\":\"xx.YY\"}",
	    &p, &label),
	    "{\"id\":\"1\",\"text\":\"T\\nA\",\"label\":\"Other\",\"categories\":[\"xx.YY\"],"
	    "\"fields\":[\"Other\"]}", "unknown category -> Other, not an error");

	/* escapes and UTF-8 pass through as jansson writes them */
	CHECK_STR(map("{\"id\":\"1\",\"title\":\"\\u00e9t\\u00e9 \\\"q\\\" a\\\\b \\/\","
	    "\"abstract\":\"\\u0001\\u001f\\b\\f\\r\\t\\u007f \xce\xb1 \\ud83d\\ude00 \\u2028\","
	    "\"categories\":\"math.AG\"}", &p, &label),
	    "{\"id\":\"1\",\"text\":\"\xc3\xa9t\xc3\xa9 \\\"q\\\" a\\\\b /\\n"
	    "\\u0001\\u001F\\b\\f\\r\\t\x7f \xce\xb1 \xf0\x9f\x98\x80 \xe2\x80\xa8\","
	    "\"label\":\"Mathematics\",\"categories\":[\"math.AG\"],\"fields\":[\"Mathematics\"]}",
	    "golden: escapes");
}

/* The hand-written writer must agree with jansson's json_dumps byte for byte. */
static void
test_jansson_parity(void)
{
	static const char *const texts[] = {
		"plain", "quote \" backslash \\ slash /", "\x01\x02\x1f\x7f tab\t nl\n cr\r",
		"\xc3\xa9\xce\xb1\xe4\xb8\xad\xf0\x9f\x98\x80", "\xe2\x80\xa8\xe2\x80\xa9",
		"\b\f", "",
	};
	struct arxiv_map_params p = arxiv_map_default_params();
	size_t i;
	int same = 1;

	for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		json_t *in = json_pack("{s:s,s:s,s:s,s:s}", "id", "x", "title", "T",
		    "abstract", "A", "categories", "cs.AI");
		json_t *want;
		char *line, *w;
		const char *got;

		json_object_set_new(in, "abstract", json_sprintf("A%sZ", texts[i]));
		json_object_set_new(in, "id", json_sprintf("i%sd", texts[i]));
		line = json_dumps(in, JSON_COMPACT);
		got = map(line, &p, NULL);
		want = json_pack("{s:o,s:s++,s:s,s:[s],s:[s]}", "id",
		    json_incref(json_object_get(in, "id")), "text", "T\nA", texts[i], "Z",
		    "label", "Computer Science", "categories", "cs.AI",
		    "fields", "Computer Science");
		w = json_dumps(want, JSON_COMPACT);
		if (strcmp(got, w) != 0) {
			same = 0;
			printf("#   got  %s\n#   want %s\n", got, w);
		}
		free(line);
		free(w);
		json_decref(in);
		json_decref(want);
	}
	CHECK(same, "output equals jansson's json_dumps(JSON_COMPACT) for tricky strings");
}

static void
test_errors(void)
{
	static const char *const cases[][2] = {
		{ "{", "ERR: invalid JSON: string or '}' expected near end of file" },
		{ "{\"id\":\"1\"} x", "ERR: invalid JSON: end of file expected near 'x'" },
		{ "", "ERR: invalid JSON: '[' or '{' expected near end of file" },
		{ "[1,2]", "ERR: not a JSON object" },
		{ "{\"id\":\"1\",\"id\":\"2\"}", "ERR: invalid JSON: duplicate object key near '\"id\"'" },
		{ "{\"title\":\"T\",\"abstract\":\"A\",\"categories\":\"cs.AI\"}",
		  "ERR: missing or non-string \"id\"" },
		{ "{\"id\":7,\"title\":\"T\",\"abstract\":\"A\",\"categories\":\"cs.AI\"}",
		  "ERR: missing or non-string \"id\"" },
		{ "{\"id\":\" \",\"title\":\"T\",\"abstract\":\"A\",\"categories\":\"cs.AI\"}",
		  "ERR: empty id" },
		{ "{\"id\":\"1\",\"abstract\":\"A\",\"categories\":\"cs.AI\"}",
		  "ERR: missing or non-string \"title\"" },
		{ "{\"id\":\"1\",\"title\":\"\",\"abstract\":\"A\",\"categories\":\"cs.AI\"}",
		  "ERR: empty title" },
		{ "{\"id\":\"1\",\"title\":\"T\",\"categories\":\"cs.AI\"}",
		  "ERR: missing or non-string \"abstract\"" },
		{ "{\"id\":\"1\",\"title\":\"T\",\"abstract\":null,\"categories\":\"cs.AI\"}",
		  "ERR: missing or non-string \"abstract\"" },
		{ "{\"id\":\"1\",\"title\":\"T\",\"abstract\":[\"A\"],\"categories\":\"cs.AI\"}",
		  "ERR: missing or non-string \"abstract\"" },
		{ "{\"id\":\"1\",\"title\":\"T\",\"abstract\":\" \\n\\t \",\"categories\":\"cs.AI\"}",
		  "ERR: empty abstract" },
		{ "{\"id\":\"1\",\"title\":\"T\",\"abstract\":\"A\"}",
		  "ERR: missing or non-string \"categories\"" },
		{ "{\"id\":\"1\",\"title\":\"T\",\"abstract\":\"A\",\"categories\":[\"cs.AI\"]}",
		  "ERR: missing or non-string \"categories\"" },
		{ "{\"id\":\"1\",\"title\":\"T\",\"abstract\":\"A\",\"categories\":\"  \"}",
		  "ERR: empty categories" },
		{ "{\"id\":\"1\",\"title\":\"T\",\"abstract\":\"A\\u0000B\",\"categories\":\"cs\"}",
		  "ERR: invalid JSON: \\u0000 is not allowed without JSON_ALLOW_NUL near '\"A\\u0000B\"'" },
		{ "{\"id\":\"1\",\"title\":\"T\",\"abstract\":\"\\ud800\",\"categories\":\"cs\"}",
		  "ERR: invalid JSON: invalid Unicode '\\uD800' near '\"\\ud800\"'" },
		{ "{\"id\":\"1\",\"title\":\"T\xff\",\"abstract\":\"A\",\"categories\":\"cs\"}",
		  "ERR: invalid UTF-8 at byte 20" },
		{ "{\"id\":\"1\",\"title\":\"\xc0\xaf\",\"abstract\":\"A\",\"categories\":\"cs\"}",
		  "ERR: invalid UTF-8 at byte 19" },
	};
	struct arxiv_map_params p = arxiv_map_default_params();
	struct arxiv_buf out = { 0 };
	struct arxiv_error e;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		CHECK_STR(map(cases[i][0], &p, NULL), cases[i][1], "error: %s", cases[i][1] + 5);
	/* a NUL inside the given length */
	CHECK(arxiv_map_line(dom, &p, "{\"id\":\0}", 8, &out, NULL, &e) < 0 &&
	    strcmp(e.text, "NUL byte in line") == 0, "NUL byte in line");
	/* only len bytes are read: the rest of the buffer is not part of the line */
	CHECK(arxiv_map_line(dom, &p, "{}garbage", 2, &out, NULL, &e) < 0 &&
	    strcmp(e.text, "missing or non-string \"id\"") == 0, "len bounds the line");
	arxiv_buf_free(&out);
}

static void
test_join(void)
{
	struct arxiv_buf b = { 0 };

	CHECK(arxiv_text_join("  Title\n", "\tAbstract text.\n\n", &b) == 0, "join ok");
	CHECK_STR(b.data, "Title\nAbstract text.", "join trims each part");
	arxiv_text_join(NULL, "A", &b);
	CHECK_STR(b.data, "A", "NULL title: abstract alone, cleared first");
	arxiv_text_join(" ", "A b", &b);
	CHECK_STR(b.data, "A b", "blank title: abstract alone");
	arxiv_text_join("T", NULL, &b);
	CHECK_STR(b.data, "T", "NULL abstract: title alone");
	arxiv_text_join(NULL, NULL, &b);
	CHECK(b.len == 0, "both NULL: empty");
	arxiv_buf_free(&b);
}

/* rt(JSON): arxiv_record_text of a JSON text; "!error" on error. */
static const char *
rt(const char *j)
{
	static struct arxiv_buf b;
	static char res[256];
	struct arxiv_error e = { "", 0, "" };
	json_t *o = json_loads(j, JSON_DECODE_ANY, NULL);

	if (o == NULL)
		return "(bad test JSON)";
	if (arxiv_record_text((const struct json_t *)o, &b, &e) < 0)
		snprintf(res, sizeof(res), "!%s", e.text);
	else
		snprintf(res, sizeof(res), "%s", b.data ? b.data : "");
	json_decref(o);
	return res;
}

static void
test_record_text(void)
{
	CHECK_STR(rt("{\"title\":\" T \",\"abstract\":\" We prove. \"}"), "T\nWe prove.",
	    "title + abstract joined as arxiv-map does");
	CHECK_STR(rt("{\"abstract\":\"A\",\"title\":null}"), "A", "null title: abstract alone");
	CHECK_STR(rt("{\"abstract\":\"A\"}"), "A", "no title: abstract alone");
	CHECK_STR(rt("{\"text\":\" as is\\n\",\"abstract\":\"other\",\"title\":\"T\"}"), " as is\n",
	    "\"text\" wins over abstract and title, used as it is");
	CHECK_STR(rt("{\"title\":\"only\"}"), "!\"abstract\" (or \"text\") is required", "title alone");
	CHECK_STR(rt("{}"), "!\"abstract\" (or \"text\") is required", "empty object");
	CHECK_STR(rt("[1]"), "!not a JSON object", "not an object");
	CHECK_STR(rt("{\"abstract\":3}"), "!\"abstract\" must be a string", "abstract a number");
	CHECK_STR(rt("{\"abstract\":null}"), "!\"abstract\" must be a string", "abstract null");
	CHECK_STR(rt("{\"text\":null,\"abstract\":\"A\"}"), "!\"text\" must be a string",
	    "a present non-string text is an error, not a fallback");
	CHECK_STR(rt("{\"abstract\":\"A\",\"title\":[1]}"), "!\"title\" must be a string", "title array");
	CHECK_STR(rt("{\"abstract\":\" \\n\",\"title\":\"T\"}"), "!\"abstract\" is empty",
	    "blank abstract with a title");
	CHECK_STR(rt("{\"text\":\"\\t\"}"), "!\"text\" is empty", "blank text");
}

int
main(void)
{
	struct arxiv_error e;

	if ((dom = arxiv_domains_load("data/domains.tsv", &e)) == NULL) {
		printf("Bail out! data/domains.tsv: %s\n", e.text);
		return 1;
	}
	test_golden();
	test_jansson_parity();
	test_errors();
	test_join();
	test_record_text();
	map(NULL, NULL, NULL);
	arxiv_domains_free(dom);
	return tap_done();
}

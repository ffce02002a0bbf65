/* test_prep.c - tokenizer/preprocess.json (prep.c): one schema written, the
 * current and the older schemas read. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arxiv.h"
#include "tap.h"

static char dir[] = "/tmp/test_prep.XXXXXX";

static const char *
put(const char *name, const char *text)
{
	static char path[512];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fp = fopen(path, "w");
	fputs(text, fp);
	fclose(fp);
	return path;
}

int
main(void)
{
	struct arxiv_prep p = arxiv_prep_default(), q;
	struct arxiv_error e;
	char path[600], cmd[700];

	if (mkdtemp(dir) == NULL)
		return 1;
	/* round trip: wordpiece with everything */
	snprintf(p.input, sizeof(p.input), "wordpiece");
	snprintf(p.prep, sizeof(p.prep), "v1 nfkc,lower trunc=0 stem=none stop=none");
	p.seq_len = 128;
	p.lowercase = 0;
	p.vocab_hash = 0x0123456789abcdefULL;
	p.has_vocab_hash = 1;
	p.vocab_size = 31090;
	snprintf(path, sizeof(path), "%s/preprocess.json", dir);
	CHECK(arxiv_prep_write(path, &p, &e) == 0, "write: %s", e.text);
	CHECK(arxiv_prep_read(path, &q, &e) == 0, "read back: %s", e.text);
	CHECK(memcmp(&p, &q, sizeof(p)) == 0 || (strcmp(q.input, "wordpiece") == 0 &&
	    strcmp(q.prep, p.prep) == 0 && q.seq_len == 128 && q.lowercase == 0 &&
	    q.vocab_hash == p.vocab_hash && q.has_vocab_hash && q.vocab_size == 31090),
	    "every field survives the round trip");
	/* text input: no "tok" */
	p = arxiv_prep_default();
	snprintf(p.prep, sizeof(p.prep), "v1 nfkc trunc=0 stem=none stop=none");
	CHECK(arxiv_prep_write(path, &p, &e) == 0 && arxiv_prep_read(path, &q, &e) == 0 &&
	    strcmp(q.input, "text") == 0 && q.seq_len == 0 && !q.has_vocab_hash, "text input");
	snprintf(cmd, sizeof(cmd), "grep -q '\"tok\"' %s", path);
	CHECK(system(cmd) != 0, "no tok settings for text input");

	/* the fast model's schema before prep.c (no hash) */
	CHECK(arxiv_prep_read(put("old-fast.json", "{\"input\":\"wordpiece\",\"prep\":\"\","
	    "\"map\":{\"abstract_only\":false},\"tok\":{\"seq_len\":64,\"lowercase\":true}}"), &q, &e) == 0 &&
	    strcmp(q.input, "wordpiece") == 0 && q.seq_len == 64 && q.lowercase && !q.has_vocab_hash,
	    "old fast schema: %s", e.text);
	/* the transformer's flat schema before prep.c */
	CHECK(arxiv_prep_read(put("old-bert.json", "{\"model_type\":\"bert\",\"seq_len\":32,"
	    "\"lowercase\":false,\"prep\":\"v1 nfkc trunc=0 stem=none stop=none\","
	    "\"vocab_hash\":\"00000000000000ff\",\"vocab_size\":200}"), &q, &e) == 0 &&
	    strcmp(q.input, "wordpiece") == 0 && q.seq_len == 32 && !q.lowercase &&
	    q.has_vocab_hash && q.vocab_hash == 0xff && q.vocab_size == 200 &&
	    strcmp(q.prep, "v1 nfkc trunc=0 stem=none stop=none") == 0, "old flat transformer schema: %s", e.text);
	/* errors */
	CHECK(arxiv_prep_read(put("bad1.json", "{\"input\":\"bytes\",\"prep\":\"\"}"), &q, &e) < 0 &&
	    strstr(e.text, "\"input\" and \"prep\""), "unknown input: %s", e.text);
	CHECK(arxiv_prep_read(put("bad2.json", "{\"input\":\"wordpiece\",\"prep\":\"\",\"tok\":{\"seq_len\":1}}"),
	    &q, &e) < 0 && strstr(e.text, "seq_len"), "bad seq_len: %s", e.text);
	CHECK(arxiv_prep_read(put("bad3.json", "{\"input\":"), &q, &e) < 0 && e.line == 1,
	    "invalid JSON: line %ld: %s", e.line, e.text);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		return 1;
	return tap_done();
}

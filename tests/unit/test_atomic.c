/* test_atomic.c - replacing a file through a temporary + rename (atomic.c). */
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arxiv.h"
#include "tap.h"

static char dir[] = "/tmp/test_atomic.XXXXXX";

static char *
path_of(const char *name)
{
	static char p[4][512];
	static int k;

	k = (k + 1) % 4;
	snprintf(p[k], sizeof(p[k]), "%s/%s", dir, name);
	return p[k];
}

static char *
slurp(const char *path)
{
	static char buf[256];
	FILE *fp = fopen(path, "r");
	size_t n;

	if (fp == NULL)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	buf[n] = '\0';
	fclose(fp);
	return buf;
}

static void
put(const char *path, const char *s)
{
	FILE *fp = fopen(path, "w");

	fputs(s, fp);
	fclose(fp);
}

/* Number of directory entries whose name contains ".tmp". */
static int
temps(const char *d)
{
	DIR *dp = opendir(d);
	struct dirent *de;
	int n = 0;

	while ((de = readdir(dp)) != NULL)
		if (strstr(de->d_name, ".tmp") != NULL)
			n++;
	closedir(dp);
	return n;
}

int
main(void)
{
	struct arxiv_error e;
	struct arxiv_atomic *a;
	struct stat st;
	struct rlimit rl;
	char *s, sub[600];
	static char big[1 << 16];

	if (mkdtemp(dir) == NULL)
		return 1;

	/* a new file, with the umask's mode */
	umask(022);
	CHECK(arxiv_atomic_write(path_of("new.json"), NULL, "{}\n", 3, &e) == 0, "write a new file");
	CHECK_STR(slurp(path_of("new.json")), "{}\n", "content");
	CHECK(stat(path_of("new.json"), &st) == 0 && (st.st_mode & 0777) == 0644,
	    "umask 022 gives 0644 (got %o)", (unsigned)(st.st_mode & 0777));
	umask(077);
	CHECK(arxiv_atomic_write(path_of("new.json"), NULL, "[1]\n", 4, &e) == 0, "replace it");
	CHECK_STR(slurp(path_of("new.json")), "[1]\n", "replaced content");
	CHECK(stat(path_of("new.json"), &st) == 0 && (st.st_mode & 0777) == 0600,
	    "umask 077 gives 0600 (got %o)", (unsigned)(st.st_mode & 0777));
	umask(022);
	CHECK(temps(dir) == 0, "no temporary left behind");

	/* the temporary while open: in the same directory, removed by abort */
	a = arxiv_atomic_open(path_of("r.json"), NULL, &e);
	CHECK(a != NULL, "open");
	s = a ? (char *)arxiv_atomic_tmpname(a) : NULL;
	CHECK(s && strncmp(s, path_of("r.json."), strlen(path_of("r.json."))) == 0 &&
	    strcmp(s + strlen(s) - 4, ".tmp") == 0, "temporary is <path>.XXXXXX.tmp (%s)", s ? s : "");
	CHECK(s && lstat(s, &st) == 0 && S_ISREG(st.st_mode), "temporary exists");
	fputs("partial", arxiv_atomic_file(a));
	arxiv_atomic_abort(a);
	CHECK(access(path_of("r.json"), F_OK) != 0 && temps(dir) == 0,
	    "abort leaves neither the file nor a temporary");
	arxiv_atomic_abort(NULL);

	/* a symbolic link at the old fixed temporary name is not written through */
	put(path_of("victim"), "precious\n");
	symlink(path_of("victim"), path_of("rep.json.tmp"));
	CHECK(arxiv_atomic_write(path_of("rep.json"), NULL, "report\n", 7, &e) == 0, "write beside a planted link");
	CHECK_STR(slurp(path_of("victim")), "precious\n", "victim untouched");
	CHECK(lstat(path_of("rep.json.tmp"), &st) == 0 && S_ISLNK(st.st_mode), "link untouched");
	unlink(path_of("rep.json.tmp"));

	/* nothing but a regular file is replaced */
	symlink(path_of("victim"), path_of("link.json"));
	CHECK(arxiv_atomic_open(path_of("link.json"), NULL, &e) == NULL &&
	    strstr(e.text, "is a symbolic link, not a regular file; refusing to replace it"),
	    "a symbolic link is refused: %s", e.text);
	CHECK(lstat(path_of("link.json"), &st) == 0 && S_ISLNK(st.st_mode), "the link is still a link");
	mkfifo(path_of("fifo"), 0600);
	CHECK(arxiv_atomic_write(path_of("fifo"), NULL, "x", 1, &e) < 0 && strstr(e.text, "is a FIFO"),
	    "a FIFO is refused: %s", e.text);
	CHECK(lstat(path_of("fifo"), &st) == 0 && S_ISFIFO(st.st_mode), "the FIFO is still a FIFO");
	CHECK(arxiv_atomic_open("/dev/null", NULL, &e) == NULL && strstr(e.text, "is a device"),
	    "a device is refused: %s", e.text);
	snprintf(sub, sizeof(sub), "%s/d", dir);
	mkdir(sub, 0755);
	CHECK(arxiv_atomic_open(sub, NULL, &e) == NULL && strstr(e.text, "is a directory"),
	    "a directory is refused: %s", e.text);
	CHECK(temps(dir) == 0, "no temporary left by the refusals");

	/* a missing directory: the error names the temporary's path */
	CHECK(arxiv_atomic_open(path_of("no/such/x.json"), NULL, &e) == NULL &&
	    strstr(e.source, "no/such/x.json.") && strstr(e.text, "No such file or directory"),
	    "missing directory: %s: %s", e.source, e.text);

	/* a temporary in another directory: hidden name there */
	a = arxiv_atomic_open(path_of("d/m.yaml"), dir, &e);
	s = a ? (char *)arxiv_atomic_tmpname(a) : NULL;
	CHECK(s && strncmp(s, path_of(".m.yaml."), strlen(path_of(".m.yaml."))) == 0,
	    "tmpdir: temporary is <tmpdir>/.<base>.XXXXXX.tmp (%s)", s ? s : "");
	fputs("k: v\n", arxiv_atomic_file(a));
	CHECK(arxiv_atomic_commit(a, &e) == 0, "commit from tmpdir");
	CHECK_STR(slurp(path_of("d/m.yaml")), "k: v\n", "renamed into place");

	/* a write error (file size limit) fails the commit and keeps the old file */
	signal(SIGXFSZ, SIG_IGN);
	getrlimit(RLIMIT_FSIZE, &rl);
	rl.rlim_cur = 1024;
	setrlimit(RLIMIT_FSIZE, &rl);
	memset(big, 'x', sizeof(big));
	CHECK(arxiv_atomic_write(path_of("new.json"), NULL, big, sizeof(big), &e) < 0 &&
	    strstr(e.text, "write error"), "write error reported: %s", e.text);
	CHECK_STR(slurp(path_of("new.json")), "[1]\n", "old content kept after a failed write");
	CHECK(temps(dir) == 0, "temporary removed after a failed write");

	unlink(path_of("new.json"));
	unlink(path_of("rep.json"));
	unlink(path_of("victim"));
	unlink(path_of("link.json"));
	unlink(path_of("fifo"));
	unlink(path_of("d/m.yaml"));
	rmdir(sub);
	rmdir(dir);
	return tap_done();
}

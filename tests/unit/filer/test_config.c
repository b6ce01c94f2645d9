/*
 * filer.conf(5): every setting, every value form, and every error the
 * parser can give (each names FILE:LINE and the word at fault); the
 * embedded default; the text written into state files reads back equal.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "filer/filer.h"

static struct conf c;
static char err[1024];

static void setup(void)
{
	unsetenv("FILER_HOME");
	memset(&c, 0, sizeof(c));
	err[0] = '\0';
}

static void teardown(void)
{
	conf_free(&c);
}

TestSuite(config, .init = setup, .fini = teardown);

static int parse(const char *text)
{
	conf_free(&c);
	err[0] = '\0';
	return conf_parse("f.conf", text, &c, err, sizeof(err));
}

Test(config, empty_file_gives_the_global_defaults)
{
	cr_assert_eq(parse(""), 0, "%s", err);
	bool root = geteuid() == 0;
	cr_assert_str_eq(c.home, "./var");
	cr_assert_str_eq(c.listen, "127.0.0.1");
	cr_assert_eq(c.port, root ? 2049 : 0);
	cr_assert_eq(c.portmap_port, root ? 111 : 0);
	cr_assert(c.udp);
	cr_assert(c.portmapper);
	cr_assert_str_eq(c.control_socket, "filer.sock");
	cr_assert_null(c.control_group);
	cr_assert_null(c.metrics);
	cr_assert_eq(c.cp_interval_ms, 10000);
	cr_assert_eq(c.cache_bytes, 256ull << 20);
	cr_assert_eq(c.log_level, LOG_NOTICE);
	cr_assert_not(c.log_syslog);
	cr_assert_eq(c.naggrs, 0);
	cr_assert_eq(c.nexports, 0);
	cr_assert_null(c.default_volume);
}

Test(config, home_defaults_to_FILER_HOME)
{
	setenv("FILER_HOME", "/srv/filer", 1);
	cr_assert_eq(parse("# nothing\n"), 0, "%s", err);
	cr_assert_str_eq(c.home, "/srv/filer");
}

Test(config, every_global_setting)
{
	const char *text = "# a filer\n"
			   "home /var/lib/filer\n"
			   "listen ::1\n"
			   "port 12049\n"
			   "udp off\n"
			   "portmapper no\n"
			   "portmap_port 1111\n"
			   "control_socket /run/filer.sock\n"
			   "control_group filer\n"
			   "metrics 127.0.0.1:9100\n"
			   "cp_interval 500ms\n"
			   "cache 1G\n"
			   "log_level debug\n"
			   "log syslog\n";
	cr_assert_eq(parse(text), 0, "%s", err);
	cr_assert_str_eq(c.home, "/var/lib/filer");
	cr_assert_str_eq(c.listen, "::1");
	cr_assert_eq(c.port, 12049);
	cr_assert_not(c.udp);
	cr_assert_not(c.portmapper);
	cr_assert_eq(c.portmap_port, 1111);
	cr_assert_str_eq(c.control_socket, "/run/filer.sock");
	cr_assert_str_eq(c.control_group, "filer");
	cr_assert_str_eq(c.metrics, "127.0.0.1:9100");
	cr_assert_eq(c.cp_interval_ms, 500);
	cr_assert_eq(c.cache_bytes, 1ull << 30);
	cr_assert_eq(c.log_level, LOG_DEBUG);
	cr_assert(c.log_syslog);
}

Test(config, value_spellings)
{
	cr_assert_eq(parse("udp yes\nportmapper true\nlog stderr\nlog_level err\nmetrics off\n"
			   "cp_interval 2m\n"),
		     0, "%s", err);
	cr_assert(c.udp);
	cr_assert(c.portmapper);
	cr_assert_not(c.log_syslog);
	cr_assert_eq(c.log_level, LOG_ERR);
	cr_assert_null(c.metrics);
	cr_assert_eq(c.cp_interval_ms, 120000);
	cr_assert_eq(parse("udp 0\nportmapper FALSE\nlog_level warning\nmetrics [::1]:0\n"
			   "cp_interval 10\n"),
		     0, "%s", err);
	cr_assert_not(c.udp);
	cr_assert_not(c.portmapper);
	cr_assert_eq(c.log_level, LOG_WARNING);
	cr_assert_str_eq(c.metrics, "[::1]:0");
	cr_assert_eq(c.cp_interval_ms, 10000);
	cr_assert_eq(parse("log_level info\n"), 0);
	cr_assert_eq(c.log_level, LOG_INFO);
	cr_assert_eq(parse("log_level notice\n"), 0);
	cr_assert_eq(c.log_level, LOG_NOTICE);
}

Test(config, comments_blanks_crlf_and_semicolons)
{
	const char *text = "\n   \t\n# comment\nport 7 # trailing comment\r\n"
			   "listen 10.0.0.1;\n"
			   "aggregate a {   # block\n"
			   "\tdisks d0 d1;\n"
			   "\tnvlog log ;\n"
			   "}\n";
	cr_assert_eq(parse(text), 0, "%s", err);
	cr_assert_eq(c.port, 7);
	cr_assert_str_eq(c.listen, "10.0.0.1");
	cr_assert_eq(c.naggrs, 1);
	cr_assert_eq(c.aggrs[0].ndisks, 2);
	cr_assert_str_eq(c.aggrs[0].disks[1], "d1");
	cr_assert_str_eq(c.aggrs[0].nvlog, "log");
}

Test(config, aggregate_block_every_setting)
{
	const char *text = "aggregate aggr1 {\n"
			   "  disks /dev/sdb /dev/sdc\n"
			   "  disk /dev/sdd\n"
			   "  disks /dev/sde\n"
			   "  disk_size 10G\n"
			   "  raid_group_size 2\n"
			   "  nvlog /var/lib/filer/aggr1.nvlog\n"
			   "  nvlog_size 128M\n"
			   "  type aggr\n"
			   "  create no\n"
			   "}\n"
			   "aggregate tv_1 {\n"
			   "  disks t0\n"
			   "  type trad\n"
			   "}\n";
	cr_assert_eq(parse(text), 0, "%s", err);
	cr_assert_eq(c.naggrs, 2);
	struct conf_aggr *a = &c.aggrs[0];
	cr_assert_str_eq(a->name, "aggr1");
	cr_assert_eq(a->line, 1);
	cr_assert_eq(a->ndisks, 4);
	cr_assert_str_eq(a->disks[0], "/dev/sdb");
	cr_assert_str_eq(a->disks[1], "/dev/sdc");
	cr_assert_str_eq(a->disks[2], "/dev/sdd");
	cr_assert_str_eq(a->disks[3], "/dev/sde");
	cr_assert_eq(a->disk_size_bytes, 10ull << 30);
	cr_assert_eq(a->raid_group_size, 2);
	cr_assert_str_eq(a->nvlog, "/var/lib/filer/aggr1.nvlog");
	cr_assert_eq(a->nvlog_size_bytes, 128ull << 20);
	cr_assert_not(a->trad);
	cr_assert_not(a->create);
	/* the defaults of a block */
	a = &c.aggrs[1];
	cr_assert_str_eq(a->name, "tv_1");
	cr_assert_eq(a->line, 12);
	cr_assert(a->trad);
	cr_assert(a->create);
	cr_assert_eq(a->disk_size_bytes, 2ull << 30);
	cr_assert_eq(a->raid_group_size, 0);
	cr_assert_eq(a->nvlog_size_bytes, 0);
	cr_assert_str_eq(a->nvlog, "tv_1.nvlog");
}

Test(config, exports)
{
	const char *text = "export /vol/vol0 vol0 127.0.0.1(rw,insecure,no_root_squash)\n"
			   "\n"
			   "export /vol/x x   10.0.0.0/8(ro)\t*.example.com(rw,all_squash)\n";
	cr_assert_eq(parse(text), 0, "%s", err);
	cr_assert_eq(c.nexports, 2);
	cr_assert_str_eq(c.exports[0].path, "/vol/vol0");
	cr_assert_str_eq(c.exports[0].volume, "vol0");
	cr_assert_str_eq(c.exports[0].clients, "127.0.0.1(rw,insecure,no_root_squash)");
	cr_assert_eq(c.exports[0].line, 1);
	cr_assert_str_eq(c.exports[1].clients, "10.0.0.0/8(ro) *.example.com(rw,all_squash)");
	cr_assert_eq(c.exports[1].line, 3);
}

Test(config, sizes)
{
	uint64_t v;
	cr_assert_eq(conf_parse_size("0", &v), 0);
	cr_assert_eq(v, 0);
	cr_assert_eq(conf_parse_size("4096", &v), 0);
	cr_assert_eq(v, 4096);
	cr_assert_eq(conf_parse_size("1K", &v), 0);
	cr_assert_eq(v, 1024);
	cr_assert_eq(conf_parse_size("3k", &v), 0);
	cr_assert_eq(v, 3072);
	cr_assert_eq(conf_parse_size("256M", &v), 0);
	cr_assert_eq(v, 256ull << 20);
	cr_assert_eq(conf_parse_size("2G", &v), 0);
	cr_assert_eq(v, 2ull << 30);
	cr_assert_eq(conf_parse_size("5T", &v), 0);
	cr_assert_eq(v, 5ull << 40);
	cr_assert_eq(conf_parse_size("64MiB", &v), 0);
	cr_assert_eq(v, 64ull << 20);
	cr_assert_eq(conf_parse_size("1GB", &v), 0);
	cr_assert_eq(v, 1ull << 30);
	cr_assert_eq(conf_parse_size("", &v), -EINVAL);
	cr_assert_eq(conf_parse_size("G", &v), -EINVAL);
	cr_assert_eq(conf_parse_size("-1", &v), -EINVAL);
	cr_assert_eq(conf_parse_size("1.5G", &v), -EINVAL);
	cr_assert_eq(conf_parse_size("1X", &v), -EINVAL);
	cr_assert_eq(conf_parse_size("1Gx", &v), -EINVAL);
	cr_assert_eq(conf_parse_size("1B", &v), -EINVAL);
	cr_assert_eq(conf_parse_size("99999999999999999999", &v), -EINVAL);
	cr_assert_eq(conf_parse_size("16777216T", &v), -ERANGE);
}

Test(config, durations)
{
	unsigned ms;
	cr_assert_eq(conf_parse_duration_ms("500ms", &ms), 0);
	cr_assert_eq(ms, 500);
	cr_assert_eq(conf_parse_duration_ms("10s", &ms), 0);
	cr_assert_eq(ms, 10000);
	cr_assert_eq(conf_parse_duration_ms("3", &ms), 0);
	cr_assert_eq(ms, 3000);
	cr_assert_eq(conf_parse_duration_ms("2m", &ms), 0);
	cr_assert_eq(ms, 120000);
	cr_assert_eq(conf_parse_duration_ms("1min", &ms), 0);
	cr_assert_eq(ms, 60000);
	cr_assert_eq(conf_parse_duration_ms("", &ms), -EINVAL);
	cr_assert_eq(conf_parse_duration_ms("s", &ms), -EINVAL);
	cr_assert_eq(conf_parse_duration_ms("1h", &ms), -EINVAL);
	cr_assert_eq(conf_parse_duration_ms("-5s", &ms), -EINVAL);
	cr_assert_eq(conf_parse_duration_ms("99999999m", &ms), -ERANGE);
}

Test(config, host_and_port)
{
	char h[64];
	uint16_t p;
	cr_assert_eq(conf_split_hostport("127.0.0.1:9100", h, sizeof(h), &p), 0);
	cr_assert_str_eq(h, "127.0.0.1");
	cr_assert_eq(p, 9100);
	cr_assert_eq(conf_split_hostport("[::1]:0", h, sizeof(h), &p), 0);
	cr_assert_str_eq(h, "::1");
	cr_assert_eq(p, 0);
	cr_assert_eq(conf_split_hostport("localhost:80", h, sizeof(h), &p), 0);
	cr_assert_str_eq(h, "localhost");
	cr_assert_eq(conf_split_hostport("::1:80", h, sizeof(h), &p), -EINVAL);
	cr_assert_eq(conf_split_hostport("127.0.0.1", h, sizeof(h), &p), -EINVAL);
	cr_assert_eq(conf_split_hostport(":80", h, sizeof(h), &p), -EINVAL);
	cr_assert_eq(conf_split_hostport("a:65536", h, sizeof(h), &p), -EINVAL);
	cr_assert_eq(conf_split_hostport("a:x", h, sizeof(h), &p), -EINVAL);
	cr_assert_eq(conf_split_hostport("[::1]80", h, sizeof(h), &p), -EINVAL);
	cr_assert_eq(conf_split_hostport("[::1:80", h, sizeof(h), &p), -EINVAL);
}

Test(config, names_and_words)
{
	cr_assert(conf_valid_name("aggr0"));
	cr_assert(conf_valid_name("_a-b.c"));
	cr_assert_not(conf_valid_name("0aggr"));
	cr_assert_not(conf_valid_name(""));
	cr_assert_not(conf_valid_name("a b"));
	cr_assert_not(conf_valid_name("a/b"));
	char longname[WAFL_VOLNAME_MAX + 2];
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	cr_assert_not(conf_valid_name(longname));
	longname[WAFL_VOLNAME_MAX] = '\0';
	cr_assert(conf_valid_name(longname));
	cr_assert(conf_valid_word("/dev/sdb"));
	cr_assert_not(conf_valid_word("a b"));
	cr_assert_not(conf_valid_word("a#b"));
	cr_assert_not(conf_valid_word("a;"));
	cr_assert_not(conf_valid_word("{"));
	cr_assert_not(conf_valid_word(""));
}

/* Every error: the text, and the exact message. */
struct bad {
	const char *text;
	const char *msg;
};

static const struct bad bads[] = {
	{"foo 1\n", "f.conf:1: unknown setting 'foo'"},
	{"\n\nport\n", "f.conf:3: 'port' takes one value, not 0"},
	{"port 1 2\n", "f.conf:1: 'port' takes one value, not 2"},
	{"port 1\nport 2\n", "f.conf:2: 'port' given twice (first on line 1)"},
	{"port 65536\n", "f.conf:1: 'port' wants a number from 0 to 65535, not '65536'"},
	{"port -1\n", "f.conf:1: 'port' wants a number from 0 to 65535, not '-1'"},
	{"port x\n", "f.conf:1: 'port' wants a number from 0 to 65535, not 'x'"},
	{"portmap_port 1e3\n",
	 "f.conf:1: 'portmap_port' wants a number from 0 to 65535, not '1e3'"},
	{"udp maybe\n", "f.conf:1: 'udp' wants on or off, not 'maybe'"},
	{"portmapper 2\n", "f.conf:1: 'portmapper' wants on or off, not '2'"},
	{"metrics 9100\n", "f.conf:1: 'metrics' wants ADDR:PORT or off, not '9100'"},
	{"metrics a:b\n", "f.conf:1: 'metrics' wants ADDR:PORT or off, not 'a:b'"},
	{"cp_interval 0\n", "f.conf:1: 'cp_interval' wants a duration like 10s or 500ms, not '0'"},
	{"cp_interval 1h\n",
	 "f.conf:1: 'cp_interval' wants a duration like 10s or 500ms, not '1h'"},
	{"cache lots\n", "f.conf:1: 'cache' wants a size like 256M, not 'lots'"},
	{"cache 1M\n", "f.conf:1: 'cache' must be at least 4M, not '1M'"},
	{"log_level loud\n",
	 "f.conf:1: 'log_level' wants err, warning, notice, info or debug, not 'loud'"},
	{"log_level crit\n",
	 "f.conf:1: 'log_level' wants err, warning, notice, info or debug, not 'crit'"},
	{"log file\n", "f.conf:1: 'log' wants stderr or syslog, not 'file'"},
	{"home\n", "f.conf:1: 'home' takes one value, not 0"},
	{"listen a b\n", "f.conf:1: 'listen' takes one value, not 2"},
	{"control_socket\n", "f.conf:1: 'control_socket' takes one value, not 0"},
	{"control_group a b\n", "f.conf:1: 'control_group' takes one value, not 2"},
	/* blocks */
	{"}\n", "f.conf:1: '}' without an aggregate block"},
	{"{\n", "f.conf:1: '{' wants to follow 'aggregate NAME' on the same line"},
	{"aggregate a\n", "f.conf:1: 'aggregate' wants: aggregate NAME {"},
	{"aggregate a b {\n", "f.conf:1: 'aggregate' wants: aggregate NAME {"},
	{"aggregate 0a {\n",
	 "f.conf:1: bad aggregate name '0a' (letters, digits, '_', '-', '.'; at most 63; not "
	 "starting with a digit)"},
	{"aggregate a {\ndisks x\n}\naggregate a {\n",
	 "f.conf:4: aggregate 'a' defined twice (first on line 1)"},
	{"aggregate a {\ndisks x\n", "f.conf:2: aggregate a: missing '}' (block opened on line 1)"},
	{"aggregate a {\ndisks x\naggregate b {\n",
	 "f.conf:3: 'aggregate' inside aggregate a: missing '}' (block opened on line 1)"},
	{"aggregate a {\nexport /p v c\n",
	 "f.conf:2: 'export' inside aggregate a: missing '}' (block opened on line 1)"},
	{"aggregate a {\nport 1\n}\n", "f.conf:2: unknown aggregate setting 'port'"},
	{"aggregate a {\n}\n", "f.conf:2: aggregate a has no disks"},
	{"aggregate a {\ndisks x\n} x\n", "f.conf:3: '}' wants a line of its own"},
	{"aggregate a {\ndisks\n}\n", "f.conf:2: 'disks' wants at least one path"},
	{"aggregate a {\ndisks x y x\n}\n", "f.conf:2: aggregate a: disk 'x' named twice"},
	{"aggregate a {\ndisk_size 1G\ndisk_size 2G\n}\n",
	 "f.conf:3: 'disk_size' given twice in aggregate a"},
	{"aggregate a {\ntype\n}\n", "f.conf:2: 'type' takes one value, not 0"},
	{"aggregate a {\ndisk_size big\n}\n",
	 "f.conf:2: 'disk_size' wants a size like 2G, not 'big'"},
	{"aggregate a {\ndisk_size 0\n}\n", "f.conf:2: 'disk_size' wants a size like 2G, not '0'"},
	{"aggregate a {\nraid_group_size 0\n}\n",
	 "f.conf:2: 'raid_group_size' wants a number from 1 to 64, not '0'"},
	{"aggregate a {\nraid_group_size 65\n}\n",
	 "f.conf:2: 'raid_group_size' wants a number from 1 to 64, not '65'"},
	{"aggregate a {\nnvlog_size 512K\n}\n",
	 "f.conf:2: 'nvlog_size' wants a size of at least 1M, not '512K'"},
	{"aggregate a {\nnvlog a b\n}\n", "f.conf:2: 'nvlog' takes one value, not 2"},
	{"aggregate a {\ntype flex\n}\n", "f.conf:2: 'type' wants aggr or trad, not 'flex'"},
	{"aggregate a {\ncreate sometimes\n}\n",
	 "f.conf:2: 'create' wants yes or no, not 'sometimes'"},
	/* exports */
	{"export /vol/x x\n", "f.conf:1: 'export' wants: export PATH VOLUME CLIENTS..."},
	{"export vol/x x c\n", "f.conf:1: export path 'vol/x' is not absolute"},
	{"export /vol/x 9x c\n", "f.conf:1: bad volume name '9x'"},
	{"export /a v c\nexport /a w d\n", "f.conf:2: '/a' exported twice (first on line 1)"},
};

Test(config, every_error_names_file_line_and_word)
{
	for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
		int rc = parse(bads[i].text);
		cr_assert_eq(rc, -EINVAL, "case %zu (%s): rc %d", i, bads[i].text, rc);
		cr_assert_str_eq(err, bads[i].msg, "case %zu", i);
		/* a failed parse leaves nothing to free */
		cr_assert_null(c.home);
		cr_assert_eq(c.naggrs, 0);
	}
}

/* head, then piece n times (piece has two %u, both i), then tail. */
static char *repeat(const char *piece, unsigned n, const char *head, const char *tail)
{
	size_t len = strlen(head) + strlen(tail) + strlen(piece) * n + 64 * n + 1;
	char *s = malloc(len);
	cr_assert_not_null(s);
	strcpy(s, head);
	for (unsigned i = 0; i < n; i++)
		sprintf(s + strlen(s), piece, i, i);
	strcat(s, tail);
	return s;
}

Test(config, limits)
{
	/* 64 disks fit, the 65th does not */
	char *t = repeat(" d%u_%u", FILER_MAX_DISKS, "aggregate a {\ndisks", "\n}\n");
	cr_assert_eq(parse(t), 0, "%s", err);
	cr_assert_eq(c.aggrs[0].ndisks, FILER_MAX_DISKS);
	free(t);
	t = repeat(" d%u_%u", FILER_MAX_DISKS, "aggregate a {\ndisks", "\ndisk extra\n}\n");
	cr_assert_eq(parse(t), -EINVAL);
	cr_assert_str_eq(err, "f.conf:3: aggregate a: more than 64 disks at 'extra'");
	free(t);
	/* too many words on one line */
	t = repeat(" w%u_%u", FILER_MAX_DISKS + 8, "export /p v", "\n");
	cr_assert_eq(parse(t), -EINVAL);
	cr_assert_str_eq(err, "f.conf:1: more than 72 words");
	free(t);
	/* aggregates */
	t = repeat("aggregate a%u {\ndisks d%u\n}\n", FILER_MAX_AGGRS, "", "aggregate z {\n");
	cr_assert_eq(parse(t), -EINVAL);
	cr_assert_str_eq(err, "f.conf:49: more than 16 aggregates at 'z'");
	free(t);
	/* exports */
	t = repeat("export /e%u v%u c\n", FILER_MAX_EXPORTS, "", "export /last v c\n");
	cr_assert_eq(parse(t), -EINVAL);
	cr_assert_str_eq(err, "f.conf:257: more than 256 exports at '/last'");
	free(t);
	/* a client list longer than nfs/ keeps */
	char clients[2100];
	memset(clients, 'c', sizeof(clients) - 1);
	clients[sizeof(clients) - 1] = '\0';
	char *line;
	cr_assert(asprintf(&line, "export /p v %s\n", clients) > 0);
	cr_assert_eq(parse(line), -EINVAL);
	cr_assert_str_eq(err, "f.conf:1: client list of '/p' is longer than 2047 bytes");
	free(line);
	/* a path longer than nfs/ keeps */
	char path[1100];
	memset(path, 'p', sizeof(path) - 1);
	path[0] = '/';
	path[sizeof(path) - 1] = '\0';
	cr_assert(asprintf(&line, "export %s v c\n", path) > 0);
	cr_assert_eq(parse(line), -EINVAL);
	char want[128];
	snprintf(want, sizeof(want), "f.conf:1: export path '%.40s...' is too long", path);
	cr_assert_str_eq(err, want);
	free(line);
	/* a line longer than 8 KiB */
	char *big = malloc(9000);
	memset(big, ' ', 8999);
	big[8999] = '\0';
	cr_assert_eq(parse(big), -EINVAL);
	cr_assert_str_eq(err, "f.conf:1: line longer than 8192 bytes");
	free(big);
}

Test(config, load_from_a_file)
{
	char path[] = "/tmp/filerconfXXXXXX";
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	const char *text = "port 2050\naggregate a {\n disks x\n}\nexport /vol/a a *(ro)\n";
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	cr_assert_eq(conf_load(path, &c, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(c.port, 2050);
	cr_assert_eq(c.naggrs, 1);
	cr_assert_eq(c.nexports, 1);
	conf_free(&c);
	/* errors carry the file's name */
	const char *bad = "\nbogus\n";
	cr_assert_eq(ftruncate(fd, 0), 0);
	cr_assert_eq(pwrite(fd, bad, strlen(bad), 0), (ssize_t)strlen(bad));
	cr_assert_eq(conf_load(path, &c, err, sizeof(err)), -EINVAL);
	char want[128];
	snprintf(want, sizeof(want), "%s:2: unknown setting 'bogus'", path);
	cr_assert_str_eq(err, want);
	/* a NUL byte: not text */
	cr_assert_eq(pwrite(fd, "port 1\0\n", 8, 0), 8);
	cr_assert_eq(conf_load(path, &c, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "%s: a NUL byte: not a text file", path);
	cr_assert_str_eq(err, want);
	close(fd);
	unlink(path);
	/* a missing file */
	cr_assert_eq(conf_load(path, &c, err, sizeof(err)), -ENOENT);
	snprintf(want, sizeof(want), "%s: No such file or directory", path);
	cr_assert_str_eq(err, want);
}

Test(config, embedded_default)
{
	conf_default(&c, NULL, false);
	cr_assert_str_eq(c.home, "./var");
	cr_assert_eq(c.port, 0);
	cr_assert_eq(c.portmap_port, 0);
	cr_assert(c.portmapper);
	cr_assert(c.udp);
	cr_assert_str_eq(c.listen, "127.0.0.1");
	cr_assert_eq(c.naggrs, 1);
	struct conf_aggr *a = &c.aggrs[0];
	cr_assert_str_eq(a->name, "aggr0");
	cr_assert_eq(a->ndisks, 3);
	cr_assert_str_eq(a->disks[0], "disk0");
	cr_assert_str_eq(a->disks[2], "disk2");
	cr_assert_str_eq(a->nvlog, "nvlog");
	cr_assert_eq(a->disk_size_bytes, 2ull << 30);
	cr_assert(a->create);
	cr_assert_not(a->trad);
	cr_assert_eq(c.nexports, 1);
	cr_assert_str_eq(c.exports[0].path, "/vol/vol0");
	cr_assert_str_eq(c.exports[0].volume, "vol0");
	cr_assert_str_eq(c.exports[0].clients, "127.0.0.1(rw,insecure,no_root_squash)");
	cr_assert_str_eq(c.default_volume, "vol0");
	cr_assert_eq(c.default_volume_bytes, 4ull << 30);
	conf_free(&c);
	conf_default(&c, "/srv/x", true);
	cr_assert_str_eq(c.home, "/srv/x");
	cr_assert_eq(c.port, 2049);
	cr_assert_eq(c.portmap_port, 111);
	conf_free(&c);
	setenv("FILER_HOME", "/srv/env", 1);
	conf_default(&c, NULL, false);
	cr_assert_str_eq(c.home, "/srv/env");
}

Test(config, aggregate_text_reads_back_equal)
{
	struct conf_aggr a = {0};
	snprintf(a.name, sizeof(a.name), "big");
	char *d[] = {"/d/0", "/d/1", "rel"};
	for (unsigned i = 0; i < 3; i++)
		a.disks[a.ndisks++] = d[i];
	a.disk_size_bytes = 3ull << 30;
	a.raid_group_size = 2;
	a.nvlog = "/d/log";
	a.nvlog_size_bytes = (8ull << 20) + 4096;
	a.trad = true;
	a.create = false;
	char *text = conf_aggr_text(&a);
	cr_assert_not_null(text);
	cr_assert_eq(parse(text), 0, "%s\n%s", err, text);
	free(text);
	cr_assert_eq(c.naggrs, 1);
	struct conf_aggr *b = &c.aggrs[0];
	cr_assert_str_eq(b->name, "big");
	cr_assert_eq(b->ndisks, 3);
	for (unsigned i = 0; i < 3; i++)
		cr_assert_str_eq(b->disks[i], d[i]);
	cr_assert_eq(b->disk_size_bytes, a.disk_size_bytes);
	cr_assert_eq(b->raid_group_size, 2);
	cr_assert_str_eq(b->nvlog, "/d/log");
	cr_assert_eq(b->nvlog_size_bytes, a.nvlog_size_bytes);
	cr_assert(b->trad);
	cr_assert_not(b->create);
	/* and a deep copy is independent of its source */
	struct conf_aggr copy;
	cr_assert_eq(conf_aggr_copy(&copy, b), 0);
	conf_free(&c);
	cr_assert_str_eq(copy.disks[1], "/d/1");
	cr_assert_str_eq(copy.nvlog, "/d/log");
	conf_aggr_free(&copy);
	cr_assert_eq(copy.ndisks, 0);
}

Test(config, log_level_names)
{
	cr_assert_eq(flog_level_by_name("err"), LOG_ERR);
	cr_assert_eq(flog_level_by_name("ERROR"), LOG_ERR);
	cr_assert_eq(flog_level_by_name("warning"), LOG_WARNING);
	cr_assert_eq(flog_level_by_name("warn"), LOG_WARNING);
	cr_assert_eq(flog_level_by_name("notice"), LOG_NOTICE);
	cr_assert_eq(flog_level_by_name("info"), LOG_INFO);
	cr_assert_eq(flog_level_by_name("debug"), LOG_DEBUG);
	cr_assert_eq(flog_level_by_name("chatty"), -1);
	cr_assert_str_eq(flog_level_name(LOG_WARNING), "warning");
	cr_assert_str_eq(flog_level_name(LOG_ERR), "err");
}

Test(config, the_installed_example_parses)
{
	/* make check runs from the top of the tree */
	if (access("etc/filer.conf.example", R_OK) != 0)
		cr_skip_test("etc/filer.conf.example is not here");
	cr_assert_eq(conf_load("etc/filer.conf.example", &c, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(c.home, "/var/lib/filer");
	cr_assert_eq(c.naggrs, 1);
	cr_assert_eq(c.aggrs[0].ndisks, 4);
	cr_assert_eq(c.nexports, 2);
}

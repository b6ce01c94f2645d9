/*
 * exports(5) specs: parsing (every option, every error), matching peers
 * (IPv4, IPv4-mapped, IPv6, prefixes at their edges, wildcards, names),
 * credential squashing, and finding exports by path and id.
 * Only "localhost" is resolved: nothing here needs DNS.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>
#include <sys/un.h>

#include "nfs/nfs_int.h"

static struct sockaddr_storage peer(const char *ip, uint16_t port)
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	if (inet_pton(AF_INET, ip, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
	} else {
		cr_assert_eq(inet_pton(AF_INET6, ip, &sin6->sin6_addr), 1, "%s", ip);
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
	}
	return ss;
}

static struct nfs_export ex;

static void parse_ok(const char *spec)
{
	char err[256];
	memset(&ex, 0, sizeof(ex));
	int rc = export_parse(spec, &ex.rules, err, sizeof(err));
	cr_assert_eq(rc, 0, "'%s': %d %s", spec, rc, err);
}

static void done(void)
{
	export_rules_free(&ex.rules);
}

static const struct export_rule *nth(unsigned n)
{
	const struct export_rule *r = TAILQ_FIRST(&ex.rules);
	while (r != NULL && n-- > 0)
		r = TAILQ_NEXT(r, link);
	cr_assert_not_null(r);
	return r;
}

static unsigned count(void)
{
	unsigned n = 0;
	const struct export_rule *r;
	TAILQ_FOREACH(r, &ex.rules, link)
	{
		n++;
	}
	return n;
}

/* Which rule (0-based) matches ip; -1: none. */
static int which(const char *ip)
{
	struct sockaddr_storage ss = peer(ip, 700);
	const struct export_rule *m = export_match(&ex, &ss);
	if (m == NULL)
		return -1;
	int i = 0;
	for (const struct export_rule *r = TAILQ_FIRST(&ex.rules); r != m; r = TAILQ_NEXT(r, link))
		i++;
	return i;
}

static bool addr_is(const struct export_rule *r, const char *ip6)
{
	struct in6_addr a;
	cr_assert_eq(inet_pton(AF_INET6, ip6, &a), 1);
	return memcmp(&a, &r->addr, sizeof(a)) == 0;
}

Test(export, parse_every_option)
{
	parse_ok("10.0.0.0/8(rw,no_root_squash,insecure,anonuid=1000,anongid=2000,sync,async,"
		 "no_subtree_check,subtree_check,wdelay,no_wdelay)\t*(ro,all_squash,secure)\n"
		 "  Host?.Example.COM(root_squash,no_all_squash,anonuid=4294967295)  "
		 "fd00::/8(rw) 192.168.1.7 ::1( rw , insecure )");
	cr_assert_eq(count(), 6);

	const struct export_rule *r = nth(0);
	cr_assert_eq(r->kind, M_CIDR4);
	cr_assert(addr_is(r, "::ffff:10.0.0.0"));
	cr_assert_eq(r->prefix, 96 + 8);
	cr_assert(r->rw);
	cr_assert_eq(r->squash, SQUASH_NONE);
	cr_assert_not(r->secure);
	cr_assert_eq(r->anonuid, 1000);
	cr_assert_eq(r->anongid, 2000);

	r = nth(1);
	cr_assert_eq(r->kind, M_ANY);
	cr_assert_not(r->rw);
	cr_assert_eq(r->squash, SQUASH_ALL);
	cr_assert(r->secure);
	cr_assert_eq(r->anonuid, 65534);
	cr_assert_eq(r->anongid, 65534);

	r = nth(2);
	cr_assert_eq(r->kind, M_WILD);
	cr_assert_str_eq(r->pattern, "host?.example.com");
	cr_assert_not(r->rw);
	cr_assert_eq(r->squash, SQUASH_ROOT);
	cr_assert_eq(r->anonuid, 4294967295u);
	cr_assert_eq(r->anongid, 65534);

	r = nth(3);
	cr_assert_eq(r->kind, M_CIDR6);
	cr_assert(addr_is(r, "fd00::"));
	cr_assert_eq(r->prefix, 8);
	cr_assert(r->rw);

	/* no parentheses: every default */
	r = nth(4);
	cr_assert_eq(r->kind, M_CIDR4);
	cr_assert(addr_is(r, "::ffff:192.168.1.7"));
	cr_assert_eq(r->prefix, 128);
	cr_assert_not(r->rw);
	cr_assert_eq(r->squash, SQUASH_ROOT);
	cr_assert_eq(r->anonuid, 65534);
	cr_assert_eq(r->anongid, 65534);
	cr_assert(r->secure);

	r = nth(5);
	cr_assert_eq(r->kind, M_CIDR6);
	cr_assert(addr_is(r, "::1"));
	cr_assert_eq(r->prefix, 128);
	cr_assert(r->rw);
	cr_assert_not(r->secure);
	done();
}

Test(export, later_options_win_and_squash_switches)
{
	static const struct {
		const char *spec;
		bool rw;
		enum squash sq;
	} cases[] = {
		{"*", false, SQUASH_ROOT},
		{"*()", false, SQUASH_ROOT},
		{"*(ro,rw)", true, SQUASH_ROOT},
		{"*(rw,ro)", false, SQUASH_ROOT},
		{"*(no_root_squash)", false, SQUASH_NONE},
		{"*(no_root_squash,root_squash)", false, SQUASH_ROOT},
		{"*(all_squash,no_root_squash)", false, SQUASH_ALL},
		{"*(no_root_squash,all_squash)", false, SQUASH_ALL},
		{"*(all_squash,no_all_squash)", false, SQUASH_ROOT},
		{"*(all_squash,no_all_squash,no_root_squash)", false, SQUASH_NONE},
	};
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		parse_ok(cases[i].spec);
		cr_assert_eq(count(), 1);
		cr_assert_eq(nth(0)->rw, cases[i].rw, "%s", cases[i].spec);
		cr_assert_eq(nth(0)->squash, cases[i].sq, "%s", cases[i].spec);
		done();
	}
	parse_ok("*(insecure,secure)");
	cr_assert(nth(0)->secure);
	done();
	parse_ok("*(anonuid=5,anonuid=0)");
	cr_assert_eq(nth(0)->anonuid, 0);
	done();
}

Test(export, prefixes_are_normalised)
{
	parse_ok("10.1.2.3/8 10.0.0.0/255.255.0.0 172.16.0.0/0.0.0.0 fd00::1234/16 "
		 "::ffff:10.0.0.1 10.0.0.9/32");
	cr_assert(addr_is(nth(0), "::ffff:10.0.0.0"));
	cr_assert_eq(nth(0)->prefix, 104);
	cr_assert(addr_is(nth(1), "::ffff:10.0.0.0"));
	cr_assert_eq(nth(1)->prefix, 112);
	cr_assert(addr_is(nth(2), "::ffff:0.0.0.0"));
	cr_assert_eq(nth(2)->prefix, 96);
	cr_assert_eq(nth(3)->kind, M_CIDR6);
	cr_assert(addr_is(nth(3), "fd00::"));
	cr_assert_eq(nth(3)->prefix, 16);
	cr_assert_eq(nth(4)->kind, M_CIDR6);
	cr_assert(addr_is(nth(4), "::ffff:10.0.0.1"));
	cr_assert_eq(nth(5)->prefix, 128);
	done();
}

Test(export, errors_name_the_bad_token)
{
	static const struct {
		const char *spec, *needle;
	} cases[] = {
		{"*(rw,bogus)", "'bogus'"},
		{"*(RW)", "'RW'"},
		{"10.0.0.0/8(rw) *(ro,sec=krb5)", "'sec=krb5'"},
		{"*(rw", "missing ')'"},
		{"localhost (rw)", "options without a client: '(rw)'"},
		{"(rw)", "options without a client"},
		{"", "no clients"},
		{" \t\n ", "no clients"},
		{"10.0.0.0/33", "'10.0.0.0/33'"},
		{"10.0.0.0/", "'10.0.0.0/'"},
		{"10.0.0.0/-1", "'10.0.0.0/-1'"},
		{"10.0.0.0/8/8", "'10.0.0.0/8/8'"},
		{"/8", "'/8'"},
		{"fd00::/129", "'fd00::/129'"},
		{"10.0.0.0/255.0.255.0", "'10.0.0.0/255.0.255.0'"},
		{"300.1.1.1", "'300.1.1.1'"},
		{"1.2.3", "'1.2.3'"},
		{"fd00:::1", "'fd00:::1'"},
		{"ho%st", "'ho%st'"},
		{"@trusted(rw)", "netgroups"},
		{"*(anonuid=-1)", "'anonuid=-1'"},
		{"*(anonuid=4294967296)", "'anonuid=4294967296'"},
		{"*(anongid=)", "'anongid='"},
		{"*(anongid=12x)", "'anongid=12x'"},
		{"*(rw,,ro)", "empty option"},
		{"*(rw,)", "empty option"},
		{"*(rw)x", "junk after ')'"},
		{"*(rw)(ro)", "junk after ')'"},
		{"*(r(w)", "bad options"},
	};
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char err[256] = "untouched";
		struct export_rule_list l;
		cr_assert_eq(export_parse(cases[i].spec, &l, err, sizeof(err)), -EINVAL, "%s",
			     cases[i].spec);
		cr_assert(strstr(err, cases[i].needle) != NULL, "'%s' gave '%s'", cases[i].spec,
			  err);
		cr_assert(TAILQ_EMPTY(&l), "%s", cases[i].spec);
	}
	char long_client[400];
	memset(long_client, 'a', sizeof(long_client) - 1);
	long_client[sizeof(long_client) - 1] = '\0';
	char err[256];
	struct export_rule_list l;
	cr_assert_eq(export_parse(long_client, &l, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "too long") != NULL);
	/* no room for a message is fine too */
	cr_assert_eq(export_parse("*(bogus)", &l, NULL, 0), -EINVAL);
	/* an error after good rules frees them (ASan checks) */
	cr_assert_eq(export_parse("1.2.3.4(rw) 5.6.7.8(ro) *(nope)", &l, err, sizeof(err)),
		     -EINVAL);
	cr_assert(TAILQ_EMPTY(&l));
}

Test(export, match_ipv4_and_mapped)
{
	parse_ok("192.168.1.10(rw) 10.0.0.0/8(ro)");
	cr_assert_eq(which("192.168.1.10"), 0);
	cr_assert_eq(which("::ffff:192.168.1.10"), 0);
	cr_assert_eq(which("192.168.1.11"), -1);
	cr_assert_eq(which("::ffff:192.168.1.11"), -1);
	cr_assert_eq(which("10.200.3.4"), 1);
	cr_assert_eq(which("::ffff:10.200.3.4"), 1);
	cr_assert_eq(which("11.0.0.0"), -1);
	/* a native IPv6 address is not an IPv4 one, whatever its low bits */
	cr_assert_eq(which("::c0a8:10a"), -1);
	cr_assert_eq(which("64:ff9b::c0a8:10a"), -1);
	done();
}

Test(export, match_ipv6)
{
	parse_ok("2001:db8::1(rw) fd00::/8");
	cr_assert_eq(which("2001:db8::1"), 0);
	cr_assert_eq(which("2001:db8::2"), -1);
	cr_assert_eq(which("fd12:3456::1"), 1);
	cr_assert_eq(which("fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), 1);
	cr_assert_eq(which("fe00::1"), -1);
	cr_assert_eq(which("fc00::1"), -1);
	cr_assert_eq(which("10.0.0.1"), -1);
	cr_assert_eq(which("::ffff:10.0.0.1"), -1);
	done();
}

Test(export, cidr_edges)
{
	parse_ok("0.0.0.0/0");
	cr_assert_eq(which("0.0.0.0"), 0);
	cr_assert_eq(which("1.2.3.4"), 0);
	cr_assert_eq(which("255.255.255.255"), 0);
	cr_assert_eq(which("::ffff:1.2.3.4"), 0);
	cr_assert_eq(which("2001:db8::1"), -1);
	cr_assert_eq(which("::1"), -1);
	done();

	parse_ok("10.0.0.5/32");
	cr_assert_eq(which("10.0.0.5"), 0);
	cr_assert_eq(which("::ffff:10.0.0.5"), 0);
	cr_assert_eq(which("10.0.0.4"), -1);
	cr_assert_eq(which("10.0.0.6"), -1);
	done();

	parse_ok("10.0.0.4/31");
	cr_assert_eq(which("10.0.0.3"), -1);
	cr_assert_eq(which("10.0.0.4"), 0);
	cr_assert_eq(which("10.0.0.5"), 0);
	cr_assert_eq(which("10.0.0.6"), -1);
	done();

	parse_ok("10.0.0.5/31"); /* host bit masked off: the same /31 */
	cr_assert_eq(which("10.0.0.4"), 0);
	cr_assert_eq(which("10.0.0.5"), 0);
	cr_assert_eq(which("10.0.0.6"), -1);
	done();

	parse_ok("172.16.0.0/12");
	cr_assert_eq(which("172.15.255.255"), -1);
	cr_assert_eq(which("172.16.0.0"), 0);
	cr_assert_eq(which("172.31.255.255"), 0);
	cr_assert_eq(which("172.32.0.0"), -1);
	done();

	parse_ok("2001:db8::/127");
	cr_assert_eq(which("2001:db8::"), 0);
	cr_assert_eq(which("2001:db8::1"), 0);
	cr_assert_eq(which("2001:db8::2"), -1);
	done();

	parse_ok("2001:db8::/128");
	cr_assert_eq(which("2001:db8::"), 0);
	cr_assert_eq(which("2001:db8::1"), -1);
	done();

	/* ::/0 is every address, IPv4 ones included (they are ::ffff:...) */
	parse_ok("::/0");
	cr_assert_eq(which("2001:db8::1"), 0);
	cr_assert_eq(which("10.1.1.1"), 0);
	done();
}

Test(export, first_match_wins)
{
	parse_ok("10.1.0.0/16(rw) 10.0.0.0/8(ro) *(rw,all_squash)");
	cr_assert_eq(which("10.1.2.3"), 0);
	cr_assert_eq(which("10.2.2.3"), 1);
	cr_assert_eq(which("192.0.2.1"), 2);
	cr_assert_eq(which("2001:db8::1"), 2);
	done();

	/* a peer that is no IP address at all matches only '*' */
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	ss.ss_family = AF_UNIX;
	parse_ok("0.0.0.0/0 ::/0 10.*");
	cr_assert_null(export_match(&ex, &ss));
	done();
	parse_ok("0.0.0.0/0 *");
	cr_assert_eq(export_match(&ex, &ss), nth(1));
	done();
}

Test(export, wildcards)
{
	/* address patterns: matched against the numeric address, no DNS */
	parse_ok("10.1.2.*(rw) 192.168.?.1 fd00::* 172.16.[0-3].[!0]");
	cr_assert_eq(nth(0)->kind, M_WILD);
	cr_assert_eq(which("10.1.2.99"), 0);
	cr_assert_eq(which("::ffff:10.1.2.99"), 0);
	cr_assert_eq(which("10.1.3.1"), -1);
	cr_assert_eq(which("192.168.7.1"), 1);
	cr_assert_eq(which("192.168.17.1"), -1);
	cr_assert_eq(which("fd00::5"), 2);
	cr_assert_eq(which("fd01::5"), -1);
	cr_assert_eq(which("172.16.2.5"), 3);
	cr_assert_eq(which("172.16.4.5"), -1);
	cr_assert_eq(which("172.16.2.0"), -1);
	done();

	/* name patterns: 127.0.0.1 is "localhost" in /etc/hosts */
	parse_ok("*.example.com(rw) LOCAL*(ro) localhos?(rw)");
	cr_assert_str_eq(nth(1)->pattern, "local*");
	cr_assert_eq(which("127.0.0.1"), 1);
	cr_assert_eq(which("::ffff:127.0.0.1"), 1);
	done();
	parse_ok("*.example.com(rw) localhos?(rw)");
	cr_assert_eq(which("127.0.0.1"), 1);
	done();
	parse_ok("*.example.com(rw) loc?l");
	cr_assert_eq(which("127.0.0.1"), -1);
	done();
}

Test(export, host_names_resolve_when_parsed)
{
	parse_ok("LocalHost(rw,no_root_squash) 10.0.0.0/8(ro)");
	const struct export_rule *r = nth(0);
	cr_assert_eq(r->kind, M_HOST);
	cr_assert_str_eq(r->pattern, "localhost");
	cr_assert(r->rw);
	cr_assert_eq(r->squash, SQUASH_NONE);
	cr_assert_eq(which("127.0.0.1"), 0);
	cr_assert_eq(which("::ffff:127.0.0.1"), 0);
	cr_assert_eq(which("127.0.0.2"), -1);
	cr_assert_eq(which("10.0.0.1"), (int)count() - 1);
	/* every rule the name made carries its options */
	for (unsigned i = 0; i + 1 < count(); i++) {
		cr_assert_eq(nth(i)->kind, M_HOST);
		cr_assert(nth(i)->rw);
		cr_assert_eq(nth(i)->prefix, 128);
	}
	done();
}

Test(export, squash_tables)
{
	struct rpc_cred root = {
		.flavor = AUTH_SYS_FLAVOR, .uid = 0, .gid = 0, .ngids = 3, .gids = {0, 10, 0}};
	struct rpc_cred user = {
		.flavor = AUTH_SYS_FLAVOR, .uid = 1000, .gid = 100, .ngids = 2, .gids = {100, 0}};
	struct rpc_cred none = {
		.flavor = AUTH_NONE_FLAVOR, .uid = 0, .gid = 0, .ngids = 1, .gids = {5}};
	struct rpc_cred many = {.flavor = AUTH_SYS_FLAVOR, .uid = 7, .gid = 8, .ngids = 99};
	for (unsigned i = 0; i < RPC_MAX_GIDS; i++)
		many.gids[i] = 100 + i;
	static const struct {
		const char *spec;
		/* root: uid gid g0 g1 g2; user: uid gid g0 g1; none: uid gid */
		uint32_t r[5], u[4], n[2];
	} cases[] = {
		{"*", {65534, 65534, 65534, 10, 65534}, {1000, 100, 100, 65534}, {65534, 65534}},
		{"*(anonuid=99,anongid=98)", {99, 98, 98, 10, 98}, {1000, 100, 100, 98}, {99, 98}},
		{"*(no_root_squash,anonuid=99)",
		 {0, 0, 0, 10, 0},
		 {1000, 100, 100, 0},
		 {99, 65534}},
		{"*(all_squash,anonuid=99,anongid=98)", {99, 98}, {99, 98}, {99, 98}},
		{"*(all_squash,no_root_squash)", {65534, 65534}, {65534, 65534}, {65534, 65534}},
	};
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		parse_ok(cases[i].spec);
		const struct export_rule *r = nth(0);
		bool all = r->squash == SQUASH_ALL;
		struct wafl_cred c;
		memset(&c, 0xaa, sizeof(c));
		export_cred(r, &root, &c);
		cr_assert_eq(c.uid, cases[i].r[0], "%s", cases[i].spec);
		cr_assert_eq(c.gid, cases[i].r[1], "%s", cases[i].spec);
		cr_assert_eq(c.ngroups, all ? 0 : 3, "%s", cases[i].spec);
		for (unsigned g = 0; !all && g < 3; g++)
			cr_assert_eq(c.groups[g], cases[i].r[2 + g], "%s g%u", cases[i].spec, g);
		for (unsigned g = all ? 0 : 3; g < WAFL_NGROUPS_MAX; g++)
			cr_assert_eq(c.groups[g], 0);

		export_cred(r, &user, &c);
		cr_assert_eq(c.uid, cases[i].u[0], "%s", cases[i].spec);
		cr_assert_eq(c.gid, cases[i].u[1], "%s", cases[i].spec);
		cr_assert_eq(c.ngroups, all ? 0 : 2, "%s", cases[i].spec);
		for (unsigned g = 0; !all && g < 2; g++)
			cr_assert_eq(c.groups[g], cases[i].u[2 + g], "%s g%u", cases[i].spec, g);

		export_cred(r, &none, &c);
		cr_assert_eq(c.uid, cases[i].n[0], "%s", cases[i].spec);
		cr_assert_eq(c.gid, cases[i].n[1], "%s", cases[i].spec);
		cr_assert_eq(c.ngroups, 0, "%s", cases[i].spec);

		/* more groups than fit: the first WAFL_NGROUPS_MAX */
		if (!all) {
			export_cred(r, &many, &c);
			cr_assert_eq(c.uid, 7);
			cr_assert_eq(c.gid, 8);
			cr_assert_eq(c.ngroups, WAFL_NGROUPS_MAX);
			for (unsigned g = 0; g < WAFL_NGROUPS_MAX; g++)
				cr_assert_eq(c.groups[g], 100 + g);
		}
		done();
	}
}

Test(export, by_path_and_id)
{
	struct nfs_server s;
	memset(&s, 0, sizeof(s));
	TAILQ_INIT(&s.exports);
	struct nfs_export a, b;
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	strcpy(a.path, "/vol/vol0");
	a.id = 1;
	strcpy(b.path, "/vol/vol01");
	b.id = 7;
	TAILQ_INIT(&a.rules);
	TAILQ_INIT(&b.rules);
	TAILQ_INSERT_TAIL(&s.exports, &a, link);
	TAILQ_INSERT_TAIL(&s.exports, &b, link);
	cr_assert_eq(export_by_path(&s, "/vol/vol0"), &a);
	cr_assert_eq(export_by_path(&s, "/vol/vol0/"), &a);
	cr_assert_eq(export_by_path(&s, "//vol///vol0//"), &a);
	cr_assert_eq(export_by_path(&s, "/vol/vol01"), &b);
	cr_assert_null(export_by_path(&s, "/vol/vol"));
	cr_assert_null(export_by_path(&s, "/vol/vol0/sub"));
	cr_assert_null(export_by_path(&s, "vol/vol0"));
	cr_assert_null(export_by_path(&s, "/"));
	cr_assert_null(export_by_path(&s, ""));
	cr_assert_eq(export_by_id(&s, 1), &a);
	cr_assert_eq(export_by_id(&s, 7), &b);
	cr_assert_null(export_by_id(&s, 0));
	cr_assert_null(export_by_id(&s, 2));
	TAILQ_REMOVE(&s.exports, &a, link);
	cr_assert_null(export_by_id(&s, 1));
	cr_assert_null(export_by_path(&s, "/vol/vol0"));
}

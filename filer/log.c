/*
 * log.c - the filer's log: stderr (one line per message, with a timestamp
 * and the level) or syslog(3), filtered by level.
 *
 * wafl/ logs through its own wafl_logf() to stderr; that stays as it is.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "filer/filer.h"

static int log_level = LOG_NOTICE;
static bool log_syslog;
static char log_ident[32] = "filer";

static const struct {
	const char *name;
	int level;
} level_names[] = {
	{"emerg", LOG_EMERG},  {"alert", LOG_ALERT},   {"crit", LOG_CRIT},
	{"err", LOG_ERR},      {"error", LOG_ERR},     {"warning", LOG_WARNING},
	{"warn", LOG_WARNING}, {"notice", LOG_NOTICE}, {"info", LOG_INFO},
	{"debug", LOG_DEBUG},
};

int flog_level_by_name(const char *name)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
		if (!strcasecmp(name, level_names[i].name))
			return level_names[i].level;
	return -1;
}

const char *flog_level_name(int level)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
		if (level_names[i].level == level)
			return level_names[i].name;
	return "?";
}

void flog_init(int level, bool use_syslog, const char *ident)
{
	if (log_syslog && !use_syslog)
		closelog();
	log_level = level;
	snprintf(log_ident, sizeof(log_ident), "%s", ident ? ident : "filer");
	if (use_syslog && !log_syslog)
		openlog(log_ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
	log_syslog = use_syslog;
}

void flog(int level, const char *fmt, ...)
{
	if (level > log_level)
		return;
	va_list ap;
	va_start(ap, fmt);
	if (log_syslog) {
		vsyslog(LOG_DAEMON | level, fmt, ap);
		va_end(ap);
		return;
	}
	/* one write per line, so concurrent writers do not interleave */
	char line[2048];
	struct timespec now;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &now);
	localtime_r(&now.tv_sec, &tm);
	int n = (int)strftime(line, sizeof(line), "%Y-%m-%d %H:%M:%S", &tm);
	n += snprintf(line + n, sizeof(line) - (size_t)n, ".%03ld %s %s: ", now.tv_nsec / 1000000,
		      log_ident, flog_level_name(level));
	int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (m < 0)
		m = 0;
	n += m;
	if ((size_t)n > sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	/* (void): nowhere left to report a failed log write */
	(void)!write(STDERR_FILENO, line, (size_t)n);
}

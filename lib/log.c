/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: logging
 *
 * stderr (with a timestamp) in the foreground, syslog when asked.  Messages
 * below the configured level are dropped before formatting.  Every message
 * goes out through escape_text() (escape.h): whatever a client string holds,
 * one call writes exactly one line.
 */
#include <stdarg.h>
#include <stdio.h>
#include <syslog.h>
#include <time.h>
#include <pthread.h>
#include "escape.h"
#include "log.h"

static enum log_level min_level = LOG_LVL_INFO;
static int use_syslog;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

void log_set_level(enum log_level lvl)
{
	min_level = lvl;
}

enum log_level log_get_level(void)
{
	return min_level;
}

void log_use_syslog(int on)
{
	use_syslog = on;
	if (on)
		openlog("trellisd", LOG_PID, LOG_DAEMON);
}

void log_msg(enum log_level lvl, const char *module, const char *fmt, ...)
{
	static const char *names[] = { "debug", "info", "warn", "error" };
	static const int prio[] = { LOG_DEBUG, LOG_INFO, LOG_WARNING, LOG_ERR };
	char buf[4096], line[8192];
	va_list ap;

	if (lvl < min_level)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	escape_text(line, sizeof(line), buf);
	if (use_syslog) {
		syslog(prio[lvl], "%s: %s", module, line);
		return;
	}
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	pthread_mutex_lock(&log_lock);
	fprintf(stderr, "%02d:%02d:%02d.%03ld %-5s %s: %s\n", tm.tm_hour, tm.tm_min, tm.tm_sec,
		ts.tv_nsec / 1000000, names[lvl], module, line);
	pthread_mutex_unlock(&log_lock);
}

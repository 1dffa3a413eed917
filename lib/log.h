/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: logging
 *
 * One sink for the daemon, the libraries and the foreign libraries we route
 * into it (libbpf, liblxc).  Each .c defines LOG_MODULE before including.
 */
#ifndef TRELLIS_LOG_H
#define TRELLIS_LOG_H

#include <errno.h>

enum log_level { LOG_LVL_DEBUG, LOG_LVL_INFO, LOG_LVL_WARN, LOG_LVL_ERROR };

#ifndef LOG_MODULE
#define LOG_MODULE "trellis"
#endif

void log_set_level(enum log_level lvl);
enum log_level log_get_level(void);
void log_use_syslog(int on);
void log_msg(enum log_level lvl, const char *module, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define log_debug(...) log_msg(LOG_LVL_DEBUG, LOG_MODULE, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LVL_INFO, LOG_MODULE, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LVL_WARN, LOG_MODULE, __VA_ARGS__)
#define log_error(...) log_msg(LOG_LVL_ERROR, LOG_MODULE, __VA_ARGS__)

#endif

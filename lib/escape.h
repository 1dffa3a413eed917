/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: escaping strings for log lines
 *
 * A log line must stay one line whatever a client sent: names, ops, file
 * names and argv words from requests, and error messages that quote them.
 * Two forms:
 *   escape_value()  a client string the format quotes ('%s'): control
 *                   characters, backslash, the quote, bytes that are not
 *                   UTF-8, C1 controls and Unicode line separators and
 *                   direction overrides become C-style escapes (\n, \t,
 *                   \\, \', \xNN, \u202e); the result is cut at the buffer
 *                   size with "...".
 *   escape_text()   composed text (an error message): only what could break
 *                   or disguise the line (control characters, bytes that are
 *                   not UTF-8, C1 controls, line separators, direction
 *                   overrides); quotes and backslashes stay as they are.
 * log_msg() applies escape_text() to every line it writes, so no call site
 * can split a line; call sites quote client strings with ESC() so that a
 * name cannot disguise where it ends either.
 */
#ifndef TRELLIS_ESCAPE_H
#define TRELLIS_ESCAPE_H

#include <stddef.h>

#define ESCAPE_MAX 256	/* ESC()'s buffer: a name or word in a log line */
#define ESCAPE_TEXT_MAX 2048	/* ESC_TEXT()'s: a message */

/* Escape @s into @buf (@len bytes, >= 8); returns @buf.  NULL prints as "(null)". */
const char *escape_value(char *buf, size_t len, const char *s);
const char *escape_text(char *buf, size_t len, const char *s);

/* A client string for a log format's argument, escaped into a buffer that lives
 * until the end of the enclosing block: log_info("op '%s'", ESC(name)). */
#define ESC(s) escape_value((char[ESCAPE_MAX]){ 0 }, ESCAPE_MAX, (s))
/* The same for composed text (an error message that quotes client strings). */
#define ESC_TEXT(s) escape_text((char[ESCAPE_TEXT_MAX]){ 0 }, ESCAPE_TEXT_MAX, (s))

#endif

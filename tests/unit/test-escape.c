/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for lib/escape.c and the log sink: client strings cannot split or disguise a log line. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "tap.h"
#include "escape.h"
#include "log.h"

static void value_is(const char *in, const char *want, const char *what)
{
	char buf[ESCAPE_MAX];

	is_str(escape_value(buf, sizeof(buf), in), want, "value: %s", what);
}

static void text_is(const char *in, const char *want, const char *what)
{
	char buf[ESCAPE_MAX];

	is_str(escape_text(buf, sizeof(buf), in), want, "text: %s", what);
}

int main(void)
{
	char small[16], big[4096], line[8192];
	int fds[2], saved;
	ssize_t n;

	plan(26);
	value_is("blue", "blue", "a plain name is unchanged");
	value_is("a\nb", "a\\nb", "newline");
	value_is("a\r\tb", "a\\r\\tb", "CR and tab");
	value_is("\x1b[31mred", "\\x1b[31mred", "an ANSI escape");
	value_is("x\x7f", "x\\x7f", "DEL");
	value_is("it's", "it\\'s", "the quote a format puts around it");
	value_is("a\\nb", "a\\\\nb", "a backslash cannot fake an escape");
	value_is("caf\xc3\xa9 \xe2\x9c\x93", "caf\xc3\xa9 \xe2\x9c\x93", "well-formed UTF-8 stays");
	value_is("a\xff" "b", "a\\xffb", "a byte that is not UTF-8");
	value_is("\xc3", "\\xc3", "a truncated sequence");
	value_is("\xc0\xaf", "\\xc0\\xaf", "an overlong form");
	value_is("\xed\xa0\x80", "\\xed\\xa0\\x80", "a surrogate");
	value_is("a\xc2\x85" "b", "a\\u0085b", "a C1 control (NEL)");
	value_is("x\xe2\x80\xa8y", "x\\u2028y", "the line separator");
	value_is("abc\xe2\x80\xae" "cba", "abc\\u202ecba", "a right-to-left override");
	value_is(NULL, "(null)", "NULL");
	value_is("", "", "empty");

	text_is("no slice 'a\nb'", "no slice 'a\\nb'", "text keeps quotes, escapes the newline");
	text_is("C:\\path", "C:\\path", "text keeps backslashes");
	text_is("bad \x01 byte \xfe", "bad \\x01 byte \\xfe", "text escapes controls and bad bytes");

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	escape_value(small, sizeof(small), big);
	ok(strlen(small) == sizeof(small) - 1 && !strcmp(small + strlen(small) - 3, "..."),
	   "a long string is cut with '...' within the buffer ('%s')", small);
	escape_value(small, sizeof(small), "\n\n\n\n\n\n\n\n\n\n");
	ok(strlen(small) < sizeof(small) && !strcmp(small + strlen(small) - 3, "...") &&
		   !strncmp(small, "\\n\\n", 4),
	   "escapes are never cut in half ('%s')", small);
	escape_value(small, sizeof(small), "\xe2\x9c\x93\xe2\x9c\x93\xe2\x9c\x93\xe2\x9c\x93\xe2\x9c\x93\xe2\x9c\x93");
	ok(strlen(small) < sizeof(small) && !strcmp(small + strlen(small) - 3, "...") && small[12] == '.',
	   "UTF-8 sequences are never cut in half ('%s')", small);
	is_str(ESC("x\ny"), "x\\ny", "ESC() in an expression");

	/* The sink: one log call is one line, whatever the format's arguments hold. */
	if (pipe(fds) < 0)
		return 1;
	saved = dup(2);
	dup2(fds[1], 2);
	log_info("request failed: unknown op '%s'", "x\n12:00:00.000 error server: forged");
	fflush(stderr);
	dup2(saved, 2);
	close(fds[1]);
	n = read(fds[0], line, sizeof(line) - 1);
	line[n > 0 ? n : 0] = '\0';
	ok(n > 0 && strchr(line, '\n') == line + n - 1, "the log sink writes one line: %.*s", (int)(n > 0 ? n - 1 : 0),
	   line);
	ok(strstr(line, "'x\\n12:00:00.000 error server: forged'") != NULL, "with the newline escaped");
	return done();
}

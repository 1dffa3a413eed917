/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: print layer
 *
 * The one way the CLI writes results, so text and --json output come from the
 * same calls (after iproute2's print_string(PRINT_ANY, ...)).  The daemon's
 * reply is the data: a command hands the result object to print_json() and
 * describes its human view as columns that name a member of that object and
 * how to format it.  The mode, chosen once with print_init(), decides which
 * half speaks:
 *
 *   JSON mode  print_json() writes the object, pretty-printed, to the output;
 *              the text calls (print_line, print_section, print_fields,
 *              print_table) do nothing.
 *   text mode  the reverse: print_json() does nothing; fields are aligned
 *              "Label:  value" lines, tables are aligned columns under an
 *              upper-case header row.
 *
 * Progress events go to the progress stream (stderr) in either mode:
 * "  [step] message" lines in text mode, compact JSON lines in JSON mode.
 *
 *	static const struct print_col cols[] = {
 *		{ .title = "LINK", .key = "name" },
 *		{ .title = "RATE", .key = "rate", .fmt = PRINT_FMT_RATE },
 *		{ .title = NULL },
 *	};
 *	print_json(result);
 *	print_table(json_object_get(result, "links"), cols);
 */
#ifndef TRELLIS_PRINT_H
#define TRELLIS_PRINT_H

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>

enum print_mode {
	PRINT_MODE_TEXT,
	PRINT_MODE_JSON,
};

/* How a JSON value becomes a cell.  Missing, null, "" and [] print as "-". */
enum print_fmt {
	PRINT_FMT_TEXT,		/* string, number or boolean as it is */
	PRINT_FMT_LIST,		/* array of scalars joined with ',' */
	PRINT_FMT_COUNT,	/* array: its length; number: as it is */
	PRINT_FMT_ID,		/* integer such as a pid; 0 prints as "-" */
	PRINT_FMT_RATE,		/* bit/s as tc writes it ("10Mbit"); 0 prints as "unshaped" */
	PRINT_FMT_SIZE,		/* bytes ("64M"); 0 prints as "-" */
	PRINT_FMT_AGE,		/* unix seconds as an age: "42s ago", "5m ago", "3d ago" */
	PRINT_FMT_TIME,		/* unix seconds: "2024-05-01 12:00:00 (5m ago)", local time */
};

/* Compute a cell from the whole row/section object (for cells made of several members). */
typedef void (*print_format_fn)(json_t *obj, char *buf, size_t len);

/* A table column or a section field; arrays of them end with a NULL title. */
struct print_col {
	const char *title;	/* table header ("NAME") or field label ("Name") */
	const char *key;	/* member of the row/section object */
	enum print_fmt fmt;
	print_format_fn fn;	/* if set, used instead of key and fmt */
};

/* Choose the mode and the output stream (NULL = stdout).  Default: text on stdout. */
void print_init(enum print_mode mode, FILE *out);
int print_is_json(void);

/* JSON mode: write @value pretty-printed with a final newline.  Text mode: nothing. */
void print_json(json_t *value);

/* Text mode only: one line (the newline is added). */
void print_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Text mode only: a blank line, then @title on its own line. */
void print_section(const char *title);
/* Text mode only: one aligned "Label:  value" line per column, values from @obj. */
void print_fields(json_t *obj, const struct print_col *cols);
/* Text mode only: a header row and one row per element (object) of the array @rows. */
void print_table(json_t *rows, const struct print_col *cols);

/* A progress event ({"event":"progress","step","message"}) on stderr, in the current mode. */
void print_progress(json_t *event);

/* Format one value as a cell (control characters replaced by '?').  Returns @buf. */
char *print_format_value(json_t *value, enum print_fmt fmt, char *buf, size_t len);

#endif

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: print layer (see print.h)
 *
 * One global mode and output stream, set by the CLI before it prints anything.
 * Tables are rendered in two passes: every cell is formatted first, so each
 * column is as wide as its widest cell; columns are separated by two spaces
 * and the last one is not padded, so no line ends in blanks.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>
#include "print.h"
#include "units.h"
#include "util.h"

#define CELL_MAX 1024

static enum print_mode mode = PRINT_MODE_TEXT;
static FILE *out;

void print_init(enum print_mode m, FILE *f)
{
	mode = m;
	out = f;
}

static FILE *stream(void)
{
	return out ? out : stdout;
}

int print_is_json(void)
{
	return mode == PRINT_MODE_JSON;
}

void print_json(json_t *value)
{
	if (mode != PRINT_MODE_JSON || !value)
		return;
	/* 9 significant digits: "seconds": 0.000541322, not 0.00054132200000000001 */
	json_dumpf(value, stream(), JSON_INDENT(2) | JSON_REAL_PRECISION(9));
	fputc('\n', stream());
}

void print_line(const char *fmt, ...)
{
	va_list ap;

	if (mode != PRINT_MODE_TEXT)
		return;
	va_start(ap, fmt);
	vfprintf(stream(), fmt, ap);
	va_end(ap);
	fputc('\n', stream());
}

void print_section(const char *title)
{
	if (mode != PRINT_MODE_TEXT)
		return;
	fprintf(stream(), "\n%s\n", title);
}

static void sanitize(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

static void format_age(long long secs, char *buf, size_t len)
{
	if (secs < 0)
		secs = 0;
	if (secs < 120)
		snprintf(buf, len, "%llds ago", secs);
	else if (secs < 2 * 3600)
		snprintf(buf, len, "%lldm ago", secs / 60);
	else if (secs < 2 * 86400)
		snprintf(buf, len, "%lldh ago", secs / 3600);
	else
		snprintf(buf, len, "%lldd ago", secs / 86400);
}

/* Append @s to the list being built in @buf; "..." once it no longer fits. */
static void append(char *buf, size_t len, size_t *used, const char *s)
{
	int n;

	if (*used >= len)
		return;
	n = snprintf(buf + *used, len - *used, "%s%s", *used ? "," : "", s);
	if (n < 0 || (size_t)n >= len - *used) {
		if (len > 4)
			strcpy(buf + len - 4, "...");
		*used = len;
		return;
	}
	*used += (size_t)n;
}

static void format_scalar(json_t *v, char *buf, size_t len)
{
	switch (json_typeof(v)) {
	case JSON_STRING:
		snprintf(buf, len, "%s", json_string_value(v));
		break;
	case JSON_INTEGER:
		snprintf(buf, len, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		break;
	case JSON_REAL:
		snprintf(buf, len, "%g", json_real_value(v));
		break;
	case JSON_TRUE:
		snprintf(buf, len, "yes");
		break;
	case JSON_FALSE:
		snprintf(buf, len, "no");
		break;
	default:
		snprintf(buf, len, "-");
		break;
	}
}

char *print_format_value(json_t *v, enum print_fmt fmt, char *buf, size_t len)
{
	json_int_t n = json_is_integer(v) ? json_integer_value(v) : 0;

	if (!len)
		return buf;
	if (!v || json_is_null(v) || (json_is_string(v) && !json_string_length(v)) ||
	    (json_is_array(v) && !json_array_size(v) && fmt != PRINT_FMT_COUNT)) {
		snprintf(buf, len, "-");
		return buf;
	}

	switch (fmt) {
	case PRINT_FMT_LIST:
		if (json_is_array(v)) {
			char cell[CELL_MAX];
			size_t i, used = 0;
			json_t *e;

			buf[0] = '\0';
			json_array_foreach(v, i, e) {
				format_scalar(e, cell, sizeof(cell));
				append(buf, len, &used, cell);
			}
			break;
		}
		format_scalar(v, buf, len);
		break;
	case PRINT_FMT_COUNT:
		if (json_is_array(v))
			snprintf(buf, len, "%zu", json_array_size(v));
		else
			format_scalar(v, buf, len);
		break;
	case PRINT_FMT_ID:
		if (json_is_integer(v) && n == 0)
			snprintf(buf, len, "-");
		else
			format_scalar(v, buf, len);
		break;
	case PRINT_FMT_RATE:
		if (!json_is_integer(v) || n < 0)
			format_scalar(v, buf, len);
		else if (n == 0)
			snprintf(buf, len, "unshaped");
		else
			units_rate_format((uint64_t)n, buf, len);
		break;
	case PRINT_FMT_SIZE:
		if (!json_is_integer(v) || n < 0)
			format_scalar(v, buf, len);
		else if (n == 0)
			snprintf(buf, len, "-");
		else
			units_size_format((uint64_t)n, buf, len);
		break;
	case PRINT_FMT_AGE:
	case PRINT_FMT_TIME: {
		char age[32];

		if (!json_is_integer(v) || n <= 0) {
			if (json_is_integer(v))
				snprintf(buf, len, "-");
			else
				format_scalar(v, buf, len);
			break;
		}
		format_age((long long)(time(NULL) - n), age, sizeof(age));
		if (fmt == PRINT_FMT_AGE) {
			snprintf(buf, len, "%s", age);
		} else {
			time_t t = (time_t)n;
			struct tm tm;
			char when[64];

			if (!localtime_r(&t, &tm) || !strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm))
				snprintf(when, sizeof(when), "%" JSON_INTEGER_FORMAT, n);
			snprintf(buf, len, "%s (%s)", when, age);
		}
		break;
	}
	case PRINT_FMT_TEXT:
	default:
		format_scalar(v, buf, len);
		break;
	}
	sanitize(buf);
	return buf;
}

static void format_cell(json_t *obj, const struct print_col *c, char *buf, size_t len)
{
	if (c->fn) {
		buf[0] = '\0';
		c->fn(obj, buf, len);
		if (!buf[0])
			snprintf(buf, len, "-");
		sanitize(buf);
		return;
	}
	print_format_value(json_object_get(obj, c->key), c->fmt, buf, len);
}

void print_fields(json_t *obj, const struct print_col *cols)
{
	size_t width = 0;
	char cell[CELL_MAX];

	if (mode != PRINT_MODE_TEXT)
		return;
	for (const struct print_col *c = cols; c->title; c++)
		if (strlen(c->title) + 1 > width)
			width = strlen(c->title) + 1;
	for (const struct print_col *c = cols; c->title; c++) {
		format_cell(obj, c, cell, sizeof(cell));
		fprintf(stream(), "%s:%*s%s\n", c->title, (int)(width - strlen(c->title) + 1), "", cell);
	}
}

void print_table(json_t *rows, const struct print_col *cols)
{
	_cleanup_free_ size_t *width = NULL;
	_cleanup_free_ char **cells = NULL;
	size_t ncols = 0, nrows = json_array_size(rows);
	json_t *row;
	size_t r;

	if (mode != PRINT_MODE_TEXT)
		return;
	while (cols[ncols].title)
		ncols++;
	width = calloc(ncols ? ncols : 1, sizeof(*width));
	cells = calloc(nrows * ncols + 1, sizeof(*cells));
	if (!width || !cells)
		return;

	for (size_t c = 0; c < ncols; c++)
		width[c] = strlen(cols[c].title);
	json_array_foreach(rows, r, row) {
		for (size_t c = 0; c < ncols; c++) {
			char cell[CELL_MAX];

			format_cell(row, &cols[c], cell, sizeof(cell));
			cells[r * ncols + c] = strdup(cell);
			if (!cells[r * ncols + c])
				goto out;
			if (strlen(cell) > width[c])
				width[c] = strlen(cell);
		}
	}

	for (size_t c = 0; c < ncols; c++)
		fprintf(stream(), "%-*s%s", c + 1 < ncols ? (int)width[c] : 0, cols[c].title,
			c + 1 < ncols ? "  " : "\n");
	for (r = 0; r < nrows; r++)
		for (size_t c = 0; c < ncols; c++)
			fprintf(stream(), "%-*s%s", c + 1 < ncols ? (int)width[c] : 0,
				cells[r * ncols + c], c + 1 < ncols ? "  " : "\n");
out:
	for (size_t i = 0; i < nrows * ncols; i++)
		free(cells[i]);
}

void print_progress(json_t *event)
{
	const char *step, *msg;
	char buf[CELL_MAX * 2];

	if (!event)
		return;
	if (mode == PRINT_MODE_JSON) {
		json_dumpf(event, stderr, JSON_COMPACT);
		fputc('\n', stderr);
		return;
	}
	step = json_string_value(json_object_get(event, "step"));
	msg = json_string_value(json_object_get(event, "message"));
	if (!msg)
		return;
	if (step && *step)
		snprintf(buf, sizeof(buf), "  [%s] %s", step, msg);
	else
		snprintf(buf, sizeof(buf), "  %s", msg);
	sanitize(buf);
	fprintf(stderr, "%s\n", buf);
}

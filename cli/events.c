/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: trellis events
 *
 * What happened on the node (the events op, lib/proto.h): the kept history,
 * and with -f each new event as it happens until interrupted.  Text: one
 * line per event (local time, slice/router, kind, message); --json: the
 * result object, or with -f one JSON object per line (the record), flushed
 * as it comes so a file or a pipe sees each event at once.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "cli.h"
#include "names.h"
#include "print.h"

static const char usage[] =
	"Usage: trellis events [--slice NAME] [--since TIME] [-f] [--json]\n";


/* Unix seconds from "1700000000", "10m" (ago), "2026-12-07T01:00:00" (UTC); -1 if none of these. */
static long long since_parse(const char *s)
{
	struct tm tm = { 0 };
	char *end;
	long long v = strtoll(s, &end, 10);
	const char *rest;

	if (end != s && !*end && v >= 0)
		return v;
	if (end != s && v >= 0 && end[1] == '\0') {
		long mult = end[0] == 's' ? 1 : end[0] == 'm' ? 60 : end[0] == 'h' ? 3600 : end[0] == 'd' ? 86400 : 0;

		if (mult) {
			long long t = (long long)time(NULL) - v * mult;

			return t < 0 ? 0 : t;
		}
	}
	rest = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (rest && !*rest)
		return (long long)timegm(&tm);
	return -1;
}

static void event_line(json_t *e)
{
	double t = json_real_value(json_object_get(e, "time"));
	time_t sec = (time_t)t;
	const char *slice = json_string_value(json_object_get(e, "slice"));
	const char *router = json_string_value(json_object_get(e, "router"));
	char when[32], who[40];
	struct tm tm;

	localtime_r(&sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
	if (slice)
		snprintf(who, sizeof(who), "%s%s%s", slice, router ? "/" : "", router ? router : "");
	else
		snprintf(who, sizeof(who), "node %s", json_string_value(json_object_get(e, "node")) ?: "?");
	printf("%s.%03d  %-20s %-17s %s\n", when, (int)((t - (double)sec) * 1000), who,
	       json_string_value(json_object_get(e, "kind")) ?: "?", json_string_value(json_object_get(e, "message")) ?: "");
}

static void on_event(struct cli *cli, json_t *record)
{
	if (!record)
		return;
	if (cli->json) {
		char *s = json_dumps(record, JSON_COMPACT);

		if (s)
			printf("%s\n", s);
		free(s);
	} else {
		event_line(record);
	}
	fflush(stdout);
}

int cli_events_run(struct cli *cli, const struct cli_cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "slice", required_argument, NULL, 's' }, { "since", required_argument, NULL, 'S' },
		{ "follow", no_argument, NULL, 'f' },	   { "json", no_argument, NULL, CLI_OPTC_JSON },
		{ "quiet", no_argument, NULL, 'q' },	   { "socket", required_argument, NULL, CLI_OPTC_SOCKET },
		{ "help", no_argument, NULL, 'h' },	   { NULL, 0, NULL, 0 },
	};
	const char *slice = NULL;
	long long since = 0;
	int follow = 0, c;
	json_t *req, *result = NULL, *arr;
	int r;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+fhq", opts, NULL)) != -1) {
		switch (cli_common_opt(cli, cmd, c, optarg)) {
		case -1:
			return 0;
		case 1:
			continue;
		}
		switch (c) {
		case 's':
			if (!names_valid(optarg)) {
				fprintf(stderr, "trellis: --slice '%s': not a slice name\n%s", optarg, usage);
				return CLI_EXIT_USAGE;
			}
			slice = optarg;
			break;
		case 'S':
			since = since_parse(optarg);
			if (since < 0) {
				fprintf(stderr, "trellis: --since '%s': not a time (unix seconds, 30s/10m/2h/1d ago, or YYYY-MM-DDTHH:MM:SS)\n%s",
					optarg, usage);
				return CLI_EXIT_USAGE;
			}
			break;
		case 'f':
			follow = 1;
			break;
		default:
			fprintf(stderr, "trellis: events: unknown option or missing argument '%s'\n%s", argv[optind - 1],
				usage);
			return CLI_EXIT_USAGE;
		}
	}
	if (cli->json)
		print_init(PRINT_MODE_JSON, stdout);
	if (optind < argc) {
		fprintf(stderr, "trellis: events: unexpected argument '%s'\n%s", argv[optind], usage);
		return CLI_EXIT_USAGE;
	}
	req = json_pack("{s:s}", "op", "events");
	if (req && slice)
		json_object_set_new(req, "name", json_string(slice));
	if (req && since)
		json_object_set_new(req, "since", json_integer(since));
	if (req && follow) {
		json_object_set_new(req, "follow", json_true());
		cli->on_event = on_event;
	}
	if ((r = cli_call(cli, req, NULL, 0, &result)))
		return r;
	if (follow) {
		json_decref(result);
		return 0;
	}
	if (cli->json) {
		print_json(result);
	} else {
		arr = json_object_get(result, "events");
		for (size_t i = 0; i < json_array_size(arr); i++)
			event_line(json_array_get(arr, i));
	}
	json_decref(result);
	return 0;
}

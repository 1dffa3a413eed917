/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: slice graph and slice save
 *
 * Two verbs that look at a running slice from the outside, built only from
 * what the daemon already answers (slice.show, slice.stats, slice.exec), so
 * they need no new request and obey the same access table: graph.c draws
 * it (lib/graph.c), save.c writes a spec and router configs that recreate
 * it.  They parse their own options (view_args_parse) to stay out of the
 * shared option table in trellis.c.
 */
#ifndef TRELLIS_CLI_VIEWS_H
#define TRELLIS_CLI_VIEWS_H

#include "cli.h"

#define VIEW_OPT_FORMAT 0x1	/* --format FMT */
#define VIEW_OPT_STATS 0x2	/* --stats */
#define VIEW_OPT_OUTPUT 0x4	/* -o, --output DIR */

struct view_args {
	unsigned accept;	/* VIEW_OPT_* */
	const char *name;	/* the slice */
	const char *format;
	int stats;
	const char *output;
};

/* Parse NAME and the options of a view verb (plus --json, -q, -h, --socket).
 * Returns 1 to run the verb, else 0 with *status set (help or usage error printed). */
int view_args_parse(struct cli *cli, const struct cli_cmd *cmd, int argc, char **argv, struct view_args *va,
		    int *status);

/* One request that fetches a slice object: the node's socket for a multi-node CLI is the first node's. */
int view_show(struct cli *cli, const char *name, json_t **slice);

int cli_slice_graph(struct cli *cli, const struct cli_cmd *cmd, int argc, char **argv);
int cli_slice_save(struct cli *cli, const struct cli_cmd *cmd, int argc, char **argv);

#endif

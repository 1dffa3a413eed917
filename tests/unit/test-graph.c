/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: lib/graph.c: DOT and Mermaid from a slice object
 *
 * A two-node slice with a link taken down, a hostile description and stats:
 * routers land in their node's cluster/subgraph, links carry their ends'
 * addresses, shaping, state and (with stats) rates and drops, and every
 * tenant string is escaped for the format.
 */
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "graph.h"
#include "tap.h"

static const char slice_json[] =
	"{\"name\": \"lab\", \"description\": \"a \\\"quoted\\\" <b>#1</b> | back\\\\slash\\nnewline\","
	" \"routers\": ["
	"  {\"name\": \"r1\", \"node\": \"n1\", \"template\": \"frr\", \"state\": \"running\","
	"   \"loopback\": [\"10.255.0.1/32\"],"
	"   \"interfaces\": [{\"name\": \"eth1\", \"addresses\": [\"10.0.12.1/24\", \"fd00:12::1/64\"], \"link\": \"r1:eth1-r2:eth1\"},"
	"                    {\"name\": \"eth2\", \"addresses\": [\"10.0.13.1/24\"], \"link\": \"r1:eth2-r-3:eth1\"}]},"
	"  {\"name\": \"r2\", \"node\": \"n2\", \"template\": \"bird\", \"state\": \"remote\", \"loopback\": [],"
	"   \"interfaces\": [{\"name\": \"eth1\", \"addresses\": [\"10.0.12.2/24\", \"fd00:12::2/64\"], \"link\": \"r1:eth1-r2:eth1\"}]},"
	"  {\"name\": \"r-3\", \"node\": \"n1\", \"template\": \"plain\", \"state\": \"stopped\","
	"   \"interfaces\": [{\"name\": \"eth1\", \"addresses\": [\"10.0.13.3/24\"], \"link\": \"r1:eth2-r-3:eth1\"}]}],"
	" \"links\": ["
	"  {\"name\": \"r1:eth1-r2:eth1\", \"endpoints\": [\"r1:eth1\", \"r2:eth1\"], \"rate\": 20000000,"
	"   \"shape\": {\"rate\": 20000000, \"ceil\": 50000000, \"burst\": 0, \"loss_ppm\": 10000, \"delay_us\": 5000, \"jitter_us\": 0},"
	"   \"state\": \"up\"},"
	"  {\"name\": \"r1:eth2-r-3:eth1\", \"endpoints\": [\"r1:eth2\", \"r-3:eth1\"], \"rate\": 0, \"shape\": {}, \"state\": \"admin-down\"}]}";

static const char stats_json[] =
	"{\"name\": \"lab\", \"links\": [{\"name\": \"r1:eth1-r2:eth1\","
	" \"directions\": [{\"from\": \"r1:eth1\", \"to\": \"r2:eth1\", \"rate_now\": 2000000, \"drops\": 3},"
	"                  {\"from\": \"r2:eth1\", \"to\": \"r1:eth1\", \"rate_now\": 0, \"drops\": 0}],"
	" \"ports\": [{\"host\": \"lab.r1.eth1\", \"drops\": 4}]}]}";

/* The text between the first @from and the next @to after it (malloc'd), or NULL. */
static char *between(const char *s, const char *from, const char *to)
{
	const char *a = strstr(s, from), *b;

	if (!a)
		return NULL;
	b = strstr(a + strlen(from), to);
	return b ? strndup(a, (size_t)(b - a)) : NULL;
}

int main(void)
{
	json_t *slice = json_loads(slice_json, 0, NULL), *stats = json_loads(stats_json, 0, NULL);
	struct trl_error err = { 0 };
	enum graph_format fmt;
	char *dot = NULL, *mm = NULL, *mms = NULL, *part;

	plan(27);
	ok(slice && stats, "the test's JSON parses");
	ok(graph_format_parse("dot", &fmt) == 0 && fmt == GRAPH_DOT, "format dot");
	ok(graph_format_parse("mermaid", &fmt) == 0 && fmt == GRAPH_MERMAID, "format mermaid");
	ok(graph_format_parse("svg", &fmt) < 0, "svg is not a text format of the library");
	ok(graph_render(json_string("x"), NULL, GRAPH_DOT, &dot, &err) < 0 && strstr(err.msg, "routers"),
	   "a non-slice is refused naming what is missing: %s", err.msg);

	ok(graph_render(slice, NULL, GRAPH_DOT, &dot, &err) == 0, "DOT renders");
	ok(strstr(dot, "label=\"slice lab: a \\\"quoted\\\" <b>#1</b> | back\\\\slash newline\"") != NULL,
	   "DOT: the description's quotes and backslash escaped, its newline a space");
	part = between(dot, "subgraph \"cluster_0\"", "}");
	ok(part && strstr(part, "label=\"node n1\"") && strstr(part, "\"r1\" [") && strstr(part, "\"r-3\" [") &&
		   !strstr(part, "\"r2\" ["),
	   "DOT: node n1's cluster holds r1 and r-3, not r2");
	free(part);
	part = between(dot, "subgraph \"cluster_1\"", "}");
	ok(part && strstr(part, "label=\"node n2\"") && strstr(part, "\"r2\" [label=\"r2\\nbird\"]"),
	   "DOT: node n2's cluster holds r2 (remote: no state shown)");
	free(part);
	ok(strstr(dot, "\"r-3\" [label=\"r-3\\nplain (stopped)\"") && strstr(dot, "fillcolor=\"#dddddd\""),
	   "DOT: a stopped router says so and is greyed");
	ok(strstr(dot, "\"r1\" [label=\"r1\\nfrr\\nlo 10.255.0.1/32\"]") != NULL, "DOT: the loopback is on the router");
	ok(strstr(dot, "\"r1\" -- \"r2\" [taillabel=\"eth1 10.0.12.1/24 fd00:12::1/64\", headlabel=\"eth1 10.0.12.2/24 "
			"fd00:12::2/64\", label=\"20Mbit ceil 50Mbit, loss 1%, delay 5ms\\nup\"]") != NULL,
	   "DOT: a link's ends, shaping and state");
	part = between(dot, "\"r1\" -- \"r-3\"", "\n");
	ok(part && strstr(part, "unshaped\\nadmin-down") && strstr(part, "style=dashed"), "DOT: a link taken down is dashed");
	free(part);
	ok(!strstr(dot, "→"), "DOT: no rates without stats");

	ok(graph_render(slice, NULL, GRAPH_MERMAID, &mm, &err) == 0, "Mermaid renders");
	ok(!strncmp(mm, "%% slice lab: a \"quoted\" <b>#1</b> | back\\slash newline\nflowchart LR\n", 68),
	   "Mermaid: a one-line comment, then the flowchart");
	part = between(mm, "subgraph node0[\"node n1\"]", "end\n");
	ok(part && strstr(part, "r_r1[\"r1<br/>frr<br/>lo 10.255.0.1/32\"]") &&
		   strstr(part, "r_r_3[\"r-3<br/>plain (stopped)\"]") && !strstr(part, "r_r2["),
	   "Mermaid: node n1's subgraph holds r1 and r-3 (identifier r_r_3)");
	free(part);
	ok(strstr(mm, "subgraph node1[\"node n2\"]\n\t\tr_r2[\"r2<br/>bird\"]\n\tend\n") != NULL,
	   "Mermaid: node n2's subgraph holds r2");
	ok(strstr(mm, "\tr_r1 ---|\"r1:eth1 10.0.12.1/24 fd00:12::1/64<br/>20Mbit ceil 50Mbit, loss 1%, delay 5ms<br/>up<br/>"
		      "r2:eth1 10.0.12.2/24 fd00:12::2/64\"| r_r2\n") != NULL,
	   "Mermaid: a link's label has both ends, shaping and state");
	ok(strstr(mm, "\tr_r1 -.-|\"r1:eth2 10.0.13.1/24<br/>unshaped<br/>admin-down<br/>r-3:eth1 10.0.13.3/24\"| r_r_3\n") != NULL,
	   "Mermaid: a link taken down is dotted");

	/* Mermaid label escaping, through a router whose template name is hostile. */
	json_object_set_new(json_array_get(json_object_get(slice, "routers"), 1), "template",
			    json_string("x\"]; click r_r1 call evil() <b>&#|`"));
	free(mm);
	ok(graph_render(slice, NULL, GRAPH_MERMAID, &mm, &err) == 0, "Mermaid renders a hostile string");
	ok(strstr(mm, "r_r2[\"r2<br/>x#34;]; click r_r1 call evil() #60;b#62;#38;#35;#124;#96;\"]") != NULL,
	   "Mermaid: quotes, angle brackets, &, #, | and ` become #NN; entities");
	ok(!strstr(mm, "\"];"), "Mermaid: the label cannot be closed from inside");

	ok(graph_render(slice, stats, GRAPH_MERMAID, &mms, &err) == 0, "Mermaid renders with stats");
	ok(strstr(mms, "up<br/>r1 → r2 2Mbit/s<br/>r2 → r1 0bit/s<br/>drops 7<br/>r2:eth1") != NULL,
	   "stats: each direction's rate, drops of the classes and the ports summed");
	ok(strstr(mms, "admin-down<br/>r-3:eth1") != NULL, "stats: a link without counters gets none");
	{
		size_t n = strlen(mms);

		ok(n && mms[n - 1] == '\n', "the text ends in a newline");
	}

	free(dot);
	free(mm);
	free(mms);
	json_decref(slice);
	json_decref(stats);
	return done();
}

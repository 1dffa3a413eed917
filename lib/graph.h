/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: topology pictures
 *
 * Renders a slice as the daemon reports it (a slice.show result, proto.h)
 * as a Graphviz DOT or a Mermaid flowchart: routers grouped by the node
 * they run on, one edge per link labelled with the interfaces and
 * addresses of its ends, its shaping and its state; with a slice.stats
 * result also each direction's current rate and the drops.  Pure text,
 * no Graphviz library: the CLI runs dot(1) for SVG, a web page can hand
 * the DOT or Mermaid text to a renderer in the browser.
 */
#ifndef TRELLIS_GRAPH_H
#define TRELLIS_GRAPH_H

#include <jansson.h>
#include "error.h"

enum graph_format {
	GRAPH_DOT,
	GRAPH_MERMAID,
};

/* "dot" / "mermaid" -> GRAPH_*; -EINVAL for anything else. */
int graph_format_parse(const char *name, enum graph_format *fmt);

/*
 * Render @slice (a slice.show result) in @fmt; @stats is a slice.stats
 * result of the same slice, or NULL.  On success *out is a malloc'd,
 * NUL-terminated text ending in a newline.  Strings from the slice
 * (descriptions, names) are escaped for the format, so any value renders.
 */
int graph_render(json_t *slice, json_t *stats, enum graph_format fmt, char **out, struct trl_error *err);

#endif

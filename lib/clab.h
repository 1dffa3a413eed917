/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: containerlab topologies as trellis slice specs
 *
 * 'trellis slice create -f lab.clab.yml' translates a containerlab topology
 * into a slice spec (trellis-slice(5)) before sending it: what trellis can
 * honour is mapped, everything else is refused naming the field and why
 * (trellis-slice(5), CONTAINERLAB TOPOLOGIES).
 */
#ifndef TRELLIS_CLAB_H
#define TRELLIS_CLAB_H

#include <stddef.h>
#include "error.h"

/* 1 if @name ends in .clab.yml/.clab.yaml, or @text has a top-level
 * "topology:" and no "slice:" line. */
int clab_detect(const char *name, const char *text, size_t len);

/* Reads a file a topology binds (@name as written, relative to the topology
 * file's directory) into a malloc'ed NUL-terminated string. */
typedef int (*clab_read_fn)(void *ctx, const char *name, char **text, struct trl_error *err);

/*
 * Translate the topology @text (from @file, for messages) into a spec: *spec
 * gets a malloc'ed YAML text whose config-file: names are the binds' host
 * paths, *notes the malloc'ed lines ("mgmt: ignored ...\n") about what was
 * left out on purpose, or NULL.  @read reads the FRR daemons files the nodes
 * bind.  Errors: "FILE:LINE:COL: FIELD: reason" (TRL_EINVALID).
 */
int clab_to_spec(const char *text, size_t len, const char *file, clab_read_fn read, void *ctx, char **spec,
		 char **notes, struct trl_error *err);

#endif

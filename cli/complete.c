/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: trellis completion: the bash completion script, from the command table
 *
 *   trellis completion bash             the script (installed as
 *                                       $(datadir)/bash-completion/completions/trellis)
 *   trellis completion table            OBJECT COMMAND<TAB>OPERANDS<TAB>OPTIONS, a line each
 *   trellis completion names slices     live names from trellisd, a line each
 *   trellis completion names routers|links SLICE
 *
 * Objects, commands and options come from cli_objects[], cli_top_cmds[] and
 * cli_opts[] (trellis.c), the same tables --help prints; a command's operands
 * from its synopsis, whose upper-case words name what goes there (NAME and
 * SLICE a slice, ROUTER a router, LINK a link, FILE a file, CMD a command;
 * a|b|c is a choice of words).  So completion, --help and the table cannot
 * drift apart, and a test compares the table with trellis(8)'s SYNOPSIS.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "print.h"

/* What the synopsis's word @w (brackets and "..." already off) stands for, or NULL. */
static const char *operand_kind(const char *w)
{
	static const struct {
		const char *word, *kind;
	} kinds[] = {
		{ "NAME", "slice" }, { "SLICE", "slice" },	{ "ROUTER", "router" }, { "LINK", "link" },
		{ "FILE", "file" },  { "CMD", "command" },	{ "OBJECT", "object" }, { "COMMAND", "verb" },
	};

	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (!strcmp(w, kinds[i].word))
			return kinds[i].kind;
	if (strspn(w, "abcdefghijklmnopqrstuvwxyz|-") == strlen(w) && *w != '-')
		return w;	/* literal words: add|list|remove, bash */
	return NULL;	/* ARG, LIMIT: nothing to offer */
}

/* The kinds of @cmd's operands, space-separated ("slice router"), from its synopsis. */
static void cmd_operands(const struct cli_cmd *cmd, char *buf, size_t len)
{
	char syn[256], *save = NULL, *w;
	size_t skip = cmd->object ? 2 : 1, n = 0;
	int after_opt = 0;

	snprintf(syn, sizeof(syn), "%s", cmd->synopsis);
	buf[0] = '\0';
	for (w = strtok_r(syn, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
		int closed;
		size_t l;
		const char *kind;

		if (skip) {
			skip--;
			continue;
		}
		if (!strcmp(w, "--")) {
			after_opt = 0;
			continue;
		}
		closed = strchr(w, ']') != NULL;
		w += strspn(w, "[");
		l = strcspn(w, "].");
		w[l] = '\0';
		if (*w == '-') {
			after_opt = !closed;	/* "-f FILE", "[--router R]": the next word is its argument */
			continue;
		}
		if (after_opt) {
			after_opt = 0;
			continue;
		}
		kind = operand_kind(w);
		n += (size_t)snprintf(buf + n, n < len ? len - n : 0, "%s%s", n ? " " : "", kind ? kind : "-");
	}
}

/* " --file -f --dry-run ..." (with @with_arg: only those that take an argument) */
static void cmd_options(const struct cli_cmd *cmd, int with_arg, char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = '\0';
	for (const struct cli_opt *o = cli_opts; o->name; o++) {
		if (o->group && !(o->group & cmd->accept))
			continue;
		if (with_arg && !o->arg)
			continue;
		n += (size_t)snprintf(buf + n, n < len ? len - n : 0, "%s--%s", n ? " " : "", o->name);
		if (o->letter)
			n += (size_t)snprintf(buf + n, n < len ? len - n : 0, " -%c", o->letter);
	}
}

static void cmd_key(const struct cli_cmd *cmd, char *buf, size_t len)
{
	if (cmd->object)
		snprintf(buf, len, "%s %s", cmd->object, cmd->name);
	else
		snprintf(buf, len, "%s", cmd->name);
}

static void each_cmd(void (*fn)(const struct cli_cmd *cmd))
{
	for (size_t i = 0; i < cli_n_objects; i++)
		for (const struct cli_cmd *c = cli_objects[i].cmds; c->name; c++)
			fn(c);
	for (const struct cli_cmd *c = cli_top_cmds; c->name; c++)
		fn(c);
}

static void table_line(const struct cli_cmd *cmd)
{
	char key[64], ops[256], opts[1024];

	cmd_key(cmd, key, sizeof(key));
	cmd_operands(cmd, ops, sizeof(ops));
	cmd_options(cmd, 0, opts, sizeof(opts));
	printf("%s\t%s\t%s\n", key, ops, opts);
}

static void bash_opts(const struct cli_cmd *cmd)
{
	char key[64], buf[1024];

	cmd_key(cmd, key, sizeof(key));
	cmd_options(cmd, 0, buf, sizeof(buf));
	printf("\t[\"%s\"]=\"%s\"\n", key, buf);
}

static void bash_optargs(const struct cli_cmd *cmd)
{
	char key[64], buf[1024];

	cmd_key(cmd, key, sizeof(key));
	cmd_options(cmd, 1, buf, sizeof(buf));
	printf("\t[\"%s\"]=\" %s \"\n", key, buf);
}

static void bash_operands(const struct cli_cmd *cmd)
{
	char key[64], buf[256];

	cmd_key(cmd, key, sizeof(key));
	cmd_operands(cmd, buf, sizeof(buf));
	printf("\t[\"%s\"]=\"%s\"\n", key, buf);
}

/* The part of the script that does not depend on the table. */
static const char bash_body[] =
	"_trellis_names() {\n"
	"\t\"${COMP_WORDS[0]}\" \"${_trellis_conn[@]}\" completion names \"$@\" 2>/dev/null\n"
	"}\n"
	"\n"
	"_trellis() {\n"
	"\tlocal cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}\n"
	"\tlocal i=1 w key kind pos=() kinds\n"
	"\t_trellis_conn=()\n"
	"\tCOMPREPLY=()\n"
	"\t# the options before the object; keep those that say where trellisd is\n"
	"\twhile (( i < COMP_CWORD )); do\n"
	"\t\tw=${COMP_WORDS[i]}\n"
	"\t\tif [[ \" $_trellis_global_args \" == *\" $w \"* ]]; then\n"
	"\t\t\t_trellis_conn+=(\"$w\" \"${COMP_WORDS[i+1]}\"); (( i += 2 )); continue\n"
	"\t\tfi\n"
	"\t\t[[ $w == -* ]] || break\n"
	"\t\t[[ $w == *=* ]] && _trellis_conn+=(\"$w\")\n"
	"\t\t(( i++ ))\n"
	"\tdone\n"
	"\tif (( i >= COMP_CWORD )); then\n"
	"\t\tif [[ \" $_trellis_global_args \" == *\" $prev \"* ]]; then\n"
	"\t\t\tcompopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -f -- \"$cur\"))\n"
	"\t\telif [[ $cur == -* ]]; then\n"
	"\t\t\tCOMPREPLY=($(compgen -W \"$_trellis_global_opts\" -- \"$cur\"))\n"
	"\t\telse\n"
	"\t\t\tCOMPREPLY=($(compgen -W \"$_trellis_objects $_trellis_top\" -- \"$cur\"))\n"
	"\t\tfi\n"
	"\t\treturn\n"
	"\tfi\n"
	"\tkey=${COMP_WORDS[i]}; (( i++ ))\n"
	"\tif [[ -n ${_trellis_verbs[$key]} ]]; then\n"
	"\t\t# an object: its command, after any of --json -q --socket PATH\n"
	"\t\twhile (( i < COMP_CWORD )) && [[ ${COMP_WORDS[i]} == -* ]]; do\n"
	"\t\t\t[[ ${COMP_WORDS[i]} == --socket ]] && { _trellis_conn+=(--socket \"${COMP_WORDS[i+1]}\"); (( i++ )); }\n"
	"\t\t\t(( i++ ))\n"
	"\t\tdone\n"
	"\t\tif (( i >= COMP_CWORD )); then\n"
	"\t\t\tif [[ $prev == --socket ]]; then\n"
	"\t\t\t\tcompopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -f -- \"$cur\"))\n"
	"\t\t\telif [[ $cur == -* ]]; then\n"
	"\t\t\t\tCOMPREPLY=($(compgen -W \"--json --quiet -q --socket --help -h\" -- \"$cur\"))\n"
	"\t\t\telse\n"
	"\t\t\t\tCOMPREPLY=($(compgen -W \"${_trellis_verbs[$key]}\" -- \"$cur\"))\n"
	"\t\t\tfi\n"
	"\t\t\treturn\n"
	"\t\tfi\n"
	"\t\tkey=\"$key ${COMP_WORDS[i]}\"; (( i++ ))\n"
	"\tfi\n"
	"\t[[ -n ${_trellis_operands[$key]+set} ]] || return\n"
	"\tkinds=(${_trellis_operands[$key]})\n"
	"\t# the operands so far; an option's argument is not one\n"
	"\twhile (( i < COMP_CWORD )); do\n"
	"\t\tw=${COMP_WORDS[i]}\n"
	"\t\tif [[ $w == -- ]]; then\n"
	"\t\t\t(( i++ )); continue\n"
	"\t\telif [[ \" ${_trellis_optargs[$key]} \" == *\" $w \"* ]]; then\n"
	"\t\t\t[[ $w == --socket ]] && _trellis_conn+=(--socket \"${COMP_WORDS[i+1]}\")\n"
	"\t\t\t(( i += 2 )); continue\n"
	"\t\telif [[ $w != -* ]]; then\n"
	"\t\t\tpos+=(\"$w\")\n"
	"\t\t\t[[ ${kinds[${#pos[@]}-1]} == command ]] && { COMPREPLY=($(compgen -c -- \"$cur\")); return; }\n"
	"\t\tfi\n"
	"\t\t(( i++ ))\n"
	"\tdone\n"
	"\tif [[ \" ${_trellis_optargs[$key]} \" == *\" $prev \"* ]]; then\n"
	"\t\tcase $prev in\n"
	"\t\t--router) COMPREPLY=($(compgen -W \"$(_trellis_names routers \"${pos[0]}\")\" -- \"$cur\")) ;;\n"
	"\t\t-f|--file|--socket|--shell) compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -f -- \"$cur\")) ;;\n"
	"\t\tesac\n"
	"\t\treturn\n"
	"\tfi\n"
	"\tif [[ $cur == -* ]]; then\n"
	"\t\tCOMPREPLY=($(compgen -W \"${_trellis_opts[$key]}\" -- \"$cur\"))\n"
	"\t\treturn\n"
	"\tfi\n"
	"\tkind=${kinds[${#pos[@]}]}\n"
	"\t# slice key add|list|remove NAME: the slice is the operand after the action\n"
	"\tlocal slice=${pos[0]}\n"
	"\t[[ ${kinds[0]} == *\"|\"* ]] && slice=${pos[1]}\n"
	"\tcase $kind in\n"
	"\tslice) COMPREPLY=($(compgen -W \"$(_trellis_names slices)\" -- \"$cur\")) ;;\n"
	"\trouter) COMPREPLY=($(compgen -W \"$(_trellis_names routers \"$slice\")\" -- \"$cur\")) ;;\n"
	"\tlink) COMPREPLY=($(compgen -W \"$(_trellis_names links \"$slice\")\" -- \"$cur\")) ;;\n"
	"\tfile) compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -f -- \"$cur\")) ;;\n"
	"\tcommand) COMPREPLY=($(compgen -c -- \"$cur\")) ;;\n"
	"\tobject) COMPREPLY=($(compgen -W \"$_trellis_objects $_trellis_top\" -- \"$cur\")) ;;\n"
	"\tverb) COMPREPLY=($(compgen -W \"${_trellis_verbs[${pos[0]}]}\" -- \"$cur\")) ;;\n"
	"\t*\"|\"*|[a-z]*) COMPREPLY=($(compgen -W \"${kind//|/ }\" -- \"$cur\")) ;;\n"
	"\tesac\n"
	"}\n"
	"complete -F _trellis trellis\n";

static void print_bash(void)
{
	printf("# bash completion for trellis(8): generated by 'trellis completion bash'\n"
	       "# from trellis's command table; slice, router and link names come from trellisd.\n");
	printf("_trellis_objects=\"");
	for (size_t i = 0; i < cli_n_objects; i++)
		printf("%s%s", i ? " " : "", cli_objects[i].name);
	printf("\"\n_trellis_top=\"");
	for (const struct cli_cmd *c = cli_top_cmds; c->name; c++)
		printf("%s%s", c == cli_top_cmds ? "" : " ", c->name);
	printf("\"\n_trellis_global_opts=\"");
	for (const struct cli_opt *o = cli_global_opts; o->name; o++) {
		printf("%s--%s", o == cli_global_opts ? "" : " ", o->name);
		if (o->letter)
			printf(" -%c", o->letter);
	}
	printf("\"\n_trellis_global_args=\"");
	for (const struct cli_opt *o = cli_global_opts; o->name; o++)
		if (o->arg)
			printf(" --%s", o->name);
	printf("\"\ndeclare -gA _trellis_verbs=(\n");
	for (size_t i = 0; i < cli_n_objects; i++) {
		printf("\t[%s]=\"", cli_objects[i].name);
		for (const struct cli_cmd *c = cli_objects[i].cmds; c->name; c++)
			printf("%s%s", c == cli_objects[i].cmds ? "" : " ", c->name);
		printf("\"\n");
	}
	printf(")\ndeclare -gA _trellis_opts=(\n");
	each_cmd(bash_opts);
	printf(")\ndeclare -gA _trellis_optargs=(\n");
	each_cmd(bash_optargs);
	printf(")\ndeclare -gA _trellis_operands=(\n");
	each_cmd(bash_operands);
	printf(")\n\n%s", bash_body);
}

/* trellis completion names slices | routers SLICE | links SLICE: quiet on any error. */
static int print_names(struct cli *cli, const char *what, const char *slice)
{
	struct trl_error err = { 0 };
	json_t *result = NULL, *list, *v;
	size_t i;

	if (!strcmp(what, "slices")) {
		if (cli_request(cli, cli->socket, json_pack("{s:s}", "op", "slice.list"), NULL, 0, &result, &err) < 0)
			return 1;
		list = json_object_get(result, "slices");
	} else if (slice && (!strcmp(what, "routers") || !strcmp(what, "links"))) {
		if (cli_request(cli, cli->socket, json_pack("{s:s, s:s}", "op", "slice.show", "name", slice), NULL, 0,
				&result, &err) < 0)
			return 1;
		list = json_object_get(result, what);
	} else {
		return CLI_EXIT_USAGE;
	}
	json_array_foreach(list, i, v) {
		const char *name = json_string_value(json_object_get(v, "name"));

		/* names are checked by trellisd; a space would still split a word */
		if (name && !strpbrk(name, " \t\n"))
			printf("%s\n", name);
	}
	json_decref(result);
	return 0;
}

int cli_completion_run(struct cli *cli, const struct cli_cmd *cmd, int argc, char **argv)
{
	struct cli_args a = { 0 };
	int status;

	if (!cli_args_parse(cli, cmd, argc, argv, &a, &status))
		goto out;
	if (a.noperands == 1 && !strcmp(a.operands[0], "bash")) {
		print_bash();
	} else if (a.noperands == 1 && !strcmp(a.operands[0], "table")) {
		each_cmd(table_line);
	} else if (a.noperands >= 2 && a.noperands <= 3 && !strcmp(a.operands[0], "names")) {
		status = print_names(cli, a.operands[1], a.noperands == 3 ? a.operands[2] : NULL);
		if (status == CLI_EXIT_USAGE)
			status = cli_usage_error(cmd, "names: slices, routers SLICE or links SLICE");
	} else {
		status = cli_usage_error(cmd, a.noperands ? "unknown argument '%s' (bash or table)" : "missing shell (bash)",
					 a.noperands ? a.operands[0] : "");
	}
out:
	free(a.operands);
	return status;
}

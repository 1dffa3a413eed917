bin_PROGRAMS += cli/trellis
cli_trellis_SOURCES = \
	cli/trellis.c cli/cli.h \
	cli/call.c \
	cli/slice.c \
	cli/node.c \
	cli/link.c \
	cli/capture.c \
	cli/router.c \
	cli/multi.c \
	cli/term.c \
	cli/cluster.c \
	cli/views.h cli/graph.c cli/save.c \
	cli/complete.c \
	cli/events.c
cli_trellis_CFLAGS = $(AM_CFLAGS) $(FYAML_CFLAGS) $(JANSSON_CFLAGS)
cli_trellis_LDADD = lib/libtrellis.la $(JANSSON_LIBS) $(FYAML_LIBS) $(CURL_LIBS)

# sshd's AuthorizedKeysCommand and the login shell of slices' ssh accounts.
bin_PROGRAMS += cli/trellis-ssh
cli_trellis_ssh_SOURCES = cli/ssh.c cli/cli.h cli/call.c cli/term.c
cli_trellis_ssh_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS)
cli_trellis_ssh_LDADD = lib/libtrellis.la $(JANSSON_LIBS) $(FYAML_LIBS) $(CURL_LIBS)

# Bash completion: generated from the CLI's own command table (cli/complete.c).
bashcompletiondir = $(datadir)/bash-completion/completions
bashcompletion_DATA = cli/completion/trellis
cli/completion/trellis: cli/trellis$(EXEEXT)
	$(AM_V_GEN)$(MKDIR_P) cli/completion && cli/trellis$(EXEEXT) completion bash >$@.tmp && mv $@.tmp $@
CLEANFILES += cli/completion/trellis cli/completion/trellis.tmp

bin_PROGRAMS += cli/trellis
cli_trellis_SOURCES = \
	cli/trellis.c cli/cli.h \
	cli/call.c \
	cli/slice.c \
	cli/node.c \
	cli/link.c \
	cli/multi.c \
	cli/cluster.c
cli_trellis_CFLAGS = $(AM_CFLAGS) $(FYAML_CFLAGS) $(JANSSON_CFLAGS)
cli_trellis_LDADD = lib/libtrellis.la $(JANSSON_LIBS) $(FYAML_LIBS) $(CURL_LIBS)

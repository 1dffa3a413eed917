noinst_LTLIBRARIES += lib/libtrellis.la
lib_libtrellis_la_SOURCES = \
	lib/error.c lib/error.h \
	lib/log.c lib/log.h \
	lib/escape.c lib/escape.h \
	lib/util.c lib/util.h \
	lib/addr.c lib/model.c lib/model.h \
	lib/units.c lib/units.h \
	lib/names.c lib/names.h \
	lib/spec.c lib/spec.h \
	lib/clab.c lib/clab.h \
	lib/proto.c lib/proto.h \
	lib/print.c lib/print.h \
	lib/sshkey.c lib/sshkey.h \
	lib/etcd.c lib/etcd.h \
	lib/graph.c lib/graph.h \
	lib/cluster.c lib/cluster-apply.c lib/cluster-view.c lib/cluster.h lib/cluster-int.h
lib_libtrellis_la_CFLAGS = $(AM_CFLAGS) $(FYAML_CFLAGS) $(JANSSON_CFLAGS) $(CURL_CFLAGS)
lib_libtrellis_la_LIBADD = $(FYAML_LIBS) $(JANSSON_LIBS) $(CURL_LIBS)

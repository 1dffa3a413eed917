# Fast path: BPF programs (clang -target bpf) + bpftool skeletons + loader.
noinst_LTLIBRARIES += bridge/libbridge.la
bridge_libbridge_la_SOURCES = bridge/bridge.c bridge/bridge.h
bridge_libbridge_la_CFLAGS = $(AM_CFLAGS) $(LIBBPF_CFLAGS) $(LIBNL_CFLAGS) -I$(top_builddir)/bridge
bridge_libbridge_la_LIBADD = $(LIBBPF_LIBS) $(LIBELF_LIBS)

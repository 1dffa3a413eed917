# Fast path: BPF programs (clang -target bpf) + bpftool skeletons + loader.
noinst_LTLIBRARIES += bridge/libbridge.la
bridge_libbridge_la_SOURCES = bridge/bridge.c bridge/bridge.h
nodist_bridge_libbridge_la_SOURCES = bridge/shortbridge.skel.h
bridge_libbridge_la_CFLAGS = $(AM_CFLAGS) $(LIBBPF_CFLAGS) $(LIBNL_CFLAGS) -I$(top_builddir)/bridge
bridge_libbridge_la_LIBADD = $(LIBBPF_LIBS) $(LIBELF_LIBS)

BPF_CFLAGS = -g -O2 -Wall -target bpf -D__TARGET_ARCH_x86 -I/usr/include/x86_64-linux-gnu

bridge/shortbridge.bpf.o: $(top_srcdir)/bridge/shortbridge.bpf.c
	@$(MKDIR_P) bridge
	$(AM_V_GEN)$(CLANG) $(BPF_CFLAGS) -c $(top_srcdir)/bridge/shortbridge.bpf.c -o $@

# Written to a temporary first so a failed bpftool run leaves no empty header behind.
bridge/shortbridge.skel.h: bridge/shortbridge.bpf.o
	$(AM_V_GEN)$(BPFTOOL) gen skeleton bridge/shortbridge.bpf.o name shortbridge > $@.tmp && mv $@.tmp $@

# `make bridge/libbridge.la` does not go through BUILT_SOURCES: order the object explicitly.
$(bridge_libbridge_la_OBJECTS): bridge/shortbridge.skel.h

BUILT_SOURCES += bridge/shortbridge.skel.h
CLEANFILES += bridge/shortbridge.bpf.o bridge/shortbridge.skel.h bridge/shortbridge.skel.h.tmp
EXTRA_DIST += bridge/shortbridge.bpf.c

# Fast path: one BPF object per node (clang -target bpf) + bpftool skeleton + loader.
noinst_LTLIBRARIES += bridge/libbridge.la
bridge_libbridge_la_SOURCES = bridge/bridge.c bridge/bridge.h bridge/fastpath.h
nodist_bridge_libbridge_la_SOURCES = bridge/fastpath.skel.h
bridge_libbridge_la_CFLAGS = $(AM_CFLAGS) $(LIBBPF_CFLAGS) $(LIBNL_CFLAGS) -I$(top_builddir)/bridge
bridge_libbridge_la_LIBADD = $(LIBBPF_LIBS) $(LIBELF_LIBS)

BPF_CFLAGS = -g -O2 -Wall -target bpf -D__TARGET_ARCH_x86 -I/usr/include/x86_64-linux-gnu

bridge/fastpath.bpf.o: $(top_srcdir)/bridge/fastpath.bpf.c $(top_srcdir)/bridge/fastpath.h
	@$(MKDIR_P) bridge
	$(AM_V_GEN)$(CLANG) $(BPF_CFLAGS) -c $(top_srcdir)/bridge/fastpath.bpf.c -o $@

# Written to a temporary first so a failed bpftool run leaves no empty header behind.
bridge/fastpath.skel.h: bridge/fastpath.bpf.o
	$(AM_V_GEN)$(BPFTOOL) gen skeleton bridge/fastpath.bpf.o name fastpath > $@.tmp && mv $@.tmp $@

# `make bridge/libbridge.la` does not go through BUILT_SOURCES: order the object explicitly.
$(bridge_libbridge_la_OBJECTS): bridge/fastpath.skel.h

BUILT_SOURCES += bridge/fastpath.skel.h
CLEANFILES += bridge/fastpath.bpf.o bridge/fastpath.skel.h bridge/fastpath.skel.h.tmp
EXTRA_DIST += bridge/fastpath.bpf.c

sbin_PROGRAMS += trellisd/trellisd
trellisd_trellisd_SOURCES = \
	trellisd/main.c trellisd/trellisd.h \
	trellisd/server.c \
	trellisd/op.c trellisd/op.h trellisd/access.c trellisd/access.h trellisd/node-info.c \
	trellisd/store.c trellisd/store.h trellisd/state.c trellisd/state.h \
	trellisd/slice.h trellisd/slice-plan.c trellisd/slice-pool.c \
	trellisd/slice-admission.c trellisd/slice-realize.c trellisd/slice-teardown.c \
	trellisd/slice-create.c trellisd/slice-delete.c trellisd/slice-show.c \
	trellisd/slice-set.c trellisd/slice-exec.c trellisd/slice-reconcile.c \
	trellisd/slice-apply.c trellisd/slice-apply.h trellisd/slice-apply-run.c trellisd/slice-runner.c trellisd/slice-router.c trellisd/slice-inventory.c trellisd/reload.c trellisd/reload.h trellisd/frr-diff.c \
	trellisd/shape.c trellisd/shape.h \
	trellisd/container.c trellisd/container.h trellisd/container-if.c \
	trellisd/disk.c trellisd/disk.h \
	trellisd/template.c trellisd/template.h \
	trellisd/cgroup.c trellisd/cgroup.h \
	trellisd/node.c trellisd/node.h \
	trellisd/conf.c trellisd/conf.h \
	trellisd/tenant.c trellisd/tenant.h \
	trellisd/ssh.c \
	trellisd/cluster.c \
	trellisd/cluster-links.c \
	trellisd/cluster-show.c \
	trellisd/cluster-int.h \
	trellisd/claim.c trellisd/claim.h \
	trellisd/events.c trellisd/events-watch.c trellisd/events-follow.c trellisd/events.h trellisd/events-int.h \
	trellisd/capture.c \
	trellisd/http.c trellisd/http.h trellisd/http-metrics.c trellisd/http-page.c
nodist_trellisd_trellisd_SOURCES = trellisd/web-assets.h
trellisd_trellisd_CFLAGS = $(AM_CFLAGS) $(FYAML_CFLAGS) $(JANSSON_CFLAGS) $(SQLITE_CFLAGS) \
	$(LXC_CFLAGS) $(LIBBPF_CFLAGS) $(LIBNL_CFLAGS) $(SECCOMP_CFLAGS) $(CGROUP_CFLAGS) $(PCAP_CFLAGS) \
	-I$(top_srcdir)/bridge -I$(top_srcdir)/shaper -I$(top_builddir)/bridge -I$(top_builddir)/trellisd \
	$(MHD_CFLAGS) $(GNUTLS_CFLAGS) $(SYSTEMD_CFLAGS) -DTRL_SSH_SHELL='"$(bindir)/trellis-ssh"' -DCONTAINER_HELPER='"$(pkglibexecdir)/trellis-lxc-helper"'
trellisd_trellisd_LDADD = bridge/libbridge.la shaper/libshaper.la lib/libtrellis.la \
	$(SQLITE_LIBS) $(LXC_LIBS) $(LIBBPF_LIBS) $(LIBELF_LIBS) $(LIBNL_LIBS) $(SECCOMP_LIBS) \
	$(CGROUP_LIBS) $(JANSSON_LIBS) $(FYAML_LIBS) $(CURL_LIBS) $(SYSTEMD_LIBS) $(PCAP_LIBS) $(MHD_LIBS) $(GNUTLS_LIBS) -lpthread -lutil

# The topology page (web/) compiled in: C arrays of the files as they are.
WEB_FILES = web/index.html web/app.js web/style.css
EXTRA_DIST += $(WEB_FILES)
BUILT_SOURCES += trellisd/web-assets.h
CLEANFILES += trellisd/web-assets.h trellisd/web-assets.h.tmp
trellisd/web-assets.h: $(srcdir)/web/index.html $(srcdir)/web/app.js $(srcdir)/web/style.css Makefile
	$(AM_V_GEN)$(MKDIR_P) trellisd && { \
	  echo '/* Generated from web/ by trellisd/local.mk: do not edit. */'; \
	  for f in $(WEB_FILES); do \
	    n=`echo "$$f" | tr './-' '___'`; \
	    echo "static const unsigned char $$n[] = {"; \
	    od -An -v -tx1 $(srcdir)/$$f | sed -e 's/\([0-9a-f][0-9a-f]\)/0x\1,/g'; \
	    echo '0x00 };'; \
	    echo "static const size_t $${n}_len = sizeof($$n) - 1;"; \
	  done; } >$@.tmp && mv $@.tmp $@

# liblxc runs here, not in a fork of the daemon (trellisd/lxc-helper.c).
pkglibexec_PROGRAMS += trellisd/trellis-lxc-helper
# Only what it uses is linked (proto.c for the pty event, liblxc, jansson):
# every router start and session execs it.
trellisd_trellis_lxc_helper_SOURCES = trellisd/lxc-helper.c
trellisd_trellis_lxc_helper_CFLAGS = $(AM_CFLAGS) $(JANSSON_CFLAGS) $(LXC_CFLAGS)
trellisd_trellis_lxc_helper_LDFLAGS = -Wl,--as-needed
trellisd_trellis_lxc_helper_LDADD = lib/libtrellis.la $(LXC_LIBS) $(JANSSON_LIBS)

# The systemd unit: Type=notify when trellisd was built with libsystemd.
systemdsystemunit_DATA = trellisd/trellisd.service
trellisd/trellisd.service: $(srcdir)/trellisd/trellisd.service.in Makefile
	$(AM_V_GEN)$(MKDIR_P) trellisd && sed -e 's|@sbindir[@]|$(sbindir)|g' \
		-e 's|@SYSTEMD_SERVICE_TYPE[@]|$(SYSTEMD_SERVICE_TYPE)|g' $(srcdir)/trellisd/trellisd.service.in >$@.tmp && mv $@.tmp $@
CLEANFILES += trellisd/trellisd.service trellisd/trellisd.service.tmp
EXTRA_DIST += trellisd/trellisd.service.in
dist_doc_DATA = trellisd/trellisd.conf.example

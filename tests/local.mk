# Unit tests: TAP programs linked against the real internal libraries.
LOG_DRIVER = env AM_TAP_AWK='$(AWK)' $(SHELL) $(top_srcdir)/build-aux/tap-driver.sh
unit_cflags = $(AM_CFLAGS) $(FYAML_CFLAGS) $(JANSSON_CFLAGS)

check_PROGRAMS += tests/unit/test-spec tests/unit/test-units tests/unit/test-names \
	tests/unit/test-proto tests/unit/test-bridge tests/unit/test-egre tests/unit/test-etcd
TESTS += tests/unit/test-spec tests/unit/test-units tests/unit/test-names \
	tests/unit/test-proto tests/unit/test-bridge tests/unit/test-egre tests/unit/test-etcd

tests_unit_test_etcd_SOURCES = tests/unit/test-etcd.c tests/unit/tap.h
tests_unit_test_etcd_CFLAGS = $(unit_cflags) $(CURL_CFLAGS)
tests_unit_test_etcd_LDADD = lib/libtrellis.la $(CURL_LIBS) $(JANSSON_LIBS)

tests_unit_test_spec_SOURCES = tests/unit/test-spec.c tests/unit/tap.h
tests_unit_test_spec_CFLAGS = $(unit_cflags)
tests_unit_test_spec_LDADD = lib/libtrellis.la
# lib/graph.c: DOT and Mermaid pictures of a slice object.
check_PROGRAMS += tests/unit/test-graph
TESTS += tests/unit/test-graph
tests_unit_test_graph_SOURCES = tests/unit/test-graph.c tests/unit/tap.h
tests_unit_test_graph_CFLAGS = $(unit_cflags)
tests_unit_test_graph_LDADD = lib/libtrellis.la $(JANSSON_LIBS)

tests_unit_test_units_SOURCES = tests/unit/test-units.c tests/unit/tap.h
tests_unit_test_units_CFLAGS = $(unit_cflags)
tests_unit_test_units_LDADD = lib/libtrellis.la
tests_unit_test_names_SOURCES = tests/unit/test-names.c tests/unit/tap.h
tests_unit_test_names_CFLAGS = $(unit_cflags)
tests_unit_test_names_LDADD = lib/libtrellis.la
tests_unit_test_proto_SOURCES = tests/unit/test-proto.c tests/unit/tap.h
tests_unit_test_proto_CFLAGS = $(unit_cflags)
tests_unit_test_proto_LDADD = lib/libtrellis.la
tests_unit_test_bridge_SOURCES = tests/unit/test-bridge.c tests/unit/tap.h tests/unit/netutil.c tests/unit/netutil.h
tests_unit_test_bridge_CFLAGS = $(unit_cflags) $(LIBBPF_CFLAGS) $(LIBNL_CFLAGS) -I$(top_builddir)/bridge
tests_unit_test_bridge_LDADD = bridge/libbridge.la shaper/libshaper.la lib/libtrellis.la \
	$(LIBBPF_LIBS) $(LIBNL_LIBS) $(LIBELF_LIBS)
tests_unit_test_egre_SOURCES = tests/unit/test-egre.c tests/unit/tap.h tests/unit/netutil.c tests/unit/netutil.h
tests_unit_test_egre_CFLAGS = $(unit_cflags) $(LIBBPF_CFLAGS) $(LIBNL_CFLAGS) -I$(top_builddir)/bridge
tests_unit_test_egre_LDADD = bridge/libbridge.la lib/libtrellis.la \
	$(LIBBPF_LIBS) $(LIBNL_LIBS) $(LIBELF_LIBS)

# cgroup.c's mapping of limits to v1/v2 files, both ways (no root, no cgroupfs needed).
check_PROGRAMS += tests/unit/test-store-events
TESTS += tests/unit/test-store-events
tests_unit_test_store_events_SOURCES = tests/unit/test-store-events.c tests/unit/tap.h trellisd/store.c trellisd/store.h trellisd/state.c trellisd/state.h
tests_unit_test_store_events_CFLAGS = $(unit_cflags) $(SQLITE_CFLAGS) $(JANSSON_CFLAGS) -I$(top_srcdir)/trellisd
tests_unit_test_store_events_LDADD = lib/libtrellis.la $(SQLITE_LIBS) $(JANSSON_LIBS)

check_PROGRAMS += tests/unit/test-cgroup
TESTS += tests/unit/test-cgroup
tests_unit_test_cgroup_SOURCES = tests/unit/test-cgroup.c tests/unit/tap.h trellisd/cgroup.c trellisd/cgroup.h
tests_unit_test_cgroup_CFLAGS = $(unit_cflags) $(CGROUP_CFLAGS) -I$(top_srcdir)/trellisd
tests_unit_test_cgroup_LDADD = lib/libtrellis.la $(CGROUP_LIBS) -lpthread

# slice apply's FRR config difference (trellisd/frr-diff.c): pure text.
check_PROGRAMS += tests/unit/test-frr-diff
TESTS += tests/unit/test-frr-diff
tests_unit_test_frr_diff_SOURCES = tests/unit/test-frr-diff.c tests/unit/tap.h trellisd/frr-diff.c trellisd/reload.h
tests_unit_test_frr_diff_CFLAGS = $(unit_cflags) $(LXC_CFLAGS) -I$(top_srcdir)/trellisd

EXTRA_DIST += tests/integration tests/unit/tap.h tests/run-integration tests/README.md tests/lint-bats tests/lint \
	tests/mutate.sh tests/browser/package.json tests/browser/package-lock.json tests/browser/page-check.js

check_PROGRAMS += tests/unit/test-config tests/unit/test-sshkey
TESTS += tests/unit/test-config tests/unit/test-sshkey
tests_unit_test_config_SOURCES = tests/unit/test-config.c tests/unit/tap.h trellisd/conf.c trellisd/conf.h
tests_unit_test_config_CFLAGS = $(unit_cflags) -I$(top_srcdir)/trellisd
tests_unit_test_config_LDADD = lib/libtrellis.la
tests_unit_test_sshkey_SOURCES = tests/unit/test-sshkey.c tests/unit/tap.h
tests_unit_test_sshkey_CFLAGS = $(unit_cflags)
tests_unit_test_sshkey_LDADD = lib/libtrellis.la

# lib/util.c's fd-relative tree removal and writes (mount points: root; skipped otherwise).
check_PROGRAMS += tests/unit/test-util
TESTS += tests/unit/test-util
tests_unit_test_util_SOURCES = tests/unit/test-util.c tests/unit/tap.h
tests_unit_test_util_CFLAGS = $(unit_cflags)
tests_unit_test_util_LDADD = lib/libtrellis.la

# trellisd/disk.c against the real kernel: fallocate, mke2fs, loop, mount (root; skipped otherwise).
check_PROGRAMS += tests/unit/test-disk
TESTS += tests/unit/test-disk
tests_unit_test_disk_SOURCES = tests/unit/test-disk.c tests/unit/tap.h trellisd/disk.c trellisd/disk.h
tests_unit_test_disk_CFLAGS = $(unit_cflags) -I$(top_srcdir)/trellisd
tests_unit_test_disk_LDADD = lib/libtrellis.la

# lib/escape.c and the log sink: client strings cannot split or disguise a log line.
check_PROGRAMS += tests/unit/test-escape
TESTS += tests/unit/test-escape
tests_unit_test_escape_SOURCES = tests/unit/test-escape.c tests/unit/tap.h
tests_unit_test_escape_CFLAGS = $(unit_cflags)
tests_unit_test_escape_LDADD = lib/libtrellis.la

# trellisd/template.c: template.conf keys, requires = FILE PACKAGE, missing templates (no root).
check_PROGRAMS += tests/unit/test-template
TESTS += tests/unit/test-template
tests_unit_test_template_SOURCES = tests/unit/test-template.c tests/unit/tap.h trellisd/template.c trellisd/template.h
tests_unit_test_template_CFLAGS = $(unit_cflags) -I$(top_srcdir)/trellisd
tests_unit_test_template_LDADD = lib/libtrellis.la

# containerlab topologies -> slice specs (lib/clab.c).
check_PROGRAMS += tests/unit/test-clab
TESTS += tests/unit/test-clab
tests_unit_test_clab_SOURCES = tests/unit/test-clab.c tests/unit/tap.h
tests_unit_test_clab_CFLAGS = $(unit_cflags)
tests_unit_test_clab_LDADD = lib/libtrellis.la

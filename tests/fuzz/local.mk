# libFuzzer targets (configure --enable-fuzz; see tests/fuzz/README.md).
# Built with `make fuzz`; never installed, never part of `make check`.
fuzz_cflags = $(AM_CFLAGS) $(FYAML_CFLAGS) $(JANSSON_CFLAGS)
FUZZ_TARGETS = tests/fuzz/fuzz-spec tests/fuzz/fuzz-proto
EXTRA_PROGRAMS = $(FUZZ_TARGETS)
if ENABLE_FUZZ
fuzz: $(FUZZ_TARGETS)
else
fuzz:
	@echo "fuzz targets need configure --enable-fuzz (clang with libFuzzer)" >&2; exit 1
endif
.PHONY: fuzz
CLEANFILES += $(FUZZ_TARGETS)

tests_fuzz_fuzz_spec_SOURCES = tests/fuzz/fuzz-spec.c
tests_fuzz_fuzz_spec_CFLAGS = $(fuzz_cflags)
tests_fuzz_fuzz_spec_LDFLAGS = $(FUZZ_LDFLAGS)
tests_fuzz_fuzz_spec_LDADD = lib/libtrellis.la
tests_fuzz_fuzz_proto_SOURCES = tests/fuzz/fuzz-proto.c
tests_fuzz_fuzz_proto_CFLAGS = $(fuzz_cflags)
tests_fuzz_fuzz_proto_LDFLAGS = $(FUZZ_LDFLAGS)
tests_fuzz_fuzz_proto_LDADD = lib/libtrellis.la

EXTRA_DIST += tests/fuzz/README.md tests/fuzz/trellis.dict tests/fuzz/corpus tests/valgrind tests/lsan.supp

# Every build replays the committed corpora once (one TAP line per input).
check_PROGRAMS += tests/unit/test-corpus-spec tests/unit/test-corpus-proto
TESTS += tests/unit/test-corpus-spec tests/unit/test-corpus-proto
tests_unit_test_corpus_spec_SOURCES = tests/fuzz/replay.c tests/fuzz/fuzz-spec.c tests/unit/tap.h
tests_unit_test_corpus_spec_CFLAGS = $(fuzz_cflags) -I$(top_srcdir)/tests/unit -DFUZZ_CORPUS='"spec"'
tests_unit_test_corpus_spec_LDADD = lib/libtrellis.la
tests_unit_test_corpus_proto_SOURCES = tests/fuzz/replay.c tests/fuzz/fuzz-proto.c tests/unit/tap.h
tests_unit_test_corpus_proto_CFLAGS = $(fuzz_cflags) -I$(top_srcdir)/tests/unit -DFUZZ_CORPUS='"proto"'
tests_unit_test_corpus_proto_LDADD = lib/libtrellis.la

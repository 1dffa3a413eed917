noinst_LTLIBRARIES += shaper/libshaper.la
shaper_libshaper_la_SOURCES = shaper/shaper.c shaper/shaper.h
shaper_libshaper_la_CFLAGS = $(AM_CFLAGS) $(LIBNL_CFLAGS)
shaper_libshaper_la_LIBADD = $(LIBNL_LIBS)

# Container templates are data: installed under $(pkgdatadir)/templates.
templatedir = $(pkgdatadir)/templates
install-data-local:
	$(MKDIR_P) $(DESTDIR)$(templatedir)
	cp -R $(top_srcdir)/container-templates/frr $(top_srcdir)/container-templates/bird $(top_srcdir)/container-templates/plain $(DESTDIR)$(templatedir)/
uninstall-local:
	rm -rf $(DESTDIR)$(templatedir)
EXTRA_DIST += container-templates/frr container-templates/bird container-templates/plain

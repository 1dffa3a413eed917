dist_man_MANS += man/trellis.8 man/trellisd.8 man/trellis-slice.5 man/trellisd.conf.5 man/trellis-ssh.8

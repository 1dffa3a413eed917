dist_man_MANS += man/trellis.8 man/trellisd.8 man/trellis-slice.5

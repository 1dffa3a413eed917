/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: trellis link capture
 *
 * Sends link.capture (lib/proto.h) to the node that runs the chosen end of
 * the link (with --node/--nodes: cli_multi_route), receives the read end of
 * the capture's pipe with the event {"event": "capture"}, and then either
 * copies the capture file as it is (-w FILE, -w - for stdout) or decodes the
 * pcapng stream and prints one line per frame (Ethernet, ARP, IPv4, IPv6,
 * ICMP, ICMPv6, TCP, UDP; the rest by its type).  The daemon stops when this
 * process closes the pipe or goes away: ^C closes the pipe, so the final
 * reply still comes and the counts (written, dropped by the kernel) are
 * printed on stderr, as tcpdump does.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "cli.h"
#include "print.h"

const char cli_link_capture_help[] =
	"Captures the frames of one end of LINK (ROUTER:IF, or the link's name\n"
	"r1:eth1-r2:eth1 for its first end; --end picks the end by its router):\n"
	"trellisd captures on that interface in the router (both directions) and\n"
	"passes the capture to this process, so no root is needed: whoever may\n"
	"'slice show' the slice may capture its links.  FILTER is a tcpdump\n"
	"expression ('icmp', 'tcp port 179', 'not arp'), compiled by libpcap.\n"
	"With -w the capture file (pcapng, or pcap with --pcap) goes to FILE or,\n"
	"with -w -, to stdout:\n"
	"  trellis link capture lab r1:eth1 -w - | tshark -r -\n"
	"Without -w one line per frame is printed.  The capture ends after -c N\n"
	"frames, after --seconds, on ^C, or when the router stops; the counts, with\n"
	"what the kernel dropped because the reader did not keep up, go to stderr.\n"
	"trellisd bounds every capture (trellisd(8), LIMITS).\n";

enum { OPT_JSON = CLI_OPTC_JSON, OPT_SOCKET = CLI_OPTC_SOCKET, OPT_END = CLI_OPTC_OWN, OPT_SECONDS, OPT_PCAP };

static const struct option capture_options[] = {
	{ "json", no_argument, NULL, OPT_JSON },
	{ "quiet", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, 'h' },
	{ "socket", required_argument, NULL, OPT_SOCKET },
	{ "end", required_argument, NULL, OPT_END },
	{ "count", required_argument, NULL, 'c' },
	{ "seconds", required_argument, NULL, OPT_SECONDS },
	{ "write", required_argument, NULL, 'w' },
	{ "pcap", no_argument, NULL, OPT_PCAP },
	{ "snaplen", required_argument, NULL, 's' },
	{ NULL, 0, NULL, 0 },
};

struct session {
	int out;		/* -w: where the file goes; -1: print lines */
	int to_stdout;
	/* the pcapng stream being decoded */
	uint8_t *buf;
	size_t len, cap;
	uint64_t lines;
};

static volatile sig_atomic_t interrupted;

static void on_int(int sig)
{
	(void)sig;
	interrupted = 1;
}

/* ---- one line per frame ---- */

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

static void l4_text(char *o, size_t n, int proto, const uint8_t *p, size_t len, int v6)
{
	switch (proto) {
	case 1:
	case 58:
		if (len < 4) {
			snprintf(o, n, "%s (truncated)", v6 ? "ICMP6" : "ICMP");
			return;
		}
		if ((!v6 && (p[0] == 8 || p[0] == 0)) || (v6 && (p[0] == 128 || p[0] == 129)))
			snprintf(o, n, "%s echo %s, id %u, seq %u, length %zu", v6 ? "ICMP6" : "ICMP",
				 p[0] == 8 || p[0] == 128 ? "request" : "reply", len >= 8 ? be16(p + 4) : 0,
				 len >= 8 ? be16(p + 6) : 0, len);
		else if (v6 && p[0] >= 133 && p[0] <= 137)
			snprintf(o, n, "ICMP6 %s, length %zu",
				 (const char *[]){ "router solicitation", "router advertisement", "neighbor solicitation",
						   "neighbor advertisement", "redirect" }[p[0] - 133],
				 len);
		else if (!v6 && p[0] == 3)
			snprintf(o, n, "ICMP unreachable, code %u, length %zu", p[1], len);
		else if (!v6 && p[0] == 11)
			snprintf(o, n, "ICMP time exceeded, length %zu", len);
		else
			snprintf(o, n, "%s type %u, code %u, length %zu", v6 ? "ICMP6" : "ICMP", p[0], p[1], len);
		return;
	case 6: {
		static const char fl[] = "FSRPAU";
		char flags[8] = "";
		size_t k = 0;

		if (len < 20) {
			snprintf(o, n, "TCP (truncated)");
			return;
		}
		for (int b = 0; b < 6; b++)
			if (p[13] & (1 << b))
				flags[k++] = fl[b] == 'A' ? '.' : fl[b];
		flags[k] = '\0';
		snprintf(o, n, "TCP %u > %u [%s], seq %" PRIu32 ", length %zu", be16(p), be16(p + 2), flags, be32(p + 4),
			 len > (size_t)(p[12] >> 4) * 4 ? len - (size_t)(p[12] >> 4) * 4 : 0);
		return;
	}
	case 17:
		if (len < 8)
			snprintf(o, n, "UDP (truncated)");
		else
			snprintf(o, n, "UDP %u > %u, length %zu", be16(p), be16(p + 2), len - 8);
		return;
	case 89:
		snprintf(o, n, "OSPF, length %zu", len);
		return;
	default:
		snprintf(o, n, "ip-proto %d, length %zu", proto, len);
	}
}

/* What a frame is, in one line (without time and direction). */
static void frame_text(char *o, size_t n, const uint8_t *f, size_t caplen, uint32_t origlen)
{
	char a[INET6_ADDRSTRLEN], b[INET6_ADDRSTRLEN], l4[160];
	const uint8_t *p = f + 14;
	size_t len;
	uint16_t type;

	if (caplen < 14) {
		snprintf(o, n, "truncated frame, length %" PRIu32, origlen);
		return;
	}
	type = be16(f + 12);
	len = caplen - 14;
	if (type == 0x8100 && len >= 4) {
		type = be16(p + 2);
		p += 4;
		len -= 4;
	}
	if (type == 0x0806 && len >= 28) {
		inet_ntop(AF_INET, p + 24, a, sizeof(a));
		inet_ntop(AF_INET, p + 14, b, sizeof(b));
		if (be16(p + 6) == 1)
			snprintf(o, n, "ARP, Request who-has %s tell %s, length %zu", a, b, len);
		else
			snprintf(o, n, "ARP, Reply %s is-at %02x:%02x:%02x:%02x:%02x:%02x, length %zu", b, p[8], p[9],
				 p[10], p[11], p[12], p[13], len);
	} else if (type == 0x0800 && len >= 20 && (p[0] >> 4) == 4) {
		size_t hl = (size_t)(p[0] & 15) * 4, tot = be16(p + 2);

		inet_ntop(AF_INET, p + 12, a, sizeof(a));
		inet_ntop(AF_INET, p + 16, b, sizeof(b));
		if (tot > len)
			tot = len;
		if (hl < 20 || hl > tot)
			snprintf(l4, sizeof(l4), "bad header length %zu", hl);
		else if (be16(p + 6) & 0x1fff)
			snprintf(l4, sizeof(l4), "fragment, proto %u, length %zu", p[9], tot - hl);
		else
			l4_text(l4, sizeof(l4), p[9], p + hl, tot - hl, 0);
		snprintf(o, n, "IP %s > %s: %s", a, b, l4);
	} else if (type == 0x86dd && len >= 40) {
		size_t pl = be16(p + 4);

		inet_ntop(AF_INET6, p + 8, a, sizeof(a));
		inet_ntop(AF_INET6, p + 24, b, sizeof(b));
		if (pl > len - 40)
			pl = len - 40;
		l4_text(l4, sizeof(l4), p[6], p + 40, pl, 1);
		snprintf(o, n, "IP6 %s > %s: %s", a, b, l4);
	} else {
		snprintf(o, n, "%02x:%02x:%02x:%02x:%02x:%02x > %02x:%02x:%02x:%02x:%02x:%02x, ethertype 0x%04x, length %" PRIu32,
			 f[6], f[7], f[8], f[9], f[10], f[11], f[0], f[1], f[2], f[3], f[4], f[5], type, origlen);
	}
}

static void print_frame(struct cli *cli, struct session *s, const uint8_t *epb, uint32_t blen)
{
	uint64_t ts = (uint64_t)le32(epb + 12) << 32 | le32(epb + 16);
	uint32_t caplen = le32(epb + 20), origlen = le32(epb + 24), flags = 0;
	const uint8_t *opt = epb + 28 + ((caplen + 3) & ~3u);
	char text[512], when[32];
	time_t sec = (time_t)(ts / 1000000000ULL);
	struct tm tm;

	if (28 + (uint64_t)caplen + 4 > blen)
		return;
	/* options: only epb_flags (code 2) matters here */
	while (opt + 4 <= epb + blen - 4) {
		uint16_t code = (uint16_t)(opt[0] | opt[1] << 8), olen = (uint16_t)(opt[2] | opt[3] << 8);

		if (code == 0)
			break;
		if (code == 2 && olen == 4 && opt + 8 <= epb + blen - 4)
			flags = le32(opt + 4);
		opt += 4 + ((olen + 3u) & ~3u);
	}
	frame_text(text, sizeof(text), epb + 28, caplen, origlen);
	localtime_r(&sec, &tm);
	strftime(when, sizeof(when), "%H:%M:%S", &tm);
	s->lines++;
	if (cli->json) {
		json_t *j = json_pack("{s:f, s:s, s:i, s:s}", "time", (double)ts / 1e9, "direction",
				      (flags & 3) == 2 ? "out" : "in", "length", (int)origlen, "summary", text);
		char *line = j ? json_dumps(j, JSON_COMPACT) : NULL;

		if (line)
			printf("%s\n", line);
		free(line);
		json_decref(j);
	} else {
		printf("%s.%06u %s %s\n", when, (unsigned)(ts % 1000000000ULL / 1000), (flags & 3) == 2 ? "out" : "in ",
		       text);
	}
	fflush(stdout);
}

/* Decode the pcapng blocks buffered so far; keep a partial one.  -1: not pcapng as trellisd writes it. */
static int decode(struct cli *cli, struct session *s)
{
	size_t off = 0;

	while (s->len - off >= 12) {
		const uint8_t *b = s->buf + off;
		uint32_t type = le32(b), blen = le32(b + 4);

		if (blen < 12 || blen % 4 || blen > s->cap)
			return -1;
		if (s->len - off < blen)
			break;
		if (type == 6 && blen >= 32)
			print_frame(cli, s, b, blen);
		off += blen;
	}
	memmove(s->buf, s->buf + off, s->len - off);
	s->len -= off;
	return 0;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* cli->capture_session: read the capture until it ends, ^C, or our output fails. */
static void session_run(struct cli *cli, json_t *event, int fd)
{
	struct session *s = cli->capture_ctx;

	if (!cli->quiet && !(s->to_stdout && s->out >= 0))
		fprintf(stderr, "trellis: capturing on router '%s' interface '%s' (link '%s'), ^C to stop\n",
			json_string_value(json_object_get(event, "router")) ?: "?",
			json_string_value(json_object_get(event, "interface")) ?: "?",
			json_string_value(json_object_get(event, "link")) ?: "?");
	while (!interrupted) {
		ssize_t n;

		if (s->len == s->cap)
			return;	/* a block larger than the buffer: not ours */
		n = read(fd, s->buf + s->len, s->cap - s->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		if (s->out >= 0) {
			if (write_all(s->out, s->buf, (size_t)n) < 0) {
				if (errno != EPIPE)
					fprintf(stderr, "trellis: cannot write the capture: %s\n", strerror(errno));
				return;
			}
			continue;
		}
		s->len += (size_t)n;
		if (decode(cli, s) < 0) {
			fprintf(stderr, "trellis: the capture is not pcapng as expected\n");
			return;
		}
		if (ferror(stdout))
			return;	/* whoever read our lines is gone (| head): end the capture */
	}
}

static int parse_count(const char *t, long max, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(t, &end, 10);
	if (errno || end == t || *end || v < 1 || v > max)
		return -1;
	*out = v;
	return 0;
}

int cli_link_capture(struct cli *cli, const struct cli_cmd *cmd, int argc, char **argv)
{
	struct session s = { .out = -1 };
	struct sigaction sa = { .sa_handler = on_int }, old_int, old_term;
	const char *end = NULL, *write_to = NULL;
	long count = 0, seconds = 0, snaplen = 0;
	int pcap = 0, status = 0;
	json_t *req, *cap, *result = NULL;
	char *filter = NULL, router[32];
	size_t flen = 0;

	optind = 0;
	opterr = 0;
	for (;;) {
		int c = getopt_long(argc, argv, ":hqc:w:s:", capture_options, NULL);

		if (c == -1)
			break;
		switch (cli_common_opt(cli, cmd, c, optarg)) {
		case -1:
			return 0;
		case 1:
			continue;
		}
		switch (c) {
		case OPT_END:
			end = optarg;
			break;
		case OPT_PCAP:
			pcap = 1;
			break;
		case 'w':
			write_to = optarg;
			break;
		case 'c':
			if (parse_count(optarg, PROTO_CAPTURE_MAX_COUNT, &count) < 0)
				return cli_usage_error(cmd, "-c: '%s' is not a count from 1 to %d", optarg,
						       PROTO_CAPTURE_MAX_COUNT);
			break;
		case OPT_SECONDS:
			if (parse_count(optarg, PROTO_CAPTURE_MAX_SECONDS, &seconds) < 0)
				return cli_usage_error(cmd, "--seconds: '%s' is not a number from 1 to %d", optarg,
						       PROTO_CAPTURE_MAX_SECONDS);
			break;
		case 's':
			if (parse_count(optarg, PROTO_CAPTURE_MAX_SNAPLEN, &snaplen) < 0 || snaplen < 64)
				return cli_usage_error(cmd, "-s: '%s' is not a length from 64 to %d", optarg,
						       PROTO_CAPTURE_MAX_SNAPLEN);
			break;
		case ':':
			return cli_usage_error(cmd, "option '%s' needs an argument", argv[optind - 1]);
		default:
			return cli_usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
		}
	}
	print_init(cli->json ? PRINT_MODE_JSON : PRINT_MODE_TEXT, stdout);
	if (argc - optind < 2)
		return cli_usage_error(cmd, argc - optind ? "missing link (ROUTER:IF or ROUTER:IF-ROUTER:IF)"
							   : "missing slice name and link");
	if (pcap && !write_to)
		return cli_usage_error(cmd, "--pcap needs -w (the lines are decoded from pcapng)");
	/* The filter: the remaining words, as tcpdump takes them. */
	for (int i = optind + 2; i < argc; i++)
		flen += strlen(argv[i]) + 1;
	if (flen > PROTO_CAPTURE_MAX_FILTER)
		return cli_usage_error(cmd, "the filter is longer than %d bytes", PROTO_CAPTURE_MAX_FILTER);
	filter = calloc(1, flen + 1);
	if (!filter)
		return cli_usage_error(cmd, "out of memory");
	for (int i = optind + 2; i < argc; i++) {
		if (i > optind + 2)
			strcat(filter, " ");
		strcat(filter, argv[i]);
	}
	if (write_to && strcmp(write_to, "-")) {
		s.out = open(write_to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (s.out < 0) {
			fprintf(stderr, "trellis: -w: cannot open '%s': %s\n", write_to, strerror(errno));
			free(filter);
			return 1;
		}
	} else if (write_to) {
		s.out = STDOUT_FILENO;
		s.to_stdout = 1;
	}
	s.cap = 1u << 20;
	s.buf = malloc(s.cap);
	cap = json_pack("{s:s}", "format", pcap ? "pcap" : "pcapng");
	if (cap && *filter)
		json_object_set_new(cap, "filter", json_string(filter));
	if (cap && count)
		json_object_set_new(cap, "count", json_integer(count));
	if (cap && seconds)
		json_object_set_new(cap, "seconds", json_integer(seconds));
	if (cap && snaplen)
		json_object_set_new(cap, "snaplen", json_integer(snaplen));
	req = cap && s.buf ? json_pack("{s:s, s:s, s:s, s:o}", "op", "link.capture", "name", argv[optind], "link",
				       argv[optind + 1], "capture", cap)
			   : NULL;
	if (req && end)
		json_object_set_new(req, "router", json_string(end));
	/* Several nodes: ask the one that runs the end's router (before the first ':' of LINK). */
	snprintf(router, sizeof(router), "%.*s", (int)strcspn(argv[optind + 1], ":"), argv[optind + 1]);
	if (req && cli->n_nodes && (status = cli_multi_route(cli, argv[optind], end ? end : router))) {
		json_decref(req);
		goto out;
	}
	cli->capture_session = session_run;
	cli->capture_ctx = &s;
	/* ^C ends the capture, not this process: the daemon's counts still come. */
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	signal(SIGPIPE, SIG_IGN);
	status = cli_call(cli, req, NULL, 0, &result);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	if (status)
		goto out;
	if (!cli->quiet)
		fprintf(stderr, "trellis: %" JSON_INTEGER_FORMAT " packets captured, %" JSON_INTEGER_FORMAT
				" matched the filter, %" JSON_INTEGER_FORMAT " dropped by the kernel (%s)\n",
			json_integer_value(json_object_get(result, "packets")),
			json_integer_value(json_object_get(result, "matched")),
			json_integer_value(json_object_get(result, "dropped")),
			json_string_value(json_object_get(result, "reason")) ?: "?");
	if (cli->json && s.out < 0) {
		/* after the frames' JSON lines: one more line, the counts */
		char *line = json_dumps(result, JSON_COMPACT);

		if (line)
			printf("%s\n", line);
		free(line);
	} else if (!s.to_stdout) {
		print_json(result);
	}
out:
	if (s.out >= 0 && !s.to_stdout)
		close(s.out);
	json_decref(result);
	free(s.buf);
	free(filter);
	return status;
}

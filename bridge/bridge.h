/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: bridge - the same-node fast path (eBPF shortbridge at tc ingress)
 *
 * A link between two routers on one node joins the two host-side veth ends:
 * shortbridge.bpf.c, attached at clsact ingress of both, redirects every
 * frame entering one end to the other.  The program and its maps are pinned
 * under a per-node pin directory so forwarding (and the counters) survive a
 * daemon restart; the program stays attached to an interface until the
 * interface goes away or bridge_link_detach() removes it.
 *
 * Ordering contract for the daemon: call bridge_link_detach() BEFORE deleting
 * the veths.  Map entries are keyed by ifindex, which can only be learnt from
 * a name while the interface exists; detach copes with one end already gone
 * (it finds that end's ifindex in the surviving end's entry), and
 * bridge_prune() removes entries left behind when both ends vanished.
 *
 * All functions return >= 0 on success, or a negative TRL_E* code with @err
 * filled in.  Nothing here prints above debug; libbpf's own messages are
 * routed into the trellis log (warnings as warnings, the rest as debug).
 */
#ifndef TRELLIS_BRIDGE_H
#define TRELLIS_BRIDGE_H

#include "error.h"

struct bridge;

/* bridge_link_attach() flag: hand IPv4/IPv6 frames straight to the peer
 * router's namespace with bpf_redirect_peer() (other frames, e.g. ARP, still
 * take bpf_redirect).  Faster, but those frames skip the peer host end's
 * egress qdisc, i.e. they are NOT shaped.  Both host ends must be veths whose
 * other ends live in another network namespace (the routers'): otherwise the
 * kernel silently drops the IP frames (measured; they still count as
 * forwarded in bridge_port_stats). */
#define BRIDGE_F_PEER 0x1u

/* Default pin directory root; the daemon uses BRIDGE_PIN_ROOT "/<node>". */
#define BRIDGE_PIN_ROOT "/sys/fs/bpf/trellis"

/*
 * Check that the shortbridge can work on this host: bpffs available, BPF
 * sched_cls programs and per-CPU hash maps loadable, bpf_redirect present,
 * and a clsact qdisc + direct-action cls_bpf filter attachable (tried on the
 * loopback device of a throw-away network namespace, so nothing visible
 * changes).  Returns 0, or -TRL_EUNAVAIL with the reason in @err.
 * Needs the privileges the daemon runs with (CAP_BPF, CAP_NET_ADMIN,
 * CAP_SYS_ADMIN); without them it reports that as the reason.
 */
int bridge_probe(struct trl_error *err);

/*
 * Open the shortbridge whose pins live in @pin_dir (e.g.
 * "/sys/fs/bpf/trellis/node1").  Mounts bpffs on /sys/fs/bpf if nothing is
 * mounted there and creates @pin_dir.  Existing pins are reused (maps by
 * libbpf pin reuse, the program by bpf_obj_get when it still references
 * those maps), otherwise the program is loaded and everything is pinned.
 * Pins from an incompatible build make this fail with TRL_EFAILED; remove
 * them with bridge_unpin().
 */
int bridge_open(const char *pin_dir, struct bridge **out, struct trl_error *err);

/* Release the handle.  NULL-safe.  Pins and attached programs stay in place. */
void bridge_close(struct bridge *b);

/*
 * Join host ends @host_a and @host_b point-to-point: map entries in both
 * directions, then a clsact qdisc (created if missing) and the program as a
 * direct-action ingress filter on both.  Idempotent: attaching the same pair
 * again (e.g. to change @flags) is fine.  An end already joined to a
 * different, still existing interface is refused (TRL_EEXIST): detach first.
 * Missing interfaces are TRL_ENOTFOUND.  On failure the pair may be half
 * joined; bridge_link_detach() cleans that up.
 * @flags: 0 or BRIDGE_F_PEER.
 */
int bridge_link_attach(struct bridge *b, const char *host_a, const char *host_b, unsigned flags,
		       struct trl_error *err);

/*
 * Undo bridge_link_attach(): delete both map entries and their counters,
 * remove our ingress filter from the ends that still exist (the clsact qdisc
 * is left, other filters may share it).  Idempotent: missing interfaces,
 * entries, qdiscs and filters are not errors.  If one end is already gone its
 * ifindex is recovered from the other end's entry; if both are gone nothing
 * can be resolved by name -- call bridge_prune().  Refuses (TRL_EINVALID)
 * when an end is joined to a third, still existing interface rather than to
 * the other end; an entry pointing at a vanished interface is simply removed.
 */
int bridge_link_detach(struct bridge *b, const char *host_a, const char *host_b,
		       struct trl_error *err);

struct bridge_port_stats {
	unsigned long long packets; /* frames forwarded from this port */
	unsigned long long bytes;   /* their bytes (skb->len, Ethernet header included) */
	unsigned long long drops;   /* frames dropped because the port was not joined */
};

/* Counters of frames that entered host end @host_if, summed over CPUs.
 * All zero for a port that never saw a frame.  TRL_ENOTFOUND if no such interface. */
int bridge_port_stats(struct bridge *b, const char *host_if, struct bridge_port_stats *out,
		      struct trl_error *err);

/* Delete map entries and counters whose port or peer ifindex no longer exists
 * (interfaces deleted without a detach).  Stores how many ports were removed in
 * @removed (may be NULL).  Meant for the daemon's start-up reconciliation. */
int bridge_prune(struct bridge *b, unsigned *removed, struct trl_error *err);

/* Remove the whole pin directory (missing is fine).  Programs stay attached to
 * interfaces, and keep forwarding, until those interfaces go away. */
int bridge_unpin(const char *pin_dir, struct trl_error *err);

#endif

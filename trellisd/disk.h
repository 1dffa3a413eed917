/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * DOC: a router's rootfs on a file system of its own (limits: disk:)
 *
 * Without a disk limit a router's private rootfs is a directory on the file
 * system of the state directory, and a tenant can fill the host's disk.  With
 * one it is an ext4 file system of exactly that size:
 *
 *   <lxcpath>/<container>.img   the image, fallocate()d so the space is really
 *                               reserved (a host short of disk fails the
 *                               create here, naming the numbers, not later)
 *   mke2fs -t ext4              no journal (the rootfs is rebuilt from the spec
 *                               whenever it is not known good; a journal would
 *                               take 4M of a 32M image: 24M left for files
 *                               instead of 28M), no reserved blocks
 *                               (the tenant's root is not the host's), root
 *                               directory owned by the slice's mapped root
 *   a free loop device          LOOP_CTL_GET_FREE + LOOP_CONFIGURE with
 *                               LO_FLAGS_AUTOCLEAR: unmounting frees it
 *   mounted nosuid,nodev        on <lxcpath>/<container>/rootfs, in the host's
 *                               mount namespace, before the rootfs is written
 *
 * The mount outlives trellisd, so a restarted daemon re-adopts the router
 * with its data; a host restart loses it and the rootfs is rebuilt.  Inside
 * the router the seccomp profile denies umount and every mount call, so the
 * tenant cannot take the file system away from under its rootfs.
 */
#ifndef TRELLISD_DISK_H
#define TRELLISD_DISK_H

#include <stdint.h>
#include <sys/types.h>
#include "error.h"

/* <lxcpath>/<container>.img */
void disk_image_path(char *buf, size_t len, const char *lxcpath, const char *container);
/* Reserve @size bytes in @image, make ext4 on it owned by @owner and mount it
 * on the (empty, existing) directory @mnt.  On failure nothing is left behind
 * (the image is removed); the error names limits.disk, the size and the free space. */
int disk_create(const char *image, const char *mnt, uint64_t size, uid_t owner, struct trl_error *err);
/* Unmount @mnt if a file system is mounted there, detach any loop device
 * still bound to @image, remove @image.  Idempotent; missing is success. */
int disk_release(const char *image, const char *mnt, struct trl_error *err);
/* 1 if @mnt is the root of a mount (a router's own rootfs file system). */
int disk_mounted(const char *mnt);
/* Bytes used and free in the file system mounted on @mnt; -ENOENT if none is. */
int disk_usage(const char *mnt, uint64_t *used, uint64_t *avail);

#endif

// Package snapshot owns hush's overlay layers: every layer the builder knows
// is kept unpacked once, in overlayfs's own on-disk format (whiteouts as 0/0
// character devices, opaque directories as the trusted.overlay.opaque=y
// xattr, or user.overlay.opaque=y in a user namespace), so it can be used
// directly as an overlay lowerdir.
//
// It owns the directory layout under the store root, workspaces (upper, work
// and merged directories for one RUN step), overlay mounts over stacks of
// layers (the kernel's overlayfs, or fuse-overlayfs where a user namespace
// cannot have the kernel's: Driver), and the translation between an overlay upper directory and a
// deterministic OCI layer tar (WriteLayer) and back (Unpack).
//
// It must never follow a symlink taken from an archive while unpacking, never
// write outside the directory it was asked to unpack into, never carry
// overlayfs-private xattrs (trusted.overlay.*, user.overlay.*) into a layer,
// and never delete a directory that still has a mount on it. It does no
// compression and no network I/O: callers hand it uncompressed tar streams.
package snapshot

// Package fsroot resolves and changes paths inside a directory tree that stands for a
// filesystem root — a container rootfs, an overlay upper dir, an unpacked layer, an export
// directory — the way the kernel resolves them inside the container: symlinks are followed,
// but an absolute link target restarts at the root and ".." stops at it. Every call goes
// through openat2(2) with RESOLVE_IN_ROOT from a descriptor of the root, so a symlink that a
// build step or a base image planted can never make hush create, change or delete a host path.
//
// It owns that resolution and the handful of file operations hush performs inside such trees.
// It must never turn a name inside a root into a host path and hand it to a path-based system
// call, and never follow a symlink in the last component of a name it changes (remove, chown,
// chtimes, mknod, symlink, link, rename): those act on the entry itself.
package fsroot

#!/bin/sh
# Writes a minimal busybox root filesystem tarball (from Debian's busybox-static) to $1,
# for `hush import` as a base image: /bin/busybox, one symlink per applet, /etc/passwd,
# /etc/group, /tmp. Deterministic: fixed owners and mtimes.
set -eu
out=${1:?usage: busybox-rootfs.sh OUT.tar}
bb=$(command -v busybox || true)
[ -x /bin/busybox ] && bb=/bin/busybox
file "$bb" 2>/dev/null | grep -q 'statically linked' || [ -n "$bb" ] || { echo "busybox-static is not installed (apt-get install busybox-static)" >&2; exit 1; }
dir=$(mktemp -d)
chmod 755 "$dir"
trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir/bin" "$dir/etc" "$dir/tmp" "$dir/root" "$dir/home/app"
cp "$bb" "$dir/bin/busybox"
for a in $("$bb" --list); do
	[ "$a" = busybox ] || ln -sf busybox "$dir/bin/$a"
done
printf 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$dir/etc/passwd"
printf 'root:x:0:\napp:x:1000:\nnogroup:x:65534:\n' >"$dir/etc/group"
chmod 1777 "$dir/tmp"
chown 1000:1000 "$dir/home/app"
tar --sort=name --mtime=@0 --numeric-owner -C "$dir" -cf "$out" .

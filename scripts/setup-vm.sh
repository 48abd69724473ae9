#!/usr/bin/env bash
# Prepares what the VM runtime needs, offline from Debian packages (nothing downloaded is committed):
#   $GOLEM_VM_DIR/runtime/{vmlinuz,initramfs.cpio.gz,kernel.version}  kernel + our guest agent as PID 1
#   $GOLEM_VM_DIR/images/{busybox.gvmi,perl.gvmi,index.json}           sample images and their registry index
# Default GOLEM_VM_DIR: .cache/vm in the repository (gitignored). Idempotent: finished parts are kept.
# Needs: apt-get (download only), dpkg-deb, gcc (static glibc), cpio, gzip, mksquashfs (squashfs-tools), busybox-static.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
DIR=${GOLEM_VM_DIR:-$REPO/.cache/vm}
# Not $NODE: npm sets that to the Node running npm itself (the system one, too old for type stripping).
NODE=${GOLEM_NODE:-$REPO/node_modules/.bin/node}
mkdir -p "$DIR/debs" "$DIR/runtime" "$DIR/images"
DIR=$(cd "$DIR" && pwd)
# Test files may start this at the same time: one runs, the others wait and find the work done.
exec 9>"$DIR/.setup.lock"
flock 9
start=$(date +%s)

missing=()
for tool in apt-get dpkg-deb gcc cpio gzip mksquashfs; do command -v "$tool" >/dev/null || missing+=("$tool"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup-vm: missing tools: ${missing[*]} (Debian: apt-get install gcc libc6-dev cpio squashfs-tools)" >&2
  exit 1
fi

# Downloads a package's .deb into debs/ (once) and prints its path.
download() {
  local deb
  deb=$(ls "$DIR/debs/$1"_*.deb 2>/dev/null | head -1 || true)
  if [ -z "$deb" ]; then
    (cd "$DIR/debs" && apt-get download "$1" >/dev/null 2>&1) || { echo "setup-vm: apt-get download $1 failed" >&2; exit 1; }
    deb=$(ls "$DIR/debs/$1"_*.deb | head -1)
  fi
  echo "$deb"
}

# ---- kernel and initramfs -----------------------------------------------------------------------------------------
# The generic flavour: it has 9p, overlay and virtio as modules (the -cloud- one has no 9p).
kernel_package() { apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/{print $2; exit}'; }
KPKG=$(kernel_package)
if [ -z "$KPKG" ] && [ "$(id -u)" = 0 ]; then apt-get update -qq >/dev/null && KPKG=$(kernel_package); fi
[ -n "$KPKG" ] || { echo "setup-vm: apt knows no linux-image-amd64 (run apt-get update)" >&2; exit 1; }
KV=${KPKG#linux-image-}
AGENT_SRC=src/execution/runtimes/vm/guest/init.c
stamp="$KV $(cat "$AGENT_SRC" scripts/setup-vm.sh | sha256sum | cut -c1-16)"
if [ "$(cat "$DIR/runtime/kernel.version" 2>/dev/null || true)" != "$stamp" ]; then
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  dpkg-deb -x "$(download "$KPKG")" "$work/k"
  cp "$work/k/boot/vmlinuz-$KV" "$DIR/runtime/vmlinuz"
  mkdir -p "$work/initramfs/modules"
  # Load order = dependency order, read from the kernel's own modules.dep (busybox depmod), because it changes
  # between point releases (6.1.0-57's virtio.ko needs virtio_ring.ko; -50's did not). The guest agent loads the
  # modules one by one with finit_module, so a module before its dependency fails with ENOENT.
  dpkg-deb -x "$(download busybox-static)" "$work/bb"
  "$work/bb/bin/busybox" depmod -b "$work/k" "$KV"
  wanted="failover virtio virtio_ring virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci net_failover virtio_net
          virtio_console virtio-rng virtio_blk squashfs overlay netfs fscache 9pnet 9pnet_virtio 9p"
  awk -v wanted="$wanted" '
    { key = $1; sub(/:$/, "", key); deps[key] = ""; for (i = 2; i <= NF; i++) deps[key] = deps[key] " " $i
      n = split(key, parts, "/"); name = parts[n]; sub(/\.ko(\.xz)?$/, "", name); path[name] = key }
    function emit(key,   list, i, count) {
      if (key in seen) return; seen[key] = 1
      count = split(deps[key], list, " "); for (i = 1; i <= count; i++) emit(list[i])
      print key
    }
    END { count = split(wanted, names, /[ \n]+/); for (i = 1; i <= count; i++) if (names[i] in path) emit(path[names[i]]) }
  ' "$work/k/lib/modules/$KV/modules.dep" > "$work/load-order"
  [ -s "$work/load-order" ] || { echo "setup-vm: no virtio/9p modules found for $KV" >&2; exit 1; }
  while read -r rel; do
    ko="$work/k/lib/modules/$KV/$rel"
    m=$(basename "$rel"); m=${m%.xz}
    case "$ko" in *.xz) xz -dc "$ko" > "$work/initramfs/modules/$m" ;; *) cp "$ko" "$work/initramfs/modules/$m" ;; esac
    echo "$m" >> "$work/initramfs/modules/order"
  done < "$work/load-order"
  gcc -static -O2 -Wall -Wextra -Werror -o "$work/initramfs/init" "$AGENT_SRC"
  strip "$work/initramfs/init"
  (cd "$work/initramfs" && find . | cpio -o -H newc -R 0:0 --quiet | gzip -9 > "$DIR/runtime/initramfs.cpio.gz")
  echo "$stamp" > "$DIR/runtime/kernel.version"
  rm -rf "$work"
  trap - EXIT
fi

# ---- sample images ------------------------------------------------------------------------------------------------
busybox_rootfs() { # <dir>: a busybox userland with Golem's usual volume folders
  local root=$1
  mkdir -p "$root/bin" "$root/etc" "$root/tmp" "$root/root" "$root/golem/input" "$root/golem/output" "$root/golem/work"
  dpkg-deb -x "$(download busybox-static)" "$root/.bb"
  mv "$root/.bb/bin/busybox" "$root/bin/busybox"
  rm -rf "$root/.bb"
  for applet in $("$root/bin/busybox" --list); do [ -e "$root/bin/$applet" ] || ln -s busybox "$root/bin/$applet"; done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' > "$root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' > "$root/etc/group"
  printf '127.0.0.1\tlocalhost\n' > "$root/etc/hosts"
}

build_image() { # <rootfs> <file> <tags...>
  local root=$1 file=$2; shift 2
  local tags=()
  for t in "$@"; do tags+=(--tag "$t"); done
  "$NODE" src/cli/main.ts image build "$root" -o "$DIR/images/$file" --workdir /golem/work \
    --env PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin --volume /golem/input --volume /golem/output --volume /golem/work \
    --note "a golem-ts sample image standing in for Golem's image of that name (busybox userland)" "${tags[@]}" >/dev/null
}

if [ ! -f "$DIR/images/busybox.gvmi" ]; then
  work=$(mktemp -d)
  busybox_rootfs "$work/root"
  build_image "$work/root" busybox.gvmi golem-ts/busybox:latest golem/alpine:latest
  rm -rf "$work"
fi

# A scripting language: Debian's perl-base with the C libraries it links.
if [ ! -f "$DIR/images/perl.gvmi" ]; then
  work=$(mktemp -d)
  busybox_rootfs "$work/root"
  for pkg in libc6 libcrypt1 perl-base; do dpkg-deb -x "$(download "$pkg")" "$work/root"; done
  rm -rf "$work/root/usr/share/doc" "$work/root/usr/share/man" "$work/root/usr/share/locale"
  build_image "$work/root" perl.gvmi golem-ts/perl:latest
  rm -rf "$work"
fi

echo "setup-vm: ready in $DIR ($(( $(date +%s) - start )) s; kernel $KV)"

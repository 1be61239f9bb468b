#!/usr/bin/env bash
# Builds the Debian 12 guest that GuestConversionTest converts: a raw disk with an msdos label and
# one ext4 partition (1 MiB in, bootable) holding a minbase system with a kernel and grub-pc, laid
# out as a guest coming from VMware would be: /etc/fstab names /dev/sda1, and the initramfs holds a
# listed set of modules (IDE, AHCI, SCSI disks, ext4) and no virtio driver, so it cannot boot from a
# virtio disk until converted. Run as root (debootstrap, chroot); its hash keys the cached image.
# Usage: debian12-guest.sh OUTPUT.img WORKDIR [MIRROR]
set -Eeuo pipefail
out=$1
work=$2
# The mirror apt uses here: the first deb.debian.org-style URI for bookworm in the apt sources.
mirror=${3:-$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n 1)}
mirror=${mirror:-$(awk '$1 == "deb" && $3 == "bookworm" { print $2; exit }' /etc/apt/sources.list 2>/dev/null)}
mirror=${mirror:-http://deb.debian.org/debian}
root=$work/rootfs
size_mib=2048

cleanup() {
  for m in dev/pts dev proc sys; do
    mountpoint -q "$root/$m" 2>/dev/null && umount -l "$root/$m" || true
  done
}
trap cleanup EXIT
cleanup
rm -rf "$work"
mkdir -p "$root"

echo "debootstrap bookworm from $mirror" >&2
debootstrap --variant=minbase \
  --include=systemd-sysv,udev,linux-image-amd64,grub-pc,e2fsprogs,initramfs-tools,kmod \
  bookworm "$root" "$mirror" >"$work/debootstrap.log" 2>&1 \
  || { tail -n 40 "$work/debootstrap.log" >&2; exit 1; }

echo bf-guest >"$root/etc/hostname"
printf '127.0.0.1 localhost\n127.0.1.1 bf-guest\n' >"$root/etc/hosts"
cat >"$root/etc/fstab" <<'FSTAB'
# As a guest installed on VMware's SCSI disks: device names, no UUIDs.
/dev/sda1 / ext4 errors=remount-ro 0 1
FSTAB
sed -i 's/^MODULES=.*/MODULES=list/' "$root/etc/initramfs-tools/initramfs.conf"
printf '%s\n' ata_piix ahci sd_mod sr_mod mptspi vmw_pvscsi ext4 >"$root/etc/initramfs-tools/modules"
cat >"$root/etc/default/grub" <<'GRUB'
GRUB_DEFAULT=0
GRUB_TIMEOUT=0
GRUB_DISTRIBUTOR=Debian
GRUB_CMDLINE_LINUX_DEFAULT=""
GRUB_CMDLINE_LINUX="console=ttyS0,115200"
GRUB_TERMINAL=serial
GRUB_SERIAL_COMMAND="serial --unit=0 --speed=115200"
GRUB
chroot "$root" passwd -d root >/dev/null
mount -t proc proc "$root/proc"
chroot "$root" update-initramfs -u -k all >"$work/initramfs.log" 2>&1 \
  || { tail -n 40 "$work/initramfs.log" >&2; exit 1; }
umount "$root/proc"
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*

# The partition's file system from the tree (no loop device), then the disk around it.
part_mib=$((size_mib - 1))
mkfs.ext4 -q -F -L bf-root -U 6a1d2c3e-0b1f-4e2a-9c3d-5e6f7a8b9c0d -d "$root" "$work/root.ext4" "${part_mib}M"
rm -f "$out.tmp"
truncate -s "${size_mib}M" "$out.tmp"
printf 'label: dos\nstart=2048, type=83, bootable\n' | sfdisk -q "$out.tmp"
dd if="$work/root.ext4" of="$out.tmp" bs=1M seek=1 conv=notrunc,sparse status=none

# grub into the MBR and its configuration, by the guest's own grub run inside the libguestfs
# appliance, where the disk is /dev/sda (software emulation: it works where KVM does not).
# Once in a while grub-install in the appliance takes /dev/sda1 for another disk ("embedding is
# not possible, but this is required for cross-disk install"); the same command on the same
# image then succeeds: a second attempt, after which the build fails with the log.
install_grub() {
  LIBGUESTFS_BACKEND=direct LIBGUESTFS_BACKEND_SETTINGS=force_tcg HOME="$work" TMPDIR="$work" \
    guestfish -a "$out.tmp" -m /dev/sda1 \
      command "grub-install --target=i386-pc /dev/sda" : command "update-grub" >"$work/grub.log" 2>&1
}
if ! install_grub; then
  echo "grub-install failed once, again: $(tail -n 1 "$work/grub.log")" >&2
  install_grub || { tail -n 40 "$work/grub.log" >&2; exit 1; }
fi
mv "$out.tmp" "$out"
rm -rf "$root" "$work/root.ext4"
echo "built $out" >&2

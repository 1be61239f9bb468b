package main

// Delta disks and point-in-time content, as vSphere keeps them (see README.md):
//
//   - CreateSnapshot moves every disk of the VM to a new delta file "name-00000N.vmdk" whose
//     parent is the file the disk ran on; the snapshot's config.hardware.device keeps that
//     previous file name and the changeId as of the snapshot, and no longer changes.
//   - RemoveSnapshot consolidates: the delta created when that snapshot was taken is merged
//     into its parent and leaves the chain; later snapshots that named it name the parent.
//   - A disk whose live content is a local raw image (/cbt/allocate?image=) gets that content
//     frozen at each snapshot, in a sparse copy IMAGE@SNAPSHOT-MOREF, removed with the
//     snapshot. Guest writes change only the live image.

import (
	"fmt"
	"io"
	"log"
	"os"
	"strings"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"
)

// snapInfo is what the layer knows of one snapshot: its VM, and per disk the index in the
// disk's chain of the file the snapshot's config names, and the frozen content.
type snapInfo struct {
	vm     string
	level  map[int32]int
	frozen map[int32]string
}

// deltaName is the n-th delta file of a base disk: "[ds] vm/disk1.vmdk" -> "[ds] vm/disk1-00000n.vmdk".
func deltaName(base string, n int) string {
	return fmt.Sprintf("%s-%06d.vmdk", strings.TrimSuffix(base, ".vmdk"), n)
}

// chainBacking builds a flat backing for the last file of chain whose parents are the earlier
// files, each a copy of template with its own file name; the caller sets the changeId.
func chainBacking(template *types.VirtualDiskFlatVer2BackingInfo, chain []string) *types.VirtualDiskFlatVer2BackingInfo {
	var parent *types.VirtualDiskFlatVer2BackingInfo
	for i, name := range chain {
		b := *template
		b.FileName = name
		b.Parent = parent
		b.ChangeId = ""
		if i > 0 {
			b.DeltaDiskFormat = "redoLogFormat"
		} else {
			b.DeltaDiskFormat = ""
		}
		parent = &b
	}
	return parent
}

// rechain gives disk a backing on the last file of chain (parents the earlier ones), keeping
// its changeId; it returns the new backing.
func rechain(disk *types.VirtualDisk, chain []string) *types.VirtualDiskFlatVer2BackingInfo {
	b, flat := disk.Backing.(*types.VirtualDiskFlatVer2BackingInfo)
	if !flat || len(chain) == 0 {
		return nil
	}
	moved := chainBacking(b, chain)
	moved.ChangeId = b.ChangeId
	disk.Backing = moved
	return moved
}

// snapshotTaken runs after a successful CreateSnapshot_Task of vmRef: it gives the new
// snapshot its own copy of the disks, moves the VM's disks to new deltas and freezes content.
func (p *proxy) snapshotTaken(vmRef string) {
	vm := vmByRef(vmRef)
	if vm == nil {
		return
	}
	simulator.Map.WithLock(vm, func() {
		if vm.Snapshot == nil || vm.Snapshot.CurrentSnapshot == nil {
			return
		}
		snapRef := *vm.Snapshot.CurrentSnapshot
		snap, ok := simulator.Map.Get(snapRef).(*simulator.VirtualMachineSnapshot)
		if !ok {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		info := &snapInfo{vm: vmRef, level: map[int32]int{}, frozen: map[int32]string{}}
		var devices []types.BaseVirtualDevice
		for _, d := range snap.Config.Hardware.Device {
			disk, isDisk := d.(*types.VirtualDisk)
			if !isDisk {
				devices = append(devices, d)
				continue
			}
			b, flat := disk.Backing.(*types.VirtualDiskFlatVer2BackingInfo)
			if !flat {
				devices = append(devices, d)
				continue
			}
			st := p.state(vmRef, disk.Key)
			if len(st.chain) == 0 {
				st.chain = []string{b.FileName}
			}
			level := len(st.chain) - 1
			kept := *disk // the snapshot's disk: the file it ran on, the changeId as of now
			kept.Backing = chainBacking(b, st.chain)
			if st.enabled {
				kept.Backing.(*types.VirtualDiskFlatVer2BackingInfo).ChangeId = st.changeID()
			}
			devices = append(devices, &kept)
			info.level[disk.Key] = level

			st.deltas++
			st.chain = append(st.chain, deltaName(st.chain[0], st.deltas))
			if st.image != "" {
				frozen := st.image + "@" + snapRef.Value
				if err := sparseCopy(st.image, frozen); err != nil {
					log.Printf("freeze %s: %v", st.image, err)
				} else {
					info.frozen[disk.Key] = frozen
				}
			}
		}
		snap.Config.Hardware.Device = devices
		for _, disk := range virtualDisks(vm) { // the VM's own devices: now on the new deltas
			st := p.state(vmRef, disk.Key)
			if live := rechain(disk, st.chain); live != nil {
				st.file = live.FileName
			}
		}
		p.snapInfos[snapRef.Value] = info
	})
}

// snapshotRemoved runs after a successful RemoveSnapshot_Task: the delta the snapshot created
// is consolidated into its parent, and the snapshot's frozen content goes.
func (p *proxy) snapshotRemoved(snapRef string) {
	mu.Lock()
	info := p.snapInfos[snapRef]
	delete(p.snapInfos, snapRef)
	delete(p.snaps, snapRef)
	mu.Unlock()
	if info == nil {
		return
	}
	vm := vmByRef(info.vm)
	if vm == nil {
		return
	}
	simulator.Map.WithLock(vm, func() {
		mu.Lock()
		defer mu.Unlock()
		for key, level := range info.level {
			st := p.state(info.vm, key)
			if level+1 >= len(st.chain) {
				continue
			}
			st.chain = append(st.chain[:level+1], st.chain[level+2:]...)
			for ref, other := range p.snapInfos { // later snapshots on the merged file name its parent
				if other.vm != info.vm || other.level[key] <= level {
					continue
				}
				other.level[key]--
				p.renameSnapshotDisk(ref, key, st.chain[:other.level[key]+1])
			}
			for _, disk := range virtualDisks(vm) {
				if disk.Key == key {
					if live := rechain(disk, st.chain); live != nil {
						st.file = live.FileName
					}
				}
			}
		}
		for _, frozen := range info.frozen {
			if err := os.Remove(frozen); err != nil {
				log.Printf("remove frozen content: %v", err)
			}
		}
	})
}

// renameSnapshotDisk points a snapshot's disk at the last file of chain (its file was merged).
func (p *proxy) renameSnapshotDisk(snapRef string, key int32, chain []string) {
	snap, ok := simulator.Map.Get(types.ManagedObjectReference{Type: "VirtualMachineSnapshot", Value: snapRef}).(*simulator.VirtualMachineSnapshot)
	if !ok {
		return
	}
	for _, d := range snap.Config.Hardware.Device {
		if disk, isDisk := d.(*types.VirtualDisk); isDisk && disk.Key == key {
			rechain(disk, chain)
		}
	}
}

// sparseCopy copies a raw image's data extents (SEEK_DATA/SEEK_HOLE) into a new file of the
// same size: the frozen content of a snapshot, as small as the data.
func sparseCopy(from, to string) error {
	extents, size, err := imageExtents(from)
	if err != nil {
		return err
	}
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	buf := make([]byte, 1<<20)
	for _, e := range extents {
		for off := e.start; off < e.start+e.length; {
			n := int64(len(buf))
			if rest := e.start + e.length - off; rest < n {
				n = rest
			}
			if _, err := io.ReadFull(io.NewSectionReader(in, off, n), buf[:n]); err != nil {
				out.Close()
				return err
			}
			if _, err := out.WriteAt(buf[:n], off); err != nil {
				out.Close()
				return err
			}
			off += n
		}
	}
	if err := out.Truncate(size); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

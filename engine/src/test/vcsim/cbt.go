package main

import (
	"bufio"
	"crypto/sha256"
	"fmt"
	"math"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"
)

type diskID struct {
	vm  string // VM moref value
	key int32
}

type area struct{ start, length int64 }

type write struct {
	area
	epoch int // the changeId sequence current when the write happened
}

// diskState is one disk's change tracking: changeId "prefix/seq", base allocation and writes.
type diskState struct {
	prefix   string
	seq      int
	enabled  bool
	capacity int64
	file     string
	alloc    []area
	writes   []write
	chain    []string // file names, base first: the disk's delta chain (delta.go)
	deltas   int      // delta files made so far: the next is "-00000(deltas+1)"
	image    string   // the live content, a local raw image (from /cbt/allocate?image=)
}

// cbtBlock is the granularity of the areas QueryChangedDiskAreas reports: changes are
// tracked per block, so a write of one byte reports its whole 64 KiB block.
const cbtBlock = 64 << 10

func (d *diskState) changeID() string { return fmt.Sprintf("%s/%d", d.prefix, d.seq) }

// state returns a disk's state, creating it; the caller holds mu.
func (p *proxy) state(vm string, key int32) *diskState {
	id := diskID{vm, key}
	st := p.disks[id]
	if st == nil {
		st = &diskState{prefix: newChangeIDPrefix(), seq: 1}
		p.disks[id] = st
	}
	return st
}

// syncDisks mirrors CBT state into the simulator: capacityInBytes and backing changeId.
func (p *proxy) syncDisks() {
	mu.Lock()
	defer mu.Unlock()
	for _, e := range simulator.Map.All("VirtualMachine") {
		vm := e.(*simulator.VirtualMachine)
		simulator.Map.WithLock(vm, func() {
			cbt := vm.Config.ChangeTrackingEnabled != nil && *vm.Config.ChangeTrackingEnabled
			for _, disk := range virtualDisks(vm) {
				st := p.state(vm.Self.Value, disk.Key)
				if cbt && !st.enabled {
					st.prefix, st.seq = newChangeIDPrefix(), 1
				}
				st.enabled = cbt
				disk.CapacityInBytes = disk.CapacityInKB * 1024
				st.capacity = disk.CapacityInBytes
				if b, ok := disk.Backing.(*types.VirtualDiskFlatVer2BackingInfo); ok {
					st.file = b.FileName
					b.ChangeId = ""
					if cbt {
						b.ChangeId = st.changeID()
					}
				}
			}
		})
	}
}

// nextChangeIDs starts a new changeId sequence on every disk of a VM, as a snapshot does.
func (p *proxy) nextChangeIDs(vmRef string) {
	mu.Lock()
	for id, st := range p.disks {
		if id.vm == vmRef && st.enabled {
			st.seq++
		}
	}
	mu.Unlock()
	p.syncDisks()
}

// recordSnapshot remembers the sequence each disk had when the VM's newest snapshot was taken.
func (p *proxy) recordSnapshot(vmRef string) {
	vm := vmByRef(vmRef)
	if vm == nil {
		return
	}
	var snap string
	simulator.Map.WithLock(vm, func() {
		if vm.Snapshot != nil && vm.Snapshot.CurrentSnapshot != nil {
			snap = vm.Snapshot.CurrentSnapshot.Value
		}
	})
	if snap == "" {
		return
	}
	mu.Lock()
	defer mu.Unlock()
	seqs := map[int32]int{}
	for id, st := range p.disks {
		if id.vm == vmRef {
			seqs[id.key] = st.seq
		}
	}
	p.snaps[snap] = seqs
}

// merge sorts areas and joins overlapping or touching ones.
func merge(in []area) []area {
	sort.Slice(in, func(i, j int) bool { return in[i].start < in[j].start })
	var out []area
	for _, a := range in {
		if a.length <= 0 {
			continue
		}
		if n := len(out); n > 0 && a.start <= out[n-1].start+out[n-1].length {
			end := a.start + a.length
			if last := out[n-1].start + out[n-1].length; end > last {
				out[n-1].length = end - out[n-1].start
			}
			continue
		}
		out = append(out, a)
	}
	return out
}

func (p *proxy) queryChangedDiskAreas(w http.ResponseWriter, r *http.Request, call soapCall) {
	if !p.authenticated(r) {
		writeFault(w, "NotAuthenticated", "The session is not authenticated.", "")
		return
	}
	vmRef := call.args["_this"]
	if vmByRef(vmRef) == nil {
		writeFault(w, "ManagedObjectNotFound", "The object 'vim.VirtualMachine:"+vmRef+"' has already been deleted or has not been completely created",
			`<obj type="VirtualMachine">`+escape(vmRef)+`</obj>`)
		return
	}
	p.syncDisks()
	key, _ := strconv.Atoi(call.args["deviceKey"])
	start, err := strconv.ParseInt(call.args["startOffset"], 10, 64)
	mu.Lock()
	defer mu.Unlock()
	st, ok := p.disks[diskID{vmRef, int32(key)}]
	switch {
	case !ok:
		writeFault(w, "InvalidArgument", "A specified parameter was not correct: deviceKey", `<invalidProperty>deviceKey</invalidProperty>`)
		return
	case !st.enabled:
		writeFault(w, "NotSupported", "Changed Block Tracking is not enabled on the virtual machine.", "")
		return
	case err != nil || start < 0 || start >= st.capacity:
		writeFault(w, "InvalidArgument", "A specified parameter was not correct: startOffset", `<invalidProperty>startOffset</invalidProperty>`)
		return
	}
	upper := math.MaxInt
	snapRef := call.args["snapshot"]
	if snapRef == "" {
		// vSphere: without a snapshot the changes are computed against the VM's current
		// snapshot, which works only for a powered-off VM
		vm := vmByRef(vmRef)
		if vm == nil || vm.Runtime.PowerState != types.VirtualMachinePowerStatePoweredOff {
			writeFault(w, "InvalidArgument", "A specified parameter was not correct: snapshot (a powered-on virtual"+
				" machine needs a snapshot)", `<invalidProperty>snapshot</invalidProperty>`)
			return
		}
		if vm.Snapshot != nil && vm.Snapshot.CurrentSnapshot != nil {
			snapRef = vm.Snapshot.CurrentSnapshot.Value
		}
	} else if info := p.snapInfos[snapRef]; info == nil || info.vm != vmRef {
		writeFault(w, "InvalidArgument", "A specified parameter was not correct: snapshot (not a snapshot of this"+
			" virtual machine)", `<invalidProperty>snapshot</invalidProperty>`)
		return
	}
	if seqs, ok := p.snaps[snapRef]; ok {
		upper = seqs[int32(key)]
	}
	var areas []area
	changeID := call.args["changeId"]
	if changeID == "*" {
		areas = append(areas, st.alloc...)
		for _, wr := range st.writes {
			if wr.epoch < upper {
				areas = append(areas, wr.area)
			}
		}
	} else {
		from, valid := st.parse(changeID)
		if !valid {
			file := st.file // the file the snapshot froze, when the query names one
			if info := p.snapInfos[snapRef]; info != nil {
				if level, ok := info.level[int32(key)]; ok && level < len(st.chain) {
					file = st.chain[level]
				}
			}
			writeFault(w, "FileFault", "Error caused by file "+file, `<file>`+escape(file)+`</file>`)
			return
		}
		for _, wr := range st.writes {
			if wr.epoch >= from && wr.epoch < upper {
				areas = append(areas, wr.area)
			}
		}
	}
	for i := range areas { // whole CBT blocks, within the disk
		s := areas[i].start / cbtBlock * cbtBlock
		e := (areas[i].start + areas[i].length + cbtBlock - 1) / cbtBlock * cbtBlock
		if e > st.capacity {
			e = st.capacity
		}
		areas[i] = area{s, e - s}
	}
	var reply strings.Builder
	end := st.capacity
	n := 0
	for _, a := range merge(areas) {
		s, e := a.start, a.start+a.length
		if e <= start {
			continue
		}
		if s < start {
			s = start
		}
		if n == p.maxAreas {
			end = s
			break
		}
		fmt.Fprintf(&reply, `<changedArea><start>%d</start><length>%d</length></changedArea>`, s, e-s)
		n++
	}
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	fmt.Fprint(w, envelope(fmt.Sprintf(`<QueryChangedDiskAreasResponse xmlns="urn:vim25"><returnval>`+
		`<startOffset>%d</startOffset><length>%d</length>%s</returnval></QueryChangedDiskAreasResponse>`,
		start, end-start, reply.String())))
}

// parse checks a changeId against this disk and returns its sequence number.
func (d *diskState) parse(changeID string) (int, bool) {
	i := strings.LastIndex(changeID, "/")
	if i < 0 || changeID[:i] != d.prefix {
		return 0, false
	}
	n, err := strconv.Atoi(changeID[i+1:])
	return n, err == nil && n >= 1 && n <= d.seq
}

// imageExtents lists the data (non-hole) extents of a local raw image with SEEK_DATA/SEEK_HOLE.
func imageExtents(path string) ([]area, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, 0, err
	}
	size := fi.Size()
	var out []area
	fd := int(f.Fd())
	for off := int64(0); off < size; {
		data, err := syscall.Seek(fd, off, 3) // SEEK_DATA
		if err != nil {
			break // ENXIO: no data after off
		}
		hole, err := syscall.Seek(fd, data, 4) // SEEK_HOLE
		if err != nil {
			hole = size
		}
		out = append(out, area{data, hole - data})
		off = hole
	}
	return out, size, nil
}

func thumbprint(der []byte) string {
	sum := sha256.Sum256(der)
	parts := make([]string, len(sum))
	for i, b := range sum {
		parts[i] = fmt.Sprintf("%02X", b)
	}
	return strings.Join(parts, ":")
}

// readAreas reads "offset length" lines.
func readAreas(r *http.Request) ([]area, error) {
	var out []area
	sc := bufio.NewScanner(r.Body)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		if len(f) != 2 {
			return nil, fmt.Errorf("want 'offset length', got %q", sc.Text())
		}
		o, err1 := strconv.ParseInt(f[0], 10, 64)
		l, err2 := strconv.ParseInt(f[1], 10, 64)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("bad numbers in %q", sc.Text())
		}
		out = append(out, area{o, l})
	}
	return out, sc.Err()
}

package main

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"
)

// serveTest answers the test-only endpoints under /cbt/.
func (p *proxy) serveTest(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	switch r.URL.Path {
	case "/cbt/expire-sessions":
		fmt.Fprintf(w, "%d\n", p.expireSessions())
		return
	case "/cbt/ignore-next":
		if q.Get("method") == "" {
			http.Error(w, "method is required", http.StatusBadRequest)
			return
		}
		mu.Lock()
		p.ignore[q.Get("method")] = true
		mu.Unlock()
		return
	case "/cbt/outage":
		d, err := time.ParseDuration(q.Get("for"))
		if err != nil {
			http.Error(w, "for must be a duration such as 5s", http.StatusBadRequest)
			return
		}
		mu.Lock()
		p.downTill = time.Now().Add(d)
		mu.Unlock()
		return
	case "/cbt/fail-next":
		if q.Get("method") == "" {
			http.Error(w, "method is required", http.StatusBadRequest)
			return
		}
		f := failure{fault: q.Get("fault"), message: q.Get("message")}
		if f.fault == "" {
			f.fault = "SystemError"
		}
		if f.message == "" {
			f.message = "injected fault in " + q.Get("method")
		}
		mu.Lock()
		p.failNext[q.Get("method")] = f
		mu.Unlock()
		return
	}

	vm := vmByName(q.Get("vm"))
	if vm == nil {
		http.Error(w, "no such vm: "+q.Get("vm"), http.StatusNotFound)
		return
	}
	if r.URL.Path == "/cbt/snapshots" {
		count := 0
		simulator.Map.WithLock(vm, func() {
			if vm.Snapshot != nil {
				count = countSnapshots(vm.Snapshot.RootSnapshotList)
			}
		})
		fmt.Fprintf(w, "%d\n", count)
		return
	}

	p.syncDisks()
	key, _ := strconv.Atoi(q.Get("disk"))
	mu.Lock()
	defer mu.Unlock()
	st, ok := p.disks[diskID{vm.Self.Value, int32(key)}]
	if !ok {
		http.Error(w, "no such disk: "+q.Get("disk"), http.StatusNotFound)
		return
	}
	switch r.URL.Path {
	case "/cbt/write":
		off, err1 := strconv.ParseInt(q.Get("offset"), 10, 64)
		n, err2 := strconv.ParseInt(q.Get("length"), 10, 64)
		if err1 != nil || err2 != nil || off < 0 || n <= 0 || off+n > st.capacity {
			http.Error(w, "offset and length must lie within the disk", http.StatusBadRequest)
			return
		}
		st.writes = append(st.writes, write{area{off, n}, st.seq})
		st.seq++ // the disk's changeId moves on with every write: it differs from the last snapshot's
	case "/cbt/allocate":
		var areas []area
		var err error
		if image := q.Get("image"); image != "" {
			var size int64
			if areas, size, err = imageExtents(image); err == nil {
				setCapacity(vm, int32(key), size)
				st.capacity = size
				st.image = image
			}
		} else {
			areas, err = readAreas(r)
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		st.alloc = merge(areas)
	case "/cbt/reset":
		for _, wr := range st.writes {
			st.alloc = append(st.alloc, wr.area)
		}
		st.alloc, st.writes = merge(st.alloc), nil
		st.prefix, st.seq = newChangeIDPrefix(), 1
	case "/cbt/changeid":
		fmt.Fprintln(w, st.changeID())
	default:
		http.NotFound(w, r)
	}
}

func countSnapshots(list []types.VirtualMachineSnapshotTree) int {
	n := 0
	for _, s := range list {
		n += 1 + countSnapshots(s.ChildSnapshotList)
	}
	return n
}

// setCapacity makes a disk as large as its mapped image (whole KiB).
func setCapacity(vm *simulator.VirtualMachine, key int32, size int64) {
	simulator.Map.WithLock(vm, func() {
		for _, disk := range virtualDisks(vm) {
			if disk.Key == key {
				disk.CapacityInKB = (size + 1023) / 1024
				disk.CapacityInBytes = disk.CapacityInKB * 1024
			}
		}
	})
}

// Command vcsim runs govmomi's vSphere simulator behind a SOAP-level proxy that adds
// Changed Block Tracking (QueryChangedDiskAreas, per-disk changeIds) and test-only endpoints.
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"

	"github.com/vmware/govmomi"
	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address of the SDK endpoint (port 0 picks a free port)")
	username := flag.String("username", "", "the only user name Login accepts (empty: any)")
	password := flag.String("password", "", "the only password Login accepts")
	passwordFile := flag.String("password-file", "", "file holding the password")
	vms := flag.Int("vms", 1, "virtual machines per resource pool")
	disks := flag.Int("disks", 2, "virtual disks per virtual machine")
	diskMiB := flag.Int64("disk-mib", 64, "capacity of each virtual disk in MiB")
	maxAreas := flag.Int("max-areas", 2, "most changed areas one QueryChangedDiskAreas reply returns")
	useTLS := flag.Bool("tls", false, "serve https with a self-signed certificate")
	flag.Parse()
	if *passwordFile != "" {
		b, err := os.ReadFile(*passwordFile)
		if err != nil {
			log.Fatalf("password file: %v", err)
		}
		*password = strings.TrimRight(string(b), "\r\n")
	}

	model := simulator.VPX()
	model.Machine = *vms
	model.ClusterHost = 1
	if err := model.Create(); err != nil {
		log.Fatalf("create model: %v", err)
	}
	if *username != "" {
		model.Service.Listen = &url.URL{User: url.UserPassword(*username, *password)}
	}
	sim := model.Service.NewServer()
	if err := addDisks(sim.URL, *disks, *diskMiB); err != nil {
		log.Fatalf("add disks: %v", err)
	}

	p := newProxy(sim.URL, *maxAreas)
	p.syncDisks()
	front := httptest.NewUnstartedServer(p)
	front.Listener.Close()
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatalf("listen: %v", err)
	}
	front.Listener = ln
	scheme := "http"
	if *useTLS {
		front.StartTLS()
		scheme = "https"
	} else {
		front.Start()
	}
	fmt.Printf("%s://%s/sdk\n", scheme, ln.Addr().String())
	if *useTLS {
		fmt.Printf("certificate %s\n", thumbprint(front.Certificate().Raw))
	}
	os.Stdout.Sync()

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	<-stop
	front.Close()
	sim.Close()
	model.Remove()
}

// addDisks gives every VM the wanted number of disks of the wanted size.
func addDisks(u *url.URL, count int, mib int64) error {
	ctx := context.Background()
	c, err := govmomi.NewClient(ctx, u, true)
	if err != nil {
		return err
	}
	defer c.Logout(ctx)
	list, err := find.NewFinder(c.Client).VirtualMachineList(ctx, "*")
	if err != nil {
		return err
	}
	for _, vm := range list {
		devices, err := vm.Device(ctx)
		if err != nil {
			return err
		}
		have := len(devices.SelectByType((*types.VirtualDisk)(nil)))
		ctrl, err := devices.FindDiskController("scsi")
		if err != nil {
			return err
		}
		for i := have; i < count; i++ {
			name := fmt.Sprintf("[LocalDS_0] %s/disk%d.vmdk", vm.Name(), i+1)
			disk := devices.CreateDisk(ctrl, types.ManagedObjectReference{}, name)
			disk.CapacityInKB = mib * 1024
			if err := vm.AddDevice(ctx, disk); err != nil {
				return err
			}
			devices, _ = vm.Device(ctx)
		}
	}
	for _, e := range simulator.Map.All("VirtualMachine") {
		vm := e.(*simulator.VirtualMachine)
		simulator.Map.WithLock(vm, func() {
			for _, d := range vm.Config.Hardware.Device {
				if disk, ok := d.(*types.VirtualDisk); ok {
					disk.CapacityInKB = mib * 1024
				}
			}
		})
	}
	return nil
}

// newChangeIDPrefix returns a UUID-like part in the style of VMware's changeIds ("52 aa ...-bb ...").
func newChangeIDPrefix() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[0] = 0x52
	var sb strings.Builder
	for i, x := range b {
		if i == 8 {
			sb.WriteByte('-')
		} else if i > 0 {
			sb.WriteByte(' ')
		}
		fmt.Fprintf(&sb, "%02x", x)
	}
	return sb.String()
}

// forward sends one request on to the simulator and returns its reply.
func (p *proxy) forward(r *http.Request, body []byte) (*http.Response, []byte, error) {
	req, err := http.NewRequest(r.Method, p.sim.Scheme+"://"+p.sim.Host+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		return nil, nil, err
	}
	for k, v := range r.Header {
		req.Header[k] = v
	}
	res, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		return nil, nil, err
	}
	defer res.Body.Close()
	out, err := io.ReadAll(res.Body)
	return res, out, err
}

var mu sync.Mutex // guards all CBT state in the proxy

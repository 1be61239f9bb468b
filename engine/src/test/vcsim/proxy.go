package main

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"
)

const sessionCookie = "vmware_soap_session"

// proxy answers the CBT calls itself and hands every other SOAP call to the simulator.
type proxy struct {
	sim       *url.URL
	maxAreas  int
	sessions  map[string]bool
	disks     map[diskID]*diskState
	snaps     map[string]map[int32]int // snapshot moref -> disk key -> changeId sequence at creation
	snapInfos map[string]*snapInfo     // snapshot moref -> its VM, disk files and frozen content (delta.go)
	failNext  map[string]failure
	ignore    map[string]bool // methods whose next call is answered "done" and not carried out
	downTill  time.Time       // until then every SDK call gets HTTP 503 (vCenter unreachable)
}

type failure struct{ fault, message string }

func newProxy(sim *url.URL, maxAreas int) *proxy {
	return &proxy{sim: sim, maxAreas: maxAreas, sessions: map[string]bool{},
		disks: map[diskID]*diskState{}, snaps: map[string]map[int32]int{}, snapInfos: map[string]*snapInfo{}, failNext: map[string]failure{}, ignore: map[string]bool{}}
}

// soapCall is the method name and the text of its direct child elements.
type soapCall struct {
	method string
	args   map[string]string
}

func parseCall(body []byte) soapCall {
	call := soapCall{args: map[string]string{}}
	dec := xml.NewDecoder(bytes.NewReader(body))
	depth := 0
	field := ""
	for {
		tok, err := dec.Token()
		if err != nil {
			return call
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			if depth == 3 {
				call.method = t.Name.Local
			} else if depth == 4 {
				field = t.Name.Local
			}
		case xml.EndElement:
			depth--
			field = ""
		case xml.CharData:
			if depth == 4 && field != "" {
				if _, seen := call.args[field]; !seen {
					call.args[field] = strings.TrimSpace(string(t))
				}
			}
		}
	}
}

func (p *proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/cbt/") {
		p.serveTest(w, r)
		return
	}
	body, _ := io.ReadAll(r.Body)
	call := parseCall(body)

	mu.Lock()
	f, fail := p.failNext[call.method]
	delete(p.failNext, call.method)
	ignored := p.ignore[call.method]
	delete(p.ignore, call.method)
	down := time.Now().Before(p.downTill)
	mu.Unlock()
	if down {
		http.Error(w, "vCenter is unreachable (simulated outage)", http.StatusServiceUnavailable)
		return
	}
	if fail {
		writeFault(w, f.fault, f.message, "")
		return
	}
	if ignored { // accepted, and nothing happens: a guest that ignores ShutdownGuest
		w.Header().Set("Content-Type", "text/xml; charset=utf-8")
		fmt.Fprint(w, envelope("<"+call.method+"Response xmlns=\"urn:vim25\"></"+call.method+"Response>"))
		return
	}
	switch call.method {
	case "", "RetrieveServiceContent", "Login", "LoginByToken", "LoginExtensionByCertificate":
	default:
		// vCenter refuses every other call without a session (the simulator lets
		// RetrieveProperties through and answers it with nothing)
		if r.URL.Path == "/sdk" && !p.authenticated(r) {
			writeFault(w, "NotAuthenticated", "The session is not authenticated.", "")
			return
		}
	}
	switch call.method {
	case "QueryChangedDiskAreas":
		p.queryChangedDiskAreas(w, r, call)
		return
	case "RetrieveProperties", "RetrievePropertiesEx", "ContinueRetrievePropertiesEx":
		p.syncDisks()
	case "CreateSnapshot_Task":
		p.syncDisks()
		p.nextChangeIDs(call.args["_this"])
	case "Logout":
		if c, err := r.Cookie(sessionCookie); err == nil {
			mu.Lock()
			delete(p.sessions, c.Value)
			mu.Unlock()
		}
	}

	res, out, err := p.forward(r, body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	for k, v := range res.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(res.StatusCode)
	_, _ = w.Write(out)

	if call.method == "Login" && res.StatusCode == http.StatusOK {
		for _, c := range res.Cookies() {
			if c.Name == sessionCookie {
				mu.Lock()
				p.sessions[c.Value] = true
				mu.Unlock()
			}
		}
	}
	if call.method == "CreateSnapshot_Task" && res.StatusCode == http.StatusOK {
		p.recordSnapshot(call.args["_this"])
		p.snapshotTaken(call.args["_this"])
	}
	if call.method == "RemoveSnapshot_Task" && res.StatusCode == http.StatusOK {
		ref := types.ManagedObjectReference{Type: "VirtualMachineSnapshot", Value: call.args["_this"]}
		if simulator.Map.Get(ref) == nil { // the task ran (synchronously) and removed it
			p.snapshotRemoved(call.args["_this"])
		}
	}
}

// authenticated reports whether the request carries a live session cookie.
func (p *proxy) authenticated(r *http.Request) bool {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return false
	}
	mu.Lock()
	defer mu.Unlock()
	return p.sessions[c.Value]
}

// expireSessions logs every known session out of the simulator, as an idle timeout would.
func (p *proxy) expireSessions() int {
	mu.Lock()
	cookies := make([]string, 0, len(p.sessions))
	for c := range p.sessions {
		cookies = append(cookies, c)
	}
	p.sessions = map[string]bool{}
	mu.Unlock()
	for _, c := range cookies {
		body := envelope(`<Logout xmlns="urn:vim25"><_this type="SessionManager">SessionManager</_this></Logout>`)
		req, _ := http.NewRequest("POST", p.sim.Scheme+"://"+p.sim.Host+"/sdk", strings.NewReader(body))
		req.Header.Set("Content-Type", "text/xml; charset=utf-8")
		req.Header.Set("SOAPAction", "urn:vim25/6.7")
		req.AddCookie(&http.Cookie{Name: sessionCookie, Value: c})
		if res, err := http.DefaultTransport.RoundTrip(req); err == nil {
			res.Body.Close()
		} else {
			log.Printf("expire session: %v", err)
		}
	}
	return len(cookies)
}

func envelope(body string) string {
	return `<?xml version="1.0" encoding="UTF-8"?>` +
		`<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" ` +
		`xmlns:xsd="http://www.w3.org/2001/XMLSchema">` +
		`<soapenv:Body>` + body + `</soapenv:Body></soapenv:Envelope>`
}

// writeFault answers with a vim25 SOAP fault; the xsi prefix is deliberately not "xsi".
func writeFault(w http.ResponseWriter, faultType, message, detail string) {
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.WriteHeader(http.StatusInternalServerError)
	fmt.Fprint(w, envelope(fmt.Sprintf(`<soapenv:Fault><faultcode>ServerFaultCode</faultcode>`+
		`<faultstring>%s</faultstring><detail><%sFault xmlns="urn:vim25" `+
		`xmlns:schemainst="http://www.w3.org/2001/XMLSchema-instance" schemainst:type="%s">%s</%sFault>`+
		`</detail></soapenv:Fault>`, escape(message), faultType, faultType, detail, faultType)))
}

func escape(s string) string {
	var b bytes.Buffer
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// vmByName finds a simulated VM by its name.
func vmByName(name string) *simulator.VirtualMachine {
	for _, e := range simulator.Map.All("VirtualMachine") {
		if vm := e.(*simulator.VirtualMachine); vm.Name == name {
			return vm
		}
	}
	return nil
}

// vmByRef finds a simulated VM by its moref value.
func vmByRef(ref string) *simulator.VirtualMachine {
	vm, _ := simulator.Map.Get(types.ManagedObjectReference{Type: "VirtualMachine", Value: ref}).(*simulator.VirtualMachine)
	return vm
}

// virtualDisks lists a VM's disks; the caller holds the VM's lock.
func virtualDisks(vm *simulator.VirtualMachine) []*types.VirtualDisk {
	var disks []*types.VirtualDisk
	for _, d := range vm.Config.Hardware.Device {
		if disk, ok := d.(*types.VirtualDisk); ok {
			disks = append(disks, disk)
		}
	}
	return disks
}

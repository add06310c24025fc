package gwsim

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// memState is what the state file would hold if g were closed now.
func memState(t *testing.T, g *Gateway) string {
	t.Helper()
	g.mu.Lock()
	defer g.mu.Unlock()
	b, err := encodeState(g.st)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// readState is ReadStateFile as a string.
func readState(t *testing.T, path string) string {
	t.Helper()
	b, err := ReadStateFile(path)
	if err != nil {
		t.Fatalf("ReadStateFile: %v", err)
	}
	return string(b)
}

// TestStateLogKeepsEveryWriteWithoutClose runs every kind of write on a
// gateway with a state file and, after each, reads the state file as a
// killed process leaves it (never closed): it must hold the write.
func TestStateLogKeepsEveryWriteWithoutClose(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	clk := newClock()
	g, err := Open(path, Options{Now: clk.Now, TimeScale: 10})
	if err != nil {
		t.Fatal(err)
	}
	check := func(what string) {
		t.Helper()
		if d := cmp.Diff(memState(t, g), readState(t, path)); d != "" {
			t.Fatalf("after %s, the state file and its log (-gateway +file):\n%s", what, d)
		}
	}
	addDevice(t, g, "24E1247151234568", "wt-1")
	check("a device create")
	addDevice(t, g, "24E1247151234569", "wt-2")
	addDevice(t, g, "24E1247151234570", "wt-3")
	mustOK(t, g, "PUT", "/api/urdevices/24E1247151234570", `{"name":"wt-3b","description":"moved","applicationID":"1"}`)
	check("a device rename")
	pid := decode[map[string]string](t, mustOK(t, g, "POST", "/api/urprofiles", `{"name":"p","profile":{"supportsJoin":true}}`))["profileID"]
	check("a profile create")
	ps := defaultProfileSettings(g.plan)
	ps.SupportsJoin, ps.SupportsClassC = true, true
	mustOK(t, g, "PUT", "/api/urprofiles/"+pid, map[string]any{"name": "p2", "profile": ps})
	check("a profile update")
	gid := decode[map[string]string](t, mustOK(t, g, "POST", "/api/multicast-groups", `{"multicastGroup":{"name":"g"}}`))["id"]
	mustOK(t, g, "POST", "/api/multicast-groups/"+gid+"/devices", `{"devEUIs":["24E1247151234568","24E1247151234570"]}`)
	check("a membership add")
	mustOK(t, g, "PUT", "/api/multicast-groups/"+gid, `{"multicastGroup":{"name":"g2","mcAddr":"01AB23CD","mcNwkSKey":"`+DefaultKey+`","mcAppSKey":"`+DefaultKey+`","fCnt":0,"groupType":"CLASS_C","dr":0,"frequency":869525000,"pingSlotPeriod":128}}`)
	check("a group update")
	mustOK(t, g, "DELETE", "/api/urdevices/24E1247151234570", nil)
	check("a device delete that leaves a group")
	mustOK(t, g, "POST", "/api/multicast-groups/"+gid+"/deletedevices", `{"devEUIs":["24E1247151234568"]}`)
	check("a membership removal")
	cid := fmt.Sprint(decode[map[string]any](t, mustOK(t, g, "POST", "/api/payloadcodecs", `{"name":"c"}`))["id"])
	check("a codec create")
	mustOK(t, g, "PUT", "/api/payloadcodecs/"+cid, `{"name":"c2","decoderScript":"x"}`)
	check("a codec update")
	g.FailFuotaDevice("24E1247151234569", true)
	check("a failing FUOTA device")
	mustOK(t, g, "POST", "/api/fuota/task", taskBody("up", clk.Now(), []string{"24E1247151234568", "24E1247151234569"}, nil))
	check("a task create")
	clk.Add(21 * time.Second)
	g.FailFuotaDevice("24E1247151234569", false)
	mustOK(t, g, "POST", "/api/fuota/task/retry", `{"ids":[1]}`)
	check("a task retry")
	mustOK(t, g, "POST", "/api/fuota/task", taskBody("later", clk.Now().Add(time.Hour), []string{"24E1247151234568"}, nil))
	mustOK(t, g, "PUT", "/api/fuota/task", taskBody("later2", clk.Now().Add(2*time.Hour), []string{"24E1247151234568"}, func(m map[string]any) { m["id"] = 2 }))
	check("a task update")
	mustOK(t, g, "POST", "/api/fuota/task/delete", `{"ids":[1,2]}`)
	check("a task delete")
	mustOK(t, g, "DELETE", "/api/payloadcodecs/"+cid, nil)
	mustOK(t, g, "DELETE", "/api/urprofiles/"+pid, nil)
	mustOK(t, g, "DELETE", "/api/multicast-groups/"+gid, nil)
	check("codec, profile and group deletes")
	// A device deleted and created again goes to the end of the list.
	mustOK(t, g, "DELETE", "/api/urdevices/24E1247151234568", nil)
	addDevice(t, g, "24E1247151234568", "wt-1")
	check("a device deleted and created again")
	call(t, g, "POST", "/api/urdevices", `{"devEUI":"24E1247151234568","applicationID":"1"}`) // refused
	check("a refused write")

	// Opening the file of a gateway that was never closed (as after a
	// kill) replays the log; closing compacts it into the state file.
	want := memState(t, g)
	g2, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(want, memState(t, g2)); d != "" {
		t.Errorf("reopened gateway (-before +after):\n%s", d)
	}
	if err := g2.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(want, string(b)); d != "" {
		t.Errorf("state file after Close (-want +got):\n%s", d)
	}
	if _, err := os.Stat(path + ".log"); !os.IsNotExist(err) {
		t.Errorf("the state log is still there after Close (%v)", err)
	}
}

// TestStateFileIsNotRewrittenPerWrite: after the first write, writes go
// to the log; the state file is rewritten only by Close.
func TestStateFileIsNotRewrittenPerWrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	g, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	addDevice(t, g, "24E1241300000000", "d-0")
	first, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < 200; i++ {
		addDevice(t, g, fmt.Sprintf("24E12413%08X", i), fmt.Sprintf("d-%d", i))
	}
	now, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first, now) {
		t.Errorf("the state file was rewritten by the writes after the first (%d bytes, was %d)", len(now), len(first))
	}
	got := readState(t, path)
	if n := strings.Count(got, `"devEUI"`); n != 200 {
		t.Errorf("state file with its log holds %d devices, want 200", n)
	}
}

// TestStateLogCompactsWhenItGrows: a log past the state file's size is
// compacted into it, so the log stays bounded.
func TestStateLogCompactsWhenItGrows(t *testing.T) {
	defer func(n int64) { minCompactBytes = n }(minCompactBytes)
	minCompactBytes = 2000
	path := filepath.Join(t.TempDir(), "state.json")
	g, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	largest := int64(0)
	for i := range 300 {
		addDevice(t, g, fmt.Sprintf("24E12413%08X", i), fmt.Sprintf("d-%d", i))
		st, err := os.Stat(path + ".log")
		if err != nil {
			t.Fatal(err)
		}
		largest = max(largest, st.Size())
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	// Compacted when past the state file's size: never more than that
	// plus one entry.
	if largest > st.Size()+2000 {
		t.Errorf("the log grew to %d bytes; the state file is %d", largest, st.Size())
	}
	if d := cmp.Diff(memState(t, g), readState(t, path)); d != "" {
		t.Errorf("state after compactions (-gateway +file):\n%s", d)
	}
}

// TestStateLogCutShortOrStale: a last line cut short (never acknowledged)
// is ignored; a log written for another state file (a crash between
// compaction and the log's removal) is never replayed.
func TestStateLogCutShortOrStale(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	g, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	addDevice(t, g, "24E1241300000001", "a")
	addDevice(t, g, "24E1241300000002", "b")
	want := memState(t, g)
	logFile := path + ".log"
	f, err := os.OpenFile(logFile, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = f.WriteString(`[{"put":"device","rec":{"devEUI":"24E12413000`)
	_ = f.Close()
	if d := cmp.Diff(want, readState(t, path)); d != "" {
		t.Errorf("with a last line cut short (-want +got):\n%s", d)
	}
	// The log of the state file before the second write, beside the
	// file after it: stale.
	saved, _ := os.ReadFile(logFile)
	g.mu.Lock()
	if err := g.saveLocked(); err != nil {
		t.Fatal(err)
	}
	g.mu.Unlock()
	if err := os.WriteFile(logFile, append(saved, []byte(`[{"del":"device","key":"24E1241300000002"}]`+"\n")...), 0o600); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(want, readState(t, path)); d != "" {
		t.Errorf("with a stale log (-want +got):\n%s", d)
	}
	// A line in the middle that does not parse is an error, not a
	// silent loss.
	hdr, _, _ := bytes.Cut(saved, []byte("\n"))
	_ = g.log.Close()
	g.log = nil
	b, _ := os.ReadFile(path)
	h, _ := json.Marshal(logHeader{Log: 1, Base: digest(b)})
	_ = hdr
	if err := os.WriteFile(logFile, []byte(string(h)+"\nnot json\n[]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadStateFile(path); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("a garbled line: error %v, want one naming line 2", err)
	}
}

// TestStateLogSurvivesSIGKILL runs a gateway in a child process that
// prints each device it created once the create was answered, kills it
// with SIGKILL mid-run, and finds every answered create in the state file
// read with ReadStateFile and in a gateway opened on it.
func TestStateLogSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a process")
	}
	path := filepath.Join(t.TempDir(), "state.json")
	cmd := exec.Command(os.Args[0], "-test.run=^TestStateLogChildProcess$")
	cmd.Env = append(os.Environ(), "GWSIM_CHILD_STATE="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acked := -1
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if n, ok := strings.CutPrefix(sc.Text(), "acked "); ok {
			acked, _ = strconv.Atoi(n)
			if acked >= 300 {
				break
			}
		}
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
	if acked < 300 {
		t.Fatalf("the child acknowledged %d creates before it ended", acked)
	}
	st := readState(t, path)
	for i := 0; i <= acked; i++ {
		if !strings.Contains(st, fmt.Sprintf(`"devEUI": "24E12413%08X"`, i)) {
			t.Fatalf("device %d was acknowledged but is not in the state file read with its log", i)
		}
	}
	g, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if got := memState(t, g); got != st {
		t.Errorf("the reopened gateway differs from ReadStateFile")
	}
}

// TestStateLogChildProcess is the child of TestStateLogSurvivesSIGKILL.
func TestStateLogChildProcess(t *testing.T) {
	path := os.Getenv("GWSIM_CHILD_STATE")
	if path == "" {
		t.Skip("only as a child process")
	}
	g, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		addDevice(t, g, fmt.Sprintf("24E12413%08X", i), fmt.Sprintf("d-%d", i))
		fmt.Printf("acked %d\n", i)
	}
}

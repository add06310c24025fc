package faultcampaign

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// secret is a key and how the site file refers to it.
type secret struct {
	Value string // 32 lower-case hex digits
	Ref   string // ${env:NAME} or ${file:keys/NAME}
}

// Profile is a generated device profile.
type Profile struct {
	Name, RenamedFrom string
	Join              bool // OTAA (supportsJoin) or ABP
	ClassB, ClassC    bool
	ClassCTimeout     int
	New               bool // created by the edit
}

// Codec is a generated custom payload codec.
type Codec struct {
	Name, RenamedFrom string
	Description       string
	Decoder           string
	CodecJSON         string // write-only on the gateway
	New               bool
}

// Modbus is a device's Modbus settings.
type Modbus struct {
	Mode      string // tcp or rtu
	FramePort int
	TCPPort   int
}

// Device is a generated end device.
type Device struct {
	EUI, Name, Description string
	App, Profile, Codec    string
	OTAA                   bool
	AppKey                 secret
	DevAddr                string
	NwkSKey, AppSKey       secret
	Modbus                 *Modbus
	New                    bool
}

// Group is a generated multicast group.
type Group struct {
	Name, RenamedFrom string
	McAddr            string
	NwkSKey, AppSKey  secret
	Members           []string
	New               bool
}

// Task is a generated pending FUOTA task.
type Task struct {
	Name, RenamedFrom string
	Description       string
	Devices           []string
	Firmware          string // file name, beside the site file
	FragSize          int
	New               bool
}

// Model is a generated site: what the site file says, in the generator's
// own terms, to check a fault-free apply against.
type Model struct {
	Apps     []string
	Profiles []*Profile
	Codecs   []*Codec
	Devices  []*Device
	Groups   []*Group
	Tasks    []*Task
	Prune    bool
}

// Generator makes random sites and edits from one seed.
type Generator struct {
	r       *rand.Rand
	n       int               // names handed out
	secrets map[string]string // env/file name → value
	files   map[string][]byte // firmware file name → content
	Edits   []string          // what the edit did, for the trial's report
}

// NewGenerator returns a generator for seed; apps are the applications the
// gateway holds (the first is the default one).
func NewGenerator(seed uint64) *Generator {
	return &Generator{
		r:       rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		secrets: map[string]string{},
		files:   map[string][]byte{},
	}
}

// Secrets are every key the sites refer to, by env or file name.
func (g *Generator) Secrets() map[string]string { return g.secrets }

func (g *Generator) hex(n int) string {
	const digits = "0123456789ABCDEF"
	b := make([]byte, n)
	for i := range b {
		b[i] = digits[g.r.IntN(16)]
	}
	return string(b)
}

func (g *Generator) name(prefix string) string {
	g.n++
	return fmt.Sprintf("%s-%d", prefix, g.n)
}

func (g *Generator) key() secret {
	g.n++
	v := strings.ToLower(g.hex(32))
	name := fmt.Sprintf("FC_KEY_%d", g.n)
	g.secrets[name] = v
	if g.r.IntN(3) == 0 {
		return secret{Value: v, Ref: "${file:keys/" + name + "}"}
	}
	return secret{Value: v, Ref: "${env:" + name + "}"}
}

func (g *Generator) chance(n int) bool { return g.r.IntN(n) == 0 }

func pick[T any](g *Generator, xs []T) T { return xs[g.r.IntN(len(xs))] }

// Start generates the starting site over apps.
func (g *Generator) Start(apps []string) *Model {
	m := &Model{Apps: apps, Prune: true}
	for range 1 + g.r.IntN(3) {
		m.Profiles = append(m.Profiles, g.newProfile(g.chance(2)))
	}
	for range g.r.IntN(3) {
		m.Codecs = append(m.Codecs, g.newCodec())
	}
	for range 2 + g.r.IntN(7) {
		m.Devices = append(m.Devices, g.newDevice(m, g.chance(3)))
	}
	for range g.r.IntN(3) {
		m.Groups = append(m.Groups, g.newGroup(m))
	}
	if g.chance(2) {
		m.Tasks = append(m.Tasks, g.newTask(m))
	}
	for _, x := range m.Profiles {
		x.New = false
	}
	for _, x := range m.Codecs {
		x.New = false
	}
	for _, x := range m.Devices {
		x.New = false
	}
	for _, x := range m.Groups {
		x.New = false
	}
	for _, x := range m.Tasks {
		x.New = false
	}
	return m
}

func (g *Generator) newProfile(join bool) *Profile {
	p := &Profile{Name: g.name("prof"), Join: join, New: true, ClassCTimeout: 1 + g.r.IntN(10)}
	switch g.r.IntN(3) {
	case 1:
		p.ClassB = true
	case 2:
		p.ClassC = true
	}
	return p
}

func (g *Generator) decoder() string {
	return fmt.Sprintf("function Decode(fPort, bytes) { return { v: bytes[0] * %d }; }", 1+g.r.IntN(1000))
}

func (g *Generator) newCodec() *Codec {
	c := &Codec{Name: g.name("codec"), Description: "codec " + g.hex(4), Decoder: g.decoder(), New: true}
	if g.chance(3) {
		c.CodecJSON = fmt.Sprintf(`{"t%d":"temperature"}`, g.r.IntN(100))
	}
	return c
}

// profileFor is a profile of the join type for a device: a built-in OTAA
// one or a site profile, made when the site has none of that type.
func (g *Generator) profileFor(m *Model, otaa bool) string {
	var names []string
	if otaa {
		names = append(names, "ClassA-OTAA")
	}
	for _, p := range m.Profiles {
		if p.Join == otaa {
			names = append(names, p.Name)
		}
	}
	if len(names) == 0 {
		p := g.newProfile(otaa)
		m.Profiles = append(m.Profiles, p)
		g.Edits = append(g.Edits, "create profile "+p.Name)
		return p.Name
	}
	return pick(g, names)
}

func (g *Generator) setJoin(m *Model, d *Device, otaa bool) {
	d.OTAA = otaa
	d.Profile = g.profileFor(m, otaa)
	d.AppKey, d.DevAddr, d.NwkSKey, d.AppSKey = secret{}, "", secret{}, secret{}
	if otaa {
		d.AppKey = g.key()
	} else {
		d.DevAddr = g.hex(8)
		d.NwkSKey, d.AppSKey = g.key(), g.key()
	}
}

func (g *Generator) modbus() *Modbus {
	mb := &Modbus{Mode: pick(g, []string{"tcp", "rtu"}), FramePort: 2 + g.r.IntN(80)}
	if mb.Mode == "tcp" {
		mb.TCPPort = 502 + g.r.IntN(1000)
	}
	return mb
}

func (g *Generator) newDevice(m *Model, abp bool) *Device {
	d := &Device{EUI: "24E124" + g.hex(10), Name: g.name("dev"), App: m.Apps[0], New: true}
	if len(m.Apps) > 1 && g.chance(3) {
		d.App = m.Apps[1]
	}
	if g.chance(2) {
		d.Description = "device " + g.hex(4)
	}
	g.setJoin(m, d, !abp)
	if len(m.Codecs) > 0 && g.chance(2) {
		d.Codec = pick(g, m.Codecs).Name
	}
	if g.chance(3) {
		d.Modbus = g.modbus()
	}
	return d
}

func (g *Generator) newGroup(m *Model) *Group {
	gr := &Group{Name: g.name("grp"), McAddr: g.hex(8), NwkSKey: g.key(), AppSKey: g.key(), New: true}
	for _, d := range m.Devices {
		if g.chance(2) {
			gr.Members = append(gr.Members, d.EUI)
		}
	}
	return gr
}

func (g *Generator) newTask(m *Model) *Task {
	t := &Task{Name: g.name("fw"), Description: "firmware " + g.hex(4), FragSize: 40 + g.r.IntN(8)*8, New: true}
	t.Firmware = t.Name + ".bin"
	g.files[t.Firmware] = []byte("FIRMWARE " + g.hex(64))
	for _, d := range m.Devices {
		if !d.New && g.chance(2) {
			t.Devices = append(t.Devices, d.EUI)
		}
	}
	if len(t.Devices) == 0 && len(m.Devices) > 0 {
		t.Devices = []string{m.Devices[0].EUI}
	}
	return t
}

// inTask says whether a task of m (before or after the edit) holds eui:
// such devices are neither deleted nor moved.
func inTask(m *Model, eui string) bool {
	for _, t := range m.Tasks {
		if slices.Contains(t.Devices, eui) {
			return true
		}
	}
	return false
}

func (m *Model) clone() *Model {
	out := &Model{Apps: m.Apps, Prune: m.Prune}
	for _, x := range m.Profiles {
		c := *x
		out.Profiles = append(out.Profiles, &c)
	}
	for _, x := range m.Codecs {
		c := *x
		out.Codecs = append(out.Codecs, &c)
	}
	for _, x := range m.Devices {
		c := *x
		if x.Modbus != nil {
			mb := *x.Modbus
			c.Modbus = &mb
		}
		out.Devices = append(out.Devices, &c)
	}
	for _, x := range m.Groups {
		c := *x
		c.Members = slices.Clone(x.Members)
		out.Groups = append(out.Groups, &c)
	}
	for _, x := range m.Tasks {
		c := *x
		c.Devices = slices.Clone(x.Devices)
		out.Tasks = append(out.Tasks, &c)
	}
	return out
}

// Edit returns a random edit of start: one to six changes mixing
// creates, updates, deletes (prune), replaces, renames, membership and
// join-type changes.
func (g *Generator) Edit(start *Model) *Model {
	m := start.clone()
	g.Edits = nil
	pinned := map[string]bool{} // devices in a task: not deleted or moved
	for _, d := range m.Devices {
		if inTask(start, d.EUI) {
			pinned[d.EUI] = true
		}
	}
	want := 1 + g.r.IntN(6)
	for tries := 0; len(g.Edits) < want && tries < 50; tries++ {
		g.editOnce(m, pinned)
	}
	// An ABP device that stays ABP in its application keeps its running
	// session: the plan never changes devAddr or session keys in place
	// (planner keepSession), so the site keeps giving the old ones.
	for _, d := range m.Devices {
		for _, s := range start.Devices {
			if s.EUI == d.EUI && !s.OTAA && !d.OTAA && s.App == d.App {
				d.DevAddr, d.NwkSKey, d.AppSKey = s.DevAddr, s.NwkSKey, s.AppSKey
			}
		}
	}
	return m
}

func (g *Generator) note(format string, args ...any) {
	g.Edits = append(g.Edits, fmt.Sprintf(format, args...))
}

// old is the objects that exist before the edit and are not renamed yet.
func old[T any](xs []*T, isOld func(*T) bool) []*T {
	var out []*T
	for _, x := range xs {
		if isOld(x) {
			out = append(out, x)
		}
	}
	return out
}

func (g *Generator) editOnce(m *Model, pinned map[string]bool) {
	profUsed := func(name string) bool {
		return slices.ContainsFunc(m.Devices, func(d *Device) bool { return d.Profile == name })
	}
	codecUsed := func(name string) bool {
		return slices.ContainsFunc(m.Devices, func(d *Device) bool { return d.Codec == name })
	}
	oldProfiles := old(m.Profiles, func(p *Profile) bool { return !p.New && p.RenamedFrom == "" })
	oldCodecs := old(m.Codecs, func(c *Codec) bool { return !c.New && c.RenamedFrom == "" })
	oldGroups := old(m.Groups, func(x *Group) bool { return !x.New && x.RenamedFrom == "" })
	oldTasks := old(m.Tasks, func(x *Task) bool { return !x.New && x.RenamedFrom == "" })
	free := old(m.Devices, func(d *Device) bool { return !pinned[d.EUI] })

	switch g.r.IntN(22) {
	case 0:
		p := g.newProfile(g.chance(2))
		m.Profiles = append(m.Profiles, p)
		g.note("create profile %s", p.Name)
	case 1:
		if len(m.Profiles) > 0 {
			p := pick(g, m.Profiles)
			p.ClassB, p.ClassC = false, !p.ClassC
			p.ClassCTimeout = 1 + g.r.IntN(10)
			g.note("update profile %s", p.Name)
		}
	case 2:
		if len(oldProfiles) > 0 {
			p := pick(g, oldProfiles)
			p.RenamedFrom, p.Name = p.Name, g.name("prof")
			for _, d := range m.Devices {
				if d.Profile == p.RenamedFrom {
					d.Profile = p.Name
				}
			}
			g.note("rename profile %s -> %s", p.RenamedFrom, p.Name)
		}
	case 3:
		for i, p := range m.Profiles {
			if !profUsed(p.Name) {
				m.Profiles = slices.Delete(m.Profiles, i, i+1)
				g.note("delete profile %s", p.Name)
				break
			}
		}
	case 4:
		c := g.newCodec()
		m.Codecs = append(m.Codecs, c)
		g.note("create codec %s", c.Name)
	case 5:
		if len(m.Codecs) > 0 {
			c := pick(g, m.Codecs)
			c.Decoder, c.Description = g.decoder(), "codec "+g.hex(4)
			if g.chance(2) {
				c.CodecJSON = fmt.Sprintf(`{"t%d":"humidity"}`, g.r.IntN(100))
			}
			g.note("update codec %s", c.Name)
		}
	case 6:
		if len(oldCodecs) > 0 {
			c := pick(g, oldCodecs)
			c.RenamedFrom, c.Name = c.Name, g.name("codec")
			for _, d := range m.Devices {
				if d.Codec == c.RenamedFrom {
					d.Codec = c.Name
				}
			}
			g.note("rename codec %s -> %s", c.RenamedFrom, c.Name)
		}
	case 7:
		for i, c := range m.Codecs {
			if !codecUsed(c.Name) {
				m.Codecs = slices.Delete(m.Codecs, i, i+1)
				g.note("delete codec %s", c.Name)
				break
			}
		}
	case 8:
		d := g.newDevice(m, g.chance(3))
		m.Devices = append(m.Devices, d)
		if len(m.Groups) > 0 && g.chance(2) {
			gr := pick(g, m.Groups)
			gr.Members = append(gr.Members, d.EUI)
		}
		g.note("create device %s", d.EUI)
	case 9:
		if len(m.Devices) > 0 {
			d := pick(g, m.Devices)
			d.Name, d.Description = g.name("dev"), "moved "+g.hex(4)
			g.note("update device %s (name, description)", d.EUI)
		}
	case 10:
		if len(m.Devices) > 0 {
			d := pick(g, m.Devices)
			if d.Codec != "" {
				d.Codec = ""
				g.note("update device %s (codec removed)", d.EUI)
			} else if len(m.Codecs) > 0 {
				d.Codec = pick(g, m.Codecs).Name
				g.note("update device %s (codec set)", d.EUI)
			}
		}
	case 11:
		if len(m.Devices) > 0 {
			d := pick(g, m.Devices)
			if d.Modbus != nil && g.chance(2) {
				d.Modbus = nil
				g.note("update device %s (Modbus removed)", d.EUI)
			} else {
				d.Modbus = g.modbus()
				g.note("update device %s (Modbus set)", d.EUI)
			}
		}
	case 12:
		if len(m.Devices) > 0 {
			d := pick(g, m.Devices)
			g.setJoin(m, d, !d.OTAA)
			g.note("update device %s (switch to %s)", d.EUI, map[bool]string{true: "OTAA", false: "ABP"}[d.OTAA])
		}
	case 13, 14:
		if len(free) > 0 {
			d := pick(g, free)
			m.Devices = slices.DeleteFunc(m.Devices, func(x *Device) bool { return x == d })
			for _, gr := range m.Groups {
				gr.Members = slices.DeleteFunc(gr.Members, func(e string) bool { return e == d.EUI })
			}
			g.note("delete device %s", d.EUI)
		}
	case 15:
		if len(m.Apps) > 1 && len(free) > 0 {
			d := pick(g, free)
			if d.App == m.Apps[0] {
				d.App = m.Apps[1]
			} else {
				d.App = m.Apps[0]
			}
			g.note("replace device %s (application %s)", d.EUI, d.App)
		}
	case 16:
		gr := g.newGroup(m)
		m.Groups = append(m.Groups, gr)
		g.note("create group %s", gr.Name)
	case 17:
		if len(m.Groups) > 0 {
			gr := pick(g, m.Groups)
			gr.McAddr = g.hex(8)
			g.note("update group %s (mcAddr)", gr.Name)
		}
	case 18:
		if len(oldGroups) > 0 {
			gr := pick(g, oldGroups)
			gr.RenamedFrom, gr.Name = gr.Name, g.name("grp")
			g.note("rename group %s -> %s", gr.RenamedFrom, gr.Name)
		}
	case 19:
		if len(m.Groups) > 0 {
			i := g.r.IntN(len(m.Groups))
			g.note("delete group %s", m.Groups[i].Name)
			m.Groups = slices.Delete(m.Groups, i, i+1)
		}
	case 20:
		if len(m.Groups) > 0 && len(m.Devices) > 0 {
			gr := pick(g, m.Groups)
			d := pick(g, m.Devices)
			if i := slices.Index(gr.Members, d.EUI); i >= 0 {
				gr.Members = slices.Delete(gr.Members, i, i+1)
				g.note("remove member %s from group %s", d.EUI, gr.Name)
			} else {
				gr.Members = append(gr.Members, d.EUI)
				g.note("add member %s to group %s", d.EUI, gr.Name)
			}
		}
	case 21:
		switch {
		case len(oldTasks) > 0 && g.chance(3):
			t := pick(g, oldTasks)
			t.RenamedFrom, t.Name = t.Name, g.name("fw")
			g.note("rename task %s -> %s", t.RenamedFrom, t.Name)
		case len(m.Tasks) > 0 && g.chance(2):
			t := pick(g, m.Tasks)
			t.Description, t.FragSize = "firmware "+g.hex(4), 40+g.r.IntN(8)*8
			if olds := old(m.Devices, func(d *Device) bool { return !d.New && !slices.Contains(t.Devices, d.EUI) }); len(olds) > 0 && g.chance(2) {
				d := pick(g, olds)
				t.Devices = append(t.Devices, d.EUI)
				pinned[d.EUI] = true
				g.note("update task %s (description, fragment size, device %s added)", t.Name, d.EUI)
			} else {
				g.note("update task %s (description, fragment size)", t.Name)
			}
		case len(m.Tasks) > 0 && g.chance(2):
			i := g.r.IntN(len(m.Tasks))
			g.note("delete task %s", m.Tasks[i].Name)
			m.Tasks = slices.Delete(m.Tasks, i, i+1)
		default:
			olds := old(m.Devices, func(d *Device) bool { return !d.New })
			if len(olds) == 0 {
				return
			}
			t := g.newTask(m)
			t.Devices = []string{pick(g, olds).EUI}
			pinned[t.Devices[0]] = true
			m.Tasks = append(m.Tasks, t)
			g.note("create task %s", t.Name)
		}
	}
}

// Write writes m as a site file site.yaml in dir, with its key files and
// firmware files, and returns the site file's path.
func (g *Generator) Write(m *Model, dir string) (string, error) {
	if err := os.MkdirAll(filepath.Join(dir, "keys"), 0o700); err != nil {
		return "", fmt.Errorf("site folder: %w", err)
	}
	for name, v := range g.secrets {
		if err := os.WriteFile(filepath.Join(dir, "keys", name), []byte(v+"\n"), 0o600); err != nil {
			return "", fmt.Errorf("key file: %w", err)
		}
	}
	for name, b := range g.files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			return "", fmt.Errorf("firmware file: %w", err)
		}
	}
	path := filepath.Join(dir, "site.yaml")
	if err := os.WriteFile(path, []byte(m.YAML()), 0o600); err != nil {
		return "", fmt.Errorf("site file: %w", err)
	}
	return path, nil
}

// YAML is m as a site file (keys as references).
func (m *Model) YAML() string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	w("version: 1")
	w("gateway:\n  eui: 24E124FFFEF5A6A8\n  channelPlan: EU868")
	w("prune: %v", m.Prune)
	w("profiles:%s", emptyList(len(m.Profiles)))
	for _, p := range m.Profiles {
		w("  - name: %s", p.Name)
		if p.RenamedFrom != "" {
			w("    renamedFrom: %s", p.RenamedFrom)
		}
		w("    supportsJoin: %v", p.Join)
		if p.ClassB {
			w("    supportsClassB: true")
		}
		if p.ClassC {
			w("    supportsClassC: true\n    classCTimeout: %d", p.ClassCTimeout)
		}
	}
	w("codecs:%s", emptyList(len(m.Codecs)))
	for _, c := range m.Codecs {
		w("  - name: %s", c.Name)
		if c.RenamedFrom != "" {
			w("    renamedFrom: %s", c.RenamedFrom)
		}
		w("    description: %q", c.Description)
		w("    decoderScript: %q", c.Decoder)
		if c.CodecJSON != "" {
			w("    codecJson: %q", c.CodecJSON)
		}
	}
	w("devices:%s", emptyList(len(m.Devices)))
	for _, d := range m.Devices {
		w("  - devEUI: %s", d.EUI)
		w("    name: %s", d.Name)
		if d.Description != "" {
			w("    description: %q", d.Description)
		}
		w("    application: %s", d.App)
		w("    profile: %s", d.Profile)
		if d.Codec != "" {
			w("    codec: %s", d.Codec)
		}
		if d.OTAA {
			w("    appKey: %s", d.AppKey.Ref)
		} else {
			w("    devAddr: %s\n    nwkSKey: %s\n    appSKey: %s", d.DevAddr, d.NwkSKey.Ref, d.AppSKey.Ref)
		}
		if mb := d.Modbus; mb != nil {
			w("    mbMode: %s\n    mbFramePort: %d", mb.Mode, mb.FramePort)
			if mb.TCPPort != 0 {
				w("    mbTcpPort: %d", mb.TCPPort)
			}
		}
	}
	w("multicastGroups:%s", emptyList(len(m.Groups)))
	for _, gr := range m.Groups {
		w("  - name: %s", gr.Name)
		if gr.RenamedFrom != "" {
			w("    renamedFrom: %s", gr.RenamedFrom)
		}
		w("    mcAddr: %s\n    mcNwkSKey: %s\n    mcAppSKey: %s", gr.McAddr, gr.NwkSKey.Ref, gr.AppSKey.Ref)
		w("    devices: [%s]", strings.Join(gr.Members, ", "))
	}
	w("firmwareUpdates:%s", emptyList(len(m.Tasks)))
	for _, t := range m.Tasks {
		w("  - name: %s", t.Name)
		if t.RenamedFrom != "" {
			w("    renamedFrom: %s", t.RenamedFrom)
		}
		w("    description: %q", t.Description)
		w("    startAt: 2099-01-01T02:00:00Z")
		w("    devices: [%s]", strings.Join(t.Devices, ", "))
		w("    firmwareFile: %s", t.Firmware)
		w("    fragment: {size: %d, intervalMs: 5000, redundancy: 30}", t.FragSize)
		w("    multicast: {dr: 3, frequency: 869525000}")
	}
	return b.String()
}

func emptyList(n int) string {
	if n == 0 {
		return " []"
	}
	return ""
}

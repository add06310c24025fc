package export

import (
	"encoding/base64"
	"fmt"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v4"

	"github.com/gwsync/gwsync/band"
	"github.com/gwsync/gwsync/nsapi"
	"github.com/gwsync/gwsync/site"
)

// profileName is the schema's pattern for a profile name.
var profileName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]{0,63}$`)

type builder struct {
	st   *nsapi.State
	opts Options
	band *band.Plan // nil when the gateway's plan is unknown

	res     Result
	envs    *uniq
	groupEn *uniq
	files   *uniq

	profByID    map[string]*nsapi.Profile
	codecByID   map[string]string // custom codec id → name
	builtinByID map[string]string
	appRef      map[string]string // application id → how the site names it
	devices     map[string]bool   // live devEUIs, upper case
	fwFile      map[string]string // firmware name and content → its file
	fwTaken     map[string]bool   // firmware file names used, lower case
}

// sortedState is a copy of st with every list in the order the site file
// shows it (by identity, then server id), whatever order the gateway gave.
func sortedState(st *nsapi.State) *nsapi.State {
	c := *st
	c.Profiles = append([]nsapi.Profile(nil), st.Profiles...)
	sort.SliceStable(c.Profiles, func(i, j int) bool {
		a, b := c.Profiles[i], c.Profiles[j]
		return a.Name < b.Name || a.Name == b.Name && a.ID() < b.ID()
	})
	c.Codecs = append([]nsapi.Codec(nil), st.Codecs...)
	c.Records = append([]nsapi.Codec(nil), st.Records...)
	c.SplitRecords() // gwsync's own records are never exported, also from a snapshot that lists them
	sort.SliceStable(c.Codecs, func(i, j int) bool {
		a, b := c.Codecs[i], c.Codecs[j]
		return a.Name < b.Name || a.Name == b.Name && lessID(string(a.ID), string(b.ID))
	})
	c.Devices = append([]nsapi.Device(nil), st.Devices...)
	sort.SliceStable(c.Devices, func(i, j int) bool {
		return strings.ToUpper(c.Devices[i].DevEUI) < strings.ToUpper(c.Devices[j].DevEUI)
	})
	c.Groups = append([]nsapi.MulticastGroupInfo(nil), st.Groups...)
	sort.SliceStable(c.Groups, func(i, j int) bool {
		a, b := c.Groups[i], c.Groups[j]
		return a.Name < b.Name || a.Name == b.Name && a.ID < b.ID
	})
	c.Tasks = append([]nsapi.FuotaTask(nil), st.Tasks...)
	sort.SliceStable(c.Tasks, func(i, j int) bool {
		a, b := c.Tasks[i], c.Tasks[j]
		return a.Name < b.Name || a.Name == b.Name && a.ID < b.ID
	})
	return &c
}

// lessID orders ids numerically when both are numbers, else as strings.
func lessID(a, b string) bool {
	x, errA := strconv.ParseInt(strings.TrimSpace(a), 10, 64)
	y, errB := strconv.ParseInt(strings.TrimSpace(b), 10, 64)
	if errA == nil && errB == nil {
		return x < y
	}
	return a < b
}

func newBuilder(st *nsapi.State, opts Options) *builder {
	st = sortedState(st)
	b := &builder{st: st, opts: opts, envs: newUniq("_"), groupEn: newUniq("_"), files: newUniq("-"),
		profByID: map[string]*nsapi.Profile{}, codecByID: map[string]string{}, builtinByID: map[string]string{},
		appRef: map[string]string{}, devices: map[string]bool{}, fwFile: map[string]string{}, fwTaken: map[string]bool{}}
	if p, err := band.Lookup(st.ChannelPlan); err == nil {
		b.band = p
	}
	for i := range st.Profiles {
		b.profByID[st.Profiles[i].ID()] = &st.Profiles[i]
	}
	for _, c := range st.Codecs {
		b.codecByID[strings.TrimSpace(string(c.ID))] = c.Name
	}
	for _, c := range st.BuiltinCodecs {
		b.builtinByID[strings.TrimSpace(string(c.ID))] = c.Name
	}
	// An application is named by its name when that is unique and is not
	// another application's id, else by its id.
	names := map[string]int{}
	ids := map[string]bool{}
	for _, a := range st.Applications {
		names[a.AppName]++
		ids[strings.TrimSpace(string(a.ApplicationID))] = true
	}
	for _, a := range st.Applications {
		id := strings.TrimSpace(string(a.ApplicationID))
		if a.AppName != "" && names[a.AppName] == 1 && !ids[a.AppName] {
			b.appRef[id] = a.AppName
		} else {
			b.appRef[id] = id
		}
	}
	for _, d := range st.Devices {
		b.devices[strings.ToUpper(d.DevEUI)] = true
	}
	return b
}

func (b *builder) note(format string, args ...any) {
	b.res.Notes = append(b.res.Notes, fmt.Sprintf(format, args...))
}

// secret records a key the site refers to as ${env:name} and returns the
// reference. A value the gateway did not give (empty, or a snapshot's
// digest) is recorded without a value.
func (b *builder) secret(name, value, field, owner string) *yaml.Node {
	name = b.envs.get(name, "")
	v := strings.TrimSpace(value)
	if strings.HasPrefix(v, "sha256:") {
		v = ""
	}
	if v == "" {
		b.note("%s: the gateway did not give %s's %s; the site refers to ${env:%s}: set it yourself", field, owner, fieldName(field), name)
	} else if !isHex32(v) {
		b.note("%s: %s's %s on the gateway is not 32 hex digits; the site will not load until ${env:%s} is corrected", field, owner, fieldName(field), name)
	}
	b.res.Secrets = append(b.res.Secrets, Secret{Name: name, Value: strings.ToLower(v), Field: field})
	return str("${env:" + name + "}")
}

func fieldName(at string) string {
	if i := strings.LastIndexByte(at, '.'); i >= 0 {
		return at[i+1:]
	}
	return at
}

func isHex32(s string) bool {
	if len(s) != 32 {
		return false
	}
	for _, r := range s {
		if !strings.ContainsRune("0123456789abcdefABCDEF", r) {
			return false
		}
	}
	return true
}

func (b *builder) build() (*Result, error) {
	root := mapping()
	set(root, "version", integer(1))
	b.gateway(root)
	b.connection(root)
	b.profiles(root)
	b.codecs(root)
	b.deviceList(root)
	b.groups(root)
	b.tasks(root)

	doc := &yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{root}}
	var head []string
	if b.opts.Schema != "" {
		head = append(head, "yaml-language-server: $schema="+b.opts.Schema, "")
	}
	gw := b.st.GatewayEUI
	if gw == "" {
		gw = "(EUI unknown)"
	}
	head = append(head,
		fmt.Sprintf("Gateway %s, exported by gwsync export.", strings.ToUpper(gw)),
		"Keys are ${env:NAME} references: their values are not in this file.",
		"Fields left out take the default for the gateway's channel plan.")
	doc.HeadComment = strings.Join(head, "\n")
	y, err := encode(doc)
	if err != nil {
		return nil, fmt.Errorf("export: encode: %w", err)
	}
	b.res.YAML = y
	sort.Slice(b.res.Files, func(i, j int) bool { return b.res.Files[i].Path < b.res.Files[j].Path })
	sort.Slice(b.res.Secrets, func(i, j int) bool { return b.res.Secrets[i].Name < b.res.Secrets[j].Name })
	return &b.res, nil
}

// ---- gateway and connection ----

func (b *builder) gateway(root *yaml.Node) {
	g := mapping()
	if e := strings.ToUpper(strings.TrimSpace(b.st.GatewayEUI)); e != "" {
		set(g, "eui", str(e))
	}
	switch {
	case b.band != nil:
		set(g, "channelPlan", str(b.band.Name))
	case b.st.ChannelPlan != "":
		b.note("gateway.channelPlan: the gateway reports channel plan %q, which gwsync does not know; the site names none", b.st.ChannelPlan)
	default:
		b.note("gateway.channelPlan: the gateway reports no channel plan; the site names none")
	}
	if len(g.Content) > 0 {
		set(root, "gateway", g)
	}
}

func (b *builder) connection(root *yaml.Node) {
	c := b.opts.Connection
	if c == nil {
		return
	}
	m := mapping()
	opt := func(k, v string) {
		if v != "" {
			set(m, k, str(v))
		}
	}
	opt("broker", c.Broker)
	opt("requestTopic", c.RequestTopic)
	opt("responseTopic", c.ResponseTopic)
	opt("username", c.Username)
	switch {
	case c.Password.Ref != "":
		set(m, "password", str(c.Password.Ref))
	case c.Password.Value != "":
		name := b.envs.get(PasswordEnv, "")
		b.res.Secrets = append(b.res.Secrets, Secret{Name: name, Value: c.Password.Value, Field: "connection.password"})
		set(m, "password", str("${env:"+name+"}"))
	}
	opt("clientID", c.ClientID)
	opt("caFile", c.CAFile)
	opt("certFile", c.CertFile)
	opt("keyFile", c.KeyFile)
	if c.InsecureSkipVerify {
		set(m, "insecureSkipVerify", boolean(true))
	}
	if len(m.Content) > 0 {
		set(root, "connection", m)
	}
}

// ---- profiles ----

func isBuiltinProfile(p *nsapi.Profile) bool {
	if p.IsDefault {
		return true
	}
	for _, n := range site.BuiltinProfiles {
		if p.Name == n {
			return true
		}
	}
	return false
}

func sortedInts(s []int64) []int64 {
	out := append([]int64{}, s...)
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

func (b *builder) profiles(root *yaml.Node) {
	list := sequence()
	seen := map[string]bool{}
	var left []string
	for i := range b.st.Profiles {
		p := &b.st.Profiles[i]
		if isBuiltinProfile(p) {
			continue
		}
		if !profileName.MatchString(p.Name) {
			left = append(left, p.Name)
			b.note("profile %q is left out: a site profile name is up to 64 letters, digits, \"-\" or \"_\", the first a letter; devices refer to it by its name on the gateway (to manage it, add it with a valid name and renamedFrom: %q)", p.Name, p.Name)
			continue
		}
		if seen[p.Name] {
			b.note("profile %q: the gateway holds two profiles of this name; the second (id %s) is left out", p.Name, p.ID())
			continue
		}
		seen[p.Name] = true
		list.Content = append(list.Content, b.profile(p))
	}
	b.res.Counts.Profiles = len(list.Content)
	if len(list.Content) == 0 {
		return
	}
	k := set(root, "profiles", list)
	if len(left) > 0 {
		k.HeadComment = "Left out (not a valid site profile name): " + strings.Join(quoteAll(left), ", ")
	}
}

func quoteAll(s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[i] = fmt.Sprintf("%q", v)
	}
	return out
}

func (b *builder) profile(p *nsapi.Profile) *yaml.Node {
	s := p.Profile
	m := mapping()
	set(m, "name", str(p.Name))
	set(m, "supportsJoin", boolean(s.SupportsJoin))
	if s.SupportsClassB {
		set(m, "supportsClassB", boolean(true))
	}
	if s.SupportsClassC {
		set(m, "supportsClassC", boolean(true))
	}
	if v := strings.TrimSpace(s.MacVersion); v != nsapi.DefaultMacVersion {
		set(m, "macVersion", str(v))
	}
	if v := strings.ToUpper(strings.TrimSpace(s.RegParamsRevision)); v != nsapi.DefaultRegParamsRevision {
		set(m, "regParamsRevision", str(v))
	}
	intOpt := func(k string, v nsapi.FlexInt, def int64, known bool) {
		if !known || int64(v) != def {
			set(m, k, integer(int64(v)))
		}
	}
	var rx2DR, rx2Freq, pingDR, pingFreq int64
	known := b.band != nil
	if known {
		rx2DR, rx2Freq, pingDR, pingFreq = b.band.RX2DR, b.band.RX2Freq, b.band.PingSlotDR, b.band.PingSlotFreq
	}
	intOpt("rxDROffset1", s.RxDROffset1, 0, true)
	intOpt("rxDataRate2", s.RxDataRate2, rx2DR, known)
	intOpt("rxFreq2", s.RxFreq2, rx2Freq, known)
	if len(s.FactoryPresetFreqs) > 0 {
		set(m, "factoryPresetFreqs", ints(sortedInts(s.FactoryPresetFreqs)))
	}
	if len(s.EnableUplinkChannels) > 0 {
		set(m, "enableUplinkChannels", ints(sortedInts(s.EnableUplinkChannels)))
	}
	intOpt("maxEIRP", s.MaxEIRP, 0, true)
	if s.Supports32bitFCnt != nsapi.DefaultSupports32bitFCnt {
		set(m, "supports32bitFCnt", boolean(s.Supports32bitFCnt))
	}
	intOpt("pingSlotPeriod", s.PingSlotPeriod, nsapi.DefaultPingSlotPeriod, true)
	intOpt("pingSlotDR", s.PingSlotDR, pingDR, known)
	intOpt("pingSlotFreq", s.PingSlotFreq, pingFreq, known)
	intOpt("classBTimeout", s.ClassBTimeout, nsapi.DefaultClassTimeout, true)
	intOpt("classCTimeout", s.ClassCTimeout, nsapi.DefaultClassTimeout, true)
	return m
}

// ---- codecs ----

// blank reports whether a script is empty once the planner's normalisation
// (trailing white space) is applied.
func blank(s string) bool { return strings.TrimRight(s, " \t\r\n") == "" }

func (b *builder) codecs(root *yaml.Node) {
	list := sequence()
	seen := map[string]bool{}
	builtin := map[string]bool{}
	for _, c := range b.st.BuiltinCodecs {
		builtin[c.Name] = true
	}
	for i := range b.st.Codecs {
		c := &b.st.Codecs[i]
		if seen[c.Name] {
			b.note("codec %q: the gateway holds two custom codecs of this name; the second (id %s) is left out", c.Name, c.ID)
			continue
		}
		seen[c.Name] = true
		if builtin[c.Name] {
			b.note("codec %q: a built-in codec has the same name, so plan refuses the site until the custom one is renamed (give it a new name and renamedFrom: %q)", c.Name, c.Name)
		}
		list.Content = append(list.Content, b.codec(c))
	}
	b.res.Counts.Codecs = len(list.Content)
	if len(list.Content) > 0 {
		set(root, "codecs", list)
	}
}

func (b *builder) codec(c *nsapi.Codec) *yaml.Node {
	m := mapping()
	set(m, "name", str(c.Name))
	if d := strings.TrimSpace(c.Description); d != "" {
		set(m, "description", str(c.Description))
	}
	if c.TemplateID != 0 {
		set(m, "templateID", integer(int64(c.TemplateID)))
	}
	toFiles := b.opts.Dir != "" && !b.opts.InlineScripts
	base := ""
	if toFiles {
		base = b.files.get(fileBase(c.Name, "codec"), "") // one name per codec, for all its files
	}
	for _, s := range []struct {
		inline, file, ext, text string
	}{
		{"decoderScript", "decoderFile", ".js", c.DecoderScript},
		{"encoderScript", "encoderFile", ".encoder.js", c.EncoderScript},
		{"codecJson", "codecJsonFile", ".json", c.CodecJSON},
	} {
		if blank(s.text) {
			continue
		}
		if !toFiles {
			set(m, s.inline, str(s.text))
			continue
		}
		p := "codecs/" + base + s.ext
		b.res.Files = append(b.res.Files, File{Path: p, Data: []byte(s.text)})
		set(m, s.file, str(p))
	}
	if c.TestEnabled {
		set(m, "testEnabled", boolean(true))
	}
	if c.FPort != 0 {
		set(m, "fPort", integer(int64(c.FPort)))
	}
	return m
}

// ---- devices ----

// devView is a device as the site refers to it.
type devView struct {
	d       *nsapi.Device
	eui     string
	app     string
	profile string
	joins   bool
	fport   int64
}

// majority is the value more than half of the values share (at least two
// of them), or "".
func majority(vals []string) string {
	if len(vals) < 2 {
		return ""
	}
	n := map[string]int{}
	for _, v := range vals {
		n[v]++
	}
	for _, k := range sortedKeys(n) {
		if 2*n[k] > len(vals) {
			return k
		}
	}
	return ""
}

func (b *builder) view(d *nsapi.Device) devView {
	v := devView{d: d, eui: strings.ToUpper(d.DevEUI), fport: int64(d.FPort), joins: d.SupportsJoin}
	appID := strings.TrimSpace(string(d.ApplicationID))
	if r, ok := b.appRef[appID]; ok {
		v.app = r
	} else {
		v.app = appID
		b.note("device %s: its application (id %s) is not in the gateway's application list; plan will say so", v.eui, appID)
	}
	if p, ok := b.profByID[d.ProfileID]; ok {
		v.profile, v.joins = p.Name, p.Profile.SupportsJoin
	} else {
		v.profile = d.ProfileName
		if v.profile == "" {
			v.profile = d.ProfileID
		}
		b.note("device %s: its profile (%s) is not in the gateway's profile list; plan will say so", v.eui, v.profile)
	}
	return v
}

func (b *builder) deviceList(root *yaml.Node) {
	if len(b.st.Devices) == 0 {
		return
	}
	views := make([]devView, len(b.st.Devices))
	var apps, profiles, fports []string
	for i := range b.st.Devices {
		views[i] = b.view(&b.st.Devices[i])
		apps = append(apps, views[i].app)
		profiles = append(profiles, views[i].profile)
		fports = append(fports, strconv.FormatInt(views[i].fport, 10))
	}

	defApp := majority(apps)
	defProfile := majority(profiles)
	if defProfile == nsapi.DefaultProfile {
		defProfile = ""
	}
	defFPort := int64(nsapi.DefaultFPort)
	var defFPortSet bool
	if f := majority(fports); f != "" && f != strconv.Itoa(nsapi.DefaultFPort) {
		defFPort, _ = strconv.ParseInt(f, 10, 64)
		defFPortSet = true
	}
	if defApp != "" || defProfile != "" || defFPortSet {
		dm := mapping()
		if defApp != "" {
			set(dm, "application", str(defApp))
		}
		if defProfile != "" {
			set(dm, "profile", str(defProfile))
		}
		if defFPortSet {
			set(dm, "fPort", integer(defFPort))
		}
		k := set(root, "deviceDefaults", dm)
		k.HeadComment = "Shared by most devices; a device that differs says so."
	}
	effProfile := defProfile
	if effProfile == "" {
		effProfile = nsapi.DefaultProfile
	}

	list := sequence()
	seen := map[string]bool{}
	for _, v := range views {
		if seen[v.eui] {
			b.note("device %s: the gateway lists it twice; the second is left out", v.eui)
			continue
		}
		seen[v.eui] = true
		list.Content = append(list.Content, b.device(v, fmt.Sprintf("devices[%d]", len(list.Content)), defApp, effProfile, defFPort))
	}
	b.res.Counts.Devices = len(list.Content)
	set(root, "devices", list)
}

func (b *builder) device(v devView, at, defApp, defProfile string, defFPort int64) *yaml.Node {
	d := v.d
	m := mapping()
	set(m, "devEUI", str(v.eui))
	switch {
	case d.Name == v.eui:
	case d.Name == "":
		b.note("device %s: it has no name on the gateway; a site device without a name gets its devEUI", v.eui)
	default:
		set(m, "name", str(d.Name))
	}
	if !strings.EqualFold(d.Description, v.eui) {
		set(m, "description", str(d.Description))
	}
	if v.app != defApp {
		set(m, "application", str(v.app))
	}
	if v.profile != defProfile {
		set(m, "profile", str(v.profile))
	}
	if id := strings.TrimSpace(string(d.PayloadCodecID)); id != "" && id != "0" {
		name, ok := b.codecByID[id]
		if !ok {
			name, ok = b.builtinByID[id]
		}
		if !ok {
			name = d.PayloadName
			if name == "" {
				name = id
			}
			b.note("device %s: its codec (id %s) is on neither codec list of the gateway; plan will say so", v.eui, id)
		}
		set(m, "codec", str(name))
	}
	if v.fport != defFPort {
		set(m, "fPort", integer(v.fport))
	}
	if d.SkipFCntCheck {
		set(m, "skipFCntCheck", boolean(true))
	}
	owner := "device " + v.eui
	if v.joins {
		set(m, "appKey", b.secret(envName("DEV", v.eui, "APPKEY"), d.AppKey, at+".appKey", owner))
	} else {
		if a := strings.ToUpper(strings.TrimSpace(d.DevAddr)); a != "" {
			set(m, "devAddr", str(a))
		} else {
			b.note("%s.devAddr: device %s is ABP but the gateway gave no devAddr", at, v.eui)
		}
		set(m, "nwkSKey", b.secret(envName("DEV", v.eui, "NWKSKEY"), d.NwkSKey, at+".nwkSKey", owner))
		set(m, "appSKey", b.secret(envName("DEV", v.eui, "APPSKEY"), d.AppSKey, at+".appSKey", owner))
	}
	if d.MbMode != "" {
		set(m, "mbMode", str(d.MbMode))
	}
	if d.MbFramePort != 0 {
		set(m, "mbFramePort", integer(int64(d.MbFramePort)))
	}
	if d.MbTcpPort != 0 {
		set(m, "mbTcpPort", integer(int64(d.MbTcpPort)))
	}
	return m
}

// ---- multicast groups ----

func (b *builder) members(what string, euis []string) []string {
	out := make([]string, 0, len(euis))
	seen := map[string]bool{}
	for _, e := range euis {
		e = strings.ToUpper(strings.TrimSpace(e))
		if seen[e] {
			continue
		}
		seen[e] = true
		if !b.devices[e] {
			b.note("%s: device %s is not on the gateway's device list; plan will say so", what, e)
		}
		out = append(out, e)
	}
	sort.Strings(out)
	return out
}

// euiList is a flow list for a few EUIs, a block list for more.
func euiList(euis []string) *yaml.Node {
	n := strs(euis)
	if len(euis) > 4 {
		n.Style = 0
	}
	return n
}

func (b *builder) groups(root *yaml.Node) {
	list := sequence()
	seen := map[string]bool{}
	for i := range b.st.Groups {
		g := &b.st.Groups[i]
		if seen[g.Name] {
			b.note("multicast group %q: the gateway holds two groups of this name; the second (id %s) is left out", g.Name, g.ID)
			continue
		}
		seen[g.Name] = true
		list.Content = append(list.Content, b.group(g, fmt.Sprintf("multicastGroups[%d]", len(list.Content))))
	}
	b.res.Counts.MulticastGroups = len(list.Content)
	if len(list.Content) > 0 {
		set(root, "multicastGroups", list)
	}
}

func (b *builder) group(g *nsapi.MulticastGroupInfo, at string) *yaml.Node {
	m := mapping()
	set(m, "name", str(g.Name))
	if a := strings.ToUpper(strings.TrimSpace(g.McAddr)); a != nsapi.DefaultMcAddr {
		set(m, "mcAddr", str(a))
	}
	owner := fmt.Sprintf("multicast group %q", g.Name)
	base := "" // GROUP_<NAME>, made unique among the groups that have keys
	for _, k := range []struct{ field, value string }{{"mcNwkSKey", g.McNwkSKey}, {"mcAppSKey", g.McAppSKey}} {
		if strings.EqualFold(strings.TrimSpace(k.value), site.DefaultKey) {
			continue // the gateway's published default: what a left-out key means
		}
		if base == "" {
			base = b.groupEn.get(envName("GROUP", g.Name), "")
		}
		set(m, k.field, b.secret(envName(base, k.field), k.value, at+"."+k.field, owner))
	}
	typ := strings.ToUpper(strings.TrimSpace(g.GroupType))
	if typ == "" {
		typ = nsapi.DefaultGroupType
	}
	if typ != nsapi.DefaultGroupType {
		set(m, "groupType", str(typ))
	}
	if b.band != nil {
		dr, freq := b.band.RX2DR, b.band.RX2Freq
		if typ == "CLASS_B" {
			dr, freq = b.band.PingSlotDR, b.band.PingSlotFreq
		}
		if int64(g.DR) != dr {
			set(m, "dr", integer(int64(g.DR)))
		}
		if int64(g.Frequency) != freq {
			set(m, "frequency", integer(int64(g.Frequency)))
		}
	} else {
		set(m, "dr", integer(int64(g.DR)))
		set(m, "frequency", integer(int64(g.Frequency)))
	}
	if typ == "CLASS_B" && g.PingSlotPeriod != nsapi.DefaultPingSlotPeriod {
		set(m, "pingSlotPeriod", integer(int64(g.PingSlotPeriod)))
	}
	euis := make([]string, len(g.Devices))
	for i, d := range g.Devices {
		euis[i] = d.DevEUI
	}
	members := b.members(owner, euis)
	if len(members) > 0 {
		l := euiList(members)
		k := set(m, "devices", l)
		if l.Style == yaml.FlowStyle {
			l.LineComment = "the whole membership"
		} else {
			k.HeadComment = "the whole membership"
		}
	}
	return m
}

// ---- FUOTA tasks ----

func (b *builder) tasks(root *yaml.Node) {
	list := sequence()
	seen := map[string]bool{}
	for i := range b.st.Tasks {
		t := &b.st.Tasks[i]
		if seen[t.Name] {
			b.note("FUOTA task %q: the gateway holds two tasks of this name; the second (id %d) is left out", t.Name, int64(t.ID))
			continue
		}
		seen[t.Name] = true
		list.Content = append(list.Content, b.task(t))
	}
	b.res.Counts.FirmwareUpdates = len(list.Content)
	if len(list.Content) > 0 {
		set(root, "firmwareUpdates", list)
	}
}

var taskStatus = map[int64]string{nsapi.TaskExecuting: "executing", nsapi.TaskSucceeded: "succeeded", nsapi.TaskFailed: "failed"}

func flowMap() *yaml.Node { m := mapping(); m.Style = yaml.FlowStyle; return m }

func (b *builder) task(t *nsapi.FuotaTask) *yaml.Node {
	m := mapping()
	owner := fmt.Sprintf("FUOTA task %q", t.Name)
	k := set(m, "name", str(t.Name))
	switch int64(t.Status) {
	case nsapi.TaskExecuting, nsapi.TaskSucceeded, nsapi.TaskFailed:
		k.LineComment = fmt.Sprintf("%s on the gateway (%d of %d devices done): applied to another gateway, it runs again",
			taskStatus[int64(t.Status)], int64(t.DoneDevices), int64(t.TotalDevices))
	}
	if t.Description != "" {
		set(m, "description", str(t.Description))
	}
	if _, err := time.Parse(time.RFC3339, t.StartedAt); err != nil {
		b.note("%s: its start time %q is not an RFC 3339 time; the site will not load until startAt is corrected", owner, t.StartedAt)
	}
	set(m, "startAt", str(t.StartedAt))
	set(m, "devices", euiList(b.members(owner, t.DevEUIs)))
	if t.IsOfficialFirmware {
		b.official(m, t, owner)
	} else {
		b.localFirmware(m, t, owner)
	}
	f := flowMap()
	set(f, "size", integer(int64(t.FragmentInfo.FragmentSize)))
	set(f, "intervalMs", integer(int64(t.FragmentInfo.FragmentInterval)))
	set(f, "redundancy", integer(int64(t.FragmentInfo.FragmentRedundancy)))
	set(m, "fragment", f)
	mc := flowMap()
	if b.band == nil || int64(t.TmpMcInfo.DR) != b.band.RX2DR {
		set(mc, "dr", integer(int64(t.TmpMcInfo.DR)))
	}
	if b.band == nil || int64(t.TmpMcInfo.Frequency) != b.band.RX2Freq {
		set(mc, "frequency", integer(int64(t.TmpMcInfo.Frequency)))
	}
	if len(mc.Content) > 0 {
		set(m, "multicast", mc)
	}
	if t.TmpMcInfo.GroupType != 0 {
		b.note("%s: its multicast session has group type %d; a site task is always class C (0), so plan will update it", owner, int64(t.TmpMcInfo.GroupType))
	}
	return m
}

func (b *builder) official(m *yaml.Node, t *nsapi.FuotaTask, owner string) {
	var model, version string
	if o := t.OfficialFirmwareInfo; o != nil {
		model, version = o.Model, o.FirmwareVersion
	}
	if fi := t.FirmwareInfo; fi != nil {
		if model == "" {
			model = fi.ProductModel
		}
		if version == "" {
			version = fi.FirmwareVersion
		}
	}
	if t.OfficialFirmwareInfo == nil || model == "" || version == "" {
		b.note("%s: the gateway does not say which official firmware it uses (model %q, version %q); complete official: in the site", owner, model, version)
	}
	o := flowMap()
	set(o, "model", str(model))
	set(o, "version", str(version))
	set(m, "official", o)
}

func (b *builder) localFirmware(m *yaml.Node, t *nsapi.FuotaTask, owner string) {
	name := t.FirmwareName
	content := ""
	if fi := t.FirmwareInfo; fi != nil {
		if name == "" {
			name = fi.FirmwareName
		}
		content = strings.TrimSpace(fi.FileContent)
	}
	var data []byte
	if content != "" {
		d, err := base64.StdEncoding.DecodeString(content)
		if err != nil || len(d) == 0 {
			content = ""
		} else {
			data = d
		}
	}
	if data == nil && name != "" {
		// Adopted: the gateway does not give its firmware back, and no
		// file here can stand in for it. The site names it only; a plan
		// never uploads it, and asks for firmwareFile when a change would.
		k := set(m, "firmwareName", str(name))
		k.LineComment = "the gateway's firmware: never uploaded; give firmwareFile to send one"
		b.note("%s: its firmware %q stays as the gateway holds it (firmwareName without firmwareFile): a plan never uploads it; to change the task, give firmwareFile", owner, name)
		return
	}
	// Tasks with the same firmware (name and content) share one file:
	// firmware/<firmware name> when that name can be a file name and no
	// other firmware has it (file systems may fold case); else a name made
	// from it, and firmwareName says the name the gateway knows.
	id := name + "\x00" + content
	file, explicitName := b.fwFile[id], false
	if file == "" {
		if safeFileName(name) && !b.fwTaken[strings.ToLower(name)] {
			file = "firmware/" + name
		} else {
			base := fileBase(strings.TrimSuffix(name, ".bin"), fileBase(t.Name, "firmware"))
			for i := 1; file == ""; i++ {
				cand := base + ".bin"
				if i > 1 {
					cand = fmt.Sprintf("%s-%d.bin", base, i)
				}
				if !b.fwTaken[strings.ToLower(cand)] {
					file = "firmware/" + cand
				}
			}
		}
		b.fwFile[id] = file
		b.fwTaken[strings.ToLower(strings.TrimPrefix(file, "firmware/"))] = true
		if data != nil && b.opts.Dir != "" {
			b.res.Files = append(b.res.Files, File{Path: file, Data: data})
		}
	}
	explicitName = name != "" && path.Base(file) != name
	k := set(m, "firmwareFile", str(file))
	if name == "" {
		b.note("%s: the gateway gives no firmware name; plan will update the task", owner)
	} else if explicitName {
		set(m, "firmwareName", str(name))
	}
	switch {
	case data != nil && b.opts.Dir != "":
		k.LineComment = "the gateway's copy, written by gwsync export"
	default:
		k.LineComment = "supply this file: the gateway does not give it back"
		b.note("%s: put its firmware (%q) at %s before a plan that creates or updates the task; the gateway does not give firmware back", owner, name, file)
	}
}

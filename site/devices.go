package site

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"github.com/gwsync/gwsync/internal/safefile"
	"github.com/gwsync/gwsync/schema"
)

// devItem is where a device came from: a YAML mapping, or a CSV row.
type devItem struct {
	m     *mapping // YAML source; nil for a CSV row
	row   *csvRow  // CSV source
	idx   int
	fromD map[string]bool // fields taken from deviceDefaults
}

// csvRow is one device row of a devicesFrom CSV file.
type csvRow struct {
	file string
	line int
	cols map[string]int // field → column (1-based byte offset)
}

func (d *devItem) file() string {
	if d.m != nil {
		return d.m.file
	}
	return d.row.file
}

// at is where a device field stands (or the device, when the field is
// left out), and its path.
func (l *loader) devAt(d *devItem, field string) (Pos, string) {
	if d.fromD[field] && l.defaults != nil {
		return l.defaults.pos(field), l.defaults.sub(field)
	}
	if d.m != nil {
		return d.m.pos(field), d.m.sub(field)
	}
	if c, ok := d.row.cols[field]; ok {
		return Pos{File: d.row.file, Line: d.row.line, Col: c}, field
	}
	return Pos{File: d.row.file, Line: d.row.line, Col: 1}, field
}

// devSelf is where the device itself stands, and its path.
func (l *loader) devSelf(d *devItem) (Pos, string) {
	if d.m != nil {
		return d.m.self(), d.m.path
	}
	return Pos{File: d.row.file, Line: d.row.line, Col: 1}, ""
}

func (l *loader) addDevice(dev Device, d *devItem) {
	d.idx = len(l.site.Devices)
	l.devices = append(l.devices, d)
	l.site.Devices = append(l.site.Devices, dev)
}

// deviceFieldKinds says how CSV cells are typed.
var deviceFieldKinds = map[string]string{
	"fPort": "int", "fCntUp": "int", "fCntDown": "int", "mbFramePort": "int", "mbTcpPort": "int",
	"skipFCntCheck": "bool",
}

// loadCSV reads a devicesFrom file: a header row naming device fields, then
// one device a row. An empty cell leaves the field out.
func (l *loader) loadCSV(c csvRef) {
	data, _, err := l.readRef(c.from, c.ref, safefile.CSV)
	if err != nil {
		l.add(c.pos, c.path, "cannot read %s: %v", c.file, err)
		return
	}
	// The files its rows name stay inside the YAML file's root.
	l.roots[c.file] = l.roots[c.from]
	if !l.utf8(c.file, data) {
		return
	}
	// A byte order mark (spreadsheets write one) is not part of the first
	// column's name, quoted or not.
	r := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(data, []byte("\ufeff"))))
	r.FieldsPerRecord = -1
	r.Comment = '#'
	header, err := r.Read()
	if errors.Is(err, io.EOF) {
		l.add(Pos{File: c.file}, "", "empty CSV file: want a header row naming device fields (devEUI,name,appKey,...)")
		return
	}
	if err != nil {
		l.csvError(c.file, err)
		return
	}
	known := schema.Properties("device")
	isKnown := map[string]bool{}
	for _, k := range known {
		isKnown[k] = true
	}
	headerLine, _ := r.FieldPos(0)
	if p := (Pos{File: c.file, Line: headerLine, Col: 1}); !anyKnown(header, isKnown) {
		// Not a header: a device row, or columns separated by something
		// else. Its cells are not repeated: they may hold keys.
		if len(header) == 1 && anyKnown(strings.Split(header[0], ";"), isKnown) {
			l.add(p, "", "columns are separated by \";\": separate them by commas (devEUI,name,appKey,...)")
		} else {
			l.add(p, "", "missing required column \"devEUI\": the first row must be a header naming the fields (devEUI,name,appKey,...)")
		}
		return
	}
	names := make([]string, len(header))
	seen := map[string]int{}
	bad := false
	for i, h := range header {
		h = strings.TrimSpace(h)
		line, col := r.FieldPos(i)
		p := Pos{File: c.file, Line: line, Col: col}
		switch {
		case h == "":
			l.add(p, "", "column %d has no name", i+1)
			bad = true
		case keyLike.MatchString(h):
			l.add(p, "", "unknown column %s: it looks like a key, not a field name", Masked)
			bad = true
		case !isKnown[h]:
			msg := fmt.Sprintf("unknown column %q", h)
			if s := schema.Suggest(h, known); s != "" {
				msg += fmt.Sprintf(", did you mean %q?", s)
			}
			l.add(p, h, "%s", msg)
			bad = true
		default:
			if first, dup := seen[h]; dup {
				l.add(p, h, "column %q given twice (first is column %d)", h, first+1)
				bad = true
			}
			seen[h] = i
		}
		names[i] = h
	}
	if _, ok := seen["devEUI"]; !ok {
		l.add(Pos{File: c.file, Line: headerLine, Col: 1}, "", "missing required column \"devEUI\"")
		bad = true
	}
	if bad {
		return
	}
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			l.csvError(c.file, err)
			var pe *csv.ParseError
			if errors.As(err, &pe) && errors.Is(pe.Err, csv.ErrFieldCount) {
				continue
			}
			return
		}
		line, _ := r.FieldPos(0)
		row := &csvRow{file: c.file, line: line, cols: map[string]int{}}
		if len(rec) != len(names) {
			l.add(Pos{File: c.file, Line: line, Col: 1}, "", "row has %d fields, the header %d", len(rec), len(names))
			continue
		}
		inst := make(map[string]any, len(rec))
		for i, cell := range rec {
			cell = strings.TrimSpace(cell)
			if cell == "" {
				continue
			}
			_, col := r.FieldPos(i)
			f := names[i]
			row.cols[f] = col
			inst[f] = cellValue(f, cell)
		}
		issues, err := schema.ValidateDef("device", inst)
		if err != nil {
			l.add(Pos{File: c.file, Line: line, Col: 1}, "", "%v", err)
			continue
		}
		for _, is := range issues {
			field := ""
			if len(is.Pointer) > 0 {
				field = is.Pointer[0]
			}
			p := Pos{File: c.file, Line: line, Col: 1}
			if col, ok := row.cols[field]; ok {
				p.Col = col
			}
			l.add(p, field, "%s", is.Message)
		}
		dev := Device{Pos: Pos{File: c.file, Line: line, Col: 1}}
		str := func(k string) string { s, _ := inst[k].(string); return s }
		num := func(k string) *int64 {
			if v, ok := inst[k].(int64); ok {
				return &v
			}
			return nil
		}
		sec := func(k string) Secret {
			s, ok := inst[k].(string)
			if !ok {
				return Secret{}
			}
			out := Secret{Value: s, Pos: Pos{File: c.file, Line: line, Col: row.cols[k]}}
			if isRef(s) {
				out.Ref = s
			}
			return out
		}
		dev.DevEUI = strings.ToUpper(str("devEUI"))
		dev.Name = str("name")
		if s, ok := inst["description"].(string); ok {
			dev.Description = &s
		}
		dev.Application = str("application")
		dev.Profile = str("profile")
		dev.Codec = str("codec")
		dev.FPort = num("fPort")
		if b, ok := inst["skipFCntCheck"].(bool); ok {
			dev.SkipFCntCheck = &b
		}
		dev.AppKey = sec("appKey")
		dev.DevAddr = strings.ToUpper(str("devAddr"))
		dev.NwkSKey = sec("nwkSKey")
		dev.AppSKey = sec("appSKey")
		dev.FCntUp = num("fCntUp")
		dev.FCntDown = num("fCntDown")
		dev.MbMode = str("mbMode")
		dev.MbFramePort = num("mbFramePort")
		dev.MbTcpPort = num("mbTcpPort")
		l.addDevice(dev, &devItem{row: row})
	}
}

// keyLike matches text holding a key's 32 hex digits.
var keyLike = regexp.MustCompile(`[0-9A-Fa-f]{32}`)

// anyKnown reports whether any of the cells, trimmed, is a device field.
func anyKnown(cells []string, isKnown map[string]bool) bool {
	for _, h := range cells {
		if isKnown[strings.TrimSpace(h)] {
			return true
		}
	}
	return false
}

// cellValue types a CSV cell as the device field wants it; a cell that does
// not parse stays a string, and the schema says what is wrong with it.
func cellValue(field, cell string) any {
	switch deviceFieldKinds[field] {
	case "int":
		if v, err := strconv.ParseInt(cell, 10, 64); err == nil {
			return v
		}
	case "bool":
		switch strings.ToLower(cell) {
		case "true":
			return true
		case "false":
			return false
		}
	}
	return cell
}

func (l *loader) csvError(file string, err error) {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		l.add(Pos{File: file, Line: pe.Line, Col: pe.Column}, "", "invalid CSV: %v", pe.Err)
		return
	}
	l.add(Pos{File: file}, "", "invalid CSV: %v", err)
}

// applyDefaults fills every device's left-out fields from deviceDefaults.
func (l *loader) applyDefaults() {
	m := l.defaults
	if m == nil {
		return
	}
	desc := m.strp("description")
	app, _ := m.str("application")
	prof, _ := m.str("profile")
	codec, _ := m.str("codec")
	fport := m.int("fPort")
	skip := m.bool("skipFCntCheck")
	mbMode, _ := m.str("mbMode")
	mbFrame := m.int("mbFramePort")
	mbTCP := m.int("mbTcpPort")
	for _, d := range l.devices {
		dev := &l.site.Devices[d.idx]
		set := func(field string, ok bool) bool {
			if ok {
				if d.fromD == nil {
					d.fromD = map[string]bool{}
				}
				d.fromD[field] = true
			}
			return ok
		}
		if set("description", dev.Description == nil && desc != nil) {
			v := *desc
			dev.Description = &v
		}
		if set("application", dev.Application == "" && app != "") {
			dev.Application = app
		}
		if set("profile", dev.Profile == "" && prof != "") {
			dev.Profile = prof
		}
		if set("codec", dev.Codec == "" && codec != "") {
			dev.Codec = codec
		}
		if set("fPort", dev.FPort == nil && fport != nil) {
			v := *fport
			dev.FPort = &v
		}
		if set("skipFCntCheck", dev.SkipFCntCheck == nil && skip != nil) {
			v := *skip
			dev.SkipFCntCheck = &v
		}
		if set("mbMode", dev.MbMode == "" && mbMode != "") {
			dev.MbMode = mbMode
		}
		if set("mbFramePort", dev.MbFramePort == nil && mbFrame != nil) {
			v := *mbFrame
			dev.MbFramePort = &v
		}
		if set("mbTcpPort", dev.MbTcpPort == nil && mbTCP != nil) {
			v := *mbTCP
			dev.MbTcpPort = &v
		}
	}
}

// fieldPositions records, for every device, where each given field stands
// (Device.Fields), so that checks made later (the planner's) point at it.
func (l *loader) fieldPositions() {
	fields := schema.Properties("device")
	known := make(map[string]bool, len(fields))
	for _, f := range fields {
		known[f] = true
	}
	for _, d := range l.devices {
		dev := &l.site.Devices[d.idx]
		set := func(f string) {
			if dev.Fields == nil {
				dev.Fields = map[string]FieldPos{}
			}
			p, path := l.devAt(d, f)
			dev.Fields[f] = FieldPos{Pos: p, Path: path}
		}
		if d.m != nil && d.m.frozen {
			// A YAML device gives a few of the many fields: those are
			// visited, not every field there is.
			for _, sp := range d.m.fields {
				if known[sp.key] && !sp.null {
					set(sp.key)
				}
			}
			for f := range d.fromD {
				if known[f] {
					set(f)
				}
			}
			continue
		}
		for _, f := range fields {
			given := d.fromD[f]
			if d.m != nil {
				given = given || d.m.has(f)
			} else if _, ok := d.row.cols[f]; ok {
				given = true
			}
			if given {
				set(f)
			}
		}
	}
}

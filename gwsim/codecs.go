package gwsim

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/gwsync/gwsync/internal/reserved"
	"github.com/gwsync/gwsync/nsapi"
)

// codecOut is a codec list entry as the spec's example shows it
// (templateID a string, no codecJson).
type codecOut struct {
	ID            string `json:"id"`
	Name          string `json:"name"`
	Description   string `json:"description"`
	TemplateID    string `json:"templateID"`
	DevEUIPrefix  string `json:"devEUIPrefix"`
	EncoderScript string `json:"encoderScript"`
	DecoderScript string `json:"decoderScript"`
	TestEnabled   bool   `json:"testEnabled"`
	FPort         int64  `json:"fPort"`
}

// codecOutTables is a codec list entry with the 5.3 table's types
// (templateID a number).
type codecOutTables struct {
	ID            string `json:"id"`
	Name          string `json:"name"`
	Description   string `json:"description"`
	TemplateID    int64  `json:"templateID"`
	DevEUIPrefix  string `json:"devEUIPrefix"`
	EncoderScript string `json:"encoderScript"`
	DecoderScript string `json:"decoderScript"`
	TestEnabled   bool   `json:"testEnabled"`
	FPort         int64  `json:"fPort"`
}

// codecList is the codec list: totalCount a string (example) or a number
// (table), entries codecOut or codecOutTables.
type codecList struct {
	TotalCount any   `json:"totalCount"`
	Result     []any `json:"result"`
}

// total is n as the gateway gives a codec list's totalCount.
func (g *Gateway) total(n int) any {
	if g.examples() {
		return itoa(n)
	}
	return n
}

type codecShortOut struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

type codecShortList struct {
	TotalCount any             `json:"totalCount"`
	Result     []codecShortOut `json:"result"`
}

// findCodecs applies the type (default "default"), search and paging.
func (g *Gateway) findCodecs(req *request) (all int, found []*codecRec, e *apiError) {
	limit, offset, e := paging(req.query)
	if e != nil {
		return 0, nil, e
	}
	typ := strings.ToLower(strings.TrimSpace(req.query.Get("type")))
	if typ == "" {
		typ = nsapi.CodecTypeDefault
	}
	if typ != nsapi.CodecTypeDefault && typ != nsapi.CodecTypeCustom {
		return 0, nil, errf(nsapi.CodeParameter, "type: want default or custom")
	}
	search := req.query.Get("search")
	for _, c := range g.st.Codecs {
		if c.Builtin == (typ == nsapi.CodecTypeDefault) && matches(search, c.Name) {
			found = append(found, c)
		}
	}
	lo, hi := page(len(found), limit, offset)
	return len(found), found[lo:hi], nil
}

func (g *Gateway) listCodecs(req *request, _ string) any {
	n, found, e := g.findCodecs(req)
	if e != nil {
		return e
	}
	out := codecList{TotalCount: g.total(n), Result: []any{}}
	for _, c := range found {
		if g.examples() {
			out.Result = append(out.Result, codecOut{ID: c.ID, Name: c.Name, Description: c.Description,
				TemplateID: itoa(c.TemplateID), DevEUIPrefix: c.DevEUIPrefix, EncoderScript: c.EncoderScript,
				DecoderScript: c.DecoderScript, TestEnabled: c.TestEnabled, FPort: c.FPort})
			continue
		}
		out.Result = append(out.Result, codecOutTables{ID: c.ID, Name: c.Name, Description: c.Description,
			TemplateID: c.TemplateID, DevEUIPrefix: c.DevEUIPrefix, EncoderScript: c.EncoderScript,
			DecoderScript: c.DecoderScript, TestEnabled: c.TestEnabled, FPort: c.FPort})
	}
	return out
}

func (g *Gateway) listCodecsShort(req *request, _ string) any {
	n, found, e := g.findCodecs(req)
	if e != nil {
		return e
	}
	out := codecShortList{TotalCount: g.total(n), Result: []codecShortOut{}}
	for _, c := range found {
		out.Result = append(out.Result, codecShortOut{ID: c.ID, Name: c.Name})
	}
	return out
}

// readCodec reads a create or update body into c (absent fields kept).
func readCodec(req *request, c *codecRec) *apiError {
	f, e := readBody(req.Body)
	if e != nil {
		return e
	}
	f.require("name")
	c.Name = f.str("name", "")
	c.Description = f.str("description", c.Description)
	c.TemplateID = f.bounded("templateID", c.TemplateID, false, 0, maxID)
	c.EncoderScript = f.str("encoderScript", c.EncoderScript)
	c.DecoderScript = f.str("decoderScript", c.DecoderScript)
	c.TestEnabled = f.boolean("testEnabled", c.TestEnabled)
	c.FPort = f.integer("fPort", c.FPort, false)
	c.CodecJSON = f.str("codecJson", c.CodecJSON)
	if f.failed() != nil {
		return f.failed()
	}
	if strings.TrimSpace(c.Name) == "" || len(c.Name) > 64 {
		f.fail(nsapi.CodeParameter, "name", "want 1–64 characters, not all blank")
	}
	if c.TemplateID < 0 {
		f.fail(nsapi.CodeParameter, "templateID", "want 0 or more")
	}
	f.rangeCheck("fPort", c.FPort, 0, 255)
	return f.failed()
}

func (g *Gateway) codecNamed(name string) *codecRec {
	return find(g.st.Codecs, func(c *codecRec) bool { return c.Name == name })
}

func (g *Gateway) createCodec(req *request, _ string) any {
	c := &codecRec{}
	if e := readCodec(req, c); e != nil {
		return e
	}
	if g.codecNamed(c.Name) != nil {
		return errf(nsapi.CodeAlreadyExists, "payload codec %q", c.Name)
	}
	c.ID = strconv.FormatInt(g.st.NextCodecID, 10)
	g.st.NextCodecID++
	g.st.Codecs = append(g.st.Codecs, c)
	g.st.idx.codec[c.ID] = c
	g.st.putCodec(c)
	g.st.putMeta()
	return struct {
		ID    string `json:"id"`
		Error string `json:"error"`
		Code  int    `json:"code"`
	}{c.ID, "", nsapi.CodeSuccess}
}

func (g *Gateway) updateCodec(req *request, id string) any {
	cur := g.st.codec(id)
	if cur == nil {
		return notFound(req, "payload codec %s", id)
	}
	if cur.Builtin {
		return errf(nsapi.CodeFailedPrecondition, "payload codec %s is built in", cur.Name)
	}
	c := *cur
	if e := readCodec(req, &c); e != nil {
		return e
	}
	if e := replace(cur, c, g.codecNamed(c.Name), "payload codec %q", c.Name); e != nil {
		return e
	}
	g.st.putCodec(cur)
	return okBody
}

func (g *Gateway) deleteCodec(_ *request, id string) any {
	c := g.st.codec(id)
	if c == nil {
		return errf(nsapi.CodeNotFound, "payload codec %s", id)
	}
	if c.Builtin {
		return errf(nsapi.CodeFailedPrecondition, "payload codec %s is built in", c.Name)
	}
	for _, d := range g.st.Devices {
		if d.PayloadCodecID == id {
			return errf(nsapi.CodeFailedPrecondition, "payload codec %s is used by device %s", c.Name, d.DevEUI)
		}
	}
	g.st.Codecs = without(g.st.Codecs, c)
	delete(g.st.idx.codec, c.ID)
	g.st.delCodec(c)
	return okBody
}

// ownRecord reports whether req is about one of gwsync's own records: a
// payload codec with a reserved name, named in the body or by its id.
func (g *Gateway) ownRecord(req *request) bool {
	path, _, _ := strings.Cut(req.URL, "?")
	if !strings.HasPrefix(path, "/api/payloadcodec") {
		return false
	}
	var b struct {
		Name string `json:"name"`
	}
	if len(req.Body) > 0 && json.Unmarshal(req.Body, &b) == nil && reserved.Codec(b.Name) {
		return true
	}
	id := strings.TrimRight(path, "/")
	id = id[strings.LastIndexByte(id, '/')+1:]
	g.mu.Lock()
	defer g.mu.Unlock()
	c := g.st.codec(id)
	return c != nil && reserved.Codec(c.Name)
}

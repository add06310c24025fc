// Package schema holds gwsync's site file JSON Schema (draft 2020-12), embedded
// from site.schema.json, and validates YAML documents against it, mapping
// each validation error back to the YAML node's line and column with a
// message written for people. It knows nothing of the site model or of
// semantic checks (those live in package site), and does no I/O.
package schema

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"math/big"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"go.yaml.in/yaml/v4"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

//go:embed site.schema.json
var siteSchema []byte

// URL is the schema's $id.
const URL = "https://gwsync.dev/schema/site.schema.json"

// JSON returns the site file JSON Schema (a copy; callers may keep it).
func JSON() []byte { return bytes.Clone(siteSchema) }

// Issue is one schema violation: where (instance location, the path as
// people read it, and the YAML position when validating YAML) and what.
type Issue struct {
	Pointer []string // JSON pointer tokens of the instance location
	Path    string   // "devices[2].devEUI"; "" for the document itself
	Line    int      // 1-based; 0 when not validating YAML
	Col     int
	Message string
	// Unquoted marks an unquoted value that gwsync reads as the text
	// written but YAML 1.2 tools (editors, other schema validators) read
	// as a number or a boolean, which fails the schema there: quoting it
	// makes every tool agree.
	Unquoted bool
}

// compiled is the schema compiled once, with its raw JSON for looking up
// descriptions, property lists and gwsync's own x- keywords.
type compiled struct {
	site *jsonschema.Schema
	defs map[string]*jsonschema.Schema
	raw  map[string]any
	// devicesApart says that the schema's devices is exactly a list of
	// device definitions, so each item can be checked on its own.
	devicesApart bool
	// refs maps each $ref of raw to its target (indexRefs); read only.
	refs map[string]map[string]any
}

var (
	once    sync.Once
	theOne  *compiled
	loadErr error
)

func get() (*compiled, error) {
	once.Do(func() {
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(siteSchema))
		if err != nil {
			loadErr = fmt.Errorf("site schema: %w", err)
			return
		}
		var raw map[string]any
		if err := json.Unmarshal(siteSchema, &raw); err != nil {
			loadErr = fmt.Errorf("site schema: %w", err)
			return
		}
		c := jsonschema.NewCompiler()
		c.AssertVocabs()
		c.RegisterVocabulary(bytesVocab())
		if err := c.AddResource(URL, doc); err != nil {
			loadErr = fmt.Errorf("site schema: %w", err)
			return
		}
		sch, err := c.Compile(URL)
		if err != nil {
			loadErr = fmt.Errorf("site schema: %w", err)
			return
		}
		defs := map[string]*jsonschema.Schema{}
		for name := range raw["$defs"].(map[string]any) {
			d, err := c.Compile(URL + "#/$defs/" + name)
			if err != nil {
				loadErr = fmt.Errorf("site schema: %s: %w", name, err)
				return
			}
			defs[name] = d
		}
		theOne = &compiled{site: sch, defs: defs, raw: raw, refs: map[string]map[string]any{}}
		devs, _ := raw["properties"].(map[string]any)["devices"].(map[string]any)
		if len(devs) == 3 && devs["type"] == "array" && devs["description"] != nil && defs["device"] != nil {
			if it, _ := devs["items"].(map[string]any); len(it) == 1 && it["$ref"] == "#/$defs/device" {
				theOne.devicesApart = true
			}
		}
		for ptr, msg := range patternMessages {
			m := theOne.at(ptr)
			if m == nil {
				loadErr = fmt.Errorf("site schema: no %s for its message", ptr)
				return
			}
			m["x-message"] = msg
		}
		theOne.indexRefs(theOne.raw)
	})
	return theOne, loadErr
}

// ---- walking the raw schema ----

// deref follows a "#/$defs/x" $ref.
func (c *compiled) deref(s map[string]any) map[string]any {
	for i := 0; s != nil && i < 10; i++ {
		ref, ok := s["$ref"].(string)
		if !ok {
			return s
		}
		if t, ok := c.refs[ref]; ok {
			s = t
			continue
		}
		s = c.at(strings.TrimPrefix(ref, "#"))
	}
	return s
}

// indexRefs records the target of every $ref of the raw schema in c.refs:
// the converter follows them for every value of every document.
func (c *compiled) indexRefs(v any) {
	switch v := v.(type) {
	case map[string]any:
		if ref, ok := v["$ref"].(string); ok {
			if _, done := c.refs[ref]; !done {
				c.refs[ref] = c.at(strings.TrimPrefix(ref, "#"))
			}
		}
		for _, e := range v {
			c.indexRefs(e)
		}
	case []any:
		for _, e := range v {
			c.indexRefs(e)
		}
	}
}

// at returns the raw schema at a JSON pointer fragment ("/$defs/device").
func (c *compiled) at(ptr string) map[string]any {
	var cur any = c.raw
	for _, tok := range strings.Split(strings.TrimPrefix(ptr, "/"), "/") {
		if tok == "" {
			continue
		}
		switch v := cur.(type) {
		case map[string]any:
			cur = v[strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")]
		case []any: // anyOf/1
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(v) {
				return nil
			}
			cur = v[i]
		default:
			return nil
		}
	}
	m, _ := cur.(map[string]any)
	return m
}

func (c *compiled) property(s map[string]any, key string) map[string]any {
	s = c.deref(s)
	if s == nil {
		return nil
	}
	props, _ := s["properties"].(map[string]any)
	p, _ := props[key].(map[string]any)
	return p
}

func (c *compiled) items(s map[string]any) map[string]any {
	s = c.deref(s)
	if s == nil {
		return nil
	}
	it, _ := s["items"].(map[string]any)
	return it
}

func (c *compiled) wantsString(s map[string]any) bool {
	s = c.deref(s)
	if s == nil {
		return false
	}
	t, _ := s["type"].(string)
	return t == "string"
}

// lookup returns the raw schema a validation error's SchemaURL names.
func (c *compiled) lookup(schemaURL string) map[string]any {
	_, frag, _ := strings.Cut(schemaURL, "#")
	return c.at(frag)
}

// ---- validation ----

// ValidateYAML validates one YAML document (a DocumentNode or its content)
// against the site schema. Issues are sorted by position. err is set only
// when the document cannot be validated at all (the schema failed to
// compile, or aliases expand beyond reason).
func ValidateYAML(doc *yaml.Node) ([]Issue, error) {
	c, err := get()
	if err != nil {
		return nil, err
	}
	root := Resolve(doc)
	if root != nil && root.Kind == yaml.DocumentNode {
		if len(root.Content) == 0 {
			return nil, nil
		}
		root = Resolve(root.Content[0])
	}
	if root == nil {
		return nil, nil
	}
	conv := &converter{sch: c}
	var checked []issue
	if items := c.deviceItems(root); items != nil {
		// The devices are checked one by one against their definition, on
		// two goroutines, and the rest of the document without them: the
		// same issues, as the schema says nothing of the list as a whole,
		// with neither the whole list converted at once nor one core.
		inst := conv.value(withEmpty(root, "devices"), c.raw, nil, 0)
		if conv.err != nil {
			return nil, conv.err
		}
		checked = c.validate(c.site, inst)
		more, err := c.validateDevices(conv, items)
		if err != nil {
			return nil, err
		}
		checked = append(checked, more...)
	} else {
		inst := conv.value(root, c.raw, nil, 0)
		if conv.err != nil {
			return nil, conv.err
		}
		checked = c.validate(c.site, inst)
	}
	var issues []Issue
	for _, d := range conv.dups {
		issues = append(issues, Issue{
			Pointer: append(d.ParentPath, d.Key.Value),
			Path:    PathOf(root, append(d.ParentPath, d.Key.Value)),
			Line:    d.Key.Line, Col: d.Key.Column,
			Message: fmt.Sprintf("field %q given twice (first at line %d)", d.Key.Value, d.First.Line),
		})
	}
	flagged := map[string]bool{}
	for _, is := range checked {
		flagged[strings.Join(is.Pointer, "/")] = true
		node, key := NodeAt(root, is.Pointer)
		if is.keyPos && key != nil {
			node = key
		}
		if node != nil {
			is.Line, is.Col = node.Line, node.Column
		}
		is.Path = PathOf(root, is.Pointer)
		issues = append(issues, is.Issue)
	}
	for _, u := range conv.unquoted {
		if flagged[strings.Join(u.loc, "/")] {
			continue // wrong anyway: quoting is not the point
		}
		msg := fmt.Sprintf("%s is read as %s by YAML 1.2 tools (editors, other schema validators), which then reject it: quote it: '%s'", u.node.Value, u.as, u.node.Value)
		if len(u.loc) > 0 && SecretFields[u.loc[len(u.loc)-1]] {
			msg = fmt.Sprintf("the value is read as %s by YAML 1.2 tools (editors, other schema validators), which then reject it: quote it", u.as)
		}
		issues = append(issues, Issue{Pointer: u.loc, Path: PathOf(root, u.loc), Line: u.node.Line, Col: u.node.Column, Unquoted: true, Message: msg})
	}
	sortIssues(issues)
	return issues, nil
}

// deviceItems returns the items of the document's devices list when they
// can be checked apart from it: the list is a YAML sequence, the document
// holds no alias (the node budget is kept per converter), and the schema's
// devices is exactly a list of device definitions, with no keyword on the
// list as a whole. Otherwise nil.
func (c *compiled) deviceItems(root *yaml.Node) []*yaml.Node {
	if !c.devicesApart || root.Kind != yaml.MappingNode || HasAlias(root) {
		return nil
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == "devices" && root.Content[i+1].Kind == yaml.SequenceNode && len(root.Content[i+1].Content) > 0 {
			return root.Content[i+1].Content
		}
	}
	return nil
}

// withEmpty is a copy of the mapping root whose value of key is an empty
// sequence at the same place.
func withEmpty(root *yaml.Node, key string) *yaml.Node {
	cp := *root
	cp.Content = append([]*yaml.Node(nil), root.Content...)
	for i := 0; i+1 < len(cp.Content); i += 2 {
		if cp.Content[i].Value == key {
			v := cp.Content[i+1]
			cp.Content[i+1] = &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Style: yaml.FlowStyle, Line: v.Line, Column: v.Column}
		}
	}
	return &cp
}

// validateDevices checks device items against the device definition, each
// as it would be checked within the document (its issues' pointers start
// with devices/N), on two goroutines. The converters' findings are added
// to conv's.
func (c *compiled) validateDevices(conv *converter, items []*yaml.Node) ([]issue, error) {
	item := c.items(c.property(c.raw, "devices"))
	const parts = 2
	type part struct {
		conv   *converter
		issues []issue
	}
	res := make([]part, parts)
	var wg sync.WaitGroup
	for p := range parts {
		lo, hi := p*len(items)/parts, (p+1)*len(items)/parts
		wg.Go(func() {
			cv := &converter{sch: c}
			var out []issue
			for i := lo; i < hi && cv.err == nil; i++ {
				at := []string{"devices", strconv.Itoa(i)}
				v := cv.value(items[i], item, at, 2)
				for _, is := range c.validate(c.defs["device"], v) {
					is.Pointer = append(append([]string(nil), at...), is.Pointer...)
					out = append(out, is)
				}
			}
			res[p] = part{cv, out}
		})
	}
	wg.Wait()
	var out []issue
	for _, r := range res {
		if r.conv.err != nil {
			return nil, r.conv.err
		}
		conv.count += r.conv.count
		conv.dups = append(conv.dups, r.conv.dups...)
		conv.unquoted = append(conv.unquoted, r.conv.unquoted...)
		out = append(out, r.issues...)
	}
	if conv.count > maxNodes {
		return nil, fmt.Errorf("document too large or too deep once aliases are expanded (more than %d values or %d levels)", maxNodes, maxDepth)
	}
	return out, nil
}

// HasAlias reports whether the tree under n holds an alias (*name).
func HasAlias(n *yaml.Node) bool {
	if n.Kind == yaml.AliasNode {
		return true
	}
	for _, c := range n.Content {
		if HasAlias(c) {
			return true
		}
	}
	return false
}

// ValidateDef validates a value against one of the schema's definitions
// ("device", "profile", ...), as when a CSV row stands for a device. Issues
// carry Pointer and Path, not positions.
func ValidateDef(def string, v any) ([]Issue, error) {
	c, err := get()
	if err != nil {
		return nil, err
	}
	s, ok := c.defs[def]
	if !ok {
		return nil, fmt.Errorf("site schema: no definition %q", def)
	}
	var issues []Issue
	for _, is := range c.validate(s, v) {
		is.Path = strings.Join(is.Pointer, ".")
		issues = append(issues, is.Issue)
	}
	sortIssues(issues)
	return issues, nil
}

// Properties lists the fields a definition allows, sorted.
func Properties(def string) []string {
	c, err := get()
	if err != nil {
		return nil
	}
	props, _ := c.at("/$defs/" + def)["properties"].(map[string]any)
	out := make([]string, 0, len(props))
	for k := range props {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func sortIssues(issues []Issue) {
	sort.SliceStable(issues, func(i, j int) bool {
		a, b := issues[i], issues[j]
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		if a.Col != b.Col {
			return a.Col < b.Col
		}
		if a.Path != b.Path {
			return a.Path < b.Path
		}
		return a.Message < b.Message
	})
}

type issue struct {
	Issue
	keyPos bool // point at the key, not the value
}

func (c *compiled) validate(s *jsonschema.Schema, inst any) []issue {
	err := s.Validate(inst)
	if err == nil {
		return nil
	}
	ve, ok := err.(*jsonschema.ValidationError)
	if !ok {
		return []issue{{Issue: Issue{Message: err.Error()}}}
	}
	var out []issue
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		_, frag, _ := strings.Cut(e.SchemaURL, "#")
		for _, r := range loaderRules {
			if strings.HasPrefix(frag, r) {
				return // the site loader says it in its own words
			}
		}
		switch e.ErrorKind.(type) {
		case *kind.OneOf, *kind.AllOf, *kind.Not, *kind.DependentRequired:
			if frag == "/$defs/firmwareUpdate" || frag == "/$defs/codec" {
				return // likewise
			}
		}
		if _, ok := e.ErrorKind.(*kind.AnyOf); ok {
			// A value that is one of several types (prune: true or a
			// mapping): when it has a branch's type, only that branch's
			// problems are worth saying; when it has none, one message
			// names every type it may be.
			var matched []*jsonschema.ValidationError
			var want []string
			got := ""
			for _, ce := range e.Causes {
				if t, ok := ce.ErrorKind.(*kind.Type); ok && len(ce.Causes) == 0 {
					want = append(want, t.Want...)
					got = t.Got
					continue
				}
				matched = append(matched, ce)
			}
			if len(matched) == 0 && len(want) > 0 {
				out = append(out, c.explain(&jsonschema.ValidationError{SchemaURL: e.SchemaURL, InstanceLocation: e.InstanceLocation,
					ErrorKind: &kind.Type{Got: got, Want: want}}, inst)...)
				return
			}
			for _, ce := range matched {
				walk(ce)
			}
			return
		}
		if len(e.Causes) > 0 {
			for _, ce := range e.Causes {
				walk(ce)
			}
			return
		}
		out = append(out, c.explain(e, inst)...)
	}
	walk(ve)
	return out
}

// loaderRules are the schema's keyword locations for rules that the site
// loader checks and explains itself ("give firmwareFile or official, not
// both"): the schema has them for editors and other validators, and
// validation here leaves them to the loader, so that each is said once.
var loaderRules = []string{
	"/$defs/codec/allOf",
	"/$defs/firmwareUpdate/oneOf",
	"/$defs/firmwareUpdate/dependentRequired",
}

// patternMessages say what a value that fails the schema at a pointer is,
// in words ("is not 16 hex digits" rather than a regular expression). They
// are kept here, not in the published schema, so that the schema holds only
// standard keywords and loads in validators' strict modes (ajv's default).
var patternMessages = map[string]string{
	"/properties/gateway/properties/eui":       "is not 16 hex digits",
	"/properties/connection/properties/broker": "is not a broker URL (tcp://, ssl://, ws://, wss:// or sim://)",
	"/$defs/key":                               "is not 32 hex digits or a ${env:NAME} / ${file:PATH} reference",
	"/$defs/eui":                               "is not 16 hex digits",
	"/$defs/mbFramePort":                       "85 is reserved; mbFramePort must be 2-84 or 86-223",
	"/$defs/profile/properties/name":           "is not a profile name (up to 64 letters, digits, \"-\" or \"_\", the first a letter)",
	"/$defs/device/properties/name":            "is not one line of text (it holds a line break, tab or other control character)",
	"/$defs/device/properties/devAddr":         "is not 8 hex digits",
	"/$defs/multicastGroup/properties/mcAddr":  "is not 8 hex digits",
	"/$defs/firmwareUpdate/properties/startAt": "is not an RFC 3339 time (2026-12-01T02:00:00Z)",
}

// SecretFields are the fields whose values are never shown in a message.
var SecretFields = map[string]bool{
	"appKey": true, "nwkSKey": true, "appSKey": true, "mcNwkSKey": true, "mcAppSKey": true, "password": true,
}

var printer = message.NewPrinter(language.English)

// explain turns one leaf validation error into issues with human messages.
func (c *compiled) explain(e *jsonschema.ValidationError, inst any) []issue {
	loc := e.InstanceLocation
	val := valueAt(inst, loc)
	sch := c.lookup(e.SchemaURL)
	secret := false
	if len(loc) > 0 && SecretFields[loc[len(loc)-1]] {
		secret = true
	}
	xmsg, _ := sch["x-message"].(string)
	one := func(msg string) []issue {
		return []issue{{Issue: Issue{Pointer: loc, Message: msg}}}
	}
	shown := func() string {
		if secret {
			return "value"
		}
		// A broker URL may carry a password (tcp://user:pass@host).
		if str, ok := val.(string); ok && len(loc) > 0 && loc[len(loc)-1] == "broker" && strings.Contains(str, "@") {
			return "the URL (its user name and password not shown)"
		}
		return display(val)
	}
	switch k := e.ErrorKind.(type) {
	case *kind.AdditionalProperties:
		allowed := propertyNames(sch)
		var out []issue
		props := append([]string(nil), k.Properties...)
		sort.Strings(props)
		for _, p := range props {
			msg := fmt.Sprintf("unknown field %q", p)
			if s := Suggest(p, allowed); s != "" {
				msg += fmt.Sprintf(", did you mean %q?", s)
			}
			out = append(out, issue{Issue: Issue{Pointer: append(append([]string(nil), loc...), p), Message: msg}, keyPos: true})
		}
		return out
	case *kind.Required:
		var out []issue
		for _, p := range k.Missing {
			out = append(out, issue{Issue: Issue{Pointer: loc, Message: fmt.Sprintf("missing required field %q", p)}})
		}
		return out
	case *kind.Type:
		want := make([]string, len(k.Want))
		for i, w := range k.Want {
			want[i] = typeName(w)
		}
		if secret {
			return one(fmt.Sprintf("must be %s", strings.Join(want, " or ")))
		}
		msg := fmt.Sprintf("must be %s, not %s", strings.Join(want, " or "), display(val))
		// A frequency written in MHz (rxFreq2: 869.525): say the unit.
		if f, ok := val.(float64); ok && len(loc) > 0 && strings.Contains(strings.ToLower(loc[len(loc)-1]), "freq") && f >= 100 && f <= 1100 {
			msg += fmt.Sprintf(" (frequencies are in Hz: %d)", int64(f*1e6+0.5))
		}
		return one(msg)
	case *kind.Pattern:
		if xmsg != "" {
			return one(shown() + " " + xmsg)
		}
		return one(fmt.Sprintf("%s does not match %s", shown(), k.Want))
	case *kind.Enum:
		want := make([]string, len(k.Want))
		var strs []string
		for i, w := range k.Want {
			want[i] = display(w)
			if s, ok := w.(string); ok {
				strs = append(strs, s)
			}
		}
		msg := fmt.Sprintf("%s is not one of %s", shown(), strings.Join(want, ", "))
		if s, ok := val.(string); ok && !secret {
			if sug := Suggest(s, strs); sug != "" {
				msg += fmt.Sprintf("; did you mean %q?", sug)
			}
		}
		return one(msg)
	case *kind.Const:
		return one(fmt.Sprintf("must be %s, not %s", display(k.Want), shown()))
	case *kind.Minimum, *kind.Maximum:
		lo, hasLo := number(sch["minimum"])
		hi, hasHi := number(sch["maximum"])
		switch {
		case hasLo && hasHi:
			return one(fmt.Sprintf("%s is out of range %s-%s", shown(), lo, hi))
		case hasLo:
			return one(fmt.Sprintf("%s is less than %s", shown(), lo))
		default:
			return one(fmt.Sprintf("%s is more than %s", shown(), hi))
		}
	case *kind.MultipleOf:
		return one(fmt.Sprintf("%s is not a multiple of %s", shown(), ratString(k.Want)))
	case *kind.MinLength:
		if k.Want <= 1 {
			return one("must not be empty")
		}
		return one(fmt.Sprintf("is shorter than %d characters", k.Want))
	case *kind.MaxLength:
		if s, ok := val.(string); ok {
			return one(LengthMessage(len(s), k.Got, k.Want))
		}
		return one(fmt.Sprintf("is %d characters long, more than %d", k.Got, k.Want))
	case *kind.MinItems:
		if k.Want == 1 {
			return one("must list at least one item")
		}
		return one(fmt.Sprintf("must list at least %d items", k.Want))
	case *kind.Not:
		if xmsg != "" {
			return one(xmsg)
		}
		return one(fmt.Sprintf("%s is not allowed", shown()))
	}
	return one(e.ErrorKind.LocalizedString(printer))
}

func propertyNames(s map[string]any) []string {
	props, _ := s["properties"].(map[string]any)
	out := make([]string, 0, len(props))
	for k := range props {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func typeName(t string) string {
	switch t {
	case "string":
		return "a string"
	case "integer":
		return "an integer"
	case "number":
		return "a number"
	case "boolean":
		return "true or false"
	case "object":
		return "a mapping"
	case "array":
		return "a list"
	case "null":
		return "empty"
	}
	return t
}

// display shows an instance value in a message.
func display(v any) string {
	switch v := v.(type) {
	case nil:
		return "empty"
	case string:
		return strconv.Quote(v)
	case bool:
		return strconv.FormatBool(v)
	case int64:
		return strconv.FormatInt(v, 10)
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case json.Number:
		return v.String()
	case map[string]any:
		return "a mapping"
	case []any:
		return "a list"
	}
	return fmt.Sprint(v)
}

func number(v any) (string, bool) {
	switch v := v.(type) {
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), true
	case json.Number:
		return v.String(), true
	}
	return "", false
}

func ratString(r *big.Rat) string {
	if r == nil {
		return "?"
	}
	if r.IsInt() {
		return r.Num().String()
	}
	return r.FloatString(6)
}

func valueAt(v any, loc []string) any {
	for _, tok := range loc {
		switch c := v.(type) {
		case map[string]any:
			v = c[tok]
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(c) {
				return nil
			}
			v = c[i]
		default:
			return nil
		}
	}
	return v
}

// PathOf formats an instance location as people read it:
// devices[2].devEUI. Tokens that index a YAML list become [i].
func PathOf(root *yaml.Node, loc []string) string {
	var b strings.Builder
	n := Resolve(root)
	if n != nil && n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = Resolve(n.Content[0])
	}
	for _, tok := range loc {
		if n != nil && n.Kind == yaml.SequenceNode {
			b.WriteString("[" + tok + "]")
			i, err := strconv.Atoi(tok)
			if err == nil && i >= 0 && i < len(n.Content) {
				n = Resolve(n.Content[i])
			} else {
				n = nil
			}
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(tok)
		var next *yaml.Node
		if n != nil && n.Kind == yaml.MappingNode {
			for _, kv := range Pairs(n) {
				if kv[0].Value == tok {
					next = Resolve(kv[1])
					break
				}
			}
		}
		n = next
	}
	return b.String()
}

// Suggest returns the candidate closest to s (case-insensitive edit
// distance), or "" when none is close enough to be a likely typo.
func Suggest(s string, candidates []string) string {
	best, bestD := "", 1<<30
	ls := strings.ToLower(s)
	for _, c := range candidates {
		d := EditDistance(ls, strings.ToLower(c))
		if d < bestD || (d == bestD && c < best) {
			best, bestD = c, d
		}
	}
	limit := 2
	if len(s) > 8 {
		limit = 3
	}
	if best == "" || bestD > limit || bestD >= len(s) {
		return ""
	}
	return best
}

// EditDistance is the Levenshtein distance of a and b, in runes: what
// did-you-mean suggestions are chosen by.
func EditDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

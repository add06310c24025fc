// Package render turns a plan into what people and tools read: Terraform-like
// text (optionally coloured), a markdown pull-request comment, and JSON (the
// plan document of package plan, in Terraform's JSON plan shape). Text and
// markdown mask secrets as "(sensitive value)", JSON shows their digests;
// values the same plan creates show as "(known after apply)". It does no network I/O and decides
// nothing about what differs: that is the planner's job.
package render

import (
	"fmt"
	"io"
	"strings"

	"github.com/gwsync/gwsync/plan"
	"github.com/sergi/go-diff/diffmatchpatch"
)

// TextOptions tune Text.
type TextOptions struct {
	// Color adds ANSI colours (green +, yellow ~, red -). The CLI sets it on
	// a terminal, never with NO_COLOR or --no-color.
	Color bool
}

// NoChanges is the text of an empty plan.
const NoChanges = "No changes. The gateway matches the site."

// NoChangesHeld is the text of an empty plan that holds changes back (a
// running FUOTA task differs from the site): the gateway does not match.
const NoChangesHeld = "No changes can be made now: the gateway differs from the site where a change is held (see Notes)."

// pruneKeys are the site's prune keys by kind, in the site's order.
var pruneKeys = []struct {
	kind plan.Kind
	key  string
}{
	{plan.KindProfile, "profiles"}, {plan.KindDevice, "devices"}, {plan.KindCodec, "codecs"},
	{plan.KindGroup, "multicastGroups"}, {plan.KindTask, "firmwareUpdates"},
}

// PruneHint is shown under the list of unmanaged resources us: the prune
// keys of the kinds listed, and only those ("set prune: {profiles: true}
// to delete them"); prune: true when every kind is listed.
func PruneHint(us []plan.Unmanaged) string {
	var keys []string
	for _, pk := range pruneKeys {
		for _, u := range us {
			if u.Kind == pk.kind {
				keys = append(keys, pk.key+": true")
				break
			}
		}
	}
	if len(keys) == 0 || len(keys) == len(pruneKeys) {
		return "set prune: true to delete them"
	}
	return "set prune: {" + strings.Join(keys, ", ") + "} to delete them"
}

// Summary is the plan's summary line: "Plan: 2 to add, 1 to change, 0 to destroy."
func Summary(p *plan.Plan) string {
	if p.Empty() && len(p.NotesOf(plan.NoteHeld)) > 0 {
		return NoChangesHeld
	}
	if p.Empty() {
		return NoChanges
	}
	a, c, d := p.Summary()
	return fmt.Sprintf("Plan: %d to add, %d to change, %d to destroy.", a, c, d)
}

// block is one change as text: header lines, attribute lines (which
// markdown may fold), and the closing line.
type block struct {
	head []string
	body []string
	tail []string
}

func (b block) lines() []string {
	out := append([]string{}, b.head...)
	out = append(out, b.body...)
	return append(out, b.tail...)
}

const (
	ansiReset  = "\x1b[0m"
	ansiGreen  = "\x1b[32m"
	ansiYellow = "\x1b[33m"
	ansiRed    = "\x1b[31m"
	ansiBold   = "\x1b[1m"
)

type painter bool

func (p painter) sym(s string) string {
	if !p {
		return s
	}
	switch s {
	case "+":
		return ansiGreen + s + ansiReset
	case "~":
		return ansiYellow + s + ansiReset
	case "-":
		return ansiRed + s + ansiReset
	case "-/+":
		return ansiRed + "-" + ansiReset + "/" + ansiGreen + "+" + ansiReset
	}
	return s
}

func (p painter) bold(s string) string {
	if !p {
		return s
	}
	return ansiBold + s + ansiReset
}

func key(c plan.Change) string { return strings.TrimPrefix(c.Address, string(c.Kind)+".") }

func verb(a plan.Action) string {
	switch a {
	case plan.Create:
		return "will be created"
	case plan.Update:
		return "will be updated in-place"
	case plan.Delete:
		return "will be destroyed"
	case plan.Replace:
		return "must be replaced"
	}
	return "will change"
}

// blockOf renders one change.
func blockOf(c plan.Change, pt painter) block {
	var b block
	title := fmt.Sprintf("%s %q", c.Kind, key(c))
	if c.Name != "" && c.Name != key(c) {
		title += fmt.Sprintf(" (%s)", Inert(c.Name))
	}
	b.head = append(b.head, pt.bold(fmt.Sprintf("  # %s %s", title, verb(c.Action))))
	if c.Reason != "" {
		if c.Action == plan.Replace {
			b.head = append(b.head, fmt.Sprintf("  # (because %s)", Inert(c.Reason)))
		} else {
			b.head = append(b.head, fmt.Sprintf("  # (%s)", Inert(c.Reason)))
		}
	}
	b.head = append(b.head, fmt.Sprintf("%s %s %q {", pt.sym(c.Action.Symbol()), c.Kind, key(c)))
	before := flatten(c.Kind, c.Before, nil)
	after := flatten(c.Kind, c.After, c.Refs)
	keys := sortedKeys(before, after)
	type row struct {
		sym    string
		name   string
		bv, av attr
		change bool
	}
	var rows []row
	unchanged := 0
	for _, k := range keys {
		bv, inB := before[k]
		av, inA := after[k]
		switch c.Action {
		case plan.Create:
			if inA && !blank(av) {
				rows = append(rows, row{"+", k, attr{}, av, false})
			}
		case plan.Delete:
			if inB && !blank(bv) {
				rows = append(rows, row{"-", k, bv, attr{}, false})
			}
		default:
			switch {
			case inA && inB && av.cmp == bv.cmp:
				unchanged++
			case inA && inB:
				rows = append(rows, row{"~", k, bv, av, true})
			case inA:
				rows = append(rows, row{"+", k, attr{}, av, false})
			default:
				rows = append(rows, row{"-", k, bv, attr{}, false})
			}
		}
	}
	width := 0
	for _, r := range rows {
		if len(r.name) > width {
			width = len(r.name)
		}
	}
	for _, r := range rows {
		name := r.name + strings.Repeat(" ", width-len(r.name))
		b.body = append(b.body, attrLines(pt, r.sym, name, r.bv, r.av, r.change)...)
	}
	if unchanged > 0 {
		s := "s"
		if unchanged == 1 {
			s = ""
		}
		b.body = append(b.body, fmt.Sprintf("        # (%d unchanged attribute%s hidden)", unchanged, s))
	}
	b.tail = []string{"    }"}
	return b
}

// blank reports an empty string or list, which creates and deletes leave out.
func blank(a attr) bool { return a.cmp == `""` || a.cmp == "[]" || a.cmp == "null" }

// attrLines renders one attribute: `+ name = value`, `~ name = old -> new`,
// or a line diff for multi-line strings.
func attrLines(pt painter, sym, name string, bv, av attr, change bool) []string {
	prefix := "      " + pt.sym(sym) + " " + name + " = "
	if av.multi || bv.multi {
		out := []string{prefix + "<<-EOT"}
		out = append(out, scriptDiff(pt, bv.text, av.text, sym)...)
		return append(out, "        EOT")
	}
	switch {
	case change && av.show == plan.Masked && bv.show == plan.Masked:
		return []string{prefix + plan.Masked}
	case change:
		return []string{prefix + bv.show + " -> " + av.show}
	case sym == "-":
		return []string{prefix + bv.show + " -> null"}
	}
	return []string{prefix + av.show}
}

// scriptContext is how many unchanged lines are kept around a change.
const scriptContext = 2

// scriptDiff is a unified line diff of two scripts (go-diff, line mode).
func scriptDiff(pt painter, old, new, sym string) []string {
	old, new = strings.ReplaceAll(old, "\r\n", "\n"), strings.ReplaceAll(new, "\r\n", "\n")
	dmp := diffmatchpatch.New()
	a, b, lines := dmp.DiffLinesToChars(old, new)
	diffs := dmp.DiffCharsToLines(dmp.DiffMain(a, b, false), lines)
	type line struct {
		op   string
		text string
	}
	var all []line
	for _, d := range diffs {
		op := " "
		switch d.Type {
		case diffmatchpatch.DiffInsert:
			op = "+"
		case diffmatchpatch.DiffDelete:
			op = "-"
		}
		text := strings.TrimSuffix(d.Text, "\n")
		for _, l := range strings.Split(text, "\n") {
			all = append(all, line{op, l})
		}
	}
	keep := make([]bool, len(all))
	for i, l := range all {
		if l.op == " " && sym != "~" {
			keep[i] = true
		}
		if l.op != " " {
			for j := i - scriptContext; j <= i+scriptContext; j++ {
				if j >= 0 && j < len(all) {
					keep[j] = true
				}
			}
		}
	}
	var out []string
	skipped := 0
	flush := func() {
		if skipped > 0 {
			out = append(out, fmt.Sprintf("            # (%d unchanged lines hidden)", skipped))
			skipped = 0
		}
	}
	for i, l := range all {
		if !keep[i] {
			skipped++
			continue
		}
		flush()
		op := l.op
		if op != " " {
			op = pt.sym(op)
		}
		out = append(out, "          "+op+" "+InertLines(l.text))
	}
	flush()
	return out
}

// trailer is the text after the changes: unmanaged resources and notes.
func trailer(p *plan.Plan) []string {
	var out []string
	if len(p.Unmanaged) > 0 {
		out = append(out, "", "Not managed by this site (left alone):")
		for _, u := range p.Unmanaged {
			line := "  - " + Inert(u.Address)
			if u.Name != "" && u.Name != strings.TrimPrefix(u.Address, string(u.Kind)+".") {
				line += " (" + Inert(u.Name) + ")"
			}
			out = append(out, line)
		}
		out = append(out, "  # "+PruneHint(p.Unmanaged))
	}
	if len(p.Notes) > 0 {
		out = append(out, "", "Notes:")
		for _, n := range p.Notes {
			out = append(out, "  - "+Inert(n.Address)+": "+Inert(n.Text))
		}
	}
	return out
}

func blocksOf(p *plan.Plan, pt painter) []block {
	bs := make([]block, len(p.Changes))
	for i, c := range p.Changes {
		bs[i] = blockOf(c, pt)
	}
	return bs
}

// Text writes p as Terraform-like text.
func Text(w io.Writer, p *plan.Plan, opts TextOptions) error {
	pt := painter(opts.Color)
	var b strings.Builder
	if p.Empty() {
		b.WriteString(Summary(p) + "\n")
	} else {
		b.WriteString("gwsync will perform the following actions:\n\n")
		for _, bl := range blocksOf(p, pt) {
			for _, l := range bl.lines() {
				b.WriteString(l + "\n")
			}
			b.WriteString("\n")
		}
		b.WriteString(pt.bold(Summary(p)) + "\n")
	}
	for _, l := range trailer(p) {
		b.WriteString(l + "\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

package render

import (
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"

	"github.com/gwsync/gwsync/plan"
)

// MarkdownLimit is the size a pull-request comment is kept under (GitHub
// refuses comments over 65,536 characters; the rest is room for what a CI
// job adds around it).
const MarkdownLimit = 65000

// DigestMarker starts the hidden line of a markdown plan that holds the
// plan's digest (plan.Plan.Digest): a CI job finds the reviewed plan's
// digest in the pull-request comment by it.
const DigestMarker = "<!-- gwsync-plan-digest: "

// MarkdownUnfolded is the most lines of a plan's diff block (and then of
// the unmanaged list) shown outside a <details> fold: a small plan reads on
// the pull-request page without a click; a long one stays folded.
const MarkdownUnfolded = 40

// Markdown writes p as a pull-request comment: a header naming the gateway
// (EUI, channel plan) and the site, the summary line and a count of the
// changes by kind, the plan as a ```diff block (inside a <details> fold
// when it is over MarkdownUnfolded lines), the resources not managed by the site as a plain list (they are left
// alone, so they are not styled as deletions), notes, and the plan's
// digest. It stays under limit characters (MarkdownLimit when limit <= 0):
// first the unmanaged list is shortened, then the attribute lines of the
// largest changes are folded, then every change is listed on one line,
// and only then are the last of those lines left out, each step saying
// what it left out. The header, summary and counts are always shown.
func Markdown(w io.Writer, p *plan.Plan, limit int) error {
	if limit <= 0 {
		limit = MarkdownLimit
	}
	_, err := io.WriteString(w, markdown(p, limit))
	return err
}

func diffLine(l string) string {
	t := strings.TrimLeft(l, " ")
	if t == "" {
		return l
	}
	i := len(l) - len(t)
	rest := func(n int) string { return l[:i] + strings.Repeat(" ", n) + l[i+n:] }
	switch {
	case strings.HasPrefix(t, "-/+ "):
		return "!" + rest(3)
	case strings.HasPrefix(t, "+ "):
		return "+" + rest(1)
	case strings.HasPrefix(t, "- ") && i > 0:
		return "-" + rest(1)
	case strings.HasPrefix(t, "- "):
		return "-" + l[1:]
	case strings.HasPrefix(t, "~ "):
		return "!" + rest(1)
	}
	return " " + l
}

// sitePath is the site the plan was made from: its one YAML file, or the
// folder holding its files.
func sitePath(files []string) string {
	var yamls []string
	for _, f := range files {
		if ext := strings.ToLower(filepath.Ext(f)); ext == ".yaml" || ext == ".yml" {
			yamls = append(yamls, f)
		}
	}
	switch len(yamls) {
	case 0:
		return ""
	case 1:
		return yamls[0]
	}
	dir := filepath.Dir(yamls[0])
	for _, f := range yamls[1:] {
		for d := filepath.Dir(f); dir != "." && dir != "/" && d != dir && !strings.HasPrefix(d, dir+string(filepath.Separator)); {
			dir = filepath.Dir(dir)
		}
	}
	return dir + string(filepath.Separator)
}

// header is the comment's first lines: gateway and site, summary, counts.
func header(p *plan.Plan) string {
	var b strings.Builder
	var parts []string
	if p.GatewayEUI != "" {
		gw := "gateway " + mdCode(Inert(p.GatewayEUI))
		if p.ChannelPlan != "" {
			gw += " (" + mdEscape(Inert(p.ChannelPlan)) + ")"
		}
		parts = append(parts, gw)
	} else if p.ChannelPlan != "" {
		parts = append(parts, "channel plan "+mdEscape(Inert(p.ChannelPlan)))
	}
	if s := sitePath(p.SiteFiles); s != "" {
		parts = append(parts, "site "+mdCode(Inert(s)))
	}
	if len(parts) > 0 {
		b.WriteString("#### gwsync plan: " + strings.Join(parts, ", ") + "\n\n")
	}
	b.WriteString("**" + Summary(p) + "**\n")
	if p.Empty() {
		return b.String()
	}
	type count struct{ add, change, destroy int }
	counts := map[plan.Kind]*count{}
	var kinds []plan.Kind
	for _, c := range p.Changes {
		n := counts[c.Kind]
		if n == nil {
			n = &count{}
			counts[c.Kind] = n
			kinds = append(kinds, c.Kind)
		}
		switch c.Action {
		case plan.Create:
			n.add++
		case plan.Update:
			n.change++
		case plan.Delete:
			n.destroy++
		case plan.Replace:
			n.add++
			n.destroy++
		}
	}
	sort.Slice(kinds, func(i, j int) bool { return kinds[i] < kinds[j] })
	b.WriteString("\n| kind | to add | to change | to destroy |\n|---|---:|---:|---:|\n")
	for _, k := range kinds {
		n := counts[k]
		fmt.Fprintf(&b, "| %s | %d | %d | %d |\n", k, n.add, n.change, n.destroy)
	}
	return b.String()
}

// Fold levels of one change in the comment.
const (
	showFull    = iota // every line
	showHead           // attribute lines folded
	showOneLine        // one line: symbol, address, name
)

// mdState is how much of the plan the comment shows.
type mdState struct {
	level     []int  // per change
	omit      []bool // per change: left out
	omitted   int
	unmanaged int // unmanaged entries listed
}

func oneLine(c plan.Change) string {
	l := c.Action.Symbol() + " " + Inert(c.Address)
	if c.Name != "" && c.Name != strings.TrimPrefix(c.Address, string(c.Kind)+".") {
		l += " (" + Inert(c.Name) + ")"
	}
	return l
}

func markdown(p *plan.Plan, limit int) string {
	head := header(p)
	if p.Empty() && len(p.Unmanaged) == 0 && len(p.Notes) == 0 {
		return head
	}
	digest := fmt.Sprintf("\n%s%s -->\n", DigestMarker, p.Digest())
	bs := blocksOf(p, false)
	st := mdState{level: make([]int, len(bs)), omit: make([]bool, len(bs)), unmanaged: len(p.Unmanaged)}
	render := func() string {
		var out strings.Builder
		out.WriteString(head)
		shown := 0 // lines shown outside <details>
		if len(bs) > 0 {
			var b strings.Builder // the diff block, folded or not
			b.WriteString("```diff\n")
			folded, lines := 0, 0
			for i, bl := range bs {
				if st.omit[i] {
					continue
				}
				switch st.level[i] {
				case showOneLine:
					lines++
					b.WriteString(diffLine(oneLine(p.Changes[i])) + "\n")
					continue
				case showHead:
					folded++
				}
				for _, l := range bl.head {
					b.WriteString(diffLine(l) + "\n")
				}
				if st.level[i] == showHead {
					if len(bl.body) > 0 {
						fmt.Fprintf(&b, "         # (%d attribute lines folded to fit the comment)\n", len(bl.body))
					}
				} else {
					for _, l := range bl.body {
						b.WriteString(diffLine(l) + "\n")
					}
				}
				for _, l := range bl.tail {
					b.WriteString(diffLine(l) + "\n")
				}
				b.WriteString("\n")
			}
			if st.omitted > 0 {
				fmt.Fprintf(&b, " # … and %d more %s (counted in the table above)\n", st.omitted, omittedWhat(p, st.omit))
			}
			b.WriteString("```\n")
			var said []string
			if folded > 0 {
				said = append(said, fmt.Sprintf("the attribute lines of %s are folded", plural(folded, "change")))
			}
			if lines > 0 {
				said = append(said, fmt.Sprintf("%s shown on one line", plural(lines, "change")))
			}
			if st.omitted > 0 {
				said = append(said, fmt.Sprintf("%s left out", plural(st.omitted, "change")))
			}
			if len(said) > 0 {
				fmt.Fprintf(&b, "\n_To keep this comment under %d characters, %s; gwsync show PLANFILE shows them all._\n", limit, strings.Join(said, ", "))
			}
			if n := strings.Count(b.String(), "\n"); n <= MarkdownUnfolded {
				shown = n
				out.WriteString("\n" + b.String())
			} else {
				fmt.Fprintf(&out, "\n<details><summary>Show the plan (%s)</summary>\n\n%s\n</details>\n", plural(len(p.Changes), "change"), b.String())
				shown = MarkdownUnfolded + 1
			}
		}
		b := &out
		if n := len(p.Unmanaged); n > 0 {
			if shown+st.unmanaged+3 <= MarkdownUnfolded {
				fmt.Fprintf(b, "\nNot managed by this site, left alone (%d):\n\n", n)
			} else {
				fmt.Fprintf(b, "\n<details><summary>Not managed by this site, left alone (%d)</summary>\n\n", n)
			}
			for _, u := range p.Unmanaged[:st.unmanaged] {
				b.WriteString("* " + mdCode(Inert(u.Address)))
				if u.Name != "" && u.Name != strings.TrimPrefix(u.Address, string(u.Kind)+".") {
					b.WriteString(" " + mdEscape(Inert(u.Name)))
				}
				b.WriteString("\n")
			}
			if left := n - st.unmanaged; left > 0 {
				fmt.Fprintf(b, "* … and %d more (%s)\n", left, unmanagedCounts(p.Unmanaged[st.unmanaged:]))
			}
			hint := PruneHint(p.Unmanaged)
			fmt.Fprintf(b, "\n_%s._\n", strings.ToUpper(hint[:1])+hint[1:])
			if shown+st.unmanaged+3 > MarkdownUnfolded {
				b.WriteString("\n</details>\n")
			}
		}
		if len(p.Notes) > 0 {
			b.WriteString("\n**Notes**\n\n")
			for _, n := range p.Notes {
				fmt.Fprintf(b, "* %s: %s\n", mdCode(Inert(n.Address)), mdEscape(Inert(n.Text)))
			}
		}
		b.WriteString(digest)
		return b.String()
	}
	out := render()
	if len(out) <= limit {
		return out
	}
	// 1. shorten the unmanaged list
	for len(out) > limit && st.unmanaged > 0 {
		over := len(out) - limit
		for over > 0 && st.unmanaged > 0 {
			st.unmanaged--
			u := p.Unmanaged[st.unmanaged]
			over -= len(u.Address) + len(u.Name) + 6
		}
		out = render()
	}
	if len(out) <= limit {
		return out
	}
	// 2. fold attribute lines, largest changes first
	order := make([]int, len(bs))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return len(bs[order[a]].body) > len(bs[order[b]].body) })
	excess := len(out) - limit
	for _, i := range order {
		if excess <= 0 {
			break
		}
		if len(bs[i].body) == 0 {
			continue
		}
		size := 0
		for _, l := range bs[i].body {
			size += len(l) + 2
		}
		st.level[i] = showHead
		excess -= size - 60
	}
	if out = render(); len(out) <= limit {
		return out
	}
	// 3. one line per change
	for i := range st.level {
		st.level[i] = showOneLine
	}
	if out = render(); len(out) <= limit {
		return out
	}
	// 4. leave out the last lines: creates first, then updates; deletes
	// and replaces, what a reviewer must see, last
	var drop []int
	for _, a := range []plan.Action{plan.Create, plan.Update, plan.Replace, plan.Delete} {
		for i := len(p.Changes) - 1; i >= 0; i-- {
			if p.Changes[i].Action == a {
				drop = append(drop, i)
			}
		}
	}
	for len(out) > limit && len(drop) > 0 {
		over := len(out) - limit
		for over > 0 && len(drop) > 0 {
			i := drop[0]
			drop = drop[1:]
			st.omit[i] = true
			st.omitted++
			over -= len(oneLine(p.Changes[i])) + 2
		}
		out = render()
	}
	return out
}

// omittedWhat names the actions of the changes left out: "changes",
// "creates", "creates and updates".
func omittedWhat(p *plan.Plan, omit []bool) string {
	seen := map[plan.Action]bool{}
	for i, o := range omit {
		if o {
			seen[p.Changes[i].Action] = true
		}
	}
	var names []string
	for _, a := range []plan.Action{plan.Create, plan.Update, plan.Replace, plan.Delete} {
		if seen[a] {
			names = append(names, string(a)+"s")
		}
	}
	if len(names) == 0 || len(names) > 2 {
		return "changes"
	}
	return strings.Join(names, " and ")
}

// unmanagedCounts counts unmanaged resources by kind: "12 devices, 1 codec".
func unmanagedCounts(us []plan.Unmanaged) string {
	n := map[plan.Kind]int{}
	var kinds []plan.Kind
	for _, u := range us {
		if n[u.Kind] == 0 {
			kinds = append(kinds, u.Kind)
		}
		n[u.Kind]++
	}
	sort.Slice(kinds, func(i, j int) bool { return kinds[i] < kinds[j] })
	parts := make([]string, len(kinds))
	for i, k := range kinds {
		parts[i] = fmt.Sprintf("%s: %d", k, n[k])
	}
	return strings.Join(parts, ", ")
}

// mdEscape keeps a name from being read as markdown or HTML: an entity
// (&#8238;) would become the character Inert shows escaped.
func mdEscape(s string) string {
	r := strings.NewReplacer("\\", "\\\\", "`", "\\`", "*", "\\*", "_", "\\_", "<", "&lt;", ">", "&gt;", "&", "&amp;", "[", "\\[", "]", "\\]", "|", "\\|")
	return r.Replace(s)
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

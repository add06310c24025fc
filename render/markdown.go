package render

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/gwsync/gwsync/plan"
)

// MarkdownLimit is the size a pull-request comment is kept under (GitHub
// refuses comments over 65,536 characters).
const MarkdownLimit = 65000

// Markdown writes p as a pull-request comment: the summary line outside a
// <details> fold, and the plan inside as a ```diff block. It stays under
// limit characters (MarkdownLimit when limit <= 0) by folding the attribute
// lines of the largest changes first, then whole changes, saying how many
// were folded; the summary is never cut.
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

func markdown(p *plan.Plan, limit int) string {
	head := "**" + Summary(p) + "**\n"
	tr := trailer(p)
	if p.Empty() && len(tr) == 0 {
		return head
	}
	bs := blocksOf(p, false)
	folded := make([]int, len(bs))
	shown := len(bs)
	render := func() string {
		var b strings.Builder
		b.WriteString(head + "\n")
		fmt.Fprintf(&b, "<details><summary>Show the plan (%s)</summary>\n\n```diff\n", plural(len(p.Changes), "change"))
		foldedLines, foldedChanges := 0, 0
		for i, bl := range bs[:shown] {
			for _, l := range bl.head {
				b.WriteString(diffLine(l) + "\n")
			}
			if folded[i] > 0 {
				foldedLines += folded[i]
				fmt.Fprintf(&b, "         # (%d attribute lines folded to fit the comment)\n", folded[i])
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
		if shown < len(bs) {
			foldedChanges = len(bs) - shown
			fmt.Fprintf(&b, " # … %d more changes folded to fit the comment; run gwsync plan to see them all\n", foldedChanges)
		}
		for _, l := range tr {
			b.WriteString(diffLine(l) + "\n")
		}
		b.WriteString("```\n")
		if foldedLines > 0 || foldedChanges > 0 {
			fmt.Fprintf(&b, "\n_%d attribute lines and %d changes were folded to keep this comment under %d characters._\n", foldedLines, foldedChanges, limit)
		}
		b.WriteString("\n</details>\n")
		return b.String()
	}
	out := render()
	if len(out) <= limit {
		return out
	}
	// fold attribute lines, largest changes first
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
		folded[i] = len(bs[i].body)
		excess -= size - 60
	}
	out = render()
	// then whole changes, from the end
	for len(out) > limit && shown > 0 {
		over := len(out) - limit
		for over > 0 && shown > 0 {
			shown--
			for _, l := range bs[shown].head {
				over -= len(l) + 2
			}
			over -= 80
		}
		out = render()
	}
	if len(out) > limit { // even the trailer does not fit: keep the summary
		return head + "\n_The plan is too large for a comment; run gwsync plan to see it._\n"
	}
	return out
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

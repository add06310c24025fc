package render_test

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gwsync/gwsync/plan"
	"github.com/gwsync/gwsync/render"
)

func TestInert(t *testing.T) {
	for _, tc := range []struct{ in, want, lines string }{
		{"em300-th-01", "em300-th-01", "em300-th-01"},
		{"Temp & humidity °C …", "Temp & humidity °C …", "Temp & humidity °C …"},
		{"\x1b[2J\x1b[H No changes.", `\x1b[2J\x1b[H No changes.`, `\x1b[2J\x1b[H No changes.`},
		{"a\nb\tc\rd", `a\nb\tc\rd`, "a\nb\tc\\rd"},
		{"\x7f\u0085\u009b31m", `\x7f\u0085\u009b31m`, `\x7f\u0085\u009b31m`},
		{"abc\u202edcba\u2066x\u2069\u200b\ufeff", `abc\u202edcba\u2066x\u2069\u200b\ufeff`, `abc\u202edcba\u2066x\u2069\u200b\ufeff`},
		{"\xff\xfe ok", `\xff\xfe ok`, `\xff\xfe ok`},
		{`C:\path\n`, `C:\path\n`, `C:\path\n`},
	} {
		if got := render.Inert(tc.in); got != tc.want {
			t.Errorf("Inert(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if got := render.InertLines(tc.in); got != tc.lines {
			t.Errorf("InertLines(%q) = %q, want %q", tc.in, got, tc.lines)
		}
	}
}

// TestInertRandom: whatever the input, the output is valid UTF-8 of
// printable characters (and, for InertLines, line feeds and tabs).
func TestInertRandom(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 1))
	pool := []rune("ab \\\x00\x07\x08\x1b\x7f\n\r\t\u0080\u0085\u009b\u00a0\u061c\u200b\u200e\u200f\u2028\u2029\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\ufeff\ue000é😀")
	for i := 0; i < 20000; i++ {
		var b strings.Builder
		for n := rng.IntN(20); n > 0; n-- {
			if rng.IntN(10) == 0 {
				b.WriteByte(byte(0x80 + rng.IntN(0x80))) // a stray byte
			} else {
				b.WriteRune(pool[rng.IntN(len(pool))])
			}
		}
		in := b.String()
		for _, lines := range []bool{false, true} {
			out := render.Inert(in)
			if lines {
				out = render.InertLines(in)
			}
			if !utf8.ValidString(out) {
				t.Fatalf("seed %d: %q gives invalid UTF-8 %q", seed, in, out)
			}
			for _, r := range out {
				if r == ' ' || unicode.IsPrint(r) || lines && (r == '\n' || r == '\t') {
					continue
				}
				t.Fatalf("seed %d: %q (lines %v) gives %q, which holds %U", seed, in, lines, out, r)
			}
		}
	}
}

func TestCodeBlockCannotBeClosedFromInside(t *testing.T) {
	text := "Error: device x: ns-api error 5: bad\n```\n</details>\n# Approved\n````"
	got := render.CodeBlock("", text)
	fence := "`````"
	want := fence + "\n" + text + "\n" + fence + "\n"
	if got != want {
		t.Errorf("CodeBlock = %q, want %q", got, want)
	}
	if got := render.CodeBlock("diff", "+ a"); got != "```diff\n+ a\n```\n" {
		t.Errorf("CodeBlock of plain text = %q", got)
	}
}

// TestMarkdownValuesStayInTheirSpans: a backtick, an HTML entity or a
// line break in a name read from the gateway cannot end its code span,
// become a character, or start a line of its own.
func TestMarkdownValuesStayInTheirSpans(t *testing.T) {
	p := &plan.Plan{FormatVersion: 1, GatewayEUI: "24E124FFFEF5A6A8",
		Unmanaged: []plan.Unmanaged{
			{Address: "codec.a`b", Kind: plan.KindCodec},
			{Address: "device.24E1240000000001", Kind: plan.KindDevice, Name: "&#8238;x\n```\n</details>"},
		},
		Notes: []plan.Note{{Address: "codec.``x", Text: "see <b>\n# heading"}},
	}
	var b strings.Builder
	if err := render.Markdown(&b, p, 0); err != nil {
		t.Fatal(err)
	}
	md := b.String()
	for _, want := range []string{
		"* ``codec.a`b``\n",
		"* `device.24E1240000000001` &amp;#8238;x\\\\n\\`\\`\\`\\\\n&lt;/details&gt;\n",
		"* ```codec.``x```: see &lt;b&gt;\\\\n# heading\n",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	if strings.Count(md, "</details>") != strings.Count(md, "<details>") {
		t.Errorf("a value closed a <details> fold:\n%s", md)
	}
}

package render

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Inert is s made safe to print: every character that is not a printable
// one (unicode.IsPrint, or a plain space) is shown as its Go escape, as
// strconv.Quote writes it: C0 controls and DEL as \x1b, \n, \t; C1
// controls, bidirectional overrides and isolates (U+202A–U+202E,
// U+2066–U+2069), zero-width and other format characters as \u202e; bytes
// that are not UTF-8 as \xff. So text from a gateway or a site cannot
// move the terminal's cursor, clear the screen, change colours or reorder
// what is shown around it (CVE-2021-42574, "Trojan Source"). A backslash
// is left as it is: scripts are full of them. The JSON plan keeps the
// exact value; Inert is for what people read.
func Inert(s string) string { return inert(s, false) }

// InertLines is Inert keeping line feeds and tabs: for messages of several
// lines and script text. A carriage return is still shown as \r: it
// would let a line overwrite itself.
func InertLines(s string) string { return inert(s, true) }

func inert(s string, lines bool) string {
	i := 0
	for i < len(s) {
		c := s[i]
		if c >= 0x20 && c < 0x7f {
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if !safe(r, n, lines) {
			break
		}
		i += n
	}
	if i == len(s) {
		return s // the common case: nothing to escape, no copy
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	b.WriteString(s[:i])
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		if safe(r, n, lines) {
			b.WriteString(s[i : i+n])
		} else {
			q := strconv.Quote(s[i : i+n])
			b.WriteString(q[1 : len(q)-1])
		}
		i += n
	}
	return b.String()
}

// safe reports a rune that prints as itself.
func safe(r rune, n int, lines bool) bool {
	switch {
	case r == utf8.RuneError && n == 1:
		return false
	case lines && (r == '\n' || r == '\t'):
		return true
	}
	return r == ' ' || unicode.IsPrint(r)
}

// mdCode is s as a markdown code span that s cannot close: fenced by one
// more backtick than the longest run of them in s.
func mdCode(s string) string {
	run, longest := 0, 0
	for i := 0; i < len(s); i++ {
		if s[i] == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	fence := strings.Repeat("`", longest+1)
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") {
		return fence + " " + s + " " + fence
	}
	return fence + s + fence
}

// CodeBlock is text as a fenced markdown code block that no line of it
// can close: the fence is longer than any run of backticks in text, and
// text is made inert (InertLines) first.
func CodeBlock(lang, text string) string {
	text = InertLines(text)
	run, longest := 0, 0
	for i := 0; i < len(text); i++ {
		if text[i] == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	fence := strings.Repeat("`", max(3, longest+1))
	return fence + lang + "\n" + strings.TrimRight(text, "\n") + "\n" + fence + "\n"
}

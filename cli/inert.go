package cli

import (
	"io"
	"unicode/utf8"

	"github.com/gwsync/gwsync/render"
)

// inertWriter makes what is written inert (render.InertLines) on its way
// to w: nothing gwsync writes to stderr needs a control character, and
// messages there quote names, paths and errors from sites and gateways.
// A UTF-8 sequence cut by the end of one Write is held for the next.
type inertWriter struct {
	w    io.Writer
	tail []byte
}

func (iw *inertWriter) Write(p []byte) (int, error) {
	b := append(iw.tail, p...)
	iw.tail = nil
	// Hold back an incomplete rune at the end (at most 3 bytes).
	for k := 1; k <= 3 && k <= len(b); k++ {
		if i := len(b) - k; utf8.RuneStart(b[i]) {
			if !utf8.FullRune(b[i:]) {
				iw.tail = append([]byte(nil), b[i:]...)
				b = b[:i]
			}
			break
		}
	}
	if _, err := io.WriteString(iw.w, render.InertLines(string(b))); err != nil {
		return 0, err
	}
	return len(p), nil
}

// inertStdout is env with its stdout made inert too, for commands whose
// output is plain text (no colours, no redraws).
func inertStdout(env *Env) *Env {
	e := *env
	e.Stdout = &inertWriter{w: env.Stdout}
	return &e
}

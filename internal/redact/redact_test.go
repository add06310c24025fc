package redact

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
	"unicode"
)

func TestURL(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"tcp://127.0.0.1:1883", "tcp://127.0.0.1:1883"},
		{"tcp://gwsync@127.0.0.1:1883", "tcp://gwsync@127.0.0.1:1883"},
		{"tcp://gwsync:s3cret@10.0.0.1:1883", "tcp://gwsync:xxxxx@10.0.0.1:1883"},
		{"ssl://u:p%25w@host:8883", "ssl://u:xxxxx@host:8883"},
		// does not parse: a raw %, a space, a control character
		{"tcp://u:ab%zz@host:1883", "tcp://xxxxx@host:1883"},
		{"tcp://u:a b@host:1883", "tcp://xxxxx@host:1883"},
		{"tcp://u:a\x1bb@host:1883", "tcp://xxxxx@host:1883"},
		{"tcp://u:a%@host:1883", "tcp://xxxxx@host:1883"},
		// parses, but the password went into the path, query or fragment
		{"tcp://u:ab/cd@host:1883", "tcp://xxxxx@host:1883"},
		{"tcp://u:ab?cd@host:1883", "tcp://xxxxx@host:1883"},
		{"tcp://u:ab#cd@host:1883", "tcp://xxxxx@host:1883"},
		{"tcp://u:a@b@host:1883", "tcp://u:xxxxx@host:1883"},
		// no scheme
		{"u:secret@host:1883", "xxxxx@host:1883"},
		// control characters outside the userinfo are shown, not sent
		{"tcp://ho\x1b[2Jst:1883", `tcp://ho\x1b[2Jst:1883`},
		{"sim://state.json", "sim://state.json"},
	} {
		if got := URL(tc.in); got != tc.want {
			t.Errorf("URL(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestParseURLNamesThePartNotTheURL(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"tcp://u:Pw-H4NT%zz@host:1883", `broker tcp://xxxxx@host:1883: the user name or password in the URL holds a "%" that is not followed by two hex digits`},
		{"tcp://u:Pw-H4NT x@host:1883", "broker tcp://xxxxx@host:1883: the user name or password in the URL holds a space"},
		{"tcp://u:Pw-H4NT\x01@host:1883", "broker tcp://xxxxx@host:1883: the user name or password in the URL holds a control character"},
		{"tcp://ho st:1883", "broker tcp://ho st:1883: the host holds a space"},
		{"tcp://host:1883/a%z", `broker tcp://host:1883/a%z: the path holds a "%" that is not followed by two hex digits`},
		{"1tcp:/x", "broker 1tcp:/x: not a URL"},
	} {
		_, err := ParseURL(tc.in)
		if err == nil {
			t.Errorf("ParseURL(%q): no error", tc.in)
			continue
		}
		if !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("ParseURL(%q) = %q, want it to start with %q", tc.in, err, tc.want)
		}
		if strings.Contains(err.Error(), "Pw-H4NT") {
			t.Errorf("ParseURL(%q) shows the password: %v", tc.in, err)
		}
	}
	if u, err := ParseURL("tcp://u:p@host:1883"); err != nil || u.Host != "host:1883" {
		t.Errorf("ParseURL of a good URL = %v, %v", u, err)
	}
}

// TestURLNeverShowsThePassword tries random passwords of the characters
// that break URLs; neither URL nor ParseURL's error may show any of them.
func TestURLNeverShowsThePassword(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 0))
	alphabet := []rune("aZ09-._~%:/?#[]@!$&'()*+,;= \t\x00\x01\x1b\x7f\u0085\u202e\u00e9\U0001F600\\\"")
	schemes := []string{"tcp://", "ssl://", "ws://", "wss://", "", "mqtt://"}
	for i := 0; i < 20000; i++ {
		var pw strings.Builder
		for n := 1 + rng.IntN(12); n > 0; n-- {
			pw.WriteRune(alphabet[rng.IntN(len(alphabet))])
		}
		secret := "Pw-H4NT-" + pw.String() + "-END"
		raw := schemes[rng.IntN(len(schemes))] + "user:" + secret + "@broker.example:1883"
		if rng.IntN(4) == 0 {
			raw += "/mqtt"
		}
		shown := URL(raw)
		_, perr := ParseURL(raw)
		for _, s := range []string{shown, fmt.Sprint(perr)} {
			if strings.Contains(s, "H4NT") || strings.Contains(s, "-END") {
				t.Fatalf("seed %d: %q is shown as %q", seed, raw, s)
			}
			if strings.IndexFunc(s, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 {
				t.Fatalf("seed %d: %q is shown with a control character: %q", seed, raw, s)
			}
		}
		for _, p := range URLPasswords(raw) {
			if strings.Contains(p, "H4NT") {
				goto found
			}
		}
		t.Fatalf("seed %d: URLPasswords(%q) = %q, misses the password", seed, raw, URLPasswords(raw))
	found:
	}
}

func TestError(t *testing.T) {
	base := fmt.Errorf("dial ws://u:Pw%%2FH4NT@host/ (password Pw/H4NT): %w", fs.ErrNotExist)
	err := Error(base, Secrets("Pw/H4NT"))
	if strings.Contains(err.Error(), "H4NT") {
		t.Errorf("Error shows the password: %v", err)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("errors.Is lost through Error: %v", err)
	}
	if e := errors.New("nothing secret"); Error(e, Secrets("Pw/H4NT")) != e {
		t.Error("Error wrapped an error that shows no secret")
	}
	if Error(nil, Secrets("x")) != nil {
		t.Error("Error(nil) is not nil")
	}
	if got := Secrets("ab", ""); len(got) != 0 {
		t.Errorf("Secrets of short passwords = %q, want none (they would mask every message)", got)
	}
}

func TestParseURLSlashInPassword(t *testing.T) {
	_, err := ParseURL("tcp://u:Pw-H4NT/x@127.0.0.1:1")
	want := `broker tcp://xxxxx@127.0.0.1:1: the user name or password in the URL holds a "/", "?" or "#"`
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("ParseURL = %v, want %q…", err, want)
	}
}

func TestWithoutUserinfo(t *testing.T) {
	for in, want := range map[string]string{
		"tcp://u:Pw-H4NT%zz@host:1883": "tcp://host:1883",
		"tcp://u:Pw@H4NT@host:1883":    "tcp://host:1883",
		"tcp://host:1883":              "tcp://host:1883",
		"u:Pw-H4NT@host":               "host",
	} {
		if got := WithoutUserinfo(in); got != want {
			t.Errorf("WithoutUserinfo(%q) = %q, want %q", in, got, want)
		}
	}
}

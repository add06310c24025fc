// Package redact keeps credentials out of what gwsync prints and writes. A
// broker URL may carry a user name and password (tcp://user:pass@host);
// every message that names a broker shows it through URL, which hides the
// password even when the URL does not parse, and every error that could
// quote one passes through Error, which also removes the password itself
// wherever it appears. It is not a general secret scanner: it removes what
// it is told or can see in a URL's userinfo.
package redact

import (
	"fmt"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Mask stands for a removed password.
const Mask = "xxxxx"

// URL is raw as shown in messages: a password in its userinfo replaced by
// Mask. A URL that does not parse, or whose path, query or fragment holds an
// "@" (a password with a raw "/", "?" or "#"), keeps nothing between "://"
// and the last "@", so a password with a raw "%", a space or a control
// character is hidden too. It never fails.
func URL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || !userinfoParsed(u) {
		return byHand(raw)
	}
	if u.User == nil {
		return visible(raw)
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), Mask)
	}
	return visible(u.String())
}

// userinfoParsed reports that the parsed u holds any userinfo raw had: no
// "@" was left in a part after the host ("user:pass@host:1883" with no
// scheme parses as scheme "user" and opaque "pass@host:1883").
func userinfoParsed(u *url.URL) bool {
	for _, s := range []string{u.Opaque, u.Path, u.RawPath, u.RawQuery, u.Fragment} {
		if strings.Contains(s, "@") {
			return false
		}
	}
	return true
}

// byHand drops everything from after "://" (the start when there is none)
// to the last "@", for URLs whose userinfo url.Parse did not find.
func byHand(raw string) string {
	prefix, rest := splitScheme(raw)
	if i := strings.LastIndex(rest, "@"); i >= 0 {
		rest = Mask + "@" + rest[i+1:]
	}
	return visible(prefix + rest)
}

// WithoutUserinfo is raw with everything between "://" (the start when
// there is none) and the last "@" left out: what names a broker whoever
// logs in, as in a lock's name.
func WithoutUserinfo(raw string) string {
	prefix, rest := splitScheme(raw)
	if i := strings.LastIndex(rest, "@"); i >= 0 {
		rest = rest[i+1:]
	}
	return visible(prefix + rest)
}

// splitScheme splits raw after its "SCHEME://", when it starts with one;
// a "://" after anything but a scheme's letters is part of the password.
func splitScheme(raw string) (prefix, rest string) {
	scheme, r, ok := strings.Cut(raw, "://")
	if !ok || !isScheme(scheme) {
		return "", raw
	}
	return scheme + "://", r
}

// isScheme reports a URL scheme: a letter, then letters, digits, + - .
func isScheme(s string) bool {
	for i, r := range s {
		letter := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z'
		if !letter && (i == 0 || !(r >= '0' && r <= '9' || r == '+' || r == '-' || r == '.')) {
			return false
		}
	}
	return s != ""
}

// visible shows control characters and invalid bytes as escapes, so that a
// URL quoted in a message cannot move the terminal's cursor.
func visible(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case !unicode.IsPrint(r):
			if r < 0x80 {
				fmt.Fprintf(&b, `\x%02x`, r)
			} else {
				fmt.Fprintf(&b, `\u%04x`, r)
			}
		default:
			b.WriteRune(r)
		}
		i += n
	}
	return b.String()
}

// ParseURL parses a broker URL. Its error never quotes the URL: it shows it
// through URL and names the part that is wrong, so a password that does
// not parse is not printed.
func ParseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err == nil {
		return u, nil
	}
	return nil, fmt.Errorf("broker %s: %s", URL(raw), whatIsWrong(raw))
}

// whatIsWrong says which part of a URL that failed to parse is at fault,
// without quoting it.
func whatIsWrong(raw string) string {
	prefix, rest := splitScheme(raw)
	if prefix == "" {
		return "not a URL: want SCHEME://HOST:PORT (tcp://HOST:1883)"
	}
	hostEnd := len(rest)
	if i := strings.IndexAny(rest, "/?#"); i >= 0 && !strings.Contains(rest[i:], "@") {
		hostEnd = i
	}
	authority := rest[:hostEnd]
	if i := strings.LastIndex(authority, "@"); i >= 0 {
		userinfo := authority[:i]
		why := badPart(userinfo)
		if why == "" && strings.ContainsAny(userinfo, "/?#") {
			why = `holds a "/", "?" or "#"`
		}
		if why != "" {
			return "the user name or password in the URL " + why +
				": percent-encode it (% as %25, a space as %20, / as %2F), or leave it out of the URL and set connection.password or GWSYNC_PASSWORD"
		}
		authority = authority[i+1:]
	}
	if p := badPart(authority); p != "" {
		return "the host " + p
	}
	if p := badPart(rest[hostEnd:]); p != "" {
		return "the path " + p
	}
	return "the host or port is not valid: want tcp://HOST:PORT"
}

// badPart names what makes a part of a URL invalid, or "".
func badPart(s string) string {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '%':
			if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
				return `holds a "%" that is not followed by two hex digits`
			}
		case c == ' ':
			return "holds a space"
		case c < 0x20 || c == 0x7f:
			return "holds a control character"
		}
	}
	return ""
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// Secrets are the strings an error must not show: passwords, in clear and
// as they appear in a URL.
func Secrets(passwords ...string) []string {
	var out []string
	seen := map[string]bool{}
	add := func(s string) {
		// A secret of one or two characters would mask half of every
		// message; such a password is not worth hiding from its own
		// error text.
		if len(s) < 3 || seen[s] {
			return
		}
		seen[s] = true
		out = append(out, s)
	}
	for _, p := range passwords {
		add(p)
		add(url.QueryEscape(p))
		add(url.PathEscape(p))
		add(url.UserPassword("", p).String()[1:])
	}
	return out
}

// URLPasswords are the passwords raw's userinfo may hold: as parsed, and
// as found by hand (everything between the first ":" after "://" and the
// last "@"), which differ when the password holds a raw "/", "?" or "#".
func URLPasswords(raw string) []string {
	var out []string
	if u, err := url.Parse(raw); err == nil && u.User != nil {
		if p, ok := u.User.Password(); ok {
			out = append(out, p)
		}
	}
	_, rest := splitScheme(raw)
	if i := strings.LastIndex(rest, "@"); i >= 0 {
		userinfo := rest[:i]
		if _, p, ok := strings.Cut(userinfo, ":"); ok {
			userinfo = p
		}
		out = append(out, userinfo)
	}
	return out
}

// String is s with every secret replaced by Mask.
func String(s string, secrets []string) string {
	for _, p := range secrets {
		if p != "" && strings.Contains(s, p) {
			s = strings.ReplaceAll(s, p, Mask)
		}
	}
	return s
}

// Error is err with every secret replaced by Mask in its message; errors.Is
// and errors.As still see err. A nil err, or one that shows no secret, is
// returned as is.
func Error(err error, secrets []string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	clean := String(msg, secrets)
	if clean == msg {
		return err
	}
	return &redacted{msg: clean, err: err}
}

type redacted struct {
	msg string
	err error
}

func (e *redacted) Error() string { return e.msg }
func (e *redacted) Unwrap() error { return e.err }

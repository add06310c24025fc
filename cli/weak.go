package cli

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/gwsync/gwsync/internal/redact"
	"github.com/gwsync/gwsync/site"
)

// forbidInsecure reports GWSYNC_FORBID_INSECURE or --forbid-insecure. A
// value that is not a boolean counts as set: a CI that meant to forbid
// must not be let through by a typo.
func forbidInsecure(env *Env, f ConnFlags) bool {
	if f.ForbidInsecure {
		return true
	}
	v := strings.TrimSpace(env.getenv("GWSYNC_FORBID_INSECURE"))
	if v == "" {
		return false
	}
	on, err := strconv.ParseBool(v)
	return on || err != nil
}

// getenv is env.Getenv, or nothing when it is not set.
func (env *Env) getenv(k string) string {
	if env == nil || env.Getenv == nil {
		return ""
	}
	return env.Getenv(k)
}

// weakSettings checks the resolved connection c for settings that weaken
// what the broker connection guarantees: TLS not verified (--insecure, the
// site's insecureSkipVerify), a password sent in clear to another host
// (tcp://, ws://), and a CA file the site names. Each is a warning; with
// GWSYNC_FORBID_INSECURE=1 or --forbid-insecure each is an error, returned
// before anything is dialled. conn is the site's connection block (nil
// when there is none): a CA file it names replaces the system's roots
// with what a pull request may have put in the repository, so under the
// forbid it is refused, while --ca-file (the CI's own choice) is not.
func weakSettings(env *Env, f ConnFlags, conn *site.Connection, c connection) (warnings []string, err error) {
	if strings.HasPrefix(c.broker, "sim://") {
		return nil, nil // in-process: no network, no TLS
	}
	forbid := forbidInsecure(env, f)
	broker := redact.URL(c.broker)
	var problems []string
	if c.insecure {
		var from []string
		if f.Insecure {
			from = append(from, "--insecure")
		}
		if conn != nil && conn.InsecureSkipVerify {
			from = append(from, "the site's connection.insecureSkipVerify")
		}
		problems = append(problems, fmt.Sprintf("the TLS certificate of broker %s is not verified (%s): whoever sits between here and the broker can read the password and answer for the gateway",
			broker, strings.Join(from, " and ")))
	}
	if c.password != "" && cleartext(c.broker) {
		problems = append(problems, fmt.Sprintf("the MQTT password is sent in clear to broker %s, which is not this machine: use ssl:// or wss://", broker))
	}
	if forbid && conn != nil && conn.CAFile != "" && f.CAFile == "" {
		problems = append(problems, fmt.Sprintf("the site names a CA file (connection.caFile %s), which replaces the system's trusted roots for broker %s: give it with --ca-file instead",
			conn.CAFile, broker))
	}
	if len(problems) == 0 {
		return nil, nil
	}
	if forbid {
		return nil, fmt.Errorf("insecure connection refused (GWSYNC_FORBID_INSECURE or --forbid-insecure): %s; nothing was sent", strings.Join(problems, "; "))
	}
	for _, p := range problems {
		warnings = append(warnings, "Warning: "+p+" (GWSYNC_FORBID_INSECURE=1 makes this an error).")
	}
	return warnings, nil
}

// cleartext reports a broker URL without TLS (tcp://, mqtt://, ws://) whose
// host is not this machine. Host names other than localhost are not
// resolved: a name is taken as another host.
func cleartext(broker string) bool {
	u, err := url.Parse(broker)
	if err != nil {
		scheme, _, _ := strings.Cut(broker, "://")
		return scheme == "tcp" || scheme == "mqtt" || scheme == "ws"
	}
	switch u.Scheme {
	case "tcp", "mqtt", "ws":
	default:
		return false
	}
	return !loopback(u.Hostname())
}

// loopback reports a host that is this machine: localhost, 127.0.0.0/8,
// ::1.
func loopback(host string) bool {
	if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// warnOnce prints each warning to stderr once per run (a fleet's sites
// share the run, and its stderr).
func warnOnce(env *Env, warnings []string) {
	to := env.Stderr
	if env.warnTo != nil {
		to = env.warnTo
	}
	for _, w := range warnings {
		if env.warned != nil {
			if _, seen := env.warned.LoadOrStore(w, true); seen {
				continue
			}
		}
		fmt.Fprintln(to, w)
	}
}

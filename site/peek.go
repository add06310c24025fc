package site

import (
	"bytes"
	"os"

	"go.yaml.in/yaml/v4"

	"github.com/gwsync/gwsync/internal/safefile"
)

// Peek reads only the gateway and connection blocks of the site's files:
// what a client needs to reach the gateway, in a small part of the time a
// full Load of a large site takes. A command can then read the gateway
// while the site loads. It is a guess, never a check: it reports nothing,
// and ok is false when it finds nothing usable. A caller uses what it
// connected with only if the full Load gives the same settings.
func Peek(opts Options, paths ...string) (conn Connection, gw Gateway, ok bool) {
	if opts.LookupEnv == nil {
		opts.LookupEnv = os.LookupEnv
	}
	l := newLoader(opts)
	for _, file := range l.collect(paths) {
		var root *safefile.Root
		if l.walked[file] {
			root = l.roots[file]
		}
		data, err := l.readFile(file, safefile.Site, root)
		if err != nil {
			continue
		}
		head := topLevelBlocks(data, "gateway", "connection")
		if len(head) == 0 {
			continue
		}
		var doc yaml.Node
		if yaml.Unmarshal(head, &doc) != nil || len(doc.Content) == 0 {
			return Connection{}, Gateway{}, false
		}
		if root := l.newMapping(file, "", doc.Content[0]); root != nil {
			l.decode(root)
		}
	}
	if _, given := l.single["connection"]; given {
		l.resolveSecrets()
	}
	if l.probs.HasErrors() {
		return Connection{}, Gateway{}, false
	}
	return l.site.Connection, l.site.Gateway, true
}

// topLevelBlocks cuts out of a YAML file the top-level entries named keys,
// each from its key's line to the next line that starts another top-level
// entry (in column 1, not a comment). A file written another way (a flow
// mapping, a key in quotes) yields less or nothing; Peek is only a guess.
func topLevelBlocks(data []byte, keys ...string) []byte {
	var out []byte
	in := false
	for len(data) > 0 {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i+1], data[i+1:]
		} else {
			data = nil
		}
		if len(line) > 0 && line[0] != ' ' && line[0] != '\t' && line[0] != '#' && line[0] != '\n' && line[0] != '\r' {
			in = false
			for _, k := range keys {
				if rest, ok := bytes.CutPrefix(line, []byte(k)); ok && len(rest) > 0 && rest[0] == ':' {
					in = true
				}
			}
		}
		if in {
			out = append(out, line...)
		}
	}
	return out
}

package cli

import (
	"fmt"
	"sort"
	"strings"

	"github.com/alecthomas/kong"
)

// CompletionCmd is `gwsync completion bash|zsh|fish`: a completion script
// of gwsync's commands and their flags, made from the grammar itself.
type CompletionCmd struct {
	Shell string `arg:"" enum:"bash,zsh,fish" help:"The shell: bash, zsh or fish."`
}

// compCmd is one command, its help line and its flags.
type compCmd struct {
	name, help string
	subs       []string // subcommands (fuota retry)
	node       *kong.Node
	flags      []compFlag
	enums      map[string][]string // flag → its values
}

type compFlag struct {
	name, help string
	takesValue bool
}

// commandsOf lists the grammar's commands and flags, sorted.
func commandsOf(app *kong.Application) []compCmd {
	var global []compFlag
	for _, f := range app.Flags {
		if !f.Hidden {
			global = append(global, compFlag{f.Name, f.Help, !f.IsBool()})
		}
	}
	var out []compCmd
	for _, n := range app.Children {
		if n.Type != kong.CommandNode || n.Hidden {
			continue
		}
		c := compCmd{name: n.Name, help: n.Help, enums: map[string][]string{}}
		c.flags = append(c.flags, global...)
		seen := map[string]bool{}
		var add func(n *kong.Node)
		add = func(n *kong.Node) {
			for _, f := range n.Flags {
				if f.Hidden || seen[f.Name] {
					continue
				}
				seen[f.Name] = true
				c.flags = append(c.flags, compFlag{f.Name, f.Help, !f.IsBool()})
				if f.Enum != "" {
					c.enums[f.Name] = strings.Split(f.Enum, ",")
				}
			}
			for _, p := range n.Positional {
				if p.Enum != "" {
					c.enums[""] = strings.Split(p.Enum, ",")
				}
			}
			for _, sub := range n.Children {
				if sub.Type == kong.CommandNode && !sub.Hidden {
					if n == c.node {
						c.subs = append(c.subs, sub.Name)
					}
					add(sub)
				}
			}
		}
		c.node = n
		add(n)
		if len(c.subs) > 0 {
			c.enums[""] = c.subs
		}
		sort.Slice(c.flags, func(i, j int) bool { return c.flags[i].name < c.flags[j].name })
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// Run prints the script.
func (c *CompletionCmd) Run(env *Env, ctx *kong.Context) error {
	cmds := commandsOf(ctx.Model)
	var s string
	switch c.Shell {
	case "bash":
		s = bashCompletion(cmds)
	case "zsh":
		s = zshCompletion(cmds)
	case "fish":
		s = fishCompletion(cmds)
	}
	_, err := fmt.Fprint(env.Stdout, s)
	return err
}

func firstSentence(s string) string {
	if i := strings.Index(s, ". "); i >= 0 {
		s = s[:i]
	}
	return strings.TrimSuffix(s, ".")
}

func bashCompletion(cmds []compCmd) string {
	var b strings.Builder
	b.WriteString("# bash completion for gwsync: source <(gwsync completion bash)\n")
	b.WriteString("_gwsync() {\n\tlocal cur prev cmd opts\n\tcur=\"${COMP_WORDS[COMP_CWORD]}\"\n\tprev=\"${COMP_WORDS[COMP_CWORD-1]}\"\n\tcmd=\"${COMP_WORDS[1]}\"\n")
	names := make([]string, len(cmds))
	for i, c := range cmds {
		names[i] = c.name
	}
	fmt.Fprintf(&b, "\tif [ \"$COMP_CWORD\" -eq 1 ]; then\n\t\tCOMPREPLY=($(compgen -W %q -- \"$cur\"))\n\t\treturn\n\tfi\n", strings.Join(names, " ")+" --help --version")
	b.WriteString("\tcase \"$cmd\" in\n")
	for _, c := range cmds {
		var fl []string
		for _, f := range c.flags {
			fl = append(fl, "--"+f.name)
		}
		fmt.Fprintf(&b, "\t%s)\n\t\topts=%q\n", c.name, strings.Join(fl, " "))
		var enumFlags []string
		for f := range c.enums {
			enumFlags = append(enumFlags, f)
		}
		sort.Strings(enumFlags)
		for _, f := range enumFlags {
			vals := strings.Join(c.enums[f], " ")
			if f == "" {
				fmt.Fprintf(&b, "\t\tif [ \"$COMP_CWORD\" -eq 2 ]; then COMPREPLY=($(compgen -W %q -- \"$cur\")); return; fi\n", vals)
				continue
			}
			fmt.Fprintf(&b, "\t\tif [ \"$prev\" = %q ]; then COMPREPLY=($(compgen -W %q -- \"$cur\")); return; fi\n", "--"+f, vals)
		}
		b.WriteString("\t\t;;\n")
	}
	b.WriteString("\tesac\n")
	b.WriteString("\tif [[ \"$cur\" == -* ]]; then\n\t\tCOMPREPLY=($(compgen -W \"$opts --help\" -- \"$cur\"))\n\telse\n\t\tCOMPREPLY=($(compgen -f -- \"$cur\"))\n\tfi\n}\n")
	b.WriteString("complete -o default -F _gwsync gwsync\n")
	return b.String()
}

// zshQuote makes s safe inside a single-quoted _arguments spec.
func zshQuote(s string) string {
	return strings.NewReplacer("'", "", "[", "(", "]", ")", ":", " ", "\\", "").Replace(firstSentence(s))
}

func zshCompletion(cmds []compCmd) string {
	var b strings.Builder
	b.WriteString("#compdef gwsync\n# zsh completion for gwsync: gwsync completion zsh > \"${fpath[1]}/_gwsync\"\n")
	b.WriteString("_gwsync() {\n\tlocal -a commands\n\tcommands=(\n")
	for _, c := range cmds {
		fmt.Fprintf(&b, "\t\t'%s:%s'\n", c.name, zshQuote(c.help))
	}
	b.WriteString("\t)\n\tif (( CURRENT == 2 )); then\n\t\t_describe -t commands 'gwsync command' commands\n\t\treturn\n\tfi\n")
	b.WriteString("\tcase ${words[2]} in\n")
	for _, c := range cmds {
		fmt.Fprintf(&b, "\t%s)\n\t\t_arguments", c.name)
		for _, f := range c.flags {
			spec := fmt.Sprintf("--%s[%s]", f.name, zshQuote(f.help))
			if vals, ok := c.enums[f.name]; ok {
				spec += ":" + f.name + ":(" + strings.Join(vals, " ") + ")"
			} else if f.takesValue {
				spec += ":" + f.name + ":_files"
			}
			fmt.Fprintf(&b, " \\\n\t\t\t'%s'", spec)
		}
		if vals, ok := c.enums[""]; ok {
			fmt.Fprintf(&b, " \\\n\t\t\t'2:value:(%s)'", strings.Join(vals, " "))
		} else {
			b.WriteString(" \\\n\t\t\t'*:file:_files'")
		}
		b.WriteString("\n\t\t;;\n")
	}
	b.WriteString("\tesac\n}\n")
	b.WriteString("if [ \"$funcstack[1]\" = \"_gwsync\" ]; then\n\t_gwsync \"$@\"\nelse\n\tcompdef _gwsync gwsync\nfi\n")
	return b.String()
}

// fishQuote makes s safe inside single quotes in fish.
func fishQuote(s string) string {
	return strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(firstSentence(s))
}

func fishCompletion(cmds []compCmd) string {
	var b strings.Builder
	b.WriteString("# fish completion for gwsync: gwsync completion fish > ~/.config/fish/completions/gwsync.fish\n")
	b.WriteString("complete -c gwsync -f\n")
	for _, c := range cmds {
		fmt.Fprintf(&b, "complete -c gwsync -n '__fish_use_subcommand' -a %s -d '%s'\n", c.name, fishQuote(c.help))
	}
	for _, c := range cmds {
		cond := "__fish_seen_subcommand_from " + c.name
		for _, f := range c.flags {
			line := fmt.Sprintf("complete -c gwsync -n '%s' -l %s -d '%s'", cond, f.name, fishQuote(f.help))
			if vals, ok := c.enums[f.name]; ok {
				line += " -x -a '" + strings.Join(vals, " ") + "'"
			} else if f.takesValue {
				line += " -r -F"
			}
			b.WriteString(line + "\n")
		}
		if vals, ok := c.enums[""]; ok {
			fmt.Fprintf(&b, "complete -c gwsync -n '%s' -a '%s'\n", cond, strings.Join(vals, " "))
		} else {
			fmt.Fprintf(&b, "complete -c gwsync -n '%s' -F\n", cond)
		}
	}
	return b.String()
}

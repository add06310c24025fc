package main

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"
)

// The part of GitHub Actions' expression language the action and the
// example workflows use (docs.github.com, "Evaluate expressions in
// workflows and actions"): context paths (github.event_name,
// steps.find.outputs.bin, matrix.shard, …), 'strings', true/false, ==
// and != (strings compared without regard to case), !, && and || (which
// yield an operand, as in JavaScript), parentheses, and the status
// functions success(), failure(), always(), cancelled(). A context path
// that is not set is ''. Anything else is an error, so that a workflow
// using more than this model knows fails its test instead of being
// misread.

// ghStatus is what the status functions see: whether an earlier step (or
// a needed job) failed, and whether the run was cancelled.
type ghStatus struct {
	failed, cancelled bool
}

type ghExpr struct {
	toks []string
	pos  int
	ctx  map[string]string
	st   ghStatus
}

var ghTok = regexp.MustCompile(`^\s*('(?:[^']|'')*'|==|!=|&&|\|\||!|\(|\)|[A-Za-z_][A-Za-z0-9_.\-]*(?:\[\*\])?)`)

// ghEval evaluates expression s (without ${{ }}) in ctx.
func ghEval(s string, ctx map[string]string, st ghStatus) (any, error) {
	e := &ghExpr{ctx: ctx, st: st}
	rest := s
	for strings.TrimSpace(rest) != "" {
		m := ghTok.FindStringSubmatch(rest)
		if m == nil {
			return nil, fmt.Errorf("expression %q: cannot read %q", s, rest)
		}
		e.toks = append(e.toks, m[1])
		rest = rest[len(m[0]):]
	}
	v, err := e.or()
	if err != nil {
		return nil, fmt.Errorf("expression %q: %w", s, err)
	}
	if e.pos != len(e.toks) {
		return nil, fmt.Errorf("expression %q: unexpected %q", s, e.toks[e.pos])
	}
	return v, nil
}

func (e *ghExpr) peek() string {
	if e.pos < len(e.toks) {
		return e.toks[e.pos]
	}
	return ""
}

func ghTruthy(v any) bool {
	switch v := v.(type) {
	case bool:
		return v
	case string:
		return v != ""
	}
	return false
}

func ghString(v any) string {
	switch v := v.(type) {
	case bool:
		if v {
			return "true"
		}
		return "false"
	case string:
		return v
	}
	return ""
}

func (e *ghExpr) or() (any, error) {
	l, err := e.and()
	for err == nil && e.peek() == "||" {
		e.pos++
		var r any
		if r, err = e.and(); err == nil && !ghTruthy(l) {
			l = r
		}
	}
	return l, err
}

func (e *ghExpr) and() (any, error) {
	l, err := e.cmp()
	for err == nil && e.peek() == "&&" {
		e.pos++
		var r any
		if r, err = e.cmp(); err == nil && ghTruthy(l) {
			l = r
		}
	}
	return l, err
}

func (e *ghExpr) cmp() (any, error) {
	l, err := e.unary()
	if err != nil {
		return nil, err
	}
	if op := e.peek(); op == "==" || op == "!=" {
		e.pos++
		r, err := e.unary()
		if err != nil {
			return nil, err
		}
		eq := strings.EqualFold(ghString(l), ghString(r))
		return eq == (op == "=="), nil
	}
	return l, nil
}

func (e *ghExpr) unary() (any, error) {
	t := e.peek()
	switch {
	case t == "":
		return nil, fmt.Errorf("unexpected end")
	case t == "!":
		e.pos++
		v, err := e.unary()
		return !ghTruthy(v), err
	case t == "(":
		e.pos++
		v, err := e.or()
		if err != nil {
			return nil, err
		}
		if e.peek() != ")" {
			return nil, fmt.Errorf("missing )")
		}
		e.pos++
		return v, nil
	case strings.HasPrefix(t, "'"):
		e.pos++
		return strings.ReplaceAll(t[1:len(t)-1], "''", "'"), nil
	case t == "true" || t == "false":
		e.pos++
		return t == "true", nil
	case unicode.IsLetter(rune(t[0])) || t[0] == '_':
		e.pos++
		if e.peek() == "(" {
			e.pos++
			if e.peek() != ")" {
				return nil, fmt.Errorf("%s(): arguments are not modelled", t)
			}
			e.pos++
			switch t {
			case "success":
				return !e.st.failed && !e.st.cancelled, nil
			case "failure":
				return e.st.failed, nil
			case "always":
				return true, nil
			case "cancelled":
				return e.st.cancelled, nil
			}
			return nil, fmt.Errorf("function %s() is not modelled", t)
		}
		return e.ctx[t], nil
	}
	return nil, fmt.Errorf("unexpected %q", t)
}

var ghInterp = regexp.MustCompile(`\$\{\{\s*(.*?)\s*\}\}`)

// ghInterpolate replaces every ${{ expr }} in s.
func ghInterpolate(s string, ctx map[string]string, st ghStatus) (string, error) {
	var err error
	out := ghInterp.ReplaceAllStringFunc(s, func(m string) string {
		v, e := ghEval(ghInterp.FindStringSubmatch(m)[1], ctx, st)
		if e != nil && err == nil {
			err = e
		}
		return ghString(v)
	})
	return out, err
}

// ghCondition evaluates an if: (with or without ${{ }}); a condition
// without a status function is success() && it.
func ghCondition(cond string, ctx map[string]string, st ghStatus) (bool, error) {
	if cond == "" {
		return !st.failed && !st.cancelled, nil
	}
	c := strings.TrimSpace(cond)
	if m := ghInterp.FindStringSubmatch(c); m != nil && m[0] == c {
		c = m[1]
	}
	v, err := ghEval(c, ctx, st)
	if err != nil {
		return false, err
	}
	if !regexp.MustCompile(`\b(success|failure|always|cancelled)\(\)`).MatchString(c) && (st.failed || st.cancelled) {
		return false, nil
	}
	return ghTruthy(v), nil
}

package site

import "bytes"

// The YAML library builds a document's whole tree before anything can look
// at it: a 20 MB file of small values was 2 GB of nodes. nodeBound is a
// cheap upper bound on the nodes (and so on the memory) a document's tree
// can take, computed from its bytes before it is parsed, so that a site
// too large to afford is refused first.
//
// A node of the tree (document, mapping, sequence, scalar, alias) is
// either a token of its own, which starts at a byte that follows a blank,
// a line's start or flow punctuation, or is made by the parser at an
// indicator: a null value at ':' (and the single-pair mapping around it in
// a flow sequence), a null item and the sequence at "- ", a null key and
// value at "? ", a null value at ',', ']' or '}'. Every such byte counts
// for the most nodes it can make. TestNodeBound checks the bound against
// the library on random documents.

// byteClass: 0 blank, 1 a byte after which a token can start at once,
// 2 anything else.
var byteClass = func() (c [256]uint8) {
	for i := range c {
		c[i] = 2
	}
	for _, b := range []byte(" \t\r\n") {
		c[b] = 0
	}
	for _, b := range []byte(",[]{}:") {
		c[b] = 1
	}
	return c
}()

// byteNodes is what a byte counts for besides a token's start: the null
// nodes the parser can make at it. '-' and '?' make nodes only before a
// blank; nodeBound adds them there.
var byteNodes = func() (n [256]uint8) {
	n[':'], n[','] = 3, 3
	n['['], n['{'], n[']'], n['}'] = 2, 2, 2, 2
	return n
}()

// nodeBound is an upper bound on the nodes a YAML stream of data decodes
// to (every document, aliases counted once, not expanded), and the number
// of '*' bytes, an upper bound on its aliases. It reads each byte once.
func nodeBound(data []byte) (nodes, aliases int) {
	nodes = 2
	prev := uint8(0) // the start counts as after a blank
	for i, b := range data {
		c := byteClass[b]
		// A token can start here: a non-blank after anything but a
		// word's byte.
		nodes += int(((prev >> 1) ^ 1) & (c | c>>1) & 1)
		nodes += int(byteNodes[b])
		if c == 0 && i > 0 && (data[i-1] == '-' || data[i-1] == '?') {
			nodes += 3 // "- " or "? "
		}
		prev = c
	}
	if n := len(data); n > 0 && (data[n-1] == '-' || data[n-1] == '?') {
		nodes += 3
	}
	return nodes, bytes.Count(data, []byte{'*'})
}

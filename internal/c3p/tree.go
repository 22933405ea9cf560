package c3p

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Limits on a C3P body. The largest documents C3P carries are conference
// descriptions with an invitee list; these bounds leave room for hundreds of
// invitees while keeping a hostile body cheap to reject.
const (
	// MaxBodySize is the largest body accepted, in bytes.
	MaxBodySize = 64 << 10
	// MaxDepth is the deepest element nesting accepted; the root is at
	// depth 1. Real commands stay under 10 (request/addConference/
	// conference-info/users/user/endpoint/media/...).
	MaxDepth = 32
	// MaxElements is the largest number of elements accepted in one body.
	MaxElements = 4096
	// MaxAttrs is the largest number of attributes, namespace declarations
	// included, accepted on one element.
	MaxAttrs = 32
)

// Element is an XML element kept as read: its namespace-qualified name, its
// attributes (namespace declarations excluded), its child elements and its
// character data. Extensions hold unknown content as Elements so that it can
// be written back unchanged.
//
// Text is the concatenated character data of the element. Whitespace-only
// text between child elements is not kept; mixed content (text and elements
// side by side) is kept as text followed by the children, which C3P never
// needs to distinguish.
type Element struct {
	Name     xml.Name
	Attrs    []xml.Attr
	Children []*Element
	Text     string

	// prefix is the namespace prefix the element had when parsed. Marshal
	// reuses it for namespaces it has no prefix of its own for.
	prefix string
}

// Attr returns the value of the attribute in namespace space (empty for an
// unqualified attribute) with local name local.
func (e *Element) Attr(space, local string) (string, bool) {
	for _, a := range e.Attrs {
		if a.Name.Space == space && a.Name.Local == local {
			return a.Value, true
		}
	}
	return "", false
}

// frame is one open element while parsing.
type frame struct {
	el    *Element
	raw   xml.Name          // prefix:local as written, to match the end tag
	scope map[string]string // namespace declarations made on this element
	text  []byte
}

// parseTree parses a body into an element tree, enforcing the limits above
// and XML Namespaces 1.0. It uses the raw tokenizer and resolves prefixes
// itself because encoding/xml silently treats an undeclared prefix as a
// namespace name.
func parseTree(b []byte) (*Element, error) {
	if len(b) > MaxBodySize {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(b), MaxBodySize)
	}
	// A UTF-8 byte order mark may start the document (XML 1.0 §4.3.3);
	// .NET writers emit one by default.
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
	d := xml.NewDecoder(bytes.NewReader(b))
	d.Strict = true // unknown entities and unquoted attributes are errors
	var (
		stack []*frame
		root  *Element
		count int
		first = true
	)
	for ; ; first = false {
		tok, err := d.RawToken()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrSyntax, err)
		}
		switch t := tok.(type) {
		case xml.ProcInst:
			// Only the XML declaration, and only as the very first thing
			// (XML 1.0 §2.8); encoding/xml has already refused encodings
			// other than UTF-8 and versions other than 1.0.
			if t.Target != "xml" || !first {
				return nil, fmt.Errorf("%w: processing instruction <?%s?> not allowed here", ErrSyntax, t.Target)
			}
		case xml.Directive:
			return nil, fmt.Errorf("%w: <!%.20s", ErrDTD, t)
		case xml.Comment:
		case xml.CharData:
			if len(stack) == 0 {
				if len(bytes.TrimSpace(t)) != 0 {
					return nil, fmt.Errorf("%w: character data outside the root element", ErrSyntax)
				}
				continue
			}
			top := stack[len(stack)-1]
			top.text = append(top.text, t...)
		case xml.StartElement:
			if root != nil {
				return nil, fmt.Errorf("%w: more than one root element", ErrSyntax)
			}
			if count++; count > MaxElements {
				return nil, fmt.Errorf("%w: more than %d elements", ErrLimit, MaxElements)
			}
			if len(stack)+1 > MaxDepth {
				return nil, fmt.Errorf("%w: nesting deeper than %d", ErrLimit, MaxDepth)
			}
			if len(t.Attr) > MaxAttrs {
				return nil, fmt.Errorf("%w: %d attributes on <%s>, limit %d", ErrLimit, len(t.Attr), t.Name.Local, MaxAttrs)
			}
			fr, err := open(t, stack)
			if err != nil {
				return nil, err
			}
			if len(stack) > 0 {
				parent := stack[len(stack)-1].el
				parent.Children = append(parent.Children, fr.el)
			}
			stack = append(stack, fr)
		case xml.EndElement:
			if len(stack) == 0 {
				return nil, fmt.Errorf("%w: unexpected end tag </%s>", ErrSyntax, t.Name.Local)
			}
			top := stack[len(stack)-1]
			if t.Name != top.raw {
				return nil, fmt.Errorf("%w: end tag </%s> does not match <%s>", ErrSyntax, qname(t.Name), qname(top.raw))
			}
			if len(top.el.Children) == 0 || len(bytes.TrimSpace(top.text)) != 0 {
				top.el.Text = string(top.text)
			}
			stack = stack[:len(stack)-1]
			if len(stack) == 0 {
				root = top.el
			}
		}
	}
	if len(stack) > 0 {
		return nil, fmt.Errorf("%w: unexpected end of body inside <%s>", ErrSyntax, qname(stack[len(stack)-1].raw))
	}
	if root == nil {
		return nil, fmt.Errorf("%w: no root element", ErrSyntax)
	}
	return root, nil
}

func qname(n xml.Name) string {
	if n.Space == "" {
		return n.Local
	}
	return n.Space + ":" + n.Local
}

// open resolves a start tag against the namespace scopes of its ancestors
// (XML Namespaces 1.0 §5/§6) and returns its frame.
func open(t xml.StartElement, stack []*frame) (*frame, error) {
	fr := &frame{raw: t.Name}
	seen := make(map[xml.Name]bool, len(t.Attr))
	for _, a := range t.Attr {
		if seen[a.Name] {
			return nil, fmt.Errorf("%w: duplicate attribute %s on <%s>", ErrSyntax, qname(a.Name), qname(t.Name))
		}
		seen[a.Name] = true
		switch {
		case a.Name.Space == "" && a.Name.Local == "xmlns":
			if a.Value == namespaceXML || a.Value == namespaceXMLNS {
				return nil, fmt.Errorf("%w: reserved namespace %s as default namespace", ErrSyntax, a.Value)
			}
			fr.declare("", a.Value)
		case a.Name.Space == "xmlns":
			p, v := a.Name.Local, a.Value
			switch {
			case !isNCName(p):
				return nil, fmt.Errorf("%w: invalid namespace prefix %q", ErrSyntax, p)
			case p == "xmlns", v == namespaceXMLNS:
				return nil, fmt.Errorf("%w: the xmlns prefix cannot be declared", ErrSyntax)
			case (p == "xml") != (v == namespaceXML):
				return nil, fmt.Errorf("%w: the xml prefix and namespace belong to each other", ErrSyntax)
			case v == "":
				return nil, fmt.Errorf("%w: prefix %q bound to an empty namespace", ErrSyntax, p)
			}
			fr.declare(p, v)
		}
	}
	lookup := func(prefix string) (string, bool) {
		if prefix == "xml" {
			return namespaceXML, true
		}
		if ns, ok := fr.scope[prefix]; ok {
			return ns, true
		}
		for i := len(stack) - 1; i >= 0; i-- {
			if ns, ok := stack[i].scope[prefix]; ok {
				return ns, true
			}
		}
		return "", prefix == "" // no default namespace in scope: no namespace
	}

	if !isNCName(t.Name.Local) || t.Name.Space != "" && !isNCName(t.Name.Space) || t.Name.Space == "xmlns" {
		return nil, fmt.Errorf("%w: invalid element name %q", ErrSyntax, qname(t.Name))
	}
	space, ok := lookup(t.Name.Space)
	if !ok {
		return nil, fmt.Errorf("%w: undeclared namespace prefix %q", ErrSyntax, t.Name.Space)
	}
	fr.el = &Element{Name: xml.Name{Space: space, Local: t.Name.Local}, prefix: t.Name.Space}

	expanded := make(map[xml.Name]bool, len(t.Attr))
	for _, a := range t.Attr {
		if a.Name.Space == "xmlns" || a.Name.Space == "" && a.Name.Local == "xmlns" {
			continue
		}
		if !isNCName(a.Name.Local) || a.Name.Space != "" && !isNCName(a.Name.Space) {
			return nil, fmt.Errorf("%w: invalid attribute name %q", ErrSyntax, qname(a.Name))
		}
		n := xml.Name{Local: a.Name.Local}
		if a.Name.Space != "" { // unprefixed attributes are in no namespace
			if n.Space, ok = lookup(a.Name.Space); !ok {
				return nil, fmt.Errorf("%w: undeclared namespace prefix %q", ErrSyntax, a.Name.Space)
			}
		}
		if expanded[n] {
			return nil, fmt.Errorf("%w: attribute {%s}%s given twice on <%s>", ErrSyntax, n.Space, n.Local, qname(t.Name))
		}
		expanded[n] = true
		fr.el.Attrs = append(fr.el.Attrs, xml.Attr{Name: n, Value: a.Value})
	}
	return fr, nil
}

func (f *frame) declare(prefix, ns string) {
	if f.scope == nil {
		f.scope = make(map[string]string, 4)
	}
	f.scope[prefix] = ns
}

// wellKnownPrefixes are the prefixes Marshal gives the namespaces C3P
// documents use, as in the specification examples. They are reserved: a
// foreign namespace never gets one of them.
var wellKnownPrefixes = []struct{ ns, prefix string }{
	{NamespaceConferenceInfo, "ci"},
	{NamespaceMSCI, "msci"},
	{NamespaceMSCI2, "msci2"},
	{NamespaceMSCP, "mscp"},
	{NamespaceSeparator, "cis"},
	{NamespaceParley, "pl"},
	{NamespaceC3P, "cccp"}, // only needed for attributes in the C3P namespace
}

// writer serializes an element tree. The root's namespace is the default
// namespace; every other namespace used is declared once, on the root.
type writer struct {
	buf      bytes.Buffer
	rootNS   string
	prefixes map[string]string // namespace -> prefix
	decls    []string          // namespaces to declare on the root, in order
}

// marshalTree writes root as a UTF-8 document with an XML declaration.
func marshalTree(root *Element) ([]byte, error) {
	w := &writer{rootNS: root.Name.Space, prefixes: make(map[string]string)}
	if err := w.assignPrefixes(root); err != nil {
		return nil, err
	}
	w.buf.WriteString(`<?xml version="1.0" encoding="utf-8"?>`)
	if err := w.element(root, "", true); err != nil {
		return nil, err
	}
	return w.buf.Bytes(), nil
}

// assignPrefixes decides the prefix of every namespace that needs one, in
// two passes so that the result does not depend on where a namespace is
// first met: well-known prefixes and the prefixes the document was parsed
// with first, generated ones (ns1, ns2, ...) after.
func (w *writer) assignPrefixes(root *Element) error {
	type use struct{ ns, hint string }
	var uses []use
	need := make(map[string]int) // namespace -> index in uses + 1
	note := func(ns, hint string) {
		if i := need[ns]; i > 0 {
			if uses[i-1].hint == "" {
				uses[i-1].hint = hint // met first in an attribute
			}
			return
		}
		uses = append(uses, use{ns, hint})
		need[ns] = len(uses)
	}
	var walk func(e *Element, depth int) error
	walk = func(e *Element, depth int) error {
		if depth > MaxDepth*2 {
			return fmt.Errorf("%w: element tree deeper than %d", ErrInvalid, MaxDepth*2)
		}
		if e.Name.Space == namespaceXMLNS {
			return fmt.Errorf("%w: element <%s> in the reserved xmlns namespace", ErrInvalid, e.Name.Local)
		}
		if ns := e.Name.Space; ns != "" && ns != w.rootNS && ns != namespaceXML {
			note(ns, e.prefix)
		}
		for _, a := range e.Attrs {
			if ns := a.Name.Space; ns != "" && ns != namespaceXML {
				note(ns, "")
			}
		}
		for _, c := range e.Children {
			if c == nil {
				return fmt.Errorf("%w: nil child of <%s>", ErrInvalid, e.Name.Local)
			}
			if err := walk(c, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(root, 1); err != nil {
		return err
	}
	taken := map[string]bool{"xml": true, "xmlns": true}
	for _, wk := range wellKnownPrefixes {
		taken[wk.prefix] = true
		if need[wk.ns] > 0 {
			w.prefixes[wk.ns] = wk.prefix
		}
	}
	for _, u := range uses {
		if _, done := w.prefixes[u.ns]; done {
			continue
		}
		if h := u.hint; h != "" && isNCName(h) && !taken[h] && !strings.HasPrefix(strings.ToLower(h), "xml") {
			w.prefixes[u.ns] = h
			taken[h] = true
		}
	}
	n := 0
	for _, u := range uses {
		if _, done := w.prefixes[u.ns]; !done {
			var p string
			for p = ""; p == "" || taken[p]; p = fmt.Sprintf("ns%d", n) {
				n++
			}
			w.prefixes[u.ns] = p
			taken[p] = true
		}
		w.decls = append(w.decls, u.ns)
	}
	return nil
}

// element writes e. def is the default namespace in scope.
func (w *writer) element(e *Element, def string, isRoot bool) error {
	if !isNCName(e.Name.Local) {
		return fmt.Errorf("%w: invalid element name %q", ErrInvalid, e.Name.Local)
	}
	name := e.Name.Local
	switch ns := e.Name.Space; {
	case ns == namespaceXML:
		name = "xml:" + name
	case ns != "" && ns != w.rootNS:
		name = w.prefixes[ns] + ":" + name
	}
	w.buf.WriteByte('<')
	w.buf.WriteString(name)
	switch ns := e.Name.Space; {
	case isRoot:
		if ns != "" {
			w.attr("xmlns", ns)
		}
		def = ns
		for _, d := range w.decls {
			w.attr("xmlns:"+w.prefixes[d], d)
		}
	case (ns == "" || ns == w.rootNS) && ns != def:
		// An element in no namespace below the root's default namespace
		// (or back in the root's namespace below such an element) changes
		// the default namespace for its subtree.
		w.attr("xmlns", ns)
		def = ns
	}
	seen := make(map[xml.Name]bool, len(e.Attrs))
	for _, a := range e.Attrs {
		if !isNCName(a.Name.Local) || a.Name.Space == "" && a.Name.Local == "xmlns" || a.Name.Space == namespaceXMLNS {
			return fmt.Errorf("%w: invalid attribute name %q on <%s>", ErrInvalid, a.Name.Local, e.Name.Local)
		}
		if seen[a.Name] {
			return fmt.Errorf("%w: attribute %s given twice on <%s>", ErrInvalid, a.Name.Local, e.Name.Local)
		}
		seen[a.Name] = true
		if err := checkChars(a.Value); err != nil {
			return fmt.Errorf("%w: attribute %s on <%s>: %w", ErrInvalid, a.Name.Local, e.Name.Local, err)
		}
		n := a.Name.Local
		switch a.Name.Space {
		case "":
		case namespaceXML:
			n = "xml:" + n
		default:
			n = w.prefixes[a.Name.Space] + ":" + n
		}
		w.attr(n, a.Value)
	}
	if err := checkChars(e.Text); err != nil {
		return fmt.Errorf("%w: text of <%s>: %w", ErrInvalid, e.Name.Local, err)
	}
	if e.Text == "" && len(e.Children) == 0 {
		w.buf.WriteString("/>")
		return nil
	}
	w.buf.WriteByte('>')
	escape(&w.buf, e.Text, false)
	for _, c := range e.Children {
		if err := w.element(c, def, false); err != nil {
			return err
		}
	}
	w.buf.WriteString("</")
	w.buf.WriteString(name)
	w.buf.WriteByte('>')
	return nil
}

func (w *writer) attr(name, value string) {
	w.buf.WriteByte(' ')
	w.buf.WriteString(name)
	w.buf.WriteString(`="`)
	escape(&w.buf, value, true)
	w.buf.WriteByte('"')
}

// escape writes s as character data or as an attribute value. Carriage
// returns (and, in attributes, tabs and newlines) become character
// references so that they survive the end-of-line and attribute-value
// normalization of the reader (XML 1.0 §2.11, §3.3.3).
func escape(b *bytes.Buffer, s string, attr bool) {
	last := 0
	for i := 0; i < len(s); i++ {
		var esc string
		switch c := s[i]; {
		case c == '&':
			esc = "&amp;"
		case c == '<':
			esc = "&lt;"
		case c == '>' && !attr:
			esc = "&gt;"
		case c == '"' && attr:
			esc = "&quot;"
		case c == '\r':
			esc = "&#xD;"
		case c == '\n' && attr:
			esc = "&#xA;"
		case c == '\t' && attr:
			esc = "&#x9;"
		default:
			continue
		}
		b.WriteString(s[last:i])
		b.WriteString(esc)
		last = i + 1
	}
	b.WriteString(s[last:])
}

// checkChars reports a string that is not valid UTF-8 or holds a character
// XML 1.0 §2.2 does not allow (most control characters, U+FFFE, U+FFFF).
func checkChars(s string) error {
	for i, r := range s {
		switch {
		case r == 0xFFFD && strings.HasPrefix(s[i:], "\xef\xbf\xbd"):
		case r == 0xFFFD:
			return fmt.Errorf("invalid UTF-8 at byte %d", i)
		case r == 0x9 || r == 0xA || r == 0xD,
			r >= 0x20 && r <= 0xD7FF,
			r >= 0xE000 && r <= 0xFFFD,
			r >= 0x10000 && r <= 0x10FFFF:
		default:
			return fmt.Errorf("character %U not allowed in XML", r)
		}
	}
	return nil
}

// isNCName reports whether s is an XML name without colons (Namespaces in
// XML 1.0 §3, XML 1.0 fifth edition §2.3).
func isNCName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if !isNameStart(r) && (i == 0 || !isNameChar(r)) {
			return false
		}
	}
	return true
}

func isNameStart(r rune) bool {
	switch {
	case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r == '_':
		return true
	case r < 0xC0:
		return false
	}
	return r <= 0xD6 || r >= 0xD8 && r <= 0xF6 || r >= 0xF8 && r <= 0x2FF ||
		r >= 0x370 && r <= 0x37D || r >= 0x37F && r <= 0x1FFF ||
		r >= 0x200C && r <= 0x200D || r >= 0x2070 && r <= 0x218F ||
		r >= 0x2C00 && r <= 0x2FEF || r >= 0x3001 && r <= 0xD7FF ||
		r >= 0xF900 && r <= 0xFDCF || r >= 0xFDF0 && r <= 0xFFFD ||
		r >= 0x10000 && r <= 0xEFFFF
}

func isNameChar(r rune) bool {
	return r == '-' || r == '.' || r >= '0' && r <= '9' || r == 0xB7 ||
		r >= 0x300 && r <= 0x36F || r >= 0x203F && r <= 0x2040
}

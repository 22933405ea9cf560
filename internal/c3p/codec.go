package c3p

import (
	"encoding/xml"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Extensions holds what a typed element does not model, so that a parsed
// message re-encodes without loss: unknown child elements and attributes
// (extension points of the Microsoft schemas, or elements whose names the
// public specifications do not show), plus the document order of all the
// children and the namespaces they were read in.
//
// A struct built in Go has empty Extensions and is written in the default
// order of its schema.
type Extensions struct {
	// Elements are the unknown child elements, in document order. They
	// are written after the known children unless the parsed order says
	// otherwise.
	Elements []*Element
	// Attrs are the unknown attributes.
	Attrs []xml.Attr

	// order is the expanded name of every child as read, structural
	// separators included; nil for values built in Go.
	order []xml.Name
	// spaces maps a child's local name to the namespace it was read in,
	// for children the decoder accepts in more than one namespace.
	spaces map[string]string
}

// separatorName is the cis:separator element Microsoft schemas place between
// groups of extension elements (see the conference-description of
// [MS-CONFPRO] §4.1). An empty separator is structure, not content: the
// decoder records its position and the encoder writes it back there.
var separatorName = xml.Name{Space: NamespaceSeparator, Local: "separator"}

// structural stands for an empty separator in Extensions.order. It is not a
// valid element name, so it never matches a child that is kept as content.
var structural = xml.Name{Space: NamespaceSeparator}

// ciSpaces are the namespaces the decoder accepts conference-info elements
// in. [MS-CONFBAS] §2.2.3.4 shows user/roles/entry unqualified, that is in the
// C3P namespace, inside an addUser response, where SIPE and the other
// examples use the conference-info namespace.
var ciSpaces = []string{NamespaceConferenceInfo, NamespaceC3P}

// dec reads one element into a typed struct: it hands out children and
// attributes by name, marks them used, and at the end (done) collects what
// is left into the struct's Extensions. The first problem found is kept in
// err, which is shared by the decoders of the whole command.
type dec struct {
	el       *Element
	path     string
	used     []bool
	usedAttr []bool
	spaces   map[string]string
	err      *error
}

func newDec(el *Element, errp *error) *dec {
	return &dec{
		el:       el,
		path:     "<" + el.Name.Local + ">",
		used:     make([]bool, len(el.Children)),
		usedAttr: make([]bool, len(el.Attrs)),
		err:      errp,
	}
}

// sub returns a decoder for a child element.
func (d *dec) sub(el *Element) *dec {
	s := newDec(el, d.err)
	s.path = d.path + "/<" + el.Name.Local + ">"
	return s
}

func (d *dec) failf(format string, a ...any) {
	if *d.err == nil {
		*d.err = invalidf("%s: %s", d.path, fmt.Sprintf(format, a...))
	}
}

// attr returns an attribute value and marks the attribute used.
func (d *dec) attr(space, local string) (string, bool) {
	for i, a := range d.el.Attrs {
		if a.Name.Space == space && a.Name.Local == local {
			d.usedAttr[i] = true
			return a.Value, true
		}
	}
	return "", false
}

// attrUint reads an optional xs:unsignedInt-like attribute.
func (d *dec) attrUint(space, local string) *uint64 {
	v, ok := d.attr(space, local)
	if !ok {
		return nil
	}
	n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
	if err != nil {
		d.failf("attribute %s=%q is not a non-negative integer", local, v)
		return nil
	}
	return &n
}

// attrState reads the RFC 4575 state attribute (§5.1: full, partial,
// deleted) in the given namespace.
func (d *dec) attrState(space string) string {
	v, ok := d.attr(space, "state")
	if !ok {
		return ""
	}
	switch v = strings.TrimSpace(v); v {
	case StateFull, StatePartial, StateDeleted:
		return v
	}
	d.failf("state=%q is not full, partial or deleted", v)
	return ""
}

// all returns the unused children named local in one of spaces (the first
// is the expected one) and marks them used.
func (d *dec) all(local string, spaces ...string) []*Element {
	var out []*Element
	for i, c := range d.el.Children {
		if d.used[i] || c.Name.Local != local || !contains(spaces, c.Name.Space) {
			continue
		}
		d.used[i] = true
		out = append(out, c)
		if c.Name.Space != spaces[0] {
			if d.spaces == nil {
				d.spaces = make(map[string]string)
			}
			d.spaces[local] = c.Name.Space
		}
	}
	return out
}

// one returns the child named local, nil if absent, and fails if it is
// repeated.
func (d *dec) one(local string, spaces ...string) *Element {
	els := d.all(local, spaces...)
	if len(els) > 1 {
		d.failf("<%s> given %d times", local, len(els))
	}
	if len(els) == 0 {
		return nil
	}
	return els[0]
}

// leafText returns the text of a simple element: one with neither
// attributes nor children.
func (d *dec) leafText(el *Element) string {
	if len(el.Children) > 0 || len(el.Attrs) > 0 {
		d.failf("<%s> must hold text only", el.Name.Local)
	}
	return el.Text
}

// str reads an optional simple element as a string kept verbatim.
func (d *dec) str(local string, spaces ...string) *string {
	el := d.one(local, spaces...)
	if el == nil {
		return nil
	}
	s := d.leafText(el)
	return &s
}

// token reads an optional simple element as a whitespace-collapsed token;
// absent and empty are the same.
func (d *dec) token(local string, spaces ...string) string {
	el := d.one(local, spaces...)
	if el == nil {
		return ""
	}
	return strings.TrimSpace(d.leafText(el))
}

// tokens reads a list element (container of repeated simple items, such
// as roles/entry). The result is nil when the container is absent and
// non-nil, possibly empty, when it is present. The items are read in the
// container's namespace or the alternates.
func (d *dec) tokens(container, item string, spaces ...string) []string {
	el := d.one(container, spaces...)
	if el == nil {
		return nil
	}
	s := d.sub(el)
	out := []string{}
	for _, it := range s.all(item, append([]string{el.Name.Space}, spaces...)...) {
		out = append(out, strings.TrimSpace(s.leafText(it)))
	}
	var x Extensions
	s.done(&x)
	if len(x.Elements) > 0 || len(x.Attrs) > 0 {
		s.failf("unexpected content in a list of <%s>", item)
	}
	return out
}

// boolean reads an optional xs:boolean element.
func (d *dec) boolean(local string, spaces ...string) *bool {
	el := d.one(local, spaces...)
	if el == nil {
		return nil
	}
	v, err := parseBool(d.leafText(el))
	if err != nil {
		d.failf("<%s>: %v", local, err)
		return nil
	}
	return &v
}

// number reads an optional non-negative integer element.
func (d *dec) number(local string, spaces ...string) *uint64 {
	el := d.one(local, spaces...)
	if el == nil {
		return nil
	}
	t := d.leafText(el)
	n, err := strconv.ParseUint(strings.TrimSpace(t), 10, 64)
	if err != nil {
		d.failf("<%s>%s</%[1]s> is not a non-negative integer", local, t)
		return nil
	}
	return &n
}

// time reads an optional xs:dateTime element.
func (d *dec) time(local string, spaces ...string) *time.Time {
	el := d.one(local, spaces...)
	if el == nil {
		return nil
	}
	t, err := parseDateTime(d.leafText(el))
	if err != nil {
		d.failf("<%s>: %v", local, err)
		return nil
	}
	return &t
}

// done checks that nothing but whitespace text was left and moves every
// unused child and attribute into x. Empty separators are not kept as
// elements: their position in x.order is enough to write them back.
func (d *dec) done(x *Extensions) {
	if strings.TrimSpace(d.el.Text) != "" {
		d.failf("unexpected character data %.20q", strings.TrimSpace(d.el.Text))
	}
	x.order = make([]xml.Name, len(d.el.Children))
	for i, c := range d.el.Children {
		switch {
		case d.used[i]:
			x.order[i] = c.Name
		case isStructuralSeparator(c):
			x.order[i] = structural
		default:
			x.order[i] = c.Name
			x.Elements = append(x.Elements, c)
		}
	}
	for i, a := range d.el.Attrs {
		if !d.usedAttr[i] {
			x.Attrs = append(x.Attrs, a)
		}
	}
	x.spaces = d.spaces
}

func isStructuralSeparator(e *Element) bool {
	return e.Name == separatorName && len(e.Attrs) == 0 && len(e.Children) == 0 && strings.TrimSpace(e.Text) == ""
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// parseBool parses xs:boolean (XML Schema Part 2 §3.2.2): true, false, 1, 0,
// with surrounding whitespace allowed.
func parseBool(s string) (bool, error) {
	switch strings.TrimSpace(s) {
	case "true", "1":
		return true, nil
	case "false", "0":
		return false, nil
	}
	return false, fmt.Errorf("%q is not a boolean", s)
}

// parseDateTime parses xs:dateTime. [MS-CONFPRO] §2.2.1.2 times are UTC; a
// value without a zone is taken as UTC.
func parseDateTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	t, err := time.Parse("2006-01-02T15:04:05.999999999", s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not an xs:dateTime", s)
	}
	return t, nil
}

func formatDateTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// enc builds the element of a typed struct. It starts from the struct's
// Extensions so that re-encoding keeps the namespaces and order read.
type enc struct {
	el *Element
	x  *Extensions
}

func newEnc(name xml.Name, x *Extensions) *enc {
	return &enc{el: &Element{Name: name}, x: x}
}

// name returns the name of the child local: in the namespace it was read
// in, or in def.
func (e *enc) name(local, def string) xml.Name {
	if ns, ok := e.x.spaces[local]; ok {
		return xml.Name{Space: ns, Local: local}
	}
	return xml.Name{Space: def, Local: local}
}

func (e *enc) attr(space, local, value string) {
	e.el.Attrs = append(e.el.Attrs, xml.Attr{Name: xml.Name{Space: space, Local: local}, Value: value})
}

// optAttr writes an attribute unless its value is empty.
func (e *enc) optAttr(space, local, value string) {
	if value != "" {
		e.attr(space, local, value)
	}
}

func (e *enc) attrUint(space, local string, n *uint64) {
	if n != nil {
		e.attr(space, local, strconv.FormatUint(*n, 10))
	}
}

func (e *enc) add(c *Element) {
	if c != nil {
		e.el.Children = append(e.el.Children, c)
	}
}

func (e *enc) leaf(local, def, text string) {
	e.add(&Element{Name: e.name(local, def), Text: text})
}

// str writes an optional simple element, present when s is not nil.
func (e *enc) str(local, def string, s *string) {
	if s != nil {
		e.leaf(local, def, *s)
	}
}

// token writes a simple element unless its value is empty.
func (e *enc) token(local, def, s string) {
	if s != "" {
		e.leaf(local, def, s)
	}
}

// tokens writes a list element when items is not nil.
func (e *enc) tokens(container, item, def string, items []string) {
	if items == nil {
		return
	}
	n := e.name(container, def)
	c := &Element{Name: n}
	for _, it := range items {
		c.Children = append(c.Children, &Element{Name: xml.Name{Space: n.Space, Local: item}, Text: it})
	}
	e.add(c)
}

func (e *enc) boolean(local, def string, b *bool) {
	if b != nil {
		e.leaf(local, def, strconv.FormatBool(*b))
	}
}

func (e *enc) number(local, def string, n *uint64) {
	if n != nil {
		e.leaf(local, def, strconv.FormatUint(*n, 10))
	}
}

func (e *enc) time(local, def string, t *time.Time) {
	if t != nil {
		e.leaf(local, def, formatDateTime(*t))
	}
}

// separator writes a cis:separator where the schema puts one. A struct
// that was parsed has its separators in its recorded order instead.
func (e *enc) separator() {
	if e.x.order == nil {
		e.add(&Element{Name: separatorName})
	}
}

// done appends the unknown attributes and elements and puts the children
// in the order they were read in.
func (e *enc) done() *Element {
	e.el.Attrs = append(e.el.Attrs, e.x.Attrs...)
	e.el.Children = append(e.el.Children, e.x.Elements...)
	e.el.Children = arrange(e.el.Children, e.x.order)
	return e.el
}

// arrange orders kids as order lists their names: each name takes the next
// unused child of that name, a structural mark becomes a new separator, and
// children the order does not mention (added since the parse) go last, in
// their default order.
func arrange(kids []*Element, order []xml.Name) []*Element {
	if order == nil {
		return kids
	}
	byName := make(map[xml.Name][]int, len(kids))
	for i, k := range kids {
		byName[k.Name] = append(byName[k.Name], i)
	}
	taken := make([]bool, len(kids))
	out := make([]*Element, 0, len(order)+len(kids))
	for _, n := range order {
		if n == structural {
			out = append(out, &Element{Name: separatorName})
		} else if q := byName[n]; len(q) > 0 {
			out = append(out, kids[q[0]])
			taken[q[0]] = true
			byName[n] = q[1:]
		}
	}
	for i, k := range kids {
		if !taken[i] {
			out = append(out, k)
		}
	}
	return out
}

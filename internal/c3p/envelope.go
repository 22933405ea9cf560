package c3p

import (
	"encoding/xml"
	"fmt"
	"strconv"
	"strings"
)

// Header is what requests and responses have in common ([MS-CONFPRO]
// §2.2.2, §2.2.3).
type Header struct {
	// Version is the C3PVersion attribute: Version ("1") or empty when the
	// attribute is absent, as it may be.
	Version string
	// RequestID is the sender's number for the request; a response copies
	// it.
	RequestID uint64
	// From is the source: the organizer URI of a Focus Factory request, the
	// request's to in a response.
	From string
	// To is the target: the SIP URI in the To header of the enclosing SIP
	// request, the request's from in a response.
	To string
}

// Request is a C3P request: an envelope and one command.
type Request struct {
	Header
	Command Command
	// ExtraAttrs are unknown attributes of the request element.
	ExtraAttrs []xml.Attr
}

// Code is the outcome of a request, the code attribute of a response.
type Code string

// The codes [MS-CONFPRO] §2.2.3 defines.
const (
	CodeSuccess Code = "success"
	CodeFailure Code = "failure"
)

// Response is a C3P response: an envelope, the outcome and one command
// element, which carries the failure reason.
type Response struct {
	Header
	Code Code
	// Reason is the reason attribute of the command element: why the
	// command failed, empty on success.
	Reason  string
	Command Command
	// ExtraAttrs are unknown attributes of the response element.
	ExtraAttrs []xml.Attr
}

// NewResponse returns the response to a request with the given header: same
// requestId, from and to swapped ([MS-CONFPRO] §2.2.3), C3PVersion 1.
func NewResponse(req Header, code Code, cmd Command) *Response {
	return &Response{
		Header:  Header{Version: Version, RequestID: req.RequestID, From: req.To, To: req.From},
		Code:    code,
		Command: cmd,
	}
}

// Command is the body of a request or response. The same type serves both
// directions, since a command's response element has the command's name and
// reuses its children; the fields a direction does not use stay empty.
type Command interface {
	// CommandName is the local name of the command element.
	CommandName() string
	encode() *Element
	decode(d *dec)
}

// commands maps command names to constructors. It is fixed: the interface
// is sealed, so the set of commands is this package's.
var commands = map[string]func() Command{
	"getConferencingCapabilities": func() Command { return new(GetConferencingCapabilities) },
	"getAvailableMcuTypes":        func() Command { return new(GetAvailableMCUTypes) },
	"addConference":               func() Command { return new(AddConference) },
	"getConference":               func() Command { return new(GetConference) },
	"modifyConference":            func() Command { return new(ModifyConference) },
	"deleteConference":            func() Command { return new(DeleteConference) },
	"getConferenceSummaries":      func() Command { return new(GetConferenceSummaries) },
	"addUser":                     func() Command { return new(AddUser) },
	"deleteUser":                  func() Command { return new(DeleteUser) },
	"modifyUserRoles":             func() Command { return new(ModifyUserRoles) },
	"modifyConferenceLock":        func() Command { return new(ModifyConferenceLock) },
	"modifyEndpointMedia":         func() Command { return new(ModifyEndpointMedia) },
}

// parleyCommands are Parley's own commands, in NamespaceParley.
var parleyCommands = map[string]func() Command{
	"resolveConference":  func() Command { return new(ResolveConference) },
	"verifyPasscode":     func() Command { return new(VerifyPasscode) },
	"verifyPin":          func() Command { return new(VerifyPIN) },
	"playAnnouncement":   func() Command { return new(PlayAnnouncement) },
	"announceConference": func() Command { return new(AnnounceConference) },
}

// NewCommand returns an empty command of the given name, or an Unsupported
// standing for it when the package does not implement it.
func NewCommand(name string) Command {
	if f, ok := commands[name]; ok {
		return f()
	}
	if f, ok := parleyCommands[name]; ok {
		return f()
	}
	return &Unsupported{Name: name}
}

// Unsupported stands for a command this package does not implement. Parsing
// never produces it (an unknown command is ErrUnknownCommand); it exists so
// that a failure response can name the command it answers.
type Unsupported struct {
	Name string
}

// CommandName implements Command.
func (u *Unsupported) CommandName() string { return u.Name }

func (u *Unsupported) encode() *Element {
	return &Element{Name: xml.Name{Space: NamespaceC3P, Local: u.Name}}
}

func (u *Unsupported) decode(d *dec) { d.failf("command not implemented") }

// ParseRequest parses a C3P request body. Every error is an *Error.
func ParseRequest(b []byte) (*Request, error) {
	root, h, extra, err := parseEnvelope(b, "request")
	if err != nil {
		return nil, err
	}
	req := &Request{Header: *h}
	req.Command, err = parseCommand(root.Children[0], h, nil)
	if err != nil {
		return nil, err
	}
	req.ExtraAttrs = extra
	return req, nil
}

// ParseResponse parses a C3P response body. Every error is an *Error.
func ParseResponse(b []byte) (*Response, error) {
	root, h, extra, err := parseEnvelope(b, "response")
	if err != nil {
		return nil, err
	}
	resp := &Response{Header: *h}
	for i, a := range extra {
		if a.Name.Space == "" && a.Name.Local == "code" {
			resp.Code = Code(strings.TrimSpace(a.Value))
			extra = append(extra[:i:i], extra[i+1:]...)
			break
		}
	}
	if resp.Code != CodeSuccess && resp.Code != CodeFailure {
		return nil, &Error{Header: h, Err: fmt.Errorf("%w: code=%q is neither success nor failure", ErrEnvelope, resp.Code)}
	}
	resp.Command, err = parseCommand(root.Children[0], h, &resp.Reason)
	if err != nil {
		return nil, err
	}
	resp.ExtraAttrs = extra
	return resp, nil
}

// parseEnvelope parses the body and checks the root element: its name, the
// common attributes and the single command child. It returns the attributes
// it did not consume.
func parseEnvelope(b []byte, want string) (*Element, *Header, []xml.Attr, error) {
	root, err := parseTree(b)
	if err != nil {
		return nil, nil, nil, &Error{Err: err}
	}
	if root.Name.Space != NamespaceC3P {
		return nil, nil, nil, &Error{Err: fmt.Errorf("%w: <%s> in namespace %q", ErrNamespace, root.Name.Local, root.Name.Space)}
	}
	if root.Name.Local != want {
		return nil, nil, nil, &Error{Err: fmt.Errorf("%w: <%s>, want <%s>", ErrRoot, root.Name.Local, want)}
	}
	h := new(Header)
	var extra []xml.Attr
	var id, from, to bool
	for _, a := range root.Attrs {
		if a.Name.Space != "" {
			extra = append(extra, a)
			continue
		}
		switch a.Name.Local {
		case "requestId":
			n, err := strconv.ParseUint(strings.TrimSpace(a.Value), 10, 64)
			if err != nil {
				return nil, nil, nil, &Error{Err: fmt.Errorf("%w: requestId=%q is not a non-negative integer", ErrEnvelope, a.Value)}
			}
			h.RequestID, id = n, true
		case "from":
			h.From, from = a.Value, a.Value != ""
		case "to":
			h.To, to = a.Value, a.Value != ""
		case "C3PVersion":
			if strings.TrimSpace(a.Value) != Version {
				return nil, nil, nil, &Error{Err: fmt.Errorf("%w: C3PVersion=%q, want %q", ErrEnvelope, a.Value, Version)}
			}
			h.Version = Version
		default:
			extra = append(extra, a)
		}
	}
	switch {
	case !id:
		return nil, nil, nil, &Error{Err: fmt.Errorf("%w: no requestId", ErrEnvelope)}
	case !from:
		return nil, nil, nil, &Error{Err: fmt.Errorf("%w: no from", ErrEnvelope)}
	case !to:
		return nil, nil, nil, &Error{Err: fmt.Errorf("%w: no to", ErrEnvelope)}
	}
	if strings.TrimSpace(root.Text) != "" {
		return nil, nil, nil, &Error{Header: h, Err: fmt.Errorf("%w: character data in <%s>", ErrEnvelope, want)}
	}
	if len(root.Children) != 1 {
		return nil, nil, nil, &Error{Header: h, Err: fmt.Errorf("%w: <%s> has %d children, want exactly one command", ErrEnvelope, want, len(root.Children))}
	}
	return root, h, extra, nil
}

// parseCommand decodes the command element. For a response, reason
// receives the reason attribute.
func parseCommand(el *Element, h *Header, reason *string) (Command, error) {
	name := el.Name.Local
	table := commands
	if el.Name.Space == NamespaceParley {
		table = parleyCommands
	}
	newCmd, ok := table[name]
	if !ok || (el.Name.Space != NamespaceC3P && el.Name.Space != NamespaceParley) {
		return nil, &Error{Header: h, Command: name, Err: fmt.Errorf("%w: {%s}%s", ErrUnknownCommand, el.Name.Space, name)}
	}
	var err error
	d := newDec(el, &err)
	if reason != nil {
		*reason, _ = d.attr("", "reason")
	}
	cmd := newCmd()
	cmd.decode(d)
	if err != nil {
		return nil, &Error{Header: h, Command: name, Err: err}
	}
	return cmd, nil
}

// Marshal encodes the request. It fails with ErrInvalid when the request
// lacks a command, from or to, or holds text XML cannot carry.
func (r *Request) Marshal() ([]byte, error) {
	if r.Command == nil {
		return nil, fmt.Errorf("marshal request: %w", invalidf("no command"))
	}
	root, err := envelope("request", r.Header, r.Command, r.ExtraAttrs)
	if err != nil {
		return nil, fmt.Errorf("marshal request: %w", err)
	}
	b, err := marshalTree(root)
	if err != nil {
		return nil, fmt.Errorf("marshal request: %w", err)
	}
	return b, nil
}

// Marshal encodes the response. It fails with ErrInvalid when the response
// lacks a command, from, to or a valid code, or holds text XML cannot
// carry.
func (r *Response) Marshal() ([]byte, error) {
	if r.Command == nil {
		return nil, fmt.Errorf("marshal response: %w", invalidf("no command"))
	}
	if r.Code != CodeSuccess && r.Code != CodeFailure {
		return nil, fmt.Errorf("marshal response: %w", invalidf("code %q is neither success nor failure", r.Code))
	}
	extra := append([]xml.Attr{{Name: xml.Name{Local: "code"}, Value: string(r.Code)}}, r.ExtraAttrs...)
	root, err := envelope("response", r.Header, r.Command, extra)
	if err != nil {
		return nil, fmt.Errorf("marshal response: %w", err)
	}
	if r.Reason != "" {
		cmd := root.Children[0]
		cmd.Attrs = append([]xml.Attr{{Name: xml.Name{Local: "reason"}, Value: r.Reason}}, cmd.Attrs...)
	}
	b, err := marshalTree(root)
	if err != nil {
		return nil, fmt.Errorf("marshal response: %w", err)
	}
	return b, nil
}

// envelope builds the root element around the encoded command.
func envelope(local string, h Header, cmd Command, extra []xml.Attr) (*Element, error) {
	if h.From == "" || h.To == "" {
		return nil, invalidf("from and to are required")
	}
	if h.Version != "" && h.Version != Version {
		return nil, invalidf("C3PVersion %q, want %q", h.Version, Version)
	}
	root := &Element{Name: xml.Name{Space: NamespaceC3P, Local: local}}
	if h.Version != "" {
		root.Attrs = append(root.Attrs, xml.Attr{Name: xml.Name{Local: "C3PVersion"}, Value: h.Version})
	}
	root.Attrs = append(root.Attrs,
		xml.Attr{Name: xml.Name{Local: "requestId"}, Value: strconv.FormatUint(h.RequestID, 10)},
		xml.Attr{Name: xml.Name{Local: "from"}, Value: h.From},
		xml.Attr{Name: xml.Name{Local: "to"}, Value: h.To},
	)
	root.Attrs = append(root.Attrs, extra...)
	root.Children = []*Element{cmd.encode()}
	return root, nil
}

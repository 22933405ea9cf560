package adminapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/parleyhq/parley/internal/directory"
)

// Client errors that are not answers of the server.
var (
	// ErrUnreachable reports that no HTTP exchange with the server took
	// place: nothing listens at the URL, the connection broke, or a
	// timeout hit.
	ErrUnreachable = errors.New("adminapi: server unreachable")
	// ErrUnauthorized matches an *Error for a 401 answer.
	ErrUnauthorized = errors.New("adminapi: unauthorized")
)

// Error is an error answer of the server. Its message is the server's,
// meant to be shown to the administrator as it is.
type Error struct {
	// Status is the HTTP status code.
	Status int
	// Code is the "code" member of the body (CodeInvalid, ...).
	Code string
	// Field names the invalid field of a CodeInvalid error.
	Field   string
	Message string
}

func (e *Error) Error() string {
	if e.Field != "" {
		return e.Field + ": " + e.Message
	}
	return e.Message
}

// Is makes errors.Is match the directory sentinels, and ErrUnauthorized, by
// the error's code, so that callers classify client errors as they would
// the service's.
func (e *Error) Is(target error) bool {
	switch target {
	case directory.ErrNotFound:
		return e.Code == CodeNotFound
	case directory.ErrExists:
		return e.Code == CodeExists
	case directory.ErrInUse:
		return e.Code == CodeInUse
	case ErrUnauthorized:
		return e.Status == http.StatusUnauthorized
	}
	return false
}

// AsValidation returns the *directory.ValidationError an invalid-input
// answer stands for, or nil.
func (e *Error) AsValidation() *directory.ValidationError {
	if e.Code != CodeInvalid {
		return nil
	}
	return &directory.ValidationError{Field: e.Field, Msg: e.Message}
}

// Client calls the admin API. Its methods mirror admin.Service's and return
// *Error for the server's error answers.
type Client struct {
	base  string
	token string
	hc    *http.Client
}

// NewClient returns a client for the server at baseURL (scheme, host and
// optional path prefix, such as http://127.0.0.1:8080). A nil httpClient
// means http.DefaultClient.
func NewClient(baseURL, token string, httpClient *http.Client) *Client {
	if httpClient == nil {
		httpClient = http.DefaultClient
	}
	return &Client{base: strings.TrimSuffix(baseURL, "/") + Prefix, token: token, hc: httpClient}
}

// path joins escaped path segments: path("users", uri, "pin").
func path(segments ...string) string {
	var b strings.Builder
	for _, s := range segments {
		b.WriteByte('/')
		b.WriteString(url.PathEscape(s))
	}
	return b.String()
}

// do sends a request with in as its JSON body (none when nil) and decodes
// the answer into out (ignored when nil).
func (c *Client) do(ctx context.Context, method, p string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("adminapi: encode request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+p, body)
	if err != nil {
		return fmt.Errorf("adminapi: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("%w: %w", ErrUnreachable, err)
	}
	defer func() { _ = resp.Body.Close() }()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("%w: reading the answer: %w", ErrUnreachable, err)
	}
	if resp.StatusCode >= 300 {
		return answerError(resp, data)
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("adminapi: %s %s: malformed answer: %w", method, p, err)
	}
	return nil
}

// answerError builds the *Error for an error answer; a body that is not
// the API's JSON (a proxy's page, the mux's 404) still gives the status.
func answerError(resp *http.Response, data []byte) error {
	var eb errorBody
	if json.Unmarshal(data, &eb) == nil && eb.Error != "" {
		return &Error{Status: resp.StatusCode, Code: eb.Code, Field: eb.Field, Message: eb.Error}
	}
	msg := strings.TrimSpace(string(data))
	if len(msg) > 200 {
		msg = msg[:200]
	}
	if msg == "" {
		msg = http.StatusText(resp.StatusCode)
	}
	code := ""
	switch resp.StatusCode {
	case http.StatusNotFound:
		code = CodeNotFound
	case http.StatusUnauthorized:
		code = CodeUnauthorized
	}
	return &Error{Status: resp.StatusCode, Code: code, Message: fmt.Sprintf("HTTP %d: %s", resp.StatusCode, msg)}
}

// get is do for GET with a typed result.
func get[T any](ctx context.Context, c *Client, p string) (T, error) {
	var v T
	err := c.do(ctx, http.MethodGet, p, nil, &v)
	return v, err
}

// send is do for a request with a body and a typed result.
func send[T any](ctx context.Context, c *Client, method, p string, in any) (T, error) {
	var v T
	err := c.do(ctx, method, p, in, &v)
	return v, err
}

package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
)

// printer writes a command's text output and keeps the first write error,
// so that output code reads as a list of lines and the command still fails
// when standard output is closed or full.
type printer struct {
	w   io.Writer
	err error
}

func (p *printer) Write(b []byte) (int, error) {
	if p.err != nil {
		return 0, p.err
	}
	n, err := p.w.Write(b)
	p.err = err
	return n, err
}

// printf and println discard the error they return; Write has kept it.
func (p *printer) printf(format string, args ...any) { _, _ = fmt.Fprintf(p, format, args...) }
func (p *printer) println(args ...any)               { _, _ = fmt.Fprintln(p, args...) }

// table prints rows under header as aligned columns.
func (p *printer) table(header []string, rows [][]string) {
	tw := tabwriter.NewWriter(p, 0, 0, 2, ' ', 0)
	_, _ = fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		_, _ = fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	_ = tw.Flush() // a failed write is in p.err
}

// field is one line of a detail view.
type field struct{ name, value string }

// fields prints name: value lines with the values aligned.
func (p *printer) fields(fs []field) {
	tw := tabwriter.NewWriter(p, 0, 0, 1, ' ', 0)
	for _, f := range fs {
		_, _ = fmt.Fprintf(tw, "%s:\t%s\n", f.name, f.value)
	}
	_ = tw.Flush() // a failed write is in p.err
}

// emit prints v as JSON under --json, and otherwise calls text.
func (g *globals) emit(v any, text func(p *printer)) error {
	if g.json {
		enc := json.NewEncoder(g.out)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	p := &printer{w: g.out}
	text(p)
	if p.err != nil {
		return fmt.Errorf("write output: %w", p.err)
	}
	return nil
}

// deleted is the --json answer of a delete.
type deleted struct {
	Deleted string `json:"deleted"`
}

// confirm prints a one-line message, or obj as JSON.
func (g *globals) confirm(obj any, format string, args ...any) error {
	return g.emit(obj, func(p *printer) { p.printf(format+"\n", args...) })
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// orDash shows an empty value as "-", so that table columns stay aligned
// and readable.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func itoa(n int) string { return strconv.Itoa(n) }

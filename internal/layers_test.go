// Package internal_test checks the dependency rules of docs/ARCHITECTURE.md:
// a package may import packages of a lower layer, or of its own subtree, and
// roles never import each other.
package internal_test

import (
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/parleyhq/parley/"

// layer ranks package path prefixes (relative to the module). The longest
// prefix wins. A package missing here fails the test: decide its layer.
var layer = map[string]int{
	// 0: protocol libraries; no storage, no product policy.
	"internal/sipx":     0,
	"internal/dialplan": 0,
	"internal/c3p":      0,
	"internal/confid":   0,
	"internal/media":    0,
	"internal/prompts":  0,
	// 1: domain model.
	"internal/directory": 1,
	// C3P's HTTP binding: protocol, but it serves HTTP, which layer 0 may not.
	"internal/c3p/c3phttp": 1,
	// 2: roles.
	"internal/registrar":    2,
	"internal/proxy":        2,
	"internal/provisioning": 2,
	"internal/admin":        2,
	"internal/focusfactory": 2,
	"internal/focus":        2,
	"internal/attendant":    2,
	"internal/announcement": 2,
	"internal/avmcu":        2,
	"internal/immcu":        2,
	"internal/mcufactory":   2,
	"internal/mediation":    2,
	// 3: adapters.
	"internal/store":    3,
	"internal/adminapi": 3,
	"internal/config":   3,
	// 4: assembly; 5: binary; 6: end to end.
	"internal/server": 4,
	"cmd":             5,
	"test":            6,
}

// allowed lists deliberate imports across subtrees of one layer, with why.
var allowed = map[[2]string]string{}

func rank(t *testing.T, pkg string) (prefix string, r int) {
	t.Helper()
	best := ""
	for p := range layer {
		if (pkg == p || strings.HasPrefix(pkg, p+"/")) && len(p) > len(best) {
			best = p
		}
	}
	if best == "" {
		t.Fatalf("package %s has no layer; add it to the table in internal/layers_test.go", pkg)
	}
	return best, layer[best]
}

func TestLayers(t *testing.T) {
	out, err := exec.Command("go", "list", "-json=ImportPath,Imports", module+"...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p struct {
			ImportPath string
			Imports    []string
		}
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		from := strings.TrimPrefix(p.ImportPath, module)
		if from == "internal" {
			continue
		}
		fromPrefix, fromRank := rank(t, from)
		for _, imp := range p.Imports {
			if !strings.HasPrefix(imp, module) {
				if fromRank == 0 && (imp == "database/sql" || imp == "net/http") {
					t.Errorf("%s (protocol layer) imports %s", from, imp)
				}
				continue
			}
			to := strings.TrimPrefix(imp, module)
			toPrefix, toRank := rank(t, to)
			switch {
			case fromPrefix == toPrefix:
			case toRank < fromRank:
			case allowed[[2]string{fromPrefix, toPrefix}] != "":
			default:
				t.Errorf("%s (layer %d) imports %s (layer %d); see docs/ARCHITECTURE.md", from, fromRank, to, toRank)
			}
		}
	}
}

package main

import (
	"os"
	"path/filepath"
	"strings"
)

// typedPaths shows paths in messages as the user typed the inputs: a file
// found under an input given relative (samples/) is shown relative to the
// working directory (samples/corrupt/x.json.gz), not as the absolute path
// the manifest keeps. Display only.
type typedPaths struct {
	cwd   string
	roots []string // the absolute paths of the inputs given relative
}

func newTypedPaths(inputs []string) typedPaths {
	cwd, err := os.Getwd()
	if err != nil {
		return typedPaths{}
	}
	t := typedPaths{cwd: cwd}
	for _, in := range inputs {
		if in == "-" || filepath.IsAbs(in) {
			continue
		}
		t.roots = append(t.roots, filepath.Join(cwd, in))
	}
	return t
}

// show is p as the user would have typed it. An archive member
// (x.zip!a/b.json) is under its archive's path.
func (t typedPaths) show(p string) string {
	for _, root := range t.roots {
		under := p == root || strings.HasPrefix(p, strings.TrimSuffix(root, string(filepath.Separator))+string(filepath.Separator)) ||
			strings.HasPrefix(p, root+"!")
		if !under {
			continue
		}
		if rel, err := filepath.Rel(t.cwd, p); err == nil {
			return rel
		}
	}
	return p
}

// showAll is show of each path, in a new slice.
func (t typedPaths) showAll(paths []string) []string {
	out := make([]string, 0, len(paths))
	for _, p := range paths {
		out = append(out, t.show(p))
	}
	return out
}

package cases

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// OutputError says an output path (a database, a case or dataset folder)
// cannot be used: it is inside the evidence, or cannot be resolved. It is a
// usage mistake: the user gives another path.
type OutputError struct{ msg string }

func (e *OutputError) Error() string { return e.msg }

// CheckOutsideEvidence refuses an output path inside the folder of any
// input: evidence is read-only, and the folder an evidence file was copied
// into is evidence too. Paths are compared after resolving symbolic links,
// so a link to the evidence folder does not get around the rule. flag
// names the option to change in the message.
func CheckOutsideEvidence(flag, output string, inputs []string) error {
	out, err := resolvePath(output)
	if err != nil {
		return &OutputError{fmt.Sprintf("%s %s: %v", flag, output, err)}
	}
	for _, in := range inputs {
		if in == "-" {
			continue
		}
		abs, err := resolvePath(in)
		if err != nil {
			continue // ingest reports an input it cannot use, with the path
		}
		fi, err := os.Stat(abs)
		if err != nil {
			continue
		}
		folder := abs
		if !fi.IsDir() {
			folder = filepath.Dir(abs)
		}
		if out == abs || within(out, folder) {
			return &OutputError{fmt.Sprintf("%s %s would be written inside the evidence folder %s (it holds the input %s); evidence is read-only: give %s a path outside it",
				flag, output, folder, in, flag)}
		}
	}
	return nil
}

// within is true when p is dir or below it.
func within(p, dir string) bool {
	if p == dir {
		return true
	}
	return strings.HasPrefix(p, strings.TrimSuffix(dir, string(filepath.Separator))+string(filepath.Separator))
}

// resolvePath makes p absolute and resolves the symbolic links of the part
// of it that exists; the rest (a folder still to be created) is appended. A
// dangling link is followed to where it points, because writing through it
// would create its target.
func resolvePath(p string) (string, error) {
	return resolveDepth(p, 0)
}

func resolveDepth(p string, depth int) (string, error) {
	if depth > 40 {
		return "", errors.New("too many levels of symbolic links")
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	existing, rest := abs, ""
	for {
		resolved, err := filepath.EvalSymlinks(existing)
		if err == nil {
			return filepath.Join(resolved, rest), nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
		if fi, lerr := os.Lstat(existing); lerr == nil && fi.Mode()&fs.ModeSymlink != 0 {
			target, err := os.Readlink(existing)
			if err != nil {
				return "", err
			}
			if !filepath.IsAbs(target) {
				target = filepath.Join(filepath.Dir(existing), target)
			}
			return resolveDepth(filepath.Join(target, rest), depth+1)
		}
		parent := filepath.Dir(existing)
		if parent == existing {
			return abs, nil
		}
		rest = filepath.Join(filepath.Base(existing), rest)
		existing = parent
	}
}

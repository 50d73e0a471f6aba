package lake

import (
	"os"

	"github.com/parquet-go/parquet-go"
)

// sameSchema reports whether every Parquet file in files has the same
// schema, read from its footer. The events view then reads them without
// DuckDB's union_by_name, which unifies the schemas of every file again
// for each scan: a seventh of detect --parquet on the bench corpus. A
// dataset written by several trailsift versions, or a file that cannot be
// read here, keeps union_by_name (false).
func sameSchema(files []string) bool {
	var first string
	for i, name := range files {
		s, err := fileSchema(name)
		if err != nil {
			return false
		}
		if i == 0 {
			first = s
		} else if s != first {
			return false
		}
	}
	return len(files) > 0
}

// fileSchema is the schema of the Parquet file at name, as text.
func fileSchema(name string) (string, error) {
	f, err := os.Open(name)
	if err != nil {
		return "", err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", err
	}
	pf, err := parquet.OpenFile(f, st.Size(), parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true))
	if err != nil {
		return "", err
	}
	return pf.Schema().String(), nil
}

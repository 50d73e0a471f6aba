package main

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/trailsift/trailsift/query"
)

// versionInfo is what `trailsift version` reports: enough to say which
// build made a case, and which DuckDB reads it.
type versionInfo struct {
	Trailsift string `json:"trailsift"`
	DuckDB    string `json:"duckdb"`
	// StoreSchema is the store schema version this build writes (and
	// migrates older stores to).
	StoreSchema int    `json:"store_schema"`
	Go          string `json:"go"`
	Platform    string `json:"platform"`
}

func currentVersion(ctx context.Context) versionInfo {
	v := versionInfo{Trailsift: buildVersion(), StoreSchema: query.SchemaVersion, Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	v.DuckDB = "unknown"
	if db, err := query.OpenMemory(ctx, "64MB"); err == nil {
		_ = db.DB.QueryRowContext(ctx, "SELECT library_version FROM pragma_version()").Scan(&v.DuckDB)
		_ = db.Close()
	}
	return v
}

func (v versionInfo) String() string {
	return fmt.Sprintf("trailsift %s\nDuckDB %s (linked in; extensions are never downloaded)\nstore schema version %d\n%s %s\n",
		v.Trailsift, v.DuckDB, v.StoreSchema, v.Go, v.Platform)
}

func newVersionCommand(ios *streams) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the versions of trailsift, the DuckDB it embeds and its store schema",
		Long: `Print the version of trailsift, of the DuckDB library linked into it, of the
store schema it writes (older stores are migrated to it), and of the Go
toolchain that built it. Put it in a case's notes: it says which build read the
evidence. trailsift --version prints the same.`,
		Example: `  trailsift version
  trailsift version --json`,
		Args: positionalArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			v := currentVersion(cmd.Context())
			if asJSON {
				return json.NewEncoder(ios.Out).Encode(v)
			}
			_, err := fmt.Fprint(ios.Out, v)
			return err
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/trailsift/trailsift/query"
)

func newSchemaCommand(ios *streams) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "schema",
		Short: "Describe the tables, views and columns of a case database",
		Long: `Describe the tables, views and columns of a case database: the same text as
the README's schema reference. JSON columns hold the original nested parts;
read them with DuckDB's JSON operators, e.g. request_parameters->>'userName'.`,
		Example: `  trailsift schema
  trailsift schema --format json | jq '.[] | .name'`,
		Args: positionalArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			switch format {
			case "markdown", "md", "text":
				_, err := fmt.Fprint(ios.Out, query.SchemaMarkdown())
				return err
			case "json":
				enc := json.NewEncoder(ios.Out)
				enc.SetIndent("", "  ")
				return enc.Encode(query.Documented())
			}
			return &usageError{fmt.Sprintf("unknown --format %q: use text or json", format)}
		},
	}
	cmd.Flags().StringVar(&format, "format", "text", "output `FORMAT`: text (Markdown) or json")
	return cmd
}

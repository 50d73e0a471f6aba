// Command mkhostile writes the adversarial suite (package hostile) to a
// folder, one subfolder per case, to try trailsift on it by hand:
//
//	go run ./samples/hostile/mkhostile /tmp/hostile
//	trailsift ingest --db /tmp/hostile.duckdb /tmp/hostile/
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/trailsift/trailsift/samples/hostile"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: mkhostile DIR")
		os.Exit(2)
	}
	if err := write(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "mkhostile:", err)
		os.Exit(1)
	}
}

func write(dir string) error {
	for _, c := range hostile.Cases() {
		if err := hostile.Write(filepath.Join(dir, c.Name), c); err != nil {
			return err
		}
		fmt.Printf("%-36s %4d events  %s\n", c.Name, c.Events, c.Why)
	}
	return nil
}

// Command trailsift analyses exported AWS CloudTrail archives offline.
package main

import "os"

func main() {
	os.Exit(Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

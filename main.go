// Command nimbus is Nimbus Desktop: with no arguments it opens the GUI, with a
// subcommand it runs headless (see README.md for the CLI).
package main

import (
	_ "github.com/nimbus-desktop/nimbus/model"
)

func main() {}

package sync

import "os"

// osGetenv is a seam for tests.
var osGetenv = os.Getenv

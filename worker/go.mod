module github.com/nimbus-desktop/nimbus/worker

// This file only keeps worker/ (and its node_modules) out of the Go module.

go 1.26

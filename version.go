package main

import _ "embed"

// fyneAppTOML is the app metadata `fyne package` reads; embedding it makes
// FyneApp.toml the single place the version is written.
//
//go:embed FyneApp.toml
var fyneAppTOML string

// version overrides FyneApp.toml's version when set at link time:
//
//	go build -ldflags "-X main.version=0.1.0-rc1" .
var version string

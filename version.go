package main

import (
	"context"
	_ "embed"
	"runtime"
	"strconv"
	"strings"
)

// fyneAppTOML is the app metadata `fyne package` reads; embedding it makes
// FyneApp.toml the single place the version is written.
//
//go:embed FyneApp.toml
var fyneAppTOML string

// version overrides FyneApp.toml's version when set at link time:
//
//	go build -ldflags "-X main.version=0.1.0-rc1" .
var version string

// appInfo is what `nimbus version` reports.
type appInfo struct {
	Name    string `json:"name"`
	ID      string `json:"id"`
	Version string `json:"version"`
	Build   int    `json:"build"`
	Go      string `json:"go"`
	OS      string `json:"os"`
	Arch    string `json:"arch"`
}

// buildInfo reads the [Details] table of FyneApp.toml. The file is ours and
// flat (key = "string" | int), so a line parser is enough and keeps a TOML
// library out of the binary.
func buildInfo() appInfo {
	info := appInfo{Go: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH}
	section := ""
	for _, line := range strings.Split(fyneAppTOML, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasPrefix(line, "[") {
			section = strings.Trim(line, "[]")
			continue
		}
		if section != "Details" {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if s, err := strconv.Unquote(v); err == nil {
			v = s
		}
		switch k {
		case "Name":
			info.Name = v
		case "ID":
			info.ID = v
		case "Version":
			info.Version = v
		case "Build":
			info.Build, _ = strconv.Atoi(v)
		}
	}
	if version != "" {
		info.Version = version
	}
	return info
}

// userAgent identifies this build in session records.
func userAgent() string { return "nimbus-desktop/" + buildInfo().Version }

func init() {
	register(command{
		Name:    "version",
		Usage:   "nimbus version [--json]",
		Summary: "print the version of this build",
		Run: func(ctx context.Context, e *env, args []string) error {
			if _, err := e.parse("version", args, nil); err != nil {
				return err
			}
			info := buildInfo()
			if e.JSON {
				return e.printJSON(info)
			}
			e.printf("%s %s (build %d, %s, %s/%s)\n", info.Name, info.Version, info.Build, info.Go, info.OS, info.Arch)
			return nil
		},
	})
}

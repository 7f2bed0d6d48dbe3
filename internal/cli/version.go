package cli

import (
	"context"
	"runtime"
	"strconv"
	"strings"
)

// AppInfo is what `nimbus version` reports.
type AppInfo struct {
	Name    string `json:"name"`
	ID      string `json:"id"`
	Version string `json:"version"`
	Build   int    `json:"build"`
	Go      string `json:"go"`
	OS      string `json:"os"`
	Arch    string `json:"arch"`
}

// ParseAppInfo reads the [Details] table of FyneApp.toml (fyneAppTOML: its
// text); version, when set (at link time), overrides its Version. The file
// is ours and flat (key = "string" | int), so a line parser is enough and
// keeps a TOML library out of the binary.
func ParseAppInfo(fyneAppTOML, version string) AppInfo {
	info := AppInfo{Go: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH}
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
func (a AppInfo) userAgent() string {
	if a.Version == "" {
		return "nimbus-desktop/dev"
	}
	return "nimbus-desktop/" + a.Version
}

// versionCommands are the version commands (the table: commandTable in cli.go).
func versionCommands() []command {
	return []command{
		{
			Name:    "version",
			Usage:   "nimbus version [--json]",
			Summary: "print the version of this build",
			Run: func(ctx context.Context, e *env, args []string) error {
				if _, err := e.parse("version", args, nil); err != nil {
					return err
				}
				info := e.app
				if e.JSON {
					return e.printJSON(info)
				}
				e.printf("%s %s (build %d, %s, %s/%s)\n", info.Name, info.Version, info.Build, info.Go, info.OS, info.Arch)
				return nil
			},
		},
	}
}

// Package assets owns the app's bundled resources: the application icon
// (icon.png, drawn by gen_icon.go). It exposes plain bytes and imports no GUI
// toolkit, so the CLI and tests can use it without cgo; the ui package wraps
// the bytes in a fyne resource.
package assets

import _ "embed"

//go:generate go run gen_icon.go

// IconPNG is the 512x512 application icon (also FyneApp.toml's Icon).
//
//go:embed icon.png
var IconPNG []byte

// IconName is the file name fyne resources and packaging use for the icon.
const IconName = "icon.png"

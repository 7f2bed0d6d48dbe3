package ui

import (
	"image/color"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/theme"
)

// The editor's choice of light or dark, kept in the app's preferences (not
// the store: it is this machine's, not the project's). "System" follows the
// desktop (and FYNE_THEME).
const (
	prefAppearance   = "appearance"
	appearanceSystem = "System"
	appearanceLight  = "Light"
	appearanceDark   = "Dark"
)

var appearances = []string{appearanceSystem, appearanceLight, appearanceDark}

// nimbusTheme is Fyne's default theme with text colours that read well on
// both backgrounds, and optionally a fixed variant (Light or Dark; System
// follows the desktop). The default palette draws low-importance text
// (counts, dimensions, the second line of a row) and the success, warning
// and error colours too pale on white, and low-importance text too dark on
// black; these keep a contrast of at least 4.5:1 (WCAG AA for text) on the
// variant's background.
type nimbusTheme struct {
	fyne.Theme
	force   bool
	variant fyne.ThemeVariant
}

var (
	lightColors = map[fyne.ThemeColorName]color.Color{
		theme.ColorNameDisabled:    color.NRGBA{0x6b, 0x6b, 0x6b, 0xff}, // 5.3:1 on white
		theme.ColorNamePlaceHolder: color.NRGBA{0x6b, 0x6b, 0x6b, 0xff},
		theme.ColorNameSuccess:     color.NRGBA{0x2e, 0x7d, 0x32, 0xff}, // 5.1:1
		theme.ColorNameWarning:     color.NRGBA{0xa8, 0x5a, 0x00, 0xff}, // 4.9:1
		theme.ColorNameError:       color.NRGBA{0xc6, 0x28, 0x28, 0xff}, // 5.6:1
		theme.ColorNamePrimary:     color.NRGBA{0x15, 0x65, 0xc0, 0xff}, // 5.8:1
		// unchecked boxes and radios, field borders: 3.5:1 (WCAG: 3:1 for controls)
		theme.ColorNameInputBorder: color.NRGBA{0x8a, 0x8a, 0x8a, 0xff},
	}
	darkColors = map[fyne.ThemeColorName]color.Color{
		theme.ColorNameDisabled:    color.NRGBA{0x8c, 0x8c, 0x8c, 0xff}, // 5.7:1 on the dark background
		theme.ColorNamePlaceHolder: color.NRGBA{0x8c, 0x8c, 0x8c, 0xff},
		theme.ColorNamePrimary:     color.NRGBA{0x3d, 0x7b, 0xff, 0xff}, // 4.7:1; white text on it 3.8:1 (bold button labels)
	}
)

func (t nimbusTheme) Color(n fyne.ThemeColorName, v fyne.ThemeVariant) color.Color {
	if t.force {
		v = t.variant
	}
	table := darkColors
	if v == theme.VariantLight {
		table = lightColors
	}
	if c, ok := table[n]; ok {
		return c
	}
	return t.Theme.Color(n, v)
}

// appearance is the saved choice (System when none or unknown).
func appearance(a fyne.App) string {
	switch v := a.Preferences().String(prefAppearance); v {
	case appearanceLight, appearanceDark:
		return v
	}
	return appearanceSystem
}

// applyAppearance sets the app's theme for choice; with save it is
// remembered for the next start. Call it on the Fyne goroutine.
func applyAppearance(a fyne.App, choice string, save bool) {
	t := nimbusTheme{Theme: theme.DefaultTheme()}
	switch choice {
	case appearanceLight:
		t.force, t.variant = true, theme.VariantLight
	case appearanceDark:
		t.force, t.variant = true, theme.VariantDark
	default:
		choice = appearanceSystem
	}
	a.Settings().SetTheme(t)
	if save {
		a.Preferences().SetString(prefAppearance, choice)
	}
}

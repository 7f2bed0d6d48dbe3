package ui

import (
	"image/color"
	"math"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/theme"
)

// Settings' Appearance switches the theme at once, remembers it, and the
// next start applies it; the chosen variant's background is used whatever
// the desktop's variant.
func TestAppearanceSwitchAppliesAndIsRemembered(t *testing.T) {
	ws := openWorkspace(t)
	s := newShell(t, ws)
	if got := s.settings.appearance.Selected; got != appearanceSystem {
		t.Fatalf("a new install shows %q, want System", got)
	}
	s.settings.appearance.SetSelected(appearanceLight)
	th := s.app.Settings().Theme()
	light := theme.DefaultTheme().Color(theme.ColorNameBackground, theme.VariantLight)
	dark := theme.DefaultTheme().Color(theme.ColorNameBackground, theme.VariantDark)
	if !sameColor(th.Color(theme.ColorNameBackground, theme.VariantDark), light) {
		t.Errorf("Light: background %v, want the light %v", th.Color(theme.ColorNameBackground, theme.VariantDark), light)
	}
	if got := s.app.Preferences().String(prefAppearance); got != appearanceLight {
		t.Errorf("saved %q", got)
	}
	s.settings.appearance.SetSelected(appearanceDark)
	if got := s.app.Settings().Theme().Color(theme.ColorNameBackground, theme.VariantLight); !sameColor(got, dark) {
		t.Errorf("Dark: background %v, want %v", got, dark)
	}
	// The next start on the same preferences applies the saved choice (as
	// Run does before New).
	a := test.NewTempApp(t)
	a.Preferences().SetString(prefAppearance, appearanceLight)
	applyAppearance(a, appearance(a), false)
	s2 := New(a, ws, Options{Synchronous: true})
	t.Cleanup(s2.Close)
	if got := a.Settings().Theme().Color(theme.ColorNameBackground, theme.VariantDark); !sameColor(got, light) || s2.settings.appearance.Selected != appearanceLight {
		t.Errorf("after a restart: background %v, selected %q", got, s2.settings.appearance.Selected)
	}
	// Back to System: the variant follows the desktop.
	s2.settings.appearance.SetSelected(appearanceSystem)
	if got := a.Settings().Theme().Color(theme.ColorNameBackground, theme.VariantDark); !sameColor(got, dark) {
		t.Error("System still forces a variant")
	}
	// Low-importance and status text keep 4.5:1 on both backgrounds.
	for _, v := range []fyne.ThemeVariant{theme.VariantLight, theme.VariantDark} {
		bg := a.Settings().Theme().Color(theme.ColorNameBackground, v)
		for _, n := range []fyne.ThemeColorName{theme.ColorNameForeground, theme.ColorNameDisabled, theme.ColorNameSuccess, theme.ColorNameWarning, theme.ColorNameError, theme.ColorNamePrimary} {
			if r := contrast(a.Settings().Theme().Color(n, v), bg); r < 4.5 {
				t.Errorf("variant %d: %s has contrast %.2f:1 on the background, want at least 4.5", v, n, r)
			}
		}
	}
}

// contrast is the WCAG 2 contrast ratio of two opaque colours.
func contrast(a, b color.Color) float64 {
	l1, l2 := luminance(a), luminance(b)
	if l1 < l2 {
		l1, l2 = l2, l1
	}
	return (l1 + 0.05) / (l2 + 0.05)
}

func luminance(c color.Color) float64 {
	r, g, b, _ := c.RGBA()
	lin := func(v uint32) float64 {
		s := float64(v) / 0xffff
		if s <= 0.03928 {
			return s / 12.92
		}
		return math.Pow((s+0.055)/1.055, 2.4)
	}
	return 0.2126*lin(r) + 0.7152*lin(g) + 0.0722*lin(b)
}

func sameColor(a, b color.Color) bool {
	r1, g1, b1, a1 := a.RGBA()
	r2, g2, b2, a2 := b.RGBA()
	return r1 == r2 && g1 == g2 && b1 == b2 && a1 == a2
}

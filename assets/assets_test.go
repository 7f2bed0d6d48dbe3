package assets

import (
	"bytes"
	"image/png"
	"testing"
)

func TestIconIsA512SquarePNGWithTransparentCorners(t *testing.T) {
	img, err := png.Decode(bytes.NewReader(IconPNG))
	if err != nil {
		t.Fatalf("decode %s: %v", IconName, err)
	}
	if b := img.Bounds(); b.Dx() != 512 || b.Dy() != 512 {
		t.Fatalf("%s is %dx%d, want 512x512", IconName, b.Dx(), b.Dy())
	}
	if _, _, _, a := img.At(0, 0).RGBA(); a != 0 {
		t.Errorf("corner pixel alpha %d, want transparent (rounded icon)", a)
	}
	if _, _, _, a := img.At(256, 256).RGBA(); a != 0xffff {
		t.Errorf("centre pixel alpha %d, want opaque", a)
	}
}

//go:build ignore

// gen_icon draws assets/icon.png: a white cloud (nimbus) over a page outline
// on a rounded blue square, 512x512, anti-aliased by 4x4 supersampling.
// Run from this directory: go run gen_icon.go
package main

import (
	"image"
	"image/color"
	"image/png"
	"log"
	"math"
	"os"
)

const size = 512

type circle struct{ x, y, r float64 }

// inRoundRect reports whether (x, y) lies in the rectangle [x0,x1]x[y0,y1]
// with corners of radius r.
func inRoundRect(x, y, x0, y0, x1, y1, r float64) bool {
	if x < x0 || x > x1 || y < y0 || y > y1 {
		return false
	}
	cx := math.Max(x0+r, math.Min(x, x1-r))
	cy := math.Max(y0+r, math.Min(y, y1-r))
	return (x-cx)*(x-cx)+(y-cy)*(y-cy) <= r*r
}

var cloud = []circle{{190, 250, 70}, {262, 205, 92}, {336, 250, 66}}

func inCloud(x, y float64) bool {
	for _, c := range cloud {
		// the circles are cut at the base's bottom edge: a cloud sits flat
		if y <= 300 && (x-c.x)*(x-c.x)+(y-c.y)*(y-c.y) <= c.r*c.r {
			return true
		}
	}
	// the flat base: straight sides where the outer circles touch them
	// (x=120 and x=402 at y=250), rounded only at the bottom
	return inRoundRect(x, y, 120, 240, 402, 318, 39) || (x >= 120 && x <= 402 && y >= 250 && y <= 280)
}

// inLines draws three text lines of a page below the cloud: the content the
// app extracts and reviews.
func inLines(x, y float64) bool {
	return inRoundRect(x, y, 150, 350, 362, 370, 10) ||
		inRoundRect(x, y, 150, 388, 330, 408, 10) ||
		inRoundRect(x, y, 150, 426, 290, 446, 10)
}

func mix(a, b color.NRGBA, t float64) color.NRGBA {
	l := func(p, q uint8) uint8 { return uint8(math.Round(float64(p)*(1-t) + float64(q)*t)) }
	return color.NRGBA{l(a.R, b.R), l(a.G, b.G), l(a.B, b.B), l(a.A, b.A)}
}

func sample(x, y float64) (c color.NRGBA, inside bool) {
	if !inRoundRect(x, y, 16, 16, 496, 496, 96) {
		return color.NRGBA{}, false
	}
	top, bottom := color.NRGBA{0x3b, 0x82, 0xf6, 0xff}, color.NRGBA{0x1e, 0x2a, 0x78, 0xff}
	c = mix(top, bottom, (y-16)/480)
	switch {
	case inCloud(x-4, y-10) && !inCloud(x, y): // a shadow below and right of the cloud
		c = mix(c, color.NRGBA{0x10, 0x18, 0x40, 0xff}, 0.35)
	}
	if inCloud(x, y) {
		c = color.NRGBA{0xff, 0xff, 0xff, 0xff}
	}
	if inLines(x, y) {
		c = color.NRGBA{0xdb, 0xea, 0xfe, 0xff}
	}
	return c, true
}

func main() {
	img := image.NewNRGBA(image.Rect(0, 0, size, size))
	const ss = 4
	for py := 0; py < size; py++ {
		for px := 0; px < size; px++ {
			var r, g, b, a float64
			for sy := 0; sy < ss; sy++ {
				for sx := 0; sx < ss; sx++ {
					c, ok := sample(float64(px)+(float64(sx)+0.5)/ss, float64(py)+(float64(sy)+0.5)/ss)
					if !ok {
						continue
					}
					// colour averages the covered samples, alpha is the coverage (NRGBA)
					r += float64(c.R)
					g += float64(c.G)
					b += float64(c.B)
					a++
				}
			}
			if a == 0 {
				continue
			}
			img.SetNRGBA(px, py, color.NRGBA{
				uint8(math.Round(r / a)), uint8(math.Round(g / a)), uint8(math.Round(b / a)),
				uint8(math.Round(255 * a / ss / ss)),
			})
		}
	}
	f, err := os.Create("icon.png")
	if err != nil {
		log.Fatal(err)
	}
	if err := png.Encode(f, img); err != nil {
		log.Fatal(err)
	}
	if err := f.Close(); err != nil {
		log.Fatal(err)
	}
}

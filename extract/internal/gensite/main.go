// Command gensite writes the extraction fixtures: a programmatic-SEO site
// (location x brand x service pages with site chrome, tables, nested lists,
// images and calls to action) under testdata/site/dist, and the edge-case
// pages under testdata/edge. The output is deterministic, so regenerating
// changes nothing unless this file changed:
//
//	go run ./extract/internal/gensite -root testdata
//
// With -pages N it writes only a site of N location x brand x service pages
// under -out (towns beyond the ten real ones are numbered: "Leeds 12"), for
// the scale benchmarks (make bench-scale); nothing under testdata changes.
//
//	go run ./extract/internal/gensite -pages 100000 -out build/site-100000/dist
package main

import (
	"flag"
	"fmt"
	"hash/fnv"
	"html"
	"log"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/japanese"
)

type brand struct{ slug, name string }
type service struct{ slug, name, blurb string }

var locations = []struct{ slug, name, region string }{
	{"birmingham", "Birmingham", "West Midlands"},
	{"manchester", "Manchester", "North West"},
	{"leeds", "Leeds", "Yorkshire"},
	{"bristol", "Bristol", "South West"},
	{"newcastle-upon-tyne", "Newcastle upon Tyne", "North East"},
	{"stoke-on-trent", "Stoke-on-Trent", "West Midlands"},
	{"london", "London", "Greater London"},
	{"glasgow", "Glasgow", "Scotland"},
	{"cardiff", "Cardiff", "Wales"},
	{"nottingham", "Nottingham", "East Midlands"},
}

var brands = []brand{
	{"rolex", "Rolex"},
	{"omega", "Omega"},
	{"tag-heuer", "TAG Heuer"},
	{"audemars-piguet", "Audemars Piguet"},
	{"patek-philippe", "Patek Philippe"},
	{"breitling", "Breitling"},
}

var services = []service{
	{"watch-repair", "Watch Repair", "diagnose and repair movements, crowns and crystals"},
	{"battery-replacement", "Battery Replacement", "replace batteries and reseal the case to its water rating"},
	{"servicing", "Servicing", "strip, clean, lubricate and regulate the movement"},
	{"strap-fitting", "Strap Fitting", "fit bracelets and straps, and adjust links"},
	{"polishing", "Polishing", "refinish cases and bracelets to factory brushing"},
}

func hash(s string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(s))
	return h.Sum32()
}

func main() {
	root := flag.String("root", "testdata", "testdata folder to write into")
	pages := flag.Int("pages", 0, "write only a site of this many pages under -out")
	out := flag.String("out", "", "the site folder for -pages")
	flag.Parse()
	if *pages > 0 {
		if *out == "" {
			log.Fatal("-pages needs -out")
		}
		scaled(*out, *pages)
		return
	}
	site := filepath.Join(*root, "site", "dist")
	n := 0
	for _, l := range locations {
		for _, b := range brands {
			for _, s := range services {
				p := filepath.Join(site, "local", l.slug, b.slug+"-"+s.slug+".html")
				write(p, []byte(page(l.slug, l.name, l.region, b, s)))
				n++
			}
		}
		write(filepath.Join(site, "local", l.slug, "index.html"), []byte(locationIndex(l.slug, l.name)))
		n++
	}
	write(filepath.Join(site, "index.html"), []byte(home()))
	n++
	edges(filepath.Join(*root, "edge"))
	log.Printf("wrote %d site pages to %s and the edge pages", n, site)
}

// scaled writes n pages under site: every brand x service for each town,
// the ten real towns first, then numbered copies of them.
func scaled(site string, n int) {
	written := 0
	for round := 0; written < n; round++ {
		for _, l := range locations {
			slug, name := l.slug, l.name
			if round > 0 {
				slug, name = fmt.Sprintf("%s-%d", l.slug, round), fmt.Sprintf("%s %d", l.name, round)
			}
			for _, b := range brands {
				for _, s := range services {
					if written == n {
						log.Printf("wrote %d pages to %s", written, site)
						return
					}
					write(filepath.Join(site, "local", slug, b.slug+"-"+s.slug+".html"), []byte(page(slug, name, l.region, b, s)))
					written++
				}
			}
		}
	}
	log.Printf("wrote %d pages to %s", written, site)
}

func write(p string, b []byte) {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		log.Fatal(err)
	}
}

const nbsp = "\u00a0"

func header() string {
	var b strings.Builder
	b.WriteString(`<header class="site-header">
  <a class="logo" href="/"><img src="/img/logo.svg" alt="Timekeepers"></a>
  <nav aria-label="Main">
    <ul>
      <li><a href="/">Home</a></li>
      <li><a href="/services/">Services</a>
        <ul>`)
	for _, s := range services {
		fmt.Fprintf(&b, "\n          <li><a href=\"/services/%s.html\">%s</a></li>", s.slug, s.name)
	}
	b.WriteString(`
        </ul>
      </li>
      <li><a href="/locations/">Locations</a></li>
      <li><a class="btn btn-primary" href="/book/">Book a repair</a></li>
    </ul>
  </nav>
</header>
`)
	return b.String()
}

func footer() string {
	return `<footer class="site-footer">
  <p>&copy; 2024 Timekeepers Ltd. Registered in England &amp; Wales.</p>
  <ul class="links"><li><a href="/privacy.html">Privacy</a></li><li><a href="/terms.html">Terms</a></li></ul>
</footer>
`
}

func page(loc, locName, region string, b brand, s service) string {
	h := hash(loc + b.slug + s.slug)
	price := 39 + int(h%12)*10
	days := 3 + int(h%5)
	title := fmt.Sprintf("%s %s in %s |%sTimekeepers", b.name, s.name, locName, nbsp)
	if h%17 == 0 {
		// Generated sites often ship a few pages with a template's default
		// title: the duplicate audit must find them.
		title = "Watch Repair Specialists | Timekeepers"
	}
	desc := fmt.Sprintf("Expert %s %s in %s. Fixed prices from £%d, %d-day turnaround and a 2-year guarantee from our %s workshop.",
		b.name, strings.ToLower(s.name), locName, price, days, region)
	var w strings.Builder
	w.WriteString("<!DOCTYPE html>\n<html lang=\"en-GB\">\n<head>\n<meta charset=\"utf-8\">\n")
	fmt.Fprintf(&w, "<title>%s</title>\n", html.EscapeString(title))
	if h%23 != 0 {
		fmt.Fprintf(&w, "<meta name=\"description\" content=\"%s\">\n", html.EscapeString(desc))
	}
	url := fmt.Sprintf("https://www.timekeepers.example/local/%s/%s-%s.html", loc, b.slug, s.slug)
	fmt.Fprintf(&w, "<link rel=\"canonical\" href=\"%s\">\n", url)
	w.WriteString("<link rel=\"icon\" href=\"/favicon.ico\">\n")
	fmt.Fprintf(&w, "<meta property=\"og:title\" content=\"%s\">\n", html.EscapeString(title))
	fmt.Fprintf(&w, "<meta property=\"og:url\" content=\"%s\">\n", url)
	w.WriteString("<meta name=\"twitter:card\" content=\"summary\">\n")
	fmt.Fprintf(&w, "<meta name=\"nimbus:region\" content=\"%s\">\n", region)
	w.WriteString("<style>body{font-family:sans-serif}</style>\n</head>\n")
	fmt.Fprintf(&w, "<body class=\"local\" data-location=\"%s\" data-brand=\"%s\" data-service=\"%s\">\n", loc, b.slug, s.slug)
	w.WriteString(header())
	w.WriteString("<main id=\"content\">\n")
	fmt.Fprintf(&w, "  <nav class=\"breadcrumb\"><a href=\"/\">Home</a> › <a href=\"/local/%s/\">%s</a> › %s</nav>\n", loc, locName, s.name)
	fmt.Fprintf(&w, "  <h1>%s %s in%s%s</h1>\n", b.name, s.name, nbsp, locName)
	fmt.Fprintf(&w, "  <p class=\"lead\">Looking for %s %s in %s? Our watchmakers %s, with fixed prices from <strong>£%d</strong>.</p>\n",
		b.name, strings.ToLower(s.name), locName, s.blurb, price)
	fmt.Fprintf(&w, "  <img src=\"/img/%s-%s.jpg\" alt=\"A %s on the bench at our %s workshop\" width=\"640\" height=\"360\">\n", b.slug, s.slug, b.name, locName)
	fmt.Fprintf(&w, "  <p>Free collection across %s. <a class=\"btn btn-cta\" href=\"/book/?brand=%s&amp;service=%s\">Get a free quote</a></p>\n", region, b.slug, s.slug)
	w.WriteString("  <h2>What is included</h2>\n  <ul class=\"features\">\n")
	fmt.Fprintf(&w, "    <li>Full inspection of your %s\n      <ul>\n        <li>Movement and amplitude check</li>\n        <li>Water-resistance test to the original rating</li>\n      </ul>\n    </li>\n", b.name)
	fmt.Fprintf(&w, "    <li>%d-day turnaround</li>\n    <li>2-year guarantee on all work</li>\n  </ul>\n", days)
	w.WriteString("  <h2>Prices</h2>\n")
	withTbody := h%2 == 0
	w.WriteString("  <table class=\"prices\">\n    <caption>Fixed prices</caption>\n")
	if withTbody {
		w.WriteString("    <thead><tr><th>Service</th><th>Price</th><th>Time</th></tr></thead>\n    <tbody>\n")
	} else {
		w.WriteString("    <tr><th>Service</th><th>Price</th><th>Time</th></tr>\n")
	}
	for i, o := range services {
		fmt.Fprintf(&w, "    <tr><td>%s %s</td><td>£%d</td><td>%d days</td></tr>\n", b.name, o.name, 39+((int(h)+i*3)%12)*10, 2+(int(h)+i)%6)
	}
	if withTbody {
		w.WriteString("    </tbody>\n")
	}
	w.WriteString("  </table>\n")
	fmt.Fprintf(&w, "  <h2>Why choose Timekeepers in %s</h2>\n", locName)
	fmt.Fprintf(&w, "  <p>We have serviced %s watches since 1998. Every repair is done in-house by a certified watchmaker, and you can follow it online.</p>\n", b.name)
	w.WriteString("  <blockquote><p>“Quick, careful and exactly the price I was quoted.”</p><footer>— a customer in " + locName + "</footer></blockquote>\n")
	w.WriteString("  <figure><img src=\"/img/workshop.jpg\" alt=\"\"><figcaption>Our workshop bench</figcaption></figure>\n")
	w.WriteString("  <h3>Frequently asked questions</h3>\n  <dl>\n")
	fmt.Fprintf(&w, "    <dt>How long does %s take?</dt><dd><p>Usually %d working days.</p></dd>\n", strings.ToLower(s.name), days)
	w.WriteString("  </dl>\n")
	w.WriteString("  <p><button type=\"button\" class=\"call\">Call 0121 000 0000</button></p>\n")
	w.WriteString("  <script>window.dataLayer=[{page:'local'}];</script>\n")
	w.WriteString("</main>\n")
	w.WriteString(footer())
	w.WriteString("</body>\n</html>\n")
	return w.String()
}

func locationIndex(loc, name string) string {
	var w strings.Builder
	w.WriteString("<!DOCTYPE html>\n<html lang=\"en-GB\">\n<head>\n<meta charset=\"utf-8\">\n")
	fmt.Fprintf(&w, "<title>Watch repairs in %s | Timekeepers</title>\n", name)
	fmt.Fprintf(&w, "<link rel=\"canonical\" href=\"https://www.timekeepers.example/local/%s/\">\n</head>\n<body data-location=\"%s\">\n", loc, loc)
	w.WriteString(header())
	fmt.Fprintf(&w, "<main>\n  <h1>Watch repairs in %s</h1>\n  <p>Choose your brand and service.</p>\n  <ul>\n", name)
	for _, b := range brands {
		fmt.Fprintf(&w, "    <li>%s\n      <ul>\n", b.name)
		for _, s := range services {
			fmt.Fprintf(&w, "        <li><a href=\"%s-%s.html\">%s</a></li>\n", b.slug, s.slug, s.name)
		}
		w.WriteString("      </ul>\n    </li>\n")
	}
	w.WriteString("  </ul>\n</main>\n")
	w.WriteString(footer())
	w.WriteString("</body>\n</html>\n")
	return w.String()
}

func home() string {
	var w strings.Builder
	w.WriteString("<!DOCTYPE html>\n<html lang=\"en-GB\">\n<head>\n<meta charset=\"utf-8\">\n<title>Timekeepers | Watch repair across the UK</title>\n")
	w.WriteString("<meta name=\"description\" content=\"Watch repair, servicing and battery replacement for luxury brands in ten UK cities, with fixed prices and free collection.\">\n")
	w.WriteString("<link rel=\"canonical\" href=\"https://www.timekeepers.example/\">\n</head>\n<body>\n")
	w.WriteString(header())
	w.WriteString("<main>\n  <h1>Watch repair across the UK</h1>\n  <p>Find your nearest workshop.</p>\n  <ul>\n")
	for _, l := range locations {
		fmt.Fprintf(&w, "    <li><a href=\"/local/%s/\">%s</a></li>\n", l.slug, l.name)
	}
	w.WriteString("  </ul>\n</main>\n")
	w.WriteString(footer())
	w.WriteString("</body>\n</html>\n")
	return w.String()
}

// longHead pushes a charset declaration past the first 1,024 bytes, where
// charset sniffing that reads only that much gives up.
var longHead = "<!-- " + strings.Repeat("build metadata padding ", 60) + "-->\n<style>\n" + strings.Repeat(".c{color:#333}\n", 20) + "</style>\n"

func edges(dir string) {
	write(filepath.Join(dir, "no-main.html"), []byte(`<!DOCTYPE html>
<html lang="en"><head><title>Clock restoration in York</title>
<meta name="description" content="Antique clock restoration.">
</head>
<body>
<header><h1 class="logo">Timekeepers</h1><nav><ul><li><a href="/">Home</a></li><li><a href="/clocks/">Clocks</a></li></ul></nav></header>
<table class="menu"><tr><td><a href="/a">Repairs</a></td><td><a href="/b">Servicing</a></td><td><a href="/c">Contact</a></td></tr></table>
<div class="wrap">
<h1>Clock restoration in York</h1>
<p>Long-case, bracket and carriage clocks restored by hand.</p>
<ul><li>Cleaning<ul><li>Ultrasonic</li><li>Hand finishing</li></ul></li><li>Bushing</li></ul>
<table><tr><th>Job</th><th>From</th></tr><tr><td>Full overhaul</td><td>£280</td></tr></table>
</div>
<footer><p>Timekeepers York</p></footer>
</body></html>
`))
	write(filepath.Join(dir, "role-main.html"), []byte(`<!DOCTYPE html>
<html><head><title>Strap fitting</title></head>
<body><div class="top"><p>Not content: above the role=main region.</p></div>
<div role="main"><h1>Strap fitting</h1><p>Leather, rubber and steel straps fitted while you wait.</p>
<h2>Options</h2><p>Over 200 straps in stock.</p></div>
</body></html>
`))
	write(filepath.Join(dir, "article.html"), []byte(`<!DOCTYPE html>
<html><head><title>How we service a chronograph</title></head>
<body><div class="sidebar"><p>Sidebar</p></div>
<article><h1>How we service a chronograph</h1>
<p>A chronograph has up to 300 parts.<br>Each one is cleaned.</p>
<p>Some text with <em>emphasis</em> and <a href="/more">a link</a>.</p>
<p>Tabs	and  NBSP`+nbsp+nbsp+`spaces   collapse.</p>
</article></body></html>
`))
	write(filepath.Join(dir, "table-no-tbody.html"), []byte(`<!DOCTYPE html>
<html><head><title>Price list</title></head><body><main>
<h1>Price list</h1>
<table>
<tr><th>Service</th><th>Price</th></tr>
<tr><td>Battery</td><td>£15</td></tr>
<tr><td>Service</td><td>£180</td></tr>
</table>
<table><tr><td>Second table</td></tr></table>
</main></body></html>
`))
	w1252, err := charmap.Windows1252.NewEncoder().String(`<!DOCTYPE html>
<html><head>` + longHead + `<meta http-equiv="Content-Type" content="text/html; charset=windows-1252">
<title>Café repairs – “quoted” prices</title></head>
<body><main><h1>Café repairs – €49</h1><p>Naïve façade, déjà vu… ‘quotes’</p></main></body></html>
`)
	if err != nil {
		log.Fatal(err)
	}
	write(filepath.Join(dir, "cp1252.html"), []byte(w1252))
	sjis, err := japanese.ShiftJIS.NewEncoder().String(`<!DOCTYPE html>
<html lang="ja"><head>` + longHead + `<meta charset="Shift_JIS">
<title>時計修理 東京</title></head>
<body><main><h1>時計修理（東京）</h1><p>ロレックスのオーバーホールは￥３０，０００から。表示価格は税込です。</p></main></body></html>
`)
	if err != nil {
		log.Fatal(err)
	}
	write(filepath.Join(dir, "sjis.html"), []byte(sjis))
	write(filepath.Join(dir, "empty.html"), nil)
	bin := make([]byte, 2048)
	for i := range bin {
		bin[i] = byte(hash(fmt.Sprint(i)))
	}
	copy(bin, "\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
	write(filepath.Join(dir, "binary.html"), bin)
	write(filepath.Join(dir, "truncated.html"), []byte(`<!DOCTYPE html><html><head><title>Truncated page</title></head><body><main><h1>Half a page</h1><p>This paragraph never <b>ends`))
}

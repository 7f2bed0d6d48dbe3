package workspace

import "sort"

// Dim is one dimension of a page: its name (brand, location, service) and
// the page's value of it.
type Dim struct{ Name, Value string }

// Dims is a page's dimensions sorted by name. A list row holds this rather
// than a map: three dimensions cost 96 bytes here against about 250 for a
// map, which is 15 MB of a 100,000-page table.
type Dims []Dim

// DimsOf is m as Dims (nil for an empty map).
func DimsOf(m map[string]string) Dims {
	if len(m) == 0 {
		return nil
	}
	d := make(Dims, 0, len(m))
	for k, v := range m {
		d = append(d, Dim{k, v})
	}
	sort.Slice(d, func(i, j int) bool { return d[i].Name < d[j].Name })
	return d
}

// Get is the value of dimension name, "" when the page has none.
func (d Dims) Get(name string) string {
	for _, x := range d {
		if x.Name == name {
			return x.Value
		}
	}
	return ""
}

// Map is d as a map (nil when d is empty).
func (d Dims) Map() map[string]string {
	if len(d) == 0 {
		return nil
	}
	m := make(map[string]string, len(d))
	for _, x := range d {
		m[x.Name] = x.Value
	}
	return m
}

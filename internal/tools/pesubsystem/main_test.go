package main

import (
	"debug/pe"
	"os"
	"path/filepath"
	"testing"
)

// A minimal valid PE32+ header, changed both ways and read back through
// debug/pe (make test-windows runs the tool on the real executable).
func TestSetSubsystem(t *testing.T) {
	b := minimalPE()
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in.exe"), filepath.Join(dir, "out.exe")
	if err := os.WriteFile(in, b, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		want uint16
	}{{"console", pe.IMAGE_SUBSYSTEM_WINDOWS_CUI}, {"gui", pe.IMAGE_SUBSYSTEM_WINDOWS_GUI}} {
		if err := run(in, out, c.name); err != nil {
			t.Fatal(err)
		}
		f, err := pe.Open(out)
		if err != nil {
			t.Fatal(err)
		}
		if got := f.OptionalHeader.(*pe.OptionalHeader64).Subsystem; got != c.want {
			t.Errorf("%s: subsystem %d, want %d", c.name, got, c.want)
		}
		f.Close()
		in = out
	}
	if err := setSubsystem([]byte("not an exe at all, just some bytes to read......................"), 3); err == nil {
		t.Error("a file without MZ header was accepted")
	}
	if err := run(in, out, "native"); err == nil {
		t.Error("an unknown subsystem name was accepted")
	}
}

func minimalPE() []byte {
	b := make([]byte, 0x200)
	b[0], b[1] = 'M', 'Z'
	b[0x3C] = 0x40
	copy(b[0x40:], "PE\x00\x00")
	coff := 0x44
	b[coff], b[coff+1] = 0x64, 0x86 // machine amd64
	b[coff+16] = 240                // SizeOfOptionalHeader (PE32+ with 16 data dirs)
	opt := coff + 20
	b[opt], b[opt+1] = 0x0b, 0x02 // PE32+
	b[opt+68] = pe.IMAGE_SUBSYSTEM_WINDOWS_GUI
	b[opt+108] = 16 // NumberOfRvaAndSizes
	return b
}

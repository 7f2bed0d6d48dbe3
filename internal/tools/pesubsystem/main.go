// Command pesubsystem sets the subsystem of a Windows executable (the
// Subsystem field of its PE optional header), like Microsoft's
// `editbin /SUBSYSTEM:`. make package-windows builds the app once, with
// `fyne package` (icon, manifest and version resources; GUI subsystem),
// and makes the console copy nimbus.exe with this: the same program, which
// Windows then starts attached to the terminal it runs in, so the CLI
// prints there.
//
//	pesubsystem -in "Nimbus Desktop.exe" -out nimbus.exe -subsystem console
package main

import (
	"bytes"
	"debug/pe"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"os"
)

// Subsystem values (IMAGE_SUBSYSTEM_WINDOWS_GUI / _CUI).
var subsystems = map[string]uint16{"gui": pe.IMAGE_SUBSYSTEM_WINDOWS_GUI, "console": pe.IMAGE_SUBSYSTEM_WINDOWS_CUI}

func main() {
	in := flag.String("in", "", "executable to read")
	out := flag.String("out", "", "executable to write")
	sub := flag.String("subsystem", "console", "gui or console")
	flag.Parse()
	if err := run(*in, *out, *sub); err != nil {
		fmt.Fprintln(os.Stderr, "pesubsystem:", err)
		os.Exit(1)
	}
}

func run(in, out, sub string) error {
	want, ok := subsystems[sub]
	if !ok {
		return fmt.Errorf("subsystem %q: want gui or console", sub)
	}
	b, err := os.ReadFile(in)
	if err != nil {
		return err
	}
	if err := setSubsystem(b, want); err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	// Read back with debug/pe: the result must parse and say what we set.
	f, err := pe.NewFile(bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("%s after the change: %w", out, err)
	}
	var got uint16
	switch h := f.OptionalHeader.(type) {
	case *pe.OptionalHeader64:
		got = h.Subsystem
	case *pe.OptionalHeader32:
		got = h.Subsystem
	}
	if got != want {
		return fmt.Errorf("%s: subsystem reads %d after writing %d", out, got, want)
	}
	return os.WriteFile(out, b, 0o755)
}

// setSubsystem changes the field in place. Layout (PE format spec): the
// DOS header's e_lfanew at 0x3C points at "PE\0\0"; the COFF header (20
// bytes) follows; the optional header's Subsystem is at offset 68 in both
// PE32 and PE32+.
func setSubsystem(b []byte, v uint16) error {
	if len(b) < 0x40 || b[0] != 'M' || b[1] != 'Z' {
		return errors.New("not a PE executable (no MZ header)")
	}
	off := int(binary.LittleEndian.Uint32(b[0x3C:]))
	if off < 0 || off+4+20+70 > len(b) || !bytes.Equal(b[off:off+4], []byte("PE\x00\x00")) {
		return errors.New("not a PE executable (no PE signature)")
	}
	opt := off + 4 + 20
	switch magic := binary.LittleEndian.Uint16(b[opt:]); magic {
	case 0x10b, 0x20b:
	default:
		return fmt.Errorf("unknown optional header magic %#x", magic)
	}
	binary.LittleEndian.PutUint16(b[opt+68:], v)
	return nil
}

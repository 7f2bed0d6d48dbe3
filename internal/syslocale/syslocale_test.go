package syslocale

import (
	"os"
	"testing"
)

func TestFix(t *testing.T) {
	cases := []struct{ in, want string }{
		{"C", "en_US.UTF-8"},
		{"C.UTF-8", "en_US.UTF-8"},
		{"POSIX", "en_US.UTF-8"},
		{"de_DE.UTF-8", "de_DE.UTF-8"},
		{"", ""},
	}
	for _, c := range cases {
		t.Setenv("LC_ALL", "")
		t.Setenv("LC_MESSAGES", "")
		t.Setenv("LANG", c.in)
		Fix()
		if got := os.Getenv("LANG"); got != c.want {
			t.Errorf("LANG=%q: got %q, want %q", c.in, got, c.want)
		}
	}
}

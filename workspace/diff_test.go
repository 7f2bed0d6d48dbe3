package workspace

import (
	"reflect"
	"strings"
	"testing"
)

// spell returns the texts a diff's Equal+Delete and Equal+Insert runs spell.
func spell(ops []DiffOp) (a, b string) {
	var sa, sb strings.Builder
	for _, op := range ops {
		if op.Op != DiffInsert {
			sa.WriteString(op.Text)
		}
		if op.Op != DiffDelete {
			sb.WriteString(op.Text)
		}
	}
	return sa.String(), sb.String()
}

func TestReadableDiff(t *testing.T) {
	cases := []struct {
		name, a, b string
		want       []DiffOp
	}{
		{"same", "Rolex repair", "Rolex repair", []DiffOp{{DiffEqual, "Rolex repair"}}},
		{"one word added", "Rolex repair in London", "Expert Rolex repair in London",
			[]DiffOp{{DiffInsert, "Expert "}, {DiffEqual, "Rolex repair in London"}}},
		{"one word replaced", "Audemars Piguet repair in London", "Audemars AP repair in London",
			[]DiffOp{{DiffEqual, "Audemars "}, {DiffDelete, "Piguet"}, {DiffInsert, "AP"}, {DiffEqual, " repair in London"}}},
		{"changes one word apart merge", "Expert watch repair in central London", "Certified watch servicing in central London",
			[]DiffOp{{DiffDelete, "Expert watch repair"}, {DiffInsert, "Certified watch servicing"}, {DiffEqual, " in central London"}}},
		{"changes two words apart stay apart", "Expert watch repair in London by post", "Certified watch repair in London by courier",
			[]DiffOp{{DiffDelete, "Expert"}, {DiffInsert, "Certified"}, {DiffEqual, " watch repair in London by "}, {DiffDelete, "post"}, {DiffInsert, "courier"}}},
		{"rewrite", "We repair every watch in the shop in Leeds.", "Our specialists service your timepiece in a workshop near you.",
			[]DiffOp{{DiffDelete, "We repair every watch in the shop in Leeds."}, {DiffInsert, "Our specialists service your timepiece in a workshop near you."}}},
		{"nothing in common", "foo bar", "baz qux", []DiffOp{{DiffDelete, "foo bar"}, {DiffInsert, "baz qux"}}},
		{"from nothing", "", "new text", []DiffOp{{DiffInsert, "new text"}}},
		{"to nothing", "old text", "", []DiffOp{{DiffDelete, "old text"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := ReadableDiff(c.a, c.b)
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("ReadableDiff(%q, %q)\n got %+v\nwant %+v", c.a, c.b, got, c.want)
			}
			if a, b := spell(got); a != c.a || b != c.b {
				t.Errorf("spells %q, %q", a, b)
			}
		})
	}
}

// Whatever it merges, ReadableDiff's runs spell both texts, and no two
// runs in a row have the same operation.
func TestReadableDiffReassembles(t *testing.T) {
	texts := []string{
		"",
		"Rolex repair in Birmingham",
		"Expert Rolex repair in  Birmingham today",
		"Rolex servicing, repair and restoration in Birmingham\nwith free collection",
		"a b c d e f g",
		"a x c y e z g",
		"g f e d c b a",
		"Certified Timekeepers | Watch repair across the UK",
		"Timekeepers | Watch repair across the UK",
	}
	for _, a := range texts {
		for _, b := range texts {
			ops := ReadableDiff(a, b)
			if sa, sb := spell(ops); sa != a || sb != b {
				t.Errorf("ReadableDiff(%q, %q) spells %q, %q", a, b, sa, sb)
			}
			for i := 1; i < len(ops); i++ {
				if ops[i].Op == ops[i-1].Op {
					t.Errorf("ReadableDiff(%q, %q): two %d runs in a row: %+v", a, b, ops[i].Op, ops)
				}
			}
		}
	}
}

package workspace

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/nimbus-desktop/nimbus/model"
)

// The Pages CSV is RFC 4180 (CRLF, quotes doubled, fields with commas,
// quotes or line breaks quoted), keeps the rows' order, has one column per
// dimension any row has, and names states as the table does.
func TestWritePagesCSV(t *testing.T) {
	rows := []PageRow{
		{PageID: "page_000000000002", SourcePath: "dist/local/leeds/rolex-servicing.html", Title: `Rolex "Oyster" servicing, Leeds`,
			Dimensions: Dims{{"brand", "rolex"}, {"location", "leeds"}},
			Issues:     []model.AuditIssue{{Code: "title_duplicate", Severity: "warn"}, {Code: "h1_missing", Severity: "error"}},
			Status: model.StatusData{Status: model.StatusFailed, BatchID: "batch_20261201_120000",
				Error: &model.StatusError{Code: "AI_TIMEOUT", Message: "the model did not answer\nwithin 60 s"}},
		},
		{PageID: "page_000000000001", SourcePath: "dist/index.html", Title: "Timekeepers",
			Dimensions: Dims{{"service", "repair"}}, Proposals: 6, Decided: 3,
			Status: model.StatusData{Status: model.StatusDone, Result: &model.StatusResult{Changes: 6}}},
		{PageID: "page_000000000003", SourcePath: "dist/gone.html", Missing: true, Status: model.StatusData{Status: model.StatusUploaded}},
		{PageID: "page_000000000004", SourcePath: "dist/new.html", Title: "Ünïcode · “quotes”"},
	}
	var buf bytes.Buffer
	if err := WritePagesCSV(context.Background(), &buf, rows); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if strings.Count(out, "\r\n") != len(rows)+1+1 { // + the line break inside a quoted message
		t.Errorf("want CRLF line ends, got %q", out)
	}
	if !strings.Contains(out, `"Rolex ""Oyster"" servicing, Leeds"`) {
		t.Errorf("quotes not doubled or field not quoted:\n%s", out)
	}
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatalf("output does not parse as CSV: %v\n%s", err, out)
	}
	want := [][]string{
		{"Path", "Title", "brand", "location", "service", "Issues", "Audit issues", "Status", "Status detail", "Decided", "Proposals", "Page ID"},
		{"dist/local/leeds/rolex-servicing.html", `Rolex "Oyster" servicing, Leeds`, "rolex", "leeds", "", "2", "title_duplicate; h1_missing",
			"failed", "AI_TIMEOUT: the model did not answer\nwithin 60 s", "0", "0", "page_000000000002"},
		{"dist/index.html", "Timekeepers", "", "", "repair", "0", "", "done", "6 changes", "3", "6", "page_000000000001"},
		{"dist/gone.html", "", "", "", "", "0", "", "source missing", "", "0", "0", "page_000000000003"},
		{"dist/new.html", "Ünïcode · “quotes”", "", "", "", "0", "", "not submitted", "", "0", "0", "page_000000000004"},
	}
	if !reflect.DeepEqual(recs, want) {
		t.Errorf("records:\n got %q\nwant %q", recs, want)
	}

	// No rows: the header alone.
	buf.Reset()
	if err := WritePagesCSV(context.Background(), &buf, nil); err != nil {
		t.Fatal(err)
	}
	if got := buf.String(); got != "Path,Title,Issues,Audit issues,Status,Status detail,Decided,Proposals,Page ID\r\n" {
		t.Errorf("empty export = %q", got)
	}

	// A cancelled context stops the export.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := WritePagesCSV(ctx, &buf, rows); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled export: %v", err)
	}
}

// A failing writer's error comes back.
func TestWritePagesCSVReportsWriteErrors(t *testing.T) {
	rows := make([]PageRow, 2000)
	for i := range rows {
		rows[i] = PageRow{PageID: "page_x", SourcePath: strings.Repeat("p", 100)}
	}
	err := WritePagesCSV(context.Background(), failingWriter{}, rows)
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("err = %v", err)
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

package workspace

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/nimbus-desktop/nimbus/model"
)

// StatusText names a page row's state the way the Pages table and its CSV
// do: "source missing" when the file is gone from the build, "not
// submitted" when it was never submitted or only imported (model's rule),
// else its status ("queued", "processing", "done", "failed").
func (r PageRow) StatusText() string {
	switch {
	case r.Missing:
		return "source missing"
	case model.NotSubmitted(r.Status.Status):
		return "not submitted"
	}
	return r.Status.Status
}

// StatusDetail is what goes with the status: the step and progress of a
// page being processed, the code and message of a failure, the number of
// changes of a finished page; "" otherwise.
func (r PageRow) StatusDetail() string {
	st := r.Status
	switch {
	case st.Status == model.StatusProcessing && st.Processing != nil:
		return fmt.Sprintf("%s %d%%", st.Processing.CurrentStep, st.Processing.Progress)
	case st.Status == model.StatusFailed && st.Error != nil:
		if st.Error.Message == "" {
			return st.Error.Code
		}
		return st.Error.Code + ": " + st.Error.Message
	case st.Status == model.StatusDone && st.Result != nil:
		return fmt.Sprintf("%d changes", st.Result.Changes)
	}
	return ""
}

// WritePagesCSV writes rows, in the order given (the Pages table's view:
// filtered and sorted), as CSV by RFC 4180: a header line, then one record
// per page, CRLF line ends, fields quoted where they need it. Columns:
// Path, Title, one column per dimension the rows have (sorted by name;
// empty where a page lacks it), Issues (their number), Audit issues (the
// codes, "; "-separated), Status (StatusText), Status detail, Decided and
// Proposals (review progress as two numbers: "3/6" would turn into a date
// in a spreadsheet), Page ID. Values are written as they are, UTF-8,
// without a byte order mark.
func WritePagesCSV(ctx context.Context, w io.Writer, rows []PageRow) error {
	keys := map[string]bool{}
	for _, r := range rows {
		for _, d := range r.Dimensions {
			keys[d.Name] = true
		}
	}
	dims := make([]string, 0, len(keys))
	for k := range keys {
		dims = append(dims, k)
	}
	sort.Strings(dims)

	cw := csv.NewWriter(w)
	cw.UseCRLF = true
	header := append(append([]string{"Path", "Title"}, dims...),
		"Issues", "Audit issues", "Status", "Status detail", "Decided", "Proposals", "Page ID")
	if err := cw.Write(header); err != nil {
		return fmt.Errorf("write CSV: %w", err)
	}
	rec := make([]string, len(header))
	for i, r := range rows {
		if i%512 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		rec = rec[:0]
		rec = append(rec, r.SourcePath, r.Title)
		for _, k := range dims {
			rec = append(rec, r.Dimensions.Get(k))
		}
		codes := make([]string, len(r.Issues))
		for j, is := range r.Issues {
			codes[j] = is.Code
		}
		rec = append(rec, strconv.Itoa(len(r.Issues)), strings.Join(codes, "; "),
			r.StatusText(), r.StatusDetail(), strconv.Itoa(r.Decided), strconv.Itoa(r.Proposals), r.PageID)
		if err := cw.Write(rec); err != nil {
			return fmt.Errorf("write CSV: %w", err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("write CSV: %w", err)
	}
	return nil
}

package render_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/gpmgmt/gpmgmt/pkg/render"
)

func TestView(t *testing.T) {
	tests := []struct {
		name string
		view render.View
	}{
		{"plan", render.View{
			Header: []string{"step", "host", "command"},
			Rows: [][]string{
				{"1", "sdw1", "pg_ctl -D /data/primary/gpseg0 -w start"},
				{"2", "sdw2", "pg_basebackup -c fast -D '/data/mirror/gp seg1'"},
				{"3", "", ""},
			},
		}},
		{"no header", render.View{Rows: [][]string{{"Total", "= 4"}}}},
		{"empty", render.View{Header: []string{"content", "role"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := tt.view.Write(&buf); err != nil {
				t.Fatal(err)
			}
			checkGolden(t, "view_"+strings.ReplaceAll(tt.name, " ", "_")+".golden", buf.Bytes())
		})
	}
}
